/*
 * FUSE operations: thin adapters from paths to the cache.
 *
 * Consistency with the kernel. A file's size is unknown until it has been exported, so stat
 * shows 0 before that (with exact_sizes, stat waits for the export instead, for tools that
 * read exactly st_size bytes: tar, Samba). The kernel keeps that size for attr_timeout, and a page-cache read never
 * goes past the size it knows, so the open that fetches a file (or any open whose size differs
 * from the last one stat reported) uses direct I/O, which reads to EOF whatever size the kernel
 * holds, and invalidates the cached attributes so the next stat shows the real size. Later
 * opens use the page cache; keep_cache is set only when the kernel's cached pages are known to
 * hold the same content (same SHA-256), because a re-export after expiry may change it.
 */
#define FUSE_USE_VERSION 314
#include <fuse.h>
#include <fuse_lowlevel.h>

#include "name_list.h"
#include "orderfs.h"
#include "stats.h"
#include "status.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "../common/bundle.h"
#include "../common/log.h"

#define XATTR_PREFIX "user.orderfs."
#define STATS_PATH "/.stats"

enum fs_file_kind { FILE_EXPORT, FILE_STATUS };

struct fs_file {
	enum fs_file_kind kind;
	struct cache_handle *handle; /* FILE_EXPORT */
	uint64_t base;		     /* FILE_EXPORT: where the file starts in the cache file (a
				      * bundle member's offset; 0 for a whole file) */
	uint64_t size;
	char *text;		     /* FILE_STATUS: .status or /.stats text */
	struct fs_file *prev, *next; /* orderfs.files, under files_lock */
};

static struct orderfs *fs_get(void)
{
	return fuse_get_context()->private_data;
}

static struct date today_local(void)
{
	return date_from_time(time(NULL));
}

/* Track open files so teardown can close what the kernel never released. */
static void files_add(struct orderfs *o, struct fs_file *f)
{
	pthread_mutex_lock(&o->files_lock);
	f->prev = NULL;
	f->next = o->files;
	if (o->files)
		o->files->prev = f;
	o->files = f;
	pthread_mutex_unlock(&o->files_lock);
}

static void files_remove(struct orderfs *o, struct fs_file *f)
{
	pthread_mutex_lock(&o->files_lock);
	if (f->prev)
		f->prev->next = f->next;
	else
		o->files = f->next;
	if (f->next)
		f->next->prev = f->prev;
	pthread_mutex_unlock(&o->files_lock);
}

static void fs_file_free(struct fs_file *f)
{
	if (f->handle)
		cache_handle_close(f->handle);
	free(f->text);
	free(f);
}

void orderfs_close_all(struct orderfs *o)
{
	pthread_mutex_lock(&o->files_lock);
	struct fs_file *f = o->files;
	o->files = NULL;
	pthread_mutex_unlock(&o->files_lock);
	while (f) {
		struct fs_file *next = f->next;
		fs_file_free(f);
		f = next;
	}
}

void orderfs_cache_stats(struct orderfs *o, struct cache_stats *out)
{
	cache_get_stats(o->cache, out);
}

/* Whether any export of range r is known to the cache. */
static int range_cached(struct orderfs *o, const struct date_range *r)
{
	size_t n = path_file_count(r, &o->layout);
	for (size_t t = 0; t < o->nkinds; t++)
		for (size_t i = 0; i < n; i++) {
			struct date_range chunk;
			struct cache_info info;
			path_chunk(r, &o->layout, i, &chunk);
			cache_lookup(o->cache, t, &chunk, &info);
			if (info.state != CACHE_ABSENT)
				return 1;
		}
	return 0;
}

/*
 * The member index of the READY bundle of type t for chunk, whose snapshot is info (a copy:
 * free with bundle_index_free). 0, or -errno (-ENOENT not READY, -EBADMSG not a bundle).
 */
static int bundle_of(struct orderfs *o, size_t t, const struct date_range *chunk,
		     const struct cache_info *info, struct bundle_index *ix)
{
	uint64_t size;
	int fd, rc;

	if (info->state != CACHE_READY)
		return -ENOENT;
	if (bundle_memo_get(o->bundles, info->sha256, ix) == 0)
		return 0;
	if ((rc = cache_peek(o->cache, t, chunk, &fd, &size)) != 0)
		return rc;
	rc = bundle_index_read(fd, size, ix);
	close(fd);
	if (rc == 0)
		bundle_memo_put(o->bundles, info->sha256, ix);
	else
		log_warn("bundle of %s: unreadable index: %s", o->layout.types[t].base_name,
			 strerror(-rc));
	return rc;
}

