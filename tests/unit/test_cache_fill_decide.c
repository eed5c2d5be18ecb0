/* cache/fill_decide.c: what a failed provider call means, for every step and every error
 * kind, as one table; then the limits (retry_limit, the deadline, URL refreshes, closed
 * waits) and what the decision counts. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../cache/fill/fill_decide.h"

#define N_KINDS (CLIENT_E_CANCELLED + 1)
#define N_STEPS (FILL_STEP_FETCH + 1)
#define MS_LEFT 60000 /* plenty: no rate-limit wait in the table hits the deadline */

/* retry_limit 3; backoff 100, 200, 400, 800, 800, ... */
static const struct fill_policy POLICY = {3, 100, 800};

/* Short names, so the table reads as one. */
#define APPLY FILL_STEP_APPLY
#define QUERY FILL_STEP_QUERY
#define URLS FILL_STEP_GET_URL
#define VERIFY FILL_STEP_VERIFY
#define DOWNLOAD FILL_STEP_DOWNLOAD
#define FETCH FILL_STEP_FETCH
#define RETRY FILL_RETRY
#define WAIT FILL_WAIT_CLOSED
#define REAPPLY FILL_REAPPLY_TASK
#define NEW_URL FILL_REFRESH_URL
#define GIVE_UP FILL_GIVE_UP

struct row {
	enum fill_step step;
	enum client_errkind kind;
	int http_status;
	long retry_after_ms;
	int retries; /* transient faults in a row so far */
	enum fill_verdict verdict;
	int eno;      /* GIVE_UP */
	long wait_ms; /* RETRY, WAIT */
};

