/*
 * Fleet mode's part of one flight: several hosts that mount the same merchant make one export
 * per range between them (client/fleet/fleet.h speaks etcd).
 *
 * Before applying, a flight claims the range. The holder resumes the task of the range's
 * record when there is a usable one (a takeover after a holder died), else takes a fleet
 * export slot, applies, and writes the record; it writes it again once the task is generated,
 * and last the file's size and SHA-256 in the txn that gives claim and slot back when the
 * flight ends (each write a proposal every etcd member commits: no more than that). A follower
 * never applies: it waits on the record (the claim's txn read it, then the watch brings each
 * change) and, once the task is generated, takes its task id and downloads on its own (the
 * task belongs to the merchant, so any host may ask for its URLs); before its file goes READY
 * its SHA-256 must match the holder's. When the holder dies, its
 * lease and claim expire and the next follower to claim becomes the holder of the same task.
 * A provider whose tasks are local jobs (shared_tasks 0: Mogujie's sync) gets one host at a
 * time per range: a follower waits for the claim to be free, then runs its own.
 *
 * etcd refuses this host (permission denied, authentication, an answer it cannot read): a
 * configuration error, not an outage. The flight fails with that error (logged once, shown in
 * .status) and no host exports alone because of it.
 *
 * etcd unreachable: ready files never need it. A flight retries the claim for one lease TTL,
 * then runs alone (one log line; .status says so) unless fleet_refuse, which fails -EAGAIN.
 * Alone, flights do not wait on etcd again until its keepalive says it answers; the next
 * claim that succeeds rejoins the fleet.
 *
 * Record writes are best effort: a failed one is logged and the flight goes on (followers
 * wait, or take over). A fenced one (this host's claim is gone: it stalled past its TTL)
 * stops this flight's writes for good, so a newer holder's record is never overwritten.
 */
#include "../fill/fill.h"
#include "fleet.h"
#include "../shared/shared.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../../client/fleet/fleet.h"
#include "../../common/log.h"

#define FLEET_WAIT_MIN_MS 200	/* first wait for a slot, or for etcd */
#define FLEET_WAIT_MAX_MS 1000	/* longest wait for a slot, or for etcd */
#define FLEET_FOLLOW_MS 100	/* a follower reads the record after this long, then */
#define FLEET_FOLLOW_MAX_MS 800	/* twice as long each time up to this: it learns of
				 * "generated" and of the holder's SHA-256 within 0.8 s, and a
				 * long export costs few reads */
#define FLEET_RECLAIM_MS 1000	/* and claims again this often (is the holder still there?) */
#define FLEET_WATCHED_MS 5000	/* with the watch live, a waiter reads when an event says
				 * what it waits on changed, and after this long at the latest */
#define FLEET_WATCHED_SLICE_MS 200 /* how often such a waiter checks its flight is wanted */
#define FLEET_SHA_WAIT_TTLS 2	/* how many lease TTLs a follower waits for the holder's SHA */
#define FLEET_UNKNOWN_EXPIRY_S (24 * 3600) /* a record's file of unknown expiry: trusted
					    * this long after the record was written */

/* Beyond 0 and -errno, what a step of the claim loop can say. */
#define FLEET_AGAIN 10	   /* wait, then claim again */
#define FLEET_ETCD_DOWN 11 /* an etcd call failed (*err says how) */
#define FLEET_IN_STORE 12  /* a local job's file another host made: look in the store */

static struct fleet *fleet_of(const struct fill *f)
{
	return f->src->fleet;
}

/* This flight's role and holder (NULL: the holder named before), for cache_lookup and
 * .status. */
static void fleet_publish(struct fill *f, enum cache_fleet_role role, const char *holder,
			  int slot_wait)
{
	f->role = role;
	pthread_mutex_lock(&f->c->lock);
	if (fill_alive_locked(f)) {
		f->e->info.fleet_role = role;
		if (holder)
			entry_str_set(&f->e->info.fleet_holder, holder);
		f->e->info.fleet_slot_wait = slot_wait;
	}
	pthread_mutex_unlock(&f->c->lock);
}

