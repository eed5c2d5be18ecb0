/*
 * Inside the shared store's client: the store struct (s3_config.c builds it, s3.c and
 * s3_multipart.c use it) and the helpers they share. Not for use outside client/store/.
 */
#ifndef ORDERFS_S3_INT_H
#define ORDERFS_S3_INT_H

#include <stdatomic.h>

#include "../http.h"
#include "s3.h"

#define S3_URL_MAX 2048
#define S3_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct s3_store {
	struct s3_location loc;
	int virtual_host;
	char sigv4[64];	 /* "aws:amz:REGION:s3" */
	char where[600]; /* BUCKET/PREFIX */
	char *access;	 /* never logged */
	char *secret;	 /* never logged; wiped on free */
	char *ca_file;
	char *connect_to;
	struct http_client *http;
	atomic_int no_conditional; /* the store answered 501 to If-None-Match: plain PUTs */
};

/* One signed request to key (NULL = the bucket root) with query ("" = none) and headers;
 * body from x's body fields and answer to x's sink (the rest of x is filled here). 0 when
 * an answer arrived (the caller owns *resp), -1 with *err. */
int s3_send(struct s3_store *s, const char *method, const char *key, const char *query,
	    struct http_xfer *x, struct http_response *resp, struct client_error *err);

/* A non-2xx answer to what ("PUT", ...) into *err by the rules of s3.h, with the store's
 * error code (from its XML body) in err->code. Always -1. */
int s3_status_error(const struct http_response *resp, const char *what,
		    struct client_error *err);

/* The text of the first <tag>...</tag> of xml into out (cap bytes), printable ASCII only.
 * 0, or -1 when absent or too long. */
int s3_xml_value(const char *xml, const char *tag, char *out, size_t cap);

/* Multipart upload of size bytes of fd as key (s3_multipart.c), resuming r's open upload;
 * as s3_put_file_resumable. 0 or -1 with *err. */
int s3_put_multipart(struct s3_store *s, const char *key, int fd, uint64_t size,
		     struct s3_resume *r, struct client_error *err);

#endif
