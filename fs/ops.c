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
 * hold the same content (same SHA-256), because a re-export after expiry may change it. The
 * kernel has one page cache per path, shared by all its page-cache handles, so while one of
 * them reads an older export an open of the newer one uses direct I/O (kernel_view.h).
 */
#define FUSE_USE_VERSION 314
#include <fuse.h>
#include <fuse_lowlevel.h>

#include "report/account_status.h"
#include "accounts/accounts.h"
#include "name_list.h"
#include "named.h"
#include "node.h"
#include "orderfs.h"
#include "base/progress.h"
#include "report/stats.h"
#include "report/status.h"
#include "user_count.h"
#include "user_waits.h"

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

enum fs_file_kind { FILE_EXPORT, FILE_STATUS };

struct fs_file {
	enum fs_file_kind kind;
	struct cache_handle *handle; /* FILE_EXPORT */
	uint64_t base;		     /* FILE_EXPORT: where the file starts in the cache file (a
				      * bundle member's offset; 0 for a whole file) */
	uint64_t size;
	char *text;		     /* FILE_STATUS: .status or /.stats text */
	struct fs_perm perm;	     /* owner, group, mode when it was opened (fstat) */
	uid_t uid;		     /* who opened it: counts in o->opens until released */
	char *path;		     /* FILE_EXPORT: the path it was opened by, for kernel_view */
	int page_cached;	     /* FILE_EXPORT read through the page cache: path's view
				      * counts this open until release */
	struct fs_file *prev, *next; /* orderfs.files, under files_lock */
};

