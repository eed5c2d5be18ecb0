/* client/vexora/vexora_parse.c: every response shape of the spec, strictness, request bodies. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "../../client/vexora/vexora_sign.h"
#include "../../client/vexora/vexora_parse.h"
#include "../../client/http.h"

/* Envelope around a data object (or error fields). */
#define OK_ENV(data)                                                                       \
	"{\"msg\":\"success\",\"code\":\"0000\",\"timestamp\":1779170178547,"              \
	"\"success\":true,\"data\":" data "}"

static int apply_of(const char *json, struct export_task *t, struct client_error *e)
{
	client_error_clear(e);
	return vexora_parse_apply(json, strlen(json), t, e);
}

static int status_of(const char *json, struct export_task *t, struct client_error *e)
{
	client_error_clear(e);
	return vexora_parse_status(json, strlen(json), NULL, t, e);
}

static int url_of(const char *json, struct download_url *u, struct client_error *e)
{
	client_error_clear(e);
	return vexora_parse_download_url(json, strlen(json), 1000, u, e);
}

static void assert_protocol_naming(const struct client_error *e, const char *field)
{
	assert_int_equal(e->kind, CLIENT_E_PROTOCOL);
	assert_non_null(strstr(e->msg, field));
}

/* ---- apply ---- */

static void test_apply_spec_example(void **state)
{
	struct export_task t;
	struct client_error e;
	const char *json = "{\n  \"msg\": \"success\",\n  \"code\": \"0000\",\n  \"timestamp\": "
			   "1779161740505,\n  \"success\": true,\n  \"data\": {\n    \"id\": "
			   "\"f1f06916c29509c77aaf59e23b423123\",\n    \"fileName\": \"Merchant "
			   "Order List-20260519113540-1701853483.xlsx\",\n    \"status\": \"0\"\n "
			   " }\n}\n";
	assert_int_equal(apply_of(json, &t, &e), 0);
	assert_string_equal(t.id, "f1f06916c29509c77aaf59e23b423123");
	assert_string_equal(t.file_name, "Merchant Order List-20260519113540-1701853483.xlsx");
	assert_int_equal(t.state, EXPORT_PENDING);
	assert_int_equal(t.progress, -1);
}

static void test_apply_missing_id(void **state)
{
	struct export_task t;
	struct client_error e;
	assert_int_equal(apply_of(OK_ENV("{\"fileName\":\"f.xlsx\",\"status\":\"0\"}"), &t, &e), -1);
	assert_protocol_naming(&e, "data.id");
}

static void test_apply_id_wrong_type(void **state)
{
	struct export_task t;
	struct client_error e;
	assert_int_equal(apply_of(OK_ENV("{\"id\":12,\"fileName\":\"f\",\"status\":\"0\"}"), &t, &e),
			 -1);
	assert_protocol_naming(&e, "data.id");
}

static void test_apply_missing_file_name(void **state)
{
	struct export_task t;
	struct client_error e;
	assert_int_equal(apply_of(OK_ENV("{\"id\":\"a\",\"status\":\"0\"}"), &t, &e), -1);
	assert_protocol_naming(&e, "data.fileName");
}

static void test_apply_missing_data(void **state)
{
	struct export_task t;
	struct client_error e;
	assert_int_equal(apply_of("{\"msg\":\"success\",\"code\":\"0000\",\"timestamp\":1,"
				  "\"success\":true}",
				  &t, &e),
			 -1);
	assert_protocol_naming(&e, "data");
}

static void test_envelope_missing_fields(void **state)
{
	struct export_task t;
	struct client_error e;
	assert_int_equal(apply_of("{\"code\":\"0000\",\"timestamp\":1,\"success\":true,\"data\":{}}",
				  &t, &e),
			 -1);
	assert_protocol_naming(&e, "msg");
	assert_int_equal(apply_of("{\"msg\":\"s\",\"timestamp\":1,\"success\":true,\"data\":{}}",
				  &t, &e),
			 -1);
	assert_protocol_naming(&e, "code");
	assert_int_equal(apply_of("{\"msg\":\"s\",\"code\":\"0000\",\"timestamp\":1,\"data\":{}}",
				  &t, &e),
			 -1);
	assert_protocol_naming(&e, "success");
	assert_int_equal(apply_of("{\"msg\":\"s\",\"code\":\"0000\",\"success\":true,\"data\":{}}",
				  &t, &e),
			 -1);
	assert_protocol_naming(&e, "timestamp");
}

