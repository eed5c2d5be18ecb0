/* Per-path view of what the kernel was shown; the bound is explained in kernel_view.h. */
#include "kernel_view.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "str_map.h"

struct kernel_view {
	struct str_map *map; /* path -> struct kernel_file_view */
	size_t max_paths;
	int64_t attr_ttl_ms;
	int64_t (*now_ms)(void);
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct kernel_view *kernel_view_new(const struct kernel_view_limits *lim)
{
	struct kernel_view *v = calloc(1, sizeof(*v));

	if (!v)
		return NULL;
	v->map = str_map_new(sizeof(struct kernel_file_view));
	if (!v->map) {
		free(v);
		return NULL;
	}
	v->max_paths = lim && lim->max_paths ? lim->max_paths : KERNEL_VIEW_MAX_PATHS;
	v->attr_ttl_ms = lim ? lim->attr_ttl_ms : 1000;
	v->now_ms = lim && lim->now_ms ? lim->now_ms : mono_ms;
	return v;
}

void kernel_view_free(struct kernel_view *v)
{
	if (!v)
		return;
	str_map_free(v->map);
	free(v);
}

void kernel_view_get(struct kernel_view *v, const char *path, struct kernel_file_view *out)
{
	str_map_get(v->map, path, out);
}

/* Keep views noted after a cutoff time, and those with page-cache handles open (forgetting
 * them would let another content's open share their pages). */
static int noted_after(void *arg, const char *key, const void *value)
{
	const struct kernel_file_view *kv = value;
	(void)key;
	return kv->noted_ms > *(const int64_t *)arg || kv->cache_opens > 0;
}

struct time_list {
	int64_t *t;
	size_t n, cap;
};

static void collect_time(void *arg, const char *key, const void *value)
{
	struct time_list *l = arg;
	(void)key;
	if (l->n < l->cap)
		l->t[l->n++] = ((const struct kernel_file_view *)value)->noted_ms;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Make room for one more path: drop the expired views, then if that freed too little the
 * least recently noted half. */
static void make_room(struct kernel_view *v, int64_t now)
{
	int64_t cutoff = now - v->attr_ttl_ms;
	struct time_list l;

	str_map_prune(v->map, noted_after, &cutoff);
	if (str_map_count(v->map) < v->max_paths * 3 / 4)
		return;
	l.cap = str_map_count(v->map);
	l.n = 0;
	l.t = malloc(l.cap * sizeof(*l.t));
	if (!l.t)
		return; /* the insert may then fail with -ENOMEM: still safe */
	str_map_foreach(v->map, collect_time, &l);
	qsort(l.t, l.n, sizeof(*l.t), cmp_i64);
	cutoff = l.n ? l.t[l.n / 2] : now;
	free(l.t);
	str_map_prune(v->map, noted_after, &cutoff);
}

/* Before a path may be added: forget others if the view is full (approximate under
 * concurrency: a few adds may pass together). */
static void room_for(struct kernel_view *v, const char *path, int64_t now)
{
	struct kernel_file_view old;

	if (str_map_count(v->map) >= v->max_paths && str_map_get(v->map, path, &old) != 0)
		make_room(v, now);
}

int kernel_view_put(struct kernel_view *v, const char *path, const struct kernel_file_view *in)
{
	struct kernel_file_view kv = *in;

	kv.noted_ms = v->now_ms();
	room_for(v, path, kv.noted_ms);
	return str_map_put(v->map, path, &kv);
}

struct note_size {
	uint64_t size;
	int64_t now, fresh_ms;
};

static int note_size_fn(void *arg, void *value, int found)
{
	struct note_size *ns = arg;
	struct kernel_file_view *kv = value;

	if (found && kv->cache_opens > 0 && kv->held_size > ns->size)
		ns->size = kv->held_size; /* the page-cache readers' size, never less */
	if (found && kv->size_shown && kv->shown_size == ns->size &&
	    ns->now - kv->noted_ms < ns->fresh_ms)
		return 0; /* unchanged and fresh: spare the write */
	kv->size_shown = 1;
	kv->shown_size = ns->size;
	kv->noted_ms = ns->now;
	return 1;
}

uint64_t kernel_view_note_size(struct kernel_view *v, const char *path, uint64_t size)
{
	struct note_size ns = {size, v->now_ms(), v->attr_ttl_ms / 2 + 1};

	room_for(v, path, ns.now);
	str_map_update(v->map, path, note_size_fn, &ns);
	return ns.size;
}

struct open_decision {
	uint64_t size;
	const char *sha;
	int64_t now;
	enum kernel_open how;
	int keep;
};

static int open_fn(void *arg, void *value, int found)
{
	struct open_decision *d = arg;
	struct kernel_file_view *kv = value;

	d->keep = 0;
	if (!found || !kv->size_shown || kv->shown_size != d->size ||
	    (kv->cache_opens > 0 && (!d->sha[0] || strcmp(kv->cached_sha, d->sha) != 0))) {
		d->how = KERNEL_OPEN_DIRECT;
		return 0;
	}
	d->how = KERNEL_OPEN_CACHE;
	d->keep = d->sha[0] && strcmp(kv->cached_sha, d->sha) == 0;
	kv->cache_opens++;
	kv->held_size = d->size;
	if (!d->keep) {
		snprintf(kv->cached_sha, sizeof(kv->cached_sha), "%s", d->sha);
		kv->noted_ms = d->now;
	}
	return 1;
}

enum kernel_open kernel_view_open(struct kernel_view *v, const char *path, uint64_t size,
				  const char *sha, int *keep_cache)
{
	struct open_decision d = {size, sha, v->now_ms(), KERNEL_OPEN_DIRECT, 0};

	/* One step under the map's lock, so a getattr of the same path cannot interleave. */
	if (str_map_update(v->map, path, open_fn, &d) != 0)
		d.how = KERNEL_OPEN_DIRECT; /* not counted: the safe answer */
	*keep_cache = d.how == KERNEL_OPEN_DIRECT ? 0 : d.keep;
	return d.how;
}

static int close_fn(void *arg, void *value, int found)
{
	struct kernel_file_view *kv = value;

	(void)arg;
	if (!found || kv->cache_opens == 0)
		return 0;
	kv->cache_opens--;
	return 1;
}

void kernel_view_close(struct kernel_view *v, const char *path)
{
	str_map_update(v->map, path, close_fn, NULL);
}

size_t kernel_view_count(struct kernel_view *v)
{
	return str_map_count(v->map);
}
