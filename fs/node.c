#include "node.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

int node_resolve(const char *path, const struct path_layout *l, struct node *out,
		 const char **why)
{
	struct path_node p;
	const char *reason = NULL;

	memset(out, 0, sizeof(*out));
	if (!strcmp(path, NODE_STATS_PATH)) {
		out->kind = NODE_STATS;
		return 0;
	}
	if (path_resolve(path, l, &p, &reason)) {
		if (why)
			*why = reason;
		return -ENOENT;
	}
	static const enum node_kind kinds[] = {
		[PATH_ROOT] = NODE_ROOT,	 [PATH_EXPORTS] = NODE_EXPORTS,
		[PATH_RANGE_DIR] = NODE_RANGE_DIR, [PATH_EXPORT_FILE] = NODE_WHOLE_FILE,
		[PATH_STATUS] = NODE_STATUS,
	};
	out->kind = kinds[p.kind];
	if (p.kind == PATH_EXPORT_FILE && p.member[0])
		out->kind = NODE_MEMBER;
	out->range = p.range;
	out->chunk = p.chunk;
	out->type = p.type;
	memcpy(out->member, p.member, sizeof(out->member));
	return 0;
}

int node_is_export(const struct node *n)
{
	return n->kind == NODE_WHOLE_FILE || n->kind == NODE_MEMBER;
}

int node_is_file(const struct node *n)
{
	return node_is_export(n) || n->kind == NODE_STATUS || n->kind == NODE_STATS ||
	       n->kind == NODE_ACCOUNT_STATUS;
}

int node_in_window(const struct date_range *r, const struct date *today, int window_months,
		   const char **why)
{
	struct date earliest = date_sub_months(today, window_months);

	if (date_cmp(&r->start, &earliest) < 0) {
		*why = "starts before the exportable window";
		return 0;
	}
	if (date_cmp(&r->end, today) > 0) {
		*why = "ends in the future";
		return 0;
	}
	return 1;
}

int node_reachable(const struct node *n, const struct date *today, int window_months,
		   const char **why)
{
	if (n->kind == NODE_ROOT || n->kind == NODE_EXPORTS || n->kind == NODE_STATS ||
	    n->kind == NODE_ACCOUNT_STATUS)
		return 1;
	return node_in_window(&n->range, today, window_months, why);
}

int node_member_extent(const struct bundle_index *ix, const char *member, uint64_t *offset,
		       uint64_t *size)
{
	const struct bundle_member *m = bundle_index_find(ix, member);

	if (!m)
		return -ENOENT;
	*offset = m->offset;
	*size = m->size;
	return 0;
}

/* The file of export i of type t in r whose name ends in suffix, given to fn. 0, or 1 when fn
 * stopped the listing. A name that does not fit is left out. */
static int list_one(const struct date_range *r, const struct path_layout *l, size_t t, size_t i,
		    const char *suffix, node_name_fn fn, void *arg)
{
	char name[PATH_NAME_MAX];

	return !path_file_name(r, l, t, i, suffix, name) && fn(arg, name) ? 1 : 0;
}

int node_list_export(const struct date_range *r, const struct path_layout *l, size_t t, size_t i,
		     const struct bundle_index *ix, node_name_fn fn, void *arg)
{
	const struct provider_type *pt = &l->types[t];
	size_t blen = strlen(pt->base_name);
	char suffix[16];
	int full = 0;

	if (pt->ext) {
		path_whole_suffix(l, t, suffix);
		return list_one(r, l, t, i, suffix, fn, arg);
	}
	if (ix) {
		for (size_t k = 0; k < ix->n && !full; k++) {
			const char *m = ix->members[k].name;
			if (!strncmp(m, pt->base_name, blen)) /* else not a name this type shows */
				full = list_one(r, l, t, i, m + blen, fn, arg);
		}
		return full;
	}
	for (const char *const *sfx = pt->suffixes; sfx && *sfx && !full; sfx++)
		full = list_one(r, l, t, i, *sfx, fn, arg);
	return full;
}

int node_get_target(const char *arg, const struct path_layout *l, char range[DATE_RANGE_STR_LEN],
		    size_t *t, char member[PATH_NAME_MAX])
{
	const char *slash = strchr(arg, '/');
	size_t rlen = slash ? (size_t)(slash - arg) : strlen(arg);
	char path[PATH_MAX];
	struct node n;

	*t = 0;
	member[0] = '\0';
	if (rlen != DATE_RANGE_STR_LEN - 1)
		return -EINVAL;
	snprintf(range, DATE_RANGE_STR_LEN, "%.*s", (int)rlen, arg);
	if (!slash) {
		const struct provider_type *pt = &l->types[0];
		if (!pt->ext && pt->suffixes && pt->suffixes[0])
			snprintf(member, PATH_NAME_MAX, "%s%s", pt->base_name, pt->suffixes[0]);
		return 0;
	}
	snprintf(path, sizeof(path), "/exports/%s", arg);
	if (node_resolve(path, l, &n, NULL) || !node_is_export(&n))
		return -ENOENT;
	*t = n.type;
	snprintf(member, PATH_NAME_MAX, "%s", n.member);
	date_range_format(&n.chunk, range); /* a chunk's file names the chunk's export */
	return 0;
}