static void test_envelope_wrong_types(void **state)
{
	struct export_task t;
	struct client_error e;
	assert_int_equal(apply_of("{\"msg\":\"s\",\"code\":0,\"timestamp\":1,\"success\":true,"
				  "\"data\":{}}",
				  &t, &e),
			 -1);
	assert_protocol_naming(&e, "code");
	assert_int_equal(apply_of("{\"msg\":\"s\",\"code\":\"0000\",\"timestamp\":\"1\","
				  "\"success\":true,\"data\":{}}",
				  &t, &e),
			 -1);
	assert_protocol_naming(&e, "timestamp");
	assert_int_equal(apply_of("{\"msg\":\"s\",\"code\":\"0000\",\"timestamp\":1,"
				  "\"success\":\"true\",\"data\":{}}",
				  &t, &e),
			 -1);
	assert_protocol_naming(&e, "success");
	assert_int_equal(apply_of(OK_ENV("[]"), &t, &e), -1);
	assert_protocol_naming(&e, "data");
	assert_int_equal(apply_of("[1,2]", &t, &e), -1);
	assert_int_equal(e.kind, CLIENT_E_PROTOCOL);
}

static void test_truncated_json_is_transient(void **state)
{
	struct export_task t;
	struct client_error e;
	const char *full = OK_ENV("{\"id\":\"a\",\"fileName\":\"f\",\"status\":\"0\"}");
	client_error_clear(&e);
	assert_int_equal(vexora_parse_apply(full, strlen(full) / 2, &t, &e), -1);
	assert_int_equal(e.kind, CLIENT_E_TRANSIENT);
	assert_string_equal(e.msg, "malformed JSON from apply");
	assert_int_equal(status_of("", &t, &e), -1);
	assert_string_equal(e.msg, "malformed JSON from status");
	assert_int_equal(apply_of("{\"msg\":\"s\"} trailing", &t, &e), -1);
	assert_int_equal(e.kind, CLIENT_E_TRANSIENT);
}

/* An HTML page where JSON belongs will be one again: a protocol error saying what came. */
static void test_html_reply_is_protocol_not_transient(void **state)
{
	struct export_task t;
	struct client_error e;
	assert_int_equal(status_of("\r\n<html><head><title>502 Bad Gateway</title>\"x\"\x01", &t, &e),
			 -1);
	assert_int_equal(e.kind, CLIENT_E_PROTOCOL);
	assert_non_null(strstr(e.msg, "not JSON"));
	assert_non_null(strstr(e.msg, "starts \"<html><head><title>502 Bad Gateway</"));
	assert_false(client_error_retryable(&e));
}

/* Nested deeper than the parser goes: so on every try, EPROTO and no retry. A truncated body
 * of ordinary depth stays a transient fault (asking again fixes it). */
static void test_too_deep_reply_is_not_retried(void **state)
{
	struct export_task t;
	struct client_error e;
	size_t n = 1200;
	char *deep = malloc(2 * n + 1);

	assert_non_null(deep);
	memset(deep, '[', n);
	memset(deep + n, ']', n);
	deep[2 * n] = '\0';
	assert_int_equal(status_of(deep, &t, &e), -1);
	assert_int_equal(e.kind, CLIENT_E_PROTOCOL);
	assert_int_equal(client_error_to_errno(&e), EPROTO);
	assert_non_null(strstr(e.msg, "nests deeper than"));
	assert_false(client_error_retryable(&e));
	/* Brackets inside strings do not count; a body cut short of ordinary depth is retried. */
	assert_int_equal(status_of("{\"msg\":\"[[[[[[[[[[\", \"data\":{\"a\":[1,2", &t, &e), -1);
	assert_int_equal(e.kind, CLIENT_E_TRANSIENT);
	free(deep);
}

static void test_business_error_keeps_code_and_msg(void **state)
{
	struct export_task t;
	struct client_error e;
	assert_int_equal(apply_of("{\"msg\":\"Maximum export range is 7 days\",\"code\":\"2003\","
				  "\"timestamp\":1,\"success\":false,\"data\":null}",
				  &t, &e),
			 -1);
	assert_int_equal(e.kind, CLIENT_E_BUSINESS);
	assert_string_equal(e.code, "2003");
	assert_string_equal(e.msg, "Maximum export range is 7 days");
}

