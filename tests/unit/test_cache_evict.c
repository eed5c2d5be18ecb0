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
#include "../../client/log.h"
#include "fake_provider.h"

#define UNUSED __attribute__((unused))

/* --- shared test scaffolding (each test_cache_*.c carries its own copy) --- */

#define FILE_SIZE 100000
#define WAIT_MS 5000

struct env {
	char dir[256];
	struct provider *p;
	struct cache *c;
	struct cache_config cfg;
};

static UNUSED atomic_llong pinned_ms;
static UNUSED int64_t pinned_now(void)
{
	return (int64_t)atomic_load(&pinned_ms);
}
static UNUSED void clock_advance_s(int64_t s)
{
	atomic_fetch_add(&pinned_ms, s * 1000);
}

static pthread_mutex_t logs_lock = PTHREAD_MUTEX_INITIALIZER;
static UNUSED char logs[16384];
static UNUSED void log_capture(int level, const char *line, void *arg)
{
	(void)arg;
	pthread_mutex_lock(&logs_lock);
	size_t n = strlen(logs);
	if (n + strlen(line) + 16 < sizeof(logs))
		snprintf(logs + n, sizeof(logs) - n, "%d:%s\n", level, line);
	pthread_mutex_unlock(&logs_lock);
}
static UNUSED int logs_have(const char *s)
{
	pthread_mutex_lock(&logs_lock);
	int r = strstr(logs, s) != NULL;
	pthread_mutex_unlock(&logs_lock);
	return r;
}

static UNUSED int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	assert_non_null(e);
	fake_tmpdir(e->dir, sizeof(e->dir));
	assert_true(e->dir[0]);
	e->p = fake_provider_new();
	assert_non_null(e->p);
	e->cfg.dir = e->dir;
	e->cfg.report_type = "order";
	e->cfg.language = "en-US";
	e->cfg.poll_initial_ms = 2;
	e->cfg.poll_max_ms = 8;
	e->cfg.retry_initial_ms = 2;
	e->cfg.retry_max_ms = 8;
	e->cfg.retry_limit = 3;
	e->cfg.export_timeout_s = 20;
	e->cfg.sweep_interval_s = 3600;
	e->cfg.now_ms = pinned_now;
	atomic_store(&pinned_ms, 1779170000000LL); /* 2026-05-19 */
	pthread_mutex_lock(&logs_lock);
	logs[0] = '\0';
	pthread_mutex_unlock(&logs_lock);
	log_set_hook(log_capture, NULL);
	*state = e;
	return 0;
}

static UNUSED void start(struct env *e)
{
	int err = 0;
	e->c = cache_new(&e->cfg, e->p, &err);
	assert_non_null(e->c);
	assert_int_equal(err, 0);
}

static UNUSED void stop(struct env *e)
{
	cache_free(e->c);
	e->c = NULL;
}

static UNUSED int teardown(void **state)
{
	struct env *e = *state;
	if (e->c)
		cache_free(e->c);
	provider_destroy(e->p);
	fake_rmrf(e->dir);
	log_set_hook(NULL, NULL);
	free(e);
	return 0;
}

/* Wait (polling, bounded) until cond holds; fail the test otherwise. */
#define WAIT_UNTIL(cond)                                                                   \
	do {                                                                               \
		int64_t until_ = fake_mono_ms() + WAIT_MS;                                 \
		while (!(cond) && fake_mono_ms() < until_)                                 \
			usleep(1000);                                                      \
		assert_true(cond);                                                         \
	} while (0)

/* Read a whole handle into a malloc'd buffer. */
static UNUSED unsigned char *handle_read(struct cache_handle *h, size_t *len)
{
	uint64_t size = cache_handle_size(h);
	unsigned char *buf = malloc(size ? size : 1);
	size_t off = 0;
	assert_non_null(buf);
	while (off < size) {
		ssize_t n = pread(cache_handle_fd(h), buf + off, size - off, (off_t)off);
		assert_true(n > 0);
		off += (size_t)n;
	}
	*len = (size_t)size;
	return buf;
}

