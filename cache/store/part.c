/* A partial download: pwrite at the right offsets in 1 MiB pieces, the SHA-256 computed
 * alongside on a thread of its own (common/hash_pipe.h), so verifying costs the download no
 * time of its own. */
#include "part.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../common/clock.h"
#include "../../common/hash_pipe.h"
#include "key.h"

#define PART_READ_BUF 65536
#define PART_WRITEBACK (8u << 20) /* start writeback every 8 MiB (see part_flush) */
#define PART_WBUF (1u << 20)	  /* bytes gathered per pwrite (see part.h) */

/* Reset the digest and hash the first len bytes already on disk. */
static int part_rehash(struct part *pt, uint64_t len)
{
	unsigned char *buf = NULL;
	uint64_t off = 0;
	int rc = 0;

	if ((rc = hash_pipe_reset(pt->hash)) != 0)
		return rc;
	if (len == 0)
		goto out;
	buf = malloc(PART_READ_BUF);
	if (!buf)
		return -ENOMEM;
	while (off < len) {
		size_t want = len - off < PART_READ_BUF ? (size_t)(len - off) : PART_READ_BUF;
		ssize_t n = pread(pt->fd, buf, want, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : -EIO;
			goto out;
		}
		if ((rc = hash_pipe_feed(pt->hash, buf, (size_t)n)) != 0)
			goto out;
		off += (uint64_t)n;
	}
out:
	free(buf);
	if (rc == 0)
		pt->size = len;
	return rc;
}

int part_flush(struct part *pt)
{
	uint64_t at, end;
	size_t done = 0;

	if (pt->werr)
		return pt->werr;
	if (pt->wlen == 0)
		return 0;
	at = pt->size - pt->wlen;
	end = pt->size;
	while (done < pt->wlen) {
		ssize_t n = pwrite(pt->fd, pt->wbuf + done, pt->wlen - done, (off_t)(at + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return pt->werr = -errno;
		done += (size_t)n;
	}
	pt->wlen = 0;
	pt->flushed_ms = clock_mono_ms();
	if (hash_pipe_feed(pt->hash, pt->wbuf, done) != 0)
		return pt->werr = -EIO;
	/* Start writeback of each full 8 MiB behind us now, so the fsync in part_finish
	 * waits for the tail only, not the whole file. Advisory: errors show at fsync. */
	if (end / PART_WRITEBACK != at / PART_WRITEBACK)
		sync_file_range(pt->fd, (off_t)(end / PART_WRITEBACK - 1) * PART_WRITEBACK,
				PART_WRITEBACK, SYNC_FILE_RANGE_WRITE);
	return 0;
}

static int part_begin(void *ctx, uint64_t offset, uint64_t total)
{
	struct part *pt = ctx;
	int rc;

	if (offset != pt->size) {
		if ((rc = part_flush(pt)) != 0)
			return rc;
		/* offset 0: a full body came back, start over. Less than we have: drop the rest.
		 * More than we have would leave a hole: refuse. */
		if (offset > pt->size)
			return -EIO;
		if (ftruncate(pt->fd, (off_t)offset) != 0)
			return -errno;
		if ((rc = part_rehash(pt, offset)) != 0)
			return rc;
	}
	return pt->hook ? pt->hook(pt->hook_arg, pt->size, total, 0) : 0;
}

static int part_write(void *ctx, const void *buf, size_t len, uint64_t offset)
{
	struct part *pt = ctx;
	const char *p = buf;
	size_t left = len;
	int rc;

	if (offset != pt->size)
		return -EIO; /* bytes must arrive in order */
	if (pt->werr)
		return pt->werr;
	if (!pt->wbuf && !(pt->wbuf = malloc(PART_WBUF)))
		return -ENOMEM;
	while (left > 0) {
		size_t n = PART_WBUF - pt->wlen < left ? PART_WBUF - pt->wlen : left;
		memcpy(pt->wbuf + pt->wlen, p, n);
		pt->wlen += n;
		pt->size += n;
		p += n;
		left -= n;
		if (pt->wlen == PART_WBUF && (rc = part_flush(pt)) != 0)
			return rc;
	}
	if (pt->wlen > 0 && clock_mono_ms() - pt->flushed_ms >= PART_FLUSH_MS &&
	    (rc = part_flush(pt)) != 0)
		return rc;
	return pt->hook ? pt->hook(pt->hook_arg, pt->size, UINT64_MAX, len) : 0;
}

/* Read back bytes already written, for providers that derive files from what they fetched. */
static int part_read(void *ctx, void *buf, size_t len, uint64_t offset)
{
	struct part *pt = ctx;
	size_t done = 0;
	int rc;

	if (offset > pt->size || len > pt->size - offset)
		return -EIO;
	if ((rc = part_flush(pt)) != 0)
		return rc;
	while (done < len) {
		ssize_t n = pread(pt->fd, (char *)buf + done, len - done, (off_t)(offset + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

static void part_items(void *ctx, uint64_t done, uint64_t total)
{
	struct part *pt = ctx;

	if (pt->items_hook)
		pt->items_hook(pt->hook_arg, done, total);
}

int part_open(struct part *pt, const char *path)
{
	struct stat st;
	int rc;

	pt->hash = NULL;
	pt->size = 0;
	pt->wbuf = NULL;
	pt->wlen = 0;
	pt->werr = 0;
	pt->flushed_ms = clock_mono_ms();
	pt->hook = NULL; /* the owner sets it after a successful open */
	pt->items_hook = NULL;
	pt->hook_arg = NULL;
	pt->sink.begin = part_begin;
	pt->sink.write = part_write;
	pt->sink.read = part_read;
	pt->sink.items = part_items;
	pt->sink.ctx = pt;
	/* Never through a symlink; a new file is made O_EXCL, so none can be slipped in between
	 * the two opens. */
	pt->fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (pt->fd < 0 && errno == ENOENT)
		pt->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (pt->fd < 0)
		return -errno;
	pt->hash = hash_pipe_new();
	if (!pt->hash) {
		rc = -errno;
		goto fail;
	}
	if (fstat(pt->fd, &st) != 0) {
		rc = -errno;
		goto fail;
	}
	if ((rc = part_rehash(pt, (uint64_t)st.st_size)) != 0)
		goto fail;
	return 0;
fail:
	part_close(pt);
	return rc;
}

int part_finish(struct part *pt, char hex[65])
{
	unsigned char md[32];
	int rc;

	if ((rc = part_flush(pt)) != 0)
		return rc;
	/* The hash catches up with the last bytes while the tail is flushed. */
	if (fsync(pt->fd) != 0)
		return -errno;
	if ((rc = hash_pipe_final(pt->hash, md)) != 0)
		return rc;
	key_hex(md, 32, hex);
	return 0;
}

void part_close(struct part *pt)
{
	if (pt->fd >= 0) {
		(void)part_flush(pt); /* best effort: a resume re-downloads what is not there */
		close(pt->fd);
	}
	pt->fd = -1;
	hash_pipe_free(pt->hash);
	pt->hash = NULL;
	free(pt->wbuf);
	pt->wbuf = NULL;
	pt->wlen = 0;
}
