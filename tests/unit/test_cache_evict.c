/* Eviction (LRU under cache_max_size) and the expiry sweeper. */
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
#include "../../cache/entry/entry.h" /* evict_run: eviction at a moment the test chooses */
#include "../../common/log.h"
#include "cache_harness.h"

#define UNUSED __attribute__((unused))



static struct date_range day(int d)
{
	char a[16];
	snprintf(a, sizeof(a), "2026-05-%02d", d);
	return fake_range(a, a);
}

static void test_evict_lru_respects_max_size(void **state)
{
	struct env *e = *state;
	struct date_range a = day(1), b = day(2), c = day(3);

	e->cfg.max_size = 250000; /* room for two 100000-byte files */
	env_start(e);
	assert_int_equal(open_check(e, &a), 0);
	assert_int_equal(open_check(e, &b), 0);
	assert_int_equal(open_check(e, &a), 0); /* a is now more recent than b */
	assert_int_equal(open_check(e, &c), 0);
	WAIT_UNTIL(info_of(e, &b).state == CACHE_ABSENT);
	assert_int_equal(info_of(e, &a).state, CACHE_READY);
	assert_int_equal(info_of(e, &c).state, CACHE_READY);
	assert_true(stats_of(e).total_size <= 250000);
	char path[512];
	/* The state turns ABSENT first, the unlinks follow right after. */
	key_path(e, &b, ".data", path, sizeof(path));
	WAIT_UNTIL(!exists(path));
	key_path(e, &b, ".meta", path, sizeof(path));
	WAIT_UNTIL(!exists(path));
}

static void test_evict_spares_open_handles(void **state)
{
	struct env *e = *state;
	struct date_range a = day(1), b = day(2), c = day(3);
	struct cache_handle *h = NULL;
	size_t len;

	e->cfg.max_size = 250000;
	e->cfg.max_file_size = 1000000; /* the default (max_size) would refuse the big one */
	env_start(e);
	assert_int_equal(cache_open(e->c, 0, &a, NULL, NULL, &h), 0); /* oldest, but open */
	assert_int_equal(open_check(e, &b), 0);
	assert_int_equal(open_check(e, &c), 0);
	WAIT_UNTIL(info_of(e, &b).state == CACHE_ABSENT);
	assert_int_equal(info_of(e, &a).state, CACHE_READY);
	unsigned char *got = handle_read(h, &len);
	assert_int_equal(len, FILE_SIZE);
	free(got);
	cache_handle_close(h);
}

static void test_evict_single_file_over_cap_kept(void **state)
{
	struct env *e = *state;
	struct date_range a = day(1);

	e->cfg.max_size = 50000;
	e->cfg.max_file_size = 1000000; /* the default (max_size) would refuse the file */
	env_start(e);
	assert_int_equal(open_check(e, &a), 0);
	WAIT_UNTIL(logs_have("exceeds cache_max_size"));
	assert_int_equal(info_of(e, &a).state, CACHE_READY);
	assert_int_equal(open_check(e, &a), 0);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 1);
}

/* A kept over-cap file does not count against the others: with it in the cache, two small
 * files that fit the cap together stay, and reading them again applies for nothing. */
static void test_evict_over_cap_file_does_not_evict_the_rest(void **state)
{
	struct env *e = *state;
	struct date_range big = day(1), a = day(2), b = day(3);
	static unsigned char big_data[300000];
	char path[512];

	memset(big_data, 'B', sizeof(big_data));
	e->cfg.max_size = 250000;
	e->cfg.max_file_size = 1000000; /* the default (max_size) would refuse the big one */
	env_start(e);
	fake_set_content(e->p, &big, big_data, sizeof(big_data));
	assert_int_equal(open_check(e, &big), 0);
	assert_int_equal(open_check(e, &a), 0);
	assert_int_equal(open_check(e, &b), 0);
	/* What a worker does after each fill and the sweeper after each sweep, run here so the
	 * outcome does not depend on when those threads get to it. */
	evict_run(e->c);
	evict_run(e->c);
	assert_true(logs_have("exceeds cache_max_size"));
	assert_int_equal(info_of(e, &a).state, CACHE_READY);
	assert_int_equal(info_of(e, &b).state, CACHE_READY);
	key_path(e, &a, ".data", path, sizeof(path));
	assert_true(exists(path));
	key_path(e, &b, ".data", path, sizeof(path));
	assert_true(exists(path));
	assert_int_equal(open_check(e, &a), 0);
	assert_int_equal(open_check(e, &b), 0);
	assert_int_equal(open_check(e, &big), 0);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 3);
	assert_int_equal(info_of(e, &big).state, CACHE_READY);
}

static void test_evict_unlimited_keeps_all(void **state)
{
	struct env *e = *state;

	env_start(e);
	for (int d = 1; d <= 5; d++) {
		struct date_range r = day(d);
		assert_int_equal(open_check(e, &r), 0);
	}
	assert_int_equal(stats_of(e).total_size, 5 * FILE_SIZE);
	assert_int_equal(stats_of(e).entries, 5);
}

static void test_sweep_deletes_expired_files(void **state)
{
	struct env *e = *state;
	struct date_range a = day(1);
	char path[512];

	e->cfg.sweep_interval_s = 1;
	env_start(e);
	fake_set_file_expires(e->p, pinned_now() / 1000 + 60);
	assert_int_equal(open_check(e, &a), 0);
	key_path(e, &a, ".data", path, sizeof(path));
	assert_true(exists(path));
	clock_advance_s(61);
	WAIT_UNTIL(!exists(path));
	assert_int_equal(info_of(e, &a).state, CACHE_ABSENT);
}

static void test_sweep_keeps_unexpired_and_flushes_access(void **state)
{
	struct env *e = *state;
	struct date_range a = day(1);

	e->cfg.sweep_interval_s = 1;
	env_start(e);
	fake_set_file_expires(e->p, pinned_now() / 1000 + 3600);
	assert_int_equal(open_check(e, &a), 0);
	clock_advance_s(10);
	assert_int_equal(open_check(e, &a), 0); /* last_access moves, lazily persisted */
	int64_t want = pinned_now() / 1000;
	assert_int_equal(info_of(e, &a).last_access, want);
	char path[512], buf[4096], needle[64];
	key_path(e, &a, ".meta", path, sizeof(path));
	snprintf(needle, sizeof(needle), "\"last_access_ms\":%lld", (long long)pinned_now());
	int found = 0;
	int64_t until = fake_mono_ms() + WAIT_MS;
	while (!found && fake_mono_ms() < until) {
		FILE *f = fopen(path, "r");
		if (f) {
			size_t n = fread(buf, 1, sizeof(buf) - 1, f);
			buf[n] = '\0';
			fclose(f);
			found = strstr(buf, needle) != NULL;
		}
		if (!found)
			usleep(5000);
	}
	assert_true(found);
	assert_int_equal(info_of(e, &a).state, CACHE_READY);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, env_setup, env_teardown)
		T(test_evict_lru_respects_max_size),
		T(test_evict_spares_open_handles),
		T(test_evict_single_file_over_cap_kept),
		T(test_evict_over_cap_file_does_not_evict_the_rest),
		T(test_evict_unlimited_keeps_all),
		T(test_sweep_deletes_expired_files),
		T(test_sweep_keeps_unexpired_and_flushes_access),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
