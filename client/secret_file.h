/*
 * A secret kept in a file (Vexora's signing secret, Clover's token): the value in use, read
 * again when the file changes, so a new secret takes effect at the next request without a
 * remount. The file is stat'ed at most once a second; a new inode, size, mtime or ctime makes
 * it read again (its first line, trailing CR/LF/blanks dropped). A new version that cannot be
 * used (unreadable, empty, readable by group or others) leaves the value in use as it was,
 * with one log line per version of the file. Values never reach a log line. Thread-safe.
 */
#ifndef ORDERFS_SECRET_FILE_H
#define ORDERFS_SECRET_FILE_H

#include <stdint.h>

#define SECRET_FILE_MAX 4096 /* longest first line taken */

struct secret_file;

/* Watch path, whose value at start (already read and checked by the caller) is value.
 * path NULL: value is fixed. NULL on ENOMEM. value is copied. */
struct secret_file *secret_file_new(const char *path, const char *value);

/* Wipe and free. NULL is a no-op. */
void secret_file_free(struct secret_file *s);

/* A copy of the value in use after checking the file (at most once a second), which the
 * caller wipes and frees; *gen (may be NULL) is its version, 1 at start and one more at each
 * new value. NULL on ENOMEM. */
char *secret_file_get(struct secret_file *s, uint64_t *gen);

/* The version of the value in use, without checking the file. */
uint64_t secret_file_gen(struct secret_file *s);

#endif
