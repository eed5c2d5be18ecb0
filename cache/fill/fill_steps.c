/*
 * The fill's transfer steps: once the export is generated, its file onto the disk. Two ways:
 * a download URL and the provider's download, which resumes a .part a stopped flight left;
 * or the provider's own fetch of a bundle, from scratch on every try. Either way the file is
 * verified, then committed (.part -> .data, .meta READY; store.h has the order). What a failed
 * call means is fill_decide's answer, acted on by fill_judge.
 */
#include "fill.h"
#include "../entry/shared_pointer.h"
#include "../store/room.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "../../common/bundle.h"
#include "../../common/log.h"
#include "../store/part.h"

#define FILL_WHOLE 3 /* fill_download_try: the .part holds the whole file */

/* One download URL: 0, FILL_REAPPLY or -errno. */
static int fill_get_url(struct fill *f, struct download_url *url)
{
	struct download_url urls[2];
	struct client_error err;
	size_t n;
	int r;

	for (;;) {
		n = 0;
		client_error_clear(&err);
		if (f->p->ops->get_urls(f->p, f->task_id, urls, 2, &n, &err) == 0)
			break;
		if ((r = fill_judge(f, FILL_STEP_GET_URL, &err, NULL)) != 0)
			return r;
	}
	f->tries.retries = 0;
	if (n != 1) {
		client_error_set(&f->err, CLIENT_E_PROTOCOL,
				 "provider gave %zu download URLs; exactly one is supported", n);
		return -EIO;
	}
	*url = urls[0];
	return 0;
}

/*
 * Sink hook: refuse a download with no room (room.c), count bytes, publish progress, stop on
 * cancel. A declared size makes room in the cache at once (it counts as soon as it is
 * published); an undeclared one each MiB as it grows.
 */
static int fill_hook(void *arg, uint64_t size, uint64_t total, size_t added)
{
	struct fill *f = arg;
	int rc = added ? room_grow(f->c, f->range_str, size - added, size)
		       : room_begin(f->c, f->range_str, size, total);

	if (rc)
		return rc;
	if (f->p->ops->fetch && cache_mono_ms() >= f->deadline) {
		/* A provider's fetch (a paged sync) is the export itself: export_timeout bounds
		 * it, or a server that always has one more page keeps it going for good. */
		log_warn("cache: %s: export_timeout (%d s) passed while the provider was still "
			 "writing it (%llu bytes so far); stopped",
			 f->range_str, f->c->cfg.export_timeout_s, (unsigned long long)size);
		return -ETIMEDOUT;
	}
	if (added && size == added)
		fill_stamp(f, CACHE_STEP_FIRST_BYTE);
	atomic_fetch_add(&entry_counts(f->c, f->e)->n_bytes, added);
	pthread_mutex_lock(&f->c->lock);
	if (!fill_alive_locked(f)) {
		rc = -ECANCELED;
	} else {
		f->e->info.bytes_done = size;
		if (total != UINT64_MAX) {
			f->e->total = total;
			f->e->info.size = total;
		}
	}
	pthread_mutex_unlock(&f->c->lock);
	if (rc == 0 && ((!added && total != UINT64_MAX) ||
			(size - added) / ROOM_CHECK_EVERY != size / ROOM_CHECK_EVERY))
		evict_run(f->c);
	return rc;
}

/* Sink hook: the provider's own progress (orders synced so far of total). */
static void fill_items_hook(void *arg, uint64_t done, uint64_t total)
{
	struct fill *f = arg;

	pthread_mutex_lock(&f->c->lock);
	if (fill_alive_locked(f)) {
		f->e->info.items_done = done;
		f->e->info.items_total = total;
		if (total > 0 && done <= total)
			f->e->info.progress = entry_progress((int)(done * 100 / total));
	}
	pthread_mutex_unlock(&f->c->lock);
}

