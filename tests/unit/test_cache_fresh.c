/* cache/fresh.c (the freshness rule) and the cache following it: open files re-exported after
 * open_ttl, a range exported before its end re-exported once after settle_delay. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../cache/cache.h"
#include "../../cache/entry/fresh.h"
#include "cache_harness.h"

static int64_t utc(int y, int mo, int d, int h, int mi)
{
	struct date day = {y, mo, d};
	return date_to_days(&day) * 86400 + h * 3600 + mi * 60;
}

static struct date_range day_range(int y, int m, int d)
{
	struct date_range r = {{y, m, d}, {y, m, d}};
	return r;
}

/* New York: the range 2026-03-07..2026-03-08 ends at local midnight = 04:00 UTC on 03-09
 * (daylight time since 03-08), plus the settle delay. */
static void test_closed_at_in_the_zone_across_dst(void **state)
{
	char err[200];
	struct tz *ny = tz_load("America/New_York", err, sizeof(err));
	assert_non_null(ny);
	struct date_range r = {{2026, 3, 7}, {2026, 3, 8}};
	assert_int_equal(fresh_closed_at(ny, &r, 3600), utc(2026, 3, 9, 5, 0));
	struct date_range w = day_range(2026, 1, 5);
	assert_int_equal(fresh_closed_at(ny, &w, 0), utc(2026, 1, 6, 5, 0));
	tz_free(ny);
}

static void test_complete_and_fresh_until(void **state)
{
	char err[200];
	struct tz *z = tz_load("UTC", err, sizeof(err));
	struct fresh_rule rule = {3600, 900};
	struct date_range r = day_range(2026, 12, 7);
	int64_t closed = utc(2026, 12, 8, 1, 0);

	/* applied during the day: open, served for open_ttl */
	assert_false(fresh_complete(z, &r, utc(2026, 12, 7, 10, 0), &rule));
	assert_int_equal(fresh_until(z, &r, utc(2026, 12, 7, 10, 0), &rule),
			 utc(2026, 12, 7, 10, 15));
	/* applied just before it closes: served only until it closes */
	assert_int_equal(fresh_until(z, &r, closed - 60, &rule), closed);
	/* applied after midnight but within the settle delay: still open */
	assert_false(fresh_complete(z, &r, utc(2026, 12, 8, 0, 30), &rule));
	/* applied once it closed: complete, nothing but expiry ends it */
	assert_true(fresh_complete(z, &r, closed, &rule));
	assert_int_equal(fresh_until(z, &r, closed, &rule), 0);
	/* a month's range is open until the month has ended */
	struct date_range m = {{2026, 2, 1}, {2026, 2, 28}};
	assert_false(fresh_complete(z, &m, utc(2026, 2, 28, 23, 0), &rule));
	assert_true(fresh_complete(z, &m, utc(2026, 3, 1, 1, 0), &rule));
	tz_free(z);
}

/* The harness clock starts 2026-05-19 05:53 UTC (the process zone of the tests). */
static const struct date_range *TODAY(void)
{
	static struct date_range r = {{2026, 5, 19}, {2026, 5, 19}};
	return &r;
}

static void set_content(struct env *e, char fill)
{
	static char buf[3000];
	memset(buf, fill, sizeof(buf));
	fake_set_content(e->p, TODAY(), buf, sizeof(buf));
}

/* Within open_ttl an open file is served; past it, the next open exports once more and gets
 * the new orders. */
static void test_open_file_reexported_after_open_ttl(void **state)
{
	struct env *e = *state;
	e->cfg.open_ttl_s = 900;
	set_content(e, 'a');
	env_start(e);
	assert_int_equal(open_check(e, TODAY()), 0);
	struct cache_info i = info_of(e, TODAY());
	assert_int_equal(i.complete, 0);
	assert_int_equal(i.applied_time, 1779170000);
	assert_int_equal(i.fresh_until, 1779170000 + 900);
	clock_advance_s(899);
	assert_int_equal(open_check(e, TODAY()), 0);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 1);

	set_content(e, 'b'); /* orders arrived meanwhile */
	clock_advance_s(1);
	assert_int_equal(info_of(e, TODAY()).state, CACHE_EXPIRED);
	assert_int_equal(open_check(e, TODAY()), 0); /* the new content */
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 2);
	assert_int_equal(info_of(e, TODAY()).applied_time, 1779170000 + 900);
	assert_int_equal(open_check(e, TODAY()), 0);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 2);
}

