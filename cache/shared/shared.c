/*
 * The shared store's part of a flight (client/s3.h, client/s3_pointer.h): a host that needs a
 * range's file takes it from the store when another host put it there, and a host that got
 * it from the provider puts it there for the others.
 *
 * Design note. Reading: before its first provider call a flight reads the range's pointer;
 * a usable one (not expired, fresh by the local freshness rule, newer than a file being
 * refreshed) names a content-addressed object, which is downloaded into the .part, verified
 * by size and SHA-256 while it streams (s3_get_file), and committed like any download. Any
 * failure (no pointer, the store down, a corrupt object) only costs the store's time: the
 * flight goes on with the provider, and a .part that failed is deleted. A corrupt object
 * this host wrote is deleted (the next upload replaces it).
 * Writing: after a provider fill, one job per file goes to one uploader thread per cache:
 * the object (If-None-Match: a copy already there is kept), then the pointer, so a pointer
 * never names a missing object. A job that failed for a reason a retry may fix is retried
 * with backoff (1, 2, 4, 8, then every 16 s) while its file is cached; any other failure
 * drops it with one log line; readers never wait for it. The uploader reads the committed
 * .data through its own descriptor: eviction meanwhile does not cut the upload short, and a
 * file replaced by a newer export fails the store's payload check (x-amz-content-sha256) and
 * is dropped (its own flight queued a job for the new file).
 */
#include "../fill/fill.h"
#include "shared.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../client/store/s3.h"
#include "../../client/store/s3_pointer.h"
#include "../../common/clock.h"
#include "../../common/log.h"
#include "../entry/fresh.h"
#include "../entry/shared_pointer.h"
#include "../store/part.h"

#define STORE_FOLLOW_WAIT_S 20 /* a follower waits this long for the holder's upload */

/* Whether pointer p may serve the flight's entry now (fresh.h, as a local file would). */
static int shared_usable(struct fill *f, const struct s3_pointer *p)
{
	struct fresh_rule rule = {f->c->cfg.settle_delay_s, f->c->cfg.open_ttl_s};
	int64_t now_s = cache_now_ms(f->c) / 1000, until, old_as_of = 0;

	if (!s3_pointer_usable(p, now_s))
		return 0;
	until = fresh_until(f->src->prov->zone, &f->e->range, p->as_of, &rule);
	if (until != 0 && now_s >= until)
		return 0; /* an open range's file past its fresh_until: export it anew */
	pthread_mutex_lock(&f->c->lock);
	if (f->e->old)
		old_as_of = f->e->old->applied_time;
	pthread_mutex_unlock(&f->c->lock);
	return !(old_as_of && p->as_of <= old_as_of); /* no newer than the file it replaces */
}

#define FIND_ABSENT 1 /* shared_find: no pointer (yet) */

/* The pointer of the flight's range: 0 with *p, FIND_ABSENT, or -1 (unusable, the store
 * failed: counted and logged). */
static int shared_find(struct fill *f, const char *pkey, struct s3_pointer *p)
{
	struct client_error err;
	char *body = NULL;
	size_t len = 0;
	int rc;

	client_error_clear(&err);
	if (s3_get_small(f->src->store, pkey, &body, &len, &err) != 0) {
		if (err.kind != CLIENT_E_NOT_FOUND || !strcmp(err.code, "NoSuchBucket")) {
			if (shared_count_error(f->c, f->e->kind, &err))
				log_warn("cache: %s: shared store %s: %s; exporting from the "
					 "provider (said once while it fails so)", f->range_str,
					 s3_where(f->src->store), err.msg);
			return -1;
		}
		return FIND_ABSENT;
	}
	rc = s3_pointer_from_json(body, len, p);
	free(body);
	if (rc != 0) {
		log_warn("cache: %s: the shared store's pointer %s is not valid; exporting from "
			 "the provider", f->range_str, pkey);
		return -1;
	}
	return shared_usable(f, p) ? 0 : -1;
}