/* The .meta of the committed file, from the entry's info. cache->lock held. */
static void fill_ready_meta(struct fill *f, struct store_meta *m, uint64_t size, const char *sha)
{
	entry_to_meta(f->c, f->e, m);
	m->state = CACHE_READY;
	m->size = size;
	m->total = size;
	m->ready_time = cache_now_ms(f->c) / 1000;
	m->expires = shared_keep_until(f->c, f->src, f->e, m->expires, f->e->info.applied_time
							      ? f->e->info.applied_time
							      : m->ready_time);
	m->last_access_ms = cache_now_ms(f->c);
	snprintf(m->sha256, sizeof(m->sha256), "%s", sha);
	m->last_errno = 0;
	m->err_kind = CLIENT_OK;
	m->err_code[0] = m->err_msg[0] = '\0';
	cred_owner(f->src, m->owner, sizeof(m->owner)); /* the credentials that just fetched it */
}

/* Memory follows the disk: the entry is READY as m says. Takes cache->lock. */
static void fill_ready_info(struct fill *f, const struct store_meta *m, const char *sha)
{
	struct entry_info *i = &f->e->info;

	pthread_mutex_lock(&f->c->lock);
	i->state = CACHE_READY;
	entry_drop_old(f->e); /* the new file replaced it */
	f->e->stale = 0;
	i->size = m->size;
	i->bytes_done = m->size;
	i->ready_time = m->ready_time;
	i->expires = m->expires; /* store_keep may have made it later */
	steps_row(f->c, f->e)[CACHE_STEP_READY] = cache_now_ms(f->c); /* with the state */
	entry_str_set(&i->owner, m->owner);
	entry_sha256_set(i, sha);
	i->last_errno = 0;
	entry_err_set(i, NULL);
	f->e->total = m->size;
	entry_touch(f->c, f->e);
	f->e->access_dirty = 0;
	pthread_mutex_unlock(&f->c->lock);
}

/* .part -> .data, .meta READY. Takes ownership of pt (closes it). 0 or -errno. */
int fill_commit(struct fill *f, struct part *pt)
{
	struct cache *c = f->c;
	struct store_meta m;
	char sha[KEY_HASH_LEN];
	uint64_t size = pt->size;
	int rc = part_finish(pt, sha);

	fill_stamp(f, CACHE_STEP_SYNCED);
	part_close(pt);
	if (rc) {
		fill_local_error(&f->err, "cannot sync download", rc);
		return rc;
	}
	if (f->want_sha[0] && strcmp(f->want_sha, sha) != 0) {
		fill_drop_part(f); /* never served: not the bytes the store's pointer names */
		client_error_set(&f->err, CLIENT_E_PROTOCOL, "store object SHA-256 mismatch");
		return -EBADMSG;
	}
	if (f->take)
		shared_take_fields(f->c, f->e, f->take);
	if ((rc = f->check_file(f, sha)) != 0) {
		fill_drop_part(f); /* never served: the fleet holder's file differs */
		return rc;
	}
	pthread_mutex_lock(entry_io_lock(f->c, f->e));
	pthread_mutex_lock(&c->lock);
	if (!fill_alive_locked(f)) {
		pthread_mutex_unlock(&c->lock);
		pthread_mutex_unlock(entry_io_lock(f->c, f->e));
		return -ECANCELED;
	}
	fill_ready_meta(f, &m, size, sha);
	pthread_mutex_unlock(&c->lock);

	rc = store_commit_part(&c->store, entry_hex(f->e).s);
	if (rc == 0)
		rc = store_meta_write(&c->store, entry_hex(f->e).s, &m, 1);
	if (rc == 0) {
		fill_ready_info(f, &m, sha);
		fill_mark(f, "ready (renamed, .meta synced, readers woken next)");
	}
	pthread_mutex_unlock(entry_io_lock(f->c, f->e));
	if (rc)
		fill_local_error(&f->err, "cannot store download", rc);
	return rc;
}

/*
 * Whether the file in pt is whole as far as the provider's format tells (provider verify op).
 * 0 = whole, or nothing to check. Otherwise -1 with *err; when the file is incomplete
 * (TRANSIENT), pt is emptied so the retry downloads from the start.
 */
static int fill_check_whole(struct fill *f, struct part *pt, struct client_error *err)
{
	int rc;

	if (!f->p->ops->verify)
		return 0;
	client_error_clear(err);
	if ((rc = part_flush(pt)) != 0) {
		fill_local_error(err, "cannot write partial file", rc);
		return -1;
	}
	if (f->p->ops->verify(f->p, pt->fd, pt->size, err) == 0)
		return 0;
	if (err->kind != CLIENT_E_TRANSIENT)
		return -1;
	rc = pt->sink.begin(pt->sink.ctx, 0, UINT64_MAX); /* truncate, reset the digest */
	if (rc)
		fill_local_error(err, "cannot truncate partial file", rc);
	return -1;
}

