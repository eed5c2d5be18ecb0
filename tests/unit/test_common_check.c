/* common/check.c: tokens, http(s) URLs and base URLs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/check.h"

static void test_token_printable_without_spaces(void **state)
{
	assert_true(check_token("abc123", 6));
	assert_true(check_token("!~{}\"=", 64)); /* every printable but space */
	assert_false(check_token("ab c", 64));
	assert_false(check_token("ab\tc", 64));
	assert_false(check_token("ab\x7f", 64));  /* DEL */
	assert_false(check_token("caf\xc3\xa9", 64)); /* not ASCII */
	assert_false(check_token("", 64));
	assert_false(check_token(NULL, 64));
}

static void test_token_length_bound_is_inclusive(void **state)
{
	assert_true(check_token("1234", 4));
	assert_false(check_token("12345", 4));
	assert_true(check_token("1", 1));
	assert_false(check_token("1", 0));
}

static void test_http_url(void **state)
{
	assert_true(check_http_url("http://h/x"));
	assert_true(check_http_url("HTTPS://h"));
	assert_true(check_http_url("https://127.0.0.1:8080"));
	assert_false(check_http_url("file:///etc/passwd"));
	assert_false(check_http_url("ftp://h/f"));
	assert_false(check_http_url("http://"));
	assert_false(check_http_url("http:///path"));
	assert_false(check_http_url("httpx://h"));
	assert_false(check_http_url("api.example.com"));
	assert_false(check_http_url(NULL));
}

static void test_base_url_drops_one_slash_and_appends(void **state)
{
	char out[64];
	assert_int_equal(check_base_url("https://h.example/", "", out, sizeof(out)), CHECK_URL_OK);
	assert_string_equal(out, "https://h.example");
	assert_int_equal(check_base_url("https://h/p//", "", out, sizeof(out)), CHECK_URL_OK);
	assert_string_equal(out, "https://h/p/"); /* only one */
	assert_int_equal(check_base_url("http://h:8080/gw/", "/invoke", out, sizeof(out)),
			 CHECK_URL_OK);
	assert_string_equal(out, "http://h:8080/gw/invoke");
	assert_int_equal(check_base_url("http://h", "/invoke", out, sizeof(out)), CHECK_URL_OK);
	assert_string_equal(out, "http://h/invoke");
}

static void test_base_url_refusals(void **state)
{
	char out[64];
	assert_int_equal(check_base_url(NULL, "", out, sizeof(out)), CHECK_URL_SCHEME);
	assert_int_equal(check_base_url("ftp://h", "", out, sizeof(out)), CHECK_URL_SCHEME);
	assert_int_equal(check_base_url("h.example", "", out, sizeof(out)), CHECK_URL_SCHEME);
	assert_int_equal(check_base_url("http://h/a b", "", out, sizeof(out)), CHECK_URL_CHARS);
	assert_int_equal(check_base_url("http://h/\r\n", "", out, sizeof(out)), CHECK_URL_CHARS);
	assert_int_equal(check_base_url("http://h/\x7f", "", out, sizeof(out)), CHECK_URL_CHARS);
}

static void test_base_url_must_fit(void **state)
{
	char out[9]; /* "http://h" and its NUL */
	assert_int_equal(check_base_url("http://h/", "", out, sizeof(out)), CHECK_URL_OK);
	assert_string_equal(out, "http://h");
	assert_int_equal(check_base_url("http://hh", "", out, sizeof(out)), CHECK_URL_LONG);
	assert_int_equal(check_base_url("http://h", "/", out, sizeof(out)), CHECK_URL_LONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_printable_without_spaces),
		cmocka_unit_test(test_token_length_bound_is_inclusive),
		cmocka_unit_test(test_http_url),
		cmocka_unit_test(test_base_url_drops_one_slash_and_appends),
		cmocka_unit_test(test_base_url_refusals),
		cmocka_unit_test(test_base_url_must_fit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