/* Open, check the bytes equal what the provider serves for r, close. Returns open's rc. */
static UNUSED int open_check(struct env *e, const struct date_range *r)
{
	struct cache_handle *h = NULL;
	int rc = cache_open(e->c, r, NULL, NULL, &h);
	if (rc != 0) {
		assert_null(h);
		return rc;
	}
	size_t len;
	unsigned char *got = handle_read(h, &len);
	unsigned char *want = malloc(len + 1);
	assert_non_null(want);
	assert_int_equal(fake_range_content(e->p, r, want, len + 1), (long)len);
	assert_memory_equal(got, want, len);
	free(got);
	free(want);
	cache_handle_close(h);
	return 0;
}

static UNUSED struct cache_info info_of(struct env *e, const struct date_range *r)
{
	struct cache_info i;
	assert_int_equal(cache_lookup(e->c, r, &i), 0);
	return i;
}

static UNUSED void sha_hex(const void *buf, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int n = 0;
	static const char hx[] = "0123456789abcdef";
	assert_true(EVP_Digest(buf, len, md, &n, EVP_sha256(), NULL));
	for (int i = 0; i < 32; i++) {
		out[2 * i] = hx[md[i] >> 4];
		out[2 * i + 1] = hx[md[i] & 15];
	}
	out[64] = '\0';
}

static UNUSED void key_path(struct env *e, const struct date_range *r, const char *suffix, char *out,
		     size_t n)
{
	char a[DATE_STR_LEN], b[DATE_STR_LEN], key[256], hex[65];
	date_format(&r->start, a);
	date_format(&r->end, b);
	snprintf(key, sizeof(key), "vexora|M100200|order|en-US|%s|%s", a, b);
	sha_hex(key, strlen(key), hex);
	snprintf(out, n, "%s/v1/%s%s", e->dir, hex, suffix);
}

static UNUSED int exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/* A cache_open in its own thread. */
struct opener {
	struct env *e;
	struct date_range r;
	pthread_t th;
	atomic_int cancel;
	int rc;
	unsigned char *data;
	size_t len;
	int64_t returned_ms;
};

static UNUSED int opener_cancelled(void *arg)
{
	struct opener *o = arg;
	return atomic_load(&o->cancel);
}

static UNUSED void *opener_main(void *arg)
{
	struct opener *o = arg;
	struct cache_handle *h = NULL;
	o->rc = cache_open(o->e->c, &o->r, opener_cancelled, o, &h);
	o->returned_ms = fake_mono_ms();
	if (o->rc == 0) {
		o->data = handle_read(h, &o->len);
		cache_handle_close(h);
	}
	return NULL;
}

static UNUSED void opener_start(struct opener *o, struct env *e, const struct date_range *r)
{
	memset(o, 0, sizeof(*o));
	o->e = e;
	o->r = *r;
	atomic_init(&o->cancel, 0);
	assert_int_equal(pthread_create(&o->th, NULL, opener_main, o), 0);
}

static UNUSED int opener_join(struct opener *o)
{
	pthread_join(o->th, NULL);
	free(o->data);
	o->data = NULL;
	return o->rc;
}

static UNUSED struct cache_stats stats_of(struct env *e)
{
	struct cache_stats s;
	cache_get_stats(e->c, &s);
	return s;
}

/* --- end of scaffolding --- */

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
	start(e);
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
	start(e);
	assert_int_equal(cache_open(e->c, &a, NULL, NULL, &h), 0); /* oldest, but open */
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
	start(e);
	assert_int_equal(open_check(e, &a), 0);
	WAIT_UNTIL(logs_have("exceeds cache_max_size"));
	assert_int_equal(info_of(e, &a).state, CACHE_READY);
	assert_int_equal(open_check(e, &a), 0);
	assert_int_equal(fake_count(e->p, FAKE_APPLY), 1);
}

static void test_evict_unlimited_keeps_all(void **state)
{
	struct env *e = *state;

	start(e);
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
	start(e);
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
	start(e);
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
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_evict_lru_respects_max_size),
		T(test_evict_spares_open_handles),
		T(test_evict_single_file_over_cap_kept),
		T(test_evict_unlimited_keeps_all),
		T(test_sweep_deletes_expired_files),
		T(test_sweep_keeps_unexpired_and_flushes_access),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
