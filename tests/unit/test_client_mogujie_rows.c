/* mogujie_rows.c: money, sku attributes, rows, csv and redaction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../client/mogujie/mogujie_rows.h"
#include "../../common/csv.h"

/* The spec's example shop order, trimmed. */
static const char *ORDER =
	"{\"buyerName\":\"xx\",\"buyerUserId\":117602449,\"createdStr\":\"2016-11-01 11:01:02\","
	"\"itemOrderInfos\":[{\"itemId\":\"1k4bcye\",\"itemOrderId\":28705208422449,"
	"\"nowPrice\":10,\"number\":1,\"price\":100,\"orderStatus\":\"ORDER_PAID\","
	"\"skuAttributes\":[{\"key\":\"颜色\",\"value\":\"金色\"},{\"key\":\"尺码\",\"value\":"
	"\"均码\"}],\"skuCode\":\"\",\"skuId\":\"1o5o97s\",\"title\":\"测试商家审单, \\\"新\\\"\"}],"
	"\"orderStatus\":\"ORDER_PAID\",\"payOrderId\":28705208402449,"
	"\"payTimeStr\":\"2016-11-01 11:01:15\",\"platformPromotionAmount\":0,"
	"\"promotionAmount\":-5,\"receiverAddress\":\"xxxxxxxxxxxxx\",\"receiverArea\":\"江干区\","
	"\"receiverCity\":\"杭州市\",\"receiverMobile\":\"13706514233\",\"receiverName\":\"xxx\","
	"\"receiverPhone\":\"13706xxx4233\",\"receiverProvince\":\"xxx省\","
	"\"receiverZip\":\"310000\",\"shipExpense\":\"123\",\"shopOrderId\":28705208412449,"
	"\"shopOrderPrice\":12345,\"shopPromotionAmount\":5}";

static void test_fen_to_yuan(void **state)
{
	char s[MOGUJIE_YUAN_MAX];
	struct {
		int64_t fen;
		const char *yuan;
	} v[] = {{0, "0.00"},	     {5, "0.05"},     {-5, "-0.05"},  {12345, "123.45"},
		 {-12345, "-123.45"}, {100, "1.00"},   {-100, "-1.00"}, {99, "0.99"},
		 {INT64_MAX, "92233720368547758.07"}, {INT64_MIN, "-92233720368547758.08"}};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		mogujie_fen_to_yuan(v[i].fen, s);
		assert_string_equal(s, v[i].yuan);
	}
}

static void test_json_int(void **state)
{
	cJSON *a = cJSON_Parse("[123, \"123\", \"-7\", 1.5, \"1.5\", \"\", \"12a\", true, "
			       "28705208412449]");
	int64_t v;
	assert_int_equal(mogujie_json_int(cJSON_GetArrayItem(a, 0), &v), 0);
	assert_int_equal(v, 123);
	assert_int_equal(mogujie_json_int(cJSON_GetArrayItem(a, 1), &v), 0);
	assert_int_equal(v, 123);
	assert_int_equal(mogujie_json_int(cJSON_GetArrayItem(a, 2), &v), 0);
	assert_int_equal(v, -7);
	for (int i = 3; i <= 7; i++)
		assert_int_equal(mogujie_json_int(cJSON_GetArrayItem(a, i), &v), -1);
	assert_int_equal(mogujie_json_int(cJSON_GetArrayItem(a, 8), &v), 0);
	assert_true(v == 28705208412449LL);
	cJSON_Delete(a);
}

static void test_sku_join(void **state)
{
	char out[64];
	cJSON *a = cJSON_Parse("[{\"key\":\"颜色\",\"value\":\"金色\"},{\"key\":\"尺码\","
			       "\"value\":\"均码\"}]");
	assert_int_equal(mogujie_sku_join(a, out, sizeof(out)), strlen("颜色:金色; 尺码:均码"));
	assert_string_equal(out, "颜色:金色; 尺码:均码");
	/* truncation never cuts a UTF-8 character */
	size_t n = mogujie_sku_join(a, out, 9);
	assert_int_equal(n, 7); /* "颜色:" is 7 bytes, "金" would need 3 more */
	assert_string_equal(out, "颜色:");
	cJSON_Delete(a);
	a = cJSON_Parse("[]");
	assert_int_equal(mogujie_sku_join(a, out, sizeof(out)), 0);
	assert_string_equal(out, "");
	cJSON_Delete(a);
	assert_int_equal(mogujie_sku_join(NULL, out, sizeof(out)), 0);
}

static const char *cell(const struct mogujie_row *r, size_t i, char *buf)
{
	memcpy(buf, mogujie_cell_text(r, i), r->cell[i].len);
	buf[r->cell[i].len] = '\0';
	return buf;
}

