#include "prefetch.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/log.h"

/* After midnight, wait this long so "yesterday" is really complete at the provider too. */
#define PREFETCH_AFTER_MIDNIGHT_S 300

struct prefetch {
	struct cache *cache;
	size_t first, ntypes; /* the cache's types first .. first + ntypes - 1 */
	int days, interval_s, open_ttl_s, window_months;
	const struct tz *zone; /* the account's; NULL = the process's */
	pthread_t thread;
	pthread_mutex_t lock; /* protects everything below */
	pthread_cond_t wake;  /* CLOCK_MONOTONIC; signalled on stop */
	int stopping;
	int paused; /* its account's file is gone: passes queue nothing */
	struct prefetch_stats st;
};

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

static void *prefetch_main(void *arg)
{
	struct prefetch *p = arg;

	for (;;) {
		prefetch_pass(p);
		long delay = prefetch_delay(p);
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += delay;
		pthread_mutex_lock(&p->lock);
		p->st.next_run = time(NULL) + delay;
		while (!p->stopping) {
			if (pthread_cond_timedwait(&p->wake, &p->lock, &ts) == ETIMEDOUT)
				break;
		}
		int stop = p->stopping;
		pthread_mutex_unlock(&p->lock);
		if (stop)
			break;
	}
	return NULL;
}

struct prefetch *prefetch_start(struct cache *cache, size_t first, size_t ntypes, int days,
				int interval_s, int open_ttl_s, int window_months,
				const struct tz *zone)
{
	struct prefetch *p;
	pthread_condattr_t ca;
	int rc;

	if (days <= 0)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
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
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->wake, &ca);
	pthread_condattr_destroy(&ca);
	rc = pthread_create(&p->thread, NULL, prefetch_main, p);
	if (rc) {
		pthread_cond_destroy(&p->wake);
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
	pthread_mutex_lock(&p->lock);
	p->stopping = 1;
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	pthread_cond_destroy(&p->wake);
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