static struct orderfs *fs_get(void)
{
	return fuse_get_context()->private_data;
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
	free(f->path);
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

/* A waiting open or stat polls this: Ctrl-C on the caller, or the mount going away. */
static int open_cancelled(void *arg)
{
	struct fuse *f = arg;
	return fuse_interrupted() || fuse_session_exited(fuse_get_session(f));
}

/*
 * The ops reach the cache only through these, one cache call each: export type t of the
 * mount's one cache.
 */
static void chunk_lookup(struct orderfs *o, struct fs_account *a, size_t t,
			 const struct date_range *chunk, struct cache_info *info)
{
	cache_lookup(o->cache, a->kind0 + t, chunk, info);
}

/* Whether a line about a refusal may be logged now: at most one every 5 s per call site (a
 * loop retrying on EAGAIN must not flood the log). */
static int say_now(atomic_llong *last_s)
{
	long long now = (long long)time(NULL), last = atomic_load(last_s);

	return now - last >= 5 && atomic_compare_exchange_strong(last_s, &last, now);
}

/* Wait in cache_open for an export, counted in o->export_waiters: at most half the FUSE
 * threads wait for exports at once, so the other half always answers listings, stat,
 * .status and reads of ready files, and reads the kernel's interrupts for the waiting opens
 * (a killed reader's open ends only when one is read). Past that, -EAGAIN. */
static int wait_export(struct orderfs *o, size_t kind, const struct date_range *chunk,
		       const char *rs, struct cache_handle **h)
{
	static atomic_llong said;
	int rc;

	if (atomic_fetch_add(&o->export_waiters, 1) >= o->export_waiters_max) {
		atomic_fetch_sub(&o->export_waiters, 1);
		if (say_now(&said))
			log_notice("open %s: EAGAIN: %d requests already wait for exports "
				   "(max_threads / 2)",
				   rs, o->export_waiters_max);
		return -EAGAIN;
	}
	rc = cache_open_as(o->cache, kind, chunk, (long)fuse_get_context()->uid, open_cancelled,
			   o->fuse, h);
	atomic_fetch_sub(&o->export_waiters, 1);
	return rc;
}

/* The cache's open of export type t of chunk. One that has to wait for an export counts for
 * the calling user, who may wait for max_queued_per_user exports at once: past that, -EAGAIN
 * for that user alone, so one user cannot queue exports ahead of everyone else's. The
 * mount's own user is not capped (a batch job of the owner may want many ranges at once). */
static int chunk_open(struct orderfs *o, struct fs_account *a, size_t t,
		      const struct date_range *chunk, struct cache_handle **h)
{
	struct cache_info info;
	char key[USER_WAITS_KEY_MAX], rs[DATE_RANGE_STR_LEN];
	uid_t uid = fuse_get_context()->uid;
	int rc;

	chunk_lookup(o, a, t, chunk, &info);
	if (info.state == CACHE_READY)
		return cache_open(o->cache, a->kind0 + t, chunk, open_cancelled, o->fuse, h);
	date_range_format(chunk, rs);
	if (uid == o->mount_uid) /* the mount's own user: uncapped (it can unmount anyway) */
		return wait_export(o, a->kind0 + t, chunk, rs, h);
	snprintf(key, sizeof(key), "%zu %s", a->kind0 + t, rs);
	if (user_waits_take(o->waits, uid, key, o->max_queued_per_user)) {
		static atomic_llong said;
		if (say_now(&said))
			log_warn("open %s: EAGAIN: uid %u waits for %u exports already "
				 "(max_queued_per_user)",
				 rs, (unsigned)uid, o->max_queued_per_user);
		return -EAGAIN;
	}
	rc = wait_export(o, a->kind0 + t, chunk, rs, h);
	user_waits_give(o->waits, uid, key);
	return rc;
}

static int chunk_peek(struct orderfs *o, struct fs_account *a, size_t t,
		      const struct date_range *chunk, int *fd, uint64_t *size)
{
	return cache_peek(o->cache, a->kind0 + t, chunk, fd, size);
}

static void chunk_forget(struct orderfs *o, struct fs_account *a, size_t t,
			 const struct date_range *chunk)
{
	cache_forget(o->cache, a->kind0 + t, chunk);
}

/* Where cache_foreach's callback puts one account's ranges. */
struct cached_list {
	struct name_list *l;
	const struct fs_account *a;
};

/* cache_foreach_types's callback for a listing: every type's ranges go into one list. */
static void list_cached_range(void *arg, size_t kind, const struct date_range *r)
{
	struct cached_list *c = arg;
	(void)kind;
	name_list_add_range(c->l, r);
}

static int cached_ranges_foreach(struct orderfs *o, struct fs_account *a, struct name_list *l)
{
	struct cached_list c = {l, a};
	return cache_foreach_types(o->cache, a->kind0, a->nkinds, list_cached_range, &c);
}

/* Whether any export of range r is known to the cache. */
static int range_cached(struct orderfs *o, struct fs_account *a, const struct date_range *r)
{
	size_t n = path_file_count(r, &a->layout);
	for (size_t t = 0; t < a->nkinds; t++)
		for (size_t i = 0; i < n; i++) {
			struct date_range chunk;
			struct cache_info info;
			path_chunk(r, &a->layout, i, &chunk);
			chunk_lookup(o, a, t, &chunk, &info);
			if (info.state != CACHE_ABSENT)
				return 1;
		}
	return 0;
}

/* Whether the export of type t for chunk is still the file info described (same SHA-256 and
 * ready time): then an index read since belongs to that file and may be remembered. */
static int still_same_file(struct orderfs *o, struct fs_account *a, size_t t,
			   const struct date_range *chunk, const struct cache_info *info)
{
	struct cache_info now;
	chunk_lookup(o, a, t, chunk, &now);
	return now.state == CACHE_READY && now.ready_time == info->ready_time &&
	       !strcmp(now.sha256, info->sha256);
}

/*
 * The member index of the READY bundle of type t for chunk, whose snapshot is info (a copy:
 * free with bundle_index_free). Read once per ready file (o->bundles), shared with open.
 * 0, or -errno (-ENOENT not READY, -EBADMSG not a bundle).
 */
static int bundle_of(struct orderfs *o, struct fs_account *a, size_t t,
		     const struct date_range *chunk, const struct cache_info *info,
		     struct bundle_index *ix)
{
	uint64_t size;
	int fd, rc;

	if (info->state != CACHE_READY)
		return -ENOENT;
	if (bundle_memo_get(o->bundles, info->sha256, info->ready_time, ix) == 0)
		return 0;
	if ((rc = chunk_peek(o, a, t, chunk, &fd, &size)) != 0)
		return rc;
	rc = bundle_index_read(fd, size, ix);
	close(fd);
	if (rc == 0 && still_same_file(o, a, t, chunk, info))
		bundle_memo_put(o->bundles, info->sha256, info->ready_time, ix);
	else if (rc)
		log_warn("bundle of %s: unreadable index: %s", a->layout.types[t].base_name,
			 strerror(-rc));
	return rc;
}

/*
 * Size of the export file a node names, as far as the cache knows without fetching: 0 before
 * its export is READY. -ENOENT when the export is READY and has no such member (a numbered
 * file past the last one).
 */
static int export_size(struct orderfs *o, struct fs_account *a, const struct node *node,
		       struct cache_info *info, uint64_t *size)
{
	struct bundle_index ix;
	uint64_t offset;

