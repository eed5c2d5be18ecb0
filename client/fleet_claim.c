/*
 * Fleet mode: claims, task records and export slots. See fleet.h for the design note; the
 * lease these are bound to is fleet.c's.
 */
#include "fleet_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../common/log.h"

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

int fleet_record_forget(struct fleet *f, const char *export_key, struct client_error *err)
{
	char key[ETCD_KEY_MAX + 1];
	int rc = export_etcd_key(f, "records", export_key, key, err);

	if (rc != 0)
		return rc;
	return fleet_note(f, etcd_delete(f->etcd, key, NULL, err), err);
}

/* A won claim: note whether a record exists (a task to resume) and who wrote it. When the
 * record cannot be read the claim is given back, so the caller never holds one unknowingly. */
static int claim_won(struct fleet *f, const char *export_key, const char *claim_key,
		     struct fleet_claim *out, struct client_error *err)
{
	struct client_error ignored;
	int applied, rc;
	int64_t lease = fleet_lease_id(f);

	out->role = FLEET_HOLDER;
	snprintf(out->holder, sizeof(out->holder), "%s", f->host);
	rc = fleet_record_get(f, export_key, &out->record, err);
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
	char key[ETCD_KEY_MAX + 1];
	struct etcd_kv kv;
	int64_t lease;
	int won = 0, rc;

	memset(out, 0, sizeof(*out));
	rc = export_etcd_key(f, "claims", export_key, key, err);
	if (rc != 0)
		return rc;
	lease = fleet_current_lease(f, err);
	if (!lease)
		return -EIO;
	if (fleet_note(f, etcd_put_if_absent(f->etcd, key, f->host, strlen(f->host), lease, &won,
					     &kv, err),
		       err) != 0) {
		fleet_reap_add(f, key, 0, lease); /* it may have won: freed unless claimed again */
		return -EIO;
	}
	out->token = kv.create_revision;
	/* Our own claim on our current lease (claimed before, or a claim whose reply was lost,
	 * or one whose release failed): still ours, unless being freed just now. */
	if (won || (fleet_own_kv(f, &kv, lease) && fleet_reap_take_back(f, key) == 0))
		return claim_won(f, export_key, key, out, err);
	out->role = FLEET_FOLLOWER;
	out->token = 0;
	/* fleet_name_ok bounds the length; a value that is no host name is shown as "?". */
	if (fleet_name_ok(kv.value))
		memcpy(out->holder, kv.value, strlen(kv.value) + 1);
	else
		strcpy(out->holder, "?");
	fleet_count(f, &f->stats.claims_lost);
	return 0;
}

int fleet_record_put(struct fleet *f, const char *export_key, int64_t token,
		     const struct fleet_record *rec, long keep_s, struct client_error *err)
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
	if (keep_s > 0 &&
	    fleet_note(f, etcd_lease_grant(f->etcd, keep_s, &lease, err), err) != 0)
		return -EIO;
	rc = etcd_put_if_owner(f->etcd, guard, token, key, json, (size_t)n, lease, &applied, err);
	if (fleet_note(f, rc, err) != 0)
		return -EIO;
	if (!applied) {
		fleet_count(f, &f->stats.fenced_refused);
		client_error_set(err, CLIENT_E_BUSINESS,
				 "fleet: record write refused: this host's claim is gone");
		log_notice("fleet: fenced record write refused (task %s): the claim moved on",
			   r.task_id);
		return -ESTALE;
	}
	return 0;
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

/* Whether this host holds slot, or a flight of it is taking it just now, or the live watch
 * saw another host take it (a txn would be a write for nothing); else marks it being taken
 * (slot_end clears that). */
static int slot_busy(struct fleet *f, int slot)
{
	int busy;

	pthread_mutex_lock(&f->lock);
	busy = f->slot_token[slot] != 0 || f->slot_taking[slot] ||
	       (f->watch_live && f->slot_watched[slot]);
	if (!busy)
		f->slot_taking[slot] = 1;
	pthread_mutex_unlock(&f->lock);
	return busy;
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

int fleet_slot_take(struct fleet *f, int *slot, struct client_error *err)
{
	char key[ETCD_KEY_MAX + 1];
	struct etcd_kv kv;
	int64_t lease;
	int won, start;

	client_error_clear(err);
	*slot = -1;
	if (f->max_exports == 0)
		return 0;
	if (!(lease = fleet_current_lease(f, err)))
		return -EIO;
	start = slot_start(f);
	for (int n = 0; n < f->max_exports; n++) {
		int i = (start + n) % f->max_exports;
		if (slot_busy(f, i))
			continue;
		slot_key(f, i, key);
		if (fleet_note(f, etcd_put_if_absent(f->etcd, key, f->host, strlen(f->host),
						     lease, &won, &kv, err),
			       err) != 0) {
			slot_end(f, i, 0);
			fleet_reap_add(f, key, 0, lease); /* freed unless taken back */
			return -EIO;
		}
		/* A slot on this host's lease that no flight of it holds or is taking: its own
		 * from a reply lost (or a request the transport sent twice), or a release that
		 * failed. Ours again. */
		if (!won && fleet_own_kv(f, &kv, lease) && fleet_reap_take_back(f, key) == 0)
			won = 1;
		slot_end(f, i, won ? kv.create_revision : 0);
		if (won) {
			*slot = i;
			return 0;
		}
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
