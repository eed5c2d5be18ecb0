#include "tz.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tz_rule.h"

#define TZ_FILE_MAX (1 << 20) /* the biggest zoneinfo file is under 4 KiB */

struct tz {
	char name[TZ_NAME_MAX];
	size_t n;	 /* transitions */
	int64_t *when;	 /* n unix times, ascending */
	int32_t *off;	 /* n offsets in force from when[i] on */
	int32_t first;	 /* offset before when[0] (RFC 8536: local time type 0) */
	int has_rule;	 /* rule says the offsets after when[n-1] (or always when n == 0) */
	struct tz_rule rule;
};

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

struct tzif_counts {
	uint32_t isut, isstd, leap, time, type, chars;
};

/* The header at p (44 bytes). 0, or -1 when it is not one. */
static int read_header(const unsigned char *p, size_t len, struct tzif_counts *c)
{
	if (len < 44 || memcmp(p, "TZif", 4))
		return -1;
	c->isut = be32(p + 20);
	c->isstd = be32(p + 24);
	c->leap = be32(p + 28);
	c->time = be32(p + 32);
	c->type = be32(p + 36);
	c->chars = be32(p + 40);
	return c->type == 0 || c->type > 256 || c->time > 100000 || c->chars > 65536 ? -1 : 0;
}

static size_t block_size(const struct tzif_counts *c, size_t tsize)
{
	return c->time * tsize + c->time + c->type * 6 + c->chars + c->leap * (tsize + 4) +
	       c->isstd + c->isut;
}

/* Fill z's transitions from the data block at p (tsize 4: version 1, 8: version 2+). */
static int read_block(struct tz *z, const unsigned char *p, const struct tzif_counts *c,
		      size_t tsize)
{
	const unsigned char *idx = p + c->time * tsize, *types = idx + c->time;
	z->n = c->time;
	z->when = calloc(c->time + 1, sizeof(*z->when));
	z->off = calloc(c->time + 1, sizeof(*z->off));
	if (!z->when || !z->off)
		return -1;
	for (size_t i = 0; i < c->time; i++) {
		if (idx[i] >= c->type)
			return -1;
		z->when[i] = tsize == 8 ? be64(p + i * 8) : (int32_t)be32(p + i * 4);
		z->off[i] = (int32_t)be32(types + idx[i] * 6);
	}
	z->first = (int32_t)be32(types);
	return 0;
}

/* Parse a whole zoneinfo file into z. 0, or -1 when it is not one. */
static int parse_tzif(struct tz *z, const unsigned char *p, size_t len)
{
	struct tzif_counts c;
	if (read_header(p, len, &c) || len < 44 + block_size(&c, 4))
		return -1;
	if (p[4] < '2')
		return read_block(z, p + 44, &c, 4);
	const unsigned char *h2 = p + 44 + block_size(&c, 4);
	len -= (size_t)(h2 - p);
	if (read_header(h2, len, &c) || len < 44 + block_size(&c, 8))
		return -1;
	if (read_block(z, h2 + 44, &c, 8))
		return -1;
	/* The footer: "\n<POSIX rule>\n", empty when the zone has no rule. */
	const char *foot = (const char *)h2 + 44 + block_size(&c, 8);
	size_t rest = len - 44 - block_size(&c, 8);
	char rule[TZ_NAME_MAX];
	if (rest >= 2 && foot[0] == '\n' && rest - 1 < sizeof(rule)) {
		const char *nl = memchr(foot + 1, '\n', rest - 1);
		if (nl && nl > foot + 1) {
			memcpy(rule, foot + 1, (size_t)(nl - foot - 1));
			rule[nl - foot - 1] = 0;
			z->has_rule = tz_rule_parse(rule, &z->rule) == 0;
		}
	}
	return 0;
}

static int read_file(const char *path, unsigned char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	/* A buffer the file's size (and a byte to see it grew), not TZ_FILE_MAX: each account
	 * of a mount loads its zone, and a 1 MiB buffer each time leaves the heap fragmented. */
	struct stat st;
	size_t cap = TZ_FILE_MAX;
	if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size < TZ_FILE_MAX)
		cap = (size_t)st.st_size + 1;
	unsigned char *buf = malloc(cap);
	size_t n = buf ? fread(buf, 1, cap, f) : 0;
	int bad = !buf || ferror(f) || n == cap;
	int e = bad && buf && !ferror(f) ? (cap == TZ_FILE_MAX ? EFBIG : EAGAIN) : errno;
	fclose(f);
	if (bad) {
		free(buf);
		errno = e ? e : ENOMEM;
		return -1;
	}
	*out = buf;
	*len = n;
	return 0;
}

/* The zoneinfo file name names into path. 0, or -1 with err for a name that could climb out
 * of the zoneinfo directory or is too long. */
