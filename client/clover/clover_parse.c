/* Clover wire format: URLs, the request body, strict export object and file parsing. */
#include "clover_parse.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/check.h"
#include "../../common/date.h"

#define DAY_MS 86400000LL

int clover_id_ok(const char *id)
{
	size_t len = id ? strlen(id) : 0;
	if (len == 0 || len >= PROVIDER_ID_MAX || !strcmp(id, ".") || !strcmp(id, ".."))
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)id[i]) && !strchr("._-", id[i]))
			return 0;
	return 1;
}

int clover_exports_url(const char *base, const char *mid, const char *export_id, char *out,
		       size_t cap)
{
	int n = snprintf(out, cap, "%s/v3/merchants/%s/exports/%s", base, mid,
			 export_id ? export_id : "");
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int clover_kind_of(const char *report_type, enum clover_kind *kind, struct client_error *err)
{
	if (report_type && strcmp(report_type, "ORDERS") == 0) {
		*kind = CLOVER_ORDERS;
		return 0;
	}
	if (report_type && strcmp(report_type, "PAYMENTS") == 0) {
		*kind = CLOVER_PAYMENTS;
		return 0;
	}
	client_error_set(err, CLIENT_E_INVALID,
			 "report type \"%.64s\" is not supported by Clover (ORDERS or PAYMENTS)",
			 report_type ? report_type : "");
	return -1;
}

const char *clover_kind_type(enum clover_kind kind)
{
	return kind == CLOVER_PAYMENTS ? "PAYMENTS" : "ORDERS";
}

const char *clover_kind_base(enum clover_kind kind)
{
	return kind == CLOVER_PAYMENTS ? "payments" : "orders";
}

int clover_range_ms(const struct date_range *r, int64_t *start_ms, int64_t *end_ms)
{
	if (!date_valid(&r->start) || !date_valid(&r->end))
		return -1;
	/* Clover days are UTC days: no time zone enters, unlike date_start_time(). */
	*start_ms = date_to_days(&r->start) * DAY_MS;
	*end_ms = (date_to_days(&r->end) + 1) * DAY_MS - 1;
	return 0;
}

char *clover_apply_body(const struct export_request *req, struct client_error *err)
{
	enum clover_kind kind;
	int64_t start, end;
	char *out;

	if (clover_kind_of(req->report_type, &kind, err) != 0)
		return NULL;
	if (clover_range_ms(&req->range, &start, &end) != 0) {
		client_error_set(err, CLIENT_E_INVALID, "range is not made of real calendar dates");
		return NULL;
	}
	/* Printed by hand: the ms values must be exact integers, never "1.7e+12". */
	if (asprintf(&out, "{\"type\":\"%s\",\"startTime\":%" PRId64 ",\"endTime\":%" PRId64 "}",
		     clover_kind_type(kind), start, end) < 0) {
		err->sys_errno = ENOMEM;
		client_error_set(err, CLIENT_E_LOCAL, "out of memory");
		return NULL;
	}
	return out;
}

/* ---- responses ---- */

/* Whole-body JSON: anything but whitespace after the value is not JSON either. */
static cJSON *parse_json(const char *json, size_t len)
{
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
	if (root && end) {
		for (const char *p = end; p < json + len && *p; p++) {
			if (!isspace((unsigned char)*p)) {
				cJSON_Delete(root);
				return NULL;
			}
		}
	}
	return root;
}

static const cJSON *get(const cJSON *obj, const char *name)
{
	return cJSON_GetObjectItemCaseSensitive(obj, name);
}

static int missing(struct client_error *err, const char *name)
{
	client_error_set(err, CLIENT_E_PROTOCOL, "export: missing field %s", name);
	return -1;
}

static int wrong_type(struct client_error *err, const char *name, const char *type)
{
	client_error_set(err, CLIENT_E_PROTOCOL, "export: field %s is not a %s", name, type);
	return -1;
}

static int req_string(const cJSON *obj, const char *key, const char *path, const char **out,
		      struct client_error *err)
{
	const cJSON *v = get(obj, key);
	if (!v)
		return missing(err, path);
	if (!cJSON_IsString(v) || !v->valuestring)
		return wrong_type(err, path, "string");
	*out = v->valuestring;
	return 0;
}

static int req_number(const cJSON *obj, const char *key, const char *path, double *out,
		      struct client_error *err)
{
	const cJSON *v = get(obj, key);
	if (!v)
		return missing(err, path);
	if (!cJSON_IsNumber(v))
		return wrong_type(err, path, "number");
	*out = v->valuedouble;
	return 0;
}

static void set_state(const char *status, struct export_task *t)
{
	if (strcmp(status, "PENDING") == 0) {
		t->state = EXPORT_PENDING;
	} else if (strcmp(status, "IN_PROGRESS") == 0) {
		t->state = EXPORT_GENERATING;
	} else if (strcmp(status, "DONE") == 0) {
		t->state = EXPORT_GENERATED;
	} else {
		t->state = EXPORT_FAILED;
		snprintf(t->msg, sizeof(t->msg), "export status \"%.64s\"", status);
		return;
	}
	snprintf(t->msg, sizeof(t->msg), "%s", status);
}

/* exportUrls.elements[].url of a DONE export into x->urls. 0 or -1 with *err. */
static int parse_urls(const cJSON *root, struct clover_export *x, struct client_error *err)
{
	const cJSON *eu = get(root, "exportUrls"), *els, *el;
	size_t n = 0;

	if (!eu)
		return missing(err, "exportUrls");
	if (!cJSON_IsObject(eu))
		return wrong_type(err, "exportUrls", "object");
	els = get(eu, "elements");
	if (!els)
		return missing(err, "exportUrls.elements");
	if (!cJSON_IsArray(els))
		return wrong_type(err, "exportUrls.elements", "array");
	int count = cJSON_GetArraySize(els);
	if (count == 0)
		return 0;
	x->urls = calloc((size_t)count, sizeof(*x->urls));
	if (!x->urls)
		goto oom;
	cJSON_ArrayForEach(el, els)
	{
		const char *url;
		if (!cJSON_IsObject(el))
			return wrong_type(err, "exportUrls.elements[]", "object");
		if (req_string(el, "url", "exportUrls.elements[].url", &url, err))
			return -1;
		/* Never echo a file URL: it is a pre-signed credential. */
		if (!check_http_url(url)) {
			client_error_set(err, CLIENT_E_PROTOCOL,
					 "export: exportUrls.elements[%zu].url is not http(s)", n);
			return -1;
		}
		if (strlen(url) >= PROVIDER_URL_MAX) {
			client_error_set(err, CLIENT_E_PROTOCOL,
					 "export: exportUrls.elements[%zu].url is too long", n);
			return -1;
		}
		x->urls[n] = strdup(url);
		if (!x->urls[n])
			goto oom;
		x->nurls = ++n;
	}
	return 0;
oom:
	err->sys_errno = ENOMEM;
	client_error_set(err, CLIENT_E_LOCAL, "out of memory");
	return -1;
}

/* id, type, status and percentComplete of the export object root into out->kind and
 * out->task. 0, or -1 with *err. */
static int parse_task(const cJSON *root, const char *export_id, struct clover_export *out,
		      struct client_error *err)
{
	const char *id, *type, *status;
	double pct;

	if (req_string(root, "id", "id", &id, err) ||
	    req_string(root, "type", "type", &type, err) ||
	    req_string(root, "status", "status", &status, err) ||
	    req_number(root, "percentComplete", "percentComplete", &pct, err))
		return -1;
	if (!clover_id_ok(id)) {
		/* It goes back into URL paths: refuse anything that could change the path. */
		client_error_set(err, CLIENT_E_PROTOCOL, "export: id is empty, too long or has "
							 "characters outside [A-Za-z0-9._-]");
		return -1;
	}
	if (export_id && strcmp(id, export_id) != 0) {
		client_error_set(err, CLIENT_E_PROTOCOL, "export: answered for another export id");
		return -1;
	}
	if (clover_kind_of(type, &out->kind, err) != 0) {
		client_error_set(err, CLIENT_E_PROTOCOL, "export: unknown type \"%.32s\"", type);
		return -1;
	}
	snprintf(out->task.id, sizeof(out->task.id), "%s", id);
	snprintf(out->task.file_name, sizeof(out->task.file_name), "%s", type);
	out->task.progress = pct < 0 ? 0 : pct > 100 ? 100 : (int)pct;
	set_state(status, &out->task);
	return 0;
}

/* What only a DONE export has: availableUntil, modifiedTime and the file URLs. 0, or -1
 * with *err. */
static int parse_done(const cJSON *root, struct clover_export *out, struct client_error *err)
{
	const cJSON *v;
	double until;

	if (req_number(root, "availableUntil", "availableUntil", &until, err))
		return -1;
	if (!(until > 0 && until < 1e15)) {
		client_error_set(err, CLIENT_E_PROTOCOL, "export: availableUntil out of range");
		return -1;
	}
	out->available_until_ms = (int64_t)until;
	out->task.expires = provider_expiry(out->available_until_ms / 1000);
	v = get(root, "modifiedTime");
	if (cJSON_IsNumber(v) && v->valuedouble > 0 && v->valuedouble < 1e15)
		out->task.finish_time = (int64_t)v->valuedouble / 1000;
	return parse_urls(root, out, err);
}

int clover_parse_export(const char *json, size_t len, const char *export_id,
			struct clover_export *out, struct client_error *err)
{
	cJSON *root;

	memset(out, 0, sizeof(*out));
	out->task.progress = -1;
	root = parse_json(json, len);
	if (!root) {
		if (!client_reply_not_json(json, len, "exports", err))
			client_error_set(err, CLIENT_E_PROTOCOL, "malformed JSON from exports");
		return -1;
	}
	if (!cJSON_IsObject(root)) {
		client_error_set(err, CLIENT_E_PROTOCOL, "export: response is not a JSON object");
		goto fail;
	}
	if (parse_task(root, export_id, out, err) != 0)
		goto fail;
	if (out->task.state == EXPORT_GENERATED && parse_done(root, out, err) != 0)
		goto fail;
	cJSON_Delete(root);
	return 0;
fail:
	cJSON_Delete(root);
	clover_export_free(out);
	return -1;
}

void clover_export_free(struct clover_export *x)
{
	for (size_t i = 0; i < x->nurls; i++)
		free(x->urls[i]);
	free(x->urls);
	x->urls = NULL;
	x->nurls = 0;
}

void clover_parse_message(const char *json, size_t len, char *out, size_t cap)
{
	cJSON *root = parse_json(json, len);
	const cJSON *m = root ? get(root, "message") : NULL;

	if (cap)
		out[0] = '\0';
	if (cJSON_IsString(m) && m->valuestring && cap) {
		snprintf(out, cap, "%s", m->valuestring);
		/* It lands in error messages and logs: one line, printable. */
		for (char *p = out; *p; p++)
			if (iscntrl((unsigned char)*p))
				*p = ' ';
	}
	cJSON_Delete(root);
}

cJSON *clover_parse_file(const char *json, size_t len, const char *name,
			 const cJSON **elements, struct client_error *err)
{
	const cJSON *els, *el;
	cJSON *root = parse_json(json, len);

	if (!root) {
		client_error_set(err, CLIENT_E_PROTOCOL, "%s: malformed JSON", name);
		return NULL;
	}
	if (!cJSON_IsObject(root)) {
		client_error_set(err, CLIENT_E_PROTOCOL, "%s: not a JSON object", name);
		goto fail;
	}
	els = get(root, "elements");
	if (!els) {
		client_error_set(err, CLIENT_E_PROTOCOL, "%s: missing field elements", name);
		goto fail;
	}
	if (!cJSON_IsArray(els)) {
		client_error_set(err, CLIENT_E_PROTOCOL, "%s: field elements is not an array",
				 name);
		goto fail;
	}
	int n = 0;
	cJSON_ArrayForEach(el, els)
	{
		if (!cJSON_IsObject(el)) {
			client_error_set(err, CLIENT_E_PROTOCOL,
					 "%s: elements[%d] is not an object", name, n);
			goto fail;
		}
		if (++n > CLOVER_FILE_ELEMENTS_MAX) {
			client_error_set(err, CLIENT_E_PROTOCOL, "%s: more than %d elements", name,
					 CLOVER_FILE_ELEMENTS_MAX);
			goto fail;
		}
	}
	*elements = els;
	return root;
fail:
	cJSON_Delete(root);
	return NULL;
}
