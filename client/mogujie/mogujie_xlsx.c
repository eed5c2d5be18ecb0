/* orders.xlsx via libxlsxwriter (see mogujie_xlsx.h). */
#include "mogujie_xlsx.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xlsxwriter.h>

#include "../xlsx_text.h"

#define XLSX_MAX_ROWS 1048576u

struct mogujie_xlsx {
	lxw_workbook *wb;
	lxw_worksheet *items, *shops;
	lxw_format *money, *bold;
	lxw_row_t item_row, shop_row; /* next row to write */
	struct buf text;	      /* NUL-terminated copy of one cell */
	int failed;
};

static int header(struct mogujie_xlsx *x, lxw_worksheet *ws, const char *const *h, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (worksheet_write_string(ws, 0, (lxw_col_t)i, h[i], x->bold) != LXW_NO_ERROR)
			return -1;
	return 0;
}

struct mogujie_xlsx *mogujie_xlsx_open(const char *path, const char *tmpdir, int64_t created_s)
{
	lxw_workbook_options opt = {.constant_memory = LXW_TRUE, .tmpdir = (char *)tmpdir};
	lxw_doc_properties props = {.created = (time_t)created_s};
	struct mogujie_xlsx *x = calloc(1, sizeof(*x));

	if (!x)
		return NULL;
	buf_init(&x->text, MOGUJIE_ROW_TEXT_MAX);
	x->wb = workbook_new_opt(path, &opt);
	/* Without a creation time libxlsxwriter stamps the current one: bytes would differ. */
	if (!x->wb || workbook_set_properties(x->wb, &props) != LXW_NO_ERROR)
		goto fail;
	x->items = workbook_add_worksheet(x->wb, "items");
	x->shops = workbook_add_worksheet(x->wb, "shop_orders");
	x->money = workbook_add_format(x->wb);
	x->bold = workbook_add_format(x->wb);
	if (!x->items || !x->shops || !x->money || !x->bold)
		goto fail;
	format_set_num_format(x->money, "0.00");
	format_set_bold(x->bold);
	if (header(x, x->items, mogujie_item_headers, MOGUJIE_ITEM_NCOLS) ||
	    header(x, x->shops, mogujie_shop_headers, MOGUJIE_SHOP_NCOLS))
		goto fail;
	x->item_row = x->shop_row = 1;
	return x;
fail:
	mogujie_xlsx_close(x, 1);
	return NULL;
}

/* TEXT cell i of r as a string (libxlsxwriter wants one), valid until the next call; NULL
 * when out of memory. */
static const char *cell_string(struct mogujie_xlsx *x, const struct mogujie_row *r, size_t i)
{
	buf_reset(&x->text);
	if (buf_add(&x->text, mogujie_cell_text(r, i), r->cell[i].len) != 0)
		return NULL;
	return x->text.data;
}

int mogujie_xlsx_add(struct mogujie_xlsx *x, const struct mogujie_row *r)
{
	int shop = r->ncols == MOGUJIE_SHOP_NCOLS;
	lxw_worksheet *ws = shop ? x->shops : x->items;
	lxw_row_t *row = shop ? &x->shop_row : &x->item_row;

	if (x->failed || *row >= XLSX_MAX_ROWS)
		goto fail;
	for (size_t i = 0; i < r->ncols; i++) {
		const struct mogujie_cell *c = &r->cell[i];
		lxw_error e = LXW_NO_ERROR;
		const char *s;
		switch (c->kind) {
		case MOGUJIE_CELL_TEXT:
			if (c->len == 0)
				break;
			if (!(s = cell_string(x, r, i)))
				goto fail;
			e = xlsx_write_text(ws, *row, (lxw_col_t)i, s, NULL);
			break;
		case MOGUJIE_CELL_MONEY:
			/* fen / 100 is the nearest double to the exact yuan amount. */
			e = worksheet_write_number(ws, *row, (lxw_col_t)i, (double)c->num / 100.0,
						   x->money);
			break;
		case MOGUJIE_CELL_INT:
			e = worksheet_write_number(ws, *row, (lxw_col_t)i, (double)c->num, NULL);
			break;
		case MOGUJIE_CELL_EMPTY:
			break;
		}
		if (e != LXW_NO_ERROR)
			goto fail;
	}
	(*row)++;
	return 0;
fail:
	x->failed = 1;
	return -1;
}

int mogujie_xlsx_close(struct mogujie_xlsx *x, int discard)
{
	int rc = 0;

	if (!x)
		return -1;
	if (x->wb && xlsx_close(x->wb) != LXW_NO_ERROR)
		rc = -1;
	buf_free(&x->text);
	rc = rc || x->failed || discard ? -1 : 0;
	free(x);
	return rc;
}
