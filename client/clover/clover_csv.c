/* Clover elements as CSV rows and JSON lines (clover_csv.h). */
#include "clover_csv.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/csv.h"
#include "../../common/date.h"

/* The largest magnitude a double holds exactly as an integer: beyond it cents are not exact. */
#define EXACT_INT_MAX 9007199254740992.0

void clover_csv_money(int64_t cents, char out[CLOVER_MONEY_LEN])
{
	/* Unsigned magnitude: INT64_MIN has no positive twin. */
	uint64_t a = cents < 0 ? (uint64_t)0 - (uint64_t)cents : (uint64_t)cents;
	snprintf(out, CLOVER_MONEY_LEN, "%s%" PRIu64 ".%02" PRIu64, cents < 0 ? "-" : "", a / 100,
		 a % 100);
}

int clover_csv_time(int64_t ms, char out[CLOVER_TIME_LEN])
{
	int64_t day = ms / 86400000, rem = ms % 86400000;
	if (rem < 0) {
		rem += 86400000;
		day--;
	}
	struct date d = date_from_days(day);
	if (d.year < 0 || d.year > 9999)
		return -1;
	int64_t s = rem / 1000;
	snprintf(out, CLOVER_TIME_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", d.year, d.month,
		 d.day, (int)(s / 3600), (int)(s / 60 % 60), (int)(s % 60), (int)(rem % 1000));
	return 0;
}

int clover_exact_int(const cJSON *v, int64_t *out)
{
	if (!cJSON_IsNumber(v))
		return 0;
	double d = v->valuedouble;
	if (!(d >= -EXACT_INT_MAX && d <= EXACT_INT_MAX) || d != (double)(int64_t)d)
		return 0;
	*out = (int64_t)d;
	return 1;
}

/* One field, quoted per RFC 4180 when it must be. */
static int add_field(struct buf *b, const char *s)
{
	return csv_field(b, s, strlen(s));
}

const cJSON *clover_lookup(const cJSON *obj, const char *path)
{
	char key[64];
	while (obj) {
		const char *dot = strchr(path, '.');
		size_t n = dot ? (size_t)(dot - path) : strlen(path);
		if (n >= sizeof(key))
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		if (!cJSON_IsObject(obj))
			return NULL;
		obj = cJSON_GetObjectItemCaseSensitive(obj, key);
		if (!dot)
			return obj;
		path = dot + 1;
	}
	return NULL;
}

/* Text of v formatted as f, into the field; absent and null are empty. */
static int add_value(struct buf *b, const cJSON *v, enum clover_fmt f)
{
	char tmp[CLOVER_TIME_LEN > CLOVER_MONEY_LEN ? CLOVER_TIME_LEN : CLOVER_MONEY_LEN];
	int64_t n;

	if (!v || cJSON_IsNull(v))
		return 0;
	if (f == CLOVER_F_COUNT && cJSON_IsArray(v)) {
		snprintf(tmp, sizeof(tmp), "%d", cJSON_GetArraySize(v));
		return buf_add_str(b, tmp);
	}
	if (f == CLOVER_F_MONEY && clover_exact_int(v, &n)) {
		clover_csv_money(n, tmp);
		return buf_add_str(b, tmp);
	}
	if (f == CLOVER_F_TIME && clover_exact_int(v, &n) && clover_csv_time(n, tmp) == 0)
		return buf_add_str(b, tmp);
	if (cJSON_IsString(v))
		return add_field(b, v->valuestring);
	if (cJSON_IsBool(v))
		return buf_add_str(b, cJSON_IsTrue(v) ? "true" : "false");
	if (clover_exact_int(v, &n)) {
		snprintf(tmp, sizeof(tmp), "%" PRId64, n);
		return buf_add_str(b, tmp);
	}
	/* Anything else (fractions, objects, arrays): keep it, as JSON text. */
	char *text = cJSON_PrintUnformatted(v);
	if (!text)
		return -ENOMEM;
	int rc = add_field(b, text);
	free(text);
	return rc;
}

