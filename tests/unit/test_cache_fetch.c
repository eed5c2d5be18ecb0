/* The fill engine's fetch path (providers that write a bundle themselves), cache_peek, and
 * WAITING (provider closed for now), end to end against the scripted fake. */
#include <dirent.h>
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
#include <unistd.h>

#include <cmocka.h>

#include "../../cache/cache.h"
#include "../../common/bundle.h"
#include "cache_harness.h"

static const struct date_range *R1(void)
{
	static struct date_range r;
	r = fake_range("2026-05-18", "2026-05-19");
	return &r;
}

/* --- the bundle the fake writes, and the same bundle built here to compare with --- */

#define M0_LEN 10000 /* spans several FAKE_CHUNKs */
#define M2_LEN 3000
#define NMEMBERS 3
#define DERIVED "orders.csv"

static unsigned char m0[M0_LEN], m2[M2_LEN];

static void members(struct fake_member out[NMEMBERS])
{
	for (size_t i = 0; i < M0_LEN; i++)
		m0[i] = (unsigned char)(i * 7 + (i >> 9));
	for (size_t i = 0; i < M2_LEN; i++)
		m2[i] = (unsigned char)('a' + i % 26);
	out[0] = (struct fake_member){"orders-0001.json", m0, M0_LEN};
	out[1] = (struct fake_member){"orders-0002.json", "", 0};
	out[2] = (struct fake_member){"orders.jsonl", m2, M2_LEN};
}

static void use_fetch(struct env *e)
{
	struct fake_member m[NMEMBERS];

	members(m);
	fake_set_fetch(e->p, m, NMEMBERS, DERIVED);
}

struct mem {
	unsigned char *buf;
	size_t len, cap;
};

static int mem_begin(void *ctx, uint64_t offset, uint64_t total)
{
	struct mem *m = ctx;

	(void)total;
	m->len = (size_t)offset;
	return 0;
}

static int mem_write(void *ctx, const void *buf, size_t len, uint64_t offset)
{
	struct mem *m = ctx;

	assert_int_equal(offset, m->len);
	if (m->len + len > m->cap) {
		m->cap = (m->len + len) * 2;
		m->buf = realloc(m->buf, m->cap);
		assert_non_null(m->buf);
	}
	memcpy(m->buf + m->len, buf, len);
	m->len += len;
	return 0;
}

/* The exact bytes of the bundle use_fetch makes the fake write. Caller frees. */
static unsigned char *expected_bundle(size_t *len)
{
	struct mem m = {0};
	struct download_sink s = {.begin = mem_begin, .write = mem_write, .ctx = &m};
	struct fake_member fm[NMEMBERS];
	struct bundle_writer w;
	uint64_t total = 0;

	members(fm);
	assert_int_equal(bundle_begin(&w, &s), 0);
	for (size_t i = 0; i <= NMEMBERS; i++) {
		const struct fake_member *x = i < NMEMBERS ? &fm[i] : &fm[0];
		assert_int_equal(bundle_member_start(&w, i < NMEMBERS ? x->name : DERIVED), 0);
		assert_int_equal(bundle_write(&w, x->data, x->len), 0);
		assert_int_equal(bundle_member_end(&w), 0);
	}
	assert_int_equal(bundle_finish(&w, &total), 0);
	bundle_writer_free(&w);
	assert_int_equal(total, m.len);
	*len = m.len;
	return m.buf;
}

