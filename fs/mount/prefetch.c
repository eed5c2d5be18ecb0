#include "prefetch.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../common/clock.h"
#include "../../common/log.h"

/* After midnight, wait this long so "yesterday" is really complete at the provider too. */
#define PREFETCH_AFTER_MIDNIGHT_S 300

struct prefetch {
	struct prefetcher *sched;
	struct cache *cache;
	size_t first, ntypes; /* the cache's types first .. first + ntypes - 1 */
	int days, interval_s, open_ttl_s, window_months;
	const struct tz *zone; /* the account's; NULL = the process's */
	/* sched->lock: */
	int64_t due_ms;	       /* monotonic: its next pass */
	size_t slot;	       /* its index in sched->heap while scheduled */
	int scheduled;	       /* in the heap (not while its pass runs, nor once stopping) */
	int in_pass;	       /* the thread runs its pass now (prefetch_stop waits) */
	int stopping;
	pthread_mutex_t lock;  /* protects paused and st (never held with sched->lock) */
	int paused; /* its account's file is gone: passes queue nothing */
	struct prefetch_stats st;
};

/* The heap of every account's next pass, and the one thread that runs them. */
struct prefetcher {
	pthread_mutex_t lock;  /* everything below, and the prefetches' sched->lock fields */
	pthread_cond_t wake;   /* CLOCK_MONOTONIC: an earlier deadline, a pass ended, or stop */
	struct prefetch **heap; /* a binary min-heap by due_ms */
	size_t n, cap;
	pthread_t thread;
	int started, stopping;
};

static void heap_set(struct prefetcher *s, size_t i, struct prefetch *p)
{
	s->heap[i] = p;
	p->slot = i;
}

static void heap_up(struct prefetcher *s, size_t i)
{
	struct prefetch *p = s->heap[i];
	while (i > 0 && s->heap[(i - 1) / 2]->due_ms > p->due_ms) {
		heap_set(s, i, s->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_set(s, i, p);
}

static void heap_down(struct prefetcher *s, size_t i)
{
	struct prefetch *p = s->heap[i];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= s->n)
			break;
		if (c + 1 < s->n && s->heap[c + 1]->due_ms < s->heap[c]->due_ms)
			c++;
		if (s->heap[c]->due_ms >= p->due_ms)
			break;
		heap_set(s, i, s->heap[c]);
		i = c;
	}
	heap_set(s, i, p);
}

/* Schedule p (s->lock held). 0 or -ENOMEM. */
static int heap_push(struct prefetcher *s, struct prefetch *p)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct prefetch **v = realloc(s->heap, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		s->heap = v;
		s->cap = cap;
	}
	heap_set(s, s->n++, p);
	heap_up(s, s->n - 1);
	p->scheduled = 1;
	return 0;
}

/* Unschedule p (s->lock held, p scheduled). */
static void heap_remove(struct prefetcher *s, struct prefetch *p)
{
	size_t i = p->slot;

	p->scheduled = 0;
	if (i == --s->n)
		return;
	struct prefetch *last = s->heap[s->n];
	heap_set(s, i, last);
	heap_up(s, i);
	heap_down(s, last->slot);
}

static struct date zone_date(const struct prefetch *p, time_t t)
{
	return p->zone ? tz_date(p->zone, t) : date_from_time(t);
}

/* Queue exports for today (a refresh when its file is past open_ttl) and the last p->days
 * complete days. No lock held. */
static void prefetch_pass(struct prefetch *p)
{
	struct date today = zone_date(p, time(NULL));
	uint64_t started = 0;

	pthread_mutex_lock(&p->lock);
	int paused = p->paused;
	pthread_mutex_unlock(&p->lock);
	if (paused)
		return;

	for (int i = 0; i <= p->days; i++) {
		struct date d = date_add_days(&today, -i);
		struct date_range r = {d, d};
		char rs[DATE_RANGE_STR_LEN];
		const char *why;
		if (date_range_check(&r, &today, 1, p->window_months, &why))
			break; /* older days are outside the window too */
		date_range_format(&r, rs);
		for (size_t k = 0; k < p->ntypes; k++) {
			int rc = cache_prefetch(p->cache, p->first + k, &r);
			if (rc > 0) {
				started++;
				log_info("prefetch: %s: export queued", rs);
			} else if (rc < 0) {
				log_warn("prefetch: %s: %s", rs, strerror(-rc));
			}
		}
	}
	pthread_mutex_lock(&p->lock);
	p->st.runs++;
	p->st.started += started;
	p->st.last_run = time(NULL);
	pthread_mutex_unlock(&p->lock);
}