/* Open (or resume) the entry's .part with the fill's hooks. 0 or -errno (f->err set). */
int fill_open_part(struct fill *f, struct part *pt)
{
	char path[PATH_MAX];
	int r;

	pthread_mutex_lock(entry_io_lock(f->c, f->e));
	if (!fill_alive(f)) {
		pthread_mutex_unlock(entry_io_lock(f->c, f->e));
		return -ECANCELED;
	}
	store_path(&f->c->store, entry_hex(f->e).s, ".part", path);
	r = part_open(pt, path);
	pthread_mutex_unlock(entry_io_lock(f->c, f->e));
	if (r) {
		fill_local_error(&f->err, "cannot open partial file", r);
		return r;
	}
	pt->hook = fill_hook;
	pt->items_hook = fill_items_hook;
	pt->hook_arg = f;
	return 0;
}

/*
 * Before the file moves: a server file already past its expiry is applied for again at once
 * (expired says so in f->err); else the entry shows DOWNLOADING, and its .meta says so before
 * any .part exists. 0, FILL_REAPPLY or -errno.
 */
static int fill_start_transfer(struct fill *f, const char *expired)
{
	if (f->task.expires > 0 && f->task.expires <= cache_now_ms(f->c) / 1000) {
		client_error_set(&f->err, CLIENT_E_FILE_EXPIRED, "%s", expired);
		return FILL_REAPPLY;
	}
	fill_set_state(f, CACHE_DOWNLOADING);
	return fill_persist(f);
}

/* What a fetch wrote must be a whole bundle, whatever the provider's own verify says. */
static int fill_check_bundle(struct part *pt, struct client_error *err)
{
	struct bundle_index ix;
	int rc = part_flush(pt);

	if (rc == 0)
		rc = bundle_index_read(pt->fd, pt->size, &ix);
	if (rc == 0) {
		bundle_index_free(&ix);
		return 0;
	}
	if (rc == -EBADMSG)
		client_error_set(err, CLIENT_E_PROTOCOL, "provider wrote an incomplete bundle");
	else
		fill_local_error(err, "cannot read the bundle back", rc);
	return -1;
}

/* One try of the provider's fetch into pt, then the checks: 0 = a whole bundle, or -1 with
 * *err. */
static int fill_fetch_once(struct fill *f, struct part *pt, struct client_error *err)
{
	struct cache *c = f->c;
	struct export_request req = {f->e->kind->report_type, c->cfg.language, f->e->range};
	uint64_t got = UINT64_MAX;

	client_error_clear(err);
	fill_items_hook(f, 0, 0); /* a new try counts afresh */
	if (f->p->ops->fetch(f->p, f->task_id, &req, &pt->sink, &got, err) != 0)
		return -1;
	if (got != UINT64_MAX && got != pt->size) {
		client_error_set(err, CLIENT_E_PROTOCOL, "provider wrote %llu bytes but says %llu",
				 (unsigned long long)pt->size, (unsigned long long)got);
		return -1;
	}
	if (fill_check_bundle(pt, err) != 0)
		return -1;
	return fill_check_whole(f, pt, err);
}

/*
 * Providers with fetch: the provider writes the whole bundle itself, from scratch on every
 * try. 0 (READY), FILL_REAPPLY or -errno.
 */
static int fill_fetch(struct fill *f)
{
	struct client_error err;
	struct part pt = {.fd = -1};
	int r;

	if ((r = fill_start_transfer(f, "server files expired before they were fetched")) != 0)
		return r;
	if ((r = fill_open_part(f, &pt)) != 0)
		return r;
	while (fill_fetch_once(f, &pt, &err) != 0) {
		if ((r = fill_judge(f, FILL_STEP_FETCH, &err, NULL)) == 0)
			continue;
		/* A fetch always starts over: what it left behind is never kept or shown. */
		part_close(&pt);
		if (r != -ECANCELED)
			fill_drop_part(f);
		return r;
	}
	fill_stamp(f, CACHE_STEP_LAST_BYTE);
	return fill_commit(f, &pt);
}

