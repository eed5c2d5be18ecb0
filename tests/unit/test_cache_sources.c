/* One cache, several sources (merchant accounts, each its own provider): keys and files per
 * account, each provider called for its own flights only, a running cap per source, one
 * source's closed hours never seen by another, files of an account not added (yet) kept as
 * orphans and adopted when it is, per-type figures. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../cache/cache.h"
#include "../../cache/store/key.h"
#include "../../cache/store/store.h"
#include "../../common/log.h"
#include "cache_harness.h"

#define A_ACCOUNT "M100200" /* the harness's fake, e->p */
#define B_ACCOUNT "M300400" /* pb */

static struct provider *pb;

static int sources_setup(void **state)
{
	int rc = env_setup(state);

	pb = fake_provider_new();
	assert_non_null(pb);
	snprintf(pb->account, sizeof(pb->account), "%s", B_ACCOUNT);
	return rc;
}

static int sources_teardown(void **state)
{
	struct env *e = *state;

	env_stop(e); /* before pb goes */
	provider_destroy(pb);
	pb = NULL;
	return env_teardown(state);
}

static struct date_range day(int d)
{
	char a[16];
	snprintf(a, sizeof(a), "2026-05-%02d", d);
	return fake_range(a, a);
}

/* A cache with no source of its own (a mount of many accounts). */
static void start_empty(struct env *e)
{
	int err = 0;
	e->c = cache_new(&e->cfg, NULL, &err);
	assert_non_null(e->c);
	assert_int_equal(err, 0);
}

/* Add p (account from the provider) with a running cap; returns its first type. */
static size_t add(struct env *e, struct provider *p, int max_exports)
{
	struct cache_source_config sc = {.max_exports = max_exports};
	size_t first = 99;
	assert_int_equal(cache_add_source(e->c, p, &sc, &first), 0);
	return first;
}

static struct cache_stats type_stats(struct env *e, size_t type)
{
	struct cache_stats s;
	cache_get_type_stats(e->c, type, &s);
	return s;
}

/* The same range of two accounts: two keys, two files, each provider asked for its own. */
static void test_sources_accounts_have_own_keys(void **state)
{
	struct env *e = *state;
	struct date_range r = day(1);
	char pa[512], pbp[512];

	start_empty(e);
	assert_int_equal(add(e, e->p, 0), 0);
	assert_int_equal(add(e, pb, 0), 1);
	assert_int_equal(open_check_prov(e, e->p, 0, &r), 0);
	assert_int_equal(open_check_prov(e, pb, 1, &r), 0);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 1);
	assert_int_equal(fake_count(pb, FAKE_APPLY), 1);
	key_path_account(e, A_ACCOUNT, "order", &r, ".data", pa, sizeof(pa));
	key_path_account(e, B_ACCOUNT, "order", &r, ".data", pbp, sizeof(pbp));
	assert_true(exists(pa));
	assert_true(exists(pbp));
	assert_string_not_equal(pa, pbp);
	/* a hit on each, no new export */
	assert_int_equal(open_check_prov(e, pb, 1, &r), 0);
	assert_int_equal(fake_count(pb, FAKE_APPLY), 1);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 1);

	struct cache_stats s = stats_of(e), sa = type_stats(e, 0), sb = type_stats(e, 1);
	assert_int_equal(sa.applies, 1);
	assert_int_equal(sb.applies, 1);
	assert_int_equal(sa.hits, 0);
	assert_int_equal(sb.hits, 1);
	assert_int_equal(sa.entries, 1);
	assert_int_equal(sb.entries, 1);
	assert_int_equal(sa.total_size, FILE_SIZE);
	assert_int_equal(s.applies, 2);
	assert_int_equal(s.total_size, 2 * FILE_SIZE);
	assert_int_equal(type_stats(e, 2).entries, 0); /* not a type */

	/* Several types at once add up as one type at a time does; past the last, they stop. */
	struct cache_stats both, sum = sa;
	cache_stats_add(&sum, &sb);
	cache_get_types_stats(e->c, 0, 2, &both);
	assert_int_equal(both.applies, sum.applies);
	assert_int_equal(both.hits, sum.hits);
	assert_int_equal(both.entries, 2);
	assert_int_equal(both.total_size, 2 * FILE_SIZE);
	assert_int_equal(both.bytes_downloaded, s.bytes_downloaded);
	cache_get_types_stats(e->c, 1, 5, &both);
	assert_int_equal(both.entries, 1);
	assert_int_equal(both.applies, 1);
}

