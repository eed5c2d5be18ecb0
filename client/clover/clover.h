/*
 * Clover's room, client/clover/: the Clover provider, behind this one header (fs/providers.c
 * includes nothing else of the folder).
 *   clover.c        the provider: provider_ops over client/http.h (apply, poll, fetch of
 *                   every export file into one bundle) and the token's file
 *   clover_parse.c  the wire format without I/O: URLs, the request body, strict export object
 *                   and file parsing (clover_parse.h)
 *   clover_stream.c an export file read element by element, in bounded memory
 *   clover_csv.c    each element as a CSV row and a JSON line (the bundle's .csv and .jsonl)
 *   clover_xlsx.c   the spreadsheet writer: orders.xlsx and payments.xlsx from the CSV's
 *                   columns (libxlsxwriter, client/xlsx_text.h for cells)
 *   clover_hours.c  the API's service hours per region (clover_hours.h, public through here)
 * clover.c drives the others; clover_xlsx.c reads clover_csv.c's columns; none calls up.
 * It uses client/'s shared files and common/, and no other provider.
 *
 * Clover Merchant Data Export: POST/GET {base_url}/v3/merchants/{mId}/exports/ with a Bearer
 * token; a DONE export lists pre-signed JSON files of at most 1000 elements each, which
 * fetch() assembles into one bundle (common/bundle.h) together with derived .jsonl and .csv
 * members (see clover_csv.h and README "Clover").
 */
#ifndef ORDERFS_CLOVER_H
#define ORDERFS_CLOVER_H

#include <stdint.h>

#include "clover_hours.h"
#include "../provider.h"

#define CLOVER_WORK_DIR_MAX 4000

struct clover_config {
	const char *base_url;	 /* http(s)://host[:port][/path]; a path prefix is kept */
	const char *merchant_id; /* mId; also the provider's account */
	const char *token;	 /* Bearer token; copied, wiped on destroy; never logged */
	const char *token_path;	 /* its file, read again when it changes (secret_file.h);
				  * NULL = token is fixed */
	const char *region;	 /* "us", "eu", "la", "sandbox" (NULL = sandbox: any time) */
	long connect_timeout_ms; /* 0 = default 10 s */
	long request_timeout_ms; /* whole API call; 0 = default 30 s */
	long download_stall_s;	 /* abort a file download below download_min_rate this long */
	long download_min_rate;	 /* bytes/s (http_options); 0 = only a complete stall */
	int tls_insecure;	 /* skip TLS verification: simulator only, logged loudly */
	int download_allow_private; /* downloads may reach private addresses (http_options) */
	double max_requests_per_s; /* cap on HTTP requests per second, all threads; 0 = none */
	int64_t (*now_ms)(void);   /* NULL = real clock; tests pin it */
	const char *work_dir;	   /* where the xlsx is built (created 0700 when missing);
				    * NULL = $TMPDIR or /tmp */
};

/*
 * Returns a provider (name "clover", account = merchant_id, 30-day exports within 12 months,
 * types ORDERS and PAYMENTS as bundles), or NULL with *err: CLIENT_E_INVALID for a bad
 * base_url, merchant_id (1..127 of [A-Za-z0-9._-]), token (empty, spaces or control
 * characters) or region; CLIENT_E_LOCAL for out of memory.
 */
struct provider *clover_new(const struct clover_config *cfg, struct client_error *err);

#endif
