/* The fill engine and single-flight: cache_open end to end against the scripted fake. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "../../cache/cache.h"
#include "../../common/log.h"
#include "cache_harness.h"

#define UNUSED __attribute__((unused))



static const struct date_range *R1(void)
{
	static struct date_range r;
	r = fake_range("2026-05-18", "2026-05-19");
	return &r;
}

static int meta_has(struct env *e, const struct date_range *r, const char *needle)
{
	char path[512], buf[8192];
	key_path(e, r, ".meta", path, sizeof(path));
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strstr(buf, needle) != NULL;
}

/* apply -> applied (persisted) -> generating (persisted) -> downloading -> ready. */
static void test_fill_state_machine_step_by_step(void **state)
{
	struct env *e = *state;
	struct opener o;
	struct cache_info i;
	char path[512], sha[65];
	unsigned char *want = malloc(FILE_SIZE);

	env_start(e);
	fake_hold(e->p, FAKE_APPLY, NULL);
	opener_start(&o, e, R1());
	assert_int_equal(fake_wait_held(e->p, 1, WAIT_MS), 0);
	assert_int_equal(info_of(e, R1()).state, CACHE_QUEUED);

	fake_hold(e->p, FAKE_QUERY, NULL);
	fake_release(e->p, FAKE_APPLY);
	WAIT_UNTIL(fake_count(e->p, FAKE_QUERY) == 1 && fake_held(e->p) == 1);
	i = info_of(e, R1());
	assert_int_equal(i.state, CACHE_APPLIED);
	assert_string_equal(i.task_id, "task-1");
	assert_true(meta_has(e, R1(), "\"task_id\":\"task-1\""));
	assert_true(meta_has(e, R1(), "\"state\":\"applied\""));

	fake_step(e->p, FAKE_QUERY); /* PENDING */
	WAIT_UNTIL(fake_count(e->p, FAKE_QUERY) == 2 && fake_held(e->p) == 1);
	assert_int_equal(info_of(e, R1()).state, CACHE_APPLIED);
	fake_step(e->p, FAKE_QUERY); /* GENERATING */
	WAIT_UNTIL(fake_count(e->p, FAKE_QUERY) == 3 && fake_held(e->p) == 1);
	i = info_of(e, R1());
	assert_int_equal(i.state, CACHE_GENERATING);
	assert_int_equal(i.progress, 50);
	assert_true(meta_has(e, R1(), "\"state\":\"generating\""));

	fake_hold(e->p, FAKE_URLS, NULL);
	fake_step(e->p, FAKE_QUERY); /* GENERATED */
	WAIT_UNTIL(fake_count(e->p, FAKE_URLS) == 1 && fake_held(e->p) == 1);
	assert_int_equal(info_of(e, R1()).state, CACHE_DOWNLOADING);
	assert_true(meta_has(e, R1(), "\"state\":\"downloading\""));
	fake_release(e->p, FAKE_QUERY);
	fake_release(e->p, FAKE_URLS);

	pthread_join(o.th, NULL);
	assert_int_equal(o.rc, 0);
	assert_int_equal(o.len, FILE_SIZE);
	assert_int_equal(fake_range_content(e->p, R1(), want, FILE_SIZE), FILE_SIZE);
	assert_memory_equal(o.data, want, FILE_SIZE);
	free(o.data);

	i = info_of(e, R1());
	assert_int_equal(i.state, CACHE_READY);
	assert_int_equal(i.size, FILE_SIZE);
	sha_hex(want, FILE_SIZE, sha);
	assert_string_equal(i.sha256, sha);
	assert_string_equal(i.server_name, "Merchant Order List-task-1.xlsx");
	assert_true(meta_has(e, R1(), "\"state\":\"ready\""));
	assert_true(meta_has(e, R1(), sha));
	key_path(e, R1(), ".part", path, sizeof(path));
	assert_false(exists(path));
	key_path(e, R1(), ".data", path, sizeof(path));
	assert_true(exists(path));
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 1);
	assert_int_equal(fake_count(e->p, FAKE_CHECK), 1);
	free(want);
}

static void test_fill_single_flight_32_threads(void **state)
{
	struct env *e = *state;
	struct opener o[32];
	unsigned char *want = malloc(FILE_SIZE);

	env_start(e);
	fake_hold(e->p, FAKE_QUERY, NULL);
	for (int i = 0; i < 32; i++)
		opener_start(&o[i], e, R1());
	WAIT_UNTIL(stats_of(e).misses == 32);
	fake_release(e->p, FAKE_QUERY);
	assert_int_equal(fake_range_content(e->p, R1(), want, FILE_SIZE), FILE_SIZE);
	for (int i = 0; i < 32; i++) {
		pthread_join(o[i].th, NULL);
		assert_int_equal(o[i].rc, 0);
		assert_int_equal(o[i].len, FILE_SIZE);
		assert_memory_equal(o[i].data, want, FILE_SIZE);
		free(o[i].data);
	}
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 1);
	assert_int_equal(fake_bytes(e->p), FILE_SIZE);
	free(want);
}

