/*
 * Clover export service hours, without any I/O. Pure and thread-safe.
 *
 * The Merchant Data Export API answers 503 outside its hours, so orderfs asks nothing while
 * they are closed and tells the cache when to come back instead. Hours are UTC:
 *   us       daily 10:00-15:00
 *   eu       Mon-Fri 01:00-05:00, Sat 02:00-05:00, Sun 02:00-06:00
 *   la       as us (Clover publishes no LA hours)
 *   sandbox  always open (also region NULL or "")
 * A window includes its opening minute and excludes its closing one.
 */
#ifndef ORDERFS_CLOVER_HOURS_H
#define ORDERFS_CLOVER_HOURS_H

#include <stdint.h>

/*
 * Whether the region's export service is open at now_ms (ms since the epoch, UTC). Returns 1
 * if open (*opens_at_ms, when not NULL, = now_ms), 0 if closed with *opens_at_ms (when not
 * NULL) = the next opening, or -1 for an unknown region (*opens_at_ms untouched). Region
 * names match case-insensitively.
 */
int clover_hours_open(const char *region, int64_t now_ms, int64_t *opens_at_ms);

/* Whether region is one clover_hours_open() knows. */
int clover_region_ok(const char *region);

#endif
