/*
 * The etcd client's transport: POSTs on a few kept-alive curl handles, endpoint failover and
 * the auth token. See etcd.h for the design note.
 */
#include "etcd_call.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "../../../common/log.h"

/* ---- one POST ---- */

struct answer {
	long status;
	char *buf;
	size_t len, cap;
	int too_big, oom;
};

static size_t answer_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct answer *a = arg;
	size_t n = size * nmemb;

	if (n > ETCD_RESPONSE_MAX - a->len) {
		a->too_big = 1;
		return 0;
	}
	if (a->len + n + 1 > a->cap) {
		size_t ncap = a->len + n + 1 > 2 * a->cap ? a->len + n + 1 : 2 * a->cap;
		char *nb = realloc(a->buf, ncap);
		if (!nb) {
			a->oom = 1;
			return 0;
		}
		a->buf = nb;
		a->cap = ncap;
	}
	memcpy(a->buf + a->len, data, n);
	a->len += n;
	a->buf[a->len] = '\0';
	return n;
}

/* Failures no retry can fix (TLS verification, configuration); the rest are transient. */
static int curl_permanent(CURLcode rc)
{
	return rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE ||
	       rc == CURLE_SSL_CERTPROBLEM || rc == CURLE_URL_MALFORMAT ||
	       rc == CURLE_UNSUPPORTED_PROTOCOL;
}

/* What a failed transfer means. Returns 1 when nothing reached the endpoint (another one may
 * be tried safely), else 0; *err is set either way. */
static int transfer_failed(CURL *h, CURLcode rc, const struct answer *a, const char *endpoint,
			   struct client_error *err)
{
	long sent = 0;

	if (a->oom || rc == CURLE_OUT_OF_MEMORY) {
		err->sys_errno = ENOMEM;
		client_error_set(err, CLIENT_E_LOCAL, "out of memory");
		return 0;
	}
	if (a->too_big) {
		client_error_set(err, CLIENT_E_PROTOCOL, "etcd answer larger than %u bytes",
				 ETCD_RESPONSE_MAX);
		return 0;
	}
	client_error_set(err, curl_permanent(rc) ? CLIENT_E_PROTOCOL : CLIENT_E_TRANSIENT,
			 "etcd %s: %s", endpoint, curl_easy_strerror(rc));
	curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &sent);
	return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
	       rc == CURLE_SSL_CONNECT_ERROR || sent == 0;
}

/* Options of every POST, in order; returns the first failure. */
static CURLcode post_setup(struct etcd *e, CURL *h, const char *url, const char *body,
			   long timeout_ms, struct curl_slist *headers, struct answer *a)
{
	CURLcode rc = curl_easy_setopt(h, CURLOPT_URL, url);

	if (!rc)
		rc = curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (!rc)
		rc = curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (!rc)
		rc = curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, e->connect_timeout_ms);
	if (!rc)
		rc = curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	if (!rc && e->ca_file)
		rc = curl_easy_setopt(h, CURLOPT_CAINFO, e->ca_file);
	if (!rc)
		rc = curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	if (!rc)
		rc = curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	if (!rc)
		rc = curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, answer_write);
	if (!rc)
		rc = curl_easy_setopt(h, CURLOPT_WRITEDATA, a);
	return rc;
}

/* Header lines of a call (auth_line, which gets the token, is the caller's to wipe). */
static struct curl_slist *post_headers(const char *token, char *auth_line, size_t cap)
{
	struct curl_slist *l = curl_slist_append(NULL, "Content-Type: application/json");
	struct curl_slist *t;

	if (l && token && token[0]) {
		snprintf(auth_line, cap, "Authorization: %s", token);
		t = curl_slist_append(l, auth_line);
		if (!t) {
			curl_slist_free_all(l);
			return NULL;
		}
		l = t;
	}
	return l;
}

/* ---- kept-alive handles ---- */

