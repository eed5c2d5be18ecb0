/* fs/path.c: what each path names, chunking of long ranges, and every malformed name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "../../fs/path.h"

static const struct provider_type vexora_types[] = {{"order", "orders", "xlsx", NULL, NULL}};
static const struct path_layout layout = {7, vexora_types, 1};

static const char *const bundle_suffixes[] = {".jsonl", ".csv", NULL};
static const struct provider_type clover_types[] = {
	{"ORDERS", "orders", NULL, bundle_suffixes, "json"},
	{"PAYMENTS", "payments", NULL, bundle_suffixes, "json"}};
static const struct path_layout clover = {30, clover_types, 2};

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
	assert_int_equal(path_file_name(&r, &layout, 0, 0, ".xlsx", name), 0);
	assert_string_equal(name, "orders-2026-05-01..2026-05-07.xlsx");
	assert_int_equal(path_file_name(&r, &layout, 0, 2, ".xlsx", name), 0);
	assert_string_equal(name, "orders-2026-05-15..2026-05-20.xlsx");
	assert_int_equal(path_chunk(&r, &layout, 2, &c), 0);
	assert_int_equal(c.end.day, 20);
	assert_int_equal(path_file_name(&r, &layout, 0, 3, ".xlsx", name), -1);
	assert_int_equal(path_chunk(&r, &layout, 3, &c), -1);

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

/* A bundle type: fixed members, numbered members, and the type picked by the name. */
static void test_bundle_members(void **state)
{
	struct path_node n;
	const char *dir = "/exports/2026-05-18..2026-05-19/";
	char path[200];
	static const char *const ok[] = {"orders.jsonl", "orders.csv", "orders-0001.json",
					 "orders-9999.json", "payments.csv", "payments-0003.json"};
	static const char *const bad[] = {"orders.xlsx", "orders-0000.json", "orders-001.json",
					  "orders-00001.json", "orders-0001.csv", "orders.json",
					  "refunds.csv", "orders-abcd.json", "payments.jsonl.x"};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", dir, ok[i]);
		assert_int_equal(path_resolve(path, &clover, &n, NULL), 0);
		assert_int_equal(n.kind, PATH_EXPORT_FILE);
		assert_string_equal(n.member, ok[i]);
		assert_int_equal(n.type, ok[i][0] == 'p' ? 1 : 0);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", dir, bad[i]);
		assert_int_equal(path_resolve(path, &clover, &n, NULL), -1);
	}
}

/* A long range of a bundle type: the chunk sits between the base and the member suffix. */
static void test_bundle_chunks(void **state)
{
	struct date_range r = {{2026, 3, 1}, {2026, 4, 15}};
	char name[PATH_NAME_MAX];
	struct path_node n;

	assert_int_equal(path_file_count(&r, &clover), 2);
	assert_int_equal(path_file_name(&r, &clover, 1, 1, "-0002.json", name), 0);
	assert_string_equal(name, "payments-2026-03-31..2026-04-15-0002.json");
	path_export_label(&r, &clover, 0, 0, name);
	assert_string_equal(name, "orders-2026-03-01..2026-03-30");
	assert_int_equal(path_resolve("/exports/2026-03-01..2026-04-15/"
				      "payments-2026-03-31..2026-04-15-0002.json",
				      &clover, &n, NULL),
			 0);
	assert_int_equal(n.type, 1);
	assert_string_equal(n.member, "payments-0002.json");
	assert_int_equal(n.chunk.start.month, 3);
	assert_int_equal(n.chunk.start.day, 31);
	assert_int_equal(path_resolve("/exports/2026-03-01..2026-04-15/"
				      "orders-2026-03-01..2026-03-30.csv",
				      &clover, &n, NULL),
			 0);
	assert_string_equal(n.member, "orders.csv");
	assert_int_equal(path_resolve("/exports/2026-03-01..2026-04-15/orders.csv", &clover, &n,
				      NULL),
			 -1);
	assert_int_equal(path_resolve("/exports/2026-03-01..2026-04-15/"
				      "orders-2026-03-02..2026-03-31.csv",
				      &clover, &n, NULL),
			 -1);
	path_export_label(&r, &layout, 0, 0, name); /* whole-file label is the file name */
	assert_string_equal(name, "orders-2026-03-01..2026-03-07.xlsx");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixed_nodes),
		cmocka_unit_test(test_range_dir_and_file),
		cmocka_unit_test(test_seven_days_is_one_file),
		cmocka_unit_test(test_long_range_chunks),
		cmocka_unit_test(test_bundle_members),
		cmocka_unit_test(test_bundle_chunks),
		cmocka_unit_test(test_chunk_must_be_aligned),
		cmocka_unit_test(test_bad_names),
		cmocka_unit_test(test_huge_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
