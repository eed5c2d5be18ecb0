/*
 * What the kernel was last shown for each file path: the st_size getattr reported and the
 * content whose pages it may hold. The kernel caches attributes and pages per inode, and in
 * the high-level FUSE API an inode is a path, so this is keyed by path (the same export can
 * be reachable under two paths that the kernel caches separately). ops.c uses it to choose
 * between the page cache and direct I/O on open so a stale size never shortens a read.
 * Thread-safe.
 */
#ifndef ORDERFS_KERNEL_VIEW_H
#define ORDERFS_KERNEL_VIEW_H

#include <stdint.h>

struct kernel_view;

struct kernel_file_view {
	int size_shown;	     /* getattr has reported shown_size for this path */
	uint64_t shown_size; /* last st_size given to the kernel */
	char cached_sha[65]; /* content the kernel may hold in its page cache, "" if none */
};

struct kernel_view *kernel_view_new(void);
void kernel_view_free(struct kernel_view *v);

/* Copy the view of path into *out; zeroed if unknown. */
void kernel_view_get(struct kernel_view *v, const char *path, struct kernel_file_view *out);
/* Insert or replace. 0, or -ENOMEM (then the old view, if any, is kept). */
int kernel_view_put(struct kernel_view *v, const char *path, const struct kernel_file_view *in);

#endif