/* Wait before asking etcd again: *ms, growing to FLEET_WAIT_MAX_MS. 0, -ECANCELED, or
 * -ETIMEDOUT past the flight's export_timeout (f->err set). */
static int fleet_wait(struct fill *f, long *ms, const char *what)
{
	int r;

	if (cache_mono_ms() >= f->deadline) {
		client_error_set(&f->err, CLIENT_E_TRANSIENT, "fleet: still %s after %d s", what,
				 f->c->cfg.export_timeout_s);
		return -ETIMEDOUT;
	}
	if ((r = fill_sleep(f, *ms)) != 0)
		return r;
	*ms = *ms * 2 > FLEET_WAIT_MAX_MS ? FLEET_WAIT_MAX_MS : *ms * 2;
	return 0;
}

/* Wait on the fleet's watch until a mark in *seen changes (FLEET_WATCHED_MS at most). 0 (read
 * etcd now), -ECANCELED, or -ETIMEDOUT past the flight's export_timeout (f->err set). */
static int fleet_watched_wait(struct fill *f, const char *key, const struct fleet_marks *seen,
			      const char *what)
{
	int64_t until = cache_mono_ms() + FLEET_WATCHED_MS;
	int r;

	for (;;) {
		int64_t now = cache_mono_ms();
		if (now >= f->deadline) {
			client_error_set(&f->err, CLIENT_E_TRANSIENT, "fleet: still %s after %d s",
					 what, f->c->cfg.export_timeout_s);
			return -ETIMEDOUT;
		}
		if ((r = fill_sleep(f, 0)) != 0 || now >= until)
			return r;
		if (fleet_watch_wait(fleet_of(f), key, seen, FLEET_WATCHED_SLICE_MS))
			return 0;
	}
}

/* Wait before reading etcd again: on the watch while it is live (seen holds the marks taken
 * before the last read), else on a timer of *ms (fleet_wait). */
static int fleet_pause(struct fill *f, const char *key, const struct fleet_marks *seen,
		       long *ms, const char *what)
{
	log_debug("fleet: %s: %s (%s)", f->range_str, what, seen->claim ? "watch" : "timer");
	if (seen->claim)
		return fleet_watched_wait(f, key, seen, what);
	return fleet_wait(f, ms, what);
}

/* The fleet verified the file of task: its size and SHA-256 go into every record this
 * flight writes of that task, without reading etcd first. */
static void fleet_verified(struct fill *f, const char *task, int64_t size, const char *sha)
{
	snprintf(f->verified_task, sizeof(f->verified_task), "%s", task);
	snprintf(f->verified_sha, sizeof(f->verified_sha), "%s", sha);
	f->verified_size = size;
}

/* Write the record of the held range; a fenced write stops this flight's writes. keep_s > 0
 * for a final state: etcd deletes the record that long after (the record sweep). final: the
 * flight's last word, which releases its claim and slot in the same txn. 1 when the claim is
 * no longer this flight's to release (released, or fenced) nor the slot, else 0. */
static int fleet_put(struct fill *f, enum fleet_state st, int64_t size, const char *sha,
		     long keep_s, int final)
{
	struct fleet_record rec;
	struct client_error err;
	int r;

	if (f->role != CACHE_FLEET_HOLDER || f->fenced || !f->task_id[0])
		return 0;
	if (sha && sha[0])
		fleet_verified(f, f->task_id, size, sha);
	/* A state change of a task whose file a host already verified keeps its size and
	 * SHA-256: followers compare with them. */
	memset(&rec, 0, sizeof(rec));
	rec.size = size;
	if (!strcmp(f->verified_task, f->task_id)) {
		rec.size = f->verified_size;
		snprintf(rec.sha256, sizeof(rec.sha256), "%s", f->verified_sha);
	}
	snprintf(rec.task_id, sizeof(rec.task_id), "%s", f->task_id);
	rec.state = st;
	rec.expires = f->task.expires;
	rec.written = cache_now_ms(f->c) / 1000;
	r = final ? fleet_record_put_final(fleet_of(f), f->key_str, f->token, &rec, keep_s,
					   f->slot, &err)
		  : fleet_record_put(fleet_of(f), f->key_str, f->token, &rec, keep_s, &err);
	if (r == -ESTALE) {
		f->fenced = 1;
		log_warn("fleet: %s: this host's claim is gone (it stalled past its lease?); "
			 "its record writes are refused from now on", f->range_str);
	} else if (r != 0) {
		log_info("fleet: %s: cannot write the task record: %s", f->range_str,
			 r == -EIO ? err.msg : strerror(-r));
	}
	if (!final || (r != 0 && r != -ESTALE))
		return 0;
	f->slot = -1; /* given back with the claim */
	return 1;
}

