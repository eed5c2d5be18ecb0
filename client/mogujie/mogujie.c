/*
 * The Mogujie provider: a local sync job over xiaodian.trade.sold.encrypted.get.
 *
 * Design note. Mogujie has no export files to download, only a paged query that returns
 * at most 50 orders per call. orderfs therefore makes the "export" itself:
 *   - apply() and query() need no network: the task id is "sync:A..B" and is generated at
 *     once. A synced range has no provider expiry: whether a range that reaches today is
 *     synced again is the cache's freshness rule (open_ttl), which keeps the old file to
 *     serve meanwhile and when a sync fails; an expiry here would bypass that rule.
 *   - fetch() pages through the range in cursor mode (startOrderId = the last shopOrderId
 *     seen, orderBy ASC, pageSize 50): unlike page mode it has no 5000-order ceiling and
 *     cannot skip or repeat orders when new ones arrive mid-sync. Each page is decrypted
 *     (mogujie_cipher.h) and its shop orders stream into bundle member orders.jsonl. A
 *     server that repeats or goes backwards, or a final count different from totalNum, is
 *     CLIENT_E_PROTOCOL: a partial file is never passed off as the range.
 *   - orders.csv and orders.xlsx are then derived from orders.jsonl read back from the sink
 *     (one pass, one order in memory at a time); the xlsx is built in a temp file under
 *     work_dir (libxlsxwriter cannot write to memory) and copied into the bundle.
 * A page that fails in a way asking again can fix (transport, 5xx, 429, code 9999999, a body
 * cut short) is retried in place MOGUJIE_PAGE_RETRIES times with a short backoff; after that
 * the whole fetch fails CLIENT_E_TRANSIENT and the cache runs it again later from scratch.
 *
 * Tokens. The access token is read from token_file at every fetch. An expired or invalid
 * token (0000010/0000011) is refreshed once per fetch when refresh_token_file is set; the
 * new pair is written back atomically (mogujie_token.h), the refresh token first, since it
 * alone cannot be obtained again. refresh_lock serialises refreshes: a fetch that finds
 * token_file already changed by another one uses that token instead of spending the
 * (single-use) refresh token again.
 *
 * Secrets. The app secret, tokens and signatures never reach a log line or an error
 * message; the buffers that held them are wiped. Logs name the range, the page and the
 * server's code.
 */
#include "mogujie.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>

#include "../../common/bundle.h"
#include "../../common/buf.h"
#include "../../common/check.h"
#include "../../common/csv.h"
#include "../http.h"
#include "../interrupt.h"
#include "../../common/clock.h"
#include "../../common/log.h"
#include "mogujie_cipher.h"
#include "mogujie_rows.h"
#include "mogujie_sign.h"
#include "mogujie_token.h"
#include "mogujie_xlsx.h"

#define MOGUJIE_URL_MAX 2048
#define MOGUJIE_METHOD "xiaodian.trade.sold.encrypted.get"
#define MOGUJIE_OK "0000000"
/* Orders a sync may find beyond the first page's totalNum: those created while it runs (a
 * range that reaches today), 1000 plus 10 %. Past that the server's count is not to be
 * believed, and a totalNum that grows with every page cannot keep a sync going. */
#define SYNC_MARGIN(total) (1000 + (total) / 10)
#define TASK_PREFIX "sync:"
#define MAX_RESPONSE (16u * 1024u * 1024u)
#define CHUNK 65536
/* orders.csv is written out every CHUNK bytes, after a whole order: the buffer holds less
 * than CHUNK plus one order's rows, far below this unless an order repeats huge fields over
 * very many items, which then fails instead of eating the memory. */
#define CSV_BUF_MAX (256u * 1024u * 1024u)
#define BACKOFF_MS 200L
#define BACKOFF_MAX_MS 5000L

struct mogujie {
	struct provider base;
	/* Owned, sized to their text (under MOGUJIE_URL_MAX): not 4 KiB per account. */
	char *url;			 /* base_url + "/invoke" */
	char *oauth_url;
	char *secret;			 /* owned, wiped on destroy */
	size_t secret_len;
	unsigned char key[MOGUJIE_KEY_LEN]; /* first 16 bytes of the secret; wiped */
	enum mogujie_cipher_mode mode;
	char *token_file, *refresh_token_file, *work_dir;
	int redact;
	struct http_client *http;
	int64_t (*now_ms)(void);
	pthread_mutex_t refresh_lock; /* held across one refresh and its write-back */
	int lock_ok;
	/* The seller the token serves (sellerUserId of the latest page with orders), 0 unknown:
	 * the spec names the seller only on order rows. */
	_Atomic int64_t seller;
};

/* One fetch in progress. */
struct sync {
	struct mogujie *m;
	const struct download_sink *sink;
	struct bundle_writer bw;
	char range[DATE_RANGE_STR_LEN];
	char start[DATE_STR_LEN], end[DATE_STR_LEN];
	int64_t created_s;	       /* the xlsx's creation time: the range's start, UTC */
	char token[MOGUJIE_TOKEN_MAX]; /* wiped */
	int64_t cursor;		       /* last shopOrderId written */
	uint64_t done, total;
	uint64_t first_total;	       /* totalNum of page 1: the sync's bound (sync_page) */
	int page;		       /* 1-based number of the page being fetched */
	int page_size;		       /* 0 = MOGUJIE_PAGE_SIZE */
	int refreshed;
};

static const char *const mogujie_suffixes[] = {".xlsx", ".csv", ".jsonl", NULL};
static const struct provider_type mogujie_types[] = {
	{"orders", "orders", NULL, mogujie_suffixes, NULL}};

static struct mogujie *mj(struct provider *p)
{
	return p->priv;
}

static int64_t now_ms(const struct mogujie *m)
{
	return m->now_ms ? m->now_ms() : clock_real_ms();
}

