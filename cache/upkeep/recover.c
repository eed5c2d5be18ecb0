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
#include "upkeep.h"
#include "../entry/entry.h"
#include "../fill/pool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../common/log.h"

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

/*
 * The scan's working state. A big cache has hundreds of thousands of names, so the work per
 * name is kept to what cannot be shared: files are opened relative to the directory's
 * descriptor (no walk of the whole path each time), one read buffer serves every .meta, the
 * entries read are inserted SCAN_BATCH at a time under one hold of cache->lock (never with
 * file I/O under it), and a .data/.part is checked against its .meta only after the whole
 * directory was read, in memory, so only a true leftover costs a stat.
 */
#define SCAN_BATCH 64

struct scan_leftover {
	char hash[KEY_HASH_LEN - 1]; /* hex, no NUL */
	char kind;		     /* 'd' or 'p' */
};

struct scan {
	struct cache *c;
	int vfd;			    /* the store's vdir, open */
	struct scan_tally t;
	char buf[STORE_META_MAX + 1];	    /* one .meta's text */
	struct store_meta m[SCAN_BATCH];    /* read, to be inserted */
	char hash[SCAN_BATCH][KEY_HASH_LEN];
	int n;
	struct scan_leftover *left;	    /* .data/.part names, checked at the end */
	size_t nleft, left_cap;
};

/* Insert the batch read so far into memory, under one hold of the lock. */
static void scan_flush(struct scan *sc)
{
	struct cache *c = sc->c;

	if (sc->n == 0)
		return;
	pthread_mutex_lock(&c->lock);
	for (int i = 0; i < sc->n; i++) {
		int created;
		struct entry *e = entry_insert_meta(c, &sc->m[i], sc->hash[i], &created);
		if (e)
			pool_resume(c, e);
	}
	pthread_mutex_unlock(&c->lock);
	sc->t.kept += sc->n;
	sc->n = 0;
}

/* Whether a READY .meta's .data is there with the recorded size: META_USABLE, META_STALE
 * (missing, or another size) or META_UNCHECKED (the stat failed otherwise). No lock. */
static enum meta_use scan_data_ok(struct scan *sc, const char *hash, const struct store_meta *m)
{
	char name[KEY_HASH_LEN + 8];
	struct stat st;

	if (m->state != CACHE_READY)
		return META_USABLE;
	snprintf(name, sizeof(name), "%s.data", hash);
	if (fstatat(sc->vfd, name, &st, 0) != 0)
		return errno == ENOENT || errno == ENOTDIR ? META_STALE : META_UNCHECKED;
	return S_ISREG(st.st_mode) && (uint64_t)st.st_size == m->size ? META_USABLE : META_STALE;
}

static void recover_meta(struct scan *sc, const char *hash)
{
	struct cache *c = sc->c;
	struct store_meta *m = &sc->m[sc->n];
	int rc = store_meta_read_at(sc->vfd, hash, m, sc->buf);
	enum meta_use usable;

	if (rc == -ENOENT)
		return;
	if (rc == -EBADMSG) {
		if (recover_drop(c, hash, NULL)) {
			log_warn("cache: dropping corrupt metadata %s.meta", hash);
			sc->t.dropped++;
		}
		return;
	}
	if (rc != 0) {
		/* EMFILE, EIO...: the file may be fine; deleting it would lose a good export. */
		log_warn("cache: cannot read %s.meta (%s); leaving its files", hash, strerror(-rc));
		sc->t.unread++;
		return;
	}
	usable = scan_data_ok(sc, hash, m);
	if (usable == META_UNCHECKED) {
		log_warn("cache: cannot check the data file of %s.meta; leaving its files", hash);
		sc->t.unread++;
		return;
	}
	if (usable == META_STALE) {
		if (recover_drop(c, hash, NULL)) {
			log_warn("cache: dropping %s.meta: its data file is missing or has the "
				 "wrong size",
				 hash);
			sc->t.dropped++;
		}
		return;
	}
	/* Whether a source has its keys is decided under the lock at insertion, so a source
	 * added since is not missed. */
	memcpy(sc->hash[sc->n], hash, KEY_HASH_LEN);
	if (++sc->n == SCAN_BATCH)
		scan_flush(sc);
}

