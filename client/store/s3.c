/* The shared store's operations: PUT, GET with verification, HEAD, DELETE (s3.h). */
#include "s3.h"
#include "s3_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "../../common/log.h"

int s3_xml_value(const char *xml, const char *tag, char *out, size_t cap)
{
	char open[64], close[64];
	const char *a, *b;

	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	if (!xml || !(a = strstr(xml, open)))
		return -1;
	a += strlen(open);
	if (!(b = strstr(a, close)) || (size_t)(b - a) >= cap)
		return -1;
	for (size_t i = 0; i < (size_t)(b - a); i++)
		out[i] = a[i] >= 0x20 && a[i] < 0x7f ? a[i] : '?';
	out[b - a] = '\0';
	return 0;
}

int s3_status_error(const struct http_response *resp, const char *what,
		    struct client_error *err)
{
	char code[PROVIDER_CODE_MAX] = "";
	long st = resp->status;

	/* The store's code (AccessDenied, NoSuchBucket) names no secret: shown as is. */
	s3_xml_value(resp->body, "Code", code, sizeof(code));
	snprintf(err->code, sizeof(err->code), "%s", code);
	err->http_status = (int)st;
	if (st == 403)
		client_error_set(err, CLIENT_E_AUTH,
				 "%s: the store refused the credentials (HTTP 403%s%s)", what,
				 code[0] ? " " : "", code);
	else if (st == 404)
		client_error_set(err, CLIENT_E_NOT_FOUND, "%s: not in the store (HTTP 404%s%s)",
				 what, code[0] ? " " : "", code);
	else if (st == 429 || (st == 503 && strcmp(code, "SlowDown") == 0)) {
		err->retry_after_ms = resp->retry_after_ms;
		client_error_set(err, CLIENT_E_RATE_LIMIT, "%s: the store is slowing us down (HTTP %ld)",
				 what, st);
	} else if (st >= 500 && st <= 599)
		client_error_set(err, CLIENT_E_TRANSIENT, "%s: store error (HTTP %ld%s%s)", what,
				 st, code[0] ? " " : "", code);
	else
		client_error_set(err, CLIENT_E_PROTOCOL, "%s: unexpected HTTP %ld from the store%s%s",
				 what, st, code[0] ? ": " : "", code);
	return -1;
}

int s3_send(struct s3_store *s, const char *method, const char *key, const char *query,
	    struct http_xfer *x, struct http_response *resp, struct client_error *err)
{
	char url[S3_URL_MAX];

	if (s3_url(s, key, query, url, sizeof(url)) != 0) {
		client_error_set(err, CLIENT_E_INVALID, "%s: bad store key", method);
		return -1;
	}
	x->method = method;
	x->url = url;
	x->sigv4 = s->sigv4;
	x->user = s->access;
	x->password = s->secret;
	x->ca_file = s->ca_file;
	x->connect_to = s->connect_to;
	return http_xfer(s->http, x, resp, err);
}

/* One PUT of fd's size bytes, conditional or not. 0 with *status, or -1 with *err. */
static int put_once(struct s3_store *s, const char *key, int fd, uint64_t size,
		    const char *sha256, int conditional, struct http_response *resp,
		    struct client_error *err)
{
	char hash[100];
	const char *hdr[2] = {hash, "If-None-Match: *"};
	struct http_xfer x = {.headers = hdr, .nheaders = conditional ? 2 : 1, .body_fd = fd,
			      .body_len = size};

	snprintf(hash, sizeof(hash), "x-amz-content-sha256: %s", sha256);
	return s3_send(s, "PUT", key, "", &x, resp, err);
}

int s3_put_file(struct s3_store *s, const char *key, int fd, uint64_t size,
		const char *sha256, int *existed, struct client_error *err)
{
	struct s3_resume r = {.upload_id = ""};
	int rc = s3_put_file_resumable(s, key, fd, size, sha256, &r, existed, err);

	s3_resume_abort(s, key, &r); /* no next try here: nothing stays open */
	return rc;
}

int s3_put_file_resumable(struct s3_store *s, const char *key, int fd, uint64_t size,
			  const char *sha256, struct s3_resume *r, int *existed,
			  struct client_error *err)
{
	struct http_response resp;
	int conditional = !atomic_load(&s->no_conditional), rc;