static void set_local(struct client_error *err, int e, const char *what)
{
	err->sys_errno = e;
	client_error_set(err, CLIENT_E_LOCAL, "%s: %s", what, strerror(e));
}

/* ---- check / apply / query: no network ---- */

static int report_type_ok(const char *t, struct client_error *err)
{
	if (!t || !*t || !strcmp(t, "orders"))
		return 0;
	client_error_set(err, CLIENT_E_INVALID, "Mogujie exports report type \"orders\" only");
	return -1;
}

static int mogujie_check(struct provider *p, const struct export_request *req, int64_t now_s,
			 struct client_error *err)
{
	struct date today = provider_today(p, now_s);
	struct date oldest = date_add_days(&today, -MOGUJIE_WINDOW_DAYS);
	const struct date_range *r = &req->range;
	char s[DATE_RANGE_STR_LEN];
	const char *why = NULL;

	client_error_clear(err);
	if (report_type_ok(req->report_type, err) != 0)
		return -1;
	if (!date_valid(&r->start) || !date_valid(&r->end))
		why = "impossible date";
	else if (date_cmp(&r->start, &r->end) > 0)
		why = "start after end";
	else if (date_range_days(r) > MOGUJIE_MAX_RANGE_DAYS)
		why = "range too long";
	else if (date_cmp(&r->start, &oldest) < 0)
		why = "start older than a year";
	else if (date_cmp(&r->end, &today) > 0)
		why = "ends in the future";
	if (!why)
		return 0;
	date_range_format(r, s);
	client_error_set(err, CLIENT_E_INVALID,
			 "%s: %s (Mogujie syncs at most %d days, starting within the last %d "
			 "days, ending today at the latest)",
			 s, why, MOGUJIE_MAX_RANGE_DAYS, MOGUJIE_WINDOW_DAYS);
	return -1;
}

static void task_fill(struct mogujie *m, const struct date_range *r, struct export_task *out)
{
	int64_t now_s = now_ms(m) / 1000;
	char s[DATE_RANGE_STR_LEN];

	memset(out, 0, sizeof(*out));
	date_range_format(r, s);
	snprintf(out->id, sizeof(out->id), TASK_PREFIX "%s", s);
	out->state = EXPORT_GENERATED;
	out->progress = -1;
	snprintf(out->file_name, sizeof(out->file_name), "orders");
	out->finish_time = now_s;
	/* Never expires: the cache's freshness rule re-syncs ranges that reach today. */
	out->expires = 0;
	snprintf(out->msg, sizeof(out->msg), "synced on demand");
}

static int mogujie_apply(struct provider *p, const struct export_request *req,
			 struct export_task *out, struct client_error *err)
{
	client_error_clear(err);
	if (report_type_ok(req->report_type, err) != 0)
		return -1;
	if (!date_valid(&req->range.start) || !date_valid(&req->range.end) ||
	    date_cmp(&req->range.start, &req->range.end) > 0) {
		client_error_set(err, CLIENT_E_INVALID, "invalid date range");
		return -1;
	}
	task_fill(mj(p), &req->range, out);
	return 0;
}

static int task_range(const char *task_id, struct date_range *r)
{
	return strncmp(task_id, TASK_PREFIX, strlen(TASK_PREFIX)) != 0 ||
			       date_range_parse(task_id + strlen(TASK_PREFIX), r, NULL) != 0
		       ? -1
		       : 0;
}

static int mogujie_query(struct provider *p, const char *task_id, struct export_task *out,
			 struct client_error *err)
{
	struct date_range r;

	client_error_clear(err);
	if (task_range(task_id, &r) != 0) {
		client_error_set(err, CLIENT_E_NOT_FOUND, "unknown Mogujie task id");
		return -1;
	}
	task_fill(mj(p), &r, out);
	return 0;
}

static int mogujie_get_urls(struct provider *p, const char *task_id, struct download_url *urls,
			    size_t max, size_t *n, struct client_error *err)
{
	client_error_clear(err);
	*n = 0;
	return 0;
}

static int mogujie_download(struct provider *p, const struct download_url *url,
			    uint64_t offset, const struct download_sink *sink, uint64_t *total,
			    struct client_error *err)
{
	client_error_clear(err);
	client_error_set(err, CLIENT_E_PROTOCOL, "Mogujie has no download URLs: use fetch");
	return -1;
}

/* ---- one page ---- */

/* A decoded page: data is the object {hasNext, openApiOrderDetailResDtos, totalNum}. */
struct page {
	cJSON *data;
	const cJSON *orders;
	int has_next;
	uint64_t total;
};

static int token_code(const char *code)
{
	return !strcmp(code, "0000010") || !strcmp(code, "0000011");
}

/* An envelope with a code other than success: err gets the code and the server's words. */
static int code_error(const char *code, const char *msg, struct client_error *err)
{
	enum client_errkind kind = CLIENT_E_BUSINESS;

	if (!strcmp(code, "9999999"))
		kind = CLIENT_E_TRANSIENT;
	else if (!strcmp(code, "0000001") || !strcmp(code, "0000002") || token_code(code))
		kind = CLIENT_E_AUTH;
	else if (!strcmp(code, "1010001") || !strcmp(code, "1010002") || !strcmp(code, "1010003"))
		kind = CLIENT_E_INVALID;
	client_error_set(err, kind, "Mogujie code %s: %.160s", code, msg);
	if (!strcmp(code, "0000001"))
		client_error_set(err, kind, "Mogujie code %s (unknown app_key): %.160s", code, msg);
	else if (!strcmp(code, "0000002"))
		client_error_set(err, kind, "Mogujie code %s (bad sign: check the secret): %.160s",
				 code, msg);
	else if (!strcmp(code, "0000004"))
		client_error_set(err, kind, "Mogujie code %s (clock more than 600 s off): %.160s",
				 code, msg);
	snprintf(err->code, sizeof(err->code), "%s", code);
	return -1;
}

