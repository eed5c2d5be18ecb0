#include "stats.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/log.h"
#include "notify.h"
#include "orderfs.h"
#include "prefetch.h"

#define STATS_MAX 4096
#define FLEET_PART_MAX 1024

/* The fleet state text of cache stats cs (stats.h). */
static const char *fleet_state_text(const struct cache_stats *cs)
{
	return cs->fleet_alone ? "unreachable, running alone" : "member";
}

const char *stats_fleet_state(struct orderfs *o)
{
	struct cache_stats cs;

	if (!o->fleet)
		return NULL;
	orderfs_cache_stats(o, &cs);
	return fleet_state_text(&cs);
}

/* Fleet mode's part of /.stats, starting with its comma, into out; "" outside fleet mode. */
static void fleet_part(struct orderfs *o, const struct cache_stats *cs, const char *nl,
		       char *out, size_t n)
{
	struct fleet_stats fs;

	out[0] = '\0';
	if (!o->fleet)
		return;
	fleet_get_stats(o->fleet, &fs);
	snprintf(out, n,
		 ",%s\"fleet\": {\"host\": \"%s\", \"state\": \"%s\", \"claims_won\": %llu, "
		 "\"claims_lost\": %llu, \"takeovers\": %llu, \"fenced_writes_refused\": %llu, "
		 "\"etcd_errors\": %llu, \"lease_regrants\": %llu, \"reachable\": %s, "
		 "\"running_alone\": %s, \"alone_seconds\": %.1f, \"request_rate\": %.2f}",
		 nl, o->fleet_host, fleet_state_text(cs),
		 (unsigned long long)fs.claims_won, (unsigned long long)fs.claims_lost,
		 (unsigned long long)fs.takeovers, (unsigned long long)fs.fenced_refused,
		 (unsigned long long)fs.etcd_errors, (unsigned long long)fs.lease_regrants,
		 fleet_reachable(o->fleet) ? "true" : "false", cs->fleet_alone ? "true" : "false",
		 cs->fleet_alone_s, cs->fleet_rate);
}

char *stats_render(struct orderfs *o, int multiline, size_t *len)
{
	char fleet[FLEET_PART_MAX];
	struct cache_stats cs;
	struct prefetch_stats ps;
	const char *nl = multiline ? "\n  " : " ";
	const char *end = multiline ? "\n" : " ";
	char *out = malloc(STATS_MAX);
	int n;

	if (!out)
		return NULL;
	orderfs_cache_stats(o, &cs);
	prefetch_get_stats(o->prefetch, &ps);
	fleet_part(o, &cs, nl, fleet, sizeof(fleet));
	n = snprintf(out, STATS_MAX,
		     "{%s\"exports\": {\"applied\": %llu, \"in_flight\": %llu, \"queued\": %llu},"
		     "%s\"cache\": {\"hits\": %llu, \"misses\": %llu, \"size\": %llu, "
		     "\"entries\": %llu},"
		     "%s\"bytes\": {\"downloaded\": %llu, \"served\": %llu},"
		     "%s\"errors\": {\"total\": %llu, \"io\": %llu, \"timeout\": %llu, "
		     "\"no_space\": %llu, \"invalid\": %llu, \"unavailable\": %llu, "
		     "\"other\": %llu, \"no_data\": %llu},"
		     "%s\"prefetch\": {\"days\": %d, \"runs\": %llu, \"started\": %llu, "
		     "\"last_run\": %lld, \"next_run\": %lld},"
		     "%s\"paths\": {\"remembered\": %zu, \"pinned_ranges\": %zu}%s%s}%s",
		     nl, (unsigned long long)cs.applies, (unsigned long long)cs.fills_running,
		     (unsigned long long)cs.fills_queued, nl, (unsigned long long)cs.hits,
		     (unsigned long long)cs.misses, (unsigned long long)cs.total_size,
		     (unsigned long long)cs.entries, nl, (unsigned long long)cs.bytes_downloaded,
		     (unsigned long long)atomic_load(&o->bytes_served), nl,
		     (unsigned long long)cs.errors, (unsigned long long)cs.err_io,
		     (unsigned long long)cs.err_timeout, (unsigned long long)cs.err_nospc,
		     (unsigned long long)cs.err_invalid, (unsigned long long)cs.err_again,
		     (unsigned long long)cs.err_other, (unsigned long long)cs.nodata, nl, ps.days,
		     (unsigned long long)ps.runs, (unsigned long long)ps.started,
		     (long long)ps.last_run, (long long)ps.next_run, nl, kernel_view_count(o->kview),
		     range_map_count(o->notes), fleet, end, multiline ? "\n" : "");
	if (n < 0 || n >= STATS_MAX) {
		free(out);
		return NULL;
	}
	*len = (size_t)n;
	return out;
}

void stats_block_signals(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

struct stats_watch {
	struct orderfs *o;
	int status_interval_s;
	pthread_t thread;
	atomic_int stopping;
};

static void stats_status_line(struct orderfs *o)
{
	struct cache_stats cs;
	if (!getenv("NOTIFY_SOCKET"))
		return; /* not under systemd: nobody to tell */
	orderfs_cache_stats(o, &cs);
	notify_status("%llu exports running, %llu queued, %llu files cached (%llu bytes), "
		      "%llu failed",
		      (unsigned long long)cs.fills_running, (unsigned long long)cs.fills_queued,
		      (unsigned long long)cs.entries, (unsigned long long)cs.total_size,
		      (unsigned long long)cs.errors);
}

static void *stats_main(void *arg)
{
	struct stats_watch *w = arg;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	while (!atomic_load(&w->stopping)) {
		struct timespec ts = {w->status_interval_s, 0};
		int sig = sigtimedwait(&set, NULL, &ts);
		if (atomic_load(&w->stopping))
			break;
		if (sig == SIGUSR1) {
			size_t len;
			char *text = stats_render(w->o, 0, &len);
			if (text) {
				log_notice("stats: %s", text);
				free(text);
			}
		}
		stats_status_line(w->o);
	}
	return NULL;
}

struct stats_watch *stats_watch_start(struct orderfs *o, int status_interval_s)
{
	struct stats_watch *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->o = o;
	w->status_interval_s = status_interval_s > 0 ? status_interval_s : 10;
	atomic_init(&w->stopping, 0);
	if (pthread_create(&w->thread, NULL, stats_main, w)) {
		free(w);
		return NULL;
	}
	return w;
}

void stats_watch_stop(struct stats_watch *w)
{
	if (!w)
		return;
	atomic_store(&w->stopping, 1);
	/* Wake its sigtimedwait; SIGUSR1 is blocked, so it is only ever taken by sigwait. */
	pthread_kill(w->thread, SIGUSR1);
	pthread_join(w->thread, NULL);
	free(w);
}
