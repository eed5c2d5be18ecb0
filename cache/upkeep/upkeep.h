/*
 * cache/upkeep/: what keeps cache_dir right around the flights.
 *
 *   recover.c  the background scan at start of what an earlier run left (entries, mid-export
 *              flights resumed in the pool, leftovers deleted)
 *   sweep.c    the sweeper thread: expired files, lazy last_access, eviction, a scan again
 *   evict.c    LRU eviction down to max_size (the workers call it after a fill)
 *
 * Called by the cache's public calls (start, stop) and the fill; they call the entry table,
 * the store and (recover.c) the pool, never the fill.
 */
#ifndef ORDERFS_CACHE_UPKEEP_H
#define ORDERFS_CACHE_UPKEEP_H

#include "../internal.h"

/* --- evict.c: LRU eviction; sweep.c: the expiry sweeper --- */

/* Evict READY files with no handle, least recently used first, until the total fits
 * max_size; downloads in progress count with their declared size (or the bytes they have)
 * so the cache plus what is being downloaded fits. Takes the locks itself (none held on
 * entry). */
void evict_run(struct cache *c);
/* Delete expired data files and flush lazy last_access; no locks held on entry. */
void sweep_run(struct cache *c);
int sweep_start(struct cache *c);

/* --- recover.c: the background scan of what an earlier run left --- */
int recover_start(struct cache *c);
/* The scan itself (no locks held on entry); at most one runs at a time, a second call while
 * one runs returns at once. The sweeper calls it again while scan_done is 0. */
void recover_scan(struct cache *c);

#endif
