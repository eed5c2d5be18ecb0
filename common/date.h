/*
 * Calendar dates and inclusive date ranges, the unit every provider exports by.
 *
 * Pure functions, no I/O. A date is a proleptic Gregorian day in the local time zone of the
 * orderfs process (set TZ to match the provider's; see README "Time zones").
 */
#ifndef ORDERFS_DATE_H
#define ORDERFS_DATE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct date {
	int year;  /* 1970..9999 */
	int month; /* 1..12 */
	int day;   /* 1..31 */
};

/* An inclusive range of whole days: start 00:00:00 .. end 23:59:59. */
struct date_range {
	struct date start;
	struct date end;
};

#define DATE_STR_LEN 11	      /* "YYYY-MM-DD" + NUL */
#define DATE_RANGE_STR_LEN 23 /* "YYYY-MM-DD..YYYY-MM-DD" + NUL */

/* Exactly n decimal digits at s (n <= 9) as *out. 0, or -1 (*out untouched) when any of the n
 * bytes is not a digit. For the fixed-width fields of dates and times. */
int date_digits(const char *s, int n, int *out);

/* Parse exactly "YYYY-MM-DD" (len bytes, no NUL needed). Returns 0, or -1 for anything else:
 * wrong length, non-digits, impossible dates such as 2026-02-30. *out untouched on error. */
int date_parse(const char *s, size_t len, struct date *out);

/* Parse exactly "A..B" with A and B as above and A <= B. Returns 0 or -1; on -1, *why (if not
 * NULL) points to a static reason ("malformed", "impossible date", "start after end"). */
int date_range_parse(const char *s, struct date_range *out, const char **why);

void date_format(const struct date *d, char out[DATE_STR_LEN]);
void date_range_format(const struct date_range *r, char out[DATE_RANGE_STR_LEN]);

int date_valid(const struct date *d);
/* <0, 0, >0 like strcmp. */
int date_cmp(const struct date *a, const struct date *b);
/* Days since 1970-01-01 (can be negative) and back. */
int64_t date_to_days(const struct date *d);
struct date date_from_days(int64_t days);
struct date date_add_days(const struct date *d, int64_t n);
/* The same day n months earlier, clamped to the month's last day (05-31 minus 3 -> 02-28). */
struct date date_sub_months(const struct date *d, int n);
/* Number of days in the inclusive range (1 for A..A). */
int64_t date_range_days(const struct date_range *r);

/* ISO weekday: 1 = Monday .. 7 = Sunday. */
int date_weekday(const struct date *d);
/* The Monday of d's week (d itself on a Monday). */
struct date date_week_start(const struct date *d);
/* The 1st and the last day of d's month. */
struct date date_month_first(const struct date *d);
struct date date_month_last(const struct date *d);
/* ISO 8601 week of d: *week 1..53 and the week-based *year, which differs from d's year
 * in the first and last days of January and December (2027-01-01 is in 2026-W53). */
void date_iso_week(const struct date *d, int *year, int *week);

/* Local calendar date of a unix time (the process's zone; common/tz.h for another). */
struct date date_from_time(time_t t);
/* Unix time of local midnight starting the date (mktime, DST-aware). */
time_t date_start_time(const struct date *d);

/*
 * The range rules shared by providers: start <= end, at most max_days long, start not before
 * today minus window_months months, end not after today. Returns 0 or -1 with a static reason
 * in *why. today is passed in so tests can pin the clock.
 */
int date_range_check(const struct date_range *r, const struct date *today, int max_days,
		     int window_months, const char **why);

/*
 * Split r into consecutive chunks of at most max_days days. Writes up to max chunks to out and
 * returns the total number of chunks (which may exceed max: call again with more room).
 */
size_t date_range_split(const struct date_range *r, int max_days, struct date_range *out,
			size_t max);

#endif
