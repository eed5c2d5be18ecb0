/*
 * The fill engine: one flight for one entry, apply -> poll -> get_urls -> download (or the
 * provider's own fetch of a bundle) -> verify -> READY, run by a pool worker with no lock
 * held. See internal.h for the locking rules and store.h for the order in which the files
 * change. This file drives the flight (apply, poll, waits, failures); fill_steps.c moves the
 * generated file onto the disk.
 *
 * Faults: what a failed provider call means is decided in one place, fill_decide (its header
 * has the table); fill_judge acts on it. In short: CLIENT_E_TRANSIENT is retried with backoff
 * (retry_initial_ms doubling to retry_max_ms) at most retry_limit times in a row, then the
 * fill fails -EIO ("unreachable"); RATE_LIMIT waits retry_after_ms (or the backoff) without
 * counting against retry_limit but within export_timeout_s; UNAVAILABLE (closed for now) shows
 * the entry WAITING, answers readers EAGAIN and waits as long as the provider says;
 * FILE_EXPIRED/NOT_FOUND drop the task and re-apply once per flight; everything else ends the
 * flight with the provider's error kept.
 */
#include "fill.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../client/interrupt.h"
#include "../../common/clock.h"
#include "../../common/log.h"
#include "../store/part.h"

#define FILL_PENDING 3 /* fill_poll_state: not generated yet, poll again */

int fill_alive_locked(const struct fill *f)
{
	return !f->c->stopping && f->e->gen == f->gen;
}

int fill_alive(struct fill *f)
{
	int ok;

	pthread_mutex_lock(&f->c->lock);
	ok = fill_alive_locked(f);
	pthread_mutex_unlock(&f->c->lock);
	return ok;
}

/* Sleep ms, waking early (-ECANCELED) on stop or forget. */
int fill_sleep(struct fill *f, long ms)
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

void fill_local_error(struct client_error *err, const char *what, int rc)
{
	client_error_set(err, CLIENT_E_LOCAL, "%s: %s", what, strerror(-rc));
	err->sys_errno = -rc;
}

/* The entry's fields for a freshly applied task. */
static void fill_task_fields(struct entry_info *i, const struct export_task *t, int64_t now_s)
{
	i->applied_time = now_s;
	entry_str_set(&i->task_id, t->id);
	entry_str_set(&i->server_name, t->file_name);
	i->state = CACHE_APPLIED;
	i->progress = entry_progress(t->progress);
	i->finish_time = i->expires = 0;
	i->bytes_done = i->size = 0;
	i->items_done = i->items_total = 0; /* the old task's count is not ours */
}

/* The task's fields in a metadata record. */
static void meta_set_task(struct store_meta *m, const struct export_task *t, int64_t now_s)
{
	m->applied_time = now_s;
	m->state = CACHE_APPLIED;
	snprintf(m->task_id, sizeof(m->task_id), "%s", t->id);
	snprintf(m->server_name, sizeof(m->server_name), "%s", t->file_name);
	m->finish_time = m->expires = 0;
	m->size = m->total = 0;
}

/*
 * Write the entry's metadata durably; with a new task t, the entry as it is once t replaces
 * its task, which the entry itself takes only after the write: .status never shows a task id
 * that a crash could lose.
 */
static int fill_write_meta(struct fill *f, const struct export_task *t)
{
	struct store_meta m;
	int64_t now_s = cache_now_ms(f->c) / 1000; /* as_of: when this task was applied */
	int rc;

	pthread_mutex_lock(entry_io_lock(f->c, f->e));
	pthread_mutex_lock(&f->c->lock);
	if (!fill_alive_locked(f)) {
		pthread_mutex_unlock(&f->c->lock);
		pthread_mutex_unlock(entry_io_lock(f->c, f->e));
		return -ECANCELED;
	}
	entry_to_meta(f->c, f->e, &m);
	if (t)
		meta_set_task(&m, t, now_s);
	else
		f->e->access_dirty = 0;
	pthread_mutex_unlock(&f->c->lock);
	rc = store_meta_write(&f->c->store, entry_hex(f->e).s, &m, 1);
	if (rc == 0 && t) {
		pthread_mutex_lock(&f->c->lock);
		fill_task_fields(&f->e->info, t, now_s);
		steps_reset(f->c, f->e); /* a new export: its own steps */
		f->e->total = 0;
		f->e->access_dirty = 0;
		pthread_mutex_unlock(&f->c->lock);
	}
	pthread_mutex_unlock(entry_io_lock(f->c, f->e));
	if (rc)
		fill_local_error(&f->err, "cannot write metadata", rc);
	return rc;
}