static int resolve(const char *name, char *path, size_t n, char *err, size_t errlen)
{
	const char *dir = getenv("TZDIR");
	if (!dir || !*dir)
		dir = "/usr/share/zoneinfo";
	if (name[0] == '/') {
		snprintf(path, n, "%s", name);
		return 0;
	}
	if (strstr(name, "..") || strlen(name) >= TZ_NAME_MAX) {
		snprintf(err, errlen, "time zone \"%.64s\": not a zone name", name);
		return -1;
	}
	snprintf(path, n, "%s/%s", dir, name);
	return 0;
}

/* The name glibc would use for the process's zone (TZ, else /etc/localtime). */
static const char *process_zone(void)
{
	const char *tz = getenv("TZ");
	if (!tz || !*tz || !strcmp(tz, ":"))
		return "/etc/localtime";
	return tz[0] == ':' ? tz + 1 : tz;
}

struct tz *tz_load(const char *name, char *err, size_t errlen)
{
	int process = !name || !*name;
	const char *want = process ? process_zone() : name;
	char path[4096];
	unsigned char *data = NULL;
	size_t len = 0;
	struct tz *z = calloc(1, sizeof(*z));

	if (!z || resolve(want, path, sizeof(path), err, errlen))
		goto fail;
	snprintf(z->name, sizeof(z->name), "%s",
		 process && !getenv("TZ") ? "localtime" : want);
	if (read_file(path, &data, &len) == 0) {
		if (parse_tzif(z, data, len)) {
			snprintf(err, errlen, "time zone \"%.64s\": %.64s is not a zoneinfo file",
				 want, path);
			goto fail;
		}
	} else if (process && tz_rule_parse(want, &z->rule) == 0) {
		z->has_rule = 1; /* TZ="EST5EDT,M3.2.0,M11.1.0" names no file */
	} else if (process && !strcmp(want, "/etc/localtime")) {
		z->has_rule = 1; /* no /etc/localtime: glibc uses UTC, and so do we */
	} else {
		snprintf(err, errlen, "time zone \"%.64s\": %s", want,
			 errno == ENOENT ? "unknown (no such zoneinfo file)" : strerror(errno));
		goto fail;
	}
	free(data);
	return z;
fail:
	free(data);
	tz_free(z);
	return NULL;
}

void tz_free(struct tz *z)
{
	if (!z)
		return;
	free(z->when);
	free(z->off);
	free(z);
}

const char *tz_name(const struct tz *z)
{
	return z->name;
}

int32_t tz_offset(const struct tz *z, int64_t t)
{
	if (z->n == 0 || t >= z->when[z->n - 1]) {
		if (z->has_rule)
			return tz_rule_offset(&z->rule, t);
		return z->n ? z->off[z->n - 1] : z->first;
	}
	if (t < z->when[0])
		return z->first;
	size_t lo = 0, hi = z->n - 1; /* when[lo] <= t < when[hi] */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (z->when[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	return z->off[lo];
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

struct date tz_date(const struct tz *z, int64_t t)
{
	return date_from_days(floor_div(t + tz_offset(z, t), 86400));
}

int64_t tz_local_time(const struct tz *z, const struct date *d, int32_t secs)
{
	int64_t local = date_to_days(d) * 86400 + secs;
	/* The offsets a day either side: transitions are never closer together than that. */
	int32_t before = tz_offset(z, local - 86400), after = tz_offset(z, local + 86400);
	int ok_before = tz_offset(z, local - before) == before;
	int ok_after = tz_offset(z, local - after) == after;
	if (ok_before && ok_after)
		return local - before < local - after ? local - before : local - after;
	if (ok_after)
		return local - after;
	return local - before; /* valid, or in a gap: read with the offset before the jump */
}

int64_t tz_day_start(const struct tz *z, const struct date *d)
{
	return tz_local_time(z, d, 0);
}

void tz_format_iso(const struct tz *z, int64_t t, char out[TZ_ISO_LEN])
{
	int32_t off = tz_offset(z, t);
	int64_t local = t + off, days = floor_div(local, 86400);
	int64_t s = local - days * 86400;
	struct date d = date_from_days(days);
	unsigned a = (unsigned)(off < 0 ? -off : off) / 60u;
	snprintf(out, TZ_ISO_LEN, "%04u-%02u-%02uT%02u:%02u:%02u%c%02u%02u",
		 (unsigned)d.year % 10000u, (unsigned)d.month % 100u, (unsigned)d.day % 100u,
		 (unsigned)(s / 3600) % 100u, (unsigned)(s / 60 % 60), (unsigned)(s % 60),
		 off < 0 ? '-' : '+', (a / 60u) % 100u, a % 60u);
}
