#include "tz_rule.h"

#include <ctype.h>
#include <string.h>

#include "date.h"

/* A zone abbreviation: three or more letters, or <anything but '>'> quoted. */
static const char *parse_name(const char *s)
{
	const char *p = s;
	if (*p == '<') {
		while (*++p && *p != '>')
			;
		return *p == '>' && p - s >= 4 ? p + 1 : NULL;
	}
	while (isalpha((unsigned char)*p))
		p++;
	return p - s >= 3 ? p : NULL;
}

/* [+-]hh[:mm[:ss]] as seconds; hours up to max_h. NULL when malformed. */
static const char *parse_hms(const char *s, int max_h, int32_t *out)
{
	int sign = 1, part[3] = {0, 0, 0}, n = 0;
	if (*s == '+' || *s == '-')
		sign = *s++ == '-' ? -1 : 1;
	while (n < 3) {
		if (!isdigit((unsigned char)*s))
			return NULL;
		int v = 0, digits = 0;
		while (isdigit((unsigned char)*s) && digits < 3) {
			v = v * 10 + (*s++ - '0');
			digits++;
		}
		part[n++] = v;
		if (*s != ':')
			break;
		s++;
	}
	if (part[0] > max_h || part[1] > 59 || part[2] > 59)
		return NULL;
	*out = sign * (part[0] * 3600 + part[1] * 60 + part[2]);
	return s;
}

static const char *parse_int(const char *s, int lo, int hi, int *out)
{
	int v = 0, digits = 0;
	while (isdigit((unsigned char)*s) && digits < 3) {
		v = v * 10 + (*s++ - '0');
		digits++;
	}
	if (!digits || v < lo || v > hi)
		return NULL;
	*out = v;
	return s;
}

static const char *parse_edge(const char *s, struct tz_rule_edge *e)
{
	memset(e, 0, sizeof(*e));
	e->secs = 2 * 3600;
	if (*s == 'M') {
		e->kind = 'M';
		if (!(s = parse_int(s + 1, 1, 12, &e->month)) || *s != '.' ||
		    !(s = parse_int(s + 1, 1, 5, &e->week)) || *s != '.' ||
		    !(s = parse_int(s + 1, 0, 6, &e->wday)))
			return NULL;
	} else if (*s == 'J') {
		e->kind = 'J';
		if (!(s = parse_int(s + 1, 1, 365, &e->yday)))
			return NULL;
	} else {
		e->kind = 'D';
		if (!(s = parse_int(s, 0, 365, &e->yday)))
			return NULL;
	}
	if (*s == '/')
		s = parse_hms(s + 1, 167, &e->secs); /* RFC 8536: -167..167 hours */
	return s;
}

int tz_rule_parse(const char *s, struct tz_rule *out)
{
	int32_t west;
	memset(out, 0, sizeof(*out));
	if (!(s = parse_name(s)) || !(s = parse_hms(s, 24, &west)))
		return -1;
	out->std_off = -west;
	if (!*s)
		return 0;
	if (!(s = parse_name(s)))
		return -1;
	out->has_dst = 1;
	out->dst_off = out->std_off + 3600;
	if (*s && *s != ',') {
		if (!(s = parse_hms(s, 24, &west)))
			return -1;
		out->dst_off = -west;
	}
	if (*s++ != ',' || !(s = parse_edge(s, &out->start)) || *s++ != ',' ||
	    !(s = parse_edge(s, &out->end)))
		return -1;
	return *s ? -1 : 0;
}

/* The day (days since the epoch) on which edge e falls in year y. */
static int64_t edge_day(const struct tz_rule_edge *e, int y)
{
	struct date jan1 = {y, 1, 1};
	int64_t base = date_to_days(&jan1);
	if (e->kind == 'D')
		return base + e->yday;
	if (e->kind == 'J') {
		int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
		return base + e->yday - 1 + (leap && e->yday >= 60);
	}
	struct date first = {y, e->month, 1};
	int64_t d = date_to_days(&first);
	int64_t wday_first = ((d % 7) + 7 + 4) % 7; /* 1970-01-01 was a Thursday (4) */
	d += (e->wday - wday_first + 7) % 7 + 7 * (e->week - 1);
	struct date next = date_add_days(&first, 31);
	next.day = 1;
	while (d >= date_to_days(&next)) /* week 5 = the last such weekday of the month */
		d -= 7;
	return d;
}

int32_t tz_rule_offset(const struct tz_rule *r, int64_t t)
{
	if (!r->has_dst)
		return r->std_off;
	int64_t days = t / 86400 - (t % 86400 < 0);
	int y = date_from_days(days).year;
	/* The edges are local times: the start in standard time, the end in daylight time. */
	int64_t start = edge_day(&r->start, y) * 86400 + r->start.secs - r->std_off;
	int64_t end = edge_day(&r->end, y) * 86400 + r->end.secs - r->dst_off;
	int in_dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
	return in_dst ? r->dst_off : r->std_off;
}
