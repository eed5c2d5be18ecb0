/* A listing's names; see name_list.h. */
#include "name_list.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void name_list_add_range(void *arg, const struct date_range *r)
{
	struct name_list *l = arg;
	size_t max = l->max ? l->max : NAME_LIST_MAX;

	if (l->err)
		return;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		void *p;
		if (cap > max)
			cap = max;
		p = cap > l->cap ? realloc(l->names, cap * sizeof(*l->names)) : NULL;
		if (!p) {
			l->err = -ENOMEM;
			return;
		}
		l->names = p;
		l->cap = cap;
	}
	date_range_format(r, l->names[l->n++]);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(a, b);
}

void name_list_finish(struct name_list *l)
{
	size_t out = 0;

	if (l->n == 0)
		return;
	qsort(l->names, l->n, sizeof(*l->names), cmp_names);
	for (size_t i = 1; i < l->n; i++)
		if (strcmp(l->names[i], l->names[out]) != 0)
			memmove(l->names[++out], l->names[i], sizeof(*l->names));
	l->n = out + 1;
}

void name_list_free(struct name_list *l)
{
	free(l->names);
	l->names = NULL;
	l->n = l->cap = 0;
	l->err = 0;
}
