/* client/clover/clover_csv.c: money, times, RFC 4180 quoting, columns, JSON lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../client/clover/clover_csv.h"

/* The row of element json (a JSON object), NUL-terminated; caller frees. */
static char *row_of(enum clover_kind kind, const char *json)
{
	struct buf b = BUF_INIT(SIZE_MAX);
	cJSON *el = cJSON_Parse(json);
	assert_non_null(el);
	assert_int_equal(clover_csv_row(kind, el, &b), 0);
	cJSON_Delete(el);
	assert_int_equal(buf_add(&b, "", 1), 0);
	return b.data;
}

static int count_fields(const char *line)
{
	int n = 1, quoted = 0;
	for (const char *p = line; *p; p++) {
		if (*p == '"')
			quoted = !quoted;
		else if (*p == ',' && !quoted)
			n++;
	}
	return n;
}

static void test_money(void **state)
{
	char m[CLOVER_MONEY_LEN];
	const struct {
		int64_t cents;
		const char *want;
	} cases[] = {
		{0, "0.00"},
		{5, "0.05"},
		{-5, "-0.05"},
		{1230, "12.30"},
		{-1230, "-12.30"},
		{100, "1.00"},
		{-100, "-1.00"},
		{99, "0.99"},
		{-99, "-0.99"},
		{123456789, "1234567.89"},
		{INT64_MIN, "-92233720368547758.08"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		clover_csv_money(cases[i].cents, m);
		assert_string_equal(m, cases[i].want);
	}
}

static void test_time(void **state)
{
	char t[CLOVER_TIME_LEN];
	assert_int_equal(clover_csv_time(1779098400123LL, t), 0);
	assert_string_equal(t, "2026-05-18T10:00:00.123Z");
	assert_int_equal(clover_csv_time(0, t), 0);
	assert_string_equal(t, "1970-01-01T00:00:00.000Z");
	assert_int_equal(clover_csv_time(1779148799999LL, t), 0);
	assert_string_equal(t, "2026-05-18T23:59:59.999Z");
	assert_int_equal(clover_csv_time(-1, t), 0);
	assert_string_equal(t, "1969-12-31T23:59:59.999Z");
	assert_int_equal(clover_csv_time(951782400007LL, t), 0); /* leap day */
	assert_string_equal(t, "2000-02-29T00:00:00.007Z");
}

static void test_headers(void **state)
{
	assert_string_equal(clover_csv_header(CLOVER_ORDERS),
			    "id,currency,total,paymentState,state,payType,title,note,employee_id,"
			    "device_id,orderType_id,taxRemoved,isVat,manualTransaction,"
			    "groupLineItems,testMode,lineItems_count,createdTime,clientCreatedTime,"
			    "modifiedTime\r\n");
	assert_string_equal(clover_csv_header(CLOVER_PAYMENTS),
			    "id,order_id,amount,tipAmount,taxAmount,cashbackAmount,cashTendered,"
			    "result,offline,tender_id,tender_label,employee_id,device_id,"
			    "externalPaymentId,card_type,card_last4,createdTime,clientCreatedTime,"
			    "modifiedTime\r\n");
}

static void test_order_row(void **state)
{
	char *r = row_of(CLOVER_ORDERS,
			 "{\"id\":\"ABCDEFGHJK123\",\"currency\":\"USD\","
			 "\"employee\":{\"id\":\"E1\"},"
			 "\"total\":-1230,\"paymentState\":\"REFUNDED\",\"title\":\"Table 4\","
			 "\"note\":\"plain\",\"orderType\":{\"id\":\"OT1\"},\"taxRemoved\":false,"
			 "\"isVat\":true,\"state\":\"locked\",\"manualTransaction\":false,"
			 "\"groupLineItems\":true,\"testMode\":false,\"payType\":\"FULL\","
			 "\"createdTime\":1779098400123,\"clientCreatedTime\":1779098400000,"
			 "\"modifiedTime\":1779098401999,\"device\":{\"id\":\"D9\"},"
			 "\"lineItems\":{\"elements\":[{\"id\":\"L1\",\"name\":\"Tea\","
			 "\"price\":250,"
			 "\"unitQty\":1000},{\"id\":\"L2\",\"name\":\"Cake\",\"price\":400}]}}");
	assert_string_equal(r, "ABCDEFGHJK123,USD,-12.30,REFUNDED,locked,FULL,Table 4,plain,E1,D9,"
			       "OT1,false,true,false,true,false,2,2026-05-18T10:00:00.123Z,"
			       "2026-05-18T10:00:00.000Z,2026-05-18T10:00:01.999Z\r\n");
	free(r);
}

static void test_payment_row_card_and_cash(void **state)
{
	char *r = row_of(CLOVER_PAYMENTS,
			 "{\"id\":\"P1\",\"order\":{\"id\":\"O1\"},\"device\":{\"id\":\"D1\"},"
			 "\"tender\":{\"id\":\"T1\",\"label\":\"Credit Card\"},\"amount\":-5,"
			 "\"tipAmount\":100,\"taxAmount\":0,\"cashbackAmount\":0,"
			 "\"externalPaymentId\":null,\"employee\":{\"id\":\"E1\"},"
			 "\"createdTime\":1779098400123,\"clientCreatedTime\":1779098400123,"
			 "\"modifiedTime\":1779098400123,\"offline\":false,\"result\":\"SUCCESS\","
			 "\"cardTransaction\":{\"cardType\":\"VISA\",\"last4\":\"1234\","
			 "\"type\":\"AUTH\",\"state\":\"CLOSED\"}}");
	/* cashTendered absent and externalPaymentId null: both empty */
	assert_string_equal(r, "P1,O1,-0.05,1.00,0.00,0.00,,SUCCESS,false,T1,Credit Card,E1,D1,,"
			       "VISA,1234,2026-05-18T10:00:00.123Z,2026-05-18T10:00:00.123Z,"
			       "2026-05-18T10:00:00.123Z\r\n");
	free(r);
	r = row_of(CLOVER_PAYMENTS, "{\"id\":\"P2\",\"tender\":{\"id\":\"T2\",\"label\":\"Cash\"},"
				    "\"amount\":1999,\"cashTendered\":2000,"
				    "\"externalPaymentId\":\"X-7\",\"offline\":true}");
	assert_string_equal(r, "P2,,19.99,,,,20.00,,true,T2,Cash,,,X-7,,,,,\r\n");
	free(r);
}

static void test_quoting(void **state)
{
	char *r = row_of(CLOVER_ORDERS, "{\"id\":\"Q1\",\"title\":\"a,b\","
					"\"note\":\"say \\\"hi\\\",\\nbye\\r\\n\"}");
	assert_string_equal(r, "Q1,,,,,,\"a,b\",\"say \"\"hi\"\",\nbye\r\n\",,,,,,,,,,,,\r\n");
	free(r);
	r = row_of(CLOVER_ORDERS, "{\"id\":\"Q2\",\"note\":\"\\\"\"}");
	assert_string_equal(r, "Q2,,,,,,,\"\"\"\",,,,,,,,,,,,\r\n");
	free(r);
}

static void test_non_ascii_kept(void **state)
{
	char *r = row_of(CLOVER_ORDERS, "{\"id\":\"U1\","
					"\"title\":\"Cr\\u00e8me br\\u00fbl\\u00e9e\","
					"\"note\":\"\xe6\x97\xa5\xe6\x9c\xac\xe8\x8c\xb6\"}");
	assert_string_equal(r, "U1,,,,,,Cr\xc3\xa8me br\xc3\xbbl\xc3\xa9\x65,"
			       "\xe6\x97\xa5\xe6\x9c\xac\xe8\x8c\xb6,,,,,,,,,,,,\r\n");
	free(r);
}

static void test_missing_fields_empty(void **state)
{
	char *r = row_of(CLOVER_ORDERS, "{}");
	assert_string_equal(r, ",,,,,,,,,,,,,,,,,,,\r\n");
	assert_int_equal(count_fields(r), 20);
	free(r);
	r = row_of(CLOVER_PAYMENTS, "{\"order\":null,\"cardTransaction\":null}");
	assert_int_equal(count_fields(r), 19);
	assert_string_equal(r, ",,,,,,,,,,,,,,,,,,\r\n");
	free(r);
	/* the header has as many fields as a row */
	assert_int_equal(count_fields(clover_csv_header(CLOVER_ORDERS)), 20);
	assert_int_equal(count_fields(clover_csv_header(CLOVER_PAYMENTS)), 19);
}

static void test_unexpected_types_kept_as_json(void **state)
{
	/* a fractional amount or an object where text was expected is never dropped */
	char *r = row_of(CLOVER_PAYMENTS, "{\"id\":7,\"amount\":12.5,\"result\":{\"a\":1},"
					  "\"createdTime\":\"yesterday\"}");
	assert_string_equal(r, "7,,12.5,,,,,\"{\"\"a\"\":1}\",,,,,,,,,yesterday,,\r\n");
	free(r);
}

static void test_jsonl_line(void **state)
{
	struct buf b = BUF_INIT(SIZE_MAX);
	cJSON *el = cJSON_Parse("{ \"id\" : \"A\",\n \"note\": \"x\\ny,\\\"\xc3\xa8\",\n"
				"\"t\": 1779098400123, \"n\": null, \"l\": [1, 2] }");
	assert_non_null(el);
	assert_int_equal(clover_jsonl_line(el, &b), 0);
	assert_int_equal(clover_jsonl_line(el, &b), 0);
	assert_int_equal(buf_add(&b, "", 1), 0);
	const char *one = "{\"id\":\"A\",\"note\":\"x\\ny,\\\"\xc3\xa8\",\"t\":1779098400123,"
			  "\"n\":null,\"l\":[1,2]}\n";
	char want[256];
	snprintf(want, sizeof(want), "%s%s", one, one);
	assert_string_equal(b.data, want);
	cJSON_Delete(el);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_money),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_order_row),
		cmocka_unit_test(test_payment_row_card_and_cash),
		cmocka_unit_test(test_quoting),
		cmocka_unit_test(test_non_ascii_kept),
		cmocka_unit_test(test_missing_fields_empty),
		cmocka_unit_test(test_unexpected_types_kept_as_json),
		cmocka_unit_test(test_jsonl_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