int fill_persist(struct fill *f)
{
	return fill_write_meta(f, NULL);
}

int fill_take_task(struct fill *f, const struct export_task *t)
{
	int r = fill_write_meta(f, t);

	if (r == 0)
		snprintf(f->task_id, sizeof(f->task_id), "%s", t->id);
	return r;
}

void fill_drop_part(struct fill *f)
{
	pthread_mutex_lock(entry_io_lock(f->c, f->e));
	if (fill_alive(f))
		store_unlink(&f->c->store, entry_hex(f->e).s, ".part");
	pthread_mutex_unlock(entry_io_lock(f->c, f->e));
}

/*
 * The provider is closed for now (outside its service hours, or at its concurrency limit).
 * The flight stays queued: the entry shows WAITING with the time it tries again, readers get
 * EAGAIN at once (cache_open), and after ms the flight goes on where it was. Waiting does not
 * count against export_timeout_s: a window may open hours later. Only this source's queued
 * flights show WAITING meanwhile; other sources' go on, in the slot this one lends them.
 */
static int fill_wait_closed(struct fill *f, const struct client_error *err, long ms)
{
	struct cache *c = f->c;
	enum cache_state before = CACHE_QUEUED;
	int64_t until_s = (cache_now_ms(c) + ms + 999) / 1000;
	char when[32] = "?";
	time_t t = (time_t)until_s;
	struct tm tm;
	int r, lent;

	if (gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%H:%M:%S UTC", &tm);
	/* Logged before readers are told EAGAIN: by the time they see it, the line is there. */
	log_notice("cache: %s: provider closed for now (%s); export queued, trying again at %s",
		   f->range_str, err->msg, when);
	pthread_mutex_lock(&c->lock);
	if (fill_alive_locked(f)) {
		before = f->e->info.state;
		f->e->info.state = CACHE_WAITING;
		f->e->info.wait_until = until_s;
		entry_err_set(&f->e->info, err);
		f->e->info.last_errno = EAGAIN;
		if (until_s * 1000 > f->src->closed_until_ms) {
			f->src->closed_until_ms = until_s * 1000; /* its source's flights only */
			f->src->closed_err = *err;
		}
		pthread_cond_broadcast(&c->wake); /* waiters answer EAGAIN now */
	}
	lent = !f->e->slot_given_back; /* downloading: its slot is free already */
	if (lent)
		pool_lend(c, f->src); /* other sources' flights go on meanwhile */
	pthread_mutex_unlock(&c->lock);
	r = fill_sleep(f, ms);
	f->deadline += ms;
	pthread_mutex_lock(&c->lock);
	if (lent)
		pool_unlend(c, f->src, r == 0);
	if (fill_alive_locked(f) && f->e->info.state == CACHE_WAITING) {
		f->e->info.state = before == CACHE_WAITING ? CACHE_QUEUED : before;
		f->e->info.wait_until = 0;
		f->e->info.last_errno = 0;
		entry_err_set(&f->e->info, NULL);
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

int fill_judge(struct fill *f, enum fill_step step, const struct client_error *err,
	       struct part *pt)
{
	struct fill_decision d =
		fill_decide(step, err, &f->tries, f->deadline - cache_mono_ms(), &f->policy);

	f->tries = d.tries;
	switch (d.verdict) {
	case FILL_RETRY:
		/* One line per fault, so a log shows what the provider did and what we did. */
		log_notice("cache: %s: %s: %s; retrying in %ld ms%s", f->range_str,
			   client_errkind_name(err->kind), err->msg, d.wait_ms,
			   d.server_paced ? " (as the server asked)" : "");
		return fill_sleep(f, d.wait_ms);
	case FILL_WAIT_CLOSED:
		return fill_wait_closed(f, err, d.wait_ms);
	case FILL_REAPPLY_TASK:
		f->err = *err;
		return FILL_REAPPLY;
	case FILL_REFRESH_URL:
		return FILL_NEW_URL;
	case FILL_GIVE_UP:
		break;
	}
	f->err = *err;
	if (err->kind == CLIENT_OK) /* a call failed without saying why */
		client_error_set(&f->err, CLIENT_E_PROTOCOL, "provider failed without an error");
	if (d.unreachable)
		f->unreachable = 1;
	if (d.drop_part && pt) {
		part_close(pt);
		fill_drop_part(f);
	}
	return -d.eno;
}

void fill_set_state(struct fill *f, enum cache_state st)
{
	pthread_mutex_lock(&f->c->lock);
	if (fill_alive_locked(f))
		f->e->info.state = st;
	pthread_mutex_unlock(&f->c->lock);
}

int fill_apply(struct fill *f)
{
	struct cache *c = f->c;
	struct export_request req = {f->e->kind->report_type, c->cfg.language, f->e->range};
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
		if ((r = fill_judge(f, FILL_STEP_APPLY, &err, NULL)) == 0)
			continue;
		return r;
	}
	f->tries.retries = 0;
	if (!t.id[0]) {
		client_error_set(&f->err, CLIENT_E_PROTOCOL, "apply returned no task id");
		return -EIO;
	}
	f->applied_ms = cache_mono_ms();
	f->pending_seen_ms = 0;
	memset(&f->progress, 0, sizeof(f->progress)); /* a new task: its own rate */
	pthread_mutex_lock(&c->lock);
	entry_counts(c, f->e)->n_applies++;
	f->poll_turn = f->src->poll_turns++;
	pthread_mutex_unlock(&c->lock);
	log_info("cache: %s: applied for export task %s", f->range_str, t.id);
	r = fill_take_task(f, &t);
	fill_stamp(f, CACHE_STEP_APPLIED);
	return r;
}

/* Forget the task id (in memory; the next persist or apply replaces it on disk). */
static void fill_forget_task(struct fill *f)
{
	f->task_id[0] = '\0';
	pthread_mutex_lock(&f->c->lock);
	if (fill_alive_locked(f))
		entry_str_set(&f->e->info.task_id, "");
	pthread_mutex_unlock(&f->c->lock);
}

void fill_mark(const struct fill *f, const char *what)
{
	log_debug("cache: %s: +%lld ms %s", f->range_str,
		  (long long)(cache_mono_ms() - f->start_ms), what);
}

void fill_stamp(const struct fill *f, enum cache_step s)
{
	int64_t now = cache_now_ms(f->c);

	fill_mark(f, cache_step_name(s));
	pthread_mutex_lock(&f->c->lock);
	if (fill_alive_locked(f))
		steps_row(f->c, f->e)[s] = now;
	pthread_mutex_unlock(&f->c->lock);
}

static long fill_jitter(struct fill *f, long ms)
{
	long half = ms / 2;

	return half + (half > 0 ? (long)(rand_r(&f->seed) % (unsigned)(half + 1)) : 0) + ms / 4;
}

/* fill_sleep, cut short when another export of the source is found generated about as long
 * after its apply as this one has run now (poll_hint_wakes): 0 or -ECANCELED. */
static int fill_poll_nap(struct fill *f, long ms)
{
	struct cache *c = f->c;
	int64_t until = cache_mono_ms() + (ms > 0 ? ms : 0);
	unsigned seq;
	int rc = 0;

	pthread_mutex_lock(&c->lock);
	seq = f->src->poll_hint_seq;
	for (;;) {
		int64_t now = cache_mono_ms();
		struct timespec ts;
		if (!fill_alive_locked(f)) {
			rc = -ECANCELED;
			break;
		}
		if (now >= until)
			break;
		if (f->src->poll_hint_seq != seq) {
			seq = f->src->poll_hint_seq;
			if (f->applied_ms && poll_hint_wakes(&f->src->poll_hint, now - f->applied_ms))
				break;
		}
		/* A tick of 50 ms at most: stop and forget broadcast cache->wake, not poll_wake. */
		clock_mono_deadline(&ts, until - now < 50 ? until - now : 50);
		pthread_cond_timedwait(&c->poll_wake, &c->lock, &ts);
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

/* Sleep before the next poll: *delay with jitter, never past the deadline. Then *delay
 * becomes the next wait. 0 or -ECANCELED. */
static int fill_poll_sleep(struct fill *f, long *delay)
{
	struct cache *c = f->c;
	long ms = fill_jitter(f, *delay);
	int64_t left = f->deadline - cache_mono_ms();
	int r;

	if (f->applied_ms) { /* our own apply: land close to where the last export ended */
		struct poll_hint h;
		int polling;
		pthread_mutex_lock(&c->lock);
		h = f->src->poll_hint;
		polling = f->src->running;
		pthread_mutex_unlock(&c->lock);
		ms = poll_hint_wait(ms, cache_mono_ms() - f->applied_ms, &h, polling,
				    f->poll_turn);
	}
	/* The provider's own percent, where it gives one: just after the end it predicts. */
	ms = poll_progress_wait(ms, cache_mono_ms(), &f->progress);
	if (ms > left)
		ms = left > 0 ? (long)left : 0;
	if ((r = fill_poll_nap(f, ms)) != 0)
		return r;
	/* Next wait: a tenth of the time the export has taken so far, so the poll that sees it
	 * generated comes at most ~10% (plus jitter) after it was; doubling would overshoot by
	 * up to 100% (polls at 0.5, 1.5, 3.5, 7.5 s). */
	*delay = (long)((cache_mono_ms() - f->start_ms) / 10);
	if (*delay < c->cfg.poll_initial_ms)
		*delay = c->cfg.poll_initial_ms;
	if (*delay > c->cfg.poll_max_ms)
		*delay = c->cfg.poll_max_ms;
	return 0;
}

/* What the last query said, for cache_lookup and .status. */
static void fill_poll_publish(struct fill *f)
{
	pthread_mutex_lock(&f->c->lock);
	if (fill_alive_locked(f)) {
		struct entry_info *i = &f->e->info;
		i->progress = entry_progress(f->task.progress);
		if (f->task.file_name[0])
			entry_str_set(&i->server_name, f->task.file_name);
		i->finish_time = f->task.finish_time;
		i->expires = f->task.expires;
	}
	pthread_mutex_unlock(&f->c->lock);
}

/* Nothing in the range: remembered as NO_DATA, in memory and on disk. -ENODATA or -errno. */
int fill_no_data(struct fill *f)
{
	struct cache *c = f->c;
	int r;

	pthread_mutex_lock(&c->lock);
	if (fill_alive_locked(f)) {
		f->e->info.state = CACHE_NO_DATA;
		f->e->info.learned_time = cache_now_ms(c) / 1000;
		entry_str_set(&f->e->info.task_id, "");
		f->e->info.last_errno = ENODATA;
		entry_err_set(&f->e->info, NULL);
	}
	pthread_mutex_unlock(&c->lock);
	f->task_id[0] = '\0';
	r = fill_persist(f);
	log_info("cache: %s: no data in that range", f->range_str);
	return r ? r : -ENODATA;
}

/* The flight's own export is generated: its source's next exports poll around this time. */
static void fill_learn_poll_hint(struct fill *f)
{
	if (!f->applied_ms)
		return; /* resumed or adopted: its apply time is not ours to know */
	struct poll_hint h = poll_hint_learn(f->pending_seen_ms, cache_mono_ms() - f->applied_ms);
	log_debug("cache: %s: generated %lld..%lld ms after the apply, %u polls", f->range_str,
		  (long long)f->pending_seen_ms, (long long)(cache_mono_ms() - f->applied_ms),
		  f->polls);
	pthread_mutex_lock(&f->c->lock);
	if (h.hi_ms > 0) {
		f->src->poll_hint = h;
		f->src->poll_hint_seq++;
		/* The rest of its wave looks now. Its own condition variable: waking every open
		 * waiting on cache->wake for it made a reader of a refreshed file race it. */
		pthread_cond_broadcast(&f->c->poll_wake);
	}
	pthread_mutex_unlock(&f->c->lock);
}

/* Act on the task's state from the last query: 0 = generated, FILL_PENDING = poll again,
 * else -errno. *last: the state last seen pending, so each change reaches the .meta once. */
static int fill_poll_state(struct fill *f, enum cache_state *last)
{
	enum cache_state st;
	int r;

	switch (f->task.state) {
	case EXPORT_GENERATED:
		fill_learn_poll_hint(f);
		fill_fleet_state(f, EXPORT_GENERATED);
		return 0;
	case EXPORT_FAILED:
		client_error_set(&f->err, CLIENT_E_BUSINESS, "export failed on the server: %s",
				 f->task.msg[0] ? f->task.msg : "generation failed");
		f->drop_task = 1;
		return -EIO;
	case EXPORT_NO_DATA:
		fill_fleet_state(f, EXPORT_NO_DATA); /* while the task id is still known */
		return fill_no_data(f);
	case EXPORT_PENDING:
	case EXPORT_GENERATING:
		if (f->applied_ms)
			f->pending_seen_ms = cache_mono_ms() - f->applied_ms;
		st = f->task.state == EXPORT_PENDING ? CACHE_APPLIED : CACHE_GENERATING;
		fill_set_state(f, st);
		if (st != *last && *last != CACHE_ABSENT && (r = fill_persist(f)) != 0)
			return r;
		if (st != *last)
			fill_fleet_state(f, f->task.state);
		*last = st;
		return FILL_PENDING;
	}
	client_error_set(&f->err, CLIENT_E_PROTOCOL, "unknown export state %d",
			 (int)f->task.state);
	return -EIO;
}

/* Poll until GENERATED: 0, FILL_REAPPLY, or -errno (-ENODATA, -EIO failed, -ETIMEDOUT...).
 * fresh: the task was just applied for, so wait before the first query. */
static int fill_poll(struct fill *f, int fresh)
{
	long delay = f->c->cfg.poll_initial_ms;
	enum cache_state last = CACHE_ABSENT;
	struct client_error err;
	int r;

	for (;;) {
		if (fresh && (r = fill_poll_sleep(f, &delay)) != 0)
			return r;
		fresh = 1;
		memset(&f->task, 0, sizeof(f->task));
		client_error_clear(&err);
		f->polls++;
		if (f->p->ops->query(f->p, f->task_id, &f->task, &err) != 0) {
			if ((r = fill_judge(f, FILL_STEP_QUERY, &err, NULL)) != 0)
				return r;
			fresh = 0; /* the fault was waited out already */
			continue;
		}
		f->tries.retries = 0;
		if (f->task.state == EXPORT_GENERATING)
			poll_progress_note(&f->progress, cache_mono_ms(), f->task.progress);
		if (f->task.state == EXPORT_GENERATED)
			fill_stamp(f, CACHE_STEP_GENERATED);
		else
			fill_mark(f, export_state_name(f->task.state));
		fill_poll_publish(f);
		if ((r = fill_poll_state(f, &last)) != FILL_PENDING)
			return r;
		if (cache_mono_ms() >= f->deadline) {
			client_error_set(&f->err, CLIENT_E_TRANSIENT,
					 "export not generated after %d s (server says: %s)",
					 f->c->cfg.export_timeout_s, export_state_name(f->task.state));
			return -ETIMEDOUT;
		}
	}
}

/* Give the export slot back once the provider has generated the file (take 0), or take it
 * again before applying anew (take 1): max_exports bounds the exports at the provider, not
 * the downloads that follow them (pool_give_back). */
static void fill_slot(struct fill *f, int take)
{
	pthread_mutex_lock(&f->c->lock);
	if (take)
		pool_take_back(f->c, f->e);
	else
		pool_give_back(f->c, f->e);
	pthread_mutex_unlock(&f->c->lock);
}

static int fill_main(struct fill *f)
{
	int r0 = fill_from_store(f);

	if (r0 != FILL_STORE_MISS)
		return r0;
	for (;;) {
		int fresh = 0, r;

		if ((r = fill_fleet_task(f, &fresh)) != 0)
			return r == FILL_FROM_STORE ? 0 : r;
		r = fill_poll(f, fresh);
		if (r == 0) {
			fill_slot(f, 0);
			r = fill_follow_from_store(f);
			if (r == FILL_STORE_MISS)
				r = fill_transfer(f);
		}
		if (r != FILL_REAPPLY)
			return r;
		log_notice("cache: %s: export task %s is gone (%s), applying again",
			   f->range_str, f->task_id, client_errkind_name(f->err.kind));
		fill_fleet_task_gone(f);
		fill_forget_task(f);
		fill_slot(f, 1);
		if (f->reapplied++ > 0) {
			f->drop_task = 1;
			return -client_error_to_errno(&f->err);
		}
	}
}

/* A refresh failed: the entry is its old file again, served as stale (its last_error says
 * why) for open_ttl before an open tries again; the old .data was never touched. The .meta
 * written next says READY, so a restart serves it too. cache->lock held. */
static void fill_keep_old(struct fill *f)
{
	struct entry *e = f->e;

	entry_restore_old(e);
	e->stale = 1;
	e->stale_until = cache_now_ms(f->c) / 1000 + f->c->cfg.open_ttl_s;
	log_warn("cache: %s: exporting it again failed; serving the file exported before "
		 "(stale) and trying again in %d s", f->range_str, f->c->cfg.open_ttl_s);
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
	if (f->err.kind == CLIENT_E_AUTH)
		cred_learn(c, f->src, CACHE_CRED_REFUSED);
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
	int stale = f->e->old != NULL;
	if (stale)
		fill_keep_old(f);
	else
		f->e->info.state = CACHE_FAILED;
	f->e->info.learned_time = cache_now_ms(c) / 1000;
	f->e->info.last_errno = eno;
	entry_err_set(&f->e->info, &f->err);
	f->e->info.progress = -1;
	if (f->drop_task && !stale)
		entry_str_set(&f->e->info.task_id, "");
	pthread_mutex_unlock(&c->lock);
	if (f->err.code[0])
		snprintf(code, sizeof(code), " code %s", f->err.code);
	log_err("cache: export %s failed: %s%s%s: %s (%s)", f->range_str,
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
	struct cache_key key;
	struct client_interrupt in = {fill_interrupt_sleep, fill_interrupt_stopped, &f};
	const struct client_interrupt *outer;
	int rc;

	memset(&f, 0, sizeof(f));
	f.c = c;
	f.e = e;
	f.src = e->kind->src;
	f.p = f.src->prov;
	f.start_ms = cache_mono_ms();
	f.deadline = f.start_ms + (int64_t)c->cfg.export_timeout_s * 1000;
	f.seed = (unsigned)cache_mono_ms() ^ (unsigned)(uintptr_t)e;
	f.policy.retry_limit = c->cfg.retry_limit;
	f.policy.retry_initial_ms = c->cfg.retry_initial_ms;
	f.policy.retry_max_ms = c->cfg.retry_max_ms;
	f.slot = -1;
	/* Cannot fail: the range was checked when the entry was made, the fields when its
	 * source was added. */
	(void)kind_key(c, e->kind, &e->range, &key);
	key_format(&key, f.key_str);
	date_range_format(&e->range, f.range_str);
	client_error_clear(&f.err);
	pthread_mutex_lock(&c->lock);
	f.gen = e->fill_gen;
	if (!fill_alive_locked(&f)) {
		pthread_mutex_unlock(&c->lock);
		return -ECANCELED;
	}
	snprintf(f.task_id, sizeof(f.task_id), "%s", e->info.task_id);
	/* A refresh: the fleet's record may still name the task of the file being replaced;
	 * following it would fetch the same old orders again. */
	if (e->old)
		snprintf(f.dead_task, sizeof(f.dead_task), "%s", e->old->task_id);
	e->info.state = f.task_id[0] ? CACHE_APPLIED : CACHE_QUEUED;
	e->source = ENTRY_SOURCE_NONE; /* this flight's file: not known yet */
	e->in_store = 0;
	if (e->info.state == CACHE_QUEUED)
		e->info.progress = -1;
	pthread_mutex_unlock(&c->lock);

	outer = client_interrupt_bind(&in);
	rc = fill_main(&f);
	fill_fleet_done(&f, rc);
	client_interrupt_bind(outer);
	if (rc == 0) {
		uint64_t size;
		pthread_mutex_lock(&c->lock);
		/* Before its readers look: their gate. A file from the shared store says nothing
		 * of this host's credentials (the gate asks the provider instead): a made-up
		 * account naming another's merchant never reads that merchant's files so. */
		if (!f.from_store)
			cred_learn(c, f.src, CACHE_CRED_ACCEPTED);
		size = e->info.size;
		if (!f.from_store)
			e->source = ENTRY_SOURCE_PROVIDER;
		pthread_mutex_unlock(&c->lock);
		if (!f.from_store || f.keep_longer)
			fill_to_store(&f);
		log_info("cache: %s: export ready: %llu bytes in %.1f s", f.range_str,
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