/* Whether a record's "no data" holds: within nodata_ttl of when it was written, as for a
 * local entry; a record that does not say when (an older orderfs wrote it) is stale. */
static int record_nodata_fresh(struct fill *f, const struct fleet_record *rec)
{
	int64_t now = cache_now_ms(f->c) / 1000;

	return rec->state == FLEET_NO_DATA && rec->written > 0 &&
	       now - rec->written < f->c->cfg.nodata_ttl_s;
}

/* Whether a record's task may be resumed or followed: a shared task, not found gone in this
 * flight, not failed, and its file not expired. A file of unknown expiry is trusted for
 * FLEET_UNKNOWN_EXPIRY_S after the record was written; an undated one only while a live
 * holder vouches for it (following). */
static int record_usable(struct fill *f, const struct fleet_record *rec, int following)
{
	int64_t now = cache_now_ms(f->c) / 1000;

	if (!f->p->shared_tasks || !rec->task_id[0] || !strcmp(rec->task_id, f->dead_task))
		return 0;
	if (rec->state == FLEET_FAILED || rec->state == FLEET_NO_DATA)
		return 0;
	if (rec->expires)
		return rec->expires > now;
	if (rec->written)
		return now - rec->written < FLEET_UNKNOWN_EXPIRY_S;
	return following;
}

/* Make the record's task this flight's, without applying. 0 or -errno. */
static int fleet_adopt(struct fill *f, const struct fleet_record *rec)
{
	struct export_task t;

	f->adopted = 1; /* its file is compared with the record's SHA-256 */
	if (rec->sha256[0])
		fleet_verified(f, rec->task_id, rec->size, rec->sha256);
	if (!strcmp(f->task_id, rec->task_id))
		return 0;
	memset(&t, 0, sizeof(t));
	snprintf(t.id, sizeof(t.id), "%s", rec->task_id);
	t.state = rec->state == FLEET_GENERATED ? EXPORT_GENERATED : EXPORT_GENERATING;
	t.progress = -1;
	log_info("fleet: %s: taking task %s of %s", f->range_str, rec->task_id,
		 rec->holder[0] ? rec->holder : "the fleet");
	return fill_take_task(f, &t);
}

/* Whether the record says another host made the file of a local job (Mogujie) that the
 * store may have: the flight has a store and has not looked yet. */
static int record_in_store(struct fill *f, const struct fleet_record *rec)
{
	return f->src->store && !f->store_tried && !f->p->shared_tasks &&
	       rec->state == FLEET_GENERATED && rec->sha256[0];
}

/* Take a fleet export slot, waiting while all are taken. 0, FLEET_ETCD_DOWN (*err), -errno. */
static int fleet_take_slot(struct fill *f, struct client_error *err)
{
	long ms = FLEET_WAIT_MIN_MS;
	struct fleet_marks seen;
	int r;

	if (f->slot >= 0)
		return 0; /* kept from before a re-apply */
	fleet_watch_marks(fleet_of(f), NULL, &seen);
	while ((r = fleet_slot_take(fleet_of(f), &f->slot, err)) == -EBUSY) {
		fleet_publish(f, CACHE_FLEET_HOLDER, NULL, 1);
		if ((r = fleet_pause(f, NULL, &seen, &ms, "waiting for a fleet slot")) != 0)
			return r;
		fleet_watch_marks(fleet_of(f), NULL, &seen);
	}
	fleet_publish(f, CACHE_FLEET_HOLDER, NULL, 0);
	return r == -EIO ? FLEET_ETCD_DOWN : r;
}