/* The data object of a successful envelope, decrypted when dataEncrypted is true. */
static cJSON *page_data(struct mogujie *m, cJSON *root, struct client_error *err)
{
	cJSON *result = cJSON_GetObjectItemCaseSensitive(root, "result");
	cJSON *data = cJSON_GetObjectItemCaseSensitive(result, "data");
	const cJSON *enc = cJSON_GetObjectItemCaseSensitive(root, "dataEncrypted");
	const char *why = NULL;
	size_t len;

	if (cJSON_IsTrue(enc)) {
		if (!cJSON_IsString(data)) {
			client_error_set(err, CLIENT_E_PROTOCOL, "encrypted result.data is not a string");
			return NULL;
		}
		char *plain = mogujie_decrypt_b64(m->key, m->mode, data->valuestring,
						  strlen(data->valuestring), &len, &why);
		if (!plain) {
			client_error_set(err, CLIENT_E_PROTOCOL, "cannot decrypt result.data: %s",
					 why);
			return NULL;
		}
		cJSON *obj = cJSON_ParseWithLength(plain, len);
		free(plain);
		if (!cJSON_IsObject(obj)) {
			cJSON_Delete(obj);
			client_error_set(err, CLIENT_E_PROTOCOL,
					 "decrypted result.data is not a JSON object");
			return NULL;
		}
		return obj;
	}
	if (enc && !cJSON_IsFalse(enc)) {
		client_error_set(err, CLIENT_E_PROTOCOL, "dataEncrypted is not a boolean");
		return NULL;
	}
	if (!cJSON_IsObject(data)) {
		client_error_set(err, CLIENT_E_PROTOCOL, "result.data is not an object");
		return NULL;
	}
	return cJSON_DetachItemViaPointer(result, data);
}

static int page_parse(struct mogujie *m, const struct http_response *resp, struct page *pg,
		      struct client_error *err)
{
	cJSON *root = cJSON_ParseWithLength(resp->body, resp->len);
	int rc = -1;

	memset(pg, 0, sizeof(*pg));
	if (!root) {
		char what[64];

		/* An HTML page will be one again: say what came, and do not retry it. Else in
		 * practice a body cut short in transit: asking again fixes it. */
		snprintf(what, sizeof(what), "HTTP %ld, %zu bytes", resp->status, resp->len);
		if (!client_reply_not_json(resp->body, resp->len, what, err))
			client_error_set(err, CLIENT_E_TRANSIENT, "malformed JSON (%s)", what);
		return -1;
	}
	const cJSON *status = cJSON_GetObjectItemCaseSensitive(root, "status");
	const char *code = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(status, "code"));
	const char *msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(status, "msg"));
	if (!code) {
		client_error_set(err, CLIENT_E_PROTOCOL, "HTTP %ld without status.code",
				 resp->status);
		goto out;
	}
	if (strcmp(code, MOGUJIE_OK) != 0) {
		code_error(code, msg ? msg : "", err);
		goto out;
	}
	if (resp->status < 200 || resp->status > 299) {
		client_error_set(err, CLIENT_E_PROTOCOL, "HTTP %ld with code " MOGUJIE_OK,
				 resp->status);
		goto out;
	}
	pg->data = page_data(m, root, err);
	if (!pg->data)
		goto out;
	const cJSON *hn = cJSON_GetObjectItemCaseSensitive(pg->data, "hasNext");
	const cJSON *tn = cJSON_GetObjectItemCaseSensitive(pg->data, "totalNum");
	int64_t total;
	pg->orders = cJSON_GetObjectItemCaseSensitive(pg->data, "openApiOrderDetailResDtos");
	if (!cJSON_IsBool(hn) || mogujie_json_int(tn, &total) != 0 || total < 0 ||
	    (pg->orders && !cJSON_IsNull(pg->orders) && !cJSON_IsArray(pg->orders))) {
		client_error_set(err, CLIENT_E_PROTOCOL,
				 "data lacks hasNext, totalNum or the order list");
		cJSON_Delete(pg->data);
		pg->data = NULL;
		goto out;
	}
	pg->has_next = cJSON_IsTrue(hn);
	pg->total = (uint64_t)total;
	rc = 0;
out:
	cJSON_Delete(root);
	return rc;
}

/* One signed call for the page after s->cursor. 0 with *pg (caller frees pg->data). */
static int page_call(struct sync *s, struct page *pg, struct client_error *err)
{
	struct mogujie *m = s->m;
	char params[256], ts[24], sign[MOGUJIE_SIGN_LEN];
	struct http_response resp;
	int rc;

	snprintf(params, sizeof(params),
		 "{\"startCreated\":\"%s 00:00:00\",\"endCreated\":\"%s 23:59:59\","
		 "\"startOrderId\":%" PRId64 ",\"orderBy\":\"ASC\",\"pageSize\":%d}",
		 s->start, s->end, s->cursor, s->page_size ? s->page_size : MOGUJIE_PAGE_SIZE);
	snprintf(ts, sizeof(ts), "%" PRId64, now_ms(m) / 1000);
	const char *names[] = {"app_key", "method",	"access_token", "timestamp", "format",
			       "sign_method", "version", "Params", "sign"};
	const char *values[] = {m->base.account, MOGUJIE_METHOD, s->token, ts, "json",
				"md5", "1.0", params, sign};
	mogujie_sign(m->secret, names, values, 8, sign);
	if (!sign[0]) {
		client_error_set(err, CLIENT_E_LOCAL, "cannot compute the signature");
		return -1;
	}
	char *body = mogujie_form_body(names, values, 9);
	OPENSSL_cleanse(sign, sizeof(sign));
	if (!body) {
		set_local(err, ENOMEM, "form body");
		return -1;
	}
	struct http_request rq = {m->url, NULL, 0, body, "application/x-www-form-urlencoded"};
	rc = http_request(m->http, &rq, &resp, err);
	OPENSSL_cleanse(body, strlen(body));
	free(body);
	if (rc != 0)
		return -1;
	err->http_status = (int)resp.status;
	if (resp.status == 429 || resp.status >= 500) {
		client_error_set(err, resp.status == 429 ? CLIENT_E_RATE_LIMIT : CLIENT_E_TRANSIENT,
				 "HTTP %ld", resp.status);
		err->retry_after_ms = resp.retry_after_ms;
		http_response_free(&resp);
		return -1;
	}
	rc = page_parse(m, &resp, pg, err);
	if (rc != 0)
		http_reply_context(&resp, err);
	http_response_free(&resp);
	return rc;
}

