/*
 * The fleet's request cap: max_requests_per_s holds for the sum of every host's requests to
 * the provider account, so each host takes cap / live members (members are lease-bound keys:
 * a host that dies drops out within its TTL). Re-counted when the fleet's watch reports a
 * member joined or left (or the stream went live anew: the mark changes), and only then, so
 * an idle host makes its lease keepalives and nothing else; while the watch is down, every
 * RECOUNT_MS while the source has flights running, else every RECOUNT_IDLE_TTLS lease TTLs.
 * While etcd cannot be counted, the last share stays (and the count is tried again on the
 * next round). One thread serves every source with a cap (each its own fleet, cap and
 * provider).
 */
#include "fleet.h"
#include "../entry/entry.h"

#include <errno.h>
#include <string.h>

#include "../../client/fleet/fleet.h"
#include "../../common/clock.h"
#include "../../common/log.h"

#define RECOUNT_MS 1000
#define RECOUNT_IDLE_TTLS 3

/* Whether s takes a share of a fleet's cap. */
static int fleet_rate_wanted(const struct cache_source *s)
{
	return s->fleet && s->fleet_rate_cap > 0 && s->prov->ops->set_request_rate;
}

/* Count s's fleet members and give its provider its share. 0, or -1 when etcd could not
 * count them (the share stays). No locks held. */
static int fleet_rate_once(struct cache *c, struct cache_source *s)
{
	struct client_error err;
	int64_t members = 0;
	double rate;

	if (fleet_members(s->fleet, &members, &err) != 0 || members < 1)
		return -1;
	rate = s->fleet_rate_cap / (double)members;
	pthread_mutex_lock(&c->lock);
	if (rate != s->fleet_rate)
		log_debug("fleet: %lld members: this host takes %.3g requests/s",
			  (long long)members, rate);
	s->fleet_rate = rate;
	pthread_mutex_unlock(&c->lock);
	s->prov->ops->set_request_rate(s->prov, rate);
	return 0;
}

/* Re-count every source's fleet (sources added meanwhile too). cache->lock held, dropped
 * meanwhile. */
static void fleet_rate_all(struct cache *c)
{
	for (size_t i = 0; i < c->nsources && !c->stopping; i++) {
		struct cache_source *s = c->sources[i]; /* never moves; the array may */
		int64_t now = cache_mono_ms();
		uint64_t mark;
		if (!fleet_rate_wanted(s))
			continue;
		mark = fleet_watch_members_mark(s->fleet);
		/* A live watch misses no event (a resumed stream, or a new epoch that changes
		 * the mark): nothing to count while the mark holds. */
		if (mark ? mark == s->fleet_members_mark
			 : now < s->fleet_recount_idle_ms && s->running == 0)
			continue;
		s->fleet_members_mark = mark;
		s->fleet_recount_idle_ms = now + s->fleet_ttl_s * 1000 * RECOUNT_IDLE_TTLS;
		pthread_mutex_unlock(&c->lock);
		if (fleet_rate_once(c, s) != 0)
			mark = 0; /* not counted: again on the next round */
		pthread_mutex_lock(&c->lock);
		if (!mark)
			s->fleet_members_mark = 0;
	}
}

static void *fleet_rate_main(void *arg)
{
	struct cache *c = arg;

	pthread_mutex_lock(&c->lock);
	while (!c->stopping) {
		struct timespec until;
		fleet_rate_all(c);
		clock_mono_deadline(&until, RECOUNT_MS);
		/* On wake, which is only ever broadcast: a signal on work is meant for one
		 * fill worker, and this thread must never take it. */
		while (!c->stopping && pthread_cond_timedwait(&c->wake, &c->lock, &until) == 0)
			;
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

int fleet_rate_start(struct cache *c, struct cache_source *src)
{
	int rc = 0;

	if (!fleet_rate_wanted(src))
		return 0;
	src->fleet_rate = src->fleet_rate_cap;
	(void)fleet_rate_once(c, src); /* before the first request, so a new host never takes the whole
				  * cap once the others are counted */
	pthread_mutex_lock(&c->lock);
	if (!c->fleet_rater_started) {
		rc = -pthread_create(&c->fleet_rater, NULL, fleet_rate_main, c);
		c->fleet_rater_started = rc == 0;
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

void fleet_rate_stop(struct cache *c)
{
	if (c->fleet_rater_started)
		pthread_join(c->fleet_rater, NULL);
	c->fleet_rater_started = 0;
}
