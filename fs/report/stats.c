#include "stats.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../client/store/s3.h"
#include "../../common/buf.h"
#include "../../common/log.h"
#include "../accounts/accounts.h"
#include "../mount/notify.h"
#include "../orderfs.h"
#include "report.h"
#include "../mount/prefetch.h"

#define STATS_MAX 5120
#define FLEET_PART_MAX 1024
#define STORE_PART_MAX 1024
#define STATS_ACCOUNTS_MAX (4u << 20) /* the accounts section: ~250 bytes an account */

/* The fleet state text of cache stats cs (stats.h). */
static const char *fleet_state_text(const struct cache_stats *cs)
{
	return cs->fleet_alone ? "unreachable, running alone" : "member";
}

const char *stats_fleet_state(struct orderfs *o, struct fs_account *a)
{
	struct cache_stats cs;

	if (!account_active(a) || !a->fleet)
		return NULL;
	report_account_stats(o, a, &cs);
	return fleet_state_text(&cs);
}

/* Fleet mode's part of /.stats, starting with its comma, into out; "" outside fleet mode. */
static void fleet_part(struct orderfs *o, const struct cache_stats *cs, const char *nl,
		       char *out, size_t n)
{
	struct fleet_stats fs;

	out[0] = '\0';
	if (o->accounts || !o->single.fleet)
		return; /* with accounts_dir each account tells its own */
	fleet_get_stats(o->single.fleet, &fs);
	snprintf(out, n,
		 ",%s\"fleet\": {\"host\": \"%s\", \"state\": \"%s\", \"claims_won\": %llu, "
		 "\"claims_lost\": %llu, \"takeovers\": %llu, \"fenced_writes_refused\": %llu, "
		 "\"etcd_errors\": %llu, \"lease_regrants\": %llu, \"reachable\": %s, "
		 "\"running_alone\": %s, \"alone_seconds\": %.1f, \"request_rate\": %.2f}",
		 nl, o->fleet_host, fleet_state_text(cs),
		 (unsigned long long)fs.claims_won, (unsigned long long)fs.claims_lost,
		 (unsigned long long)fs.takeovers, (unsigned long long)fs.fenced_refused,
		 (unsigned long long)fs.etcd_errors, (unsigned long long)fs.lease_regrants,
		 fleet_reachable(o->single.fleet) ? "true" : "false", cs->fleet_alone ? "true" : "false",
		 cs->fleet_alone_s, cs->fleet_rate);
}

/* The shared store's part of /.stats, starting with its comma; "" without a store. */
static void store_part(struct orderfs *o, const struct cache_stats *cs, const char *nl,
		       char *out, size_t n)
{
	out[0] = '\0';
	if (!o->store)
		return;
	snprintf(out, n,
		 ",%s\"store\": {\"where\": \"%s\", \"hits\": %llu, \"misses\": %llu, "
		 "\"uploads\": %llu, \"bytes\": %llu, \"errors\": %llu, "
		 "\"auth_errors\": %llu}",
		 nl, s3_where(o->store), (unsigned long long)cs->store_hits,
		 (unsigned long long)cs->store_misses, (unsigned long long)cs->store_uploads,
		 (unsigned long long)cs->store_bytes, (unsigned long long)cs->store_errors,
		 (unsigned long long)cs->store_auth_errors);
}

struct accounts_part {
	struct orderfs *o;
	struct buf *b;
	const char *nl;
	size_t pinned;
	int n;
};

/* One account's line of the "accounts" section. */
static void account_part(void *arg, struct fs_account *a)
{
	struct accounts_part *p = arg;
	struct cache_stats cs;
	char err[256];
	const char *state = accounts_state(p->o->accounts, a, err, sizeof(err));

	report_account_stats(p->o, a, &cs);
	if (account_active(a))
		p->pinned += range_map_count(a->notes);
	buf_printf(p->b,
		   "%s%s  \"%s\": {\"state\": \"%s\", \"applied\": %llu, \"in_flight\": %llu, "
		   "\"queued\": %llu, \"entries\": %llu, \"size\": %llu, \"errors\": %llu, "
		   "\"downloaded\": %llu%s%s}",
		   p->n++ ? "," : "", p->nl, a->name, state, (unsigned long long)cs.applies,
		   (unsigned long long)cs.fills_running, (unsigned long long)cs.fills_queued,
		   (unsigned long long)cs.entries, (unsigned long long)cs.total_size,
		   (unsigned long long)cs.errors, (unsigned long long)cs.bytes_downloaded,
		   account_active(a) && a->fleet ? ", \"fleet\": " : "",
		   account_active(a) && a->fleet ? (cs.fleet_alone ? "\"running alone\""
								    : "\"member\"")
						 : "");
}

