/* fs/path.c: what each path names, chunking of long ranges, and every malformed name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "../../fs/path.h"

static const struct path_layout layout = {7, "orders", "xlsx"};

static void resolves(const char *path, enum path_kind kind)
{
	struct path_node n;
	const char *why = NULL;
	assert_int_equal(path_resolve(path, &layout, &n, &why), 0);
	assert_int_equal(n.kind, kind);
}

static void refuses(const char *path)
{
	struct path_node n;
	const char *why = NULL;
	assert_int_equal(path_resolve(path, &layout, &n, &why), -1);
	assert_non_null(why);
}

static void test_fixed_nodes(void **state)
{
	resolves("/", PATH_ROOT);
	resolves("/exports", PATH_EXPORTS);
}

static void test_range_dir_and_file(void **state)
{
	struct path_node n;
	resolves("/exports/2026-05-18..2026-05-19", PATH_RANGE_DIR);
	resolves("/exports/2026-05-18..2026-05-19/.status", PATH_STATUS);
	assert_int_equal(path_resolve("/exports/2026-05-18..2026-05-19/orders.xlsx", &layout, &n,
				      NULL),
			 0);
	assert_int_equal(n.kind, PATH_EXPORT_FILE);
	assert_int_equal(n.chunk.start.day, 18);
	assert_int_equal(n.chunk.end.day, 19);
}

static void test_seven_days_is_one_file(void **state)
{
	resolves("/exports/2026-05-18..2026-05-24/orders.xlsx", PATH_EXPORT_FILE);
	refuses("/exports/2026-05-18..2026-05-25/orders.xlsx");
}

static void test_long_range_chunks(void **state)
{
	struct date_range r = {{2026, 5, 1}, {2026, 5, 20}};
	char name[PATH_NAME_MAX];
	struct date_range c;
	struct path_node n;

	assert_int_equal(path_file_count(&r, &layout), 3);
	assert_int_equal(path_file_name(&r, &layout, 0, name, &c), 0);
	assert_string_equal(name, "orders-2026-05-01..2026-05-07.xlsx");
	assert_int_equal(path_file_name(&r, &layout, 2, name, &c), 0);
	assert_string_equal(name, "orders-2026-05-15..2026-05-20.xlsx");
	assert_int_equal(c.end.day, 20);
	assert_int_equal(path_file_name(&r, &layout, 3, name, &c), -1);

	assert_int_equal(path_resolve("/exports/2026-05-01..2026-05-20/orders-2026-05-08..2026-05-14.xlsx",
				      &layout, &n, NULL),
			 0);
	assert_int_equal(n.chunk.start.day, 8);
	assert_int_equal(n.chunk.end.day, 14);
}

static void test_chunk_must_be_aligned(void **state)
{
	refuses("/exports/2026-05-01..2026-05-20/orders-2026-05-02..2026-05-08.xlsx");
	refuses("/exports/2026-05-01..2026-05-20/orders-2026-05-15..2026-05-21.xlsx");
	refuses("/exports/2026-05-01..2026-05-20/orders.xlsx");
}

static void test_bad_names(void **state)
{
	refuses("/exports/2026-05-19..2026-05-18");     /* start after end */
	refuses("/exports/2026-02-30..2026-03-01");     /* impossible date */
	refuses("/exports/2026-13-01..2026-13-02");
	refuses("/exports/2026-5-18..2026-05-19");      /* malformed */
	refuses("/exports/2026-05-18...2026-05-19");
	refuses("/exports/2026-05-18..2026-05-19x");
	refuses("/exports/2026-05-18");
	refuses("/exports/..");
	refuses("/exports/2026-05-18..2026-05-19/../x");
	refuses("/exports/2026-05-18..2026-05-19/orders.csv");
	refuses("/exports/2026-05-18..2026-05-19/sub/orders.xlsx");
	refuses("/exportsx");
	refuses("/other");
	refuses("/exports/２０２６-05-18..2026-05-19");	/* fullwidth digits */
}

static void test_huge_name(void **state)
{
	char p[5000];
	memset(p, 'a', sizeof(p) - 1);
	p[sizeof(p) - 1] = '\0';
	memcpy(p, "/exports/", 9);
	refuses(p);
	memcpy(p, "/exports/2026-05-18..2026-05-19/", 32);
	refuses(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixed_nodes),
		cmocka_unit_test(test_range_dir_and_file),
		cmocka_unit_test(test_seven_days_is_one_file),
		cmocka_unit_test(test_long_range_chunks),
		cmocka_unit_test(test_chunk_must_be_aligned),
		cmocka_unit_test(test_bad_names),
		cmocka_unit_test(test_huge_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
