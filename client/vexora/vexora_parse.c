/* Vexora wire format: URLs, request bodies and strict response parsing (vexora_parse.h). */
#include "vexora_parse.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../../common/check.h"
#include "../../common/date.h"
#include "vexora_sign.h"

const char *vexora_endpoint_name(enum vexora_endpoint ep)
{
	switch (ep) {
	case VEXORA_EP_APPLY:
		return "apply";
	case VEXORA_EP_STATUS:
		return "status";
	case VEXORA_EP_DOWNLOAD_URL:
		return "downloadUrl";
	}
	return "?";
}

int vexora_endpoint_url(const char *base, enum vexora_endpoint ep, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s/v1/vexora/orderExport/%s", base, vexora_endpoint_name(ep));
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int vexora_check_report_type(const char *report_type, struct client_error *err)
{
	if (!report_type || !*report_type || strcmp(report_type, VEXORA_REPORT_TYPE) == 0)
		return 0;
	client_error_set(err, CLIENT_E_INVALID,
			 "reportType \"%.64s\" is not supported by Vexora (only \"order\")",
			 report_type);
	return -1;
}

const char *vexora_language(const char *language, struct client_error *err)
{
	static const char *const known[] = {"en", "en-us", "english", "zh", "zh-cn", "chinese"};

	if (!language || !*language)
		return VEXORA_DEFAULT_LANGUAGE;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcasecmp(language, known[i]) == 0)
			return language;
	client_error_set(err, CLIENT_E_INVALID,
			 "language \"%.64s\" is not supported by Vexora (en, en-US, english, zh, "
			 "zh-CN, chinese)",
			 language);
	return NULL;
}

static void oom(struct client_error *err)
{
	err->sys_errno = ENOMEM;
	client_error_set(err, CLIENT_E_LOCAL, "out of memory");
}

/* Adds the raw timestamp; 0 or -1. */
static int add_timestamp(cJSON *body, int64_t timestamp_ms)
{
	char ts[32];
	snprintf(ts, sizeof(ts), "%" PRId64, timestamp_ms);
	return cJSON_AddRawToObject(body, "timestamp", ts) ? 0 : -1;
}

cJSON *vexora_apply_body(const struct export_request *req, int64_t timestamp_ms,
			 struct client_error *err)
{
	char start[DATE_STR_LEN + 9], end[DATE_STR_LEN + 9], d[DATE_STR_LEN];
	const char *language;
	cJSON *body;

	if (vexora_check_report_type(req->report_type, err) != 0)
		return NULL;
	language = vexora_language(req->language, err);
	if (!language)
		return NULL;
	if (!date_valid(&req->range.start) || !date_valid(&req->range.end)) {
		client_error_set(err, CLIENT_E_INVALID, "range is not made of real calendar dates");
		return NULL;
	}
	date_format(&req->range.start, d);
	snprintf(start, sizeof(start), "%s 00:00:00", d);
	date_format(&req->range.end, d);
	snprintf(end, sizeof(end), "%s 23:59:59", d);

	body = cJSON_CreateObject();
	if (!body || !cJSON_AddStringToObject(body, "reportType", VEXORA_REPORT_TYPE) ||
	    !cJSON_AddStringToObject(body, "language", language) ||
	    !cJSON_AddStringToObject(body, "startTime", start) ||
	    !cJSON_AddStringToObject(body, "endTime", end) || add_timestamp(body, timestamp_ms))
		goto fail;
	return body;
fail:
	cJSON_Delete(body);
	oom(err);
	return NULL;
}

cJSON *vexora_task_body(const char *task_id, int64_t timestamp_ms, struct client_error *err)
{
	cJSON *body;

	if (!task_id || !*task_id || strlen(task_id) >= PROVIDER_ID_MAX) {
		client_error_set(err, CLIENT_E_INVALID, "task id is empty or too long");
		return NULL;
	}
	body = cJSON_CreateObject();
	if (!body || !cJSON_AddStringToObject(body, "id", task_id) ||
	    add_timestamp(body, timestamp_ms)) {
		cJSON_Delete(body);
		oom(err);
		return NULL;
	}
	return body;
}

char *vexora_body_finish(cJSON *body, const char *secret, struct client_error *err)
{
	char sig[SIGN_HEX_LEN];
	char *out;

	if (sign_vexora(body, secret, sig) != 0) {
		client_error_set(err, CLIENT_E_LOCAL, "could not sign the request");
		return NULL;
	}
	if (!cJSON_AddStringToObject(body, "sign", sig)) {
		oom(err);
		return NULL;
	}
	out = cJSON_PrintUnformatted(body);
	if (!out)
		oom(err);
	return out;
}