/* A handle on the old file reads the old bytes to the end while the file is replaced. */
static void test_old_handle_reads_old_bytes(void **state)
{
	struct env *e = *state;
	struct cache_handle *old = NULL;
	size_t len;

	e->cfg.open_ttl_s = 5;
	set_content(e, 'a');
	env_start(e);
	assert_int_equal(cache_open(e->c, 0, TODAY(), NULL, NULL, &old), 0);
	set_content(e, 'b');
	clock_advance_s(5);
	assert_int_equal(open_check(e, TODAY()), 0);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 2);
	unsigned char *data = handle_read(old, &len);
	assert_int_equal(len, 3000);
	for (size_t k = 0; k < len; k++)
		assert_int_equal(data[k], 'a');
	free(data);
	cache_handle_close(old);
}

/* Exported before its end, a range re-exports once after settle_delay, then never (until the
 * provider's expiry): the new file is complete. */
static void test_closed_range_reexported_once(void **state)
{
	struct env *e = *state;
	e->cfg.open_ttl_s = 7 * 86400; /* only the close matters here */
	e->cfg.settle_delay_s = 3600;
	set_content(e, 'a');
	env_start(e);
	assert_int_equal(open_check(e, TODAY()), 0);
	int64_t closed = utc(2026, 5, 20, 1, 0);
	assert_int_equal(info_of(e, TODAY()).fresh_until, closed);
	clock_advance_s(closed - 1 - 1779170000);
	assert_int_equal(open_check(e, TODAY()), 0);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 1);
	clock_advance_s(1);
	assert_int_equal(open_check(e, TODAY()), 0);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 2);
	assert_int_equal(info_of(e, TODAY()).complete, 1);
	assert_int_equal(info_of(e, TODAY()).fresh_until, 0);
	clock_advance_s(30 * 86400);
	assert_int_equal(open_check(e, TODAY()), 0);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 2);
}

/* A file whose range had closed when it was exported is never re-exported for freshness. */
static void test_past_range_complete_from_the_start(void **state)
{
	struct env *e = *state;
	struct date_range past = day_range(2026, 5, 17);
	env_start(e);
	assert_int_equal(open_check(e, &past), 0);
	assert_int_equal(info_of(e, &past).complete, 1);
	clock_advance_s(86400);
	assert_int_equal(open_check(e, &past), 0);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 1);
}

/* Gives up a wait after two seconds: an open that should answer at once never hangs a test. */
static int past_deadline(void *arg)
{
	return fake_mono_ms() > *(int64_t *)arg;
}

static unsigned char *read_open(struct env *e, size_t *len)
{
	struct cache_handle *h = NULL;
	int64_t deadline = fake_mono_ms() + 2000;
	assert_int_equal(cache_open(e->c, 0, TODAY(), past_deadline, &deadline, &h), 0);
	unsigned char *data = handle_read(h, len);
	cache_handle_close(h);
	return data;
}

static void assert_all(const unsigned char *data, size_t len, char fill)
{
	assert_int_equal(len, 3000);
	for (size_t k = 0; k < len; k++)
		assert_int_equal(data[k], (unsigned char)fill);
}

/* A failed assertion must not leave a held apply behind: the cache waits for its flights. */
static int release_teardown(void **state)
{
	struct env *e = *state;
	fake_release(e->p, FAKE_APPLY);
	return env_teardown(state);
}

/* open_refresh = background: the open past fresh_until gets the old file at once while the
 * export runs; once it is done, the next open gets the new one. */
