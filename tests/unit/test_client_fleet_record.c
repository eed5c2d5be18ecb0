/* client/fleet/fleet_record.c: the task record's JSON round trip and its strict parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../client/fleet/fleet_record.h"

static struct fleet_record sample(void)
{
	struct fleet_record r;
	memset(&r, 0, sizeof(r));
	strcpy(r.task_id, "T-20260518-0001");
	r.state = FLEET_GENERATED;
	r.expires = 1779172654;
	r.size = 123456789;
	memset(r.sha256, 'a', 64);
	strcpy(r.holder, "host-a.example");
	return r;
}

/* Parses text; returns fleet_record_from_json's result. */
static int parse(const char *text, struct fleet_record *out)
{
	return fleet_record_from_json(text, strlen(text), out);
}

static void test_round_trip(void **state)
{
	struct fleet_record r = sample(), back;
	char json[FLEET_RECORD_JSON_MAX + 1];
	long n = fleet_record_to_json(&r, json, sizeof(json));

	assert_true(n > 0);
	assert_int_equal(n, (long)strlen(json));
	memset(&back, 0x5a, sizeof(back));
	assert_int_equal(fleet_record_from_json(json, (size_t)n, &back), 0);
	assert_string_equal(back.task_id, r.task_id);
	assert_int_equal(back.state, r.state);
	assert_int_equal(back.expires, r.expires);
	assert_int_equal(back.size, r.size);
	assert_string_equal(back.sha256, r.sha256);
	assert_string_equal(back.holder, r.holder);
}

#define OK_TAIL "\"expires\":1,\"size\":2,\"sha256\":\"\",\"holder\":\"h\"}"

/* A record a newer orderfs wrote, with fields this one does not know: read, fields ignored
 * (a host must not take it for an etcd failure). */
static void test_newer_fields_ignored(void **state)
{
	struct fleet_record back;
	const char *newer = "{\"v\":1,\"task_id\":\"T-9\",\"state\":\"generated\","
			    "\"written_ms\":1765000000000,\"superseded\":false,\"note\":{\"a\":[1]},"
			    OK_TAIL;

	assert_int_equal(parse(newer, &back), 0);
	assert_string_equal(back.task_id, "T-9");
	assert_int_equal(back.state, FLEET_GENERATED);
	assert_string_equal(back.holder, "h");
}

/* "written" dates a record (its "no data" and unknown expiry are trusted only so long);
 * an older record without it reads as 0 (undated). */
static void test_written_round_trip(void **state)
{
	struct fleet_record r = sample(), back;
	char json[FLEET_RECORD_JSON_MAX + 1];

	r.written = 1765000000;
	assert_true(fleet_record_to_json(&r, json, sizeof(json)) > 0);
	assert_non_null(strstr(json, "\"written\":1765000000"));
	assert_int_equal(parse(json, &back), 0);
	assert_int_equal(back.written, 1765000000);
	assert_int_equal(parse("{\"v\":1,\"task_id\":\"T\",\"state\":\"no_data\"," OK_TAIL, &back),
			 0);
	assert_int_equal(back.written, 0);
	assert_int_equal(parse("{\"v\":1,\"task_id\":\"T\",\"state\":\"no_data\","
			       "\"written\":-5," OK_TAIL, &back), -1);
}

static void test_unknowns_round_trip(void **state)
{
	struct fleet_record r = sample(), back;
	char json[FLEET_RECORD_JSON_MAX + 1];

	r.size = -1;
	r.expires = 0;
	r.sha256[0] = '\0';
	r.state = FLEET_NO_DATA;
	assert_true(fleet_record_to_json(&r, json, sizeof(json)) > 0);
	assert_int_equal(parse(json, &back), 0);
	assert_int_equal(back.size, -1);
	assert_string_equal(back.sha256, "");
	assert_string_equal(fleet_state_name(back.state), "no_data");
}

static void test_every_state_named(void **state)
{
	enum fleet_state s;
	const char *names[] = {"applied", "generating", "generated", "failed", "no_data"};

	for (int i = 0; i < 5; i++) {
		assert_int_equal(fleet_state_parse(names[i], &s), 0);
		assert_int_equal(s, i);
		assert_string_equal(fleet_state_name(s), names[i]);
	}
	assert_int_equal(fleet_state_parse("done", &s), -1);
	assert_string_equal(fleet_state_name((enum fleet_state)42), "?");
}

static void test_invalid_record_not_serialized(void **state)
{
	struct fleet_record r = sample();
	char json[FLEET_RECORD_JSON_MAX + 1];

	r.task_id[0] = '\0';
	assert_int_equal(fleet_record_to_json(&r, json, sizeof(json)), -1);
	assert_string_equal(json, "");
	r = sample();
	strcpy(r.holder, "bad host");
	assert_int_equal(fleet_record_to_json(&r, json, sizeof(json)), -1);
	r = sample();
	r.sha256[3] = 'G';
	assert_int_equal(fleet_record_to_json(&r, json, sizeof(json)), -1);
	r = sample();
	r.size = -2;
	assert_int_equal(fleet_record_to_json(&r, json, sizeof(json)), -1);
	r = sample();
	assert_int_equal(fleet_record_to_json(&r, json, 20), -1); /* too small */
}

