/* common/tz.c and tz_rule.c: zoneinfo files, POSIX rules, day boundaries across DST. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "../../common/tz.h"
#include "../../common/tz_rule.h"

static struct tz *load(const char *name)
{
	char err[256] = "";
	struct tz *z = tz_load(name, err, sizeof(err));
	if (!z)
		fail_msg("tz_load(%s): %s", name ? name : "NULL", err);
	return z;
}

static int64_t utc(int y, int mo, int d, int h, int mi)
{
	struct date day = {y, mo, d};
	return date_to_days(&day) * 86400 + h * 3600 + mi * 60;
}

/* glibc's answer for zone name (this test is single-threaded: TZ may change here). */
static long glibc_offset(const char *name, int64_t t)
{
	struct tm tm;
	time_t tt = (time_t)t;
	setenv("TZ", name, 1);
	tzset();
	localtime_r(&tt, &tm);
	return tm.tm_gmtoff;
}

/* Every six hours over 1990..2060: the table, its end in 2037, and the rule after it. */
static void test_offsets_match_glibc(void **state)
{
	static const char *zones[] = {"America/New_York", "Europe/Berlin", "Australia/Sydney",
				      "Europe/Dublin", "Asia/Kolkata", "Pacific/Chatham",
				      "America/Sao_Paulo", "UTC", "Asia/Shanghai"};
	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		struct tz *z = load(zones[i]);
		for (int64_t t = utc(1990, 1, 1, 0, 0); t < utc(2060, 1, 1, 0, 0); t += 6 * 3600 + 7) {
			long want = glibc_offset(zones[i], t);
			if (tz_offset(z, t) != want)
				fail_msg("%s at %lld: %d, glibc %ld", zones[i], (long long)t,
					 tz_offset(z, t), want);
		}
		tz_free(z);
	}
	unsetenv("TZ");
}

static void assert_date_is(struct date d, int y, int m, int day)
{
	assert_int_equal(d.year, y);
	assert_int_equal(d.month, m);
	assert_int_equal(d.day, day);
}

/* New York: 2026-03-08 has 23 hours, 2026-11-01 has 25; midnight is UTC 05:00 or 04:00. */
static void test_day_start_across_dst(void **state)
{
	struct tz *z = load("America/New_York");
	struct date mar8 = {2026, 3, 8}, mar9 = {2026, 3, 9}, nov1 = {2026, 11, 1},
		    nov2 = {2026, 11, 2};
	assert_int_equal(tz_day_start(z, &mar8), utc(2026, 3, 8, 5, 0));
	assert_int_equal(tz_day_start(z, &mar9), utc(2026, 3, 9, 4, 0));
	assert_int_equal(tz_day_start(z, &mar9) - tz_day_start(z, &mar8), 23 * 3600);
	assert_int_equal(tz_day_start(z, &nov2) - tz_day_start(z, &nov1), 25 * 3600);
	/* the last second of a day and the first of the next */
	assert_date_is(tz_date(z, utc(2026, 3, 9, 4, 0) - 1), 2026, 3, 8);
	assert_date_is(tz_date(z, utc(2026, 3, 9, 4, 0)), 2026, 3, 9);
	assert_date_is(tz_date(z, utc(2026, 11, 2, 5, 0) - 1), 2026, 11, 1);
	/* 02:30 on 03-08 does not exist: read as 03:30 EDT; 01:30 on 11-01 twice: the first */
	assert_int_equal(tz_local_time(z, &mar8, 2 * 3600 + 1800), utc(2026, 3, 8, 7, 30));
	assert_int_equal(tz_local_time(z, &nov1, 3600 + 1800), utc(2026, 11, 1, 5, 30));
	tz_free(z);
}

/* Sao Paulo 2018: clocks went forward at midnight, so 2018-11-04 began at 01:00. */
static void test_day_starting_in_a_gap(void **state)
{
	struct tz *z = load("America/Sao_Paulo");
	struct date nov4 = {2018, 11, 4};
	assert_int_equal(tz_day_start(z, &nov4), utc(2018, 11, 4, 3, 0));
	assert_date_is(tz_date(z, tz_day_start(z, &nov4)), 2018, 11, 4);
	assert_date_is(tz_date(z, tz_day_start(z, &nov4) - 1), 2018, 11, 3);
	tz_free(z);
}

