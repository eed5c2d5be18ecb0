/*
 * A partial download on disk: the <hash>.part file plus the SHA-256 of its bytes, exposed as
 * a download_sink. Knows nothing of the cache: a hook lets the owner count bytes and stop.
 * Not thread-safe: one fill owns one part.
 */
#ifndef ORDERFS_CACHE_PART_H
#define ORDERFS_CACHE_PART_H

#include <stdint.h>

#include <openssl/evp.h>

#include "../client/provider.h"

struct part {
	int fd;
	EVP_MD_CTX *md;
	uint64_t size; /* bytes on disk, all of them hashed */
	/* Called after every begin/write; non-zero (e.g. -ECANCELED) aborts the download. */
	int (*hook)(void *arg, uint64_t size, uint64_t total, size_t added);
	void *hook_arg;
	struct download_sink sink; /* points at this part */
};

/* Open or create path (O_RDWR, 0600) and hash the bytes already there, so a download resumes
 * from part->size. Initializes every field (hook NULL: set it afterwards if wanted).
 * 0 or -errno (part then needs no close). */
int part_open(struct part *pt, const char *path);
/* fsync and return the SHA-256 hex of the whole file. 0 or -errno. */
int part_finish(struct part *pt, char hex[65]);
/*
 * Whether the bytes on disk end like a complete zip archive (xlsx is one): an end-of-central-
 * directory record that ends exactly at EOF and a central directory that ends where it
 * starts. A server that declares a short Content-Length makes a cut file look complete; this
 * catches it. 0 when complete, -EBADMSG when not, other -errno on read failure.
 */
int part_check_zip_end(struct part *pt);
/* Close the fd and free the digest; safe on a part that failed to open. */
void part_close(struct part *pt);

#endif
