/* Named ranges (see named.h). */
#include "named.h"

#include <stdio.h>
#include <string.h>

/* Append name -> a..b clamped to [earliest, today]; nothing when it is all outside. */
static void add(struct named_range *out, size_t max, size_t *n, const char *name,
		struct date a, struct date b, const struct date *earliest, const struct date *today)
{
	if (date_cmp(&a, earliest) < 0)
		a = *earliest;
	if (date_cmp(&b, today) > 0)
		b = *today;
	if (date_cmp(&a, &b) > 0 || *n >= NAMED_MAX)
		return;
	if (*n < max) {
		snprintf(out[*n].name, sizeof(out[*n].name), "%s", name);
		out[*n].range.start = a;
		out[*n].range.end = b;
	}
	(*n)++;
}

static struct date next_month_first(struct date m)
{
	m.day = 1;
	if (++m.month > 12) {
		m.month = 1;
		m.year++;
	}
	return m;
}

size_t named_list(const struct date *today, int window_months, struct named_range *out,
		  size_t max)
{
	const struct date *t = today;
	struct date earliest = date_sub_months(t, window_months);
	struct date yesterday = date_add_days(t, -1);
	struct date monday = date_week_start(t);
	struct date first = date_month_first(t);
	struct date prev_last = date_add_days(&first, -1);
	size_t n = 0;

	add(out, max, &n, "today", *t, *t, &earliest, t);
	add(out, max, &n, "yesterday", yesterday, yesterday, &earliest, t);
	add(out, max, &n, "this-week", monday, *t, &earliest, t);
	add(out, max, &n, "last-week", date_add_days(&monday, -7), date_add_days(&monday, -1),
	    &earliest, t);
	add(out, max, &n, "this-month", first, *t, &earliest, t);
	add(out, max, &n, "last-month", date_month_first(&prev_last), prev_last, &earliest, t);
	for (struct date m = date_month_first(&earliest); date_cmp(&m, t) <= 0;
	     m = next_month_first(m)) {
		char name[NAMED_NAME_MAX];
		snprintf(name, sizeof(name), "%04u-%02u", (unsigned)m.year % 10000u,
			 (unsigned)m.month % 100u);
		add(out, max, &n, name, m, date_month_last(&m), &earliest, t);
	}
	return n;
}

int named_resolve(const char *name, const struct date *today, int window_months,
		  struct date_range *out)
{
	struct named_range all[NAMED_MAX];
	size_t n = named_list(today, window_months, all, NAMED_MAX);

	for (size_t i = 0; i < n; i++) {
		if (!strcmp(all[i].name, name)) {
			*out = all[i].range;
			return 0;
		}
	}
	return -1;
}