static void test_strict_parse_refuses_bad_records(void **state)
{
	struct fleet_record r = sample(), before = r;
	const char *bad[] = {
		"",
		"[]",
		"{}",
		"null",
		/* version */
		"{\"v\":2,\"task_id\":\"T\",\"state\":\"applied\"," OK_TAIL,
		"{\"v\":\"1\",\"task_id\":\"T\",\"state\":\"applied\"," OK_TAIL,
		/* a key missing or repeated */
		"{\"v\":1,\"state\":\"applied\"," OK_TAIL,
		"{\"v\":1,\"task_id\":\"T\",\"state\":\"applied\",\"state\":\"failed\"," OK_TAIL,
		"{\"v\":1,\"task_id\":\"T\",\"task_id\":\"U\",\"state\":\"applied\"," OK_TAIL,
		/* wrong types and values */
		"{\"v\":1,\"task_id\":7,\"state\":\"applied\"," OK_TAIL,
		"{\"v\":1,\"task_id\":\"\",\"state\":\"applied\"," OK_TAIL,
		"{\"v\":1,\"task_id\":\"T\\n1\",\"state\":\"applied\"," OK_TAIL,
		"{\"v\":1,\"task_id\":\"T\",\"state\":\"done\"," OK_TAIL,
		"{\"v\":1,\"task_id\":\"T\",\"state\":2," OK_TAIL,
		"{\"v\":1,\"task_id\":\"T\",\"state\":\"applied\",\"expires\":1.5,\"size\":2,"
		"\"sha256\":\"\",\"holder\":\"h\"}",
		"{\"v\":1,\"task_id\":\"T\",\"state\":\"applied\",\"expires\":-1,\"size\":2,"
		"\"sha256\":\"\",\"holder\":\"h\"}",
		"{\"v\":1,\"task_id\":\"T\",\"state\":\"applied\",\"expires\":1,\"size\":-2,"
		"\"sha256\":\"\",\"holder\":\"h\"}",
		"{\"v\":1,\"task_id\":\"T\",\"state\":\"applied\",\"expires\":1,\"size\":1e300,"
		"\"sha256\":\"\",\"holder\":\"h\"}",
		"{\"v\":1,\"task_id\":\"T\",\"state\":\"applied\",\"expires\":1,\"size\":2,"
		"\"sha256\":\"abc\",\"holder\":\"h\"}",
		"{\"v\":1,\"task_id\":\"T\",\"state\":\"applied\",\"expires\":1,\"size\":2,"
		"\"sha256\":\"\",\"holder\":\"h/../x\"}",
		"{\"v\":1,\"task_id\":\"T\",\"state\":\"applied\",\"expires\":1,\"size\":2,"
		"\"sha256\":\"\",\"holder\":null}",
		/* trailing garbage, truncation */
		"{\"v\":1,\"task_id\":\"T\",\"state\":\"applied\"," OK_TAIL "x",
		"{\"v\":1,\"task_id\":\"T\",\"state\":\"applied\",\"expires\":1,",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i], &r) != -1)
			fail_msg("accepted: %s", bad[i]);
		assert_memory_equal(&r, &before, sizeof(r)); /* untouched */
	}
	assert_int_equal(parse("{\"v\":1,\"task_id\":\"T\",\"state\":\"applied\"," OK_TAIL
			       " \n", &r), 0);
}

static void test_oversized_refused(void **state)
{
	char big[FLEET_RECORD_JSON_MAX + 200];
	struct fleet_record r;
	int n = snprintf(big, sizeof(big), "{\"v\":1,\"task_id\":\"T\",\"state\":\"applied\","
			 OK_TAIL);

	memset(big + n, ' ', sizeof(big) - (size_t)n - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(parse(big, &r), -1);
	/* A task id at its bound is refused, one byte less is fine. */
	char id[PROVIDER_ID_MAX + 1];
	char json[FLEET_RECORD_JSON_MAX];
	memset(id, 'x', sizeof(id) - 1);
	id[PROVIDER_ID_MAX] = '\0';
	snprintf(json, sizeof(json), "{\"v\":1,\"task_id\":\"%s\",\"state\":\"applied\"," OK_TAIL,
		 id);
	assert_int_equal(parse(json, &r), -1);
	id[PROVIDER_ID_MAX - 1] = '\0';
	snprintf(json, sizeof(json), "{\"v\":1,\"task_id\":\"%s\",\"state\":\"applied\"," OK_TAIL,
		 id);
	assert_int_equal(parse(json, &r), 0);
}

static void test_names(void **state)
{
	assert_true(fleet_name_ok("host-a"));
	assert_true(fleet_name_ok("a.b_c-9"));
	assert_false(fleet_name_ok(""));
	assert_false(fleet_name_ok(".hidden"));
	assert_false(fleet_name_ok("a/b"));
	assert_false(fleet_name_ok("a b"));
	char longname[FLEET_HOST_MAX + 1];
	memset(longname, 'h', FLEET_HOST_MAX);
	longname[FLEET_HOST_MAX] = '\0';
	assert_false(fleet_name_ok(longname));
	longname[FLEET_HOST_MAX - 1] = '\0';
	assert_true(fleet_name_ok(longname));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_unknowns_round_trip),
		cmocka_unit_test(test_newer_fields_ignored),
		cmocka_unit_test(test_written_round_trip),
		cmocka_unit_test(test_every_state_named),
		cmocka_unit_test(test_invalid_record_not_serialized),
		cmocka_unit_test(test_strict_parse_refuses_bad_records),
		cmocka_unit_test(test_oversized_refused),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
