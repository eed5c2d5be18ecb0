/* client/clover/clover_parse.c: URLs, range mapping, the apply body, export objects and files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../client/clover/clover_parse.h"
#include "../../client/http.h"

#define DAY 86400000LL
#define MAY18 1779062400000LL /* 2026-05-18 00:00:00.000 UTC */

/* An export object with status s and extra members (leading comma included) x. */
#define EXPORT(s, x)                                                                       \
	"{\"id\":\"EXP0123456789\",\"type\":\"ORDERS\",\"status\":\"" s "\","                  \
	"\"percentComplete\":42,\"startTime\":1779062400000,\"endTime\":1779148799999,"      \
	"\"createdTime\":1779100000000,\"modifiedTime\":1779100005000,"                      \
	"\"merchantRef\":{\"id\":\"MID1\"}" x "}"
#define URL1 "http://127.0.0.1:9/files/tok/EXP0123456789-1.json"
#define URL2 "https://files.example/files/tok/EXP0123456789-2.json"
#define DONE_X                                                                             \
	",\"availableUntil\":1779186405000,\"exportUrls\":{\"elements\":["                    \
	"{\"url\":\"" URL1 "\",\"export\":{\"id\":\"EXP0123456789\"}},"                       \
	"{\"url\":\"" URL2 "\",\"export\":{\"id\":\"EXP0123456789\"}}]}"

static int parse(const char *json, const char *id, struct clover_export *x,
		 struct client_error *e)
{
	client_error_clear(e);
	return clover_parse_export(json, strlen(json), id, x, e);
}

static void assert_protocol_naming(const struct client_error *e, const char *field)
{
	assert_int_equal(e->kind, CLIENT_E_PROTOCOL);
	assert_non_null(strstr(e->msg, field));
}

/* ---- URLs and requests ---- */

static void test_base_url_and_endpoints(void **state)
{
	char base[CLOVER_BASE_URL_MAX], url[CLOVER_URL_MAX];
	struct client_error e;
	client_error_clear(&e);
	assert_int_equal(http_base_url("https://sandbox.dev.clover.com/", base, sizeof(base), &e),
			 0);
	assert_string_equal(base, "https://sandbox.dev.clover.com");
	assert_int_equal(clover_exports_url(base, "MID1", NULL, url, sizeof(url)), 0);
	assert_string_equal(url, "https://sandbox.dev.clover.com/v3/merchants/MID1/exports/");
	assert_int_equal(clover_exports_url(base, "MID1", "E1", url, sizeof(url)), 0);
	assert_string_equal(url, "https://sandbox.dev.clover.com/v3/merchants/MID1/exports/E1");
	assert_int_equal(clover_exports_url(base, "MID1", "E1", url, 20), -1);
	assert_int_equal(http_base_url("ftp://x", base, sizeof(base), &e), -1);
	assert_int_equal(e.kind, CLIENT_E_INVALID);
	assert_int_equal(http_base_url("http://a b", base, sizeof(base), &e), -1);
	assert_int_equal(http_base_url(NULL, base, sizeof(base), &e), -1);
}

static void test_id_ok(void **state)
{
	assert_true(clover_id_ok("ABC123XYZ0987"));
	assert_true(clover_id_ok("a.b_c-d"));
	assert_false(clover_id_ok(""));
	assert_false(clover_id_ok(NULL));
	assert_false(clover_id_ok(".."));
	assert_false(clover_id_ok("a/b"));
	assert_false(clover_id_ok("a?b"));
	assert_false(clover_id_ok("a b"));
	char longid[PROVIDER_ID_MAX + 1];
	memset(longid, 'A', sizeof(longid) - 1);
	longid[PROVIDER_ID_MAX] = '\0';
	assert_false(clover_id_ok(longid));
	longid[PROVIDER_ID_MAX - 1] = '\0';
	assert_true(clover_id_ok(longid));
}