/* clang-format off */
static const struct row TABLE[] = {
	/* step     kind                   http  after  tries  verdict  errno      wait */
	{APPLY,    CLIENT_OK,              0,   -1,    0,     GIVE_UP, EIO,       0},
	{APPLY,    CLIENT_E_TRANSIENT,     503, -1,    0,     RETRY,   0,         100},
	{APPLY,    CLIENT_E_TRANSIENT,     0,   -1,    3,     GIVE_UP, EIO,       0},
	{APPLY,    CLIENT_E_RATE_LIMIT,    429, 1500,  2,     RETRY,   0,         1500},
	{APPLY,    CLIENT_E_UNAVAILABLE,   200, 30000, 0,     WAIT,    0,         30000},
	{APPLY,    CLIENT_E_BUSINESS,      200, -1,    0,     GIVE_UP, EIO,       0},
	{APPLY,    CLIENT_E_URL_EXPIRED,   403, -1,    0,     GIVE_UP, EIO,       0},
	{APPLY,    CLIENT_E_FILE_EXPIRED,  200, -1,    0,     GIVE_UP, EIO,       0},
	{APPLY,    CLIENT_E_NOT_FOUND,     404, -1,    0,     GIVE_UP, EIO,       0},
	{APPLY,    CLIENT_E_PROTOCOL,      200, -1,    0,     GIVE_UP, EIO,       0},
	{APPLY,    CLIENT_E_INVALID,       0,   -1,    0,     GIVE_UP, EINVAL,    0},
	{APPLY,    CLIENT_E_AUTH,          401, -1,    0,     GIVE_UP, EIO,       0},
	{APPLY,    CLIENT_E_LOCAL,         0,   -1,    0,     GIVE_UP, EIO,       0},
	{APPLY,    CLIENT_E_CANCELLED,     0,   -1,    0,     GIVE_UP, ECANCELED, 0},

	{QUERY,    CLIENT_OK,              0,   -1,    0,     GIVE_UP, EIO,       0},
	{QUERY,    CLIENT_E_TRANSIENT,     500, -1,    1,     RETRY,   0,         200},
	{QUERY,    CLIENT_E_TRANSIENT,     500, -1,    3,     GIVE_UP, EIO,       0},
	{QUERY,    CLIENT_E_RATE_LIMIT,    429, -1,    1,     RETRY,   0,         200},
	{QUERY,    CLIENT_E_UNAVAILABLE,   200, 5000,  2,     WAIT,    0,         5000},
	{QUERY,    CLIENT_E_BUSINESS,      200, -1,    0,     GIVE_UP, EIO,       0},
	{QUERY,    CLIENT_E_URL_EXPIRED,   410, -1,    0,     GIVE_UP, EIO,       0},
	{QUERY,    CLIENT_E_FILE_EXPIRED,  200, -1,    0,     REAPPLY, 0,         0},
	{QUERY,    CLIENT_E_NOT_FOUND,     404, -1,    2,     REAPPLY, 0,         0},
	{QUERY,    CLIENT_E_PROTOCOL,      200, -1,    0,     GIVE_UP, EIO,       0},
	{QUERY,    CLIENT_E_INVALID,       0,   -1,    0,     GIVE_UP, EINVAL,    0},
	{QUERY,    CLIENT_E_AUTH,          403, -1,    0,     GIVE_UP, EIO,       0},
	{QUERY,    CLIENT_E_LOCAL,         0,   -1,    0,     GIVE_UP, EIO,       0},
	{QUERY,    CLIENT_E_CANCELLED,     0,   -1,    0,     GIVE_UP, ECANCELED, 0},

	{URLS,     CLIENT_OK,              0,   -1,    0,     GIVE_UP, EIO,       0},
	{URLS,     CLIENT_E_TRANSIENT,     502, -1,    2,     RETRY,   0,         400},
	{URLS,     CLIENT_E_RATE_LIMIT,    503, 0,     0,     RETRY,   0,         0},
	{URLS,     CLIENT_E_UNAVAILABLE,   503, 7000,  0,     WAIT,    0,         7000},
	{URLS,     CLIENT_E_BUSINESS,      200, -1,    0,     GIVE_UP, EIO,       0},
	{URLS,     CLIENT_E_URL_EXPIRED,   403, -1,    0,     GIVE_UP, EIO,       0},
	{URLS,     CLIENT_E_FILE_EXPIRED,  410, -1,    1,     REAPPLY, 0,         0},
	{URLS,     CLIENT_E_NOT_FOUND,     404, -1,    0,     REAPPLY, 0,         0},
	{URLS,     CLIENT_E_PROTOCOL,      200, -1,    0,     GIVE_UP, EIO,       0},
	{URLS,     CLIENT_E_INVALID,       0,   -1,    0,     GIVE_UP, EINVAL,    0},
	{URLS,     CLIENT_E_AUTH,          401, -1,    0,     GIVE_UP, EIO,       0},
	{URLS,     CLIENT_E_LOCAL,         0,   -1,    0,     GIVE_UP, EIO,       0},
	{URLS,     CLIENT_E_CANCELLED,     0,   -1,    0,     GIVE_UP, ECANCELED, 0},

	{VERIFY,   CLIENT_OK,              0,   -1,    0,     GIVE_UP, EIO,       0},
	{VERIFY,   CLIENT_E_TRANSIENT,     0,   -1,    0,     RETRY,   0,         100},
	{VERIFY,   CLIENT_E_RATE_LIMIT,    429, 2000,  0,     RETRY,   0,         2000},
	{VERIFY,   CLIENT_E_UNAVAILABLE,   0,   1000,  0,     WAIT,    0,         1000},
	{VERIFY,   CLIENT_E_BUSINESS,      0,   -1,    0,     GIVE_UP, EIO,       0},
	{VERIFY,   CLIENT_E_URL_EXPIRED,   403, -1,    0,     GIVE_UP, EIO,       0},
	{VERIFY,   CLIENT_E_FILE_EXPIRED,  410, -1,    0,     GIVE_UP, EIO,       0},
	{VERIFY,   CLIENT_E_NOT_FOUND,     404, -1,    0,     GIVE_UP, EIO,       0},
	{VERIFY,   CLIENT_E_PROTOCOL,      0,   -1,    0,     GIVE_UP, EIO,       0},
	{VERIFY,   CLIENT_E_INVALID,       0,   -1,    0,     GIVE_UP, EINVAL,    0},
	{VERIFY,   CLIENT_E_AUTH,          0,   -1,    0,     GIVE_UP, EIO,       0},
	{VERIFY,   CLIENT_E_LOCAL,         0,   -1,    0,     GIVE_UP, EIO,       0},
	{VERIFY,   CLIENT_E_CANCELLED,     0,   -1,    0,     GIVE_UP, ECANCELED, 0},

	{DOWNLOAD, CLIENT_OK,              200, -1,    0,     GIVE_UP, EIO,       0},
	{DOWNLOAD, CLIENT_E_TRANSIENT,     206, -1,    1,     RETRY,   0,         200},
	{DOWNLOAD, CLIENT_E_TRANSIENT,     500, -1,    2,     RETRY,   0,         400},
	{DOWNLOAD, CLIENT_E_RATE_LIMIT,    429, 3000,  0,     RETRY,   0,         3000},
	{DOWNLOAD, CLIENT_E_UNAVAILABLE,   503, 9000,  0,     WAIT,    0,         9000},
	{DOWNLOAD, CLIENT_E_BUSINESS,      200, -1,    0,     GIVE_UP, EIO,       0},
	{DOWNLOAD, CLIENT_E_URL_EXPIRED,   403, -1,    0,     NEW_URL, 0,         0},
	{DOWNLOAD, CLIENT_E_URL_EXPIRED,   410, -1,    3,     NEW_URL, 0,         0},
	{DOWNLOAD, CLIENT_E_FILE_EXPIRED,  410, -1,    0,     REAPPLY, 0,         0},
	{DOWNLOAD, CLIENT_E_NOT_FOUND,     404, -1,    0,     REAPPLY, 0,         0},
	{DOWNLOAD, CLIENT_E_PROTOCOL,      206, -1,    0,     GIVE_UP, EIO,       0},
	{DOWNLOAD, CLIENT_E_INVALID,       0,   -1,    0,     GIVE_UP, EINVAL,    0},
	{DOWNLOAD, CLIENT_E_AUTH,          401, -1,    0,     GIVE_UP, EIO,       0},
	{DOWNLOAD, CLIENT_E_LOCAL,         200, -1,    0,     GIVE_UP, EIO,       0},
	{DOWNLOAD, CLIENT_E_CANCELLED,     200, -1,    0,     GIVE_UP, ECANCELED, 0},

	{FETCH,    CLIENT_OK,              0,   -1,    0,     GIVE_UP, EIO,       0},
	{FETCH,    CLIENT_E_TRANSIENT,     504, -1,    2,     RETRY,   0,         400},
	{FETCH,    CLIENT_E_TRANSIENT,     504, -1,    3,     GIVE_UP, EIO,       0},
	{FETCH,    CLIENT_E_RATE_LIMIT,    429, -1,    0,     RETRY,   0,         100},
	{FETCH,    CLIENT_E_UNAVAILABLE,   200, 60000, 0,     WAIT,    0,         60000},
	{FETCH,    CLIENT_E_BUSINESS,      200, -1,    0,     GIVE_UP, EIO,       0},
	{FETCH,    CLIENT_E_URL_EXPIRED,   403, -1,    0,     GIVE_UP, EIO,       0},
	{FETCH,    CLIENT_E_FILE_EXPIRED,  200, -1,    0,     REAPPLY, 0,         0},
	{FETCH,    CLIENT_E_NOT_FOUND,     404, -1,    0,     REAPPLY, 0,         0},
	{FETCH,    CLIENT_E_PROTOCOL,      200, -1,    0,     GIVE_UP, EIO,       0},
	{FETCH,    CLIENT_E_INVALID,       400, -1,    0,     GIVE_UP, EINVAL,    0},
	{FETCH,    CLIENT_E_AUTH,          401, -1,    0,     GIVE_UP, EIO,       0},
	{FETCH,    CLIENT_E_LOCAL,         0,   -1,    0,     GIVE_UP, EIO,       0},
	{FETCH,    CLIENT_E_CANCELLED,     0,   -1,    0,     GIVE_UP, ECANCELED, 0},
};
/* clang-format on */

