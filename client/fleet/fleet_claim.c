/*
 * Fleet mode: claims, task records and export slots. See fleet.h for the design note; the
 * lease these are bound to is fleet.c's.
 */
#include "fleet_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../../common/clock.h"
#include "../../common/log.h"

/* Whether kv is a key of this host on its current lease (the value names this host). */
static int fleet_own_kv(const struct fleet *f, const struct etcd_kv *kv, int64_t lease)
{
	return kv->create_revision > 0 && kv->lease == lease && strcmp(kv->value, f->host) == 0;
}

/* The etcd key of kind ("claims", "records") for export_key. 0, or -EINVAL with *err. */
static int export_etcd_key(const struct fleet *f, const char *kind, const char *export_key,
			   char *out, struct client_error *err)
{
	char hash[FLEET_SHA256_HEX];

	client_error_clear(err);
	if (!export_key || !export_key[0] || fleet_sha256_hex(export_key, hash) != 0) {
		client_error_set(err, CLIENT_E_INVALID, "fleet: empty export key");
		return -EINVAL;
	}
	fleet_key(f, kind, hash, out);
	return 0;
}

int fleet_record_get(struct fleet *f, const char *export_key, struct fleet_record *out,
		     struct client_error *err)
{
	char key[ETCD_KEY_MAX + 1];
	struct etcd_kv kv;
	int rc = export_etcd_key(f, "records", export_key, key, err);

	if (rc != 0)
		return rc;
	if (fleet_note(f, etcd_get(f->etcd, key, &kv, err), err) != 0)
		return -EIO;
	if (kv.create_revision == 0)
		return -ENOENT;
	if (fleet_record_from_json(kv.value, kv.value_len, out) != 0) {
		client_error_set(err, CLIENT_E_PROTOCOL, "fleet: malformed task record");
		return -EIO;
	}
	return 0;
}

int fleet_record_watched(struct fleet *f, const char *export_key, struct fleet_record *out,
			 struct client_error *err)
{
	char hex[FLEET_SHA256_HEX], value[FLEET_RECORD_JSON_MAX + 1];
	size_t len;
	int deleted;

	client_error_clear(err);
	if (!export_key || !export_key[0] || fleet_sha256_hex(export_key, hex) != 0 ||
	    !fleet_watch_record(f, hex, value, sizeof(value), &len, &deleted))
		return fleet_record_get(f, export_key, out, err);
	if (deleted)
		return -ENOENT;
	if (fleet_record_from_json(value, len, out) != 0) {
		client_error_set(err, CLIENT_E_PROTOCOL, "fleet: malformed task record");
		return -EIO;
	}
	return 0;
}

int fleet_record_forget(struct fleet *f, const char *export_key, struct client_error *err)
{
	char key[ETCD_KEY_MAX + 1];
	int rc = export_etcd_key(f, "records", export_key, key, err);

	if (rc != 0)
		return rc;
	return fleet_note(f, etcd_delete(f->etcd, key, NULL, err), err);
}

/* The record the claim's txn read (rec: create_revision 0 when there is none) into out:
 * 0, -ENOENT, or -EIO (CLIENT_E_PROTOCOL: it does not parse). */
static int claim_record(const struct etcd_kv *rec, struct fleet_claim *out,
			struct client_error *err)
{
	if (rec->create_revision == 0)
		return -ENOENT;
	if (fleet_record_from_json(rec->value, rec->value_len, &out->record) != 0) {
		client_error_set(err, CLIENT_E_PROTOCOL, "fleet: malformed task record");
		return -EIO;
	}
	return 0;
}

/* A won claim: note whether a record exists (a task to resume) and who wrote it (rec, read in
 * the claim's txn). When the record cannot be read the claim is given back, so the caller
 * never holds one unknowingly. */
static int claim_won(struct fleet *f, const struct etcd_kv *rec, const char *claim_key,
		     struct fleet_claim *out, struct client_error *err)
{
	struct client_error ignored;
	int applied, rc;
	int64_t lease = fleet_lease_id(f);

	out->role = FLEET_HOLDER;
	snprintf(out->holder, sizeof(out->holder), "%s", f->host);
	rc = claim_record(rec, out, err);
	if (rc == -ENOENT) {
		client_error_clear(err);
	} else if (rc != 0) {
		if (etcd_delete_if_owner(f->etcd, claim_key, out->token, claim_key, &applied,
					 &ignored) != 0)
			fleet_reap_add(f, claim_key, out->token, lease);
		return rc;
	} else {
		out->has_record = 1;
		/* Another host's task left unfinished: a finished one (generated and verified, no
		 * data, failed) is no takeover. */
		out->takeover = strcmp(out->record.holder, f->host) != 0 &&
				(out->record.state == FLEET_APPLIED ||
				 out->record.state == FLEET_GENERATING ||
				 (out->record.state == FLEET_GENERATED && !out->record.sha256[0]));
	}
	pthread_mutex_lock(&f->lock);
	f->stats.claims_won++;
	f->stats.takeovers += (uint64_t)out->takeover;
	pthread_mutex_unlock(&f->lock);
	if (out->takeover)
		log_notice("fleet: taking over task %s from %s", out->record.task_id,
			   out->record.holder);
	return 0;
}