/* The bundle at fd has exactly the members use_fetch asked for, with the right bytes. */
static void check_bundle_fd(int fd, uint64_t size)
{
	struct bundle_index ix;
	struct fake_member fm[NMEMBERS];
	size_t want_len;
	unsigned char *want = expected_bundle(&want_len), *got;

	members(fm);
	assert_int_equal(size, want_len);
	assert_int_equal(bundle_index_read(fd, size, &ix), 0);
	assert_int_equal(ix.n, NMEMBERS + 1);
	for (size_t i = 0; i <= NMEMBERS; i++) {
		const struct fake_member *x = i < NMEMBERS ? &fm[i] : &fm[0];
		const struct bundle_member *bm = bundle_index_find(&ix, i < NMEMBERS ? x->name : DERIVED);
		assert_non_null(bm);
		assert_int_equal(bm->size, x->len);
		got = malloc(x->len + 1);
		assert_non_null(got);
		assert_int_equal(pread(fd, got, x->len, (off_t)bm->offset), (ssize_t)x->len);
		assert_memory_equal(got, x->data, x->len);
		free(got);
	}
	bundle_index_free(&ix);
	/* and byte for byte the bundle (nothing left over from an earlier try) */
	got = malloc(want_len);
	assert_non_null(got);
	assert_int_equal(pread(fd, got, want_len, 0), (ssize_t)want_len);
	assert_memory_equal(got, want, want_len);
	free(got);
	free(want);
}

/* Open, check the handle holds exactly the bundle, close. Returns open's rc. */
static int open_bundle(struct env *e, const struct date_range *r)
{
	struct cache_handle *h = NULL;
	int rc = cache_open(e->c, 0, r, NULL, NULL, &h);

	if (rc != 0) {
		assert_null(h);
		return rc;
	}
	check_bundle_fd(cache_handle_fd(h), cache_handle_size(h));
	cache_handle_close(h);
	return 0;
}

/* Files in the cache's v1 dir whose names end in suffix. */
static int count_files(struct env *e, const char *suffix)
{
	char path[512];
	DIR *d;
	struct dirent *de;
	int n = 0;

	snprintf(path, sizeof(path), "%s/v1", e->dir);
	d = opendir(path);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name), s = strlen(suffix);
		if (l >= s && strcmp(de->d_name + l - s, suffix) == 0)
			n++;
	}
	closedir(d);
	return n;
}

static void assert_no_data_no_part(struct env *e)
{
	char path[512];

	key_path(e, R1(), ".data", path, sizeof(path));
	assert_false(exists(path));
	key_path(e, R1(), ".part", path, sizeof(path));
	assert_false(exists(path));
	assert_int_equal(count_files(e, ".data"), 0);
	assert_int_equal(count_files(e, ".part"), 0);
}

/* --- fetch --- */

static void test_fetch_ready_handle_holds_bundle(void **state)
{
	struct env *e = *state;
	char path[512], sha[65];
	size_t len;
	unsigned char *want = expected_bundle(&len);

	use_fetch(e);
	env_start(e);
	assert_int_equal(open_bundle(e, R1()), 0);
	struct cache_info i = info_of(e, R1());
	assert_int_equal(i.state, CACHE_READY);
	assert_int_equal(i.size, len);
	sha_hex(want, len, sha);
	assert_string_equal(i.sha256, sha);
	assert_int_equal(fake_count(e->p, FAKE_FETCH), 1);
	assert_int_equal(fake_count(e->p, FAKE_URLS), 0);
	assert_int_equal(fake_count(e->p, FAKE_DOWNLOAD), 0);
	assert_int_equal(stats_of(e).applies, 1);
	/* every member was read back through the cache's sink, and the derived one made of it */
	assert_int_equal(fake_fetch_readback(e->p), (uint64_t)M0_LEN * 2 + M2_LEN + M0_LEN);
	assert_int_equal(stats_of(e).bytes_downloaded, len);
	key_path(e, R1(), ".part", path, sizeof(path));
	assert_false(exists(path));
	key_path(e, R1(), ".data", path, sizeof(path));
	assert_true(exists(path));
	free(want);
}

