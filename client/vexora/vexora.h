/*
 * Vexora's room, client/vexora/: the Vexora provider, behind this one header (fs/providers.c
 * includes nothing else of the folder).
 *   vexora.c        the provider: provider_ops over client/http.h (apply, status, download
 *                   URL, fetch) and the signing secret's file
 *   vexora_parse.c  the wire format without I/O: URLs, signed request bodies, strict response
 *                   parsing (vexora_parse.h, for vexora.c and the unit tests)
 *   vexora_sign.c   MD5 and the signing rule (vexora_sign.h), used by vexora_parse.c
 *   zip_check.c     whether a downloaded xlsx ends like a whole zip, so a cut file never
 *                   turns ready (zip_check.h)
 * Vexora serves its own xlsx, so the folder has no spreadsheet writer. It uses client/'s
 * shared files (http, error, interrupt, secret_file) and common/, and no other provider.
 *
 * Vexora order export: POST {base_url}/v1/vexora/orderExport/{apply,status,downloadUrl}
 * with an MD5-signed JSON body (see vexora_sign.h and README "Signing").
 */
#ifndef ORDERFS_VEXORA_H
#define ORDERFS_VEXORA_H

#include <stdint.h>

#include "../provider.h"

struct vexora_config {
	const char *base_url;	 /* http(s)://host[:port][/path]; a path prefix is kept */
	const char *merchant_no; /* sent as header merchantNo */
	const char *secret;	 /* signing secret; copied and wiped on destroy */
	const char *secret_path; /* its file, read again when it changes (secret_file.h);
				  * NULL = secret is fixed */
	long connect_timeout_ms; /* 0 = default 10 s */
	long request_timeout_ms; /* whole API call; 0 = default 30 s */
	long download_stall_s;	 /* abort a download below download_min_rate this long; 0 = 60 */
	long download_min_rate;	 /* bytes/s (http_options); 0 = only a complete stall */
	int tls_insecure;	 /* skip TLS verification: simulator only, logged loudly */
	int download_allow_private; /* downloads may reach private addresses (http_options) */
	double max_requests_per_s; /* cap on HTTP requests per second, all threads; 0 = none */
	/* Clock for the signed timestamp; NULL = real time. Tests pin it. */
	int64_t (*now_ms)(void);
};

/* Returns a provider, or NULL with *err set (CLIENT_E_INVALID for a bad base_url, which must
 * be http:// or https://; CLIENT_E_LOCAL for out of memory). */
struct provider *vexora_new(const struct vexora_config *cfg, struct client_error *err);

#endif
