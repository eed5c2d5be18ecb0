/*
 * Fleet mode: lifecycle, this host's lease and its keepalive thread, membership, counters.
 * See fleet.h for the design note.
 */
#include "fleet_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "../../common/clock.h"
#include "../../common/log.h"

void fleet_key(const struct fleet *f, const char *kind, const char *name, char *out)
{
	snprintf(out, ETCD_KEY_MAX + 1, "%s%s/%s", f->prefix, kind, name);
}

int fleet_sha256_hex(const char *s, char *hex)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	hex[0] = '\0';
	if (!EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL) || n != 32)
		return -1;
	for (unsigned int i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return 0;
}

int fleet_note(struct fleet *f, int rc, const struct client_error *err)
{
	pthread_mutex_lock(&f->lock);
	f->last_failed = rc != 0;
	if (rc == 0) {
		f->last_ok_ms = clock_mono_ms();
	} else {
		f->stats.etcd_errors++;
		if (err->kind == CLIENT_E_NOT_FOUND) {
			f->check_now = 1;
			pthread_cond_signal(&f->wake);
		}
	}
	pthread_mutex_unlock(&f->lock);
	return rc == 0 ? 0 : -EIO;
}

int64_t fleet_current_lease(struct fleet *f, struct client_error *err)
{
	int64_t lease;

	pthread_mutex_lock(&f->lock);
	lease = f->lease;
	pthread_mutex_unlock(&f->lock);
	if (!lease)
		client_error_set(err, CLIENT_E_TRANSIENT, "fleet: no lease just now");
	return lease;
}

void fleet_count(struct fleet *f, uint64_t *field)
{
	pthread_mutex_lock(&f->lock);
	(*field)++;
	pthread_mutex_unlock(&f->lock);
}

/* ---- the lease ---- */

#define KEEPALIVE_RETRY_MS 200	/* after a failed keepalive: the lease may end soon */
#define KEEPALIVE_TRY_MIN_MS 300 /* one keepalive try never gets less */
#define KEEPALIVE_RESERVE_MIN_MS (KEEPALIVE_RETRY_MS + KEEPALIVE_TRY_MIN_MS) /* kept for a
				 * retry: the pause after a failure, then one short try */

/* Grants a lease and registers members/<host> on it, unless another live lease holds that
 * name (another host with the same fleet_host: *err CLIENT_E_BUSINESS). 0 with *lease, or -1
 * with *err. */
static int join(struct fleet *f, int64_t *lease, struct client_error *err)
{
	char key[ETCD_KEY_MAX + 1];
	struct client_error ignored;
	struct etcd_kv kv;
	int won = 0;

	int64_t sent = clock_mono_ms();

	fleet_key(f, "members", f->host, key);
	if (etcd_lease_grant(f->etcd, f->ttl_s, lease, err) != 0)
		return -1;
	f->lease_deadline_ms = sent + f->ttl_s * 1000; /* (keepalive thread, or before it) */
	if (etcd_put_if_absent(f->etcd, key, f->host, strlen(f->host), *lease, &won, &kv,
			       err) != 0 ||
	    (!won && kv.lease != *lease)) {
		if (err->kind == CLIENT_OK)
			client_error_set(err, CLIENT_E_BUSINESS,
					 "fleet_host '%s' is in use by another live host of the "
					 "fleet: give each host its own fleet_host", f->host);
		etcd_lease_revoke(f->etcd, *lease, &ignored);
		*lease = 0;
		return -1;
	}
	return 0;
}

/* The first join: a name held by another lease may be this host's own from before a crash,
 * whose lease ends within one TTL; wait that long for it, then give up. */
static int first_join(struct fleet *f, struct client_error *err)
{
	int64_t until = clock_mono_ms() + f->ttl_s * 1000 + 1000;
	int rc;

	while ((rc = join(f, &f->lease, err)) != 0 && err->kind == CLIENT_E_BUSINESS &&
	       clock_mono_ms() < until) {
		struct timespec pause = {0, 200 * 1000 * 1000};
		client_error_clear(err);
		nanosleep(&pause, NULL);
	}
	if (rc != 0 && err->kind == CLIENT_E_BUSINESS)
		err->kind = CLIENT_E_INVALID; /* a configuration error: the mount fails */
	return rc;
}

/* How long one keepalive try may take: the time the lease has left for sure, less a quarter
 * of it (at least KEEPALIVE_RESERVE_MIN_MS) kept for another try, so a stuck call (etcd
 * electing a leader) is given up in time to retry before the lease ends. Not half: a try cut
 * off makes curl drop its connection, and on a busy host a keepalive answered in 1.2 s of
 * the 2 s left (TTL 3 s) opened a fifth connection to etcd for nothing. */
static long keepalive_timeout_ms(const struct fleet *f, int64_t now)
{
	int64_t left = f->lease_deadline_ms - now, reserve = left / 4, tmo;

	if (!f->lease_deadline_ms)
		return 0; /* not known yet: the request timeout */
	if (reserve < KEEPALIVE_RESERVE_MIN_MS)
		reserve = KEEPALIVE_RESERVE_MIN_MS;
	tmo = left - reserve;
	return tmo > KEEPALIVE_TRY_MIN_MS ? (long)tmo : KEEPALIVE_TRY_MIN_MS;
}

