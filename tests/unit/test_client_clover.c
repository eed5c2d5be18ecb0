/* client/clover/clover.c without a server: construction, fields, check(), hours, verify(). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../common/bundle.h"
#include "../../client/clover/clover.h"
#include "../../common/date.h"
#include "../../common/log.h"

#define TOKEN "tok-do-not-print-0123456789"
#define HOUR 3600000LL
#define MON_0518 1779062400000LL /* Monday 2026-05-18 00:00 UTC */
/* Nothing listens on port 1: a request that is sent fails fast as transient. */
#define DEAD_URL "http://127.0.0.1:1/"

static int64_t pinned;

static int64_t pinned_ms(void)
{
	return pinned;
}

static struct provider *make(const char *base, const char *mid, const char *token,
			     const char *region, struct client_error *e)
{
	struct clover_config cfg = {0};
	cfg.base_url = base;
	cfg.merchant_id = mid;
	cfg.token = token;
	cfg.region = region;
	cfg.connect_timeout_ms = 2000;
	cfg.now_ms = pinned_ms;
	client_error_clear(e);
	return clover_new(&cfg, e);
}

/* Every log line, to prove the token never reaches one. */
static char logged[16384];

static void hook(int level, const char *line, void *arg)
{
	size_t n = strlen(logged);
	snprintf(logged + n, sizeof(logged) - n, "%s\n", line);
}

static int setup(void **state)
{
	pinned = MON_0518 + 12 * HOUR;
	logged[0] = '\0';
	log_init(0, LOG_DEBUG);
	log_set_hook(hook, NULL);
	return 0;
}

static int teardown(void **state)
{
	log_set_hook(NULL, NULL);
	assert_null(strstr(logged, TOKEN));
	return 0;
}

static void test_provider_fields(void **state)
{
	struct client_error e;
	struct provider *p = make("https://sandbox.dev.clover.com/", "MID0123456789", TOKEN, "us",
				  &e);
	assert_non_null(p);
	assert_string_equal(p->name, "clover");
	assert_string_equal(p->account, "MID0123456789");
	assert_int_equal(p->max_range_days, 30);
	assert_int_equal(p->window_months, 12);
	assert_int_equal(p->ntypes, 2);
	const char *names[2][2] = {{"ORDERS", "orders"}, {"PAYMENTS", "payments"}};
	for (size_t i = 0; i < 2; i++) {
		assert_string_equal(p->types[i].report_type, names[i][0]);
		assert_string_equal(p->types[i].base_name, names[i][1]);
		assert_null(p->types[i].ext);
		assert_string_equal(p->types[i].suffixes[0], ".xlsx");
		assert_string_equal(p->types[i].suffixes[1], ".jsonl");
		assert_string_equal(p->types[i].suffixes[2], ".csv");
		assert_null(p->types[i].suffixes[3]);
		assert_string_equal(p->types[i].numbered_ext, "json");
	}
	assert_non_null(p->ops->fetch);
	assert_non_null(p->ops->verify);
	provider_destroy(p);
}

