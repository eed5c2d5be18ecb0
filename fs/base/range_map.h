/*
 * A small thread-safe map from date ranges to what fs/ remembers about them: which ranges were
 * pinned into the /exports listing (by mkdir or by use). Sorted array of day numbers, binary
 * search, thread-safe.
 */
#ifndef ORDERFS_RANGE_MAP_H
#define ORDERFS_RANGE_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "../../common/date.h"

struct range_map;

struct range_note {
	unsigned char made_by_mkdir; /* listed in /exports until rmdir */
};

struct range_map *range_map_new(void);
void range_map_free(struct range_map *m);

/* Copy the note for r into *out; 0 if present, -1 if not (then *out is zeroed). */
int range_map_get(struct range_map *m, const struct date_range *r, struct range_note *out);
/* Insert or replace. 0, or -ENOMEM. */
int range_map_put(struct range_map *m, const struct date_range *r, const struct range_note *n);
/* Remove; 0 if it was there, -1 if not. */
int range_map_del(struct range_map *m, const struct date_range *r);
/* How many ranges have a note. */
size_t range_map_count(struct range_map *m);
/* Call fn for each range whose note has made_by_mkdir (under the map lock: fn must not call
 * back into the map). */
void range_map_foreach_mkdir(struct range_map *m,
			     void (*fn)(void *arg, const struct date_range *r), void *arg);

#endif
