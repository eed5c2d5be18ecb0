/*
 * Inside the HTTP layer: the client struct and the helpers http.c (API calls, downloads) and
 * http_xfer.c (object-store transfers) share. Not for use outside client/http*.c.
 */
#ifndef ORDERFS_HTTP_INT_H
#define ORDERFS_HTTP_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include <curl/curl.h>

#include "http.h"
#include "../common/netaddr.h"

#define HEADER_LINE_MAX 512
#define HOST_MAX 256
#define PATH_MAX_LOG 512

/* curl_easy_setopt unless an earlier option of the run failed: a run of options reports its
 * first failure in rc. */
#define SETOPT(h, rc, opt, val)                                                            \
	do {                                                                               \
		if ((rc) == CURLE_OK)                                                      \
			(rc) = curl_easy_setopt((h), (opt), (val));                        \
	} while (0)

struct http_client {
	struct http_options opt;
	/* The API itself answered from a loopback, link-local or private address: its
	 * downloads may come from one too (a simulator, a provider inside the network). */
	atomic_int api_private;
	char *api_host;	/* opt.api_url's host (owned; NULL none), resolved once (api_resolved);
			 * sized to its text: a mount holds one client per account */
	atomic_int api_resolved;
	pthread_mutex_t lock; /* protects idle[] and nidle; never held across a transfer */
	CURL *idle[HTTP_POOL_MAX];
	size_t nidle;
	/* Token bucket of max_requests_per_s (burst one second's worth), under rate_lock. */
	pthread_mutex_t rate_lock;
	double tokens;
	struct timespec rate_last;
};

/* What one request's connections may reach (open_socket). */
struct sock_guard {
	struct http_client *c;
	int download;		     /* a download: private addresses are refused */
	int api_private;	     /* a download: the API is on such an address itself */
	int refused;		     /* a connection was refused; addr says where */
	char addr[NETADDR_STR_MAX];
};

/* Take an idle handle (keeping its live connections) or make a new one; options reset.
 * NULL when out of memory. Thread-safe. */
CURL *pool_take(struct http_client *c);
/* Give h back to the idle pool (or clean it up when the pool is full). Thread-safe. */
void pool_give(struct http_client *c, CURL *h);
/* Host (and with with_path the path) of url into out for logging; never the query. */
void url_describe(const char *url, int with_path, char *out, size_t cap);
/* A raw header line without CR/LF copied into out (cap bytes); returns the value after
 * "Name:" (case-insensitive name) within out, or NULL when the line is another header. */
const char *header_value(const char *buf, size_t len, const char *name, char *out,
			 size_t cap);
/* Options every request gets (URL, protocols, TLS verification, timeouts to connect, the
 * interrupt check, g guarding its connections; g lives as long as the transfer). An API call
 * (g->download 0) first waits for its turn under the request cap. CURLE_OK or the first
 * failure (CURLE_ABORTED_BY_CALLBACK when interrupted while waiting). */
CURLcode setup_common(struct http_client *c, CURL *h, const char *url, struct sock_guard *g);
/* A transport failure into *err: TRANSIENT for what a retry may fix, CANCELLED for an
 * interrupt, LOCAL for out of memory, PROTOCOL for the rest. */
void curl_error(CURLcode rc, struct client_error *err);

#endif