/* One keepalive round: renew the lease, or when it is gone, join again. Returns the pause
 * before the next round: a third of the TTL etcd confirmed after a renewal, a short one after
 * a failure (the lease may still live: keep trying until etcd says it is gone). */
static long keepalive_once(struct fleet *f)
{
	struct client_error err;
	int64_t lease = fleet_current_lease(f, &err), left = 0, fresh = 0;
	int64_t sent = clock_mono_ms();

	client_error_clear(&err);
	if (lease && fleet_note(f, etcd_lease_keepalive(f->etcd, lease,
							keepalive_timeout_ms(f, sent), &left, &err),
				&err) != 0)
		return KEEPALIVE_RETRY_MS;
	if (lease && left > 0) {
		/* The lease lives left s from when the call was sent, at least. */
		f->lease_deadline_ms = sent + left * 1000;
		return (long)(left * 1000 / 3);
	}
	f->lease_deadline_ms = 0;
	if (fleet_note(f, join(f, &fresh, &err), &err) != 0) {
		log_warn("fleet: lease lost; granting a new one failed: %s", err.msg);
		pthread_mutex_lock(&f->lock);
		f->lease = 0;
		pthread_mutex_unlock(&f->lock);
		return KEEPALIVE_RETRY_MS;
	}
	log_warn("fleet: lease lost (this host stalled or etcd lost it); rejoined with a new one");
	fleet_reap_clear(f); /* what waited to be freed went with the old lease */
	pthread_mutex_lock(&f->lock);
	f->lease = fresh;
	f->stats.lease_regrants++;
	/* Claims and slots bound to the old lease are gone; slot_token keeps their tokens so
	 * that releasing one stays harmless (the guarded delete no longer matches). */
	pthread_mutex_unlock(&f->lock);
	return f->ttl_s * 1000 / 3;
}

