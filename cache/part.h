/*
 * A partial download on disk: the <hash>.part file plus the SHA-256 of its bytes, exposed as
 * a download_sink. Knows nothing of the cache: a hook lets the owner count bytes and stop.
 * Not thread-safe: one fill owns one part.
 */
#ifndef ORDERFS_CACHE_PART_H
#define ORDERFS_CACHE_PART_H

#include <stdint.h>

#include "../client/provider.h"

struct hash_pipe;

struct part {
	int fd;
	struct hash_pipe *hash; /* the SHA-256 of the bytes written, on its own thread */
	uint64_t size; /* bytes on disk, all of them fed to the hash */
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
/* fsync and return the SHA-256 hex of the whole file. 0 or -errno. */
int part_finish(struct part *pt, char hex[65]);
/* Close the fd and stop the hash's thread; safe on a part that failed to open. */
void part_close(struct part *pt);

#endif