static void test_new_refuses_bad_config(void **state)
{
	struct client_error e;
	const struct {
		const char *base, *mid, *token, *region;
	} bad[] = {
		{"ftp://x", "M1", TOKEN, NULL},	      {NULL, "M1", TOKEN, NULL},
		{DEAD_URL, "", TOKEN, NULL},	      {DEAD_URL, NULL, TOKEN, NULL},
		{DEAD_URL, "M/1", TOKEN, NULL},	      {DEAD_URL, "M 1", TOKEN, NULL},
		{DEAD_URL, "M1", "", NULL},	      {DEAD_URL, "M1", NULL, NULL},
		{DEAD_URL, "M1", "tok en", NULL},     {DEAD_URL, "M1", "tok\r\nX: y", NULL},
		{DEAD_URL, "M1", TOKEN, "apac"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_null(make(bad[i].base, bad[i].mid, bad[i].token, bad[i].region, &e));
		assert_int_equal(e.kind, CLIENT_E_INVALID);
		assert_null(strstr(e.msg, TOKEN));
	}
	const char *regions[] = {NULL, "us", "eu", "la", "sandbox"};
	for (size_t i = 0; i < sizeof(regions) / sizeof(regions[0]); i++) {
		struct provider *p = make(DEAD_URL, "M1", TOKEN, regions[i], &e);
		assert_non_null(p);
		provider_destroy(p);
	}
}

static int check(struct provider *p, const char *type, struct date_range r,
		 struct client_error *e)
{
	struct export_request req = {type, NULL, r};
	struct date today = {2026, 5, 20};
	client_error_clear(e);
	return p->ops->check(p, &req, (int64_t)date_start_time(&today) + 12 * 3600, e);
}

static void test_check_rules(void **state)
{
	struct client_error e;
	struct provider *p = make(DEAD_URL, "M1", TOKEN, NULL, &e);
	assert_non_null(p);
	struct date_range d30 = {{2026, 4, 21}, {2026, 5, 20}};
	assert_int_equal(check(p, "ORDERS", d30, &e), 0);
	assert_int_equal(check(p, "PAYMENTS", d30, &e), 0);
	struct date_range d31 = {{2026, 4, 20}, {2026, 5, 20}};
	assert_int_equal(check(p, "ORDERS", d31, &e), -1);
	assert_int_equal(e.kind, CLIENT_E_INVALID);
	struct date_range reversed = {{2026, 5, 19}, {2026, 5, 18}};
	assert_int_equal(check(p, "ORDERS", reversed, &e), -1);
	assert_int_equal(e.kind, CLIENT_E_INVALID);
	struct date_range future = {{2026, 5, 20}, {2026, 5, 21}};
	assert_int_equal(check(p, "ORDERS", future, &e), -1);
	struct date_range year_ago = {{2025, 5, 20}, {2025, 5, 21}};
	assert_int_equal(check(p, "ORDERS", year_ago, &e), 0);
	struct date_range too_old = {{2025, 5, 19}, {2025, 5, 21}};
	assert_int_equal(check(p, "ORDERS", too_old, &e), -1);
	struct date_range one = {{2026, 5, 18}, {2026, 5, 18}};
	assert_int_equal(check(p, "order", one, &e), -1);
	assert_int_equal(e.kind, CLIENT_E_INVALID);
	assert_int_equal(check(p, NULL, one, &e), -1);
	assert_int_equal(e.kind, CLIENT_E_INVALID);
	provider_destroy(p);
}

static void test_apply_outside_hours_sends_nothing(void **state)
{
	struct client_error e;
	struct export_task t;
	struct export_request req = {"ORDERS", NULL, {{2026, 5, 17}, {2026, 5, 17}}};
	struct provider *p = make(DEAD_URL, "M1", TOKEN, "eu", &e);
	assert_non_null(p);
	/* Monday 12:00: EU opens Tuesday 01:00, 13 h later. A request sent to the dead port
	 * would come back transient instead. */
	assert_int_equal(p->ops->apply(p, &req, &t, &e), -1);
	assert_int_equal(e.kind, CLIENT_E_UNAVAILABLE);
	assert_int_equal(e.retry_after_ms, 13 * HOUR);
	assert_string_equal(e.msg, "outside service hours; opens 01:00 UTC");
	assert_string_equal(e.code, PROVIDER_CODE_SERVICE_HOURS);
	assert_int_equal(e.http_status, 0);
	provider_destroy(p);

	p = make(DEAD_URL, "M1", TOKEN, "us", &e);
	pinned = MON_0518 + 15 * HOUR + 30 * 60000; /* 15:30: tomorrow 10:00 */
	assert_int_equal(p->ops->apply(p, &req, &t, &e), -1);
	assert_int_equal(e.kind, CLIENT_E_UNAVAILABLE);
	assert_int_equal(e.retry_after_ms, 18 * HOUR + 30 * 60000);
	assert_string_equal(e.msg, "outside service hours; opens 10:00 UTC");
	provider_destroy(p);
}

static void test_apply_in_hours_goes_to_the_network(void **state)
{
	struct client_error e;
	struct export_task t;
	struct export_request req = {"ORDERS", NULL, {{2026, 5, 17}, {2026, 5, 17}}};
	struct provider *p = make(DEAD_URL, "M1", TOKEN, "us", &e);
	assert_non_null(p);
	assert_int_equal(p->ops->apply(p, &req, &t, &e), -1);
	assert_int_equal(e.kind, CLIENT_E_TRANSIENT); /* connection refused */
	assert_null(strstr(e.msg, TOKEN));
	/* a bad type is refused before any request */
	req.report_type = "REFUNDS";
	assert_int_equal(p->ops->apply(p, &req, &t, &e), -1);
	assert_int_equal(e.kind, CLIENT_E_INVALID);
	provider_destroy(p);
}

static void test_task_ids_checked_before_sending(void **state)
{
	struct client_error e;
	struct export_task t;
	struct download_url u[2];
	size_t n = 9;
	struct provider *p = make(DEAD_URL, "M1", TOKEN, NULL, &e);
	assert_non_null(p);
	const char *bad[] = {"", "../../x", "a?access_token=1", "a b"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		client_error_clear(&e);
		assert_int_equal(p->ops->query(p, bad[i], &t, &e), -1);
		assert_int_equal(e.kind, CLIENT_E_INVALID);
		assert_int_equal(p->ops->get_urls(p, bad[i], u, 2, &n, &e), -1);
		assert_int_equal(e.kind, CLIENT_E_INVALID);
		assert_int_equal(n, 0);
	}
	provider_destroy(p);
}

static int null_begin(void *ctx, uint64_t off, uint64_t total)
{
	return 0;
}

static int null_write(void *ctx, const void *buf, size_t len, uint64_t off)
{
	return 0;
}

static void test_download_past_available_until(void **state)
{
	struct client_error e;
	struct download_url u = {"http://127.0.0.1:1/files/t/E-1.json", MON_0518};
	struct download_sink s = {null_begin, null_write, NULL, NULL, NULL};
	uint64_t total = 0;
	struct provider *p = make(DEAD_URL, "M1", TOKEN, NULL, &e);
	assert_non_null(p);
	assert_int_equal(p->ops->download(p, &u, 0, &s, &total, &e), -1);
	assert_int_equal(e.kind, CLIENT_E_FILE_EXPIRED);
	assert_int_equal(total, UINT64_MAX);
	provider_destroy(p);
}

/* ---- verify: a bundle written to a temp file ---- */

struct fd_sink {
	int fd;
};

static int fd_begin(void *ctx, uint64_t off, uint64_t total)
{
	return ftruncate(((struct fd_sink *)ctx)->fd, (off_t)off) ? -errno : 0;
}

static int fd_write(void *ctx, const void *buf, size_t len, uint64_t off)
{
	return pwrite(((struct fd_sink *)ctx)->fd, buf, len, (off_t)off) == (ssize_t)len ? 0
											    : -EIO;
}

/* A bundle with the named members (each holding its own name) in a fresh temp file. */
static int bundle_file(const char *const *names, size_t n, uint64_t *size)
{
	char path[] = "/tmp/test-clover-XXXXXX";
	struct fd_sink fs = {mkstemp(path)};
	struct download_sink s = {fd_begin, fd_write, &fs, NULL, NULL};
	struct bundle_writer w;
	assert_true(fs.fd >= 0);
	unlink(path);
	assert_int_equal(bundle_begin(&w, &s), 0);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(bundle_member_start(&w, names[i]), 0);
		assert_int_equal(bundle_write(&w, names[i], strlen(names[i])), 0);
		assert_int_equal(bundle_member_end(&w), 0);
	}
	assert_int_equal(bundle_finish(&w, size), 0);
	bundle_writer_free(&w);
	return fs.fd;
}

