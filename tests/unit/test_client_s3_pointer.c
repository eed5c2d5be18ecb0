/* client/store/s3_pointer.c: the shared store's keys (with the fleet's account hash) and the
 * strict parsing of range pointers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../client/fleet/fleet.h"
#include "../../client/store/s3_pointer.h"

#define SHA "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"

static const struct date_range may = {{2026, 5, 18}, {2026, 5, 19}};

/* The account segment is the fleet's hash (the first 32 hex), computed independently:
 * sha256(b"vexora\0http://127.0.0.1:8080\0M1\0")[:32]. */
static void test_keys_use_the_fleet_account_hash(void **state)
{
	char hex[FLEET_SHA256_HEX], acct[FLEET_ACCOUNT_HEX + 1], key[S3_KEY_MAX];

	assert_int_equal(fleet_account_hex("vexora", "http://127.0.0.1:8080", "M1", hex), 0);
	snprintf(acct, sizeof(acct), "%.*s", FLEET_ACCOUNT_HEX, hex);
	assert_string_equal(acct, "9caefdb9da6b460cc54d1076897a21aa");
	assert_int_equal(s3_object_key("vexora", acct, SHA, key), 0);
	assert_string_equal(key, "vexora/9caefdb9da6b460cc54d1076897a21aa/" SHA);
	assert_int_equal(s3_pointer_key("vexora", acct, &may, "orders.xlsx", key), 0);
	assert_string_equal(key, "vexora/9caefdb9da6b460cc54d1076897a21aa/ranges/"
				 "2026-05-18..2026-05-19/orders.xlsx.json");
	assert_int_equal(s3_pointer_key("vexora", acct, &may, "order/en-US/orders.xlsx", key), 0);
	assert_string_equal(key, "vexora/9caefdb9da6b460cc54d1076897a21aa/ranges/"
				 "2026-05-18..2026-05-19/order/en-US/orders.xlsx.json");
}

static void test_keys_refuse_bad_parts(void **state)
{
	char key[S3_KEY_MAX];

	assert_int_equal(s3_object_key("vexora", "abc", "ABCDEF", key), -1);
	assert_int_equal(s3_object_key("vexora", "abc", SHA "0", key), -1);
	assert_int_equal(s3_object_key("vex/ora", "abc", SHA, key), -1);
	assert_int_equal(s3_object_key("", "abc", SHA, key), -1);
	assert_int_equal(s3_pointer_key("vexora", "abc", &may, "../x", key), -1);
	assert_int_equal(s3_pointer_key("vexora", "abc", &may, "a//b", key), -1);
	assert_int_equal(s3_pointer_key("vexora", "abc", &may, "a/./b", key), -1);
	assert_int_equal(s3_pointer_key("vexora", "abc", &may, "or ders.xlsx", key), -1);
	assert_string_equal(key, "");
}

static struct s3_pointer sample(void)
{
	struct s3_pointer p = {.size = 5, .as_of = 1779000000, .complete = 1,
			       .expires = 1779600000};

	strcpy(p.sha256, SHA);
	strcpy(p.writer, "host-a");
	return p;
}

static void test_pointer_round_trip(void **state)
{
	struct s3_pointer p = sample(), q;
	char json[S3_POINTER_JSON_MAX];
	long n = s3_pointer_to_json(&p, json, sizeof(json));

	assert_true(n > 0);
	assert_int_equal(s3_pointer_from_json(json, (size_t)n, &q), 0);
	assert_string_equal(q.sha256, SHA);
	assert_int_equal(q.size, 5);
	assert_int_equal(q.as_of, 1779000000);
	assert_int_equal(q.complete, 1);
	assert_int_equal(q.expires, 1779600000);
	assert_string_equal(q.writer, "host-a");
	assert_string_equal(q.task_id, "");
	strcpy(p.task_id, "T-42");
	n = s3_pointer_to_json(&p, json, sizeof(json));
	assert_int_equal(s3_pointer_from_json(json, (size_t)n, &q), 0);
	assert_string_equal(q.task_id, "T-42");
	p.task_id[0] = '\0';
	/* An invalid pointer is never written. */
	p.size = -1;
	assert_int_equal(s3_pointer_to_json(&p, json, sizeof(json)), -1);
	p = sample();
	assert_int_equal(s3_pointer_to_json(&p, json, 20), -1);
}