static void test_fill_keys_are_independent(void **state)
{
	struct env *e = *state;
	struct date_range slow = fake_range("2026-05-10", "2026-05-11");
	struct opener o;

	e->cfg.max_exports = 2;
	env_start(e);
	fake_hold(e->p, FAKE_QUERY, &slow);
	opener_start(&o, e, &slow);
	assert_int_equal(fake_wait_held(e->p, 1, WAIT_MS), 0);
	assert_int_equal(open_check(e, R1()), 0); /* not blocked by the slow key */
	assert_int_equal(info_of(e, &slow).state, CACHE_APPLIED);
	fake_release(e->p, FAKE_QUERY);
	assert_int_equal(opener_join(&o), 0);
}

static void test_fill_max_exports_queue(void **state)
{
	struct env *e = *state;
	struct opener o[4];
	struct date_range r[4];
	struct cache_stats s;
	int queued = 0;

	e->cfg.max_exports = 2;
	env_start(e);
	fake_hold(e->p, FAKE_APPLY, NULL);
	for (int i = 0; i < 4; i++) {
		char a[16];
		snprintf(a, sizeof(a), "2026-05-%02d", 10 + i);
		r[i] = fake_range(a, a);
		opener_start(&o[i], e, &r[i]);
	}
	assert_int_equal(fake_wait_held(e->p, 2, WAIT_MS), 0);
	WAIT_UNTIL(stats_of(e).fills_queued == 2);
	s = stats_of(e);
	assert_int_equal(s.fills_running, 2);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 2);
	for (int i = 0; i < 4; i++)
		queued += info_of(e, &r[i]).state == CACHE_QUEUED;
	assert_int_equal(queued, 4); /* 2 waiting for a slot, 2 blocked before their apply */
	fake_release(e->p, FAKE_APPLY);
	for (int i = 0; i < 4; i++)
		assert_int_equal(opener_join(&o[i]), 0);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 4);
	assert_int_equal(stats_of(e).fills_running, 0);
}

/* A slot of max_exports bounds the exports at the provider: once A's file is generated,
 * B applies while A downloads. At most max_exports flights download so: C waits until one
 * of them ends. */
static void test_fill_slot_given_back_while_downloading(void **state)
{
	struct env *e = *state;
	struct opener o[3];
	struct date_range r[3] = {fake_range("2026-05-10", "2026-05-10"),
				  fake_range("2026-05-11", "2026-05-11"),
				  fake_range("2026-05-12", "2026-05-12")};

	e->cfg.max_exports = 1;
	e->p->shared_tasks = 1; /* exports run at the server, as Vexora's and Clover's */
	env_start(e);
	fake_hold(e->p, FAKE_DOWNLOAD, NULL);
	opener_start(&o[0], e, &r[0]);
	assert_int_equal(fake_wait_held(e->p, 1, WAIT_MS), 0); /* A downloads, held */
	opener_start(&o[1], e, &r[1]);
	WAIT_UNTIL(fake_count(e->p, FAKE_APPLY) == 2); /* B applied while A downloads */
	assert_int_equal(fake_wait_held(e->p, 2, WAIT_MS), 0); /* B reached its download */
	opener_start(&o[2], e, &r[2]);
	WAIT_UNTIL(info_of(e, &r[2]).state == CACHE_QUEUED);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 2); /* C: one download at a time given back */
	fake_release(e->p, FAKE_DOWNLOAD);
	for (int i = 0; i < 3; i++)
		assert_int_equal(opener_join(&o[i]), 0);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 3);
	assert_int_equal(stats_of(e).fills_running, 0);
}

/* Fair turns: user A queued three ranges, then user B one; when A's first export ends, the
 * slot goes to B's range, not to A's next (FIFO would keep B waiting for all of A's). */
static void test_fill_fair_turns_across_users(void **state)
{
	struct env *e = *state;
	struct opener a[3], b;
	struct date_range ra[3] = {fake_range("2026-05-10", "2026-05-10"),
				   fake_range("2026-05-11", "2026-05-11"),
				   fake_range("2026-05-12", "2026-05-12")};
	struct date_range rb = fake_range("2026-05-13", "2026-05-13");

	e->cfg.max_exports = 1;
	env_start(e);
	fake_hold(e->p, FAKE_APPLY, NULL);
	opener_start_as(&a[0], e, &ra[0], 1000);
	assert_int_equal(fake_wait_held(e->p, 1, WAIT_MS), 0); /* A's first export applies */
	for (int i = 1; i < 3; i++) {
		opener_start_as(&a[i], e, &ra[i], 1000);
		WAIT_UNTIL(info_of(e, &ra[i]).state == CACHE_QUEUED);
	}
	opener_start_as(&b, e, &rb, 2000);
	WAIT_UNTIL(info_of(e, &rb).state == CACHE_QUEUED);
	fake_step(e->p, FAKE_APPLY); /* A's first goes on and ends: the slot is free */
	WAIT_UNTIL(fake_count(e->p, FAKE_APPLY) == 2);
	assert_int_equal(fake_count_range(e->p, FAKE_APPLY, &rb), 1);
	assert_int_equal(fake_count_range(e->p, FAKE_APPLY, &ra[1]), 0);
	fake_release(e->p, FAKE_APPLY);
	for (int i = 0; i < 3; i++)
		assert_int_equal(opener_join(&a[i]), 0);
	assert_int_equal(opener_join(&b), 0);
}

