/* The etcd client without network: base64, what a gateway answer means, int64 fields,
 * key-values, and what etcd_new accepts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../client/fleet/etcd/etcd.h"
#include "../../common/base64.h"
#include "../../client/fleet/etcd/etcd_call.h"

/* ---- base64 ---- */

static void test_b64_rfc4648_vectors(void **state)
{
	const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	const char *coded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
	char enc[16], dec[16];

	for (int i = 0; i < 7; i++) {
		size_t n = strlen(plain[i]);
		assert_int_equal(base64_encode(plain[i], n, enc, sizeof(enc)),
				 (long)strlen(coded[i]));
		assert_string_equal(enc, coded[i]);
		assert_int_equal(base64_decode(coded[i], strlen(coded[i]), dec, sizeof(dec)),
				 (long)n);
		assert_string_equal(dec, plain[i]); /* NUL added after the bytes */
	}
}

static void test_b64_binary_round_trip(void **state)
{
	unsigned char all[256], back[256];
	char enc[BASE64_ENCODED_CAP(256)];

	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)(255 - i);
	assert_int_equal(base64_encode(all, sizeof(all), enc, sizeof(enc)),
			 (long)sizeof(enc) - 1);
	assert_int_equal(base64_decode(enc, strlen(enc), back, sizeof(back)), 256);
	assert_memory_equal(all, back, 256);
}

static void test_b64_strict_decode(void **state)
{
	const char *bad[] = {"Zg=", "Zg", "Z===", "Zh==", "Zm9=", "Zm 9", "Zm9v\n", "=Zm9",
			     "Zg==Zg==", "Zm-_", "Zm9v===="};
	char out[16];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (base64_decode(bad[i], strlen(bad[i]), out, sizeof(out)) != -1)
			fail_msg("accepted %s", bad[i]);
}

static void test_b64_bounds(void **state)
{
	char small[4], out[2];

	assert_int_equal(base64_encode("foo", 3, small, sizeof(small)), -1); /* no NUL room */
	assert_string_equal(small, "");
	assert_int_equal(base64_decode("Zm9v", 4, out, sizeof(out)), -1);
	assert_int_equal(base64_decode("Zm8=", 4, out, sizeof(out)), 2); /* exact fit */
	assert_memory_equal(out, "fo", 2);
}

/* ---- answers ---- */

/* etcd_answer_check on status and JSON text; *kind gets the error kind. */
static int check(long status, const char *text, enum client_errkind *kind)
{
	struct client_error err;
	cJSON *j = cJSON_Parse(text);
	int rc;

	client_error_clear(&err);
	rc = etcd_answer_check(status, j, &err);
	*kind = err.kind;
	cJSON_Delete(j);
	return rc;
}

static void test_answer_success(void **state)
{
	enum client_errkind k;
	assert_int_equal(check(200, "{\"header\":{\"revision\":\"2\"}}", &k), 0);
	assert_int_equal(k, CLIENT_OK);
}

static void test_answer_errors(void **state)
{
	enum client_errkind k;

	assert_int_equal(check(401, "{\"error\":\"etcdserver: invalid auth token\",\"message\":"
				    "\"etcdserver: invalid auth token\",\"code\":16}", &k),
			 ETCD_ANSWER_BAD_TOKEN);
	assert_int_equal(k, CLIENT_E_AUTH);
	assert_int_equal(check(400, "{\"error\":\"x\",\"message\":\"etcdserver: authentication "
				    "failed, invalid user ID or password\",\"code\":3}", &k), -1);
	assert_int_equal(k, CLIENT_E_AUTH);
	assert_int_equal(check(400, "{\"error\":\"x\",\"message\":\"etcdserver: user name is "
				    "empty\",\"code\":3}", &k), -1);
	assert_int_equal(k, CLIENT_E_AUTH);
	assert_int_equal(check(403, "{\"error\":\"etcdserver: permission denied\",\"code\":7}",
			       &k), -1);
	assert_int_equal(k, CLIENT_E_AUTH);
	assert_int_equal(check(412, "{\"error\":\"etcdserver: authentication is not enabled\","
				    "\"code\":9}", &k), ETCD_ANSWER_AUTH_OFF);
	assert_int_equal(check(404, "{\"error\":\"etcdserver: requested lease not found\","
				    "\"code\":5}", &k), -1);
	assert_int_equal(k, CLIENT_E_NOT_FOUND);
	assert_int_equal(check(503, "{\"error\":\"etcdserver: no leader\",\"code\":14}", &k), -1);
	assert_int_equal(k, CLIENT_E_TRANSIENT);
	assert_int_equal(check(400, "{\"error\":\"illegal base64 data\",\"code\":3}", &k), -1);
	assert_int_equal(k, CLIENT_E_PROTOCOL);
}

