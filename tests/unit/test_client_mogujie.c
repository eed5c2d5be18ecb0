/* client/mogujie/mogujie.c without network: construction, provider fields, check/apply/query. */
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

#include "../../common/date.h"
#include "../../client/mogujie/mogujie.h"

#define SECRET "MGJ-secret-0123456789-do-not-print"

static char dir[64], work[96];
static int64_t pinned;

static int64_t pinned_ms(void)
{
	return pinned;
}

/* now at noon local time of d, so "today" is d. */
static int64_t noon(int y, int m, int d)
{
	struct date day = {y, m, d};
	return (int64_t)date_start_time(&day) + 12 * 3600;
}

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/orderfs-mgj-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(work, sizeof(work), "%s/work", dir);
	pinned = noon(2026, 5, 20) * 1000;
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct mogujie_config config(void)
{
	struct mogujie_config c = {0};
	c.base_url = "https://openapi.mogujie.com/";
	c.app_key = "100234";
	c.secret = SECRET;
	c.token_file = "/nonexistent/token";
	c.work_dir = work;
	c.now_ms = pinned_ms;
	return c;
}

static struct provider *make(struct client_error *e)
{
	struct mogujie_config c = config();
	client_error_clear(e);
	return mogujie_new(&c, e);
}

static void test_provider_fields(void **state)
{
	struct client_error e;
	struct stat st;
	struct provider *p = make(&e);
	assert_non_null(p);
	assert_string_equal(p->name, "mogujie");
	assert_string_equal(p->account, "100234");
	assert_int_equal(p->max_range_days, 31);
	assert_int_equal(p->window_months, 12);
	assert_int_equal(p->ntypes, 1);
	assert_string_equal(p->types[0].report_type, "orders");
	assert_string_equal(p->types[0].base_name, "orders");
	assert_null(p->types[0].ext);
	assert_string_equal(p->types[0].suffixes[0], ".xlsx");
	assert_string_equal(p->types[0].suffixes[1], ".csv");
	assert_string_equal(p->types[0].suffixes[2], ".jsonl");
	assert_null(p->types[0].suffixes[3]);
	assert_non_null(p->ops->fetch);
	/* work_dir was created private */
	assert_int_equal(stat(work, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	provider_destroy(p);
}

static void test_bad_config(void **state)
{
	struct client_error e;
	struct mogujie_config c;
	const char *modes[] = {"gcm"};

	c = config();
	c.secret = "short-secret";
	assert_null(mogujie_new(&c, &e));
	assert_int_equal(e.kind, CLIENT_E_INVALID);
	assert_null(strstr(e.msg, "short-secret"));
	c = config();
	c.base_url = "ftp://x";
	assert_null(mogujie_new(&c, &e));
	assert_int_equal(e.kind, CLIENT_E_INVALID);
	c = config();
	c.decrypt_mode = modes[0];
	assert_null(mogujie_new(&c, &e));
	assert_int_equal(e.kind, CLIENT_E_INVALID);
	c = config();
	c.app_key = "has space";
	assert_null(mogujie_new(&c, &e));
	c = config();
	c.token_file = NULL;
	assert_null(mogujie_new(&c, &e));
	c = config();
	c.oauth_url = "file:///etc/passwd";
	assert_null(mogujie_new(&c, &e));
	assert_int_equal(e.kind, CLIENT_E_INVALID);
}

static int check(struct provider *p, const char *range, struct client_error *e)
{
	struct export_request req = {"orders", NULL, {{0}, {0}}};
	assert_int_equal(date_range_parse(range, &req.range, NULL), 0);
	client_error_clear(e);
	return p->ops->check(p, &req, noon(2026, 5, 20), e);
}

static void test_check_rules(void **state)
{
	struct client_error e;
	struct provider *p = make(&e);
	assert_int_equal(check(p, "2026-04-20..2026-05-20", &e), 0); /* 31 days, to today */
	assert_int_equal(check(p, "2026-04-19..2026-05-20", &e), -1); /* 32 days */
	assert_int_equal(e.kind, CLIENT_E_INVALID);
	assert_int_equal(check(p, "2025-05-20..2025-05-21", &e), 0); /* exactly 365 days back */
	assert_int_equal(check(p, "2025-05-19..2025-05-21", &e), -1); /* 366 */
	assert_non_null(strstr(e.msg, "older than a year"));
	assert_int_equal(check(p, "2026-05-20..2026-05-21", &e), -1); /* the future */
	struct export_request req = {"payments", NULL, {{2026, 5, 1}, {2026, 5, 2}}};
	assert_int_equal(p->ops->check(p, &req, noon(2026, 5, 20), &e), -1);
	assert_int_equal(e.kind, CLIENT_E_INVALID);
	provider_destroy(p);
}

static void test_apply_query_no_network(void **state)
{
	struct client_error e;
	struct export_task t, q;
	struct provider *p = make(&e);
	struct export_request past = {"orders", NULL, {{2026, 5, 1}, {2026, 5, 19}}};
	struct export_request now = {"orders", NULL, {{2026, 5, 15}, {2026, 5, 20}}};

	assert_int_equal(p->ops->apply(p, &past, &t, &e), 0);
	assert_string_equal(t.id, "sync:2026-05-01..2026-05-19");
	assert_int_equal(t.state, EXPORT_GENERATED);
	assert_int_equal(t.progress, -1);
	assert_int_equal(t.expires, 0); /* past days: kept until evicted */
	assert_int_equal(p->ops->apply(p, &now, &t, &e), 0);
	/* reaching today: no provider expiry either, the cache's open_ttl re-syncs it */
	assert_int_equal(t.expires, 0);

	assert_int_equal(p->ops->query(p, "sync:2026-05-15..2026-05-20", &q, &e), 0);
	assert_string_equal(q.id, "sync:2026-05-15..2026-05-20");
	assert_int_equal(q.state, EXPORT_GENERATED);
	assert_int_equal(q.expires, t.expires);
	assert_int_equal(p->ops->query(p, "sync:2026-05-20..2026-05-15", &q, &e), -1);
	assert_int_equal(e.kind, CLIENT_E_NOT_FOUND);
	assert_int_equal(p->ops->query(p, "0123456789", &q, &e), -1);
	assert_int_equal(e.kind, CLIENT_E_NOT_FOUND);

	struct download_url u[2];
	size_t n = 9;
	assert_int_equal(p->ops->get_urls(p, t.id, u, 2, &n, &e), 0);
	assert_int_equal(n, 0);
	assert_int_equal(p->ops->download(p, &u[0], 0, NULL, NULL, &e), -1);
	assert_int_equal(e.kind, CLIENT_E_PROTOCOL);
	provider_destroy(p);
}

static void test_verify_wants_a_whole_bundle(void **state)
{
	struct client_error e;
	struct provider *p = make(&e);
	char path[128];
	snprintf(path, sizeof(path), "%s/not-a-bundle", dir);
	FILE *f = fopen(path, "w+");
	fputs("just some bytes, no trailer, nothing like a bundle at all......", f);
	fflush(f);
	client_error_clear(&e);
	assert_int_equal(p->ops->verify(p, fileno(f), 64, &e), -1);
	assert_int_equal(e.kind, CLIENT_E_TRANSIENT);
	fclose(f);
	unlink(path);
	provider_destroy(p);
}

static void test_fetch_refuses_early(void **state)
{
	struct client_error e;
	struct provider *p = make(&e);
	struct export_request req = {"orders", NULL, {{2026, 5, 1}, {2026, 5, 2}}};
	struct download_sink sink = {NULL, NULL, NULL, NULL, NULL};
	uint64_t total = 1;
	/* no read-back: refused before anything else */
	assert_int_equal(p->ops->fetch(p, "sync:2026-05-01..2026-05-02", &req, &sink, &total, &e),
			 -1);
	assert_int_equal(e.kind, CLIENT_E_LOCAL);
	assert_int_equal(total, 0);
	assert_int_equal(p->ops->fetch(p, "bogus", &req, &sink, &total, &e), -1);
	assert_int_equal(e.kind, CLIENT_E_NOT_FOUND);
	provider_destroy(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_provider_fields),
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_check_rules),
		cmocka_unit_test(test_apply_query_no_network),
		cmocka_unit_test(test_verify_wants_a_whole_bundle),
		cmocka_unit_test(test_fetch_refuses_early),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
