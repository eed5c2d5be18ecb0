/*
 * One flight's own acts, shared by its driver (../fill_run.c), its transfer steps
 * (fill_steps.c), the fleet's part (../fleet/fill_fleet.c) and the shared store's
 * (../shared/shared.c): whether it is
 * still alive, sleeping, the entry's state and .meta, applying for or taking a task, no data,
 * the step stamps, and what a failed provider call means for it (fill_judge). None of these
 * is called with a lock held; none calls back up into those files.
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
#include <string.h>
#include <time.h>

#include "../../common/clock.h"
#include "../../common/log.h"
#include "../store/part.h"

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