/* Error bodies of each etcd line, as its JSON gateway sends them: 3.4 (recorded from etcd
 * 3.4.23) and 3.5 (grpc-gateway v1: "error", "code", "message", "details") carry "error";
 * 3.6 (grpc-gateway v2) only "code", "message" and "details". */
struct recorded {
	const char *what;
	long status;
	const char *body;
	int rc;
	enum client_errkind kind;
};

#define E34(msg, code) "{\"error\":\"" msg "\",\"message\":\"" msg "\",\"code\":" #code "}"
#define E35(msg, code) \
	"{\"error\":\"" msg "\",\"code\":" #code ",\"message\":\"" msg "\",\"details\":[]}"
#define E36(msg, code) "{\"code\":" #code ",\"message\":\"" msg "\",\"details\":[]}"

/* One error of every kind fleet mode tells apart, in the shape of version V. */
#define RECORDED(V, auth_off_status, exhausted_status)                                      \
	{"invalid token " #V, 401, V("etcdserver: invalid auth token", 16),                \
	 ETCD_ANSWER_BAD_TOKEN, CLIENT_E_AUTH},                                            \
	{"auth not enabled " #V, auth_off_status,                                           \
	 V("etcdserver: authentication is not enabled", 9), ETCD_ANSWER_AUTH_OFF,          \
	 CLIENT_E_AUTH},                                                                   \
	{"permission denied " #V, 403, V("etcdserver: permission denied", 7), -1,           \
	 CLIENT_E_AUTH},                                                                   \
	{"compacted " #V, 400, V("etcdserver: mvcc: required revision has been compacted",  \
				 11), -1, CLIENT_E_PROTOCOL},                              \
	{"too many requests " #V, exhausted_status, V("etcdserver: too many requests", 8),  \
	 -1, CLIENT_E_TRANSIENT},                                                          \
	{"key not found " #V, 400, V("etcdserver: key not found", 3), -1, CLIENT_E_PROTOCOL}, \
	{"lease not found " #V, 404, V("etcdserver: requested lease not found", 5), -1,     \
	 CLIENT_E_NOT_FOUND}

static void test_answer_errors_every_version(void **state)
{
	static const struct recorded all[] = {
		RECORDED(E34, 412, 429),
		RECORDED(E35, 412, 429),
		RECORDED(E36, 400, 429),
	};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		enum client_errkind k;
		int rc = check(all[i].status, all[i].body, &k);
		if (rc != all[i].rc || k != all[i].kind)
			fail_msg("%s: rc %d kind %d, want rc %d kind %d", all[i].what, rc, (int)k,
				 all[i].rc, (int)all[i].kind);
	}
}

static void test_answer_message_without_secrets(void **state)
{
	struct client_error err;
	cJSON *j = cJSON_Parse(E36("etcdserver: permission denied", 7));

	client_error_clear(&err);
	assert_int_equal(etcd_answer_check(403, j, &err), -1);
	assert_non_null(strstr(err.msg, "permission denied"));
	assert_int_equal(err.http_status, 403);
	cJSON_Delete(j);
}

static void test_answer_streaming_error(void **state)
{
	enum client_errkind k;
	assert_int_equal(check(200, "{\"error\":{\"grpc_code\":14,\"http_code\":503,"
				    "\"message\":\"etcdserver: request timed out\"}}", &k), -1);
	assert_int_equal(k, CLIENT_E_TRANSIENT);
}