/* The lease keepalive's own handle, or one of the pool, waiting while all are busy. NULL on
 * out of memory. Give it back with handle_put. */
static CURL *handle_get(struct etcd *e, int lease)
{
	CURL *h = NULL;

	if (lease) {
		pthread_mutex_lock(&e->lease_lock);
		if (!e->lease_handle)
			e->lease_handle = curl_easy_init();
		if (!e->lease_handle)
			pthread_mutex_unlock(&e->lease_lock);
		return e->lease_handle;
	}
	pthread_mutex_lock(&e->pool_lock);
	while (e->nidle == 0 && e->ncreated == ETCD_CALL_HANDLES)
		pthread_cond_wait(&e->pool_free, &e->pool_lock);
	if (e->nidle > 0) {
		h = e->idle[--e->nidle];
	} else if ((h = curl_easy_init()) != NULL) {
		e->ncreated++;
	}
	pthread_mutex_unlock(&e->pool_lock);
	return h;
}

static void handle_put(struct etcd *e, CURL *h, int lease)
{
	if (lease) {
		pthread_mutex_unlock(&e->lease_lock);
		return;
	}
	pthread_mutex_lock(&e->pool_lock);
	e->idle[e->nidle++] = h;
	pthread_cond_signal(&e->pool_free);
	pthread_mutex_unlock(&e->pool_lock);
}

void etcd_handles_free(struct etcd *e)
{
	while (e->nidle > 0)
		curl_easy_cleanup(e->idle[--e->nidle]);
	if (e->lease_handle)
		curl_easy_cleanup(e->lease_handle);
	e->lease_handle = NULL;
	if (e->watch_handle)
		curl_easy_cleanup(e->watch_handle);
	e->watch_handle = NULL;
}

/* POST body to endpoint+path on a kept-alive handle (the keepalive's own for its path).
 * Returns 0 with *a holding the answer, 1 when the endpoint could not be reached (nothing
 * sent), -1 on other failures; *err set unless 0. */
static int post_once(struct etcd *e, const char *endpoint, const char *path, const char *body,
		     const char *token, long timeout_ms, struct answer *a,
		     struct client_error *err)
{
	char url[1024], auth_line[1024] = "";
	int lease = strcmp(path, "/v3/lease/keepalive") == 0;
	struct curl_slist *headers;
	CURL *h;
	CURLcode rc;
	int ret = 0;

	snprintf(url, sizeof(url), "%s%s", endpoint, path);
	h = handle_get(e, lease);
	if (h)
		curl_easy_reset(h); /* options only: its live connection stays for reuse */
	headers = post_headers(token, auth_line, sizeof(auth_line));
	if (!h || !headers) {
		client_error_set(err, CLIENT_E_LOCAL, "out of memory");
		ret = -1;
		goto out;
	}
	rc = post_setup(e, h, url, body, timeout_ms, headers, a);
	if (rc == CURLE_OK)
		rc = curl_easy_perform(h);
	if (rc != CURLE_OK)
		ret = transfer_failed(h, rc, a, endpoint, err) ? 1 : -1;
	else
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &a->status);
out:
	explicit_bzero(auth_line, sizeof(auth_line));
	curl_slist_free_all(headers);
	if (h)
		handle_put(e, h, lease);
	return ret;
}

/* ---- failover, auth ---- */


static void set_preferred(struct etcd *e, size_t k)
{
	pthread_mutex_lock(&e->lock);
	if (e->preferred != k && e->nendpoints > 1)
		log_info("etcd: using endpoint %s", e->endpoints[k]);
	e->preferred = k;
	pthread_mutex_unlock(&e->lock);
}

void etcd_preferred_endpoint(struct etcd *e, char *buf)
{
	pthread_mutex_lock(&e->lock);
	snprintf(buf, ETCD_ENDPOINT_MAX, "%s", e->endpoints[e->preferred]);
	pthread_mutex_unlock(&e->lock);
}

