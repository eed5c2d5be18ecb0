/* fs/node.c: what every kind of path names (and every bad one), the window, where a bundle
 * member lies, what a range lists, and what `orderfs get` fetches. No mount, no cache. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../../fs/node.h"

static const struct provider_type vexora_types[] = {{"order", "orders", "xlsx", NULL, NULL}};
static const struct path_layout vexora = {7, vexora_types, 1};

static const char *const bundle_suffixes[] = {".jsonl", ".csv", NULL};
static const struct provider_type clover_types[] = {
	{"ORDERS", "orders", NULL, bundle_suffixes, "json"},
	{"PAYMENTS", "payments", NULL, bundle_suffixes, "json"}};
static const struct path_layout clover = {30, clover_types, 2};

static struct node resolved(const char *path, const struct path_layout *l, enum node_kind kind)
{
	struct node n;
	const char *why = "untouched";
	assert_int_equal(node_resolve(path, l, &n, &why), 0);
	assert_int_equal(n.kind, kind);
	return n;
}

static void refused(const char *path, const struct path_layout *l)
{
	struct node n;
	const char *why = NULL;
	assert_int_equal(node_resolve(path, l, &n, &why), -ENOENT);
	assert_non_null(why);
}

static void test_directories_and_text_files(void **state)
{
	struct node n;
	resolved("/", &vexora, NODE_ROOT);
	resolved("/.stats", &vexora, NODE_STATS);
	resolved("/exports", &vexora, NODE_EXPORTS);
	n = resolved("/exports/2026-05-18..2026-05-19", &vexora, NODE_RANGE_DIR);
	assert_int_equal(n.range.start.day, 18);
	assert_int_equal(n.range.end.day, 19);
	n = resolved("/exports/2026-05-18..2026-05-19/.status", &clover, NODE_STATUS);
	assert_int_equal(n.range.end.day, 19);
	assert_true(node_is_file(&n));
	assert_false(node_is_export(&n));
	n = resolved("/", &vexora, NODE_ROOT);
	assert_false(node_is_file(&n));
	n = resolved("/exports", &vexora, NODE_EXPORTS);
	assert_false(node_is_file(&n));
	n = resolved("/.stats", &vexora, NODE_STATS);
	assert_true(node_is_file(&n));
	assert_false(node_is_export(&n));
}

static void test_whole_file_names_its_type(void **state)
{
	struct node n = resolved("/exports/2026-05-18..2026-05-19/orders.xlsx", &vexora,
				 NODE_WHOLE_FILE);
	assert_int_equal(n.type, 0);
	assert_string_equal(n.member, "");
	assert_int_equal(n.chunk.start.day, 18);
	assert_int_equal(n.chunk.end.day, 19);
	assert_true(node_is_export(&n));
	assert_true(node_is_file(&n));
}

static void test_member_names_type_and_member(void **state)
{
	struct node n = resolved("/exports/2026-05-01..2026-05-02/payments.csv", &clover,
				 NODE_MEMBER);
	assert_int_equal(n.type, 1);
	assert_string_equal(n.member, "payments.csv");
	n = resolved("/exports/2026-05-01..2026-05-02/orders-0002.json", &clover, NODE_MEMBER);
	assert_int_equal(n.type, 0);
	assert_string_equal(n.member, "orders-0002.json");
	assert_true(node_is_export(&n));
}

static void test_chunk_member_of_long_range(void **state)
{
	/* 40 days in 30-day exports: the second chunk is 05-31..06-09. */
	struct node n = resolved("/exports/2026-05-01..2026-06-09/"
				 "orders-2026-05-31..2026-06-09-0003.json",
				 &clover, NODE_MEMBER);
	assert_string_equal(n.member, "orders-0003.json");
	assert_int_equal(n.chunk.start.month, 5);
	assert_int_equal(n.chunk.start.day, 31);
	assert_int_equal(n.chunk.end.day, 9);
	assert_int_equal(n.range.start.day, 1);
	refused("/exports/2026-05-01..2026-06-09/orders.csv", &clover); /* needs its chunk */
	refused("/exports/2026-05-01..2026-06-09/orders-2026-05-02..2026-05-31.csv", &clover);
}

static void test_bad_dates(void **state)
{
	refused("/exports/2026-02-30..2026-03-01", &vexora);
	refused("/exports/2026-13-01..2026-13-02", &vexora);
	refused("/exports/2026-05-19..2026-05-18", &vexora); /* start after end */
	refused("/exports/2026-5-18..2026-05-19", &vexora);
	refused("/exports/2026-05-18", &vexora);
	refused("/exports/2026-02-30..2026-03-01/orders.xlsx", &vexora);
}

