/*
 * HTTP for providers: JSON API calls and resumable streaming downloads over libcurl.
 * The only file that includes curl. Knows the provider error kinds, nothing of any API.
 *
 * Design note. One struct http_client is shared by every thread of a provider. It keeps a
 * small mutex-protected pool of idle curl easy handles: a call takes one, uses it without any
 * lock held, and gives it back, so keep-alive connections (each easy handle owns its
 * connection cache) are reused across calls and threads. Only http and https are ever
 * spoken, also on redirects. TLS is verified unless tls_insecure, which is logged loudly.
 * Nothing here logs a body, a header value or a download URL's path or query (they carry
 * tokens): API calls log method, host and path at debug level, downloads only the host.
 * max_requests_per_s caps the API calls of one client (all threads together) with one token
 * bucket; a caller over the cap sleeps, holding no lock, until its turn, so a provider's API
 * sees a bounded request rate however many exports run. Downloads of the files it hands out
 * are not API calls and are not capped (one per finished export).
 */
#ifndef ORDERFS_HTTP_H
#define ORDERFS_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "provider.h"

#define HTTP_DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define HTTP_DEFAULT_REQUEST_TIMEOUT_MS 30000L
#define HTTP_DEFAULT_STALL_S 60L
#define HTTP_DEFAULT_MAX_RESPONSE (1024u * 1024u)
#define HTTP_POOL_MAX 16
#define HTTP_MAX_REDIRS 5L

struct http_options {
	long connect_timeout_ms;   /* 0 = HTTP_DEFAULT_CONNECT_TIMEOUT_MS */
	long request_timeout_ms;   /* whole API call; 0 = HTTP_DEFAULT_REQUEST_TIMEOUT_MS */
	long download_stall_s;	   /* abort a download below download_min_rate this long; 0 = 60 */
	long download_min_rate;	   /* bytes/s a download must average over download_stall_s,
				    * else it is a stall (PROVIDER_CODE_STALL); 0 = only a
				    * download that moves nothing at all is aborted */
	int tls_insecure;	   /* skip certificate and host verification */
	int allow_private;	   /* downloads may reach loopback, link-local and private
				    * addresses even when the API is not on one */
	const char *api_url;	   /* the API's base_url (NULL = none): when its host resolves
				    * to such an address, downloads may too. Copied. */
	size_t max_response_bytes; /* API response cap; 0 = 1 MiB. Downloads are uncapped. */
	double max_requests_per_s; /* cap on API calls (not downloads) of this client, all
				    * threads together; 0 = no cap */
};

struct http_client;

/* A complete API response, whatever its status. */
struct http_response {
	long status;	     /* HTTP status code */
	char *body;	     /* NUL-terminated; owned, free with http_response_free() */
	size_t len;	     /* body bytes, not counting the NUL */
	long retry_after_ms; /* parsed Retry-After, -1 when absent or unparseable */
	char content_type[64]; /* its Content-Type, printable ASCII only; "" when none */
	char etag[128];	       /* its ETag as sent, quotes kept (http_xfer only); "" none */
	int64_t length;	       /* its Content-Length (http_xfer only); -1 when absent */
};

/* Returns a client, or NULL with *err set (CLIENT_E_LOCAL). opt may be NULL for defaults.
 * Initialises libcurl once per process (thread-safe). */
struct http_client *http_client_new(const struct http_options *opt, struct client_error *err);
/* Frees the client and its idle handles. No call may be in flight. NULL is a no-op. */
void http_client_free(struct http_client *c);

/* Change the cap on requests per second (0 = none) of every thread's next request; the
 * burst allowance shrinks with it. Thread-safe. */
void http_set_rate(struct http_client *c, double per_s);

/* One API call: GET when body is NULL, else POST of body with content_type. */
struct http_request {
	const char *url;
	const char *const *headers; /* "Name: value" lines; may carry a token: never logged */
	size_t nheaders;
	const char *body;	  /* NULL: GET */
	const char *content_type; /* POST only; NULL = application/json */
};

/*
 * Send rq and read the whole answer, with the rules of http_post_json below (no redirects,
 * max_response_bytes, the same errors). Thread-safe.
 */
int http_request(struct http_client *c, const struct http_request *rq,
		 struct http_response *resp, struct client_error *err);

/*
 * POST body (JSON) to url with Content-Type: application/json plus headers ("Name: value",
 * nheaders of them). Does not follow redirects. Returns 0 when a response arrived, whatever
 * its status (the caller interprets it; *resp is then owned by the caller), or -1 with *err:
 * CLIENT_E_PROTOCOL for a non-http(s) URL or a body over max_response_bytes ("response
 * larger than ..."), CLIENT_E_TRANSIENT for connect/timeout/reset/resolve failures,
 * CLIENT_E_LOCAL for out of memory; *resp is then empty. Thread-safe.
 */
int http_post_json(struct http_client *c, const char *url, const char *const *headers,
		   size_t nheaders, const char *body, struct http_response *resp,
		   struct client_error *err);
void http_response_free(struct http_response *r);

/* After resp failed to parse: when *err says the reply is not JSON at all
 * (client_reply_not_json), put what came first: "HTTP <status>, Content-Type <type>: ...". */
void http_reply_context(const struct http_response *resp, struct client_error *err);