/* A provider whose "export" is the local fetch itself (Mogujie's sync) keeps its slot. */
static void test_fill_local_job_keeps_its_slot(void **state)
{
	struct env *e = *state;
	struct opener o[2];
	struct date_range r[2] = {fake_range("2026-05-10", "2026-05-10"),
				  fake_range("2026-05-11", "2026-05-11")};

	e->cfg.max_exports = 1;
	env_start(e); /* shared_tasks 0 */
	fake_hold(e->p, FAKE_DOWNLOAD, NULL);
	opener_start(&o[0], e, &r[0]);
	assert_int_equal(fake_wait_held(e->p, 1, WAIT_MS), 0);
	opener_start(&o[1], e, &r[1]);
	WAIT_UNTIL(info_of(e, &r[1]).state == CACHE_QUEUED);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 1);
	fake_release(e->p, FAKE_DOWNLOAD);
	for (int i = 0; i < 2; i++)
		assert_int_equal(opener_join(&o[i]), 0);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 2);
}

static void test_fill_cancel_one_waiter(void **state)
{
	struct env *e = *state;
	struct opener a, b;

	env_start(e);
	fake_hold(e->p, FAKE_QUERY, NULL);
	opener_start(&a, e, R1());
	opener_start(&b, e, R1());
	WAIT_UNTIL(stats_of(e).misses == 2 && fake_held(e->p) == 1);
	int64_t t0 = fake_mono_ms();
	atomic_store(&a.cancel, 1);
	pthread_join(a.th, NULL);
	assert_int_equal(a.rc, -EINTR);
	assert_true(a.returned_ms - t0 < 300);
	fake_release(e->p, FAKE_QUERY);
	pthread_join(b.th, NULL);
	assert_int_equal(b.rc, 0);
	assert_int_equal(b.len, FILE_SIZE);
	free(b.data);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 1);
}

static void test_fill_cancelled_then_rejoin(void **state)
{
	struct env *e = *state;
	struct opener a;

	env_start(e);
	fake_hold(e->p, FAKE_QUERY, NULL);
	opener_start(&a, e, R1());
	assert_int_equal(fake_wait_held(e->p, 1, WAIT_MS), 0);
	atomic_store(&a.cancel, 1);
	assert_int_equal(opener_join(&a), -EINTR);
	fake_release(e->p, FAKE_QUERY);
	assert_int_equal(open_check(e, R1()), 0); /* joins or finds the same fill */
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 1);
}

static void test_fill_nodata_remembered(void **state)
{
	struct env *e = *state;
	enum export_state seq[] = {EXPORT_PENDING, EXPORT_NO_DATA};
	struct cache_handle *h = NULL;

	e->cfg.nodata_ttl_s = 60;
	env_start(e);
	fake_set_statuses(e->p, R1(), seq, 2);
	assert_int_equal(cache_open(e->c, 0, R1(), NULL, NULL, &h), -ENODATA);
	assert_null(h);
	struct cache_info i = info_of(e, R1());
	assert_int_equal(i.state, CACHE_NO_DATA);
	assert_int_equal(i.learned_time, pinned_now() / 1000);
	assert_true(meta_has(e, R1(), "\"state\":\"no-data\""));
	uint64_t q = fake_count(e->p, FAKE_QUERY);
	assert_int_equal(cache_open(e->c, 0, R1(), NULL, NULL, &h), -ENODATA);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 1);
	assert_int_equal(fake_count(e->p, FAKE_QUERY), q);
	clock_advance_s(61);
	assert_int_equal(cache_open(e->c, 0, R1(), NULL, NULL, &h), -ENODATA);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 2);
}

