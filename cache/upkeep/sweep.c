/*
 * The sweeper: a thread that, every sweep_interval_s, deletes expired files and writes lazy
 * last_access updates without fsync (sweep_run), evicts (../entry/evict.c), and runs the
 * recovery scan again (recover.c) while the last one could not read everything. sweep_run
 * takes the entry's io lock then cache->lock (internal.h) and re-checks the entry after taking
 * them, since it may have changed while no lock was held.
 */
#include "upkeep.h"
#include "../entry/entry.h"

#include <time.h>

#include "../../common/log.h"

void sweep_run(struct cache *c)
{
	struct entry *e;

	/* Entries are only ever added at the head and never freed, so ->next stays valid while
	 * the lock is dropped. */
	pthread_mutex_lock(&c->lock);
	e = c->entries;
	pthread_mutex_unlock(&c->lock);
	while (e) {
		struct store_meta m;
		int expired, dirty, done = 0;

		pthread_mutex_lock(entry_io_lock(c, e));
		pthread_mutex_lock(&c->lock);
		if (c->stopping) {
			pthread_mutex_unlock(&c->lock);
			pthread_mutex_unlock(entry_io_lock(c, e));
			break;
		}
		expired = !e->filling && entry_server_expired(c, e);
		dirty = !e->filling && e->info.state == CACHE_READY && e->access_dirty;
		if (expired) {
			entry_reset(e);
		} else if (dirty) {
			entry_to_meta(c, e, &m);
			e->access_dirty = 0;
		}
		pthread_mutex_unlock(&c->lock);
		if (expired) {
			store_remove(&c->store, entry_hex(e).s);
			done = 1;
		} else if (dirty) {
			store_meta_write(&c->store, entry_hex(e).s, &m, 0);
		}
		pthread_mutex_unlock(entry_io_lock(c, e));
		if (done)
			log_info("cache: %s: expired file deleted", entry_name(e).s);
		pthread_mutex_lock(&c->lock);
		e = e->next;
		pthread_mutex_unlock(&c->lock);
	}
}

static void *sweep_main(void *arg)
{
	struct cache *c = arg;

	pthread_mutex_lock(&c->lock);
	while (!c->stopping) {
		struct timespec ts;
		int64_t until = cache_mono_ms() + (int64_t)c->cfg.sweep_interval_s * 1000;

		while (!c->stopping && cache_mono_ms() < until) {
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_sec += (until - cache_mono_ms()) / 1000 + 1;
			pthread_cond_timedwait(&c->wake, &c->lock, &ts);
		}
		if (c->stopping)
			break;
		pthread_mutex_unlock(&c->lock);
		sweep_run(c);
		evict_run(c);
		pthread_mutex_lock(&c->lock);
		if (!c->scan_done && !c->stopping) {
			/* The last scan could not read everything (EMFILE, EIO): try again. */
			pthread_mutex_unlock(&c->lock);
			recover_scan(c);
			pthread_mutex_lock(&c->lock);
		}
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

int sweep_start(struct cache *c)
{
	int rc = pthread_create(&c->sweeper, NULL, sweep_main, c);

	if (rc != 0)
		return -rc;
	c->sweeper_started = 1;
	return 0;
}
