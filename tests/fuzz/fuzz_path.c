/*
 * libFuzzer target: the path parser (fs/path.h) and what a path names (fs/node.h), over a
 * two-type layout like Clover's: a whole-file type (orders.xlsx) and a bundle type whose
 * members are fixed suffixes and numbered files (payments.csv, payments-0002.json).
 * Any byte string as a path below the mount (and as a bare "A..B" name, and as the argument of
 * `orderfs get`) must resolve or be refused, never crash, overrun or loop. A parsed range
 * prints back as itself. A file that resolves has the one name its node prints back to.
 * Whatever range resolves lists names, per type, for its first and last chunks, that resolve
 * back to the same type, chunk and member; one chunk past the end is refused.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/date.h"
#include "../../fs/node.h"
#include "../../fs/path.h"

#define FUZZ_PATH_MAX 4096
#define MAX_RANGE_DAYS 7 /* Vexora's; chunked names appear from an 8-day range on */

static const char *const bundle_suffixes[] = {".xlsx", ".jsonl", ".csv", NULL};
static const struct provider_type types[] = {
	{"ORDERS", "orders", "xlsx", NULL, NULL},
	{"PAYMENTS", "payments", NULL, bundle_suffixes, "json"},
};
static const struct path_layout layout = {MAX_RANGE_DAYS, types, 2};

