/* client/interrupt.c and the sleeps that go through it: the request cap of client/http.c.
 * The HTTP calls go to a closed port on 127.0.0.1; the cap's wait happens before the connect. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "../../client/http.h"
#include "../../client/interrupt.h"

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* An interrupt that records the sleeps asked of it and wakes them at once, as the cache does
 * on unmount. */
struct recorder {
	long asked_ms;
	int sleeps;
	int stop;
};

static int rec_sleep(void *arg, long ms)
{
	struct recorder *r = arg;
	r->asked_ms = ms;
	r->sleeps++;
	return 1;
}

static int rec_stopped(void *arg)
{
	return ((struct recorder *)arg)->stop;
}

static void test_unbound_sleep_sleeps(void **state)
{
	int64_t t0 = mono_ms();
	assert_int_equal(client_sleep_ms(30), 0);
	assert_true(mono_ms() - t0 >= 30);
	assert_int_equal(client_interrupted(), 0);
}

static void test_bound_sleep_goes_through_the_interrupt(void **state)
{
	struct recorder r = {0, 0, 0};
	struct client_interrupt in = {rec_sleep, rec_stopped, &r};
	const struct client_interrupt *old = client_interrupt_bind(&in);

	assert_null(old);
	assert_int_equal(client_sleep_ms(60000), -ECANCELED);
	assert_int_equal(r.asked_ms, 60000);
	r.stop = 1;
	assert_int_equal(client_interrupted(), 1);
	assert_int_equal(client_sleep_ms(10), -ECANCELED); /* already stopped: no sleep at all */
	assert_int_equal(r.sleeps, 1);
	assert_ptr_equal(client_interrupt_bind(old), &in);
	assert_int_equal(client_interrupted(), 0);
}

/* The request cap's wait wakes on the interrupt and the call fails as cancelled. */
static void test_request_cap_wait_is_interruptible(void **state)
{
	struct http_options opt = {.max_requests_per_s = 0.25, .connect_timeout_ms = 2000};
	struct recorder r = {0, 0, 0};
	struct client_interrupt in = {rec_sleep, rec_stopped, &r};
	struct http_response resp;
	struct client_error e;
	struct http_client *c;

	client_error_clear(&e);
	c = http_client_new(&opt, &e);
	assert_non_null(c);
	/* The first call takes the one token of the burst (and fails to connect). */
	assert_int_equal(http_post_json(c, "http://127.0.0.1:1/x", NULL, 0, "{}", &resp, &e), -1);
	assert_int_equal(e.kind, CLIENT_E_TRANSIENT);
	client_interrupt_bind(&in);
	int64_t t0 = mono_ms();
	client_error_clear(&e);
	assert_int_equal(http_post_json(c, "http://127.0.0.1:1/x", NULL, 0, "{}", &resp, &e), -1);
	client_interrupt_bind(NULL);
	assert_int_equal(e.kind, CLIENT_E_CANCELLED);
	assert_int_equal(r.sleeps, 1);
	assert_true(r.asked_ms > 3000 && r.asked_ms <= 4001); /* the cap's 4 s turn */
	assert_true(mono_ms() - t0 < 1000);
	http_client_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unbound_sleep_sleeps),
		cmocka_unit_test(test_bound_sleep_goes_through_the_interrupt),
		cmocka_unit_test(test_request_cap_wait_is_interruptible),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
