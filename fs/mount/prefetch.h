/*
 * Prefetch: export the last N complete days (yesterday back) before anyone asks, so the
 * morning's `cp` is served from the cache, and keep today's range (open: its orders keep
 * arriving) refreshed, so a `cp` of today does not wait for an export either. Runs once at
 * start, again every open_ttl (today's file is then past its freshness and is exported again)
 * and shortly after each local midnight (or every interval_s seconds when that is set:
 * tests), through cache_prefetch (never waits for an export; the fill pool does the work and
 * keeps the old file served meanwhile).
 *
 * One thread per mount (struct prefetcher) runs every account's passes, from a heap of their
 * next deadlines: 1,000 accounts with prefetch cost one thread, not 1,000. A pass only queues
 * exports, so one account's pass never waits for another's export.
 */
#ifndef ORDERFS_PREFETCH_H
#define ORDERFS_PREFETCH_H

#include <stdint.h>

#include "../../cache/cache.h"
#include "../../common/tz.h"

struct prefetch;
struct prefetcher;

struct prefetch_stats {
	int days;	     /* the prefetch setting; 0 = off */
	uint64_t runs;	     /* passes made */
	uint64_t started;    /* exports this module started */
	int64_t last_run;    /* unix s of the last pass, 0 if none */
	int64_t next_run;    /* unix s of the next pass, 0 if off */
};

/* The mount's prefetch thread, idle (not started) until the first prefetch_start. NULL on
 * ENOMEM. */
struct prefetcher *prefetcher_new(void);

/* Stop and join the thread, free s. Every prefetch started on s must be stopped first. NULL
 * is fine. */
void prefetcher_free(struct prefetcher *s);

/* Schedule an account's passes on s (days > 0), the first at once, starting s's thread if it
 * is not running: each pass prefetches today and the last days complete days in each of the
 * cache's ntypes export types first .. first + ntypes - 1 (one account's); a pass comes at
 * least every open_ttl_s (> 0; the cache's open_ttl) so today stays fresh. Days before the
 * provider's window (window_months back from today) are skipped. NULL with errno on failure
 * (s's thread cannot start: nothing is scheduled); NULL without error when days is 0. The
 * cache and zone (the account's: days and midnight are its; NULL = the process's zone) must
 * outlive the prefetch, and s too. Thread-safe. */
struct prefetch *prefetch_start(struct prefetcher *s, struct cache *cache, size_t first,
				size_t ntypes, int days, int interval_s, int open_ttl_s,
				int window_months, const struct tz *zone);

/* Unschedule p, waiting for a pass of p that runs now to end, and free it; NULL is fine.
 * Thread-safe; not from a pass. */
void prefetch_stop(struct prefetch *p);

/* Pause (paused 1: passes queue nothing, as for an account whose file is gone) or resume
 * (0) the passes. NULL is a no-op. Thread-safe. */
void prefetch_pause(struct prefetch *p, int paused);

/* Counters; zeros for NULL. Thread-safe. */
void prefetch_get_stats(struct prefetch *p, struct prefetch_stats *out);

#endif
