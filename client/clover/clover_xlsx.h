/*
 * orders.xlsx and payments.xlsx for Clover, with libxlsxwriter: one sheet of the CSV's columns
 * (clover_columns), one row per element. Money is a number in currency units with format
 * 0.00, times are real spreadsheet date-times in UTC (the header says so: "createdTime (UTC)"),
 * counts and other integers are numbers, booleans are booleans, ids and other strings are
 * text, and a value of an unexpected type is kept as JSON text, as in the CSV. The header row
 * is bold and frozen and carries an autofilter over every row. Spreadsheet limits never fail
 * the export: past a sheet's 1,048,575 rows the rows go on in "orders (2)" (same header),
 * and a text longer than a cell holds (32,767 characters) keeps its first 32,000 and says it
 * was cut (the .jsonl and .csv hold every value whole).
 *
 * Written in constant_memory mode: memory stays flat whatever the number of rows;
 * libxlsxwriter's own temp files go to tmpdir. Not thread-safe per handle. No logging.
 */
#ifndef ORDERFS_CLOVER_XLSX_H
#define ORDERFS_CLOVER_XLSX_H

#include <cjson/cJSON.h>

#include "clover_csv.h"

struct clover_xlsx;

/* Start a workbook of kind that clover_xlsx_close() writes to path, with its header row
 * written. created_s (unix s) is the workbook's creation time in its properties: the same
 * value and rows give the same bytes, so fetching one export twice gives one file. NULL on
 * failure (out of memory, tmpdir not writable). */
struct clover_xlsx *clover_xlsx_open(enum clover_kind kind, const char *path,
				     const char *tmpdir, int64_t created_s);
/* Append element's row. 0, or -1 (out of memory, a write error of libxlsxwriter's): the
 * workbook is then unusable; close it and discard the file. */
int clover_xlsx_add(struct clover_xlsx *x, const cJSON *element);
/* Write the file and free x (always). 0, or -1 with the file unspecified. discard = 1 frees
 * x for a caller about to delete path anyway. */
int clover_xlsx_close(struct clover_xlsx *x, int discard);

#endif