#define N_ROWS (sizeof(TABLE) / sizeof(TABLE[0]))

static struct client_error error_of(enum client_errkind kind, int http_status, long retry_after_ms)
{
	struct client_error e;

	client_error_clear(&e);
	e.kind = kind;
	e.http_status = http_status;
	e.retry_after_ms = retry_after_ms;
	return e;
}

static struct fill_decision decide(enum fill_step step, const struct client_error *e, int retries)
{
	struct fill_tries t = {retries, 0, 0, 0};

	return fill_decide(step, e, &t, MS_LEFT, &POLICY);
}

static void test_table(void **state)
{
	for (size_t i = 0; i < N_ROWS; i++) {
		const struct row *r = &TABLE[i];
		struct client_error e = error_of(r->kind, r->http_status, r->retry_after_ms);
		struct fill_decision d = decide(r->step, &e, r->retries);

		int eno = d.verdict == GIVE_UP ? d.eno : 0;
		long wait = d.verdict == RETRY || d.verdict == WAIT ? d.wait_ms : 0;

		if (d.verdict != r->verdict || eno != r->eno || wait != r->wait_ms) {
			print_error("row %zu (step %d, %s): verdict %d errno %d wait %ld\n", i,
				    r->step, client_errkind_name(r->kind), (int)d.verdict, eno, wait);
			fail();
		}
	}
}