/* With accounts_dir: ",\n  \"accounts\": {...}" (every listed account) into b, and the
 * ranges they pinned into *pinned. Names are safe file names: no JSON escaping needed. */
static void accounts_section(struct orderfs *o, const char *nl, struct buf *b, size_t *pinned)
{
	struct accounts_part p = {o, b, nl, 0, 0};

	*pinned = 0;
	if (!o->accounts)
		return;
	buf_printf(b, ",%s\"accounts\": {", nl);
	accounts_foreach(o->accounts, account_part, &p);
	buf_printf(b, "%s}", p.n ? nl : "");
	*pinned = p.pinned;
}

char *stats_render(struct orderfs *o, int multiline, size_t *len)
{
	char fleet[FLEET_PART_MAX + STORE_PART_MAX];
	struct cache_stats cs;
	struct prefetch_stats ps;
	const char *nl = multiline ? "\n  " : " ";
	const char *end = multiline ? "\n" : " ";
	char *out;
	int n;

	struct buf acc = BUF_INIT(STATS_ACCOUNTS_MAX);
	size_t pinned, cap;

	report_cache_stats(o, &cs);
	prefetch_get_stats(o->accounts ? NULL : o->single.prefetch, &ps);
	fleet_part(o, &cs, nl, fleet, FLEET_PART_MAX);
	store_part(o, &cs, nl, fleet + strlen(fleet), sizeof(fleet) - strlen(fleet));
	accounts_section(o, nl, &acc, &pinned);
	if (!o->accounts)
		pinned = range_map_count(o->single.notes);
	cap = STATS_MAX + acc.len;
	if (!(out = malloc(cap))) {
		buf_free(&acc);
		return NULL;
	}
	n = snprintf(out, cap,
		     "{%s\"exports\": {\"applied\": %llu, \"in_flight\": %llu, \"queued\": %llu},"
		     "%s\"cache\": {\"hits\": %llu, \"misses\": %llu, \"size\": %llu, "
		     "\"entries\": %llu},"
		     "%s\"bytes\": {\"downloaded\": %llu, \"served\": %llu},"
		     "%s\"errors\": {\"total\": %llu, \"io\": %llu, \"timeout\": %llu, "
		     "\"no_space\": %llu, \"invalid\": %llu, \"unavailable\": %llu, "
		     "\"other\": %llu, \"no_data\": %llu},"
		     "%s\"freshness\": {\"refreshes\": %llu},"
		     "%s\"prefetch\": {\"days\": %d, \"runs\": %llu, \"started\": %llu, "
		     "\"last_run\": %lld, \"next_run\": %lld},"
		     "%s\"paths\": {\"remembered\": %zu, \"pinned_ranges\": %zu}%s%s%s}%s",
		     nl, (unsigned long long)cs.applies, (unsigned long long)cs.fills_running,
		     (unsigned long long)cs.fills_queued, nl, (unsigned long long)cs.hits,
		     (unsigned long long)cs.misses, (unsigned long long)cs.total_size,
		     (unsigned long long)cs.entries, nl, (unsigned long long)cs.bytes_downloaded,
		     (unsigned long long)atomic_load(&o->bytes_served), nl,
		     (unsigned long long)cs.errors, (unsigned long long)cs.err_io,
		     (unsigned long long)cs.err_timeout, (unsigned long long)cs.err_nospc,
		     (unsigned long long)cs.err_invalid, (unsigned long long)cs.err_again,
		     (unsigned long long)cs.err_other, (unsigned long long)cs.nodata, nl,
		     (unsigned long long)cs.refreshes, nl, ps.days,
		     (unsigned long long)ps.runs, (unsigned long long)ps.started,
		     (long long)ps.last_run, (long long)ps.next_run, nl, kernel_view_count(o->kview),
		     pinned, fleet, acc.data ? acc.data : "", end, multiline ? "\n" : "");
	buf_free(&acc);
	if (n < 0 || (size_t)n >= cap) {
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
	report_cache_stats(o, &cs);
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
