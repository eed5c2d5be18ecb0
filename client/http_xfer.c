/*
 * Object-store transfers behind http_xfer() (http.h): any method, AWS SigV4 signed by
 * libcurl, a body read from memory or a file, an answer written to memory or a sink.
 *
 * Signing notes (libcurl 7.88's CURLOPT_AWS_SIGV4): every header line the caller passes is
 * signed, so none is added here that the wire would not carry (an "Expect:" that disables
 * the header would still be signed: the store would see a different request). The payload
 * hash is the caller's x-amz-content-sha256 line: curl cannot hash a body it reads through a
 * callback. The access key and secret go through CURLOPT_USERNAME and CURLOPT_PASSWORD, so
 * a key holding ':' (Swift's account:user) is not split.
 */
#include "http.h"
#include "http_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/buf.h"
#include "../common/check.h"
#include "../common/log.h"

#define XFER_BUFFER (256L * 1024)

struct xfer_ctx {
	const struct http_xfer *x;
	CURL *h;
	struct buf body;     /* error answers, and 2xx ones without a sink */
	int to_sink;	     /* the current answer's body goes to x->out (begun) */
	int failed;	     /* our callback aborted: err says why */
	uint64_t sent;	     /* body bytes read so far */
	long status;	     /* of the answer being read */
	long retry_after_ms; /* its Retry-After, -1 none */
	int64_t length;	     /* its Content-Length, -1 none */
	uint64_t received;   /* its body bytes */
	char etag[128];
	time_t now;
	struct client_error *err;
	struct sock_guard guard;
};

/* The body from memory or from the file, at the offset curl asks for next. */
static size_t xfer_read(char *data, size_t size, size_t nmemb, void *arg)
{
	struct xfer_ctx *xc = arg;
	const struct http_xfer *x = xc->x;
	uint64_t left = x->body_len - xc->sent;
	size_t n = size * nmemb < left ? size * nmemb : (size_t)left;
	ssize_t got;

	if (n == 0)
		return 0;
	if (x->body) {
		memcpy(data, x->body + xc->sent, n);
		xc->sent += n;
		return n;
	}
	do
		got = pread(x->body_fd, data, n, (off_t)(x->body_off + xc->sent));
	while (got < 0 && errno == EINTR);
	if (got <= 0) {
		/* A file that shrank under us, or a disk error: never send a short body. */
		xc->err->sys_errno = got < 0 ? errno : EIO;
		client_error_set(xc->err, CLIENT_E_LOCAL, "reading the body to upload: %s",
				 got < 0 ? strerror(errno) : "file shorter than expected");
		xc->failed = 1;
		return CURL_READFUNC_ABORT;
	}
	xc->sent += (uint64_t)got;
	return (size_t)got;
}

/* Rewind for a resend (curl retries a request on a reused connection that died). */
static int xfer_seek(void *arg, curl_off_t offset, int origin)
{
	struct xfer_ctx *xc = arg;

	if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > xc->x->body_len)
		return CURL_SEEKFUNC_CANTSEEK;
	xc->sent = (uint64_t)offset;
	return CURL_SEEKFUNC_OK;
}

static size_t xfer_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct xfer_ctx *xc = arg;
	size_t n = size * nmemb;
	char line[HEADER_LINE_MAX];
	const char *v;

	if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		const char *sp = memchr(data, ' ', n);
		xc->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		xc->retry_after_ms = -1;
		xc->length = -1;
		xc->etag[0] = '\0';
	} else if ((v = header_value(data, n, "Retry-After", line, sizeof(line)))) {
		xc->retry_after_ms = http_parse_retry_after(v, xc->now);
	} else if ((v = header_value(data, n, "Content-Length", line, sizeof(line)))) {
		char *end;
		long long len = strtoll(v, &end, 10);
		xc->length = end != v && *end == '\0' && len >= 0 ? len : -1;
	} else if ((v = header_value(data, n, "ETag", line, sizeof(line)))) {
		snprintf(xc->etag, sizeof(xc->etag), "%s", v);
	}
	return n;
}

/* The first body byte of a 2xx answer with a sink: begin it. 0 or -1 (err set). */
static int xfer_begin_sink(struct xfer_ctx *xc)
{
	const struct download_sink *out = xc->x->out;
	int rc = out->begin(out->ctx, 0, xc->length >= 0 ? (uint64_t)xc->length : UINT64_MAX);

	if (rc < 0) {
		if (rc == -ECANCELED) {
			client_error_set(xc->err, CLIENT_E_CANCELLED, "transfer cancelled");
		} else {
			xc->err->sys_errno = -rc;
			client_error_set(xc->err, CLIENT_E_LOCAL, "store sink: %s", strerror(-rc));
		}
		return -1;
	}
	xc->to_sink = 1;
	return 0;
}