static void test_fetch_transient_mid_bundle_retried_from_scratch(void **state)
{
	struct env *e = *state;
	/* the first try dies inside member 0, the second inside the derived member */
	struct fake_fault t1 = {.kind = CLIENT_E_TRANSIENT, .times = 1, .after_bytes = 5000,
				.retry_after_ms = -1, .msg = "reset"};
	struct fake_fault t2 = {.kind = CLIENT_E_TRANSIENT, .times = 1,
				.after_bytes = M0_LEN + M2_LEN + 100, .retry_after_ms = -1};

	use_fetch(e);
	env_start(e);
	fake_inject(e->p, FAKE_FETCH, &t1);
	fake_inject(e->p, FAKE_FETCH, &t2);
	assert_int_equal(open_bundle(e, R1()), 0);
	assert_int_equal(fake_count(e->p, FAKE_FETCH), 3);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 1);
	assert_int_equal(info_of(e, R1()).state, CACHE_READY);
	assert_int_equal(count_files(e, ".part"), 0);
	assert_true(logs_have("reset"));
}

static void test_fetch_persistent_failure_eio_no_files(void **state)
{
	struct env *e = *state;
	struct fake_fault t = {.kind = CLIENT_E_TRANSIENT,
			       .times = 4, /* 1 + retry_limit */
			       .after_bytes = 3000,
			       .retry_after_ms = -1,
			       .code = "E502",
			       .msg = "bad gateway"};
	struct cache_handle *h = NULL;

	use_fetch(e);
	env_start(e);
	fake_inject(e->p, FAKE_FETCH, &t);
	assert_int_equal(cache_open(e->c, 0, R1(), NULL, NULL, &h), -EIO);
	assert_null(h);
	assert_int_equal(fake_count(e->p, FAKE_FETCH), 4);
	struct cache_info i = info_of(e, R1());
	assert_int_equal(i.state, CACHE_FAILED);
	assert_int_equal(i.last_errno, EIO);
	assert_int_equal(i.last_error.kind, CLIENT_E_TRANSIENT);
	assert_string_equal(i.last_error.code, "E502");
	assert_no_data_no_part(e);
	assert_int_equal(cache_peek(e->c, 0, R1(), &(int){0}, &(uint64_t){0}), -ENOENT);
	/* the task is kept: the next open fetches it again without applying */
	assert_int_equal(open_bundle(e, R1()), 0);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 1);
}

static void test_fetch_local_error_drops_part(void **state)
{
	struct env *e = *state;
	struct fake_fault nospc = {.kind = CLIENT_E_LOCAL, .times = 1, .after_bytes = 4000,
				   .sys_errno = ENOSPC, .msg = "No space left on device"};
	struct cache_handle *h = NULL;

	use_fetch(e);
	env_start(e);
	fake_inject(e->p, FAKE_FETCH, &nospc);
	assert_int_equal(cache_open(e->c, 0, R1(), NULL, NULL, &h), -ENOSPC);
	assert_int_equal(fake_count(e->p, FAKE_FETCH), 1);
	assert_no_data_no_part(e);
	assert_int_equal(open_bundle(e, R1()), 0);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 1);
}

static void test_fetch_file_expired_reapplied_once(void **state)
{
	struct env *e = *state;
	struct fake_fault fe = {.kind = CLIENT_E_FILE_EXPIRED, .times = 1, .after_bytes = 100};

	use_fetch(e);
	env_start(e);
	fake_inject(e->p, FAKE_FETCH, &fe);
	assert_int_equal(open_bundle(e, R1()), 0);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 2);
	assert_int_equal(stats_of(e).applies, 2);
	assert_int_equal(fake_count(e->p, FAKE_FETCH), 2);
	assert_string_equal(info_of(e, R1()).task_id, "task-2");
}

static void test_fetch_not_found_reapplied_once(void **state)
{
	struct env *e = *state;
	struct fake_fault nf = {.kind = CLIENT_E_NOT_FOUND, .times = 1};

	use_fetch(e);
	env_start(e);
	fake_inject(e->p, FAKE_FETCH, &nf);
	assert_int_equal(open_bundle(e, R1()), 0);
	assert_int_equal(stats_of(e).applies, 2);
	assert_string_equal(info_of(e, R1()).task_id, "task-2");
}