/*
 * Size of the export file a node names, as far as the cache knows without fetching: 0 before
 * its export is READY. -ENOENT when the export is READY and has no such member (a numbered
 * file past the last one).
 */
static int export_size(struct orderfs *o, const struct path_node *node, struct cache_info *info,
		       uint64_t *size)
{
	struct bundle_index ix;

	*size = 0;
	cache_lookup(o->cache, node->type, &node->chunk, info);
	if (info->state != CACHE_READY)
		return 0;
	if (!node->member[0]) {
		*size = info->size;
		return 0;
	}
	if (bundle_of(o, node->type, &node->chunk, info, &ix))
		return 0;
	const struct bundle_member *m = bundle_index_find(&ix, node->member);
	int rc = m ? 0 : -ENOENT;
	if (m)
		*size = m->size;
	bundle_index_free(&ix);
	return rc;
}

/* A waiting open or stat polls this: Ctrl-C on the caller, or the mount going away. */
static int open_cancelled(void *arg)
{
	struct fuse *f = arg;
	return fuse_interrupted() || fuse_session_exited(fuse_get_session(f));
}

/*
 * exact_sizes: make sure the export behind node is READY before its size is reported, by
 * waiting for it exactly as open does (same errors, same interruption). 0 when READY.
 */
static int wait_exported(struct orderfs *o, const struct path_node *node)
{
	struct cache_handle *h = NULL;
	struct cache_info info;
	char rs[DATE_RANGE_STR_LEN];
	int rc;

	cache_lookup(o->cache, node->type, &node->chunk, &info);
	if (info.state == CACHE_READY)
		return 0;
	if (atomic_fetch_add(&o->stat_waiters, 1) >= o->stat_waiters_max) {
		atomic_fetch_sub(&o->stat_waiters, 1);
		date_range_format(&node->chunk, rs);
		log_notice("stat %s: EAGAIN: %d stats already wait for exports (max_threads / 2)",
			   rs, o->stat_waiters_max);
		return -EAGAIN;
	}
	rc = cache_open(o->cache, node->type, &node->chunk, open_cancelled, o->fuse, &h);
	atomic_fetch_sub(&o->stat_waiters, 1);
	if (rc == 0) {
		cache_handle_close(h);
	} else {
		date_range_format(&node->chunk, rs);
		log_debug("stat %s: %s while waiting for the export", rs, strerror(-rc));
	}
	return rc;
}

static int range_in_window(struct orderfs *o, const struct date_range *r, const char **why)
{
	struct date today = today_local();
	struct date earliest = date_sub_months(&today, o->window_months);
	if (date_cmp(&r->start, &earliest) < 0) {
		*why = "starts before the exportable window";
		return 0;
	}
	if (date_cmp(&r->end, &today) > 0) {
		*why = "ends in the future";
		return 0;
	}
	return 1;
}

/* Resolve a path to a node that exists: syntax, then the window (a range the cache already
 * holds stays reachable after it leaves the window). 0 or -ENOENT with one debug line. */
static int resolve(struct orderfs *o, const char *path, struct path_node *node)
{
	const char *why = NULL;
	if (path_resolve(path, &o->layout, node, &why))
		goto enoent;
	if (node->kind == PATH_ROOT || node->kind == PATH_EXPORTS)
		return 0;
	if (range_in_window(o, &node->range, &why) || range_cached(o, &node->range))
		return 0;
enoent:
	log_debug("lookup %s: ENOENT: %s", path, why);
	return -ENOENT;
}

static void fill_dir_stat(struct orderfs *o, struct stat *st)
{
	st->st_mode = S_IFDIR | 0555;
	st->st_nlink = 2;
	st->st_uid = getuid();
	st->st_gid = getgid();
	st->st_mtime = st->st_ctime = st->st_atime = o->mount_time;
}

