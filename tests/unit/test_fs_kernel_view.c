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
	struct kernel_view *v = kernel_view_new();
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
	struct kernel_view *v = kernel_view_new();
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unknown_path_is_zeroed),
		cmocka_unit_test(test_paths_are_independent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
