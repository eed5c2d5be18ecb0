/*
 * The sources: one per merchant account, each its own provider, account, running cap, "closed
 * until" and fleet state, and the kinds (the API's types) they bring: source s's provider type
 * t is kind s->first + t. Kinds are numbered in the order sources are added and never
 * renumbered, so a type index a caller holds stays good for the life of the cache.
 *
 * Orphans: the recovery scan keeps a .meta whose keys no source has (an account not added yet,
 * or one removed from the mount's configuration) as an entry without a kind, so its files
 * count in the size budget and go by eviction or expiry like any other. cache_add_source
 * adopts the orphans whose keys are its own: they are served from then on, and one that was
 * mid-export resumes its task (never re-applies).
 */
#include "internal.h"
#include "entry/entry.h"
#include "fill/pool.h"
#include "fleet/fleet.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/log.h"

static void source_free(struct cache_source *s, struct cache_kind **kinds)
{
	for (size_t t = 0; kinds && t < s->ntypes; t++) {
		if (kinds[t])
			free(kinds[t]->report_type);
		free(kinds[t]);
	}
	free(s->account);
	free(s->store_prefix);
	free(s->store_writer);
	free(s);
}

void source_free_all(struct cache *c)
{
	for (size_t i = 0; i < c->nsources; i++)
		source_free(c->sources[i], c->kinds + c->sources[i]->first);
	free(c->sources);
	free(c->kinds);
	c->sources = NULL;
	c->kinds = NULL;
	c->nsources = c->nkinds = c->sources_cap = c->kinds_cap = 0;
}

/* The report_type of prov's type t in keys and requests. */
static const char *source_report_type(const struct provider *prov,
				      const struct cache_source_config *sc, size_t t)
{
	return t == 0 && sc->report_type0 ? sc->report_type0 : prov->types[t].report_type;
}

/* A source and its kinds (into kinds[0 .. prov->ntypes - 1]), not registered yet. NULL with
 * *err: -EINVAL (an account or report_type that may not be part of a key, two types with one
 * report_type), -ENOMEM. */
static struct cache_source *source_new(struct provider *prov,
				       const struct cache_source_config *sc,
				       struct cache_kind **kinds, int *err)
{
	struct cache_source *s = calloc(1, sizeof(*s));
	const char *account = sc->account ? sc->account : prov->account;

	*err = -ENOMEM;
	if (!s || !(s->account = strdup(account)))
		goto fail;
	s->prov = prov;
	s->ntypes = prov->ntypes;
	s->max_exports = sc->max_exports > 0 ? sc->max_exports : 0;
	s->fleet = sc->fleet;
	s->fleet_refuse = sc->fleet_refuse;
	s->fleet_ttl_s = sc->fleet_ttl_s;
	s->fleet_max_exports = sc->fleet_max_exports;
	s->fleet_rate_cap = sc->fleet_rate_cap;
	s->cred_gate = sc->check_credentials;
	if (sc->store) {
		*err = -EINVAL;
		if (!sc->store_prefix || !sc->store_writer)
			goto fail;
		*err = -ENOMEM;
		if (!(s->store_prefix = strdup(sc->store_prefix)) ||
		    !(s->store_writer = strdup(sc->store_writer)))
			goto fail;
		s->store = sc->store;
	}
	for (size_t t = 0; t < s->ntypes; t++) {
		const char *rt = source_report_type(prov, sc, t);
		*err = -EINVAL;
		if (!key_field_ok(rt))
			goto fail;
		for (size_t u = 0; u < t; u++)
			if (!strcmp(kinds[u]->report_type, rt))
				goto fail;
		*err = -ENOMEM;
		if (!(kinds[t] = calloc(1, sizeof(*kinds[t]))) ||
		    !(kinds[t]->report_type = strdup(rt)))
			goto fail;
		kinds[t]->src = s;
		kinds[t]->ptype = t;
		atomic_init(&kinds[t]->counts.n_bytes, 0);
		atomic_init(&kinds[t]->counts.n_store_bytes, 0);
	}
	*err = 0;
	return s;
fail:
	if (s)
		source_free(s, kinds);
	return NULL;
}

