/* fs/name_list.c: a listing is whole or fails with -ENOMEM, never shorter. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../fs/name_list.h"

static struct date_range day(int d)
{
	struct date_range r;
	char s[16];
	snprintf(s, sizeof(s), "2026-05-%02d", d);
	assert_int_equal(date_parse(s, strlen(s), &r.start), 0);
	r.end = r.start;
	return r;
}

static void test_sorted_and_unique(void **state)
{
	struct name_list l = {0};
	int days[] = {3, 1, 2, 3, 1};

	for (size_t i = 0; i < sizeof(days) / sizeof(days[0]); i++) {
		struct date_range r = day(days[i]);
		name_list_add_range(&l, &r);
	}
	assert_int_equal(l.err, 0);
	name_list_finish(&l);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.names[0], "2026-05-01..2026-05-01");
	assert_string_equal(l.names[2], "2026-05-03..2026-05-03");
	name_list_free(&l);
}

/* Growing past what it may hold (here a cap of 300, as a failed realloc would) sets the error
 * and keeps it: the caller answers -ENOMEM instead of listing the first 300 names. */
static void test_growth_failure_is_sticky(void **state)
{
	struct name_list l = {.max = 300};

	for (int i = 0; i < 400; i++) {
		struct date_range r = day(1 + i % 28);
		r.end = date_add_days(&r.end, i);
		name_list_add_range(&l, &r);
	}
	assert_int_equal(l.err, -ENOMEM);
	assert_int_equal(l.n, 300);
	name_list_free(&l);
	assert_int_equal(l.err, 0);
	assert_int_equal(l.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sorted_and_unique),
		cmocka_unit_test(test_growth_failure_is_sticky),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
