/* client/clover/clover_stream.c: an export file element by element, read in small pieces. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../client/clover/clover_stream.h"
#include "../../common/buf.h"

struct mem {
	const char *data;
	size_t len;
};

static int mem_read(void *ctx, void *buf, size_t len, uint64_t off)
{
	const struct mem *m = ctx;

	if (off > m->len || len > m->len - off)
		return -EIO;
	memcpy(buf, m->data + off, len);
	return 0;
}

/* Collects each element's "id" (a number) into ids. */
struct seen {
	int ids[16];
	int n;
};

static int collect(void *arg, const cJSON *el, struct client_error *err)
{
	struct seen *s = arg;
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(el, "id");

	assert_true(cJSON_IsObject(el));
	if (s->n < 16)
		s->ids[s->n] = cJSON_IsNumber(id) ? id->valueint : -1;
	s->n++;
	return 0;
}

static int run(const char *json, struct seen *s, struct client_error *e)
{
	struct mem m = {json, strlen(json)};

	memset(s, 0, sizeof(*s));
	client_error_clear(e);
	return clover_stream_file(mem_read, &m, m.len, "orders-0001.json", 1000, collect, s, e);
}

static void test_elements_in_order(void **state)
{
	struct seen s;
	struct client_error e;

	assert_int_equal(run(" {\"href\":\"x\\\"elements\\\":[1]\",\"nested\":{\"elements\":[5,[]]},"
			     "\"elements\":[{\"id\":1,\"s\":\"}]\\\\\"},{\"id\":2,\"a\":[{},{\"b\":"
			     "\"{\"}]} , {\"id\":3}],\"tail\":[1,2]}\n",
			     &s, &e),
			 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.ids[0], 1);
	assert_int_equal(s.ids[1], 2);
	assert_int_equal(s.ids[2], 3);
	assert_int_equal(run("{\"elements\":[]}", &s, &e), 0);
	assert_int_equal(s.n, 0);
}

static void assert_refused(const char *json, const char *needle)
{
	struct seen s;
	struct client_error e;

	assert_int_equal(run(json, &s, &e), -1);
	assert_int_equal(e.kind, CLIENT_E_PROTOCOL);
	assert_non_null(strstr(e.msg, "orders-0001.json"));
	if (!strstr(e.msg, needle))
		fail_msg("\"%s\" does not say \"%s\"", e.msg, needle);
}

static void test_bad_shapes(void **state)
{
	assert_refused("[{\"elements\":[]}]", "not a JSON object");
	assert_refused("", "not a JSON object");
	assert_refused("{\"other\":1}", "missing field elements");
	assert_refused("{\"elements\":{}}", "not an array");
	assert_refused("{\"elements\":[{\"id\":1},2]}", "elements[1] is not an object");
	assert_refused("{\"elements\":[{\"id\":1}", "cut short");
	assert_refused("{\"elements\":[{\"id\":1,}]}", "malformed");
	assert_refused("{\"elements\":[]} x", "after the object");
	assert_refused("{\"elements\":[],\"elements\":[]}", "twice");
}

/* One element over CLOVER_ELEMENT_MAX: EPROTO, before it is ever parsed whole. */
static void test_element_cap(void **state)
{
	struct buf b = BUF_INIT(4u * CLOVER_ELEMENT_MAX);
	struct seen s;
	struct client_error e;

	assert_int_equal(buf_add_str(&b, "{\"elements\":[{\"id\":1},{\"a\":["), 0);
	while (b.len < CLOVER_ELEMENT_MAX + 100)
		assert_int_equal(buf_add_str(&b, "1234567,"), 0);
	assert_int_equal(buf_add_str(&b, "1]}]}"), 0);
	assert_int_equal(run(b.data, &s, &e), -1);
	assert_int_equal(s.n, 1);
	assert_int_equal(e.kind, CLIENT_E_PROTOCOL);
	assert_int_equal(client_error_to_errno(&e), EPROTO);
	assert_non_null(strstr(e.msg, "larger than"));
	buf_free(&b);
}

static void test_element_count_cap(void **state)
{
	struct mem m = {"{\"elements\":[{},{},{}]}", 0};
	struct seen s = {0};
	struct client_error e;

	m.len = strlen(m.data);
	client_error_clear(&e);
	assert_int_equal(clover_stream_file(mem_read, &m, m.len, "f", 2, collect, &s, &e), -1);
	assert_int_equal(client_error_to_errno(&e), EPROTO);
	assert_non_null(strstr(e.msg, "more than 2 elements"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_elements_in_order),
		cmocka_unit_test(test_bad_shapes),
		cmocka_unit_test(test_element_cap),
		cmocka_unit_test(test_element_count_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
