/*
 * Bundles: several named files stored as one cache file, for providers whose export is more
 * than one file (Clover: orders-0001.json ... plus the derived orders.jsonl and orders.csv;
 * Mogujie: orders.jsonl, orders.csv, orders.xlsx). The cache keeps a bundle like any other
 * file (one size, one SHA-256, one expiry); the filesystem shows its members.
 *
 * Layout, written strictly front to back so it streams into a download sink:
 *
 *     member 0 bytes | member 1 bytes | ... | index | trailer
 *
 *   index    one line per member, in order: "<offset> <size> <name>\n" (decimal)
 *   trailer  32 bytes: "ORDERFS-BUNDLE-1" then the index offset and the index length as
 *            u64 little-endian
 *
 * A file that does not end in a trailer, or whose index does not tile the members exactly,
 * is not a bundle: a truncated download can never pass for a complete one.
 * Member names are plain file names ([A-Za-z0-9._-], no leading dot, < BUNDLE_NAME_MAX).
 */
#ifndef ORDERFS_BUNDLE_H
#define ORDERFS_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include "sink.h"

#define BUNDLE_NAME_MAX 64
#define BUNDLE_MEMBERS_MAX 10000
#define BUNDLE_MAGIC "ORDERFS-BUNDLE-1"
#define BUNDLE_TRAILER_LEN 32

struct bundle_member {
	char name[BUNDLE_NAME_MAX];
	uint64_t offset; /* from the start of the bundle file */
	uint64_t size;
};

/* --- writing (providers' fetch) --- */

struct bundle_writer {
	const struct download_sink *sink;
	uint64_t pos;		      /* bytes written so far */
	struct bundle_member *members; /* finished members, then the open one */
	size_t n, cap;
	int open;		      /* a member is being written (members[n-1]) */
};

/* Start a bundle: sink->begin(0, UINT64_MAX). 0 or -errno. */
int bundle_begin(struct bundle_writer *w, const struct download_sink *sink);
/* Start the next member. -EINVAL bad or duplicate name or one still open; -E2BIG too many. */
int bundle_member_start(struct bundle_writer *w, const char *name);
/* Append to the open member. 0 or -errno (the sink's). */
int bundle_write(struct bundle_writer *w, const void *buf, size_t len);
int bundle_member_end(struct bundle_writer *w);
/* A whole member copied from the file open at fd, read from its current offset to its end
 * (a file built on disk, such as an xlsx). 0, -errno of a read (-EIO short), or of the sink
 * (-ECANCELED when the caller stopped the fetch). */
int bundle_member_from_fd(struct bundle_writer *w, const char *name, int fd);
/* Read back bytes of a finished member i (needs sink->read). 0, -EINVAL out of range,
 * -ENOTSUP no read, or the sink's -errno. */
int bundle_member_read(const struct bundle_writer *w, size_t i, uint64_t offset, void *buf,
		       size_t len);
/* Write the index and trailer. *total = the bundle's size. 0 or -errno. */
int bundle_finish(struct bundle_writer *w, uint64_t *total);
/* Free memory (always, after begin, whatever happened). */
void bundle_writer_free(struct bundle_writer *w);

/* --- reading (filesystem, provider verify) --- */

struct bundle_index {
	struct bundle_member *members;
	size_t n;
};

/* Read and validate the index of the size-byte bundle at fd. 0, -EBADMSG not a (whole)
 * bundle, -ENOMEM, or -errno of a failed read. */
int bundle_index_read(int fd, uint64_t size, struct bundle_index *out);
const struct bundle_member *bundle_index_find(const struct bundle_index *ix, const char *name);
void bundle_index_free(struct bundle_index *ix);

/* Whether name may be a member name. */
int bundle_name_ok(const char *name);

#endif