/* ---- responses ---- */

int vexora_parse_time(const char *s, int64_t *out)
{
	struct date d;
	struct tm tm;
	int hh, mm, ss;

	if (!s || strlen(s) != 19 || s[10] != ' ' || s[13] != ':' || s[16] != ':')
		return -1;
	if (date_parse(s, 10, &d) || date_digits(s + 11, 2, &hh) || date_digits(s + 14, 2, &mm) ||
	    date_digits(s + 17, 2, &ss) || hh > 23 || mm > 59 || ss > 59)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = d.year - 1900;
	tm.tm_mon = d.month - 1;
	tm.tm_mday = d.day;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	tm.tm_isdst = -1; /* the server speaks local wall time; let mktime find DST */
	tm.tm_wday = -1;  /* mktime sets it on success: -1 is also a real time (1969-12-31) */
	time_t t = mktime(&tm);
	if (t == (time_t)-1 && tm.tm_wday == -1)
		return -1;
	*out = (int64_t)t;
	return 0;
}

int vexora_parse_state(const cJSON *v, enum export_state *out)
{
	const char *s;

	if (!cJSON_IsString(v) || !(s = v->valuestring))
		return -1;
	if (s[0] < '0' || s[0] > '4' || s[1] != '\0')
		return -1;
	*out = (enum export_state)(s[0] - '0');
	return 0;
}

static int contains_ci(const char *hay, const char *needle)
{
	return hay && strcasestr(hay, needle) != NULL;
}

/* The server refused: keep its words, pick the kind the caller can act on. */
static void business_error(enum vexora_endpoint ep, const char *code, const char *msg,
			   struct client_error *err)
{
	enum client_errkind kind = CLIENT_E_BUSINESS;
	int about_task = ep != VEXORA_EP_APPLY;

	/* A stale signed timestamp may also be called "expired": that is no file expiry. */
	if (about_task && contains_ci(msg, "expired") && !contains_ci(msg, "timestamp") &&
	    !contains_ci(msg, "sign"))
		kind = CLIENT_E_FILE_EXPIRED;
	else if (about_task && (contains_ci(msg, "not found") || contains_ci(msg, "not exist")))
		kind = CLIENT_E_NOT_FOUND;
	else if (contains_ci(msg, "sign") || contains_ci(msg, "merchant"))
		kind = CLIENT_E_AUTH;
	snprintf(err->code, sizeof(err->code), "%s", code);
	client_error_set(err, kind, "%s", msg);
}

struct field_ctx {
	const char *ep;
	struct client_error *err;
};

static const cJSON *get(const cJSON *obj, const char *name)
{
	return cJSON_GetObjectItemCaseSensitive(obj, name);
}

static int missing(struct field_ctx *fc, const char *name)
{
	client_error_set(fc->err, CLIENT_E_PROTOCOL, "%s: missing field %s", fc->ep, name);
	return -1;
}

static int wrong_type(struct field_ctx *fc, const char *name, const char *type)
{
	client_error_set(fc->err, CLIENT_E_PROTOCOL, "%s: field %s is not a %s", fc->ep, name,
			 type);
	return -1;
}

/* Required string field: *out borrowed from obj. path names it in errors. */
static int req_string(struct field_ctx *fc, const cJSON *obj, const char *key, const char *path,
		      const char **out)
{
	const cJSON *v = get(obj, key);
	if (!v)
		return missing(fc, path);
	if (!cJSON_IsString(v) || !v->valuestring)
		return wrong_type(fc, path, "string");
	*out = v->valuestring;
	return 0;
}

/* Optional time: absent, null or "" -> 0; present and malformed -> error. */
static int opt_time(struct field_ctx *fc, const cJSON *obj, const char *key, const char *path,
		    int64_t *out)
{
	const cJSON *v = get(obj, key);
	*out = 0;
	if (!v || cJSON_IsNull(v) || (cJSON_IsString(v) && v->valuestring[0] == '\0'))
		return 0;
	if (!cJSON_IsString(v))
		return wrong_type(fc, path, "string");
	if (vexora_parse_time(v->valuestring, out) != 0) {
		client_error_set(fc->err, CLIENT_E_PROTOCOL,
				 "%s: field %s is not a yyyy-MM-dd HH:mm:ss time", fc->ep, path);
		return -1;
	}
	return 0;
}

