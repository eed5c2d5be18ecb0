/* Crash recovery: start a cache on the on-disk state each kind of crash leaves. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "../../cache/cache.h"
#include "../../common/log.h"
#include "cache_harness.h"

#define UNUSED __attribute__((unused))


#include "../../cache/store/store.h"

static const struct date_range *R1(void)
{
	static struct date_range r;
	r = fake_range("2026-05-18", "2026-05-19");
	return &r;
}

/* Write the .meta a crash would leave, through the store itself. */
static void write_meta(struct env *e, const struct date_range *r, enum cache_state st,
		       const char *task, uint64_t size, const char *sha)
{
	struct store s;
	struct store_meta m;
	char hash[KEY_HASH_LEN];

	assert_int_equal(store_init(&s, e->dir), 0);
	memset(&m, 0, sizeof(m));
	assert_int_equal(key_init(&m.key, "vexora", "M100200", "order", "en-US", r), 0);
	assert_int_equal(key_hash(&m.key, hash), 0);
	m.state = st;
	snprintf(m.task_id, sizeof(m.task_id), "%s", task);
	m.size = size;
	m.total = st == CACHE_DOWNLOADING ? size : 0;
	if (sha)
		snprintf(m.sha256, sizeof(m.sha256), "%s", sha);
	m.learned_time = pinned_now() / 1000;
	m.last_access_ms = pinned_now();
	assert_int_equal(store_meta_write(&s, hash, &m, 1), 0);
}

static void write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

static void wait_scan(struct env *e)
{
	WAIT_UNTIL(logs_have("scan of"));
	(void)e;
}

static void resume_from(void **state, enum cache_state st)
{
	struct env *e = *state;

	fake_add_task(e->p, "old-task", R1());
	write_meta(e, R1(), st, "old-task", 0, NULL);
	env_start(e);
	WAIT_UNTIL(info_of(e, R1()).state == CACHE_READY); /* resumed without anyone asking */
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 0);
	assert_true(fake_count(e->p, FAKE_QUERY) >= 1);
	assert_string_equal(info_of(e, R1()).task_id, "old-task");
	assert_int_equal(open_check(e, R1()), 0);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 0);
}

static void test_recover_applied_polls_saved_task(void **state)
{
	resume_from(state, CACHE_APPLIED);
}

static void test_recover_generating_polls_saved_task(void **state)
{
	resume_from(state, CACHE_GENERATING);
}

static void test_recover_downloading_resumes_part(void **state)
{
	struct env *e = *state;
	unsigned char *full = malloc(FILE_SIZE);
	char path[512], sha[65];

	fake_add_task(e->p, "old-task", R1());
	assert_int_equal(fake_task_content(e->p, "old-task", full, FILE_SIZE), FILE_SIZE);
	write_meta(e, R1(), CACHE_DOWNLOADING, "old-task", FILE_SIZE, NULL);
	key_path(e, R1(), ".part", path, sizeof(path));
	write_file(path, full, 40000);
	env_start(e);
	WAIT_UNTIL(info_of(e, R1()).state == CACHE_READY);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 0);
	assert_int_equal(fake_bytes(e->p), FILE_SIZE - 40000); /* only the remainder */
	sha_hex(full, FILE_SIZE, sha);
	assert_string_equal(info_of(e, R1()).sha256, sha);
	assert_false(exists(path));
	assert_int_equal(open_check(e, R1()), 0);
	free(full);
}

static void test_recover_dead_task_reapplied_once(void **state)
{
	struct env *e = *state;

	write_meta(e, R1(), CACHE_APPLIED, "unknown-task", 0, NULL); /* the server forgot it */
	env_start(e);
	WAIT_UNTIL(info_of(e, R1()).state == CACHE_READY);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 1);
}

static void test_recover_ready_served_without_network(void **state)
{
	struct env *e = *state;
	unsigned char buf[5000];
	char path[512], sha[65];
	struct cache_handle *h = NULL;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 7);
	sha_hex(buf, sizeof(buf), sha);
	write_meta(e, R1(), CACHE_READY, "t9", sizeof(buf), sha);
	key_path(e, R1(), ".data", path, sizeof(path));
	write_file(path, buf, sizeof(buf));
	env_start(e);
	/* Possibly before the scan reached it: loaded on demand. */
	assert_int_equal(info_of(e, R1()).state, CACHE_READY);
	assert_int_equal(cache_open(e->c, 0, R1(), NULL, NULL, &h), 0);
	assert_int_equal(cache_handle_size(h), sizeof(buf));
	size_t len;
	unsigned char *got = handle_read(h, &len);
	assert_memory_equal(got, buf, sizeof(buf));
	free(got);
	cache_handle_close(h);
	for (int c = 0; c < FAKE_NCALLS; c++)
		assert_int_equal(fake_count(e->p, (enum fake_call)c), 0);
	assert_int_equal(stats_of(e).hits, 1);
}

