#include "range_map.h"

#include "str_map.h"

/* Keyed by the range's own name, "YYYY-MM-DD..YYYY-MM-DD", so key order is date order. */

struct range_map *range_map_new(void)
{
	return (struct range_map *)str_map_new(sizeof(struct range_note));
}

void range_map_free(struct range_map *m)
{
	str_map_free((struct str_map *)m);
}

int range_map_get(struct range_map *m, const struct date_range *r, struct range_note *out)
{
	char key[DATE_RANGE_STR_LEN];
	date_range_format(r, key);
	return str_map_get((struct str_map *)m, key, out);
}

int range_map_put(struct range_map *m, const struct date_range *r, const struct range_note *n)
{
	char key[DATE_RANGE_STR_LEN];
	date_range_format(r, key);
	return str_map_put((struct str_map *)m, key, n);
}

int range_map_del(struct range_map *m, const struct date_range *r)
{
	char key[DATE_RANGE_STR_LEN];
	date_range_format(r, key);
	return str_map_del((struct str_map *)m, key);
}

struct mkdir_walk {
	void (*fn)(void *arg, const struct date_range *r);
	void *arg;
};

static void visit_mkdir(void *arg, const char *key, const void *value)
{
	const struct mkdir_walk *w = arg;
	const struct range_note *n = value;
	struct date_range r;
	if (n->made_by_mkdir && date_range_parse(key, &r, NULL) == 0)
		w->fn(w->arg, &r);
}

void range_map_foreach_mkdir(struct range_map *m,
			     void (*fn)(void *arg, const struct date_range *r), void *arg)
{
	struct mkdir_walk w = {fn, arg};
	str_map_foreach((struct str_map *)m, visit_mkdir, &w);
}