static void test_success_false_with_0000_is_business(void **state)
{
	struct export_task t;
	struct client_error e;
	assert_int_equal(apply_of("{\"msg\":\"odd\",\"code\":\"0000\",\"timestamp\":1,"
				  "\"success\":false}",
				  &t, &e),
			 -1);
	assert_int_equal(e.kind, CLIENT_E_BUSINESS);
	assert_string_equal(e.code, "0000");
}

static void test_sign_error_is_auth(void **state)
{
	struct export_task t;
	struct client_error e;
	assert_int_equal(apply_of("{\"msg\":\"Sign verification failed\",\"code\":\"1003\","
				  "\"timestamp\":1,\"success\":false,\"data\":null}",
				  &t, &e),
			 -1);
	assert_int_equal(e.kind, CLIENT_E_AUTH);
	assert_string_equal(e.code, "1003");
	assert_int_equal(apply_of("{\"msg\":\"Invalid merchantNo\",\"code\":\"1002\","
				  "\"timestamp\":1,\"success\":false,\"data\":null}",
				  &t, &e),
			 -1);
	assert_int_equal(e.kind, CLIENT_E_AUTH);
	assert_string_equal(e.code, "1002");
}

/* ---- status ---- */

static const char spec_status[] =
	OK_ENV("{\"id\":\"18429abbb2e32cd4bd3012de491bd164\",\"fileName\":\"Merchant Order "
	       "List-20260519135506-1701853483.xlsx\",\"status\":\"2\",\"finishTime\":"
	       "\"2026-05-19 13:55:14\",\"fileExpires\":\"2026-05-26 13:55:14\",\"msg\":"
	       "\"Generated\"}");

static void test_status_spec_example(void **state)
{
	struct export_task t;
	struct client_error e;
	assert_int_equal(status_of(spec_status, &t, &e), 0);
	assert_string_equal(t.id, "18429abbb2e32cd4bd3012de491bd164");
	assert_int_equal(t.state, EXPORT_GENERATED);
	assert_int_equal(t.finish_time, 1779198914); /* TZ is UTC in this test */
	assert_int_equal(t.expires, 1779803714);
	assert_string_equal(t.msg, "Generated");
	assert_string_equal(t.file_name, "Merchant Order List-20260519135506-1701853483.xlsx");
}

static void test_status_every_state(void **state)
{
	static const enum export_state want[] = {EXPORT_PENDING, EXPORT_GENERATING,
						 EXPORT_GENERATED, EXPORT_FAILED, EXPORT_NO_DATA};
	struct export_task t;
	struct client_error e;
	char json[256];
	for (int i = 0; i < 5; i++) {
		snprintf(json, sizeof(json),
			 OK_ENV("{\"id\":\"x\",\"fileName\":\"f\",\"status\":\"%d\",\"msg\":\"m\"}"),
			 i);
		assert_int_equal(status_of(json, &t, &e), 0);
		assert_int_equal(t.state, want[i]);
		assert_int_equal(t.finish_time, 0);
		assert_int_equal(t.expires, 0);
	}
}

static void test_status_unknown_code_is_protocol(void **state)
{
	struct export_task t;
	struct client_error e;
	assert_int_equal(status_of(OK_ENV("{\"id\":\"x\",\"fileName\":\"f\",\"status\":\"5\","
					  "\"msg\":\"m\"}"),
				   &t, &e),
			 -1);
	assert_protocol_naming(&e, "data.status");
	assert_int_equal(status_of(OK_ENV("{\"id\":\"x\",\"fileName\":\"f\",\"status\":\"22\","
					  "\"msg\":\"m\"}"),
				   &t, &e),
			 -1);
	assert_protocol_naming(&e, "data.status");
}

static void test_status_number_is_protocol(void **state)
{
	struct export_task t;
	struct client_error e;
	assert_int_equal(status_of(OK_ENV("{\"id\":\"x\",\"fileName\":\"f\",\"status\":2,"
					  "\"msg\":\"m\"}"),
				   &t, &e),
			 -1);
	assert_protocol_naming(&e, "data.status");
}

