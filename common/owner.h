/*
 * Who orderfs trusts with the paths it reads secrets from and keeps exports in: root and the
 * user orderfs runs as (its effective uid). Anyone else able to write such a path could
 * swap a secret, plant a symlink or read an export. Pure and thread-safe.
 */
#ifndef ORDERFS_OWNER_H
#define ORDERFS_OWNER_H

#include <stddef.h>
#include <sys/stat.h>

/* Whether uid is root or the user orderfs runs as. 1 or 0. */
int owner_trusted(uid_t uid);

/*
 * Whether st is a directory orderfs may keep its own files in: a directory (not a symlink:
 * pass lstat's answer), owned by the user orderfs runs as, not writable by group or others.
 * 0, or -1 with why in err (the fix included, the path left to the caller).
 */
int owner_private_dir(const struct stat *st, char *err, size_t errlen);

/*
 * Whether st is a directory whose entries orderfs may trust (accounts_dir): a directory
 * owned by root or the user orderfs runs as, not writable by group or others.
 * 0, or -1 with why in err (the fix included, the path left to the caller).
 */
int owner_trusted_dir(const struct stat *st, char *err, size_t errlen);

#endif
