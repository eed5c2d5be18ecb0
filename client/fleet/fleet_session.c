/*
 * Fleet mode's session: what a mount holds once however many merchants it serves (fleet.h).
 * One etcd client (its few kept-alive connections), this host's one lease and the keepalive
 * thread that renews it, one watch stream (fleet_watch.c) and one reaper (fleet_reap.c); each
 * registered fleet puts its members/<host> on the shared lease. When the lease is lost and
 * granted again, the keepalive thread registers every fleet's member key on the new one.
 */
#include "fleet_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../common/clock.h"
#include "../../common/log.h"

#define KEEPALIVE_RETRY_MS 200	/* after a failed keepalive: the lease may end soon */
#define KEEPALIVE_TRY_MIN_MS 300 /* one keepalive try never gets less */
#define KEEPALIVE_RESERVE_MIN_MS (KEEPALIVE_RETRY_MS + KEEPALIVE_TRY_MIN_MS) /* kept for a
				 * retry: the pause after a failure, then one short try */
#define REGISTER_RETRY_MS 1000	/* a fleet whose member key could not be put: try again */

/* ---- the fleets on the session ---- */

/* Puts f's members/<host> on lease, unless another live lease holds that name (another host
 * with the same fleet_host: *err CLIENT_E_BUSINESS). 0 or -1 with *err. */
static int member_put(struct fleet *f, int64_t lease, struct client_error *err)
{
	char key[ETCD_KEY_MAX + 1];
	struct etcd_kv kv;
	int won = 0;

	fleet_key(f, "members", f->host, key);
	if (etcd_put_if_absent(f->etcd, key, f->host, strlen(f->host), lease, &won, &kv, err) != 0)
		return -1;
	if (!won && kv.lease != lease) {
		client_error_set(err, CLIENT_E_BUSINESS,
				 "fleet_host '%s' is in use by another live host of the fleet: "
				 "give each host its own fleet_host", f->host);
		return -1;
	}
	return 0;
}

/* f's member key onto lease, then f uses lease. 0 or -1. */
static int member_join(struct fleet *f, int64_t lease, struct client_error *err)
{
	if (fleet_note(f, member_put(f, lease, err), err) != 0)
		return -1;
	pthread_mutex_lock(&f->lock);
	f->lease = lease;
	if (f->lease_lost)
		f->stats.lease_regrants++; /* lost, and joined again on a new one */
	f->lease_lost = 0;
	pthread_mutex_unlock(&f->lock);
	return 0;
}

/* The session's lease is gone, and every key bound to it: each fleet's calls fail TRANSIENT
 * until it is on a new one, and what its reaper waited to free went with the lease (slot_token
 * keeps the tokens of slots, so releasing one stays harmless: the guarded delete no longer
 * matches). Under s->lock. */
static void leases_drop(struct fleet_session *s)
{
	for (size_t i = 0; i < s->nfleets; i++) {
		struct fleet *f = s->fleets[i];
		int had;
		pthread_mutex_lock(&f->lock);
		had = f->lease != 0;
		f->lease = 0;
		f->lease_lost |= had;
		pthread_mutex_unlock(&f->lock);
		if (had)
			fleet_reap_clear(f);
	}
}

/* Every fleet not yet on lease joins it. 1 when all are on it. */
static int members_join(struct fleet_session *s, int64_t lease)
{
	int all = 1;

	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->nfleets && !s->stopping; i++) {
		struct fleet *f = s->fleets[i];
		struct client_error err;
		int on;

		pthread_mutex_lock(&f->lock);
		on = f->lease == lease;
		pthread_mutex_unlock(&f->lock);
		if (on)
			continue;
		f->busy++;
		pthread_mutex_unlock(&s->lock);
		client_error_clear(&err);
		if (member_join(f, lease, &err) != 0) {
			log_warn("fleet: %s: registering this host failed: %s", f->prefix, err.msg);
			all = 0;
		}
		pthread_mutex_lock(&s->lock);
		f->busy--;
		pthread_cond_broadcast(&s->idle);
		/* The table may have changed meanwhile: a fleet skipped now is on the next round. */
	}
	pthread_mutex_unlock(&s->lock);
	return all;
}

/* Records a keepalive's outcome (rc 0 or -1) in every fleet: fleet_reachable and the error
 * counters count keepalives. */
static void note_all(struct fleet_session *s, int rc)
{
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->nfleets; i++) {
		struct fleet *f = s->fleets[i];
		pthread_mutex_lock(&f->lock);
		f->last_failed = rc != 0;
		if (rc == 0)
			f->last_ok_ms = clock_mono_ms();
		else
			f->stats.etcd_errors++;
		pthread_mutex_unlock(&f->lock);
	}
	pthread_mutex_unlock(&s->lock);
}

/* ---- the lease ---- */