	*size = 0;
	chunk_lookup(o, a, node->type, &node->chunk, info);
	/* Past fresh_until, and while its range is exported again, the file there is the one an
	 * open may get (open_refresh = background, a failed refresh): the kernel must not be
	 * told 0 meanwhile, or a page-cache read of that file stops at once. */
	if (node->kind == NODE_WHOLE_FILE && info->state == CACHE_EXPIRED) {
		*size = info->size;
		return 0;
	}
	if (node->kind == NODE_WHOLE_FILE && info->old_size) {
		*size = info->old_size;
		return 0;
	}
	/* The same for a member of a bundle (Clover, Mogujie): its extent in the file served
	 * meanwhile, read from that file's index (not memoised: the entry describes no READY
	 * file whose SHA-256 could key it). */
	if (info->state == CACHE_EXPIRED || info->old_size) {
		int fd, rc;
		uint64_t fsize;
		if (chunk_peek(o, a, node->type, &node->chunk, &fd, &fsize))
			return 0;
		rc = bundle_index_read(fd, fsize, &ix);
		close(fd);
		if (rc)
			return 0;
		rc = node_member_extent(&ix, node->member, &offset, size);
		bundle_index_free(&ix);
		return rc;
	}
	if (info->state != CACHE_READY)
		return 0;
	if (node->kind == NODE_WHOLE_FILE) {
		*size = info->size;
		return 0;
	}
	if (bundle_of(o, a, node->type, &node->chunk, info, &ix))
		return 0;
	int rc = node_member_extent(&ix, node->member, &offset, size);
	bundle_index_free(&ix);
	return rc;
}

/*
 * exact_sizes: make sure the export behind node is READY before its size is reported, by
 * waiting for it exactly as open does (same errors, same interruption). 0 when READY.
 */
static int wait_exported(struct orderfs *o, struct fs_account *a, const struct node *node)
{
	struct cache_handle *h = NULL;
	struct cache_info info;
	char rs[DATE_RANGE_STR_LEN];
	int rc;

	chunk_lookup(o, a, node->type, &node->chunk, &info);
	if (info.state == CACHE_READY)
		return 0;
	rc = chunk_open(o, a, node->type, &node->chunk, &h); /* counts in export_waiters */
	if (rc == 0) {
		cache_handle_close(h);
	} else {
		date_range_format(&node->chunk, rs);
		log_debug("stat %s: %s while waiting for the export", rs, strerror(-rc));
	}
	return rc;
}

/*
 * With accounts_dir, the part of path above an account's tree: "/" and "/.stats" are the
 * mount's (*a NULL), "/NAME" and "/NAME/.status" an account's (not started for them).
 * Returns 0 with *node set for those, 1 with *a started and *sub the rest of the path
 * ("/exports/...") to resolve in its tree, or -ENOENT / -EIO (its file cannot be read now,
 * or the account cannot start).
 */
static int resolve_account(struct orderfs *o, const char *path, struct fs_account **a,
			   const char **sub, struct node *node)
{
	char name[ACCOUNT_NAME_MAX];
	size_t len = strcspn(path + 1, "/");
	int rc;

	memset(node, 0, sizeof(*node));
	*a = NULL;
	node->kind = NODE_ROOT;
	if (!strcmp(path, "/"))
		return 0;
	if (!strcmp(path, NODE_STATS_PATH)) {
		node->kind = NODE_STATS;
		return 0;
	}
	if (len >= sizeof(name))
		return -ENOENT;
	memcpy(name, path + 1, len);
	name[len] = '\0';
	if (!(*a = accounts_get(o->accounts, name, &rc)))
		return rc;
	*sub = path + 1 + len;
	if (!**sub)
		return 0;
	if (!strcmp(*sub, "/.status")) {
		node->kind = NODE_ACCOUNT_STATUS;
		return 0;
	}
	/* Only its exports start an account: a file manager probing /NAME/.Trash or a shell
	 * /NAME/.git must not send a merchant's token anywhere. */
	if (strncmp(*sub, "/exports", 8) || ((*sub)[8] && (*sub)[8] != '/')) {
		log_debug("lookup %s: ENOENT: an account holds exports/ and .status", path);
		return -ENOENT;
	}
	return accounts_start(o->accounts, *a) ? -EIO : 1;
}

/* Resolve a path to the account it is in (NULL: the mount's own root and /.stats) and a node
 * that exists: syntax, then the window (a range the cache already holds stays reachable after
 * it leaves the window). 0, -ENOENT with one debug line, -EIO (the account cannot start). */
/* sub "/exports/NAME" where NAME is a named range of a today (named.h): node is its LINK.
 * 1 when it is, else 0 (node untouched but for its range). */
static int resolve_named(const struct fs_account *a, const char *sub, const struct date *today,
			 struct node *node)
{
	if (strncmp(sub, "/exports/", 9) || strchr(sub + 9, '/'))
		return 0;
	if (named_resolve(sub + 9, today, a->window_months, &node->range))
		return 0;
	node->kind = NODE_LINK;
	return 1;
}

static int resolve(struct orderfs *o, const char *path, struct fs_account **ap,
		   struct node *node)
{
	struct fs_account *a = &o->single;
	const char *why = NULL, *sub = path;
	struct date today;

