/*
 * The etcd client's watch: one long-lived streaming POST /v3/watch over a prefix, on a curl
 * handle of its own (never one of the calls' pool), so a fleet host holds one watch
 * connection however many ranges wait. See etcd.h.
 */
#include "etcd_call.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "../../../common/base64.h"
#include "../../../common/log.h"

#define WATCH_LINE_MAX ETCD_RESPONSE_MAX /* one message of the stream */

struct stream {
	const struct etcd_watch_ops *ops;
	void *arg;
	char *buf;
	size_t len, cap;
	int failed;		   /* the stream said it cannot go on: *err set */
	int64_t compact_rev;	   /* etcd compacted past the start: the caller reads anew */
	struct client_error *err;
};

/* One event of a message: its key, whether it was deleted, and the value put (the watcher
 * may spare itself a read). 0 or -1 (malformed). */
static int stream_event(struct stream *s, const cJSON *ev)
{
	const cJSON *kv = cJSON_GetObjectItemCaseSensitive(ev, "kv");
	const cJSON *key = cJSON_GetObjectItemCaseSensitive(kv, "key");
	const cJSON *val = cJSON_GetObjectItemCaseSensitive(kv, "value");
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(ev, "type");
	int deleted = cJSON_IsString(type) && strcmp(type->valuestring, "DELETE") == 0;
	char name[ETCD_KEY_MAX + 1], value[ETCD_VALUE_MAX + 1];
	long n, vn = 0;

	if (!cJSON_IsString(key))
		return -1;
	n = base64_decode(key->valuestring, strlen(key->valuestring), name, ETCD_KEY_MAX);
	if (n < 0)
		return -1;
	name[n] = '\0';
	/* The gateway leaves out an empty value. */
	if (!deleted && cJSON_IsString(val))
		vn = base64_decode(val->valuestring, strlen(val->valuestring), value,
				   ETCD_VALUE_MAX);
	if (vn >= 0)
		value[vn] = '\0';
	s->ops->on_event(s->arg, name, (size_t)n, deleted, deleted || vn < 0 ? NULL : value,
			 vn < 0 ? 0 : (size_t)vn);
	return 0;
}

/* One message of the stream: {"result": {header, created?, canceled?, compact_revision?,
 * events?}} or an error object. */
static void stream_message(struct stream *s, const cJSON *msg)
{
	const cJSON *res = cJSON_GetObjectItemCaseSensitive(msg, "result");
	const cJSON *header = cJSON_GetObjectItemCaseSensitive(res, "header");
	const cJSON *events = cJSON_GetObjectItemCaseSensitive(res, "events"), *ev;
	int64_t rev = 0, compact = 0;

	if (!cJSON_IsObject(res)) {
		if (etcd_answer_check(200, msg, s->err) == 0)
			client_error_set(s->err, CLIENT_E_PROTOCOL, "etcd watch: no result");
		s->failed = 1;
		return;
	}
	if (etcd_json_int64(res, "compact_revision", &compact) == 0 && compact > 0) {
		s->compact_rev = compact;
		client_error_set(s->err, CLIENT_E_PROTOCOL, "etcd watch: revision compacted");
		s->failed = 1;
		return;
	}
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "canceled"))) {
		client_error_set(s->err, CLIENT_E_TRANSIENT, "etcd watch canceled by etcd");
		s->failed = 1;
		return;
	}
	cJSON_ArrayForEach(ev, events) {
		if (stream_event(s, ev) != 0) {
			client_error_set(s->err, CLIENT_E_PROTOCOL, "etcd watch: malformed event");
			s->failed = 1;
			return;
		}
	}
	if (etcd_json_int64(header, "revision", &rev) == 0 && rev > 0)
		s->ops->on_revision(s->arg, rev,
				    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "created")));
}

