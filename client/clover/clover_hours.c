/* Clover export service hours (clover_hours.h): a weekly UTC timetable per region. */
#include "clover_hours.h"

#include <stddef.h>
#include <strings.h>

#define MIN_MS 60000LL
#define DAY_MS 86400000LL

/* One daily window in minutes after UTC midnight: [open, close). */
struct window {
	int open, close;
};

/* Index 0 = Sunday, as 1970-01-01 (day 0) was a Thursday (index 4). */
static const struct window us_week[7] = {
	{600, 900}, {600, 900}, {600, 900}, {600, 900}, {600, 900}, {600, 900}, {600, 900},
};
static const struct window eu_week[7] = {
	{120, 360}, /* Sun 02:00-06:00 */
	{60, 300},  {60, 300}, {60, 300}, {60, 300}, {60, 300}, /* Mon-Fri 01:00-05:00 */
	{120, 300}, /* Sat 02:00-05:00 */
};

/* The region's timetable; NULL with *always set for sandbox; NULL otherwise if unknown. */
static const struct window *timetable(const char *region, int *always)
{
	*always = 0;
	if (!region || !*region || strcasecmp(region, "sandbox") == 0) {
		*always = 1;
		return NULL;
	}
	if (strcasecmp(region, "us") == 0)
		return us_week;
	/* Clover publishes no hours for Latin America; its API shares the US schedule. */
	if (strcasecmp(region, "la") == 0)
		return us_week;
	if (strcasecmp(region, "eu") == 0)
		return eu_week;
	return NULL;
}

int clover_region_ok(const char *region)
{
	int always;
	return timetable(region, &always) != NULL || always;
}

/* Floor division: times before 1970 still land in the right day. */
static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int weekday(int64_t day)
{
	int64_t w = (day + 4) % 7;
	return (int)(w < 0 ? w + 7 : w);
}

int clover_hours_open(const char *region, int64_t now_ms, int64_t *opens_at_ms)
{
	int always;
	const struct window *week = timetable(region, &always);

	if (always) {
		if (opens_at_ms)
			*opens_at_ms = now_ms;
		return 1;
	}
	if (!week)
		return -1;
	int64_t day = floor_div(now_ms, DAY_MS);
	int64_t minute = (now_ms - day * DAY_MS) / MIN_MS;
	const struct window *w = &week[weekday(day)];
	if (minute >= w->open && minute < w->close) {
		if (opens_at_ms)
			*opens_at_ms = now_ms;
		return 1;
	}
	/* Every region opens at least once a week, so eight days always find the next window. */
	for (int64_t d = day; d <= day + 7; d++) {
		int64_t at = d * DAY_MS + week[weekday(d)].open * MIN_MS;
		if (at > now_ms) {
			if (opens_at_ms)
				*opens_at_ms = at;
			return 0;
		}
	}
	return 0; /* unreachable with the timetables above */
}
