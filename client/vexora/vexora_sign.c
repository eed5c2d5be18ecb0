/* MD5 and the Vexora signing rule (see vexora_sign.h for the rule itself). */
#include "vexora_sign.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

/* Longest signing string we build; Vexora bodies are a handful of short fields. */
#define SIGN_STRING_MAX 8192
#define SIGN_FIELDS_MAX 64

int sign_md5_hex(const void *data, size_t len, char out[SIGN_HEX_LEN])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	out[0] = '\0';
	if (!EVP_Digest(data, len, md, &mdlen, EVP_md5(), NULL) || mdlen != 16)
		return -1;
	for (unsigned int i = 0; i < mdlen; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[32] = '\0';
	return 0;
}

static int field_cmp(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a;
	const cJSON *y = *(const cJSON *const *)b;
	return strcmp(x->string, y->string);
}

/* Whether the rule leaves this field out: the signature itself, nulls and empty strings. */
static int field_skipped(const cJSON *f)
{
	if (!f->string || strcmp(f->string, "sign") == 0 || cJSON_IsNull(f))
		return 1;
	return cJSON_IsString(f) && f->valuestring && f->valuestring[0] == '\0';
}

/* Value as the rule spells it into buf; returns a pointer to the text or NULL if undefined. */
static const char *field_value(const cJSON *f, char *buf, size_t cap)
{
	if (cJSON_IsString(f))
		return f->valuestring;
	if (cJSON_IsRaw(f))
		return f->valuestring;
	if (cJSON_IsBool(f))
		return cJSON_IsTrue(f) ? "true" : "false";
	if (cJSON_IsNumber(f)) {
		double d = f->valuedouble;
		/* Only integers have one obvious decimal spelling; timestamps are ms integers. */
		if (!(d > -9.2e18 && d < 9.2e18) || d != (double)(int64_t)d)
			return NULL;
		snprintf(buf, cap, "%" PRId64, (int64_t)d);
		return buf;
	}
	return NULL;
}

int sign_vexora_string(const cJSON *body, char *out, size_t cap)
{
	const cJSON *fields[SIGN_FIELDS_MAX];
	size_t n = 0, len = 0;
	const cJSON *f;

	if (cap == 0)
		return -1;
	out[0] = '\0';
	if (!cJSON_IsObject(body))
		return -1;
	cJSON_ArrayForEach(f, body)
	{
		if (field_skipped(f))
			continue;
		if (n == SIGN_FIELDS_MAX)
			return -1;
		fields[n++] = f;
	}
	qsort(fields, n, sizeof(fields[0]), field_cmp);
	for (size_t i = 0; i < n; i++) {
		char num[32];
		const char *v = field_value(fields[i], num, sizeof(num));
		if (!v)
			goto fail;
		int w = snprintf(out + len, cap - len, "%s=%s", fields[i]->string, v);
		if (w < 0 || (size_t)w >= cap - len)
			goto fail;
		len += (size_t)w;
	}
	return (int)len;
fail:
	out[0] = '\0';
	return -1;
}

int sign_vexora(const cJSON *body, const char *secret, char out[SIGN_HEX_LEN])
{
	size_t slen = strlen(secret);
	char *buf = malloc(SIGN_STRING_MAX + slen + 1);
	int rc = -1;

	out[0] = '\0';
	if (!buf)
		return -1;
	int len = sign_vexora_string(body, buf, SIGN_STRING_MAX);
	if (len < 0)
		goto out;
	memcpy(buf + len, secret, slen + 1);
	rc = sign_md5_hex(buf, (size_t)len + slen, out);
out:
	/* The buffer held the secret: wipe before it goes back to the allocator. */
	OPENSSL_cleanse(buf, SIGN_STRING_MAX + slen + 1);
	free(buf);
	return rc;
}
