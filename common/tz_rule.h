/*
 * POSIX TZ rule strings ("EST5EDT,M3.2.0,M11.1.0", "<+0530>-5:30", "IST-1GMT0,M10.5.0,M3.5.0/1"):
 * the footer of a TZif file, which says the zone's offsets after its last listed transition
 * (every time, in the "slim" files most distributions now ship), and the fallback for a TZ
 * variable that names no file. Pure, no I/O; a parsed rule is immutable, so any number of
 * threads may read it.
 */
#ifndef ORDERFS_TZ_RULE_H
#define ORDERFS_TZ_RULE_H

#include <stdint.h>

/* One end of daylight time: Mm.w.d (month, week 1..5 with 5 = last, weekday 0 = Sunday),
 * Jn (1..365, February 29 never counted) or n (0..365), at secs local time of day. */
struct tz_rule_edge {
	char kind; /* 'M', 'J' or 'D' */
	int month, week, wday, yday;
	int32_t secs;
};

struct tz_rule {
	int32_t std_off; /* seconds east of UTC (the POSIX string says west: sign flipped) */
	int32_t dst_off;
	int has_dst;	 /* 0: std_off all year */
	struct tz_rule_edge start, end;
};

/* Parse a whole POSIX TZ string. 0, or -1 (*out unspecified) when any byte of s does not fit
 * the grammar, when it names daylight time without the rule saying when, or when an offset is
 * beyond 25 hours. */
int tz_rule_parse(const char *s, struct tz_rule *out);

/* Seconds east of UTC at unix time t under rule r. */
int32_t tz_rule_offset(const struct tz_rule *r, int64_t t);

#endif
