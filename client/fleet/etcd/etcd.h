/*
 * A small synchronous etcd v3 client over etcd's JSON gateway (POST /v3/kv/range, /v3/kv/put,
 * /v3/kv/txn, /v3/kv/deleterange, /v3/lease/grant|keepalive|revoke, /v3/auth/authenticate),
 * for fleet mode (client/fleet/fleet.h). Knows nothing of orderfs's keys.
 *
 * Design note. A client keeps a few curl handles (ETCD_CALL_HANDLES, and one of its own for
 * the lease keepalive), each keeping its connection to etcd alive between calls: a host opens
 * a handful of TCP connections, not one per call. A call takes a free handle for its
 * duration, waiting while all are busy. Endpoints are tried in turn starting from the last
 * one that answered (at first, the one cfg.spread picks): a call moves on to the next endpoint only when it could not connect at all, since
 * then nothing was sent and no write can have happened twice. A call that timed out or got a
 * 5xx after sending fails CLIENT_E_TRANSIENT (its effect is unknown), and the next call starts
 * at the next endpoint. With auth configured the client authenticates before its first call,
 * sends the token in the Authorization header and, when etcd says the token is invalid (simple
 * tokens expire), authenticates again once and repeats the call. The password, the token and
 * request bodies are never logged nor put in an error message.
 *
 * Errors: every call returns 0 or -1 with *err: CLIENT_E_TRANSIENT (no endpoint reachable,
 * timeout, 5xx, etcd unavailable), CLIENT_E_AUTH (authentication failed, permission denied),
 * CLIENT_E_PROTOCOL (malformed or unexpected answer, oversized value), CLIENT_E_NOT_FOUND (a
 * lease the call names does not exist), CLIENT_E_INVALID (bad argument or configuration),
 * CLIENT_E_LOCAL (out of memory). All calls are thread-safe.
 */
#ifndef ORDERFS_ETCD_H
#define ORDERFS_ETCD_H

#include <stddef.h>
#include <stdint.h>

#include "../../provider.h"

#define ETCD_DEFAULT_CONNECT_TIMEOUT_MS 2000L
#define ETCD_DEFAULT_REQUEST_TIMEOUT_MS 5000L
#define ETCD_KEY_MAX 512	/* key bytes */
#define ETCD_VALUE_MAX 4096	/* value bytes a get returns; longer values are PROTOCOL */
#define ETCD_ENDPOINTS_MAX 16

struct etcd_config {
	const char *endpoints;	 /* "http://h1:2379,https://h2:2379": tried in turn */
	const char *ca_file;	 /* CA bundle for https endpoints; NULL or "" = system CAs */
	const char *user;	 /* NULL or "" = no auth */
	const char *password;	 /* with user; never logged */
	long connect_timeout_ms; /* per endpoint; 0 = ETCD_DEFAULT_CONNECT_TIMEOUT_MS */
	long request_timeout_ms; /* whole call on one endpoint; 0 = ETCD_DEFAULT_REQUEST_... */
	const char *spread;	 /* picks the endpoint tried first (the host name), so a fleet's
				  * hosts spread over the endpoints; NULL = the first */
};

/* One key's state. create_revision == 0 means the key does not exist (etcd never gives a
 * live key revision 0); the other fields are then 0 and value "". */
struct etcd_kv {
	int64_t create_revision; /* revision that created the key: the fencing token */
	int64_t mod_revision;
	int64_t lease;		 /* 0 = not bound to a lease */
	size_t value_len;
	char value[ETCD_VALUE_MAX + 1]; /* value_len bytes, then a NUL */
};

struct etcd;

/* Parses cfg (copied: cfg's strings may be freed after) and returns a client, without any
 * network; NULL with *err CLIENT_E_INVALID for no endpoint, a non-http(s) endpoint, one with
 * credentials in it, more than ETCD_ENDPOINTS_MAX, a user without password, or
 * CLIENT_E_LOCAL. */
struct etcd *etcd_new(const struct etcd_config *cfg, struct client_error *err);
/* Frees the client and wipes the password and token. No call may be in flight. NULL: no-op. */
void etcd_free(struct etcd *e);

/* Reads key into *out; an absent key is success with out->create_revision == 0. */
int etcd_get(struct etcd *e, const char *key, struct etcd_kv *out, struct client_error *err);
/* Sets key to len bytes of value, bound to lease unless lease is 0. */
int etcd_put(struct etcd *e, const char *key, const void *value, size_t len, int64_t lease,
	     struct client_error *err);
