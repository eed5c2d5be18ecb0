/* Starting an account: provider, fleet membership, types in the cache, prefetch (accounts.h). */
#include "account.h"
#include "accounts.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../common/log.h"
#include "prefetch.h"
#include "providers.h"
#include "setup.h"

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

/* Its types into the cache, with fleet mode's settings. 0 or -1 with err. */
static int add_source(const struct accounts_env *env, struct fs_account *a, struct provider *prov,
		      size_t *kind0, char *err, size_t errlen)
{
	struct cache_source_config sc;
	int rc;

	setup_source_config(&a->run_cfg, a->fleet, a->key_account, &sc);
	if ((rc = cache_add_source(env->cache, prov, &sc, kind0)) == -EINVAL)
		snprintf(err, errlen, "another account has the same merchant (%s)", prov->account);
	else if (rc)
		snprintf(err, errlen, "cannot add its exports to the cache: %s", strerror(-rc));
	return rc ? -1 : 0;
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
	account_key_account(&a->run_cfg, prov, a->name, a->key_account);
	if (taken(arg, a, other, sizeof(other))) {
		snprintf(err, errlen, "account %s has the same merchant (%s); only one may run",
			 other, prov->account);
		goto fail;
	}
	if (a->run_cfg.fleet_etcd &&
	    !(a->fleet = setup_fleet_account(&a->run_cfg, prov, a->key_account, host, err,
					     errlen)))
		goto fail;
	if (!(a->notes = range_map_new())) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (add_source(env, a, prov, &kind0, err, errlen))
		goto fail;
	if (a->run_cfg.prefetch_days > 0 &&
	    !(a->prefetch = prefetch_start(env->cache, kind0, prov->ntypes,
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
