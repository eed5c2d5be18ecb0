/* fs/bsearch.c: the shared binary search finds each key, and the insertion point of others. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../fs/base/bsearch.h"

struct key {
	const int *items;
	int want;
};

static int cmp_int(const void *ctx, size_t i)
{
	const struct key *k = ctx;
	return (k->items[i] > k->want) - (k->items[i] < k->want);
}

static size_t find(const int *items, size_t n, int want, int *found)
{
	struct key k = {items, want};
	return bsearch_index(n, cmp_int, &k, found);
}

static void test_empty_array_inserts_at_zero(void **state)
{
	int found = -1;
	assert_int_equal(find(NULL, 0, 5, &found), 0);
	assert_int_equal(found, 0);
}

static void test_finds_every_item(void **state)
{
	static const int items[] = {1, 3, 5, 7, 9, 11, 13};
	for (size_t i = 0; i < 7; i++) {
		int found = 0;
		assert_int_equal(find(items, 7, items[i], &found), i);
		assert_int_equal(found, 1);
	}
}

static void test_absent_keys_give_insertion_point(void **state)
{
	static const int items[] = {1, 3, 5, 7};
	int found = 1;
	assert_int_equal(find(items, 4, 0, &found), 0);
	assert_int_equal(found, 0);
	assert_int_equal(find(items, 4, 4, &found), 2);
	assert_int_equal(found, 0);
	assert_int_equal(find(items, 4, 8, &found), 4);
	assert_int_equal(found, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_array_inserts_at_zero),
		cmocka_unit_test(test_finds_every_item),
		cmocka_unit_test(test_absent_keys_give_insertion_point),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
