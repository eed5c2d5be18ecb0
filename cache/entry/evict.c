/*
 * Eviction. evict_run keeps the READY total under max_size by deleting the least recently used
 * files that no handle or waiter pins. A single file bigger than the cap is kept, with a
 * warning, and does not count against the others: counting it would keep the total over the
 * cap for good and evict every other file after each fill. It takes the entry's io lock then
 * cache->lock (internal.h) and re-checks the entry after taking them, since it may have
 * changed while no lock was held. The workers and the sweeper (../upkeep/sweep.c) call it.
 */
#include "entry.h"

#include <errno.h>
#include <string.h>

#include "../../common/log.h"

static int evictable(const struct cache *c, const struct entry *e)
{
	return e->info.state == CACHE_READY && !e->filling && e->open_refs == 0 &&
	       e->waiters == 0 && e->info.size <= c->cfg.max_size;
}

/* What a download in progress will take: its declared size, else the bytes it has; 0 for
 * anything else. cache->lock held. */
static uint64_t in_flight_size(const struct entry *e)
{
	uint64_t n;

	if (!e->filling || e->info.state != CACHE_DOWNLOADING)
		return 0;
	n = e->info.bytes_done;
	if (e->total != UINT64_MAX && e->total > n)
		n = e->total;
	return n;
}

/* Warn once per file that alone exceeds the cap; the sum of the READY files that do not,
 * plus the downloads in progress (within the cap: max_file_size refuses the others).
 * cache->lock held. */
static uint64_t counted_total(struct cache *c)
{
	uint64_t total = 0;

	for (struct entry *e = c->entries; e; e = e->next) {
		uint64_t flying = in_flight_size(e);

		if (flying && flying <= c->cfg.max_size)
			total += flying;
		if (e->info.state != CACHE_READY)
			continue;
		if (e->info.size <= c->cfg.max_size) {
			total += e->info.size;
		} else if (!e->warned_big) {
			log_warn("cache: %s: file of %llu bytes alone exceeds cache_max_size %llu; "
				 "keeping it",
				 entry_name(e).s, (unsigned long long)e->info.size,
				 (unsigned long long)c->cfg.max_size);
			e->warned_big = 1;
		}
	}
	return total;
}

/* One victim at a time; 0 when done. */
static int evict_one(struct cache *c)
{
	struct entry *best = NULL;
	uint64_t seq;
	int gone = 0;

	pthread_mutex_lock(&c->lock);
	if (c->stopping || counted_total(c) <= c->cfg.max_size) {
		pthread_mutex_unlock(&c->lock);
		return 0;
	}
	for (struct entry *e = c->entries; e; e = e->next) {
		if (!evictable(c, e))
			continue;
		if (!best || e->last_access_ms < best->last_access_ms ||
		    (e->last_access_ms == best->last_access_ms && e->access_seq < best->access_seq))
			best = e;
	}
	if (!best) {
		pthread_mutex_unlock(&c->lock);
		return 0;
	}
	seq = best->access_seq;
	pthread_mutex_unlock(&c->lock);

	pthread_mutex_lock(entry_io_lock(c, best));
	pthread_mutex_lock(&c->lock);
	if (evictable(c, best) && best->access_seq == seq) {
		entry_reset(best);
		gone = 1;
	}
	pthread_mutex_unlock(&c->lock);
	if (gone)
		store_remove(&c->store, entry_hex(best).s);
	pthread_mutex_unlock(entry_io_lock(c, best));
	if (gone)
		log_info("cache: %s: evicted (least recently used)", entry_name(best).s);
	return 1;
}

void evict_run(struct cache *c)
{
	if (c->cfg.max_size == 0)
		return;
	while (evict_one(c))
		;
}
