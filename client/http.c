/* libcurl behind http.h: the easy-handle pool, API POSTs and resumable downloads. */
#include "http.h"
#include "http_int.h"
#include "interrupt.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "../common/buf.h"
#include "../common/check.h"
#include "../common/log.h"
#include "../common/netaddr.h"

#ifndef ORDERFS_VERSION
#define ORDERFS_VERSION "dev"
#endif




static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void global_init(void)
{
	/* Process-wide and not thread-safe itself, hence pthread_once. Never cleaned up: other
	 * code in the process may use curl too. */
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void url_host(const char *url, char *out, size_t cap);

struct http_client *http_client_new(const struct http_options *opt, struct client_error *err)
{
	struct http_client *c;

	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK) {
		client_error_set(err, CLIENT_E_LOCAL, "curl_global_init failed: %s",
				 curl_easy_strerror(global_rc));
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		err->sys_errno = ENOMEM;
		client_error_set(err, CLIENT_E_LOCAL, "out of memory");
		return NULL;
	}
	if (opt)
		c->opt = *opt;
	if (c->opt.api_url) {
		char host[HOST_MAX];
		url_host(c->opt.api_url, host, sizeof(host));
		if (host[0] && !(c->api_host = strdup(host))) {
			free(c);
			err->sys_errno = ENOMEM;
			client_error_set(err, CLIENT_E_LOCAL, "out of memory");
			return NULL;
		}
	}
	c->opt.api_url = NULL; /* not kept: the host is */
	if (c->opt.connect_timeout_ms <= 0)
		c->opt.connect_timeout_ms = HTTP_DEFAULT_CONNECT_TIMEOUT_MS;
	if (c->opt.request_timeout_ms <= 0)
		c->opt.request_timeout_ms = HTTP_DEFAULT_REQUEST_TIMEOUT_MS;
	if (c->opt.download_stall_s <= 0)
		c->opt.download_stall_s = HTTP_DEFAULT_STALL_S;
	if (c->opt.max_response_bytes == 0)
		c->opt.max_response_bytes = HTTP_DEFAULT_MAX_RESPONSE;
	if (c->opt.max_requests_per_s < 0)
		c->opt.max_requests_per_s = 0;
	c->tokens = c->opt.max_requests_per_s > 1 ? c->opt.max_requests_per_s : 1;
	clock_gettime(CLOCK_MONOTONIC, &c->rate_last);
	if (pthread_mutex_init(&c->rate_lock, NULL) != 0) {
		free(c->api_host);
		free(c);
		err->sys_errno = EAGAIN;
		client_error_set(err, CLIENT_E_LOCAL, "pthread_mutex_init failed");
		return NULL;
	}
	if (pthread_mutex_init(&c->lock, NULL) != 0) {
		pthread_mutex_destroy(&c->rate_lock);
		free(c->api_host);
		free(c);
		err->sys_errno = EAGAIN;
		client_error_set(err, CLIENT_E_LOCAL, "pthread_mutex_init failed");
		return NULL;
	}
	if (c->opt.tls_insecure)
		log_warn("TLS VERIFICATION IS DISABLED (tls_insecure): certificates and host "
			 "names are NOT checked. Use this only against a local simulator.");
	return c;
}

void http_client_free(struct http_client *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nidle; i++)
		curl_easy_cleanup(c->idle[i]);
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->rate_lock);
	free(c->api_host);
	free(c);
}

/*
 * The global cap on requests to this provider, shared by every thread: take a token, or
 * reserve the next one and sleep until it is due (the lock is never held while sleeping;
 * reservations make the waiters go in turn). A burst of one second's worth is allowed.
 * The sleep wakes on the thread's interrupt (interrupt.h): 0, or -ECANCELED.
 */
