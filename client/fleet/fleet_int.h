/*
 * Inside fleet mode: the session and fleet structs (fleet_session.c: the lease and the fleets
 * on it; fleet.c: a fleet's lifecycle; fleet_claim.c: claims, records, slots) and the helpers
 * they use. Not for use outside the .c files of client/fleet.
 */
#ifndef ORDERFS_FLEET_INT_H
#define ORDERFS_FLEET_INT_H

#include <pthread.h>
#include <stdint.h>

#include "fleet.h"

/* "orderfs/v1/" provider "/" 32 hex "/" */
#define FLEET_WATCH_BUCKETS 256 /* ranges share a mark by the first byte of their hash */
#define FLEET_CLAIM_TAG 16	/* hex digits that tell the claims of a bucket apart */
#define FLEET_PREFIX_MAX (11 + FLEET_HOST_MAX + 1 + FLEET_ACCOUNT_HEX + 1 + 1)

/* The mount's side of fleet mode (fleet_session.c): the etcd client, this host's one lease and
 * its keepalive thread, one watch stream (fleet_watch.c) and one reaper thread (fleet_reap.c)
 * for every fleet registered on it (an accounts_dir mount: one per merchant).
 * Lock order: a session's lock before any of its fleets' locks; neither is held during an etcd
 * call: a thread of the session that calls etcd for one fleet marks it busy instead, and a
 * fleet leaving waits until it is not. */
struct fleet_session {
	struct etcd *etcd;
	char host[FLEET_HOST_MAX];
	char prefix[FLEET_PREFIX_MAX]; /* orderfs/v1/<provider>/: the watch covers it */
	long ttl_s;
	pthread_t keepalive;
	int keepalive_started;
	int64_t lease_deadline_ms; /* keepalive thread only: monotonic time the lease surely
				    * lives to (0 unknown) */
	/* lock guards everything below. */
	pthread_mutex_t lock;
	pthread_cond_t wake;	  /* the keepalive thread sleeps on it: stop, or check now */
	pthread_cond_t idle;	  /* broadcast when a fleet's busy count drops */
	pthread_cond_t reap_wake; /* the reaper sleeps on it */
	pthread_cond_t watch_cond; /* the watch thread's pause between streams */
	int stopping, check_now;
	int64_t lease;		  /* 0 while there is none */
	struct fleet **fleets;	  /* the registered fleets */
	size_t nfleets, capfleets;
	pthread_t watcher, reaper;
	int watcher_started, reaper_started;
	int watch_live;
	int64_t watch_rev; /* watch thread only: the latest revision the stream reported */
};

struct fleet {
	struct etcd *etcd; /* the session's */
	struct fleet_session *session;
	int owns_session;  /* fleet_new made it: fleet_free frees it (and revokes the lease) */
	int busy;	   /* under session->lock: the keepalive or reaper thread works on it
			    * without the session's lock; unregistering waits for 0 */
	int64_t reap_due_ms; /* under session->lock: when the reaper looks at it (0 never) */
	char prefix[FLEET_PREFIX_MAX];
	char host[FLEET_HOST_MAX];
	long ttl_s;
	int max_exports;
	/* lock guards everything below; never held during an etcd call. */
	pthread_mutex_t lock;
	int stopping;
	int64_t lease;	      /* the session's lease once members/<host> is on it, else 0 */
	int lease_lost;	      /* its lease was lost: the next join counts a regrant */
	int64_t *slot_token;  /* max_exports entries: create revision of a slot we hold, or 0 */
	char *slot_taking;    /* max_exports entries: a flight of this host is taking it */
	char *slot_watched;   /* max_exports entries: 1 = the live watch saw the slot taken and
			       * not yet freed (0: free, or not known: a slot taken before the
			       * stream started); all 0 once the stream goes down */
	unsigned slot_next;   /* where the next slot take starts looking (spread by host) */
	int64_t last_ok_ms;   /* monotonic time of the latest successful call */
	int64_t rec_lease;    /* the lease final records share (fleet_claim.c), 0 none */
	int64_t rec_lease_until_ms; /* monotonic time it lives at least until */
	int rec_lease_granting;	    /* a call grants a new one just now: the others wait */
	pthread_cond_t rec_lease_cond; /* broadcast when that grant ends */
	int last_failed;      /* the latest call failed */
	struct fleet_stats stats;
	/* fleet_reap.c: keys this host may have left behind, and the thread that frees them. */
	struct fleet_reap_entry *reap;
	uint64_t reap_next_id;
	long reap_pause_ms;
	/* fleet_watch.c: the marks the session's watch bumps for this fleet (under lock;
	 * watch_cond is broadcast on every change). */
	pthread_cond_t watch_cond;
	int watch_live;
	uint64_t watch_epoch; /* +1 each time the stream goes live or down */
	uint64_t watch_claim[FLEET_WATCH_BUCKETS];  /* claims deleted (the range is free) */
	char watch_claim_last[FLEET_WATCH_BUCKETS][FLEET_CLAIM_TAG + 1]; /* the first hex
			    * digits of the claim deleted last in the bucket: whose it was */
	uint64_t watch_record[FLEET_WATCH_BUCKETS]; /* records put or deleted */
	uint64_t watch_slots, watch_members;
	/* The latest record event the live stream delivered in each bucket (NULL: none, or
	 * another key of the bucket changed since): a follower reads it instead of etcd. */
	struct fleet_seen_record *watch_rec[FLEET_WATCH_BUCKETS];
};