/* The holder: resume the record's task, keep the flight's own, or apply in a slot. 0,
 * FLEET_ETCD_DOWN taking a slot (*err), or -errno. */
static int fleet_hold(struct fill *f, const struct fleet_claim *cl, int *fresh,
		      struct client_error *err)
{
	int r;

	f->token = cl->token;
	f->fenced = 0;
	fleet_publish(f, CACHE_FLEET_HOLDER, cl->holder, 0);
	if (cl->has_record && record_usable(f, &cl->record, 0)) {
		return fleet_adopt(f, &cl->record);
	}
	if (cl->has_record && record_in_store(f, &cl->record))
		return FLEET_IN_STORE; /* the last holder made it: its upload saves a sync */
	if (!f->task_id[0]) {
		if ((r = fleet_take_slot(f, err)) != 0)
			return r;
		if ((r = fill_apply(f)) != 0)
			return r;
		*fresh = 1;
	}
	fleet_put(f, FLEET_APPLIED, -1, NULL, 0, 0);
	return 0;
}

/* A follower: FLEET_AGAIN to wait and claim again, 0 once the holder's task is generated
 * (taken), FLEET_IN_STORE, -ENODATA, FLEET_ETCD_DOWN (*err), or -errno. The record the claim
 * read is used once; then the watch's copy, or etcd's. */
static int fleet_follow(struct fill *f, struct fleet_claim *cl, struct client_error *err)
{
	struct fleet_record rec;
	int r;

	fleet_publish(f, CACHE_FLEET_FOLLOWER, cl->holder, 0);
	if (cl->record_read) {
		cl->record_read = 0;
		rec = cl->record;
		r = cl->has_record ? 0 : -ENOENT;
	} else if (!f->p->shared_tasks && (!f->src->store || f->store_tried)) {
		return FLEET_AGAIN; /* a local job: wait for the range to be free */
	} else {
		r = fleet_record_watched(fleet_of(f), f->key_str, &rec, err);
	}
	if (!f->p->shared_tasks) /* a local job: wait, or take the holder's upload */
		return r == 0 && record_in_store(f, &rec) ? FLEET_IN_STORE : FLEET_AGAIN;
	if (r == -ENOENT)
		return FLEET_AGAIN;
	if (r != 0)
		return FLEET_ETCD_DOWN;
	if (record_nodata_fresh(f, &rec))
		return fill_no_data(f);
	if (rec.state != FLEET_GENERATED || !record_usable(f, &rec, 1))
		return FLEET_AGAIN;
	return fleet_adopt(f, &rec);
}

/* etcd answered: the flight's source leaves "alone" if it was. */
static void fleet_rejoined(struct fill *f)
{
	struct cache_source *s = f->src;
	int was;

	pthread_mutex_lock(&f->c->lock);
	was = s->fleet_alone;
	if (was)
		s->fleet_alone_total_s +=
			(double)(cache_mono_ms() - s->fleet_alone_since_ms) / 1000.0;
	s->fleet_alone = 0;
	s->fleet_down_since_ms = 0;
	s->fleet_refused_logged = 0;
	pthread_mutex_unlock(&f->c->lock);
	if (was)
		log_notice("fleet: etcd answers again; this host rejoined the fleet (account %s)",
			   s->account);
}

/* etcd failed: 1 = the flight's source runs alone now, 0 = claim again (within one TTL of
 * the outage). */
