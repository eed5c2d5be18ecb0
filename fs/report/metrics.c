/* Prometheus metrics over libmicrohttpd; see metrics.h. */
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "../../common/log.h"
#include "../../common/netaddr.h"
#include "../accounts/accounts.h"
#include "metrics_guard.h"
#include "../orderfs.h"
#include "report.h"
#include "../mount/prefetch.h"

#define TEXT_MAX (1u << 20) /* a scrape larger than this is a bug, not a reason to grow */

/* More connections than any scraper needs, so that slow clients, cut off by the guard's
 * whole-request deadline, cannot take them all meanwhile. */
#define METRICS_CONNECTIONS 256u
#define METRICS_REQUEST_DEADLINE_MS 3000u /* connect to answered, headers included */
#define METRICS_PER_ADDR 8u		  /* connections per non-loopback client address */
#define METRICS_IDLE_TIMEOUT_S 10u	  /* libmicrohttpd's own, renewed by each byte */

struct metrics {
	struct MHD_Daemon *d;
	struct metrics_guard *guard;
	struct orderfs *o;
};

/* ------------------------------------------------------------------ rendering */

struct text {
	char *buf;
	size_t len, cap;
	int oom;
};

static void put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->oom = 1;
			return;
		}
		if ((size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		size_t cap = t->cap * 2;
		char *b = cap <= TEXT_MAX ? realloc(t->buf, cap) : NULL;
		if (!b) {
			t->oom = 1;
			return;
		}
		t->buf = b;
		t->cap = cap;
	}
}