/* What a listed name must resolve to. */
struct expect {
	const struct date_range *range;
	size_t type;
	struct date_range chunk;
	int listed; /* how many names the listing gave */
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same_range(const struct date_range *a, const struct date_range *b)
{
	return !date_cmp(&a->start, &b->start) && !date_cmp(&a->end, &b->end);
}

/* The node kind of p (an export file is a whole file or a bundle member). */
static enum node_kind node_kind_of(const struct path_node *p)
{
	switch (p->kind) {
	case PATH_ROOT:
		return NODE_ROOT;
	case PATH_EXPORTS:
		return NODE_EXPORTS;
	case PATH_RANGE_DIR:
		return NODE_RANGE_DIR;
	case PATH_STATUS:
		return NODE_STATUS;
	case PATH_EXPORT_FILE:
		break;
	}
	return p->member[0] ? NODE_MEMBER : NODE_WHOLE_FILE;
}

/* path_resolve and node_resolve of path agree: the same answer, the same node. 0 when path
 * names something in /exports or above. */
static int resolve_both(const char *path, struct path_node *p, struct node *n)
{
	const char *why_p = NULL, *why_n = NULL;
	int rp = path_resolve(path, &layout, p, &why_p);
	int rn = node_resolve(path, &layout, n, &why_n);

	if (!strcmp(path, NODE_STATS_PATH)) {
		if (rn != 0 || n->kind != NODE_STATS || !node_is_file(n))
			abort();
		return -1;
	}
	if (rp != 0 && rp != -1)
		abort();
	if (rn != (rp ? -ENOENT : 0) || (rp && (!why_p || !why_n)))
		abort(); /* a refusal always says why */
	if (rp)
		return -1;
	if (n->kind != node_kind_of(p) || node_is_export(n) != (p->kind == PATH_EXPORT_FILE))
		abort();
	if (p->kind == PATH_EXPORT_FILE &&
	    (n->type != p->type || strcmp(n->member, p->member) ||
	     !same_range(&n->chunk, &p->chunk) || !node_is_file(n)))
		abort();
	if (p->kind != PATH_ROOT && p->kind != PATH_EXPORTS && !same_range(&n->range, &p->range))
		abort();
	return 0;
}

/* A resolved export file's node prints back to the name it was resolved from: its member is
 * "" for a whole file, else the type's base name + the suffix the name ends in. */
static void check_round_trip(const char *path, const struct path_node *p)
{
	const struct provider_type *pt = &types[p->type];
	size_t blen = strlen(pt->base_name);
	int64_t off = date_to_days(&p->chunk.start) - date_to_days(&p->range.start);
	char whole[16], name[PATH_NAME_MAX];
	const char *suffix = p->member + blen;

	if (off < 0 || off % MAX_RANGE_DAYS)
		abort(); /* a chunk starts on a chunk boundary */
	if (pt->ext) {
		if (p->member[0])
			abort();
		path_whole_suffix(&layout, p->type, whole);
		suffix = whole;
	} else if (strncmp(p->member, pt->base_name, blen)) {
		abort();
	}
	if (path_file_name(&p->range, &layout, p->type, (size_t)(off / MAX_RANGE_DAYS), suffix,
			   name) ||
	    strcmp(name, strrchr(path, '/') + 1))
		abort();
}

/* A listed name of range e->range resolves to an export of e->type and e->chunk, and prints
 * back as itself. */
static int check_listed(void *arg, const char *name)
{
	struct expect *e = arg;
	char rs[DATE_RANGE_STR_LEN], path[FUZZ_PATH_MAX + 1];
	struct path_node p;
	struct node n;

	date_range_format(e->range, rs);
	snprintf(path, sizeof(path), "/exports/%s/%s", rs, name);
	if (resolve_both(path, &p, &n) || p.kind != PATH_EXPORT_FILE || p.type != e->type ||
	    !same_range(&p.chunk, &e->chunk))
		abort();
	check_round_trip(path, &p);
	e->listed++;
	return 0;
}

/* Chunk c, number i of count, of r: the chunks cover r once, in order, each at most
 * MAX_RANGE_DAYS long (r's first starts r, the next starts the day after c, r's last ends r). */
static void check_tiling(const struct date_range *r, size_t i, size_t count,
			 const struct date_range *c)
{
	struct date_range next;
	int64_t days = date_range_days(c);

	if (days < 1 || days > MAX_RANGE_DAYS || (i == 0 && date_cmp(&c->start, &r->start)))
		abort();
	if (i + 1 == count) {
		if (date_cmp(&c->end, &r->end))
			abort();
	} else if (path_chunk(r, &layout, i + 1, &next) ||
		   date_to_days(&next.start) != date_to_days(&c->end) + 1) {
		abort();
	}
}

/* Chunk i of count of r tiles r, and every name it shows, for each type, resolves back
 * (node_list_export lists the fixed ones; a numbered bundle member is added by hand). */
static void check_chunk(const struct date_range *r, size_t i, size_t count)
{
	struct expect e = {r, 0, {{0, 0, 0}, {0, 0, 0}}, 0};
	char name[PATH_NAME_MAX];

	if (path_chunk(r, &layout, i, &e.chunk))
		abort();
	check_tiling(r, i, count, &e.chunk);
	for (e.type = 0; e.type < layout.ntypes; e.type++) {
		e.listed = 0;
		if (node_list_export(r, &layout, e.type, i, NULL, check_listed, &e) != 0 ||
		    e.listed == 0)
			abort(); /* every type shows at least one file per chunk */
		path_export_label(r, &layout, e.type, i, name);
		if (!name[0])
			abort();
		if (types[e.type].numbered_ext &&
		    !path_file_name(r, &layout, e.type, i, "-0002.json", name))
			check_listed(&e, name);
	}
}

/* `orderfs get ARG` answers 0, -EINVAL or -ENOENT; a member it names is one of its type's. */
static void check_get_target(const char *arg)
{
	char range[DATE_RANGE_STR_LEN], member[PATH_NAME_MAX];
	size_t t;
	int rc = node_get_target(arg, &layout, range, &t, member);

	if (rc != 0 && rc != -EINVAL && rc != -ENOENT)
		abort();
	if (rc == 0 &&
	    (t >= layout.ntypes || strlen(range) != DATE_RANGE_STR_LEN - 1 ||
	     (member[0] && strncmp(member, types[t].base_name, strlen(types[t].base_name)))))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct date today = {2026, 5, 20};
	char path[FUZZ_PATH_MAX + 1], name[PATH_NAME_MAX], back[DATE_RANGE_STR_LEN];
	struct path_node p;
	struct node n;
	struct date_range r, chunk;
	struct date d;
	const char *why = NULL;
	size_t count;

	if (size > FUZZ_PATH_MAX)
		return 0;
	memcpy(path, data, size);
	path[size] = '\0';
	(void)date_parse(path, size, &d);
	if (date_range_parse(path, &r, &why) == 0) {
		date_range_format(&r, back);
		if (strcmp(back, path) != 0)
			abort(); /* a parsed range prints back as itself */
	}
	check_get_target(path);
	if (resolve_both(path, &p, &n) != 0)
		return 0;
	(void)node_reachable(&n, &today, 3, &why);
	if (p.kind == PATH_EXPORT_FILE)
		check_round_trip(path, &p);
	if (p.kind == PATH_ROOT || p.kind == PATH_EXPORTS)
		return 0;
	count = path_file_count(&p.range, &layout);
	if (count == 0)
		abort();
	/* The first two and last two chunks of the range. */
	for (size_t i = 0; i < count && i < 4; i++)
		check_chunk(&p.range, count <= 4 || i < 2 ? i : count - (4 - i), count);
	if (path_chunk(&p.range, &layout, count, &chunk) == 0 ||
	    path_file_name(&p.range, &layout, 0, count, ".xlsx", name) == 0)
		abort(); /* one past the end is refused */
	return 0;
}