static int fleet_outage(struct fill *f, const struct client_error *err)
{
	struct cache_source *s = f->src;
	int64_t now = cache_mono_ms(), answered = fleet_last_ok_ms(fleet_of(f));
	int alone, start = 0, back = 0;

	pthread_mutex_lock(&f->c->lock);
	/* etcd answered a call (the keepalive) since the previous failure: that outage is over,
	 * and this failure (a lease being granted again after etcd came back) starts anew. */
	if (s->fleet_down_since_ms && answered > s->fleet_down_last_ms) {
		back = s->fleet_alone;
		if (back)
			s->fleet_alone_total_s += (double)(now - s->fleet_alone_since_ms) / 1000.0;
		s->fleet_alone = 0;
		s->fleet_down_since_ms = 0;
	}
	/* A failure long after the last one starts a new outage: an old one whose flights were
	 * cancelled before any claim succeeded must not count. */
	if (!s->fleet_down_since_ms || now - s->fleet_down_last_ms > s->fleet_ttl_s * 1000)
		s->fleet_down_since_ms = now;
	s->fleet_down_last_ms = now;
	if (!s->fleet_alone && now - s->fleet_down_since_ms >= s->fleet_ttl_s * 1000) {
		s->fleet_alone = start = 1;
		s->fleet_alone_since_ms = now;
	}
	alone = s->fleet_alone;
	pthread_mutex_unlock(&f->c->lock);
	if (back)
		log_notice("fleet: etcd answered again (account %s)", s->account);
	if (start)
		log_warn("fleet: etcd cannot be reached for %ld s (%s): %s until it answers "
			 "(account %s)", s->fleet_ttl_s, err->msg,
			 s->fleet_refuse ? "refusing new exports, finishing those in flight"
					 : "running alone",
			 s->account);
	return alone;
}

/* Alone, this host starts at most fleet_max_exports exports at once, as the fleet would let
 * it. 0, or -errno of the wait. */
static int fleet_alone_slot(struct fill *f)
{
	struct cache *c = f->c;
	long ms = FLEET_WAIT_MIN_MS;
	int r, taken;

	if (f->alone_slot)
		return 0; /* kept from before a re-apply */
	for (;;) {
		pthread_mutex_lock(&c->lock);
		taken = !f->src->fleet_max_exports ||
			f->src->fleet_alone_running < f->src->fleet_max_exports;
		f->src->fleet_alone_running += taken;
		pthread_mutex_unlock(&c->lock);
		if (taken) {
			f->alone_slot = 1;
			fleet_publish(f, CACHE_FLEET_ALONE, NULL, 0);
			return 0;
		}
		fleet_publish(f, CACHE_FLEET_ALONE, NULL, 1);
		if ((r = fleet_wait(f, &ms, "waiting for an export slot")) != 0)
			return r;
	}
}

/* Without the fleet: wait (FLEET_AGAIN) within one TTL of the outage, then run alone, or
 * with fleet_refuse fail -EAGAIN unless the flight has its task already (in flight: it goes
 * on; refuse only keeps new exports from starting). */
static int fleet_unreachable(struct fill *f, const struct client_error *err, int *fresh,
			     long *ms)
{
	int r;

	if (!fleet_outage(f, err)) {
		r = fleet_wait(f, ms, "waiting for etcd");
		return r ? r : FLEET_AGAIN;
	}
	if (f->src->fleet_refuse && !f->task_id[0]) {
		client_error_set(&f->err, CLIENT_E_UNAVAILABLE,
				 "fleet: etcd cannot be reached (%s); fleet_fallback = refuse",
				 err->msg);
		return -EAGAIN;
	}
	fleet_publish(f, CACHE_FLEET_ALONE, "", 0);
	if (f->task_id[0])
		return 0;
	if ((r = fleet_alone_slot(f)) != 0)
		return r;
	*fresh = 1;
	return fill_apply(f);
}

/* Whether a failed etcd call means etcd cannot be reached (transport, 5xx, a lease gone), as
 * opposed to etcd refusing this host. */
static int fleet_is_outage(const struct client_error *err)
{
	return err->kind == CLIENT_E_TRANSIENT || err->kind == CLIENT_E_NOT_FOUND ||
	       err->kind == CLIENT_E_LOCAL || err->kind == CLIENT_OK;
}

/* etcd refused this host: the flight fails with why (-EACCES for auth and permissions, else
 * -EIO), said once in the log until etcd grants a call again. */
static int fleet_refused(struct fill *f, const struct client_error *err)
{
	int first;

	pthread_mutex_lock(&f->c->lock);
	first = !f->src->fleet_refused_logged;
	f->src->fleet_refused_logged = 1;
	pthread_mutex_unlock(&f->c->lock);
	client_error_set(&f->err, err->kind,
			 "fleet: etcd refused this host (%s); no export runs outside the fleet "
			 "for it: check fleet_etcd_auth_file and the user's role", err->msg);
	if (first)
		log_err("%s (account %s)", f->err.msg, f->src->account);
	return err->kind == CLIENT_E_AUTH ? -EACCES : -EIO;
}

