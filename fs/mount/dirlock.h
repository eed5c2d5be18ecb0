/*
 * One orderfs process per cache_dir: a mount and `orderfs get` (or two mounts) sharing a
 * cache would each resume the other's exports and clean up the other's temporary files.
 * The lock is flock(2) on <cache_dir>/orderfs.lock, released by the kernel when the process
 * exits however it exits, so a crash never leaves a stale lock.
 */
#ifndef ORDERFS_DIRLOCK_H
#define ORDERFS_DIRLOCK_H

/* Take the lock without waiting. The fd (close-on-exec) to keep open for as long as the cache
 * is in use, or -EBUSY when another process holds it, or another -errno. */
int dirlock_take(const char *cache_dir);

#endif
