/*
 * The Clover provider: provider_ops over http.c, with clover_parse.c doing the wire format,
 * clover_csv.c the derived files and clover_hours.c the service hours.
 *
 * Design note. Clover is slow and shy: exports run only in service hours, few at a time, and
 * their files vanish after availableUntil. So apply() asks nothing while the region's hours
 * are closed (CLIENT_E_UNAVAILABLE with the wait until opening), every 503 becomes
 * CLIENT_E_UNAVAILABLE with the best wait we know, and a DONE export past availableUntil, or
 * a file URL answering 403/404/410, is CLIENT_E_FILE_EXPIRED: only a new export helps.
 *
 * fetch() builds the bundle front to back: the provider's files byte for byte
 * (<base>-0001.json ...), then <base>.jsonl, <base>.csv and <base>.xlsx derived by reading
 * each file back from the sink and parsing it alone, so memory stays at one file (<= 1000
 * elements) however long the export; the xlsx is built in a temp file under work_dir
 * (libxlsxwriter writes files, in constant memory) and copied into the bundle. Any failure abandons the whole bundle; the cache calls fetch() again from
 * scratch, so nothing here resumes.
 *
 * The token lives only in the "Authorization: Bearer" header buffer, wiped on destroy, and
 * goes only to API calls: file URLs are pre-signed and get no header of ours. No log line or
 * error message holds the token or a file URL. State is read-only after clover_new(), so
 * every op is thread-safe; the http client carries its own lock.
 */
#include "clover.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "../../common/bundle.h"
#include "../../common/buf.h"
#include "../../common/check.h"
#include "clover_csv.h"
#include "clover_parse.h"
#include "clover_stream.h"
#include "clover_xlsx.h"
#include "../http.h"
#include "../secret_file.h"
#include "../../common/clock.h"
#include "../../common/log.h"

#define CLOVER_MAX_RANGE_DAYS 30
#define CLOVER_WINDOW_MONTHS 12
#define CLOVER_TOKEN_MAX 4096
/* One export file is at most 1000 elements, a few MiB; this cap only stops a runaway server. */
#define CLOVER_FILE_MAX (256ull * 1024 * 1024)
#define READ_CHUNK (1024u * 1024u)
#define FLUSH_AT (64u * 1024u)
/* A derived file's buffer holds under FLUSH_AT bytes plus one row, and a row is at most its
 * element twice over (quotes doubled) plus short formatted values: a file within
 * CLOVER_FILE_MAX never reaches this cap. */
#define DERIVE_BUF_MAX (FLUSH_AT + 2 * CLOVER_FILE_MAX + 64u * 1024u)
#define AUTH_PREFIX "Authorization: Bearer "
#define AUTH_PREFIX_LEN (sizeof(AUTH_PREFIX) - 1)
#define HHMM_LEN 16 /* "HH:MM" with room the compiler can prove */

struct clover {
	struct provider base;
	/* Both owned and sized to their text (under CLOVER_BASE_URL_MAX, CLOVER_WORK_DIR_MAX):
	 * a mount of 1,000 merchants must not carry 6 KiB of buffers for each. */
	char *base_url;
	struct secret_file *token; /* the Bearer token, read again when its file changes */
	char region[16];
	char *work_dir; /* scratch space for the xlsx */
	struct http_client *http;
	int64_t (*now_ms)(void);
};

static struct clover *cl(struct provider *p)
{
	return p->priv;
}

static int64_t clover_now_ms(const struct clover *c)
{
	return c->now_ms ? c->now_ms() : clock_real_ms();
}

static void oom(struct client_error *err)
{
	err->sys_errno = ENOMEM;
	client_error_set(err, CLIENT_E_LOCAL, "out of memory");
}

/* The region is closed at now: 1 with *wait_ms and "HH:MM" of the opening; 0 if open. */
static int hours_closed(const struct clover *c, int64_t now, long *wait_ms,
			char hhmm[HHMM_LEN])
{
	int64_t at = now;
	if (clover_hours_open(c->region, now, &at) != 0)
		return 0;
	int64_t min = (at / 60000) % 1440;
	snprintf(hhmm, HHMM_LEN, "%02d:%02d", (int)(min / 60), (int)(min % 60));
	*wait_ms = (long)(at - now);
	return 1;
}