static void test_bad_pointers_are_refused(void **state)
{
#define OK_REST "\"as_of\":1779000000,\"complete\":true,\"expires\":0,\"writer\":\"h\""
	static const char *const bad[] = {
		"",
		"[]",
		"{\"v\":1,\"sha256\":\"" SHA "\",\"size\":5}",			   /* keys missing */
		"{\"v\":2,\"sha256\":\"" SHA "\",\"size\":5," OK_REST "}",	   /* version */
		"{\"v\":1,\"sha256\":\"" SHA "\",\"size\":5.5," OK_REST "}",	   /* fraction */
		"{\"v\":1,\"sha256\":\"" SHA "\",\"size\":-1," OK_REST "}",	   /* negative */
		"{\"v\":1,\"sha256\":\"" SHA "\",\"size\":\"5\"," OK_REST "}",	   /* type */
		"{\"v\":1,\"sha256\":\"ABC\",\"size\":5," OK_REST "}",		   /* digest */
		"{\"v\":1,\"sha256\":\"" SHA "\",\"size\":5,\"size\":6," OK_REST "}", /* twice */
		"{\"v\":1,\"sha256\":\"" SHA "\",\"size\":5," OK_REST "} x",	   /* trailing */
		"{\"v\":1,\"sha256\":\"" SHA "\",\"size\":5,\"as_of\":0,\"complete\":true,"
		"\"expires\":0,\"writer\":\"h\"}",					   /* as_of */
		"{\"v\":1,\"sha256\":\"" SHA "\",\"size\":5,\"as_of\":1,\"complete\":1,"
		"\"expires\":0,\"writer\":\"h\"}",					   /* bool */
		"{\"v\":1,\"sha256\":\"" SHA "\",\"size\":5,\"as_of\":1,\"complete\":true,"
		"\"expires\":0,\"writer\":\"../x\"}",					   /* writer */
		"{\"v\":1,\"sha256\":\"" SHA "\",\"size\":5," OK_REST ",\"task_id\":\"a b\"}",
		"{\"v\":1,\"sha256\":\"" SHA "\",\"size\":5," OK_REST ",\"task_id\":7}",
		"{\"v\":1,\"sha256\":\"" SHA "\",\"size\":5," OK_REST
		",\"task_id\":\"a\",\"task_id\":\"b\"}",
	};
	struct s3_pointer out = sample();

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(s3_pointer_from_json(bad[i], strlen(bad[i]), &out), -1);
		assert_int_equal(out.size, 5); /* untouched */
	}
	const char ok[] = "{\"v\":1,\"sha256\":\"" SHA "\",\"size\":7," OK_REST ",\"new\":1} ";
	assert_int_equal(s3_pointer_from_json(ok, strlen(ok), &out), 0);
	assert_int_equal(out.size, 7);
}

static void test_pointer_usable_until_expiry(void **state)
{
	struct s3_pointer p = sample();

	assert_true(s3_pointer_usable(&p, 1779599999));
	assert_false(s3_pointer_usable(&p, 1779600000));
	p.expires = 0;
	assert_true(s3_pointer_usable(&p, INT64_MAX));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys_use_the_fleet_account_hash),
		cmocka_unit_test(test_keys_refuse_bad_parts),
		cmocka_unit_test(test_pointer_round_trip),
		cmocka_unit_test(test_bad_pointers_are_refused),
		cmocka_unit_test(test_pointer_usable_until_expiry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
