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

#endif
