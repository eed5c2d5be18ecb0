/* The cache's figures, per export type (kind) and for the whole cache (cache_get_stats). */
#include "internal.h"
#include "entry/entry.h"

#include <string.h>

/* Add one type's counters to out. cache->lock held. */
static void stats_add_counts(const struct cache_counts *k, struct cache_stats *out)
{
	out->applies += k->n_applies;
	out->fills_running += k->n_running;
	out->fills_queued += k->n_queued;
	out->hits += k->n_hits;
	out->misses += k->n_misses;
	out->errors += k->n_errors;
	out->err_io += k->n_err_io;
	out->err_timeout += k->n_err_timeout;
	out->err_nospc += k->n_err_nospc;
	out->err_invalid += k->n_err_invalid;
	out->err_again += k->n_err_again;
	out->err_other += k->n_err_other;
	out->nodata += k->n_nodata;
	out->prefetches += k->n_prefetches;
	out->refreshes += k->n_refreshes;
	out->flights_ready += k->n_ready;
	out->flights_failed += k->n_failed;
	for (int i = 0; i < CACHE_DURATION_NBOUNDS; i++)
		out->duration_le[i] += k->duration_le[i];
	out->duration_sum_s += k->duration_sum_s;
	out->bytes_downloaded += atomic_load(&k->n_bytes);
	out->store_hits += k->n_store_hits;
	out->store_misses += k->n_store_misses;
	out->store_uploads += k->n_store_uploads;
	out->store_errors += k->n_store_errors;
	out->store_auth_errors += k->n_store_auth;
	out->store_bytes += atomic_load(&k->n_store_bytes);
}

/* Count entry e into out. */
static void stats_entry(const struct entry *e, struct cache_stats *out)
{
	if (e->info.state == CACHE_ABSENT)
		return;
	out->entries++;
	if (e->info.state == CACHE_READY)
		out->total_size += e->info.size;
}

/* Source s's entries of types [first, first + n): a walk of its own list, never of the whole
 * table (a mount of many accounts renders one line each). cache->lock held. */
static void stats_source_entries(const struct cache_source *s, size_t first, size_t n,
				 struct cache_stats *out)
{
	for (const struct entry *e = s->entries; e; e = e->snext)
		if (e->type >= first && e->type - first < n)
			stats_entry(e, out);
}

/* Fleet mode's figures of source s, added to out's as cache_stats says. cache->lock held. */
static void stats_fleet(const struct cache_source *s, struct cache_stats *out)
{
	double alone_s = s->fleet_alone_total_s;

	if (s->fleet_alone)
		alone_s += (double)(cache_mono_ms() - s->fleet_alone_since_ms) / 1000.0;
	out->fleet_alone |= s->fleet_alone;
	if (alone_s > out->fleet_alone_s)
		out->fleet_alone_s = alone_s;
	out->fleet_rate += s->fleet_rate;
}

void cache_get_stats(struct cache *c, struct cache_stats *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&c->lock);
	for (size_t t = 0; t < c->nkinds; t++)
		stats_add_counts(&c->kinds[t]->counts, out);
	for (size_t i = 0; i < c->nsources; i++)
		stats_fleet(c->sources[i], out);
	for (const struct entry *e = c->entries; e; e = e->next) /* orphans too */
		stats_entry(e, out);
	pthread_mutex_unlock(&c->lock);
}

void cache_get_types_stats(struct cache *c, size_t first, size_t n, struct cache_stats *out)
{
	const struct cache_source *src = NULL;
	struct cache_kind *k;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&c->lock);
	for (size_t t = first; t - first < n && (k = kind_get(c, t)) != NULL; t++) {
		stats_add_counts(&k->counts, out);
		if (k->src != src) { /* one source's fleet figures and entries once */
			stats_fleet(src = k->src, out);
			stats_source_entries(src, first, n, out);
		}
	}
	pthread_mutex_unlock(&c->lock);
}

void cache_get_type_stats(struct cache *c, size_t type, struct cache_stats *out)
{
	cache_get_types_stats(c, type, 1, out);
}

void cache_stats_add(struct cache_stats *sum, const struct cache_stats *s)
{
	sum->applies += s->applies;
	sum->fills_running += s->fills_running;
	sum->fills_queued += s->fills_queued;
	sum->hits += s->hits;
	sum->misses += s->misses;
	sum->bytes_downloaded += s->bytes_downloaded;
	sum->total_size += s->total_size;
	sum->entries += s->entries;
	sum->errors += s->errors;
	sum->err_io += s->err_io;
	sum->err_timeout += s->err_timeout;
	sum->err_nospc += s->err_nospc;
	sum->err_invalid += s->err_invalid;
	sum->err_again += s->err_again;
	sum->err_other += s->err_other;
	sum->nodata += s->nodata;
	sum->prefetches += s->prefetches;
	sum->flights_ready += s->flights_ready;
	sum->flights_failed += s->flights_failed;
	for (int i = 0; i < CACHE_DURATION_NBOUNDS; i++)
		sum->duration_le[i] += s->duration_le[i];
	sum->duration_sum_s += s->duration_sum_s;
	sum->store_hits += s->store_hits;
	sum->store_misses += s->store_misses;
	sum->store_uploads += s->store_uploads;
	sum->store_bytes += s->store_bytes;
	sum->store_errors += s->store_errors;
	sum->store_auth_errors += s->store_auth_errors;
	/* Fleet figures as cache_get_stats adds sources up. */
	sum->fleet_alone |= s->fleet_alone;
	if (s->fleet_alone_s > sum->fleet_alone_s)
		sum->fleet_alone_s = s->fleet_alone_s;
	sum->fleet_rate += s->fleet_rate;
}
