#include "date.h"

#include <stdio.h>
#include <string.h>

static int is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
	static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return m == 2 && is_leap(y) ? 29 : dm[m - 1];
}

int date_valid(const struct date *d)
{
	return d->year >= 1970 && d->year <= 9999 && d->month >= 1 && d->month <= 12 &&
	       d->day >= 1 && d->day <= days_in_month(d->year, d->month);
}

int date_digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int date_parse(const char *s, size_t len, struct date *out)
{
	struct date d;
	if (len != 10 || s[4] != '-' || s[7] != '-')
		return -1;
	if (date_digits(s, 4, &d.year) || date_digits(s + 5, 2, &d.month) ||
	    date_digits(s + 8, 2, &d.day))
		return -1;
	if (!date_valid(&d))
		return -1;
	*out = d;
	return 0;
}

int date_range_parse(const char *s, struct date_range *out, const char **why)
{
	const char *dots = strstr(s, "..");
	const char *reason = NULL;
	struct date_range r;

	if (!dots || strlen(s) != 22 || dots != s + 10)
		reason = "malformed: expected YYYY-MM-DD..YYYY-MM-DD";
	else if (date_parse(s, 10, &r.start) || date_parse(dots + 2, 10, &r.end))
		reason = "not a real calendar date";
	else if (date_cmp(&r.start, &r.end) > 0)
		reason = "start is after end";
	if (reason) {
		if (why)
			*why = reason;
		return -1;
	}
	*out = r;
	return 0;
}

void date_format(const struct date *d, char out[DATE_STR_LEN])
{
	/* Unsigned and bounded so the compiler can prove the 10 characters fit. */
	snprintf(out, DATE_STR_LEN, "%04u-%02u-%02u", (unsigned)d->year % 10000u,
		 (unsigned)d->month % 100u, (unsigned)d->day % 100u);
}

void date_range_format(const struct date_range *r, char out[DATE_RANGE_STR_LEN])
{
	char a[DATE_STR_LEN], b[DATE_STR_LEN];
	date_format(&r->start, a);
	date_format(&r->end, b);
	snprintf(out, DATE_RANGE_STR_LEN, "%s..%s", a, b);
}

int date_cmp(const struct date *a, const struct date *b)
{
	if (a->year != b->year)
		return a->year < b->year ? -1 : 1;
	if (a->month != b->month)
		return a->month < b->month ? -1 : 1;
	if (a->day != b->day)
		return a->day < b->day ? -1 : 1;
	return 0;
}

/* Howard Hinnant's days_from_civil: exact for the whole proleptic Gregorian calendar. */
int64_t date_to_days(const struct date *d)
{
	int64_t y = d->year - (d->month <= 2);
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t mp = (d->month + 9) % 12;
	int64_t doy = (153 * mp + 2) / 5 + d->day - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

struct date date_from_days(int64_t z)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	struct date d;
	d.day = (int)(doy - (153 * mp + 2) / 5 + 1);
	d.month = (int)(mp < 10 ? mp + 3 : mp - 9);
	d.year = (int)(yoe + era * 400 + (d.month <= 2));
	return d;
}

struct date date_add_days(const struct date *d, int64_t n)
{
	return date_from_days(date_to_days(d) + n);
}

struct date date_sub_months(const struct date *d, int n)
{
	struct date r = *d;
	int m = d->year * 12 + (d->month - 1) - n;
	r.year = m / 12;
	r.month = m % 12 + 1;
	int dim = days_in_month(r.year, r.month);
	if (r.day > dim)
		r.day = dim;
	return r;
}

int64_t date_range_days(const struct date_range *r)
{
	return date_to_days(&r->end) - date_to_days(&r->start) + 1;
}

int date_weekday(const struct date *d)
{
	int64_t z = date_to_days(d); /* 1970-01-01 was a Thursday */
	return (int)(((z + 3) % 7 + 7) % 7) + 1;
}

struct date date_week_start(const struct date *d)
{
	return date_add_days(d, 1 - date_weekday(d));
}

struct date date_month_first(const struct date *d)
{
	struct date r = {d->year, d->month, 1};
	return r;
}

struct date date_month_last(const struct date *d)
{
	struct date r = {d->year, d->month, days_in_month(d->year, d->month)};
	return r;
}

void date_iso_week(const struct date *d, int *year, int *week)
{
	/* The week's Thursday decides the year; the week number counts Thursdays of that year. */
	struct date thu = date_add_days(d, 4 - date_weekday(d));
	struct date jan1 = {thu.year, 1, 1};
	*year = thu.year;
	*week = (int)((date_to_days(&thu) - date_to_days(&jan1)) / 7) + 1;
}

struct date date_from_time(time_t t)
{
	struct tm tm;
	struct date d;
	localtime_r(&t, &tm);
	d.year = tm.tm_year + 1900;
	d.month = tm.tm_mon + 1;
	d.day = tm.tm_mday;
	return d;
}

time_t date_start_time(const struct date *d)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = d->year - 1900;
	tm.tm_mon = d->month - 1;
	tm.tm_mday = d->day;
	tm.tm_isdst = -1;
	return mktime(&tm);
}

int date_range_check(const struct date_range *r, const struct date *today, int max_days,
		     int window_months, const char **why)
{
	struct date earliest = date_sub_months(today, window_months);
	const char *reason = NULL;

	if (!date_valid(&r->start) || !date_valid(&r->end))
		reason = "not a real calendar date";
	else if (date_cmp(&r->start, &r->end) > 0)
		reason = "start is after end";
	else if (date_cmp(&r->start, &earliest) < 0)
		reason = "start is outside the exportable window";
	else if (date_cmp(&r->end, today) > 0)
		reason = "end is in the future";
	else if (max_days > 0 && date_range_days(r) > max_days)
		reason = "range is longer than the provider allows";
	if (reason) {
		if (why)
			*why = reason;
		return -1;
	}
	return 0;
}

size_t date_range_split(const struct date_range *r, int max_days, struct date_range *out,
			size_t max)
{
	int64_t first = date_to_days(&r->start);
	int64_t last = date_to_days(&r->end);
	size_t n = 0;

	if (max_days < 1 || first > last)
		return 0;
	for (int64_t s = first; s <= last; s += max_days, n++) {
		int64_t e = s + max_days - 1;
		if (e > last)
			e = last;
		if (n < max) {
			out[n].start = date_from_days(s);
			out[n].end = date_from_days(e);
		}
	}
	return n;
}