/* Whether this host runs alone and etcd still does not answer: then skip the claim. */
static int fleet_still_alone(struct fill *f)
{
	int alone;

	pthread_mutex_lock(&f->c->lock);
	alone = f->src->fleet_alone;
	pthread_mutex_unlock(&f->c->lock);
	return alone && !fleet_reachable(fleet_of(f));
}

int fill_fleet_task(struct fill *f, int *fresh)
{
	long ms, unreach_ms = FLEET_WAIT_MIN_MS, follow_ms = FLEET_FOLLOW_MS;
	int64_t reclaim_at = 0;
	struct fleet_marks seen = {0}, now;
	struct client_error err;
	struct fleet_claim cl;
	int r, followed = 0; /* cl holds this call's claim, which another host won */

	*fresh = 0;
	if (!fleet_of(f)) {
		if (f->task_id[0])
			return 0;
		*fresh = 1;
		return fill_apply(f);
	}
	for (;;) {
		client_error_clear(&err);
		fleet_watch_marks(fleet_of(f), f->key_str, &now);
		/* The claim was deleted (not another range's that shares its mark): claim again. */
		if (now.claim && fleet_watch_claim_freed(fleet_of(f), f->key_str, &seen))
			reclaim_at = 0;
		seen = now;
		if (fleet_still_alone(f))
			r = FLEET_ETCD_DOWN;
		/* A follower reads the record first (from the watch's event, mostly): a holder
		 * that let go after its file was verified leaves nothing to claim for. */
		else if (followed && ((r = fleet_follow(f, &cl, &err)) != FLEET_AGAIN ||
				      cache_mono_ms() < reclaim_at))
			; /* taken, no data, etcd down, or claim again later */
		else if (fleet_claim(fleet_of(f), f->key_str, &cl, &err) != 0) {
			followed = 0;
			r = FLEET_ETCD_DOWN;
		} else {
			fleet_rejoined(f);
			/* Watched, the claim is tried again when its key changes (the holder let
			 * go), and after a few TTLs in case an event was lost. */
			reclaim_at = cache_mono_ms() + (seen.claim ? f->src->fleet_ttl_s * 3000
								   : FLEET_RECLAIM_MS);
			followed = cl.role == FLEET_FOLLOWER;
			r = cl.role == FLEET_HOLDER ? fleet_hold(f, &cl, fresh, &err)
						    : fleet_follow(f, &cl, &err);
		}
		if (r == FLEET_IN_STORE) {
			r = fill_wait_store(f);
			if (r != FILL_STORE_MISS)
				return r == 0 ? FILL_FROM_STORE : r;
			r = FLEET_AGAIN;
			reclaim_at = 0; /* not in the store: claim at once (export here if free) */
		}
		if (r == FLEET_ETCD_DOWN && !fleet_is_outage(&err))
			return fleet_refused(f, &err);
		if (r == FLEET_ETCD_DOWN) {
			if (err.kind == CLIENT_OK)
				client_error_set(&err, CLIENT_E_TRANSIENT, "etcd does not answer");
			r = fleet_unreachable(f, &err, fresh, &unreach_ms);
		}
		if (r != FLEET_AGAIN)
			return r;
		ms = follow_ms; /* fleet_wait doubles it, to FLEET_WAIT_MAX_MS at most */
		if ((r = fleet_pause(f, f->key_str, &seen, &ms, "waiting on the fleet holder")) != 0)
			return r;
		follow_ms = ms < FLEET_FOLLOW_MAX_MS ? ms : FLEET_FOLLOW_MAX_MS;
	}
}

void fill_fleet_state(struct fill *f, enum export_state st)
{
	if (!fleet_of(f))
		return;
	/* No write for GENERATING: nobody waits on it (followers wait for generated, and a
	 * new holder resumes an applied task the same way), and each write is a proposal
	 * every member of etcd commits. */
	if (st == EXPORT_GENERATED)
		fleet_put(f, FLEET_GENERATED, -1, NULL, 0, 0);
	else if (st == EXPORT_NO_DATA)
		fleet_put(f, FLEET_NO_DATA, -1, NULL, f->c->cfg.nodata_ttl_s, 0);
}

