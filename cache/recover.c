/*
 * The recovery scan: what an earlier run left in <dir>/v1, read in the background so a big
 * cache never delays the mount. Per file:
 *   .tmp-*            of an earlier run: deleted (an interrupted atomic write)
 *   <hash>.meta       corrupt (store_meta_read says -EBADMSG): dropped with its files, one
 *                     log line; unreadable for any other reason (EMFILE, EIO): left as is
 *                     with one log line, lookups keep reading the disk (scan_done 0) and
 *                     the sweeper scans again every sweep_interval_s until one succeeds;
 *                     READY: kept if .data exists with the recorded size, else dropped;
 *                     APPLIED/GENERATING/DOWNLOADING: a flight is queued that polls the saved
 *                     task id (never re-applies) and resumes the .part;
 *                     FAILED/NO_DATA: kept as is (re-applied / remembered as usual);
 *                     keys no source has (an account not added yet, or no longer in the
 *                     configuration): kept in memory as an orphan (source.c), never filled,
 *                     counted in the size budget, evicted and swept like any entry, adopted
 *                     by the source that has its keys once it is added
 *   <hash>.data/.part without a .meta: deleted
 * Entries already in memory (an open raced ahead and loaded the .meta itself) are left as
 * they are. Deletions happen under cache->lock after checking no entry owns the hash, so a
 * flight that has just started cannot lose its files.
 */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/log.h"

/* Delete an entry's files unless the entry is live in memory. */
static int recover_drop(struct cache *c, const char *hash, const char *only)
{
	struct entry *e;
	int dropped = 0;

	pthread_mutex_lock(&c->lock);
	e = entry_find_hash(c, hash);
	if (!e || (e->info.state == CACHE_ABSENT && !e->filling)) {
		if (only) {
			store_unlink(&c->store, hash, only);
		} else {
			store_unlink(&c->store, hash, ".data");
			store_unlink(&c->store, hash, ".part");
			store_unlink(&c->store, hash, ".meta");
		}
		dropped = 1;
	}
	pthread_mutex_unlock(&c->lock);
	return dropped;
}

/* What the scan counts and whether it saw everything. */
struct scan_tally {
	int kept, dropped, temps, unread;
};

static void recover_meta(struct cache *c, const char *hash, struct scan_tally *t)
{
	struct store_meta m;
	struct entry *e;
	enum meta_use usable;
	size_t type;
	int rc = store_meta_read(&c->store, hash, &m), created;

	if (rc == -ENOENT)
		return;
	if (rc == -EBADMSG) {
		if (recover_drop(c, hash, NULL)) {
			log_warn("cache: dropping corrupt metadata %s.meta", hash);
			t->dropped++;
		}
		return;
	}
	if (rc != 0) {
		/* EMFILE, EIO...: the file may be fine; deleting it would lose a good export. */
		log_warn("cache: cannot read %s.meta (%s); leaving its files", hash, strerror(-rc));
		t->unread++;
		return;
	}
	usable = entry_meta_usable(c, hash, &m, &type);
	if (usable == META_UNCHECKED) {
		log_warn("cache: cannot check the data file of %s.meta; leaving its files", hash);
		t->unread++;
		return;
	}
	if (usable == META_STALE) {
		if (recover_drop(c, hash, NULL)) {
			log_warn("cache: dropping %s.meta: its data file is missing or has the "
				 "wrong size",
				 hash);
			t->dropped++;
		}
		return;
	}
	/* USABLE or FOREIGN: whether a source has its keys is decided again under the lock, so
	 * a source added since is not missed. */
	pthread_mutex_lock(&c->lock);
	e = entry_insert_meta(c, &m, &created);
	if (e)
		pool_resume(c, e);
	pthread_mutex_unlock(&c->lock);
	t->kept++;
}

/* Whether memory has a live (not ABSENT) entry of hash: its .meta was read. */
static int scan_knows(struct cache *c, const char *hash)
{
	struct entry *e;
	int known;

	pthread_mutex_lock(&c->lock);
	e = entry_find_hash(c, hash);
	known = e && e->info.state != CACHE_ABSENT;
	pthread_mutex_unlock(&c->lock);
	return known;
}

/* One directory entry of the scan: a stray temp file, a .meta, or a .data/.part whose
 * .meta is gone. */
static void recover_name(struct cache *c, DIR *d, const char *name, struct scan_tally *t)
{
	char hash[KEY_HASH_LEN], kind, path[PATH_MAX];
	struct stat st;
	int own;

	if (!store_name_parse(&c->store, name, hash, &kind, &own))
		return;
	switch (kind) {
	case 't':
		if (!own && unlinkat(dirfd(d), name, 0) == 0)
			t->temps++;
		break;
	case 'm':
		recover_meta(c, hash, t);
		break;
	default:
		/* Its .meta already read (the table knows the hash): no stat needed. Half the
		 * names of a big cache, in a scan that must stay linear and cheap. */
		if (scan_knows(c, hash))
			break;
		store_path(&c->store, hash, ".meta", path);
		if (stat(path, &st) != 0 && errno == ENOENT &&
		    recover_drop(c, hash, kind == 'd' ? ".data" : ".part"))
			t->dropped++;
		break;
	}
}

static int cache_stopping(struct cache *c)
{
	int stop;

	pthread_mutex_lock(&c->lock);
	stop = c->stopping;
	pthread_mutex_unlock(&c->lock);
	return stop;
}

/* Read the whole directory. 1 when every name was seen, 0 if it could not be read or the
 * cache is stopping. */
static int recover_dir(struct cache *c, struct scan_tally *t)
{
	DIR *d = opendir(c->store.vdir);
	struct dirent *de;
	int complete = 1;

	if (!d) {
		log_err("cache: cannot scan %s: %s", c->store.vdir, strerror(errno));
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		if (cache_stopping(c)) {
			complete = 0;
			break;
		}
		recover_name(c, d, de->d_name, t);
	}
	closedir(d);
	return complete;
}

void recover_scan(struct cache *c)
{
	struct scan_tally t = {0, 0, 0, 0};
	int complete, busy;

	pthread_mutex_lock(&c->lock);
	busy = c->scanning;
	c->scanning = 1;
	pthread_mutex_unlock(&c->lock);
	if (busy)
		return; /* the other scan will do */
	complete = recover_dir(c, &t);
	pthread_mutex_lock(&c->lock);
	c->scan_done = complete && t.unread == 0;
	c->scanning = 0;
	pthread_mutex_unlock(&c->lock);
	log_info("cache: scan of %s done: %d entries kept, %d dropped, %d temp files deleted%s",
		 c->store.vdir, t.kept, t.dropped, t.temps,
		 t.unread ? ", some metadata unreadable (left as is; scanned again at the next "
			    "sweep)"
			  : "");
}

static void *recover_main(void *arg)
{
	recover_scan(arg);
	return NULL;
}

int recover_start(struct cache *c)
{
	int rc = pthread_create(&c->recoverer, NULL, recover_main, c);

	if (rc != 0)
		return -rc;
	c->recoverer_started = 1;
	return 0;
}
