/* The freshness rule (see fresh.h). */
#include "fresh.h"

int64_t fresh_closed_at(const struct tz *zone, const struct date_range *r, int64_t settle_s)
{
	struct date next = date_add_days(&r->end, 1);
	int64_t start = zone ? tz_day_start(zone, &next) : (int64_t)date_start_time(&next);
	return start + settle_s;
}

int fresh_complete(const struct tz *zone, const struct date_range *r, int64_t applied_s,
		   const struct fresh_rule *rule)
{
	return applied_s >= fresh_closed_at(zone, r, rule->settle_s);
}

int64_t fresh_until(const struct tz *zone, const struct date_range *r, int64_t applied_s,
		    const struct fresh_rule *rule)
{
	int64_t closed = fresh_closed_at(zone, r, rule->settle_s);
	int64_t ttl_end = applied_s + rule->open_ttl_s;

	if (applied_s >= closed)
		return 0;
	return ttl_end < closed ? ttl_end : closed;
}