static int clover_check(struct provider *p, const struct export_request *req, int64_t now_s,
			struct client_error *err)
{
	char r[DATE_RANGE_STR_LEN];
	const char *why = NULL;
	enum clover_kind kind;
	struct date today = provider_today(p, now_s);

	client_error_clear(err);
	if (clover_kind_of(req->report_type, &kind, err) != 0)
		return -1;
	if (date_range_check(&req->range, &today, CLOVER_MAX_RANGE_DAYS, CLOVER_WINDOW_MONTHS,
			     &why) != 0) {
		date_range_format(&req->range, r);
		client_error_set(err, CLIENT_E_INVALID,
				 "%s: %s (Clover exports at most %d days, within the last %d "
				 "months, ending today at the latest)",
				 r, why, CLOVER_MAX_RANGE_DAYS, CLOVER_WINDOW_MONTHS);
		return -1;
	}
	return 0;
}

/*
 * A non-2xx API answer into *err; always -1. what names the call ("POST exports"), export_get
 * says a 404 means the export id is unknown.
 */
static int status_error(const struct clover *c, const char *token, const char *what,
			int export_get, const struct http_response *resp, struct client_error *err)
{
	char msg[160];
	char hhmm[HHMM_LEN];
	long wait;
	int closed;
	enum client_errkind kind;

	clover_parse_message(resp->body, resp->len, msg, sizeof(msg));
	/* A server echoing what we sent must not smuggle the token into a log. */
	if (strstr(msg, token))
		msg[0] = '\0';
	switch (resp->status) {
	case 400:
		kind = CLIENT_E_INVALID;
		break;
	case 401:
	case 403:
		kind = CLIENT_E_AUTH;
		break;
	case 404:
		kind = export_get ? CLIENT_E_NOT_FOUND : CLIENT_E_PROTOCOL;
		break;
	case 429:
		kind = CLIENT_E_RATE_LIMIT;
		err->retry_after_ms = resp->retry_after_ms;
		break;
	case 503:
		/* Outside hours or at the concurrency cap. Without Retry-After, our own timetable
		 * is the best guess when it says closed; else the caller backs off. */
		kind = CLIENT_E_UNAVAILABLE;
		err->retry_after_ms = resp->retry_after_ms;
		closed = hours_closed(c, clover_now_ms(c), &wait, hhmm);
		if (err->retry_after_ms < 0 && closed)
			err->retry_after_ms = wait;
		/* Service hours, not the concurrency cap: our timetable says closed, or the answer
		 * names the hours ("Exports are available 10:00-15:00 UTC"). */
		if (closed || strcasestr(msg, "available"))
			snprintf(err->code, sizeof(err->code), "%s", PROVIDER_CODE_SERVICE_HOURS);
		break;
	default:
		kind = resp->status >= 500 && resp->status <= 599 ? CLIENT_E_TRANSIENT
								   : CLIENT_E_PROTOCOL;
		break;
	}
	err->http_status = (int)resp->status;
	if (msg[0])
		client_error_set(err, kind, "HTTP %ld from %s: %s", resp->status, what, msg);
	else
		client_error_set(err, kind, "HTTP %ld from %s", resp->status, what);
	return -1;
}

/* One API call (GET when body is NULL). On 0, *resp holds a 2xx answer (caller frees). */
static int clover_call(struct clover *c, const char *export_id, const char *body,
		       struct http_response *resp, struct client_error *err)
{
	char url[CLOVER_URL_MAX];
	const char *headers[1];
	struct http_request rq = {url, headers, 1, body, "application/json"};
	const char *what = body ? "POST exports" : "GET export";
	char *token = NULL, *auth = NULL;
	size_t auth_len = 0;
	int rc = -1;