static void test_unknown_names(void **state)
{
	refused("/stats", &vexora);
	refused("/exportsx", &vexora);
	refused("/other", &vexora);
	refused("/exports/2026-05-18..2026-05-19/orders.csv", &vexora);  /* not Vexora's */
	refused("/exports/2026-05-18..2026-05-19/orders.xlsx", &clover); /* not Clover's */
	refused("/exports/2026-05-18..2026-05-19/refunds.csv", &clover);
	refused("/exports/2026-05-18..2026-05-19/orders-0000.json", &clover);
	refused("/exports/2026-05-18..2026-05-19/orders-12.json", &clover);
	refused("/exports/2026-05-18..2026-05-19/orders.xlsx/x", &vexora); /* subdirectory */
	refused("/exports/2026-05-18..2026-05-19/sub/orders.xlsx", &vexora);
}

static void test_dot_files(void **state)
{
	refused("/.hidden", &vexora);
	refused("/.stats/x", &vexora);
	refused("/exports/.status", &vexora);
	refused("/exports/2026-05-18..2026-05-19/.hidden", &vexora);
	refused("/exports/2026-05-18..2026-05-19/.orders.xlsx", &vexora);
	refused("/exports/2026-05-18..2026-05-19/.status.swp", &vexora);
	refused("/exports/..", &vexora);
}

static void test_too_long_names(void **state)
{
	char p[PATH_NAME_MAX + 64];
	char name[PATH_NAME_MAX + 8];

	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	memcpy(name, "orders", 6);
	snprintf(p, sizeof(p), "/exports/2026-05-18..2026-05-19/%s", name);
	refused(p, &clover);
	/* A member suffix that would fit the type but makes the name too long. */
	snprintf(p, sizeof(p), "/exports/2026-05-18..2026-05-19/orders-0002.json%s", name);
	refused(p, &clover);
}

static void test_window(void **state)
{
	struct date today = {2026, 5, 20};
	struct node n = resolved("/exports/2026-05-18..2026-05-20", &vexora, NODE_RANGE_DIR);
	const char *why = NULL;

	assert_true(node_reachable(&n, &today, 6, &why));
	n = resolved("/exports/2026-05-18..2026-05-21/orders.xlsx", &vexora, NODE_WHOLE_FILE);
	assert_false(node_reachable(&n, &today, 6, &why));
	assert_string_equal(why, "ends in the future");
	n = resolved("/exports/2025-11-19..2025-11-20/.status", &vexora, NODE_STATUS);
	assert_false(node_reachable(&n, &today, 6, &why));
	assert_string_equal(why, "starts before the exportable window");
	n = resolved("/exports/2025-11-20..2025-11-21", &vexora, NODE_RANGE_DIR);
	assert_true(node_reachable(&n, &today, 6, &why)); /* exactly six months back */
	/* Root, /exports and /.stats are there whatever the date. */
	n = resolved("/", &vexora, NODE_ROOT);
	assert_true(node_reachable(&n, &today, 6, &why));
	n = resolved("/exports", &vexora, NODE_EXPORTS);
	assert_true(node_reachable(&n, &today, 6, &why));
	n = resolved("/.stats", &vexora, NODE_STATS);
	assert_true(node_reachable(&n, &today, 6, &why));
}

static struct bundle_member members[] = {
	{"orders-0001.json", 0, 100},
	{"orders-0002.json", 100, 50},
	{"orders.jsonl", 150, 120},
	{"orders.csv", 270, 80},
	{"summary.txt", 350, 5}, /* a name no type shows */
};
static const struct bundle_index bundle = {members, 5};

static void test_member_extent(void **state)
{
	uint64_t off = 7, size = 7;

	assert_int_equal(node_member_extent(&bundle, "orders-0002.json", &off, &size), 0);
	assert_int_equal(off, 100);
	assert_int_equal(size, 50);
	assert_int_equal(node_member_extent(&bundle, "orders.csv", &off, &size), 0);
	assert_int_equal(off, 270);
	assert_int_equal(size, 80);
	off = size = 7;
	/* Absent from the index: a numbered file past the last one. */
	assert_int_equal(node_member_extent(&bundle, "orders-0003.json", &off, &size), -ENOENT);
	assert_int_equal(node_member_extent(&bundle, "", &off, &size), -ENOENT);
	assert_int_equal(off, 7);
	assert_int_equal(size, 7);
}

struct listing {
	char names[8][PATH_NAME_MAX];
	size_t n, stop_after;
};

static int collect(void *arg, const char *name)
{
	struct listing *l = arg;
	snprintf(l->names[l->n++], PATH_NAME_MAX, "%s", name);
	return l->n == l->stop_after;
}