/* ---- token refresh ---- */

static int refresh_locked(struct sync *s, struct client_error *err)
{
	struct mogujie *m = s->m;
	char cur[MOGUJIE_TOKEN_MAX], rt[MOGUJIE_TOKEN_MAX];
	char access[MOGUJIE_TOKEN_MAX], refresh[MOGUJIE_TOKEN_MAX];
	int rc = -1, e;

	/* Another fetch may have refreshed while we waited for the lock. */
	if (mogujie_token_read(m->token_file, "token_file", cur, sizeof(cur), err) == 0 &&
	    strcmp(cur, s->token) != 0) {
		memcpy(s->token, cur, sizeof(cur));
		log_info("mogujie: token_file was renewed meanwhile; using the new token");
		rc = 0;
		goto out;
	}
	client_error_clear(err);
	if (mogujie_token_read(m->refresh_token_file, "refresh_token_file", rt, sizeof(rt), err))
		goto out;
	if (mogujie_token_refresh(m->http, m->oauth_url, m->base.account, m->secret, rt, access,
				  refresh, err) != 0)
		goto out;
	/* The refresh token first: the old one is dead now, and nothing else can replace it. */
	if ((e = mogujie_token_write(m->refresh_token_file, refresh)) != 0) {
		set_local(err, -e, "token refreshed, but refresh_token_file cannot be written");
		log_err("mogujie: new refresh token could not be saved to %s (%s): renew "
			"token_file and refresh_token_file by hand",
			m->refresh_token_file, strerror(-e));
		goto out;
	}
	if ((e = mogujie_token_write(m->token_file, access)) != 0) {
		set_local(err, -e, "token refreshed, but token_file cannot be written");
		log_err("mogujie: new access token could not be saved to %s (%s)", m->token_file,
			strerror(-e));
		goto out;
	}
	memcpy(s->token, access, sizeof(access));
	log_notice("mogujie: access token refreshed; token_file and refresh_token_file "
		   "rewritten");
	rc = 0;
out:
	OPENSSL_cleanse(cur, sizeof(cur));
	OPENSSL_cleanse(rt, sizeof(rt));
	OPENSSL_cleanse(access, sizeof(access));
	OPENSSL_cleanse(refresh, sizeof(refresh));
	return rc;
}

/* After a token error: refresh once per fetch if configured, else explain. 0 = retry. */
static int token_expired(struct sync *s, struct client_error *err)
{
	struct mogujie *m = s->m;
	char code[PROVIDER_CODE_MAX];
	int rc;

	snprintf(code, sizeof(code), "%s", err->code);
	if (!m->refresh_token_file || s->refreshed) {
		client_error_set(err, CLIENT_E_AUTH,
				 "access token expired or invalid (Mogujie code %s)%s: renew "
				 "token_file %.120s",
				 code, s->refreshed ? " even after a refresh" : "", m->token_file);
		return -1;
	}
	s->refreshed = 1;
	log_notice("mogujie: sync %s: access token refused (code %s); refreshing it", s->range,
		   code);
	pthread_mutex_lock(&m->refresh_lock);
	rc = refresh_locked(s, err);
	pthread_mutex_unlock(&m->refresh_lock);
	if (rc != 0 && err->kind == CLIENT_E_AUTH) {
		char why[PROVIDER_MSG_MAX];
		snprintf(why, sizeof(why), "%s", err->msg);
		client_error_set(err, CLIENT_E_AUTH,
				 "access token expired (code %s) and the refresh failed (%.100s): "
				 "renew token_file %.80s",
				 code, why, m->token_file);
	}
	if (rc != 0)
		snprintf(err->code, sizeof(err->code), "%s", code);
	return rc;
}

/* ---- the sync loop ---- */

static int write_order(struct sync *s, cJSON *order, struct client_error *err)
{
	int64_t id;
	int rc;

	if (!cJSON_IsObject(order) ||
	    mogujie_json_int(cJSON_GetObjectItemCaseSensitive(order, "shopOrderId"), &id) != 0) {
		client_error_set(err, CLIENT_E_PROTOCOL, "page %d: an order without shopOrderId",
				 s->page);
		return -1;
	}
	if (id <= s->cursor) {
		client_error_set(err, CLIENT_E_PROTOCOL,
				 "page %d: order %" PRId64 " after %" PRId64
				 ": the server repeats or goes backwards",
				 s->page, id, s->cursor);
		return -1;
	}
	if (s->m->redact && mogujie_redact(order) != 0) {
		set_local(err, ENOMEM, "redaction");
		return -1;
	}
	char *line = cJSON_PrintUnformatted(order);
	if (!line) {
		set_local(err, ENOMEM, "orders.jsonl");
		return -1;
	}
	size_t len = strlen(line);
	line[len] = '\n'; /* replaces the NUL: the buffer is not a string any more */
	rc = bundle_write(&s->bw, line, len + 1);
	free(line);
	if (rc != 0) {
		set_local(err, -rc, "writing orders.jsonl");
		if (rc == -ECANCELED)
			err->kind = CLIENT_E_CANCELLED;
		return -1;
	}
	s->cursor = id;
	s->done++;
	return 0;
}

/* After a page failed in a way asking again can fix: give up past MOGUJIE_PAGE_RETRIES,
 * else wait (doubling, or the server's Retry-After up to BACKOFF_MAX_MS) and count the retry
 * in *retry. 0 = ask again, or -1 with *err. */