/* Optional expiry, as opt_time; a time given at or before the epoch is long past, so it
 * reads as expired (provider_expiry), never as 0 = "no expiry". */
static int opt_expiry(struct field_ctx *fc, const cJSON *obj, const char *key, const char *path,
		      int64_t *out)
{
	const cJSON *v = get(obj, key);

	if (opt_time(fc, obj, key, path, out) != 0)
		return -1;
	if (cJSON_IsString(v) && v->valuestring[0] != '\0')
		*out = provider_expiry(*out);
	return 0;
}

/* Copy a task id: non-empty, fits, no control characters (it goes back into requests). */
static int copy_id(struct field_ctx *fc, const char *id, char out[PROVIDER_ID_MAX])
{
	size_t len = strlen(id);
	if (len == 0 || len >= PROVIDER_ID_MAX) {
		client_error_set(fc->err, CLIENT_E_PROTOCOL, "%s: data.id is empty or too long",
				 fc->ep);
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		if (iscntrl((unsigned char)id[i])) {
			client_error_set(fc->err, CLIENT_E_PROTOCOL,
					 "%s: data.id has control characters", fc->ep);
			return -1;
		}
	}
	memcpy(out, id, len + 1);
	return 0;
}

/* msg, code and success of the envelope root: 0 when the server says it succeeded, else -1
 * with *err (a business error keeps the server's code and words). */
static int check_status(struct field_ctx *fc, const cJSON *root, enum vexora_endpoint ep)
{
	const char *msg, *code;
	const cJSON *v;

	if (req_string(fc, root, "msg", "msg", &msg) || req_string(fc, root, "code", "code", &code))
		return -1;
	v = get(root, "success");
	if (!v)
		return missing(fc, "success");
	if (!cJSON_IsBool(v))
		return wrong_type(fc, "success", "boolean");
	if (strcmp(code, VEXORA_SUCCESS_CODE) != 0 || !cJSON_IsTrue(v)) {
		business_error(ep, code, msg, fc->err);
		return -1;
	}
	return 0;
}

/* timestamp and data of a successful envelope root: 0 with *data, or -1 with *err. */
static int check_payload(struct field_ctx *fc, const cJSON *root, const cJSON **data)
{
	const cJSON *v = get(root, "timestamp");

	if (!v)
		return missing(fc, "timestamp");
	if (!cJSON_IsNumber(v))
		return wrong_type(fc, "timestamp", "number");
	v = get(root, "data");
	if (!v || cJSON_IsNull(v))
		return missing(fc, "data");
	if (!cJSON_IsObject(v))
		return wrong_type(fc, "data", "object");
	*data = v;
	return 0;
}

/*
 * Parse and check the common envelope. Returns the root (caller deletes) with *data set to
 * the data object, or NULL with *err. Success without data is a protocol error.
 */
static cJSON *parse_envelope(const char *json, size_t len, enum vexora_endpoint ep,
			     const cJSON **data, struct client_error *err)
{
	struct field_ctx fc = {vexora_endpoint_name(ep), err};
	const char *end = NULL;
	cJSON *root;

	root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
	if (root && end) {
		/* Anything but whitespace after the value is not JSON either. */
		for (const char *p = end; p < json + len && *p; p++) {
			if (!isspace((unsigned char)*p)) {
				cJSON_Delete(root);
				root = NULL;
				break;
			}
		}
	}
	if (!root) {
		/* An HTML page will be one again: say what came, and do not retry it. */
		if (!client_reply_not_json(json, len, fc.ep, err))
			client_error_set(err, CLIENT_E_TRANSIENT, "malformed JSON from %s", fc.ep);
		return NULL;
	}
	if (!cJSON_IsObject(root)) {
		client_error_set(err, CLIENT_E_PROTOCOL, "%s: response is not a JSON object",
				 fc.ep);
		goto fail;
	}
	if (check_status(&fc, root, ep) != 0 || check_payload(&fc, root, data) != 0)
		goto fail;
	return root;
fail:
	cJSON_Delete(root);
	return NULL;
}

