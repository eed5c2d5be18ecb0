/*
 * Clover export elements as derived files, without any I/O: one CSV row or one JSON line per
 * element (orders.csv / orders.jsonl, payments.*). Pure and thread-safe.
 *
 * CSV is RFC 4180 (common/csv.h): comma separated, CRLF line ends, a field quoted when it
 * holds a comma, quote, CR or LF, quotes doubled; UTF-8 kept as is, no BOM. Columns are fixed
 * per type (clover_csv_header). Money fields (cents) become currency units with exactly two
 * decimals by integer arithmetic ("-0.05"); *Time fields (ms since the epoch) become ISO 8601
 * UTC with milliseconds ("2026-05-18T10:00:00.123Z"); booleans "true"/"false"; an absent or
 * null field is empty. A value of an unexpected JSON type is never dropped: it is written as compact
 * JSON text, so the CSV never says less than the provider did.
 */
#ifndef ORDERFS_CLOVER_CSV_H
#define ORDERFS_CLOVER_CSV_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "../../common/buf.h"

enum clover_kind {
	CLOVER_ORDERS,
	CLOVER_PAYMENTS,
};

/* The header row, CRLF-terminated (static). */
const char *clover_csv_header(enum clover_kind kind);

/* Append element's CSV row (CRLF-terminated) to out. 0, or -ENOMEM / -E2BIG (out's cap);
 * out then holds an unspecified prefix of the row: discard it. */
int clover_csv_row(enum clover_kind kind, const cJSON *element, struct buf *out);

/* Append element as one compact JSON line ending in "\n". 0, or -ENOMEM / -E2BIG (out's
 * cap); out then holds an unspecified prefix of the line. */
int clover_jsonl_line(const cJSON *element, struct buf *out);

/* How a column's value is written (the xlsx writes the same columns, see clover_xlsx.h). */
enum clover_fmt {
	CLOVER_F_PLAIN, /* strings as is, integers in decimal, booleans true/false */
	CLOVER_F_MONEY, /* integer cents -> units with two decimals */
	CLOVER_F_TIME,	/* integer ms -> ISO 8601 UTC */
	CLOVER_F_COUNT, /* number of elements of the array found */
};

struct clover_column {
	const char *name; /* header */
	const char *path; /* dotted path in the element ("employee.id") */
	enum clover_fmt fmt;
};

/* The columns of kind, in header order; *n set. Static. */
const struct clover_column *clover_columns(enum clover_kind kind, size_t *n);
/* The value at a dotted path, or NULL when any step is absent or not an object. */
const cJSON *clover_lookup(const cJSON *element, const char *path);
/* Whether v is a JSON number holding an exact integer: 1 with *out set, else 0. */
int clover_exact_int(const cJSON *v, int64_t *out);

#define CLOVER_MONEY_LEN 32
#define CLOVER_TIME_LEN 32

/* Cents as "[-]units.cc". */
void clover_csv_money(int64_t cents, char out[CLOVER_MONEY_LEN]);
/* ms since the epoch as "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC). 0, or -1 outside years 0..9999. */
int clover_csv_time(int64_t ms, char out[CLOVER_TIME_LEN]);

#endif
