/* Base64 and AES-128 ECB/CBC decryption for Mogujie responses (see mogujie_cipher.h). */
#include "mogujie_cipher.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

int mogujie_cipher_mode_parse(const char *s, enum mogujie_cipher_mode *out)
{
	if (!s || !*s || !strcasecmp(s, "ecb")) {
		*out = MOGUJIE_AES_ECB;
		return 0;
	}
	if (!strcasecmp(s, "cbc")) {
		*out = MOGUJIE_AES_CBC;
		return 0;
	}
	return -1;
}

static int b64_value(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

unsigned char *mogujie_b64_decode(const char *in, size_t len, size_t *outlen)
{
	unsigned char quad[4];
	size_t nq = 0, o = 0, pad = 0;

	*outlen = 0;
	unsigned char *out = malloc(len / 4 * 3 + 1);
	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)in[i];
		if (ch == '\r' || ch == '\n')
			continue;
		if (pad) {
			/* After the first '=' only the rest of the padding may follow. */
			if (ch != '=' || nq == 0)
				goto bad;
			quad[nq++] = 0;
			pad++;
		} else if (ch == '=') {
			if (nq < 2)
				goto bad;
			quad[nq++] = 0;
			pad = 1;
		} else {
			int v = b64_value(ch);
			if (v < 0)
				goto bad;
			quad[nq++] = (unsigned char)v;
		}
		if (nq == 4) {
			out[o++] = (unsigned char)(quad[0] << 2 | quad[1] >> 4);
			out[o++] = (unsigned char)(quad[1] << 4 | quad[2] >> 2);
			out[o++] = (unsigned char)(quad[2] << 6 | quad[3]);
			nq = 0;
			if (pad) {
				o -= pad;
				pad = 3; /* marks "padding done": nothing may follow */
			}
		}
	}
	if (nq != 0 || (pad != 0 && pad != 3))
		goto bad;
	out[o] = '\0';
	*outlen = o;
	return out;
bad:
	free(out);
	return NULL;
}

char *mogujie_aes_decrypt(const unsigned char *key, enum mogujie_cipher_mode mode,
			  const unsigned char *ct, size_t len, size_t *outlen)
{
	EVP_CIPHER_CTX *ctx = NULL;
	char *out = NULL;
	int n1 = 0, n2 = 0;

	*outlen = 0;
	if (len == 0 || len % 16 != 0 || len > (size_t)(1 << 30))
		return NULL;
	out = malloc(len + 16 + 1);
	ctx = EVP_CIPHER_CTX_new();
	if (!out || !ctx)
		goto fail;
	const EVP_CIPHER *c = mode == MOGUJIE_AES_CBC ? EVP_aes_128_cbc() : EVP_aes_128_ecb();
	/* CBC: IV = key. ECB ignores the IV. */
	if (!EVP_DecryptInit_ex(ctx, c, NULL, key, mode == MOGUJIE_AES_CBC ? key : NULL) ||
	    !EVP_CIPHER_CTX_set_padding(ctx, 1) ||
	    !EVP_DecryptUpdate(ctx, (unsigned char *)out, &n1, ct, (int)len) ||
	    !EVP_DecryptFinal_ex(ctx, (unsigned char *)out + n1, &n2))
		goto fail;
	EVP_CIPHER_CTX_free(ctx);
	out[n1 + n2] = '\0';
	*outlen = (size_t)(n1 + n2);
	return out;
fail:
	EVP_CIPHER_CTX_free(ctx);
	free(out);
	return NULL;
}

char *mogujie_decrypt_b64(const unsigned char *key, enum mogujie_cipher_mode mode,
			  const char *b64, size_t len, size_t *outlen, const char **why)
{
	size_t ctlen;
	unsigned char *ct = mogujie_b64_decode(b64, len, &ctlen);

	*outlen = 0;
	if (!ct) {
		*why = "bad Base64";
		return NULL;
	}
	char *pt = mogujie_aes_decrypt(key, mode, ct, ctlen, outlen);
	free(ct);
	if (!pt)
		*why = "bad ciphertext or padding";
	return pt;
}
