/* client/vexora/vexora.c without network: construction, provider fields, local check() rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "../../common/date.h"
#include "../../client/vexora/vexora.h"

#define SECRET "s3cr3t-do-not-print"

static int64_t pinned_ms(void)
{
	return 1779172654161LL;
}

static struct provider *make(const char *base, const char *merchant, const char *secret,
			     struct client_error *e)
{
	struct vexora_config cfg = {0};
	cfg.base_url = base;
	cfg.merchant_no = merchant;
	cfg.secret = secret;
	cfg.now_ms = pinned_ms;
	client_error_clear(e);
	return vexora_new(&cfg, e);
}

/* now_s at noon local time of d, so "today" is d. */
static int64_t noon(int y, int m, int d)
{
	struct date day = {y, m, d};
	return (int64_t)date_start_time(&day) + 12 * 3600;
}

static int check(struct provider *p, const char *type, const char *lang, struct date_range r,
		 struct client_error *e)
{
	struct export_request req = {type, lang, r};
	client_error_clear(e);
	return p->ops->check(p, &req, noon(2026, 5, 20), e);
}

static void test_provider_fields(void **state)
{
	struct client_error e;
	struct provider *p = make("https://sandbox-api.vexora.com/nigeria/", "M100200", SECRET, &e);
	assert_non_null(p);
	assert_string_equal(p->name, "vexora");
	assert_string_equal(p->account, "M100200");
	assert_int_equal(p->max_range_days, 7);
	assert_int_equal(p->window_months, 3);
	assert_int_equal(p->ntypes, 1);
	assert_string_equal(p->types[0].ext, "xlsx");
	assert_string_equal(p->types[0].base_name, "orders");
	provider_destroy(p);
}

static void test_new_refuses_bad_config(void **state)
{
	struct client_error e;
	assert_null(make("ftp://h", "M1", SECRET, &e));
	assert_int_equal(e.kind, CLIENT_E_INVALID);
	assert_null(make("http://h", "", SECRET, &e));
	assert_int_equal(e.kind, CLIENT_E_INVALID);
	assert_null(make("http://h", "M1\r\nX-Evil: 1", SECRET, &e));
	assert_int_equal(e.kind, CLIENT_E_INVALID);
	assert_null(make("http://h", "M1", "", &e));
	assert_int_equal(e.kind, CLIENT_E_INVALID);
	assert_null(strstr(e.msg, SECRET));
}

static void test_check_accepts_valid(void **state)
{
	struct client_error e;
	struct provider *p = make("http://127.0.0.1:1", "M1", SECRET, &e);
	assert_int_equal(check(p, "order", NULL, (struct date_range){{2026, 5, 14}, {2026, 5, 20}},
			       &e),
			 0);
	assert_int_equal(check(p, NULL, "zh-CN", (struct date_range){{2026, 2, 20}, {2026, 2, 20}},
			       &e),
			 0);
	provider_destroy(p);
}

static void test_check_range_rules(void **state)
{
	struct client_error e;
	struct provider *p = make("http://127.0.0.1:1", "M1", SECRET, &e);
	struct date_range bad[] = {
		{{2026, 5, 19}, {2026, 5, 18}}, /* start after end */
		{{2026, 5, 13}, {2026, 5, 20}}, /* 8 days */
		{{2026, 2, 19}, {2026, 2, 21}}, /* before the 3-month window */
		{{2026, 5, 20}, {2026, 5, 21}}, /* ends in the future */
	};
	const char *words[] = {"after", "longer", "window", "future"};
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(check(p, "order", NULL, bad[i], &e), -1);
		assert_int_equal(e.kind, CLIENT_E_INVALID);
		assert_non_null(strstr(e.msg, words[i]));
		assert_null(strstr(e.msg, SECRET));
	}
	provider_destroy(p);
}

static void test_check_report_type_and_language(void **state)
{
	struct client_error e;
	struct provider *p = make("http://127.0.0.1:1", "M1", SECRET, &e);
	struct date_range ok = {{2026, 5, 18}, {2026, 5, 19}};
	assert_int_equal(check(p, "refund", NULL, ok, &e), -1);
	assert_int_equal(e.kind, CLIENT_E_INVALID);
	assert_non_null(strstr(e.msg, "reportType"));
	assert_int_equal(check(p, "order", "fr-FR", ok, &e), -1);
	assert_int_equal(e.kind, CLIENT_E_INVALID);
	assert_non_null(strstr(e.msg, "language"));
	provider_destroy(p);
}

static void test_download_refuses_expired_url(void **state)
{
	struct client_error e;
	struct provider *p = make("http://127.0.0.1:1", "M1", SECRET, &e);
	struct download_url u = {"http://127.0.0.1:1/download/x", pinned_ms() - 1};
	uint64_t total;
	assert_int_equal(p->ops->download(p, &u, 0, NULL, &total, &e), -1);
	assert_int_equal(e.kind, CLIENT_E_URL_EXPIRED);
	provider_destroy(p);
}

static void test_query_refuses_empty_id(void **state)
{
	struct client_error e;
	struct export_task t;
	struct provider *p = make("http://127.0.0.1:1", "M1", SECRET, &e);
	assert_int_equal(p->ops->query(p, "", &t, &e), -1);
	assert_int_equal(e.kind, CLIENT_E_INVALID);
	provider_destroy(p);
}

int main(void)
{
	setenv("TZ", "UTC0", 1);
	tzset();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_provider_fields),
		cmocka_unit_test(test_new_refuses_bad_config),
		cmocka_unit_test(test_check_accepts_valid),
		cmocka_unit_test(test_check_range_rules),
		cmocka_unit_test(test_check_report_type_and_language),
		cmocka_unit_test(test_download_refuses_expired_url),
		cmocka_unit_test(test_query_refuses_empty_id),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