static void head(struct text *t, const char *name, const char *type, const char *help)
{
	put(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample per export type: name{provider="..",type=".."[,extra]} value. */
struct type_stats {
	const char *type;
	struct cache_stats s;
};

/* The per-type counters, in exposition order: one HELP/TYPE block per metric name, then one
 * sample per export type of the uint64_t at offset in struct cache_stats. */
struct counter {
	const char *metric, *type, *help; /* help and type only on a metric's first line */
	const char *extra;		  /* more labels: ",outcome=\"ready\"" */
	size_t offset;
};

#define C(metric, type, help, extra, field)                                                   \
	{metric, type, help, extra, offsetof(struct cache_stats, field)}

static const struct counter exports_counters[] = {
	C("orderfs_exports_applied_total", "counter", "Export tasks applied for.", "", applies),
	C("orderfs_exports_total", "counter", "Exports that ended, by outcome.",
	  ",outcome=\"ready\"", flights_ready),
	C("orderfs_exports_total", NULL, NULL, ",outcome=\"failed\"", flights_failed),
	C("orderfs_exports_total", NULL, NULL, ",outcome=\"no_data\"", nodata),
	C("orderfs_exports_in_flight", "gauge", "Exports running now.", "", fills_running),
	C("orderfs_exports_queued", "gauge", "Exports waiting for a slot (max_exports).", "",
	  fills_queued),
	C("orderfs_prefetch_started_total", "counter", "Exports started by prefetch.", "",
	  prefetches),
	C("orderfs_refreshes_total", "counter",
	  "Files exported while their range was open, exported again.", "", refreshes),
};

static const struct counter cache_counters[] = {
	C("orderfs_cache_hits_total", "counter", "Opens served from the cache.", "", hits),
	C("orderfs_cache_misses_total", "counter", "Opens that had to export.", "", misses),
	C("orderfs_cache_size_bytes", "gauge", "Bytes of the ready files in the cache.", "",
	  total_size),
	C("orderfs_cache_entries", "gauge", "Ranges the cache knows.", "", entries),
	C("orderfs_bytes_downloaded_total", "counter", "Bytes downloaded from the provider.", "",
	  bytes_downloaded),
	C("orderfs_errors_total", "counter",
	  "Failed exports by the errno readers got (unavailable: EAGAIN answers).",
	  ",kind=\"io\"", err_io),
	C("orderfs_errors_total", NULL, NULL, ",kind=\"timeout\"", err_timeout),
	C("orderfs_errors_total", NULL, NULL, ",kind=\"no_space\"", err_nospc),
	C("orderfs_errors_total", NULL, NULL, ",kind=\"invalid\"", err_invalid),
	C("orderfs_errors_total", NULL, NULL, ",kind=\"unavailable\"", err_again),
	C("orderfs_errors_total", NULL, NULL, ",kind=\"other\"", err_other),
	C("orderfs_store_hits_total", "counter",
	  "Files taken from the shared store instead of the provider.", "", store_hits),
	C("orderfs_store_misses_total", "counter",
	  "Fills that found no usable file in the shared store.", "", store_misses),
	C("orderfs_store_uploads_total", "counter", "Files uploaded to the shared store.", "",
	  store_uploads),
	C("orderfs_store_bytes_total", "counter",
	  "Bytes moved to and from the shared store.", "", store_bytes),
	C("orderfs_store_errors_total", "counter",
	  "Failed shared store calls (auth: refused credentials, HTTP 403).", ",kind=\"any\"",
	  store_errors),
	C("orderfs_store_errors_total", NULL, NULL, ",kind=\"auth\"", store_auth_errors),
};

#undef C

static void render_counters(struct text *t, struct orderfs *o, const struct type_stats *ts,
			    size_t n, const struct counter *cs, size_t ncs)
{
	for (size_t k = 0; k < ncs; k++) {
		if (cs[k].help)
			head(t, cs[k].metric, cs[k].type, cs[k].help);
		for (size_t i = 0; i < n; i++) {
			uint64_t v;
			memcpy(&v, (const char *)&ts[i].s + cs[k].offset, sizeof(v));
			put(t, "%s{provider=\"%s\",type=\"%s\"%s} %llu\n", cs[k].metric,
			    o->cfg->provider, ts[i].type, cs[k].extra, (unsigned long long)v);
		}
	}
}

static void render_duration(struct text *t, struct orderfs *o, struct type_stats *ts, size_t n)
{
	head(t, "orderfs_export_duration_seconds", "histogram",
	     "Time from an export's start to its file being ready.");
	for (size_t i = 0; i < n; i++) {
		const char *p = o->cfg->provider, *ty = ts[i].type;
		for (int b = 0; b < CACHE_DURATION_NBOUNDS; b++)
			put(t, "orderfs_export_duration_seconds_bucket{provider=\"%s\",type=\"%s\","
			       "le=\"%.1f\"} %llu\n",
			    p, ty, cache_duration_bounds[b], (unsigned long long)ts[i].s.duration_le[b]);
		put(t, "orderfs_export_duration_seconds_bucket{provider=\"%s\",type=\"%s\","
		       "le=\"+Inf\"} %llu\n",
		    p, ty, (unsigned long long)ts[i].s.flights_ready);
		put(t, "orderfs_export_duration_seconds_sum{provider=\"%s\",type=\"%s\"} %.3f\n", p,
		    ty, ts[i].s.duration_sum_s);
		put(t, "orderfs_export_duration_seconds_count{provider=\"%s\",type=\"%s\"} %llu\n", p,
		    ty, (unsigned long long)ts[i].s.flights_ready);
	}
}

static void render_mount(struct text *t, struct orderfs *o)
{
	struct prefetch_stats ps;

	prefetch_get_stats(o->accounts ? NULL : o->single.prefetch, &ps);
	head(t, "orderfs_bytes_served_total", "counter", "Export bytes read by programs.");
	put(t, "orderfs_bytes_served_total{provider=\"%s\"} %llu\n", o->cfg->provider,
	    (unsigned long long)atomic_load(&o->bytes_served));
	head(t, "orderfs_prefetch_runs_total", "counter", "Prefetch runs.");
	put(t, "orderfs_prefetch_runs_total{provider=\"%s\"} %llu\n", o->cfg->provider,
	    (unsigned long long)ps.runs);
	head(t, "orderfs_paths_remembered", "gauge", "File paths whose size the kernel was shown.");
	put(t, "orderfs_paths_remembered{provider=\"%s\"} %zu\n", o->cfg->provider,
	    kernel_view_count(o->kview));
	head(t, "orderfs_pinned_ranges", "gauge", "Ranges kept in the exports/ listing.");
	put(t, "orderfs_pinned_ranges{provider=\"%s\"} %zu\n", o->cfg->provider,
	    o->accounts ? 0 : range_map_count(o->single.notes));
}

/* Fleet mode's counters and gauges (/.stats "fleet"), labelled with this host's name. */
static void render_fleet(struct text *t, struct orderfs *o)
{
	struct fleet_stats fs;
	struct cache_stats cs;

	if (o->accounts || !o->single.fleet)
		return; /* with accounts_dir: per account in its .status */
	fleet_get_stats(o->single.fleet, &fs);
	report_cache_stats(o, &cs);
	const struct {
		const char *metric, *type, *help;
		double v;
	} rows[] = {
		{"orderfs_fleet_claims_won_total", "counter", "Ranges this host claimed.",
		 (double)fs.claims_won},
		{"orderfs_fleet_claims_lost_total", "counter", "Claims another host held.",
		 (double)fs.claims_lost},
		{"orderfs_fleet_takeovers_total", "counter", "Claims won over a dead holder's task.",
		 (double)fs.takeovers},
		{"orderfs_fleet_fenced_writes_refused_total", "counter",
		 "Record writes refused: this host's claim had gone.", (double)fs.fenced_refused},
		{"orderfs_fleet_etcd_errors_total", "counter", "Failed etcd calls.",
		 (double)fs.etcd_errors},
		{"orderfs_fleet_lease_regrants_total", "counter", "Leases lost and granted again.",
		 (double)fs.lease_regrants},
		{"orderfs_fleet_alone_seconds_total", "counter",
		 "Seconds this host ran alone, etcd unreachable.", cs.fleet_alone_s},
		{"orderfs_fleet_reachable", "gauge", "1 when etcd answered within one lease TTL.",
		 fleet_reachable(o->single.fleet) ? 1 : 0},
		{"orderfs_fleet_running_alone", "gauge", "1 while this host runs alone.",
		 cs.fleet_alone ? 1 : 0},
		{"orderfs_fleet_request_rate", "gauge",
		 "Requests per second to the provider this host takes of the fleet's cap.",
		 cs.fleet_rate},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		head(t, rows[i].metric, rows[i].type, rows[i].help);
		put(t, "%s{provider=\"%s\",host=\"%s\"} %.17g\n", rows[i].metric, o->cfg->provider,
		    o->fleet_host, rows[i].v);
	}
}

struct type_sum {
	struct orderfs *o;
	struct type_stats *ts;
	size_t n;
};

/* Add account a's figures, type by type, to the sums (every account has the mount's
 * provider, so the same types). */
static void add_account_types(void *arg, struct fs_account *a)
{
	struct type_sum *sum = arg;

	if (!account_active(a))
		return;
	sum->n = a->nkinds;
	for (size_t i = 0; i < a->nkinds; i++) {
		struct cache_stats s;
		sum->ts[i].type = a->layout.types[i].base_name;
		cache_get_type_stats(sum->o->cache, a->kind0 + i, &s);
		cache_stats_add(&sum->ts[i].s, &s);
	}
}

/* The figures of each export type, summed over the accounts; how many types. */
static size_t type_stats(struct orderfs *o, struct type_stats ts[FS_TYPES_MAX])
{
	struct type_sum sum = {o, ts, 0};

	memset(ts, 0, FS_TYPES_MAX * sizeof(*ts));
	if (o->accounts)
		accounts_foreach_started(o->accounts, add_account_types, &sum);
	else
		add_account_types(&sum, &o->single);
	return sum.n;
}

char *metrics_render(struct orderfs *o, size_t *len)
{
	struct type_stats ts[FS_TYPES_MAX];
	struct text t = {malloc(8192), 0, 8192, 0};
	size_t n = type_stats(o, ts);

	if (!t.buf)
		return NULL;
	render_counters(&t, o, ts, n, exports_counters,
			sizeof(exports_counters) / sizeof(exports_counters[0]));
	render_duration(&t, o, ts, n);
	render_counters(&t, o, ts, n, cache_counters,
			sizeof(cache_counters) / sizeof(cache_counters[0]));
	render_mount(&t, o);
	render_fleet(&t, o);
	if (t.oom) {
		free(t.buf);
		return NULL;
	}
	*len = t.len;
	return t.buf;
}

/* ------------------------------------------------------------------ serving */

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, char *body,
			     size_t len, const char *type)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(len, body, body ? MHD_RESPMEM_MUST_FREE
								: MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ok;

	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", type);
	ok = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ok;
}

static enum MHD_Result serve(void *cls, struct MHD_Connection *conn, const char *url,
			     const char *method, const char *version, const char *upload,
			     size_t *upload_len, void **con_cls)
{
	struct metrics *m = cls;
	char *body;
	size_t len = 0;

	(void)version, (void)upload, (void)con_cls;
	if (*upload_len)
		return MHD_NO; /* we take no bodies */
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, NULL, 0, "text/plain");
	if (strcmp(url, "/metrics"))
		return reply(conn, MHD_HTTP_NOT_FOUND, NULL, 0, "text/plain");
	body = metrics_render(m->o, &len);
	if (!body)
		return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, 0, "text/plain");
	return reply(conn, MHD_HTTP_OK, body, len, "text/plain; version=0.0.4; charset=utf-8");
}

