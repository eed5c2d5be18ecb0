/*
 * The fleet's room, client/fleet/: everything fleet mode says to etcd, behind this one header
 * (cache/ and fs/ include nothing else of the folder; tests/check_layers.py checks it).
 *   etcd/           the etcd v3 JSON-gateway client (etcd/etcd.h): keys, txns, leases, the
 *                   watch stream, endpoints and auth. It knows nothing of ranges, claims or
 *                   records (it includes no fleet header), so it could serve anything else.
 *   fleet.c         the fleet: lifecycle, membership, counters
 *   fleet_session.c a mount's session: the etcd client, this host's one lease and keepalive,
 *                   the fleets registered on it (one per merchant of an accounts_dir mount)
 *   fleet_claim.c   claims, task records and export slots (the coordination)
 *   fleet_record.c  the task record's strict JSON (fleet_record.h, public through this header)
 *   fleet_watch.c   one watch stream per session, its events turned into marks of the fleet
 *                   whose prefix they fall under, which waiters sleep on
 *   fleet_reap.c    keys a failed release or a lost reply left behind, freed in the background
 *                   by the session's one reaper thread
 *   fleet_int.h     the fleet struct, for this folder's .c files only
 * The cache drives it: cache/fill_fleet.c (claim, follow, record) and cache/fleet_rate.c (a
 * host's share of the fleet's request cap, from fleet_members).
 *
 * Fleet mode's protocol over etcd: several hosts that mount the same merchant make one export
 * per date range between them. Knows nothing of the cache or FUSE; the cache drives it.
 *
 * Design note. Keys live under orderfs/v1/<provider>/<h>/, h = the first 128 bits (32 hex)
 * of SHA-256 over provider, base URL and account id, so fleets of different merchants (or of
 * one account id at two provider sites) share one etcd without colliding, and no account id
 * reaches etcd in clear:
 *   members/<host>       this host is alive (bound to the host's lease)
 *   claims/<sha256(key)> who exports that range now (value: host; bound to the lease)
 *   records/<sha256(key)> the task record (fleet_record.h; not bound to a lease, so it
 *                        outlives its writer and the next claimer resumes the task)
 *   slots/<i>            one of max_exports export slots (bound to the lease)
 * A claim or slot is this host's when its value is the host's name and etcd binds it to the
 * host's current lease: a txn whose reply was lost is recognised on the next try. A release
 * that failed, and a txn whose outcome is unknown and that nobody retries, are freed by a
 * background thread (fleet_reap.c) until that succeeds or the lease is gone: one failed call
 * never holds a claim or slot for the rest of the host's life.
 * Each host holds one lease, kept alive by a thread every third of the TTL etcd confirmed;
 * a try gets the time the lease surely has left less a quarter and a failed one is retried
 * after 0.2 s (moving to the next endpoint), so one slow call cannot lose the lease; when the lease is lost (the
 * host stalled past its TTL, etcd restarted from scratch), the thread grants a new one and
 * registers again, and every claim and slot bound to the old lease is gone. A claim is a txn
 * that puts the claim key only if it does not exist; its create revision is the holder's
 * fencing token, and the holder writes the record with a txn that checks the claim key still
 * has that create revision, so a holder that lost its lease cannot overwrite the record of
 * the host that claimed after it (fleet_record_put answers -ESTALE: a fenced write refused).
 *
 * Returns: 0 or a negative errno: -EIO when etcd failed (*err says how: CLIENT_E_TRANSIENT
 * unreachable, CLIENT_E_AUTH, CLIENT_E_PROTOCOL), -EINVAL for bad arguments, and the ones each
 * function names. Every function is thread-safe. Nothing here logs a secret; records carry no
 * URL.
 */
#ifndef ORDERFS_FLEET_H
#define ORDERFS_FLEET_H

#include <stdint.h>

#include "etcd/etcd.h"
#include "fleet_record.h"
#include "../provider.h"

#define FLEET_DEFAULT_TTL_S 10
#define FLEET_MAX_SLOTS 1024

struct fleet_config {
	struct etcd_config etcd;
	const char *provider; /* "vexora": fleet_name_ok() */
	const char *account;  /* merchant account; only a hash of it reaches etcd */
	const char *base_url; /* the provider's base URL (NULL = ""): hashed with provider and
			       * account, so two merchants' prefixes never collide */
	const char *host;     /* this host's name, unique in the fleet: fleet_name_ok() */
	long lease_ttl_s;     /* 0 = FLEET_DEFAULT_TTL_S; at least 2 */
	int max_exports;      /* export slots across the fleet; 0 = no cap */
};