static void test_status_missing_fields(void **state)
{
	struct export_task t;
	struct client_error e;
	assert_int_equal(status_of(OK_ENV("{\"id\":\"x\",\"fileName\":\"f\",\"msg\":\"m\"}"), &t,
				   &e),
			 -1);
	assert_protocol_naming(&e, "data.status");
	assert_int_equal(status_of(OK_ENV("{\"id\":\"x\",\"fileName\":\"f\",\"status\":\"1\"}"),
				   &t, &e),
			 -1);
	assert_protocol_naming(&e, "data.msg");
}

static void test_status_optional_times_malformed(void **state)
{
	struct export_task t;
	struct client_error e;
	assert_int_equal(status_of(OK_ENV("{\"id\":\"x\",\"fileName\":\"f\",\"status\":\"2\","
					  "\"msg\":\"m\",\"finishTime\":\"2026-05-19T13:55:14\"}"),
				   &t, &e),
			 -1);
	assert_protocol_naming(&e, "data.finishTime");
	assert_int_equal(status_of(OK_ENV("{\"id\":\"x\",\"fileName\":\"f\",\"status\":\"2\","
					  "\"msg\":\"m\",\"fileExpires\":1779803714}"),
				   &t, &e),
			 -1);
	assert_protocol_naming(&e, "data.fileExpires");
	/* null and "" mean "not known yet" */
	assert_int_equal(status_of(OK_ENV("{\"id\":\"x\",\"fileName\":\"f\",\"status\":\"1\","
					  "\"msg\":\"m\",\"finishTime\":null,\"fileExpires\":\"\"}"),
				   &t, &e),
			 0);
	assert_int_equal(t.finish_time, 0);
}

static void test_status_other_task_id(void **state)
{
	struct export_task t;
	struct client_error e;
	client_error_clear(&e);
	assert_int_equal(vexora_parse_status(spec_status, strlen(spec_status), "other", &t, &e),
			 -1);
	assert_int_equal(e.kind, CLIENT_E_PROTOCOL);
	assert_int_equal(vexora_parse_status(spec_status, strlen(spec_status),
					     "18429abbb2e32cd4bd3012de491bd164", &t, &e),
			 0);
}

static void test_status_not_found(void **state)
{
	struct export_task t;
	struct client_error e;
	assert_int_equal(status_of("{\"msg\":\"Export task not found\",\"code\":\"3001\","
				   "\"timestamp\":1,\"success\":false,\"data\":null}",
				   &t, &e),
			 -1);
	assert_int_equal(e.kind, CLIENT_E_NOT_FOUND);
	assert_string_equal(e.code, "3001");
	assert_int_equal(status_of("{\"msg\":\"task does not exist\",\"code\":\"9\","
				   "\"timestamp\":1,\"success\":false}",
				   &t, &e),
			 -1);
	assert_int_equal(e.kind, CLIENT_E_NOT_FOUND);
}

static void test_timestamp_expired_is_not_file_expiry(void **state)
{
	struct export_task t;
	struct client_error e;
	assert_int_equal(status_of("{\"msg\":\"Request timestamp expired\",\"code\":\"1004\","
				   "\"timestamp\":1,\"success\":false}",
				   &t, &e),
			 -1);
	assert_int_equal(e.kind, CLIENT_E_BUSINESS);
	assert_string_equal(e.code, "1004");
}

/* ---- downloadUrl ---- */

static void test_url_spec_example(void **state)
{
	struct download_url u;
	struct client_error e;
	assert_int_equal(url_of(OK_ENV("{\"downloadUrl\":\"https://xxx.xxx.xxx/...\","
				       "\"expire\":600000}"),
				&u, &e),
			 0);
	assert_string_equal(u.url, "https://xxx.xxx.xxx/...");
	assert_int_equal(u.expires_ms, 1000 + 600000);
}

static void test_url_expired_file(void **state)
{
	struct download_url u;
	struct client_error e;
	assert_int_equal(url_of("{\"msg\":\"The file has expired, please re-export it\","
				"\"code\":\"3003\",\"timestamp\":1,\"success\":false,\"data\":null}",
				&u, &e),
			 -1);
	assert_int_equal(e.kind, CLIENT_E_FILE_EXPIRED);
	assert_string_equal(e.code, "3003");
	assert_string_equal(e.msg, "The file has expired, please re-export it");
	assert_int_equal(url_of("{\"msg\":\"FILE EXPIRED\",\"code\":\"x\",\"timestamp\":1,"
				"\"success\":false}",
				&u, &e),
			 -1);
	assert_int_equal(e.kind, CLIENT_E_FILE_EXPIRED);
}