static struct date_range range_of(const char *s)
{
	struct date_range r;
	assert_int_equal(date_range_parse(s, &r, NULL), 0);
	return r;
}

static void test_list_whole_file(void **state)
{
	struct date_range r = range_of("2026-05-01..2026-05-10"); /* two 7-day exports */
	struct listing l = {.n = 0};

	assert_int_equal(node_list_export(&r, &vexora, 0, 1, NULL, collect, &l), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.names[0], "orders-2026-05-08..2026-05-10.xlsx");
}

static void test_list_bundle_before_and_after_ready(void **state)
{
	struct date_range r = range_of("2026-05-01..2026-05-02");
	struct listing l = {.n = 0};

	/* Not exported yet: the type's fixed members. */
	assert_int_equal(node_list_export(&r, &clover, 0, 0, NULL, collect, &l), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.names[0], "orders.jsonl");
	assert_string_equal(l.names[1], "orders.csv");
	/* READY: exactly what the bundle holds that this type shows. */
	l.n = 0;
	assert_int_equal(node_list_export(&r, &clover, 0, 0, &bundle, collect, &l), 0);
	assert_int_equal(l.n, 4);
	assert_string_equal(l.names[0], "orders-0001.json");
	assert_string_equal(l.names[3], "orders.csv");
	/* The payments type shows none of the orders bundle's members. */
	l.n = 0;
	assert_int_equal(node_list_export(&r, &clover, 1, 0, &bundle, collect, &l), 0);
	assert_int_equal(l.n, 0);
}

static void test_list_stops_when_full(void **state)
{
	struct date_range r = range_of("2026-05-01..2026-05-02");
	struct listing l = {.n = 0, .stop_after = 2};

	assert_int_equal(node_list_export(&r, &clover, 0, 0, &bundle, collect, &l), 1);
	assert_int_equal(l.n, 2);
}

static void test_get_target(void **state)
{
	char range[DATE_RANGE_STR_LEN], member[PATH_NAME_MAX];
	size_t t = 9;

	assert_int_equal(node_get_target("2026-05-01..2026-05-02", &vexora, range, &t, member), 0);
	assert_string_equal(range, "2026-05-01..2026-05-02");
	assert_int_equal(t, 0);
	assert_string_equal(member, "");
	/* A bundle type's default is its first fixed member. */
	assert_int_equal(node_get_target("2026-05-01..2026-05-02", &clover, range, &t, member), 0);
	assert_string_equal(member, "orders.jsonl");
	assert_int_equal(
		node_get_target("2026-05-01..2026-05-02/payments.csv", &clover, range, &t, member),
		0);
	assert_int_equal(t, 1);
	assert_string_equal(member, "payments.csv");
	/* A chunk's file fetches the chunk's export. */
	assert_int_equal(node_get_target("2026-05-01..2026-06-09/orders-2026-05-31..2026-06-09.csv",
					 &clover, range, &t, member),
			 0);
	assert_string_equal(range, "2026-05-31..2026-06-09");
	assert_string_equal(member, "orders.csv");
}

static void test_get_target_refuses(void **state)
{
	char range[DATE_RANGE_STR_LEN], member[PATH_NAME_MAX];
	size_t t;

	assert_int_equal(node_get_target("2026-05", &vexora, range, &t, member), -EINVAL);
	assert_int_equal(node_get_target("2026-05-01..2026-05-0/orders.xlsx", &vexora, range, &t,
					 member),
			 -EINVAL);
	assert_int_equal(node_get_target("2026-05-01..2026-05-02/nope", &vexora, range, &t, member),
			 -ENOENT);
	assert_int_equal(node_get_target("2026-05-01..2026-05-02/.status", &vexora, range, &t,
					 member),
			 -ENOENT);
	assert_int_equal(node_get_target("2026-02-30..2026-03-01/orders.xlsx", &vexora, range, &t,
					 member),
			 -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_directories_and_text_files),
		cmocka_unit_test(test_whole_file_names_its_type),
		cmocka_unit_test(test_member_names_type_and_member),
		cmocka_unit_test(test_chunk_member_of_long_range),
		cmocka_unit_test(test_bad_dates),
		cmocka_unit_test(test_unknown_names),
		cmocka_unit_test(test_dot_files),
		cmocka_unit_test(test_too_long_names),
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_member_extent),
		cmocka_unit_test(test_list_whole_file),
		cmocka_unit_test(test_list_bundle_before_and_after_ready),
		cmocka_unit_test(test_list_stops_when_full),
		cmocka_unit_test(test_get_target),
		cmocka_unit_test(test_get_target_refuses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