/* Waiting for the holder's SHA-256 and etcd failed: 1 = this host runs alone now (its file
 * goes unchecked), 0 = wait on. The flight is in flight: fleet_refuse does not stop it. */
static int fleet_sha_outage(struct fill *f, const struct client_error *err)
{
	if (!fleet_outage(f, err))
		return 0;
	fleet_publish(f, CACHE_FLEET_ALONE, "", 0);
	return 1;
}

/* Claim the range while waiting for the holder's SHA-256: 1 when this host holds it now (the
 * holder is gone: its own file is the fleet's from now on), 0 when another host still does,
 * -1 when etcd failed (*err). */
static int fleet_sha_claim(struct fill *f, struct client_error *err)
{
	struct fleet_claim cl;

	if (fleet_claim(fleet_of(f), f->key_str, &cl, err) != 0)
		return -1;
	if (cl.role != FLEET_HOLDER)
		return 0;
	f->token = cl.token;
	fleet_publish(f, CACHE_FLEET_HOLDER, cl.holder, 0);
	return 1;
}

/*
 * The SHA-256 the fleet verified for the task's file. A holder (it took the task over) only
 * reads what its predecessor wrote. A follower waits for the holder to write it, and every
 * FLEET_SHA_WAIT_TTLS lease TTLs claims the range: once the holder is gone, this host holds
 * it. 1 with sha; 0 with nothing to compare with (this host holds the range or runs alone,
 * or the record names another task); -ETIMEDOUT past export_timeout, -EAGAIN, -ECANCELED.
 */
static int fleet_holder_sha(struct fill *f, char sha[FLEET_SHA256_HEX], int64_t *size)
{
	int64_t every = f->src->fleet_ttl_s * 1000 * FLEET_SHA_WAIT_TTLS;
	int64_t next_claim = cache_mono_ms() + every;
	struct fleet_record rec;
	struct fleet_marks seen;
	struct client_error err;
	long ms, follow_ms = FLEET_FOLLOW_MS;
	int r;

	for (;;) {
		client_error_clear(&err);
		fleet_watch_marks(fleet_of(f), f->key_str, &seen);
		r = fleet_record_watched(fleet_of(f), f->key_str, &rec, &err);
		if (r == 0 && strcmp(rec.task_id, f->task_id) != 0)
			return 0;
		if (r == 0 && rec.sha256[0]) {
			memcpy(sha, rec.sha256, FLEET_SHA256_HEX);
			if (size)
				*size = rec.size;
			return 1;
		}
		if (f->role != CACHE_FLEET_FOLLOWER || r == -ENOENT)
			return 0;
		if (r == 0 && cache_mono_ms() >= next_claim) {
			next_claim += every;
			r = fleet_sha_claim(f, &err);
			if (r == 1)
				return 0;
			r = r < 0 ? -EIO : 0;
		}
		if (r != 0 && !fleet_is_outage(&err))
			return fleet_refused(f, &err);
		if (r != 0 && (r = fleet_sha_outage(f, &err)) != 0)
			return r > 0 ? 0 : r;
		ms = follow_ms;
		if ((r = fleet_pause(f, f->key_str, &seen, &ms,
				     "waiting for the holder's SHA-256")) != 0)
			return r;
		follow_ms = ms < FLEET_FOLLOW_MAX_MS ? ms : FLEET_FOLLOW_MAX_MS;
	}
}

int fill_fleet_check(struct fill *f, const char *sha)
{
	char want[FLEET_SHA256_HEX];
	int r;

	if (!fleet_of(f) || !f->adopted || f->role == CACHE_FLEET_ALONE)
		return 0;
	if ((r = fleet_holder_sha(f, want, NULL)) <= 0) {
		if (r == 0)
			log_info("fleet: %s: no SHA-256 from another host to compare with (this "
				 "host holds the range or runs alone)", f->range_str);
		return r;
	}
	if (!strcmp(want, sha))
		return 0;
	client_error_set(&f->err, CLIENT_E_PROTOCOL,
			 "file of task %s differs from the fleet holder's (sha256 %.12s..., "
			 "holder %.12s...)", f->task_id, sha, want);
	return -EIO;
}

