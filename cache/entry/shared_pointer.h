/*
 * An entry's side of the shared store (client/store/s3.h), below the fill and the store's
 * readers and uploader that all use it: the entry's pointer and object keys, the fields and
 * keep time a pointer gives the entry, a failed store call counted on its source. It calls
 * nothing of the fill, the fleet's part or the store's transfers (../shared/).
 */
#ifndef ORDERFS_CACHE_SHARED_POINTER_H
#define ORDERFS_CACHE_SHARED_POINTER_H

#include "../internal.h"

struct s3_pointer;

/* e's pointer key: "<prefix>/ranges/A..B/<report_type>/<language>/<name>.json" into out
 * (S3_KEY_MAX bytes). 0 or -1 (a field keys cannot hold: that kind is not shared). */
int shared_pointer_key(const struct entry *e, const char *language, char *out);
/* The object key "<prefix>/<sha>" of source s into out (S3_KEY_MAX bytes). 0 or -1. */
int shared_object_key(const struct cache_source *s, const char *sha, char *out);
/* Count a store call that failed with err (takes cache->lock) and make it the source's
 * store_error. 1 when that changed it (worth a log line), 0 when the store keeps failing the
 * same way. */
int shared_count_error(struct cache *c, struct cache_kind *k, const struct client_error *err);

/* Entry e's info as store pointer p says (as_of, expiry, task), for the commit to write to
 * the .meta. Takes c->lock. */
void shared_take_fields(struct cache *c, struct entry *e, const struct s3_pointer *p);

/* The expiry of entry e's file made at as_of whose provider expiry is expires, from source
 * src: with a store and store_keep = DAYS, max(expires, as_of + DAYS) when the file is
 * complete by the freshness rule (fresh.h); else expires (0, never, stays 0). c->lock held
 * or not. */
int64_t shared_keep_until(const struct cache *c, const struct cache_source *src,
			  const struct entry *e, int64_t expires, int64_t as_of);
/* The shared store's object key of e's ready file into out (cap bytes; "" when e has no
 * digest, its source no store, or the key does not fit). Caller holds cache->lock. */
void shared_entry_object(const struct entry *e, char *out, size_t cap);

#endif
