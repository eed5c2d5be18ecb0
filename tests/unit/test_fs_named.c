/* fs/named.c: which dates today, this-week, last-month, YYYY-MM... mean on a given day. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../fs/named.h"

static void assert_named(const struct date *today, int window, const char *name,
			 const char *want)
{
	struct date_range r;
	char got[DATE_RANGE_STR_LEN];
	if (named_resolve(name, today, window, &r))
		fail_msg("%s: not a name", name);
	date_range_format(&r, got);
	if (strcmp(got, want))
		fail_msg("%s: %s, want %s", name, got, want);
}

static void test_a_monday(void **state)
{
	struct date t = {2026, 12, 7};
	assert_named(&t, 3, "today", "2026-12-07..2026-12-07");
	assert_named(&t, 3, "yesterday", "2026-12-06..2026-12-06");
	assert_named(&t, 3, "this-week", "2026-12-07..2026-12-07");
	assert_named(&t, 3, "last-week", "2026-11-30..2026-12-06");
	assert_named(&t, 3, "this-month", "2026-12-01..2026-12-07");
	assert_named(&t, 3, "last-month", "2026-11-01..2026-11-30");
	assert_named(&t, 3, "2026-11", "2026-11-01..2026-11-30");
	assert_named(&t, 3, "2026-12", "2026-12-01..2026-12-07");
	/* the window starts 2026-09-07: its first month is clamped to it */
	assert_named(&t, 3, "2026-09", "2026-09-07..2026-09-30");
	struct date_range r;
	assert_int_equal(named_resolve("2026-08", &t, 3, &r), -1);
	assert_int_equal(named_resolve("2027-01", &t, 3, &r), -1);
	assert_int_equal(named_resolve("tomorrow", &t, 3, &r), -1);
}

static void test_across_a_year_boundary(void **state)
{
	struct date t = {2027, 1, 1}; /* a Friday */
	assert_named(&t, 3, "yesterday", "2026-12-31..2026-12-31");
	assert_named(&t, 3, "this-week", "2026-12-28..2027-01-01");
	assert_named(&t, 3, "last-week", "2026-12-21..2026-12-27");
	assert_named(&t, 3, "this-month", "2027-01-01..2027-01-01");
	assert_named(&t, 3, "last-month", "2026-12-01..2026-12-31");
	assert_named(&t, 3, "2026-10", "2026-10-01..2026-10-31");
}

static void test_leap_february(void **state)
{
	struct date t = {2024, 3, 1};
	assert_named(&t, 3, "last-month", "2024-02-01..2024-02-29");
	assert_named(&t, 3, "2024-02", "2024-02-01..2024-02-29");
	struct date u = {2026, 3, 1};
	assert_named(&u, 3, "last-month", "2026-02-01..2026-02-28");
}

static void test_listing_order_and_count(void **state)
{
	struct date t = {2026, 12, 7};
	struct named_range all[NAMED_MAX];
	size_t n = named_list(&t, 3, all, NAMED_MAX);
	assert_int_equal(n, 6 + 4); /* 2026-09 .. 2026-12 */
	assert_string_equal(all[0].name, "today");
	assert_string_equal(all[5].name, "last-month");
	assert_string_equal(all[6].name, "2026-09");
	assert_string_equal(all[9].name, "2026-12");
	/* a year's window (Mogujie): 13 months */
	assert_int_equal(named_list(&t, 12, all, NAMED_MAX), 6 + 13);
	/* room for fewer: the count is still the whole */
	assert_int_equal(named_list(&t, 3, all, 2), 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_monday),
		cmocka_unit_test(test_across_a_year_boundary),
		cmocka_unit_test(test_leap_february),
		cmocka_unit_test(test_listing_order_and_count),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
