/*
 * What a path of the mount names, and where a bundle member lies in its bundle: the part of
 * the FUSE ops that needs no mount, no cache and no clock (today and the bundle index are
 * passed in), so unit tests cover every kind of path. path.h parses the names; this adds
 * /.stats, the exportable window, the split of export files into whole files and bundle
 * members, the names a range lists, and what `orderfs get A..B[/NAME]` fetches.
 */
#ifndef ORDERFS_NODE_H
#define ORDERFS_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "../common/bundle.h"
#include "path.h"

#define NODE_STATS_PATH "/.stats"

enum node_kind {
	NODE_ROOT,
	NODE_STATS,	 /* /.stats */
	NODE_EXPORTS,	 /* /exports */
	NODE_RANGE_DIR,	 /* /exports/A..B */
	NODE_STATUS,	 /* /exports/A..B/.status */
	NODE_ACCOUNT_STATUS, /* MOUNT/NAME/.status of an account (accounts_dir; ops.c's) */
	NODE_WHOLE_FILE, /* the export of type `type` for `chunk` (orders.xlsx) */
	NODE_MEMBER,	 /* file `member` of the bundle export of type `type` for `chunk` */
	NODE_LINK,	 /* /exports/today, /exports/2026-11: a named range (named.h), a symbolic
			  * link to the range directory of `range` (ops.c's: it needs today) */
};

struct node {
	enum node_kind kind;
	struct date_range range;    /* RANGE_DIR, STATUS, WHOLE_FILE, MEMBER: the directory's;
				     * LINK: the range it points to */
	struct date_range chunk;    /* WHOLE_FILE, MEMBER: the range of the file's export */
	size_t type;		    /* WHOLE_FILE, MEMBER: index in the layout's types */
	char member[PATH_NAME_MAX]; /* MEMBER: the name in the bundle ("orders-0002.json") */
};

/*
 * What an absolute path names, by its syntax alone (the window is node_reachable's). 0, or
 * -ENOENT with a static reason in *why (for the debug log; why may be NULL): not under
 * /exports, a malformed or impossible range, an unknown file name, a chunk that is not one of
 * the range's, a subdirectory.
 */
int node_resolve(const char *path, const struct path_layout *l, struct node *out,
		 const char **why);

/* Whether n is a file export (WHOLE_FILE or MEMBER). */
int node_is_export(const struct node *n);

/* Whether n is a file (STATS, STATUS, WHOLE_FILE or MEMBER) rather than a directory. */
int node_is_file(const struct node *n);

/*
 * Whether range r is inside the exportable window: it starts no earlier than window_months
 * before today and ends no later than today. 1, or 0 with a static reason in *why.
 */
int node_in_window(const struct date_range *r, const struct date *today, int window_months,
		   const char **why);

/* Whether n is reachable without asking the cache: ROOT, STATS and EXPORTS always, the rest
 * when their range is in the window (node_in_window; *why says why not). 1 or 0. */
int node_reachable(const struct node *n, const struct date *today, int window_months,
		   const char **why);

/* Where member lies in the bundle whose index is ix: its offset from the start of the bundle
 * file and its size. 0, or -ENOENT when the bundle has no such member (outputs untouched). */
int node_member_extent(const struct bundle_index *ix, const char *member, uint64_t *offset,
		       uint64_t *size);

/* Called with each name a listing holds; nonzero stops the listing (the buffer is full). */
typedef int (*node_name_fn)(void *arg, const char *name);

/*
 * The names export i (chunk i) of type t shows in range r: the whole file's name; for a bundle
 * type, once its export is READY (ix given) exactly the members it holds that the type shows,
 * before that (ix NULL) the type's fixed members. 0, or 1 when fn stopped the listing.
 */
int node_list_export(const struct date_range *r, const struct path_layout *l, size_t t, size_t i,
		     const struct bundle_index *ix, node_name_fn fn, void *arg);

/*
 * What `orderfs get ... ARG` fetches: "A..B" is the export of the first type (its first fixed
 * member for a bundle type: Clover's orders.jsonl, Mogujie's orders.xlsx), "A..B/NAME" the file
 * NAME the mount shows in that range (of a chunk: the chunk's export). Fills range (A..B or the
 * chunk's range, unchecked beyond its shape: get_run checks it), *t and member ("" for a whole
 * file). 0, -EINVAL when ARG does not start with YYYY-MM-DD..YYYY-MM-DD, -ENOENT no such file.
 */
int node_get_target(const char *arg, const struct path_layout *l, char range[DATE_RANGE_STR_LEN],
		    size_t *t, char member[PATH_NAME_MAX]);

#endif