static void test_range_ms(void **state)
{
	int64_t s = 0, e = 0;
	struct date_range one = {{2026, 5, 18}, {2026, 5, 18}};
	assert_int_equal(clover_range_ms(&one, &s, &e), 0);
	assert_int_equal(s, MAY18);
	assert_int_equal(e, MAY18 + DAY - 1);
	/* 30 days A..A+29: exactly the server's limit minus one ms */
	struct date_range month = {{2026, 4, 19}, {2026, 5, 18}};
	assert_int_equal(clover_range_ms(&month, &s, &e), 0);
	assert_int_equal(e, MAY18 + DAY - 1);
	assert_int_equal(e - s, 30 * DAY - 1);
	/* across a year end and a leap day */
	struct date_range ny = {{2023, 12, 31}, {2024, 3, 1}};
	assert_int_equal(clover_range_ms(&ny, &s, &e), 0);
	assert_int_equal(s, 1703980800000LL);
	assert_int_equal(e, 1709337600000LL - 1);
	struct date_range bad = {{2026, 2, 30}, {2026, 3, 1}};
	s = e = 7;
	assert_int_equal(clover_range_ms(&bad, &s, &e), -1);
	assert_int_equal(s, 7);
}

static void test_apply_body(void **state)
{
	struct client_error e;
	struct export_request req = {"PAYMENTS", NULL, {{2026, 5, 18}, {2026, 5, 19}}};
	client_error_clear(&e);
	char *b = clover_apply_body(&req, &e);
	assert_non_null(b);
	assert_string_equal(b, "{\"type\":\"PAYMENTS\",\"startTime\":1779062400000,"
			       "\"endTime\":1779235199999}");
	free(b);
	req.report_type = "order";
	assert_null(clover_apply_body(&req, &e));
	assert_int_equal(e.kind, CLIENT_E_INVALID);
	req.report_type = NULL;
	assert_null(clover_apply_body(&req, &e));
	assert_int_equal(e.kind, CLIENT_E_INVALID);
	struct export_request bad = {"ORDERS", NULL, {{2026, 13, 1}, {2026, 13, 2}}};
	assert_null(clover_apply_body(&bad, &e));
	assert_int_equal(e.kind, CLIENT_E_INVALID);
}

static void test_kinds(void **state)
{
	enum clover_kind k;
	struct client_error e;
	client_error_clear(&e);
	assert_int_equal(clover_kind_of("ORDERS", &k, &e), 0);
	assert_int_equal(k, CLOVER_ORDERS);
	assert_string_equal(clover_kind_base(k), "orders");
	assert_int_equal(clover_kind_of("PAYMENTS", &k, &e), 0);
	assert_string_equal(clover_kind_base(k), "payments");
	assert_string_equal(clover_kind_type(k), "PAYMENTS");
	assert_int_equal(clover_kind_of("orders", &k, &e), -1);
	assert_int_equal(e.kind, CLIENT_E_INVALID);
}

/* ---- export objects ---- */

static void test_pending(void **state)
{
	struct clover_export x;
	struct client_error e;
	assert_int_equal(parse(EXPORT("PENDING", ""), NULL, &x, &e), 0);
	assert_string_equal(x.task.id, "EXP0123456789");
	assert_int_equal(x.task.state, EXPORT_PENDING);
	assert_int_equal(x.task.progress, 42);
	assert_int_equal(x.kind, CLOVER_ORDERS);
	assert_int_equal(x.nurls, 0);
	assert_int_equal(x.task.expires, 0);
	clover_export_free(&x);
}

static void test_in_progress(void **state)
{
	struct clover_export x;
	struct client_error e;
	assert_int_equal(parse(EXPORT("IN_PROGRESS", ""), "EXP0123456789", &x, &e), 0);
	assert_int_equal(x.task.state, EXPORT_GENERATING);
	clover_export_free(&x);
}