/* Source A capped at 1 with three flights queued, B with one, two workers: B's flight runs
 * while A's second waits for A's first. */
static void test_sources_cap_per_source(void **state)
{
	struct env *e = *state;
	struct date_range r1 = day(1), r2 = day(2), r3 = day(3);

	e->cfg.max_exports = 2;
	start_empty(e);
	assert_int_equal(add(e, e->p, 1), 0);
	assert_int_equal(add(e, pb, 0), 1);
	fake_hold(e->p, FAKE_APPLY, NULL);
	assert_int_equal(cache_prefetch(e->c, 0, &r1), 1);
	assert_int_equal(cache_prefetch(e->c, 0, &r2), 1);
	assert_int_equal(cache_prefetch(e->c, 0, &r3), 1);
	assert_int_equal(fake_wait_held(e->p, 1, WAIT_MS), 0);
	assert_int_equal(cache_prefetch(e->c, 1, &r1), 1);
	WAIT_UNTIL(info_of_type(e, 1, &r1).state == CACHE_READY);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 1); /* A's second never started */
	assert_int_equal(info_of_type(e, 0, &r2).state, CACHE_QUEUED);
	assert_int_equal(info_of_type(e, 0, &r3).state, CACHE_QUEUED);
	struct cache_stats sa = type_stats(e, 0);
	assert_int_equal(sa.fills_running, 1);
	assert_int_equal(sa.fills_queued, 2);
	assert_int_equal(fake_count(pb, FAKE_APPLY), 1);

	fake_release(e->p, FAKE_APPLY);
	WAIT_UNTIL(info_of_type(e, 0, &r3).state == CACHE_READY);
	assert_int_equal(info_of_type(e, 0, &r1).state, CACHE_READY);
	assert_int_equal(info_of_type(e, 0, &r2).state, CACHE_READY);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 3);
	/* A fill's entry is READY at its commit; its worker counts it done a moment later. */
	WAIT_UNTIL(stats_of(e).fills_running == 0);
}

/* A's provider closed (service hours) with both workers in A's flights: A's queued flight
 * shows WAITING, B's flights neither show it nor wait for A to open: the waiting flights lend
 * their slots to B. */
static void test_sources_closed_one_does_not_stop_other(void **state)
{
	struct env *e = *state;
	struct date_range r1 = day(1), r2 = day(2), r3 = day(3);
	struct fake_fault u = {.kind = CLIENT_E_UNAVAILABLE, .times = 2, .retry_after_ms = 2500,
			       .code = "CLOSED", .msg = "outside service hours"};
	struct cache_handle *h = NULL;

	e->cfg.max_exports = 2;
	start_empty(e);
	assert_int_equal(add(e, e->p, 0), 0);
	assert_int_equal(add(e, pb, 0), 1);
	fake_inject(e->p, FAKE_APPLY, &u);
	int64_t t0 = fake_mono_ms();
	assert_int_equal(cache_open(e->c, 0, &r1, NULL, NULL, &h), -EAGAIN);
	assert_int_equal(cache_open(e->c, 0, &r2, NULL, NULL, &h), -EAGAIN);
	assert_int_equal(cache_prefetch(e->c, 0, &r3), 1); /* A's own slots are both taken */
	assert_int_equal(info_of_type(e, 0, &r3).state, CACHE_WAITING);
	assert_int_equal(type_stats(e, 0).fills_running, 2);

	fake_hold(pb, FAKE_APPLY, NULL);
	assert_int_equal(cache_prefetch(e->c, 1, &r1), 1);
	assert_int_equal(cache_prefetch(e->c, 1, &r2), 1);
	assert_int_equal(fake_wait_held(pb, 2, WAIT_MS), 0); /* both at once, as max_exports */
	struct cache_info i = info_of_type(e, 1, &r2);
	assert_int_equal(i.state, CACHE_QUEUED);
	assert_int_equal(i.last_errno, 0);
	assert_int_equal(info_of_type(e, 1, &r1).state, CACHE_QUEUED);
	fake_release(pb, FAKE_APPLY);
	assert_int_equal(open_check_prov(e, pb, 1, &r1), 0);
	assert_int_equal(open_check_prov(e, pb, 1, &r2), 0);
	assert_true(fake_mono_ms() - t0 < 2000); /* long before A opens */
	assert_int_equal(info_of_type(e, 0, &r1).state, CACHE_WAITING);
	assert_int_equal(info_of_type(e, 0, &r3).state, CACHE_WAITING);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 2); /* r3 has not tried */
	assert_int_equal(type_stats(e, 1).err_again, 0);

	WAIT_UNTIL(info_of_type(e, 0, &r3).state == CACHE_READY);
	assert_int_equal(info_of_type(e, 0, &r1).state, CACHE_READY);
	assert_int_equal(info_of_type(e, 0, &r2).state, CACHE_READY);
	/* A fill's entry is READY at its commit; its worker counts it done a moment later. */
	WAIT_UNTIL(stats_of(e).fills_running == 0);
}