	memset(resp, 0, sizeof(*resp));
	if (clover_exports_url(c->base_url, c->base.account, export_id, url, sizeof(url)) != 0) {
		client_error_set(err, CLIENT_E_INVALID, "base_url too long");
		return -1;
	}
	/* The token in use now: a new one in its file counts from this request on. */
	if (!(token = secret_file_get(c->token, NULL)) ||
	    !(auth = malloc((auth_len = AUTH_PREFIX_LEN + strlen(token)) + 1))) {
		client_error_set(err, CLIENT_E_LOCAL, "out of memory");
		err->sys_errno = ENOMEM;
		goto out;
	}
	memcpy(auth, AUTH_PREFIX, AUTH_PREFIX_LEN);
	memcpy(auth + AUTH_PREFIX_LEN, token, strlen(token) + 1);
	headers[0] = auth;
	if (http_request(c->http, &rq, resp, err) != 0)
		goto out;
	if (resp->status < 200 || resp->status > 299) {
		status_error(c, token, what, export_id != NULL, resp, err);
		http_response_free(resp);
		goto out;
	}
	rc = 0;
out:
	if (auth) {
		OPENSSL_cleanse(auth, auth_len);
		free(auth);
	}
	if (token) {
		OPENSSL_cleanse(token, strlen(token));
		free(token);
	}
	return rc;
}

/*
 * GET an export and parse it into *x (free with clover_export_free). A DONE export whose
 * files are past availableUntil is CLIENT_E_FILE_EXPIRED: the data is gone, export again.
 */
static int get_export(struct clover *c, const char *export_id, struct clover_export *x,
		      struct client_error *err)
{
	struct http_response resp;
	int rc;

	memset(x, 0, sizeof(*x));
	if (!clover_id_ok(export_id)) {
		client_error_set(err, CLIENT_E_INVALID,
				 "export id is empty, too long or not [A-Za-z0-9._-]");
		return -1;
	}
	if (clover_call(c, export_id, NULL, &resp, err) != 0)
		return -1;
	rc = clover_parse_export(resp.body, resp.len, export_id, x, err);
	if (rc != 0)
		http_reply_context(&resp, err); /* not JSON: say the status and Content-Type */
	http_response_free(&resp);
	if (rc != 0)
		return -1;
	if (x->task.state == EXPORT_GENERATED && x->available_until_ms <= clover_now_ms(c)) {
		char t[CLOVER_TIME_LEN] = "?";
		clover_csv_time(x->available_until_ms, t);
		client_error_set(err, CLIENT_E_FILE_EXPIRED,
				 "export %s: files deleted at %s (availableUntil); export again",
				 export_id, t);
		clover_export_free(x);
		return -1;
	}
	return 0;
}

static int clover_apply(struct provider *p, const struct export_request *req,
			struct export_task *out, struct client_error *err)
{
	struct clover *c = cl(p);
	struct http_response resp;
	struct clover_export x;
	char r[DATE_RANGE_STR_LEN], hhmm[HHMM_LEN];
	long wait;
	int rc;

	client_error_clear(err);
	if (hours_closed(c, clover_now_ms(c), &wait, hhmm)) {
		/* The server would only answer 503: do not spend a request (or the rate cap). */
		client_error_set(err, CLIENT_E_UNAVAILABLE, "outside service hours; opens %s UTC",
				 hhmm);
		snprintf(err->code, sizeof(err->code), "%s", PROVIDER_CODE_SERVICE_HOURS);
		err->retry_after_ms = wait;
		return -1;
	}
	char *body = clover_apply_body(req, err);
	if (!body)
		return -1;
	rc = clover_call(c, NULL, body, &resp, err);
	free(body);
	if (rc != 0)
		return -1;
	rc = clover_parse_export(resp.body, resp.len, NULL, &x, err);
	if (rc != 0)
		http_reply_context(&resp, err);
	http_response_free(&resp);
	if (rc != 0)
		return -1;
	*out = x.task;
	clover_export_free(&x);
	date_range_format(&req->range, r);
	log_debug("clover: applied %s %s -> export %s (%s)", req->report_type, r, out->id,
		  export_state_name(out->state));
	return 0;
}

static int clover_query(struct provider *p, const char *task_id, struct export_task *out,
			struct client_error *err)
{
	struct clover_export x;

	client_error_clear(err);
	if (get_export(cl(p), task_id, &x, err) != 0)
		return -1;
	*out = x.task;
	clover_export_free(&x);
	return 0;
}

/* A DONE export, or -1 with CLIENT_E_PROTOCOL naming the state it is in. */
static int need_done(const struct clover_export *x, struct client_error *err)
{
	if (x->task.state == EXPORT_GENERATED)
		return 0;
	client_error_set(err, CLIENT_E_PROTOCOL, "export %s is %s (%s), not DONE", x->task.id,
			 export_state_name(x->task.state), x->task.msg);
	return -1;
}

