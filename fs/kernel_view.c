#include "kernel_view.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct view_slot {
	char *path;
	struct kernel_file_view view;
};

struct kernel_view {
	pthread_mutex_t lock; /* protects slots, n, cap */
	struct view_slot *slots; /* sorted by path */
	size_t n, cap;
};

struct kernel_view *kernel_view_new(void)
{
	struct kernel_view *v = calloc(1, sizeof(*v));
	if (v)
		pthread_mutex_init(&v->lock, NULL);
	return v;
}

void kernel_view_free(struct kernel_view *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n; i++)
		free(v->slots[i].path);
	free(v->slots);
	pthread_mutex_destroy(&v->lock);
	free(v);
}

/* Index of path or of where it would go; *found says which. Lock held. */
static size_t find_slot(const struct kernel_view *v, const char *path, int *found)
{
	size_t lo = 0, hi = v->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(v->slots[mid].path, path);
		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = 0;
	return lo;
}

void kernel_view_get(struct kernel_view *v, const char *path, struct kernel_file_view *out)
{
	int found;
	pthread_mutex_lock(&v->lock);
	size_t i = find_slot(v, path, &found);
	if (found)
		*out = v->slots[i].view;
	else
		memset(out, 0, sizeof(*out));
	pthread_mutex_unlock(&v->lock);
}

int kernel_view_put(struct kernel_view *v, const char *path, const struct kernel_file_view *in)
{
	int found, rc = 0;
	pthread_mutex_lock(&v->lock);
	size_t i = find_slot(v, path, &found);
	if (found) {
		v->slots[i].view = *in;
		goto out;
	}
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 64;
		struct view_slot *s = realloc(v->slots, cap * sizeof(*s));
		if (!s) {
			rc = -ENOMEM;
			goto out;
		}
		v->slots = s;
		v->cap = cap;
	}
	char *copy = strdup(path);
	if (!copy) {
		rc = -ENOMEM;
		goto out;
	}
	memmove(&v->slots[i + 1], &v->slots[i], (v->n - i) * sizeof(*v->slots));
	v->slots[i].path = copy;
	v->slots[i].view = *in;
	v->n++;
out:
	pthread_mutex_unlock(&v->lock);
	return rc;
}
