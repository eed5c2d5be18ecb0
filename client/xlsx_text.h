/*
 * Text into an xlsx cell (libxlsxwriter) within the cell's limit, and the workbook's close,
 * shared by the providers that write spreadsheets. A cell holds at most 32,767 characters; a longer text keeps its first
 * XLSX_TEXT_KEEP characters (whole UTF-8 sequences) and ends with XLSX_TEXT_CUT_NOTE, so one
 * huge field never fails the export: the .jsonl and .csv beside the xlsx hold it whole.
 */
#ifndef ORDERFS_XLSX_TEXT_H
#define ORDERFS_XLSX_TEXT_H

#include <xlsxwriter.h>

#define XLSX_TEXT_KEEP 32000
#define XLSX_TEXT_CUT_NOTE " [cut: see the .jsonl]"

/* worksheet_write_string of s (NUL-terminated UTF-8), cut as above when too long. The
 * libxlsxwriter error, or LXW_ERROR_MEMORY_MALLOC_FAILED. */
lxw_error xlsx_write_text(lxw_worksheet *ws, lxw_row_t row, lxw_col_t col, const char *s,
			  lxw_format *fmt);

/* workbook_close(wb), one at a time in the process: libxlsxwriter stamps the file's creation
 * time with gmtime(), whose static result two fills closing workbooks at once would share
 * (a data race, and a wrong date in one of them). Its result. */
lxw_error xlsx_close(lxw_workbook *wb);

#endif
