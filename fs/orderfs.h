/*
 * The state every FUSE op reaches through fuse_get_context()->private_data.
 *
 * fs/, the only layer that speaks FUSE, in five rooms whose calls run one way (top to bottom
 * here; tests/check_circles.py checks it from the built objects):
 *   fs/ (top)      the entry points, main.c (the command line, the mount's start and teardown)
 *                  and get.c (`orderfs get`, one export without FUSE); the FUSE adapter, ops.c
 *                  (struct fuse_operations), and what only it uses: node and path (what a
 *                  path names), named, name_list, bundle_memo, user_count, user_waits,
 *                  test_clock.
 *   fs/report/     what the mount reports: .stats, /metrics, .status (report.h).
 *   fs/accounts/   the merchants of one mount: account.h, accounts, account_conf, account_start
 *                  (accounts.h).
 *   fs/mount/      the mount's set-up: config, the provider table, setup, notify, dirlock,
 *                  prefetch (setup.h says how they relate).
 *   fs/base/       the small parts every room uses: kernel_view, range_map, perm, progress,
 *                  and the containers str_map and bsearch.
 * main.c and get.c set the others up; the adapter calls accounts and reports; reports read
 * accounts, the set-up's prefetcher and the cache; accounts call the set-up; the set-up calls
 * nothing of the accounts, the reports or the adapter (config and the provider table ask only
 * each other and fs/base/); fs/base/ calls no room. No file calls back up into one that
 * calls it.
 */
#ifndef ORDERFS_ORDERFS_H
#define ORDERFS_ORDERFS_H

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "../cache/cache.h"
#include "../client/fleet/fleet.h"
#include "accounts/account.h"
#include "bundle_memo.h"
#include "mount/providers.h"
#include "base/kernel_view.h"
#include "path.h"
#include "base/perm.h"
#include "base/range_map.h"

struct accounts;
struct fuse;
struct fs_file;

struct orderfs {
	/* The mount's merchant without accounts_dir (always active); with it, accounts holds
	 * one per NAME.conf and single is unused. */
	struct fs_account single;
	struct accounts *accounts; /* NULL without accounts_dir */
	struct prefetcher *prefetcher; /* the one prefetch thread, every account's passes */
	const struct fs_config *cfg; /* the main config, for the life of the mount */
	struct cache *cache; /* the exports of every account and type */
	struct s3_store *store; /* the shared store (store_url), NULL none; freed after cache */
	char fleet_host[FLEET_HOST_MAX]; /* this host's name in the fleet */
	struct fleet_session *fleet_session; /* accounts_dir in fleet mode: the accounts' one */
	struct bundle_memo *bundles; /* indexes of READY bundles, for stat, readdir, open */
	struct fuse *fuse;
	struct kernel_view *kview; /* per path: size and content the kernel was shown */
	const char *cache_dir;
	double attr_timeout_s;
	int exact_sizes;	     /* stat of a file not exported yet waits for its export */
	atomic_int export_waiters;   /* opens and stats waiting for an export now */
	int export_waiters_max;	     /* past this many, they answer EAGAIN: the other FUSE threads
				      * are kept for reads, listings, /.stats and interrupts */
	time_t mount_time;
	struct fs_perm perm;	     /* the mount's root and /.stats; without accounts_dir, all */
	uid_t mount_uid;	     /* the user who mounted: the per-user caps spare it */
	struct user_count *opens;    /* open files per uid (fs_open .. fs_release) */
	unsigned max_open_per_user;  /* past it, that user's opens get EMFILE; 0: no cap */
	struct user_waits *waits;    /* exports each uid waits for (chunk_open) */
	unsigned max_queued_per_user; /* past it, that user's opens get EAGAIN; 0: no cap */
	pthread_mutex_t files_lock; /* protects files */
	struct fs_file *files;	    /* open files, closed at teardown if the kernel did not */
	atomic_uint_least64_t bytes_served; /* export bytes handed to readers (/.stats) */
};

/* The fuse_operations table of orderfs. */
const struct fuse_operations *orderfs_operations(void);

/* Close every file the kernel left open (called after the FUSE loop has ended). */
void orderfs_close_all(struct orderfs *o);

#endif