static void test_fill_failed_reapplied_next_open(void **state)
{
	struct env *e = *state;
	enum export_state failed[] = {EXPORT_GENERATING, EXPORT_FAILED};
	enum export_state ok[] = {EXPORT_GENERATED};
	struct cache_handle *h = NULL;

	env_start(e);
	fake_set_statuses(e->p, R1(), failed, 2);
	assert_int_equal(cache_open(e->c, 0, R1(), NULL, NULL, &h), -EIO);
	struct cache_info i = info_of(e, R1());
	assert_int_equal(i.state, CACHE_FAILED);
	assert_int_equal(i.last_errno, EIO);
	assert_int_equal(i.task_id[0], '\0');
	assert_true(i.learned_time > 0);
	assert_true(meta_has(e, R1(), "\"state\":\"failed\""));
	fake_set_statuses(e->p, R1(), ok, 1);
	assert_int_equal(open_check(e, R1()), 0);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 2);
	assert_int_equal(stats_of(e).errors, 1);
}

static void test_fill_transient_faults_retried(void **state)
{
	struct env *e = *state;
	struct fake_fault t = {.kind = CLIENT_E_TRANSIENT, .times = 2, .retry_after_ms = -1};

	env_start(e);
	fake_inject(e->p, FAKE_APPLY, &t);
	fake_inject(e->p, FAKE_QUERY, &t);
	fake_inject(e->p, FAKE_URLS, &t);
	fake_inject(e->p, FAKE_DOWNLOAD, &t);
	assert_int_equal(open_check(e, R1()), 0);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 3);
	assert_int_equal(fake_count(e->p, FAKE_DOWNLOAD), 3);
	assert_int_equal(info_of(e, R1()).state, CACHE_READY);
}

static void test_fill_retry_limit_gives_eio(void **state)
{
	struct env *e = *state;
	struct fake_fault t = {.kind = CLIENT_E_TRANSIENT,
			       .times = 4, /* 1 + retry_limit */
			       .retry_after_ms = -1,
			       .code = "E503",
			       .msg = "gateway down"};
	struct cache_handle *h = NULL;

	env_start(e);
	fake_inject(e->p, FAKE_QUERY, &t);
	assert_int_equal(cache_open(e->c, 0, R1(), NULL, NULL, &h), -EIO);
	assert_int_equal(fake_count(e->p, FAKE_QUERY), 4); /* 1 + retry_limit */
	struct cache_info i = info_of(e, R1());
	assert_int_equal(i.state, CACHE_FAILED);
	assert_int_equal(i.last_errno, EIO);
	assert_int_equal(i.last_error.kind, CLIENT_E_TRANSIENT);
	assert_string_equal(i.last_error.code, "E503");
	assert_string_equal(i.last_error.msg, "gateway down");
	assert_string_equal(i.task_id, "task-1"); /* kept: the next open polls it again */
	assert_true(logs_have("2026-05-18..2026-05-19"));
	assert_true(logs_have("transient"));
	assert_true(logs_have("E503"));
	assert_true(logs_have("gateway down"));
	assert_int_equal(open_check(e, R1()), 0); /* resumes the task, no second apply */
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 1);
}

static void test_fill_business_error_not_retried(void **state)
{
	struct env *e = *state;
	struct fake_fault b = {.kind = CLIENT_E_BUSINESS,
			       .times = 1,
			       .retry_after_ms = -1,
			       .code = "1001",
			       .msg = "range too long"};
	struct cache_handle *h = NULL;

	env_start(e);
	fake_inject(e->p, FAKE_APPLY, &b);
	assert_int_equal(cache_open(e->c, 0, R1(), NULL, NULL, &h), -EIO);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 1);
	struct cache_info i = info_of(e, R1());
	assert_int_equal(i.last_error.kind, CLIENT_E_BUSINESS);
	assert_string_equal(i.last_error.code, "1001");
	assert_true(logs_have("range too long"));
}

static void test_fill_check_refused_einval(void **state)
{
	struct env *e = *state;
	struct fake_fault inv = {.kind = CLIENT_E_INVALID, .times = 1, .msg = "too old"};
	struct cache_handle *h = NULL;

	env_start(e);
	fake_inject(e->p, FAKE_CHECK, &inv);
	assert_int_equal(cache_open(e->c, 0, R1(), NULL, NULL, &h), -EINVAL);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 0);
	assert_string_equal(info_of(e, R1()).last_error.msg, "too old");
}

static void test_fill_rate_limit_not_counted(void **state)
{
	struct env *e = *state;
	struct fake_fault rl = {.kind = CLIENT_E_RATE_LIMIT, .times = 6, .retry_after_ms = 3};

	env_start(e);
	fake_inject(e->p, FAKE_QUERY, &rl); /* more than retry_limit (3) */
	assert_int_equal(open_check(e, R1()), 0);
	assert_true(fake_count(e->p, FAKE_QUERY) >= 7);
}

