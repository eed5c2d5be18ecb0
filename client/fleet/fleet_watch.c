/*
 * Fleet mode's watch: one thread per session holds one etcd watch stream over the session's
 * prefix, orderfs/v1/<provider>/ (etcd_watch, its own connection), so a mount of 1,000
 * merchants is still one stream. Each event goes to the fleet whose prefix it falls under
 * (the session's table of fleets) and becomes marks that that fleet's waiting followers and
 * slot waiters sleep on (fleet_watch_wait), so they read etcd when something changed instead
 * of on a timer. A mark is 0 while the stream is down: the waiters fall back
 * to their timers. A stream that drops is resumed from the last revision it saw; when etcd
 * compacted that revision away, the watch starts anew from etcd's current revision and bumps
 * every mark, so every waiter reads what it waits on once (the range read fallback).
 */
#include "fleet_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../common/clock.h"
#include "../../common/log.h"

#define WATCH_RETRY_MIN_MS 200
#define WATCH_RETRY_MAX_MS 5000

/* A record as the stream delivered it: the value etcd holds for records/<hex> from that event
 * until the next event of that key (which replaces it) or of another key of its bucket (which
 * takes its place). */
struct fleet_seen_record {
	char hex[FLEET_SHA256_HEX];
	int deleted;
	size_t len;
	char value[]; /* len bytes, then a NUL */
};

/* The bucket of a claims/ or records/ key name (its SHA-256 hex): its first byte. */
static size_t bucket_of_hex(const char *hex)
{
	unsigned v = 0;

	for (int i = 0; i < 2; i++) {
		char c = hex[i];
		v = v * 16 + (unsigned)(c >= 'a' ? c - 'a' + 10 : c >= '0' && c <= '9' ? c - '0' : 0);
	}
	return v % FLEET_WATCH_BUCKETS;
}

/* A put or delete of slots/<name> (under f->lock): what the slot takers skip, and their mark. */
static void slot_seen(struct fleet *f, const char *name, int deleted)
{
	char *end;
	long i = strtol(name, &end, 10);

	if (*name && !*end && i >= 0 && i < f->max_exports)
		f->slot_watched[i] = !deleted;
	if (deleted)
		f->watch_slots++; /* a waiter for a slot wakes when one is given back */
}

/* A put or delete of records/<hex> (under f->lock): keep what it says for the followers. A
 * put whose value is unknown forgets the bucket's, so they read etcd. */
static void record_seen(struct fleet *f, const char *hex, int deleted, const char *value,
			size_t len)
{
	size_t b = bucket_of_hex(hex);
	struct fleet_seen_record *r;

	free(f->watch_rec[b]);
	f->watch_rec[b] = NULL;
	if (strlen(hex) != FLEET_SHA256_HEX - 1 || (!deleted && !value))
		return;
	if (!(r = malloc(sizeof(*r) + len + 1)))
		return;
	memcpy(r->hex, hex, FLEET_SHA256_HEX);
	r->deleted = deleted;
	r->len = deleted ? 0 : len;
	if (!deleted)
		memcpy(r->value, value, len);
	r->value[r->len] = '\0';
	f->watch_rec[b] = r;
}

/* Forget every record the stream delivered (under f->lock): it went down, and events may be
 * missed until it is live again. */
static void records_forget(struct fleet *f)
{
	for (size_t b = 0; b < FLEET_WATCH_BUCKETS; b++) {
		free(f->watch_rec[b]);
		f->watch_rec[b] = NULL;
	}
}

int fleet_watch_record(struct fleet *f, const char *hex, char *out, size_t cap, size_t *len,
		       int *deleted)
{
	const struct fleet_seen_record *r;
	int known = 0;

	pthread_mutex_lock(&f->lock);
	r = f->watch_live ? f->watch_rec[bucket_of_hex(hex)] : NULL;
	if (r && strcmp(r->hex, hex) == 0 && r->len < cap) {
		*deleted = r->deleted;
		*len = r->len;
		memcpy(out, r->value, r->len + 1);
		known = 1;
	}
	pthread_mutex_unlock(&f->lock);
	return known;
}