static int rate_wait(struct http_client *c)
{
	double rate, burst, wait_s = 0;
	struct timespec now;

	pthread_mutex_lock(&c->rate_lock);
	rate = c->opt.max_requests_per_s; /* http_set_rate may change it */
	if (rate <= 0) {
		pthread_mutex_unlock(&c->rate_lock);
		return 0;
	}
	burst = rate > 1 ? rate : 1;
	clock_gettime(CLOCK_MONOTONIC, &now);
	c->tokens += ((double)(now.tv_sec - c->rate_last.tv_sec) +
		      (double)(now.tv_nsec - c->rate_last.tv_nsec) / 1e9) * rate;
	if (c->tokens > burst)
		c->tokens = burst;
	c->rate_last = now;
	c->tokens -= 1;
	if (c->tokens < 0)
		wait_s = -c->tokens / rate;
	pthread_mutex_unlock(&c->rate_lock);
	if (wait_s <= 0)
		return 0;
	log_debug("request rate cap (%.3g/s): waiting %ld ms", rate, (long)(wait_s * 1000));
	if (client_sleep_ms((long)(wait_s * 1000) + 1) == 0)
		return 0;
	pthread_mutex_lock(&c->rate_lock); /* not sent after all: give the turn back */
	c->tokens += 1;
	pthread_mutex_unlock(&c->rate_lock);
	return -ECANCELED;
}

void http_set_rate(struct http_client *c, double per_s)
{
	pthread_mutex_lock(&c->rate_lock);
	c->opt.max_requests_per_s = per_s > 0 ? per_s : 0;
	if (c->tokens > (per_s > 1 ? per_s : 1))
		c->tokens = per_s > 1 ? per_s : 1; /* a smaller share does not keep a bigger burst */
	pthread_mutex_unlock(&c->rate_lock);
}

/* libcurl's progress callback, called on every chunk and at least once a second: a non-zero
 * return aborts the transfer (CURLE_ABORTED_BY_CALLBACK) when the caller has been
 * interrupted. It asks at most every 200 ms (the question takes the cache's lock). */
static int xfer_check(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		      curl_off_t ulnow)
{
	static _Thread_local struct timespec last;
	struct timespec now;

	(void)arg, (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if ((now.tv_sec - last.tv_sec) * 1000 + (now.tv_nsec - last.tv_nsec) / 1000000 < 200)
		return 0;
	last = now;
	return client_interrupted();
}

/* Take an idle handle (keeping its live connections) or make a new one; reset options. */
CURL *pool_take(struct http_client *c)
{
	CURL *h = NULL;

	pthread_mutex_lock(&c->lock);
	if (c->nidle > 0)
		h = c->idle[--c->nidle];
	pthread_mutex_unlock(&c->lock);
	if (h)
		curl_easy_reset(h); /* clears options and headers, keeps the connection cache */
	else
		h = curl_easy_init();
	return h;
}

void pool_give(struct http_client *c, CURL *h)
{
	pthread_mutex_lock(&c->lock);
	if (c->nidle < HTTP_POOL_MAX) {
		c->idle[c->nidle++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&c->lock);
	if (h)
		curl_easy_cleanup(h);
}

int http_base_url(const char *base_url, char *out, size_t cap, struct client_error *err)
{
	switch (check_base_url(base_url, "", out, cap)) {
	case CHECK_URL_OK:
		return 0;
	case CHECK_URL_SCHEME:
		client_error_set(err, CLIENT_E_INVALID,
				 "base_url must start with http:// or https:// and name a host");
		return -1;
	case CHECK_URL_CHARS:
		client_error_set(err, CLIENT_E_INVALID,
				 "base_url contains spaces or control characters");
		return -1;
	case CHECK_URL_LONG:
		break;
	}
	client_error_set(err, CLIENT_E_INVALID, "base_url is too long");
	return -1;
}

/* Host (and for API calls the path) of url for logging; never the query. */
void url_describe(const char *url, int with_path, char *out, size_t cap)
{
	CURLU *u = curl_url();
	char *host = NULL, *path = NULL;

	snprintf(out, cap, "?");
	if (!u)
		return;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
		if (with_path && curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK)
			snprintf(out, cap, "%s%s", host, path);
		else
			snprintf(out, cap, "%s", host);
	}
	curl_free(host);
	curl_free(path);
	curl_url_cleanup(u);
}

static int parse_u64(const char **pp, uint64_t *out)
{
	const char *p = *pp;
	uint64_t v = 0;

	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*pp = p;
	*out = v;
	return 0;
}

long http_parse_retry_after(const char *value, time_t now)
{
	const char *p = value;
	uint64_t secs;

	while (*p == ' ' || *p == '\t')
		p++;
	if (isdigit((unsigned char)*p)) {
		if (parse_u64(&p, &secs) != 0)
			return -1;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '\0')
			return -1;
		/* A day is already "much later"; the cap keeps the ms value in range. */
		if (secs > 86400)
			secs = 86400;
		return (long)secs * 1000L;
	}
	time_t t = curl_getdate(p, NULL);
	if (t == (time_t)-1)
		return -1;
	/* Same cap as above: a date centuries ahead must not overflow the ms value. */
	if (t > now && t - now > 86400)
		return 86400L * 1000L;
	return t > now ? (long)(t - now) * 1000L : 0;
}