/* Every day start of 2026 in a few zones agrees with glibc's mktime. */
static void test_day_starts_match_mktime(void **state)
{
	static const char *zones[] = {"Europe/Berlin", "Australia/Sydney", "Europe/Dublin",
				      "Pacific/Chatham", "America/New_York"};
	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		struct tz *z = load(zones[i]);
		setenv("TZ", zones[i], 1);
		tzset();
		for (struct date d = {2026, 1, 1}; d.year == 2026; d = date_add_days(&d, 1)) {
			struct tm tm = {.tm_year = d.year - 1900, .tm_mon = d.month - 1,
					.tm_mday = d.day, .tm_isdst = -1};
			assert_int_equal(tz_day_start(z, &d), (int64_t)mktime(&tm));
		}
		tz_free(z);
	}
	unsetenv("TZ");
}

static void test_rule_strings(void **state)
{
	struct tz_rule r;
	assert_int_equal(tz_rule_parse("EST5EDT,M3.2.0,M11.1.0", &r), 0);
	assert_int_equal(r.std_off, -5 * 3600);
	assert_int_equal(r.dst_off, -4 * 3600);
	assert_int_equal(tz_rule_offset(&r, utc(2050, 7, 1, 0, 0)), -4 * 3600);
	assert_int_equal(tz_rule_offset(&r, utc(2050, 12, 1, 0, 0)), -5 * 3600);
	assert_int_equal(tz_rule_parse("<+0545>-5:45", &r), 0);
	assert_int_equal(tz_rule_offset(&r, 0), 5 * 3600 + 45 * 60);
	assert_int_equal(tz_rule_parse("<-03>3<-02>,M3.5.0/-2,M10.5.0/-1", &r), 0);
	assert_int_equal(tz_rule_parse("IST-1GMT0,M10.5.0,M3.5.0/1", &r), 0);
	assert_int_equal(tz_rule_offset(&r, utc(2050, 7, 1, 0, 0)), 3600);
	assert_int_equal(tz_rule_offset(&r, utc(2050, 1, 1, 0, 0)), 0);
	assert_int_equal(tz_rule_parse("EST5EDT", &r), -1);	  /* DST with no rule */
	assert_int_equal(tz_rule_parse("EST", &r), -1);		  /* no offset */
	assert_int_equal(tz_rule_parse("EST5EDT,M13.1.0,M11.1.0", &r), -1);
	assert_int_equal(tz_rule_parse("EST5x", &r), -1);
}

/* TZ holding a rule string and no file name: the process's zone follows the rule. */
static void test_process_zone_from_rule(void **state)
{
	setenv("TZ", "EST5EDT,M3.2.0,M11.1.0", 1);
	struct tz *z = load(NULL);
	assert_int_equal(tz_offset(z, utc(2026, 7, 1, 0, 0)), -4 * 3600);
	assert_string_equal(tz_name(z), "EST5EDT,M3.2.0,M11.1.0");
	tz_free(z);
	setenv("TZ", ":Asia/Kolkata", 1);
	z = load(NULL);
	assert_int_equal(tz_offset(z, utc(2026, 7, 1, 0, 0)), 5 * 3600 + 1800);
	tz_free(z);
	unsetenv("TZ");
}

static void test_bad_names(void **state)
{
	char err[256] = "";
	assert_null(tz_load("Mars/Olympus_Mons", err, sizeof(err)));
	assert_non_null(strstr(err, "Mars/Olympus_Mons"));
	assert_non_null(strstr(err, "unknown"));
	assert_null(tz_load("../../etc/passwd", err, sizeof(err)));
	assert_non_null(strstr(err, "not a zone name"));
	assert_null(tz_load("/etc/hostname", err, sizeof(err)));
	assert_non_null(strstr(err, "not a zoneinfo file"));
}

static void test_format_iso(void **state)
{
	char buf[TZ_ISO_LEN];
	struct tz *z = load("Asia/Kolkata");
	tz_format_iso(z, utc(2026, 12, 31, 20, 0), buf);
	assert_string_equal(buf, "2027-01-01T01:30:00+0530");
	tz_free(z);
	z = load("America/New_York");
	tz_format_iso(z, utc(2026, 12, 7, 15, 4) + 5, buf);
	assert_string_equal(buf, "2026-12-07T10:04:05-0500");
	tz_free(z);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_offsets_match_glibc),
		cmocka_unit_test(test_day_start_across_dst),
		cmocka_unit_test(test_day_starting_in_a_gap),
		cmocka_unit_test(test_day_starts_match_mktime),
		cmocka_unit_test(test_rule_strings),
		cmocka_unit_test(test_process_zone_from_rule),
		cmocka_unit_test(test_bad_names),
		cmocka_unit_test(test_format_iso),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