static void test_fetch_file_expired_twice_fails(void **state)
{
	struct env *e = *state;
	struct fake_fault fe = {.kind = CLIENT_E_FILE_EXPIRED, .times = 5, .after_bytes = 100,
				.msg = "gone"};
	struct cache_handle *h = NULL;

	use_fetch(e);
	env_start(e);
	fake_inject(e->p, FAKE_FETCH, &fe);
	assert_int_equal(cache_open(e->c, 0, R1(), NULL, NULL, &h), -EIO);
	assert_int_equal(stats_of(e).applies, 2); /* one re-apply per flight, no storm */
	assert_int_equal(fake_count(e->p, FAKE_FETCH), 2);
	struct cache_info i = info_of(e, R1());
	assert_int_equal(i.state, CACHE_FAILED);
	assert_int_equal(i.last_error.kind, CLIENT_E_FILE_EXPIRED);
	assert_int_equal(i.task_id[0], '\0');
	assert_no_data_no_part(e);
}

static int cancel_after_4_fetches(void *arg)
{
	struct env *e = arg;
	return fake_count(e->p, FAKE_FETCH) > 4;
}

/* A provider that fails without saying why (-1, err left CLIENT_OK) must not pass for a
 * success: the flight fails -EIO instead of "succeeding" with no file and starting over. */
static void test_fetch_failure_without_kind_is_eio(void **state)
{
	struct env *e = *state;
	struct fake_fault quiet = {.kind = CLIENT_OK, .times = 10, .after_bytes = 200};
	struct cache_handle *h = NULL;

	use_fetch(e);
	env_start(e);
	fake_inject(e->p, FAKE_FETCH, &quiet);
	assert_int_equal(cache_open(e->c, 0, R1(), cancel_after_4_fetches, e, &h), -EIO);
	assert_int_equal(fake_count(e->p, FAKE_FETCH), 1);
	struct cache_info i = info_of(e, R1());
	assert_int_equal(i.state, CACHE_FAILED);
	assert_int_equal(i.last_errno, EIO);
	assert_int_equal(i.last_error.kind, CLIENT_E_PROTOCOL);
	assert_no_data_no_part(e);
}

static void test_fetch_items_progress_while_running(void **state)
{
	struct env *e = *state;
	struct opener o;
	struct cache_info i;

	use_fetch(e);
	env_start(e);
	fake_hold(e->p, FAKE_FETCH_MID, NULL);
	opener_start(&o, e, R1());
	assert_int_equal(fake_wait_held(e->p, 1, WAIT_MS), 0); /* after member 1 of 4 */
	i = info_of(e, R1());
	assert_int_equal(i.state, CACHE_DOWNLOADING);
	assert_int_equal(i.items_done, 1);
	assert_int_equal(i.items_total, NMEMBERS + 1);
	assert_int_equal(i.progress, 25);
	assert_int_equal(i.bytes_done, M0_LEN);
	assert_int_equal(cache_peek(e->c, 0, R1(), &(int){0}, &(uint64_t){0}), -ENOENT);

	fake_step(e->p, FAKE_FETCH_MID);
	WAIT_UNTIL(fake_count(e->p, FAKE_FETCH_MID) == 2 && fake_held(e->p) == 1);
	i = info_of(e, R1());
	assert_int_equal(i.items_done, 2);
	assert_int_equal(i.progress, 50);
	fake_step(e->p, FAKE_FETCH_MID);
	WAIT_UNTIL(fake_count(e->p, FAKE_FETCH_MID) == 3 && fake_held(e->p) == 1);
	i = info_of(e, R1());
	assert_int_equal(i.items_done, 3);
	assert_int_equal(i.bytes_done, M0_LEN + M2_LEN);
	fake_release(e->p, FAKE_FETCH_MID);
	assert_int_equal(opener_join(&o), 0);
	assert_int_equal(info_of(e, R1()).state, CACHE_READY);
}