/* One event of f's keys (rest: the key after f's prefix). Takes f->lock. */
static void fleet_event(struct fleet *f, const char *rest, int deleted, const char *value,
			size_t value_len)
{
	log_debug("fleet: watch: %s %s", deleted ? "deleted" : "put", rest);
	pthread_mutex_lock(&f->lock);
	/* A claim put wakes nobody: a follower waits for the record, or for the claim to go. */
	if (strncmp(rest, "claims/", 7) == 0 && strlen(rest + 7) >= 2 && deleted) {
		size_t b = bucket_of_hex(rest + 7);
		f->watch_claim[b]++;
		snprintf(f->watch_claim_last[b], sizeof(f->watch_claim_last[b]), "%.*s",
			 FLEET_CLAIM_TAG, rest + 7);
	}
	else if (strncmp(rest, "records/", 8) == 0 && strlen(rest + 8) >= 2) {
		record_seen(f, rest + 8, deleted, value, value_len);
		f->watch_record[bucket_of_hex(rest + 8)]++;
	}
	else if (strncmp(rest, "slots/", 6) == 0)
		slot_seen(f, rest + 6, deleted);
	else if (strncmp(rest, "members/", 8) == 0)
		f->watch_members++;
	f->stats.watch_events++;
	pthread_cond_broadcast(&f->watch_cond);
	pthread_mutex_unlock(&f->lock);
}

/* An event of the session's stream goes to the fleet whose prefix it falls under (a key
 * of a merchant this mount does not serve goes nowhere). The key is not NUL-terminated. */
static void on_event(void *arg, const char *key, size_t key_len, int deleted,
		     const char *value, size_t value_len)
{
	struct fleet_session *s = arg;
	char rest[ETCD_KEY_MAX + 1];

	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->nfleets; i++) {
		struct fleet *f = s->fleets[i];
		size_t plen = strlen(f->prefix);
		if (key_len < plen || key_len - plen > ETCD_KEY_MAX ||
		    memcmp(key, f->prefix, plen) != 0)
			continue;
		memcpy(rest, key + plen, key_len - plen);
		rest[key_len - plen] = '\0';
		fleet_event(f, rest, deleted, value, value_len);
		break; /* prefixes end in '/' and have one length: one fleet at most */
	}
	pthread_mutex_unlock(&s->lock);
}

/* The stream is live, or changes state: a new epoch makes every mark differ, so every
 * waiter reads once what it waits on. */
void fleet_watch_set_live(struct fleet *f, int live)
{
	pthread_mutex_lock(&f->lock);
	if (f->watch_live != live) {
		f->watch_live = live;
		f->watch_epoch++;
		/* A stream resumed from its revision misses nothing, but one restarted after a
		 * compaction may have: what it saw of the slots is forgotten. */
		if (!live && f->max_exports > 0)
			memset(f->slot_watched, 0, (size_t)f->max_exports);
		if (!live)
			records_forget(f);
		pthread_cond_broadcast(&f->watch_cond);
	}
	pthread_mutex_unlock(&f->lock);
}

/* The session's stream goes live or down: so does every fleet's. */
static void watch_set_live(struct fleet_session *s, int live)
{
	pthread_mutex_lock(&s->lock);
	s->watch_live = live;
	for (size_t i = 0; i < s->nfleets; i++)
		fleet_watch_set_live(s->fleets[i], live);
	pthread_mutex_unlock(&s->lock);
}

static void on_revision(void *arg, int64_t rev, int created)
{
	struct fleet_session *s = arg;

	s->watch_rev = rev; /* the watch thread alone uses it */
	if (created)
		watch_set_live(s, 1);
}

static int watch_stopping(void *arg)
{
	struct fleet_session *s = arg;
	int stop;

	pthread_mutex_lock(&s->lock);
	stop = s->stopping;
	pthread_mutex_unlock(&s->lock);
	return stop;
}

/* Sleeps ms unless the session stops first. 1 when stopping. */
static int watch_pause(struct fleet_session *s, long ms)
{
	struct timespec ts;
	int stop;

	clock_mono_deadline(&ts, ms);
	pthread_mutex_lock(&s->lock);
	if (!s->stopping)
		pthread_cond_timedwait(&s->watch_cond, &s->lock, &ts);
	stop = s->stopping;
	pthread_mutex_unlock(&s->lock);
	return stop;
}

static const struct etcd_watch_ops watch_ops = {on_revision, on_event, watch_stopping};

/* One stream: from the revision after the last one seen, or after etcd's current one (read
 * first, which also authenticates) when there is none. After a stream that etcd refused
 * (not a transport failure: the token may have expired, in whatever shape the gateway said
 * so), that read comes first too, so the next stream carries a fresh token. 0 when it ended
 * because the session stops, else -1 (*err). */
static int watch_once(struct fleet_session *s, struct client_error *err)
{
	int64_t rev;
	int r;

	if (s->watch_rev == 0 || (err->kind != CLIENT_OK && err->kind != CLIENT_E_TRANSIENT)) {
		if (etcd_revision(s->etcd, s->prefix, &rev, err) != 0)
			return -1;
		if (s->watch_rev == 0)
			s->watch_rev = rev;
	}
	r = etcd_watch(s->etcd, s->prefix, s->watch_rev + 1, &watch_ops, s, err);
	if (r == ETCD_WATCH_COMPACTED) {
		log_info("fleet: the watch's revision was compacted; reading anew");
		s->watch_rev = 0; /* the next stream starts after a fresh read */
	}
	return r == 0 ? 0 : -1;
}