/* A cache with source B only writes B's file of r (READY), then stops. */
static void leave_file_of_b(struct env *e, const struct date_range *r)
{
	start_empty(e);
	assert_int_equal(add(e, pb, 0), 0);
	assert_int_equal(open_check_prov(e, pb, 0, r), 0);
	env_stop(e);
	logs[0] = '\0';
}

/* B's file, found by a cache without B: counted in the size budget, and evicted when it is
 * the least recently used. */
static void test_sources_orphan_counts_and_is_evicted(void **state)
{
	struct env *e = *state;
	struct date_range r1 = day(1), r2 = day(2);
	char path[512];

	leave_file_of_b(e, &r1);
	uint64_t queries = fake_count(pb, FAKE_QUERY);
	key_path_account(e, B_ACCOUNT, "order", &r1, ".data", path, sizeof(path));
	assert_true(exists(path));
	clock_advance_s(10);
	e->cfg.max_size = 150000; /* room for one file */
	env_start(e);		  /* source A only */
	WAIT_UNTIL(logs_have("scan of"));
	assert_int_equal(stats_of(e).total_size, FILE_SIZE);
	assert_int_equal(stats_of(e).entries, 1);
	assert_int_equal(type_stats(e, 0).entries, 0);
	assert_true(exists(path)); /* not deleted for being another account's */
	assert_int_equal(fake_count(pb, FAKE_QUERY), queries);

	assert_int_equal(open_check(e, &r2), 0); /* over the budget: the older one goes */
	WAIT_UNTIL(!exists(path));
	assert_int_equal(stats_of(e).total_size, FILE_SIZE);
	assert_int_equal(info_of(e, &r2).state, CACHE_READY);
}

/* B's file past its expiry, found by a cache without B: the sweeper deletes it as any. */
static void test_sources_orphan_swept_at_expiry(void **state)
{
	struct env *e = *state;
	struct date_range r1 = day(1);
	char path[512];

	fake_set_file_expires(pb, pinned_now() / 1000 + 60);
	leave_file_of_b(e, &r1);
	key_path_account(e, B_ACCOUNT, "order", &r1, ".data", path, sizeof(path));
	assert_true(exists(path));
	e->cfg.sweep_interval_s = 1;
	env_start(e); /* source A only */
	WAIT_UNTIL(logs_have("scan of"));
	assert_int_equal(stats_of(e).total_size, FILE_SIZE);
	clock_advance_s(120);
	WAIT_UNTIL(!exists(path));
	assert_int_equal(stats_of(e).total_size, 0);
	assert_int_equal(stats_of(e).entries, 0);
}

/* B added right after the start, while the scan may still run: its file is served without an
 * export whichever finds it first (the scan, a lookup on disk, or the adoption). */
static void test_sources_added_during_scan(void **state)
{
	struct env *e = *state;
	struct date_range days[20];

	start_empty(e);
	assert_int_equal(add(e, pb, 0), 0);
	for (int d = 0; d < 20; d++) {
		days[d] = day(d + 1);
		assert_int_equal(open_check_prov(e, pb, 0, &days[d]), 0);
	}
	env_stop(e);
	logs[0] = '\0';
	for (int round = 0; round < 5; round++) {
		env_start(e); /* source A only */
		assert_int_equal(add(e, pb, 0), 1);
		for (int d = 19; d >= 0; d--)
			assert_int_equal(info_of_type(e, 1, &days[d]).state, CACHE_READY);
		assert_int_equal(open_check_prov(e, pb, 1, &days[0]), 0);
		WAIT_UNTIL(logs_have("scan of"));
		assert_int_equal(type_stats(e, 1).entries, 20);
		assert_int_equal(stats_of(e).entries, 20);
		env_stop(e);
		logs[0] = '\0';
	}
	assert_int_equal(fake_count(pb, FAKE_APPLY), 20);
}

