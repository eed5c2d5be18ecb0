/* mogujie_cipher.c: Base64 and AES-128 ECB/CBC decryption, against EVP encryption here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "../../client/mogujie/mogujie_cipher.h"

static const unsigned char KEY[16] = "MGJ-secret-01234"; /* first 16 bytes of the secret */

/* Encrypt with PKCS#7 padding and Base64 the result (malloc'd, NUL-terminated). */
static char *encrypt_b64(enum mogujie_cipher_mode mode, const void *pt, size_t len)
{
	unsigned char *ct = malloc(len + 32);
	char *b64 = malloc((len + 32) / 3 * 4 + 8);
	int n1 = 0, n2 = 0;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	assert_true(EVP_EncryptInit_ex(ctx, mode == MOGUJIE_AES_CBC ? EVP_aes_128_cbc()
								    : EVP_aes_128_ecb(),
				       NULL, KEY, mode == MOGUJIE_AES_CBC ? KEY : NULL));
	assert_true(EVP_EncryptUpdate(ctx, ct, &n1, pt, (int)len));
	assert_true(EVP_EncryptFinal_ex(ctx, ct + n1, &n2));
	EVP_CIPHER_CTX_free(ctx);
	EVP_EncodeBlock((unsigned char *)b64, ct, n1 + n2);
	free(ct);
	return b64;
}

static void round_trip(enum mogujie_cipher_mode mode, const char *plain)
{
	char *b64 = encrypt_b64(mode, plain, strlen(plain));
	const char *why = NULL;
	size_t len = 0;
	char *got = mogujie_decrypt_b64(KEY, mode, b64, strlen(b64), &len, &why);
	assert_non_null(got);
	assert_int_equal(len, strlen(plain));
	assert_memory_equal(got, plain, len);
	assert_int_equal(got[len], '\0');
	free(got);
	free(b64);
}

static void test_ecb_round_trip(void **state)
{
	round_trip(MOGUJIE_AES_ECB, "{\"hasNext\":false,\"openApiOrderDetailResDtos\":[],"
				    "\"totalNum\":0}");
	round_trip(MOGUJIE_AES_ECB, "0123456789abcdef"); /* a whole block: a full pad block */
	round_trip(MOGUJIE_AES_ECB, "{\"title\":\"测试商家审单\"}");
}

static void test_cbc_round_trip(void **state)
{
	round_trip(MOGUJIE_AES_CBC, "{\"receiverName\":\"收货人1\",\"n\":12345}");
	round_trip(MOGUJIE_AES_CBC, "x");
}

static void test_mode_mismatch_fails_or_differs(void **state)
{
	const char *plain = "{\"a\":\"0123456789abcdef0123456789abcdef\"}";
	char *b64 = encrypt_b64(MOGUJIE_AES_CBC, plain, strlen(plain));
	const char *why = NULL;
	size_t len;
	char *got = mogujie_decrypt_b64(KEY, MOGUJIE_AES_ECB, b64, strlen(b64), &len, &why);
	/* ECB of CBC ciphertext: the first block is garbage, whatever the padding says */
	assert_true(got == NULL || len != strlen(plain) || memcmp(got, plain, len) != 0);
	free(got);
	free(b64);
}

static void test_bad_padding_rejected(void **state)
{
	/* A block whose plaintext ends in 0x00 is not PKCS#7. */
	unsigned char block[16] = "0123456789abcde", ct[32];
	int n = 0;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	block[15] = 0;
	EVP_EncryptInit_ex(ctx, EVP_aes_128_ecb(), NULL, KEY, NULL);
	EVP_CIPHER_CTX_set_padding(ctx, 0);
	EVP_EncryptUpdate(ctx, ct, &n, block, 16);
	EVP_CIPHER_CTX_free(ctx);
	size_t len;
	assert_null(mogujie_aes_decrypt(KEY, MOGUJIE_AES_ECB, ct, 16, &len));
	assert_int_equal(len, 0);
	/* not a multiple of 16, and empty */
	assert_null(mogujie_aes_decrypt(KEY, MOGUJIE_AES_ECB, ct, 15, &len));
	assert_null(mogujie_aes_decrypt(KEY, MOGUJIE_AES_ECB, ct, 0, &len));
	/* the wrong key: the padding check fails (or, rarely, the text is garbage) */
	static const unsigned char other[16] = "another-key-1234";
	char *b64 = encrypt_b64(MOGUJIE_AES_ECB, "{\"totalNum\":0}", 14);
	const char *why = NULL;
	char *got = mogujie_decrypt_b64(other, MOGUJIE_AES_ECB, b64, strlen(b64), &len, &why);
	assert_true(got == NULL || memcmp(got, "{\"totalNum\":0}", 14) != 0);
	if (!got)
		assert_string_equal(why, "bad ciphertext or padding");
	free(got);
	free(b64);
}

static void test_base64_strict(void **state)
{
	size_t len;
	unsigned char *p = mogujie_b64_decode("TWFu", 4, &len);
	assert_int_equal(len, 3);
	assert_memory_equal(p, "Man", 3);
	free(p);
	p = mogujie_b64_decode("TWE=", 4, &len);
	assert_int_equal(len, 2);
	free(p);
	p = mogujie_b64_decode("TQ==\r\n", 6, &len);
	assert_int_equal(len, 1);
	assert_int_equal(p[0], 'M');
	free(p);
	p = mogujie_b64_decode("", 0, &len);
	assert_non_null(p);
	assert_int_equal(len, 0);
	free(p);
	const char *bad[] = {"TWF", "TW=u", "T===", "TQ==TWFu", "TWF!", "TQ=", "TWFu=", "-_8="};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = mogujie_b64_decode(bad[i], strlen(bad[i]), &len);
		assert_null(p);
		assert_int_equal(len, 0);
	}
	const char *why = NULL;
	assert_null(mogujie_decrypt_b64(KEY, MOGUJIE_AES_ECB, "not base64!", 11, &len, &why));
	assert_string_equal(why, "bad Base64");
}

static void test_mode_parse(void **state)
{
	enum mogujie_cipher_mode m = MOGUJIE_AES_CBC;
	assert_int_equal(mogujie_cipher_mode_parse(NULL, &m), 0);
	assert_int_equal(m, MOGUJIE_AES_ECB);
	assert_int_equal(mogujie_cipher_mode_parse("CBC", &m), 0);
	assert_int_equal(m, MOGUJIE_AES_CBC);
	assert_int_equal(mogujie_cipher_mode_parse("ecb", &m), 0);
	assert_int_equal(m, MOGUJIE_AES_ECB);
	assert_int_equal(mogujie_cipher_mode_parse("gcm", &m), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ecb_round_trip),
		cmocka_unit_test(test_cbc_round_trip),
		cmocka_unit_test(test_mode_mismatch_fails_or_differs),
		cmocka_unit_test(test_bad_padding_rejected),
		cmocka_unit_test(test_base64_strict),
		cmocka_unit_test(test_mode_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
