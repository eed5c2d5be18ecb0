/*
 * The fleet's request cap: max_requests_per_s holds for the sum of every host's requests to
 * the provider account, so each host takes cap / live members (members are lease-bound keys:
 * a host that dies drops out within its TTL). Re-counted when the fleet's watch reports a
 * member joined or left, and every RECOUNT_IDLE_TTLS lease TTLs in case an event was lost;
 * while the watch is down, every RECOUNT_MS while the source has flights running (an idle
 * host asks etcd for next to nothing); while etcd cannot be counted, the last share stays. One thread serves every source with a cap (each its own
 * fleet, cap and provider).
 */
#include "internal.h"

#include <errno.h>
#include <string.h>

#include "../client/fleet.h"
#include "../common/clock.h"
#include "../common/log.h"

#define RECOUNT_MS 1000
#define RECOUNT_IDLE_TTLS 3

/* Whether s takes a share of a fleet's cap. */
static int fleet_rate_wanted(const struct cache_source *s)
{
	return s->fleet && s->fleet_rate_cap > 0 && s->prov->ops->set_request_rate;
}

/* Count s's fleet members and give its provider its share. No locks held. */
static void fleet_rate_once(struct cache *c, struct cache_source *s)
{
	struct client_error err;
	int64_t members = 0;
	double rate;

	if (fleet_members(s->fleet, &members, &err) != 0 || members < 1)
		return;
	rate = s->fleet_rate_cap / (double)members;
	pthread_mutex_lock(&c->lock);
	if (rate != s->fleet_rate)
		log_debug("fleet: %lld members: this host takes %.3g requests/s",
			  (long long)members, rate);
	s->fleet_rate = rate;
	pthread_mutex_unlock(&c->lock);
	s->prov->ops->set_request_rate(s->prov, rate);
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
		if (now < s->fleet_recount_idle_ms &&
		    (mark ? mark == s->fleet_members_mark : s->running == 0))
			continue;
		s->fleet_members_mark = mark;
		s->fleet_recount_idle_ms = now + s->fleet_ttl_s * 1000 * RECOUNT_IDLE_TTLS;
		pthread_mutex_unlock(&c->lock);
		fleet_rate_once(c, s);
		pthread_mutex_lock(&c->lock);
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
	fleet_rate_once(c, src); /* before the first request, so a new host never takes the whole
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
