/*
 * cache/shared/: the shared store (client/s3.h), for the cache.
 *
 *   shared.c         a flight's file from the store: before any provider call, after a
 *                    fleet holder's verified upload, or another host's local export
 *   shared_upload.c  a file from the provider to the store, on one uploader thread
 *   pointer.c        what both and the fill's commit share: an entry's pointer and object
 *                    keys, the fields and keep time a pointer gives, a failed call counted
 *
 * shared.c commits through the fill's steps (../fill/fill_steps.c), which reach pointer.c
 * only; nothing here calls the fill's driver or the fleet's part.
 */
#ifndef ORDERFS_CACHE_SHARED_H
#define ORDERFS_CACHE_SHARED_H

#include "../internal.h"

struct fill;
struct s3_pointer;

/* --- pointer.c: what the reader, the uploader and the fill's commit share --- */

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
/* The shared store's object key of e's ready file into out (cap bytes; "" when e has no
 * digest, its source no store, or the key does not fit). Caller holds cache->lock. */
void shared_entry_object(const struct entry *e, char *out, size_t cap);

/* --- shared.c: a flight's file from the store (no-ops for a source without one) --- */

/* Before any provider call: when the store has a usable pointer for the entry's range and
 * file (not expired, fresh by fresh.h, newer than a file being refreshed), take the file
 * from the store, verified by size and SHA-256, and commit it. 0 (READY, no provider call),
 * FILL_STORE_MISS (nothing usable, or the store failed: logged and counted; go on with the
 * provider), or -errno of the commit / -ECANCELED (f->err set). */
int fill_from_store(struct fill *f);
/* Take object sha of size bytes (a fleet holder's verified file) from the store once it is
 * there (waited for up to STORE_FOLLOW_WAIT_S: the holder uploads it right after verifying
 * it), verified and committed. 0 (READY), FILL_STORE_MISS (size < 0, no such key, not within
 * the wait, or the store failed: counted, logged), or -errno. */
int fill_from_store_object(struct fill *f, const char *sha, int64_t size);
/* Fleet mode, a provider whose jobs are local (Mogujie's sync): another host's record says
 * it made the range's file; wait for its pointer in the store (up to STORE_FOLLOW_WAIT_S)
 * and take the file as fill_from_store does. Once per flight (store_tried). 0 (READY),
 * FILL_STORE_MISS (export here), or -errno. */
int fill_wait_store(struct fill *f);

/* --- shared_upload.c: uploads to the store --- */

/* After a flight from the provider ended READY: the file goes to the store, then its pointer,
 * on the uploader thread (never blocking a reader), retried when the store fails. */
void fill_to_store(struct fill *f);
/* Stop the uploader (cache->stopping set and broadcast on upload_wake first) and drop the
 * jobs left: their files stay in the cache, the next fill of the range uploads again. */
void shared_stop(struct cache *c);

#endif
