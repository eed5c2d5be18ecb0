/*
 * orders.xlsx for Mogujie, with libxlsxwriter: sheet "items" (the csv's columns, one row per
 * item order) and sheet "shop_orders" (one row per shop order); see mogujie_rows.h. Money is
 * a number in yuan with number format 0.00, integers are numbers, everything else text.
 *
 * The workbook is written in constant_memory mode, so memory stays flat whatever the number
 * of orders; libxlsxwriter's own temp files go to tmpdir. Rows must be added in order.
 * A text longer than a cell holds is cut with a note (xlsx_text.h), never a failed export.
 * Not thread-safe per handle; separate handles are independent. No logging.
 */
#ifndef ORDERFS_MOGUJIE_XLSX_H
#define ORDERFS_MOGUJIE_XLSX_H

#include "mogujie_rows.h"

struct mogujie_xlsx;

/* Start a workbook that mogujie_xlsx_close() writes to path (created or truncated), with
 * header rows written. created_s (unix s) is the creation time in its properties: the same
 * value and rows give the same bytes. NULL on failure (out of memory, tmpdir not writable). */
struct mogujie_xlsx *mogujie_xlsx_open(const char *path, const char *tmpdir, int64_t created_s);
/* Append an items row (r->ncols == MOGUJIE_ITEM_NCOLS) or a shop_orders row
 * (MOGUJIE_SHOP_NCOLS). 0, or -1 (more rows than a sheet holds, out of memory):
 * the workbook is then unusable; close it and discard the file. */
int mogujie_xlsx_add(struct mogujie_xlsx *x, const struct mogujie_row *r);
/* Write the file and free x (always). 0, or -1 with the file unspecified. Passing
 * discard = 1 frees x, writing what it must, for a caller about to delete path anyway. */
int mogujie_xlsx_close(struct mogujie_xlsx *x, int discard);

#endif
