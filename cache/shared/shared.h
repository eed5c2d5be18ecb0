/*
 * cache/shared/: the shared store (client/s3.h), for the cache.
 *
 *   shared.c         a flight's file from the store: before any provider call, after a
 *                    fleet holder's verified upload, or another host's local export
 *   shared_upload.c  a file from the provider to the store, on one uploader thread
 *
 * What both and the fill's commit share (an entry's pointer and object keys, the fields and
 * keep time a pointer gives, a failed call counted) is ../entry/shared_pointer.c, below the
 * fill. shared.c commits through the fill's steps (../fill/fill_steps.c); nothing here calls
 * the fill's driver (../fill_run.c) or the fleet's part.
 */
#ifndef ORDERFS_CACHE_SHARED_H
#define ORDERFS_CACHE_SHARED_H

#include "../internal.h"

struct fill;
struct s3_pointer;

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
