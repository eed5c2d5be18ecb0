/* Support shared by the cache unit tests: a cache over the scripted fake provider in a temp
 * dir, a pinned clock, captured logs, and helpers to open, read and compare files. */
#include "cache_harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "../../common/log.h"


atomic_llong pinned_ms;
int64_t pinned_now(void)
{
	return (int64_t)atomic_load(&pinned_ms);
}
void clock_advance_s(int64_t s)
{
	atomic_fetch_add(&pinned_ms, s * 1000);
}

static pthread_mutex_t logs_lock = PTHREAD_MUTEX_INITIALIZER;
char logs[16384];
void log_capture(int level, const char *line, void *arg)
{
	(void)arg;
	pthread_mutex_lock(&logs_lock);
	size_t n = strlen(logs);
	if (n + strlen(line) + 16 < sizeof(logs))
		snprintf(logs + n, sizeof(logs) - n, "%d:%s\n", level, line);
	pthread_mutex_unlock(&logs_lock);
}
int logs_have(const char *s)
{
	pthread_mutex_lock(&logs_lock);
	int r = strstr(logs, s) != NULL;
	pthread_mutex_unlock(&logs_lock);
	return r;
}

int env_setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	assert_non_null(e);
	fake_tmpdir(e->dir, sizeof(e->dir));
	assert_true(e->dir[0]);
	e->p = fake_provider_new();
	assert_non_null(e->p);
	e->cfg.dir = e->dir;
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

void env_start(struct env *e)
{
	int err = 0;
	e->c = cache_new(&e->cfg, e->p, &err);
	assert_non_null(e->c);
	assert_int_equal(err, 0);
}

void env_stop(struct env *e)
{
	cache_free(e->c);
	e->c = NULL;
}

int env_teardown(void **state)
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

/* Read a whole handle into a malloc'd buffer. */
unsigned char *handle_read(struct cache_handle *h, size_t *len)
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
int open_check(struct env *e, const struct date_range *r)
{
	return open_check_type(e, 0, r);
}

int open_check_type(struct env *e, size_t type, const struct date_range *r)
{
	return open_check_prov(e, e->p, type, r);
}

int open_check_prov(struct env *e, struct provider *p, size_t type, const struct date_range *r)
{
	struct cache_handle *h = NULL;
	int rc = cache_open(e->c, type, r, NULL, NULL, &h);
	if (rc != 0) {
		assert_null(h);
		return rc;
	}
	size_t len;
	unsigned char *got = handle_read(h, &len);
	unsigned char *want = malloc(len + 1);
	assert_non_null(want);
	assert_int_equal(fake_range_content(p, r, want, len + 1), (long)len);
	assert_memory_equal(got, want, len);
	free(got);
	free(want);
	cache_handle_close(h);
	return 0;
}

struct cache_info info_of(struct env *e, const struct date_range *r)
{
	return info_of_type(e, 0, r);
}

struct cache_info info_of_type(struct env *e, size_t type, const struct date_range *r)
{
	struct cache_info i;
	assert_int_equal(cache_lookup(e->c, type, r, &i), 0);
	return i;
}

void sha_hex(const void *buf, size_t len, char out[65])
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

void key_path(struct env *e, const struct date_range *r, const char *suffix, char *out,
		     size_t n)
{
	key_path_type(e, "order", r, suffix, out, n);
}

void key_path_type(struct env *e, const char *report_type, const struct date_range *r,
		   const char *suffix, char *out, size_t n)
{
	key_path_account(e, "M100200", report_type, r, suffix, out, n);
}

void key_path_account(struct env *e, const char *account, const char *report_type,
		      const struct date_range *r, const char *suffix, char *out, size_t n)
{
	char a[DATE_STR_LEN], b[DATE_STR_LEN], key[256], hex[65];
	date_format(&r->start, a);
	date_format(&r->end, b);
	snprintf(key, sizeof(key), "vexora|%s|%s|en-US|%s|%s", account, report_type, a, b);
	sha_hex(key, strlen(key), hex);
	snprintf(out, n, "%s/v1/%s%s", e->dir, hex, suffix);
}

int exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

int opener_cancelled(void *arg)
{
	struct opener *o = arg;
	return atomic_load(&o->cancel);
}

void *opener_main(void *arg)
{
	struct opener *o = arg;
	struct cache_handle *h = NULL;
	o->rc = cache_open_as(o->e->c, o->type, &o->r, o->who, opener_cancelled, o, &h);
	o->returned_ms = fake_mono_ms();
	if (o->rc == 0) {
		o->data = handle_read(h, &o->len);
		cache_handle_close(h);
	}
	return NULL;
}

void opener_start(struct opener *o, struct env *e, const struct date_range *r)
{
	opener_start_type(o, e, 0, r);
}

void opener_start_as(struct opener *o, struct env *e, const struct date_range *r, long who)
{
	memset(o, 0, sizeof(*o));
	o->e = e;
	o->r = *r;
	o->who = who;
	atomic_init(&o->cancel, 0);
	assert_int_equal(pthread_create(&o->th, NULL, opener_main, o), 0);
}

void opener_start_type(struct opener *o, struct env *e, size_t type, const struct date_range *r)
{
	memset(o, 0, sizeof(*o));
	o->e = e;
	o->type = type;
	o->r = *r;
	o->who = CACHE_WHO_NONE;
	atomic_init(&o->cancel, 0);
	assert_int_equal(pthread_create(&o->th, NULL, opener_main, o), 0);
}

int opener_join(struct opener *o)
{
	pthread_join(o->th, NULL);
	free(o->data);
	o->data = NULL;
	return o->rc;
}

struct cache_stats stats_of(struct env *e)
{
	struct cache_stats s;
	cache_get_stats(e->c, &s);
	return s;
}