	if (existed)
		*existed = 0;
	if (size > S3_MULTIPART_MIN) {
		uint64_t have;
		if (s3_head(s, key, &have, err) == 0 && have == size) {
			if (existed)
				*existed = 1;
			return 0;
		}
		if (err->kind == CLIENT_E_AUTH)
			return -1;
		client_error_clear(err);
		return s3_put_multipart(s, key, fd, size, r, err);
	}
	for (;;) {
		if (put_once(s, key, fd, size, sha256, conditional, &resp, err) != 0)
			return -1;
		if (resp.status == 501 && conditional) {
			/* The store cannot create-if-absent (Swift's s3api): the key is the
			 * content's hash, so overwriting it writes the same bytes. */
			atomic_store(&s->no_conditional, 1);
			log_info("store %s: no conditional PUT (HTTP 501): plain PUTs from now on",
				 s->where);
			http_response_free(&resp);
			conditional = 0;
			continue;
		}
		break;
	}
	if (resp.status == 412 && existed)
		*existed = 1;
	rc = resp.status == 412 || (resp.status >= 200 && resp.status <= 299)
		     ? 0
		     : s3_status_error(&resp, "PUT", err);
	http_response_free(&resp);
	return rc;
}

/* Counts and hashes what passes to the caller's sink. */
struct verify_sink {
	const struct download_sink *inner;
	EVP_MD_CTX *md;
	uint64_t bytes;
	uint64_t size; /* expected */
};

static int verify_begin(void *ctx, uint64_t offset, uint64_t total)
{
	struct verify_sink *v = ctx;

	if (offset != 0 || (v->md && !EVP_DigestInit_ex(v->md, EVP_sha256(), NULL)))
		return -EIO;
	v->bytes = 0;
	return v->inner->begin(v->inner->ctx, 0, total);
}

static int verify_write(void *ctx, const void *buf, size_t len, uint64_t offset)
{
	struct verify_sink *v = ctx;

	if (v->bytes + len > v->size)
		return -EFBIG; /* longer than the pointer says: corrupt, stop reading */
	if (v->md && !EVP_DigestUpdate(v->md, buf, len))
		return -EIO;
	v->bytes += len;
	return v->inner->write(v->inner->ctx, buf, len, offset);
}