static void test_recover_ready_with_wrong_size_dropped(void **state)
{
	struct env *e = *state;
	char path[512];

	write_meta(e, R1(), CACHE_READY, "t9", 5000, "0123456789012345678901234567890123456789"
						  "012345678901234567890123");
	key_path(e, R1(), ".data", path, sizeof(path));
	write_file(path, "short", 5);
	env_start(e);
	wait_scan(e);
	assert_int_equal(info_of(e, R1()).state, CACHE_ABSENT);
	assert_false(exists(path));
	key_path(e, R1(), ".meta", path, sizeof(path));
	assert_false(exists(path));
}

static void test_recover_corrupt_meta_dropped(void **state)
{
	struct env *e = *state;
	char path[512];

	key_path(e, R1(), ".meta", path, sizeof(path));
	mkdir(e->dir, 0700);
	char v1[300];
	snprintf(v1, sizeof(v1), "%s/v1", e->dir);
	mkdir(v1, 0700);
	write_file(path, "{\"version\":1,\"state\":", 21);
	env_start(e);
	wait_scan(e);
	assert_false(exists(path));
	assert_true(logs_have("dropping corrupt metadata"));
	assert_int_equal(info_of(e, R1()).state, CACHE_ABSENT);
	assert_int_equal(open_check(e, R1()), 0); /* and the range still works */
}

static void test_recover_stray_temp_deleted(void **state)
{
	struct env *e = *state;
	char v1[300], tmp[512], other[512];

	write_meta(e, R1(), CACHE_FAILED, "", 0, NULL);
	snprintf(v1, sizeof(v1), "%s/v1", e->dir);
	snprintf(tmp, sizeof(tmp), "%s/.tmp-%064d-0123456789abcdef.1", v1, 0);
	write_file(tmp, "x", 1);
	snprintf(other, sizeof(other), "%s/README", v1);
	write_file(other, "not ours", 8);
	env_start(e);
	wait_scan(e);
	assert_false(exists(tmp));
	assert_true(exists(other)); /* files that are not ours are left alone */
	assert_int_equal(info_of(e, R1()).state, CACHE_FAILED);
	assert_int_equal(fake_count(e->p, FAKE_QUERY), 0); /* FAILED is not resumed by itself */
}

static void test_recover_orphan_part_deleted(void **state)
{
	struct env *e = *state;
	char path[512];

	write_meta(e, R1(), CACHE_FAILED, "", 0, NULL);
	struct date_range r2 = fake_range("2026-05-01", "2026-05-01");
	key_path(e, &r2, ".part", path, sizeof(path));
	write_file(path, "partial", 7);
	env_start(e);
	wait_scan(e);
	assert_false(exists(path));
}

static void test_recover_nodata_remembered_across_restart(void **state)
{
	struct env *e = *state;
	struct cache_handle *h = NULL;

	write_meta(e, R1(), CACHE_NO_DATA, "", 0, NULL);
	env_start(e);
	assert_int_equal(cache_open(e->c, 0, R1(), NULL, NULL, &h), -ENODATA);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 0);
}

static void test_recover_other_account_left_alone(void **state)
{
	struct env *e = *state;
	struct store s;
	struct store_meta m;
	char hash[KEY_HASH_LEN], path[512];

	assert_int_equal(store_init(&s, e->dir), 0);
	memset(&m, 0, sizeof(m));
	assert_int_equal(key_init(&m.key, "vexora", "M999", "order", "en-US", R1()), 0);
	assert_int_equal(key_hash(&m.key, hash), 0);
	m.state = CACHE_APPLIED;
	snprintf(m.task_id, sizeof(m.task_id), "x");
	assert_int_equal(store_meta_write(&s, hash, &m, 1), 0);
	env_start(e);
	wait_scan(e);
	snprintf(path, sizeof(path), "%s/v1/%s.meta", e->dir, hash);
	assert_true(exists(path));
	assert_int_equal(fake_count(e->p, FAKE_QUERY), 0);
}

static void collect(void *arg, size_t type, const struct date_range *r)
{
	int *n = arg;
	(void)r;
	assert_int_equal(type, 0);
	(*n)++;
}

