/*
 * What a path in the orderfs tree names. Pure: no FUSE, no cache, no clock (today is passed in).
 *
 *   /                                  directory
 *   /exports                           directory of ranges
 *   /exports/A..B                      a range directory (A <= B, YYYY-MM-DD)
 *   /exports/A..B/orders.xlsx          the export, when the range fits one export
 *   /exports/A..B/orders-C..D.xlsx     one chunk of a range longer than one export allows
 *   /exports/A..B/.status              JSON state of the range's files
 *
 * Each of the provider's types (client/provider.h) has its own files. A whole-file type shows
 * base.ext as above. A bundle type shows its members: base + suffix ("orders.csv",
 * "orders-0002.json"), and for a chunk of a long range base-C..D + suffix
 * ("orders-2026-01-01..2026-01-30.csv", "orders-2026-01-01..2026-01-30-0002.json").
 */
#ifndef ORDERFS_PATH_H
#define ORDERFS_PATH_H

#include <stddef.h>

#include "../common/date.h"
#include "../client/provider.h"

enum path_kind {
	PATH_ROOT,
	PATH_EXPORTS,
	PATH_RANGE_DIR,
	PATH_EXPORT_FILE,
	PATH_STATUS,
};

struct path_layout {
	int max_range_days;		   /* one export covers at most this many days */
	const struct provider_type *types; /* the provider's types */
	size_t ntypes;
};

#define PATH_NAME_MAX 96

struct path_node {
	enum path_kind kind;
	struct date_range range;    /* RANGE_DIR, EXPORT_FILE, STATUS: the directory's range */
	struct date_range chunk;    /* EXPORT_FILE: the range of this one file's export */
	size_t type;		    /* EXPORT_FILE: index in layout types */
	char member[PATH_NAME_MAX]; /* EXPORT_FILE of a bundle type: the member ("orders.csv");
				     * "" for a whole-file type */
};

/*
 * Resolve an absolute path. 0, or -1 with a static reason in *why (for the debug log) when the
 * path names nothing: malformed or impossible range, start after end, unknown file name, a
 * chunk that is not one of the range's chunks. Window rules are not checked here.
 */
int path_resolve(const char *path, const struct path_layout *l, struct path_node *out,
		 const char **why);

/* How many exports (chunks) a range needs per type (1 when it fits one export). */
size_t path_file_count(const struct date_range *r, const struct path_layout *l);

/* The range of chunk i of r. 0, or -1 if i is out of range. */
int path_chunk(const struct date_range *r, const struct path_layout *l, size_t i,
	       struct date_range *chunk);

/*
 * Name of a file of type t in chunk i of r: base + ("-C..D" when r has several chunks) +
 * suffix, where suffix is "." ext for a whole-file type and the member name without the base
 * for a bundle member. 0, or -1 if i is out of range or the name does not fit.
 */
int path_file_name(const struct date_range *r, const struct path_layout *l, size_t t, size_t i,
		   const char *suffix, char name[PATH_NAME_MAX]);

/* The whole-file type's suffix ".ext" (t must be whole-file). */
void path_whole_suffix(const struct path_layout *l, size_t t, char suffix[16]);

/* What .status calls the export of type t, chunk i: the file name for a whole-file type,
 * base or base-C..D for a bundle. */
void path_export_label(const struct date_range *r, const struct path_layout *l, size_t t,
		       size_t i, char name[PATH_NAME_MAX]);

#endif
