/*
 * The etcd gateway's JSON, without any network: what an answer means, int64 fields (the
 * gateway spells them as decimal strings: lease ids pass 2^53), base64 fields, key-values.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../../common/base64.h"
#include "etcd_call.h"

/* Largest integer a double holds exactly. */
#define JSON_EXACT_MAX 9007199254740992.0

/* The kind of a gRPC status code etcd answered with; sets *err and returns what
 * etcd_answer_check returns. */
static int grpc_error(int code, const char *msg, struct client_error *err)
{
	enum client_errkind kind = CLIENT_E_PROTOCOL;
	int rc = -1;

	switch (code) {
	case 1: case 2: case 4: case 8: case 10: case 13: case 14:
		kind = CLIENT_E_TRANSIENT; /* cancelled, unknown, deadline, exhausted, aborted,
					    * internal, unavailable (no leader, timed out) */
		break;
	case 5:
		kind = CLIENT_E_NOT_FOUND; /* a lease */
		break;
	case 7:
		kind = CLIENT_E_AUTH; /* permission denied */
		break;
	case 16:
		kind = CLIENT_E_AUTH;
		rc = ETCD_ANSWER_BAD_TOKEN;
		break;
	case 3:
		if (strstr(msg, "revision of auth store is old")) {
			kind = CLIENT_E_AUTH;
			rc = ETCD_ANSWER_BAD_TOKEN;
		} else if (strstr(msg, "authentication failed") || strstr(msg, "user name")) {
			kind = CLIENT_E_AUTH; /* bad password, or a token missing */
		}
		break;
	case 9:
		if (strstr(msg, "authentication is not enabled")) {
			kind = CLIENT_E_AUTH;
			rc = ETCD_ANSWER_AUTH_OFF;
		}
		break;
	default:
		break;
	}
	client_error_set(err, kind, "etcd: %s (code %d)", msg, code);
	return rc;
}

/* Whether a 2xx body is an error after all: etcd 3.4/3.5 add "error" to every error body,
 * 3.6 (grpc-gateway v2) sends only {"code": N, "message": "..."}; a success never has a
 * numeric "code" next to a "message". */
static int is_error_body(const cJSON *body)
{
	return cJSON_GetObjectItemCaseSensitive(body, "error") ||
	       (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(body, "code")) &&
		cJSON_IsString(cJSON_GetObjectItemCaseSensitive(body, "message")));
}

int etcd_answer_check(long status, const cJSON *body, struct client_error *err)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(body, "error");
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(body, "code");
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(body, "message");

	if (cJSON_IsObject(body) && !is_error_body(body) && status >= 200 && status < 300)
		return 0;
	err->http_status = (int)status;
	if (cJSON_IsObject(e)) { /* a stream's: {"error":{"grpc_code"|"code":..,"message":..}} */
		code = cJSON_GetObjectItemCaseSensitive(e, "grpc_code");
		if (!code)
			code = cJSON_GetObjectItemCaseSensitive(e, "code");
		msg = cJSON_GetObjectItemCaseSensitive(e, "message");
	} else if (cJSON_IsString(e) && !cJSON_IsString(msg)) {
		msg = e;
	}
	if ((e || cJSON_IsString(msg)) && cJSON_IsNumber(code))
		return grpc_error(code->valueint, cJSON_IsString(msg) ? msg->valuestring : "",
				  err);
	if (status >= 500)
		client_error_set(err, CLIENT_E_TRANSIENT, "etcd answered HTTP %ld", status);
	else if (status == 401 || status == 403)
		client_error_set(err, CLIENT_E_AUTH, "etcd answered HTTP %ld", status);
	else
		client_error_set(err, CLIENT_E_PROTOCOL, "etcd answered HTTP %ld %s", status,
				 cJSON_IsObject(body) ? "with an error" : "without JSON");
	return -1;
}

int etcd_json_int64(const cJSON *obj, const char *name, int64_t *out)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);
	char *end;

	*out = 0;
	if (!it)
		return 0;
	if (cJSON_IsNumber(it)) {
		double d = it->valuedouble;
		if (d != (double)(int64_t)d || d > JSON_EXACT_MAX || d < -JSON_EXACT_MAX)
			return -1;
		*out = (int64_t)d;
		return 0;
	}
	if (!cJSON_IsString(it) || !it->valuestring[0])
		return -1;
	errno = 0;
	long long v = strtoll(it->valuestring, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = (int64_t)v;
	return 0;
}

int etcd_json_add_b64(cJSON *obj, const char *name, const void *data, size_t len)
{
	size_t cap = BASE64_ENCODED_CAP(len);
	char *text = malloc(cap);
	int rc = -1;

	if (text && base64_encode(data, len, text, cap) >= 0 &&
	    cJSON_AddStringToObject(obj, name, text))
		rc = 0;
	free(text);
	return rc;
}

int etcd_json_add_int64(cJSON *obj, const char *name, int64_t v)
{
	char text[24];

	snprintf(text, sizeof(text), "%" PRId64, v);
	return cJSON_AddStringToObject(obj, name, text) ? 0 : -1;
}

/* A base64 field of kv into out (cap bytes); absent = empty. Length, or -1. */
static long b64_field(const cJSON *kv, const char *name, char *out, size_t cap)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(kv, name);

	if (!it) {
		out[0] = '\0';
		return 0;
	}
	if (!cJSON_IsString(it))
		return -1;
	return base64_decode(it->valuestring, strlen(it->valuestring), out, cap);
}

int etcd_parse_kv(const cJSON *kv, struct etcd_kv *out, struct client_error *err)
{
	long n;

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(kv) || etcd_json_int64(kv, "create_revision", &out->create_revision) ||
	    etcd_json_int64(kv, "mod_revision", &out->mod_revision) ||
	    etcd_json_int64(kv, "lease", &out->lease) || out->create_revision <= 0) {
		client_error_set(err, CLIENT_E_PROTOCOL, "etcd: malformed key-value");
		return -1;
	}
	n = b64_field(kv, "value", out->value, sizeof(out->value));
	if (n < 0 || n > ETCD_VALUE_MAX) {
		memset(out, 0, sizeof(*out));
		client_error_set(err, CLIENT_E_PROTOCOL,
				 "etcd: value malformed or over %d bytes", ETCD_VALUE_MAX);
		return -1;
	}
	out->value_len = (size_t)n;
	out->value[n] = '\0';
	return 0;
}