static void count_types(void *arg, size_t type, const struct date_range *r)
{
	size_t *seen = arg;
	(void)r;
	seen[type < 2 ? type : 2]++;
}

/* B added after the scan: its file is served from memory at once, without an export. */
static void test_sources_orphan_adopted(void **state)
{
	struct env *e = *state;
	struct date_range r1 = day(1);
	size_t seen[3] = {0, 0, 0};

	leave_file_of_b(e, &r1);
	assert_int_equal(fake_count(pb, FAKE_APPLY), 1);
	env_start(e); /* source A only */
	WAIT_UNTIL(logs_have("scan of"));
	assert_int_equal(cache_foreach(e->c, count_types, seen), 0);
	assert_int_equal(seen[0] + seen[1] + seen[2], 0); /* orphans are not listed */
	assert_int_equal(add(e, pb, 0), 1);
	assert_int_equal(info_of_type(e, 1, &r1).state, CACHE_READY);
	assert_int_equal(open_check_prov(e, pb, 1, &r1), 0);
	assert_int_equal(fake_count(pb, FAKE_APPLY), 1); /* no new export */
	assert_int_equal(type_stats(e, 1).hits, 1);
	assert_int_equal(type_stats(e, 1).applies, 0);
	assert_int_equal(type_stats(e, 1).entries, 1);
	assert_int_equal(info_of(e, &r1).state, CACHE_ABSENT); /* A's r1 is another file */
	assert_int_equal(cache_foreach(e->c, count_types, seen), 0);
	assert_int_equal(seen[1], 1);
	assert_int_equal(seen[0] + seen[2], 0);
}

/* B's export an earlier run left APPLIED: kept while B is unknown (never polled), and once B
 * is added, resumed: its saved task is polled, nothing applied. */
static void test_sources_orphan_mid_export_resumed(void **state)
{
	struct env *e = *state;
	struct date_range r1 = day(1);
	struct store s;
	struct store_meta m;
	char hash[KEY_HASH_LEN];

	assert_int_equal(store_init(&s, e->dir), 0);
	memset(&m, 0, sizeof(m));
	assert_int_equal(key_init(&m.key, "vexora", B_ACCOUNT, "order", "en-US", &r1), 0);
	assert_int_equal(key_hash(&m.key, hash), 0);
	m.state = CACHE_APPLIED;
	snprintf(m.task_id, sizeof(m.task_id), "old-task");
	m.last_access_ms = pinned_now();
	assert_int_equal(store_meta_write(&s, hash, &m, 1), 0);
	fake_add_task(pb, "old-task", &r1);
	env_start(e);
	WAIT_UNTIL(logs_have("scan of"));
	assert_int_equal(stats_of(e).entries, 1);
	assert_int_equal(stats_of(e).fills_queued + stats_of(e).fills_running, 0);
	assert_int_equal(add(e, pb, 0), 1);
	WAIT_UNTIL(info_of_type(e, 1, &r1).state == CACHE_READY);
	assert_string_equal(info_of_type(e, 1, &r1).task_id, "old-task");
	assert_int_equal(fake_count(pb, FAKE_APPLY), 0);
	assert_true(fake_count(pb, FAKE_QUERY) >= 1);
	assert_int_equal(open_check_prov(e, pb, 1, &r1), 0);
	assert_int_equal(fake_count(e->p, FAKE_QUERY) + fake_count(e->p, FAKE_APPLY), 0);
}

/* Leave a READY file of account acct for r on disk, as an earlier run would have. */
static void leave_ready_file(struct env *e, struct store *s, const char *acct,
			     const struct date_range *r)
{
	struct store_meta m;
	char hash[KEY_HASH_LEN], path[512];
	FILE *f;

	memset(&m, 0, sizeof(m));
	assert_int_equal(key_init(&m.key, "vexora", acct, "order", "en-US", r), 0);
	assert_int_equal(key_hash(&m.key, hash), 0);
	m.state = CACHE_READY;
	m.size = m.total = 3;
	memset(m.sha256, 'a', 64); /* a READY .meta records one */
	m.last_access_ms = pinned_now();
	store_path(s, hash, ".data", path);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fwrite("abc", 1, 3, f), 3);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(store_meta_write(s, hash, &m, 1), 0);
	(void)e;
}