/* The object failed its check: delete it (and its pointer) when this host wrote it. */
static void shared_drop_corrupt(struct fill *f, const struct s3_pointer *p, const char *okey,
				const char *pkey)
{
	struct client_error err;

	if (strcmp(p->writer, f->src->store_writer) != 0)
		return;
	client_error_clear(&err);
	if (s3_delete(f->src->store, pkey, &err) != 0 || s3_delete(f->src->store, okey, &err) != 0)
		log_warn("cache: %s: deleting the corrupt object %s failed: %s", f->range_str,
			 okey, err.msg);
}

/* A download from the store that failed with err: counted, logged, a corrupt object this host
 * wrote deleted. FILL_STORE_MISS (the flight goes on with the provider). */
static int shared_download_failed(struct fill *f, const struct s3_pointer *p, const char *okey,
				  const char *pkey, const struct client_error *err)
{
	shared_count_error(f->c, f->e->kind, err);
	log_warn("cache: %s: the shared store's object %s: %s; exporting from the provider",
		 f->range_str, okey, err->msg);
	if (err->kind == CLIENT_E_PROTOCOL)
		shared_drop_corrupt(f, p, okey, pkey);
	return FILL_STORE_MISS;
}

/* Download the object into a fresh .part and commit it; with take_fields, the entry's task
 * fields become the pointer's. 0, FILL_STORE_MISS or -errno. */
static int shared_download(struct fill *f, const struct s3_pointer *p, const char *okey,
			   const char *pkey, int take_fields)
{
	struct client_error err;
	struct part pt = {.fd = -1};
	int r;

	if ((r = fill_open_part(f, &pt)) != 0)
		return r;
	fill_set_state(f, CACHE_DOWNLOADING);
	client_error_clear(&err);
	/* s3_get_file begins the sink at 0: whatever an earlier .part held is dropped. It checks
	 * the size; the SHA-256 is the part's own (hashed on its thread), checked by the commit. */
	if (s3_get_file(f->src->store, okey, (uint64_t)p->size, NULL, &pt.sink, &err) != 0) {
		part_close(&pt);
		fill_drop_part(f);
		if (err.kind == CLIENT_E_CANCELLED || !fill_alive(f))
			return -ECANCELED;
		return shared_download_failed(f, p, okey, pkey, &err);
	}
	fill_stamp(f, CACHE_STEP_LAST_BYTE);
	atomic_fetch_add(&f->e->kind->counts.n_store_bytes, (uint64_t)p->size);
	/* The pointer's fields become the entry's only once the bytes proved to be its file:
	 * a corrupt object leaves the entry as it was for the provider's export. */
	snprintf(f->want_sha, sizeof(f->want_sha), "%s", p->sha256);
	f->take = take_fields ? p : NULL;
	r = fill_commit(f, &pt);
	f->take = NULL;
	if (r == 0 && take_fields) {
		/* This host keeps the file longer than the pointer says (store_keep): the store
		 * should too, or the others lose it at the provider's expiry. */
		pthread_mutex_lock(&f->c->lock);
		f->keep_longer = p->expires != 0 && f->e->info.expires > p->expires;
		pthread_mutex_unlock(&f->c->lock);
	}
	f->want_sha[0] = '\0';
	if (r == -EBADMSG) {
		err = f->err;
		client_error_clear(&f->err);
		return shared_download_failed(f, p, okey, pkey, &err);
	}
	return r;
}

/* A flight's outcome from the store counted, and on success shown in .status. */
static void shared_count_outcome(struct fill *f, int r, const char *okey)
{
	pthread_mutex_lock(&f->c->lock);
	if (r == 0) {
		f->from_store = 1;
		f->e->kind->counts.n_store_hits++;
		f->src->store_error[0] = '\0';
		f->e->source = ENTRY_SOURCE_STORE;
		f->e->in_store = 1;
	} else if (r == FILL_STORE_MISS) {
		f->e->kind->counts.n_store_misses++;
	}
	pthread_mutex_unlock(&f->c->lock);
	if (r == 0)
		log_info("cache: %s: taken from the shared store (%s), no provider download",
			 f->range_str, okey);
}

