/*
 * Prometheus metrics: GET /metrics on metrics_listen (libmicrohttpd, its own thread), in the
 * Prometheus text exposition format 0.0.4. Everything comes from the same counters as
 * /.stats, read at each scrape; labels name only the provider and the export type, never an
 * account, a secret or a URL. Off unless metrics_listen is set; meant for loopback (a
 * non-loopback address is logged as a warning at start).
 */
#ifndef ORDERFS_METRICS_H
#define ORDERFS_METRICS_H

#include <stddef.h>

struct orderfs;
struct metrics;

/* The exposition text for o (malloc'd, NUL-terminated, *len set). NULL on ENOMEM. */
char *metrics_render(struct orderfs *o, size_t *len);

/* Serve /metrics on listen (already validated). NULL with a log line when it cannot bind. */
struct metrics *metrics_start(struct orderfs *o, const char *listen);
/* Stop serving (waits for a scrape in progress); NULL is a no-op. */
void metrics_stop(struct metrics *m);

#endif