static void test_answer_without_json(void **state)
{
	enum client_errkind k;
	assert_int_equal(check(502, "<html>bad gateway</html>", &k), -1);
	assert_int_equal(k, CLIENT_E_TRANSIENT);
	assert_int_equal(check(200, "not json", &k), -1);
	assert_int_equal(k, CLIENT_E_PROTOCOL);
	assert_int_equal(check(200, "[1]", &k), -1);
	assert_int_equal(k, CLIENT_E_PROTOCOL);
	assert_int_equal(check(401, "", &k), -1);
	assert_int_equal(k, CLIENT_E_AUTH);
}

/* ---- fields ---- */

static void test_int64_fields(void **state)
{
	cJSON *j = cJSON_Parse("{\"a\":\"2324035698282735370\",\"b\":7,\"c\":\"x1\",\"d\":1.5,"
			       "\"e\":\"-3\",\"f\":\"99999999999999999999\",\"g\":\"\"}");
	int64_t v;

	assert_int_equal(etcd_json_int64(j, "a", &v), 0);
	assert_true(v == 2324035698282735370LL); /* past 2^53: exact */
	assert_int_equal(etcd_json_int64(j, "b", &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(etcd_json_int64(j, "missing", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(etcd_json_int64(j, "e", &v), 0);
	assert_int_equal(v, -3);
	assert_int_equal(etcd_json_int64(j, "c", &v), -1);
	assert_int_equal(etcd_json_int64(j, "d", &v), -1);
	assert_int_equal(etcd_json_int64(j, "f", &v), -1);
	assert_int_equal(etcd_json_int64(j, "g", &v), -1);
	cJSON_Delete(j);

	j = cJSON_CreateObject();
	assert_int_equal(etcd_json_add_int64(j, "id", INT64_MAX), 0);
	assert_string_equal(cJSON_GetObjectItem(j, "id")->valuestring, "9223372036854775807");
	cJSON_Delete(j);
}

/* Hosts spread over the endpoints: the first one a client tries is picked by its spread key
 * (the host name), the same every time; without one, the first. */
static void test_endpoint_spread(void **state)
{
	struct etcd_config cfg = {.endpoints = "http://a:1,http://b:2,http://c:3"};
	struct client_error err;
	int seen[3] = {0};
	char name[16];

	for (int i = 0; i < 30; i++) {
		struct etcd *e, *again;
		snprintf(name, sizeof(name), "host%d", i);
		cfg.spread = name;
		e = etcd_new(&cfg, &err);
		again = etcd_new(&cfg, &err);
		assert_non_null(e);
		assert_int_equal(e->preferred, again->preferred);
		seen[e->preferred]++;
		etcd_free(e);
		etcd_free(again);
	}
	for (int k = 0; k < 3; k++)
		assert_true(seen[k] > 0);
	cfg.spread = NULL;
	struct etcd *first = etcd_new(&cfg, &err);
	assert_int_equal(first->preferred, 0);
	etcd_free(first);
}

static void test_parse_kv(void **state)
{
	struct client_error err;
	struct etcd_kv kv;
	cJSON *j = cJSON_Parse("{\"key\":\"Zm9v\",\"create_revision\":\"5\",\"mod_revision\":"
			       "\"9\",\"version\":\"2\",\"value\":\"YmFy\",\"lease\":\"77\"}");

	client_error_clear(&err);
	assert_int_equal(etcd_parse_kv(j, &kv, &err), 0);
	assert_int_equal(kv.create_revision, 5);
	assert_int_equal(kv.mod_revision, 9);
	assert_int_equal(kv.lease, 77);
	assert_int_equal(kv.value_len, 3);
	assert_string_equal(kv.value, "bar");
	cJSON_Delete(j);

	/* An empty value is omitted by the gateway. */
	j = cJSON_Parse("{\"key\":\"Zm9v\",\"create_revision\":\"5\",\"mod_revision\":\"5\"}");
	assert_int_equal(etcd_parse_kv(j, &kv, &err), 0);
	assert_int_equal(kv.value_len, 0);
	cJSON_Delete(j);

	j = cJSON_Parse("{\"key\":\"Zm9v\",\"create_revision\":\"5\",\"value\":\"@@@@\"}");
	assert_int_equal(etcd_parse_kv(j, &kv, &err), -1);
	assert_int_equal(err.kind, CLIENT_E_PROTOCOL);
	cJSON_Delete(j);
	j = cJSON_Parse("{\"key\":\"Zm9v\",\"value\":\"YmFy\"}"); /* no revision */
	assert_int_equal(etcd_parse_kv(j, &kv, &err), -1);
	cJSON_Delete(j);
}

static void test_parse_kv_value_bound(void **state)
{
	static char text[BASE64_ENCODED_CAP(ETCD_VALUE_MAX + 1) + 64];
	static char value[ETCD_VALUE_MAX + 1], b64[BASE64_ENCODED_CAP(ETCD_VALUE_MAX + 1)];
	struct client_error err;
	struct etcd_kv kv;

	memset(value, 'v', sizeof(value));
	base64_encode(value, sizeof(value), b64, sizeof(b64)); /* one byte over */
	snprintf(text, sizeof(text), "{\"create_revision\":\"1\",\"value\":\"%s\"}", b64);
	cJSON *j = cJSON_Parse(text);
	client_error_clear(&err);
	assert_int_equal(etcd_parse_kv(j, &kv, &err), -1);
	cJSON_Delete(j);
	base64_encode(value, ETCD_VALUE_MAX, b64, sizeof(b64)); /* exactly the bound */
	snprintf(text, sizeof(text), "{\"create_revision\":\"1\",\"value\":\"%s\"}", b64);
	j = cJSON_Parse(text);
	assert_int_equal(etcd_parse_kv(j, &kv, &err), 0);
	assert_int_equal(kv.value_len, ETCD_VALUE_MAX);
	cJSON_Delete(j);
}

/* ---- configuration ---- */

static void test_new_validates_config(void **state)
{
	struct client_error err;
	struct etcd_config c = {.endpoints = " http://10.0.0.5:2379/ , https://h:2379"};
	struct etcd *e = etcd_new(&c, &err);

	assert_non_null(e);
	etcd_free(e);
	const char *bad[] = {"", " , ", "ftp://h:1", "http://u:pw@h:2379", "h:2379"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c.endpoints = bad[i];
		assert_null(etcd_new(&c, &err));
		assert_int_equal(err.kind, CLIENT_E_INVALID);
		assert_null(strstr(err.msg, "pw"));
	}
	static char longest[ETCD_ENDPOINT_MAX + 32];
	memset(longest, 'h', sizeof(longest) - 1);
	memcpy(longest, "http://", 7);
	c.endpoints = longest;
	assert_null(etcd_new(&c, &err));
	assert_int_equal(err.kind, CLIENT_E_INVALID);
	c.endpoints = "http://h:1";
	c.user = "u";
	assert_null(etcd_new(&c, &err)); /* user without password */
	assert_int_equal(err.kind, CLIENT_E_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64_rfc4648_vectors),
		cmocka_unit_test(test_b64_binary_round_trip),
		cmocka_unit_test(test_b64_strict_decode),
		cmocka_unit_test(test_b64_bounds),
		cmocka_unit_test(test_answer_success),
		cmocka_unit_test(test_answer_errors),
		cmocka_unit_test(test_answer_errors_every_version),
		cmocka_unit_test(test_answer_message_without_secrets),
		cmocka_unit_test(test_answer_streaming_error),
		cmocka_unit_test(test_answer_without_json),
		cmocka_unit_test(test_int64_fields),
		cmocka_unit_test(test_endpoint_spread),
		cmocka_unit_test(test_parse_kv),
		cmocka_unit_test(test_parse_kv_value_bound),
		cmocka_unit_test(test_new_validates_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
