/* The cache's figures, per export type and for the whole cache (cache_get_stats). */
#include "internal.h"

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
	out->flights_ready += k->n_ready;
	out->flights_failed += k->n_failed;
	for (int i = 0; i < CACHE_DURATION_NBOUNDS; i++)
		out->duration_le[i] += k->duration_le[i];
	out->duration_sum_s += k->duration_sum_s;
	out->bytes_downloaded += atomic_load(&k->n_bytes);
}

/* The figures of the types in [from, to). */
static void stats_of_types(struct cache *c, size_t from, size_t to, struct cache_stats *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&c->lock);
	for (size_t t = from; t < to; t++)
		stats_add_counts(&c->counts[t], out);
	for (struct entry *e = c->entries; e; e = e->next) {
		if (e->info.state == CACHE_ABSENT || e->type < from || e->type >= to)
			continue;
		out->entries++;
		if (e->info.state == CACHE_READY)
			out->total_size += e->info.size;
	}
	pthread_mutex_unlock(&c->lock);
}

/* Fleet mode's figures of this host. */
static void stats_fleet(struct cache *c, struct cache_stats *out)
{
	pthread_mutex_lock(&c->lock);
	out->fleet_alone = c->fleet_alone;
	out->fleet_alone_s = c->fleet_alone_total_s;
	if (c->fleet_alone)
		out->fleet_alone_s += (double)(cache_mono_ms() - c->fleet_alone_since_ms) / 1000.0;
	out->fleet_rate = c->fleet_rate;
	pthread_mutex_unlock(&c->lock);
}

void cache_get_stats(struct cache *c, struct cache_stats *out)
{
	stats_of_types(c, 0, c->ntypes, out);
	stats_fleet(c, out);
}

void cache_get_type_stats(struct cache *c, size_t type, struct cache_stats *out)
{
	if (type >= c->ntypes) {
		memset(out, 0, sizeof(*out));
		return;
	}
	stats_of_types(c, type, type + 1, out);
}