/* How long one keepalive try may take: the time the lease has left for sure, less a quarter
 * of it (at least KEEPALIVE_RESERVE_MIN_MS) kept for another try, so a stuck call (etcd
 * electing a leader) is given up in time to retry before the lease ends. Not half: a try cut
 * off makes curl drop its connection, and on a busy host a keepalive answered in 1.2 s of
 * the 2 s left (TTL 3 s) opened a fifth connection to etcd for nothing. */
static long keepalive_timeout_ms(const struct fleet_session *s, int64_t now)
{
	int64_t left = s->lease_deadline_ms - now, reserve = left / 4, tmo;

	if (!s->lease_deadline_ms)
		return 0; /* not known yet: the request timeout */
	if (reserve < KEEPALIVE_RESERVE_MIN_MS)
		reserve = KEEPALIVE_RESERVE_MIN_MS;
	tmo = left - reserve;
	return tmo > KEEPALIVE_TRY_MIN_MS ? (long)tmo : KEEPALIVE_TRY_MIN_MS;
}

static int64_t session_lease(struct fleet_session *s)
{
	int64_t lease;

	pthread_mutex_lock(&s->lock);
	lease = s->lease;
	pthread_mutex_unlock(&s->lock);
	return lease;
}

/* Grants the session a lease. 0 or -1 with *err. */
static int grant(struct fleet_session *s, struct client_error *err)
{
	int64_t sent = clock_mono_ms(), fresh = 0;

	if (etcd_lease_grant(s->etcd, s->ttl_s, &fresh, err) != 0)
		return -1;
	s->lease_deadline_ms = sent + s->ttl_s * 1000; /* (keepalive thread, or before it) */
	pthread_mutex_lock(&s->lock);
	s->lease = fresh;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/* One keepalive round: renew the lease, or when it is gone, grant a new one; then every fleet
 * not on it joins. Returns the pause before the next round: a third of the TTL etcd confirmed
 * after a renewal, a short one after a failure (the lease may still live: keep trying until
 * etcd says it is gone). */
static long keepalive_once(struct fleet_session *s)
{
	struct client_error err;
	int64_t lease = session_lease(s), left = 0;
	int64_t sent = clock_mono_ms();
	long pause;

	client_error_clear(&err);
	if (lease) {
		int rc = etcd_lease_keepalive(s->etcd, lease, keepalive_timeout_ms(s, sent), &left,
					      &err);
		note_all(s, rc);
		if (rc != 0)
			return KEEPALIVE_RETRY_MS;
	}
	if (lease && left > 0) {
		/* The lease lives left s from when the call was sent, at least. */
		s->lease_deadline_ms = sent + left * 1000;
		pause = (long)(left * 1000 / 3);
	} else {
		s->lease_deadline_ms = 0;
		pthread_mutex_lock(&s->lock);
		s->lease = 0;
		leases_drop(s);
		pthread_mutex_unlock(&s->lock);
		if (grant(s, &err) != 0) {
			note_all(s, -1);
			if (lease)
				log_warn("fleet: lease lost; granting a new one failed: %s", err.msg);
			return KEEPALIVE_RETRY_MS;
		}
		if (lease)
			log_warn("fleet: lease lost (this host stalled or etcd lost it); "
				 "rejoining with a new one");
		lease = session_lease(s);
		pause = s->ttl_s * 1000 / 3;
	}
	if (!members_join(s, lease) && pause > REGISTER_RETRY_MS)
		pause = REGISTER_RETRY_MS;
	return pause;
}

static void *keepalive_main(void *arg)
{
	struct fleet_session *s = arg;
	long pause_ms = s->ttl_s * 1000 / 3;

	pthread_mutex_lock(&s->lock);
	while (!s->stopping) {
		struct timespec until;
		clock_mono_deadline(&until, pause_ms);
		while (!s->stopping && !s->check_now &&
		       pthread_cond_timedwait(&s->wake, &s->lock, &until) == 0)
			;
		if (s->stopping)
			break;
		s->check_now = 0;
		pthread_mutex_unlock(&s->lock);
		pause_ms = keepalive_once(s);
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

void fleet_session_check_lease(struct fleet_session *s)
{
	pthread_mutex_lock(&s->lock);
	s->check_now = 1;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
}

/* ---- registering ---- */

int fleet_session_register(struct fleet_session *s, struct fleet *f, struct client_error *err)
{
	int64_t until = clock_mono_ms() + s->ttl_s * 1000 + 1000;
	struct fleet **grown;
	int64_t lease;
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	if (s->nfleets == s->capfleets) {
		size_t cap = s->capfleets ? s->capfleets * 2 : 8;
		if (!(grown = realloc(s->fleets, cap * sizeof(*grown)))) {
			pthread_mutex_unlock(&s->lock);
			client_error_set(err, CLIENT_E_LOCAL, "out of memory");
			return -1;
		}
		s->fleets = grown;
		s->capfleets = cap;
	}
	s->fleets[s->nfleets++] = f;
	f->busy++; /* not unregistered under our feet while joining below */
	fleet_watch_set_live(f, s->watch_live);
	lease = s->lease;
	pthread_mutex_unlock(&s->lock);
	/* The first join: a name held by another lease may be this host's own from before a
	 * crash, whose lease ends within one TTL; wait that long for it, then give up. Without
	 * a lease (etcd down) the keepalive thread joins it once etcd answers. */
	while (lease && (rc = member_join(f, lease, err)) != 0 && err->kind == CLIENT_E_BUSINESS &&
	       clock_mono_ms() < until) {
		struct timespec pause = {0, 200 * 1000 * 1000};
		client_error_clear(err);
		nanosleep(&pause, NULL);
	}
	if (rc != 0 && err->kind == CLIENT_E_TRANSIENT) {
		log_warn("fleet: etcd cannot be reached (%s); joining when it answers", err->msg);
		client_error_clear(err);
		rc = 0;
	} else if (rc != 0 && err->kind == CLIENT_E_BUSINESS) {
		err->kind = CLIENT_E_INVALID; /* a configuration error: the mount fails */
	}
	pthread_mutex_lock(&s->lock);
	f->busy--;
	pthread_cond_broadcast(&s->idle);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

void fleet_session_unregister(struct fleet *f)
{
	struct fleet_session *s = f->session;

	pthread_mutex_lock(&s->lock);
	pthread_mutex_lock(&f->lock);
	f->stopping = 1; /* a reap round on it ends soon */
	pthread_mutex_unlock(&f->lock);
	for (size_t i = 0; i < s->nfleets; i++) {
		if (s->fleets[i] == f) {
			s->fleets[i] = s->fleets[--s->nfleets];
			break;
		}
	}
	while (f->busy)
		pthread_cond_wait(&s->idle, &s->lock);
	fleet_watch_set_live(f, 0);
	pthread_mutex_unlock(&s->lock);
}

/* ---- lifecycle ---- */

struct fleet_session *fleet_session_new(const struct fleet_config *cfg, struct client_error *err)
{
	struct fleet_session *s = calloc(1, sizeof(*s));
	struct etcd_config ec = cfg->etcd;

	client_error_clear(err);
	if (!s) {
		client_error_set(err, CLIENT_E_LOCAL, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&s->lock, NULL);
	clock_mono_cond_init(&s->wake);
	clock_mono_cond_init(&s->idle);
	clock_mono_cond_init(&s->reap_wake);
	clock_mono_cond_init(&s->watch_cond);
	if (!cfg->host || !fleet_name_ok(cfg->host) || !cfg->provider ||
	    !fleet_name_ok(cfg->provider) || cfg->lease_ttl_s == 1 || cfg->lease_ttl_s < 0) {
		client_error_set(err, CLIENT_E_INVALID,
				 "fleet: provider and host must be 1..%d of [A-Za-z0-9._-], "
				 "lease ttl at least 2 s", FLEET_HOST_MAX - 1);
		goto fail;
	}
	snprintf(s->host, sizeof(s->host), "%s", cfg->host);
	snprintf(s->prefix, sizeof(s->prefix), "orderfs/v1/%s/", cfg->provider);
	s->ttl_s = cfg->lease_ttl_s ? cfg->lease_ttl_s : FLEET_DEFAULT_TTL_S;
	ec.spread = cfg->host; /* hosts spread over the endpoints */
	if (!(s->etcd = etcd_new(&ec, err)))
		goto fail;
	if (grant(s, err) != 0) {
		/* A mount starts while etcd is down; the keepalive thread grants when it answers.
		 * Refused credentials or a bad answer are configuration errors: fail now. */
		if (err->kind != CLIENT_E_TRANSIENT)
			goto fail;
		client_error_clear(err);
	}
	if (pthread_create(&s->keepalive, NULL, keepalive_main, s) != 0) {
		client_error_set(err, CLIENT_E_LOCAL, "fleet: cannot start the keepalive thread");
		goto fail;
	}
	s->keepalive_started = 1;
	if (fleet_reap_start(s) != 0) {
		client_error_set(err, CLIENT_E_LOCAL, "fleet: cannot start the reaper thread");
		goto fail;
	}
	if (fleet_watch_start(s) != 0) {
		client_error_set(err, CLIENT_E_LOCAL, "fleet: cannot start the watch thread");
		goto fail;
	}
	return s;
fail:
	fleet_session_free(s);
	return NULL;
}

void fleet_session_free(struct fleet_session *s)
{
	struct client_error err;

	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = 1;
	pthread_cond_broadcast(&s->wake);
	pthread_mutex_unlock(&s->lock);
	if (s->keepalive_started)
		pthread_join(s->keepalive, NULL);
	fleet_reap_stop(s);
	fleet_watch_stop(s);
	if (s->lease && etcd_lease_revoke(s->etcd, s->lease, &err) != 0)
		log_warn("fleet: revoking the lease failed (%s); it expires in %ld s", err.msg,
			 s->ttl_s);
	etcd_free(s->etcd);
	free(s->fleets);
	pthread_cond_destroy(&s->wake);
	pthread_cond_destroy(&s->idle);
	pthread_cond_destroy(&s->reap_wake);
	pthread_cond_destroy(&s->watch_cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
