/*
 * A format check for providers whose exports are zip archives (xlsx): the bytes end with an
 * end-of-central-directory record that ends exactly at EOF, and the central directory ends
 * where that record starts. A server that declares a short Content-Length makes a cut file
 * look complete to HTTP; this catches it. Pure: reads the file, keeps no state.
 */
#ifndef ORDERFS_ZIP_CHECK_H
#define ORDERFS_ZIP_CHECK_H

#include <stdint.h>

/* 0 when the size bytes at fd form a whole archive, -EBADMSG when not, other -errno when
 * reading fails. Reads at most the last 64 KiB + 22 bytes with pread (offset unchanged). */
int zip_check_end(int fd, uint64_t size);

/* 1 when the size bytes at fd start as a gzip stream (1f 8b): a server that compressed the
 * file (Content-Encoding: gzip, which orderfs never decodes) will do so every time. 0 when
 * not, or when it cannot be read. */
int zip_check_gzip(int fd, uint64_t size);

#endif