/*
 * The merchant's hash: SHA-256 over provider, base URL (NULL = "") and account, each followed
 * by a NUL (none holds one: an unambiguous join), as 64 lowercase hex digits into hex. Its
 * first FLEET_ACCOUNT_HEX digits name the merchant in etcd keys and in the shared store's
 * keys (s3_pointer.h), so no account id reaches either in clear. 0 or -1 (hex is then "").
 */
#define FLEET_ACCOUNT_HEX 32
int fleet_account_hex(const char *provider, const char *base_url, const char *account,
		      char hex[FLEET_SHA256_HEX]);

enum fleet_role {
	FLEET_HOLDER,	/* this host exports the range */
	FLEET_FOLLOWER, /* another host does: wait on its record */
};

struct fleet_claim {
	enum fleet_role role;
	int64_t token;		     /* HOLDER: fencing token for fleet_record_put/_release */
	char holder[FLEET_HOST_MAX]; /* the holding host (this one when HOLDER) */
	int has_record;		     /* HOLDER: a record existed already (resume its task) */
	int takeover;		     /* HOLDER: ... another host wrote it and its task was
				      * unfinished (no verified file yet): a takeover */
	struct fleet_record record;  /* that record, when has_record */
	int record_read;	     /* FOLLOWER: has_record and record say what the claim's txn
				      * read of the record (0: read it yourself) */
};

struct fleet_stats {
	uint64_t claims_won, claims_lost;
	uint64_t takeovers;	 /* claims won over another host's record */
	uint64_t fenced_refused; /* record writes refused: this host's claim was gone */
	uint64_t etcd_errors;	 /* failed etcd calls, keepalives included */
	uint64_t lease_regrants; /* leases lost and granted again */
	uint64_t keys_freed;	 /* claims and slots left behind by a failed call, freed */
	uint64_t watch_events;	 /* events the watch stream delivered */
};

/* What the watch saw of one range's claim and record, or of the slots: claim changes when
 * the range's claim is deleted (its holder let go, or its lease ended: claim again), record
 * when its record is put or deleted (each also for a range that shares its mark), slots when
 * a slot is given back (or its holder's lease ended); all change when the stream goes live or down. All 0 while
 * the stream is down. A range's marks have slots 0, the slots' marks claim and record
 * constant: a waiter wakes for what it waits on only. */
struct fleet_marks {
	uint64_t claim, record, slots;
};

struct fleet;
struct fleet_session;

/* A mount's session (fleet_session.c): one etcd client (a few kept-alive connections), this
 * host's one lease with its keepalive thread, one watch stream over orderfs/v1/<provider>/
 * and one reaper thread, shared by every fleet made on it with fleet_new_in (an accounts_dir
 * mount: one per merchant), so threads, leases and connections do not grow with the
 * merchants. Uses cfg's etcd, host, provider and lease_ttl_s (the rest is ignored; what it
 * keeps is copied). Grants the lease now; when etcd cannot be reached (CLIENT_E_TRANSIENT)
 * it still starts, and the keepalive thread grants it once etcd answers. Returns the session,
 * or NULL with *err (CLIENT_E_INVALID for bad cfg, CLIENT_E_AUTH, CLIENT_E_PROTOCOL). */
struct fleet_session *fleet_session_new(const struct fleet_config *cfg, struct client_error *err);
/* Stops its threads and revokes the lease (every member, claim and slot of its fleets vanish
 * at once). Every fleet made on it must be freed first. NULL is a no-op. */
void fleet_session_free(struct fleet_session *s);

/* Joins merchant cfg's fleet on session s (which must outlive it): registers members/<host> on
 * the session's lease (without one yet, the keepalive thread does once it has one, and until
 * then calls fail -EIO). cfg's etcd, host and lease_ttl_s are the session's (ignored here).
 * Returns the fleet, or NULL with *err (CLIENT_E_INVALID for bad cfg or when the host name is
 * held by another live host of the fleet, CLIENT_E_AUTH, CLIENT_E_PROTOCOL). */
struct fleet *fleet_new_in(struct fleet_session *s, const struct fleet_config *cfg,
			   struct client_error *err);
/* Likewise on a session of its own (a mount of one merchant, a tool), which fleet_free frees. */
struct fleet *fleet_new(const struct fleet_config *cfg, struct client_error *err);
/* Leaves the fleet: with its own session, stops it and revokes the lease (this host's member,
 * claims and slots vanish at once); on a shared one, deletes members/<host> and gives back the
 * slots it holds (claims still held stay until the session's lease ends), and the lease stays
 * for the others. No other call on f may be in flight. NULL is a no-op. */
void fleet_free(struct fleet *f);

/* Claims the export of export_key (the cache's canonical key; only its SHA-256 reaches
 * etcd), reading its record in the same txn. 0 with *out: HOLDER when this host won (or
 * already held it on its current lease), FOLLOWER with the holder's name (and the record,
 * record_read) otherwise. */