/* Split what arrived into newline-separated messages; keep a partial one. */
static void stream_lines(struct stream *s)
{
	char *start = s->buf, *nl;

	while (!s->failed && (nl = memchr(start, '\n', s->len - (size_t)(start - s->buf)))) {
		cJSON *msg = cJSON_ParseWithLength(start, (size_t)(nl - start));
		if (msg)
			stream_message(s, msg);
		else if (nl > start) {
			client_error_set(s->err, CLIENT_E_PROTOCOL, "etcd watch: not JSON");
			s->failed = 1;
		}
		cJSON_Delete(msg);
		start = nl + 1;
	}
	s->len -= (size_t)(start - s->buf);
	memmove(s->buf, start, s->len);
}

static size_t stream_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct stream *s = arg;
	size_t n = size * nmemb;

	if (s->failed || s->ops->stop(s->arg))
		return 0;
	if (n > WATCH_LINE_MAX - s->len) {
		client_error_set(s->err, CLIENT_E_PROTOCOL, "etcd watch: message too large");
		s->failed = 1;
		return 0;
	}
	if (s->len + n > s->cap) {
		size_t ncap = s->len + n > 2 * s->cap ? s->len + n : 2 * s->cap;
		char *nb = realloc(s->buf, ncap);
		if (!nb) {
			client_error_set(s->err, CLIENT_E_LOCAL, "out of memory");
			s->failed = 1;
			return 0;
		}
		s->buf = nb;
		s->cap = ncap;
	}
	memcpy(s->buf + s->len, data, n);
	s->len += n;
	stream_lines(s);
	return s->failed ? 0 : n;
}

/* curl asks this about once a second even while nothing arrives: the stop check. */
static int stream_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	struct stream *s = arg;

	(void)a, (void)b, (void)c, (void)d;
	return s->ops->stop(s->arg) ? 1 : 0;
}

/* {"create_request": {"key", "range_end", "start_revision"}} as text, or NULL. */
static char *watch_body(const char *prefix, int64_t start_rev)
{
	cJSON *body = cJSON_CreateObject(), *req = cJSON_CreateObject();
	char end[ETCD_KEY_MAX + 1], *text = NULL;

	if (body && req && cJSON_AddItemToObject(body, "create_request", req)) {
		req = NULL;
		cJSON *cr = cJSON_GetObjectItemCaseSensitive(body, "create_request");
		if (etcd_json_add_b64(cr, "key", prefix, strlen(prefix)) == 0 &&
		    etcd_json_add_b64(cr, "range_end", end, etcd_prefix_end(prefix, end)) == 0 &&
		    etcd_json_add_int64(cr, "start_revision", start_rev) == 0)
			text = cJSON_PrintUnformatted(body);
	}
	cJSON_Delete(req);
	cJSON_Delete(body);
	return text;
}

static CURLcode watch_setup(struct etcd *e, CURL *h, const char *url, const char *body,
			    struct curl_slist *headers, struct stream *s)
{
	CURLcode rc = curl_easy_setopt(h, CURLOPT_URL, url);

	if (!rc)
		rc = curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (!rc)
		rc = curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (!rc)
		rc = curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, e->connect_timeout_ms);
	if (!rc) /* a half-open connection (etcd's host vanished) is found by TCP keepalive */
		rc = curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	if (!rc)
		rc = curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 10L);
	if (!rc)
		rc = curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 5L);
	if (!rc && e->ca_file)
		rc = curl_easy_setopt(h, CURLOPT_CAINFO, e->ca_file);
	if (!rc)
		rc = curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	if (!rc)
		rc = curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	if (!rc)
		rc = curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, stream_write);
	if (!rc)
		rc = curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
	if (!rc)
		rc = curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	if (!rc)
		rc = curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, stream_progress);
	if (!rc)
		rc = curl_easy_setopt(h, CURLOPT_XFERINFODATA, s);
	return rc;
}

/* The headers of the stream (auth_line, which gets the token, is the caller's to wipe). */
static struct curl_slist *watch_headers(struct etcd *e, char *auth_line, size_t cap)
{
	char token[ETCD_TOKEN_MAX];
	struct curl_slist *l = curl_slist_append(NULL, "Content-Type: application/json"), *t;