/* A resumed .part already has the whole size: verify it before downloading anything.
 * FILL_WHOLE, 0 = download again (from the start if it was incomplete), or the flight's end. */
static int fill_verify_resumed(struct fill *f, struct part *pt, uint64_t *total)
{
	struct client_error err;

	if (fill_check_whole(f, pt, &err) == 0)
		return FILL_WHOLE;
	*total = UINT64_MAX;
	return fill_judge(f, FILL_STEP_VERIFY, &err, NULL);
}

/* The URL passed its expiry before it was used: a new one, counted like a URL the server
 * calls dead. 0 = go on, FILL_REAPPLY or -errno. */
static int fill_url_timed_out(struct fill *f, struct download_url *url)
{
	struct client_error err;
	struct fill_decision d;

	client_error_clear(&err);
	client_error_set(&err, CLIENT_E_URL_EXPIRED, "download URL past its expiry");
	d = fill_decide(FILL_STEP_DOWNLOAD, &err, &f->tries, f->deadline - cache_mono_ms(),
			&f->policy);
	f->tries = d.tries;
	if (d.verdict == FILL_REFRESH_URL)
		return fill_get_url(f, url);
	client_error_set(&f->err, CLIENT_E_URL_EXPIRED, "download URLs keep expiring");
	return -d.eno;
}

/*
 * One round of the download: verify a resumed .part that is already whole, replace a URL past
 * its expiry, or download from where the .part ends and verify. FILL_WHOLE; 0 = go round
 * again; FILL_REAPPLY or -errno (f->err set). *total: the file's size once known.
 */
static int fill_download_try(struct fill *f, struct download_url *url, struct part *pt,
			     uint64_t *total)
{
	uint64_t before = pt->size, got = UINT64_MAX;
	struct client_error err;
	int r;

	if (*total != UINT64_MAX && pt->size == *total)
		return fill_verify_resumed(f, pt, total);
	if (url->expires_ms > 0 && cache_now_ms(f->c) >= url->expires_ms)
		return fill_url_timed_out(f, url);
	client_error_clear(&err);
	r = f->p->ops->download(f->p, url, pt->size, &pt->sink, &got, &err);
	if (got != UINT64_MAX && got != 0)
		*total = got;
	if (r == 0) {
		if (fill_check_whole(f, pt, &err) == 0)
			return FILL_WHOLE;
		*total = UINT64_MAX;
	}
	if (pt->size > before) { /* progress: the faults so far are forgiven */
		f->tries.retries = 0;
		f->tries.url_refreshes = 0;
	}
	r = fill_judge(f, FILL_STEP_DOWNLOAD, &err, pt);
	return r == FILL_NEW_URL ? fill_get_url(f, url) : r;
}

/* Download the generated file: 0 (READY), FILL_REAPPLY or -errno. */
static int fill_download(struct fill *f)
{
	struct download_url url;
	struct part pt = {.fd = -1};
	uint64_t total = UINT64_MAX;
	int r;

	if ((r = fill_start_transfer(f, "server file expired before it was downloaded")) != 0)
		return r;
	f->tries.url_refreshes = 0;
	if ((r = fill_get_url(f, &url)) != 0)
		return r;
	fill_stamp(f, CACHE_STEP_URL);
	if ((r = fill_open_part(f, &pt)) != 0)
		return r;
	pthread_mutex_lock(&f->c->lock);
	f->e->info.bytes_done = pt.size;
	if (f->e->total)
		total = f->e->total;
	pthread_mutex_unlock(&f->c->lock);

	while ((r = fill_download_try(f, &url, &pt, &total)) == 0)
		;
	if (r != FILL_WHOLE) {
		part_close(&pt);
		return r;
	}
	fill_stamp(f, CACHE_STEP_LAST_BYTE);
	if (total != UINT64_MAX && pt.size != total) {
		client_error_set(&f->err, CLIENT_E_PROTOCOL,
				 "downloaded %llu bytes but the file has %llu",
				 (unsigned long long)pt.size, (unsigned long long)total);
		part_close(&pt);
		fill_drop_part(f);
		return -EIO;
	}
	return fill_commit(f, &pt);
}

int fill_transfer(struct fill *f)
{
	return f->p->ops->fetch ? fill_fetch(f) : fill_download(f);
}
