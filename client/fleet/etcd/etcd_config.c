/* The etcd client's configuration: endpoints, TLS, credentials, timeouts (see etcd.h). */
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "etcd_call.h"
#include "../../../common/check.h"
#include "../../http.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init_once(void)
{
	/* Reference-counted by libcurl, so http.c initialising it too is harmless. */
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

void etcd_wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* Adds the len bytes at p as one endpoint, refusing what etcd_new's contract refuses. */
static int add_endpoint(struct etcd *e, const char *p, size_t len, struct client_error *err)
{
	char *ep;

	if (e->nendpoints == ETCD_ENDPOINTS_MAX) {
		client_error_set(err, CLIENT_E_INVALID, "more than %d etcd endpoints",
				 ETCD_ENDPOINTS_MAX);
		return -1;
	}
	ep = strndup(p, len);
	if (!ep) {
		client_error_set(err, CLIENT_E_LOCAL, "out of memory");
		return -1;
	}
	e->endpoints[e->nendpoints++] = ep;
	/* Trailing slashes would double the one every path starts with. */
	while (len > 1 && ep[len - 1] == '/')
		ep[--len] = '\0';
	if (!check_http_url(ep) || strchr(ep, '@') || len > ETCD_ENDPOINT_MAX) {
		client_error_set(err, CLIENT_E_INVALID,
				 "etcd endpoint %zu: expected http(s)://host:port without "
				 "credentials, at most %d bytes", e->nendpoints, ETCD_ENDPOINT_MAX);
		return -1;
	}
	return 0;
}

/* Splits the comma-separated list (blanks around items ignored) into e's endpoints. */
static int parse_endpoints(struct etcd *e, const char *list, struct client_error *err)
{
	const char *p = list ? list : "";

	while (*p) {
		size_t len = strcspn(p, ",");
		const char *next = p + len + (p[len] == ',');
		while (len > 0 && (*p == ' ' || *p == '\t'))
			p++, len--;
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len > 0 && add_endpoint(e, p, len, err) != 0)
			return -1;
		p = next;
	}
	if (e->nendpoints == 0) {
		client_error_set(err, CLIENT_E_INVALID, "no etcd endpoint");
		return -1;
	}
	return 0;
}

static int copy_config(struct etcd *e, const struct etcd_config *cfg, struct client_error *err)
{
	int has_user = cfg->user && cfg->user[0];

	if (has_user && !(cfg->password && cfg->password[0])) {
		client_error_set(err, CLIENT_E_INVALID, "etcd user without a password");
		return -1;
	}
	e->connect_timeout_ms = cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms
							     : ETCD_DEFAULT_CONNECT_TIMEOUT_MS;
	e->request_timeout_ms = cfg->request_timeout_ms > 0 ? cfg->request_timeout_ms
							     : ETCD_DEFAULT_REQUEST_TIMEOUT_MS;
	if ((cfg->ca_file && cfg->ca_file[0] && !(e->ca_file = strdup(cfg->ca_file))) ||
	    (has_user && (!(e->user = strdup(cfg->user)) ||
			  !(e->password = strdup(cfg->password))))) {
		client_error_set(err, CLIENT_E_LOCAL, "out of memory");
		return -1;
	}
	return 0;
}

/* The endpoint a client starts with: FNV-1a of spread, so the hosts of a fleet start at
 * different endpoints and the load spreads; 0 without spread. */
static size_t spread_start(const char *spread, size_t n)
{
	uint32_t h = 2166136261u;

	if (!spread || !spread[0] || n == 0)
		return 0;
	for (const unsigned char *p = (const unsigned char *)spread; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h % n;
}

struct etcd *etcd_new(const struct etcd_config *cfg, struct client_error *err)
{
	struct etcd *e;

	client_error_clear(err);
	pthread_once(&curl_once, curl_init_once);
	if (curl_init_rc != CURLE_OK) {
		client_error_set(err, CLIENT_E_LOCAL, "curl_global_init failed");
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		client_error_set(err, CLIENT_E_LOCAL, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&e->lock, NULL);
	pthread_mutex_init(&e->pool_lock, NULL);
	pthread_cond_init(&e->pool_free, NULL);
	pthread_mutex_init(&e->lease_lock, NULL);
	if (parse_endpoints(e, cfg->endpoints, err) != 0 || copy_config(e, cfg, err) != 0) {
		etcd_free(e);
		return NULL;
	}
	e->preferred = spread_start(cfg->spread, e->nendpoints);
	return e;
}

void etcd_free(struct etcd *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->nendpoints; i++)
		free(e->endpoints[i]);
	free(e->ca_file);
	free(e->user);
	etcd_wipe_free(e->password);
	etcd_wipe_free(e->token);
	etcd_handles_free(e);
	pthread_mutex_destroy(&e->lock);
	pthread_mutex_destroy(&e->pool_lock);
	pthread_cond_destroy(&e->pool_free);
	pthread_mutex_destroy(&e->lease_lock);
	free(e);
}

