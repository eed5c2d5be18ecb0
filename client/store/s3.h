/*
 * The shared store's room, client/store/: the S3 client the cache's shared store speaks
 * through (cache/shared.c, cache/shared_upload.c), behind s3.h and s3_pointer.h.
 *   s3_config.c     store_url, credentials, keys and URLs: the store struct (built here)
 *   s3.c            PUT, GET with verification, HEAD, DELETE of one object
 *   s3_multipart.c  a big file's multipart upload, resumable across tries
 *   s3_int.h        the store struct and helpers, for this folder's .c files only
 *   s3_pointer.c    the store's key layout and a range pointer's JSON, pure (s3_pointer.h)
 * s3.c builds on s3_config.c and hands a big file to s3_multipart.c, which sends its
 * requests through s3.c's helpers (the two call each other: one job, one upload).
 * s3_pointer.c checks a pointer's writer with the fleet's host-name rule (fleet_name_ok,
 * client/fleet/fleet.h): the folder's one use of another room. No provider, no cache, no FUSE.
 *
 * The shared store: an S3-compatible object store (AWS S3, MinIO, Ceph RGW, Swift s3api, R2)
 * spoken through the HTTP layer (http_xfer) with libcurl's AWS SigV4 signing. Knows nothing
 * of the cache or FUSE; the cache decides what to store (cache/shared_store.c).
 *
 * Design note. store_url names the endpoint, the bucket and a key prefix:
 * https://HOST[:PORT]/BUCKET[/PREFIX]. Path style (the default) sends
 * https://HOST/BUCKET/PREFIX/KEY; store_virtual_host sends https://BUCKET.HOST/PREFIX/KEY.
 * Keys given to the functions below are relative to PREFIX and made of [A-Za-z0-9._~/-] plus
 * what s3_key_ok() allows; every byte else is percent-encoded, so the path curl signs is the
 * path sent. Plain http is refused unless store_insecure is set or the host is loopback
 * (127.0.0.0/8, ::1, localhost): credentials and files would cross the network in clear.
 * Objects are content-addressed (their key ends in their SHA-256), so writing one twice is
 * harmless: a PUT asks If-None-Match: * to skip a copy already there (412 counts as done)
 * and falls back to a plain PUT when the store cannot do that (501, as Swift's s3api).
 * A file above S3_MULTIPART_MIN goes up in parts of S3_PART_SIZE.
 *
 * Credentials: store_credentials_file (one line ACCESS_KEY:SECRET, split at the last ':' so
 * an access key may hold one; mode 0600 like every secret file), else the environment's
 * AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. They never reach a log line or an error.
 *
 * Errors (struct client_error): CLIENT_E_AUTH for 403 (wrong credentials, a clock too far
 * off, no right on the bucket: a configuration error), CLIENT_E_NOT_FOUND for 404 (code
 * "NoSuchKey", or "NoSuchBucket" when the bucket is missing), CLIENT_E_TRANSIENT for 5xx and
 * transport failures, CLIENT_E_RATE_LIMIT for 429 and 503 SlowDown, CLIENT_E_PROTOCOL for
 * what else the store answers and for an object whose size or SHA-256 is not the one
 * expected, CLIENT_E_INVALID for a bad configuration or key, CLIENT_E_CANCELLED when the
 * thread was interrupted (interrupt.h). The store's own error code (AccessDenied, ...) goes
 * into err->code. All functions are thread-safe.
 */
#ifndef ORDERFS_S3_H
#define ORDERFS_S3_H

#include <stddef.h>
#include <stdint.h>

#include "../provider.h"

#define S3_DEFAULT_REGION "us-east-1"
#define S3_MULTIPART_MIN (64ull * 1024 * 1024) /* a bigger file goes up in parts */
#define S3_PART_SIZE (16ull * 1024 * 1024)
#define S3_KEY_MAX 1024	     /* bytes of a key below the prefix, NUL included */
#define S3_SMALL_MAX 65536   /* largest object s3_get_small reads */
#define S3_SHA256_HEX 65     /* 64 lowercase hex digits + NUL */
#define S3_UPLOAD_ID_MAX 1536 /* a multipart upload's id, query-encoded, NUL included */

struct s3_config {
	const char *url;	      /* store_url */
	int virtual_host;	      /* store_virtual_host */
	const char *region;	      /* store_region; NULL or "" = S3_DEFAULT_REGION */
	const char *credentials_file; /* store_credentials_file; NULL = the environment */
	int insecure;		      /* store_insecure: plain http to any host */
	const char *ca_file;	      /* store_ca_file; NULL = the system's CAs */
	const char *connect_to;	      /* tests only: CURLOPT_CONNECT_TO; NULL */
	long stall_s;		      /* a transfer stalled this long is given up; 0 = 60 */
};

/* Where store_url points, parsed. Pure. */
struct s3_location {
	int https;
	char host[256];	  /* as written: a name, an IPv4 or a bracketed IPv6 address */
	char port[8];	  /* "" = the scheme's */
	char bucket[64];  /* 3..63 of [a-z0-9.-] */
	char prefix[512]; /* without slashes at either end; "" = none */
};

