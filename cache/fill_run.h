/*
 * The driver of one flight: from its start to its outcome, choosing between the shared store
 * (cache/shared/), the fleet's part (cache/fleet/) and the flight's own export, whose acts
 * and steps are in cache/fill/. It sits above all three, which never call it; the cache's
 * public calls (cache.c) hand it to the pool (pool_start).
 */
#ifndef ORDERFS_CACHE_FILL_RUN_H
#define ORDERFS_CACHE_FILL_RUN_H

#include "internal.h"

/* One flight of entry e, run by a pool worker without locks. Returns 0 when the entry turned
 * READY, else -errno (the entry records the failure). */
int fill_run(struct cache *c, struct entry *e);

#endif