static size_t xfer_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct xfer_ctx *xc = arg;
	size_t n = size * nmemb;
	int rc;

	if (xc->received == 0 && xc->x->out && xc->status >= 200 && xc->status <= 299 &&
	    !xc->to_sink && xfer_begin_sink(xc) != 0) {
		xc->failed = 1;
		return 0;
	}
	if (xc->to_sink) {
		rc = xc->x->out->write(xc->x->out->ctx, data, n, xc->received);
		if (rc < 0) {
			xc->err->sys_errno = -rc;
			client_error_set(xc->err, rc == -ECANCELED ? CLIENT_E_CANCELLED
								   : CLIENT_E_LOCAL,
					 "store sink: %s", strerror(-rc));
			xc->failed = 1;
			return 0;
		}
	} else if ((rc = buf_add(&xc->body, data, n)) != 0) {
		if (rc == -E2BIG)
			client_error_set(xc->err, CLIENT_E_PROTOCOL,
					 "store answer larger than %zu bytes", xc->body.max);
		else
			client_error_set(xc->err, CLIENT_E_LOCAL, "out of memory");
		xc->failed = 1;
		return 0;
	}
	xc->received += n;
	return n;
}

/* The caller's header lines as a curl list; NULL when out of memory (or none given). */
static struct curl_slist *xfer_headers(const struct http_xfer *x, int *oom)
{
	struct curl_slist *hl = NULL, *tmp;

	*oom = 0;
	for (size_t i = 0; i < x->nheaders; i++) {
		if (!(tmp = curl_slist_append(hl, x->headers[i]))) {
			curl_slist_free_all(hl);
			*oom = 1;
			return NULL;
		}
		hl = tmp;
	}
	return hl;
}

/* The method and its body. */
static CURLcode xfer_method(CURL *h, const struct http_xfer *x, struct xfer_ctx *xc)
{
	CURLcode rc = CURLE_OK;
	int sends = x->body || x->body_fd >= 0;

	if (strcmp(x->method, "PUT") == 0 || strcmp(x->method, "POST") == 0) {
		SETOPT(h, rc, CURLOPT_UPLOAD, 1L);
		SETOPT(h, rc, CURLOPT_INFILESIZE_LARGE, (curl_off_t)(sends ? x->body_len : 0));
		SETOPT(h, rc, CURLOPT_READFUNCTION, xfer_read);
		SETOPT(h, rc, CURLOPT_READDATA, xc);
		SETOPT(h, rc, CURLOPT_SEEKFUNCTION, xfer_seek);
		SETOPT(h, rc, CURLOPT_SEEKDATA, xc);
		if (strcmp(x->method, "POST") == 0)
			SETOPT(h, rc, CURLOPT_CUSTOMREQUEST, "POST");
	} else if (strcmp(x->method, "HEAD") == 0) {
		SETOPT(h, rc, CURLOPT_NOBODY, 1L);
	} else if (strcmp(x->method, "GET") == 0) {
		SETOPT(h, rc, CURLOPT_HTTPGET, 1L);
	} else {
		SETOPT(h, rc, CURLOPT_CUSTOMREQUEST, x->method);
	}
	return rc;
}

static CURLcode xfer_setup(struct http_client *c, CURL *h, const struct http_xfer *x,
			   struct curl_slist *hl, struct curl_slist *connect_to,
			   struct xfer_ctx *xc)
{
	CURLcode rc;
	int big = x->out || x->body_fd >= 0;

