/* cache/poll_progress.c: the end predicted from the provider's percent, and the poll just
 * after it where the schedule alone would poll late. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../cache/fill/poll_hint.h"
#include "../../cache/fill/poll_progress.h"

/* 10 % at 1000 ms, 30 % at 1500 ms: 25 ms a point, 69.5 points left, the end at 3237 ms. */
static struct poll_progress rising(void)
{
	struct poll_progress pp = {0};

	poll_progress_note(&pp, 400, 0); /* pending: no part of the rate */
	poll_progress_note(&pp, 1000, 10);
	poll_progress_note(&pp, 1500, 30);
	return pp;
}

static void test_no_prediction_keeps_the_schedule(void **state)
{
	struct poll_progress pp = {0};

	assert_int_equal(poll_progress_end(&pp), 0);
	assert_int_equal(poll_progress_wait(500, 3000, &pp), 500);
	poll_progress_note(&pp, 1000, 10);
	poll_progress_note(&pp, 1200, 11); /* one point: too little for a rate */
	assert_int_equal(poll_progress_end(&pp), 0);
	assert_int_equal(poll_progress_wait(500, 3000, &pp), 500);
	assert_int_equal(poll_progress_wait(-5, 3000, &pp), 0);
}

static void test_predicts_the_end_from_the_rate(void **state)
{
	struct poll_progress pp = rising();

	assert_int_equal(poll_progress_end(&pp), 3237);
	poll_progress_note(&pp, 1600, 100); /* the end itself, and nonsense, change nothing */
	poll_progress_note(&pp, 1600, -1);
	poll_progress_note(&pp, 1700, 5); /* below the first report */
	assert_int_equal(poll_progress_end(&pp), 3237);
}

static void test_polls_just_after_the_predicted_end(void **state)
{
	struct poll_progress pp = rising();
	long first = 3237 + POLL_PROGRESS_AFTER_MS;

	/* The schedule would poll at 3500: 263 ms after the end. */
	assert_int_equal(poll_progress_wait(500, 3000, &pp), first - 3000);
	assert_int_equal(poll_progress_wait(100, 3000, &pp), 100); /* sooner anyway */
	assert_int_equal(poll_progress_wait(500, 2000, &pp), 500); /* far before: the schedule */
}

static void test_steps_shortly_after_then_the_schedule(void **state)
{
	struct poll_progress pp = rising();

	assert_int_equal(poll_progress_wait(500, 3237 + POLL_PROGRESS_AFTER_MS, &pp),
			 POLL_HINT_STEP_MS);
	assert_int_equal(poll_progress_wait(50, 3300, &pp), 50);
	assert_int_equal(poll_progress_wait(500, 3237 + POLL_PROGRESS_WINDOW_MS, &pp), 500);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_prediction_keeps_the_schedule),
		cmocka_unit_test(test_predicts_the_end_from_the_rate),
		cmocka_unit_test(test_polls_just_after_the_predicted_end),
		cmocka_unit_test(test_steps_shortly_after_then_the_schedule),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
