/*
 * Base64 (RFC 4648, standard alphabet, padded): etcd's JSON gateway carries every key and
 * value as base64, and Mogujie sends its encrypted fields as base64. Pure functions,
 * thread-safe, no logging.
 */
#ifndef ORDERFS_BASE64_H
#define ORDERFS_BASE64_H

#include <stddef.h>

/* Bytes the encoding of len bytes takes, with its NUL. */
#define BASE64_ENCODED_CAP(len) ((((len) + 2) / 3) * 4 + 1)

/* Encode len bytes of src into out (cap bytes, NUL-terminated). Returns the text length, or
 * -1 when it does not fit (out is then ""). */
long base64_encode(const void *src, size_t len, char *out, size_t cap);

/* Decode len characters of src into out (cap bytes; a NUL is added after the bytes when
 * there is room, so text values read as strings). Strict: the length must be a multiple of
 * 4, only the alphabet, '=' only as one or two final characters, and unused bits zero.
 * Returns the byte count, or -1 when malformed or too big for out (out is then unspecified). */
long base64_decode(const char *src, size_t len, void *out, size_t cap);

#endif
