/* client/date.c: parsing, calendar arithmetic, the provider range rules and chunking. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/date.h"

static struct date D(int y, int m, int d)
{
	struct date r = {y, m, d};
	return r;
}

static void assert_date(struct date d, int y, int m, int day)
{
	assert_int_equal(d.year, y);
	assert_int_equal(d.month, m);
	assert_int_equal(d.day, day);
}

static void test_parse_valid(void **state)
{
	struct date d;
	assert_int_equal(date_parse("2026-05-18", 10, &d), 0);
	assert_date(d, 2026, 5, 18);
	/* len bounds the input: trailing bytes after 10 are not looked at */
	assert_int_equal(date_parse("2026-05-18..", 10, &d), 0);
}

static void test_parse_malformed(void **state)
{
	struct date d = {1, 2, 3};
	assert_int_equal(date_parse("2026-5-18", 9, &d), -1);
	assert_int_equal(date_parse("2026/05/18", 10, &d), -1);
	assert_int_equal(date_parse("2026-05-1x", 10, &d), -1);
	assert_int_equal(date_parse("2026-05-18", 9, &d), -1);
	assert_int_equal(date_parse("", 0, &d), -1);
	assert_date(d, 1, 2, 3); /* untouched on error */
}

static void test_parse_impossible_dates(void **state)
{
	struct date d;
	assert_int_equal(date_parse("2026-02-30", 10, &d), -1);
	assert_int_equal(date_parse("2026-02-29", 10, &d), -1);
	assert_int_equal(date_parse("2026-04-31", 10, &d), -1);
	assert_int_equal(date_parse("2026-13-01", 10, &d), -1);
	assert_int_equal(date_parse("2026-00-10", 10, &d), -1);
	assert_int_equal(date_parse("2026-01-00", 10, &d), -1);
	assert_int_equal(date_parse("1900-02-29", 10, &d), -1);
}

static void test_parse_leap_days(void **state)
{
	struct date d;
	assert_int_equal(date_parse("2024-02-29", 10, &d), 0);
	assert_date(d, 2024, 2, 29);
	assert_int_equal(date_parse("2000-02-29", 10, &d), 0);
}

static void test_range_parse(void **state)
{
	struct date_range r;
	const char *why = NULL;
	assert_int_equal(date_range_parse("2026-05-18..2026-05-19", &r, &why), 0);
	assert_date(r.start, 2026, 5, 18);
	assert_date(r.end, 2026, 5, 19);
	assert_int_equal(date_range_parse("2026-05-18..2026-05-18", &r, &why), 0);
}

static void test_range_parse_errors(void **state)
{
	struct date_range r;
	const char *why = NULL;
	assert_int_equal(date_range_parse("2026-05-18-2026-05-19", &r, &why), -1);
	assert_non_null(why);
	assert_int_equal(date_range_parse("2026-05-18..2026-05-19x", &r, &why), -1);
	assert_int_equal(date_range_parse("2026-02-30..2026-03-01", &r, &why), -1);
	assert_int_equal(date_range_parse("2026-05-19..2026-05-18", &r, &why), -1);
	assert_non_null(strstr(why, "after"));
	assert_int_equal(date_range_parse("", &r, NULL), -1);
}

static void test_format(void **state)
{
	char s[DATE_STR_LEN], r[DATE_RANGE_STR_LEN];
	struct date_range range = {{2026, 1, 2}, {2026, 12, 31}};
	struct date d = D(2026, 5, 8);
	date_format(&d, s);
	assert_string_equal(s, "2026-05-08");
	date_range_format(&range, r);
	assert_string_equal(r, "2026-01-02..2026-12-31");
}

static void test_days_round_trip(void **state)
{
	struct date epoch = D(1970, 1, 1), leap = D(2024, 2, 29);
	assert_int_equal(date_to_days(&epoch), 0);
	assert_int_equal(date_to_days(&leap), 19782);
	assert_date(date_from_days(19782), 2024, 2, 29);
	assert_date(date_add_days(&leap, 1), 2024, 3, 1);
	struct date ny = D(2025, 12, 31);
	assert_date(date_add_days(&ny, 1), 2026, 1, 1);
	assert_date(date_add_days(&epoch, -1), 1969, 12, 31);
}

static void test_cmp(void **state)
{
	struct date a = D(2026, 5, 18), b = D(2026, 5, 19), c = D(2025, 12, 31);
	assert_true(date_cmp(&a, &b) < 0);
	assert_true(date_cmp(&b, &a) > 0);
	assert_true(date_cmp(&c, &a) < 0);
	assert_int_equal(date_cmp(&a, &a), 0);
}