static int clover_get_urls(struct provider *p, const char *task_id, struct download_url *urls,
			   size_t max, size_t *n, struct client_error *err)
{
	struct clover_export x;
	int rc = -1;

	client_error_clear(err);
	*n = 0;
	if (get_export(cl(p), task_id, &x, err) != 0)
		return -1;
	if (need_done(&x, err) != 0)
		goto out;
	if (x.nurls > max) {
		client_error_set(err, CLIENT_E_INVALID, "export has %zu files, room for %zu",
				 x.nurls, max);
		goto out;
	}
	for (size_t i = 0; i < x.nurls; i++) {
		snprintf(urls[i].url, sizeof(urls[i].url), "%s", x.urls[i]);
		urls[i].expires_ms = x.available_until_ms;
	}
	*n = x.nurls;
	rc = 0;
out:
	clover_export_free(&x);
	return rc;
}

/* Deleted files answer 403/404/410; a new URL for the same export would be just as dead. */
static void file_gone(struct client_error *err, size_t i)
{
	char why[PROVIDER_MSG_MAX];

	if (err->kind != CLIENT_E_URL_EXPIRED)
		return;
	snprintf(why, sizeof(why), "%s", err->msg); /* never format msg into itself */
	client_error_set(err, CLIENT_E_FILE_EXPIRED,
			 "export file %zu is gone (%.128s); export again", i + 1, why);
}

static int clover_download(struct provider *p, const struct download_url *url, uint64_t offset,
			   const struct download_sink *sink, uint64_t *total,
			   struct client_error *err)
{
	struct clover *c = cl(p);

	client_error_clear(err);
	if (total)
		*total = UINT64_MAX;
	if (url->expires_ms > 0 && clover_now_ms(c) >= url->expires_ms) {
		client_error_set(err, CLIENT_E_FILE_EXPIRED,
				 "export file is past availableUntil; export again");
		return -1;
	}
	if (http_download(c->http, url->url, offset, sink, total, err) != 0) {
		file_gone(err, 0);
		return -1;
	}
	return 0;
}

/* ---- fetch: the bundle ---- */

/* Streams one download into the open bundle member, strictly in order. */
struct member_sink {
	struct bundle_writer *w;
	uint64_t size;
	int too_big; /* the file passed CLOVER_FILE_MAX */
	int rewind;  /* the server restarted a body we had begun: cannot undo in a bundle */
};

static int ms_begin(void *ctx, uint64_t offset, uint64_t total)
{
	struct member_sink *m = ctx;
	if (offset != m->size) {
		m->rewind = 1;
		return -EIO;
	}
	if (total != UINT64_MAX && total > CLOVER_FILE_MAX) {
		m->too_big = 1;
		return -EFBIG;
	}
	return 0;
}

static int ms_write(void *ctx, const void *buf, size_t len, uint64_t offset)
{
	struct member_sink *m = ctx;
	if (offset != m->size) {
		m->rewind = 1;
		return -EIO;
	}
	if (len > CLOVER_FILE_MAX - m->size) {
		m->too_big = 1;
		return -EFBIG;
	}
	int rc = bundle_write(m->w, buf, len);
	if (rc == 0)
		m->size += len;
	return rc;
}

/* A failed bundle/sink call (-errno) into *err; always -1. */
static int sink_error(struct client_error *err, int rc, const char *what)
{
	if (rc == -ECANCELED) {
		client_error_set(err, CLIENT_E_CANCELLED, "fetch cancelled");
		return -1;
	}
	err->sys_errno = -rc;
	client_error_set(err, CLIENT_E_LOCAL, "%s: %s", what, strerror(-rc));
	return -1;
}

/* Download file i of x into member "<base>-NNNN.json". */
static int fetch_file(struct clover *c, const struct clover_export *x, size_t i,
		      const char *base, struct bundle_writer *w, struct client_error *err)
{
	char name[BUNDLE_NAME_MAX];
	struct member_sink m = {w, 0, 0, 0};
	struct download_sink ds = {ms_begin, ms_write, &m, NULL, NULL};
	int rc;

	snprintf(name, sizeof(name), "%s-%04zu.json", base, i + 1);
	if ((rc = bundle_member_start(w, name)) != 0)
		return sink_error(err, rc, name);
	if (http_download(c->http, x->urls[i], 0, &ds, NULL, err) != 0) {
		if (m.too_big)
			client_error_set(err, CLIENT_E_PROTOCOL, "%s: larger than %llu bytes", name,
					 (unsigned long long)CLOVER_FILE_MAX);
		else if (m.rewind)
			client_error_set(err, CLIENT_E_TRANSIENT, "%s: server restarted the body",
					 name);
		file_gone(err, i);
		return -1;
	}
	if ((rc = bundle_member_end(w)) != 0)
		return sink_error(err, rc, name);
	return 0;
}

