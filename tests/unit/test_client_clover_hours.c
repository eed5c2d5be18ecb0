/* client/clover/clover_hours.c: each region's windows, their edges, and the next opening. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../client/clover/clover_hours.h"

#define MIN 60000LL
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)
/* UTC midnights, computed independently (python datetime). */
#define MON_0518 1779062400000LL /* Monday 2026-05-18 */
#define FRI_0522 (MON_0518 + 4 * DAY)
#define SAT_0523 (MON_0518 + 5 * DAY)
#define SUN_0524 (MON_0518 + 6 * DAY)

static int open_at(const char *region, int64_t t, int64_t *next)
{
	*next = -12345;
	return clover_hours_open(region, t, next);
}

static void test_us_daily_window(void **state)
{
	int64_t next;
	assert_int_equal(open_at("us", MON_0518 + 10 * HOUR, &next), 1);
	assert_int_equal(next, MON_0518 + 10 * HOUR);
	assert_int_equal(open_at("us", MON_0518 + 15 * HOUR - 1, &next), 1);
	assert_int_equal(open_at("us", SUN_0524 + 12 * HOUR, &next), 1); /* weekends too */
	/* one ms before opening: opens later that day */
	assert_int_equal(open_at("us", MON_0518 + 10 * HOUR - 1, &next), 0);
	assert_int_equal(next, MON_0518 + 10 * HOUR);
	/* closing minute is outside; next opening is tomorrow, across midnight */
	assert_int_equal(open_at("us", MON_0518 + 15 * HOUR, &next), 0);
	assert_int_equal(next, MON_0518 + DAY + 10 * HOUR);
	assert_int_equal(open_at("us", MON_0518 + DAY - 1, &next), 0);
	assert_int_equal(next, MON_0518 + DAY + 10 * HOUR);
	assert_int_equal(open_at("us", MON_0518, &next), 0);
	assert_int_equal(next, MON_0518 + 10 * HOUR);
}

static void test_la_follows_us(void **state)
{
	int64_t a, b;
	for (int64_t t = MON_0518; t < MON_0518 + 7 * DAY; t += 17 * MIN) {
		assert_int_equal(open_at("la", t, &a), open_at("us", t, &b));
		assert_int_equal(a, b);
	}
}

static void test_eu_weekdays(void **state)
{
	int64_t next;
	assert_int_equal(open_at("eu", MON_0518 + 1 * HOUR, &next), 1);
	assert_int_equal(open_at("eu", MON_0518 + 5 * HOUR - 1, &next), 1);
	assert_int_equal(open_at("eu", MON_0518 + 1 * HOUR - 1, &next), 0);
	assert_int_equal(next, MON_0518 + 1 * HOUR);
	assert_int_equal(open_at("eu", MON_0518 + 5 * HOUR, &next), 0);
	assert_int_equal(next, MON_0518 + DAY + 1 * HOUR); /* Tuesday 01:00 */
	assert_int_equal(open_at("eu", FRI_0522 + 3 * HOUR, &next), 1);
}

static void test_eu_weekend(void **state)
{
	int64_t next;
	/* Friday after closing: Saturday opens at 02:00, not 01:00 */
	assert_int_equal(open_at("eu", FRI_0522 + 12 * HOUR, &next), 0);
	assert_int_equal(next, SAT_0523 + 2 * HOUR);
	assert_int_equal(open_at("eu", SAT_0523 + 1 * HOUR + 30 * MIN, &next), 0);
	assert_int_equal(next, SAT_0523 + 2 * HOUR);
	assert_int_equal(open_at("eu", SAT_0523 + 2 * HOUR, &next), 1);
	assert_int_equal(open_at("eu", SAT_0523 + 5 * HOUR, &next), 0);
	assert_int_equal(next, SUN_0524 + 2 * HOUR);
	/* Sunday runs an hour longer */
	assert_int_equal(open_at("eu", SUN_0524 + 5 * HOUR + 30 * MIN, &next), 1);
	assert_int_equal(open_at("eu", SUN_0524 + 6 * HOUR, &next), 0);
	/* ... and after it, the week wraps to Monday 01:00 */
	assert_int_equal(next, SUN_0524 + DAY + 1 * HOUR);
}

static void test_sandbox_always(void **state)
{
	int64_t next;
	const char *names[] = {NULL, "", "sandbox", "SANDBOX"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_int_equal(open_at(names[i], MON_0518 + 3 * HOUR + 7, &next), 1);
		assert_int_equal(next, MON_0518 + 3 * HOUR + 7);
	}
}

static void test_unknown_region(void **state)
{
	int64_t next;
	assert_int_equal(open_at("apac", MON_0518, &next), -1);
	assert_int_equal(next, -12345);
	assert_int_equal(clover_region_ok("apac"), 0);
	assert_int_equal(clover_region_ok("EU"), 1);
	assert_int_equal(clover_region_ok(NULL), 1);
}

static void test_null_opens_at_and_before_epoch(void **state)
{
	int64_t next;
	assert_int_equal(clover_hours_open("us", MON_0518, NULL), 0);
	/* 1969-12-31 (a Wednesday) 16:00 UTC: the next US window is 1970-01-01 10:00 */
	assert_int_equal(open_at("us", -8 * HOUR, &next), 0);
	assert_int_equal(next, 10 * HOUR);
	assert_int_equal(open_at("us", -12 * HOUR, &next), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_us_daily_window),
		cmocka_unit_test(test_la_follows_us),
		cmocka_unit_test(test_eu_weekdays),
		cmocka_unit_test(test_eu_weekend),
		cmocka_unit_test(test_sandbox_always),
		cmocka_unit_test(test_unknown_region),
		cmocka_unit_test(test_null_opens_at_and_before_epoch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