/* A retry starts the provider's item count over, and so does a new export of the range. */
static void test_fetch_items_restart_with_retry(void **state)
{
	struct env *e = *state;
	struct fake_fault t = {.kind = CLIENT_E_TRANSIENT, .times = 1,
			       .after_bytes = M0_LEN + 10, .retry_after_ms = -1};
	struct opener o;
	struct cache_info i;

	use_fetch(e);
	env_start(e);
	fake_inject(e->p, FAKE_FETCH, &t);
	fake_hold(e->p, FAKE_FETCH_MID, NULL);
	opener_start(&o, e, R1());
	/* try 1 passes member 0 and the empty member 1, then dies in member 2 */
	assert_int_equal(fake_wait_held(e->p, 1, WAIT_MS), 0);
	fake_step(e->p, FAKE_FETCH_MID);
	fake_step(e->p, FAKE_FETCH_MID);
	/* try 2 is held after its member 0 */
	WAIT_UNTIL(fake_count(e->p, FAKE_FETCH) == 2 && fake_count(e->p, FAKE_FETCH_MID) == 3 &&
		   fake_held(e->p) == 1);
	i = info_of(e, R1());
	assert_int_equal(i.items_done, 1);
	assert_int_equal(i.bytes_done, M0_LEN); /* the cut bytes of try 1 are gone */
	fake_release(e->p, FAKE_FETCH_MID);
	assert_int_equal(opener_join(&o), 0);
}

static void test_fetch_new_export_starts_items_afresh(void **state)
{
	struct env *e = *state;
	struct opener o;

	use_fetch(e);
	env_start(e);
	fake_set_file_expires(e->p, pinned_now() / 1000 + 600);
	assert_int_equal(open_bundle(e, R1()), 0);
	assert_int_equal(info_of(e, R1()).items_done, NMEMBERS + 1);
	clock_advance_s(601);
	fake_set_file_expires(e->p, pinned_now() / 1000 + 600);
	fake_hold(e->p, FAKE_QUERY, NULL);
	opener_start(&o, e, R1());
	assert_int_equal(fake_wait_held(e->p, 1, WAIT_MS), 0);
	/* a new task, nothing fetched for it yet: the old task's item count is not its own */
	struct cache_info i = info_of(e, R1());
	assert_string_equal(i.task_id, "task-2");
	assert_int_equal(i.items_done, 0);
	assert_int_equal(i.items_total, 0);
	fake_release(e->p, FAKE_QUERY);
	assert_int_equal(opener_join(&o), 0);
}

/* A flight stopped mid-bundle leaves its .part; the next run resumes the task (no apply) and
 * the bundle it fetches from scratch has none of the old bytes. */
static void *stop_main(void *arg)
{
	cache_free(arg);
	return NULL;
}

static void test_fetch_stopped_mid_bundle_resumed_after_restart(void **state)
{
	struct env *e = *state;
	struct opener o;
	pthread_t stopper;
	char path[512];
	struct stat st;

	use_fetch(e);
	env_start(e);
	fake_hold(e->p, FAKE_FETCH_MID, NULL);
	opener_start(&o, e, R1());
	assert_int_equal(fake_wait_held(e->p, 1, WAIT_MS), 0);
	assert_int_equal(pthread_create(&stopper, NULL, stop_main, e->c), 0);
	assert_int_equal(opener_join(&o), -EINTR);
	fake_release(e->p, FAKE_FETCH_MID);
	pthread_join(stopper, NULL);
	e->c = NULL;
	key_path(e, R1(), ".part", path, sizeof(path));
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_size >= M0_LEN);

	env_start(e);
	assert_int_equal(open_bundle(e, R1()), 0);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 1);
	assert_int_equal(fake_count(e->p, FAKE_FETCH), 2);
	assert_false(exists(path));
}

