/*
 * Inside the etcd client: the client struct (etcd_config.c), one gateway call with endpoint
 * failover and auth (etcd_call.c) that the operations (etcd.c, etcd_lease.c) build on, and
 * the pure JSON helpers (etcd_json.c) the unit tests reach.
 * Not for use outside the .c files of client/fleet/etcd.
 */
#ifndef ORDERFS_ETCD_CALL_H
#define ORDERFS_ETCD_CALL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "etcd.h"

#define ETCD_RESPONSE_MAX (256u * 1024u)
#define ETCD_CALL_HANDLES 2 /* kept-alive connections for calls; the keepalive and the
			     * watch have one each: 4 per host */
#define ETCD_ENDPOINT_MAX 512 /* bytes of one endpoint URL */

/* The client (etcd_config.c makes it, etcd_call.c uses it). */
struct etcd {
	char *endpoints[ETCD_ENDPOINTS_MAX];
	size_t nendpoints;
	char *ca_file;	/* NULL = system CAs */
	char *user;	/* NULL = no auth */
	char *password;
	long connect_timeout_ms, request_timeout_ms;
	/* lock guards preferred and token; never held during I/O. */
	pthread_mutex_t lock;
	size_t preferred; /* endpoint the next call starts with: the last that answered */
	char *token;	  /* NULL = not authenticated yet; "" = etcd has auth off */
	/* Curl handles, each keeping its connection alive between calls (etcd_call.c).
	 * pool_lock guards the pool; a handle is used by one call at a time. The lease's
	 * keepalive has one of its own (lease_lock), so a slow call never delays it. Never
	 * taken with lock held. */
	pthread_mutex_t pool_lock;
	pthread_cond_t pool_free;
	void *idle[ETCD_CALL_HANDLES]; /* CURL *: free handles */
	int nidle, ncreated;
	pthread_mutex_t lease_lock;
	void *lease_handle; /* CURL *, NULL until the first keepalive */
	void *watch_handle; /* CURL *: the watch stream's own (etcd_watch.c); one watcher */
};

#define ETCD_TOKEN_MAX 1024 /* bytes of the auth token */

/* The end of the range of keys that start with prefix into end (ETCD_KEY_MAX + 1 bytes):
 * its length ("\0", 1, means every key). Pure. */
size_t etcd_prefix_end(const char *prefix, char *end);

/* Copies the current token into buf (ETCD_TOKEN_MAX bytes). Returns 1 when there is one
 * (maybe "": auth off), 0 when the client has not authenticated yet. Takes e->lock. */
int etcd_current_token(struct etcd *e, char *buf);
/* The endpoint the next call starts with into buf (ETCD_ENDPOINT_MAX bytes). Takes e->lock. */
void etcd_preferred_endpoint(struct etcd *e, char *buf);
/* The next call starts at the next endpoint (this one failed). Takes e->lock. */
void etcd_skip_preferred(struct etcd *e);

/* Closes every handle of e (etcd_free). */
void etcd_handles_free(struct etcd *e);

/* Overwrites s with zeros, then frees it. NULL: no-op. */
void etcd_wipe_free(char *s);

/* What an answer means, beyond 0 (success) and -1 (failure, *err set). */
#define ETCD_ANSWER_BAD_TOKEN (-2) /* *err is CLIENT_E_AUTH: authenticate again, retry once */
#define ETCD_ANSWER_AUTH_OFF (-3)  /* authenticate refused: auth is not enabled on etcd */

/*
 * POST body to path ("/v3/kv/range") on e's endpoints, with the token when auth is
 * configured; *out gets the answer's JSON object (caller frees with cJSON_Delete). Returns 0,
 * or -1 with *err (*out NULL). Thread-safe; holds no lock during I/O.
 */
int etcd_call(struct etcd *e, const char *path, const cJSON *body, cJSON **out,
	      struct client_error *err);

/* etcd_call with a shorter timeout for each try (timeout_ms; 0 or more than the client's
 * request timeout = that), for calls that must answer before a deadline. */
int etcd_call_within(struct etcd *e, const char *path, const cJSON *body, long timeout_ms,
		     cJSON **out, struct client_error *err);

/* etcd_call that takes body (NULL = it could not be built: CLIENT_E_LOCAL) and frees it. */
int etcd_call_take(struct etcd *e, const char *path, cJSON *body, cJSON **out,
		   struct client_error *err);

/*
 * Classify a gateway answer: HTTP status and the parsed body (NULL when it was not JSON).
 * Reads both error shapes: etcd 3.4/3.5 {"error","code","message"} and 3.6 {"code",
 * "message"} without "error". Returns 0 for a 2xx JSON object that is no error, else -1 /
 * ETCD_ANSWER_BAD_TOKEN / ETCD_ANSWER_AUTH_OFF with *err set from etcd's gRPC code and
 * message (which never hold a secret). Pure.
 */
int etcd_answer_check(long status, const cJSON *body, struct client_error *err);

/* An int64 field the gateway spells as a decimal string (or a small number); absent = 0.
 * Returns 0, or -1 when present but not an integer. */
int etcd_json_int64(const cJSON *obj, const char *name, int64_t *out);

/* Sets a JSON field to the base64 of len bytes of data. Returns 0 or -1 (out of memory). */
int etcd_json_add_b64(cJSON *obj, const char *name, const void *data, size_t len);

/* Adds an int64 field as the gateway's decimal string (exact beyond 2^53). 0 or -1. */
int etcd_json_add_int64(cJSON *obj, const char *name, int64_t v);

/* One mvccpb.KeyValue object ("kvs" item) into *out. 0, or -1 with *err PROTOCOL. */
int etcd_parse_kv(const cJSON *kv, struct etcd_kv *out, struct client_error *err);

#endif
