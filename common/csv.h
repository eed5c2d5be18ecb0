/*
 * RFC 4180 CSV text into a struct buf (buf.h): the one CSV writer behind every .csv orderfs
 * serves, so all of them quote alike.
 *
 * Fields are separated by "," and rows end in CRLF (CSV_EOL). A field is quoted when it holds
 * a comma, a double quote, CR or LF, and a quote inside is doubled; anything else, UTF-8
 * included, is written as is. No BOM. Pure apart from the buffer; thread-safe on distinct
 * buffers.
 */
#ifndef ORDERFS_CSV_H
#define ORDERFS_CSV_H

#include <stddef.h>

#include "buf.h"

#define CSV_SEP ","
#define CSV_EOL "\r\n"

/* Whether the len bytes at s must be quoted (they hold , " CR or LF): 1 or 0. */
int csv_needs_quotes(const char *s, size_t len);

/* Append the len bytes at s as one field (quoted when it must be). 0, or -E2BIG / -ENOMEM
 * from the buffer, which then holds what it held before. */
int csv_field(struct buf *b, const char *s, size_t len);

/* Append CSV_SEP. 0, -E2BIG or -ENOMEM. */
int csv_sep(struct buf *b);

/* Append CSV_EOL. 0, -E2BIG or -ENOMEM. */
int csv_end_row(struct buf *b);

/* Append a whole row of n string fields and CSV_EOL (a header line, typically). 0, or -E2BIG
 * / -ENOMEM with the buffer as it was before. */
int csv_row(struct buf *b, const char *const *fields, size_t n);

#endif
