/*
 * The fill engine: one flight for one entry, apply -> poll -> get_urls -> download (or the
 * provider's own fetch of a bundle) -> verify -> READY, run by a pool worker with no lock held. See internal.h for the locking rules and
 * store.h for the order in which the files change.
 *
 * Faults: CLIENT_E_TRANSIENT is retried with backoff (retry_initial_ms doubling to
 * retry_max_ms) at most retry_limit times in a row, then the fill fails -EIO ("unreachable");
 * RATE_LIMIT waits retry_after_ms (or the backoff) without counting against retry_limit but
 * within export_timeout_s; UNAVAILABLE (closed for now) shows the entry WAITING, answers
 * readers EAGAIN and waits as long as the provider says; FILE_EXPIRED/NOT_FOUND drop the task and re-apply
 * once per flight; everything else ends the flight with the provider's error kept.
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/bundle.h"
#include "../client/interrupt.h"
#include "../common/clock.h"
#include "../common/log.h"
#include "part.h"

#define FILL_REAPPLY 1 /* internal: the task is gone, apply again */

struct fill {
	struct cache *c;
	struct entry *e;
	struct provider *p;
	unsigned gen;			/* e->gen this flight belongs to */
	int64_t deadline;		/* monotonic ms: export_timeout_s from the start */
	int64_t start_ms;		/* monotonic ms at the start of the flight */
	int retries;			/* transient faults in a row */
	int reapplied;			/* re-applies done this flight (max 1) */
	int unreachable;		/* gave up after retry_limit transient faults */
	int waits;			/* closed-provider waits without a hint, for backoff */
	int drop_task;			/* the task is dead: do not keep its id */
	unsigned seed;			/* poll jitter */
	char task_id[PROVIDER_ID_MAX];	/* "" = apply first */
	struct export_task task;	/* last query answer */
	struct client_error err;	/* why the flight failed */
};

/* Whether this flight may still act: not stopping, not forgotten. cache->lock held. */
static int fill_alive_locked(const struct fill *f)
{
	return !f->c->stopping && f->e->gen == f->gen;
}

static int fill_alive(struct fill *f)
{
	int ok;

	pthread_mutex_lock(&f->c->lock);
	ok = fill_alive_locked(f);
	pthread_mutex_unlock(&f->c->lock);
	return ok;
}

