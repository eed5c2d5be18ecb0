/*
 * The kinds (the API's types) looked up: by index, by the keys of a .meta (through the sources'
 * (provider, account) index), and the key of a kind's range. The sources and kinds are made by
 * cache_add_source (source.c, above); the table of entries below them looks kinds up here.
 * Caller holds cache->lock.
 */
#include "entry.h"

#include <string.h>

unsigned account_bucket(const char *provider, const char *account)
{
	unsigned h = 2166136261u;

	for (const char *p = provider; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	h = (h ^ '|') * 16777619u;
	for (const char *p = account; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return h & (ACCOUNT_BUCKETS - 1);
}

struct cache_kind *kind_get(const struct cache *c, size_t type)
{
	return type < c->nkinds ? c->kinds[type] : NULL;
}

int kind_key(const struct cache *c, const struct cache_kind *k, const struct date_range *r,
	     struct cache_key *key)
{
	return key_init(key, k->src->prov->name, k->src->account, k->report_type,
			c->cfg.language, r);
}

struct cache_kind *source_kind_of_key(const struct cache *c, const struct cache_source *s,
				      const struct cache_key *key)
{
	if (strcmp(key->language, c->cfg.language) != 0)
		return NULL;
	for (size_t t = 0; t < s->ntypes; t++)
		if (!strcmp(c->kinds[s->first + t]->report_type, key->report_type))
			return c->kinds[s->first + t];
	return NULL;
}

struct cache_kind *kind_of_key(const struct cache *c, const struct cache_key *key)
{
	const struct cache_source *s = c->by_account[account_bucket(key->provider, key->account)];

	for (; s; s = s->anext)
		if (!strcmp(s->account, key->account) && !strcmp(s->prov->name, key->provider))
			return source_kind_of_key(c, s, key);
	return NULL;
}
