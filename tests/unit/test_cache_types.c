/* One cache, two export types (as Clover's orders and payments): one size budget evicted LRU
 * across types, one fill pool, one recovery scan, and entries of one type never touched by
 * calls naming the other. */
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
#include "../../common/log.h"
#include "cache_harness.h"

#define ORDERS 0
#define PAYMENTS 1

/* Day d of May 2026. The fake serves a range's last export to open_check, so both types of
 * a range get the same FILE_SIZE bytes (seeded by d) whichever was exported last. */
static struct date_range day(struct env *e, int d)
{
	static unsigned char data[FILE_SIZE];
	char a[16];
	snprintf(a, sizeof(a), "2026-05-%02d", d);
	struct date_range r = fake_range(a, a);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(d * 31 + i * 13 + (i >> 8));
	fake_set_content(e->p, &r, data, sizeof(data));
	return r;
}

static int two_types_setup(void **state)
{
	int rc = env_setup(state);
	struct env *e = *state;

	fake_set_two_types(e->p);
	return rc;
}

/* Files of both types count against one cache_max_size; the least recently used goes first,
 * whatever its type. */
static void test_types_share_one_budget_lru(void **state)
{
	struct env *e = *state;
	struct date_range a = day(e, 1), b = day(e, 2);

	e->cfg.max_size = 250000; /* room for two 100000-byte files, of any types */
	env_start(e);
	assert_int_equal(open_check_type(e, ORDERS, &a), 0);
	clock_advance_s(1);
	assert_int_equal(open_check_type(e, PAYMENTS, &a), 0);
	clock_advance_s(1);
	assert_int_equal(open_check_type(e, ORDERS, &a), 0); /* orders a is now the newest */
	clock_advance_s(1);
	assert_int_equal(open_check_type(e, PAYMENTS, &b), 0);
	WAIT_UNTIL(info_of_type(e, PAYMENTS, &a).state == CACHE_ABSENT);
	assert_int_equal(info_of_type(e, ORDERS, &a).state, CACHE_READY);
	assert_int_equal(info_of_type(e, PAYMENTS, &b).state, CACHE_READY);
	assert_true(stats_of(e).total_size <= 250000);

	clock_advance_s(1);
	assert_int_equal(open_check_type(e, ORDERS, &b), 0); /* now orders a is the oldest */
	WAIT_UNTIL(info_of_type(e, ORDERS, &a).state == CACHE_ABSENT);
	assert_int_equal(info_of_type(e, PAYMENTS, &b).state, CACHE_READY);
	assert_int_equal(info_of_type(e, ORDERS, &b).state, CACHE_READY);
	char path[512];
	key_path_type(e, "payments", &a, ".data", path, sizeof(path));
	WAIT_UNTIL(!exists(path));
	key_path_type(e, "order", &a, ".data", path, sizeof(path));
	WAIT_UNTIL(!exists(path));
}

/* max_exports bounds the flights of both types together: with one slot, a payments flight
 * waits for the orders flight in front of it. */
static void test_types_max_exports_counts_both(void **state)
{
	struct env *e = *state;
	struct date_range a = day(e, 1);
	struct opener o1, o2;
	struct cache_stats s, so, sp;

	e->cfg.max_exports = 1;
	env_start(e);
	fake_hold(e->p, FAKE_APPLY, NULL);
	opener_start(&o1, e, &a);
	assert_int_equal(fake_wait_held(e->p, 1, WAIT_MS), 0);
	opener_start_type(&o2, e, PAYMENTS, &a);
	WAIT_UNTIL(stats_of(e).fills_queued == 1);
	cache_get_stats(e->c, &s);
	assert_int_equal(s.fills_running, 1);
	cache_get_type_stats(e->c, ORDERS, &so);
	cache_get_type_stats(e->c, PAYMENTS, &sp);
	assert_int_equal(so.fills_running, 1);
	assert_int_equal(so.fills_queued, 0);
	assert_int_equal(sp.fills_running, 0);
	assert_int_equal(sp.fills_queued, 1);
	assert_int_equal(fake_held(e->p), 1); /* the second apply has not started */
	assert_int_equal(info_of_type(e, PAYMENTS, &a).state, CACHE_QUEUED);
	fake_release(e->p, FAKE_APPLY);
	assert_int_equal(opener_join(&o1), 0);
	assert_int_equal(opener_join(&o2), 0);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 2);
	assert_int_equal(fake_applied_payments(e->p), 1); /* type 1 asked for its own type */
	cache_get_type_stats(e->c, ORDERS, &so);
	cache_get_type_stats(e->c, PAYMENTS, &sp);
	assert_int_equal(so.misses, 1);
	assert_int_equal(sp.misses, 1);
	assert_int_equal(so.applies, 1);
	assert_int_equal(sp.applies, 1);
	assert_int_equal(so.entries, 1);
	assert_int_equal(sp.entries, 1);
	assert_int_equal(so.total_size + sp.total_size, stats_of(e).total_size);
}

