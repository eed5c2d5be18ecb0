/*
 * Keeps /metrics answering when someone holds connections open: libmicrohttpd's own timeout
 * is per byte (each byte renews it), so a client sending one byte every few seconds holds a
 * connection forever. The guard times the whole request instead: a connection that has not
 * had a request answered within deadline_ms of connecting (or of its last answer) is shut
 * down. Clients that are not on loopback may hold at most per_addr_max connections at once
 * each; loopback clients are the host's own (a scraper, a local user) and are limited only
 * by the connection limit and the deadline.
 * The callbacks run on libmicrohttpd's thread; the guard's watchdog thread only shuts
 * sockets down (never closes them), under the guard's lock, which the closed notification
 * also takes before libmicrohttpd closes the descriptor.
 */
#ifndef ORDERFS_METRICS_GUARD_H
#define ORDERFS_METRICS_GUARD_H

#include <microhttpd.h>

struct metrics_guard;

/* A guard and its watchdog thread. NULL on ENOMEM or when the thread cannot start. */
struct metrics_guard *metrics_guard_new(unsigned deadline_ms, unsigned per_addr_max);

/* Stop the watchdog and free g; call after MHD_stop_daemon (no connection left). NULL: no-op. */
void metrics_guard_free(struct metrics_guard *g);

/* For MHD_OPTION_NOTIFY_CONNECTION (cls: the guard). */
void metrics_guard_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe);

/* For MHD_OPTION_NOTIFY_COMPLETED (cls: the guard): an answered request restarts the
 * connection's deadline, so a keep-alive scraper is not cut off. */
void metrics_guard_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			     enum MHD_RequestTerminationCode toe);

#endif