static void test_sub_months_clamps(void **state)
{
	struct date d = D(2026, 5, 31);
	assert_date(date_sub_months(&d, 3), 2026, 2, 28);
	d = D(2024, 5, 31);
	assert_date(date_sub_months(&d, 3), 2024, 2, 29);
	d = D(2026, 7, 31);
	assert_date(date_sub_months(&d, 3), 2026, 4, 30);
	d = D(2026, 1, 15);
	assert_date(date_sub_months(&d, 3), 2025, 10, 15);
	d = D(2026, 3, 31);
	assert_date(date_sub_months(&d, 1), 2026, 2, 28);
}

static void test_range_days(void **state)
{
	struct date_range r = {{2026, 5, 18}, {2026, 5, 18}};
	assert_int_equal(date_range_days(&r), 1);
	r.end = D(2026, 5, 24);
	assert_int_equal(date_range_days(&r), 7);
	r = (struct date_range){{2024, 2, 28}, {2024, 3, 1}};
	assert_int_equal(date_range_days(&r), 3);
}

static int check(struct date_range r, struct date today, const char **why)
{
	*why = NULL;
	return date_range_check(&r, &today, 7, 3, why);
}

static void test_check_ok(void **state)
{
	const char *why;
	struct date today = D(2026, 5, 20);
	assert_int_equal(check((struct date_range){{2026, 5, 18}, {2026, 5, 19}}, today, &why), 0);
	assert_int_equal(check((struct date_range){{2026, 5, 20}, {2026, 5, 20}}, today, &why), 0);
}

static void test_check_start_after_end(void **state)
{
	const char *why;
	assert_int_equal(check((struct date_range){{2026, 5, 19}, {2026, 5, 18}}, D(2026, 5, 20),
			       &why),
			 -1);
	assert_non_null(strstr(why, "after"));
}

static void test_check_seven_day_boundary(void **state)
{
	const char *why;
	struct date today = D(2026, 5, 20);
	/* 7 days inclusive is allowed, 8 is not */
	assert_int_equal(check((struct date_range){{2026, 5, 14}, {2026, 5, 20}}, today, &why), 0);
	assert_int_equal(check((struct date_range){{2026, 5, 13}, {2026, 5, 20}}, today, &why), -1);
	assert_non_null(strstr(why, "longer"));
}

static void test_check_window_boundary(void **state)
{
	const char *why;
	struct date today = D(2026, 5, 20);
	/* earliest start is today minus 3 months: 2026-02-20 */
	assert_int_equal(check((struct date_range){{2026, 2, 20}, {2026, 2, 21}}, today, &why), 0);
	assert_int_equal(check((struct date_range){{2026, 2, 19}, {2026, 2, 21}}, today, &why), -1);
	assert_non_null(strstr(why, "window"));
}

static void test_check_window_clamped_month_end(void **state)
{
	const char *why;
	struct date today = D(2026, 5, 31);
	/* 05-31 minus 3 months clamps to 02-28 */
	assert_int_equal(check((struct date_range){{2026, 2, 28}, {2026, 3, 1}}, today, &why), 0);
	assert_int_equal(check((struct date_range){{2026, 2, 27}, {2026, 3, 1}}, today, &why), -1);
}

static void test_check_future_end(void **state)
{
	const char *why;
	assert_int_equal(check((struct date_range){{2026, 5, 20}, {2026, 5, 21}}, D(2026, 5, 20),
			       &why),
			 -1);
	assert_non_null(strstr(why, "future"));
}

static void test_check_impossible_date(void **state)
{
	const char *why;
	assert_int_equal(check((struct date_range){{2026, 2, 30}, {2026, 3, 1}}, D(2026, 5, 20),
			       &why),
			 -1);
	assert_non_null(why);
}

static void test_split_chunks(void **state)
{
	struct date_range r = {{2026, 5, 1}, {2026, 5, 20}}, out[4];
	assert_int_equal(date_range_split(&r, 7, out, 4), 3);
	assert_date(out[0].start, 2026, 5, 1);
	assert_date(out[0].end, 2026, 5, 7);
	assert_date(out[1].start, 2026, 5, 8);
	assert_date(out[1].end, 2026, 5, 14);
	assert_date(out[2].start, 2026, 5, 15);
	assert_date(out[2].end, 2026, 5, 20);
}

static void test_split_exact_and_short(void **state)
{
	struct date_range r = {{2026, 5, 1}, {2026, 5, 14}}, out[2];
	assert_int_equal(date_range_split(&r, 7, out, 2), 2);
	assert_date(out[1].start, 2026, 5, 8);
	assert_date(out[1].end, 2026, 5, 14);
	r.end = D(2026, 5, 1);
	assert_int_equal(date_range_split(&r, 7, out, 2), 1);
	assert_date(out[0].end, 2026, 5, 1);
}