static void *watch_main(void *arg)
{
	struct fleet_session *s = arg;
	struct client_error err;
	long retry_ms = WATCH_RETRY_MIN_MS;

	client_error_clear(&err);
	while (!watch_stopping(s)) {
		int64_t started = clock_mono_ms();
		if (watch_once(s, &err) == 0)
			break;
		watch_set_live(s, 0);
		if (clock_mono_ms() - started > WATCH_RETRY_MAX_MS)
			retry_ms = WATCH_RETRY_MIN_MS; /* it ran a while: retry soon */
		log_debug("fleet: watch down (%s); again in %ld ms", err.msg, retry_ms);
		if (watch_pause(s, retry_ms))
			break;
		retry_ms = retry_ms * 2 > WATCH_RETRY_MAX_MS ? WATCH_RETRY_MAX_MS : retry_ms * 2;
	}
	watch_set_live(s, 0);
	return NULL;
}

int fleet_watch_start(struct fleet_session *s)
{
	if (pthread_create(&s->watcher, NULL, watch_main, s) != 0)
		return -1;
	s->watcher_started = 1;
	return 0;
}

void fleet_watch_stop(struct fleet_session *s)
{
	if (!s->watcher_started)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = 1;
	pthread_cond_broadcast(&s->watch_cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->watcher, NULL);
	s->watcher_started = 0;
}

/* The marks of export_key under f->lock. */
static void marks_locked(struct fleet *f, const char *export_key, struct fleet_marks *out)
{
	char hex[FLEET_SHA256_HEX];
	uint64_t epoch = f->watch_epoch << 40;

	memset(out, 0, sizeof(*out));
	if (!f->watch_live)
		return;
	/* A range's waiter does not wake for the slots, nor a slot waiter for the ranges. */
	out->claim = out->record = epoch;
	if (!export_key)
		out->slots = epoch | (f->watch_slots & ((1ull << 40) - 1));
	else if (fleet_sha256_hex(export_key, hex) == 0) {
		size_t b = bucket_of_hex(hex);
		out->claim |= f->watch_claim[b] & ((1ull << 40) - 1);
		out->record |= f->watch_record[b] & ((1ull << 40) - 1);
	}
	/* never 0 while live: epoch >= 1 once the stream was created */
}

void fleet_watch_marks(struct fleet *f, const char *export_key, struct fleet_marks *out)
{
	pthread_mutex_lock(&f->lock);
	marks_locked(f, export_key, out);
	pthread_mutex_unlock(&f->lock);
}

uint64_t fleet_watch_members_mark(struct fleet *f)
{
	uint64_t mark = 0;

	pthread_mutex_lock(&f->lock);
	if (f->watch_live)
		mark = f->watch_epoch << 40 | (f->watch_members & ((1ull << 40) - 1));
	pthread_mutex_unlock(&f->lock);
	return mark;
}

int fleet_watch_claim_freed(struct fleet *f, const char *export_key,
			    const struct fleet_marks *seen)
{
	char hex[FLEET_SHA256_HEX];
	struct fleet_marks now;
	int freed = 1;

	pthread_mutex_lock(&f->lock);
	marks_locked(f, export_key, &now);
	if (now.claim == seen->claim)
		freed = 0;
	else if (now.claim && seen->claim && now.claim - seen->claim == 1 &&
		 fleet_sha256_hex(export_key, hex) == 0) /* one deletion, this epoch: whose? */
		freed = strncmp(f->watch_claim_last[bucket_of_hex(hex)], hex, FLEET_CLAIM_TAG) == 0;
	pthread_mutex_unlock(&f->lock);
	return freed;
}

int fleet_watch_wait(struct fleet *f, const char *export_key, const struct fleet_marks *seen,
		     long ms)
{
	struct fleet_marks now;
	struct timespec ts;
	int changed = 0;

	clock_mono_deadline(&ts, ms > 0 ? ms : 0);
	pthread_mutex_lock(&f->lock);
	for (;;) {
		marks_locked(f, export_key, &now);
		if (memcmp(&now, seen, sizeof(now)) != 0 || !now.claim) {
			changed = 1;
			break;
		}
		if (f->stopping || pthread_cond_timedwait(&f->watch_cond, &f->lock, &ts) != 0)
			break;
	}
	pthread_mutex_unlock(&f->lock);
	return changed;
}
