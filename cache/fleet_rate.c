/*
 * The fleet's request cap: max_requests_per_s holds for the sum of every host's requests to
 * the provider account, so each host takes cap / live members (members are lease-bound keys:
 * a host that dies drops out within its TTL). Re-counted every RECOUNT_MS; while etcd cannot
 * be counted, the last share stays.
 */
#include "internal.h"

#include <errno.h>
#include <string.h>

#include "../client/fleet.h"
#include "../common/clock.h"
#include "../common/log.h"

#define RECOUNT_MS 1000

/* Count the members and give the provider its share. */
static void fleet_rate_once(struct cache *c)
{
	struct client_error err;
	int64_t members = 0;
	double rate;

	if (fleet_members(c->cfg.fleet, &members, &err) != 0 || members < 1)
		return;
	rate = c->cfg.fleet_rate_cap / (double)members;
	pthread_mutex_lock(&c->lock);
	if (rate != c->fleet_rate)
		log_debug("fleet: %lld members: this host takes %.3g requests/s",
			  (long long)members, rate);
	c->fleet_rate = rate;
	pthread_mutex_unlock(&c->lock);
	c->prov->ops->set_request_rate(c->prov, rate);
}

static void *fleet_rate_main(void *arg)
{
	struct cache *c = arg;

	pthread_mutex_lock(&c->lock);
	while (!c->stopping) {
		struct timespec until;
		pthread_mutex_unlock(&c->lock);
		fleet_rate_once(c);
		pthread_mutex_lock(&c->lock);
		clock_mono_deadline(&until, RECOUNT_MS);
		/* On wake, which is only ever broadcast: a signal on work is meant for one
		 * fill worker, and this thread must never take it. */
		while (!c->stopping && pthread_cond_timedwait(&c->wake, &c->lock, &until) == 0)
			;
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

int fleet_rate_start(struct cache *c)
{
	int rc;

	if (!c->cfg.fleet || c->cfg.fleet_rate_cap <= 0 || !c->prov->ops->set_request_rate)
		return 0;
	c->fleet_rate = c->cfg.fleet_rate_cap;
	fleet_rate_once(c); /* before the first request, so a new host never takes the whole cap
			     * once the others are counted */
	rc = pthread_create(&c->fleet_rater, NULL, fleet_rate_main, c);
	if (rc)
		return -rc;
	c->fleet_rater_started = 1;
	return 0;
}

void fleet_rate_stop(struct cache *c)
{
	if (c->fleet_rater_started)
		pthread_join(c->fleet_rater, NULL);
	c->fleet_rater_started = 0;
}
