/*
 * What the shared store's reader (../shared/shared.c), its uploader
 * (../shared/shared_upload.c) and the fill's commit (../fill/fill_steps.c) share: an entry's
 * pointer and object keys, what a pointer gives the entry it fills (its fields, how long a
 * store-kept file is kept), and a failed store call counted. Below the reader, which commits
 * through the fill's steps, so the commit reaches these without calling up into it.
 */
#include "shared_pointer.h"
#include "entry.h"

#include <stdio.h>
#include <string.h>

#include "../../client/store/s3.h"
#include "../../client/store/s3_pointer.h"
#include "fresh.h"

/* The entry's pointer key: "<prefix>/ranges/A..B/<report_type>/<language>/<name>.json".
 * 0 or -1 (a field keys cannot hold: that kind is not shared). */
int shared_pointer_key(const struct entry *e, const char *language, char *out)
{
	const struct provider_type *t = &e->kind->src->prov->types[e->kind->ptype];
	char file[S3_KEY_MAX], range[DATE_RANGE_STR_LEN];
	int n;

	n = snprintf(file, sizeof(file), "%s/%s/%s.%s", e->kind->report_type,
		     language[0] ? language : "-", t->base_name, t->ext ? t->ext : "bundle");
	if (n <= 0 || (size_t)n >= sizeof(file))
		return -1;
	date_range_format(&e->range, range);
	n = snprintf(out, S3_KEY_MAX, "%s/ranges/%s/%s.json", e->kind->src->store_prefix, range,
		     file);
	return n > 0 && n < S3_KEY_MAX && s3_key_ok(out) ? 0 : -1;
}

int shared_object_key(const struct cache_source *s, const char *sha, char *out)
{
	int n = snprintf(out, S3_KEY_MAX, "%s/%s", s->store_prefix, sha);

	return n > 0 && n < S3_KEY_MAX && s3_sha256_ok(sha) && s3_key_ok(out) ? 0 : -1;
}

/* Count a store call that failed with err (cache->lock taken) and make it the source's
 * store_error. 1 when that changed it (a new outage or a new kind of failure: worth a log
 * line), 0 when the store keeps failing the same way (logged once, not at every flight). */
int shared_count_error(struct cache *c, struct cache_kind *k,
			      const struct client_error *err)
{
	int changed;

	pthread_mutex_lock(&c->lock);
	k->counts.n_store_errors++;
	if (err->kind == CLIENT_E_AUTH)
		k->counts.n_store_auth++;
	changed = strcmp(k->src->store_error, err->msg) != 0;
	snprintf(k->src->store_error, sizeof(k->src->store_error), "%s", err->msg);
	pthread_mutex_unlock(&c->lock);
	return changed;
}

int64_t shared_keep_until(const struct cache *c, const struct cache_source *src,
			  const struct entry *e, int64_t expires, int64_t as_of)
{
	struct fresh_rule rule = {c->cfg.settle_delay_s, c->cfg.open_ttl_s};
	int64_t kept;

	if (!src->store || c->cfg.store_keep_days <= 0 || expires == 0 || as_of <= 0 ||
	    !fresh_complete(src->prov->zone, &e->range, as_of, &rule))
		return expires;
	kept = as_of + (int64_t)c->cfg.store_keep_days * 86400;
	return kept > expires ? kept : expires;
}

void shared_take_fields(struct cache *c, struct entry *e, const struct s3_pointer *p)
{
	struct entry_info *i = &e->info;

	pthread_mutex_lock(&c->lock);
	i->applied_time = p->as_of;
	i->expires = p->expires;
	i->finish_time = 0;
	/* The task the file came from: the credential gate (accounts_dir) asks the provider
	 * about it, so the store never vouches for an account's credentials. An entry that
	 * cannot hold it (out of memory) keeps none, and the gate then asks for another. */
	(void)entry_str_set(&i->task_id, p->task_id);
	(void)entry_str_set(&i->server_name, "");
	i->items_done = i->items_total = 0;
	pthread_mutex_unlock(&c->lock);
}

void shared_entry_object(const struct entry *e, char *out, size_t cap)
{
	char sha[KEY_HASH_LEN], key[S3_KEY_MAX];

	out[0] = '\0';
	if (!e->kind || !e->kind->src->store || !e->info.has_sha256)
		return;
	entry_sha256_hex(&e->info, sha);
	if (shared_object_key(e->kind->src, sha, key) == 0 && strlen(key) < cap)
		memcpy(out, key, strlen(key) + 1);
}