/* Reads back finished members of a bundle for clover_stream_file. */
struct member_read {
	const struct bundle_writer *w;
	size_t i;
};

static int member_read(void *ctx, void *buf, size_t len, uint64_t off)
{
	const struct member_read *r = ctx;

	return bundle_member_read(r->w, r->i, off, buf, len);
}

/* Every element of finished member i, in order, to each (clover_stream.h: one element in
 * memory at a time). 0, or -1 with *err. */
static int each_element(const struct bundle_writer *w, size_t i, clover_element_fn each,
			void *arg, struct client_error *err)
{
	const struct bundle_member *m = &w->members[i];
	struct member_read r = {w, i};

	if (m->size > CLOVER_FILE_MAX) {
		client_error_set(err, CLIENT_E_PROTOCOL, "%s: larger than %llu bytes", m->name,
				 (unsigned long long)CLOVER_FILE_MAX);
		return -1;
	}
	return clover_stream_file(member_read, &r, m->size, m->name, CLOVER_FILE_ELEMENTS_MAX,
				  each, arg, err);
}

/* Write out's bytes to the open member once there are enough (or always when force). */
static int flush(struct bundle_writer *w, struct buf *out, int force,
		 struct client_error *err)
{
	if (out->len == 0 || (!force && out->len < FLUSH_AT))
		return 0;
	int rc = bundle_write(w, out->data, out->len);
	buf_reset(out);
	return rc ? sink_error(err, rc, "writing a derived file") : 0;
}

/* A row or line did not fit in the derived file's buffer: out of memory, or -E2BIG. */
static int add_error(struct client_error *err, int rc, const char *name)
{
	if (rc != -ENOMEM)
		return sink_error(err, rc, name);
	oom(err);
	return -1;
}

/* Where derive_member's elements go. */
struct derive_ctx {
	struct bundle_writer *w;
	enum clover_kind kind;
	int csv;
	struct buf *out;
	uint64_t *count;
};

static int derive_element(void *arg, const cJSON *el, struct client_error *err)
{
	struct derive_ctx *d = arg;
	int e = d->csv ? clover_csv_row(d->kind, el, d->out) : clover_jsonl_line(el, d->out);

	if (e != 0)
		return add_error(err, e, d->csv ? "a CSV row" : "a JSON line");
	++*d->count;
	return flush(d->w, d->out, 0, err);
}

/* The elements of json member i as CSV rows (csv 1) or JSON lines into out, which is written
 * to the open member as it fills. *count += elements added. 0, or -1 with *err. */
static int derive_member(struct bundle_writer *w, size_t i, enum clover_kind kind, int csv,
			 struct buf *out, uint64_t *count, struct client_error *err)
{
	struct derive_ctx d = {w, kind, csv, out, count};

	return each_element(w, i, derive_element, &d, err);
}

/*
 * Member "<base><suffix>": every element of the nfiles json members in order, as JSON lines
 * (csv 0) or CSV rows under a header (csv 1). *count = elements written.
 */
static int derive(struct bundle_writer *w, size_t nfiles, enum clover_kind kind, int csv,
		  const struct download_sink *sink, uint64_t *count, struct client_error *err)
{
	char name[BUNDLE_NAME_MAX];
	struct buf out = BUF_INIT(DERIVE_BUF_MAX);
	int rc;

	*count = 0;
	snprintf(name, sizeof(name), "%s%s", clover_kind_base(kind), csv ? ".csv" : ".jsonl");
	if ((rc = bundle_member_start(w, name)) != 0)
		return sink_error(err, rc, name);
	if (csv && (rc = buf_add_str(&out, clover_csv_header(kind))) != 0)
		rc = add_error(err, rc, name);
	for (size_t i = 0; i < nfiles && rc == 0; i++) {
		rc = derive_member(w, i, kind, csv, &out, count, err);
		if (rc == 0 && !csv && sink->items)
			sink->items(sink->ctx, *count, 0);
	}
	if (rc == 0)
		rc = flush(w, &out, 1, err);
	if (rc == 0 && (rc = bundle_member_end(w)) != 0)
		rc = sink_error(err, rc, name);
	buf_free(&out);
	return rc;
}

