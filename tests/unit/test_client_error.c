/* client/error.c: the typed client error and the one errno table. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../client/provider.h"

static int errno_of(enum client_errkind kind, int sys_errno)
{
	struct client_error e;
	client_error_clear(&e);
	e.kind = kind;
	e.sys_errno = sys_errno;
	return client_error_to_errno(&e);
}

static void test_clear(void **state)
{
	struct client_error e;
	memset(&e, 0x5a, sizeof(e));
	client_error_clear(&e);
	assert_int_equal(e.kind, CLIENT_OK);
	assert_int_equal(e.retry_after_ms, -1);
	assert_int_equal(e.http_status, 0);
	assert_string_equal(e.code, "");
	assert_string_equal(e.msg, "");
}

static void test_set_formats_and_keeps_code(void **state)
{
	struct client_error e;
	client_error_clear(&e);
	strcpy(e.code, "2003");
	e.http_status = 200;
	client_error_set(&e, CLIENT_E_BUSINESS, "range %d days", 8);
	assert_int_equal(e.kind, CLIENT_E_BUSINESS);
	assert_string_equal(e.msg, "range 8 days");
	assert_string_equal(e.code, "2003");
	assert_int_equal(e.http_status, 200);
}

static void test_set_truncates(void **state)
{
	struct client_error e;
	char big[PROVIDER_MSG_MAX * 2];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	client_error_clear(&e);
	client_error_set(&e, CLIENT_E_PROTOCOL, "%s", big);
	assert_int_equal(strlen(e.msg), PROVIDER_MSG_MAX - 1);
}

static void test_errno_table(void **state)
{
	assert_int_equal(errno_of(CLIENT_OK, 0), 0);
	assert_int_equal(errno_of(CLIENT_E_TRANSIENT, 0), EIO);
	assert_int_equal(errno_of(CLIENT_E_RATE_LIMIT, 0), EAGAIN);
	assert_int_equal(errno_of(CLIENT_E_UNAVAILABLE, 0), EAGAIN);
	assert_int_equal(errno_of(CLIENT_E_BUSINESS, 0), EIO);
	assert_int_equal(errno_of(CLIENT_E_URL_EXPIRED, 0), EIO);
	assert_int_equal(errno_of(CLIENT_E_FILE_EXPIRED, 0), EIO);
	assert_int_equal(errno_of(CLIENT_E_NOT_FOUND, 0), EIO);
	assert_int_equal(errno_of(CLIENT_E_PROTOCOL, 0), EIO);
	assert_int_equal(errno_of(CLIENT_E_INVALID, 0), EINVAL);
	assert_int_equal(errno_of(CLIENT_E_AUTH, 0), EIO);
	assert_int_equal(errno_of(CLIENT_E_CANCELLED, 0), EINTR);
}

static void test_errno_local_uses_sys_errno(void **state)
{
	assert_int_equal(errno_of(CLIENT_E_LOCAL, ENOSPC), ENOSPC);
	assert_int_equal(errno_of(CLIENT_E_LOCAL, ENOMEM), ENOMEM);
	assert_int_equal(errno_of(CLIENT_E_LOCAL, 0), EIO);
}

/* A broken bound is a protocol error the reader sees as EPROTO, and it is not retried. */
static void test_bound_is_eproto(void **state)
{
	struct client_error e;

	client_error_clear(&e);
	client_error_bound(&e, "%d orders past totalNum %d", 5000, 50);
	assert_int_equal(e.kind, CLIENT_E_PROTOCOL);
	assert_string_equal(e.msg, "5000 orders past totalNum 50");
	assert_int_equal(client_error_to_errno(&e), EPROTO);
	assert_false(client_error_retryable(&e));
	client_error_clear(&e);
	client_error_set(&e, CLIENT_E_PROTOCOL, "plain");
	assert_int_equal(client_error_to_errno(&e), EIO);
}

static void test_retryable(void **state)
{
	struct client_error e;
	client_error_clear(&e);
	for (int k = CLIENT_OK; k <= CLIENT_E_CANCELLED; k++) {
		e.kind = (enum client_errkind)k;
		int want = k == CLIENT_E_TRANSIENT || k == CLIENT_E_RATE_LIMIT ||
			   k == CLIENT_E_UNAVAILABLE;
		assert_int_equal(!!client_error_retryable(&e), want);
	}
}

static void test_names(void **state)
{
	assert_string_equal(client_errkind_name(CLIENT_OK), "ok");
	assert_string_equal(client_errkind_name(CLIENT_E_TRANSIENT), "transient");
	assert_string_equal(client_errkind_name(CLIENT_E_AUTH), "auth");
	assert_string_equal(client_errkind_name(CLIENT_E_BUSINESS), "refused");
	assert_string_equal(client_errkind_name((enum client_errkind)99), "unknown");
	for (int k = CLIENT_OK; k <= CLIENT_E_CANCELLED; k++)
		assert_string_not_equal(client_errkind_name((enum client_errkind)k), "unknown");
	assert_string_equal(export_state_name(EXPORT_PENDING), "pending");
	assert_string_equal(export_state_name(EXPORT_NO_DATA), "no-data");
	assert_string_equal(export_state_name((enum export_state)7), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clear),
		cmocka_unit_test(test_set_formats_and_keeps_code),
		cmocka_unit_test(test_set_truncates),
		cmocka_unit_test(test_errno_table),
		cmocka_unit_test(test_errno_local_uses_sys_errno),
		cmocka_unit_test(test_retryable),
		cmocka_unit_test(test_bound_is_eproto),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
