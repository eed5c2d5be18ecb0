/*
 * Fleet mode: keys this host may have left behind, freed in the background.
 *
 * Design note. A claim or slot is a key bound to this host's lease, so it lives as long as
 * the host does. Two failures would leak one for that long: a release (guarded delete) that
 * failed, and a claim or slot txn whose reply was lost (etcd may have created the key, the
 * host does not know). Each failure adds an entry here: the key, the create revision to
 * delete when known (0: unknown, read the key first) and the lease it was bound to. The reaper
 * thread deletes each entry's key with a guarded delete (only that create revision), retrying
 * with a growing pause until it succeeds, the key turns out absent or not this lease's, or the
 * lease is gone (fleet_reap_clear: its keys went with it).
 *
 * A host that claims the same key again while its entry waits takes the key back
 * (fleet_reap_take_back): the key is its own on its own lease, and the entry goes. Once the
 * reaper has started deleting an entry's key, the key is not taken back: the claimer waits
 * and claims anew. Both decide under f->lock, so a key is never both kept and deleted.
 */
#include "fleet_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../common/clock.h"
#include "../../common/log.h"

#define REAP_PAUSE_MIN_MS 500 /* first pause: a claimer that failed may take its key back */
#define REAP_PAUSE_MAX_MS 2000

struct fleet_reap_entry {
	struct fleet_reap_entry *next;
	uint64_t id;	  /* finds the entry again after an etcd call */
	int64_t token;	  /* create revision to delete; 0 = unknown yet */
	int64_t lease;	  /* the lease the key was bound to */
	int deleting;	  /* the reaper is deleting it: no take back */
	char key[ETCD_KEY_MAX + 1];
};

/* The entry of key, or NULL. f->lock held. */
static struct fleet_reap_entry **find_key(struct fleet *f, const char *key)
{
	struct fleet_reap_entry **p = &f->reap;

	while (*p && strcmp((*p)->key, key) != 0)
		p = &(*p)->next;
	return p;
}

static struct fleet_reap_entry **find_id(struct fleet *f, uint64_t id)
{
	struct fleet_reap_entry **p = &f->reap;

	while (*p && (*p)->id != id)
		p = &(*p)->next;
	return p;
}

static void unlink_entry(struct fleet_reap_entry **p)
{
	struct fleet_reap_entry *e = *p;

	*p = e->next;
	free(e);
}

void fleet_reap_add(struct fleet *f, const char *key, int64_t token, int64_t lease)
{
	struct fleet_reap_entry *e;

	if (!lease)
		return; /* no lease, no key bound to it */
	pthread_mutex_lock(&f->lock);
	e = *find_key(f, key);
	if (e && !e->deleting) {
		e->token = token; /* the newer failure knows as much or more */
		e->lease = lease;
	} else if (!e && (e = calloc(1, sizeof(*e))) != NULL) {
		e->id = ++f->reap_next_id;
		e->token = token;
		e->lease = lease;
		snprintf(e->key, sizeof(e->key), "%s", key);
		e->next = f->reap;
		f->reap = e;
	} else if (!e) {
		log_warn("fleet: out of memory: a key of this host may stay until its lease ends");
	}
	f->reap_pause_ms = REAP_PAUSE_MIN_MS;
	pthread_mutex_unlock(&f->lock);
	/* The session's reaper looks at f after a short pause first: the claimer that failed
	 * may take its key back. (The session's lock after f's, never within it.) */
	pthread_mutex_lock(&f->session->lock);
	if (!f->reap_due_ms)
		f->reap_due_ms = clock_mono_ms() + REAP_PAUSE_MIN_MS;
	pthread_cond_signal(&f->session->reap_wake);
	pthread_mutex_unlock(&f->session->lock);
}

int fleet_reap_take_back(struct fleet *f, const char *key)
{
	struct fleet_reap_entry **p;
	int rc = 0;

	pthread_mutex_lock(&f->lock);
	p = find_key(f, key);
	if (*p && (*p)->deleting)
		rc = -1;
	else if (*p)
		unlink_entry(p);
	pthread_mutex_unlock(&f->lock);
	return rc;
}

void fleet_reap_clear(struct fleet *f)
{
	pthread_mutex_lock(&f->lock);
	/* An entry the reaper is deleting stays until it looks again (it holds its id). */
	for (struct fleet_reap_entry **p = &f->reap; *p;) {
		if ((*p)->deleting)
			p = &(*p)->next;
		else
			unlink_entry(p);
	}
	pthread_mutex_unlock(&f->lock);
}

size_t fleet_reap_pending(struct fleet *f)
{
	size_t n = 0;

	pthread_mutex_lock(&f->lock);
	for (struct fleet_reap_entry *e = f->reap; e; e = e->next)
		n++;
	pthread_mutex_unlock(&f->lock);
	return n;
}

/* ---- the reaper thread ---- */

/* What one entry needs, copied out under the lock. */
struct reap_job {
	uint64_t id;
	int64_t token, lease;
	char key[ETCD_KEY_MAX + 1];
};

/* The key's create revision when it is still bound to job's lease, else 0 (nothing to free);
 * -1 when etcd failed. */
static int64_t reap_lookup(struct fleet *f, const struct reap_job *job)
{
	struct client_error err;
	struct etcd_kv kv;

	if (fleet_note(f, etcd_get(f->etcd, job->key, &kv, &err), &err) != 0)
		return -1;
	if (kv.create_revision == 0 || kv.lease != job->lease || strcmp(kv.value, f->host) != 0)
		return 0;
	return kv.create_revision;
}

