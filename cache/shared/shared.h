/*
 * Inside the shared store's part of the cache: what shared.c (reading from the store) and
 * shared_upload.c (uploading to it) share. Not for use outside cache/shared*.c.
 */
#ifndef ORDERFS_CACHE_SHARED_H
#define ORDERFS_CACHE_SHARED_H

#include "../internal.h"

/* e's pointer key: "<prefix>/ranges/A..B/<report_type>/<language>/<name>.json" into out
 * (S3_KEY_MAX bytes). 0 or -1 (a field keys cannot hold: that kind is not shared). */
int shared_pointer_key(const struct entry *e, const char *language, char *out);
/* The object key "<prefix>/<sha>" of source s into out (S3_KEY_MAX bytes). 0 or -1. */
int shared_object_key(const struct cache_source *s, const char *sha, char *out);
/* Count a store call that failed with err (takes cache->lock) and make it the source's
 * store_error. 1 when that changed it (worth a log line), 0 when the store keeps failing the
 * same way. */
int shared_count_error(struct cache *c, struct cache_kind *k, const struct client_error *err);

/* The entry's info as store pointer p says (as_of, expiry, task), for the commit to write to
 * the .meta. Takes cache->lock. */
void shared_take_fields(struct fill *f, const struct s3_pointer *p);

/* The expiry of the flight's file made at as_of whose provider expiry is expires: with a
 * store and store_keep = DAYS, max(expires, as_of + DAYS) when the file is complete by the
 * freshness rule (fresh.h); else expires (0, never, stays 0). cache->lock held or not. */
int64_t shared_keep_until(const struct fill *f, int64_t expires, int64_t as_of);

#endif