/* Remember a .data/.part name for the end of the scan. 0 or -ENOMEM. */
static int scan_leave(struct scan *sc, const char *hash, char kind)
{
	if (sc->nleft == sc->left_cap) {
		size_t cap = sc->left_cap ? sc->left_cap * 2 : 1024;
		struct scan_leftover *v = realloc(sc->left, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		sc->left = v;
		sc->left_cap = cap;
	}
	memcpy(sc->left[sc->nleft].hash, hash, KEY_HASH_LEN - 1);
	sc->left[sc->nleft++].kind = kind;
	return 0;
}

/* One directory entry of the scan: a stray temp file, a .meta, or a .data/.part (looked at
 * once every .meta was read). 0, or -ENOMEM: the scan is not complete. */
static int recover_name(struct scan *sc, const char *name)
{
	char hash[KEY_HASH_LEN], kind;
	int own;

	if (!store_name_parse(&sc->c->store, name, hash, &kind, &own))
		return 0;
	switch (kind) {
	case 't':
		if (!own && unlinkat(sc->vfd, name, 0) == 0)
			sc->t.temps++;
		return 0;
	case 'm':
		recover_meta(sc, hash);
		return 0;
	default:
		return scan_leave(sc, hash, kind);
	}
}

/*
 * The .data/.part names, every .meta read and inserted: those whose hash memory knows (a
 * live entry: its .meta was read) are fine; the others are looked at on disk, and deleted
 * when their .meta is missing. One hold of the lock marks the known ones; the stats happen
 * without it.
 */
static void recover_leftovers(struct scan *sc)
{
	struct cache *c = sc->c;
	char hash[KEY_HASH_LEN], name[KEY_HASH_LEN + 8];
	size_t n = 0;
	struct stat st;

	hash[KEY_HASH_LEN - 1] = '\0';
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < sc->nleft; i++) {
		memcpy(hash, sc->left[i].hash, KEY_HASH_LEN - 1);
		struct entry *e = entry_find_hash(c, hash);
		if (!(e && e->info.state != CACHE_ABSENT))
			sc->left[n++] = sc->left[i];
	}
	pthread_mutex_unlock(&c->lock);
	for (size_t i = 0; i < n; i++) {
		memcpy(hash, sc->left[i].hash, KEY_HASH_LEN - 1);
		snprintf(name, sizeof(name), "%s.meta", hash);
		if (fstatat(sc->vfd, name, &st, 0) != 0 && errno == ENOENT &&
		    recover_drop(c, hash, sc->left[i].kind == 'd' ? ".data" : ".part"))
			sc->t.dropped++;
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

/* Read the whole directory. 1 when every name was seen, 0 if it could not be read, memory
 * ran out or the cache is stopping. */
static int recover_dir(struct scan *sc)
{
	struct cache *c = sc->c;
	DIR *d = opendir(c->store.vdir);
	struct dirent *de;
	unsigned long seen = 0;
	int complete = 1;

	if (!d) {
		log_err("cache: cannot scan %s: %s", c->store.vdir, strerror(errno));
		return 0;
	}
	sc->vfd = dirfd(d);
	while ((de = readdir(d)) != NULL) {
		/* Asked every 256 names: a stop is seen within a few ms, and the lock is not
		 * taken twice per name. */
		if ((++seen & 255) == 0 && cache_stopping(c)) {
			complete = 0;
			break;
		}
		if (recover_name(sc, de->d_name) != 0) {
			log_err("cache: scan of %s: out of memory", c->store.vdir);
			complete = 0;
			break;
		}
	}
	scan_flush(sc);
	if (complete)
		recover_leftovers(sc);
	closedir(d);
	return complete;
}

void recover_scan(struct cache *c)
{
	struct scan *sc;
	struct scan_tally t;
	int complete, busy;

	pthread_mutex_lock(&c->lock);
	busy = c->scanning;
	c->scanning = 1;
	pthread_mutex_unlock(&c->lock);
	if (busy)
		return; /* the other scan will do */
	sc = calloc(1, sizeof(*sc)); /* ~110 KiB: not on a thread's stack */
	if (sc) {
		sc->c = c;
		complete = recover_dir(sc);
		t = sc->t;
		free(sc->left);
		free(sc);
	} else {
		log_err("cache: scan of %s: out of memory", c->store.vdir);
		memset(&t, 0, sizeof(t));
		complete = 0;
	}
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