static int page_backoff(struct sync *s, int *retry, struct client_error *err)
{
	if (*retry >= MOGUJIE_PAGE_RETRIES) {
		char why[PROVIDER_MSG_MAX];
		snprintf(why, sizeof(why), "%s", err->msg);
		client_error_set(err, CLIENT_E_TRANSIENT, "page %d failed %d times, last: %.180s",
				 s->page, *retry + 1, why);
		log_warn("mogujie: sync %s: page %d (after order %" PRId64
			 ") failed %d times: %s; giving up",
			 s->range, s->page, s->cursor, *retry + 1, why);
		return -1;
	}
	long ms = BACKOFF_MS << *retry;
	if (err->retry_after_ms > ms)
		ms = err->retry_after_ms < BACKOFF_MAX_MS ? err->retry_after_ms : BACKOFF_MAX_MS;
	++*retry;
	log_warn("mogujie: sync %s: page %d (after order %" PRId64
		 ") failed: %s %s; retry %d of %d in %ld ms",
		 s->range, s->page, s->cursor, client_errkind_name(err->kind), err->msg, *retry,
		 MOGUJIE_PAGE_RETRIES, ms);
	if (client_sleep_ms(ms) != 0) {
		/* Unmount or forget while waiting: stop now; the next flight starts over. */
		client_error_set(err, CLIENT_E_CANCELLED, "sync cancelled");
		return -1;
	}
	return 0;
}

/* The page after s->cursor into *pg (caller frees pg->data), refreshing the token or asking
 * again in place as needed. 0, or -1 with *err. */
/* Learn whom the token serves from a page's first order row (none: nothing learned). */
static void seller_learn(struct mogujie *m, const cJSON *orders)
{
	const cJSON *first = cJSON_IsArray(orders) ? cJSON_GetArrayItem(orders, 0) : NULL;
	int64_t id;

	if (first && mogujie_json_int(cJSON_GetObjectItemCaseSensitive(first, "sellerUserId"),
				      &id) == 0 &&
	    id > 0)
		atomic_store(&m->seller, id);
}

static int page_get(struct sync *s, struct page *pg, struct client_error *err)
{
	int retry = 0;

	for (;;) {
		client_error_clear(err);
		if (page_call(s, pg, err) == 0) {
			seller_learn(s->m, pg->orders);
			return 0;
		}
		if (err->kind == CLIENT_E_AUTH && token_code(err->code)) {
			if (token_expired(s, err) != 0)
				return -1;
			continue;
		}
		if (!client_error_retryable(err) || page_backoff(s, &retry, err) != 0)
			return -1;
	}
}

/* Fetch one page (retrying in place) and append its orders. *more = hasNext. */
static int sync_page(struct sync *s, int *more, struct client_error *err)
{
	struct page pg;
	const cJSON *order;

	if (page_get(s, &pg, err) != 0)
		return -1;
	int64_t before = s->cursor;
	s->total = pg.total;
	if (s->page == 1)
		s->first_total = pg.total;
	cJSON_ArrayForEach(order, pg.orders)
	{
		if (write_order(s, (cJSON *)order, err) != 0) {
			cJSON_Delete(pg.data);
			return -1;
		}
	}
	*more = pg.has_next;
	cJSON_Delete(pg.data);
	if (s->done > s->first_total + SYNC_MARGIN(s->first_total)) {
		client_error_bound(err,
				   "page %d: %" PRIu64 " orders so far, past the first page's totalNum "
				   "%" PRIu64 " by more than orders created meanwhile could explain",
				   s->page, s->done, s->first_total);
		return -1;
	}
	if (s->done > s->total) {
		client_error_set(err, CLIENT_E_PROTOCOL,
				 "page %d: %" PRIu64 " orders so far, but totalNum is %" PRIu64,
				 s->page, s->done, s->total);
		return -1;
	}
	if (*more && s->cursor == before) {
		client_error_set(err, CLIENT_E_PROTOCOL,
				 "page %d: hasNext with no new order: the cursor does not advance",
				 s->page);
		return -1;
	}
	if (s->sink->items)
		s->sink->items(s->sink->ctx, s->done, s->total);
	log_debug("mogujie: sync %s: page %d: %" PRIu64 " of %" PRIu64 " orders", s->range,
		  s->page, s->done, s->total);
	return 0;
}

/* ---- derived files ---- */

struct derive {
	struct sync *s;
	struct mogujie_row row;
	struct buf csv; /* orders.csv, written out every CHUNK bytes */
	struct mogujie_xlsx *x;
	uint64_t items;
};

static int flush_csv(struct derive *d, int force, struct client_error *err)
{
	if (d->csv.len == 0 || (!force && d->csv.len < CHUNK))
		return 0;
	int rc = bundle_write(&d->s->bw, d->csv.data, d->csv.len);
	if (rc != 0) {
		set_local(err, -rc, "writing orders.csv");
		if (rc == -ECANCELED)
			err->kind = CLIENT_E_CANCELLED;
		return -1;
	}
	buf_reset(&d->csv);
	return 0;
}

static int add_row(struct derive *d, const cJSON *order, const cJSON *item, int csv,
		   struct client_error *err)
{
	const char *bad = NULL;
	int rc = mogujie_row_fill(&d->row, order, item, &bad);

	if (rc == -1) {
		client_error_set(err, CLIENT_E_PROTOCOL, "order field %s is not an integer", bad);
		return -1;
	}
	if (rc == 0 && csv)
		rc = mogujie_csv_row(&d->csv, &d->row);
	if (rc != 0) {
		set_local(err, -rc, "orders.csv");
		return -1;
	}
	if (mogujie_xlsx_add(d->x, &d->row) != 0) {
		client_error_set(err, CLIENT_E_LOCAL, "cannot add a row to orders.xlsx");
		return -1;
	}
	return 0;
}