static void test_url_non_http_refused(void **state)
{
	static const char *const bad[] = {"file:///etc/passwd", "ftp://h/f", "gopher://h/",
					  "javascript:alert(1)", "/relative", "http://", ""};
	struct download_url u;
	struct client_error e;
	char json[256];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(json, sizeof(json), OK_ENV("{\"downloadUrl\":\"%s\",\"expire\":1}"),
			 bad[i]);
		assert_int_equal(url_of(json, &u, &e), -1);
		assert_protocol_naming(&e, "downloadUrl");
		assert_null(strstr(e.msg, "passwd")); /* the URL is never echoed */
	}
	assert_int_equal(url_of(OK_ENV("{\"downloadUrl\":\"HTTP://h/f\",\"expire\":1}"), &u, &e),
			 0);
}

static void test_url_missing_and_wrong_expire(void **state)
{
	struct download_url u;
	struct client_error e;
	assert_int_equal(url_of(OK_ENV("{\"downloadUrl\":\"http://h/f\"}"), &u, &e), -1);
	assert_protocol_naming(&e, "data.expire");
	assert_int_equal(url_of(OK_ENV("{\"downloadUrl\":\"http://h/f\",\"expire\":\"600000\"}"),
				&u, &e),
			 -1);
	assert_protocol_naming(&e, "data.expire");
	assert_int_equal(url_of(OK_ENV("{\"downloadUrl\":\"http://h/f\",\"expire\":-5}"), &u, &e),
			 -1);
	assert_int_equal(e.kind, CLIENT_E_PROTOCOL);
	assert_int_equal(url_of(OK_ENV("{\"expire\":1}"), &u, &e), -1);
	assert_protocol_naming(&e, "data.downloadUrl");
}

/* ---- pieces ---- */

static void test_parse_time(void **state)
{
	int64_t t = 0;
	assert_int_equal(vexora_parse_time("2026-05-19 13:55:14", &t), 0);
	assert_int_equal(t, 1779198914);
	assert_int_equal(vexora_parse_time("2026-02-30 00:00:00", &t), -1);
	assert_int_equal(vexora_parse_time("2026-05-19 24:00:00", &t), -1);
	assert_int_equal(vexora_parse_time("2026-05-19 13:55", &t), -1);
	assert_int_equal(vexora_parse_time("2026-05-19 13:55:14Z", &t), -1);
	assert_int_equal(vexora_parse_time("2026/05/19 13:55:14", &t), -1);
}

/* fileExpires at or before the epoch: a time long past, so the file is expired. 0 means
 * "no expiry" to the cache: a provider's value must never come out as 0 (or below). */
static void expires_of(const char *when, int64_t *out)
{
	char json[512];
	struct export_task t;
	struct client_error e;

	snprintf(json, sizeof(json),
		 OK_ENV("{\"id\":\"T1\",\"fileName\":\"f.xlsx\",\"status\":\"2\","
			"\"msg\":\"m\",\"fileExpires\":\"%s\"}"),
		 when);
	assert_int_equal(status_of(json, &t, &e), 0);
	*out = t.expires;
}

static void assert_expired_long_ago(const char *when)
{
	int64_t x = 0;

	expires_of(when, &x);
	assert_true(x > 0);	   /* never "no expiry" */
	assert_true(x < 86400 * 2); /* and in the past: expired */
}

