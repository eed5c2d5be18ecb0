/*
 * A partial download on disk: the <hash>.part file plus the SHA-256 of its bytes, exposed as
 * a download_sink. Knows nothing of the cache: a hook lets the owner count bytes and stop.
 * Not thread-safe: one fill owns one part.
 */
#ifndef ORDERFS_CACHE_PART_H
#define ORDERFS_CACHE_PART_H

#include <stdint.h>

#include "../../client/provider.h"

#define PART_FLUSH_MS 10 /* see wbuf */

struct hash_pipe;

struct part {
	int fd;
	struct hash_pipe *hash; /* the SHA-256 of the bytes written, on its own thread */
	uint64_t size; /* bytes taken: on disk, then wlen more in wbuf */
	/* Bytes taken but not yet written (nor hashed): curl hands a sink 16 KiB per call, and
	 * a pwrite and a hash hand-off per 16 KiB cost a 256 MiB download 16,000 of each. They
	 * are written once 1 MiB is gathered, or with the first write PART_FLUSH_MS or more
	 * after the last flush, so a slow download is on disk as it comes (a kill loses at
	 * most 1 MiB or PART_FLUSH_MS of it). part_flush writes them; every use of fd by the
	 * owner must come after one. */
	unsigned char *wbuf; /* PART_WBUF bytes, allocated at the first write */
	size_t wlen;
	int64_t flushed_ms; /* monotonic time of the last flush (or the open) */
	int werr; /* a write failed: nothing more is written (part_close drops the rest) */
	/* Called after every begin/write; non-zero (e.g. -ECANCELED) aborts the download. */
	int (*hook)(void *arg, uint64_t size, uint64_t total, size_t added);
	/* Optional: the provider's item progress (sink->items), with hook_arg. */
	void (*items_hook)(void *arg, uint64_t done, uint64_t total);
	void *hook_arg;
	struct download_sink sink; /* points at this part; read-back supported */
};

/* Open or create path (O_RDWR, 0600) and hash the bytes already there, so a download resumes
 * from part->size. Initializes every field (hook NULL: set it afterwards if wanted).
 * 0 or -errno (part then needs no close). */
int part_open(struct part *pt, const char *path);
/* Write the bytes buffered by sink.write to the file (and the hash), so the file holds all
 * pt->size bytes: call before reading pt->fd directly. 0 or -errno (then every later write
 * and flush fails too). */
int part_flush(struct part *pt);
/* Flush, fsync and return the SHA-256 hex of the whole file. 0 or -errno. */
int part_finish(struct part *pt, char hex[65]);
/* Flush what is buffered (a download resumes from what the file holds), close the fd, stop
 * the hash's thread and free the buffer; safe on a part that failed to open. */
void part_close(struct part *pt);

#endif