static int derive_line(struct derive *d, const char *line, size_t len, struct client_error *err)
{
	cJSON *order = cJSON_ParseWithLength(line, len);
	const cJSON *items, *item;
	int rc = -1;

	if (!cJSON_IsObject(order)) {
		client_error_set(err, CLIENT_E_LOCAL, "orders.jsonl read back is not JSON lines");
		goto out;
	}
	items = cJSON_GetObjectItemCaseSensitive(order, "itemOrderInfos");
	if (cJSON_GetArraySize(items) == 0) {
		/* No item orders: one row with empty item columns, so no order goes missing. */
		cJSON *none = cJSON_CreateObject();
		int r2 = none ? add_row(d, order, none, 1, err) : -1;
		cJSON_Delete(none);
		if (!none)
			set_local(err, ENOMEM, "orders.csv");
		if (r2 != 0)
			goto out;
		d->items++;
	}
	cJSON_ArrayForEach(item, items)
	{
		if (add_row(d, order, item, 1, err) != 0)
			goto out;
		d->items++;
	}
	if (add_row(d, order, NULL, 0, err) != 0 || flush_csv(d, 0, err) != 0)
		goto out;
	rc = 0;
out:
	cJSON_Delete(order);
	return rc;
}

/* Read member idx back line by line (lines are bounded by the response cap). */
static int derive_rows(struct derive *d, size_t idx, struct client_error *err)
{
	const struct bundle_member *mb = &d->s->bw.members[idx];
	char *chunk = malloc(CHUNK);
	struct buf line = BUF_INIT(MAX_RESPONSE);
	int rc = -1;

	if (!chunk) {
		set_local(err, ENOMEM, "orders.jsonl");
		return -1;
	}
	for (uint64_t off = 0; off < mb->size;) {
		size_t n = mb->size - off < CHUNK ? (size_t)(mb->size - off) : CHUNK;
		int e = bundle_member_read(&d->s->bw, idx, off, chunk, n);
		if (e != 0) {
			set_local(err, -e, "reading orders.jsonl back");
			goto out;
		}
		off += n;
		for (const char *p = chunk, *end = chunk + n; p < end;) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t take = nl ? (size_t)(nl - p) : (size_t)(end - p);
			if ((e = buf_add(&line, p, take)) == -E2BIG) {
				client_error_set(err, CLIENT_E_LOCAL, "orders.jsonl line too long");
				goto out;
			} else if (e != 0) {
				set_local(err, -e, "orders.jsonl");
				goto out;
			}
			p += take;
			if (nl) {
				if (derive_line(d, line.data, line.len, err) != 0)
					goto out;
				buf_reset(&line);
				p++;
			}
		}
	}
	if (line.len && derive_line(d, line.data, line.len, err) != 0)
		goto out;
	rc = 0;
out:
	buf_free(&line);
	free(chunk);
	return rc;
}

/* Copy the finished xlsx at path into member orders.xlsx. */
static int copy_xlsx(struct sync *s, const char *path, struct client_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int e;

	if (fd < 0) {
		set_local(err, errno, "reading orders.xlsx back");
		return -1;
	}
	e = bundle_member_from_fd(&s->bw, "orders.xlsx", fd);
	close(fd);
	if (e == 0)
		return 0;
	set_local(err, -e, "writing orders.xlsx");
	if (e == -ECANCELED)
		err->kind = CLIENT_E_CANCELLED;
	return -1;
}

static int ensure_dir(const char *dir)
{
	if (mkdir(dir, 0700) == 0 || errno == EEXIST)
		return 0;
	return -errno;
}

/* orders.csv and orders.xlsx from member jsonl_idx; the temp xlsx never outlives this. */
static int derive_files(struct sync *s, size_t jsonl_idx, struct client_error *err)
{
	struct derive d = {.s = s, .csv = BUF_INIT(CSV_BUF_MAX)};
	char path[4096];
	int fd, e, rc = -1, have_path = 0;

	if ((e = ensure_dir(s->m->work_dir)) != 0) {
		set_local(err, -e, "work_dir");
		return -1;
	}
	if (snprintf(path, sizeof(path), "%s/orders-XXXXXX.xlsx", s->m->work_dir) >=
	    (int)sizeof(path)) {
		set_local(err, ENAMETOOLONG, "work_dir");
		return -1;
	}
	fd = mkstemps(path, 5);
	if (fd < 0) {
		set_local(err, errno, "xlsx temp file in work_dir");
		return -1;
	}
	close(fd);
	have_path = 1;
	d.x = mogujie_xlsx_open(path, s->m->work_dir, s->created_s);
	if (!d.x) {
		client_error_set(err, CLIENT_E_LOCAL, "cannot start orders.xlsx in work_dir");
		goto out;
	}
	if ((e = bundle_member_start(&s->bw, "orders.csv")) != 0) {
		set_local(err, -e, "orders.csv");
		goto out;
	}
	if ((e = csv_row(&d.csv, mogujie_item_headers, MOGUJIE_ITEM_NCOLS)) != 0) {
		set_local(err, -e, "orders.csv");
		goto out;
	}
	if (derive_rows(&d, jsonl_idx, err) != 0 || flush_csv(&d, 1, err) != 0)
		goto out;
	bundle_member_end(&s->bw);
	e = mogujie_xlsx_close(d.x, 0);
	d.x = NULL;
	if (e != 0) {
		client_error_set(err, CLIENT_E_LOCAL, "cannot write orders.xlsx in work_dir");
		goto out;
	}
	if (copy_xlsx(s, path, err) != 0)
		goto out;
	log_debug("mogujie: sync %s: %" PRIu64 " item rows", s->range, d.items);
	rc = 0;
out:
	if (d.x)
		mogujie_xlsx_close(d.x, 1);
	if (have_path)
		unlink(path);
	mogujie_row_free(&d.row);
	buf_free(&d.csv);
	return rc;
}

/* A fetch of range r into sink, its token not read yet (caller wipes and frees it). NULL
 * with *err when out of memory. */
