/*
 * Fleet mode: a merchant's fleet on a session (fleet_session.c holds the lease), membership,
 * counters.
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
	if (rc == 0)
		f->last_ok_ms = clock_mono_ms();
	else
		f->stats.etcd_errors++;
	pthread_mutex_unlock(&f->lock);
	/* (after f->lock: the session's lock comes first) */
	if (rc != 0 && err->kind == CLIENT_E_NOT_FOUND)
		fleet_session_check_lease(f->session);
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

/* Fills f's fields from cfg and s (no network). 0 or -1 with *err. */
static int fleet_setup(struct fleet *f, struct fleet_session *s, const struct fleet_config *cfg,
		       struct client_error *err)
{
	char account_hex[FLEET_SHA256_HEX];

	if (config_ok(cfg, err) != 0)
		return -1;
	f->session = s;
	f->etcd = s->etcd;
	snprintf(f->host, sizeof(f->host), "%s", s->host);
	f->ttl_s = s->ttl_s;
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
	return 0;
}

struct fleet *fleet_new_in(struct fleet_session *s, const struct fleet_config *cfg,
			   struct client_error *err)
{
	struct fleet *f = calloc(1, sizeof(*f));

	client_error_clear(err);
	if (!f) {
		client_error_set(err, CLIENT_E_LOCAL, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&f->lock, NULL);
	clock_mono_cond_init(&f->watch_cond);
	clock_mono_cond_init(&f->rec_lease_cond);
	if (fleet_setup(f, s, cfg, err) != 0) {
		f->session = NULL; /* never registered */
		fleet_free(f);
		return NULL;
	}
	if (fleet_session_register(s, f, err) != 0) {
		fleet_free(f);
		return NULL;
	}
	log_info("fleet: joined as %s (lease ttl %ld s, %d export slots)", f->host, f->ttl_s,
		 f->max_exports);
	return f;
}

struct fleet *fleet_new(const struct fleet_config *cfg, struct client_error *err)
{
	struct fleet_session *s = fleet_session_new(cfg, err);
	struct fleet *f = s ? fleet_new_in(s, cfg, err) : NULL;

	if (!f) {
		fleet_session_free(s);
		return NULL;
	}
	f->owns_session = 1;
	return f;
}

/* Leaving a shared session: this fleet's member key and the slots it holds go now (the lease
 * stays for the other fleets). What fails stays until the lease ends. */
static void leave(struct fleet *f)
{
	char key[ETCD_KEY_MAX + 1], name[16];
	struct client_error err;
	int64_t lease = fleet_lease_id(f);
	int applied = 0;

	fleet_key(f, "members", f->host, key);
	client_error_clear(&err);
	if (lease && etcd_delete(f->etcd, key, NULL, &err) != 0)
		log_warn("fleet: %s: leaving failed (%s): its member key stays until the lease "
			 "ends", f->prefix, err.msg);
	for (int i = 0; lease && i < f->max_exports; i++) {
		if (!f->slot_token[i])
			continue;
		snprintf(name, sizeof(name), "%d", i);
		fleet_key(f, "slots", name, key);
		client_error_clear(&err);
		etcd_delete_if_owner(f->etcd, key, f->slot_token[i], key, &applied, &err);
	}
}

void fleet_free(struct fleet *f)
{
	if (!f)
		return;
	if (f->session) {
		fleet_session_unregister(f); /* no thread of the session reaches it any more */
		if (!f->owns_session)
			leave(f);
		fleet_reap_drop(f);
	}
	if (f->owns_session)
		fleet_session_free(f->session);
	free(f->slot_token);
	free(f->slot_taking);
	free(f->slot_watched);
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