static void test_fill_unavailable_past_timeout_eagain(void **state)
{
	struct env *e = *state;
	struct fake_fault u = {.kind = CLIENT_E_UNAVAILABLE,
			       .times = 1,
			       .retry_after_ms = 3600000,
			       .msg = "service hours"};
	struct cache_handle *h = NULL;

	e->cfg.export_timeout_s = 1;
	env_start(e);
	fake_inject(e->p, FAKE_APPLY, &u);
	int64_t t0 = fake_mono_ms();
	assert_int_equal(cache_open(e->c, 0, R1(), NULL, NULL, &h), -EAGAIN);
	assert_true(fake_mono_ms() - t0 < 1000);
	assert_string_equal(info_of(e, R1()).last_error.msg, "service hours");
}

static void test_fill_poll_timeout(void **state)
{
	struct env *e = *state;
	enum export_state gen[] = {EXPORT_GENERATING};
	struct cache_handle *h = NULL;

	e->cfg.export_timeout_s = 1;
	env_start(e);
	fake_set_statuses(e->p, R1(), gen, 1);
	int64_t t0 = fake_mono_ms();
	assert_int_equal(cache_open(e->c, 0, R1(), NULL, NULL, &h), -ETIMEDOUT);
	assert_true(fake_mono_ms() - t0 < 2000);
	struct cache_info i = info_of(e, R1());
	assert_int_equal(i.last_errno, ETIMEDOUT);
	assert_non_null(strstr(i.last_error.msg, "not generated"));
	assert_string_equal(i.task_id, "task-1");
}

static void test_fill_download_drop_resumed(void **state)
{
	struct env *e = *state;
	struct fake_fault drop = {.kind = CLIENT_E_TRANSIENT, .times = 2, .after_bytes = 30000};

	env_start(e);
	fake_inject(e->p, FAKE_DOWNLOAD, &drop);
	assert_int_equal(open_check(e, R1()), 0);
	assert_int_equal(fake_count(e->p, FAKE_DOWNLOAD), 3);
	assert_int_equal(fake_bytes(e->p), FILE_SIZE); /* every byte fetched once */
	assert_int_equal(stats_of(e).bytes_downloaded, FILE_SIZE);
}

static void test_fill_resume_answered_with_full_body(void **state)
{
	struct env *e = *state;
	struct fake_fault drop = {.kind = CLIENT_E_TRANSIENT, .times = 1, .after_bytes = 30000};
	char sha[65];
	unsigned char *want = malloc(FILE_SIZE);

	env_start(e);
	fake_inject(e->p, FAKE_DOWNLOAD, &drop);
	fake_set_ignore_offset(e->p, 1);
	assert_int_equal(open_check(e, R1()), 0);
	assert_int_equal(fake_bytes(e->p), FILE_SIZE + 30000);
	assert_int_equal(fake_range_content(e->p, R1(), want, FILE_SIZE), FILE_SIZE);
	sha_hex(want, FILE_SIZE, sha);
	assert_string_equal(info_of(e, R1()).sha256, sha); /* digest restarted with the file */
	free(want);
}

static void test_fill_url_expired_new_url_resume(void **state)
{
	struct env *e = *state;
	struct fake_fault ue = {.kind = CLIENT_E_URL_EXPIRED, .times = 1, .after_bytes = 40000};

	env_start(e);
	fake_inject(e->p, FAKE_DOWNLOAD, &ue);
	assert_int_equal(open_check(e, R1()), 0);
	assert_int_equal(fake_count(e->p, FAKE_URLS), 2);
	assert_int_equal(fake_bytes(e->p), FILE_SIZE);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 1);
}

static void test_fill_url_past_expiry_refreshed(void **state)
{
	struct env *e = *state;

	env_start(e);
	/* The first URL is already dead by the pinned clock; later ones never expire. */
	fake_set_url_expires_ms(e->p, pinned_now() - 1);
	fake_hold(e->p, FAKE_URLS, NULL);
	struct opener o;
	opener_start(&o, e, R1());
	assert_int_equal(fake_wait_held(e->p, 1, WAIT_MS), 0);
	fake_step(e->p, FAKE_URLS); /* hands out the dead URL */
	WAIT_UNTIL(fake_count(e->p, FAKE_URLS) == 2 && fake_held(e->p) == 1);
	fake_set_url_expires_ms(e->p, 0);
	fake_release(e->p, FAKE_URLS);
	assert_int_equal(opener_join(&o), 0);
	assert_int_equal(fake_count(e->p, FAKE_DOWNLOAD), 1);
	assert_int_equal(fake_count(e->p, FAKE_URLS), 2);
}

static void test_fill_file_expired_reapplied_once(void **state)
{
	struct env *e = *state;
	struct fake_fault fe = {.kind = CLIENT_E_FILE_EXPIRED, .times = 1};

	env_start(e);
	fake_inject(e->p, FAKE_URLS, &fe);
	assert_int_equal(open_check(e, R1()), 0);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 2);
	assert_string_equal(info_of(e, R1()).task_id, "task-2");
}