int http_parse_content_range(const char *value, uint64_t *start, uint64_t *end,
			     uint64_t *total)
{
	const char *p = value;
	uint64_t a, b, t = UINT64_MAX;

	while (*p == ' ')
		p++;
	if (strncasecmp(p, "bytes ", 6) != 0)
		return -1;
	p += 6;
	while (*p == ' ')
		p++;
	if (parse_u64(&p, &a) || *p++ != '-' || parse_u64(&p, &b) || *p++ != '/')
		return -1;
	if (*p == '*')
		p++;
	else if (parse_u64(&p, &t))
		return -1;
	while (*p == ' ')
		p++;
	if (*p != '\0' || a > b || (t != UINT64_MAX && b >= t))
		return -1;
	*start = a;
	*end = b;
	*total = t;
	return 0;
}

/* Copy a raw header line without CR/LF into out; returns the value after "Name:" or NULL. */
const char *header_value(const char *buf, size_t len, const char *name, char *out,
				size_t cap)
{
	size_t nlen = strlen(name);

	while (len > 0 && (buf[len - 1] == '\r' || buf[len - 1] == '\n'))
		len--;
	if (len <= nlen || len >= cap || strncasecmp(buf, name, nlen) != 0 || buf[nlen] != ':')
		return NULL;
	memcpy(out, buf, len);
	out[len] = '\0';
	const char *v = out + nlen + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	return v;
}


/*
 * Every connection's address, before it is made (redirects included, whatever the name
 * resolved to): an API call to a private address marks the client as such; a download to one
 * is refused unless the API is there too or download_allow_private is set.
 */
static curl_socket_t open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct sock_guard *g = arg;
	int priv = netaddr_is_private(&a->addr, a->addrlen);

	if (purpose == CURLSOCKTYPE_IPCXN && priv) {
		if (!g->download) {
			atomic_store(&g->c->api_private, 1);
		} else if (!g->c->opt.allow_private && !g->api_private) {
			netaddr_format(&a->addr, a->addrlen, g->addr, sizeof(g->addr));
			g->refused = 1;
			return CURL_SOCKET_BAD;
		}
	}
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* The host of an http(s) URL into out ("" when there is none): no scheme, user, port or
 * brackets around an IPv6 literal. */
static void url_host(const char *url, char *out, size_t cap)
{
	const char *p = strstr(url, "://"), *end, *at;
	size_t len;

	out[0] = '\0';
	if (!p)
		return;
	p += 3;
	end = p + strcspn(p, "/?#");
	at = memchr(p, '@', (size_t)(end - p));
	if (at)
		p = at + 1;
	if (*p == '[') {
		p++;
		len = strcspn(p, "]");
	} else {
		len = strcspn(p, ":/?#");
	}
	if (len < cap && p + len <= end) {
		memcpy(out, p, len);
		out[len] = '\0';
	}
}

/* Whether the API's own host is on a loopback, link-local or private address: resolved once,
 * at the first download (an unresolvable name counts as not). Thread-safe. */
static int api_on_private(struct http_client *c)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;

	if (atomic_load(&c->api_private) || !c->api_host || atomic_load(&c->api_resolved))
		return atomic_load(&c->api_private);
	if (getaddrinfo(c->api_host, NULL, &hints, &res) == 0) {
		for (struct addrinfo *a = res; a; a = a->ai_next)
			if (netaddr_is_private(a->ai_addr, a->ai_addrlen))
				atomic_store(&c->api_private, 1);
		freeaddrinfo(res);
	}
	atomic_store(&c->api_resolved, 1);
	return atomic_load(&c->api_private);
}

/* Options every request gets; g (lives as long as the transfer) guards its connections.
 * An API call waits for its turn under the request cap; a download of a file the provider
 * handed out is not one (it goes to the provider's file host, and a wave of finished exports
 * must not queue behind each other's polls). Returns CURLE_OK or the first failure. */