/* prefix + kind + "/" + name into out (ETCD_KEY_MAX + 1 bytes). */
void fleet_key(const struct fleet *f, const char *kind, const char *name, char *out);
/* The SHA-256 of s as lowercase hex into hex (FLEET_SHA256_HEX bytes). 0 or -1. */
int fleet_sha256_hex(const char *s, char *hex);
/* Records the outcome of an etcd call (rc 0 or -1) for fleet_reachable and the counters;
 * returns 0 or -EIO to pass on. On CLIENT_E_NOT_FOUND (a lease gone) wakes the keepalive
 * thread to grant a new one. */
int fleet_note(struct fleet *f, int rc, const struct client_error *err);
/* This host's lease, or 0 with *err TRANSIENT when it has none just now. */
int64_t fleet_current_lease(struct fleet *f, struct client_error *err);
/* After a failed claim or slot txn (token 0: its outcome is unknown) or a failed release
 * (token: the create revision to delete): the reaper frees key in the background if it is
 * still bound to lease, until it succeeds or the lease is gone. Takes f->lock. */
void fleet_reap_add(struct fleet *f, const char *key, int64_t token, int64_t lease);
/* This host found key bound to its lease and wants to keep it: 0 (any entry of key is
 * dropped), or -1 when the reaper is deleting it just now (claim again later). */
int fleet_reap_take_back(struct fleet *f, const char *key);
/* The lease is gone, and its keys with it: forget the entries. */
void fleet_reap_clear(struct fleet *f);
/* How many keys wait to be freed. */
size_t fleet_reap_pending(struct fleet *f);
/* The session's reaper thread: starts it (0, or -1); stop sets s->stopping and joins it. */
int fleet_reap_start(struct fleet_session *s);
void fleet_reap_stop(struct fleet_session *s);
/* Drops every entry of f (it leaves the session; its keys go with the lease or stay until
 * it ends). Takes f->lock. */
void fleet_reap_drop(struct fleet *f);
/* The session's watch thread: starts it (0, or -1); stop sets s->stopping and joins it. */
int fleet_watch_start(struct fleet_session *s);
void fleet_watch_stop(struct fleet_session *s);
/* f's stream state is the session's (live or down) from now on: called under s->lock when f
 * registers (live: it sees every event from now on) and when it leaves (down). */
void fleet_watch_set_live(struct fleet *f, int live);
/* Registers f on s: f gets the watch's events and puts its members/<host> on the session's
 * lease now (waiting up to one TTL while another lease holds the name: it may be this host's
 * own from before a crash), or, without a lease (etcd down), once the keepalive thread has one.
 * 0, or -1 with *err (CLIENT_E_INVALID: the name is held by another live host; f stays
 * registered: fleet_free unregisters it). */
int fleet_session_register(struct fleet_session *s, struct fleet *f, struct client_error *err);
/* A call found the lease gone: the keepalive thread checks it now. Takes s->lock. */
void fleet_session_check_lease(struct fleet_session *s);
/* f leaves its session (fleet_session.c): no event, keepalive or reap reaches it after this
 * returns. Takes s->lock; waits while f is busy. */
void fleet_session_unregister(struct fleet *f);
/* What the live watch saw last of the record whose key name is hex (its export key's SHA-256):
 * 1 with *deleted, or the value (NUL-terminated, *len bytes) in out (cap bytes); 0 when it
 * does not know (read etcd). Takes f->lock. */
int fleet_watch_record(struct fleet *f, const char *hex, char *out, size_t cap, size_t *len,
		       int *deleted);
/* Adds 1 to the counter at the offset of one uint64_t field of struct fleet_stats. */
void fleet_count(struct fleet *f, uint64_t *field);

#endif