static void test_status_epoch_expiry_is_expired(void **state)
{
	assert_expired_long_ago("1970-01-01 00:00:00");
	assert_expired_long_ago("1970-01-01 00:00:01");
	/* A date orderfs does not take is a protocol error, never "no expiry". */
	for (int i = 0; i < 2; i++) {
		static const char *const bad[] = {"1969-12-31 23:59:59", "1900-01-01 00:00:00"};
		char json[512];
		struct export_task t;
		struct client_error e;
		snprintf(json, sizeof(json),
			 OK_ENV("{\"id\":\"T1\",\"fileName\":\"f.xlsx\",\"status\":\"2\","
				"\"msg\":\"m\",\"fileExpires\":\"%s\"}"),
			 bad[i]);
		assert_int_equal(status_of(json, &t, &e), -1);
		assert_protocol_naming(&e, "data.fileExpires");
	}
	setenv("TZ", "Asia/Shanghai", 1); /* UTC+8: local 1970-01-01 07:59:59 is before epoch */
	tzset();
	assert_expired_long_ago("1970-01-01 00:00:00");
	assert_expired_long_ago("1970-01-01 07:59:59");
	assert_expired_long_ago("1970-01-01 08:00:00");
	int64_t x = 0;
	expires_of("2026-05-26 21:55:14", &x);
	assert_int_equal(x, 1779803714); /* a real time still reads as itself */
	setenv("TZ", "UTC0", 1);
	tzset();
}

static void test_parse_state_values(void **state)
{
	enum export_state s;
	cJSON *v = cJSON_CreateString("4");
	assert_int_equal(vexora_parse_state(v, &s), 0);
	assert_int_equal(s, EXPORT_NO_DATA);
	cJSON_Delete(v);
	v = cJSON_CreateString("");
	assert_int_equal(vexora_parse_state(v, &s), -1);
	cJSON_Delete(v);
	v = cJSON_CreateNumber(1);
	assert_int_equal(vexora_parse_state(v, &s), -1);
	cJSON_Delete(v);
	v = cJSON_CreateString("-1");
	assert_int_equal(vexora_parse_state(v, &s), -1);
	cJSON_Delete(v);
}

static void test_base_url_with_path(void **state)
{
	char base[VEXORA_BASE_URL_MAX], url[VEXORA_URL_MAX];
	struct client_error e;
	client_error_clear(&e);
	assert_int_equal(http_base_url("https://sandbox-api.vexora.com/nigeria", base,
					 sizeof(base), &e),
			 0);
	assert_int_equal(vexora_endpoint_url(base, VEXORA_EP_APPLY, url, sizeof(url)), 0);
	assert_string_equal(url, "https://sandbox-api.vexora.com/nigeria/v1/vexora/orderExport/apply");
	assert_int_equal(http_base_url("http://127.0.0.1:8080/", base, sizeof(base), &e), 0);
	assert_int_equal(vexora_endpoint_url(base, VEXORA_EP_DOWNLOAD_URL, url, sizeof(url)), 0);
	assert_string_equal(url, "http://127.0.0.1:8080/v1/vexora/orderExport/downloadUrl");
	assert_int_equal(vexora_endpoint_url(base, VEXORA_EP_STATUS, url, sizeof(url)), 0);
	assert_string_equal(url, "http://127.0.0.1:8080/v1/vexora/orderExport/status");
}

static void test_base_url_refused(void **state)
{
	char base[64];
	struct client_error e;
	client_error_clear(&e);
	assert_int_equal(http_base_url("ftp://h", base, sizeof(base), &e), -1);
	assert_int_equal(e.kind, CLIENT_E_INVALID);
	assert_int_equal(http_base_url("api.vexora.com", base, sizeof(base), &e), -1);
	assert_int_equal(http_base_url("http://h/a b", base, sizeof(base), &e), -1);
	assert_int_equal(http_base_url(NULL, base, sizeof(base), &e), -1);
}

static void test_apply_body(void **state)
{
	struct export_request req = {"order", NULL, {{2026, 5, 18}, {2026, 5, 19}}};
	struct client_error e;
	char buf[512];
	client_error_clear(&e);
	cJSON *b = vexora_apply_body(&req, 1779172654161LL, &e);
	assert_non_null(b);
	int n = sign_vexora_string(b, buf, sizeof(buf));
	assert_int_equal(n, (int)strlen(buf));
	assert_string_equal(buf, "endTime=2026-05-19 23:59:59language=en-USreportType=order"
				 "startTime=2026-05-18 00:00:00timestamp=1779172654161");
	char *text = vexora_body_finish(b, "s3cr3t", &e);
	assert_non_null(text);
	assert_string_equal(text, "{\"reportType\":\"order\",\"language\":\"en-US\","
				  "\"startTime\":\"2026-05-18 00:00:00\",\"endTime\":\"2026-05-19 "
				  "23:59:59\",\"timestamp\":1779172654161,\"sign\":"
				  "\"dd7de636938d0ea016032d71f69f4b51\"}");
	assert_null(strstr(text, "s3cr3t"));
	free(text);
	cJSON_Delete(b);
}