/* Sleep ms, waking early (-ECANCELED) on stop or forget. */
static int fill_sleep(struct fill *f, long ms)
{
	struct cache *c = f->c;
	int64_t until = cache_mono_ms() + (ms > 0 ? ms : 0);
	int rc = 0;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		int64_t now = cache_mono_ms();
		struct timespec ts;
		if (!fill_alive_locked(f)) {
			rc = -ECANCELED;
			break;
		}
		if (now >= until)
			break;
		clock_mono_deadline(&ts, until - now);
		pthread_cond_timedwait(&c->wake, &c->lock, &ts);
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

/* Write the entry's current info as its .meta (durable). 0, -ECANCELED if the flight is
 * stale, or -errno of the write (then f->err says so). */
static int fill_persist(struct fill *f)
{
	struct store_meta m;
	int rc;

	pthread_mutex_lock(&f->e->io_lock);
	pthread_mutex_lock(&f->c->lock);
	if (!fill_alive_locked(f)) {
		pthread_mutex_unlock(&f->c->lock);
		pthread_mutex_unlock(&f->e->io_lock);
		return -ECANCELED;
	}
	entry_to_meta(f->e, &m);
	f->e->access_dirty = 0;
	pthread_mutex_unlock(&f->c->lock);
	rc = store_meta_write(&f->c->store, f->e->hash, &m, 1);
	pthread_mutex_unlock(&f->e->io_lock);
	if (rc) {
		client_error_set(&f->err, CLIENT_E_LOCAL, "cannot write metadata: %s",
				 strerror(-rc));
		f->err.sys_errno = -rc;
	}
	return rc;
}

/* Delete the .part unless the flight is stale. */
static void fill_drop_part(struct fill *f)
{
	pthread_mutex_lock(&f->e->io_lock);
	if (fill_alive(f))
		store_unlink(&f->c->store, f->e->hash, ".part");
	pthread_mutex_unlock(&f->e->io_lock);
}

static long fill_backoff(const struct fill *f, int n)
{
	long ms = f->c->cfg.retry_initial_ms;

	while (--n > 0 && ms < f->c->cfg.retry_max_ms)
		ms *= 2;
	return ms < f->c->cfg.retry_max_ms ? ms : f->c->cfg.retry_max_ms;
}

/*
 * The provider is closed for now (outside its service hours, or at its concurrency limit).
 * The flight stays queued: the entry shows WAITING with the time it tries again, readers get
 * EAGAIN at once (cache_open), and after the wait the flight goes on where it was. Waiting
 * does not count against export_timeout_s: a window may open hours later.
 */
static int fill_wait_closed(struct fill *f, const struct client_error *err)
{
	struct cache *c = f->c;
	long ms = err->retry_after_ms >= 0 ? err->retry_after_ms : fill_backoff(f, ++f->waits);
	enum cache_state before = CACHE_QUEUED;
	int64_t until_s = (cache_now_ms(c) + ms + 999) / 1000;
	char when[32] = "?";
	time_t t = (time_t)until_s;
	struct tm tm;
	int r;

	if (gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%H:%M:%S UTC", &tm);
	/* Logged before readers are told EAGAIN: by the time they see it, the line is there. */
	log_notice("cache: %s: provider closed for now (%s); export queued, trying again at %s",
		   f->e->range_str, err->msg, when);
	pthread_mutex_lock(&c->lock);
	if (fill_alive_locked(f)) {
		before = f->e->info.state;
		f->e->info.state = CACHE_WAITING;
		f->e->info.wait_until = until_s;
		f->e->info.last_error = *err;
		f->e->info.last_errno = EAGAIN;
		if (until_s * 1000 > c->closed_until_ms) {
			c->closed_until_ms = until_s * 1000;
			c->closed_err = *err;
		}
		pthread_cond_broadcast(&c->wake); /* waiters answer EAGAIN now */
	}
	pthread_mutex_unlock(&c->lock);
	r = fill_sleep(f, ms);
	f->deadline += ms;
	pthread_mutex_lock(&c->lock);
	if (fill_alive_locked(f) && f->e->info.state == CACHE_WAITING) {
		f->e->info.state = before == CACHE_WAITING ? CACHE_QUEUED : before;
		f->e->info.wait_until = 0;
		f->e->info.last_errno = 0;
		client_error_clear(&f->e->info.last_error);
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

/*
 * After a failed provider call: 0 = slept, call again; 1 = not a retryable fault, the caller
 * decides; <0 = give up with this errno (f->err is set).
 */
static int fill_retry(struct fill *f, const struct client_error *err)
{
	long ms;

	switch (err->kind) {
	case CLIENT_E_TRANSIENT:
		if (++f->retries > f->c->cfg.retry_limit) {
			f->err = *err;
			f->unreachable = 1;
			return -EIO;
		}
		ms = fill_backoff(f, f->retries);
		break;
	case CLIENT_E_RATE_LIMIT:
		ms = err->retry_after_ms >= 0 ? err->retry_after_ms
					      : fill_backoff(f, f->retries + 1);
		if (cache_mono_ms() + ms > f->deadline) {
			f->err = *err;
			return -client_error_to_errno(err);
		}
		break;
	case CLIENT_E_UNAVAILABLE:
		return fill_wait_closed(f, err);
	default:
		return 1;
	}
	/* One line per fault, so a log shows what the provider did and what we did about it. */
	log_notice("cache: %s: %s: %s; retrying in %ld ms%s", f->e->range_str,
		   client_errkind_name(err->kind), err->msg, ms,
		   err->kind == CLIENT_E_TRANSIENT ? "" : " (as the server asked)");
	return fill_sleep(f, ms);
}

/* A non-retryable provider error ends the flight with its errno. */
static int fill_fail(struct fill *f, const struct client_error *err)
{
	f->err = *err;
	if (err->kind == CLIENT_E_CANCELLED)
		return -ECANCELED;
	if (err->kind == CLIENT_OK) {
		/* -1 without a kind: errno 0 here would read as success (READY, nothing stored) */
		client_error_set(&f->err, CLIENT_E_PROTOCOL, "provider failed without an error");
		return -EIO;
	}
	return -client_error_to_errno(err);
}

/*
 * After a failed query or get_urls of the current task: 0 = a fault already waited out, call
 * again; FILL_REAPPLY = the server no longer knows the task or its file; else the flight's
 * final -errno (f->err is set).
 */
static int fill_task_error(struct fill *f, const struct client_error *err)
{
	int r = fill_retry(f, err);
	if (r <= 0)
		return r;
	if (err->kind == CLIENT_E_FILE_EXPIRED || err->kind == CLIENT_E_NOT_FOUND) {
		f->err = *err;
		return FILL_REAPPLY;
	}
	return fill_fail(f, err);
}

static void fill_set_state(struct fill *f, enum cache_state st)
{
	pthread_mutex_lock(&f->c->lock);
	if (fill_alive_locked(f))
		f->e->info.state = st;
	pthread_mutex_unlock(&f->c->lock);
}

static int fill_apply(struct fill *f)
{
	struct cache *c = f->c;
	struct export_request req = {f->e->key.report_type, c->cfg.language, f->e->key.range};
	struct export_task t;
	struct client_error err;
	int r;

	fill_drop_part(f); /* a .part belongs to the task we are replacing */
	client_error_clear(&err);
	if (f->p->ops->check(f->p, &req, cache_now_ms(c) / 1000, &err) != 0) {
		f->err = err;
		return -EINVAL;
	}
	for (;;) {
		memset(&t, 0, sizeof(t));
		client_error_clear(&err);
		if (f->p->ops->apply(f->p, &req, &t, &err) == 0)
			break;
		if ((r = fill_retry(f, &err)) == 0)
			continue;
		return r < 0 ? r : fill_fail(f, &err);
	}
	f->retries = 0;
	if (!t.id[0]) {
		client_error_set(&f->err, CLIENT_E_PROTOCOL, "apply returned no task id");
		return -EIO;
	}
	pthread_mutex_lock(&c->lock);
	entry_counts(c, f->e)->n_applies++;
	if (!fill_alive_locked(f)) {
		pthread_mutex_unlock(&c->lock);
		return -ECANCELED;
	}
	snprintf(f->e->info.task_id, sizeof(f->e->info.task_id), "%s", t.id);
	snprintf(f->e->info.server_name, sizeof(f->e->info.server_name), "%s", t.file_name);
	f->e->info.state = CACHE_APPLIED;
	f->e->info.progress = t.progress;
	f->e->info.finish_time = f->e->info.expires = 0;
	f->e->info.bytes_done = f->e->info.size = 0;
	f->e->info.items_done = f->e->info.items_total = 0; /* the old task's count is not ours */
	f->e->total = 0;
	pthread_mutex_unlock(&c->lock);
	log_info("cache: %s: applied for export task %s", f->e->range_str, t.id);
	/* The task id reaches the disk before anything else happens for this task. */
	r = fill_persist(f);
	if (r == 0)
		snprintf(f->task_id, sizeof(f->task_id), "%s", t.id);
	return r;
}

/* Forget the task id (in memory; the next persist or apply replaces it on disk). */
static void fill_forget_task(struct fill *f)
{
	f->task_id[0] = '\0';
	pthread_mutex_lock(&f->c->lock);
	if (fill_alive_locked(f))
		f->e->info.task_id[0] = '\0';
	pthread_mutex_unlock(&f->c->lock);
}

static long fill_jitter(struct fill *f, long ms)
{
	long half = ms / 2;

	return half + (half > 0 ? (long)(rand_r(&f->seed) % (unsigned)(half + 1)) : 0) + ms / 4;
}

/* Poll until GENERATED: 0, FILL_REAPPLY, or -errno (-ENODATA, -EIO failed, -ETIMEDOUT...). */
static int fill_poll(struct fill *f, int fresh)
{
	struct cache *c = f->c;
	long delay = c->cfg.poll_initial_ms;
	enum cache_state last = CACHE_ABSENT;
	struct client_error err;
	int r;

	for (;;) {
		if (fresh) {
			long ms = fill_jitter(f, delay);
			int64_t left = f->deadline - cache_mono_ms();
			if (ms > left)
				ms = left > 0 ? (long)left : 0;
			if ((r = fill_sleep(f, ms)) != 0)
				return r;
			/* Next wait: a tenth of the time the export has taken so far, so the poll
			 * that sees it generated comes at most ~10% (plus jitter) after it was;
			 * doubling would overshoot by up to 100% (polls at 0.5, 1.5, 3.5, 7.5 s). */
			delay = (long)((cache_mono_ms() - f->start_ms) / 10);
			if (delay < c->cfg.poll_initial_ms)
				delay = c->cfg.poll_initial_ms;
			if (delay > c->cfg.poll_max_ms)
				delay = c->cfg.poll_max_ms;
		}
		fresh = 1;
		memset(&f->task, 0, sizeof(f->task));
		client_error_clear(&err);
		if (f->p->ops->query(f->p, f->task_id, &f->task, &err) != 0) {
			if ((r = fill_task_error(f, &err)) == 0) {
				fresh = 0;
				continue;
			}
			return r;
		}
		f->retries = 0;
		pthread_mutex_lock(&c->lock);
		if (fill_alive_locked(f)) {
			struct cache_info *i = &f->e->info;
			i->progress = f->task.progress;
			if (f->task.file_name[0])
				snprintf(i->server_name, sizeof(i->server_name), "%s",
					 f->task.file_name);
			i->finish_time = f->task.finish_time;
			i->expires = f->task.expires;
		}
		pthread_mutex_unlock(&c->lock);

		switch (f->task.state) {
		case EXPORT_GENERATED:
			return 0;
		case EXPORT_FAILED:
			client_error_set(&f->err, CLIENT_E_BUSINESS, "export failed on the server: %s",
					 f->task.msg[0] ? f->task.msg : "generation failed");
			f->drop_task = 1;
			return -EIO;
		case EXPORT_NO_DATA:
			pthread_mutex_lock(&c->lock);
			if (fill_alive_locked(f)) {
				f->e->info.state = CACHE_NO_DATA;
				f->e->info.learned_time = cache_now_ms(c) / 1000;
				f->e->info.task_id[0] = '\0';
				f->e->info.last_errno = ENODATA;
				client_error_clear(&f->e->info.last_error);
			}
			pthread_mutex_unlock(&c->lock);
			f->task_id[0] = '\0';
			r = fill_persist(f);
			log_info("cache: %s: no data in that range", f->e->range_str);
			return r ? r : -ENODATA;
		case EXPORT_PENDING:
		case EXPORT_GENERATING: {
			enum cache_state st = f->task.state == EXPORT_PENDING ? CACHE_APPLIED
									   : CACHE_GENERATING;
			fill_set_state(f, st);
			if (st != last && last != CACHE_ABSENT && (r = fill_persist(f)) != 0)
				return r;
			last = st;
			break;
		}
		default:
			client_error_set(&f->err, CLIENT_E_PROTOCOL, "unknown export state %d",
					 (int)f->task.state);
			return -EIO;
		}
		if (cache_mono_ms() >= f->deadline) {
			client_error_set(&f->err, CLIENT_E_TRANSIENT,
					 "export not generated after %d s (server says: %s)",
					 c->cfg.export_timeout_s, export_state_name(f->task.state));
			return -ETIMEDOUT;
		}
	}
}

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
		if ((r = fill_task_error(f, &err)) != 0)
			return r;
	}
	f->retries = 0;
	if (n != 1) {
		client_error_set(&f->err, CLIENT_E_PROTOCOL,
				 "provider gave %zu download URLs; exactly one is supported", n);
		return -EIO;
	}
	*url = urls[0];
	return 0;
}

/* Sink hook: count bytes, publish progress, stop on cancel. */
static int fill_hook(void *arg, uint64_t size, uint64_t total, size_t added)
{
	struct fill *f = arg;
	int rc = 0;

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
	return rc;
}

/* .part -> .data, .meta READY. Takes ownership of pt (closes it). */
static int fill_commit(struct fill *f, struct part *pt)
{
	struct cache *c = f->c;
	struct store_meta m;
	char sha[KEY_HASH_LEN];
	uint64_t size = pt->size;
	int rc = part_finish(pt, sha);

	part_close(pt);
	if (rc) {
		client_error_set(&f->err, CLIENT_E_LOCAL, "cannot sync download: %s", strerror(-rc));
		f->err.sys_errno = -rc;
		return rc;
	}
	pthread_mutex_lock(&f->e->io_lock);
	pthread_mutex_lock(&c->lock);
	if (!fill_alive_locked(f)) {
		pthread_mutex_unlock(&c->lock);
		pthread_mutex_unlock(&f->e->io_lock);
		return -ECANCELED;
	}
	entry_to_meta(f->e, &m);
	m.state = CACHE_READY;
	m.size = size;
	m.total = size;
	m.ready_time = cache_now_ms(c) / 1000;
	m.last_access_ms = cache_now_ms(c);
	snprintf(m.sha256, sizeof(m.sha256), "%s", sha);
	m.last_errno = 0;
	m.err_kind = CLIENT_OK;
	m.err_code[0] = m.err_msg[0] = '\0';
	pthread_mutex_unlock(&c->lock);

	rc = store_commit_part(&c->store, f->e->hash);
	if (rc == 0)
		rc = store_meta_write(&c->store, f->e->hash, &m, 1);

	pthread_mutex_lock(&c->lock);
	if (rc == 0) {
		struct cache_info *i = &f->e->info;
		i->state = CACHE_READY;
		i->size = size;
		i->bytes_done = size;
		i->ready_time = m.ready_time;
		snprintf(i->sha256, sizeof(i->sha256), "%s", sha);
		i->last_errno = 0;
		client_error_clear(&i->last_error);
		f->e->total = size;
		entry_touch(c, f->e);
		f->e->access_dirty = 0;
	}
	pthread_mutex_unlock(&c->lock);
	pthread_mutex_unlock(&f->e->io_lock);
	if (rc) {
		client_error_set(&f->err, CLIENT_E_LOCAL, "cannot store download: %s",
				 strerror(-rc));
		f->err.sys_errno = -rc;
	}
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
	if (f->p->ops->verify(f->p, pt->fd, pt->size, err) == 0)
		return 0;
	if (err->kind != CLIENT_E_TRANSIENT)
		return -1;
	rc = pt->sink.begin(pt->sink.ctx, 0, UINT64_MAX); /* truncate, reset the digest */
	if (rc) {
		client_error_set(err, CLIENT_E_LOCAL, "cannot truncate partial file: %s",
				 strerror(-rc));
		err->sys_errno = -rc;
	}
	return -1;
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
			f->e->info.progress = (int)(done * 100 / total);
	}
	pthread_mutex_unlock(&f->c->lock);
}

/* Open (or resume) the entry's .part with the fill's hooks. 0 or -errno (f->err set). */
static int fill_open_part(struct fill *f, struct part *pt)
{
	char path[PATH_MAX];
	int r;

	pthread_mutex_lock(&f->e->io_lock);
	if (!fill_alive(f)) {
		pthread_mutex_unlock(&f->e->io_lock);
		return -ECANCELED;
	}
	store_path(&f->c->store, f->e->hash, ".part", path);
	r = part_open(pt, path);
	pthread_mutex_unlock(&f->e->io_lock);
	if (r) {
		client_error_set(&f->err, CLIENT_E_LOCAL, "cannot open partial file: %s",
				 strerror(-r));
		f->err.sys_errno = -r;
		return r;
	}
	pt->hook = fill_hook;
	pt->items_hook = fill_items_hook;
	pt->hook_arg = f;
	return 0;
}

/* What a fetch wrote must be a whole bundle, whatever the provider's own verify says. */
static int fill_check_bundle(struct part *pt, struct client_error *err)
{
	struct bundle_index ix;
	int rc = bundle_index_read(pt->fd, pt->size, &ix);

	if (rc == 0) {
		bundle_index_free(&ix);
		return 0;
	}
	if (rc == -EBADMSG)
		client_error_set(err, CLIENT_E_PROTOCOL, "provider wrote an incomplete bundle");
	else {
		client_error_set(err, CLIENT_E_LOCAL, "cannot read the bundle back: %s",
				 strerror(-rc));
		err->sys_errno = -rc;
	}
	return -1;
}

/*
 * Providers with fetch: the provider writes the whole bundle itself, from scratch on every
 * try. 0 (READY), FILL_REAPPLY or -errno.
 */
static int fill_fetch(struct fill *f)
{
	struct cache *c = f->c;
	struct export_request req = {f->e->key.report_type, c->cfg.language, f->e->key.range};
	struct client_error err;
	struct part pt = {.fd = -1};
	int r;

	if (f->task.expires > 0 && f->task.expires <= cache_now_ms(c) / 1000) {
		client_error_set(&f->err, CLIENT_E_FILE_EXPIRED,
				 "server files expired before they were fetched");
		return FILL_REAPPLY;
	}
	fill_set_state(f, CACHE_DOWNLOADING);
	if ((r = fill_persist(f)) != 0)
		return r;
	if ((r = fill_open_part(f, &pt)) != 0)
		return r;
	for (;;) {
		uint64_t got = UINT64_MAX;

		client_error_clear(&err);
		fill_items_hook(f, 0, 0); /* a new try counts afresh */
		r = f->p->ops->fetch(f->p, f->task_id, &req, &pt.sink, &got, &err);
		if (r == 0 && got != UINT64_MAX && got != pt.size) {
			client_error_set(&err, CLIENT_E_PROTOCOL,
					 "provider wrote %llu bytes but says %llu",
					 (unsigned long long)pt.size, (unsigned long long)got);
			r = -1;
		}
		if (r == 0 && (r = fill_check_bundle(&pt, &err)) != 0)
			r = -1;
		if (r == 0) {
			if (fill_check_whole(f, &pt, &err) == 0)
				break;
			r = -1;
		}
		switch (err.kind) {
		case CLIENT_E_FILE_EXPIRED:
		case CLIENT_E_NOT_FOUND:
			f->err = err;
			r = FILL_REAPPLY;
			goto drop;
		case CLIENT_E_LOCAL:
			f->err = err;
			r = err.sys_errno > 0 ? -err.sys_errno : -EIO;
			goto drop;
		default:
			if ((r = fill_retry(f, &err)) == 0)
				continue;
			if (r > 0)
				r = fill_fail(f, &err);
			goto drop;
		}
	}
	return fill_commit(f, &pt);
drop:
	/* A fetch always starts over: what it left behind is never kept or shown. */
	part_close(&pt);
	if (r != -ECANCELED)
		fill_drop_part(f);
	return r;
}

/* Download the generated file: 0 (READY), FILL_REAPPLY or -errno. */
static int fill_download(struct fill *f)
{
	struct cache *c = f->c;
	struct download_url url;
	struct client_error err;
	struct part pt = {.fd = -1};
	uint64_t total = UINT64_MAX;
	int url_refreshes = 0, r;

	if (f->task.expires > 0 && f->task.expires <= cache_now_ms(c) / 1000) {
		client_error_set(&f->err, CLIENT_E_FILE_EXPIRED,
				 "server file expired before it was downloaded");
		return FILL_REAPPLY;
	}
	fill_set_state(f, CACHE_DOWNLOADING);
	if ((r = fill_persist(f)) != 0) /* .meta says DOWNLOADING before .part exists */
		return r;
	if ((r = fill_get_url(f, &url)) != 0)
		return r;
	if ((r = fill_open_part(f, &pt)) != 0)
		return r;
	pthread_mutex_lock(&c->lock);
	f->e->info.bytes_done = pt.size;
	if (f->e->total)
		total = f->e->total;
	pthread_mutex_unlock(&c->lock);

	for (;;) {
		uint64_t before = pt.size, got = UINT64_MAX;

		if (total != UINT64_MAX && pt.size == total) {
			/* a resumed .part was already complete */
			if (fill_check_whole(f, &pt, &err) == 0)
				break;
			total = UINT64_MAX;
			if (err.kind == CLIENT_E_LOCAL) {
				r = fill_fail(f, &err);
				goto out;
			}
			if ((r = fill_retry(f, &err)) == 0)
				continue;
			if (r > 0)
				r = fill_fail(f, &err);
			goto out;
		}
		if (url.expires_ms > 0 && cache_now_ms(c) >= url.expires_ms) {
			if (++url_refreshes > c->cfg.retry_limit + 1) {
				client_error_set(&f->err, CLIENT_E_URL_EXPIRED,
						 "download URLs keep expiring");
				r = -EIO;
				goto out;
			}
			if ((r = fill_get_url(f, &url)) != 0)
				goto out;
			continue;
		}
		client_error_clear(&err);
		r = f->p->ops->download(f->p, &url, pt.size, &pt.sink, &got, &err);
		if (got != UINT64_MAX && got != 0)
			total = got;
		if (r == 0) {
			if (fill_check_whole(f, &pt, &err) == 0)
				break;
			total = UINT64_MAX;
			r = -1;
		}
		if (pt.size > before) {
			f->retries = 0;
			url_refreshes = 0;
		}
		switch (err.kind) {
		case CLIENT_E_URL_EXPIRED:
			if (++url_refreshes > c->cfg.retry_limit + 1) {
				r = fill_fail(f, &err);
				goto out;
			}
			if ((r = fill_get_url(f, &url)) != 0)
				goto out;
			continue;
		case CLIENT_E_FILE_EXPIRED:
		case CLIENT_E_NOT_FOUND:
			f->err = err;
			r = FILL_REAPPLY;
			goto out;
		case CLIENT_E_LOCAL:
			/* Disk full or a write error: drop the partial file, keep the task. */
			f->err = err;
			r = err.sys_errno > 0 ? -err.sys_errno : -EIO;
			part_close(&pt);
			fill_drop_part(f);
			goto out;
		default:
			if ((r = fill_retry(f, &err)) == 0)
				continue;
			if (r > 0)
				r = fill_fail(f, &err);
			goto out;
		}
	}
	if (total != UINT64_MAX && pt.size != total) {
		client_error_set(&f->err, CLIENT_E_PROTOCOL,
				 "downloaded %llu bytes but the file has %llu",
				 (unsigned long long)pt.size, (unsigned long long)total);
		part_close(&pt);
		fill_drop_part(f);
		r = -EIO;
		goto out;
	}
	return fill_commit(f, &pt);
out:
	part_close(&pt);
	return r;
}

static int fill_main(struct fill *f)
{
	for (;;) {
		int fresh = 0, r;

		if (!f->task_id[0]) {
			if ((r = fill_apply(f)) != 0)
				return r;
			fresh = 1;
		}
		r = fill_poll(f, fresh);
		if (r == 0)
			r = f->p->ops->fetch ? fill_fetch(f) : fill_download(f);
		if (r != FILL_REAPPLY)
			return r;
		log_notice("cache: %s: export task %s is gone (%s), applying again",
			   f->e->range_str, f->task_id, client_errkind_name(f->err.kind));
		fill_forget_task(f);
		if (f->reapplied++ > 0) {
			f->drop_task = 1;
			return -client_error_to_errno(&f->err);
		}
	}
}

/* Record a failed flight in memory and on disk, with one log line. */
static void fill_record_failure(struct fill *f, int rc)
{
	struct cache *c = f->c;
	struct cache_counts *k = entry_counts(c, f->e);
	char code[PROVIDER_CODE_MAX + 8] = "";
	int eno = -rc;

	if (f->unreachable)
		eno = EIO;
	if (f->err.kind == CLIENT_OK)
		client_error_set(&f->err, CLIENT_E_LOCAL, "%s", strerror(eno));
	pthread_mutex_lock(&c->lock);
	if (!fill_alive_locked(f)) {
		pthread_mutex_unlock(&c->lock);
		return;
	}
	k->n_errors++;
	if (eno == EIO)
		k->n_err_io++;
	else if (eno == ETIMEDOUT)
		k->n_err_timeout++;
	else if (eno == ENOSPC)
		k->n_err_nospc++;
	else if (eno == EINVAL)
		k->n_err_invalid++;
	else if (eno == EAGAIN)
		k->n_err_again++;
	else
		k->n_err_other++;
	f->e->info.state = CACHE_FAILED;
	f->e->info.learned_time = cache_now_ms(c) / 1000;
	f->e->info.last_errno = eno;
	f->e->info.last_error = f->err;
	f->e->info.progress = -1;
	if (f->drop_task)
		f->e->info.task_id[0] = '\0';
	pthread_mutex_unlock(&c->lock);
	if (f->err.code[0])
		snprintf(code, sizeof(code), " code %s", f->err.code);
	log_err("cache: export %s failed: %s%s%s: %s (%s)", f->e->range_str,
		f->unreachable ? "unreachable after retries, " : "",
		client_errkind_name(f->err.kind), code, f->err.msg, strerror(eno));
	fill_persist(f);
}

/* The provider's sleeps and transfers wake when the flight must stop (interrupt.h). */
static int fill_interrupt_sleep(void *arg, long ms)
{
	return fill_sleep(arg, ms) != 0;
}

static int fill_interrupt_stopped(void *arg)
{
	return !fill_alive(arg);
}

int fill_run(struct cache *c, struct entry *e)
{
	struct fill f;
	struct client_interrupt in = {fill_interrupt_sleep, fill_interrupt_stopped, &f};
	const struct client_interrupt *outer;
	int rc;

	memset(&f, 0, sizeof(f));
	f.c = c;
	f.e = e;
	f.p = c->prov;
	f.start_ms = cache_mono_ms();
	f.deadline = f.start_ms + (int64_t)c->cfg.export_timeout_s * 1000;
	f.seed = (unsigned)cache_mono_ms() ^ (unsigned)(uintptr_t)e;
	client_error_clear(&f.err);
	pthread_mutex_lock(&c->lock);
	f.gen = e->fill_gen;
	if (!fill_alive_locked(&f)) {
		pthread_mutex_unlock(&c->lock);
		return -ECANCELED;
	}
	snprintf(f.task_id, sizeof(f.task_id), "%s", e->info.task_id);
	e->info.state = f.task_id[0] ? CACHE_APPLIED : CACHE_QUEUED;
	if (e->info.state == CACHE_QUEUED)
		e->info.progress = -1;
	pthread_mutex_unlock(&c->lock);

	outer = client_interrupt_bind(&in);
	rc = fill_main(&f);
	client_interrupt_bind(outer);
	if (rc == 0) {
		uint64_t size;
		pthread_mutex_lock(&c->lock);
		size = e->info.size;
		pthread_mutex_unlock(&c->lock);
		log_info("cache: %s: export ready: %llu bytes in %.1f s", e->range_str,
			 (unsigned long long)size, (double)(cache_mono_ms() - f.start_ms) / 1000.0);
		return rc;
	}
	if (rc == -ENODATA) {
		pthread_mutex_lock(&c->lock);
		entry_counts(c, e)->n_nodata++;
		pthread_mutex_unlock(&c->lock);
		return rc;
	}
	if (rc == -ECANCELED || !fill_alive(&f))
		return -ECANCELED;
	if (f.unreachable)
		rc = -EIO;
	fill_record_failure(&f, rc);
	return rc;
}