/* Render .status for a range from cache snapshots. NULL on ENOMEM. */
static char *render_status(struct orderfs *o, const struct date_range *r, size_t *len)
{
	size_t nchunks = path_file_count(r, &o->layout), n = nchunks * o->nkinds;
	char(*names)[PATH_NAME_MAX] = calloc(n, sizeof(*names));
	struct date_range *chunks = calloc(n, sizeof(*chunks));
	struct cache_info *infos = calloc(n, sizeof(*infos));
	char *text = NULL;

	if (!names || !chunks || !infos)
		goto out;
	for (size_t t = 0, k = 0; t < o->nkinds; t++)
		for (size_t i = 0; i < nchunks; i++, k++) {
			path_export_label(r, &o->layout, t, i, names[k]);
			path_chunk(r, &o->layout, i, &chunks[k]);
			cache_lookup(o->cache, t, &chunks[k], &infos[k]);
		}
	text = status_render(r, n, (const char(*)[PATH_NAME_MAX])names, chunks, infos, len);
out:
	free(names);
	free(chunks);
	free(infos);
	return text;
}

/* /.stats: regular, read-only, regenerated at every open like .status. */
static int getattr_stats(struct orderfs *o, struct stat *st)
{
	size_t len = 0;
	char *text = stats_render(o, 1, &len);
	if (!text)
		return -ENOMEM;
	free(text);
	memset(st, 0, sizeof(*st));
	fill_dir_stat(o, st);
	st->st_mode = S_IFREG | 0444;
	st->st_nlink = 1;
	st->st_size = (off_t)len;
	st->st_mtime = st->st_ctime = time(NULL);
	return 0;
}

/* fstat of an open file: what that handle reads, never a newer export's size (an open file
 * keeps its bytes when the range is exported again) and never a wait. */
static int getattr_open(struct orderfs *o, const struct fs_file *f, struct stat *st)
{
	struct cache_file_info info;

	memset(st, 0, sizeof(*st));
	fill_dir_stat(o, st);
	st->st_mode = S_IFREG | 0444;
	st->st_nlink = 1;
	st->st_size = (off_t)f->size;
	st->st_blocks = (blkcnt_t)((f->size + 511) / 512);
	if (f->kind == FILE_EXPORT) {
		cache_handle_info(f->handle, &info);
		if (info.ready_time)
			st->st_mtime = st->st_ctime = (time_t)info.ready_time;
	} else {
		st->st_mtime = st->st_ctime = time(NULL);
	}
	return 0;
}

static int fs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	struct orderfs *o = fs_get();
	struct path_node node;
	if (fi && fi->fh)
		return getattr_open(o, (const struct fs_file *)(uintptr_t)fi->fh, st);
	if (!strcmp(path, STATS_PATH))
		return getattr_stats(o, st);
	int rc = resolve(o, path, &node);
	if (rc)
		return rc;

	memset(st, 0, sizeof(*st));
	fill_dir_stat(o, st);
	switch (node.kind) {
	case PATH_ROOT:
	case PATH_EXPORTS:
		return 0;
	case PATH_RANGE_DIR: {
		/* A range someone used stays in the listing (see README: mkdir). */
		struct range_note n;
		if (date_range_days(&node.range) > 1) {
			range_map_get(o->notes, &node.range, &n);
			if (!n.made_by_mkdir) {
				n.made_by_mkdir = 1;
				range_map_put(o->notes, &node.range, &n);
			}
		}
		return 0;
	}
	case PATH_STATUS: {
		size_t len = 0;
		char *text = render_status(o, &node.range, &len);
		if (!text)
			return -ENOMEM;
		free(text);
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		st->st_size = (off_t)len;
		st->st_mtime = st->st_ctime = time(NULL);
		return 0;
	}
	case PATH_EXPORT_FILE: {
		struct cache_info info;
		uint64_t size;
		if (o->exact_sizes && (rc = wait_exported(o, &node)) != 0)
			return rc;
		if ((rc = export_size(o, &node, &info, &size)) != 0)
			return rc;
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		if (info.state == CACHE_READY) {
			st->st_size = (off_t)size;
			st->st_blocks = (blkcnt_t)((size + 511) / 512);
			if (info.ready_time)
				st->st_mtime = st->st_ctime = (time_t)info.ready_time;
		}
		kernel_view_note_size(o->kview, path, (uint64_t)st->st_size);
		return 0;
	}
	}
	return -ENOENT;
}

/* What readdir says of each name: only the type (d_type), so `ls --color` and `find` need no
 * stat per name; a stat could start an export with exact_sizes. */
