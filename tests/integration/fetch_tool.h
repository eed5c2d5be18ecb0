/*
 * What the provider fetch tools (clover_fetch, mogujie_fetch, vexora_fetch) share: a
 * download sink on a file that can read back what it holds and counts progress reports, as
 * the cache's sink does, and reading the first line of a secret file. Static functions: each tool is one
 * translation unit.
 */
#ifndef ORDERFS_TEST_FILE_SINK_H
#define ORDERFS_TEST_FILE_SINK_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct file_sink {
	int fd;
	uint64_t items, items_total; /* last progress report */
	uint64_t item_calls;	     /* how many reports */
	int begins;		     /* begin() calls: 1 + restarts */
};

static inline int fs_begin(void *ctx, uint64_t offset, uint64_t total)
{
	struct file_sink *s = ctx;
	s->begins++;
	return ftruncate(s->fd, (off_t)offset) == 0 ? 0 : -errno;
}

static inline int fs_write(void *ctx, const void *buf, size_t len, uint64_t offset)
{
	struct file_sink *s = ctx;
	const char *p = buf;
	while (len > 0) {
		ssize_t w = pwrite(s->fd, p, len, (off_t)offset);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		len -= (size_t)w;
		offset += (uint64_t)w;
	}
	return 0;
}

static inline int fs_read(void *ctx, void *buf, size_t len, uint64_t offset)
{
	struct file_sink *s = ctx;
	char *p = buf;
	while (len > 0) {
		ssize_t r = pread(s->fd, p, len, (off_t)offset);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO;
		p += r;
		len -= (size_t)r;
		offset += (uint64_t)r;
	}
	return 0;
}

static inline void fs_items(void *ctx, uint64_t done, uint64_t total)
{
	struct file_sink *s = ctx;
	s->items = done;
	s->items_total = total;
	s->item_calls++;
}

static inline uint64_t file_size(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* First line of path, without its newline, into out. 0, or -1 if unreadable or empty. */
static inline int read_first_line(const char *path, char *out, size_t cap)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	if (!fgets(out, (int)cap, f)) {
		fclose(f);
		return -1;
	}
	fclose(f);
	out[strcspn(out, "\r\n")] = '\0';
	return out[0] ? 0 : -1;
}

static inline void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* A task as one JSON line on stdout, for the Python tests to parse. */
static inline void print_task(const struct export_task *t)
{
	cJSON *o = cJSON_CreateObject();
	char *s;
	cJSON_AddStringToObject(o, "id", t->id);
	cJSON_AddStringToObject(o, "state", export_state_name(t->state));
	cJSON_AddNumberToObject(o, "status", (double)t->state);
	cJSON_AddNumberToObject(o, "progress", t->progress);
	cJSON_AddStringToObject(o, "file_name", t->file_name);
	cJSON_AddNumberToObject(o, "finish_time", (double)t->finish_time);
	cJSON_AddNumberToObject(o, "expires", (double)t->expires);
	cJSON_AddStringToObject(o, "msg", t->msg);
	s = cJSON_PrintUnformatted(o);
	if (s)
		printf("%s\n", s);
	free(s);
	cJSON_Delete(o);
}

struct opts {
	int no_check; /* skip the provider's local check */
	long poll_ms; /* between status polls */
	int tries;    /* attempts of a retryable call */
};

/* Wait before retrying a retryable error; 0 to retry, -1 when out of tries. */
static inline int backoff(const struct client_error *e, int *attempt, int tries)
{
	if (!client_error_retryable(e) || ++*attempt >= tries)
		return -1;
	long ms = e->retry_after_ms >= 0 ? e->retry_after_ms : 100L * *attempt;
	if (ms > 5000)
		ms = 5000;
	fprintf(stderr, "retrying after %s (%s) in %ld ms\n", client_errkind_name(e->kind),
		e->msg, ms);
	sleep_ms(ms);
	return 0;
}

#endif
