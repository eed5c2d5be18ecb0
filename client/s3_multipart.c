/*
 * Multipart upload of a big file to the shared store (s3.h): create, parts of S3_PART_SIZE,
 * complete; any failure aborts the upload so the store keeps no orphaned parts. Parts are
 * sent with UNSIGNED-PAYLOAD (hashing each part first would read the file twice); the whole
 * object's SHA-256 is in its key and checked by every reader.
 */
#include "s3.h"
#include "s3_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/buf.h"
#include "../common/log.h"

#define UPLOAD_ID_MAX 512
#define ETAG_MAX 128
#define PARTS_MAX 10000 /* S3's limit */

/* Percent-encode s (RFC 3986 unreserved kept) into out. 0, or -1 when it does not fit. */
static int query_encode(const char *s, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~",
			   ch)) {
			if (n + 1 >= cap)
				return -1;
			out[n++] = (char)ch;
		} else {
			if (n + 3 >= cap)
				return -1;
			out[n++] = '%';
			out[n++] = hex[ch >> 4];
			out[n++] = hex[ch & 15];
		}
	}
	out[n] = '\0';
	return 0;
}

static const char *const unsigned_hdr[1] = {"x-amz-content-sha256: UNSIGNED-PAYLOAD"};

/* POST ?uploads: the new upload's id (encoded for a query) into id. 0 or -1 with *err. */
static int mp_create(struct s3_store *s, const char *key, char *id, size_t cap,
		     struct client_error *err)
{
	struct http_xfer x = {.headers = unsigned_hdr, .nheaders = 1, .body_fd = -1};
	struct http_response resp;
	char raw[UPLOAD_ID_MAX];
	int rc = -1;

	if (s3_send(s, "POST", key, "uploads=", &x, &resp, err) != 0)
		return -1;
	if (resp.status != 200)
		s3_status_error(&resp, "multipart create", err);
	else if (s3_xml_value(resp.body, "UploadId", raw, sizeof(raw)) != 0 ||
		 query_encode(raw, id, cap) != 0)
		client_error_set(err, CLIENT_E_PROTOCOL, "multipart create: no UploadId");
	else
		rc = 0;
	http_response_free(&resp);
	return rc;
}

/* PUT one part; its ETag appended to the completion XML in done. 0 or -1 with *err. */
static int mp_part(struct s3_store *s, const char *key, const char *id, int fd, uint64_t off,
		   uint64_t len, int number, struct buf *done, struct client_error *err)
{
	struct http_xfer x = {.headers = unsigned_hdr, .nheaders = 1, .body_fd = fd,
			      .body_off = off, .body_len = len};
	struct http_response resp;
	char query[UPLOAD_ID_MAX * 3 + 64];
	int rc = -1;

	/* Sorted: partNumber before uploadId. */
	snprintf(query, sizeof(query), "partNumber=%d&uploadId=%s", number, id);
	if (s3_send(s, "PUT", key, query, &x, &resp, err) != 0)
		return -1;
	if (resp.status != 200)
		s3_status_error(&resp, "multipart part", err);
	else if (!resp.etag[0] || strpbrk(resp.etag, "<>&"))
		client_error_set(err, CLIENT_E_PROTOCOL, "multipart part: no usable ETag");
	else if (buf_printf(done, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>",
			    number, resp.etag) != 0)
		client_error_set(err, CLIENT_E_LOCAL, "out of memory");
	else
		rc = 0;
	http_response_free(&resp);
	return rc;
}

/* POST ?uploadId: assemble the parts listed in xml. 0 or -1 with *err. */
static int mp_complete(struct s3_store *s, const char *key, const char *id, const char *xml,
		       struct client_error *err)
{
	struct http_xfer x = {.headers = unsigned_hdr, .nheaders = 1, .body = xml,
			      .body_fd = -1, .body_len = strlen(xml)};
	struct http_response resp;
	char query[UPLOAD_ID_MAX * 3 + 16];
	int rc = -1;

	snprintf(query, sizeof(query), "uploadId=%s", id);
	if (s3_send(s, "POST", key, query, &x, &resp, err) != 0)
		return -1;
	/* A 200 may still carry an error document (S3 reports late failures so). */
	if (resp.status != 200 || strstr(resp.body, "<Error>"))
		s3_status_error(&resp, "multipart complete", err);
	else
		rc = 0;
	http_response_free(&resp);
	return rc;
}

/* DELETE ?uploadId: drop the parts sent so far (best effort, logged when it fails). */
static void mp_abort(struct s3_store *s, const char *key, const char *id)
{
	struct http_xfer x = {.headers = unsigned_hdr, .nheaders = 1, .body_fd = -1};
	struct http_response resp;
	struct client_error err;
	char query[UPLOAD_ID_MAX * 3 + 16];

	client_error_clear(&err);
	snprintf(query, sizeof(query), "uploadId=%s", id);
	if (s3_send(s, "DELETE", key, query, &x, &resp, &err) != 0) {
		log_warn("store %s: aborting a multipart upload failed: %s", s->where, err.msg);
		return;
	}
	if (resp.status < 200 || resp.status > 299)
		log_warn("store %s: aborting a multipart upload: HTTP %ld", s->where,
			 resp.status);
	http_response_free(&resp);
}

int s3_put_multipart(struct s3_store *s, const char *key, int fd, uint64_t size,
		     struct client_error *err)
{
	char id[UPLOAD_ID_MAX * 3];
	struct buf xml;
	char *body;
	int number = 0, rc = -1;

	if ((size + S3_PART_SIZE - 1) / S3_PART_SIZE > PARTS_MAX) {
		client_error_set(err, CLIENT_E_INVALID, "file too big for %d parts", PARTS_MAX);
		return -1;
	}
	if (mp_create(s, key, id, sizeof(id), err) != 0)
		return -1;
	buf_init(&xml, (size_t)PARTS_MAX * 128);
	if (buf_add_str(&xml, "<CompleteMultipartUpload>") != 0)
		goto fail;
	for (uint64_t off = 0; off < size; off += S3_PART_SIZE) {
		uint64_t len = size - off < S3_PART_SIZE ? size - off : S3_PART_SIZE;
		if (mp_part(s, key, id, fd, off, len, ++number, &xml, err) != 0)
			goto fail;
	}
	if (buf_add_str(&xml, "</CompleteMultipartUpload>") != 0 || !(body = buf_take(&xml))) {
		client_error_set(err, CLIENT_E_LOCAL, "out of memory");
		goto fail;
	}
	rc = mp_complete(s, key, id, body, err);
	free(body);
	if (rc == 0)
		return 0;
fail:
	if (err->kind == CLIENT_OK)
		client_error_set(err, CLIENT_E_LOCAL, "out of memory");
	mp_abort(s, key, id);
	buf_free(&xml);
	return -1;
}
