/* mogujie_sign.c: the gateway signature and form encoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../client/mogujie/mogujie_sign.h"

/* The contract's vector, given out of order: the function sorts by name itself. */
static void test_sign_vector(void **state)
{
	const char *names[] = {"version", "timestamp", "method", "app_key", "access_token",
			       "sign_method", "itemId", "format"};
	const char *values[] = {"1.0", "1367819523", "xiaodian.item.get", "10011",
				"TESTACCESSTOKEN", "md5", "95i27", "json"};
	char sign[MOGUJIE_SIGN_LEN];
	mogujie_sign("TESTAPPSECRET", names, values, 8, sign);
	assert_string_equal(sign, "34619030B487EC1B49B9EF564A877925");
	/* the arrays are not reordered */
	assert_string_equal(names[0], "version");
	assert_string_equal(values[0], "1.0");
}

static void test_sign_depends_on_every_part(void **state)
{
	const char *names[] = {"a", "b"};
	const char *v1[] = {"1", "2"}, *v2[] = {"1", "3"};
	char s1[MOGUJIE_SIGN_LEN], s2[MOGUJIE_SIGN_LEN], s3[MOGUJIE_SIGN_LEN];
	mogujie_sign("secret-one", names, v1, 2, s1);
	mogujie_sign("secret-one", names, v2, 2, s2);
	mogujie_sign("secret-two", names, v1, 2, s3);
	assert_int_equal(strlen(s1), 32);
	assert_string_not_equal(s1, s2);
	assert_string_not_equal(s1, s3);
	for (int i = 0; i < 32; i++)
		assert_true((s1[i] >= '0' && s1[i] <= '9') || (s1[i] >= 'A' && s1[i] <= 'F'));
}

static void test_sign_utf8_params(void **state)
{
	/* Params is signed as the exact JSON text, UTF-8 bytes included. The value is
	 * MD5("S" + "Params" + text + "S") computed independently. */
	const char *names[] = {"Params"};
	const char *values[] = {"{\"k\":\"颜色\"}"};
	char sign[MOGUJIE_SIGN_LEN];
	mogujie_sign("S", names, values, 1, sign);
	assert_string_equal(sign, "71E1FB5297A0446E6F154FCF2FD0B288");
}

static void test_form_encode_reserved_and_utf8(void **state)
{
	char out[256];
	assert_int_equal(mogujie_form_encode("AZaz09-._~", out, sizeof(out)), 10);
	assert_string_equal(out, "AZaz09-._~");
	mogujie_form_encode("a b&c=d+e/f?g%h", out, sizeof(out));
	assert_string_equal(out, "a%20b%26c%3Dd%2Be%2Ff%3Fg%25h");
	mogujie_form_encode("{\"startCreated\":\"2026-05-01 00:00:00\"}", out, sizeof(out));
	assert_string_equal(out, "%7B%22startCreated%22%3A%222026-05-01%2000%3A00%3A00%22%7D");
	mogujie_form_encode("调用成功", out, sizeof(out));
	assert_string_equal(out, "%E8%B0%83%E7%94%A8%E6%88%90%E5%8A%9F");
	assert_int_equal(mogujie_form_encode("", out, sizeof(out)), 0);
	assert_string_equal(out, "");
}

static void test_form_encode_bounded(void **state)
{
	char out[4];
	assert_int_equal(mogujie_form_encode("abc", out, sizeof(out)), 3);
	assert_int_equal(mogujie_form_encode("abcd", out, sizeof(out)), -1);
	assert_int_equal(mogujie_form_encode("a b", out, sizeof(out)), -1); /* a%20b = 5 */
}

static void test_form_body(void **state)
{
	const char *names[] = {"app_key", "Params", "sign"};
	const char *values[] = {"10011", "{\"a\":1}", ""};
	char *b = mogujie_form_body(names, values, 3);
	assert_non_null(b);
	assert_string_equal(b, "app_key=10011&Params=%7B%22a%22%3A1%7D&sign=");
	free(b);
	b = mogujie_form_body(names, values, 0);
	assert_string_equal(b, "");
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sign_vector),
		cmocka_unit_test(test_sign_depends_on_every_part),
		cmocka_unit_test(test_sign_utf8_params),
		cmocka_unit_test(test_form_encode_reserved_and_utf8),
		cmocka_unit_test(test_form_encode_bounded),
		cmocka_unit_test(test_form_body),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