static const struct stat dir_type = {.st_mode = S_IFDIR};
static const struct stat file_type = {.st_mode = S_IFREG};

/* cache_foreach callback: a range some export type holds (both types' land once). */
static void list_cached_range(void *arg, size_t type, const struct date_range *r)
{
	(void)type;
	name_list_add_range(arg, r);
}

static int readdir_exports(struct orderfs *o, void *buf, fuse_fill_dir_t filler)
{
	struct name_list l = {NULL, 0, 0, 0, 0};
	struct date today = today_local();
	struct date d = date_sub_months(&today, o->window_months);
	int rc = 0;

	for (; date_cmp(&d, &today) <= 0; d = date_add_days(&d, 1)) {
		struct date_range day = {d, d};
		name_list_add_range(&l, &day);
	}
	rc = cache_foreach(o->cache, list_cached_range, &l);
	range_map_foreach_mkdir(o->notes, name_list_add_range, &l);
	if (rc == 0)
		rc = l.err;
	if (rc) {
		/* A shorter listing would make cached ranges look gone: fail it whole. */
		log_warn("readdir /exports: %s", strerror(-rc));
		name_list_free(&l);
		return rc;
	}
	name_list_finish(&l);
	for (size_t i = 0; i < l.n; i++)
		if (filler(buf, l.names[i], &dir_type, 0, 0))
			break;
	name_list_free(&l);
	return 0;
}

/* The files of one export: a whole file, or a bundle's members (its fixed ones until it has
 * been exported, then exactly what it holds). 0, or 1 when the listing buffer is full. */
static int readdir_export(struct orderfs *o, const struct date_range *r, size_t t, size_t i,
			  void *buf, fuse_fill_dir_t filler)
{
	const struct provider_type *pt = &o->layout.types[t];
	char name[PATH_NAME_MAX], suffix[16];
	struct date_range chunk;
	struct cache_info info;
	struct bundle_index ix;
	int full = 0;

	if (pt->ext) {
		path_whole_suffix(&o->layout, t, suffix);
		return !path_file_name(r, &o->layout, t, i, suffix, name) &&
		       filler(buf, name, &file_type, 0, 0);
	}
	path_chunk(r, &o->layout, i, &chunk);
	cache_lookup(o->cache, t, &chunk, &info);
	if (bundle_of(o, t, &chunk, &info, &ix) == 0) {
		size_t blen = strlen(pt->base_name);
		for (size_t k = 0; k < ix.n && !full; k++) {
			const char *m = ix.members[k].name;
			if (strncmp(m, pt->base_name, blen))
				continue; /* not a name this type shows */
			full = !path_file_name(r, &o->layout, t, i, m + blen, name) &&
			       filler(buf, name, &file_type, 0, 0);
		}
		bundle_index_free(&ix);
		return full;
	}
	for (const char *const *sfx = pt->suffixes; sfx && *sfx && !full; sfx++)
		full = !path_file_name(r, &o->layout, t, i, *sfx, name) &&
		       filler(buf, name, &file_type, 0, 0);
	return full;
}

static void readdir_range(struct orderfs *o, const struct date_range *r, void *buf,
			  fuse_fill_dir_t filler)
{
	size_t n = path_file_count(r, &o->layout);
	for (size_t t = 0; t < o->nkinds; t++)
		for (size_t i = 0; i < n; i++)
			if (readdir_export(o, r, t, i, buf, filler))
				return;
}

static int fs_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t offset,
		      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	struct orderfs *o = fs_get();
	struct path_node node;
	int rc = resolve(o, path, &node);
	if (rc)
		return rc;

	filler(buf, ".", NULL, 0, 0);
	filler(buf, "..", NULL, 0, 0);
	switch (node.kind) {
	case PATH_ROOT:
		filler(buf, "exports", &dir_type, 0, 0);
		filler(buf, STATS_PATH + 1, &file_type, 0, 0);
		return 0;
	case PATH_EXPORTS:
		return readdir_exports(o, buf, filler);
	case PATH_RANGE_DIR:
		readdir_range(o, &node.range, buf, filler);
		filler(buf, ".status", &file_type, 0, 0);
		return 0;
	default:
		return -ENOTDIR;
	}
}