static void test_background_refresh_answers_at_once(void **state)
{
	struct env *e = *state;
	size_t len;
	e->cfg.open_ttl_s = 5;
	e->cfg.open_refresh_background = 1;
	set_content(e, 'a');
	env_start(e);
	free(read_open(e, &len));
	set_content(e, 'b');
	clock_advance_s(5);
	fake_hold(e->p, FAKE_APPLY, NULL);
	unsigned char *data = read_open(e, &len); /* returns although the apply is held */
	assert_all(data, len, 'a');
	free(data);
	assert_int_equal(fake_wait_held(e->p, 1, WAIT_MS), 0);
	data = read_open(e, &len); /* still running: the old file again, no second export */
	assert_all(data, len, 'a');
	free(data);
	fake_release(e->p, FAKE_APPLY);
	WAIT_UNTIL(info_of(e, TODAY()).state == CACHE_READY);
	data = read_open(e, &len);
	assert_all(data, len, 'b');
	free(data);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 2);
}

/* The provider fails at refresh time: the old file is served, marked stale with the reason,
 * never replaced by the error; the next try comes open_ttl later. */
static void test_failed_refresh_serves_the_old_file_stale(void **state)
{
	struct env *e = *state;
	size_t len;
	struct fake_fault down = {.kind = CLIENT_E_BUSINESS, .times = 1, .retry_after_ms = -1,
				  .code = "5000", .msg = "system busy"};
	e->cfg.open_ttl_s = 60;
	set_content(e, 'a');
	env_start(e);
	free(read_open(e, &len));
	set_content(e, 'b');
	clock_advance_s(60);
	fake_inject(e->p, FAKE_APPLY, &down);
	unsigned char *data = read_open(e, &len);
	assert_all(data, len, 'a');
	free(data);
	struct cache_info i = info_of(e, TODAY());
	assert_int_equal(i.state, CACHE_READY);
	assert_int_equal(i.stale, 1);
	assert_string_equal(i.last_error.code, "5000");
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 2);
	clock_advance_s(59); /* served as it is, no new try */
	data = read_open(e, &len);
	assert_all(data, len, 'a');
	free(data);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 2);
	clock_advance_s(1); /* tried again: the provider answers now */
	data = read_open(e, &len);
	assert_all(data, len, 'b');
	free(data);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 3);
	assert_int_equal(info_of(e, TODAY()).stale, 0);
}

/* An export that takes longer than open_ttl: the open that waited for it gets its file, not a
 * second export (the file is past fresh_until the moment it is ready). */
static void test_export_longer_than_open_ttl_served_once(void **state)
{
	struct env *e = *state;
	struct opener op;
	e->cfg.open_ttl_s = 5;
	set_content(e, 'a');
	env_start(e);
	fake_hold(e->p, FAKE_QUERY, NULL);
	opener_start(&op, e, TODAY());
	assert_int_equal(fake_wait_held(e->p, 1, WAIT_MS), 0);
	clock_advance_s(10);
	fake_release(e->p, FAKE_QUERY);
	assert_int_equal(opener_join(&op), 0);
	assert_int_equal(op.len, 3000);
	free(op.data);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_closed_at_in_the_zone_across_dst),
		cmocka_unit_test(test_complete_and_fresh_until),
		cmocka_unit_test_setup_teardown(test_open_file_reexported_after_open_ttl, env_setup,
						env_teardown),
		cmocka_unit_test_setup_teardown(test_old_handle_reads_old_bytes, env_setup,
						env_teardown),
		cmocka_unit_test_setup_teardown(test_closed_range_reexported_once, env_setup,
						env_teardown),
		cmocka_unit_test_setup_teardown(test_past_range_complete_from_the_start,
						env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_export_longer_than_open_ttl_served_once,
						env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_background_refresh_answers_at_once,
						env_setup, release_teardown),
		cmocka_unit_test_setup_teardown(test_failed_refresh_serves_the_old_file_stale,
						env_setup, env_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
