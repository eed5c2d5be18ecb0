/*
 * Multipart upload of a big file to the shared store (s3.h): create, parts of S3_PART_SIZE,
 * complete. A try that fails for a reason a retry may fix keeps the upload open and its id in
 * the caller's struct s3_resume: the next try lists the parts the store has (ListParts) and
 * sends only the others, so a cut upload resumes instead of starting over. Any other failure,
 * and giving up (s3_resume_abort), aborts the upload so the store keeps no orphaned parts.
 * Parts are sent with UNSIGNED-PAYLOAD (hashing each part first would read the file twice);
 * the whole object's SHA-256 is in its key and checked by every reader.
 */
#include "s3.h"
#include "s3_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/buf.h"
#include "../../common/log.h"

#define UPLOAD_ID_MAX (S3_UPLOAD_ID_MAX / 3)
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

/* The ETags of the parts an open upload has, by part number (1..nparts), into etags
 * (nparts x ETAG_MAX, "" for a part it lacks or holds with another size than the file's
 * part). 0, or -1 with *err (the upload is gone: NoSuchUpload, or the store failed). */
static int mp_list(struct s3_store *s, const char *key, const char *id, uint64_t size,
		   int nparts, char (*etags)[ETAG_MAX], struct client_error *err)
{
	struct http_xfer x = {.headers = unsigned_hdr, .nheaders = 1, .body_fd = -1};
	struct http_response resp;
	char query[UPLOAD_ID_MAX * 3 + 16], one[1024], num[16], len[24];
	const char *p, *q;
	int rc = -1;

	snprintf(query, sizeof(query), "uploadId=%s", id);
	if (s3_send(s, "GET", key, query, &x, &resp, err) != 0)
		return -1;
	if (resp.status != 200) {
		s3_status_error(&resp, "multipart list", err);
		goto out;
	}
	for (p = resp.body; (p = strstr(p, "<Part>")) && (q = strstr(p, "</Part>")); p = q) {
		size_t n = (size_t)(q - p);
		int i;
		if (n >= sizeof(one))
			continue;
		memcpy(one, p, n);
		one[n] = '\0';
		if (s3_xml_value(one, "PartNumber", num, sizeof(num)) != 0 ||
		    s3_xml_value(one, "Size", len, sizeof(len)) != 0 || (i = atoi(num)) < 1 ||
		    i > nparts)
			continue;
		uint64_t left = size - (uint64_t)(i - 1) * S3_PART_SIZE;
		uint64_t want = left < S3_PART_SIZE ? left : S3_PART_SIZE;
		/* A part of another size is not this file's: sent again. */
		if (strtoull(len, NULL, 10) != want ||
		    s3_xml_value(one, "ETag", etags[i - 1], ETAG_MAX) != 0)
			etags[i - 1][0] = '\0';
	}
	rc = 0;
out:
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

/* Resume r's open upload: the parts the store has into etags. 0; -1 when there is none to
 * resume (r->upload_id cleared: a new one is created). */
static int mp_resume(struct s3_store *s, const char *key, struct s3_resume *r, uint64_t size,
		     int nparts, char (*etags)[ETAG_MAX])
{
	struct client_error err;

	if (!r->upload_id[0])
		return -1;
	client_error_clear(&err);
	if (mp_list(s, key, r->upload_id, size, nparts, etags, &err) == 0) {
		log_info("store %s: resuming a multipart upload", s->where);
		return 0;
	}
	mp_abort(s, key, r->upload_id); /* gone or unreadable: start over */
	r->upload_id[0] = '\0';
	return -1;
}

/* The parts etags lacks, then the completion. 0 or -1 with *err. */
static int mp_send(struct s3_store *s, const char *key, const char *id, int fd, uint64_t size,
		   char (*etags)[ETAG_MAX], struct client_error *err)
{
	struct buf xml;
	char *body;
	int number = 0, rc = -1;

	buf_init(&xml, (size_t)PARTS_MAX * 256);
	if (buf_add_str(&xml, "<CompleteMultipartUpload>") != 0)
		goto oom;
	for (uint64_t off = 0; off < size; off += S3_PART_SIZE) {
		uint64_t len = size - off < S3_PART_SIZE ? size - off : S3_PART_SIZE;
		const char *have = etags[number++];
		if (have[0] ? buf_printf(&xml, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag>"
					       "</Part>", number, have) != 0
			    : mp_part(s, key, id, fd, off, len, number, &xml, err) != 0)
			goto fail;
	}
	if (buf_add_str(&xml, "</CompleteMultipartUpload>") != 0 || !(body = buf_take(&xml)))
		goto oom;
	rc = mp_complete(s, key, id, body, err);
	free(body);
	return rc;
oom:
	client_error_set(err, CLIENT_E_LOCAL, "out of memory");
fail:
	if (err->kind == CLIENT_OK)
		client_error_set(err, CLIENT_E_LOCAL, "out of memory");
	buf_free(&xml);
	return -1;
}

int s3_put_multipart(struct s3_store *s, const char *key, int fd, uint64_t size,
		     struct s3_resume *r, struct client_error *err)
{
	int nparts = (int)((size + S3_PART_SIZE - 1) / S3_PART_SIZE), rc;
	char (*etags)[ETAG_MAX];

	if (nparts > PARTS_MAX) {
		client_error_set(err, CLIENT_E_INVALID, "file too big for %d parts", PARTS_MAX);
		return -1;
	}
	if (!(etags = calloc((size_t)nparts, ETAG_MAX))) {
		client_error_set(err, CLIENT_E_LOCAL, "out of memory");
		return -1;
	}
	if (mp_resume(s, key, r, size, nparts, etags) != 0 &&
	    mp_create(s, key, r->upload_id, sizeof(r->upload_id), err) != 0) {
		free(etags);
		return -1;
	}
	rc = mp_send(s, key, r->upload_id, fd, size, etags, err);
	free(etags);
	if (rc == 0 || client_error_retryable(err)) {
		if (rc == 0)
			r->upload_id[0] = '\0';
		return rc; /* kept open after a fault a retry may fix: the next try resumes */
	}
	s3_resume_abort(s, key, r);
	return -1;
}

void s3_resume_abort(struct s3_store *s, const char *key, struct s3_resume *r)
{
	if (r->upload_id[0])
		mp_abort(s, key, r->upload_id);
	r->upload_id[0] = '\0';
}
