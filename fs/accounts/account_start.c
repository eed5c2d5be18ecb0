/* Starting an account: provider, fleet membership, types in the cache, prefetch (accounts.h). */
#include "account.h"
#include "accounts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "../../common/log.h"
#include "../mount/prefetch.h"
#include "../mount/providers.h"
#include "../mount/setup.h"

void account_set_active(struct fs_account *a, struct provider *prov, size_t kind0)
{
	a->prov = prov;
	a->layout.max_range_days = prov->max_range_days;
	a->layout.types = prov->types;
	a->layout.ntypes = prov->ntypes;
	a->window_months = prov->window_months;
	a->kind0 = kind0;
	a->nkinds = prov->ntypes;
	atomic_store_explicit(&a->active, 1, memory_order_release);
}

void account_key_account(const struct fs_config *cfg, const struct provider *prov,
			 const char *name, char out[128])
{
	const struct provider_spec *spec = provider_spec_find(cfg->provider);

	if (name[0] && spec && spec->account_per_name)
		snprintf(out, 128, "%.60s/%s", prov->account, name);
	else
		snprintf(out, 128, "%s", prov->account);
}

/* Whether merchant id m may be part of the cache keys ('|' separates their fields): 1, or
 * 0 with why in err (so the refusal is not mistaken for a merchant another account has). */
static int merchant_fits_a_key(const char *m, char *err, size_t errlen)
{
	for (const char *p = m; *p; p++)
		if (*p == '|' || (unsigned char)*p < 0x20 || *p == 0x7f) {
			snprintf(err, errlen, "its merchant id may not contain '|' or control "
					      "characters (they separate the fields of a cache key)");
			return 0;
		}
	return 1;
}

/* Its types into the cache, with fleet mode's settings. 0 or -1 with err. */
static int add_source(const struct accounts_env *env, struct fs_account *a, struct provider *prov,
		      size_t *kind0, char *err, size_t errlen)
{
	struct cache_source_config sc;
	char prefix[128], writer[FLEET_HOST_MAX];
	int rc;

	setup_source_config(&a->run_cfg, a->fleet, a->key_account, &sc);
	/* The main config's store; the account's own prefix, derived as its fleet's. */
	if (setup_source_store(env->main, env->store, prov->name, a->key_account, &sc, prefix,
			       writer, err, errlen) != 0)
		return -1;
	/* Whoever writes an account file picks its merchant id: its cached files are served
	 * only once the provider accepted its credentials (cache.h). */
	sc.check_credentials = a->name[0] != '\0';
	if ((rc = cache_add_source(env->cache, prov, &sc, kind0)) == -EINVAL)
		snprintf(err, errlen, "another account has the same merchant (%s)", prov->account);
	else if (rc)
		snprintf(err, errlen, "cannot add its exports to the cache: %s", strerror(-rc));
	return rc ? -1 : 0;
}

/* Where the account is the app's (Mogujie), the SHA-256 of its token into a (its seller as
 * far as orderfs can tell before asking), so account_start's taken() sees two NAMEs holding
 * one token. A token that cannot be read leaves none (its provider says why soon enough). */
static void take_token_digest(struct fs_account *a)
{
	const struct provider_spec *spec = provider_spec_find(a->run_cfg.provider);
	const char *path;
	char *token = NULL, why[256];
	unsigned int n = 0;

	a->has_token_digest = 0;
	if (!spec || !spec->account_per_name || !spec->account_secret_key ||
	    !(path = config_string(&a->run_cfg, spec->account_secret_key)) ||
	    config_read_secret_key(spec->account_secret_key, path, &token, why, sizeof(why)))
		return;
	a->has_token_digest = EVP_Digest(token, strlen(token), a->token_digest, &n,
					 EVP_sha256(), NULL) == 1 && n == sizeof(a->token_digest);
	explicit_bzero(token, strlen(token));
	free(token);
}

int account_start(const struct accounts_env *env, struct fs_account *a,
		  int (*taken)(void *arg, const struct fs_account *a, char *other, size_t n),
		  void *arg, char *err, size_t errlen)
{
	struct provider *prov = provider_make(&a->run_cfg, err, errlen);
	char other[ACCOUNT_NAME_MAX + 96], host[FLEET_HOST_MAX];
	size_t kind0;

	if (!prov)
		return -1;
	if (!merchant_fits_a_key(prov->account, err, errlen))
		goto fail;
	account_key_account(&a->run_cfg, prov, a->name, a->key_account);
	take_token_digest(a);
	if (taken(arg, a, other, sizeof(other))) {
		if (a->has_token_digest)
			snprintf(err, errlen, "account %s has the same merchant (its token is "
					      "this one's); only one may run", other);
		else
			snprintf(err, errlen, "account %s has the same merchant (%s); only one "
					      "may run", other, prov->account);
		goto fail;
	}
	if (a->run_cfg.fleet_etcd &&
	    !(a->fleet = setup_fleet_account(&a->run_cfg, env->fleet, prov, a->key_account,
					     host, err, errlen)))
		goto fail;
	if (!(a->notes = range_map_new())) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (add_source(env, a, prov, &kind0, err, errlen))
		goto fail;
	if (a->run_cfg.prefetch_days > 0 &&
	    !(a->prefetch = prefetch_start(env->prefetcher, env->cache, kind0, prov->ntypes,
					   a->run_cfg.prefetch_days, a->run_cfg.prefetch_interval_s,
					   config_open_ttl(&a->run_cfg), prov->window_months, prov->zone)))
		log_err("account %s: cannot start prefetch: %s", a->name, strerror(errno));
	account_set_active(a, prov, kind0);
	return 0;
fail:
	range_map_free(a->notes);
	a->notes = NULL;
	fleet_free(a->fleet);
	a->fleet = NULL;
	provider_destroy(prov);
	return -1;
}
