/*
 * Support shared by the cache unit tests (tests/unit/test_cache_*.c): an environment with a
 * cache over the scripted fake provider in a temp dir, a pinned clock, captured log lines,
 * and helpers to open, read and compare files. Include after <cmocka.h>.
 */
#ifndef ORDERFS_CACHE_HARNESS_H
#define ORDERFS_CACHE_HARNESS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include "../../cache/cache.h"
#include "fake_provider.h"

#define FILE_SIZE 100000
#define WAIT_MS 5000

struct env {
	char dir[256];
	struct provider *p;
	struct cache *c;
	struct cache_config cfg;
};

/* The clock every test cache reads (cfg.now_ms = pinned_now), starting at 2026-05-19. */
extern atomic_llong pinned_ms;
int64_t pinned_now(void);
void clock_advance_s(int64_t s);

/* Log lines captured since env_setup, as "LEVEL:line\n". */
extern char logs[16384];
void log_capture(int level, const char *line, void *arg);
int logs_have(const char *s);

/* cmocka setup/teardown: a fresh temp dir, fake provider and short timings; no cache yet. */
int env_setup(void **state);
int env_teardown(void **state);
/* Start and stop the cache of an env (a restart is env_stop + env_start). */
void env_start(struct env *e);
void env_stop(struct env *e);

/* Wait (polling, bounded) until cond holds; fail the test otherwise. */
#define WAIT_UNTIL(cond)                                                                   \
	do {                                                                               \
		int64_t until_ = fake_mono_ms() + WAIT_MS;                                 \
		while (!(cond) && fake_mono_ms() < until_)                                 \
			usleep(1000);                                                      \
		assert_true(cond);                                                         \
	} while (0)

/* Read a whole handle into a malloc'd buffer (caller frees). */
unsigned char *handle_read(struct cache_handle *h, size_t *len);
/* Open, check the bytes equal what the provider serves for r, close. Returns open's rc.
 * open_check and info_of are of type 0. */
int open_check(struct env *e, const struct date_range *r);
int open_check_type(struct env *e, size_t type, const struct date_range *r);
/* The same with the content provider p serves (a cache of several sources). */
int open_check_prov(struct env *e, struct provider *p, size_t type, const struct date_range *r);
struct cache_info info_of(struct env *e, const struct date_range *r);
struct cache_info info_of_type(struct env *e, size_t type, const struct date_range *r);
void sha_hex(const void *buf, size_t len, char out[65]);
/* Path of the on-disk file of range r with suffix (".meta", ".data", ".part"). */
void key_path(struct env *e, const struct date_range *r, const char *suffix, char *out,
	      size_t n);
/* The same for the type whose keys carry report_type ("order" is key_path's). */
void key_path_type(struct env *e, const char *report_type, const struct date_range *r,
		   const char *suffix, char *out, size_t n);
/* The same for another account than the fake's M100200. */
void key_path_account(struct env *e, const char *account, const char *report_type,
		      const struct date_range *r, const char *suffix, char *out, size_t n);
int exists(const char *path);
struct cache_stats stats_of(struct env *e);

/* A cache_open in its own thread, cancellable through cancel. */
struct opener {
	struct env *e;
	size_t type;
	struct date_range r;
	long who; /* cache_open_as's requester; CACHE_WHO_NONE from opener_start */
	pthread_t th;
	atomic_int cancel;
	int rc;
	unsigned char *data;
	size_t len;
	int64_t returned_ms;
};

int opener_cancelled(void *arg);
void *opener_main(void *arg);
void opener_start(struct opener *o, struct env *e, const struct date_range *r); /* type 0 */
void opener_start_type(struct opener *o, struct env *e, size_t type, const struct date_range *r);
/* As opener_start, on behalf of requester who (cache_open_as). */
void opener_start_as(struct opener *o, struct env *e, const struct date_range *r, long who);
int opener_join(struct opener *o);

#endif
