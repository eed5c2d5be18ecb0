/* fs/range_map.c: sorted insert, replace, delete and the mkdir listing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "../../fs/base/range_map.h"

static struct date_range day(int d)
{
	struct date_range r = {{2026, 5, d}, {2026, 5, d}};
	return r;
}

static void count_mkdir(void *arg, const struct date_range *r)
{
	(*(int *)arg)++;
}

static void test_put_get_del(void **state)
{
	struct range_map *m = range_map_new();
	struct range_note n, got;
	memset(&n, 0, sizeof(n));
	for (int d = 28; d >= 1; d--) {
		struct date_range r = day(d);
		n.made_by_mkdir = d % 2;
		assert_int_equal(range_map_put(m, &r, &n), 0);
	}
	for (int d = 1; d <= 28; d++) {
		struct date_range r = day(d);
		assert_int_equal(range_map_get(m, &r, &got), 0);
		assert_int_equal(got.made_by_mkdir, d % 2);
	}
	int count = 0;
	range_map_foreach_mkdir(m, count_mkdir, &count);
	assert_int_equal(count, 14);
	struct date_range r5 = day(5);
	assert_int_equal(range_map_del(m, &r5), 0);
	assert_int_equal(range_map_del(m, &r5), -1);
	assert_int_equal(range_map_get(m, &r5, &got), -1);
	assert_int_equal(got.made_by_mkdir, 0);
	range_map_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_get_del),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
