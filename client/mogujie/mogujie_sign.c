/* Mogujie form bodies and signatures (the rules are in mogujie_sign.h). */
#include "mogujie_sign.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define SIGN_PARAMS_MAX 64

static int unreserved(unsigned char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
	       ch == '-' || ch == '.' || ch == '_' || ch == '~';
}

/* Encoded length of s, without the NUL. */
static size_t encoded_len(const char *s)
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		n += unreserved(*p) ? 1 : 3;
	return n;
}

static char *encode_into(const char *s, char *out)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (unreserved(*p)) {
			*out++ = (char)*p;
		} else {
			*out++ = '%';
			*out++ = hex[*p >> 4];
			*out++ = hex[*p & 15];
		}
	}
	return out;
}

long mogujie_form_encode(const char *s, char *out, size_t cap)
{
	size_t n = encoded_len(s);
	if (n >= cap)
		return -1;
	*encode_into(s, out) = '\0';
	return (long)n;
}

char *mogujie_form_body(const char *const *names, const char *const *values, size_t n)
{
	size_t len = 1;
	for (size_t i = 0; i < n; i++)
		len += encoded_len(names[i]) + encoded_len(values[i]) + 2;
	char *body = malloc(len);
	if (!body)
		return NULL;
	char *p = body;
	for (size_t i = 0; i < n; i++) {
		if (i)
			*p++ = '&';
		p = encode_into(names[i], p);
		*p++ = '=';
		p = encode_into(values[i], p);
	}
	*p = '\0';
	return body;
}

void mogujie_sign(const char *secret, const char *const *names, const char *const *values,
		  size_t n, char out[MOGUJIE_SIGN_LEN])
{
	static const char hex[] = "0123456789ABCDEF";
	size_t order[SIGN_PARAMS_MAX];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int ok;

	out[0] = '\0';
	if (n > SIGN_PARAMS_MAX)
		return;
	/* Insertion sort of an index: a handful of parameters, and the arrays stay as given. */
	for (size_t i = 0; i < n; i++) {
		size_t j = i;
		while (j > 0 && strcmp(names[order[j - 1]], names[i]) > 0) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
	}
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx)
		return;
	ok = EVP_DigestInit_ex(ctx, EVP_md5(), NULL) &&
	     EVP_DigestUpdate(ctx, secret, strlen(secret));
	for (size_t i = 0; ok && i < n; i++)
		ok = EVP_DigestUpdate(ctx, names[order[i]], strlen(names[order[i]])) &&
		     EVP_DigestUpdate(ctx, values[order[i]], strlen(values[order[i]]));
	ok = ok && EVP_DigestUpdate(ctx, secret, strlen(secret)) &&
	     EVP_DigestFinal_ex(ctx, md, &mdlen) && mdlen == 16;
	EVP_MD_CTX_free(ctx); /* resets (wipes) the digest state */
	if (!ok)
		return;
	for (unsigned int i = 0; i < 16; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[32] = '\0';
	OPENSSL_cleanse(md, sizeof(md));
}
