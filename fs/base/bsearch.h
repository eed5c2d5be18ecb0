/*
 * Binary search over a sorted array the caller owns, by index: the one loop range_map and
 * str_map share (each keeps its own slot layout and key order).
 */
#ifndef ORDERFS_BSEARCH_H
#define ORDERFS_BSEARCH_H

#include <stddef.h>

/* How item i compares to the key the caller is looking for: < 0 when item i sorts before the
 * key, 0 when it is the key, > 0 after it. */
typedef int (*bsearch_cmp_fn)(const void *ctx, size_t i);

/*
 * The index of the key among n items sorted by cmp, or the index where it would be inserted
 * to keep them sorted; *found is 1 or 0 to say which. Pure; n may be 0.
 */
size_t bsearch_index(size_t n, bsearch_cmp_fn cmp, const void *ctx, int *found);

#endif