/*
 * GET url into sink from offset (sends "Range: bytes=offset-" when offset > 0), following up
 * to 5 http(s) redirects, with no extra header at all. Memory use is flat whatever the size.
 * Calls sink->begin once per accepted response: (offset, total) for a 206 whose
 * Content-Range starts at offset; (0, total) for a 200, also when a Range was ignored (the
 * sink starts over). A 416 to a Range restarts once from 0. *total (if not NULL) is set to
 * the file size whenever it became known, UINT64_MAX otherwise.
 * Returns 0 when every declared byte arrived, or -1 with *err:
 *   CLIENT_E_TRANSIENT  fewer bytes than declared (the sink has all received: resume), 5xx,
 *                       connect/timeout/stall/reset/resolve errors; code PROVIDER_CODE_STALL
 *                       when the body came slower than download_min_rate
 *   CLIENT_E_PROTOCOL   more bytes than declared, bad Content-Range, non-http(s) URL,
 *                       unexpected status, too many redirects, TLS verification failure,
 *                       a redirect from https to http, a connection to a loopback,
 *                       link-local or private address (common/netaddr.h) unless the API
 *                       itself answered from one or allow_private is set
 *   CLIENT_E_URL_EXPIRED 403/404/410
 *   CLIENT_E_RATE_LIMIT 429, or 503 with Retry-After (retry_after_ms set)
 *   CLIENT_E_CANCELLED  the sink returned -ECANCELED
 *   CLIENT_E_LOCAL      the sink returned another -errno (sys_errno) or out of memory
 * Thread-safe.
 */
int http_download(struct http_client *c, const char *url, uint64_t offset,
		  const struct download_sink *sink, uint64_t *total, struct client_error *err);

/*
 * A provider's base_url, checked and copied to out (cap bytes) without one trailing slash
 * (check_base_url in common/check.h). 0, or -1 with CLIENT_E_INVALID saying why unless it is
 * http(s)://host[...] without spaces or control characters that fits in cap bytes. Whether a
 * URL is http(s) at all is check_http_url(). Pure; thread-safe.
 */
int http_base_url(const char *base_url, char *out, size_t cap, struct client_error *err);

/* Retry-After value (delta seconds or HTTP-date, relative to now) in ms; -1 if unparseable. */
long http_parse_retry_after(const char *value, time_t now);

/*
 * One request to an object store (client/store/s3.c): any method, signed by libcurl with AWS
 * SigV4, a body from memory or from a file, and a successful answer's body to a sink.
 * The store's URL comes from the configuration, not from a remote answer: loopback and
 * private addresses are allowed, redirects are not followed, the request cap applies.
 */
struct http_xfer {
	const char *method;	     /* "GET", "PUT", "HEAD", "DELETE" or "POST" */
	const char *url;	     /* path and query already encoded (and the query sorted) */
	const char *const *headers;  /* "Name: value" lines, all signed; never logged */
	size_t nheaders;
	const char *sigv4;	     /* CURLOPT_AWS_SIGV4 ("aws:amz:REGION:s3"); NULL = unsigned */
	const char *user;	     /* with sigv4: access key (may hold ':'); never logged */
	const char *password;	     /* with sigv4: secret; never logged */
	const char *ca_file;	     /* CA bundle for https; NULL = the system's */
	const char *connect_to;	     /* CURLOPT_CONNECT_TO "HOST:PORT:CHOST:CPORT" (tests);
				      * NULL = none */
	const char *body;	     /* body from memory (body_len bytes), or NULL: */
	int body_fd;		     /* ... body_len bytes from body_fd at body_off when >= 0;
				      * neither: no body (PUT and POST send Content-Length 0) */
	uint64_t body_off;
	uint64_t body_len;
	const struct download_sink *out; /* a 2xx answer's body goes here (begin(0, length),
					  * then write); NULL = into resp->body, capped */
};

/*
 * Send x and read the answer. The body of a non-2xx answer, and of a 2xx one when x->out is
 * NULL, lands in resp->body (capped at max_response_bytes: bigger is CLIENT_E_PROTOCOL).
 * A transfer with a file body or a sink has no overall time limit, only the stall rule of
 * downloads (download_stall_s); others end after request_timeout_ms.
 * Returns 0 when an answer arrived whole, whatever its status (the caller interprets it and
 * frees *resp), or -1 with *err: CLIENT_E_TRANSIENT for connect/timeout/reset failures and a
 * body shorter than its Content-Length, CLIENT_E_PROTOCOL for a bad URL or an oversized
 * answer, CLIENT_E_CANCELLED when interrupted (interrupt.h) or the sink returned
 * -ECANCELED, CLIENT_E_LOCAL for another sink error (sys_errno), a file read error or out of
 * memory; *resp is then empty. Never logs a header value, a credential or a query.
 * Thread-safe.
 */
int http_xfer(struct http_client *c, const struct http_xfer *x, struct http_response *resp,
	      struct client_error *err);

/* "bytes A-B/T", or with "*" for T (total = UINT64_MAX). Returns 0, or -1 when malformed or
 * A > B or B >= T. Outputs untouched on error. */
int http_parse_content_range(const char *value, uint64_t *start, uint64_t *end,
			     uint64_t *total);

#endif