int fill_from_store(struct fill *f)
{
	char pkey[S3_KEY_MAX], okey[S3_KEY_MAX];
	struct s3_pointer p;
	int r;

	if (!f->src->store || f->task_id[0])
		return FILL_STORE_MISS; /* no store, or an export of ours is under way: resume */
	if (shared_pointer_key(f->e, f->c->cfg.language, pkey) != 0)
		return FILL_STORE_MISS;
	if (shared_find(f, pkey, &p) != 0 || shared_object_key(f->src, p.sha256, okey) != 0) {
		pthread_mutex_lock(&f->c->lock);
		f->e->kind->counts.n_store_misses++;
		pthread_mutex_unlock(&f->c->lock);
		return FILL_STORE_MISS;
	}
	r = shared_download(f, &p, okey, pkey, 1);
	shared_count_outcome(f, r, okey);
	return r;
}

int fill_wait_store(struct fill *f)
{
	int64_t deadline = cache_mono_ms() + STORE_FOLLOW_WAIT_S * 1000;
	char pkey[S3_KEY_MAX], okey[S3_KEY_MAX];
	struct s3_pointer p;
	long ms = 100;
	int r;

	f->store_tried = 1;
	if (!f->src->store || f->task_id[0] ||
	    shared_pointer_key(f->e, f->c->cfg.language, pkey) != 0)
		return FILL_STORE_MISS;
	while ((r = shared_find(f, pkey, &p)) == FIND_ABSENT) {
		if (cache_mono_ms() + ms > deadline) {
			log_notice("cache: %s: the fleet holder's file is not in the shared store "
				   "after %d s; exporting it here", f->range_str,
				   STORE_FOLLOW_WAIT_S);
			break;
		}
		if (fill_sleep(f, ms) != 0)
			return -ECANCELED;
		ms = ms < 800 ? ms * 2 : 1000;
	}
	if (r != 0 || shared_object_key(f->src, p.sha256, okey) != 0) {
		shared_count_outcome(f, FILL_STORE_MISS, NULL);
		return FILL_STORE_MISS;
	}
	r = shared_download(f, &p, okey, pkey, 1);
	shared_count_outcome(f, r, okey);
	return r;
}

/* Wait for the object okey of size bytes to be in the store (the holder uploads it right
 * after its file is verified). 0 when it is; FILL_STORE_MISS (not within the wait, or the
 * store failed: counted, logged); -ECANCELED. */
static int shared_wait_object(struct fill *f, const char *okey, uint64_t size)
{
	int64_t deadline = cache_mono_ms() + STORE_FOLLOW_WAIT_S * 1000;
	struct client_error err;
	long ms = 100;
	uint64_t have;

	for (;;) {
		client_error_clear(&err);
		if (s3_head(f->src->store, okey, &have, &err) == 0 && have == size)
			return 0;
		if (err.kind == CLIENT_E_CANCELLED)
			return -ECANCELED;
		if (err.kind != CLIENT_OK && err.kind != CLIENT_E_NOT_FOUND) {
			if (shared_count_error(f->c, f->e->kind, &err))
				log_warn("cache: %s: shared store %s: %s; downloading from the "
					 "provider (said once while it fails so)", f->range_str,
					 s3_where(f->src->store), err.msg);
			return FILL_STORE_MISS;
		}
		if (cache_mono_ms() + ms > deadline) {
			log_notice("cache: %s: the fleet holder's file is not in the shared store "
				   "after %d s; downloading from the provider", f->range_str,
				   STORE_FOLLOW_WAIT_S);
			return FILL_STORE_MISS;
		}
		if (fill_sleep(f, ms) != 0)
			return -ECANCELED;
		ms = ms < 800 ? ms * 2 : 1000;
	}
}

int fill_from_store_object(struct fill *f, const char *sha, int64_t size)
{
	struct s3_pointer p = {0};
	char okey[S3_KEY_MAX];
	int r;

	if (size < 0 || shared_object_key(f->src, sha, okey) != 0)
		return FILL_STORE_MISS;
	snprintf(p.sha256, sizeof(p.sha256), "%s", sha);
	p.size = size; /* writer "": a corrupt object is the holder's to delete */
	if ((r = shared_wait_object(f, okey, (uint64_t)size)) == 0)
		r = shared_download(f, &p, okey, NULL, 0);
	shared_count_outcome(f, r, okey);
	return r;
}
