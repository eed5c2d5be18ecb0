#include "path.h"

#include <stdio.h>
#include <string.h>

#define EXPORTS "/exports"

size_t path_file_count(const struct date_range *r, const struct path_layout *l)
{
	return date_range_split(r, l->max_range_days, NULL, 0);
}

int path_chunk(const struct date_range *r, const struct path_layout *l, size_t i,
	       struct date_range *chunk)
{
	struct date_range c;

	if (i >= path_file_count(r, l))
		return -1;
	c.start = date_add_days(&r->start, (int64_t)i * l->max_range_days);
	c.end = date_add_days(&c.start, l->max_range_days - 1);
	if (date_cmp(&c.end, &r->end) > 0)
		c.end = r->end;
	*chunk = c;
	return 0;
}

int path_file_name(const struct date_range *r, const struct path_layout *l, size_t t, size_t i,
		   const char *suffix, char name[PATH_NAME_MAX])
{
	struct date_range c;
	int len;

	if (t >= l->ntypes || path_chunk(r, l, i, &c))
		return -1;
	if (path_file_count(r, l) == 1) {
		len = snprintf(name, PATH_NAME_MAX, "%s%s", l->types[t].base_name, suffix);
	} else {
		char rs[DATE_RANGE_STR_LEN];
		date_range_format(&c, rs);
		len = snprintf(name, PATH_NAME_MAX, "%s-%s%s", l->types[t].base_name, rs, suffix);
	}
	return len > 0 && len < PATH_NAME_MAX ? 0 : -1;
}

void path_whole_suffix(const struct path_layout *l, size_t t, char suffix[16])
{
	snprintf(suffix, 16, ".%s", l->types[t].ext ? l->types[t].ext : "");
}

void path_export_label(const struct date_range *r, const struct path_layout *l, size_t t,
		       size_t i, char name[PATH_NAME_MAX])
{
	char suffix[16] = "";

	if (l->types[t].ext)
		path_whole_suffix(l, t, suffix);
	if (path_file_name(r, l, t, i, suffix, name))
		name[0] = '\0';
}

/* Whether tail ("-0002.json") names a numbered member of bundle type pt. */
static int numbered_tail(const struct provider_type *pt, const char *tail)
{
	if (!pt->numbered_ext || tail[0] != '-')
		return 0;
	for (int k = 1; k <= 4; k++)
		if (tail[k] < '0' || tail[k] > '9')
			return 0;
	if (!strncmp(tail + 1, "0000", 4) || tail[5] != '.')
		return 0;
	return !strcmp(tail + 6, pt->numbered_ext);
}

/* Whether tail is a suffix type pt shows: ".ext", a fixed member suffix or a numbered one. */
static int tail_ok(const struct provider_type *pt, const char *tail)
{
	if (pt->ext)
		return tail[0] == '.' && !strcmp(tail + 1, pt->ext);
	for (const char *const *sfx = pt->suffixes; sfx && *sfx; sfx++)
		if (!strcmp(tail, *sfx))
			return 1;
	return numbered_tail(pt, tail);
}

/* Find which file of range r is called name: its type, chunk and member. */
static int resolve_file(const struct date_range *r, const struct path_layout *l, const char *name,
			struct path_node *node)
{
	size_t n = path_file_count(r, l);
	size_t len = strlen(name);

	if (len >= PATH_NAME_MAX)
		return -1;
	for (size_t t = 0; t < l->ntypes; t++) {
		const struct provider_type *pt = &l->types[t];
		size_t blen = strlen(pt->base_name);
		const char *tail = name + blen;
		size_t i = 0;

		if (strncmp(name, pt->base_name, blen))
			continue;
		if (n > 1) {
			/* "-C..D" then the tail: C..D must be the chunk at its position. */
			char rs[DATE_RANGE_STR_LEN];
			struct date_range c;
			if (len < blen + DATE_RANGE_STR_LEN || tail[0] != '-')
				continue;
			memcpy(rs, tail + 1, DATE_RANGE_STR_LEN - 1);
			rs[DATE_RANGE_STR_LEN - 1] = '\0';
			if (date_range_parse(rs, &c, NULL))
				continue;
			int64_t off = date_to_days(&c.start) - date_to_days(&r->start);
			if (off < 0 || off % l->max_range_days)
				continue;
			i = (size_t)(off / l->max_range_days);
			if (path_chunk(r, l, i, &node->chunk) ||
			    date_cmp(&node->chunk.end, &c.end))
				continue;
			tail += DATE_RANGE_STR_LEN;
		} else {
			node->chunk = *r;
		}
		if (!tail_ok(pt, tail))
			continue;
		node->type = t;
		if (pt->ext)
			node->member[0] = '\0';
		else
			snprintf(node->member, sizeof(node->member), "%s%s", pt->base_name, tail);
		return 0;
	}
	return -1;
}

int path_resolve(const char *path, const struct path_layout *l, struct path_node *out,
		 const char **why)
{
	struct path_node node;
	const char *reason = NULL;

	memset(&node, 0, sizeof(node));
	if (!strcmp(path, "/")) {
		node.kind = PATH_ROOT;
		goto done;
	}
	if (strncmp(path, EXPORTS, strlen(EXPORTS)) ||
	    (path[strlen(EXPORTS)] != '\0' && path[strlen(EXPORTS)] != '/')) {
		reason = "not under /exports";
		goto fail;
	}
	const char *rest = path + strlen(EXPORTS);
	if (!*rest) {
		node.kind = PATH_EXPORTS;
		goto done;
	}
	rest++; /* skip '/' */
	const char *slash = strchr(rest, '/');
	size_t dlen = slash ? (size_t)(slash - rest) : strlen(rest);
	char dir[DATE_RANGE_STR_LEN];
	if (dlen != DATE_RANGE_STR_LEN - 1) {
		reason = "range name is not YYYY-MM-DD..YYYY-MM-DD";
		goto fail;
	}
	memcpy(dir, rest, dlen);
	dir[dlen] = '\0';
	if (date_range_parse(dir, &node.range, &reason))
		goto fail;
	if (!slash) {
		node.kind = PATH_RANGE_DIR;
		goto done;
	}
	const char *name = slash + 1;
	if (strchr(name, '/')) {
		reason = "no subdirectories inside a range";
		goto fail;
	}
	if (!strcmp(name, ".status")) {
		node.kind = PATH_STATUS;
		goto done;
	}
	if (resolve_file(&node.range, l, name, &node)) {
		reason = "no such file in this range";
		goto fail;
	}
	node.kind = PATH_EXPORT_FILE;
done:
	*out = node;
	return 0;
fail:
	if (why)
		*why = reason;
	return -1;
}