/* Marks the entry deleting with token; 0, or -1 when it is gone (taken back, cleared). */
static int reap_mark(struct fleet *f, uint64_t id, int64_t token)
{
	struct fleet_reap_entry *e;

	pthread_mutex_lock(&f->lock);
	e = *find_id(f, id);
	if (e) {
		e->token = token;
		e->deleting = 1;
	}
	pthread_mutex_unlock(&f->lock);
	return e ? 0 : -1;
}

/* The entry is done (done = 1: drop it) or to try again later (deleting no more). */
static void reap_finish(struct fleet *f, uint64_t id, int done)
{
	struct fleet_reap_entry **p;

	pthread_mutex_lock(&f->lock);
	p = find_id(f, id);
	if (*p && done)
		unlink_entry(p);
	else if (*p)
		(*p)->deleting = 0;
	pthread_mutex_unlock(&f->lock);
}

/* One try at one entry. 0 = done with it, -1 = etcd failed (try again later). */
static int reap_one(struct fleet *f, const struct reap_job *job)
{
	struct client_error err;
	int64_t token = job->token;
	int applied = 0, rc;

	if (token == 0 && (token = reap_lookup(f, job)) <= 0) {
		if (token == 0)
			reap_finish(f, job->id, 1);
		return token == 0 ? 0 : -1;
	}
	if (reap_mark(f, job->id, token) != 0)
		return 0;
	rc = fleet_note(f, etcd_delete_if_owner(f->etcd, job->key, token, job->key, &applied,
						&err),
			&err);
	reap_finish(f, job->id, rc == 0);
	if (rc == 0 && applied) {
		fleet_count(f, &f->stats.keys_freed);
		log_info("fleet: freed a key this host had left behind after a failed etcd call");
	}
	return rc == 0 ? 0 : -1;
}

/* The first entry not tried in this round (id above after), copied into *job. 1 or 0. */
static int next_job(struct fleet *f, uint64_t after, struct reap_job *job)
{
	const struct fleet_reap_entry *best = NULL;

	for (const struct fleet_reap_entry *e = f->reap; e; e = e->next)
		if (e->id > after && !e->deleting && (!best || e->id < best->id))
			best = e;
	if (!best)
		return 0;
	job->id = best->id;
	job->token = best->token;
	job->lease = best->lease;
	memcpy(job->key, best->key, sizeof(job->key));
	return 1;
}

/* One round over every entry; returns with f->lock held, as it was taken. */
static int reap_round(struct fleet *f)
{
	struct reap_job job;
	uint64_t after = 0;
	int failed = 0;

	while (!f->stopping && next_job(f, after, &job)) {
		after = job.id;
		pthread_mutex_unlock(&f->lock);
		failed |= reap_one(f, &job) != 0;
		pthread_mutex_lock(&f->lock);
	}
	return failed;
}

/* The fleet whose entries are due now (NULL: none; *next_ms: when the earliest is due, 0
 * none). Under s->lock. */
static struct fleet *due_fleet(struct fleet_session *s, int64_t now, int64_t *next_ms)
{
	*next_ms = 0;
	for (size_t i = 0; i < s->nfleets; i++) {
		struct fleet *f = s->fleets[i];
		if (!f->reap_due_ms)
			continue;
		if (f->reap_due_ms <= now)
			return f;
		if (!*next_ms || f->reap_due_ms < *next_ms)
			*next_ms = f->reap_due_ms;
	}
	return NULL;
}

/* One round over f's entries, without the session's lock (f is busy meanwhile); then when
 * entries remain, f is due again after its pause (growing while rounds fail). Under s->lock. */
static void reap_fleet(struct fleet_session *s, struct fleet *f)
{
	int pending;
	long pause;

	f->busy++;
	f->reap_due_ms = 0;
	pthread_mutex_unlock(&s->lock);
	pthread_mutex_lock(&f->lock);
	if (reap_round(f))
		f->reap_pause_ms = f->reap_pause_ms * 2 > REAP_PAUSE_MAX_MS ? REAP_PAUSE_MAX_MS
									: f->reap_pause_ms * 2;
	pending = f->reap != NULL;
	pause = f->reap_pause_ms;
	pthread_mutex_unlock(&f->lock);
	pthread_mutex_lock(&s->lock);
	if (pending && !f->reap_due_ms)
		f->reap_due_ms = clock_mono_ms() + pause;
	f->busy--;
	pthread_cond_broadcast(&s->idle);
}

/* The session's one reaper: the fleets' entries in turn, each when due. */
static void *reap_main(void *arg)
{
	struct fleet_session *s = arg;

	pthread_mutex_lock(&s->lock);
	while (!s->stopping) {
		int64_t now = clock_mono_ms(), next;
		struct fleet *f = due_fleet(s, now, &next);
		struct timespec until;

		if (f) {
			reap_fleet(s, f);
		} else if (!next) {
			pthread_cond_wait(&s->reap_wake, &s->lock);
		} else {
			clock_mono_deadline(&until, (long)(next - now));
			pthread_cond_timedwait(&s->reap_wake, &s->lock, &until);
		}
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

void fleet_reap_drop(struct fleet *f)
{
	pthread_mutex_lock(&f->lock);
	while (f->reap)
		unlink_entry(&f->reap);
	pthread_mutex_unlock(&f->lock);
}

int fleet_reap_start(struct fleet_session *s)
{
	if (pthread_create(&s->reaper, NULL, reap_main, s) != 0)
		return -1;
	s->reaper_started = 1;
	return 0;
}

void fleet_reap_stop(struct fleet_session *s)
{
	if (!s->reaper_started)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = 1;
	pthread_cond_signal(&s->reap_wake);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->reaper, NULL);
	s->reaper_started = 0;
}
