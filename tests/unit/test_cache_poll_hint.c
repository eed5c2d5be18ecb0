/* cache/poll_hint.c: where the next poll lands with and without the last export's window. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../cache/fill/poll_hint.h"

static void test_no_hint_keeps_the_schedule(void **state)
{
	struct poll_hint none = {0, 0};

	assert_int_equal(poll_hint_wait(500, 0, NULL, 1, 0), 500);
	assert_int_equal(poll_hint_wait(500, 1200, &none, 1, 0), 500);
	assert_int_equal(poll_hint_wait(-5, 0, NULL, 1, 0), 0);
}

static void test_poll_lands_at_the_window_start(void **state)
{
	struct poll_hint h = poll_hint_learn(2900, 3000); /* window 2750 .. 3150 */

	assert_int_equal(poll_hint_wait(500, 2500, &h, 1, 0), 250); /* would pass 2750: stop there */
	assert_int_equal(poll_hint_wait(500, 1000, &h, 1, 0), 500); /* far before: the schedule */
}

static void test_steps_inside_the_window_then_the_schedule(void **state)
{
	struct poll_hint h = poll_hint_learn(2900, 3000);

	assert_int_equal(poll_hint_wait(500, 2750, &h, 1, 0), POLL_HINT_STEP_MS);
	assert_int_equal(poll_hint_wait(500, 3100, &h, 1, 0), POLL_HINT_STEP_MS);
	assert_int_equal(poll_hint_wait(50, 3000, &h, 1, 0), 50); /* never longer than the schedule */
	assert_int_equal(poll_hint_wait(500, 3150, &h, 1, 0), 500); /* past the window */
}

static void test_step_grows_with_the_exports_polling(void **state)
{
	struct poll_hint h = poll_hint_learn(2900, 3000);

	assert_int_equal(poll_hint_wait(500, 2800, &h, 3, 0), 3 * POLL_HINT_STEP_MS);
	assert_int_equal(poll_hint_wait(500, 2800, &h, 0, 0), POLL_HINT_STEP_MS);
	assert_int_equal(poll_hint_wait(250, 2800, &h, 4, 0), 250); /* the schedule's is shorter */
}

static void test_a_wave_takes_turns_in_the_window(void **state)
{
	struct poll_hint h = poll_hint_learn(2900, 3000); /* window 2750 .. 3150 */

	/* Four exports applied together: first polls 100 ms apart, then each every 400 ms. */
	assert_int_equal(poll_hint_wait(500, 2500, &h, 4, 0), 250);
	assert_int_equal(poll_hint_wait(500, 2500, &h, 4, 1), 250 + POLL_HINT_STEP_MS);
	assert_int_equal(poll_hint_wait(1000, 2500, &h, 4, 3), 250 + 3 * POLL_HINT_STEP_MS);
	assert_int_equal(poll_hint_wait(500, 2500, &h, 4, 5), 250 + POLL_HINT_STEP_MS); /* mod 4 */
	assert_int_equal(poll_hint_wait(500, 2500, &h, 1, 3), 250); /* alone: no turns */
	assert_int_equal(poll_hint_wait(500, 2950, &h, 4, 2), 4 * POLL_HINT_STEP_MS); /* in it */
}

static void test_learn_orders_and_clamps(void **state)
{
	struct poll_hint h = poll_hint_learn(0, 800); /* first poll already saw it generated */

	assert_int_equal(h.hi_ms, 0); /* an upper bound alone is no window */
	assert_int_equal(poll_hint_wait(500, 0, &h, 1, 0), 500);
	h = poll_hint_learn(900, 800);
	assert_int_equal(h.lo_ms, 800);
	assert_int_equal(h.hi_ms, 800);
	h = poll_hint_learn(-3, -1);
	assert_int_equal(h.hi_ms, 0);
}

static void test_a_generated_sibling_wakes_the_wave(void **state)
{
	struct poll_hint h = poll_hint_learn(2900, 3000); /* window 2750 .. 3150 */

	assert_true(poll_hint_wakes(&h, 2800));	 /* applied with it: look now */
	assert_true(poll_hint_wakes(&h, 3400));	 /* past it: surely look now */
	assert_false(poll_hint_wakes(&h, 2000)); /* applied well after it: its own schedule */
	h = poll_hint_learn(0, 800);
	assert_false(poll_hint_wakes(&h, 800)); /* no window: nothing to go by */
	assert_false(poll_hint_wakes(NULL, 800));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_hint_keeps_the_schedule),
		cmocka_unit_test(test_poll_lands_at_the_window_start),
		cmocka_unit_test(test_steps_inside_the_window_then_the_schedule),
		cmocka_unit_test(test_step_grows_with_the_exports_polling),
		cmocka_unit_test(test_a_wave_takes_turns_in_the_window),
		cmocka_unit_test(test_learn_orders_and_clamps),
		cmocka_unit_test(test_a_generated_sibling_wakes_the_wave),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
