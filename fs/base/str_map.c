#include "str_map.h"
#include "bsearch.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct str_slot {
	char *key;
	void *value;
};

struct str_map {
	pthread_mutex_t lock; /* protects slots, n, cap */
	size_t value_size;
	struct str_slot *slots; /* sorted by key */
	size_t n, cap;
};

struct str_map *str_map_new(size_t value_size)
{
	struct str_map *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	pthread_mutex_init(&m->lock, NULL);
	m->value_size = value_size;
	return m;
}

void str_map_free(struct str_map *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++) {
		free(m->slots[i].key);
		free(m->slots[i].value);
	}
	free(m->slots);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

/* The key a find_slot looks for. */
struct slot_key {
	const struct str_map *m;
	const char *key;
};

static int slot_cmp(const void *ctx, size_t i)
{
	const struct slot_key *k = ctx;
	return strcmp(k->m->slots[i].key, k->key);
}

/* Index of key, or of where it would go; *found says which. Lock held. */
static size_t find_slot(const struct str_map *m, const char *key, int *found)
{
	struct slot_key k = {m, key};
	return bsearch_index(m->n, slot_cmp, &k, found);
}

int str_map_get(struct str_map *m, const char *key, void *out)
{
	int found;
	pthread_mutex_lock(&m->lock);
	size_t i = find_slot(m, key, &found);
	if (found)
		memcpy(out, m->slots[i].value, m->value_size);
	else
		memset(out, 0, m->value_size);
	pthread_mutex_unlock(&m->lock);
	return found ? 0 : -1;
}

/* Insert key at slot i (lock held, key absent). 0 or -ENOMEM. */
static int insert_at(struct str_map *m, size_t i, const char *key, const void *value)
{
	char *k = NULL;
	void *v = NULL;

	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64;
		struct str_slot *s = realloc(m->slots, cap * sizeof(*s));
		if (!s)
			return -ENOMEM;
		m->slots = s;
		m->cap = cap;
	}
	k = strdup(key);
	v = malloc(m->value_size ? m->value_size : 1);
	if (!k || !v) {
		free(k);
		free(v);
		return -ENOMEM;
	}
	memcpy(v, value, m->value_size);
	memmove(&m->slots[i + 1], &m->slots[i], (m->n - i) * sizeof(*m->slots));
	m->slots[i].key = k;
	m->slots[i].value = v;
	m->n++;
	return 0;
}

int str_map_put(struct str_map *m, const char *key, const void *value)
{
	int found, rc = 0;

	pthread_mutex_lock(&m->lock);
	size_t i = find_slot(m, key, &found);
	if (found)
		memcpy(m->slots[i].value, value, m->value_size);
	else
		rc = insert_at(m, i, key, value);
	pthread_mutex_unlock(&m->lock);
	return rc;
}

int str_map_update(struct str_map *m, const char *key,
		   int (*fn)(void *arg, void *value, int found), void *arg)
{
	int found, rc = 0;
	void *tmp = calloc(1, m->value_size ? m->value_size : 1);

	if (!tmp)
		return -ENOMEM;
	pthread_mutex_lock(&m->lock);
	size_t i = find_slot(m, key, &found);
	if (found)
		memcpy(tmp, m->slots[i].value, m->value_size);
	if (fn(arg, tmp, found)) {
		if (found)
			memcpy(m->slots[i].value, tmp, m->value_size);
		else
			rc = insert_at(m, i, key, tmp);
	}
	pthread_mutex_unlock(&m->lock);
	free(tmp);
	return rc;
}

int str_map_del(struct str_map *m, const char *key)
{
	int found;
	pthread_mutex_lock(&m->lock);
	size_t i = find_slot(m, key, &found);
	if (found) {
		free(m->slots[i].key);
		free(m->slots[i].value);
		memmove(&m->slots[i], &m->slots[i + 1], (m->n - i - 1) * sizeof(*m->slots));
		m->n--;
	}
	pthread_mutex_unlock(&m->lock);
	return found ? 0 : -1;
}

void str_map_foreach(struct str_map *m,
		     void (*fn)(void *arg, const char *key, const void *value), void *arg)
{
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->n; i++)
		fn(arg, m->slots[i].key, m->slots[i].value);
	pthread_mutex_unlock(&m->lock);
}

size_t str_map_prune(struct str_map *m, int (*keep)(void *arg, const char *key, const void *value),
		     void *arg)
{
	size_t out = 0, removed;

	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->n; i++) {
		if (keep(arg, m->slots[i].key, m->slots[i].value)) {
			m->slots[out++] = m->slots[i]; /* order is kept: still sorted */
			continue;
		}
		free(m->slots[i].key);
		free(m->slots[i].value);
	}
	removed = m->n - out;
	m->n = out;
	pthread_mutex_unlock(&m->lock);
	return removed;
}

size_t str_map_count(struct str_map *m)
{
	size_t n;

	pthread_mutex_lock(&m->lock);
	n = m->n;
	pthread_mutex_unlock(&m->lock);
	return n;
}
