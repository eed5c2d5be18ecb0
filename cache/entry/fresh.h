/*
 * The freshness rule: whether a cached export still says everything about its range.
 *
 * Design note. Orders of a day keep arriving until the day has ended, and a while after
 * (late payments, provider lag). A file is COMPLETE when its export was applied at or after
 * the range's end (midnight after its last day, in the account's zone) plus settle_s; any
 * other file is OPEN. An open file is served until fresh_until: open_ttl_s after it was
 * applied, or the moment the range turns closed (end + settle_s), whichever comes first; then
 * the next open re-exports it. A complete file is served until the provider's expiry, as any
 * file. A file exported while open becomes complete only by a new export, so the first read
 * after the range closed re-exports it once, and never again until expiry.
 *
 * Pure: no lock, no I/O, no clock (times are passed in). Thread-safe.
 */
#ifndef ORDERFS_CACHE_FRESH_H
#define ORDERFS_CACHE_FRESH_H

#include <stdint.h>

#include "../../common/date.h"
#include "../../common/tz.h"

struct fresh_rule {
	int64_t settle_s;   /* after the range's end, orders still arriving: default 1 h */
	int64_t open_ttl_s; /* how long an open file is served: default 15 min */
};

/* The unix time range r turns closed: the start of the day after r.end in zone (NULL: the
 * process's zone) plus settle_s. */
int64_t fresh_closed_at(const struct tz *zone, const struct date_range *r, int64_t settle_s);

/* Whether an export of r applied at applied_s is complete. */
int fresh_complete(const struct tz *zone, const struct date_range *r, int64_t applied_s,
		   const struct fresh_rule *rule);

/* Until when (unix s) an export of r applied at applied_s is served: 0 when it is complete
 * (the provider's expiry alone decides), else min(applied_s + open_ttl_s, closed_at). */
int64_t fresh_until(const struct tz *zone, const struct date_range *r, int64_t applied_s,
		    const struct fresh_rule *rule);

#endif
