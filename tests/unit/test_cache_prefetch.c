/* cache_prefetch (a fill started without a waiter), the per-kind error counters and the
 * "export ready" log line. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../cache/cache.h"
#include "cache_harness.h"

static struct date_range day(int d)
{
	char a[16];
	snprintf(a, sizeof(a), "2026-05-%02d", d);
	return fake_range(a, a);
}

static void test_prefetch_fills_without_a_waiter(void **state)
{
	struct env *e = *state;
	struct date_range a = day(10);

	env_start(e);
	assert_int_equal(cache_prefetch(e->c, 0, &a), 1);
	WAIT_UNTIL(info_of(e, &a).state == CACHE_READY);
	struct cache_stats s = stats_of(e);
	assert_int_equal(s.prefetches, 1);
	assert_int_equal(s.applies, 1);
	assert_int_equal(s.hits + s.misses, 0);
	WAIT_UNTIL(logs_have("2026-05-10..2026-05-10: export ready: 100000 bytes in "));

	/* Ready: nothing to do; the open is a hit with the provider's bytes. */
	assert_int_equal(cache_prefetch(e->c, 0, &a), 0);
	assert_int_equal(open_check(e, &a), 0);
	s = stats_of(e);
	assert_int_equal(s.hits, 1);
	assert_int_equal(s.misses, 0);
	assert_int_equal(s.prefetches, 1);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 1);
}

static void test_prefetch_joins_nothing_while_a_flight_runs(void **state)
{
	struct env *e = *state;
	struct date_range a = day(11);

	env_start(e);
	fake_hold(e->p, FAKE_APPLY, &a);
	assert_int_equal(cache_prefetch(e->c, 0, &a), 1);
	assert_int_equal(fake_wait_held(e->p, 1, WAIT_MS), 0);
	assert_int_equal(cache_prefetch(e->c, 0, &a), 0);
	fake_release(e->p, FAKE_APPLY);
	WAIT_UNTIL(info_of(e, &a).state == CACHE_READY);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 1);
	assert_int_equal(stats_of(e).prefetches, 1);
}

static void test_prefetch_respects_nodata_ttl(void **state)
{
	struct env *e = *state;
	struct date_range a = day(12);
	enum export_state nodata[] = {EXPORT_NO_DATA};

	fake_set_statuses(e->p, &a, nodata, 1);
	e->cfg.nodata_ttl_s = 600;
	env_start(e);
	assert_int_equal(cache_prefetch(e->c, 0, &a), 1);
	WAIT_UNTIL(info_of(e, &a).state == CACHE_NO_DATA);
	WAIT_UNTIL(stats_of(e).fills_running == 0);
	struct cache_stats s = stats_of(e);
	assert_int_equal(s.nodata, 1);
	assert_int_equal(s.errors, 0);
	assert_int_equal(cache_prefetch(e->c, 0, &a), 0); /* remembered */
	clock_advance_s(601);
	assert_int_equal(cache_prefetch(e->c, 0, &a), 1); /* asked again after the TTL */
	WAIT_UNTIL(stats_of(e).nodata == 2);
}

static void test_failures_are_counted_by_kind(void **state)
{
	struct env *e = *state;
	struct date_range a = day(13), b = day(14);
	enum export_state failed[] = {EXPORT_FAILED};
	struct cache_handle *h = NULL;

	fake_set_statuses(e->p, &a, failed, 1);
	env_start(e);
	assert_int_equal(cache_open(e->c, 0, &a, NULL, NULL, &h), -EIO);
	struct cache_stats s = stats_of(e);
	assert_int_equal(s.errors, 1);
	assert_int_equal(s.err_io, 1);
	assert_int_equal(s.err_timeout + s.err_nospc + s.err_invalid + s.err_again + s.err_other,
			 0);
	/* A failed entry is retried by the next prefetch. */
	assert_int_equal(cache_prefetch(e->c, 0, &a), 1);
	WAIT_UNTIL(stats_of(e).errors == 2);
	assert_int_equal(stats_of(e).err_io, 2);
	assert_int_equal(open_check(e, &b), 0);
	assert_int_equal(stats_of(e).errors, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, env_setup, env_teardown)
		T(test_prefetch_fills_without_a_waiter),
		T(test_prefetch_joins_nothing_while_a_flight_runs),
		T(test_prefetch_respects_nodata_ttl),
		T(test_failures_are_counted_by_kind),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