static void test_recover_foreach_lists_disk_and_memory(void **state)
{
	struct env *e = *state;
	int n = 0;

	write_meta(e, R1(), CACHE_FAILED, "", 0, NULL);
	struct date_range r2 = fake_range("2026-05-01", "2026-05-02");
	write_meta(e, &r2, CACHE_NO_DATA, "", 0, NULL);
	env_start(e);
	cache_foreach(e->c, collect, &n); /* before or after the scan: same answer */
	assert_int_equal(n, 2);
	wait_scan(e);
	struct date_range r3 = fake_range("2026-05-05", "2026-05-05");
	assert_int_equal(open_check(e, &r3), 0);
	n = 0;
	cache_foreach(e->c, collect, &n);
	assert_int_equal(n, 3);
}

static void test_recover_restart_after_ready_no_refetch(void **state)
{
	struct env *e = *state;

	env_start(e);
	assert_int_equal(open_check(e, R1()), 0);
	env_stop(e);
	env_start(e);
	assert_int_equal(open_check(e, R1()), 0);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 1);
	assert_int_equal(fake_count(e->p, FAKE_DOWNLOAD), 1);
}

static int count_files(const char *dir)
{
	char v1[300];
	struct dirent *de;
	int n = 0;

	snprintf(v1, sizeof(v1), "%s/v1", dir);
	DIR *d = opendir(v1);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Take every free file descriptor but one; returns how many were taken (into fds). */
static int exhaust_fds(int *fds, int max, struct rlimit *saved)
{
	struct rlimit low;
	int n = 0, fd;

	assert_int_equal(getrlimit(RLIMIT_NOFILE, saved), 0);
	low = *saved;
	low.rlim_cur = 256; /* keeps the fill loop short; far above what the test has open */
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	while (n < max && (fd = dup(0)) >= 0)
		fds[n++] = fd;
	assert_int_equal(errno, EMFILE);
	close(fds[--n]);
	return n;
}

/* Start the cache of both types on the env's directory, read R1 of each, stop it. */
static void read_both_types(struct env *e)
{
	env_start(e);
	assert_int_equal(open_check_type(e, 0, R1()), 0);
	assert_int_equal(open_check_type(e, 1, R1()), 0);
	env_stop(e);
}

/*
 * An error reading metadata is not corruption. Two export types share the directory (as
 * Clover's orders and payments do); the cache starts with a single free descriptor,
 * which its scan's opendir takes, so every .meta open fails with EMFILE. Nothing may be
 * deleted, and with descriptors back both types are served without a new export.
 */
static void test_recover_fd_exhaustion_deletes_nothing(void **state)
{
	struct env *e = *state;
	struct rlimit saved;
	int fds[512], nfds;
	static const char content[] = "the same bytes for both types, so open_check can compare";

	fake_set_two_types(e->p);
	fake_set_content(e->p, R1(), content, sizeof(content));
	read_both_types(e);
	assert_int_equal(count_files(e->dir), 4); /* two .meta, two .data */
	logs[0] = '\0';

	nfds = exhaust_fds(fds, 512, &saved);
	e->cfg.sweep_interval_s = 1;
	env_start(e);
	wait_scan(e);
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
	assert_true(logs_have("Too many open files"));
	assert_false(logs_have("dropping"));
	assert_int_equal(count_files(e->dir), 4);
	/* Lookups still find the entries the scan could not read. */
	assert_int_equal(info_of(e, R1()).state, CACHE_READY);
	assert_int_equal(info_of_type(e, 1, R1()).state, CACHE_READY);
	/* With descriptors back, the sweeper's next scan reads them. */
	WAIT_UNTIL(logs_have("done: 2 entries kept")); /* one scan: both types' entries */
	env_stop(e);

	read_both_types(e); /* served from the cache: no new export */
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, env_setup, env_teardown)
		T(test_recover_applied_polls_saved_task),
		T(test_recover_generating_polls_saved_task),
		T(test_recover_downloading_resumes_part),
		T(test_recover_dead_task_reapplied_once),
		T(test_recover_ready_served_without_network),
		T(test_recover_ready_with_wrong_size_dropped),
		T(test_recover_corrupt_meta_dropped),
		T(test_recover_stray_temp_deleted),
		T(test_recover_orphan_part_deleted),
		T(test_recover_nodata_remembered_across_restart),
		T(test_recover_other_account_left_alone),
		T(test_recover_foreach_lists_disk_and_memory),
		T(test_recover_restart_after_ready_no_refetch),
		T(test_recover_fd_exhaustion_deletes_nothing),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
