/*
 * The member indexes of the bundles stat and readdir look into, remembered by the bundle's
 * SHA-256 so `ls -l` of a Clover or Mogujie range does not re-read every index from disk.
 * A content hash is a safe key: the same hash is the same bytes, so the same index. Holds the
 * most recently used few; thread-safe.
 */
#ifndef ORDERFS_BUNDLE_MEMO_H
#define ORDERFS_BUNDLE_MEMO_H

#include "../common/bundle.h"

#define BUNDLE_MEMO_SLOTS 64

struct bundle_memo;

struct bundle_memo *bundle_memo_new(void);
void bundle_memo_free(struct bundle_memo *m);

/* A copy of the index remembered for sha (caller frees with bundle_index_free): 0, -ENOENT
 * when not remembered, -ENOMEM. */
int bundle_memo_get(struct bundle_memo *m, const char *sha, struct bundle_index *out);
/* Remember a copy of ix for sha, replacing the least recently used slot. */
void bundle_memo_put(struct bundle_memo *m, const char *sha, const struct bundle_index *ix);

#endif
