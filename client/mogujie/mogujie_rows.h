/*
 * Mogujie shop orders -> table rows, shared by orders.csv and orders.xlsx, and receiver
 * redaction. Pure apart from malloc; thread-safe; no logging.
 *
 * Columns (README "Mogujie files"). orders.csv and the xlsx sheet "items" have one row per
 * item order (itemOrderInfos[]), repeating its shop order's fields; the sheet "shop_orders"
 * has one row per shop order with the shop columns (1-20) and itemCount. Headers are the
 * API's field names; money is in yuan (fen / 100, exact, two decimals: "12.34"; a number
 * with format 0.00 in the xlsx).
 *
 *    #  header                   source                         kind
 *    1  shopOrderId              shopOrderId                    id (text)
 *    2  payOrderId               payOrderId                     id (text)
 *    3  createdStr               createdStr                     text
 *    4  payTimeStr               payTimeStr                     text
 *    5  orderStatus              orderStatus                    text
 *    6  buyerName                buyerName                      text
 *    7  buyerUserId              buyerUserId                    id (text)
 *    8  receiverName             receiverName                   text (redactable)
 *    9  receiverMobile           receiverMobile                 text (redactable)
 *   10  receiverPhone            receiverPhone                  text (redactable)
 *   11  receiverProvince         receiverProvince               text
 *   12  receiverCity             receiverCity                   text
 *   13  receiverArea             receiverArea                   text
 *   14  receiverAddress          receiverAddress                text (redactable)
 *   15  receiverZip              receiverZip                    text
 *   16  shopOrderPrice           shopOrderPrice                 money
 *   17  shipExpense              shipExpense (a string of fen)  money
 *   18  promotionAmount          promotionAmount                money
 *   19  shopPromotionAmount      shopPromotionAmount            money
 *   20  platformPromotionAmount  platformPromotionAmount        money
 *  items / csv only:
 *   21  itemOrderId              itemOrderInfos[].itemOrderId   id (text)
 *   22  itemId                   itemOrderInfos[].itemId        text
 *   23  title                    itemOrderInfos[].title         text
 *   24  skuId                    itemOrderInfos[].skuId         text
 *   25  skuCode                  itemOrderInfos[].skuCode       text
 *   26  skuAttributes            itemOrderInfos[].skuAttributes "颜色:金色; 尺码:均码"
 *   27  number                   itemOrderInfos[].number        integer
 *   28  price                    itemOrderInfos[].price         money
 *   29  nowPrice                 itemOrderInfos[].nowPrice      money
 *   30  itemOrderStatus          itemOrderInfos[].orderStatus   text
 *  shop_orders only:
 *   21  itemCount                len(itemOrderInfos)            integer
 *
 * A missing or null field is an empty cell. A money or integer field that is neither an
 * integral JSON number nor a string of decimal digits (optional '-') makes the row fail.
 */
#ifndef ORDERFS_MOGUJIE_ROWS_H
#define ORDERFS_MOGUJIE_ROWS_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "../../common/buf.h"

#define MOGUJIE_SHOP_COLS 20
#define MOGUJIE_ITEM_NCOLS 30 /* columns of a csv / "items" row */
#define MOGUJIE_SHOP_NCOLS 21 /* columns of a "shop_orders" row */
#define MOGUJIE_MAX_COLS 30
#define MOGUJIE_REDACTED "***"
#define MOGUJIE_YUAN_MAX 32

enum mogujie_cell_kind {
	MOGUJIE_CELL_EMPTY = 0,
	MOGUJIE_CELL_TEXT,  /* text, ids included */
	MOGUJIE_CELL_MONEY, /* num is fen */
	MOGUJIE_CELL_INT,   /* num */
};

struct mogujie_cell {
	enum mogujie_cell_kind kind;
	size_t off, len; /* TEXT: bytes in the row's text buffer */
	int64_t num;
};

/* Bytes of text one row may hold: an order line is at most 16 MiB, and a row's text is at
 * most that plus a few short formatted values, so a real order never reaches it. */
#define MOGUJIE_ROW_TEXT_MAX (64u * 1024u * 1024u)

/* One row; zero it, reuse it across rows (mogujie_row_fill resets it), free with
 * mogujie_row_free. */
struct mogujie_row {
	size_t ncols;
	struct mogujie_cell cell[MOGUJIE_MAX_COLS];
	struct buf text; /* every TEXT cell's bytes, not NUL-separated */
};

/* Column headers of an items row (MOGUJIE_ITEM_NCOLS) and a shop_orders row. */
extern const char *const mogujie_item_headers[MOGUJIE_ITEM_NCOLS];
extern const char *const mogujie_shop_headers[MOGUJIE_SHOP_NCOLS];

/*
 * Fill r from shop order `order` and one of its itemOrderInfos `item` (an items row), or with
 * item NULL a shop_orders row. Returns 0, -1 for a bad money/integer field (*bad_field set
 * to its name, static), -ENOMEM, or -E2BIG past MOGUJIE_ROW_TEXT_MAX.
 */
int mogujie_row_fill(struct mogujie_row *r, const cJSON *order, const cJSON *item,
		     const char **bad_field);
void mogujie_row_free(struct mogujie_row *r);

/* Pointer to a TEXT cell's bytes (not NUL-terminated; cell->len of them). */
static inline const char *mogujie_cell_text(const struct mogujie_row *r, size_t i)
{
	return r->text.data + r->cell[i].off;
}

/* fen -> "yuan.ff" with exact integer arithmetic: 0 -> "0.00", 5 -> "0.05", -5 -> "-0.05",
 * 12345 -> "123.45". */
void mogujie_fen_to_yuan(int64_t fen, char out[MOGUJIE_YUAN_MAX]);

/* An integral JSON number (|v| < 2^53) or a string of decimal digits with an optional '-'.
 * 0 or -1. */
int mogujie_json_int(const cJSON *v, int64_t *out);

/* skuAttributes [{"key":K,"value":V},...] -> "K:V; K:V" into out (cap bytes, truncated on
 * a UTF-8 boundary). Non-object entries are skipped. Returns the length written. */
size_t mogujie_sku_join(const cJSON *attrs, char *out, size_t cap);

/*
 * Replace receiverName, receiverPhone, receiverMobile and receiverAddress of order (when
 * present) with "***"; nothing else changes. 0, or -1 out of memory (order may be partly
 * masked: drop it).
 */
int mogujie_redact(cJSON *order);

/* Append r as one RFC 4180 line (common/csv.h: fields quoted when they hold , " CR or LF;
 * CRLF at the end); the header line is csv_row() of the headers above. 0, or -ENOMEM /
 * -E2BIG (b's cap) with b as it was. */
int mogujie_csv_row(struct buf *b, const struct mogujie_row *r);

#endif
