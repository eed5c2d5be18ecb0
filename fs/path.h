/*
 * What a path in the orderfs tree names. Pure: no FUSE, no cache, no clock (today is passed in).
 *
 *   /                                  directory
 *   /exports                           directory of ranges
 *   /exports/A..B                      a range directory (A <= B, YYYY-MM-DD)
 *   /exports/A..B/orders.xlsx          the export, when the range fits one export
 *   /exports/A..B/orders-C..D.xlsx     one chunk of a range longer than one export allows
 *   /exports/A..B/.status              JSON state of the range's files
 */
#ifndef ORDERFS_PATH_H
#define ORDERFS_PATH_H

#include <stddef.h>

#include "../client/date.h"

enum path_kind {
	PATH_ROOT,
	PATH_EXPORTS,
	PATH_RANGE_DIR,
	PATH_EXPORT_FILE,
	PATH_STATUS,
};

struct path_layout {
	int max_range_days;    /* one export covers at most this many days */
	const char *base_name; /* "orders" */
	const char *ext;       /* "xlsx" */
};

struct path_node {
	enum path_kind kind;
	struct date_range range; /* RANGE_DIR, EXPORT_FILE, STATUS: the directory's range */
	struct date_range chunk; /* EXPORT_FILE: the range of this one file */
};

#define PATH_NAME_MAX 64

/*
 * Resolve an absolute path. 0, or -1 with a static reason in *why (for the debug log) when the
 * path names nothing: malformed or impossible range, start after end, unknown file name, a
 * chunk that is not one of the range's chunks. Window rules are not checked here.
 */
int path_resolve(const char *path, const struct path_layout *l, struct path_node *out,
		 const char **why);

/* How many export files a range holds (1 when it fits one export). */
size_t path_file_count(const struct date_range *r, const struct path_layout *l);

/* Name of file i (0-based) of range r and its chunk range. 0, or -1 if i is out of range. */
int path_file_name(const struct date_range *r, const struct path_layout *l, size_t i,
		   char name[PATH_NAME_MAX], struct date_range *chunk);

#endif