	if (o->accounts) {
		int rc = resolve_account(o, path, &a, &sub, node);
		*ap = a;
		if (rc <= 0)
			return rc;
	}
	*ap = a;
	today = account_today(a);
	if (node_resolve(sub, &a->layout, node, &why) && !resolve_named(a, sub, &today, node))
		goto enoent;
	if (o->accounts && node->kind == NODE_STATS) {
		why = "/.stats is the mount's, not an account's";
		goto enoent;
	}
	if (node_reachable(node, &today, a->window_months, &why) ||
	    range_cached(o, a, &node->range))
		return 0;
enoent:
	log_debug("lookup %s: ENOENT: %s", path, why);
	return -ENOENT;
}

/* Who may read a's nodes (the mount's root and /.stats: a is NULL, or the single account). */
static void node_perm(struct orderfs *o, struct fs_account *a, struct fs_perm *p)
{
	if (o->accounts && a)
		accounts_perm(o->accounts, a, p);
	else
		*p = o->perm;
}

static void fill_dir_stat(struct orderfs *o, const struct fs_perm *p, int mkdir_here,
			  struct stat *st)
{
	perm_dir_stat(p, mkdir_here, st);
	st->st_nlink = 2;
	st->st_mtime = st->st_ctime = st->st_atime = o->mount_time;
}

/* Render .status for a range from cache snapshots. NULL on ENOMEM. */
static char *render_status(struct orderfs *o, struct fs_account *a, const struct date_range *r,
			   size_t *len)
{
	size_t nchunks = path_file_count(r, &a->layout), n = nchunks * a->nkinds;
	char(*names)[PATH_NAME_MAX] = calloc(n, sizeof(*names));
	struct date_range *chunks = calloc(n, sizeof(*chunks));
	struct cache_info *infos = calloc(n, sizeof(*infos));
	char *text = NULL;

	if (!names || !chunks || !infos)
		goto out;
	for (size_t t = 0, k = 0; t < a->nkinds; t++)
		for (size_t i = 0; i < nchunks; i++, k++) {
			path_export_label(r, &a->layout, t, i, names[k]);
			path_chunk(r, &a->layout, i, &chunks[k]);
			chunk_lookup(o, a, t, &chunks[k], &infos[k]);
		}
	text = status_render(r, n, (const char(*)[PATH_NAME_MAX])names, chunks, infos,
			     stats_fleet_state(o, a), account_active(a) ? a->prov->zone : NULL, len);
out:
	free(names);
	free(chunks);
	free(infos);
	return text;
}

/* The text of /.stats or of a range's .status, rendered now. NULL on ENOMEM. */
static char *render_text(struct orderfs *o, struct fs_account *a, const struct node *node,
			 size_t *len)
{
	if (node->kind == NODE_STATS)
		return stats_render(o, 1, len);
	if (node->kind == NODE_ACCOUNT_STATUS)
		return account_status_render(o, a, len);
	return render_status(o, a, &node->range, len);
}

/* A regular read-only file of size bytes; mtime 0 keeps the mount time. */
static void fill_file_stat(struct orderfs *o, const struct fs_perm *p, struct stat *st,
			   uint64_t size, time_t mtime)
{
	memset(st, 0, sizeof(*st));
	fill_dir_stat(o, p, 0, st);
	perm_file_stat(p, st);
	st->st_nlink = 1;
	st->st_size = (off_t)size;
	if (mtime)
		st->st_mtime = st->st_ctime = mtime;
}

/* /.stats and .status: regular, read-only, regenerated at every open. */
static int getattr_text(struct orderfs *o, struct fs_account *a, const struct node *node,
			struct stat *st)
{
	size_t len = 0;
	struct fs_perm p;
	char *text = render_text(o, a, node, &len);
	if (!text)
		return -ENOMEM;
	free(text);
	node_perm(o, a, &p);
	fill_file_stat(o, &p, st, len, time(NULL));
	return 0;
}

/* An export file: its size once READY (waiting for it with exact_sizes), 0 before. */
static int getattr_export(struct orderfs *o, struct fs_account *a, const char *path,
			  const struct node *node, struct stat *st)
{
	struct cache_info info;
	struct fs_perm p;
	uint64_t size;
	int rc;

	if (o->exact_sizes && (rc = wait_exported(o, a, node)) != 0)
		return rc;
	if ((rc = export_size(o, a, node, &info, &size)) != 0)
		return rc;
	node_perm(o, a, &p);
	/* Never below what a page-cache reader of an older export holds: the kernel would cut
	 * that reader's file at the smaller size. */
	size = kernel_view_note_size(o->kview, path, size);
	if (info.state == CACHE_READY || size) {
		fill_file_stat(o, &p, st, size, (time_t)info.ready_time);
		st->st_blocks = (blkcnt_t)((size + 511) / 512);
	} else {
		fill_file_stat(o, &p, st, 0, 0);
	}
	return 0;
}

/* fstat of an open file: what that handle reads, never a newer export's size (an open file
 * keeps its bytes when the range is exported again) and never a wait; more only while a
 * page-cache reader of an older, larger export of the path is open (kernel_view.h). */
static int getattr_open(struct orderfs *o, const struct fs_file *f, struct stat *st)
{
	struct cache_file_info info;
	time_t mtime = time(NULL);
	uint64_t size = f->size;

	if (f->kind == FILE_EXPORT) {
		cache_handle_info(f->handle, &info);
		mtime = (time_t)info.ready_time;
	}
	/* The kernel takes this size for the path, as from a stat of it (see getattr_export). */
	if (f->path)
		size = kernel_view_note_size(o->kview, f->path, size);
	fill_file_stat(o, &f->perm, st, size, mtime);
	st->st_blocks = (blkcnt_t)((size + 511) / 512);
	return 0;
}

/* A range someone used stays in the listing (see README: mkdir). */
static void note_range_used(struct fs_account *a, const struct date_range *r)
{
	struct range_note n;

	if (date_range_days(r) <= 1)
		return;
	range_map_get(a->notes, r, &n);
	if (!n.made_by_mkdir) {
		n.made_by_mkdir = 1;
		range_map_put(a->notes, r, &n);
	}
}

static int fs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	struct orderfs *o = fs_get();
	struct fs_account *a;
	struct node node;
	struct fs_perm p;
	if (fi && fi->fh)
		return getattr_open(o, (const struct fs_file *)(uintptr_t)fi->fh, st);
	int rc = resolve(o, path, &a, &node);
	if (rc)
		return rc;

