/*
 * fs/report/: what the mount reports about itself. Reading a report never changes what it
 * reads: it starts no export and no account.
 *   stats.c           MOUNT/.stats, the SIGUSR1 log line and systemd's STATUS= (one JSON object)
 *   metrics.c         GET /metrics (Prometheus text) on metrics_listen, over libmicrohttpd;
 *                     metrics_guard.c keeps slow or greedy clients from holding its connections
 *   status.c          MOUNT/exports/A..B/.status: the state of each file of one range
 *   account_status.c  MOUNT/NAME/.status with accounts_dir: one account's health
 *   report.c          the cache's counters for the mount and for one account (this header)
 *
 * Calls run one way: the FUSE adapter (fs/ops.c) and the mount's start (fs/main.c) call the
 * renderers; the renderers read the mount's state (struct orderfs, the accounts, the
 * prefetcher, the kernel view, the pinned ranges) and the cache's counters through this
 * header, and call nothing of the adapter, so no report sits in a circle with it.
 */
#ifndef ORDERFS_REPORT_H
#define ORDERFS_REPORT_H

#include "../../cache/cache.h"

struct orderfs;
struct fs_account;

/* The counters of the mount's whole cache, every account's and type's added up, into *out.
 * Thread-safe (a snapshot under the cache's locks); never fails. */
void report_cache_stats(struct orderfs *o, struct cache_stats *out);

/* The counters of account a's export types into *out; all zero when a has not started.
 * Thread-safe; never fails; never starts a. */
void report_account_stats(struct orderfs *o, struct fs_account *a, struct cache_stats *out);

#endif
