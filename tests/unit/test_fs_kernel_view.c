/* fs/kernel_view.c: per-path view of what the kernel was shown. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "../../fs/kernel_view.h"

static void test_unknown_path_is_zeroed(void **state)
{
	struct kernel_view *v = kernel_view_new(NULL);
	struct kernel_file_view got;
	memset(&got, 0xff, sizeof(got));
	kernel_view_get(v, "/exports/x", &got);
	assert_int_equal(got.size_shown, 0);
	assert_int_equal(got.shown_size, 0);
	assert_string_equal(got.cached_sha, "");
	kernel_view_free(v);
}

static void test_paths_are_independent(void **state)
{
	struct kernel_view *v = kernel_view_new(NULL);
	struct kernel_file_view in, got;
	char path[64];
	memset(&in, 0, sizeof(in));
	for (int i = 99; i >= 0; i--) {
		snprintf(path, sizeof(path), "/exports/r%02d/orders.xlsx", i);
		in.size_shown = 1;
		in.shown_size = (uint64_t)i * 10;
		assert_int_equal(kernel_view_put(v, path, &in), 0);
	}
	for (int i = 0; i < 100; i++) {
		snprintf(path, sizeof(path), "/exports/r%02d/orders.xlsx", i);
		kernel_view_get(v, path, &got);
		assert_int_equal(got.shown_size, (uint64_t)i * 10);
	}
	in.shown_size = 7;
	strcpy(in.cached_sha, "abc");
	assert_int_equal(kernel_view_put(v, "/exports/r05/orders.xlsx", &in), 0);
	kernel_view_get(v, "/exports/r05/orders.xlsx", &got);
	assert_int_equal(got.shown_size, 7);
	assert_string_equal(got.cached_sha, "abc");
	kernel_view_get(v, "/exports/r06/orders.xlsx", &got);
	assert_int_equal(got.shown_size, 60);
	kernel_view_free(v);
}

static int64_t fake_now;

static int64_t fake_clock(void)
{
	return fake_now;
}

/* However many paths are stat'ed, the view stays within its cap; views the kernel has
 * already dropped go first, and a recent one survives. */
static void test_bounded_and_recent_views_kept(void **state)
{
	struct kernel_view_limits lim = {100, 1000, fake_clock};
	struct kernel_view *v = kernel_view_new(&lim);
	struct kernel_file_view got;
	char path[64];

	fake_now = 5000;
	kernel_view_note_size(v, "/exports/old", 1);
	fake_now = 10000;
	for (int i = 0; i < 100000; i++) {
		snprintf(path, sizeof(path), "/exports/r%06d/orders.csv", i);
		kernel_view_note_size(v, path, (uint64_t)i);
		if (i % 1000 == 0)
			fake_now += 10; /* 100000 stats in one second */
		assert_true(kernel_view_count(v) <= 100);
	}
	kernel_view_get(v, "/exports/old", &got);
	assert_int_equal(got.size_shown, 0); /* expired long ago: forgotten first */
	kernel_view_get(v, "/exports/r099999/orders.csv", &got);
	assert_int_equal(got.size_shown, 1);
	assert_int_equal(got.shown_size, 99999);
	kernel_view_free(v);
}

/* The open decision: an unknown or differently sized path reads with direct I/O; the page
 * cache is kept only for the very content it was filled with. */
static void test_open_decisions(void **state)
{
	struct kernel_view *v = kernel_view_new(NULL);
	const char *a = "aaaa", *b = "bbbb";
	int keep = -1;

	assert_int_equal(kernel_view_open(v, "/p", 10, a, &keep), 1);
	assert_int_equal(keep, 0);
	kernel_view_note_size(v, "/p", 10);
	assert_int_equal(kernel_view_open(v, "/p", 11, a, &keep), 1);
	assert_int_equal(kernel_view_open(v, "/p", 10, a, &keep), 0);
	assert_int_equal(keep, 0); /* first page-cache open of a: pages are not a's yet */
	assert_int_equal(kernel_view_open(v, "/p", 10, a, &keep), 0);
	assert_int_equal(keep, 1);
	assert_int_equal(kernel_view_open(v, "/p", 10, b, &keep), 0);
	assert_int_equal(keep, 0); /* same size, new content: the old pages must go */
	assert_int_equal(kernel_view_open(v, "/p", 10, "", &keep), 0);
	assert_int_equal(keep, 0); /* content unknown: never keep */
	assert_int_equal(kernel_view_open(v, "/p", 10, "", &keep), 0);
	assert_int_equal(keep, 0);
	kernel_view_free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unknown_path_is_zeroed),
		cmocka_unit_test(test_paths_are_independent),
		cmocka_unit_test(test_bounded_and_recent_views_kept),
		cmocka_unit_test(test_open_decisions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