/* --- cache_peek --- */

static void test_peek_ready_only_no_stats(void **state)
{
	struct env *e = *state;
	struct fake_fault b = {.kind = CLIENT_E_BUSINESS, .times = 1, .msg = "refused"};
	struct cache_handle *h = NULL;
	int fd = -1;
	uint64_t size = 0;

	use_fetch(e);
	env_start(e);
	fake_set_file_expires(e->p, pinned_now() / 1000 + 600);
	assert_int_equal(cache_peek(e->c, 0, R1(), &fd, &size), -ENOENT); /* unknown */
	fake_inject(e->p, FAKE_APPLY, &b);
	assert_int_equal(cache_open(e->c, 0, R1(), NULL, NULL, &h), -EIO);
	assert_int_equal(cache_peek(e->c, 0, R1(), &fd, &size), -ENOENT); /* FAILED */

	assert_int_equal(cache_open(e->c, 0, R1(), NULL, NULL, &h), 0);
	struct cache_stats s0 = stats_of(e);
	struct cache_info i0 = info_of(e, R1());
	for (int k = 0; k < 3; k++) {
		fd = -1;
		size = 0;
		clock_advance_s(1);
		assert_int_equal(cache_peek(e->c, 0, R1(), &fd, &size), 0);
		assert_true(fd >= 0);
		assert_int_equal(size, cache_handle_size(h));
		check_bundle_fd(fd, size);
		close(fd);
	}
	cache_handle_close(h);
	struct cache_stats s1 = stats_of(e);
	assert_int_equal(s1.hits, s0.hits);
	assert_int_equal(s1.misses, s0.misses);
	assert_int_equal(s1.applies, s0.applies);
	assert_int_equal(info_of(e, R1()).last_access, i0.last_access); /* no access time */

	clock_advance_s(600); /* past the server's expiry */
	assert_int_equal(info_of(e, R1()).state, CACHE_EXPIRED);
	assert_int_equal(cache_peek(e->c, 0, R1(), &fd, &size), -ENOENT);
	assert_int_equal(cache_forget(e->c, 0, R1()), 0);
	assert_int_equal(cache_peek(e->c, 0, R1(), &fd, &size), -ENOENT);
}

/* After a restart, a READY entry is peekable at once, like cache_lookup sees it READY at once
 * (the recovery scan runs in the background and may not have reached it yet). */
static void test_peek_after_restart(void **state)
{
	struct env *e = *state;
	int fd = -1;
	uint64_t size = 0;

	use_fetch(e);
	env_start(e);
	assert_int_equal(open_bundle(e, R1()), 0);
	env_stop(e);
	env_start(e);
	assert_int_equal(cache_peek(e->c, 0, R1(), &fd, &size), 0);
	check_bundle_fd(fd, size);
	close(fd);
	assert_int_equal(info_of(e, R1()).state, CACHE_READY);
	assert_int_equal(stats_of(e).hits, 0);
	assert_int_equal(stats_of(e).misses, 0);
}

/* --- WAITING: the provider is closed for now --- */