CURLcode setup_common(struct http_client *c, CURL *h, const char *url,
			     struct sock_guard *g)
{
	CURLcode rc = CURLE_OK;
	long verify = c->opt.tls_insecure ? 0L : 1L;

	if (!g->download && rate_wait(c) != 0)
		return CURLE_ABORTED_BY_CALLBACK;
	SETOPT(h, rc, CURLOPT_URL, url);
	SETOPT(h, rc, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM-based DNS timeouts */
	SETOPT(h, rc, CURLOPT_PROTOCOLS_STR, "http,https");
	SETOPT(h, rc, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	SETOPT(h, rc, CURLOPT_CONNECTTIMEOUT_MS, c->opt.connect_timeout_ms);
	SETOPT(h, rc, CURLOPT_SSL_VERIFYPEER, verify);
	SETOPT(h, rc, CURLOPT_SSL_VERIFYHOST, verify ? 2L : 0L);
	SETOPT(h, rc, CURLOPT_TCP_KEEPALIVE, 1L);
	SETOPT(h, rc, CURLOPT_USERAGENT, "orderfs/" ORDERFS_VERSION);
	SETOPT(h, rc, CURLOPT_NOPROGRESS, 0L);
	SETOPT(h, rc, CURLOPT_XFERINFOFUNCTION, xfer_check);
	SETOPT(h, rc, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	SETOPT(h, rc, CURLOPT_OPENSOCKETDATA, g);
	return rc;
}

/* Transport failures: what a retry may fix is TRANSIENT, the rest PROTOCOL or LOCAL. */
void curl_error(CURLcode rc, struct client_error *err)
{
	enum client_errkind kind;

	switch (rc) {
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_PARTIAL_FILE:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_READ_ERROR:
	case CURLE_AGAIN:
		kind = CLIENT_E_TRANSIENT;
		break;
	case CURLE_OUT_OF_MEMORY:
		err->sys_errno = ENOMEM;
		kind = CLIENT_E_LOCAL;
		break;
	case CURLE_ABORTED_BY_CALLBACK:
		/* Our own callbacks abort only when the caller interrupted the call. */
		client_error_set(err, CLIENT_E_CANCELLED, "request cancelled");
		return;
	default:
		/* Bad scheme, malformed URL, too many redirects, TLS verification, weird
		 * replies: repeating the same request will not help. */
		kind = CLIENT_E_PROTOCOL;
		break;
	}
	client_error_set(err, kind, "%s", curl_easy_strerror(rc));
}

/* ---- API POST ---- */

struct post_ctx {
	struct buf body; /* capped at max_response_bytes */
	int failed;	 /* the body buffer's -E2BIG or -ENOMEM: the transfer was aborted */
	long retry_after_ms;
	time_t now;
	struct sock_guard guard;
};

static size_t post_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct post_ctx *pc = arg;
	size_t n = size * nmemb;
	int rc = buf_add(&pc->body, data, n);

	if (rc != 0) {
		pc->failed = rc;
		return 0;
	}
	return n;
}

static size_t post_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct post_ctx *pc = arg;
	size_t n = size * nmemb;
	char line[HEADER_LINE_MAX];
	const char *v;

	if (n >= 5 && strncmp(data, "HTTP/", 5) == 0)
		pc->retry_after_ms = -1;
	else if ((v = header_value(data, n, "Retry-After", line, sizeof(line))))
		pc->retry_after_ms = http_parse_retry_after(v, pc->now);
	return n;
}

/* Accept, and for a POST "Expect:" (off: no 100-continue round trip for our small bodies)
 * and the Content-Type, then rq's own lines. NULL when out of memory. */
static struct curl_slist *request_headers(const struct http_request *rq)
{
	struct curl_slist *hl = NULL, *tmp;
	char ctype[128];

	snprintf(ctype, sizeof(ctype), "Content-Type: %s",
		 rq->content_type ? rq->content_type : "application/json");
	const char *fixed[] = {"Accept: application/json", "Expect:", ctype};
	size_t nfixed = rq->body ? 3 : 1;
	for (size_t i = 0; i < nfixed + rq->nheaders; i++) {
		const char *line = i < nfixed ? fixed[i] : rq->headers[i - nfixed];
		tmp = curl_slist_append(hl, line);
		if (!tmp) {
			curl_slist_free_all(hl);
			return NULL;
		}
		hl = tmp;
	}
	return hl;
}

/* Every option of one API call on h. Returns CURLE_OK or the first failure. */
static CURLcode setup_request(struct http_client *c, CURL *h, const struct http_request *rq,
			      struct curl_slist *hl, struct post_ctx *pc)
{
	CURLcode rc;