int fleet_claim(struct fleet *f, const char *export_key, struct fleet_claim *out,
		struct client_error *err)
{
	char key[ETCD_KEY_MAX + 1], rec_key[ETCD_KEY_MAX + 1];
	struct etcd_kv kv, rec;
	int64_t lease;
	int won = 0, rc;

	memset(out, 0, sizeof(*out));
	rc = export_etcd_key(f, "claims", export_key, key, err);
	if (rc != 0 || (rc = export_etcd_key(f, "records", export_key, rec_key, err)) != 0)
		return rc;
	lease = fleet_current_lease(f, err);
	if (!lease)
		return -EIO;
	/* The record comes in the same txn: the holder resumes its task, a follower follows it,
	 * without a read of their own. */
	if (fleet_note(f, etcd_put_if_absent_read(f->etcd, key, f->host, strlen(f->host), lease,
						  rec_key, &won, &kv, &rec, err),
		       err) != 0) {
		fleet_reap_add(f, key, 0, lease); /* it may have won: freed unless claimed again */
		return -EIO;
	}
	out->token = kv.create_revision;
	/* Our own claim on our current lease (claimed before, or a claim whose reply was lost,
	 * or one whose release failed): still ours, unless being freed just now. */
	if (won || (fleet_own_kv(f, &kv, lease) && fleet_reap_take_back(f, key) == 0))
		return claim_won(f, &rec, key, out, err);
	out->role = FLEET_FOLLOWER;
	out->token = 0;
	rc = claim_record(&rec, out, err);
	out->has_record = rc == 0;
	out->record_read = rc != -EIO; /* one that does not parse: the follower reads it */
	client_error_clear(err);
	/* fleet_name_ok bounds the length; a value that is no host name is shown as "?". */
	if (fleet_name_ok(kv.value))
		memcpy(out->holder, kv.value, strlen(kv.value) + 1);
	else
		strcpy(out->holder, "?");
	fleet_count(f, &f->stats.claims_lost);
	return 0;
}

/* A lease for a record to keep keep_s seconds: the one granted for an earlier record when it
 * ends within keep_s .. keep_s + keep_s / 8 + 1 seconds from now (records of files that
 * expire close together share one: no grant, a proposal of etcd's, per range), else a new
 * one of keep_s + keep_s / 8 + 1 seconds. 0 with *lease, or -EIO. */
static int record_lease(struct fleet *f, long keep_s, int64_t *lease, struct client_error *err)
{
	long ttl = keep_s + keep_s / 8 + 1;
	int64_t now, need;
	int rc;

	pthread_mutex_lock(&f->lock);
	/* Records that end together (one export read by many ranges at once) wait for one
	 * grant instead of each making its own. */
	while (f->rec_lease_granting)
		pthread_cond_wait(&f->rec_lease_cond, &f->lock);
	now = clock_mono_ms();
	need = now + (int64_t)keep_s * 1000;
	*lease = f->rec_lease && f->rec_lease_until_ms >= need &&
			 f->rec_lease_until_ms <= need + (int64_t)(ttl - keep_s) * 1000
		 ? f->rec_lease : 0;
	f->rec_lease_granting = !*lease;
	pthread_mutex_unlock(&f->lock);
	if (*lease)
		return 0;
	rc = fleet_note(f, etcd_lease_grant(f->etcd, ttl, lease, err), err);
	pthread_mutex_lock(&f->lock);
	if (rc == 0) {
		f->rec_lease = *lease;
		/* from before the grant: it lives at least until then */
		f->rec_lease_until_ms = now + (int64_t)ttl * 1000;
	}
	f->rec_lease_granting = 0;
	pthread_cond_broadcast(&f->rec_lease_cond);
	pthread_mutex_unlock(&f->lock);
	return rc == 0 ? 0 : -EIO;
}

/* A put with the record lease failed: the lease may be gone (etcd restarted from scratch),
 * the next record gets a new one. */
static void record_lease_drop(struct fleet *f, int64_t lease)
{
	pthread_mutex_lock(&f->lock);
	if (f->rec_lease == lease)
		f->rec_lease = 0;
	pthread_mutex_unlock(&f->lock);
}

/* fleet_record_put, and with release the claim goes in the same txn, and the slot of
 * slot_token too (slot_key; 0: none). 0, 1 when a guard did not match (nothing written), or
 * -errno. */
