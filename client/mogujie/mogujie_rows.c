/* Shop orders -> csv/xlsx rows, money and redaction (see mogujie_rows.h for the columns). */
#include "mogujie_rows.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/csv.h"

#define SKU_JOIN_MAX 4096

enum col_kind { COL_TEXT, COL_MONEY, COL_INT, COL_SKU, COL_COUNT };

/* Where a column's value comes from; the headers are mogujie_*_headers, in the same order. */
struct col {
	const char *field;
	enum col_kind kind;
};

/* Shop-level columns (1-20), shared by both row shapes. */
static const struct col shop_cols[MOGUJIE_SHOP_COLS] = {
	{"shopOrderId", COL_TEXT},
	{"payOrderId", COL_TEXT},
	{"createdStr", COL_TEXT},
	{"payTimeStr", COL_TEXT},
	{"orderStatus", COL_TEXT},
	{"buyerName", COL_TEXT},
	{"buyerUserId", COL_TEXT},
	{"receiverName", COL_TEXT},
	{"receiverMobile", COL_TEXT},
	{"receiverPhone", COL_TEXT},
	{"receiverProvince", COL_TEXT},
	{"receiverCity", COL_TEXT},
	{"receiverArea", COL_TEXT},
	{"receiverAddress", COL_TEXT},
	{"receiverZip", COL_TEXT},
	{"shopOrderPrice", COL_MONEY},
	{"shipExpense", COL_MONEY},
	{"promotionAmount", COL_MONEY},
	{"shopPromotionAmount", COL_MONEY},
	{"platformPromotionAmount", COL_MONEY},
};

static const struct col item_cols[MOGUJIE_ITEM_NCOLS - MOGUJIE_SHOP_COLS] = {
	{"itemOrderId", COL_TEXT},
	{"itemId", COL_TEXT},
	{"title", COL_TEXT},
	{"skuId", COL_TEXT},
	{"skuCode", COL_TEXT},
	{"skuAttributes", COL_SKU},
	{"number", COL_INT},
	{"price", COL_MONEY},
	{"nowPrice", COL_MONEY},
	{"orderStatus", COL_TEXT},
};

static const struct col count_col = {"itemOrderInfos", COL_COUNT};

const char *const mogujie_item_headers[MOGUJIE_ITEM_NCOLS] = {
	"shopOrderId", "payOrderId", "createdStr", "payTimeStr", "orderStatus",
	"buyerName", "buyerUserId", "receiverName", "receiverMobile", "receiverPhone",
	"receiverProvince", "receiverCity", "receiverArea", "receiverAddress", "receiverZip",
	"shopOrderPrice", "shipExpense", "promotionAmount", "shopPromotionAmount",
	"platformPromotionAmount", "itemOrderId", "itemId", "title", "skuId", "skuCode",
	"skuAttributes", "number", "price", "nowPrice", "itemOrderStatus",
};

const char *const mogujie_shop_headers[MOGUJIE_SHOP_NCOLS] = {
	"shopOrderId", "payOrderId", "createdStr", "payTimeStr", "orderStatus",
	"buyerName", "buyerUserId", "receiverName", "receiverMobile", "receiverPhone",
	"receiverProvince", "receiverCity", "receiverArea", "receiverAddress", "receiverZip",
	"shopOrderPrice", "shipExpense", "promotionAmount", "shopPromotionAmount",
	"platformPromotionAmount", "itemCount",
};

void mogujie_fen_to_yuan(int64_t fen, char out[MOGUJIE_YUAN_MAX])
{
	/* Work on the magnitude as unsigned so INT64_MIN has one too. */
	uint64_t mag = fen < 0 ? (uint64_t)0 - (uint64_t)fen : (uint64_t)fen;
	snprintf(out, MOGUJIE_YUAN_MAX, "%s%" PRIu64 ".%02u", fen < 0 ? "-" : "", mag / 100,
		 (unsigned)(mag % 100));
}

int mogujie_json_int(const cJSON *v, int64_t *out)
{
	const double lim = 9007199254740992.0; /* 2^53: doubles are exact below it */

	if (cJSON_IsNumber(v)) {
		double d = v->valuedouble;
		if (!(d > -lim && d < lim) || d != (double)(int64_t)d)
			return -1;
		*out = (int64_t)d;
		return 0;
	}
	if (cJSON_IsString(v) && v->valuestring) {
		const char *s = v->valuestring;
		int neg = *s == '-';
		const char *p = s + neg;
		uint64_t n = 0;
		if (!*p || strlen(p) > 18)
			return -1;
		for (; *p; p++) {
			if (*p < '0' || *p > '9')
				return -1;
			n = n * 10 + (uint64_t)(*p - '0');
		}
		*out = neg ? -(int64_t)n : (int64_t)n;
		return 0;
	}
	return -1;
}

/* Append len bytes, never cutting a UTF-8 sequence: returns bytes actually appended. */
static size_t put_bounded(char *out, size_t pos, size_t cap, const char *s, size_t len)
{
	if (pos + len < cap) {
		memcpy(out + pos, s, len);
		return len;
	}
	size_t n = cap - 1 - pos;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	memcpy(out + pos, s, n);
	return n;
}

size_t mogujie_sku_join(const cJSON *attrs, char *out, size_t cap)
{
	size_t pos = 0;
	int first = 1;
	const cJSON *a;

	if (cap == 0)
		return 0;
	out[0] = '\0';
	if (!cJSON_IsArray(attrs))
		return 0;
	cJSON_ArrayForEach(a, attrs)
	{
		if (!cJSON_IsObject(a))
			continue;
		const char *k = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "key"));
		const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "value"));
		const char *parts[4] = {first ? "" : "; ", k ? k : "", ":", v ? v : ""};
		for (int i = 0; i < 4; i++) {
			size_t len = strlen(parts[i]);
			size_t put = put_bounded(out, pos, cap, parts[i], len);
			pos += put;
			if (put < len) {
				out[pos] = '\0';
				return pos;
			}
		}
		first = 0;
	}
	out[pos] = '\0';
	return pos;
}

