/*
 * Time zones, read from the system's zoneinfo files (TZif, RFC 8536) by orderfs itself.
 *
 * Design note. Each mount and each account has its own zone (the `time_zone` key), and many
 * threads ask "which day is it there" at once. glibc can only answer for the one zone in TZ,
 * and its mktime/localtime re-read TZ under a lock that ThreadSanitizer cannot see, so
 * switching TZ per call would be both wrong and racy. A struct tz is instead loaded once
 * (transitions plus the file's POSIX rule for the years after them) and never changes: every
 * function below only reads it, with no lock and no global state.
 */
#ifndef ORDERFS_TZ_H
#define ORDERFS_TZ_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "date.h"

#define TZ_NAME_MAX 128
#define TZ_ISO_LEN 26 /* "YYYY-MM-DDTHH:MM:SS+hhmm" + NUL */

struct tz;

/*
 * Load a zone: an IANA name ("Europe/Berlin", "UTC") looked up under $TZDIR or
 * /usr/share/zoneinfo; NULL or "" for the process's zone (TZ as glibc reads it: a file name,
 * ":path", or a POSIX rule string; /etc/localtime when TZ is unset or empty). Returns a zone
 * the caller frees with tz_free, or NULL with a reason in err that names the zone (unknown,
 * unreadable, not a zoneinfo file, a name with ".." in it). Thread-safe.
 */
struct tz *tz_load(const char *name, char *err, size_t errlen);
void tz_free(struct tz *z);

/* The name the zone was loaded by ("Europe/Berlin"; the process's zone: its TZ, or
 * "localtime"). Owned by z. */
const char *tz_name(const struct tz *z);

/* Seconds east of UTC in force at unix time t. */
int32_t tz_offset(const struct tz *z, int64_t t);

/* The calendar date at unix time t in zone z. */
struct date tz_date(const struct tz *z, int64_t t);

/*
 * The unix time of a local wall time: the date d and secs seconds after its midnight (0 ..
 * 86399). A wall time that occurs twice (clocks go back) gives the earlier instant; one that
 * does not exist (clocks go forward) gives the instant the clocks jumped at plus the time
 * skipped past it, as mktime does, so a day that starts inside a gap starts at the jump.
 */
int64_t tz_local_time(const struct tz *z, const struct date *d, int32_t secs);

/* The unix time at which day d begins in z (its first instant: 00:00, or the end of a gap). */
int64_t tz_day_start(const struct tz *z, const struct date *d);

/* "2026-12-07T15:04:05+0100": t as local time in z, with its offset. */
void tz_format_iso(const struct tz *z, int64_t t, char out[TZ_ISO_LEN]);

#endif