int fleet_claim(struct fleet *f, const char *export_key, struct fleet_claim *out,
		struct client_error *err);
/* Writes the record of export_key if this host's claim still has create revision token.
 * rec->holder is ignored: the record names this host. keep_s > 0 (a final state: the file
 * verified, no data, failed): the record is bound to a lease that ends keep_s to keep_s * 9/8
 * + 1 s from now (shared by the records that end about then), so etcd deletes it once it is
 * worth nothing (the record sweep); 0 = kept. 0, -ESTALE when fenced
 * (nothing written), -EINVAL for an invalid record, -EIO. */
int fleet_record_put(struct fleet *f, const char *export_key, int64_t token,
		     const struct fleet_record *rec, long keep_s, struct client_error *err);
/* Likewise, for the flight's last word: in the same txn the claim of token is deleted, and
 * slot (fleet_slot_take; -1 none) given back (no fleet_release nor fleet_slot_release after
 * it). 0 (written, claim and slot released), -ESTALE when fenced (nothing written; the claim
 * was not this host's any more; the slot is given back), -EINVAL, -EIO (nothing known: the
 * caller releases claim and slot). */
int fleet_record_put_final(struct fleet *f, const char *export_key, int64_t token,
			   const struct fleet_record *rec, long keep_s, int slot,
			   struct client_error *err);
/* Reads the record of export_key. 0, -ENOENT when there is none, -EIO (a record that does
 * not parse strictly is CLIENT_E_PROTOCOL). */
int fleet_record_get(struct fleet *f, const char *export_key, struct fleet_record *out,
		     struct client_error *err);
/* Likewise, but from what the live watch delivered last of that record when it knows (no
 * etcd call; as fresh as the watch's events, which is what a waiter on them wants), else
 * from etcd. Same returns. */
int fleet_record_watched(struct fleet *f, const char *export_key, struct fleet_record *out,
			 struct client_error *err);
/* Deletes the record of export_key (rmdir of the range): the next claimer exports anew.
 * 0 (also when there was none), -EIO. */
int fleet_record_forget(struct fleet *f, const char *export_key, struct client_error *err);
/* Deletes the claim of export_key if it is still the one of token; the record stays.
 * 0 (also when the claim was gone already), -EIO (the release goes on in the background). */
int fleet_release(struct fleet *f, const char *export_key, int64_t token,
		  struct client_error *err);

/* Takes a free export slot: *slot = 0..max_exports-1. 0, -EBUSY when all are taken, -EIO
 * (a slot the failed txn may have taken is taken back by the next call, or freed in the
 * background).
 * With max_exports 0 always 0 with *slot = -1. */
int fleet_slot_take(struct fleet *f, int *slot, struct client_error *err);
/* Gives back a slot this host took (a slot already lost with the lease is no error; -1 is a
 * no-op). 0, -EINVAL for a slot not taken, -EIO (the slot is no longer this caller's: it is
 * given back in the background). */
int fleet_slot_release(struct fleet *f, int slot, struct client_error *err);

/* How many hosts are registered (this one included while its lease lives). 0 or -EIO. */
int fleet_members(struct fleet *f, int64_t *count, struct client_error *err);
/* 1 when the latest etcd call succeeded and that was less than one TTL ago, else 0. */
int fleet_reachable(struct fleet *f);
/* Monotonic ms (common/clock.h) of the latest etcd call that succeeded, keepalives
 * included; 0 if none yet. */
int64_t fleet_last_ok_ms(struct fleet *f);
/* The marks of export_key (NULL: the slots') now. Take them before reading etcd, then
 * wait on them: a change after the read wakes the waiter. */
void fleet_watch_marks(struct fleet *f, const char *export_key, struct fleet_marks *out);
/* A mark of the fleet's members/ keys: it changes when a host joins or leaves (0 while the
 * stream is down). */
uint64_t fleet_watch_members_mark(struct fleet *f);
/* Whether export_key's claim may have been deleted since seen (its marks) was taken: 0 when
 * no claim of its mark's ranges was deleted since, or exactly one and that one another
 * range's; else 1 (claim again), also when the stream went down or live. */
int fleet_watch_claim_freed(struct fleet *f, const char *export_key,
			    const struct fleet_marks *seen);
/* Waits up to ms until a mark of export_key differs from *seen (or the stream is down, or the
 * fleet stops). 1 when one differs or the stream is down (read etcd now), 0 when ms passed.
 * The session's one watch stream (its own connection) covers every range of its fleets. */
int fleet_watch_wait(struct fleet *f, const char *export_key, const struct fleet_marks *seen,
		     long ms);
/* The counters since fleet_new. */
void fleet_get_stats(struct fleet *f, struct fleet_stats *out);
/* This host's current lease id (0 while it has none). */
int64_t fleet_lease_id(struct fleet *f);

#endif