	switch (node.kind) {
	case NODE_STATS:
	case NODE_STATUS:
	case NODE_ACCOUNT_STATUS:
		return getattr_text(o, a, &node, st);
	case NODE_WHOLE_FILE:
	case NODE_MEMBER:
		return getattr_export(o, a, path, &node, st);
	case NODE_RANGE_DIR:
		note_range_used(a, &node.range);
		break;
	case NODE_LINK:
		node_perm(o, a, &p);
		fill_file_stat(o, &p, st, DATE_RANGE_STR_LEN - 1, 0);
		st->st_mode = S_IFLNK | 0777; /* a link's own mode is never checked */
		return 0;
	case NODE_ROOT:
	case NODE_EXPORTS:
		break;
	}
	memset(st, 0, sizeof(*st));
	node_perm(o, a, &p);
	fill_dir_stat(o, &p, node.kind == NODE_EXPORTS, st);
	return 0;
}

/* What readdir says of each name: only the type (d_type), so `ls --color` and `find` need no
 * stat per name; a stat could start an export with exact_sizes. */
static const struct stat dir_type = {.st_mode = S_IFDIR};
static const struct stat file_type = {.st_mode = S_IFREG};
static const struct stat link_type = {.st_mode = S_IFLNK};

/* Where a listing goes: node_list_export's callback fills it with file names. */
struct dir_fill {
	void *buf;
	fuse_fill_dir_t filler;
};

static int fill_file_name(void *arg, const char *name)
{
	struct dir_fill *d = arg;
	return d->filler(d->buf, name, &file_type, 0, 0);
}

static int readdir_exports(struct orderfs *o, struct fs_account *a, void *buf,
			   fuse_fill_dir_t filler)
{
	struct name_list l = {NULL, 0, 0, 0, 0};
	struct date today = account_today(a);
	struct date d = date_sub_months(&today, a->window_months);
	int rc = 0;

	for (; date_cmp(&d, &today) <= 0; d = date_add_days(&d, 1)) {
		struct date_range day = {d, d};
		name_list_add_range(&l, &day);
	}
	if (rc == 0)
		rc = cached_ranges_foreach(o, a, &l);
	range_map_foreach_mkdir(a->notes, name_list_add_range, &l);
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
	/* The named ranges: names only, so listing never starts an export. */
	struct named_range named[NAMED_MAX];
	size_t n = named_list(&today, a->window_months, named, NAMED_MAX);
	for (size_t i = 0; i < n && i < NAMED_MAX; i++)
		if (filler(buf, named[i].name, &link_type, 0, 0))
			break;
	return 0;
}

/* The files of one export: a whole file, or a bundle's members (its fixed ones until it has
 * been exported, then exactly what it holds). 0, or 1 when the listing buffer is full. */