	pc->guard.c = c;
	rc = setup_common(c, h, rq->url, &pc->guard);

	SETOPT(h, rc, CURLOPT_HTTPHEADER, hl);
	if (rq->body) {
		SETOPT(h, rc, CURLOPT_POST, 1L);
		SETOPT(h, rc, CURLOPT_POSTFIELDS, rq->body);
		SETOPT(h, rc, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(rq->body));
	} else {
		SETOPT(h, rc, CURLOPT_HTTPGET, 1L);
	}
	SETOPT(h, rc, CURLOPT_TIMEOUT_MS, c->opt.request_timeout_ms);
	SETOPT(h, rc, CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(h, rc, CURLOPT_WRITEFUNCTION, post_write);
	SETOPT(h, rc, CURLOPT_WRITEDATA, pc);
	SETOPT(h, rc, CURLOPT_HEADERFUNCTION, post_header);
	SETOPT(h, rc, CURLOPT_HEADERDATA, pc);
	return rc;
}

/* The answer's Content-Type into out, printable ASCII only (it reaches messages). */
static void content_type_of(CURL *h, char *out, size_t cap)
{
	char *ct = NULL;
	size_t n = 0;

	if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
		for (; ct[n] && n + 1 < cap; n++)
			out[n] = ct[n] >= 0x20 && ct[n] < 0x7f && ct[n] != '"' ? ct[n] : ' ';
	out[n] = '\0';
}

void http_reply_context(const struct http_response *resp, struct client_error *err)
{
	char was[PROVIDER_MSG_MAX];

	if (err->kind != CLIENT_E_PROTOCOL || !strstr(err->msg, "the reply is not JSON"))
		return;
	snprintf(was, sizeof(was), "%s", err->msg); /* never format msg into itself */
	client_error_set(err, CLIENT_E_PROTOCOL, "HTTP %ld, Content-Type %s: %.180s",
			 resp->status, resp->content_type[0] ? resp->content_type : "(none)", was);
}

int http_request(struct http_client *c, const struct http_request *rq,
		 struct http_response *resp, struct client_error *err)
{
	struct post_ctx pc = {.retry_after_ms = -1, .now = time(NULL)};
	char where[HOST_MAX + PATH_MAX_LOG];
	const char *method = rq->body ? "POST" : "GET";
	struct curl_slist *hl;
	CURL *h = NULL;
	CURLcode rc;
	long status = 0;