static void test_split_counts_beyond_room(void **state)
{
	struct date_range r = {{2026, 1, 1}, {2026, 1, 31}}, out[1];
	assert_int_equal(date_range_split(&r, 7, out, 1), 5);
	assert_date(out[0].end, 2026, 1, 7);
	assert_int_equal(date_range_split(&r, 0, out, 1), 0);
	r = (struct date_range){{2026, 1, 2}, {2026, 1, 1}};
	assert_int_equal(date_range_split(&r, 7, out, 1), 0);
}

static void test_weekday(void **state)
{
	assert_int_equal(date_weekday(&(struct date){1970, 1, 1}), 4);  /* Thursday */
	assert_int_equal(date_weekday(&(struct date){2026, 12, 7}), 1); /* Monday */
	assert_int_equal(date_weekday(&(struct date){2026, 12, 6}), 7); /* Sunday */
	assert_int_equal(date_weekday(&(struct date){2024, 2, 29}), 4);
}

static void test_week_start_crosses_month_and_year(void **state)
{
	assert_date(date_week_start(&(struct date){2026, 12, 7}), 2026, 12, 7);
	assert_date(date_week_start(&(struct date){2026, 12, 13}), 2026, 12, 7);
	assert_date(date_week_start(&(struct date){2026, 3, 1}), 2026, 2, 23);
	assert_date(date_week_start(&(struct date){2027, 1, 2}), 2026, 12, 28);
	assert_date(date_week_start(&(struct date){2024, 3, 2}), 2024, 2, 26);
}

static void test_month_ends_and_leap_days(void **state)
{
	assert_date(date_month_first(&(struct date){2026, 12, 7}), 2026, 12, 1);
	assert_date(date_month_last(&(struct date){2026, 12, 7}), 2026, 12, 31);
	assert_date(date_month_last(&(struct date){2026, 4, 30}), 2026, 4, 30);
	assert_date(date_month_last(&(struct date){2026, 2, 1}), 2026, 2, 28);
	assert_date(date_month_last(&(struct date){2024, 2, 1}), 2024, 2, 29);
	assert_date(date_month_last(&(struct date){2000, 2, 1}), 2000, 2, 29);
	assert_date(date_month_last(&(struct date){2100, 2, 1}), 2100, 2, 28);
	/* the day before the 1st is the previous month's last day, across a year too */
	struct date first = date_month_first(&(struct date){2024, 3, 15});
	assert_date(date_add_days(&first, -1), 2024, 2, 29);
	first = date_month_first(&(struct date){2027, 1, 9});
	assert_date(date_add_days(&first, -1), 2026, 12, 31);
}

static void assert_iso_week(struct date d, int year, int week)
{
	int y = 0, w = 0;
	date_iso_week(&d, &y, &w);
	assert_int_equal(y, year);
	assert_int_equal(w, week);
}

static void test_iso_week_across_year_boundary(void **state)
{
	assert_iso_week(D(2026, 12, 7), 2026, 50);
	assert_iso_week(D(2026, 12, 31), 2026, 53); /* 2026 has 53 ISO weeks */
	assert_iso_week(D(2027, 1, 3), 2026, 53);   /* Sunday: still 2026's week 53 */
	assert_iso_week(D(2027, 1, 4), 2027, 1);
	assert_iso_week(D(2024, 12, 30), 2025, 1);  /* Monday of 2025-W01 */
	assert_iso_week(D(2025, 12, 29), 2026, 1);
	assert_iso_week(D(2021, 1, 3), 2020, 53);
	assert_iso_week(D(2024, 2, 29), 2024, 9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_valid),
		cmocka_unit_test(test_parse_malformed),
		cmocka_unit_test(test_parse_impossible_dates),
		cmocka_unit_test(test_parse_leap_days),
		cmocka_unit_test(test_range_parse),
		cmocka_unit_test(test_range_parse_errors),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_days_round_trip),
		cmocka_unit_test(test_cmp),
		cmocka_unit_test(test_sub_months_clamps),
		cmocka_unit_test(test_range_days),
		cmocka_unit_test(test_check_ok),
		cmocka_unit_test(test_check_start_after_end),
		cmocka_unit_test(test_check_seven_day_boundary),
		cmocka_unit_test(test_check_window_boundary),
		cmocka_unit_test(test_check_window_clamped_month_end),
		cmocka_unit_test(test_check_future_end),
		cmocka_unit_test(test_check_impossible_date),
		cmocka_unit_test(test_split_chunks),
		cmocka_unit_test(test_split_exact_and_short),
		cmocka_unit_test(test_split_counts_beyond_room),
		cmocka_unit_test(test_weekday),
		cmocka_unit_test(test_week_start_crosses_month_and_year),
		cmocka_unit_test(test_month_ends_and_leap_days),
		cmocka_unit_test(test_iso_week_across_year_boundary),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
