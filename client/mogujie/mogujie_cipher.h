/*
 * Mogujie response decryption: result.data is Base64 of AES-128 ciphertext of UTF-8 JSON.
 * The key is the first 16 bytes of the app secret. Default mode is ECB with PKCS#5/#7
 * padding; "cbc" is CBC with IV = key (both as the open platform's Java samples do).
 *
 * Pure functions over OpenSSL EVP, thread-safe, no logging. Key copies are wiped.
 */
#ifndef ORDERFS_MOGUJIE_CIPHER_H
#define ORDERFS_MOGUJIE_CIPHER_H

#include <stddef.h>

#define MOGUJIE_KEY_LEN 16

enum mogujie_cipher_mode {
	MOGUJIE_AES_ECB = 0,
	MOGUJIE_AES_CBC = 1,
};

/* "ecb" (or NULL / "") and "cbc", any case. 0, or -1 for anything else. */
int mogujie_cipher_mode_parse(const char *s, enum mogujie_cipher_mode *out);

/*
 * Strict Base64 (common/base64.h: RFC 4648 alphabet, '=' padding required, length a multiple
 * of 4, unused bits zero), with CR and LF skipped. Returns a malloc'd buffer of *outlen bytes plus a NUL the length does not
 * count, or NULL when the text is not Base64 or memory ran out (*outlen = 0).
 */
unsigned char *mogujie_b64_decode(const char *in, size_t len, size_t *outlen);

/*
 * Decrypt len bytes of ciphertext with key (MOGUJIE_KEY_LEN bytes). Returns a malloc'd
 * plaintext of *outlen bytes plus a NUL (not counted), or NULL when len is not a positive
 * multiple of 16, the padding is wrong, or memory ran out.
 */
char *mogujie_aes_decrypt(const unsigned char *key, enum mogujie_cipher_mode mode,
			  const unsigned char *ct, size_t len, size_t *outlen);

/*
 * Both steps: Base64 text -> plaintext (NUL-terminated, malloc'd). NULL with *why pointing
 * to a static reason ("bad Base64", "bad ciphertext or padding").
 */
char *mogujie_decrypt_b64(const unsigned char *key, enum mogujie_cipher_mode mode,
			  const char *b64, size_t len, size_t *outlen, const char **why);

#endif