static void test_apply_body_refusals(void **state)
{
	struct export_request req = {"refund", NULL, {{2026, 5, 18}, {2026, 5, 19}}};
	struct client_error e;
	client_error_clear(&e);
	assert_null(vexora_apply_body(&req, 1, &e));
	assert_int_equal(e.kind, CLIENT_E_INVALID);
	assert_non_null(strstr(e.msg, "reportType"));
	req.report_type = "order";
	req.language = "fr";
	assert_null(vexora_apply_body(&req, 1, &e));
	assert_non_null(strstr(e.msg, "language"));
	req.language = "ZH-cn";
	cJSON *b = vexora_apply_body(&req, 1, &e);
	assert_non_null(b);
	assert_string_equal(cJSON_GetObjectItem(b, "language")->valuestring, "ZH-cn");
	cJSON_Delete(b);
	req.range.end.day = 31;
	req.range.end.month = 2;
	assert_null(vexora_apply_body(&req, 1, &e));
	assert_int_equal(e.kind, CLIENT_E_INVALID);
}

static void test_task_body(void **state)
{
	struct client_error e;
	char long_id[PROVIDER_ID_MAX + 1];
	client_error_clear(&e);
	cJSON *b = vexora_task_body("77f3fe29b19aceab1bf817a7b21e9797", 1779173918792LL, &e);
	assert_non_null(b);
	char *text = vexora_body_finish(b, "s3cr3t", &e);
	assert_non_null(text);
	assert_non_null(strstr(text, "\"id\":\"77f3fe29b19aceab1bf817a7b21e9797\","
				     "\"timestamp\":1779173918792,\"sign\":\""));
	free(text);
	cJSON_Delete(b);
	assert_null(vexora_task_body("", 1, &e));
	assert_int_equal(e.kind, CLIENT_E_INVALID);
	memset(long_id, 'a', PROVIDER_ID_MAX);
	long_id[PROVIDER_ID_MAX] = '\0';
	assert_null(vexora_task_body(long_id, 1, &e));
}

int main(void)
{
	/* Server times are local: pin the zone so expected epochs are fixed. */
	setenv("TZ", "UTC0", 1);
	tzset();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_apply_spec_example),
		cmocka_unit_test(test_apply_missing_id),
		cmocka_unit_test(test_apply_id_wrong_type),
		cmocka_unit_test(test_apply_missing_file_name),
		cmocka_unit_test(test_apply_missing_data),
		cmocka_unit_test(test_envelope_missing_fields),
		cmocka_unit_test(test_envelope_wrong_types),
		cmocka_unit_test(test_truncated_json_is_transient),
		cmocka_unit_test(test_business_error_keeps_code_and_msg),
		cmocka_unit_test(test_success_false_with_0000_is_business),
		cmocka_unit_test(test_sign_error_is_auth),
		cmocka_unit_test(test_status_spec_example),
		cmocka_unit_test(test_html_reply_is_protocol_not_transient),
		cmocka_unit_test(test_too_deep_reply_is_not_retried),
		cmocka_unit_test(test_status_epoch_expiry_is_expired),
		cmocka_unit_test(test_status_every_state),
		cmocka_unit_test(test_status_unknown_code_is_protocol),
		cmocka_unit_test(test_status_number_is_protocol),
		cmocka_unit_test(test_status_missing_fields),
		cmocka_unit_test(test_status_optional_times_malformed),
		cmocka_unit_test(test_status_other_task_id),
		cmocka_unit_test(test_status_not_found),
		cmocka_unit_test(test_timestamp_expired_is_not_file_expiry),
		cmocka_unit_test(test_url_spec_example),
		cmocka_unit_test(test_url_expired_file),
		cmocka_unit_test(test_url_non_http_refused),
		cmocka_unit_test(test_url_missing_and_wrong_expire),
		cmocka_unit_test(test_parse_time),
		cmocka_unit_test(test_parse_state_values),
		cmocka_unit_test(test_base_url_with_path),
		cmocka_unit_test(test_base_url_refused),
		cmocka_unit_test(test_apply_body),
		cmocka_unit_test(test_apply_body_refusals),
		cmocka_unit_test(test_task_body),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