/* Seconds from now to the next pass. */
static long prefetch_delay(const struct prefetch *p)
{
	if (p->interval_s > 0)
		return p->interval_s;
	time_t now = time(NULL);
	struct date today = zone_date(p, now);
	struct date tomorrow = date_add_days(&today, 1);
	int64_t midnight = p->zone ? tz_day_start(p->zone, &tomorrow) : date_start_time(&tomorrow);
	long d = (long)(midnight - now) + PREFETCH_AFTER_MIDNIGHT_S;
	if (p->open_ttl_s > 0 && d > p->open_ttl_s)
		d = p->open_ttl_s; /* today's file is past its freshness by then */
	return d > 0 ? d : 1;
}

/* The mount's thread: the earliest due pass, run without s->lock, then its next deadline. */
static void *prefetcher_main(void *arg)
{
	struct prefetcher *s = arg;

	pthread_setname_np(pthread_self(), "prefetch");
	pthread_mutex_lock(&s->lock);
	while (!s->stopping) {
		if (s->n == 0) {
			pthread_cond_wait(&s->wake, &s->lock);
			continue;
		}
		struct prefetch *p = s->heap[0];
		int64_t left = p->due_ms - clock_mono_ms();
		if (left > 0) {
			struct timespec ts;
			clock_mono_deadline(&ts, left);
			pthread_cond_timedwait(&s->wake, &s->lock, &ts);
			continue;
		}
		heap_remove(s, p);
		p->in_pass = 1;
		pthread_mutex_unlock(&s->lock);

		prefetch_pass(p);
		long delay = prefetch_delay(p);
		pthread_mutex_lock(&p->lock);
		p->st.next_run = time(NULL) + delay;
		pthread_mutex_unlock(&p->lock);

		pthread_mutex_lock(&s->lock);
		p->in_pass = 0;
		p->due_ms = clock_mono_ms() + (int64_t)delay * 1000;
		/* Stopping: prefetch_stop waits for in_pass to drop. Out of memory cannot happen:
		 * the heap held p a moment ago and never shrinks. */
		if (p->stopping || heap_push(s, p) != 0)
			pthread_cond_broadcast(&s->wake);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

struct prefetcher *prefetcher_new(void)
{
	struct prefetcher *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	pthread_mutex_init(&s->lock, NULL);
	clock_mono_cond_init(&s->wake);
	return s;
}

void prefetcher_free(struct prefetcher *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = 1;
	pthread_cond_broadcast(&s->wake);
	pthread_mutex_unlock(&s->lock);
	if (s->started)
		pthread_join(s->thread, NULL);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	free(s->heap);
	free(s);
}

struct prefetch *prefetch_start(struct prefetcher *s, struct cache *cache, size_t first,
				size_t ntypes, int days, int interval_s, int open_ttl_s,
				int window_months, const struct tz *zone)
{
	struct prefetch *p;
	int rc = 0;

	if (days <= 0)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->sched = s;
	p->cache = cache;
	p->first = first;
	p->ntypes = ntypes;
	p->days = days;
	p->interval_s = interval_s;
	p->open_ttl_s = open_ttl_s;
	p->window_months = window_months;
	p->zone = zone;
	p->st.days = days;
	pthread_mutex_init(&p->lock, NULL);
	pthread_mutex_lock(&s->lock);
	p->due_ms = clock_mono_ms(); /* the first pass at once */
	if (!s->started) {
		rc = pthread_create(&s->thread, NULL, prefetcher_main, s);
		s->started = rc == 0;
	}
	if (rc == 0 && (rc = -heap_push(s, p)) == 0)
		pthread_cond_broadcast(&s->wake);
	pthread_mutex_unlock(&s->lock);
	if (rc) {
		pthread_mutex_destroy(&p->lock);
		free(p);
		errno = rc;
		return NULL;
	}
	log_info("prefetch: the last %d day(s), %s", days,
		 interval_s > 0 ? "on an interval" : "at start and after each midnight");
	return p;
}

void prefetch_stop(struct prefetch *p)
{
	if (!p)
		return;
	struct prefetcher *s = p->sched;
	pthread_mutex_lock(&s->lock);
	p->stopping = 1;
	if (p->scheduled)
		heap_remove(s, p);
	while (p->in_pass)
		pthread_cond_wait(&s->wake, &s->lock);
	pthread_mutex_unlock(&s->lock);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

void prefetch_pause(struct prefetch *p, int paused)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->paused = paused;
	pthread_mutex_unlock(&p->lock);
}

void prefetch_get_stats(struct prefetch *p, struct prefetch_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	*out = p->st;
	pthread_mutex_unlock(&p->lock);
}
