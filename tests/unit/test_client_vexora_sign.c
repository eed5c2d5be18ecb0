/* vexora_sign.c: MD5 hex and the Vexora signing rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../client/vexora/vexora_sign.h"

/* The example body of the spec with the test secret s3cr3t. */
static cJSON *spec_body(void)
{
	cJSON *b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "reportType", "order");
	cJSON_AddStringToObject(b, "language", "en-US");
	cJSON_AddStringToObject(b, "startTime", "2026-05-18 00:00:00");
	cJSON_AddStringToObject(b, "endTime", "2026-05-19 23:59:59");
	cJSON_AddNumberToObject(b, "timestamp", 1779172654161.0);
	return b;
}

static void test_md5_known_values(void **state)
{
	char hex[SIGN_HEX_LEN];
	assert_int_equal(sign_md5_hex("", 0, hex), 0);
	assert_string_equal(hex, "d41d8cd98f00b204e9800998ecf8427e");
	assert_int_equal(sign_md5_hex("abc", 3, hex), 0);
	assert_string_equal(hex, "900150983cd24fb0d6963f7d28e17f72");
}

static void test_vector_signing_string(void **state)
{
	char buf[512];
	cJSON *b = spec_body();
	int n = sign_vexora_string(b, buf, sizeof(buf));
	assert_string_equal(buf, "endTime=2026-05-19 23:59:59language=en-USreportType=order"
				 "startTime=2026-05-18 00:00:00timestamp=1779172654161");
	assert_int_equal(n, (int)strlen(buf));
	cJSON_Delete(b);
}

static void test_vector_signature(void **state)
{
	char hex[SIGN_HEX_LEN];
	cJSON *b = spec_body();
	assert_int_equal(sign_vexora(b, "s3cr3t", hex), 0);
	assert_string_equal(hex, "dd7de636938d0ea016032d71f69f4b51");
	cJSON_Delete(b);
}

static void test_null_and_empty_fields_skipped(void **state)
{
	char a[SIGN_HEX_LEN], b2[SIGN_HEX_LEN], buf[512];
	cJSON *b = spec_body();
	assert_int_equal(sign_vexora(b, "s3cr3t", a), 0);
	cJSON_AddNullToObject(b, "finishTime");
	cJSON_AddStringToObject(b, "note", "");
	assert_int_equal(sign_vexora(b, "s3cr3t", b2), 0);
	assert_string_equal(a, b2);
	sign_vexora_string(b, buf, sizeof(buf));
	assert_null(strstr(buf, "note"));
	assert_null(strstr(buf, "finishTime"));
	cJSON_Delete(b);
}

static void test_numbers_plain_decimal(void **state)
{
	char buf[128];
	cJSON *b = cJSON_CreateObject();
	cJSON_AddNumberToObject(b, "t", 1779172654161.0);
	cJSON_AddNumberToObject(b, "z", 0);
	cJSON_AddNumberToObject(b, "n", -42);
	cJSON_AddRawToObject(b, "r", "1779172654161");
	sign_vexora_string(b, buf, sizeof(buf));
	assert_string_equal(buf, "n=-42r=1779172654161t=1779172654161z=0");
	cJSON_Delete(b);
}

static void test_fractional_number_refused(void **state)
{
	char buf[128], hex[SIGN_HEX_LEN];
	cJSON *b = cJSON_CreateObject();
	cJSON_AddNumberToObject(b, "x", 1.5);
	assert_int_equal(sign_vexora_string(b, buf, sizeof(buf)), -1);
	assert_int_equal(sign_vexora(b, "s", hex), -1);
	assert_string_equal(hex, "");
	cJSON_Delete(b);
}

static void test_booleans_spelled(void **state)
{
	char buf[128];
	cJSON *b = cJSON_CreateObject();
	cJSON_AddTrueToObject(b, "b");
	cJSON_AddFalseToObject(b, "a");
	sign_vexora_string(b, buf, sizeof(buf));
	assert_string_equal(buf, "a=falseb=true");
	cJSON_Delete(b);
}

static void test_sign_field_excluded(void **state)
{
	char a[SIGN_HEX_LEN], b2[SIGN_HEX_LEN];
	cJSON *b = spec_body();
	sign_vexora(b, "s3cr3t", a);
	cJSON_AddStringToObject(b, "sign", "7c08afed19c3b5b72e014b71b5a6249c");
	sign_vexora(b, "s3cr3t", b2);
	assert_string_equal(a, b2);
	assert_string_equal(b2, "dd7de636938d0ea016032d71f69f4b51");
	cJSON_Delete(b);
}

static void test_ascii_order_mixed_case(void **state)
{
	char buf[128];
	cJSON *b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "b", "3");
	cJSON_AddStringToObject(b, "a", "2");
	cJSON_AddStringToObject(b, "B", "1");
	cJSON_AddStringToObject(b, "A", "0");
	cJSON_AddStringToObject(b, "_", "u");
	sign_vexora_string(b, buf, sizeof(buf));
	/* Uppercase sorts before '_' before lowercase in ASCII. */
	assert_string_equal(buf, "A=0B=1_=ua=2b=3");
	cJSON_Delete(b);
}

static void test_too_small_buffer(void **state)
{
	char buf[16];
	cJSON *b = spec_body();
	assert_int_equal(sign_vexora_string(b, buf, sizeof(buf)), -1);
	assert_string_equal(buf, "");
	cJSON_Delete(b);
}

static void test_nested_values_refused(void **state)
{
	char buf[128];
	cJSON *b = cJSON_CreateObject();
	cJSON_AddObjectToObject(b, "o");
	assert_int_equal(sign_vexora_string(b, buf, sizeof(buf)), -1);
	cJSON_Delete(b);
	b = cJSON_CreateArray();
	assert_int_equal(sign_vexora_string(b, buf, sizeof(buf)), -1);
	cJSON_Delete(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_md5_known_values),
		cmocka_unit_test(test_vector_signing_string),
		cmocka_unit_test(test_vector_signature),
		cmocka_unit_test(test_null_and_empty_fields_skipped),
		cmocka_unit_test(test_numbers_plain_decimal),
		cmocka_unit_test(test_fractional_number_refused),
		cmocka_unit_test(test_booleans_spelled),
		cmocka_unit_test(test_sign_field_excluded),
		cmocka_unit_test(test_ascii_order_mixed_case),
		cmocka_unit_test(test_too_small_buffer),
		cmocka_unit_test(test_nested_values_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