/* Whether v saw exactly the expected bytes with the expected digest. 0 or -1 with *err. */
static int verify_end(struct verify_sink *v, const char *sha256, struct client_error *err)
{
	unsigned char md[32];
	char hex[S3_SHA256_HEX];
	unsigned int n = 0;

	if (v->bytes != v->size) {
		client_error_set(err, CLIENT_E_PROTOCOL,
				 "store object size mismatch: %" PRIu64 " bytes, expected %" PRIu64,
				 v->bytes, v->size);
		return -1;
	}
	if (!sha256)
		return 0; /* the caller's sink checks the digest */
	if (!EVP_DigestFinal_ex(v->md, md, &n) || n != 32) {
		client_error_set(err, CLIENT_E_LOCAL, "SHA-256 failed");
		return -1;
	}
	for (unsigned int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	if (strcmp(hex, sha256) != 0) {
		client_error_set(err, CLIENT_E_PROTOCOL, "store object SHA-256 mismatch");
		return -1;
	}
	return 0;
}

int s3_get_file(struct s3_store *s, const char *key, uint64_t size, const char *sha256,
		const struct download_sink *sink, struct client_error *err)
{
	struct verify_sink v = {.inner = sink, .md = sha256 ? EVP_MD_CTX_new() : NULL,
				.size = size};
	struct download_sink vs = {.begin = verify_begin, .write = verify_write, .ctx = &v};
	const char *hdr[1] = {"x-amz-content-sha256: " S3_EMPTY_SHA256};
	struct http_xfer x = {.headers = hdr, .nheaders = 1, .body_fd = -1, .out = &vs};
	struct http_response resp;
	int rc = -1;

	if (sha256 && !v.md) {
		client_error_set(err, CLIENT_E_LOCAL, "out of memory");
		return -1;
	}
	if (s3_send(s, "GET", key, "", &x, &resp, err) != 0) {
		if (err->sys_errno == EFBIG)
			client_error_set(err, CLIENT_E_PROTOCOL,
					 "store object larger than %" PRIu64 " bytes", size);
		goto out;
	}
	if (resp.status < 200 || resp.status > 299)
		s3_status_error(&resp, "GET", err);
	else if (resp.status != 200)
		client_error_set(err, CLIENT_E_PROTOCOL, "GET: unexpected HTTP %ld from the store",
				 resp.status);
	else if (size == 0 && v.bytes == 0 && sink->begin(sink->ctx, 0, 0) < 0)
		client_error_set(err, CLIENT_E_LOCAL, "store sink refused an empty file");
	else
		rc = verify_end(&v, sha256, err);
	http_response_free(&resp);
out:
	EVP_MD_CTX_free(v.md);
	return rc;
}

/* A bodiless request to key; 0 for a 2xx (with *length), else -1 with *err. */
static int simple(struct s3_store *s, const char *method, const char *key, int64_t *length,
		  struct client_error *err)
{
	const char *hdr[1] = {"x-amz-content-sha256: " S3_EMPTY_SHA256};
	struct http_xfer x = {.headers = hdr, .nheaders = 1, .body_fd = -1};
	struct http_response resp;
	int rc = 0;

	if (s3_send(s, method, key, "", &x, &resp, err) != 0)
		return -1;
	if (resp.status < 200 || resp.status > 299)
		rc = s3_status_error(&resp, method, err);
	else if (length)
		*length = resp.length;
	http_response_free(&resp);
	return rc;
}

int s3_head(struct s3_store *s, const char *key, uint64_t *size, struct client_error *err)
{
	int64_t len = -1;

	if (simple(s, "HEAD", key, &len, err) != 0)
		return -1;
	if (len < 0) {
		client_error_set(err, CLIENT_E_PROTOCOL, "HEAD: no Content-Length from the store");
		return -1;
	}
	if (size)
		*size = (uint64_t)len;
	return 0;
}

int s3_delete(struct s3_store *s, const char *key, struct client_error *err)
{
	if (simple(s, "DELETE", key, NULL, err) == 0)
		return 0;
	if (err->kind == CLIENT_E_NOT_FOUND && strcmp(err->code, "NoSuchBucket") != 0) {
		client_error_clear(err);
		return 0; /* already gone: what a DELETE wants */
	}
	return -1;
}

int s3_get_small(struct s3_store *s, const char *key, char **body, size_t *len,
		 struct client_error *err)
{
	const char *hdr[1] = {"x-amz-content-sha256: " S3_EMPTY_SHA256};
	struct http_xfer x = {.headers = hdr, .nheaders = 1, .body_fd = -1};
	struct http_response resp;

	*body = NULL;
	*len = 0;
	if (s3_send(s, "GET", key, "", &x, &resp, err) != 0)
		return -1;
	if (resp.status != 200) {
		s3_status_error(&resp, "GET", err);
		http_response_free(&resp);
		return -1;
	}
	*body = resp.body;
	*len = resp.len;
	resp.body = NULL;
	http_response_free(&resp);
	return 0;
}

int s3_put_small(struct s3_store *s, const char *key, const char *body, size_t len,
		 const char *content_type, struct client_error *err)
{
	unsigned char md[32];
	unsigned int n = 0;
	char hash[100], ctype[128];
	const char *hdr[2] = {hash, ctype};
	struct http_xfer x = {.headers = hdr, .nheaders = content_type ? 2 : 1, .body = body,
			      .body_fd = -1, .body_len = len};
	struct http_response resp;
	int rc = 0;

	if (!EVP_Digest(body, len, md, &n, EVP_sha256(), NULL) || n != 32) {
		client_error_set(err, CLIENT_E_LOCAL, "SHA-256 failed");
		return -1;
	}
	n = (unsigned int)snprintf(hash, sizeof(hash), "x-amz-content-sha256: ");
	for (int i = 0; i < 32; i++)
		snprintf(hash + n + 2 * i, 3, "%02x", md[i]);
	snprintf(ctype, sizeof(ctype), "Content-Type: %s", content_type ? content_type : "");
	if (s3_send(s, "PUT", key, "", &x, &resp, err) != 0)
		return -1;
	if (resp.status < 200 || resp.status > 299)
		rc = s3_status_error(&resp, "PUT", err);
	http_response_free(&resp);
	return rc;
}