/* Where xlsx_rows's elements go. */
struct xlsx_ctx {
	struct clover_xlsx *x;
	uint64_t *count;
};

static int xlsx_element(void *arg, const cJSON *el, struct client_error *err)
{
	struct xlsx_ctx *d = arg;

	if (clover_xlsx_add(d->x, el) != 0) {
		client_error_set(err, CLIENT_E_LOCAL, "cannot add a row to the xlsx");
		return -1;
	}
	++*d->count;
	return 0;
}

/* Rows of the nfiles json members into the open workbook x. *count = elements added. */
static int xlsx_rows(struct clover_xlsx *x, const struct bundle_writer *w, size_t nfiles,
		     uint64_t *count, struct client_error *err)
{
	struct xlsx_ctx d = {x, count};

	*count = 0;
	for (size_t i = 0; i < nfiles; i++)
		if (each_element(w, i, xlsx_element, &d, err) != 0)
			return -1;
	return 0;
}

/* Member "<base>.xlsx", built in a temp file under work_dir that never outlives this call.
 * *count = elements written. */
static int derive_xlsx(struct clover *c, struct bundle_writer *w, size_t nfiles,
		       enum clover_kind kind, int64_t created_s, uint64_t *count,
		       struct client_error *err)
{
	char path[CLOVER_WORK_DIR_MAX + 32], name[BUNDLE_NAME_MAX];
	struct clover_xlsx *x = NULL;
	int fd, rc = -1;

	if ((mkdir(c->work_dir, 0700) != 0 && errno != EEXIST) ||
	    snprintf(path, sizeof(path), "%s/clover-XXXXXX.xlsx", c->work_dir) >=
		    (int)sizeof(path) ||
	    (fd = mkstemps(path, 5)) < 0) {
		err->sys_errno = errno;
		client_error_set(err, CLIENT_E_LOCAL, "xlsx temp file in work_dir: %s",
				 strerror(errno));
		return -1;
	}
	close(fd);
	x = clover_xlsx_open(kind, path, c->work_dir, created_s);
	if (!x) {
		client_error_set(err, CLIENT_E_LOCAL, "cannot start the xlsx in work_dir");
		goto out;
	}
	rc = xlsx_rows(x, w, nfiles, count, err);
	if (clover_xlsx_close(x, rc != 0) != 0 && rc == 0) {
		client_error_set(err, CLIENT_E_LOCAL, "cannot write the xlsx in work_dir");
		rc = -1;
	}
	if (rc != 0)
		goto out;
	rc = -1;
	snprintf(name, sizeof(name), "%s.xlsx", clover_kind_base(kind));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		sink_error(err, -errno, "reading the xlsx back");
		goto out;
	}
	int e = bundle_member_from_fd(w, name, fd);
	close(fd);
	rc = e ? sink_error(err, e, name) : 0;
out:
	unlink(path);
	return rc;
}

/* The DONE export task_id, of req's report type when req names one. 0 with *x (caller
 * frees it), or -1 with *err and nothing to free. */
static int export_to_fetch(struct clover *c, const char *task_id,
			   const struct export_request *req, struct clover_export *x,
			   struct client_error *err)
{
	enum clover_kind kind = CLOVER_ORDERS;

	if (req && req->report_type && clover_kind_of(req->report_type, &kind, err) != 0)
		return -1;
	if (get_export(c, task_id, x, err) != 0)
		return -1;
	if (need_done(x, err) != 0) {
		clover_export_free(x);
		return -1;
	}
	if (req && req->report_type && kind != x->kind) {
		client_error_set(err, CLIENT_E_PROTOCOL, "export %s is %s, not %s", x->task.id,
				 clover_kind_type(x->kind), req->report_type);
		clover_export_free(x);
		return -1;
	}
	return 0;
}