void etcd_skip_preferred(struct etcd *e)
{
	pthread_mutex_lock(&e->lock);
	size_t k = (e->preferred + 1) % e->nendpoints;
	pthread_mutex_unlock(&e->lock);
	set_preferred(e, k);
}

/* POST text to the endpoints in turn, from the preferred one, until one answers; *status and
 * *json (NULL if the body is not JSON) get its answer. 0, or -1 with *err. */
static int post_any(struct etcd *e, const char *path, const char *text, const char *token,
		    long timeout_ms, long *status, cJSON **json, struct client_error *err)
{
	size_t start, k = 0;
	int rc = -1;

	pthread_mutex_lock(&e->lock);
	start = e->preferred;
	pthread_mutex_unlock(&e->lock);
	for (size_t i = 0; i < e->nendpoints; i++) {
		struct answer a = {0};
		k = (start + i) % e->nendpoints;
		rc = post_once(e, e->endpoints[k], path, text, token, timeout_ms, &a, err);
		if (rc == 0) {
			*status = a.status;
			*json = a.len ? cJSON_ParseWithLength(a.buf, a.len) : NULL;
		}
		free(a.buf);
		if (rc <= 0)
			break;
		log_debug("etcd: %s unreachable", e->endpoints[k]);
	}
	if (rc == 0)
		set_preferred(e, k);
	else if (err->kind == CLIENT_E_TRANSIENT)
		set_preferred(e, (k + 1) % e->nendpoints); /* the next call tries elsewhere */
	return rc == 0 ? 0 : -1;
}

int etcd_current_token(struct etcd *e, char *buf)
{
	int have;

	pthread_mutex_lock(&e->lock);
	have = e->token != NULL;
	snprintf(buf, ETCD_TOKEN_MAX, "%s", have ? e->token : "");
	pthread_mutex_unlock(&e->lock);
	return have;
}

/* Replaces the token unless another thread already replaced stale (NULL: the first one). */
static int store_token(struct etcd *e, const char *stale, const char *token,
		       struct client_error *err)
{
	char *copy = strdup(token);

	if (!copy) {
		client_error_set(err, CLIENT_E_LOCAL, "out of memory");
		return -1;
	}
	pthread_mutex_lock(&e->lock);
	if (!e->token || (stale && strcmp(e->token, stale) == 0)) {
		etcd_wipe_free(e->token);
		e->token = copy;
		copy = NULL;
	}
	pthread_mutex_unlock(&e->lock);
	etcd_wipe_free(copy);
	return 0;
}

/* The token authenticate answered with, or "" when etcd has auth off. 0 or -1 with *err. */
static int token_of(long status, cJSON *json, const char *user, char *token,
		    struct client_error *err)
{
	int rc = etcd_answer_check(status, json, err);
	const cJSON *t;

	if (rc == ETCD_ANSWER_AUTH_OFF) {
		client_error_clear(err);
		log_notice("etcd: authentication is not enabled; calls go without a token");
		token[0] = '\0';
		return 0;
	}
	if (rc != 0) {
		if (err->kind == CLIENT_E_AUTH || err->kind == CLIENT_E_PROTOCOL)
			client_error_set(err, CLIENT_E_AUTH, "etcd authentication as %s failed: %s",
					 user, err->msg);
		return -1;
	}
	t = cJSON_GetObjectItemCaseSensitive(json, "token");
	if (!cJSON_IsString(t) || !t->valuestring[0] ||
	    strlen(t->valuestring) >= ETCD_TOKEN_MAX) {
		client_error_set(err, CLIENT_E_PROTOCOL, "etcd authenticate: no usable token");
		return -1;
	}
	snprintf(token, ETCD_TOKEN_MAX, "%s", t->valuestring);
	return 0;
}

static void wipe_json_string(cJSON *obj, const char *name)
{
	cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);

	if (cJSON_IsString(it) && it->valuestring)
		explicit_bzero(it->valuestring, strlen(it->valuestring));
}