/* Every kind, every step: the table leaves no pair out. */
static void test_table_covers_every_kind_for_every_step(void **state)
{
	int seen[N_STEPS][N_KINDS];

	memset(seen, 0, sizeof(seen));
	for (size_t i = 0; i < N_ROWS; i++)
		seen[TABLE[i].step][TABLE[i].kind] = 1;
	for (int s = 0; s < N_STEPS; s++)
		for (int k = 0; k < N_KINDS; k++) {
			if (!seen[s][k])
				print_error("step %d, kind %s: no row\n", s,
					    client_errkind_name((enum client_errkind)k));
			assert_true(seen[s][k]);
		}
}

/* The kind decides, never the HTTP status behind it. */
static void test_http_status_does_not_matter(void **state)
{
	static const int statuses[] = {0, 200, 206, 403, 404, 429, 500, 503};

	for (size_t i = 0; i < N_ROWS; i++) {
		const struct row *r = &TABLE[i];
		struct client_error e = error_of(r->kind, r->http_status, r->retry_after_ms);
		struct fill_decision want = decide(r->step, &e, r->retries);

		for (size_t j = 0; j < sizeof(statuses) / sizeof(statuses[0]); j++) {
			struct fill_decision d;
			e.http_status = statuses[j];
			d = decide(r->step, &e, r->retries);
			assert_int_equal(d.verdict, want.verdict);
			assert_int_equal(d.eno, want.eno);
			assert_int_equal(d.wait_ms, want.wait_ms);
		}
	}
}

/* retry_limit transient faults in a row are retried; the next one gives up, unreachable. */
static void test_transient_counts_up_to_the_limit(void **state)
{
	struct client_error e = error_of(CLIENT_E_TRANSIENT, 500, -1);
	struct fill_tries t = {0, 0, 0, 0};
	const long waits[] = {100, 200, 400};
	struct fill_decision d;

	for (int i = 0; i < POLICY.retry_limit; i++) {
		d = fill_decide(FILL_STEP_QUERY, &e, &t, MS_LEFT, &POLICY);
		assert_int_equal(d.verdict, FILL_RETRY);
		assert_int_equal(d.wait_ms, waits[i]);
		assert_false(d.server_paced);
		assert_int_equal(d.tries.retries, i + 1);
		t = d.tries;
	}
	d = fill_decide(FILL_STEP_QUERY, &e, &t, MS_LEFT, &POLICY);
	assert_int_equal(d.verdict, FILL_GIVE_UP);
	assert_int_equal(d.eno, EIO);
	assert_true(d.unreachable);
}

