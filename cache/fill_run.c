/*
 * The fill engine's driver: one flight for one entry, run by a pool worker (fill_run, given
 * to the pool by cache_new) with no lock held: the shared store first (shared/), then a task
 * (the fleet's claim, fleet/, or an apply), poll until generated, give the export slot back,
 * the holder's file from the store or the transfer (fill/fill_steps.c), and the outcome
 * (READY, no data, or the failure recorded). See internal.h for the locking rules and
 * store/store.h for the order in which the files change. The flight's own acts (alive,
 * sleep, persist, apply, judge a fault) are in fill/flight.c, below this file and below the
 * fleet and store parts that use them.
 */
#include "fill_run.h"
#include "fill/fill.h"
#include "fleet/fleet.h"
#include "shared/shared.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../client/interrupt.h"
#include "../common/clock.h"
#include "../common/log.h"

#define FILL_PENDING 3 /* fill_poll_state: not generated yet, poll again */

/* Forget the task id (in memory; the next persist or apply replaces it on disk). */
static void fill_forget_task(struct fill *f)
{
	f->task_id[0] = '\0';
	pthread_mutex_lock(&f->c->lock);
	if (fill_alive_locked(f))
		entry_str_set(&f->e->info.task_id, "");
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
	f.check_file = fill_fleet_check;
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
