/*
 * cache/upkeep/: what keeps cache_dir right around the flights.
 *
 *   recover.c  the background scan at start of what an earlier run left (entries, mid-export
 *              flights resumed in the pool, leftovers deleted)
 *   sweep.c    the sweeper thread: expired files, lazy last_access, eviction
 *              (../entry/evict.c), a scan again while the last one could not read everything
 *
 * Called by the cache's public calls only (start, stop); they call the entry table, the store
 * and (recover.c) the pool, never the fill.
 */
#ifndef ORDERFS_CACHE_UPKEEP_H
#define ORDERFS_CACHE_UPKEEP_H

#include "../internal.h"

/* --- sweep.c: the expiry sweeper --- */

/* Delete expired data files and flush lazy last_access; no locks held on entry. */
void sweep_run(struct cache *c);
int sweep_start(struct cache *c);

/* --- recover.c: the background scan of what an earlier run left --- */
int recover_start(struct cache *c);
/* The scan itself (no locks held on entry); at most one runs at a time, a second call while
 * one runs returns at once. The sweeper calls it again while scan_done is 0. */
void recover_scan(struct cache *c);

#endif