/* Every member of the begun bundle w: x's files, then the JSON lines, CSV and xlsx derived
 * from them. *elements = elements in each. 0, or -1 with *err. */
static int fill_bundle(struct clover *c, const struct clover_export *x, struct bundle_writer *w,
		       const struct download_sink *sink, uint64_t *elements,
		       struct client_error *err)
{
	enum clover_kind kind = x->kind;
	uint64_t rows = 0, xrows = 0;

	for (size_t i = 0; i < x->nurls; i++)
		if (fetch_file(c, x, i, clover_kind_base(kind), w, err) != 0)
			return -1;
	if (derive(w, x->nurls, kind, 0, sink, elements, err) != 0 ||
	    derive(w, x->nurls, kind, 1, sink, &rows, err) != 0 ||
	    /* Created when Clover finished the export: the same for every fetch of it, so the
	     * xlsx's bytes are too. */
	    derive_xlsx(c, w, x->nurls, kind, x->task.finish_time, &xrows, err) != 0)
		return -1;
	if (*elements != rows || *elements != xrows) {
		client_error_set(err, CLIENT_E_LOCAL, "files changed while being read back");
		return -1;
	}
	return 0;
}

static int clover_fetch(struct provider *p, const char *task_id, const struct export_request *req,
			const struct download_sink *sink, uint64_t *total,
			struct client_error *err)
{
	struct clover *c = cl(p);
	struct clover_export x;
	struct bundle_writer w;
	uint64_t lines = 0, size = 0;
	int rc = -1;

	client_error_clear(err);
	if (total)
		*total = UINT64_MAX;
	if (export_to_fetch(c, task_id, req, &x, err) != 0)
		return -1;
	if ((rc = bundle_begin(&w, sink)) != 0) {
		sink_error(err, rc, "starting the bundle");
		rc = -1;
		goto out;
	}
	rc = -1;
	if (fill_bundle(c, &x, &w, sink, &lines, err) != 0)
		goto out;
	int brc = bundle_finish(&w, &size);
	if (brc != 0) {
		sink_error(err, brc, "finishing the bundle");
		goto out;
	}
	if (sink->items)
		sink->items(sink->ctx, lines, lines);
	if (total)
		*total = size;
	log_debug("clover: fetched export %s: %zu files, %llu elements, %llu bytes", x.task.id,
		  x.nurls, (unsigned long long)lines, (unsigned long long)size);
	rc = 0;
out:
	bundle_writer_free(&w);
	clover_export_free(&x);
	return rc;
}

/* A whole bundle with both derived members of one type: what fetch() always finishes with. */
static int clover_verify(struct provider *p, int fd, uint64_t size, struct client_error *err)
{
	struct bundle_index ix;
	int rc = bundle_index_read(fd, size, &ix);

	if (rc == -EBADMSG) {
		client_error_set(err, CLIENT_E_TRANSIENT,
				 "bundle incomplete: %llu bytes without a valid index and trailer",
				 (unsigned long long)size);
		return -1;
	}
	if (rc != 0) {
		err->sys_errno = -rc;
		client_error_set(err, CLIENT_E_LOCAL, "cannot read fetched bundle: %s",
				 strerror(-rc));
		return -1;
	}
	int whole = (bundle_index_find(&ix, "orders.jsonl") &&
		     bundle_index_find(&ix, "orders.csv") &&
		     bundle_index_find(&ix, "orders.xlsx")) ||
		    (bundle_index_find(&ix, "payments.jsonl") &&
		     bundle_index_find(&ix, "payments.csv") &&
		     bundle_index_find(&ix, "payments.xlsx"));
	bundle_index_free(&ix);
	if (!whole) {
		client_error_set(err, CLIENT_E_TRANSIENT, "bundle lacks its .jsonl, .csv or .xlsx member");
		return -1;
	}
	return 0;
}

/* Fleet mode shares the request cap between hosts. */
static void clover_set_request_rate(struct provider *p, double per_s)
{
	struct clover *x = p->priv;
	http_set_rate(x->http, per_s);
}

static void clover_destroy(struct provider *p)
{
	struct clover *c;

	if (!p)
		return;
	c = cl(p);
	http_client_free(c->http);
	secret_file_free(c->token);
	free(c->base_url);
	free(c->work_dir);
	OPENSSL_cleanse(c, sizeof(*c));
	free(c);
}