static int readdir_export(struct orderfs *o, struct fs_account *a, const struct date_range *r,
			  size_t t, size_t i, struct dir_fill *d)
{
	struct date_range chunk;
	struct cache_info info;
	struct bundle_index ix;

	if (a->layout.types[t].ext)
		return node_list_export(r, &a->layout, t, i, NULL, fill_file_name, d);
	path_chunk(r, &a->layout, i, &chunk);
	chunk_lookup(o, a, t, &chunk, &info);
	if (bundle_of(o, a, t, &chunk, &info, &ix))
		return node_list_export(r, &a->layout, t, i, NULL, fill_file_name, d);
	int full = node_list_export(r, &a->layout, t, i, &ix, fill_file_name, d);
	bundle_index_free(&ix);
	return full;
}

static void readdir_range(struct orderfs *o, struct fs_account *a, const struct date_range *r,
			  void *buf, fuse_fill_dir_t filler)
{
	size_t n = path_file_count(r, &a->layout);
	struct dir_fill d = {buf, filler};
	for (size_t t = 0; t < a->nkinds; t++)
		for (size_t i = 0; i < n; i++)
			if (readdir_export(o, a, r, t, i, &d))
				return;
}

/* The mount's root with accounts_dir: /.stats and one directory per account, the directory
 * read again first so added and removed accounts show. */
struct root_fill {
	void *buf;
	fuse_fill_dir_t filler;
	int full;
};

static void fill_account_name(void *arg, struct fs_account *a)
{
	struct root_fill *r = arg;
	if (!r->full && r->filler(r->buf, a->name, &dir_type, 0, 0))
		r->full = 1;
}

/* An account the scan hid: the kernel may still hold its names for attr_timeout. */
static void forget_account(void *arg, const char *name)
{
	struct orderfs *o = arg;
	char path[ACCOUNT_NAME_MAX + 2];

	snprintf(path, sizeof(path), "/%s", name);
	fuse_invalidate_path(o->fuse, path);
}

static void readdir_accounts(struct orderfs *o, void *buf, fuse_fill_dir_t filler)
{
	struct root_fill r = {buf, filler, 0};

	/* A failure is logged; the accounts known stay listed. */
	accounts_scan(o->accounts, forget_account, o);
	filler(buf, NODE_STATS_PATH + 1, &file_type, 0, 0);
	accounts_foreach(o->accounts, fill_account_name, &r);
}

static int fs_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t offset,
		      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	struct orderfs *o = fs_get();
	struct fs_account *a;
	struct node node;
	int rc = resolve(o, path, &a, &node);
	if (rc)
		return rc;

	filler(buf, ".", NULL, 0, 0);
	filler(buf, "..", NULL, 0, 0);
	switch (node.kind) {
	case NODE_ROOT:
		if (!a) {
			readdir_accounts(o, buf, filler);
			return 0;
		}
		filler(buf, "exports", &dir_type, 0, 0);
		filler(buf, o->accounts ? ".status" : NODE_STATS_PATH + 1, &file_type, 0, 0);
		return 0;
	case NODE_EXPORTS:
		return readdir_exports(o, a, buf, filler);
	case NODE_RANGE_DIR:
		readdir_range(o, a, &node.range, buf, filler);
		filler(buf, ".status", &file_type, 0, 0);
		return 0;
	default:
		return -ENOTDIR;
	}
}

/* Where member lies in the bundle h has open, from its index (read once per ready file, shared
 * with stat and readdir). 0, -ENOENT no such member, -EIO not a bundle, -ENOMEM. */
static int member_extent(struct orderfs *o, struct cache_handle *h, const char *path,
			 const char *member, uint64_t *base, uint64_t *size)
{
	struct cache_file_info info;
	struct bundle_index ix;

	cache_handle_info(h, &info); /* the handle's own file, whatever a lookup says now */
	int rc = bundle_memo_read(o->bundles, info.sha256, info.ready_time, cache_handle_fd(h),
				  cache_handle_size(h), &ix);
	if (rc) {
		log_err("open %s: the cached bundle is unreadable: %s", path, strerror(-rc));
		return rc == -ENOMEM ? rc : -EIO;
	}
	rc = node_member_extent(&ix, member, base, size);
	if (rc)
		log_debug("open %s: ENOENT: the export has no such file", path);
	bundle_index_free(&ix);
	return rc;
}

/* Page cache or direct I/O for export file f just opened (see the note at the top). */
static void choose_caching(struct orderfs *o, const char *path, struct fs_file *f,
			   struct fuse_file_info *fi)
{
	struct cache_file_info info;
	int keep;

