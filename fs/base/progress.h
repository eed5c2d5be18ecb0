/*
 * Where an export stands, in words a person waiting on it reads: the one line `orderfs get`
 * rewrites on a terminal, `.status`'s "step" and the user.orderfs.step xattr all come from
 * here, so they never disagree.
 */
#ifndef ORDERFS_FS_PROGRESS_H
#define ORDERFS_FS_PROGRESS_H

#include <stddef.h>

#include "../../cache/cache.h"

/*
 * The step of in, e.g. "queued", "applied", "generating 40%", "downloading 12.0 of 64.0
 * MiB", "verifying 64.0 MiB", "syncing 1200 of 5000 orders", "ready", "waiting for the
 * provider", "failed". Always NUL-terminated; returns the length snprintf would have
 * written (truncated when >= len).
 */
int progress_step(const struct cache_info *in, char *out, size_t len);

#endif
