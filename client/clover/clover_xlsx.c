/* Clover's orders.xlsx / payments.xlsx via libxlsxwriter (see clover_xlsx.h). */
#include "clover_xlsx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xlsxwriter.h>

#include "../xlsx_text.h"

#define XLSX_MAX_ROWS 1048576u /* rows a sheet holds, the header row included */

/* Days from the spreadsheet epoch (1899-12-30) to 1970-01-01. */
#define EXCEL_UNIX_EPOCH 25569.0

struct clover_xlsx {
	enum clover_kind kind;
	lxw_workbook *wb;
	lxw_worksheet *ws;
	lxw_format *money, *time, *bold;
	lxw_row_t row; /* next row to write on ws */
	lxw_col_t ncols;
	int sheets; /* how many sheets so far: past a sheet's rows, "orders (2)" goes on */
	int failed;
};

static int add_sheet(struct clover_xlsx *x);

static int write_header(struct clover_xlsx *x)
{
	size_t n;
	const struct clover_column *cols = clover_columns(x->kind, &n);
	char name[96];

	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s%s", cols[i].name,
			 cols[i].fmt == CLOVER_F_TIME ? " (UTC)" : "");
		if (worksheet_write_string(x->ws, 0, (lxw_col_t)i, name, x->bold) != LXW_NO_ERROR)
			return -1;
		worksheet_set_column(x->ws, (lxw_col_t)i, (lxw_col_t)i,
				     cols[i].fmt == CLOVER_F_TIME ? 24 : 14, NULL);
	}
	x->ncols = (lxw_col_t)n;
	/* Frozen header row; in constant_memory mode both must come before any data row. */
	worksheet_freeze_panes(x->ws, 1, 0);
	return 0;
}

/* Start the next sheet ("orders", then "orders (2)", ...), closing the filter of the last. */
static int add_sheet(struct clover_xlsx *x)
{
	const char *base = x->kind == CLOVER_PAYMENTS ? "payments" : "orders";
	char name[32];

	if (x->ws)
		worksheet_autofilter(x->ws, 0, 0, x->row - 1, x->ncols - 1);
	if (x->sheets++ == 0)
		snprintf(name, sizeof(name), "%s", base);
	else
		snprintf(name, sizeof(name), "%s (%d)", base, x->sheets);
	x->ws = workbook_add_worksheet(x->wb, name);
	if (!x->ws || write_header(x) != 0)
		return -1;
	x->row = 1;
	return 0;
}

struct clover_xlsx *clover_xlsx_open(enum clover_kind kind, const char *path,
				     const char *tmpdir, int64_t created_s)
{
	lxw_workbook_options opt = {.constant_memory = LXW_TRUE, .tmpdir = (char *)tmpdir};
	lxw_doc_properties props = {.created = (time_t)created_s};
	struct clover_xlsx *x = calloc(1, sizeof(*x));

	if (!x)
		return NULL;
	x->kind = kind;
	x->wb = workbook_new_opt(path, &opt);
	/* Without a creation time libxlsxwriter stamps the current one: bytes would differ. */
	if (!x->wb || workbook_set_properties(x->wb, &props) != LXW_NO_ERROR)
		goto fail;
	x->money = workbook_add_format(x->wb);
	x->time = workbook_add_format(x->wb);
	x->bold = workbook_add_format(x->wb);
	if (!x->money || !x->time || !x->bold)
		goto fail;
	format_set_num_format(x->money, "0.00");
	format_set_num_format(x->time, "yyyy-mm-dd hh:mm:ss.000");
	format_set_bold(x->bold);
	if (add_sheet(x) != 0)
		goto fail;
	return x;
fail:
	clover_xlsx_close(x, 1);
	return NULL;
}

static lxw_error write_text(struct clover_xlsx *x, lxw_col_t col, const char *s)
{
	return xlsx_write_text(x->ws, x->row, col, s, NULL);
}

/* A value of no expected shape, kept as its JSON text (as the CSV keeps it). */
static lxw_error write_json_text(struct clover_xlsx *x, lxw_col_t col, const cJSON *v)
{
	char *text = cJSON_PrintUnformatted(v);
	lxw_error e;

	if (!text)
		return LXW_ERROR_MEMORY_MALLOC_FAILED;
	e = write_text(x, col, text);
	free(text);
	return e;
}

static lxw_error write_cell(struct clover_xlsx *x, lxw_col_t col, const cJSON *v,
			    enum clover_fmt fmt)
{
	int64_t n;

	if (!v || cJSON_IsNull(v))
		return LXW_NO_ERROR;
	if (fmt == CLOVER_F_COUNT && cJSON_IsArray(v))
		return worksheet_write_number(x->ws, x->row, col, cJSON_GetArraySize(v), NULL);
	if (fmt == CLOVER_F_MONEY && clover_exact_int(v, &n))
		return worksheet_write_number(x->ws, x->row, col, (double)n / 100.0, x->money);
	if (fmt == CLOVER_F_TIME && clover_exact_int(v, &n))
		return worksheet_write_number(x->ws, x->row, col,
					      (double)n / 86400000.0 + EXCEL_UNIX_EPOCH, x->time);
	if (cJSON_IsString(v))
		return v->valuestring[0] ? write_text(x, col, v->valuestring) : LXW_NO_ERROR;
	if (cJSON_IsBool(v))
		return worksheet_write_boolean(x->ws, x->row, col, cJSON_IsTrue(v), NULL);
	if (clover_exact_int(v, &n))
		return worksheet_write_number(x->ws, x->row, col, (double)n, NULL);
	return write_json_text(x, col, v);
}

int clover_xlsx_add(struct clover_xlsx *x, const cJSON *element)
{
	size_t n;
	const struct clover_column *cols = clover_columns(x->kind, &n);

	if (x->failed || (x->row >= XLSX_MAX_ROWS && add_sheet(x) != 0))
		goto fail;
	for (size_t i = 0; i < n; i++)
		if (write_cell(x, (lxw_col_t)i, clover_lookup(element, cols[i].path),
			       cols[i].fmt) != LXW_NO_ERROR)
			goto fail;
	x->row++;
	return 0;
fail:
	x->failed = 1;
	return -1;
}

int clover_xlsx_close(struct clover_xlsx *x, int discard)
{
	int rc = 0;

	if (!x)
		return -1;
	if (x->ws && !x->failed && !discard)
		worksheet_autofilter(x->ws, 0, 0, x->row - 1, x->ncols - 1);
	if (x->wb && xlsx_close(x->wb) != LXW_NO_ERROR)
		rc = -1;
	rc = rc || x->failed || discard ? -1 : 0;
	free(x);
	return rc;
}
