/*
 * The member indexes of READY bundles, read once per ready file and shared by stat, readdir
 * and open, so `ls -l` of a Clover or Mogujie range and every open of a member do not re-read
 * the index from disk. The key is the file's SHA-256 and the time it turned ready (what
 * cache_handle_info() and cache_lookup() report): a re-export is a new ready time, so it never
 * meets the index of the file it replaced. Holds the most recently used few; thread-safe.
 */
#ifndef ORDERFS_BUNDLE_MEMO_H
#define ORDERFS_BUNDLE_MEMO_H

#include <stdint.h>

#include "../common/bundle.h"

#define BUNDLE_MEMO_SLOTS 64

struct bundle_memo;

/* NULL on ENOMEM. */
struct bundle_memo *bundle_memo_new(void);
/* Frees every remembered index; NULL is fine. */
void bundle_memo_free(struct bundle_memo *m);

/* A copy of the index remembered for the file (sha, ready_time) (caller frees with
 * bundle_index_free): 0, -ENOENT when not remembered (always for sha ""), -ENOMEM. */
int bundle_memo_get(struct bundle_memo *m, const char *sha, int64_t ready_time,
		    struct bundle_index *out);
/* Remember a copy of ix for the file (sha, ready_time), replacing the least recently used
 * slot. Does nothing for sha "" (a file nobody vouches for) or on ENOMEM. */
void bundle_memo_put(struct bundle_memo *m, const char *sha, int64_t ready_time,
		     const struct bundle_index *ix);

/*
 * The index of the size-byte bundle open at fd, which is the file (sha, ready_time): the
 * remembered copy, else read from fd (bundle_index_read) and remembered. Caller frees. 0, or
 * bundle_index_read's -errno (-EBADMSG not a bundle), -ENOMEM.
 */
int bundle_memo_read(struct bundle_memo *m, const char *sha, int64_t ready_time, int fd,
		     uint64_t size, struct bundle_index *out);

#endif
