/* test_clock: the file's time when it holds one, the real clock otherwise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../fs/test_clock.h"

static char path[] = "/tmp/orderfs-test-clock-XXXXXX";

static void write_clock(const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int near_now(int64_t t)
{
	int64_t now = (int64_t)time(NULL);
	return t >= now - 5 && t <= now + 5;
}

static void test_file_time(void **state)
{
	(void)state;
	write_clock("1796083199\n");
	assert_int_equal(test_clock_now(path), 1796083199);
	write_clock("1796083201");
	assert_int_equal(test_clock_now(path), 1796083201);
}

static void test_real_clock_without_a_good_file(void **state)
{
	(void)state;
	assert_true(near_now(test_clock_now(NULL)));
	assert_true(near_now(test_clock_now("/nonexistent/orderfs-clock")));
	write_clock("tomorrow\n");
	assert_true(near_now(test_clock_now(path)));
	write_clock("");
	assert_true(near_now(test_clock_now(path)));
	write_clock("-5\n");
	assert_true(near_now(test_clock_now(path)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_time),
		cmocka_unit_test(test_real_clock_without_a_good_file),
	};
	int fd = mkstemp(path);
	if (fd < 0)
		return 1;
	close(fd);
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	unlink(path);
	return rc;
}
