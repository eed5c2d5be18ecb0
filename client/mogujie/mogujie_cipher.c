/* Base64 and AES-128 ECB/CBC decryption for Mogujie responses (see mogujie_cipher.h). */
#include "mogujie_cipher.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "../../common/base64.h"

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

unsigned char *mogujie_b64_decode(const char *in, size_t len, size_t *outlen)
{
	unsigned char *out = malloc(len / 4 * 3 + 1);
	char *text = malloc(len + 1);
	size_t n = 0;
	long got = -1;

	*outlen = 0;
	if (out && text) {
		/* Line breaks are allowed (MIME-style wrapping); the rest is strict base64. */
		for (size_t i = 0; i < len; i++)
			if (in[i] != '\r' && in[i] != '\n')
				text[n++] = in[i];
		got = base64_decode(text, n, out, len / 4 * 3 + 1);
	}
	free(text);
	if (got < 0) {
		free(out);
		return NULL;
	}
	out[got] = '\0';
	*outlen = (size_t)got;
	return out;
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