static void test_fill_file_expired_no_apply_storm(void **state)
{
	struct env *e = *state;
	struct fake_fault fe = {.kind = CLIENT_E_FILE_EXPIRED, .times = 10, .msg = "please re-export"};
	struct cache_handle *h = NULL;

	env_start(e);
	fake_inject(e->p, FAKE_QUERY, &fe);
	assert_int_equal(cache_open(e->c, 0, R1(), NULL, NULL, &h), -EIO);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 2);
	struct cache_info i = info_of(e, R1());
	assert_int_equal(i.last_error.kind, CLIENT_E_FILE_EXPIRED);
	assert_int_equal(i.task_id[0], '\0');
}

static void test_fill_task_expired_before_download(void **state)
{
	struct env *e = *state;
	struct opener o;

	env_start(e);
	fake_set_file_expires(e->p, pinned_now() / 1000 - 10); /* task-1 already expired */
	fake_hold(e->p, FAKE_QUERY, NULL);
	opener_start(&o, e, R1());
	assert_int_equal(fake_wait_held(e->p, 1, WAIT_MS), 0);
	fake_set_file_expires(e->p, pinned_now() / 1000 + 3600);
	fake_release(e->p, FAKE_QUERY);
	assert_int_equal(opener_join(&o), 0);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 2);
	assert_int_equal(fake_count(e->p, FAKE_DOWNLOAD), 1);
}

static void test_fill_disk_full(void **state)
{
	struct env *e = *state;
	struct fake_fault nospc = {.kind = CLIENT_E_LOCAL,
				   .times = 1,
				   .after_bytes = 20000,
				   .sys_errno = ENOSPC,
				   .msg = "No space left on device"};
	struct cache_handle *h = NULL;
	char path[512];

	env_start(e);
	fake_inject(e->p, FAKE_DOWNLOAD, &nospc);
	assert_int_equal(cache_open(e->c, 0, R1(), NULL, NULL, &h), -ENOSPC);
	key_path(e, R1(), ".part", path, sizeof(path));
	assert_false(exists(path));
	key_path(e, R1(), ".data", path, sizeof(path));
	assert_false(exists(path));
	struct cache_info i = info_of(e, R1());
	assert_int_equal(i.state, CACHE_FAILED);
	assert_int_equal(i.last_errno, ENOSPC);
	assert_true(meta_has(e, R1(), "\"task_id\":\"task-1\""));
	assert_int_equal(open_check(e, R1()), 0);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 1);
}

static void test_fill_many_urls_is_protocol_error(void **state)
{
	struct env *e = *state;
	struct cache_handle *h = NULL;

	env_start(e);
	fake_set_urls_n(e->p, 2);
	assert_int_equal(cache_open(e->c, 0, R1(), NULL, NULL, &h), -EIO);
	assert_int_equal(info_of(e, R1()).last_error.kind, CLIENT_E_PROTOCOL);
}

static void test_fill_forget_cancels_fill(void **state)
{
	struct env *e = *state;
	struct opener o;
	char path[512];

	env_start(e);
	fake_hold(e->p, FAKE_QUERY, NULL);
	opener_start(&o, e, R1());
	assert_int_equal(fake_wait_held(e->p, 1, WAIT_MS), 0);
	assert_int_equal(cache_forget(e->c, 0, R1()), 0);
	assert_int_equal(info_of(e, R1()).state, CACHE_ABSENT);
	fake_release(e->p, FAKE_QUERY);
	assert_int_equal(opener_join(&o), -EINTR);
	key_path(e, R1(), ".meta", path, sizeof(path));
	assert_false(exists(path));
	assert_int_equal(cache_forget(e->c, 0, R1()), -ENOENT);
	assert_int_equal(open_check(e, R1()), 0);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 2);
	assert_int_equal(cache_forget(e->c, 0, R1()), 0);
	assert_int_equal(info_of(e, R1()).state, CACHE_ABSENT);
	key_path(e, R1(), ".data", path, sizeof(path));
	assert_false(exists(path));
}

static void test_fill_forget_keeps_open_handle(void **state)
{
	struct env *e = *state;
	struct cache_handle *h = NULL;
	size_t len;

	env_start(e);
	assert_int_equal(cache_open(e->c, 0, R1(), NULL, NULL, &h), 0);
	assert_int_equal(cache_forget(e->c, 0, R1()), 0);
	unsigned char *got = handle_read(h, &len);
	assert_int_equal(len, FILE_SIZE);
	free(got);
	cache_handle_close(h);
}