	memset(resp, 0, sizeof(*resp));
	resp->retry_after_ms = -1;
	if (!check_http_url(rq->url)) {
		client_error_set(err, CLIENT_E_PROTOCOL, "refusing non-http(s) URL");
		return -1;
	}
	buf_init(&pc.body, c->opt.max_response_bytes);
	url_describe(rq->url, 1, where, sizeof(where));
	log_debug("%s %s", method, where);
	hl = request_headers(rq);
	if (!hl || !(h = pool_take(c)))
		goto oom;
	rc = setup_request(c, h, rq, hl, &pc);
	if (rc == CURLE_OK)
		rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	err->http_status = (int)status;
	content_type_of(h, resp->content_type, sizeof(resp->content_type));
	if (pc.failed == -E2BIG) {
		client_error_set(err, CLIENT_E_PROTOCOL, "response larger than %zu bytes from %s",
				 pc.body.max, where);
		goto fail;
	}
	if (pc.failed)
		goto oom;
	if (rc != CURLE_OK) {
		curl_error(rc, err);
		goto fail;
	}
	size_t len = pc.body.len;
	if (!(resp->body = buf_take(&pc.body)))
		goto oom;
	pool_give(c, h);
	curl_slist_free_all(hl);
	resp->status = status;
	resp->len = len;
	resp->retry_after_ms = pc.retry_after_ms;
	log_debug("%s %s -> HTTP %ld, %zu bytes", method, where, status, resp->len);
	return 0;
oom:
	err->sys_errno = ENOMEM;
	client_error_set(err, CLIENT_E_LOCAL, "out of memory");
fail:
	if (h)
		pool_give(c, h);
	curl_slist_free_all(hl);
	buf_free(&pc.body);
	return -1;
}

int http_post_json(struct http_client *c, const char *url, const char *const *headers,
		   size_t nheaders, const char *body, struct http_response *resp,
		   struct client_error *err)
{
	struct http_request rq = {url, headers, nheaders, body, "application/json"};
	return http_request(c, &rq, resp, err);
}

void http_response_free(struct http_response *r)
{
	if (!r)
		return;
	free(r->body);
	memset(r, 0, sizeof(*r));
	r->retry_after_ms = -1;
}

/* ---- downloads ---- */

struct dl_ctx {
	const struct download_sink *sink;
	uint64_t offset; /* asked for */
	time_t now;
	/* headers of the response being read (reset at each status line) */
	long status;
	int has_location;
	int has_length;
	uint64_t length;
	int has_range;
	char range[HEADER_LINE_MAX];
	long retry_after_ms;
	/* the final response, once its headers ended */
	int decided;
	uint64_t body_start; /* file offset of the first body byte */
	uint64_t expected;   /* body bytes declared, UINT64_MAX unknown */
	uint64_t received;
	uint64_t total; /* whole file size, UINT64_MAX unknown */
	int range_refused; /* got 416 */
	int failed;	   /* err is set: our callbacks aborted the transfer */
	struct client_error *err;
	struct sock_guard guard;
};

/* A failed sink call (-errno) into *err: cancelled, or a local error. */
static void dl_sink_error(struct client_error *err, int rc)
{
	if (rc == -ECANCELED) {
		client_error_set(err, CLIENT_E_CANCELLED, "download cancelled");
	} else {
		err->sys_errno = -rc;
		client_error_set(err, CLIENT_E_LOCAL, "download sink: %s", strerror(-rc));
	}
}

/* A 206: its Content-Range must start where we asked and agree with Content-Length. */
static int dl_take_partial(struct dl_ctx *d)
{
	struct client_error *err = d->err;
	uint64_t a, b, t;

	if (!d->has_range || http_parse_content_range(d->range, &a, &b, &t) != 0) {
		client_error_set(err, CLIENT_E_PROTOCOL, "206 without a valid Content-Range");
		return -1;
	}
	if (a != d->offset) {
		client_error_set(err, CLIENT_E_PROTOCOL,
				 "Content-Range starts at %" PRIu64 ", asked for %" PRIu64, a,
				 d->offset);
		return -1;
	}
	if (d->has_length && d->length != b - a + 1) {
		client_error_set(err, CLIENT_E_PROTOCOL,
				 "Content-Length %" PRIu64 " disagrees with Content-Range",
				 d->length);
		return -1;
	}
	d->body_start = a;
	d->expected = b - a + 1;
	d->total = t;
	return 0;
}

/* A final status other than 200 and 206 into *err, of the kind the caller can act on; -1. */
static int dl_refuse(struct dl_ctx *d)
{
	struct client_error *err = d->err;

	if (d->status == 416) {
		d->range_refused = 1;
		client_error_set(err, CLIENT_E_PROTOCOL, "range not satisfiable (HTTP 416)");
	} else if (d->status == 403 || d->status == 404 || d->status == 410) {
		client_error_set(err, CLIENT_E_URL_EXPIRED, "download URL refused (HTTP %ld)",
				 d->status);
	} else if (d->status == 429 || (d->status == 503 && d->retry_after_ms >= 0)) {
		err->retry_after_ms = d->retry_after_ms;
		client_error_set(err, CLIENT_E_RATE_LIMIT, "download rate limited (HTTP %ld)",
				 d->status);
	} else if (d->status >= 500 && d->status <= 599) {
		client_error_set(err, CLIENT_E_TRANSIENT, "download server error (HTTP %ld)",
				 d->status);
	} else {
		client_error_set(err, CLIENT_E_PROTOCOL, "unexpected HTTP %ld to a download",
				 d->status);
	}
	return -1;
}

/* The final response's headers are complete: accept it (begin the sink) or fail. */
static int dl_decide(struct dl_ctx *d)
{
	d->decided = 1;
	d->err->http_status = (int)d->status;
	if (d->status == 206) {
		if (dl_take_partial(d) != 0)
			return -1;
	} else if (d->status == 200) {
		if (d->offset > 0)
			log_debug("download: server ignored Range, taking the whole body");
		d->body_start = 0;
		d->expected = d->has_length ? d->length : UINT64_MAX;
		d->total = d->expected;
	} else {
		return dl_refuse(d);
	}
	int rc = d->sink->begin(d->sink->ctx, d->body_start, d->total);
	if (rc < 0) {
		dl_sink_error(d->err, rc);
		return -1;
	}
	return 0;
}

static size_t dl_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct dl_ctx *d = arg;
	size_t n = size * nmemb;
	char line[HEADER_LINE_MAX];
	const char *v;

