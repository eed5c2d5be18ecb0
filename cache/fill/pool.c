/*
 * The fill pool: worker threads taking flights from one FIFO queue, at most max_exports
 * flights at work at once. A worker takes the oldest flight whose source runs fewer than its
 * own max_exports; a flight of a source at its cap stays queued (others pass it) until one of
 * that source's flights ends.
 *
 * A flight that waits for its provider to open (service hours, capacity) keeps its worker, but
 * lends its slot to the other sources: their flights start as if it were not running (a
 * thread more is started when needed), while it still counts for its own source, so one
 * merchant's closed hours never hold up another's exports and a single source runs exactly as
 * with max_exports plain workers. When the wait ends, the flight takes a slot back before it
 * goes on, waiting for one if the other sources filled them meanwhile.
 *
 * One pool serves every source (every account of an accounts_dir mount). Among the flights
 * that may start, those of the source running the fewest go first, so a merchant with a long
 * queue (or a max_exports as large as the pool) takes a turn as a slot frees rather than
 * every slot. Threads come and go with the work: none at start, one more when a flight may
 * start and no worker is idle (up to max_exports plus the lent and given-back slots), and a
 * worker idle for worker_idle_ms exits, so a mount of 1,000 merchants that each exported once
 * keeps no fill thread.
 */
#include "pool.h"
#include "../entry/entry.h"

#include <errno.h>
#include <stdlib.h>

#include "../../common/clock.h"
#include "../../common/log.h"

void pool_enqueue(struct cache *c, struct entry *e)
{
	e->filling = 1;
	e->fill_gen = e->gen;
	e->before_queue = e->info.state;
	e->prefetched = 0;
	e->info.state = CACHE_QUEUED;
	e->qnext = NULL;
	if (c->queue_tail)
		c->queue_tail->qnext = e;
	else
		c->queue_head = e;
	c->queue_tail = e;
	entry_counts(c, e)->n_queued++;
	pthread_cond_signal(&c->work);
	pool_grow(c);
}

void pool_resume(struct cache *c, struct entry *e)
{
	/* A gated source's task is resumed by its first reader, once the gate let it through:
	 * credentials nobody checked must not poll another merchant's task and mark it failed. */
	if (e->kind && !cred_accepted(e->kind->src))
		return;
	if (e->kind && !e->filling && !c->stopping &&
	    (e->info.state == CACHE_APPLIED || e->info.state == CACHE_GENERATING ||
	     e->info.state == CACHE_DOWNLOADING)) {
		log_info("cache: %s: resuming export task %s", entry_name(e).s, e->info.task_id);
		e->queued_by = CACHE_WHO_NONE;
		pool_enqueue(c, e);
	}
}

/* Whether a flight of s may start now: below its source's cap, and a slot free once the
 * slots lent by other sources' waiting flights are counted free. */
static int pool_source_free(const struct cache *c, const struct cache_source *s)
{
	int busy = c->running - (c->closed_waiting - s->closed_waiting);

	return (s->max_exports == 0 || s->running < s->max_exports) && busy < c->cfg.max_exports;
}

/* Unlink e from the queue (prev: the one before it, or NULL at the head). */
static void pool_unlink(struct cache *c, struct entry *prev, struct entry *e)
{
	if (prev)
		prev->qnext = e->qnext;
	else
		c->queue_head = e->qnext;
	if (c->queue_tail == e)
		c->queue_tail = prev;
	e->qnext = NULL;
	entry_counts(c, e)->n_queued--;
}

int pool_drop_unwanted(struct cache *c, struct entry *e)
{
	struct entry *prev = NULL, *q = c->queue_head;

	if (!e->filling || e->waiters > 0 || e->prefetched || e->info.task_id[0])
		return 0;
	while (q && q != e) {
		prev = q;
		q = q->qnext;
	}
	if (!q)
		return 0; /* started already: it finishes, and the next open finds its file */
	pool_unlink(c, prev, e);
	e->info.state = e->before_queue;
	e->filling = 0;
	e->result = -ECANCELED;
	e->flight++;
	pthread_cond_broadcast(&c->wake);
	log_info("cache: %s: dropped from the queue before its export: nobody waits for it",
		 entry_name(e).s);
	return 1;
}

/* Unlink the oldest queued flight whose source is below its cap; NULL when none is. */
/* Whether row w is a better one to reuse than spare (NULL: none yet): an unused row first,
 * else the requester served longest ago among those running nothing. */
static int pool_who_spare_better(const struct pool_who *w, const struct pool_who *spare)
{
	if (!w->used)
		return !spare || spare->used;
	if (w->n > 0)
		return 0; /* a requester with flights running is never forgotten */
	return !spare || (spare->used && w->last_start < spare->last_start);
}

