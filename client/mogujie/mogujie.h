/*
 * Mogujie's room, client/mogujie/: the Mogujie provider, behind this one header
 * (fs/providers.c includes nothing else of the folder).
 *   mogujie.c        the provider: a local sync job that pages through the order query and
 *                    writes the bundle (design note there), over client/http.h
 *   mogujie_sign.c   the form body and the gateway's MD5 signature
 *   mogujie_token.c  the access and refresh token files and the OAuth refresh
 *   mogujie_cipher.c Base64 and AES-128 decryption of the query's answers
 *   mogujie_rows.c   shop orders as table rows, money and receiver redaction (the columns
 *                    of orders.csv and orders.xlsx)
 *   mogujie_xlsx.c   the spreadsheet writer: orders.xlsx from those rows (libxlsxwriter,
 *                    client/xlsx_text.h for cells)
 * mogujie.c drives the others; mogujie_token.c signs with mogujie_sign.c, mogujie_xlsx.c
 * reads mogujie_rows.c; none calls up. It uses client/'s shared files and common/, and no
 * other provider.
 *
 * Mogujie (蘑菇街 open platform) orders: xiaodian.trade.sold.encrypted.get, a paged and
 * encrypted order query. Mogujie has no export job, so orderfs syncs a range itself: apply()
 * only names a local sync task, and fetch() pages through the range (cursor mode) and writes
 * one bundle (common/bundle.h) with members orders.jsonl, orders.csv and orders.xlsx.
 * See mogujie.c for the design note, mogujie_rows.h for the columns.
 */
#ifndef ORDERFS_MOGUJIE_H
#define ORDERFS_MOGUJIE_H

#include <stdint.h>

#include "../provider.h"

#define MOGUJIE_MAX_RANGE_DAYS 31
#define MOGUJIE_WINDOW_DAYS 365
#define MOGUJIE_PAGE_SIZE 50
#define MOGUJIE_PAGE_RETRIES 3

struct mogujie_config {
	const char *base_url;		/* gateway root; calls go to base_url + "/invoke" */
	const char *app_key;
	const char *secret;		/* app secret (>= 16 bytes: its first 16 are the AES
					 * key); copied, wiped on destroy; never logged */
	const char *token_file;		/* access token, re-read at each sync start */
	const char *refresh_token_file; /* optional: refresh when the token expires */
	const char *oauth_url;		/* NULL = https://oauth.mogujie.com/token */
	const char *decrypt_mode;	/* "ecb" (default) or "cbc" (IV = key) */
	int redact_receiver;		/* mask receiverName/Phone/Mobile/Address as "***" in
					 * every file */
	const char *work_dir;		/* private dir for xlsx temp files (created 0700 if
					 * missing) */
	long connect_timeout_ms, request_timeout_ms, download_stall_s;
	long download_min_rate;		/* bytes/s (http_options); 0 = only a complete stall */
	int tls_insecure;
	int download_allow_private; /* downloads may reach private addresses (http_options) */
	double max_requests_per_s;
	int64_t (*now_ms)(void);	/* NULL = real time; tests pin it */
};

/*
 * Returns a provider ("mogujie", account = app_key, one bundle type "orders" with members
 * orders.xlsx, orders.csv, orders.jsonl), or NULL with *err: CLIENT_E_INVALID for a bad
 * setting (URLs not http(s), empty app_key, secret shorter than 16 bytes, no token_file or
 * work_dir, unknown decrypt_mode), CLIENT_E_LOCAL when work_dir cannot
 * be created or memory ran out. The config strings are copied.
 */
struct provider *mogujie_new(const struct mogujie_config *cfg, struct client_error *err);

#endif