	if (d->decided)
		return n; /* trailers */
	if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		const char *sp = memchr(data, ' ', n);
		d->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		d->has_location = d->has_length = d->has_range = 0;
		d->retry_after_ms = -1;
		return n;
	}
	if ((n == 2 && data[0] == '\r' && data[1] == '\n') || (n == 1 && data[0] == '\n')) {
		/* End of one response's headers: interim and followed redirects are skipped. */
		if (d->status >= 100 && d->status < 200)
			return n;
		if (d->status >= 300 && d->status < 400 && d->has_location)
			return n;
		if (dl_decide(d) != 0) {
			d->failed = 1;
			return 0;
		}
		return n;
	}
	if ((v = header_value(data, n, "Content-Length", line, sizeof(line)))) {
		const char *p = v;
		d->has_length = parse_u64(&p, &d->length) == 0 && *p == '\0';
	} else if ((v = header_value(data, n, "Content-Range", line, sizeof(line)))) {
		d->has_range = 1;
		snprintf(d->range, sizeof(d->range), "%s", v);
	} else if ((v = header_value(data, n, "Retry-After", line, sizeof(line)))) {
		d->retry_after_ms = http_parse_retry_after(v, d->now);
	} else if (header_value(data, n, "Location", line, sizeof(line))) {
		d->has_location = 1;
	}
	return n;
}

static size_t dl_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct dl_ctx *d = arg;
	size_t n = size * nmemb;

	if (!d->decided) {
		client_error_set(d->err, CLIENT_E_PROTOCOL, "download body before headers");
		goto abort;
	}
	if (d->expected != UINT64_MAX && n > d->expected - d->received) {
		client_error_set(d->err, CLIENT_E_PROTOCOL,
				 "download sent more than the %" PRIu64 " bytes declared",
				 d->expected);
		goto abort;
	}
	int rc = d->sink->write(d->sink->ctx, data, n, d->body_start + d->received);
	if (rc < 0) {
		dl_sink_error(d->err, rc);
		goto abort;
	}
	d->received += n;
	return n;
abort:
	d->failed = 1;
	return 0;
}

