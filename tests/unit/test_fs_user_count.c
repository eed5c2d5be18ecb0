/* Per-user counts with a cap: one user at its cap is refused, the others are not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../fs/user_count.h"

static void test_cap_is_per_user_and_said_once(void **state)
{
	struct user_count *u = user_count_new();
	int say;

	(void)state;
	assert_non_null(u);
	for (int i = 0; i < 3; i++)
		assert_int_equal(user_count_take(u, 1001, 3, &say), 0);
	assert_int_equal(user_count_take(u, 1001, 3, &say), -1);
	assert_int_equal(say, 1);
	assert_int_equal(user_count_take(u, 1001, 3, &say), -1);
	assert_int_equal(say, 0); /* one log line per episode */
	assert_int_equal(user_count_take(u, 0, 3, &say), 0); /* another user is not refused */
	assert_int_equal(user_count_of(u, 1001), 3);
	user_count_give(u, 1001);
	assert_int_equal(user_count_take(u, 1001, 3, &say), 0);
	for (int i = 0; i < 3; i++)
		user_count_give(u, 1001);
	assert_int_equal(user_count_of(u, 1001), 0);
	assert_int_equal(user_count_of(u, 0), 1);
	user_count_give(u, 4242); /* never took: ignored */
	user_count_free(u);
}

static void test_no_cap(void **state)
{
	struct user_count *u = user_count_new();
	int say;

	(void)state;
	for (int i = 0; i < 10000; i++)
		assert_int_equal(user_count_take(u, (uid_t)(i % 50), 0, &say), 0);
	assert_int_equal(user_count_of(u, 7), 200);
	user_count_free(u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cap_is_per_user_and_said_once),
		cmocka_unit_test(test_no_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