/* who's row in the table; made if missing (in an unused row, else over the least recently
 * served one running nothing) when make; NULL when absent or the table is all running. */
static struct pool_who *pool_who_row(struct cache *c, long who, int make)
{
	struct pool_who *spare = NULL;

	for (int i = 0; i < POOL_WHO_MAX; i++) {
		struct pool_who *w = &c->who_running[i];
		if (w->used && w->who == who)
			return w;
		if (pool_who_spare_better(w, spare))
			spare = w;
	}
	if (!make || !spare)
		return NULL;
	*spare = (struct pool_who){who, 1, 0, 0};
	return spare;
}

/* Whether a queued flight may start now (some source below its cap and a slot free). */
static int pool_startable(const struct cache *c)
{
	for (const struct entry *e = c->queue_head; e; e = e->qnext)
		if (pool_source_free(c, e->kind->src))
			return 1;
	return 0;
}

/*
 * Unlink the queued flight to start now: among those whose source is below its cap, one of
 * the source running the fewest (fair turns between merchants: one merchant's queue keeps
 * another's export waiting for one slot at most); among those, the oldest of the requester
 * with the fewest flights running, and among requesters running as few, the one served
 * longest ago (fair turns: one user's hundred queued ranges keep another user's range
 * waiting for one slot at most). NULL when none may start.
 */
static struct entry *pool_pop(struct cache *c)
{
	struct entry *prev = NULL, *best = NULL, *best_prev = NULL;
	int best_n = 0, best_src = 0;
	uint64_t best_last = 0;

	for (struct entry *e = c->queue_head; e; prev = e, e = e->qnext) {
		if (!pool_source_free(c, e->kind->src))
			continue;
		struct pool_who *w = pool_who_row(c, e->queued_by, 0);
		int src = e->kind->src->running;
		int n = w ? w->n : 0;
		uint64_t last = w ? w->last_start : 0;
		if (!best || src < best_src ||
		    (src == best_src && (n < best_n || (n == best_n && last < best_last)))) {
			best = e;
			best_prev = prev;
			best_src = src;
			best_n = n;
			best_last = last;
		}
	}
	if (!best)
		return NULL;
	pool_unlink(c, best_prev, best);
	best->kind->src->running++;
	c->running++;
	best->running_who = best->queued_by;
	struct pool_who *w = pool_who_row(c, best->running_who, 1);
	if (w) {
		w->n++;
		w->last_start = ++c->start_seq;
	}
	return best;
}

const double cache_duration_bounds[CACHE_DURATION_NBOUNDS] = {1,  5,   15,  30,  60,
							     120, 300, 600, 1800, 3600};

/* Count how a flight ended (cache->lock held). */
static void pool_count_outcome(struct cache_counts *k, int rc, double seconds)
{
	if (rc == 0) {
		k->n_ready++;
		k->duration_sum_s += seconds;
		for (int i = 0; i < CACHE_DURATION_NBOUNDS; i++)
			if (seconds <= cache_duration_bounds[i])
				k->duration_le[i]++;
	} else if (rc != -ENODATA && rc != -ECANCELED) {
		k->n_failed++;
	}
}

/* The calling worker ends (idle too long): its handle moves to c->exited, joined later.
 * cache->lock held, not stopping (pool_join joins the workers then). */
static void pool_exit(struct cache *c)
{
	pthread_t self = pthread_self();

	for (int i = 0; i < c->nworkers; i++)
		if (pthread_equal(c->workers[i], self)) {
			c->workers[i] = c->workers[--c->nworkers];
			c->exited[c->nexited++] = self;
			return;
		}
}