	/* A page-cache open is counted per path until release, and fstat shows the path's
	 * size (kernel_view_note_size): both need the path. Without it, direct I/O. */
	f->path = strdup(path);
	/* The handle's own snapshot: a lookup now could already describe a newer export. */
	cache_handle_info(f->handle, &info);
	if (f->path &&
	    kernel_view_open(o->kview, path, f->size, info.sha256, &keep) == KERNEL_OPEN_CACHE) {
		f->page_cached = 1;
		fi->keep_cache = keep;
		return;
	}
	/* The kernel may hold a stale size (or another content's pages in use): read to EOF
	 * directly, refresh its attrs. */
	fi->direct_io = 1;
	fi->keep_cache = 0;
	fuse_invalidate_path(o->fuse, path);
}

/* A new open file of kind and size, handed to the kernel in fi and tracked for teardown.
 * Takes over handle and text (freed with the file). NULL on ENOMEM (nothing taken over). */
static struct fs_file *file_new(struct orderfs *o, enum fs_file_kind kind,
				struct cache_handle *handle, char *text, uint64_t size,
				struct fuse_file_info *fi)
{
	struct fs_file *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->kind = kind;
	f->handle = handle;
	f->text = text;
	f->size = size;
	fi->fh = (uintptr_t)f;
	files_add(o, f);
	return f;
}

static int open_export(struct orderfs *o, struct fs_account *a, const char *path,
		       const struct node *node, struct fuse_file_info *fi)
{
	struct cache_handle *h = NULL;
	char rs[DATE_RANGE_STR_LEN];
	uint64_t base = 0, size;

	int rc = chunk_open(o, a, node->type, &node->chunk, &h);
	if (rc) {
		date_range_format(&node->chunk, rs);
		if (rc == -EINTR)
			log_debug("open %s: interrupted; the export goes on", rs);
		return rc;
	}
	size = cache_handle_size(h);
	if (node->kind == NODE_MEMBER &&
	    (rc = member_extent(o, h, path, node->member, &base, &size)) != 0) {
		cache_handle_close(h);
		return rc;
	}
	struct fs_file *f = file_new(o, FILE_EXPORT, h, NULL, size, fi);
	if (!f) {
		cache_handle_close(h);
		return -ENOMEM;
	}
	f->base = base;
	choose_caching(o, path, f, fi);
	return 0;
}

/* /.stats or .status: the text rendered at open, read whole by direct I/O. */
static int open_text(struct orderfs *o, struct fs_account *a, const struct node *node,
		     struct fuse_file_info *fi)
{
	size_t len = 0;
	char *text = render_text(o, a, node, &len);
	if (!text)
		return -ENOMEM;
	if (!file_new(o, FILE_STATUS, NULL, text, len, fi)) {
		free(text);
		return -ENOMEM;
	}
	fi->direct_io = 1; /* generated text: its size changes between opens */
	return 0;
}

/* One more open file for the calling user, unless it holds max_open_per_user already: then
 * EMFILE for that user alone, with one log line naming the uid (the mount's own user is not
 * capped). 0 or -EMFILE. */
static int open_slot_take(struct orderfs *o, uid_t uid)
{
	/* The mount's own user is not capped: it can unmount or kill orderfs anyway. */
	unsigned max = uid == o->mount_uid ? 0 : o->max_open_per_user;
	int say;

	if (user_count_take(o->opens, uid, max, &say) == 0)
		return 0;
	if (say)
		log_warn("uid %u holds %u open files (max_open_per_user): its further opens get "
			 "EMFILE",
			 (unsigned)uid, o->max_open_per_user);
	return -EMFILE;
}

static int open_node(struct orderfs *o, const char *path, struct fuse_file_info *fi)
{
	struct fs_account *a;
	struct node node;
	int rc = resolve(o, path, &a, &node);
	if (rc)
		return rc;
	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC))
		return -EROFS;

	if (node_is_export(&node))
		rc = open_export(o, a, path, &node, fi);
	else if (!node_is_file(&node))
		return -EISDIR;
	else
		rc = open_text(o, a, &node, fi);
	if (rc == 0)
		node_perm(o, a, &((struct fs_file *)(uintptr_t)fi->fh)->perm);
	return rc;
}

static int fs_open(const char *path, struct fuse_file_info *fi)
{
	struct orderfs *o = fs_get();
	uid_t uid = fuse_get_context()->uid;
	int rc = open_slot_take(o, uid);

	if (rc == 0 && (rc = open_node(o, path, fi)) == 0)
		((struct fs_file *)(uintptr_t)fi->fh)->uid = uid;
	else if (rc != -EMFILE)
		user_count_give(o->opens, uid);
	return rc;
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
	if (f->page_cached)
		kernel_view_close(o->kview, f->path);
	user_count_give(o->opens, f->uid);
	fs_file_free(f);
	return 0;
}