static const struct clover_column order_cols[] = {
	{"id", "id", CLOVER_F_PLAIN},
	{"currency", "currency", CLOVER_F_PLAIN},
	{"total", "total", CLOVER_F_MONEY},
	{"paymentState", "paymentState", CLOVER_F_PLAIN},
	{"state", "state", CLOVER_F_PLAIN},
	{"payType", "payType", CLOVER_F_PLAIN},
	{"title", "title", CLOVER_F_PLAIN},
	{"note", "note", CLOVER_F_PLAIN},
	{"employee_id", "employee.id", CLOVER_F_PLAIN},
	{"device_id", "device.id", CLOVER_F_PLAIN},
	{"orderType_id", "orderType.id", CLOVER_F_PLAIN},
	{"taxRemoved", "taxRemoved", CLOVER_F_PLAIN},
	{"isVat", "isVat", CLOVER_F_PLAIN},
	{"manualTransaction", "manualTransaction", CLOVER_F_PLAIN},
	{"groupLineItems", "groupLineItems", CLOVER_F_PLAIN},
	{"testMode", "testMode", CLOVER_F_PLAIN},
	{"lineItems_count", "lineItems.elements", CLOVER_F_COUNT},
	{"createdTime", "createdTime", CLOVER_F_TIME},
	{"clientCreatedTime", "clientCreatedTime", CLOVER_F_TIME},
	{"modifiedTime", "modifiedTime", CLOVER_F_TIME},
};

static const struct clover_column payment_cols[] = {
	{"id", "id", CLOVER_F_PLAIN},
	{"order_id", "order.id", CLOVER_F_PLAIN},
	{"amount", "amount", CLOVER_F_MONEY},
	{"tipAmount", "tipAmount", CLOVER_F_MONEY},
	{"taxAmount", "taxAmount", CLOVER_F_MONEY},
	{"cashbackAmount", "cashbackAmount", CLOVER_F_MONEY},
	{"cashTendered", "cashTendered", CLOVER_F_MONEY},
	{"result", "result", CLOVER_F_PLAIN},
	{"offline", "offline", CLOVER_F_PLAIN},
	{"tender_id", "tender.id", CLOVER_F_PLAIN},
	{"tender_label", "tender.label", CLOVER_F_PLAIN},
	{"employee_id", "employee.id", CLOVER_F_PLAIN},
	{"device_id", "device.id", CLOVER_F_PLAIN},
	{"externalPaymentId", "externalPaymentId", CLOVER_F_PLAIN},
	{"card_type", "cardTransaction.cardType", CLOVER_F_PLAIN},
	{"card_last4", "cardTransaction.last4", CLOVER_F_PLAIN},
	{"createdTime", "createdTime", CLOVER_F_TIME},
	{"clientCreatedTime", "clientCreatedTime", CLOVER_F_TIME},
	{"modifiedTime", "modifiedTime", CLOVER_F_TIME},
};

#define NCOLS(a) (sizeof(a) / sizeof((a)[0]))

const char *clover_csv_header(enum clover_kind kind)
{
	if (kind == CLOVER_PAYMENTS)
		return "id,order_id,amount,tipAmount,taxAmount,cashbackAmount,cashTendered,result,"
		       "offline,tender_id,tender_label,employee_id,device_id,externalPaymentId,"
		       "card_type,card_last4,createdTime,clientCreatedTime,modifiedTime\r\n";
	return "id,currency,total,paymentState,state,payType,title,note,employee_id,device_id,"
	       "orderType_id,taxRemoved,isVat,manualTransaction,groupLineItems,testMode,"
	       "lineItems_count,createdTime,clientCreatedTime,modifiedTime\r\n";
}

const struct clover_column *clover_columns(enum clover_kind kind, size_t *n)
{
	*n = kind == CLOVER_PAYMENTS ? NCOLS(payment_cols) : NCOLS(order_cols);
	return kind == CLOVER_PAYMENTS ? payment_cols : order_cols;
}

int clover_csv_row(enum clover_kind kind, const cJSON *element, struct buf *out)
{
	size_t n;
	const struct clover_column *cols = clover_columns(kind, &n);
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0; i++) {
		if (i > 0)
			rc = csv_sep(out);
		if (rc == 0)
			rc = add_value(out, clover_lookup(element, cols[i].path), cols[i].fmt);
	}
	return rc ? rc : csv_end_row(out);
}

int clover_jsonl_line(const cJSON *element, struct buf *out)
{
	char *text = cJSON_PrintUnformatted(element);
	if (!text)
		return -ENOMEM;
	int rc = buf_add_str(out, text);
	if (rc == 0)
		rc = buf_add(out, "\n", 1);
	free(text);
	return rc;
}
