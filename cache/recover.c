/*
 * The recovery scan: what an earlier run left in <dir>/v1, read in the background so a big
 * cache never delays the mount. Per file:
 *   .tmp-*            of an earlier run: deleted (an interrupted atomic write)
 *   <hash>.meta       corrupt/unreadable: dropped with its files, one log line;
 *                     READY: kept if .data exists with the recorded size, else dropped;
 *                     APPLIED/GENERATING/DOWNLOADING: a flight is queued that polls the saved
 *                     task id (never re-applies) and resumes the .part;
 *                     FAILED/NO_DATA: kept as is (re-applied / remembered as usual);
 *                     another provider's or account's: left alone
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

#include "../client/log.h"

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

static void recover_meta(struct cache *c, const char *hash, int *kept, int *dropped)
{
	struct store_meta m;
	struct entry *e;
	int rc = store_meta_read(&c->store, hash, &m), usable, created;

	if (rc == -ENOENT)
		return;
	if (rc != 0) {
		if (recover_drop(c, hash, NULL)) {
			log_warn("cache: dropping unreadable metadata %s.meta: %s", hash,
				 strerror(-rc));
			(*dropped)++;
		}
		return;
	}
	usable = entry_meta_usable(c, hash, &m);
	if (usable < 0)
		return; /* another provider's or account's: not ours to judge */
	if (usable == 0) {
		if (recover_drop(c, hash, NULL)) {
			log_warn("cache: dropping %s.meta: its data file is missing or has the "
				 "wrong size",
				 hash);
			(*dropped)++;
		}
		return;
	}
	pthread_mutex_lock(&c->lock);
	e = entry_insert_meta(c, &m, &created);
	if (e && !e->filling && !c->stopping &&
	    (e->info.state == CACHE_APPLIED || e->info.state == CACHE_GENERATING ||
	     e->info.state == CACHE_DOWNLOADING)) {
		log_info("cache: %s: resuming export task %s", e->range_str, e->info.task_id);
		pool_enqueue(c, e);
	}
	pthread_mutex_unlock(&c->lock);
	(*kept)++;
}

static void *recover_main(void *arg)
{
	struct cache *c = arg;
	DIR *d = opendir(c->store.vdir);
	struct dirent *de;
	int kept = 0, dropped = 0, temps = 0;

	if (!d) {
		log_err("cache: cannot scan %s: %s", c->store.vdir, strerror(errno));
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		char hash[KEY_HASH_LEN], kind, path[PATH_MAX];
		struct stat st;
		int own, stop;

		pthread_mutex_lock(&c->lock);
		stop = c->stopping;
		pthread_mutex_unlock(&c->lock);
		if (stop)
			break;
		if (!store_name_parse(&c->store, de->d_name, hash, &kind, &own))
			continue;
		switch (kind) {
		case 't':
			if (!own) {
				if (unlinkat(dirfd(d), de->d_name, 0) == 0)
					temps++;
			}
			break;
		case 'm':
			recover_meta(c, hash, &kept, &dropped);
			break;
		default:
			store_path(&c->store, hash, ".meta", path);
			if (stat(path, &st) != 0 && errno == ENOENT &&
			    recover_drop(c, hash, kind == 'd' ? ".data" : ".part"))
				dropped++;
			break;
		}
	}
	closedir(d);
out:
	pthread_mutex_lock(&c->lock);
	c->scan_done = 1;
	pthread_mutex_unlock(&c->lock);
	log_info("cache: scan of %s done: %d entries kept, %d dropped, %d temp files deleted",
		 c->store.vdir, kept, dropped, temps);
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