/* Deletes key; *deleted (may be NULL) gets 1 if it existed, 0 if not. */
int etcd_delete(struct etcd *e, const char *key, int *deleted, struct client_error *err);
/* How many keys start with prefix (non-empty). */
int etcd_count_prefix(struct etcd *e, const char *prefix, int64_t *count,
		      struct client_error *err);

/*
 * One txn: if key does not exist (create_revision == 0), put value (bound to lease unless 0)
 * and set *won = 1, out->create_revision = the new key's create revision (and the rest of *out
 * to what was written); otherwise *won = 0 and *out is the key as it is. out may be NULL.
 */
int etcd_put_if_absent(struct etcd *e, const char *key, const void *value, size_t len,
		       int64_t lease, int *won, struct etcd_kv *out, struct client_error *err);
/* etcd_put_if_absent, and the same txn reads read_key (NULL: none) into *read_out either way:
 * one call where a get would follow. */
int etcd_put_if_absent_read(struct etcd *e, const char *key, const void *value, size_t len,
			    int64_t lease, const char *read_key, int *won, struct etcd_kv *out,
			    struct etcd_kv *read_out, struct client_error *err);
/*
 * One txn: if guard_key exists with create_revision == token, put key = value (bound to lease
 * unless 0) and set *applied = 1; otherwise change nothing and set *applied = 0 (fenced: the
 * guard was deleted or re-created since token was taken).
 */
int etcd_put_if_owner(struct etcd *e, const char *guard_key, int64_t token, const char *key,
		      const void *value, size_t len, int64_t lease, int *applied,
		      struct client_error *err);
/* Likewise, and in the same txn deletes guard_key (the writer's last word and its release);
 * with guard2_key (NULL: none), only if that one also has create_revision token2, and it is
 * deleted too. */
int etcd_put_release_if_owner(struct etcd *e, const char *guard_key, int64_t token,
			      const char *guard2_key, int64_t token2, const char *key,
			      const void *value, size_t len, int64_t lease, int *applied,
			      struct client_error *err);
/* Likewise, deleting key; *applied = 1 when the guard matched (key may have been absent). */
int etcd_delete_if_owner(struct etcd *e, const char *guard_key, int64_t token, const char *key,
			 int *applied, struct client_error *err);

/* Grants a lease of ttl_s seconds (>= 1); *id gets its id (never 0). */
int etcd_lease_grant(struct etcd *e, long ttl_s, int64_t *id, struct client_error *err);
/* Renews lease id once, each try within timeout_ms (0 = the request timeout); *ttl_left gets
 * the seconds it now has, 0 when the lease is gone (expired or revoked: keys bound to it are
 * deleted). */
int etcd_lease_keepalive(struct etcd *e, int64_t id, long timeout_ms, int64_t *ttl_left,
			 struct client_error *err);
/* Revokes lease id, deleting its keys. A lease already gone is success. */
int etcd_lease_revoke(struct etcd *e, int64_t id, struct client_error *err);

/* What a watch stream reports (etcd_watch), on the watching thread, no lock held. */
struct etcd_watch_ops {
	/* The stream is live (created = 1: just created) and etcd's revision is rev. */
	void (*on_revision)(void *arg, int64_t rev, int created);
	/* A key under the prefix (key_len bytes, NUL-terminated) was put, or deleted. value
	 * (value_len bytes, NUL-terminated) is what was put; NULL for a delete, and for a value
	 * over ETCD_VALUE_MAX bytes or one that does not decode (read the key to know it). */
	void (*on_event)(void *arg, const char *key, size_t key_len, int deleted,
			 const char *value, size_t value_len);
	/* Nonzero: end the stream now. Asked at least once a second, and on every message. */
	int (*stop)(void *arg);
};

#define ETCD_WATCH_COMPACTED (-2)

/* etcd's current revision, by a count-only range of prefix (authenticates if needed): a watch
 * from rev + 1 misses nothing after this read. */
int etcd_revision(struct etcd *e, const char *prefix, int64_t *rev, struct client_error *err);
/*
 * Watches the keys that start with prefix from revision start_rev (>= 1) with one streaming
 * POST /v3/watch on the client's own watch handle (one watcher per client; its connection is
 * kept for the next stream), starting at the preferred endpoint. Blocks, calling ops, until
 * ops->stop says so (returns 0), the stream fails or ends (-1 with *err: TRANSIENT, or AUTH
 * when the token was refused: etcd_revision authenticates again), or start_rev was compacted
 * (ETCD_WATCH_COMPACTED: read what matters anew, then watch from a fresh revision).
 */
int etcd_watch(struct etcd *e, const char *prefix, int64_t start_rev,
	       const struct etcd_watch_ops *ops, void *arg, struct client_error *err);

#endif
