/*
 * The state every FUSE op reaches through fuse_get_context()->private_data.
 */
#ifndef ORDERFS_ORDERFS_H
#define ORDERFS_ORDERFS_H

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "../cache/cache.h"
#include "../client/fleet.h"
#include "bundle_memo.h"
#include "providers.h"
#include "kernel_view.h"
#include "path.h"
#include "range_map.h"

struct fuse;
struct fs_file;
struct prefetch;

#define FS_KINDS_MAX FS_TYPES_MAX

/* One of the provider's types; its exports are type t of the mount's one cache. */
struct fs_kind {
	const struct provider_type *type;
};

struct orderfs {
	struct fs_kind kinds[FS_KINDS_MAX]; /* kinds[t] is layout.types[t] */
	size_t nkinds;
	struct cache *cache; /* the exports of every kind, kinds[t] as type t */
	struct fleet *fleet; /* fleet mode's membership (NULL: off); outlives the cache */
	char fleet_host[FLEET_HOST_MAX]; /* this host's name in the fleet */
	struct bundle_memo *bundles; /* indexes of READY bundles, for stat, readdir, open */
	struct provider *prov;
	struct fuse *fuse;
	struct path_layout layout;
	int window_months;
	struct range_map *notes;	 /* ranges pinned into the listing (mkdir, use) */
	struct kernel_view *kview; /* per path: size and content the kernel was shown */
	const char *cache_dir;
	double attr_timeout_s;
	int exact_sizes;	     /* stat of a file not exported yet waits for its export */
	atomic_int stat_waiters;     /* stats waiting for an export now (exact_sizes) */
	int stat_waiters_max;	     /* past this many, a stat answers EAGAIN: FUSE threads are
				      * kept for reads, listings and /.stats */
	time_t mount_time;
	pthread_mutex_t files_lock; /* protects files */
	struct fs_file *files;	    /* open files, closed at teardown if the kernel did not */
	atomic_uint_least64_t bytes_served; /* export bytes handed to readers (/.stats) */
	struct prefetch *prefetch;	    /* NULL when prefetch is off */
};

/* The fuse_operations table of orderfs. */
const struct fuse_operations *orderfs_operations(void);

/* The stats of the whole cache, every kind's added up. */
void orderfs_cache_stats(struct orderfs *o, struct cache_stats *out);

/* Close every file the kernel left open (called after the FUSE loop has ended). */
void orderfs_close_all(struct orderfs *o);

#endif