static void test_waiting_apply_closed_once(void **state)
{
	struct env *e = *state;
	struct fake_fault u = {.kind = CLIENT_E_UNAVAILABLE, .times = 1, .retry_after_ms = 300,
			       .code = "CLOSED", .msg = "outside service hours"};
	struct cache_handle *h = NULL;
	int64_t now_s = pinned_now() / 1000;

	env_start(e);
	fake_inject(e->p, FAKE_APPLY, &u);
	int64_t t0 = fake_mono_ms();
	assert_int_equal(cache_open(e->c, 0, R1(), NULL, NULL, &h), -EAGAIN);
	assert_null(h);
	/* answered while the flight still sleeps: one apply so far, the entry WAITING */
	struct cache_info i = info_of(e, R1());
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 1);
	assert_true(fake_mono_ms() - t0 < 300);
	assert_int_equal(i.state, CACHE_WAITING);
	assert_true(i.wait_until >= now_s && i.wait_until <= now_s + 1);
	assert_int_equal(i.last_error.kind, CLIENT_E_UNAVAILABLE);
	assert_string_equal(i.last_error.code, "CLOSED");
	assert_string_equal(i.last_error.msg, "outside service hours");
	assert_int_equal(i.last_errno, EAGAIN);
	/* another reader is told the same at once */
	assert_int_equal(cache_open(e->c, 0, R1(), NULL, NULL, &h), -EAGAIN);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 1);

	/* the flight goes on by itself */
	WAIT_UNTIL(info_of(e, R1()).state == CACHE_READY);
	i = info_of(e, R1());
	assert_int_equal(i.wait_until, 0);
	assert_int_equal(i.last_errno, 0);
	assert_int_equal(i.last_error.kind, CLIENT_OK);
	assert_int_equal(open_check(e, R1()), 0);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 2); /* the closed one + the one that worked */
	struct cache_stats s = stats_of(e);
	assert_int_equal(s.applies, 1);
	/* each reader told EAGAIN counts; the flight itself did not fail */
	assert_int_equal(s.err_again, 2);
	assert_int_equal(s.errors, 2);
	assert_int_equal(s.err_io + s.err_timeout + s.err_other, 0);
	assert_true(logs_have("provider closed for now"));
}

static void test_waiting_answers_joined_waiter(void **state)
{
	struct env *e = *state;
	struct fake_fault u = {.kind = CLIENT_E_UNAVAILABLE, .times = 1, .retry_after_ms = 300};
	struct opener o;

	env_start(e);
	fake_hold(e->p, FAKE_APPLY, NULL);
	opener_start(&o, e, R1()); /* joins the flight before anyone knows it is closed */
	assert_int_equal(fake_wait_held(e->p, 1, WAIT_MS), 0);
	fake_inject(e->p, FAKE_APPLY, &u);
	fake_release(e->p, FAKE_APPLY);
	assert_int_equal(opener_join(&o), -EAGAIN);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 1); /* still in the wait */
	WAIT_UNTIL(info_of(e, R1()).state == CACHE_READY);
	assert_int_equal(open_check(e, R1()), 0);
	assert_int_equal(stats_of(e).applies, 1);
}

static void test_waiting_query_closed_n_times_past_timeout(void **state)
{
	struct env *e = *state;
	/* 4 x 400 ms closed, longer than export_timeout_s: waiting does not count */
	struct fake_fault u = {.kind = CLIENT_E_UNAVAILABLE, .times = 4, .retry_after_ms = 400,
			       .msg = "capacity"};
	struct cache_handle *h = NULL;

	e->cfg.export_timeout_s = 1;
	env_start(e);
	fake_inject(e->p, FAKE_QUERY, &u);
	assert_int_equal(cache_open(e->c, 0, R1(), NULL, NULL, &h), -EAGAIN);
	struct cache_info i = info_of(e, R1());
	assert_int_equal(i.state, CACHE_WAITING);
	assert_string_equal(i.task_id, "task-1");
	assert_int_equal(i.last_error.kind, CLIENT_E_UNAVAILABLE);
	WAIT_UNTIL(info_of(e, R1()).state == CACHE_READY);
	assert_int_equal(fake_count(e->p, FAKE_QUERY) >= 5, 1);
	assert_int_equal(open_check(e, R1()), 0);
	struct cache_stats s = stats_of(e);
	assert_int_equal(s.applies, 1);
	assert_int_equal(s.err_again, 1); /* the one reader told EAGAIN */
	assert_int_equal(s.errors, 1);
	assert_int_equal(s.err_timeout, 0);
}