static void collect_types(void *arg, size_t type, const struct date_range *r)
{
	int *seen = arg;
	(void)r;
	assert_true(type <= PAYMENTS);
	seen[type]++;
}

/* After a restart, the one recovery scan keeps the entries of both types: both are served
 * without an export, and listed with their types. */
static void test_types_one_scan_restores_both(void **state)
{
	struct env *e = *state;
	struct date_range a = day(e, 1), b = day(e, 2);
	int seen[2] = {0, 0};

	env_start(e);
	assert_int_equal(open_check_type(e, ORDERS, &a), 0);
	assert_int_equal(open_check_type(e, PAYMENTS, &a), 0);
	assert_int_equal(open_check_type(e, PAYMENTS, &b), 0);
	env_stop(e);
	logs[0] = '\0';
	env_start(e);
	WAIT_UNTIL(logs_have("done: 3 entries kept"));
	assert_int_equal(info_of_type(e, ORDERS, &a).state, CACHE_READY);
	assert_int_equal(info_of_type(e, PAYMENTS, &a).state, CACHE_READY);
	assert_int_equal(info_of_type(e, PAYMENTS, &b).state, CACHE_READY);
	assert_int_equal(info_of_type(e, ORDERS, &b).state, CACHE_ABSENT);
	assert_int_equal(cache_foreach(e->c, collect_types, seen), 0);
	assert_int_equal(seen[ORDERS], 1);
	assert_int_equal(seen[PAYMENTS], 2);
	assert_int_equal(open_check_type(e, ORDERS, &a), 0);
	assert_int_equal(open_check_type(e, PAYMENTS, &a), 0);
	assert_int_equal(open_check_type(e, PAYMENTS, &b), 0);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 3);
	assert_int_equal(stats_of(e).hits, 3);
}

/* Forgetting or looking up type 0 of a range never touches type 1 of the same range. */
static void test_types_forget_one_keeps_other(void **state)
{
	struct env *e = *state;
	struct date_range a = day(e, 1);
	char orders[512], payments[512];

	env_start(e);
	assert_int_equal(open_check_type(e, PAYMENTS, &a), 0);
	assert_int_equal(info_of_type(e, ORDERS, &a).state, CACHE_ABSENT);
	assert_int_equal(cache_forget(e->c, ORDERS, &a), -ENOENT);
	assert_int_equal(info_of_type(e, PAYMENTS, &a).state, CACHE_READY);
	assert_int_equal(open_check_type(e, ORDERS, &a), 0);

	assert_int_equal(cache_forget(e->c, ORDERS, &a), 0);
	assert_int_equal(info_of_type(e, ORDERS, &a).state, CACHE_ABSENT);
	assert_int_equal(info_of_type(e, PAYMENTS, &a).state, CACHE_READY);
	key_path_type(e, "order", &a, ".data", orders, sizeof(orders));
	key_path_type(e, "payments", &a, ".data", payments, sizeof(payments));
	assert_false(exists(orders));
	assert_true(exists(payments));
	assert_int_equal(open_check_type(e, PAYMENTS, &a), 0); /* a hit, no export */
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 2);
	assert_int_equal(fake_applied_payments(e->p), 1);
}

/* report_type0 names type 0 in keys (Vexora's report_type setting); the other types keep
 * theirs. A type named like another would share its files: refused. */
static void test_types_report_type0(void **state)
{
	struct env *e = *state;
	struct date_range a = day(e, 1);
	char path[512];
	int err = 0;

	e->cfg.report_type0 = "payments";
	assert_null(cache_new(&e->cfg, e->p, &err));
	assert_int_equal(err, -EINVAL);
	e->cfg.report_type0 = "refund";
	env_start(e);
	assert_int_equal(open_check_type(e, ORDERS, &a), 0);
	key_path_type(e, "refund", &a, ".data", path, sizeof(path));
	assert_true(exists(path));
	key_path_type(e, "order", &a, ".data", path, sizeof(path));
	assert_false(exists(path));
	assert_int_equal(info_of_type(e, 2, &a).state, CACHE_ABSENT); /* not a type */
	struct cache_handle *h = NULL;
	assert_int_equal(cache_open(e->c, 2, &a, NULL, NULL, &h), -EINVAL);
	assert_null(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, two_types_setup, env_teardown)
		T(test_types_share_one_budget_lru),
		T(test_types_max_exports_counts_both),
		T(test_types_one_scan_restores_both),
		T(test_types_forget_one_keeps_other),
		T(test_types_report_type0),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