/* Where member lies in the bundle h has open. 0, -ENOENT no such member, -EIO not a bundle. */
static int member_extent(struct cache_handle *h, const char *path, const char *member,
			 uint64_t *base, uint64_t *size)
{
	struct bundle_index ix;
	int rc = bundle_index_read(cache_handle_fd(h), cache_handle_size(h), &ix);
	if (rc) {
		log_err("open %s: the cached bundle is unreadable: %s", path, strerror(-rc));
		return rc == -ENOMEM ? rc : -EIO;
	}
	const struct bundle_member *m = bundle_index_find(&ix, member);
	if (m) {
		*base = m->offset;
		*size = m->size;
	} else {
		log_debug("open %s: ENOENT: the export has no such file", path);
	}
	bundle_index_free(&ix);
	return m ? 0 : -ENOENT;
}

static int open_export(struct orderfs *o, const char *path, const struct path_node *node,
		       struct fuse_file_info *fi)
{
	struct cache_handle *h = NULL;
	struct cache_file_info info;
	char rs[DATE_RANGE_STR_LEN];
	int keep;

	uint64_t base = 0, size;
	int rc = cache_open(o->cache, node->type, &node->chunk, open_cancelled, o->fuse, &h);
	if (rc) {
		date_range_format(&node->chunk, rs);
		if (rc == -EINTR)
			log_debug("open %s: interrupted; the export goes on", rs);
		return rc;
	}
	size = cache_handle_size(h);
	if (node->member[0] && (rc = member_extent(h, path, node->member, &base, &size)) != 0) {
		cache_handle_close(h);
		return rc;
	}
	struct fs_file *f = calloc(1, sizeof(*f));
	if (!f) {
		cache_handle_close(h);
		return -ENOMEM;
	}
	f->kind = FILE_EXPORT;
	f->handle = h;
	f->base = base;
	f->size = size;

	/* The handle's own snapshot: a lookup now could already describe a newer export. */
	cache_handle_info(h, &info);
	if (kernel_view_open(o->kview, path, f->size, info.sha256, &keep)) {
		/* The kernel may hold a stale size: read to EOF directly, refresh its attrs. */
		fi->direct_io = 1;
		fi->keep_cache = 0;
		fuse_invalidate_path(o->fuse, path);
	} else {
		fi->keep_cache = keep;
	}
	fi->fh = (uintptr_t)f;
	files_add(o, f);
	return 0;
}

static int fs_open(const char *path, struct fuse_file_info *fi)
{
	struct orderfs *o = fs_get();
	struct path_node node;
	int is_stats = !strcmp(path, STATS_PATH);
	int rc = is_stats ? 0 : resolve(o, path, &node);
	if (rc)
		return rc;
	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC))
		return -EROFS;

	if (!is_stats && node.kind == PATH_EXPORT_FILE)
		return open_export(o, path, &node, fi);
	if (!is_stats && node.kind != PATH_STATUS)
		return -EISDIR;

	struct fs_file *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	size_t len = 0;
	f->kind = FILE_STATUS;
	f->text = is_stats ? stats_render(o, 1, &len) : render_status(o, &node.range, &len);
	if (!f->text) {
		free(f);
		return -ENOMEM;
	}
	f->size = len;
	fi->direct_io = 1; /* generated text: its size changes between opens */
	fi->fh = (uintptr_t)f;
	files_add(o, f);
	return 0;
}

static int fs_read_buf(const char *path, struct fuse_bufvec **bufp, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct fs_file *f = (struct fs_file *)(uintptr_t)fi->fh;
	struct fuse_bufvec *bv = malloc(sizeof(*bv));
	if (!bv)
		return -ENOMEM;

	if (off < 0 || (uint64_t)off >= f->size)
		size = 0;
	else if (size > f->size - (uint64_t)off)
		size = (size_t)(f->size - (uint64_t)off);
	*bv = FUSE_BUFVEC_INIT(size);

	if (f->kind == FILE_EXPORT) {
		/* Zero-copy: libfuse splices straight from the cache file when it can. */
		bv->buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK | FUSE_BUF_FD_RETRY;
		bv->buf[0].fd = cache_handle_fd(f->handle);
		bv->buf[0].pos = off + (off_t)f->base;
		atomic_fetch_add_explicit(&fs_get()->bytes_served, size, memory_order_relaxed);
	} else {
		/* libfuse frees mem buffers after replying, so hand it a copy. */
		void *mem = malloc(size ? size : 1);
		if (!mem) {
			free(bv);
			return -ENOMEM;
		}
		if (size)
			memcpy(mem, f->text + off, size);
		bv->buf[0].mem = mem;
	}
	*bufp = bv;
	return 0;
}