/* Make room for one more source and n more kinds. cache->lock held. 0 or -ENOMEM. */
static int source_room(struct cache *c, size_t n)
{
	if (c->nsources == c->sources_cap) {
		size_t cap = c->sources_cap ? c->sources_cap * 2 : 4;
		struct cache_source **v = realloc(c->sources, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		c->sources = v;
		c->sources_cap = cap;
	}
	if (c->nkinds + n > c->kinds_cap) {
		size_t cap = c->kinds_cap ? c->kinds_cap * 2 : 8;
		while (cap < c->nkinds + n)
			cap *= 2;
		struct cache_kind **v = realloc(c->kinds, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		c->kinds = v;
		c->kinds_cap = cap;
	}
	return 0;
}

/* Add s and its kinds to the tables. cache->lock held. 0, -EINVAL when another source's kind
 * has the same keys (they would share files), -ENOMEM. */
static int source_register(struct cache *c, struct cache_source *s, struct cache_kind **kinds)
{
	struct cache_key probe;
	int rc;

	for (size_t t = 0; t < s->ntypes; t++) {
		snprintf(probe.provider, sizeof(probe.provider), "%s", s->prov->name);
		snprintf(probe.account, sizeof(probe.account), "%s", s->account);
		snprintf(probe.report_type, sizeof(probe.report_type), "%s", kinds[t]->report_type);
		snprintf(probe.language, sizeof(probe.language), "%s", c->cfg.language);
		if (kind_of_key(c, &probe))
			return -EINVAL;
	}
	if ((rc = source_room(c, s->ntypes)) != 0)
		return rc;
	for (struct cache_source *o = c->by_account[account_bucket(s->prov->name, s->account)];
	     o; o = o->anext)
		if (!strcmp(o->account, s->account) && !strcmp(o->prov->name, s->prov->name))
			return -EINVAL; /* kind_of_key finds one source per account */
	s->first = c->nkinds;
	memcpy(c->kinds + c->nkinds, kinds, s->ntypes * sizeof(*kinds));
	c->nkinds += s->ntypes;
	c->sources[c->nsources++] = s;
	s->anext = c->by_account[account_bucket(s->prov->name, s->account)];
	c->by_account[account_bucket(s->prov->name, s->account)] = s;
	return 0;
}

/* Adopt the orphans whose keys are s's (the orphan index holds those of its account in one
 * bucket); resume those a flight had left mid-export. cache->lock held. */
static void source_adopt(struct cache *c, struct cache_source *s)
{
	struct entry **p = &c->orphans[account_bucket(s->prov->name, s->account)];
	int n = 0;

	while (*p) {
		struct entry *e = *p;
		struct cache_kind *k = NULL;
		struct cache_key key;
		/* okey is "provider\0account\0...": the other accounts of the bucket are told
		 * apart without building their keys. */
		const char *prov = e->okey, *acct = prov + strlen(prov) + 1;
		if (!strcmp(acct, s->account) && !strcmp(prov, s->prov->name) &&
		    entry_key(c, e, &key) == 0)
			k = source_kind_of_key(c, s, &key);
		if (!k) {
			p = &e->snext;
			continue;
		}
		*p = e->snext;
		entry_adopt(c, e, k);
		n++;
		pool_resume(c, e);
	}
	if (n)
		log_info("cache: account %s: %d entries found on disk", s->account, n);
}

int cache_add_source(struct cache *c, struct provider *prov, const struct cache_source_config *sc,
		     size_t *first)
{
	struct cache_kind **kinds;
	struct cache_source *s;
	int rc;

	if (!c || !prov || !prov->ops || !prov->types || prov->ntypes == 0 || !sc ||
	    !key_field_ok(prov->name) || !key_field_ok(sc->account ? sc->account : prov->account))
		return -EINVAL;
	if (!(kinds = calloc(prov->ntypes, sizeof(*kinds))))
		return -ENOMEM;
	if (!(s = source_new(prov, sc, kinds, &rc)))
		goto out;
	/* Before the source is known: its provider gets its share before its first request. */
	if ((rc = fleet_rate_start(c, s)) == 0) {
		pthread_mutex_lock(&c->lock);
		rc = source_register(c, s, kinds);
		if (rc == 0)
			source_adopt(c, s);
		pthread_mutex_unlock(&c->lock);
	}
	if (rc != 0)
		source_free(s, kinds);
	else if (first)
		*first = s->first;
out:
	free(kinds);
	return rc;
}