static void count_listed(void *arg, size_t type, const struct date_range *r)
{
	size_t *seen = arg; /* seen[0]: listed, seen[1]: the type of the last one */
	(void)r;
	seen[0]++;
	seen[1] = type;
}

/* Many accounts' files left by an earlier run: each account, added after the scan, adopts
 * exactly its own (the orphan index), and its listing and figures hold its own only. */
static void test_sources_many_accounts_each_adopt_and_list_their_own(void **state)
{
	struct env *e = *state;
	enum { NACC = 30 };
	struct store s;
	size_t first[NACC], total = 0;
	char acct[16];

	assert_int_equal(store_init(&s, e->dir), 0);
	for (int a = 0; a < NACC; a++) {
		snprintf(acct, sizeof(acct), "S%02d", a);
		for (int d = 1; d <= a % 5 + 1; d++) {
			struct date_range r = day(d);
			leave_ready_file(e, &s, acct, &r);
		}
	}
	env_start(e); /* source A only: the others' files are orphans */
	WAIT_UNTIL(logs_have("scan of"));
	for (int a = 0; a < NACC; a++) {
		struct cache_source_config sc = {.account = acct};
		snprintf(acct, sizeof(acct), "S%02d", a);
		assert_int_equal(cache_add_source(e->c, pb, &sc, &first[a]), 0);
	}
	for (int a = 0; a < NACC; a++) {
		size_t seen[2] = {0, 99}, own = (size_t)(a % 5 + 1);
		struct date_range r = day((int)own);
		assert_int_equal(type_stats(e, first[a]).entries, own);
		assert_int_equal(cache_foreach_types(e->c, first[a], 1, count_listed, seen), 0);
		assert_int_equal(seen[0], own);
		assert_int_equal(seen[1], first[a]);
		assert_int_equal(info_of_type(e, first[a], &r).state, CACHE_READY);
		total += own;
	}
	assert_int_equal(stats_of(e).entries, total);
	assert_int_equal(type_stats(e, 0).entries, 0); /* A left nothing */
	assert_int_equal(fake_count(pb, FAKE_APPLY) + fake_count(pb, FAKE_QUERY), 0);
	assert_int_equal(cache_foreach_types(e->c, 999, 1, count_listed, (size_t[2]){0}),
			 -EINVAL);
}

/* Two types sharing a report_type, or keys another source has, are refused; nothing added. */
static void test_sources_add_refused(void **state)
{
	struct env *e = *state;
	struct cache_source_config sc = {.report_type0 = "payments"};
	size_t first = 99;

	fake_set_two_types(pb);
	env_start(e);
	assert_int_equal(cache_add_source(e->c, pb, &sc, &first), -EINVAL);
	assert_int_equal(first, 99);
	sc.report_type0 = NULL;
	sc.account = A_ACCOUNT; /* A's keys: order */
	assert_int_equal(cache_add_source(e->c, pb, &sc, &first), -EINVAL);
	sc.account = "bad|account";
	assert_int_equal(cache_add_source(e->c, pb, &sc, &first), -EINVAL);
	sc.account = "S42"; /* a per-seller account on a shared provider */
	assert_int_equal(cache_add_source(e->c, pb, &sc, &first), 0);
	assert_int_equal(first, 1);
	struct date_range r = day(3);
	char path[512];
	assert_int_equal(open_check_prov(e, pb, 2, &r), 0);
	assert_int_equal(fake_applied_payments(pb), 1);
	key_path_account(e, "S42", "payments", &r, ".data", path, sizeof(path));
	assert_true(exists(path));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, sources_setup, sources_teardown)
		T(test_sources_accounts_have_own_keys),
		T(test_sources_cap_per_source),
		T(test_sources_closed_one_does_not_stop_other),
		T(test_sources_orphan_counts_and_is_evicted),
		T(test_sources_orphan_adopted),
		T(test_sources_orphan_mid_export_resumed),
		T(test_sources_orphan_swept_at_expiry),
		T(test_sources_added_during_scan),
		T(test_sources_add_refused),
		T(test_sources_many_accounts_each_adopt_and_list_their_own),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
