/*
 * Vexora wire format, without any I/O: request URLs and bodies, response parsing.
 * Internal to client/vexora/ (vexora.c and the unit tests). Pure and thread-safe.
 *
 * Strictness is the point: a field the spec marks required that is missing or of the wrong
 * JSON type is CLIENT_E_PROTOCOL naming the field, a status code outside "0".."4" (or a
 * number instead of a string) is CLIENT_E_PROTOCOL, never a guess. A body that is not valid
 * JSON is CLIENT_E_TRANSIENT ("malformed JSON from <endpoint>"): in practice that is a body
 * cut short in transit, and asking again fixes it.
 */
#ifndef ORDERFS_VEXORA_PARSE_H
#define ORDERFS_VEXORA_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "../provider.h"

enum vexora_endpoint {
	VEXORA_EP_APPLY,
	VEXORA_EP_STATUS,
	VEXORA_EP_DOWNLOAD_URL,
};

#define VEXORA_BASE_URL_MAX 2048
#define VEXORA_URL_MAX (VEXORA_BASE_URL_MAX + 64)
#define VEXORA_SUCCESS_CODE "0000"
#define VEXORA_DEFAULT_LANGUAGE "en-US"
#define VEXORA_REPORT_TYPE "order"

/* "apply", "status", "downloadUrl". */
const char *vexora_endpoint_name(enum vexora_endpoint ep);

/* "{base}/v1/vexora/orderExport/{endpoint}" into out. Returns 0 or -1 if it does not fit. */
int vexora_endpoint_url(const char *base, enum vexora_endpoint ep, char *out, size_t cap);

/* reportType must be "order" (NULL or "" means "order"). 0, or -1 with CLIENT_E_INVALID. */
int vexora_check_report_type(const char *report_type, struct client_error *err);
/* Language as sent: NULL or "" -> "en-US"; otherwise one of en, en-us, english, zh, zh-cn,
 * chinese (any case), returned as given. NULL with CLIENT_E_INVALID for anything else. */
const char *vexora_language(const char *language, struct client_error *err);

/*
 * Request bodies without "sign"; the caller owns the result (cJSON_Delete). The timestamp is
 * a raw decimal integer so it is spelled the same in JSON and signature. NULL with *err:
 * CLIENT_E_INVALID (bad report type, language, impossible date, empty or long task id),
 * CLIENT_E_LOCAL for out of memory. Range rules are NOT checked here (see provider check()).
 */
cJSON *vexora_apply_body(const struct export_request *req, int64_t timestamp_ms,
			 struct client_error *err);
cJSON *vexora_task_body(const char *task_id, int64_t timestamp_ms, struct client_error *err);
/* Sign body with secret, add "sign", print it. Returns a malloc'd string the caller frees,
 * or NULL with *err (CLIENT_E_LOCAL). body gains the "sign" field either way. */
char *vexora_body_finish(cJSON *body, const char *secret, struct client_error *err);

/* "yyyy-MM-dd HH:mm:ss" local time -> unix seconds (mktime, tm_isdst = -1). 0 or -1. */
int vexora_parse_time(const char *s, int64_t *out);
/* A status value: the JSON strings "0".."4" only. 0 or -1. */
int vexora_parse_state(const cJSON *v, enum export_state *out);

/*
 * Responses (json: len bytes, NUL not needed). Each returns 0 with *out filled, or -1 with
 * *err and *out unspecified. Envelope failures (code != "0000" or success false) copy the
 * server's code and msg into err->code/err->msg with kind:
 *   CLIENT_E_FILE_EXPIRED  status/downloadUrl msg says "expired" (not about a timestamp)
 *   CLIENT_E_NOT_FOUND     status/downloadUrl msg says "not found"/"not exist"
 *   CLIENT_E_AUTH          msg is about the sign/signature or the merchant
 *   CLIENT_E_BUSINESS      anything else
 */
int vexora_parse_apply(const char *json, size_t len, struct export_task *out,
		       struct client_error *err);
/* task_id (may be NULL): data.id must match it. */
int vexora_parse_status(const char *json, size_t len, const char *task_id,
			struct export_task *out, struct client_error *err);
/* expires_ms = now_ms + data.expire. downloadUrl must be http:// or https://. */
int vexora_parse_download_url(const char *json, size_t len, int64_t now_ms,
			      struct download_url *out, struct client_error *err);

#endif
