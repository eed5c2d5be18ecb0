/* common/csv.c: RFC 4180 quoting, separators, line ends and the buffer's cap. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/csv.h"

/* One field written alone into a fresh buffer must read back as want. */
static void assert_field(const char *in, size_t len, const char *want)
{
	struct buf b = BUF_INIT(SIZE_MAX);
	assert_int_equal(csv_field(&b, in, len), 0);
	assert_int_equal(b.len, strlen(want));
	assert_string_equal(b.data, want);
	buf_free(&b);
}

static void test_plain_fields_are_not_quoted(void **state)
{
	assert_field("abc", 3, "abc");
	assert_field("12.50", 5, "12.50");
	const char *utf8 = "颜色:金色; 尺码:均码"; /* UTF-8 and ';' need no quotes */
	assert_field(utf8, strlen(utf8), utf8);
	assert_field("a b\tc", 5, "a b\tc"); /* spaces and tabs need no quotes */
	assert_field("", 0, "");	     /* an empty field is nothing at all */
}

static void test_quotes_are_doubled(void **state)
{
	assert_field("say \"hi\"", 8, "\"say \"\"hi\"\"\"");
	assert_field("\"", 1, "\"\"\"\"");
	assert_field("\"\"", 2, "\"\"\"\"\"\"");
	assert_field("a\"", 2, "\"a\"\"\"");
}

static void test_comma_cr_lf_are_quoted(void **state)
{
	assert_field("a,b", 3, "\"a,b\"");
	assert_field("line\r\nnext", 10, "\"line\r\nnext\"");
	assert_field("cr\ronly", 7, "\"cr\ronly\"");
	assert_field("lf\n", 3, "\"lf\n\"");
	assert_field("测试商家审单, \"新\"", strlen("测试商家审单, \"新\""),
		     "\"测试商家审单, \"\"新\"\"\"");
}

static void test_len_bounds_the_field(void **state)
{
	/* Only len bytes are looked at: the comma after them does not count. */
	assert_field("ab,cd", 2, "ab");
	assert_int_equal(csv_needs_quotes("ab,cd", 2), 0);
	assert_int_equal(csv_needs_quotes("ab,cd", 3), 1);
}

static void test_rows_with_empty_fields(void **state)
{
	struct buf b = BUF_INIT(SIZE_MAX);
	const char *h[] = {"a", "b,c", "", "d\"e"};
	assert_int_equal(csv_row(&b, h, 4), 0);
	assert_int_equal(csv_row(&b, h, 1), 0);
	assert_string_equal(b.data, "a,\"b,c\",,\"d\"\"e\"\r\na\r\n");
	buf_reset(&b);
	assert_int_equal(csv_row(&b, h, 0), 0); /* no field: an empty line */
	assert_string_equal(b.data, "\r\n");
	buf_free(&b);
}

static void test_sep_and_end_row(void **state)
{
	struct buf b = BUF_INIT(SIZE_MAX);
	assert_int_equal(csv_field(&b, "x", 1), 0);
	assert_int_equal(csv_sep(&b), 0);
	assert_int_equal(csv_sep(&b), 0);
	assert_int_equal(csv_field(&b, "y", 1), 0);
	assert_int_equal(csv_end_row(&b), 0);
	assert_string_equal(b.data, "x,,y" CSV_EOL);
	assert_string_equal(CSV_EOL, "\r\n");
	buf_free(&b);
}

static void test_cap_reached_leaves_the_buffer_as_it_was(void **state)
{
	struct buf b = BUF_INIT(10);
	assert_int_equal(csv_field(&b, "abc", 3), 0);
	/* "abc" then "a,b" quoted: 8 of the 10 bytes */
	assert_int_equal(csv_field(&b, "a,b", 3), 0);
	assert_string_equal(b.data, "abc\"a,b\"");
	/* Quoting fails part way: nothing of the field stays. */
	assert_int_equal(csv_field(&b, "\"q\"", 3), -E2BIG);
	assert_string_equal(b.data, "abc\"a,b\"");
	assert_int_equal(csv_field(&b, "xyz", 3), -E2BIG);
	assert_int_equal(b.len, 8);
	const char *row[] = {"1", "2"};
	assert_int_equal(csv_row(&b, row, 2), -E2BIG); /* "1,2\r\n" is 5 of 2 left */
	assert_string_equal(b.data, "abc\"a,b\"");
	assert_int_equal(csv_end_row(&b), 0); /* exactly the cap */
	assert_int_equal(csv_sep(&b), -E2BIG);
	assert_int_equal(b.len, 10);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_fields_are_not_quoted),
		cmocka_unit_test(test_quotes_are_doubled),
		cmocka_unit_test(test_comma_cr_lf_are_quoted),
		cmocka_unit_test(test_len_bounds_the_field),
		cmocka_unit_test(test_rows_with_empty_fields),
		cmocka_unit_test(test_sep_and_end_row),
		cmocka_unit_test(test_cap_reached_leaves_the_buffer_as_it_was),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