static int fs_release(const char *path, struct fuse_file_info *fi)
{
	struct orderfs *o = fs_get();
	struct fs_file *f = (struct fs_file *)(uintptr_t)fi->fh;
	files_remove(o, f);
	fs_file_free(f);
	return 0;
}

static int fs_mkdir(const char *path, mode_t mode)
{
	struct orderfs *o = fs_get();
	struct path_node node;
	const char *why = NULL;

	/* The kernel answers EEXIST itself for every range that resolves; what reaches us is a
	 * name that did not. */
	if (path_resolve(path, &o->layout, &node, &why) || node.kind != PATH_RANGE_DIR) {
		if (strncmp(path, "/exports/", 9))
			return -EROFS;
		log_debug("mkdir %s: EINVAL: %s", path, why ? why : "not a range");
		return -EINVAL;
	}
	if (!range_in_window(o, &node.range, &why)) {
		log_debug("mkdir %s: EINVAL: %s", path, why);
		return -EINVAL;
	}
	struct range_note n;
	range_map_get(o->notes, &node.range, &n);
	n.made_by_mkdir = 1;
	return range_map_put(o->notes, &node.range, &n);
}

static int fs_rmdir(const char *path)
{
	struct orderfs *o = fs_get();
	struct path_node node;
	int rc = resolve(o, path, &node);
	if (rc)
		return rc;
	if (node.kind != PATH_RANGE_DIR)
		return node.kind == PATH_EXPORT_FILE || node.kind == PATH_STATUS ? -ENOTDIR : -EROFS;

	size_t n = path_file_count(&node.range, &o->layout);
	for (size_t t = 0; t < o->nkinds; t++)
		for (size_t i = 0; i < n; i++) {
			struct date_range chunk;
			path_chunk(&node.range, &o->layout, i, &chunk);
			cache_forget(o->cache, t, &chunk);
		}
	range_map_del(o->notes, &node.range);
	return 0;
}

static int xattr_value(const struct cache_info *in, uint64_t size, const char *name, char *out,
		       size_t len)
{
	if (!strcmp(name, "state"))
		return snprintf(out, len, "%s", cache_state_name(in->state));
	if (!strcmp(name, "task_id"))
		return snprintf(out, len, "%s", in->task_id);
	if (!strcmp(name, "server_name"))
		return snprintf(out, len, "%s", in->server_name);
	if (!strcmp(name, "sha256"))
		return snprintf(out, len, "%s", in->sha256);
	if (!strcmp(name, "expires"))
		return snprintf(out, len, "%lld", (long long)in->expires);
	if (!strcmp(name, "progress"))
		return snprintf(out, len, "%d", in->progress);
	if (!strcmp(name, "size"))
		return snprintf(out, len, "%llu", (unsigned long long)size);
	return -1;
}

static const char *const xattr_names[] = {"state", "task_id", "server_name", "sha256",
					  "expires", "progress", "size"};

static int fs_getxattr(const char *path, const char *name, char *value, size_t size)
{
	struct orderfs *o = fs_get();
	struct path_node node;
	struct cache_info info;
	char buf[PROVIDER_NAME_MAX + 8];
	if (!strcmp(path, STATS_PATH))
		return -ENODATA;
	int rc = resolve(o, path, &node);
	if (rc)
		return rc;
	if (node.kind != PATH_EXPORT_FILE || strncmp(name, XATTR_PREFIX, strlen(XATTR_PREFIX)))
		return -ENODATA;
	uint64_t file_size;
	if ((rc = export_size(o, &node, &info, &file_size)) != 0)
		return rc;
	if (!node.member[0])
		file_size = info.size; /* a whole file: its total also while downloading */
	int len = xattr_value(&info, file_size, name + strlen(XATTR_PREFIX), buf, sizeof(buf));
	if (len < 0)
		return -ENODATA;
	if ((size_t)len >= sizeof(buf))
		len = (int)sizeof(buf) - 1;
	if (size == 0)
		return len;
	if ((size_t)len > size)
		return -ERANGE;
	memcpy(value, buf, (size_t)len);
	return len;
}