/* data.status into *out with the errors the contract promises. */
static int req_state(struct field_ctx *fc, const cJSON *data, enum export_state *out)
{
	const cJSON *v = get(data, "status");
	if (!v)
		return missing(fc, "data.status");
	if (!cJSON_IsString(v))
		return wrong_type(fc, "data.status", "string");
	if (vexora_parse_state(v, out) != 0) {
		client_error_set(fc->err, CLIENT_E_PROTOCOL, "%s: unknown data.status \"%.16s\"",
				 fc->ep, v->valuestring);
		return -1;
	}
	return 0;
}

static void task_clear(struct export_task *t)
{
	memset(t, 0, sizeof(*t));
	t->progress = -1;
}

int vexora_parse_apply(const char *json, size_t len, struct export_task *out,
		       struct client_error *err)
{
	struct field_ctx fc = {"apply", err};
	const cJSON *data = NULL;
	const char *id, *name;
	int rc = -1;
	cJSON *root = parse_envelope(json, len, VEXORA_EP_APPLY, &data, err);

	if (!root)
		return -1;
	task_clear(out);
	if (req_string(&fc, data, "id", "data.id", &id) ||
	    req_string(&fc, data, "fileName", "data.fileName", &name) ||
	    req_state(&fc, data, &out->state) || copy_id(&fc, id, out->id))
		goto out;
	snprintf(out->file_name, sizeof(out->file_name), "%s", name);
	rc = 0;
out:
	cJSON_Delete(root);
	return rc;
}

int vexora_parse_status(const char *json, size_t len, const char *task_id,
			struct export_task *out, struct client_error *err)
{
	struct field_ctx fc = {"status", err};
	const cJSON *data = NULL;
	const char *id, *name, *msg;
	int rc = -1;
	cJSON *root = parse_envelope(json, len, VEXORA_EP_STATUS, &data, err);

	if (!root)
		return -1;
	task_clear(out);
	if (req_string(&fc, data, "id", "data.id", &id) ||
	    req_string(&fc, data, "fileName", "data.fileName", &name) ||
	    req_state(&fc, data, &out->state) || req_string(&fc, data, "msg", "data.msg", &msg) ||
	    opt_time(&fc, data, "finishTime", "data.finishTime", &out->finish_time) ||
	    opt_expiry(&fc, data, "fileExpires", "data.fileExpires", &out->expires) ||
	    copy_id(&fc, id, out->id))
		goto out;
	if (task_id && strcmp(task_id, out->id) != 0) {
		client_error_set(err, CLIENT_E_PROTOCOL, "status: answered for another task id");
		goto out;
	}
	snprintf(out->file_name, sizeof(out->file_name), "%s", name);
	snprintf(out->msg, sizeof(out->msg), "%s", msg);
	rc = 0;
out:
	cJSON_Delete(root);
	return rc;
}

int vexora_parse_download_url(const char *json, size_t len, int64_t now_ms,
			      struct download_url *out, struct client_error *err)
{
	struct field_ctx fc = {"downloadUrl", err};
	const cJSON *data = NULL, *v;
	const char *url;
	int rc = -1;
	cJSON *root = parse_envelope(json, len, VEXORA_EP_DOWNLOAD_URL, &data, err);

	if (!root)
		return -1;
	memset(out, 0, sizeof(*out));
	if (req_string(&fc, data, "downloadUrl", "data.downloadUrl", &url))
		goto out;
	if (!check_http_url(url)) {
		/* Never echo the URL: it may carry a token. */
		client_error_set(err, CLIENT_E_PROTOCOL,
				 "downloadUrl: data.downloadUrl is not an http(s) URL");
		goto out;
	}
	if (strlen(url) >= sizeof(out->url)) {
		client_error_set(err, CLIENT_E_PROTOCOL, "downloadUrl: data.downloadUrl too long");
		goto out;
	}
	v = get(data, "expire");
	if (!v) {
		missing(&fc, "data.expire");
		goto out;
	}
	if (!cJSON_IsNumber(v)) {
		wrong_type(&fc, "data.expire", "number");
		goto out;
	}
	/* Milliseconds of validity; a year is far beyond any temporary URL. */
	if (!(v->valuedouble >= 0 && v->valuedouble <= 366.0 * 86400 * 1000)) {
		client_error_set(err, CLIENT_E_PROTOCOL, "downloadUrl: data.expire out of range");
		goto out;
	}
	snprintf(out->url, sizeof(out->url), "%s", url);
	out->expires_ms = now_ms + (int64_t)v->valuedouble;
	rc = 0;
out:
	cJSON_Delete(root);
	return rc;
}