/* c becomes a TEXT cell holding s: 0, or -ENOMEM / -E2BIG from the row's text buffer. */
static int row_text(struct mogujie_row *r, struct mogujie_cell *c, const char *s, size_t len)
{
	size_t off = r->text.len;
	int rc = buf_add(&r->text, s, len);

	if (rc != 0)
		return rc;
	c->kind = MOGUJIE_CELL_TEXT;
	c->off = off;
	c->len = len;
	return 0;
}

static int fill_cell(struct mogujie_row *r, struct mogujie_cell *c, const cJSON *obj,
		     const struct col *col, const char **bad_field)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, col->field);
	char buf[SKU_JOIN_MAX];

	memset(c, 0, sizeof(*c));
	if (col->kind == COL_COUNT) {
		c->kind = MOGUJIE_CELL_INT;
		c->num = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : 0;
		return 0;
	}
	if (!v || cJSON_IsNull(v))
		return 0;
	switch (col->kind) {
	case COL_MONEY:
	case COL_INT:
		if (cJSON_IsString(v) && v->valuestring[0] == '\0')
			return 0;
		if (mogujie_json_int(v, &c->num) != 0) {
			*bad_field = col->field;
			return -1;
		}
		c->kind = col->kind == COL_MONEY ? MOGUJIE_CELL_MONEY : MOGUJIE_CELL_INT;
		return 0;
	case COL_SKU:
		return row_text(r, c, buf, mogujie_sku_join(v, buf, sizeof(buf)));
	default:
		break;
	}
	if (cJSON_IsString(v))
		return row_text(r, c, v->valuestring, strlen(v->valuestring));
	if (cJSON_IsNumber(v)) {
		int64_t n;
		int len = mogujie_json_int(v, &n) == 0
				  ? snprintf(buf, sizeof(buf), "%" PRId64, n)
				  : snprintf(buf, sizeof(buf), "%.17g", v->valuedouble);
		return row_text(r, c, buf, (size_t)len);
	}
	if (cJSON_IsBool(v))
		return cJSON_IsTrue(v) ? row_text(r, c, "true", 4) : row_text(r, c, "false", 5);
	/* An object or array where text was expected: keep it, as compact JSON. */
	char *s = cJSON_PrintUnformatted(v);
	if (!s)
		return -ENOMEM;
	int rc = row_text(r, c, s, strlen(s));
	free(s);
	return rc;
}

int mogujie_row_fill(struct mogujie_row *r, const cJSON *order, const cJSON *item,
		     const char **bad_field)
{
	int rc;

	buf_reset(&r->text);
	r->text.max = MOGUJIE_ROW_TEXT_MAX; /* a zeroed row gets its cap here */
	r->ncols = item ? MOGUJIE_ITEM_NCOLS : MOGUJIE_SHOP_NCOLS;
	for (size_t i = 0; i < MOGUJIE_SHOP_COLS; i++)
		if ((rc = fill_cell(r, &r->cell[i], order, &shop_cols[i], bad_field)))
			return rc;
	if (!item)
		return fill_cell(r, &r->cell[MOGUJIE_SHOP_COLS], order, &count_col, bad_field);
	for (size_t i = 0; i < MOGUJIE_ITEM_NCOLS - MOGUJIE_SHOP_COLS; i++)
		if ((rc = fill_cell(r, &r->cell[MOGUJIE_SHOP_COLS + i], item, &item_cols[i],
				    bad_field)))
			return rc;
	return 0;
}

void mogujie_row_free(struct mogujie_row *r)
{
	buf_free(&r->text);
}

int mogujie_redact(cJSON *order)
{
	static const char *const fields[] = {"receiverName", "receiverPhone", "receiverMobile",
					     "receiverAddress"};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (!cJSON_GetObjectItemCaseSensitive(order, fields[i]))
			continue;
		cJSON *mask = cJSON_CreateString(MOGUJIE_REDACTED);
		if (!mask || !cJSON_ReplaceItemInObjectCaseSensitive(order, fields[i], mask)) {
			cJSON_Delete(mask);
			return -1;
		}
	}
	return 0;
}

/* Cell i of r as one CSV field. */
static int csv_cell(struct buf *b, const struct mogujie_row *r, size_t i)
{
	const struct mogujie_cell *c = &r->cell[i];
	char num[MOGUJIE_YUAN_MAX];

	switch (c->kind) {
	case MOGUJIE_CELL_TEXT:
		return csv_field(b, mogujie_cell_text(r, i), c->len);
	case MOGUJIE_CELL_MONEY:
		mogujie_fen_to_yuan(c->num, num);
		return buf_add_str(b, num);
	case MOGUJIE_CELL_INT:
		snprintf(num, sizeof(num), "%" PRId64, c->num);
		return buf_add_str(b, num);
	case MOGUJIE_CELL_EMPTY:
		break;
	}
	return 0;
}

int mogujie_csv_row(struct buf *b, const struct mogujie_row *r)
{
	size_t before = b->len;
	int rc = 0;

	for (size_t i = 0; i < r->ncols && rc == 0; i++) {
		if (i > 0)
			rc = csv_sep(b);
		if (rc == 0)
			rc = csv_cell(b, r, i);
	}
	if (rc == 0)
		rc = csv_end_row(b);
	if (rc != 0)
		buf_truncate(b, before);
	return rc;
}