static void test_item_row(void **state)
{
	cJSON *o = cJSON_Parse(ORDER);
	const cJSON *item = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "itemOrderInfos"), 0);
	struct mogujie_row r = {0};
	const char *bad = NULL;
	char buf[256];
	assert_int_equal(mogujie_row_fill(&r, o, item, &bad), 0);
	assert_int_equal(r.ncols, MOGUJIE_ITEM_NCOLS);
	assert_string_equal(mogujie_item_headers[0], "shopOrderId");
	assert_string_equal(cell(&r, 0, buf), "28705208412449");
	assert_string_equal(cell(&r, 6, buf), "117602449");
	assert_int_equal(r.cell[15].kind, MOGUJIE_CELL_MONEY);
	assert_int_equal(r.cell[15].num, 12345);
	assert_int_equal(r.cell[16].num, 123); /* shipExpense, a string of fen */
	assert_string_equal(mogujie_item_headers[25], "skuAttributes");
	assert_string_equal(cell(&r, 25, buf), "颜色:金色; 尺码:均码");
	assert_int_equal(r.cell[26].kind, MOGUJIE_CELL_INT);
	assert_string_equal(mogujie_item_headers[29], "itemOrderStatus");
	assert_string_equal(cell(&r, 29, buf), "ORDER_PAID");
	assert_int_equal(r.cell[24].kind, MOGUJIE_CELL_TEXT); /* skuCode "" */
	assert_int_equal(r.cell[24].len, 0);

	struct buf csv = BUF_INIT(SIZE_MAX);
	assert_int_equal(mogujie_csv_row(&csv, &r), 0);
	assert_string_equal(csv.data,
			    "28705208412449,28705208402449,2016-11-01 11:01:02,2016-11-01 11:01:15,"
			    "ORDER_PAID,xx,117602449,xxx,13706514233,13706xxx4233,xxx省,杭州市,江干区,"
			    "xxxxxxxxxxxxx,310000,123.45,1.23,-0.05,0.05,0.00,28705208422449,1k4bcye,"
			    "\"测试商家审单, \"\"新\"\"\",1o5o97s,,颜色:金色; 尺码:均码,1,1.00,0.10,"
			    "ORDER_PAID\r\n");
	buf_free(&csv);

	/* the shop_orders shape */
	assert_int_equal(mogujie_row_fill(&r, o, NULL, &bad), 0);
	assert_int_equal(r.ncols, MOGUJIE_SHOP_NCOLS);
	assert_string_equal(mogujie_shop_headers[20], "itemCount");
	assert_int_equal(r.cell[20].num, 1);
	mogujie_row_free(&r);
	cJSON_Delete(o);
}

static void test_bad_money_field(void **state)
{
	cJSON *o = cJSON_Parse("{\"shopOrderId\":1,\"shopOrderPrice\":\"12.5\"}");
	struct mogujie_row r = {0};
	const char *bad = NULL;
	assert_int_equal(mogujie_row_fill(&r, o, NULL, &bad), -1);
	assert_string_equal(bad, "shopOrderPrice");
	mogujie_row_free(&r);
	cJSON_Delete(o);
}

static void test_csv_header(void **state)
{
	struct buf b = BUF_INIT(SIZE_MAX);
	const char *h[] = {"a", "b,c", "d"};
	assert_int_equal(csv_row(&b, h, 3), 0);
	assert_string_equal(b.data, "a,\"b,c\",d\r\n");
	buf_free(&b);
}

static void test_redaction_masks_exactly_four_fields(void **state)
{
	cJSON *o = cJSON_Parse(ORDER);
	cJSON *want = cJSON_Parse(ORDER);
	const char *masked[] = {"receiverName", "receiverPhone", "receiverMobile",
				"receiverAddress"};
	assert_int_equal(mogujie_redact(o), 0);
	for (int i = 0; i < 4; i++) {
		assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, masked[i])), "***");
		cJSON_ReplaceItemInObjectCaseSensitive(want, masked[i], cJSON_CreateString("***"));
	}
	assert_true(cJSON_Compare(o, want, 1)); /* nothing else changed */
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "receiverCity")), "杭州市");
	/* absent fields stay absent */
	cJSON *e = cJSON_Parse("{\"receiverCity\":\"x\"}");
	assert_int_equal(mogujie_redact(e), 0);
	assert_null(cJSON_GetObjectItem(e, "receiverName"));
	cJSON_Delete(e);
	cJSON_Delete(want);
	cJSON_Delete(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fen_to_yuan),
		cmocka_unit_test(test_json_int),
		cmocka_unit_test(test_sku_join),
		cmocka_unit_test(test_item_row),
		cmocka_unit_test(test_bad_money_field),
		cmocka_unit_test(test_csv_header),
		cmocka_unit_test(test_redaction_masks_exactly_four_fields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
