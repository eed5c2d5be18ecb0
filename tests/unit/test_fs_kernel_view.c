/* fs/kernel_view.c: per-path view of what the kernel was shown. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "../../fs/base/kernel_view.h"

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
 * cache is kept only for the very content it was filled with. Each open here is released
 * before the next. */
static void test_open_decisions(void **state)
{
	struct kernel_view *v = kernel_view_new(NULL);
	const char *a = "aaaa", *b = "bbbb";
	int keep = -1;

	(void)state;
	assert_int_equal(kernel_view_open(v, "/p", 10, a, &keep), KERNEL_OPEN_DIRECT);
	assert_int_equal(keep, 0);
	kernel_view_note_size(v, "/p", 10);
	assert_int_equal(kernel_view_open(v, "/p", 9, a, &keep), KERNEL_OPEN_DIRECT); /* shrunk */
	assert_int_equal(kernel_view_open(v, "/p", 10, a, &keep), KERNEL_OPEN_CACHE);
	assert_int_equal(keep, 0); /* first page-cache open of a: pages are not a's yet */
	kernel_view_close(v, "/p");
	assert_int_equal(kernel_view_open(v, "/p", 10, a, &keep), KERNEL_OPEN_CACHE);
	assert_int_equal(keep, 1);
	kernel_view_close(v, "/p");
	assert_int_equal(kernel_view_open(v, "/p", 10, b, &keep), KERNEL_OPEN_CACHE);
	assert_int_equal(keep, 0); /* same size, new content: the old pages must go */
	kernel_view_close(v, "/p");
	assert_int_equal(kernel_view_open(v, "/p", 10, "", &keep), KERNEL_OPEN_CACHE);
	assert_int_equal(keep, 0); /* content unknown: never keep */
	kernel_view_close(v, "/p");
	assert_int_equal(kernel_view_open(v, "/p", 10, "", &keep), KERNEL_OPEN_CACHE);
	assert_int_equal(keep, 0);
	kernel_view_close(v, "/p");
	kernel_view_free(v);
}

/* The kernel has one page cache per path: while a reader of one content holds it, an open of
 * other content (a newer export of the same size, or unknown content) reads with direct I/O, so neither reads
 * the other's pages; once that reader is gone the new content may use the cache. */
static void test_open_of_other_content_while_pages_are_held(void **state)
{
	struct kernel_view *v = kernel_view_new(NULL);
	int keep = -1;

	(void)state;
	kernel_view_note_size(v, "/h", 10);
	assert_int_equal(kernel_view_open(v, "/h", 10, "aaaa", &keep), KERNEL_OPEN_CACHE);
	assert_int_equal(kernel_view_open(v, "/h", 10, "bbbb", &keep), KERNEL_OPEN_DIRECT);
	assert_int_equal(kernel_view_open(v, "/h", 12, "cccc", &keep), KERNEL_OPEN_DIRECT);
	assert_int_equal(kernel_view_open(v, "/h", 10, "", &keep), KERNEL_OPEN_DIRECT);
	assert_int_equal(kernel_view_open(v, "/h", 10, "aaaa", &keep), KERNEL_OPEN_CACHE);
	assert_int_equal(keep, 1); /* the same content shares the held pages */
	kernel_view_close(v, "/h");
	assert_int_equal(kernel_view_open(v, "/h", 10, "bbbb", &keep), KERNEL_OPEN_DIRECT);
	kernel_view_close(v, "/h"); /* the first reader is gone */
	assert_int_equal(kernel_view_open(v, "/h", 10, "bbbb", &keep), KERNEL_OPEN_CACHE);
	assert_int_equal(keep, 0);
	kernel_view_close(v, "/h");
	kernel_view_free(v);
}

/* While a page-cache reader of a larger, older content is open, the size shown for the path
 * never drops below what it holds (the kernel would cut its reads there); before and after,
 * the content's own size. */
static void test_size_shown_while_pages_are_held(void **state)
{
	struct kernel_view *v = kernel_view_new(NULL);
	int keep;

	(void)state;
	assert_int_equal(kernel_view_note_size(v, "/s", 7), 7); /* nothing known */
	kernel_view_note_size(v, "/s", 100);
	assert_int_equal(kernel_view_note_size(v, "/s", 100), 100);
	assert_int_equal(kernel_view_open(v, "/s", 100, "aaaa", &keep), KERNEL_OPEN_CACHE);
	assert_int_equal(kernel_view_note_size(v, "/s", 60), 100); /* a smaller new export */
	assert_int_equal(kernel_view_note_size(v, "/s", 140), 140); /* a larger one */
	kernel_view_close(v, "/s");
	assert_int_equal(kernel_view_note_size(v, "/s", 60), 60);
	kernel_view_free(v);
}

/* A view with a page-cache reader open is never forgotten to make room. */
static void test_held_views_are_not_forgotten(void **state)
{
	struct kernel_view_limits lim = {4, 1000, NULL};
	struct kernel_view *v = kernel_view_new(&lim);
	char path[32];
	int keep;

	(void)state;
	kernel_view_note_size(v, "/held", 10);
	assert_int_equal(kernel_view_open(v, "/held", 10, "aaaa", &keep), KERNEL_OPEN_CACHE);
	for (int i = 0; i < 16; i++) {
		snprintf(path, sizeof(path), "/other%d", i);
		kernel_view_note_size(v, path, 1);
	}
	kernel_view_note_size(v, "/held", 10); /* a stat of it: the view must still hold "aaaa" */
	assert_int_equal(kernel_view_open(v, "/held", 10, "bbbb", &keep), KERNEL_OPEN_DIRECT);
	kernel_view_close(v, "/held");
	kernel_view_free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unknown_path_is_zeroed),
		cmocka_unit_test(test_paths_are_independent),
		cmocka_unit_test(test_bounded_and_recent_views_kept),
		cmocka_unit_test(test_open_decisions),
		cmocka_unit_test(test_open_of_other_content_while_pages_are_held),
		cmocka_unit_test(test_size_shown_while_pages_are_held),
		cmocka_unit_test(test_held_views_are_not_forgotten),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
