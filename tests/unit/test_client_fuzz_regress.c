/* Inputs the fuzzers (tests/fuzz/) found to break a parser, kept so they stay fixed. Each is
 * also in tests/fuzz/corpus/ so every fuzz run starts from it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "../../client/http.h"

/* fuzz_vexora, Retry-After as an HTTP-date in the year 662026029: (t - now) * 1000 overflowed
 * a long (undefined behaviour; in practice a wrapped, possibly negative, wait). Capped at a
 * day like a delta-seconds value. */
static void test_retry_after_far_future_date_is_capped(void **state)
{
	const time_t now = 1779172654;

	/* The fuzzer's input, as the parser saw it. */
	assert_int_equal(http_parse_retry_after("W1Oct662026029\"=\x01 `", now), 86400L * 1000L);
	assert_int_equal(http_parse_retry_after("Wed, 21 Oct 662026029 07:28:00 GMT", now),
			 86400L * 1000L);
	assert_int_equal(http_parse_retry_after("Sun, 06 Nov 2050 08:49:37 GMT", now),
			 86400L * 1000L);
	assert_int_equal(http_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now), 0);
	assert_int_equal(http_parse_retry_after("99999999999999999999", now), -1);
	assert_int_equal(http_parse_retry_after("999999999", now), 86400L * 1000L);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_retry_after_far_future_date_is_capped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