	if (l && etcd_current_token(e, token) && token[0]) {
		snprintf(auth_line, cap, "Authorization: %s", token);
		if (!(t = curl_slist_append(l, auth_line))) {
			curl_slist_free_all(l);
			l = NULL;
		} else {
			l = t;
		}
	}
	explicit_bzero(token, sizeof(token));
	return l;
}

/* After the transfer ended: what it means. */
static int watch_outcome(struct etcd *e, CURL *h, CURLcode rc, struct stream *s,
			 const char *endpoint)
{
	long status = 0;

	if (s->compact_rev)
		return ETCD_WATCH_COMPACTED;
	if (s->ops->stop(s->arg))
		return 0;
	if (s->failed)
		return -1;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (rc == CURLE_OK && status >= 300) {
		cJSON *msg = s->len ? cJSON_ParseWithLength(s->buf, s->len) : NULL;
		if (etcd_answer_check(status, msg, s->err) == 0)
			client_error_set(s->err, CLIENT_E_TRANSIENT, "etcd watch: HTTP %ld", status);
		cJSON_Delete(msg);
		return -1;
	}
	client_error_set(s->err, CLIENT_E_TRANSIENT, "etcd watch on %s ended: %s", endpoint,
			 rc == CURLE_OK ? "closed by etcd" : curl_easy_strerror(rc));
	if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_OPERATION_TIMEDOUT)
		etcd_skip_preferred(e);
	return -1;
}

int etcd_watch(struct etcd *e, const char *prefix, int64_t start_rev,
	       const struct etcd_watch_ops *ops, void *arg, struct client_error *err)
{
	struct stream s = {.ops = ops, .arg = arg, .err = err};
	char endpoint[ETCD_ENDPOINT_MAX], url[ETCD_ENDPOINT_MAX + 16];
	char auth_line[ETCD_TOKEN_MAX + 32] = "";
	char *body = watch_body(prefix, start_rev);
	struct curl_slist *headers = watch_headers(e, auth_line, sizeof(auth_line));
	CURL *h = e->watch_handle ? e->watch_handle : (e->watch_handle = curl_easy_init());
	CURLcode rc;
	int ret = -1;

	client_error_clear(err);
	etcd_preferred_endpoint(e, endpoint);
	snprintf(url, sizeof(url), "%s/v3/watch", endpoint);
	if (!body || !headers || !h) {
		client_error_set(err, CLIENT_E_LOCAL, "out of memory");
		goto out;
	}
	curl_easy_reset(h);
	rc = watch_setup(e, h, url, body, headers, &s);
	if (rc == CURLE_OK) {
		log_debug("etcd: watching from revision %lld on %s", (long long)start_rev, endpoint);
		rc = curl_easy_perform(h);
	}
	ret = watch_outcome(e, h, rc, &s, endpoint);
out:
	explicit_bzero(auth_line, sizeof(auth_line));
	curl_slist_free_all(headers);
	free(body);
	free(s.buf);
	return ret;
}

int etcd_revision(struct etcd *e, const char *prefix, int64_t *rev, struct client_error *err)
{
	char end[ETCD_KEY_MAX + 1];
	cJSON *body = cJSON_CreateObject(), *answer = NULL;
	const cJSON *header;
	int rc = 0;

	if (body && (etcd_json_add_b64(body, "key", prefix, strlen(prefix)) != 0 ||
		     etcd_json_add_b64(body, "range_end", end, etcd_prefix_end(prefix, end)) != 0 ||
		     !cJSON_AddTrueToObject(body, "count_only"))) {
		cJSON_Delete(body);
		body = NULL;
	}
	if (etcd_call_take(e, "/v3/kv/range", body, &answer, err) != 0)
		return -1;
	header = cJSON_GetObjectItemCaseSensitive(answer, "header");
	if (etcd_json_int64(header, "revision", rev) != 0 || *rev <= 0) {
		client_error_set(err, CLIENT_E_PROTOCOL, "etcd: no revision in the answer");
		rc = -1;
	}
	cJSON_Delete(answer);
	return rc;
}