/* The account a mkdir path is in and the rest of the path in its tree. 0, -EROFS (not in
 * an account's tree), -ENOENT, -EIO. */
static int mkdir_account(struct orderfs *o, const char *path, struct fs_account **a,
			 const char **sub)
{
	struct node top;

	*a = &o->single;
	*sub = path;
	if (!o->accounts)
		return 0;
	int rc = resolve_account(o, path, a, sub, &top);
	return rc == 0 ? -EROFS : rc < 0 ? rc : 0;
}

static int fs_mkdir(const char *path, mode_t mode)
{
	struct orderfs *o = fs_get();
	struct date today;
	struct fs_account *a;
	struct node node;
	const char *why = NULL, *sub;
	int rc;

	if ((rc = mkdir_account(o, path, &a, &sub)) != 0)
		return rc;
	/* The kernel answers EEXIST itself for every range that resolves; what reaches us is a
	 * name that did not. */
	if (node_resolve(sub, &a->layout, &node, &why) || node.kind != NODE_RANGE_DIR) {
		if (strncmp(sub, "/exports/", 9))
			return -EROFS;
		log_debug("mkdir %s: EINVAL: %s", path, why ? why : "not a range");
		return -EINVAL;
	}
	today = account_today(a);
	if (!node_in_window(&node.range, &today, a->window_months, &why)) {
		log_debug("mkdir %s: EINVAL: %s", path, why);
		return -EINVAL;
	}
	struct range_note n;
	range_map_get(a->notes, &node.range, &n);
	n.made_by_mkdir = 1;
	return range_map_put(a->notes, &node.range, &n);
}

static int fs_rmdir(const char *path)
{
	struct orderfs *o = fs_get();
	struct fs_account *a;
	struct node node;
	int rc = resolve(o, path, &a, &node);
	if (rc)
		return rc;
	if (node.kind != NODE_RANGE_DIR)
		return node_is_file(&node) ? -ENOTDIR : -EROFS;

	size_t n = path_file_count(&node.range, &a->layout);
	for (size_t t = 0; t < a->nkinds; t++)
		for (size_t i = 0; i < n; i++) {
			struct date_range chunk;
			path_chunk(&node.range, &a->layout, i, &chunk);
			chunk_forget(o, a, t, &chunk);
		}
	range_map_del(a->notes, &node.range);
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
	if (!strcmp(name, "as_of"))
		return snprintf(out, len, "%lld", (long long)in->applied_time);
	if (!strcmp(name, "complete"))
		return snprintf(out, len, "%d", in->complete);
	if (!strcmp(name, "fresh_until"))
		return snprintf(out, len, "%lld", (long long)(in->complete ? 0 : in->fresh_until));
	if (!strcmp(name, "size"))
		return snprintf(out, len, "%llu", (unsigned long long)size);
	if (!strcmp(name, "step"))
		return progress_step(in, out, len);
	return -1;
}

static const char *const xattr_names[] = {"state",	"task_id",  "server_name", "sha256",
					  "expires",	"progress", "size",	   "step",
					  "as_of",	"complete", "fresh_until"};

static int fs_getxattr(const char *path, const char *name, char *value, size_t size)
{
	struct orderfs *o = fs_get();
	struct fs_account *a;
	struct node node;
	struct cache_info info;
	char buf[PROVIDER_NAME_MAX + 8];
	int rc = resolve(o, path, &a, &node);
	if (rc)
		return rc;
	if (!node_is_export(&node) || strncmp(name, XATTR_PREFIX, strlen(XATTR_PREFIX)))
		return -ENODATA;
	uint64_t file_size;
	if ((rc = export_size(o, a, &node, &info, &file_size)) != 0)
		return rc;
	if (node.kind == NODE_WHOLE_FILE)
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
	struct fs_account *a;
	struct node node;
	size_t need = 0;
	int rc = resolve(o, path, &a, &node);
	if (rc)
		return rc;
	if (!node_is_export(&node))
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

/* A named range's target: the dated range directory beside it ("2026-12-01..2026-12-07"). */
static int fs_readlink(const char *path, char *buf, size_t size)
{
	struct orderfs *o = fs_get();
	struct fs_account *a;
	struct node node;
	char target[DATE_RANGE_STR_LEN];
	int rc = resolve(o, path, &a, &node);

	if (rc)
		return rc;
	if (node.kind != NODE_LINK)
		return -EINVAL;
	date_range_format(&node.range, target);
	snprintf(buf, size, "%s", target);
	return 0;
}

static const struct fuse_operations orderfs_ops = {
	.init = fs_init,
	.getattr = fs_getattr,
	.readlink = fs_readlink,
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