static void test_fill_expiry_reexport_old_handle_reads(void **state)
{
	struct env *e = *state;
	struct cache_handle *h1 = NULL, *h2 = NULL;
	unsigned char *old = malloc(FILE_SIZE);
	size_t len;

	env_start(e);
	fake_set_file_expires(e->p, pinned_now() / 1000 + 600);
	assert_int_equal(cache_open(e->c, 0, R1(), NULL, NULL, &h1), 0);
	assert_int_equal(fake_range_content(e->p, R1(), old, FILE_SIZE), FILE_SIZE);
	assert_int_equal(info_of(e, R1()).expires, pinned_now() / 1000 + 600);
	assert_int_equal(info_of(e, R1()).state, CACHE_READY);

	clock_advance_s(601);
	assert_int_equal(info_of(e, R1()).state, CACHE_EXPIRED);
	fake_set_file_expires(e->p, pinned_now() / 1000 + 600);
	assert_int_equal(cache_open(e->c, 0, R1(), NULL, NULL, &h2), 0);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 2);
	unsigned char *now = handle_read(h2, &len);
	assert_memory_not_equal(now, old, FILE_SIZE);
	unsigned char *then = handle_read(h1, &len);
	assert_memory_equal(then, old, FILE_SIZE); /* the old handle still reads the old bytes */
	free(now);
	free(then);
	free(old);
	cache_handle_close(h1);
	cache_handle_close(h2);
	assert_int_equal(info_of(e, R1()).state, CACHE_READY);
}

static void test_fill_hits_and_stats(void **state)
{
	struct env *e = *state;

	env_start(e);
	assert_int_equal(open_check(e, R1()), 0);
	assert_int_equal(open_check(e, R1()), 0);
	struct cache_stats s = stats_of(e);
	assert_int_equal(s.misses, 1);
	assert_int_equal(s.hits, 1);
	assert_int_equal(s.applies, 1);
	assert_int_equal(s.entries, 1);
	assert_int_equal(s.total_size, FILE_SIZE);
	assert_int_equal(s.bytes_downloaded, FILE_SIZE);
	assert_int_equal(s.errors, 0);
	assert_int_equal(info_of(e, R1()).last_access, pinned_now() / 1000);
}

static int cancel_after_join(void *arg)
{
	struct env *e = arg;
	return stats_of(e).applies >= 1;
}

static void test_fill_free_stops_promptly_keeps_state(void **state)
{
	struct env *e = *state;
	enum export_state gen[] = {EXPORT_GENERATING};
	struct cache_handle *h = NULL;

	e->cfg.poll_initial_ms = 60000; /* the fill sleeps for a minute between polls */
	e->cfg.poll_max_ms = 60000;
	env_start(e);
	fake_set_statuses(e->p, R1(), gen, 1);
	assert_int_equal(cache_open(e->c, 0, R1(), cancel_after_join, e, &h), -EINTR);
	WAIT_UNTIL(info_of(e, R1()).state == CACHE_APPLIED);
	int64_t t0 = fake_mono_ms();
	env_stop(e);
	assert_true(fake_mono_ms() - t0 < 1000);
	assert_true(meta_has(e, R1(), "\"task_id\":\"task-1\""));
	assert_true(meta_has(e, R1(), "\"state\":\"applied\""));
}

static void test_fill_invalid_config(void **state)
{
	struct env *e = *state;
	int err = 0;

	e->cfg.report_type0 = "ord|er";
	assert_null(cache_new(&e->cfg, e->p, &err));
	assert_int_equal(err, -EINVAL);
}

/* A handle describes the bytes it reads, also after the range was exported again: what a
 * lookup says after the open may already be the new export (the kernel's keep_cache decision
 * was once taken from such a lookup). */
static void test_handle_snapshot_survives_reexport(void **state)
{
	struct env *e = *state;
	struct date_range r = fake_range("2026-05-10", "2026-05-11");
	struct cache_handle *h1 = NULL, *h2 = NULL;
	struct cache_file_info i1, i2;
	struct cache_info now;
	char sha1[65], sha2[65];
	size_t len1, len2;

	env_start(e);
	fake_set_file_expires(e->p, pinned_now() / 1000 + 60);
	assert_int_equal(cache_open(e->c, 0, &r, NULL, NULL, &h1), 0);
	unsigned char *d1 = handle_read(h1, &len1);
	sha_hex(d1, len1, sha1);
	clock_advance_s(61);
	fake_set_file_expires(e->p, pinned_now() / 1000 + 60);
	assert_int_equal(cache_open(e->c, 0, &r, NULL, NULL, &h2), 0); /* a new export */
	unsigned char *d2 = handle_read(h2, &len2);
	sha_hex(d2, len2, sha2);
	assert_string_not_equal(sha1, sha2);
	cache_handle_info(h1, &i1);
	cache_handle_info(h2, &i2);
	assert_string_equal(i1.sha256, sha1);
	assert_int_equal(i1.size, len1);
	assert_string_equal(i2.sha256, sha2);
	cache_lookup(e->c, 0, &r, &now);
	assert_string_equal(now.sha256, sha2); /* not what h1 holds */
	free(d1);
	free(d2);
	cache_handle_close(h1);
	cache_handle_close(h2);
}

/* Handles on one file share one descriptor (one reader's thousands of opens cost one); once
 * the file is replaced a new open gets its own, and the old handle still reads its bytes. */