static int record_write(struct fleet *f, const char *export_key, int64_t token,
			const struct fleet_record *rec, long keep_s, int release,
			const char *slot_key, int64_t slot_token, struct client_error *err)
{
	char guard[ETCD_KEY_MAX + 1], key[ETCD_KEY_MAX + 1], json[FLEET_RECORD_JSON_MAX + 1];
	struct fleet_record r = *rec;
	int64_t lease = 0;
	int applied = 0, rc;
	long n;

	rc = export_etcd_key(f, "claims", export_key, guard, err);
	if (rc != 0 || (rc = export_etcd_key(f, "records", export_key, key, err)) != 0)
		return rc;
	snprintf(r.holder, sizeof(r.holder), "%s", f->host);
	n = fleet_record_to_json(&r, json, sizeof(json));
	if (n < 0) {
		client_error_set(err, CLIENT_E_INVALID, "fleet: invalid task record");
		return -EINVAL;
	}
	if (keep_s > 0 && record_lease(f, keep_s, &lease, err) != 0)
		return -EIO;
	rc = release ? etcd_put_release_if_owner(f->etcd, guard, token,
						 slot_token ? slot_key : NULL, slot_token, key,
						 json, (size_t)n, lease, &applied, err)
		     : etcd_put_if_owner(f->etcd, guard, token, key, json, (size_t)n, lease,
					 &applied, err);
	if (rc != 0 && lease)
		record_lease_drop(f, lease);
	if (fleet_note(f, rc, err) != 0)
		return -EIO;
	return !applied;
}

/* A record write of task was refused: this host's claim is gone. -ESTALE. */
static int fenced(struct fleet *f, const char *task, struct client_error *err)
{
	fleet_count(f, &f->stats.fenced_refused);
	client_error_set(err, CLIENT_E_BUSINESS,
			 "fleet: record write refused: this host's claim is gone");
	log_notice("fleet: fenced record write refused (task %s): the claim moved on", task);
	return -ESTALE;
}

int fleet_record_put(struct fleet *f, const char *export_key, int64_t token,
		     const struct fleet_record *rec, long keep_s, struct client_error *err)
{
	int rc = record_write(f, export_key, token, rec, keep_s, 0, NULL, 0, err);

	return rc == 1 ? fenced(f, rec->task_id, err) : rc;
}

static void slot_key(const struct fleet *f, int slot, char *out);

int fleet_record_put_final(struct fleet *f, const char *export_key, int64_t token,
			   const struct fleet_record *rec, long keep_s, int slot,
			   struct client_error *err)
{
	char skey[ETCD_KEY_MAX + 1] = "";
	struct client_error ignored;
	int64_t stoken = 0;
	int rc;

	if (slot >= 0 && slot < f->max_exports) {
		pthread_mutex_lock(&f->lock);
		stoken = f->slot_token[slot];
		pthread_mutex_unlock(&f->lock);
		slot_key(f, slot, skey);
	}
	rc = record_write(f, export_key, token, rec, keep_s, 1, skey, stoken, err);
	if (rc == 1 && stoken) { /* the claim, or the slot, is gone: without the slot */
		stoken = 0;
		rc = record_write(f, export_key, token, rec, keep_s, 1, NULL, 0, err);
	}
	if (rc == 1)
		rc = fenced(f, rec->task_id, err);
	if (rc != 0 && rc != -ESTALE)
		return rc; /* the caller releases claim and slot */
	if (stoken) { /* it went in the txn */
		pthread_mutex_lock(&f->lock);
		if (f->slot_token[slot] == stoken)
			f->slot_token[slot] = 0;
		pthread_mutex_unlock(&f->lock);
	} else if (slot >= 0) {
		(void)fleet_slot_release(f, slot, &ignored); /* a failed one is the reaper's */
	}
	return rc;
}

int fleet_release(struct fleet *f, const char *export_key, int64_t token,
		  struct client_error *err)
{
	char key[ETCD_KEY_MAX + 1];
	int applied = 0, rc = export_etcd_key(f, "claims", export_key, key, err);

	if (rc != 0)
		return rc;
	rc = fleet_note(f, etcd_delete_if_owner(f->etcd, key, token, key, &applied, err), err);
	if (rc != 0)
		fleet_reap_add(f, key, token, fleet_lease_id(f));
	return rc;
}

/* ---- export slots ---- */

static void slot_key(const struct fleet *f, int slot, char *out)
{
	char name[16];

	snprintf(name, sizeof(name), "%d", slot);
	fleet_key(f, "slots", name, out);
}

#define SLOT_FREE 0	/* worth a txn: marked being taken (slot_end clears that) */
#define SLOT_OURS 1	/* this host holds it, or a flight of it is taking it just now */
#define SLOT_WATCHED 2	/* the live watch saw another host take it */