static int fs_listxattr(const char *path, char *list, size_t size)
{
	struct orderfs *o = fs_get();
	struct path_node node;
	size_t need = 0;
	if (!strcmp(path, STATS_PATH))
		return 0;
	int rc = resolve(o, path, &node);
	if (rc)
		return rc;
	if (node.kind != PATH_EXPORT_FILE)
		return 0;
	for (size_t i = 0; i < sizeof(xattr_names) / sizeof(xattr_names[0]); i++)
		need += strlen(XATTR_PREFIX) + strlen(xattr_names[i]) + 1;
	if (size == 0)
		return (int)need;
	if (size < need)
		return -ERANGE;
	char *p = list;
	for (size_t i = 0; i < sizeof(xattr_names) / sizeof(xattr_names[0]); i++)
		p += sprintf(p, "%s%s", XATTR_PREFIX, xattr_names[i]) + 1;
	return (int)need;
}

static int fs_statfs(const char *path, struct statvfs *st)
{
	struct orderfs *o = fs_get();
	if (statvfs(o->cache_dir, st))
		return -errno;
	st->f_namemax = 255;
	return 0;
}

/* Everything that would change the tree is refused: orderfs is read-only but for mkdir/rmdir. */
static int fs_erofs_path(const char *path)
{
	return -EROFS;
}
static int fs_erofs_mknod(const char *path, mode_t mode, dev_t dev)
{
	return -EROFS;
}
static int fs_erofs_two(const char *from, const char *to)
{
	return -EROFS;
}
static int fs_erofs_rename(const char *from, const char *to, unsigned int flags)
{
	return -EROFS;
}
static int fs_erofs_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	return -EROFS;
}
static int fs_erofs_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	return -EROFS;
}
static int fs_erofs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	return -EROFS;
}
static int fs_erofs_write(const char *path, const char *buf, size_t size, off_t off,
			  struct fuse_file_info *fi)
{
	return -EROFS;
}
static int fs_erofs_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	return -EROFS;
}
static int fs_erofs_utimens(const char *path, const struct timespec tv[2],
			    struct fuse_file_info *fi)
{
	return -EROFS;
}
static int fs_erofs_setxattr(const char *path, const char *name, const char *value, size_t size,
			     int flags)
{
	return -EROFS;
}
static int fs_erofs_removexattr(const char *path, const char *name)
{
	return -EROFS;
}

static void *fs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	struct orderfs *o = fs_get();

	cfg->entry_timeout = o->attr_timeout_s;
	cfg->attr_timeout = o->attr_timeout_s;
	cfg->negative_timeout = 0;
	cfg->use_ino = 0;
	cfg->kernel_cache = 0;
	cfg->auto_cache = 0;
	cfg->direct_io = 0;
	cfg->hard_remove = 1;
	if (conn->capable & FUSE_CAP_SPLICE_WRITE)
		conn->want |= FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE;
	/* The kernel then caches "no ACL" per inode instead of asking for system.posix_acl_*
	 * on every `ls -l` (two round trips per entry); there are no ACLs to serve. */
	if (conn->capable & FUSE_CAP_POSIX_ACL)
		conn->want |= FUSE_CAP_POSIX_ACL;
	conn->max_readahead = conn->max_readahead > (1u << 20) ? conn->max_readahead : (1u << 20);
	return o;
}

static const struct fuse_operations orderfs_ops = {
	.init = fs_init,
	.getattr = fs_getattr,
	.readdir = fs_readdir,
	.open = fs_open,
	.read_buf = fs_read_buf,
	.release = fs_release,
	.mkdir = fs_mkdir,
	.rmdir = fs_rmdir,
	.getxattr = fs_getxattr,
	.listxattr = fs_listxattr,
	.statfs = fs_statfs,
	.mknod = fs_erofs_mknod,
	.unlink = fs_erofs_path,
	.symlink = fs_erofs_two,
	.link = fs_erofs_two,
	.rename = fs_erofs_rename,
	.chmod = fs_erofs_chmod,
	.chown = fs_erofs_chown,
	.truncate = fs_erofs_truncate,
	.write = fs_erofs_write,
	.create = fs_erofs_create,
	.utimens = fs_erofs_utimens,
	.setxattr = fs_erofs_setxattr,
	.removexattr = fs_erofs_removexattr,
};

const struct fuse_operations *orderfs_operations(void)
{
	return &orderfs_ops;
}
