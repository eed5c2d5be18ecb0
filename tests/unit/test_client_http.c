/* client/http.c: the pure header parsers and the URL scheme gate (no network; the gate
 * itself, check_http_url, is tested in test_common_check.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../client/http.h"

static void test_content_range_valid(void **state)
{
	uint64_t a = 1, b = 1, t = 1;
	assert_int_equal(http_parse_content_range("bytes 100-199/1000", &a, &b, &t), 0);
	assert_int_equal(a, 100);
	assert_int_equal(b, 199);
	assert_int_equal(t, 1000);
	assert_int_equal(http_parse_content_range("bytes 0-0/*", &a, &b, &t), 0);
	assert_true(t == UINT64_MAX);
}

static void test_content_range_invalid(void **state)
{
	uint64_t a = 7, b = 7, t = 7;
	assert_int_equal(http_parse_content_range("bytes */1000", &a, &b, &t), -1);
	assert_int_equal(http_parse_content_range("bytes 5-4/10", &a, &b, &t), -1);
	assert_int_equal(http_parse_content_range("bytes 0-10/10", &a, &b, &t), -1);
	assert_int_equal(http_parse_content_range("items 0-1/10", &a, &b, &t), -1);
	assert_int_equal(http_parse_content_range("bytes 0-1/10x", &a, &b, &t), -1);
	assert_int_equal(http_parse_content_range("bytes 99999999999999999999-1/10", &a, &b, &t),
			 -1);
	assert_int_equal(a, 7); /* untouched */
}

static void test_retry_after_seconds(void **state)
{
	assert_int_equal(http_parse_retry_after("3", 0), 3000);
	assert_int_equal(http_parse_retry_after(" 0 ", 0), 0);
	assert_int_equal(http_parse_retry_after("999999999", 0), 86400L * 1000);
	assert_int_equal(http_parse_retry_after("3s", 0), -1);
	assert_int_equal(http_parse_retry_after("", 0), -1);
}

static void test_retry_after_http_date(void **state)
{
	/* Wed, 21 Oct 2015 07:28:00 GMT = 1445412480 */
	assert_int_equal(http_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470), 10000);
	assert_int_equal(http_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412490), 0);
	assert_int_equal(http_parse_retry_after("soon", 0), -1);
}

static int never_begin(void *ctx, uint64_t o, uint64_t t)
{
	fail();
	return 0;
}

static int never_write(void *ctx, const void *b, size_t l, uint64_t o)
{
	fail();
	return 0;
}

static void test_download_refuses_bad_scheme(void **state)
{
	struct client_error e;
	struct download_sink sink = {.begin = never_begin, .write = never_write};
	uint64_t total = 0;
	client_error_clear(&e);
	struct http_client *c = http_client_new(NULL, &e);
	assert_non_null(c);
	assert_int_equal(http_download(c, "file:///etc/passwd", 0, &sink, &total, &e), -1);
	assert_int_equal(e.kind, CLIENT_E_PROTOCOL);
	assert_true(total == UINT64_MAX);
	struct http_response r;
	client_error_clear(&e);
	assert_int_equal(http_post_json(c, "ftp://h/x", NULL, 0, "{}", &r, &e), -1);
	assert_int_equal(e.kind, CLIENT_E_PROTOCOL);
	http_client_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_content_range_valid),
		cmocka_unit_test(test_content_range_invalid),
		cmocka_unit_test(test_retry_after_seconds),
		cmocka_unit_test(test_retry_after_http_date),
		cmocka_unit_test(test_download_refuses_bad_scheme),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