static void test_done(void **state)
{
	struct clover_export x;
	struct client_error e;
	assert_int_equal(parse(EXPORT("DONE", DONE_X), "EXP0123456789", &x, &e), 0);
	assert_int_equal(x.task.state, EXPORT_GENERATED);
	assert_int_equal(x.available_until_ms, 1779186405000LL);
	assert_int_equal(x.task.expires, 1779186405LL);
	assert_int_equal(x.task.finish_time, 1779100005LL);
	assert_int_equal(x.nurls, 2);
	assert_string_equal(x.urls[0], URL1);
	assert_string_equal(x.urls[1], URL2);
	clover_export_free(&x);
	assert_null(x.urls);
}

/* availableUntil in the first second after the epoch: long past, so expired, never 0 (which
 * means "no expiry" to the cache). */
static void test_epoch_available_until_is_expired(void **state)
{
	struct clover_export x;
	struct client_error e;
	assert_int_equal(parse(EXPORT("DONE", ",\"availableUntil\":500,\"exportUrls\":"
					      "{\"elements\":[{\"url\":\"" URL1 "\"}]}"),
			       "EXP0123456789", &x, &e),
			 0);
	assert_true(x.task.expires > 0);
	assert_true(x.task.expires < 86400);
	clover_export_free(&x);
}

static void test_done_without_files(void **state)
{
	struct clover_export x;
	struct client_error e;
	assert_int_equal(parse(EXPORT("DONE", ",\"availableUntil\":1779186405000,"
					      "\"exportUrls\":{\"elements\":[]}"),
			       NULL, &x, &e),
			 0);
	assert_int_equal(x.task.state, EXPORT_GENERATED);
	assert_int_equal(x.nurls, 0);
	clover_export_free(&x);
}

static void test_unknown_status_is_failed(void **state)
{
	const char *const bodies[] = {EXPORT("FAILED", ""), EXPORT("WEIRD", ""),
				      EXPORT("done", DONE_X), EXPORT("", "")};
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		struct clover_export x;
		struct client_error e;
		assert_int_equal(parse(bodies[i], NULL, &x, &e), 0);
		assert_int_equal(x.task.state, EXPORT_FAILED);
		assert_non_null(strstr(x.task.msg, "export status"));
		assert_int_equal(x.nurls, 0);
		clover_export_free(&x);
	}
	struct clover_export x;
	struct client_error e;
	assert_int_equal(parse(EXPORT("WEIRD", ""), NULL, &x, &e), 0);
	assert_non_null(strstr(x.task.msg, "WEIRD"));
	clover_export_free(&x);
}

static void test_missing_fields(void **state)
{
	const struct {
		const char *json, *field;
	} cases[] = {
		{"{\"type\":\"ORDERS\",\"status\":\"PENDING\",\"percentComplete\":0}", "id"},
		{"{\"id\":\"E1\",\"status\":\"PENDING\",\"percentComplete\":0}", "type"},
		{"{\"id\":\"E1\",\"type\":\"ORDERS\",\"percentComplete\":0}", "status"},
		{"{\"id\":\"E1\",\"type\":\"ORDERS\",\"status\":\"PENDING\"}", "percentComplete"},
		{"{\"id\":5,\"type\":\"ORDERS\",\"status\":\"PENDING\",\"percentComplete\":0}",
		 "id"},
		{"{\"id\":\"E1\",\"type\":\"ORDERS\",\"status\":1,\"percentComplete\":0}",
		 "status"},
		{"{\"id\":\"E1\",\"type\":\"ORDERS\",\"status\":\"DONE\","
		 "\"percentComplete\":\"9\"}",
		 "percentComplete"},
		{EXPORT("DONE", ",\"exportUrls\":{\"elements\":[]}"), "availableUntil"},
		{EXPORT("DONE", ",\"availableUntil\":\"soon\",\"exportUrls\":{\"elements\":[]}"),
		 "availableUntil"},
		{EXPORT("DONE", ",\"availableUntil\":1779186405000"), "exportUrls"},
		{EXPORT("DONE", ",\"availableUntil\":1779186405000,\"exportUrls\":{}"),
		 "exportUrls.elements"},
		{EXPORT("DONE", ",\"availableUntil\":1779186405000,\"exportUrls\":[]"),
		 "exportUrls"},
		{EXPORT("DONE", ",\"availableUntil\":1779186405000,"
				"\"exportUrls\":{\"elements\":[{\"export\":{}}]}"),
		 "url"},
		{EXPORT("DONE", ",\"availableUntil\":1779186405000,"
				"\"exportUrls\":{\"elements\":[\"" URL1 "\"]}"),
		 "exportUrls.elements"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct clover_export x;
		struct client_error e;
		assert_int_equal(parse(cases[i].json, NULL, &x, &e), -1);
		assert_protocol_naming(&e, cases[i].field);
		assert_null(x.urls);
	}
}

static void test_malformed_and_odd_bodies(void **state)
{
	const char *const bodies[] = {
		"", "{", "[]", "null", "{\"id\":\"E1\"", EXPORT("PENDING", "") " trailing",
		/* truncated halfway, as the simulator's truncate_json_next does */
		"{\"id\":\"EXP0123456789\",\"type\":\"ORD",
	};
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		struct clover_export x;
		struct client_error e;
		assert_int_equal(parse(bodies[i], NULL, &x, &e), -1);
		assert_int_equal(e.kind, CLIENT_E_PROTOCOL);
	}
}