int fill_fleet_holder_file(struct fill *f, char sha[FLEET_SHA256_HEX], int64_t *size)
{
	if (!fleet_of(f) || !f->adopted || f->role != CACHE_FLEET_FOLLOWER)
		return 0;
	return fleet_holder_sha(f, sha, size);
}

int fill_follow_from_store(struct fill *f)
{
	char sha[FLEET_SHA256_HEX] = "";
	int64_t size = -1;
	int r;

	if (!f->src->store || !f->src->fleet)
		return FILL_STORE_MISS;
	r = fill_fleet_holder_file(f, sha, &size);
	if (r <= 0)
		return r == 0 ? FILL_STORE_MISS : r;
	return fill_from_store_object(f, sha, size);
}

void fill_fleet_task_gone(struct fill *f)
{
	snprintf(f->dead_task, sizeof(f->dead_task), "%s", f->task_id);
}

/* How long the record of a verified file is worth keeping: until the server's file expires
 * (unknown: FLEET_UNKNOWN_EXPIRY_S). Then etcd drops it (a lease of that TTL). */
static long fleet_file_keep_s(struct fill *f)
{
	int64_t left = f->task.expires ? f->task.expires - cache_now_ms(f->c) / 1000
				       : FLEET_UNKNOWN_EXPIRY_S;

	return left > 1 ? (long)left : 1;
}

/* What the holder's record says once the flight ended with rc (READY: size and SHA-256), in
 * the txn that releases the claim. 1 when the claim went with it (or was not this host's). */
static int fleet_put_outcome(struct fill *f, int rc)
{
	char sha[KEY_HASH_LEN] = "";
	uint64_t size = 0;

	if (rc == 0) {
		pthread_mutex_lock(&f->c->lock);
		size = f->e->info.size;
		entry_sha256_hex(&f->e->info, sha);
		pthread_mutex_unlock(&f->c->lock);
		return fleet_put(f, FLEET_GENERATED, (int64_t)size, sha, fleet_file_keep_s(f), 1);
	}
	if (rc != -ECANCELED && f->drop_task)
		return fleet_put(f, FLEET_FAILED, -1, NULL, f->c->cfg.nodata_ttl_s, 1);
	return 0;
}

void fill_fleet_done(struct fill *f, int rc)
{
	struct client_error err;
	int stopping, released = 0;

	if (!fleet_of(f))
		return;
	pthread_mutex_lock(&f->c->lock);
	stopping = f->c->stopping;
	f->src->fleet_alone_running -= f->alone_slot;
	f->alone_slot = 0;
	pthread_mutex_unlock(&f->c->lock);
	if (stopping)
		return; /* unmount: the host's lease is revoked (fleet_free, or the mount's
			 * fleet_session_free after every fleet), and claim and slot go with it */
	if (f->role == CACHE_FLEET_HOLDER)
		released = fleet_put_outcome(f, rc);
	/* Whatever the flight became (alone after losing etcd too), a claim it won goes back,
	 * so no host waits on a range nobody exports; a stale token deletes nothing. */
	if (f->token && !released && fleet_release(fleet_of(f), f->key_str, f->token, &err) != 0)
		log_info("fleet: %s: cannot release the claim: %s", f->range_str, err.msg);
	f->token = 0;
	if (f->slot >= 0 && fleet_slot_release(fleet_of(f), f->slot, &err) == -EIO)
		log_info("fleet: %s: cannot give back slot %d: %s", f->range_str, f->slot,
			 err.msg);
	f->slot = -1;
}

void fill_fleet_forget(struct cache_source *src, const struct cache_key *key)
{
	char key_str[KEY_STR_MAX];
	struct client_error err;
	int r;

	if (!src->fleet)
		return;
	key_format(key, key_str);
	r = fleet_record_forget(src->fleet, key_str, &err);
	if (r != 0)
		log_warn("fleet: cannot drop the fleet's record of a removed range (%s): another "
			 "host may still follow its old export", err.msg);
}