static void *pool_worker(void *arg)
{
	struct cache *c = arg;

	pthread_setname_np(pthread_self(), "fill"); /* ps, gdb and the tests count them */
	pthread_mutex_lock(&c->lock);
	for (;;) {
		struct entry *e = NULL;
		int rc;
		int64_t idle_until = cache_mono_ms() + c->cfg.worker_idle_ms;

		/* Woken when a flight is queued or a source's running count drops. */
		c->idle++;
		while (!c->stopping && !(e = pool_pop(c))) {
			int64_t left = idle_until - cache_mono_ms();
			if (left <= 0)
				break;
			struct timespec ts;
			clock_mono_deadline(&ts, left);
			pthread_cond_timedwait(&c->work, &c->lock, &ts);
		}
		c->idle--;
		if (c->stopping)
			break;
		if (!e) {
			pool_exit(c);
			break;
		}
		pool_grow(c); /* more may start than idle workers can take */
		entry_counts(c, e)->n_running++;
		pthread_mutex_unlock(&c->lock);

		int64_t start = cache_mono_ms();
		rc = c->pool_run(c, e);

		pthread_mutex_lock(&c->lock);
		pool_count_outcome(entry_counts(c, e), rc,
				   (double)(cache_mono_ms() - start) / 1000.0);
		entry_counts(c, e)->n_running--;
		struct pool_who *who = pool_who_row(c, e->running_who, 0);
		if (who && who->n > 0)
			who->n--;
		if (e->slot_given_back) {
			e->slot_given_back = 0;
			c->downloading--;
		} else {
			e->kind->src->running--;
			c->running--;
		}
		if (c->queue_head)
			pthread_cond_signal(&c->work); /* a flight held back may start */
		e->filling = 0;
		entry_drop_old(e); /* replaced, served again as stale, or gone with the entry */
		e->result = rc;
		e->flight++;
		pthread_cond_broadcast(&c->wake);
		if (rc == 0 && c->cfg.max_size > 0 && !c->stopping) {
			pthread_mutex_unlock(&c->lock);
			evict_run(c);
			pthread_mutex_lock(&c->lock);
		}
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* One more worker thread (cache->lock held), after joining those that ended. 0 or -errno. */
static int pool_add_worker(struct cache *c)
{
	int rc;

	/* An exited worker pushed its handle and dropped the lock: it only returns now, so
	 * joining it under the lock cannot wait on the lock. */
	while (c->nexited > 0)
		pthread_join(c->exited[--c->nexited], NULL);
	if (c->nworkers == c->workers_cap) {
		int cap = c->workers_cap ? c->workers_cap * 2 : c->cfg.max_exports;
		pthread_t *v = realloc(c->workers, (size_t)cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		c->workers = v;
		pthread_t *x = realloc(c->exited, (size_t)cap * sizeof(*x));
		if (!x)
			return -ENOMEM; /* workers grew alone: harmless, the cap stays */
		c->exited = x;
		c->workers_cap = cap;
	}
	rc = pthread_create(&c->workers[c->nworkers], NULL, pool_worker, c);
	if (rc != 0) {
		log_err("cache: cannot start fill worker: %d", rc);
		return -rc;
	}
	c->nworkers++;
	return 0;
}

void pool_grow(struct cache *c)
{
	if (c->stopping || c->idle > 0 ||
	    c->nworkers >= c->cfg.max_exports + c->closed_waiting + c->downloading ||
	    !pool_startable(c))
		return;
	pool_add_worker(c);
}

int pool_start(struct cache *c, pool_run_fn *run)
{
	c->pool_run = run;
	return 0;
}

void pool_lend(struct cache *c, struct cache_source *s)
{
	c->closed_waiting++;
	s->closed_waiting++;
	/* A thread for a lent slot when a flight may take it: the waiting flights keep theirs. */
	pool_grow(c);
	if (c->queue_head)
		pthread_cond_broadcast(&c->work);
}

void pool_unlend(struct cache *c, struct cache_source *s, int take)
{
	while (take && !c->stopping && c->running - c->closed_waiting >= c->cfg.max_exports) {
		struct timespec ts;
		clock_mono_deadline(&ts, 100);
		pthread_cond_timedwait(&c->wake, &c->lock, &ts);
	}
	c->closed_waiting--;
	s->closed_waiting--;
}

void pool_give_back(struct cache *c, struct entry *e)
{
	if (e->slot_given_back || c->stopping || !e->kind->src->prov->shared_tasks ||
	    c->downloading >= c->cfg.max_exports)
		return;
	e->slot_given_back = 1;
	c->downloading++;
	e->kind->src->running--;
	c->running--;
	/* This flight keeps its thread: one more for the slot it freed, when one may start. */
	pool_grow(c);
	if (c->queue_head)
		pthread_cond_signal(&c->work);
}

void pool_take_back(struct cache *c, struct entry *e)
{
	if (!e->slot_given_back)
		return;
	while (!c->stopping && !pool_source_free(c, e->kind->src)) {
		struct timespec ts;
		clock_mono_deadline(&ts, 100);
		pthread_cond_timedwait(&c->wake, &c->lock, &ts);
	}
	e->slot_given_back = 0;
	c->downloading--;
	e->kind->src->running++;
	c->running++;
}

void pool_join(struct cache *c)
{
	/* Stopping is set: no worker moves itself to exited and none is added any more. */
	pthread_mutex_lock(&c->lock);
	pthread_mutex_unlock(&c->lock);
	for (int i = 0; i < c->nworkers; i++)
		pthread_join(c->workers[i], NULL);
	for (int i = 0; i < c->nexited; i++)
		pthread_join(c->exited[i], NULL);
	free(c->workers);
	free(c->exited);
	c->workers = c->exited = NULL;
	c->nworkers = c->nexited = c->workers_cap = 0;
}