static void test_bad_values(void **state)
{
	struct clover_export x;
	struct client_error e;
	/* another export's answer */
	assert_int_equal(parse(EXPORT("PENDING", ""), "OTHER", &x, &e), -1);
	assert_int_equal(e.kind, CLIENT_E_PROTOCOL);
	/* an id that would change a URL path */
	assert_int_equal(parse("{\"id\":\"../x\",\"type\":\"ORDERS\",\"status\":\"PENDING\","
			       "\"percentComplete\":0}",
			       NULL, &x, &e),
			 -1);
	assert_protocol_naming(&e, "id");
	assert_int_equal(parse("{\"id\":\"E1\",\"type\":\"REFUNDS\",\"status\":\"PENDING\","
			       "\"percentComplete\":0}",
			       NULL, &x, &e),
			 -1);
	assert_protocol_naming(&e, "type");
	/* a file URL that is not http(s), and one longer than a download_url holds */
	assert_int_equal(parse(EXPORT("DONE", ",\"availableUntil\":1779186405000,\"exportUrls\":"
					      "{\"elements\":[{\"url\":\"file:///etc/passwd\"}]}"),
			       NULL, &x, &e),
			 -1);
	assert_protocol_naming(&e, "url");
	assert_null(strstr(e.msg, "passwd"));
	assert_int_equal(parse(EXPORT("DONE", ",\"availableUntil\":-5,"
					      "\"exportUrls\":{\"elements\":[]}"),
			       NULL, &x, &e),
			 -1);
	assert_protocol_naming(&e, "availableUntil");
	char *big = malloc(PROVIDER_URL_MAX + 512);
	assert_non_null(big);
	int n = snprintf(big, 512, "%s",
			 EXPORT("DONE", ",\"availableUntil\":1779186405000,"
					"\"exportUrls\":{\"elements\":[{\"url\":\"http://h/"));
	/* EXPORT ends with "}": drop it to keep appending inside the object */
	n--;
	memset(big + n, 'a', PROVIDER_URL_MAX);
	strcpy(big + n + PROVIDER_URL_MAX, "\"}]}}");
	assert_int_equal(parse(big, NULL, &x, &e), -1);
	assert_protocol_naming(&e, "too long");
	free(big);
}