static void test_waiting_mid_fetch_restarts_bundle(void **state)
{
	struct env *e = *state;
	struct fake_fault u = {.kind = CLIENT_E_UNAVAILABLE, .times = 1, .after_bytes = 6000,
			       .retry_after_ms = 300};
	struct cache_handle *h = NULL;

	use_fetch(e);
	env_start(e);
	fake_inject(e->p, FAKE_FETCH, &u);
	assert_int_equal(cache_open(e->c, 0, R1(), NULL, NULL, &h), -EAGAIN);
	assert_int_equal(info_of(e, R1()).state, CACHE_WAITING);
	WAIT_UNTIL(info_of(e, R1()).state == CACHE_READY);
	assert_int_equal(open_bundle(e, R1()), 0);
	assert_int_equal(fake_count(e->p, FAKE_FETCH), 2);
	assert_int_equal(stats_of(e).applies, 1);
	assert_int_equal(count_files(e, ".part"), 0);
}

static void test_waiting_free_is_prompt(void **state)
{
	struct env *e = *state;
	struct fake_fault u = {.kind = CLIENT_E_UNAVAILABLE, .times = 1,
			       .retry_after_ms = 3600000};
	struct cache_handle *h = NULL;

	env_start(e);
	fake_inject(e->p, FAKE_QUERY, &u);
	assert_int_equal(cache_open(e->c, 0, R1(), NULL, NULL, &h), -EAGAIN);
	assert_int_equal(info_of(e, R1()).state, CACHE_WAITING);
	int64_t t0 = fake_mono_ms();
	env_stop(e);
	assert_true(fake_mono_ms() - t0 < 1000);
	/* the next run resumes the task it had applied for */
	env_start(e);
	assert_int_equal(open_check(e, R1()), 0);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 1);
}

static void test_waiting_forget_is_prompt(void **state)
{
	struct env *e = *state;
	struct fake_fault u = {.kind = CLIENT_E_UNAVAILABLE, .times = 1,
			       .retry_after_ms = 3600000};
	struct cache_handle *h = NULL;

	env_start(e);
	fake_inject(e->p, FAKE_APPLY, &u);
	assert_int_equal(cache_open(e->c, 0, R1(), NULL, NULL, &h), -EAGAIN);
	assert_int_equal(cache_forget(e->c, 0, R1()), 0);
	assert_int_equal(info_of(e, R1()).state, CACHE_ABSENT);
	/* the forgotten flight ends (no second apply), and a new open starts afresh */
	WAIT_UNTIL(stats_of(e).fills_running == 0);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 1);
	assert_int_equal(open_check(e, R1()), 0);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 2);
}

/* Release every hold first, so a failed assertion cannot leave a fill blocked in the fake
 * (and cache_free waiting for it forever). */
static int teardown(void **state)
{
	struct env *e = *state;

	for (int k = 0; k < FAKE_NCALLS; k++)
		fake_release(e->p, (enum fake_call)k);
	return env_teardown(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, env_setup, teardown)
		T(test_fetch_ready_handle_holds_bundle),
		T(test_fetch_transient_mid_bundle_retried_from_scratch),
		T(test_fetch_persistent_failure_eio_no_files),
		T(test_fetch_local_error_drops_part),
		T(test_fetch_file_expired_reapplied_once),
		T(test_fetch_not_found_reapplied_once),
		T(test_fetch_file_expired_twice_fails),
		T(test_fetch_failure_without_kind_is_eio),
		T(test_fetch_items_progress_while_running),
		T(test_fetch_items_restart_with_retry),
		T(test_fetch_new_export_starts_items_afresh),
		T(test_fetch_stopped_mid_bundle_resumed_after_restart),
		T(test_peek_ready_only_no_stats),
		T(test_peek_after_restart),
		T(test_waiting_apply_closed_once),
		T(test_waiting_answers_joined_waiter),
		T(test_waiting_query_closed_n_times_past_timeout),
		T(test_waiting_mid_fetch_restarts_bundle),
		T(test_waiting_free_is_prompt),
		T(test_waiting_forget_is_prompt),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