struct s3_store;

/*
 * Parse url into *loc. 0, or -1 with *err (CLIENT_E_INVALID) saying what is wrong: not
 * http(s)://HOST/BUCKET[/PREFIX], a bad bucket name, a user or query or fragment in it, plain
 * http to a host other than loopback without insecure, parts too long. Pure.
 */
int s3_parse_url(const char *url, int insecure, struct s3_location *loc,
		 struct client_error *err);

/*
 * The credentials: from path (NULL = the environment). The file must be a regular file
 * readable by its owner only, owned by root or this user, holding ACCESS:SECRET on its first
 * line. On success *access and *secret are new strings (the caller wipes and frees them).
 * 0, or -1 with *err (CLIENT_E_INVALID) naming the file or the variables and what is wrong,
 * never their values.
 */
int s3_read_credentials(const char *path, char **access, char **secret,
			struct client_error *err);

/* A store from cfg: URL and credentials checked, no network. NULL with *err
 * (CLIENT_E_INVALID, CLIENT_E_LOCAL). Free with s3_free (which wipes the secret). */
struct s3_store *s3_new(const struct s3_config *cfg, struct client_error *err);
void s3_free(struct s3_store *s);

/* The bucket and prefix as "BUCKET/PREFIX" (no credential), for .status. Never NULL. */
const char *s3_where(const struct s3_store *s);

/* Whether key can name an object below the prefix: 1..S3_KEY_MAX-1 bytes of
 * [A-Za-z0-9._~/=-], no "//", no leading '/', no "." or ".." segment. 1 or 0. */
int s3_key_ok(const char *key);

/*
 * The URL of key (s3_key_ok) into out (cap bytes), and the URL of the bucket's root when key
 * is NULL. query ("" or NULL = none) is appended after '?' as given: sorted and encoded.
 * 0, or -1 when it does not fit or the key is bad. Pure.
 */
int s3_url(const struct s3_store *s, const char *key, const char *query, char *out,
	   size_t cap);

/*
 * Upload size bytes of fd (read with pread from 0) as key; sha256 is their hex SHA-256
 * (signed as the payload hash). An object already there counts as success (*existed = 1 when
 * the store said so; existed may be NULL). Multipart above S3_MULTIPART_MIN; a failed one is
 * aborted. 0 or -1 with *err.
 */
int s3_put_file(struct s3_store *s, const char *key, int fd, uint64_t size,
		const char *sha256, int *existed, struct client_error *err);

/* A multipart upload kept open across tries of s3_put_file_resumable: "" = none. Zero it
 * before the first try. */
struct s3_resume {
	char upload_id[S3_UPLOAD_ID_MAX];
};

/*
 * s3_put_file, except that a multipart upload that failed for a reason a retry may fix
 * (client_error_retryable) stays open with its id in *r: the next call with the same r sends
 * only the parts the store lacks. Any other outcome closes it (success, or aborted). Call
 * s3_resume_abort when giving up. 0 or -1 with *err.
 */
int s3_put_file_resumable(struct s3_store *s, const char *key, int fd, uint64_t size,
			  const char *sha256, struct s3_resume *r, int *existed,
			  struct client_error *err);

/* Abort r's open multipart upload, if any (best effort, logged), and clear it. */
void s3_resume_abort(struct s3_store *s, const char *key, struct s3_resume *r);

/*
 * Download key into sink (begin(0, size) then writes; on error the sink holds a partial file
 * the caller must discard). Succeeds only when exactly size bytes arrived whose SHA-256 is
 * sha256 (lowercase hex): anything else is CLIENT_E_PROTOCOL "size/SHA-256 mismatch" (a
 * corrupt object) or CLIENT_E_TRANSIENT (cut short). sha256 NULL: the size is checked here
 * and the digest is the caller's to check (a sink that hashes anyway: a second pass over
 * every byte on the transfer's thread cost a quarter of a big file's read). 0 or -1 with
 * *err.
 */
int s3_get_file(struct s3_store *s, const char *key, uint64_t size, const char *sha256,
		const struct download_sink *sink, struct client_error *err);

/* Whether key exists: 0 with *size (may be NULL) set; -1 with *err (CLIENT_E_NOT_FOUND when
 * it does not). */
int s3_head(struct s3_store *s, const char *key, uint64_t *size, struct client_error *err);

/* Delete key (an absent key is success, as S3 answers). 0 or -1 with *err. */
int s3_delete(struct s3_store *s, const char *key, struct client_error *err);

/* A small object (at most S3_SMALL_MAX bytes) into *body (NUL-terminated, *len bytes; the
 * caller frees). 0 or -1 with *err (CLIENT_E_NOT_FOUND when absent). */
int s3_get_small(struct s3_store *s, const char *key, char **body, size_t *len,
		 struct client_error *err);

/* Put len bytes of body as key (overwriting). 0 or -1 with *err. */
int s3_put_small(struct s3_store *s, const char *key, const char *body, size_t len,
		 const char *content_type, struct client_error *err);

#endif