/* A rate limit is the server's pace: not counted, and it gives up EAGAIN only when the wait
 * would pass the deadline. */
static void test_rate_limit_within_the_deadline(void **state)
{
	struct client_error e = error_of(CLIENT_E_RATE_LIMIT, 429, 2000);
	struct fill_tries t = {2, 0, 0, 0};
	struct fill_decision d;

	d = fill_decide(FILL_STEP_APPLY, &e, &t, 2000, &POLICY);
	assert_int_equal(d.verdict, FILL_RETRY);
	assert_int_equal(d.wait_ms, 2000);
	assert_true(d.server_paced);
	assert_int_equal(d.tries.retries, 2);

	d = fill_decide(FILL_STEP_APPLY, &e, &t, 1999, &POLICY);
	assert_int_equal(d.verdict, FILL_GIVE_UP);
	assert_int_equal(d.eno, EAGAIN);
	assert_false(d.unreachable);

	e.retry_after_ms = -1; /* no hint: the backoff of the next try, 400 */
	d = fill_decide(FILL_STEP_APPLY, &e, &t, 399, &POLICY);
	assert_int_equal(d.verdict, FILL_GIVE_UP);
	assert_int_equal(d.eno, EAGAIN);
	d = fill_decide(FILL_STEP_APPLY, &e, &t, 400, &POLICY);
	assert_int_equal(d.verdict, FILL_RETRY);
	assert_int_equal(d.wait_ms, 400);
}

/* A closed provider is waited out however long it says, past the deadline too; without a
 * hint the waits back off on their own count. */
static void test_closed_provider_waits(void **state)
{
	struct client_error e = error_of(CLIENT_E_UNAVAILABLE, 200, 3600000);
	struct fill_tries t = {2, 0, 0, 0};
	struct fill_decision d;

	d = fill_decide(FILL_STEP_QUERY, &e, &t, 0, &POLICY);
	assert_int_equal(d.verdict, FILL_WAIT_CLOSED);
	assert_int_equal(d.wait_ms, 3600000);
	assert_int_equal(d.tries.waits, 0);
	assert_int_equal(d.tries.retries, 2);

	e.retry_after_ms = -1;
	d = fill_decide(FILL_STEP_QUERY, &e, &t, MS_LEFT, &POLICY);
	assert_int_equal(d.wait_ms, 100);
	assert_int_equal(d.tries.waits, 1);
	t.waits = 4;
	d = fill_decide(FILL_STEP_QUERY, &e, &t, MS_LEFT, &POLICY);
	assert_int_equal(d.wait_ms, 800);
	assert_int_equal(d.tries.waits, 5);
}

/* A dead download URL is replaced retry_limit + 1 times in a row, then the flight ends. */
static void test_url_refreshes_are_bounded(void **state)
{
	struct client_error e = error_of(CLIENT_E_URL_EXPIRED, 403, -1);
	struct fill_tries t = {0, 0, 0, 0};
	struct fill_decision d;

	for (int i = 0; i < POLICY.retry_limit + 1; i++) {
		d = fill_decide(FILL_STEP_DOWNLOAD, &e, &t, MS_LEFT, &POLICY);
		assert_int_equal(d.verdict, FILL_REFRESH_URL);
		assert_int_equal(d.tries.url_refreshes, i + 1);
		t = d.tries;
	}
	d = fill_decide(FILL_STEP_DOWNLOAD, &e, &t, MS_LEFT, &POLICY);
	assert_int_equal(d.verdict, FILL_GIVE_UP);
	assert_int_equal(d.eno, EIO);
	assert_false(d.unreachable);
}

