/*
 * What the kernel was last shown for each file path: the st_size getattr reported and the
 * content whose pages it may hold. The kernel caches attributes and pages per inode, and in
 * the high-level FUSE API an inode is a path, so this is keyed by path (the same export can
 * be reachable under two paths that the kernel caches separately). ops.c uses it to choose
 * between the page cache and direct I/O on open so a stale size never shortens a read.
 *
 * Bounded: at most max_paths paths are remembered. Forgetting a path is always safe, because
 * an open of a path with no view reads with direct I/O to EOF and invalidates the kernel's
 * attributes and pages; all that is lost is page-cache reuse for that one open. When full,
 * the views whose attributes the kernel has already dropped (older than attr_ttl_ms) go
 * first, then the least recently noted half; a view with page-cache handles open is kept
 * (there are at most as many as open files). Thread-safe.
 */
#ifndef ORDERFS_KERNEL_VIEW_H
#define ORDERFS_KERNEL_VIEW_H

#include <stddef.h>
#include <stdint.h>

#define KERNEL_VIEW_MAX_PATHS 4096

struct kernel_view;

struct kernel_file_view {
	int size_shown;	     /* getattr has reported shown_size for this path */
	uint64_t shown_size; /* last st_size given to the kernel */
	char cached_sha[65]; /* content the kernel may hold in its page cache, "" if none */
	uint32_t cache_opens; /* open handles reading this path through the page cache: their
			       * pages are cached_sha's, so no other content may be cached
			       * until they are closed (kernel_view_close) */
	uint64_t held_size;   /* the size of cached_sha's content, while cache_opens > 0 */
	int64_t noted_ms;    /* when this view was last written (monotonic ms), set by put */
};

struct kernel_view_limits {
	size_t max_paths;	   /* 0 = KERNEL_VIEW_MAX_PATHS */
	int64_t attr_ttl_ms;	   /* how long the kernel keeps attributes (attr_timeout) */
	int64_t (*now_ms)(void);   /* monotonic clock; NULL = CLOCK_MONOTONIC. Tests pin it. */
};

/* NULL lim: the defaults (KERNEL_VIEW_MAX_PATHS, 1 s). NULL on out of memory. */
struct kernel_view *kernel_view_new(const struct kernel_view_limits *lim);
void kernel_view_free(struct kernel_view *v);

/* Copy the view of path into *out; zeroed if unknown (never seen, or forgotten). */
void kernel_view_get(struct kernel_view *v, const char *path, struct kernel_file_view *out);
/* Insert or replace, stamping noted_ms; may forget other paths to stay within max_paths.
 * 0, or -ENOMEM (then the old view, if any, is kept). */
int kernel_view_put(struct kernel_view *v, const char *path, const struct kernel_file_view *in);

/*
 * getattr is telling the kernel the size of path, whose current content is size bytes: the
 * size to show, noted as shown, in one step. It is never less than the content the path's
 * page-cache readers hold while any is open: the kernel keeps one size per path and cuts
 * page-cache reads there, so a newer, smaller export's size would cut those readers' files
 * short; a reader of the newer file reads it with direct I/O to its own end whatever the size
 * (kernel_view_open), so only its stat shows more until they close.
 */
uint64_t kernel_view_note_size(struct kernel_view *v, const char *path, uint64_t size);

/* How an open of a file must meet the kernel's caches (kernel_view_open). */
enum kernel_open {
	KERNEL_OPEN_CACHE = 0,	/* page cache: the kernel holds this file's size */
	KERNEL_OPEN_DIRECT = 1, /* direct I/O to EOF: the kernel may hold another size (or none is
				 * known here), or another content's pages are in use; then have
				 * it drop its attributes */
};

/*
 * An open of path whose handle holds size bytes with content sha ("" unknown): how it must
 * meet the kernel's caches. For KERNEL_OPEN_CACHE, *keep_cache says whether the kernel's
 * cached pages hold exactly this content, the view records sha as what the kernel will cache,
 * and the open counts among cache_opens: the caller calls kernel_view_close when it ends.
 * The kernel keeps one page cache per path, shared by every page-cache handle of it, so while
 * a page-cache handle of other content (an older export) is open the answer is DIRECT: that
 * reader keeps its own version's pages and this one reads its own file to EOF.
 */
enum kernel_open kernel_view_open(struct kernel_view *v, const char *path, uint64_t size,
				  const char *sha, int *keep_cache);

/* A page-cache open of path (kernel_view_open said CACHE) ended. Once none is open, other
 * content may be cached. */
void kernel_view_close(struct kernel_view *v, const char *path);

/* How many paths are remembered. */
size_t kernel_view_count(struct kernel_view *v);

#endif