static struct sync *sync_new(struct mogujie *m, const struct date_range *r,
			     const struct download_sink *sink, struct client_error *err)
{
	struct sync *s = calloc(1, sizeof(*s));

	if (!s) {
		set_local(err, ENOMEM, "fetch");
		return NULL;
	}
	s->m = m;
	s->sink = sink;
	date_range_format(r, s->range);
	date_format(&r->start, s->start);
	s->created_s = date_to_days(&r->start) * 86400;
	date_format(&r->end, s->end);
	return s;
}

/* The whole bundle: orders.jsonl page by page, then the files derived from it. *total = the
 * bundle's size. 0, or -1 with *err; the caller frees s->bw either way. */
static int sync_run(struct sync *s, uint64_t *total, struct client_error *err)
{
	int more = 1, e;

	if ((e = bundle_begin(&s->bw, s->sink)) != 0 ||
	    (e = bundle_member_start(&s->bw, "orders.jsonl")) != 0) {
		set_local(err, -e, "starting the bundle");
		if (e == -ECANCELED)
			err->kind = CLIENT_E_CANCELLED;
		return -1;
	}
	log_info("mogujie: sync %s started", s->range);
	for (s->page = 1; more; s->page++)
		if (sync_page(s, &more, err) != 0)
			return -1;
	s->page--;
	bundle_member_end(&s->bw);
	if (s->done != s->total) {
		client_error_set(err, CLIENT_E_PROTOCOL,
				 "got %" PRIu64 " orders but totalNum says %" PRIu64, s->done,
				 s->total);
		return -1;
	}
	if (derive_files(s, s->bw.n - 1, err) != 0)
		return -1;
	if ((e = bundle_finish(&s->bw, total)) != 0) {
		set_local(err, -e, "finishing the bundle");
		return -1;
	}
	log_info("mogujie: sync %s: %" PRIu64 " orders in %d pages", s->range, s->done, s->page);
	return 0;
}

static int mogujie_fetch(struct provider *p, const char *task_id,
			 const struct export_request *req, const struct download_sink *sink,
			 uint64_t *total, struct client_error *err)
{
	struct date_range r;
	struct sync *s;
	int rc = -1;

	client_error_clear(err);
	if (total)
		*total = 0;
	if (task_range(task_id, &r) != 0) {
		client_error_set(err, CLIENT_E_NOT_FOUND, "unknown Mogujie task id");
		return -1;
	}
	if (!sink->read) {
		client_error_set(err, CLIENT_E_LOCAL, "the sink cannot read back");
		return -1;
	}
	s = sync_new(mj(p), &r, sink, err);
	if (!s)
		return -1;
	/* Without a readable token no bundle is begun: nothing to free, no failed sync to log. */
	if (mogujie_token_read(s->m->token_file, "token_file", s->token, sizeof(s->token),
			       err) == 0) {
		rc = sync_run(s, total, err);
		bundle_writer_free(&s->bw);
		if (rc != 0)
			log_warn("mogujie: sync %s failed: %s: %s", s->range,
				 client_errkind_name(err->kind), err->msg);
	}
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
	return rc;
}

/* Whether Mogujie accepts the token in use: a one-row query of the task's range (or of
 * today), refreshing an expired token as a sync would. 0, or -1 with *err (CLIENT_E_AUTH:
 * refused). */
static int mogujie_check_credentials(struct provider *p, const char *task_id,
				     struct client_error *err)
{
	struct date_range r;
	struct page pg;
	struct sync *s;
	int rc = -1;

	client_error_clear(err);
	if (task_range(task_id, &r) != 0)
		r.start = r.end = date_from_time((time_t)(now_ms(mj(p)) / 1000));
	if (!(s = sync_new(mj(p), &r, NULL, err)))
		return -1;
	s->page_size = 1;
	if (mogujie_token_read(s->m->token_file, "token_file", s->token, sizeof(s->token),
			       err) == 0 &&
	    (rc = page_get(s, &pg, err)) == 0)
		cJSON_Delete(pg.data);
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
	return rc;
}

static void mogujie_credentials_owner(struct provider *p, char *out, size_t n)
{
	int64_t id = atomic_load(&mj(p)->seller);

	if (id > 0)
		snprintf(out, n, "%" PRId64, id);
	else if (n)
		out[0] = '\0';
}

/* A bundle holding all three members, else incomplete: fetch again. */
static int mogujie_verify(struct provider *p, int fd, uint64_t size, struct client_error *err)
{
	static const char *const need[] = {"orders.xlsx", "orders.csv", "orders.jsonl"};
	struct bundle_index ix;
	int rc = bundle_index_read(fd, size, &ix);

	if (rc == 0) {
		for (size_t i = 0; i < 3 && rc == 0; i++)
			if (!bundle_index_find(&ix, need[i]))
				rc = -EBADMSG;
		bundle_index_free(&ix);
	}
	if (rc == 0)
		return 0;
	client_error_set(err, CLIENT_E_TRANSIENT,
			 "sync result is not a whole bundle of orders.xlsx, orders.csv and "
			 "orders.jsonl (%s)",
			 strerror(-rc));
	return -1;
}

/* Fleet mode shares the request cap between hosts. */
static void mogujie_set_request_rate(struct provider *p, double per_s)
{
	struct mogujie *x = p->priv;
	http_set_rate(x->http, per_s);
}

static void mogujie_destroy(struct provider *p)
{
	struct mogujie *m;

	if (!p)
		return;
	m = mj(p);
	http_client_free(m->http);
	if (m->secret) {
		OPENSSL_cleanse(m->secret, m->secret_len);
		free(m->secret);
	}
	free(m->url);
	free(m->oauth_url);
	free(m->token_file);
	free(m->refresh_token_file);
	free(m->work_dir);
	if (m->lock_ok)
		pthread_mutex_destroy(&m->refresh_lock);
	OPENSSL_cleanse(m, sizeof(*m));
	free(m);
}

