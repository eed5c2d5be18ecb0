/*
 * Room on cache_dir's filesystem for one download (room.c): max_file_size and cache_min_free.
 */
#ifndef ORDERFS_CACHE_ROOM_H
#define ORDERFS_CACHE_ROOM_H

#include <stdint.h>

struct cache;

/* --- room.c: max_file_size and cache_min_free for one download; no lock needed --- */

#define ROOM_CHECK_EVERY (1u << 20) /* room_grow looks at the disk once per MiB */

/* A response is about to write: have bytes on disk, total declared (UINT64_MAX = not).
 * 0, or -EFBIG (total over max_file_size) / -ENOSPC (total would leave less than
 * cache_min_free on cache_dir's filesystem), each with one log line naming both numbers.
 * range names the export in that line. */
int room_begin(const struct cache *c, const char *range, uint64_t have, uint64_t total);
/* The download grew from before to size bytes: -EFBIG past max_file_size, -ENOSPC when
 * (checked each ROOM_CHECK_EVERY) the filesystem has less than cache_min_free left; else 0. */
int room_grow(const struct cache *c, const char *range, uint64_t before, uint64_t size);

#endif