static void test_percent_clamped(void **state)
{
	struct clover_export x;
	struct client_error e;
	assert_int_equal(parse("{\"id\":\"E1\",\"type\":\"PAYMENTS\",\"status\":\"IN_PROGRESS\","
			       "\"percentComplete\":250}",
			       NULL, &x, &e),
			 0);
	assert_int_equal(x.task.progress, 100);
	assert_int_equal(x.kind, CLOVER_PAYMENTS);
	assert_int_equal(parse("{\"id\":\"E1\",\"type\":\"PAYMENTS\",\"status\":\"IN_PROGRESS\","
			       "\"percentComplete\":-3}",
			       NULL, &x, &e),
			 0);
	assert_int_equal(x.task.progress, 0);
}

/* ---- error bodies and files ---- */

static void test_message(void **state)
{
	char m[64];
	const char *j = "{\"message\": \"The maximum time range is 30 days\"}";
	clover_parse_message(j, strlen(j), m, sizeof(m));
	assert_string_equal(m, "The maximum time range is 30 days");
	j = "{\"message\": \"two\\nlines\"}";
	clover_parse_message(j, strlen(j), m, sizeof(m));
	assert_string_equal(m, "two lines");
	j = "<html>502</html>";
	clover_parse_message(j, strlen(j), m, sizeof(m));
	assert_string_equal(m, "");
	j = "{\"message\": 5}";
	clover_parse_message(j, strlen(j), m, sizeof(m));
	assert_string_equal(m, "");
}

static cJSON *file_of(const char *json, const cJSON **els, struct client_error *e)
{
	client_error_clear(e);
	return clover_parse_file(json, strlen(json), "orders-0001.json", els, e);
}

static void test_file(void **state)
{
	const cJSON *els = NULL;
	struct client_error e;
	cJSON *root = file_of("{\"elements\":[{\"id\":\"A\"},{\"id\":\"B\"}]}", &els, &e);
	assert_non_null(root);
	assert_int_equal(cJSON_GetArraySize(els), 2);
	cJSON_Delete(root);
	root = file_of("{\"elements\":[]}", &els, &e);
	assert_non_null(root);
	assert_int_equal(cJSON_GetArraySize(els), 0);
	cJSON_Delete(root);

	const char *const bad[] = {"[]", "{}", "{\"elements\":{}}", "{\"elements\":[1]}",
				   "{\"elements\":[{}", "{\"elements\":[]} x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_null(file_of(bad[i], &els, &e));
		assert_int_equal(e.kind, CLIENT_E_PROTOCOL);
		assert_non_null(strstr(e.msg, "orders-0001.json"));
	}
}

static void test_file_element_cap(void **state)
{
	struct buf b = BUF_INIT(SIZE_MAX);
	const cJSON *els;
	struct client_error e;
	assert_int_equal(buf_add(&b, "{\"elements\":[{}", 15), 0);
	for (int i = 1; i < CLOVER_FILE_ELEMENTS_MAX; i++)
		assert_int_equal(buf_add(&b, ",{}", 3), 0);
	assert_int_equal(buf_add(&b, "]}", 3), 0); /* with the NUL */
	cJSON *root = file_of(b.data, &els, &e);
	assert_non_null(root);
	assert_int_equal(cJSON_GetArraySize(els), CLOVER_FILE_ELEMENTS_MAX);
	cJSON_Delete(root);
	buf_truncate(&b, b.len - 3);
	assert_int_equal(buf_add(&b, ",{}]}", 6), 0);
	assert_null(file_of(b.data, &els, &e));
	assert_protocol_naming(&e, "more than 1000");
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base_url_and_endpoints),
		cmocka_unit_test(test_id_ok),
		cmocka_unit_test(test_range_ms),
		cmocka_unit_test(test_apply_body),
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_pending),
		cmocka_unit_test(test_in_progress),
		cmocka_unit_test(test_done),
		cmocka_unit_test(test_epoch_available_until_is_expired),
		cmocka_unit_test(test_done_without_files),
		cmocka_unit_test(test_unknown_status_is_failed),
		cmocka_unit_test(test_missing_fields),
		cmocka_unit_test(test_malformed_and_odd_bodies),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_percent_clamped),
		cmocka_unit_test(test_message),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_file_element_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