static void *keepalive_main(void *arg)
{
	struct fleet *f = arg;
	long pause_ms = f->ttl_s * 1000 / 3;

	pthread_mutex_lock(&f->lock);
	while (!f->stopping) {
		struct timespec until;
		clock_mono_deadline(&until, pause_ms);
		while (!f->stopping && !f->check_now &&
		       pthread_cond_timedwait(&f->wake, &f->lock, &until) == 0)
			;
		if (f->stopping)
			break;
		f->check_now = 0;
		pthread_mutex_unlock(&f->lock);
		pause_ms = keepalive_once(f);
		pthread_mutex_lock(&f->lock);
	}
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

/* ---- lifecycle ---- */

static int config_ok(const struct fleet_config *cfg, struct client_error *err)
{
	if (!cfg->provider || !fleet_name_ok(cfg->provider) || !cfg->host ||
	    !fleet_name_ok(cfg->host) || !cfg->account || !cfg->account[0]) {
		client_error_set(err, CLIENT_E_INVALID,
				 "fleet: provider and host must be 1..%d of [A-Za-z0-9._-], "
				 "account non-empty", FLEET_HOST_MAX - 1);
		return -1;
	}
	if (cfg->lease_ttl_s == 1 || cfg->lease_ttl_s < 0 || cfg->max_exports < 0 ||
	    cfg->max_exports > FLEET_MAX_SLOTS) {
		client_error_set(err, CLIENT_E_INVALID,
				 "fleet: lease ttl at least 2 s, max exports 0..%d",
				 FLEET_MAX_SLOTS);
		return -1;
	}
	return 0;
}

int fleet_account_hex(const char *provider, const char *base_url, const char *account,
		      char hex[FLEET_SHA256_HEX])
{
	const char *part[3] = {provider, base_url ? base_url : "", account};
	unsigned char md[EVP_MAX_MD_SIZE];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 0;
	int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);

	hex[0] = '\0';
	for (int i = 0; ok && i < 3; i++)
		ok = EVP_DigestUpdate(ctx, part[i], strlen(part[i]) + 1);
	ok = ok && EVP_DigestFinal_ex(ctx, md, &n) && n == 32;
	EVP_MD_CTX_free(ctx);
	for (unsigned int i = 0; ok && i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return ok ? 0 : -1;
}

/* Fills f's fields from cfg (no network). 0 or -1 with *err. */
static int fleet_setup(struct fleet *f, const struct fleet_config *cfg, struct client_error *err)
{
	char account_hex[FLEET_SHA256_HEX];

	if (config_ok(cfg, err) != 0)
		return -1;
	snprintf(f->host, sizeof(f->host), "%s", cfg->host);
	f->ttl_s = cfg->lease_ttl_s ? cfg->lease_ttl_s : FLEET_DEFAULT_TTL_S;
	f->max_exports = cfg->max_exports;
	f->slot_token = calloc((size_t)f->max_exports + 1, sizeof(*f->slot_token));
	f->slot_taking = calloc((size_t)f->max_exports + 1, 1);
	f->slot_watched = calloc((size_t)f->max_exports + 1, 1);
	if (!f->slot_token || !f->slot_taking || !f->slot_watched ||
	    fleet_account_hex(cfg->provider, cfg->base_url, cfg->account, account_hex) != 0) {
		client_error_set(err, CLIENT_E_LOCAL, "out of memory");
		return -1;
	}
	/* The hosts of a fleet start looking for a slot at different ones (FNV-1a of the
	 * name), so they seldom race for the same free slot. */
	f->slot_next = 2166136261u;
	for (const char *p = f->host; *p; p++)
		f->slot_next = (f->slot_next ^ (unsigned char)*p) * 16777619u;
	snprintf(f->prefix, sizeof(f->prefix), "orderfs/v1/%s/%.*s/", cfg->provider,
		 FLEET_ACCOUNT_HEX, account_hex);
	struct etcd_config ec = cfg->etcd;

	ec.spread = cfg->host; /* hosts spread over the endpoints */
	f->etcd = etcd_new(&ec, err);
	return f->etcd ? 0 : -1;
}

struct fleet *fleet_new(const struct fleet_config *cfg, struct client_error *err)
{
	struct fleet *f = calloc(1, sizeof(*f));
	pthread_condattr_t ca;

	client_error_clear(err);
	if (!f) {
		client_error_set(err, CLIENT_E_LOCAL, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&f->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&f->wake, &ca);
	pthread_cond_init(&f->reap_wake, &ca);
	pthread_cond_init(&f->watch_cond, &ca);
	pthread_cond_init(&f->rec_lease_cond, &ca);
	pthread_condattr_destroy(&ca);
	if (fleet_setup(f, cfg, err) != 0)
		goto fail;
	if (fleet_note(f, first_join(f, err), err) != 0) {
		/* A mount starts while etcd is down; the keepalive thread joins when it answers.
		 * Refused credentials or a bad answer are configuration errors: fail now. */
		if (err->kind != CLIENT_E_TRANSIENT)
			goto fail;
		log_warn("fleet: etcd cannot be reached (%s); joining when it answers", err->msg);
		f->lease = 0;
		client_error_clear(err);
	}
	if (pthread_create(&f->keepalive, NULL, keepalive_main, f) != 0) {
		client_error_set(err, CLIENT_E_LOCAL, "fleet: cannot start the keepalive thread");
		goto fail;
	}
	f->thread_started = 1;
	if (fleet_reap_start(f) != 0) {
		client_error_set(err, CLIENT_E_LOCAL, "fleet: cannot start the reaper thread");
		goto fail;
	}
	if (fleet_watch_start(f) != 0) {
		client_error_set(err, CLIENT_E_LOCAL, "fleet: cannot start the watch thread");
		goto fail;
	}
	log_info("fleet: joined as %s (lease ttl %ld s, %d export slots)", f->host, f->ttl_s,
		 f->max_exports);
	return f;
fail:
	fleet_free(f);
	return NULL;
}

void fleet_free(struct fleet *f)
{
	struct client_error err;

	if (!f)
		return;
	if (f->thread_started) {
		pthread_mutex_lock(&f->lock);
		f->stopping = 1;
		pthread_cond_signal(&f->wake);
		pthread_mutex_unlock(&f->lock);
		pthread_join(f->keepalive, NULL);
	}
	fleet_reap_stop(f);
	fleet_watch_stop(f);
	if (f->lease && etcd_lease_revoke(f->etcd, f->lease, &err) != 0)
		log_warn("fleet: revoking the lease failed (%s); it expires in %ld s", err.msg,
			 f->ttl_s);
	etcd_free(f->etcd);
	free(f->slot_token);
	free(f->slot_taking);
	free(f->slot_watched);
	pthread_cond_destroy(&f->wake);
	pthread_cond_destroy(&f->reap_wake);
	pthread_cond_destroy(&f->watch_cond);
	pthread_cond_destroy(&f->rec_lease_cond);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

/* ---- what the fleet looks like ---- */

int fleet_members(struct fleet *f, int64_t *count, struct client_error *err)
{
	char key[ETCD_KEY_MAX + 1];

	fleet_key(f, "members", "", key);
	return fleet_note(f, etcd_count_prefix(f->etcd, key, count, err), err);
}

int fleet_reachable(struct fleet *f)
{
	int ok;

	pthread_mutex_lock(&f->lock);
	ok = !f->last_failed && f->last_ok_ms > 0 &&
	     clock_mono_ms() - f->last_ok_ms < f->ttl_s * 1000;
	pthread_mutex_unlock(&f->lock);
	return ok;
}

int64_t fleet_last_ok_ms(struct fleet *f)
{
	int64_t ms;

	pthread_mutex_lock(&f->lock);
	ms = f->last_ok_ms;
	pthread_mutex_unlock(&f->lock);
	return ms;
}

void fleet_get_stats(struct fleet *f, struct fleet_stats *out)
{
	pthread_mutex_lock(&f->lock);
	*out = f->stats;
	pthread_mutex_unlock(&f->lock);
}

int64_t fleet_lease_id(struct fleet *f)
{
	int64_t lease;

	pthread_mutex_lock(&f->lock);
	lease = f->lease;
	pthread_mutex_unlock(&f->lock);
	return lease;
}