/* Every option of one download GET from offset on h. Returns CURLE_OK or the first failure. */
static CURLcode setup_download(struct http_client *c, CURL *h, const char *url,
			       uint64_t offset, struct dl_ctx *d)
{
	char range[32];
	CURLcode rc = setup_common(c, h, url, &d->guard);

	/* What started as https stays https: a redirect may not drop TLS. */
	if (!strncasecmp(url, "https://", 8))
		SETOPT(h, rc, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	SETOPT(h, rc, CURLOPT_HTTPGET, 1L);
	/* Bigger reads than the 16 KiB default: fewer sink calls (pwrite + hash) per file. */
	SETOPT(h, rc, CURLOPT_BUFFERSIZE, 256L * 1024);
	SETOPT(h, rc, CURLOPT_FOLLOWLOCATION, 1L);
	SETOPT(h, rc, CURLOPT_MAXREDIRS, HTTP_MAX_REDIRS);
	/* curl aborts when the speed stays below the limit for LOW_SPEED_TIME: a trickle is a
	 * stall too, or one slow server could hold an export slot for days. */
	SETOPT(h, rc, CURLOPT_LOW_SPEED_LIMIT,
	       c->opt.download_min_rate > 0 ? c->opt.download_min_rate : 1L);
	SETOPT(h, rc, CURLOPT_LOW_SPEED_TIME, c->opt.download_stall_s);
	SETOPT(h, rc, CURLOPT_WRITEFUNCTION, dl_write);
	SETOPT(h, rc, CURLOPT_WRITEDATA, d);
	SETOPT(h, rc, CURLOPT_HEADERFUNCTION, dl_header);
	SETOPT(h, rc, CURLOPT_HEADERDATA, d);
	if (offset > 0) {
		/* curl copies the string: range may go out of scope once it is set. */
		snprintf(range, sizeof(range), "%" PRIu64 "-", offset);
		SETOPT(h, rc, CURLOPT_RANGE, range);
	}
	return rc;
}

/* One GET from offset. Returns 0, or -1 with *err (and d->range_refused for a 416). */
static int dl_once(struct http_client *c, const char *url, uint64_t offset,
		   const struct download_sink *sink, struct dl_ctx *d, struct client_error *err)
{
	CURL *h;
	CURLcode rc;

	memset(d, 0, sizeof(*d));
	d->sink = sink;
	d->offset = offset;
	d->now = time(NULL);
	d->retry_after_ms = -1;
	d->total = UINT64_MAX;
	d->expected = UINT64_MAX;
	d->err = err;
	d->guard.c = c;
	d->guard.download = 1;
	d->guard.api_private = c->opt.allow_private || api_on_private(c);

	h = pool_take(c);
	if (!h) {
		err->sys_errno = ENOMEM;
		client_error_set(err, CLIENT_E_LOCAL, "out of memory");
		return -1;
	}
	rc = setup_download(c, h, url, offset, d);
	if (rc == CURLE_OK)
		rc = curl_easy_perform(h);
	pool_give(c, h);

	if (d->failed)
		return -1;
	if (d->guard.refused) {
		client_error_set(err, CLIENT_E_PROTOCOL,
				 "refusing to download from %s: a loopback, link-local or private "
				 "address (download_allow_private = yes allows it)",
				 d->guard.addr);
		return -1;
	}
	if (rc == CURLE_UNSUPPORTED_PROTOCOL && !strncasecmp(url, "https://", 8)) {
		client_error_set(err, CLIENT_E_PROTOCOL,
				 "refusing a redirect from https to another scheme");
		return -1;
	}
	if (rc == CURLE_OPERATION_TIMEDOUT && d->decided && c->opt.download_min_rate > 0) {
		/* Only the speed check times a download out once its headers came. */
		client_error_set(err, CLIENT_E_TRANSIENT,
				 "download slower than download_min_rate (%ld bytes/s) for %ld s, "
				 "after %" PRIu64 " bytes",
				 c->opt.download_min_rate, c->opt.download_stall_s, d->received);
		snprintf(err->code, sizeof(err->code), "%s", PROVIDER_CODE_STALL);
		return -1;
	}
	if (rc != CURLE_OK) {
		curl_error(rc, err);
		if (d->decided && d->expected != UINT64_MAX)
			client_error_set(err, err->kind,
					 "%s after %" PRIu64 " of %" PRIu64 " bytes",
					 curl_easy_strerror(rc), d->received, d->expected);
		return -1;
	}
	if (!d->decided) {
		client_error_set(err, CLIENT_E_PROTOCOL, "download ended without a response");
		return -1;
	}
	if (d->expected != UINT64_MAX && d->received != d->expected) {
		client_error_set(err, CLIENT_E_TRANSIENT,
				 "download short: %" PRIu64 " of %" PRIu64 " bytes", d->received,
				 d->expected);
		return -1;
	}
	return 0;
}

int http_download(struct http_client *c, const char *url, uint64_t offset,
		  const struct download_sink *sink, uint64_t *total, struct client_error *err)
{
	char host[HOST_MAX];
	struct dl_ctx d;
	int rc;

	if (total)
		*total = UINT64_MAX;
	if (!check_http_url(url)) {
		client_error_set(err, CLIENT_E_PROTOCOL, "refusing non-http(s) download URL");
		return -1;
	}
	url_describe(url, 0, host, sizeof(host));
	log_debug("GET %s (download from %" PRIu64 ")", host, offset);
	rc = dl_once(c, url, offset, sink, &d, err);
	if (rc != 0 && d.range_refused && offset > 0) {
		/* Our idea of the file disagrees with the server's: start over, once. */
		log_debug("download: 416 for offset %" PRIu64 ", restarting from 0", offset);
		client_error_clear(err);
		rc = dl_once(c, url, 0, sink, &d, err);
	}
	if (total)
		*total = d.total;
	if (rc == 0)
		log_debug("GET %s done: %" PRIu64 " bytes from %" PRIu64, host, d.received,
			  d.body_start);
	return rc;
}