struct metrics *metrics_start(struct orderfs *o, const char *listen)
{
	struct sockaddr_storage addr;
	socklen_t alen;
	const char *why;
	struct metrics *m;
	/* poll/epoll, not select: descriptors past 1024 (many open files) must still work. */
	unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD;

	if (netaddr_parse_listen(listen, &addr, &alen, &why) != 0) {
		log_err("metrics_listen %s: %s", listen, why);
		return NULL;
	}
	if (!netaddr_is_loopback(&addr)) /* config_validate asked for metrics_public = yes */
		log_notice("metrics_listen %s is not a loopback address (metrics_public): anyone "
			   "who can reach it sees the counters",
			   listen);
	if (addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->o = o;
	m->guard = metrics_guard_new(METRICS_REQUEST_DEADLINE_MS, METRICS_PER_ADDR);
	if (!m->guard) {
		log_err("metrics_listen %s: out of memory", listen);
		free(m);
		return NULL;
	}
	m->d = MHD_start_daemon(
		flags, 0, NULL, NULL, serve, m, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
		MHD_OPTION_CONNECTION_LIMIT, METRICS_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
		METRICS_IDLE_TIMEOUT_S, MHD_OPTION_NOTIFY_CONNECTION, metrics_guard_notify, m->guard,
		MHD_OPTION_NOTIFY_COMPLETED, metrics_guard_completed, m->guard, MHD_OPTION_END);
	if (!m->d) {
		log_err("metrics_listen %s: cannot listen: %s", listen, strerror(errno));
		metrics_guard_free(m->guard);
		free(m);
		return NULL;
	}
	log_info("metrics on http://%s/metrics", listen);
	return m;
}

void metrics_stop(struct metrics *m)
{
	if (!m)
		return;
	MHD_stop_daemon(m->d);
	metrics_guard_free(m->guard);
	free(m);
}
