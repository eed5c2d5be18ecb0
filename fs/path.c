#include "path.h"

#include <stdio.h>
#include <string.h>

#define EXPORTS "/exports"

size_t path_file_count(const struct date_range *r, const struct path_layout *l)
{
	return date_range_split(r, l->max_range_days, NULL, 0);
}

int path_file_name(const struct date_range *r, const struct path_layout *l, size_t i,
		   char name[PATH_NAME_MAX], struct date_range *chunk)
{
	size_t n = path_file_count(r, l);
	struct date_range c;

	if (i >= n)
		return -1;
	c.start = date_add_days(&r->start, (int64_t)i * l->max_range_days);
	c.end = date_add_days(&c.start, l->max_range_days - 1);
	if (date_cmp(&c.end, &r->end) > 0)
		c.end = r->end;
	if (n == 1) {
		snprintf(name, PATH_NAME_MAX, "%s.%s", l->base_name, l->ext);
	} else {
		char rs[DATE_RANGE_STR_LEN];
		date_range_format(&c, rs);
		snprintf(name, PATH_NAME_MAX, "%s-%s.%s", l->base_name, rs, l->ext);
	}
	if (chunk)
		*chunk = c;
	return 0;
}

/* Find which file of range r is called name. */
static int resolve_file(const struct date_range *r, const struct path_layout *l, const char *name,
			struct date_range *chunk)
{
	size_t n = path_file_count(r, l);
	char candidate[PATH_NAME_MAX];

	if (strlen(name) >= PATH_NAME_MAX)
		return -1;
	if (n == 1)
		return path_file_name(r, l, 0, candidate, chunk) == 0 && !strcmp(candidate, name)
			       ? 0
			       : -1;
	/* "orders-C..D.xlsx": parse C..D and check it is the chunk at its position. */
	size_t blen = strlen(l->base_name);
	size_t elen = strlen(l->ext);
	size_t len = strlen(name);
	if (len != blen + 1 + 22 + 1 + elen || strncmp(name, l->base_name, blen) ||
	    name[blen] != '-' || name[blen + 23] != '.' || strcmp(name + blen + 24, l->ext))
		return -1;
	char rs[23];
	memcpy(rs, name + blen + 1, 22);
	rs[22] = '\0';
	struct date_range c;
	if (date_range_parse(rs, &c, NULL))
		return -1;
	int64_t off = date_to_days(&c.start) - date_to_days(&r->start);
	if (off < 0 || off % l->max_range_days)
		return -1;
	if (path_file_name(r, l, (size_t)(off / l->max_range_days), candidate, chunk))
		return -1;
	return strcmp(candidate, name) ? -1 : 0;
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
	if (resolve_file(&node.range, l, name, &node.chunk)) {
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
