/*
 * Inside fleet mode: the fleet struct (fleet.c: lifecycle and lease; fleet_claim.c: claims,
 * records, slots) and the helpers both use. Not for use outside the .c files of client/fleet.
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

struct fleet {
	struct etcd *etcd;
	char prefix[FLEET_PREFIX_MAX];
	char host[FLEET_HOST_MAX];
	long ttl_s;
	int max_exports;
	pthread_t keepalive;
	int thread_started;
	int64_t lease_deadline_ms; /* keepalive thread only: monotonic time the lease surely
				    * lives to (0 unknown) */
	/* lock guards everything below; never held during an etcd call. */
	pthread_mutex_t lock;
	pthread_cond_t wake; /* the keepalive thread sleeps on it: stop, or check the lease now */
	int stopping, check_now;
	int64_t lease;	      /* 0 while there is none */
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
	pthread_cond_t reap_wake;
	pthread_t reaper;
	int reaper_started;
	/* fleet_watch.c: the watch thread, and the marks it bumps (under lock; watch_cond is
	 * broadcast on every change). */
	pthread_t watcher;
	int watcher_started;
	int64_t watch_rev; /* watch thread only: the latest revision the stream reported */
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
/* Starts the reaper thread (0, or -1); fleet_reap_stop sets f->stopping and joins it. */
int fleet_reap_start(struct fleet *f);
void fleet_reap_stop(struct fleet *f);
/* Starts the watch thread (0, or -1); fleet_watch_stop sets f->stopping and joins it. */
int fleet_watch_start(struct fleet *f);
void fleet_watch_stop(struct fleet *f);
/* What the live watch saw last of the record whose key name is hex (its export key's SHA-256):
 * 1 with *deleted, or the value (NUL-terminated, *len bytes) in out (cap bytes); 0 when it
 * does not know (read etcd). Takes f->lock. */
int fleet_watch_record(struct fleet *f, const char *hex, char *out, size_t cap, size_t *len,
		       int *deleted);
/* Adds 1 to the counter at the offset of one uint64_t field of struct fleet_stats. */
void fleet_count(struct fleet *f, uint64_t *field);

#endif
