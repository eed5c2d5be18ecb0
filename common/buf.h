/*
 * A growable byte buffer with a hard cap, after curl's dynbuf: every producer of text of
 * unknown length (CSV and JSON lines, HTTP response bodies, lines read back) appends here,
 * and none can grow without bound.
 *
 * The bytes are always followed by a NUL that len does not count, so data can be handed to
 * a string parser as is. data is NULL until the first append. Not thread-safe: one owner.
 */
#ifndef ORDERFS_BUF_H
#define ORDERFS_BUF_H

#include <stddef.h>

struct buf {
	char *data;   /* len bytes, then a NUL; NULL before the first append. Owned. */
	size_t len;   /* bytes held */
	size_t alloc; /* bytes allocated (>= len + 1 once data is set) */
	size_t max;   /* appends that would make len exceed this fail */
};

/* An empty buffer with a cap of max bytes, for initialisers: struct buf b = BUF_INIT(max); */
#define BUF_INIT(max) {NULL, 0, 0, (max)}

/* Start b empty with a cap of max bytes (the NUL not counted). Allocates nothing. */
void buf_init(struct buf *b, size_t max);

/* Append n bytes of p. 0; -E2BIG when len + n would exceed the cap; -ENOMEM when out of
 * memory. On failure nothing changed. */
int buf_add(struct buf *b, const void *p, size_t n);

/* buf_add of the string s (without its NUL). */
int buf_add_str(struct buf *b, const char *s);

/* Append printf(fmt, ...). 0, -E2BIG or -ENOMEM (and -EINVAL for a bad format); on failure
 * nothing changed. */
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Drop the bytes, keep the memory and the cap (len 0, data still NUL-terminated). */
void buf_reset(struct buf *b);

/* Keep only the first len bytes (no-op when len >= b->len); the NUL follows them. */
void buf_truncate(struct buf *b, size_t len);

/* Hand the bytes to the caller, who frees them: a NUL-terminated string ("" when nothing was
 * appended), or NULL when out of memory (b then unchanged). b is left empty, cap kept. */
char *buf_take(struct buf *b);

/* Free the memory; b is empty (cap kept) and may be reused. */
void buf_free(struct buf *b);

#endif