/* A local failure gives its own errno; only a download's drops the .part. */
static void test_local_error_keeps_its_errno(void **state)
{
	struct client_error e = error_of(CLIENT_E_LOCAL, 0, -1);

	e.sys_errno = ENOSPC;
	for (int s = 0; s < N_STEPS; s++) {
		struct fill_decision d = decide((enum fill_step)s, &e, 0);
		assert_int_equal(d.verdict, FILL_GIVE_UP);
		assert_int_equal(d.eno, ENOSPC);
		assert_int_equal(d.drop_part, s == FILL_STEP_DOWNLOAD);
	}
}

/* Only a fault that is retried or waited out changes the counts it is about. */
static void test_counts_untouched_by_other_kinds(void **state)
{
	const struct fill_tries t = {2, 1, 3, 0};

	for (int s = 0; s < N_STEPS; s++)
		for (int k = 0; k < N_KINDS; k++) {
			struct client_error e = error_of((enum client_errkind)k, 0, 1000);
			struct fill_decision d =
				fill_decide((enum fill_step)s, &e, &t, MS_LEFT, &POLICY);
			assert_int_equal(d.tries.retries, t.retries + (k == CLIENT_E_TRANSIENT));
			assert_int_equal(d.tries.url_refreshes,
					 t.url_refreshes + (k == CLIENT_E_URL_EXPIRED &&
							    s == FILL_STEP_DOWNLOAD));
			assert_int_equal(d.tries.waits, t.waits);
			assert_int_equal(d.drop_part,
					 k == CLIENT_E_LOCAL && s == FILL_STEP_DOWNLOAD);
		}
}

/* A download slower than download_min_rate (code PROVIDER_CODE_STALL) is retried with
 * backoff, counted apart from other transient faults (progress does not forgive it), and
 * after retry_limit stalls the export gives up with ETIMEDOUT. */
static void test_stalls_are_bounded_and_time_out(void **state)
{
	struct client_error e = error_of(CLIENT_E_TRANSIENT, 200, -1);
	struct fill_tries t = {0, 0, 0, 0};
	struct fill_decision d;

	snprintf(e.code, sizeof(e.code), "%s", PROVIDER_CODE_STALL);
	for (int i = 1; i < POLICY.retry_limit; i++) {
		d = fill_decide(FILL_STEP_DOWNLOAD, &e, &t, MS_LEFT, &POLICY);
		assert_int_equal(d.verdict, FILL_RETRY);
		assert_int_equal(d.tries.stalls, i);
		assert_int_equal(d.tries.retries, 0);
		t = d.tries;
		t.retries = 0; /* what progress does to the other faults */
	}
	d = fill_decide(FILL_STEP_FETCH, &e, &t, MS_LEFT, &POLICY);
	assert_int_equal(d.verdict, FILL_GIVE_UP);
	assert_int_equal(d.eno, ETIMEDOUT);
}

static void test_backoff_doubles_to_the_cap(void **state)
{
	assert_int_equal(fill_backoff_ms(&POLICY, 1), 100);
	assert_int_equal(fill_backoff_ms(&POLICY, 2), 200);
	assert_int_equal(fill_backoff_ms(&POLICY, 3), 400);
	assert_int_equal(fill_backoff_ms(&POLICY, 4), 800);
	assert_int_equal(fill_backoff_ms(&POLICY, 40), 800);
	assert_int_equal(fill_backoff_ms(&POLICY, 0), 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_table_covers_every_kind_for_every_step),
		cmocka_unit_test(test_http_status_does_not_matter),
		cmocka_unit_test(test_transient_counts_up_to_the_limit),
		cmocka_unit_test(test_rate_limit_within_the_deadline),
		cmocka_unit_test(test_closed_provider_waits),
		cmocka_unit_test(test_url_refreshes_are_bounded),
		cmocka_unit_test(test_local_error_keeps_its_errno),
		cmocka_unit_test(test_counts_untouched_by_other_kinds),
		cmocka_unit_test(test_backoff_doubles_to_the_cap),
		cmocka_unit_test(test_stalls_are_bounded_and_time_out),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