static const struct provider_ops mogujie_ops = {
	.check = mogujie_check,
	.apply = mogujie_apply,
	.query = mogujie_query,
	.get_urls = mogujie_get_urls,
	.download = mogujie_download,
	.verify = mogujie_verify,
	.fetch = mogujie_fetch,
	.check_credentials = mogujie_check_credentials,
	.credentials_owner = mogujie_credentials_owner,
	.set_request_rate = mogujie_set_request_rate,
	.destroy = mogujie_destroy,
};

/* What is wrong with cfg's plain fields (a static message), or NULL. */
static const char *config_problem(const struct mogujie_config *cfg)
{
	/* app_key goes into forms and cache keys. */
	if (!check_token(cfg->app_key, sizeof(((struct provider *)0)->account) - 1))
		return "app_key must be 1..127 printable characters without spaces";
	if (!cfg->secret || strlen(cfg->secret) < MOGUJIE_KEY_LEN)
		return "the app secret must be at least 16 characters (its first 16 are the AES key)";
	if (!cfg->token_file || !*cfg->token_file)
		return "token_file is not set";
	if (!cfg->work_dir || !*cfg->work_dir)
		return "work_dir is not set";
	return NULL;
}

/* The gateway and OAuth URLs (owned copies) and the decrypt mode into m. 0, or -1 with
 * CLIENT_E_INVALID or out of memory (what was copied is freed by the destroy). */
static int set_endpoints(struct mogujie *m, const struct mogujie_config *cfg,
			 struct client_error *err)
{
	const char *oauth = cfg->oauth_url ? cfg->oauth_url : MOGUJIE_DEFAULT_OAUTH_URL;
	const char *bad = NULL;
	char url[MOGUJIE_URL_MAX], oauth_url[MOGUJIE_URL_MAX];

	if (check_base_url(cfg->base_url, "/invoke", url, sizeof(url)) != CHECK_URL_OK)
		bad = "base_url must be an http(s) URL";
	else if (check_base_url(oauth, "", oauth_url, sizeof(oauth_url)) != CHECK_URL_OK)
		bad = "oauth_url must be an http(s) URL";
	else if (mogujie_cipher_mode_parse(cfg->decrypt_mode, &m->mode) != 0)
		bad = "decrypt_mode must be ecb or cbc";
	if (bad) {
		client_error_set(err, CLIENT_E_INVALID, "%s", bad);
		return -1;
	}
	if (!(m->url = strdup(url)) || !(m->oauth_url = strdup(oauth_url))) {
		err->sys_errno = ENOMEM;
		client_error_set(err, CLIENT_E_LOCAL, "out of memory");
		return -1;
	}
	return 0;
}

/* m's own copies of cfg's strings, and the AES key. 0, or -1 out of memory (the destroy
 * path frees what was copied). */
static int copy_secrets(struct mogujie *m, const struct mogujie_config *cfg)
{
	int want_refresh = cfg->refresh_token_file && *cfg->refresh_token_file;

	m->secret_len = strlen(cfg->secret);
	m->secret = strdup(cfg->secret);
	m->token_file = strdup(cfg->token_file);
	m->refresh_token_file = want_refresh ? strdup(cfg->refresh_token_file) : NULL;
	m->work_dir = strdup(cfg->work_dir);
	if (!m->secret || !m->token_file || !m->work_dir ||
	    (want_refresh && !m->refresh_token_file))
		return -1;
	memcpy(m->key, m->secret, MOGUJIE_KEY_LEN);
	return 0;
}

struct provider *mogujie_new(const struct mogujie_config *cfg, struct client_error *err)
{
	struct http_options ho = {0};
	struct mogujie *m = NULL;
	const char *bad;
	int e;

	client_error_clear(err);
	if ((bad = config_problem(cfg))) {
		client_error_set(err, CLIENT_E_INVALID, "%s", bad);
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		goto oom;
	m->base.priv = m; /* first: the fail path destroys through it */
	if (set_endpoints(m, cfg, err) != 0)
		goto fail;
	if (pthread_mutex_init(&m->refresh_lock, NULL) != 0)
		goto oom;
	m->lock_ok = 1;
	if (copy_secrets(m, cfg) != 0)
		goto oom;
	if ((e = ensure_dir(m->work_dir)) != 0) {
		err->sys_errno = -e;
		client_error_set(err, CLIENT_E_LOCAL, "cannot create work_dir %.150s: %s",
				 m->work_dir, strerror(-e));
		goto fail;
	}
	m->redact = cfg->redact_receiver;
	m->now_ms = cfg->now_ms;

	ho.connect_timeout_ms = cfg->connect_timeout_ms;
	ho.request_timeout_ms = cfg->request_timeout_ms;
	ho.download_stall_s = cfg->download_stall_s;
	ho.download_min_rate = cfg->download_min_rate;
	ho.tls_insecure = cfg->tls_insecure;
	ho.allow_private = cfg->download_allow_private;
	ho.api_url = cfg->base_url;
	ho.max_requests_per_s = cfg->max_requests_per_s;
	ho.max_response_bytes = MAX_RESPONSE;
	m->http = http_client_new(&ho, err);
	if (!m->http)
		goto fail;

	m->base.ops = &mogujie_ops;
	m->base.name = "mogujie";
	snprintf(m->base.account, sizeof(m->base.account), "%s", cfg->app_key);
	m->base.max_range_days = MOGUJIE_MAX_RANGE_DAYS;
	m->base.window_months = 12;
	m->base.types = mogujie_types;
	m->base.ntypes = 1;
	m->base.shared_tasks = 0; /* a task is this host's own sync job */
	return &m->base;
oom:
	err->sys_errno = ENOMEM;
	client_error_set(err, CLIENT_E_LOCAL, "out of memory");
fail:
	if (m)
		mogujie_destroy(&m->base);
	return NULL;
}