static void test_handles_share_one_descriptor(void **state)
{
	struct env *e = *state;
	struct cache_handle *h1, *h2, *h3;
	unsigned char *old;
	size_t len = 0;

	env_start(e);
	assert_int_equal(cache_open(e->c, 0, R1(), NULL, NULL, &h1), 0);
	assert_int_equal(cache_open(e->c, 0, R1(), NULL, NULL, &h2), 0);
	assert_int_equal(cache_handle_fd(h1), cache_handle_fd(h2));
	cache_handle_close(h1);
	assert_int_not_equal(fcntl(cache_handle_fd(h2), F_GETFD), -1); /* still open */
	assert_int_equal(cache_forget(e->c, 0, R1()), 0);
	assert_int_equal(cache_open(e->c, 0, R1(), NULL, NULL, &h3), 0);
	assert_int_not_equal(cache_handle_fd(h3), cache_handle_fd(h2));
	old = handle_read(h2, &len);
	assert_non_null(old);
	assert_int_equal(len, cache_handle_size(h2));
	assert_true(len > 0);
	free(old);
	cache_handle_close(h2);
	cache_handle_close(h3);
}

/* A queued flight nobody waits for any more is dropped before it is applied: the provider's
 * quota is not spent on it. One with a waiter left still runs. */
static void test_fill_unwanted_queued_flight_dropped(void **state)
{
	struct env *e = *state;
	struct opener o[4];
	struct date_range r[3];

	e->cfg.max_exports = 1;
	env_start(e);
	fake_hold(e->p, FAKE_APPLY, NULL);
	for (int i = 0; i < 3; i++) {
		char a[16];
		snprintf(a, sizeof(a), "2026-05-%02d", 10 + i);
		r[i] = fake_range(a, a);
	}
	opener_start(&o[0], e, &r[0]);
	assert_int_equal(fake_wait_held(e->p, 1, WAIT_MS), 0); /* r0 runs, held at its apply */
	opener_start(&o[1], e, &r[1]);
	opener_start(&o[2], e, &r[2]);
	opener_start(&o[3], e, &r[2]); /* two waiters on r2 */
	WAIT_UNTIL(stats_of(e).fills_queued == 2);
	o[1].cancel = 1;
	assert_int_equal(opener_join(&o[1]), -EINTR);
	WAIT_UNTIL(stats_of(e).fills_queued == 1);
	assert_int_equal(info_of(e, &r[1]).state, CACHE_ABSENT);
	o[2].cancel = 1; /* r2 keeps one waiter: it stays queued */
	assert_int_equal(opener_join(&o[2]), -EINTR);
	assert_int_equal(stats_of(e).fills_queued, 1);
	fake_release(e->p, FAKE_APPLY);
	assert_int_equal(opener_join(&o[0]), 0);
	assert_int_equal(opener_join(&o[3]), 0);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 2); /* r0 and r2, never r1 */
	assert_int_equal(open_check(e, &r[1]), 0); /* a later open exports it as usual */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, env_setup, env_teardown)
		T(test_fill_state_machine_step_by_step),
		T(test_handles_share_one_descriptor),
		T(test_fill_single_flight_32_threads),
		T(test_fill_keys_are_independent),
		T(test_fill_max_exports_queue),
		T(test_fill_slot_given_back_while_downloading),
		T(test_fill_local_job_keeps_its_slot),
		T(test_fill_fair_turns_across_users),
		T(test_fill_unwanted_queued_flight_dropped),
		T(test_fill_cancel_one_waiter),
		T(test_fill_cancelled_then_rejoin),
		T(test_fill_nodata_remembered),
		T(test_fill_failed_reapplied_next_open),
		T(test_fill_transient_faults_retried),
		T(test_fill_retry_limit_gives_eio),
		T(test_fill_business_error_not_retried),
		T(test_fill_check_refused_einval),
		T(test_fill_rate_limit_not_counted),
		T(test_fill_unavailable_past_timeout_eagain),
		T(test_fill_poll_timeout),
		T(test_fill_download_drop_resumed),
		T(test_fill_resume_answered_with_full_body),
		T(test_fill_url_expired_new_url_resume),
		T(test_fill_url_past_expiry_refreshed),
		T(test_fill_file_expired_reapplied_once),
		T(test_fill_file_expired_no_apply_storm),
		T(test_fill_task_expired_before_download),
		T(test_fill_disk_full),
		T(test_fill_many_urls_is_protocol_error),
		T(test_fill_forget_cancels_fill),
		T(test_fill_forget_keeps_open_handle),
		T(test_fill_expiry_reexport_old_handle_reads),
		T(test_fill_hits_and_stats),
		T(test_fill_free_stops_promptly_keeps_state),
		T(test_fill_invalid_config),
		T(test_handle_snapshot_survives_reexport),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