	xc->guard.c = c;
	rc = setup_common(c, h, x->url, &xc->guard);
	if (rc == CURLE_OK)
		rc = xfer_method(h, x, xc);
	SETOPT(h, rc, CURLOPT_HTTPHEADER, hl);
	if (x->sigv4) {
		SETOPT(h, rc, CURLOPT_AWS_SIGV4, x->sigv4);
		SETOPT(h, rc, CURLOPT_USERNAME, x->user ? x->user : "");
		SETOPT(h, rc, CURLOPT_PASSWORD, x->password ? x->password : "");
	}
	if (x->ca_file)
		SETOPT(h, rc, CURLOPT_CAINFO, x->ca_file);
	if (connect_to)
		SETOPT(h, rc, CURLOPT_CONNECT_TO, connect_to);
	if (big) {
		/* A file may take long; only a stalled one is given up. */
		SETOPT(h, rc, CURLOPT_LOW_SPEED_LIMIT, 1L);
		SETOPT(h, rc, CURLOPT_LOW_SPEED_TIME, c->opt.download_stall_s);
		/* 256 KiB reads and writes, not curl's 16 and 64 KiB: a 256 MiB object went to
		 * the sink (pwrite, hash feed, progress hook) in 16,384 calls, as the provider's
		 * downloads (http.c) no longer do. */
		SETOPT(h, rc, CURLOPT_BUFFERSIZE, XFER_BUFFER);
		SETOPT(h, rc, CURLOPT_UPLOAD_BUFFERSIZE, XFER_BUFFER);
	} else {
		SETOPT(h, rc, CURLOPT_TIMEOUT_MS, c->opt.request_timeout_ms);
	}
	SETOPT(h, rc, CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(h, rc, CURLOPT_WRITEFUNCTION, xfer_write);
	SETOPT(h, rc, CURLOPT_WRITEDATA, xc);
	SETOPT(h, rc, CURLOPT_HEADERFUNCTION, xfer_header);
	SETOPT(h, rc, CURLOPT_HEADERDATA, xc);
	return rc;
}

/* A finished transfer into *resp (0), or -1 with err for a body cut short. */
static int xfer_answer(struct xfer_ctx *xc, const char *where, struct http_response *resp)
{
	int head = strcmp(xc->x->method, "HEAD") == 0;

	if (!head && xc->length >= 0 && xc->received != (uint64_t)xc->length) {
		client_error_set(xc->err, CLIENT_E_TRANSIENT,
				 "store answer cut short: %" PRIu64 " of %" PRId64 " bytes from %s",
				 xc->received, xc->length, where);
		return -1;
	}
	size_t len = xc->body.len;
	if (!(resp->body = buf_take(&xc->body))) {
		xc->err->sys_errno = ENOMEM;
		client_error_set(xc->err, CLIENT_E_LOCAL, "out of memory");
		return -1;
	}
	resp->status = xc->status;
	resp->len = len;
	resp->retry_after_ms = xc->retry_after_ms;
	resp->length = xc->length;
	snprintf(resp->etag, sizeof(resp->etag), "%s", xc->etag);
	return 0;
}

int http_xfer(struct http_client *c, const struct http_xfer *x, struct http_response *resp,
	      struct client_error *err)
{
	struct xfer_ctx xc = {.x = x, .retry_after_ms = -1, .length = -1, .now = time(NULL),
			      .err = err};
	char where[HOST_MAX + PATH_MAX_LOG];
	struct curl_slist *hl = NULL, *cto = NULL;
	CURL *h = NULL;
	CURLcode rc;
	int oom, ret = -1;

	memset(resp, 0, sizeof(*resp));
	resp->retry_after_ms = -1;
	resp->length = -1;
	if (!check_http_url(x->url)) {
		client_error_set(err, CLIENT_E_PROTOCOL, "refusing non-http(s) URL");
		return -1;
	}
	buf_init(&xc.body, c->opt.max_response_bytes);
	url_describe(x->url, 1, where, sizeof(where));
	log_debug("%s %s", x->method, where);
	hl = xfer_headers(x, &oom);
	if (x->connect_to && !oom && !(cto = curl_slist_append(NULL, x->connect_to)))
		oom = 1;
	if (oom || !(h = pool_take(c))) {
		err->sys_errno = ENOMEM;
		client_error_set(err, CLIENT_E_LOCAL, "out of memory");
		goto out;
	}
	rc = xfer_setup(c, h, x, hl, cto, &xc);
	if (rc == CURLE_OK)
		rc = curl_easy_perform(h);
	err->http_status = (int)xc.status;
	if (xc.failed)
		goto out;
	if (rc != CURLE_OK) {
		curl_error(rc, err);
		goto out;
	}
	ret = xfer_answer(&xc, where, resp);
	if (ret == 0)
		log_debug("%s %s -> HTTP %ld, %" PRIu64 " bytes", x->method, where, xc.status,
			  xc.received);
out:
	if (h)
		pool_give(c, h);
	curl_slist_free_all(hl);
	curl_slist_free_all(cto);
	buf_free(&xc.body);
	return ret;
}
