/*
 * A sorted array of (start, end) day numbers, binary-searched: 12 bytes a range and no
 * allocation per range, because a script that stats every range of a long window (Mogujie's
 * 12 months hold ~66,000) pins every one of them.
 */
#include "range_map.h"
#include "bsearch.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct range_slot {
	int32_t start, end; /* days since 1970-01-01: key order is date order */
	struct range_note note;
};

struct range_map {
	pthread_mutex_t lock; /* protects slots, n, cap */
	struct range_slot *slots;
	size_t n, cap;
};

struct range_map *range_map_new(void)
{
	struct range_map *m = calloc(1, sizeof(*m));

	if (m)
		pthread_mutex_init(&m->lock, NULL);
	return m;
}

void range_map_free(struct range_map *m)
{
	if (!m)
		return;
	free(m->slots);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

/* The range a find_slot looks for, as day numbers. */
struct slot_key {
	const struct range_map *m;
	int32_t start, end;
};

static int slot_cmp(const void *ctx, size_t i)
{
	const struct slot_key *k = ctx;
	const struct range_slot *s = &k->m->slots[i];
	if (s->start != k->start)
		return s->start < k->start ? -1 : 1;
	return (s->end > k->end) - (s->end < k->end);
}

/* Index of r, or of where it would go; *found says which. Lock held. */
static size_t find_slot(const struct range_map *m, const struct date_range *r, int *found)
{
	struct slot_key k = {m, (int32_t)date_to_days(&r->start), (int32_t)date_to_days(&r->end)};
	return bsearch_index(m->n, slot_cmp, &k, found);
}

int range_map_get(struct range_map *m, const struct date_range *r, struct range_note *out)
{
	int found;

	pthread_mutex_lock(&m->lock);
	size_t i = find_slot(m, r, &found);
	if (found)
		*out = m->slots[i].note;
	else
		memset(out, 0, sizeof(*out));
	pthread_mutex_unlock(&m->lock);
	return found ? 0 : -1;
}

int range_map_put(struct range_map *m, const struct date_range *r, const struct range_note *n)
{
	int found, rc = 0;

	pthread_mutex_lock(&m->lock);
	size_t i = find_slot(m, r, &found);
	if (found) {
		m->slots[i].note = *n;
		goto out;
	}
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64;
		struct range_slot *s = realloc(m->slots, cap * sizeof(*s));
		if (!s) {
			rc = -ENOMEM;
			goto out;
		}
		m->slots = s;
		m->cap = cap;
	}
	memmove(&m->slots[i + 1], &m->slots[i], (m->n - i) * sizeof(*m->slots));
	m->slots[i].start = (int32_t)date_to_days(&r->start);
	m->slots[i].end = (int32_t)date_to_days(&r->end);
	m->slots[i].note = *n;
	m->n++;
out:
	pthread_mutex_unlock(&m->lock);
	return rc;
}

int range_map_del(struct range_map *m, const struct date_range *r)
{
	int found;

	pthread_mutex_lock(&m->lock);
	size_t i = find_slot(m, r, &found);
	if (found) {
		memmove(&m->slots[i], &m->slots[i + 1], (m->n - i - 1) * sizeof(*m->slots));
		m->n--;
	}
	pthread_mutex_unlock(&m->lock);
	return found ? 0 : -1;
}

void range_map_foreach_mkdir(struct range_map *m,
			     void (*fn)(void *arg, const struct date_range *r), void *arg)
{
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->n; i++) {
		struct date_range r;
		if (!m->slots[i].note.made_by_mkdir)
			continue;
		r.start = date_from_days(m->slots[i].start);
		r.end = date_from_days(m->slots[i].end);
		fn(arg, &r);
	}
	pthread_mutex_unlock(&m->lock);
}

size_t range_map_count(struct range_map *m)
{
	size_t n;

	pthread_mutex_lock(&m->lock);
	n = m->n;
	pthread_mutex_unlock(&m->lock);
	return n;
}