static void test_verify(void **state)
{
	struct client_error e;
	uint64_t size;
	struct provider *p = make(DEAD_URL, "M1", TOKEN, NULL, &e);
	assert_non_null(p);

	const char *whole[] = {"payments-0001.json", "payments.jsonl", "payments.csv",
			       "payments.xlsx"};
	int fd = bundle_file(whole, 4, &size);
	client_error_clear(&e);
	assert_int_equal(p->ops->verify(p, fd, size, &e), 0);
	/* a bundle cut short is no bundle */
	client_error_clear(&e);
	assert_int_equal(p->ops->verify(p, fd, size - 1, &e), -1);
	assert_int_equal(e.kind, CLIENT_E_TRANSIENT);
	close(fd);

	const char *empty_export[] = {"orders.jsonl", "orders.csv", "orders.xlsx"};
	fd = bundle_file(empty_export, 3, &size);
	assert_int_equal(p->ops->verify(p, fd, size, &e), 0);
	close(fd);

	const char *no_csv[] = {"orders-0001.json", "orders.jsonl"};
	fd = bundle_file(no_csv, 2, &size);
	client_error_clear(&e);
	assert_int_equal(p->ops->verify(p, fd, size, &e), -1);
	assert_int_equal(e.kind, CLIENT_E_TRANSIENT);
	close(fd);

	const char *mixed[] = {"orders.jsonl", "payments.csv"};
	fd = bundle_file(mixed, 2, &size);
	client_error_clear(&e);
	assert_int_equal(p->ops->verify(p, fd, size, &e), -1);
	assert_int_equal(e.kind, CLIENT_E_TRANSIENT);
	close(fd);

	const char *no_xlsx[] = {"orders-0001.json", "orders.jsonl", "orders.csv"};
	fd = bundle_file(no_xlsx, 3, &size);
	client_error_clear(&e);
	assert_int_equal(p->ops->verify(p, fd, size, &e), -1);
	assert_int_equal(e.kind, CLIENT_E_TRANSIENT);
	close(fd);
	provider_destroy(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_provider_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_refuses_bad_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_outside_hours_sends_nothing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_apply_in_hours_goes_to_the_network, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_task_ids_checked_before_sending, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_download_past_available_until, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_verify, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
