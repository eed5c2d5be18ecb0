/*
 * What orderfs has done, as one JSON object: MOUNTPOINT/.stats, the SIGUSR1 log line and the
 * systemd STATUS= line all come from here.
 *
 * The signal watcher is a dedicated thread in sigwait(): SIGUSR1 is blocked in every thread
 * (stats_block_signals must run before any thread starts), so no handler ever runs in signal
 * context and the log call is an ordinary one.
 */
#ifndef ORDERFS_STATS_H
#define ORDERFS_STATS_H

#include <stddef.h>

struct orderfs;
struct fs_account;

/* The JSON text (pretty when multiline, one line otherwise), NUL-terminated, malloc'd; *len
 * is its length. NULL on ENOMEM. */
char *stats_render(struct orderfs *o, int multiline, size_t *len);

/* In fleet mode how this host stands in account a's fleet: "member", or "unreachable, running alone"
 * (etcd unreachable past one TTL, fleet_fallback = local); NULL outside fleet mode. */
const char *stats_fleet_state(struct orderfs *o, struct fs_account *a);


/* Block SIGUSR1 in the calling thread; threads created afterwards inherit the mask. */
void stats_block_signals(void);

struct stats_watch;

/* Start the thread that logs the stats on SIGUSR1 and, under systemd, refreshes STATUS= every
 * status_interval_s seconds. NULL on failure (the mount works without it). */
struct stats_watch *stats_watch_start(struct orderfs *o, int status_interval_s);
void stats_watch_stop(struct stats_watch *w);

#endif
