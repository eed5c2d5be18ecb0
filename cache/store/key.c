/* Cache keys: canonical string and its SHA-256 file name. */
#include "key.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

int key_field_ok(const char *s)
{
	if (!s || strlen(s) >= KEY_FIELD_MAX)
		return 0;
	for (const char *p = s; *p; p++)
		if (*p == '|' || (unsigned char)*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

int key_init(struct cache_key *k, const char *provider, const char *account,
	     const char *report_type, const char *language, const struct date_range *r)
{
	if (!key_field_ok(provider) || !key_field_ok(account) || !key_field_ok(report_type) ||
	    !key_field_ok(language) || !r || !date_valid(&r->start) || !date_valid(&r->end) ||
	    date_cmp(&r->start, &r->end) > 0)
		return -EINVAL;
	memset(k, 0, sizeof(*k));
	snprintf(k->provider, sizeof(k->provider), "%s", provider);
	snprintf(k->account, sizeof(k->account), "%s", account);
	snprintf(k->report_type, sizeof(k->report_type), "%s", report_type);
	snprintf(k->language, sizeof(k->language), "%s", language);
	k->range = *r;
	return 0;
}

void key_format(const struct cache_key *k, char out[KEY_STR_MAX])
{
	char a[DATE_STR_LEN], b[DATE_STR_LEN];

	date_format(&k->range.start, a);
	date_format(&k->range.end, b);
	snprintf(out, KEY_STR_MAX, "%s|%s|%s|%s|%s|%s", k->provider, k->account, k->report_type,
		 k->language, a, b);
}

void key_hex(const unsigned char *in, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[in[i] >> 4];
		out[2 * i + 1] = hx[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int key_hash(const struct cache_key *k, char out[KEY_HASH_LEN])
{
	char s[KEY_STR_MAX];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	key_format(k, s);
	if (!EVP_Digest(s, strlen(s), md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) {
		out[0] = '\0';
		return -EIO;
	}
	key_hex(md, 32, out);
	return 0;
}

int key_equal(const struct cache_key *a, const struct cache_key *b)
{
	return strcmp(a->provider, b->provider) == 0 && strcmp(a->account, b->account) == 0 &&
	       strcmp(a->report_type, b->report_type) == 0 &&
	       strcmp(a->language, b->language) == 0 &&
	       date_cmp(&a->range.start, &b->range.start) == 0 &&
	       date_cmp(&a->range.end, &b->range.end) == 0;
}