/* What this host knows of slot; SLOT_FREE marks it being taken. */
static int slot_state(struct fleet *f, int slot, int try_watched)
{
	int st = SLOT_FREE;

	pthread_mutex_lock(&f->lock);
	if (f->slot_token[slot] != 0 || f->slot_taking[slot])
		st = SLOT_OURS;
	else if (!try_watched && f->watch_live && f->slot_watched[slot])
		st = SLOT_WATCHED;
	else
		f->slot_taking[slot] = 1;
	pthread_mutex_unlock(&f->lock);
	return st;
}

/* The take of slot ended: held with token (0: not held). */
static void slot_end(struct fleet *f, int slot, int64_t token)
{
	pthread_mutex_lock(&f->lock);
	f->slot_taking[slot] = 0;
	f->slot_token[slot] = token;
	pthread_mutex_unlock(&f->lock);
}

/* Where this take starts looking: each take of this host one further, so the hosts of a
 * fleet (starting at their name's hash) seldom try the same free slot at once. */
static int slot_start(struct fleet *f)
{
	unsigned start;

	pthread_mutex_lock(&f->lock);
	start = f->slot_next++;
	pthread_mutex_unlock(&f->lock);
	return (int)(start % (unsigned)f->max_exports);
}

/* One txn for slot i (marked being taken). 1 won, 0 taken by another host, -EIO. */
static int slot_try(struct fleet *f, int i, int64_t lease, struct client_error *err)
{
	char key[ETCD_KEY_MAX + 1];
	struct etcd_kv kv;
	int won;

	slot_key(f, i, key);
	if (fleet_note(f, etcd_put_if_absent(f->etcd, key, f->host, strlen(f->host), lease, &won,
					     &kv, err),
		       err) != 0) {
		slot_end(f, i, 0);
		fleet_reap_add(f, key, 0, lease); /* freed unless taken back */
		return -EIO;
	}
	/* A slot on this host's lease that no flight of it holds or is taking: its own from a
	 * reply lost (or a request the transport sent twice), or a release that failed. Ours
	 * again. */
	if (!won && fleet_own_kv(f, &kv, lease) && fleet_reap_take_back(f, key) == 0)
		won = 1;
	slot_end(f, i, won ? kv.create_revision : 0);
	return won;
}

int fleet_slot_take(struct fleet *f, int *slot, struct client_error *err)
{
	int64_t lease;
	int start, watched = -1, r;

	client_error_clear(err);
	*slot = -1;
	if (f->max_exports == 0)
		return 0;
	if (!(lease = fleet_current_lease(f, err)))
		return -EIO;
	start = slot_start(f);
	for (int n = 0; n < f->max_exports; n++) {
		int i = (start + n) % f->max_exports, st = slot_state(f, i, 0);
		if (st == SLOT_WATCHED && watched < 0)
			watched = i;
		if (st != SLOT_FREE)
			continue;
		if ((r = slot_try(f, i, lease, err)) != 0) {
			*slot = r > 0 ? i : -1;
			return r > 0 ? 0 : r;
		}
	}
	/* Every slot the watch did not see taken is taken: one txn still for the first the
	 * watch says is taken, as its event of the slot's release may be on its way (the
	 * callers wait on the slots' mark, which changes when one is given back). */
	if (watched >= 0 && slot_state(f, watched, 1) == SLOT_FREE &&
	    (r = slot_try(f, watched, lease, err)) != 0) {
		*slot = r > 0 ? watched : -1;
		return r > 0 ? 0 : r;
	}
	return -EBUSY;
}

int fleet_slot_release(struct fleet *f, int slot, struct client_error *err)
{
	char key[ETCD_KEY_MAX + 1];
	int64_t token = 0;
	int applied;

	client_error_clear(err);
	if (slot == -1)
		return 0;
	int rc;

	if (slot >= 0 && slot < f->max_exports) {
		pthread_mutex_lock(&f->lock);
		token = f->slot_token[slot];
		pthread_mutex_unlock(&f->lock);
	}
	if (token == 0) {
		client_error_set(err, CLIENT_E_INVALID, "fleet: slot %d is not held here", slot);
		return -EINVAL;
	}
	slot_key(f, slot, key);
	rc = fleet_note(f, etcd_delete_if_owner(f->etcd, key, token, key, &applied, err), err);
	/* Either way the caller is done with it: a failed delete goes on in the background. */
	pthread_mutex_lock(&f->lock);
	if (f->slot_token[slot] == token)
		f->slot_token[slot] = 0;
	pthread_mutex_unlock(&f->lock);
	if (rc != 0)
		fleet_reap_add(f, key, token, fleet_lease_id(f));
	return rc;
}
