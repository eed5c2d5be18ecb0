/*
 * A small thread-safe map from strings to fixed-size values: a sorted array with binary
 * search, for the few hundred to few thousand keys fs/ remembers (paths, range names).
 */
#ifndef ORDERFS_STR_MAP_H
#define ORDERFS_STR_MAP_H

#include <stddef.h>

struct str_map;

/* Every value is value_size bytes, copied in and out. NULL on out of memory. */
struct str_map *str_map_new(size_t value_size);
void str_map_free(struct str_map *m);

/* Copy the value of key into out: 0 if present, -1 if not (then out is zeroed). */
int str_map_get(struct str_map *m, const char *key, void *out);
/* Insert or replace. 0, or -ENOMEM (the map is unchanged). */
int str_map_put(struct str_map *m, const char *key, const void *value);
/* Read-modify-write of one key under the map lock: fn gets a copy of the value (zeroed when
 * absent, found says which) and returns 1 to store it (inserting if absent), 0 to leave the
 * map as it was. fn must not use the map. 0, or -ENOMEM (the map is unchanged). */
int str_map_update(struct str_map *m, const char *key,
		   int (*fn)(void *arg, void *value, int found), void *arg);
/* Remove: 0 if it was there, -1 if not. */
int str_map_del(struct str_map *m, const char *key);
/* Remove every entry for which keep(arg, key, value) returns 0, in one pass (under the map
 * lock: keep must not use the map). Returns how many were removed. */
size_t str_map_prune(struct str_map *m, int (*keep)(void *arg, const char *key, const void *value),
		     void *arg);
/* How many entries the map holds. */
size_t str_map_count(struct str_map *m);
/* Call fn for every entry in key order, under the map lock: fn must not use the map. */
void str_map_foreach(struct str_map *m,
		     void (*fn)(void *arg, const char *key, const void *value), void *arg);

#endif