static uint64_t clover_credentials_version(struct provider *p)
{
	return secret_file_gen(cl(p)->token);
}

static const struct provider_ops clover_ops = {
	.check = clover_check,
	.apply = clover_apply,
	.query = clover_query,
	.get_urls = clover_get_urls,
	.download = clover_download,
	.verify = clover_verify,
	.fetch = clover_fetch,
	.set_request_rate = clover_set_request_rate,
	.credentials_version = clover_credentials_version,
	.destroy = clover_destroy,
};

static const char *const clover_suffixes[] = {".xlsx", ".jsonl", ".csv", NULL};
static const struct provider_type clover_types[] = {
	{"ORDERS", "orders", NULL, clover_suffixes, "json"},
	{"PAYMENTS", "payments", NULL, clover_suffixes, "json"},
};

/* cfg's merchant id, token and region. 0, or -1 with CLIENT_E_INVALID. */
static int config_ok(const struct clover_config *cfg, struct client_error *err)
{
	/* The mId is a URL path segment and part of cache keys. */
	if (!clover_id_ok(cfg->merchant_id) ||
	    strlen(cfg->merchant_id) >= sizeof(((struct provider *)0)->account)) {
		client_error_set(err, CLIENT_E_INVALID,
				 "merchant_id must be 1..127 characters of [A-Za-z0-9._-]");
		return -1;
	}
	/* The token goes into a header line. */
	if (!check_token(cfg->token, CLOVER_TOKEN_MAX)) {
		client_error_set(err, CLIENT_E_INVALID,
				 "the token is empty, too long, or has spaces or control "
				 "characters");
		return -1;
	}
	if (!clover_region_ok(cfg->region)) {
		client_error_set(err, CLIENT_E_INVALID,
				 "region \"%.32s\" is unknown (us, eu, la or sandbox)",
				 cfg->region);
		return -1;
	}
	return 0;
}

struct provider *clover_new(const struct clover_config *cfg, struct client_error *err)
{
	struct http_options ho = {0};
	struct clover *c;
	char url[CLOVER_BASE_URL_MAX];
	const char *tmp = getenv("TMPDIR");
	const char *work_dir = cfg->work_dir ? cfg->work_dir : tmp && *tmp ? tmp : "/tmp";

	client_error_clear(err);
	if (config_ok(cfg, err) != 0)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		goto oom;
	c->base.priv = c; /* first: the fail path destroys through it */
	if (http_base_url(cfg->base_url, url, sizeof(url), err) != 0)
		goto fail;
	if (!(c->base_url = strdup(url)))
		goto oom;
	if (!(c->token = secret_file_new(cfg->token_path, cfg->token)))
		goto oom;
	snprintf(c->region, sizeof(c->region), "%s", cfg->region ? cfg->region : "sandbox");
	c->now_ms = cfg->now_ms;
	if (strlen(work_dir) >= CLOVER_WORK_DIR_MAX) {
		client_error_set(err, CLIENT_E_INVALID, "work_dir is too long");
		goto fail;
	}
	if (!(c->work_dir = strdup(work_dir)))
		goto oom;

	ho.connect_timeout_ms = cfg->connect_timeout_ms;
	ho.request_timeout_ms = cfg->request_timeout_ms;
	ho.download_stall_s = cfg->download_stall_s;
	ho.download_min_rate = cfg->download_min_rate;
	ho.tls_insecure = cfg->tls_insecure;
	ho.allow_private = cfg->download_allow_private;
	ho.api_url = cfg->base_url;
	ho.max_requests_per_s = cfg->max_requests_per_s;
	c->http = http_client_new(&ho, err);
	if (!c->http)
		goto fail;

	c->base.ops = &clover_ops;
	c->base.name = "clover";
	snprintf(c->base.account, sizeof(c->base.account), "%s", cfg->merchant_id);
	c->base.max_range_days = CLOVER_MAX_RANGE_DAYS;
	c->base.window_months = CLOVER_WINDOW_MONTHS;
	c->base.types = clover_types;
	c->base.ntypes = sizeof(clover_types) / sizeof(clover_types[0]);
	c->base.shared_tasks = 1; /* an export id is the merchant's, not this host's */
	return &c->base;
oom:
	oom(err);
fail:
	if (c)
		clover_destroy(&c->base);
	return NULL;
}
