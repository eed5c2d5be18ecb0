/* common/buf.c: appends, the hard cap, printf, reset, take and free. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/buf.h"

static void test_empty_until_first_append(void **state)
{
	struct buf b;
	buf_init(&b, 100);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.max, 100);
	buf_free(&b); /* freeing an untouched buffer is fine */
	assert_null(b.data);
}

static void test_append_keeps_a_nul_after_the_bytes(void **state)
{
	struct buf b = BUF_INIT(SIZE_MAX);
	assert_int_equal(buf_add(&b, "ab", 2), 0);
	assert_int_equal(buf_add_str(&b, "cd"), 0);
	assert_int_equal(buf_add(&b, "", 0), 0);
	assert_int_equal(b.len, 4);
	assert_string_equal(b.data, "abcd");
	/* bytes, not strings: a NUL inside is kept and counted */
	assert_int_equal(buf_add(&b, "x\0y", 3), 0);
	assert_int_equal(b.len, 7);
	assert_memory_equal(b.data, "abcdx\0y", 8);
	buf_free(&b);
}

static void test_growth_past_many_doublings(void **state)
{
	struct buf b = BUF_INIT(SIZE_MAX);
	char chunk[1000];
	memset(chunk, 'x', sizeof(chunk));
	for (int i = 0; i < 300; i++)
		assert_int_equal(buf_add(&b, chunk, sizeof(chunk)), 0);
	assert_int_equal(b.len, 300000);
	assert_true(b.alloc >= b.len);
	assert_int_equal(b.data[b.len], '\0');
	buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
}

static void test_cap_refuses_and_leaves_the_buffer_alone(void **state)
{
	struct buf b = BUF_INIT(5);
	assert_int_equal(buf_add(&b, "abc", 3), 0);
	assert_int_equal(buf_add(&b, "def", 3), -E2BIG);
	assert_int_equal(b.len, 3);
	assert_string_equal(b.data, "abc");
	assert_int_equal(buf_add(&b, "de", 2), 0); /* exactly the cap is fine */
	assert_string_equal(b.data, "abcde");
	assert_int_equal(buf_add(&b, "f", 1), -E2BIG);
	assert_int_equal(buf_add(&b, "", 0), 0);
	assert_true(b.alloc <= 6); /* never allocates past what the cap can use */
	buf_free(&b);
}

static void test_cap_zero_takes_nothing(void **state)
{
	struct buf b = BUF_INIT(0);
	assert_int_equal(buf_add(&b, "a", 1), -E2BIG);
	assert_int_equal(buf_printf(&b, "%d", 1), -E2BIG);
	assert_null(b.data);
	buf_free(&b);
}

static void test_printf_short_and_long(void **state)
{
	struct buf b = BUF_INIT(SIZE_MAX);
	char big[1000];
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(buf_printf(&b, "%s=%d;", "n", 42), 0);
	assert_int_equal(buf_printf(&b, "[%s]", big), 0); /* longer than the stack copy */
	assert_int_equal(b.len, 5 + 1001);
	assert_int_equal(memcmp(b.data, "n=42;[zzz", 9), 0);
	assert_string_equal(b.data + b.len - 2, "z]");
	buf_free(&b);
}

static void test_printf_over_the_cap(void **state)
{
	struct buf b = BUF_INIT(8);
	char big[600];
	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(buf_printf(&b, "%s", "1234"), 0);
	assert_int_equal(buf_printf(&b, "%s", "56789"), -E2BIG);
	assert_int_equal(buf_printf(&b, "%s", big), -E2BIG);
	assert_string_equal(b.data, "1234");
	buf_free(&b);
}

static void test_reset_and_truncate(void **state)
{
	struct buf b = BUF_INIT(SIZE_MAX);
	assert_int_equal(buf_add_str(&b, "hello"), 0);
	buf_truncate(&b, 10); /* longer than held: no-op */
	assert_string_equal(b.data, "hello");
	buf_truncate(&b, 2);
	assert_int_equal(b.len, 2);
	assert_string_equal(b.data, "he");
	char *mem = b.data;
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	assert_ptr_equal(b.data, mem); /* the memory is kept for reuse */
	assert_int_equal(buf_add_str(&b, "x"), 0);
	assert_string_equal(b.data, "x");
	buf_free(&b);
}

static void test_take(void **state)
{
	struct buf b = BUF_INIT(64);
	char *s = buf_take(&b); /* nothing appended: an empty string, not NULL */
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);
	assert_int_equal(buf_add_str(&b, "body"), 0);
	s = buf_take(&b);
	assert_string_equal(s, "body");
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.max, 64); /* the cap stays */
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_until_first_append),
		cmocka_unit_test(test_append_keeps_a_nul_after_the_bytes),
		cmocka_unit_test(test_growth_past_many_doublings),
		cmocka_unit_test(test_cap_refuses_and_leaves_the_buffer_alone),
		cmocka_unit_test(test_cap_zero_takes_nothing),
		cmocka_unit_test(test_printf_short_and_long),
		cmocka_unit_test(test_printf_over_the_cap),
		cmocka_unit_test(test_reset_and_truncate),
		cmocka_unit_test(test_take),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