/* Authenticates with user and password and stores the token; stale is the token found
 * invalid (NULL for the first time). 0 or -1 with *err. */
static int authenticate(struct etcd *e, const char *stale, struct client_error *err)
{
	cJSON *body = cJSON_CreateObject(), *json = NULL;
	char *text = NULL, token[ETCD_TOKEN_MAX];
	long status = 0;
	int rc = -1;

	if (!body || !cJSON_AddStringToObject(body, "name", e->user) ||
	    !cJSON_AddStringToObject(body, "password", e->password) ||
	    !(text = cJSON_PrintUnformatted(body))) {
		client_error_set(err, CLIENT_E_LOCAL, "out of memory");
		goto out;
	}
	if (post_any(e, "/v3/auth/authenticate", text, NULL, e->request_timeout_ms, &status, &json,
		     err) == 0 &&
	    token_of(status, json, e->user, token, err) == 0)
		rc = store_token(e, stale, token, err);
	explicit_bzero(token, sizeof(token));
out:
	/* The tree holds its own copy of the password: wipe it too. */
	wipe_json_string(body, "password");
	etcd_wipe_free(text);
	cJSON_Delete(body);
	cJSON_Delete(json);
	return rc;
}

/* One try of a call with the current token. Returns etcd_answer_check's result, *out set
 * on 0. */
static int call_once(struct etcd *e, const char *path, const char *text, char *token,
		     long timeout_ms, cJSON **out, struct client_error *err)
{
	cJSON *json = NULL;
	long status = 0;
	int rc;

	if (e->user && !etcd_current_token(e, token) && authenticate(e, NULL, err) != 0)
		return -1;
	etcd_current_token(e, token);
	if (post_any(e, path, text, token, timeout_ms, &status, &json, err) != 0)
		return -1;
	rc = etcd_answer_check(status, json, err);
	if (rc == 0)
		*out = json;
	else
		cJSON_Delete(json);
	if (rc != 0 && err->kind == CLIENT_E_TRANSIENT)
		etcd_skip_preferred(e); /* etcd answered but cannot serve (no leader): try another */
	return rc;
}

int etcd_call(struct etcd *e, const char *path, const cJSON *body, cJSON **out,
	      struct client_error *err)
{
	return etcd_call_within(e, path, body, 0, out, err);
}

int etcd_call_within(struct etcd *e, const char *path, const cJSON *body, long timeout_ms,
		     cJSON **out, struct client_error *err)
{
	char *text = cJSON_PrintUnformatted(body);
	char token[ETCD_TOKEN_MAX];
	int rc;

	*out = NULL;
	client_error_clear(err);
	if (!text) {
		client_error_set(err, CLIENT_E_LOCAL, "out of memory");
		return -1;
	}
	if (timeout_ms <= 0 || timeout_ms > e->request_timeout_ms)
		timeout_ms = e->request_timeout_ms;
	log_debug("etcd: POST %s", path);
	rc = call_once(e, path, text, token, timeout_ms, out, err);
	if (rc == ETCD_ANSWER_BAD_TOKEN && e->user) {
		/* Simple tokens expire after a while idle: one fresh token, one more try. */
		log_debug("etcd: token refused, authenticating again");
		rc = authenticate(e, token, err);
		if (rc == 0)
			rc = call_once(e, path, text, token, timeout_ms, out, err);
	}
	explicit_bzero(token, sizeof(token));
	free(text);
	return rc == 0 ? 0 : -1;
}

int etcd_call_take(struct etcd *e, const char *path, cJSON *body, cJSON **out,
		   struct client_error *err)
{
	int rc;

	if (!body) {
		*out = NULL;
		client_error_clear(err);
		client_error_set(err, CLIENT_E_LOCAL, "out of memory");
		return -1;
	}
	rc = etcd_call(e, path, body, out, err);
	cJSON_Delete(body);
	return rc;
}
