/* common/hash_pipe.c: the threaded SHA-256 equals OpenSSL's one-shot digest whatever the
 * sizes fed, resets, and refuses use after final until a reset. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/sha.h>

#include "../../common/hash_pipe.h"

#define DATA_LEN (3u * 1024 * 1024 + 12345) /* several rings' worth, not slot-aligned */

static unsigned char *make_data(void)
{
	unsigned char *d = malloc(DATA_LEN);
	uint32_t x = 2463534242u;

	assert_non_null(d);
	for (size_t i = 0; i < DATA_LEN; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		d[i] = (unsigned char)x;
	}
	return d;
}

/* Feed d in pieces cycling through sizes (1 byte to more than a ring), compare digests. */
static void feed_in_pieces(struct hash_pipe *hp, const unsigned char *d, size_t len)
{
	static const size_t sizes[] = {1, 7, 4096, 65536, 262144, 262145, 1 << 20, 3};
	size_t off = 0, k = 0;

	while (off < len) {
		size_t n = sizes[k++ % (sizeof(sizes) / sizeof(sizes[0]))];
		if (n > len - off)
			n = len - off;
		assert_int_equal(hash_pipe_feed(hp, d + off, n), 0);
		off += n;
	}
}

static void test_equals_one_shot_digest(void **state)
{
	unsigned char *d = make_data();
	unsigned char want[32], got[32];
	struct hash_pipe *hp = hash_pipe_new();

	assert_non_null(hp);
	SHA256(d, DATA_LEN, want);
	feed_in_pieces(hp, d, DATA_LEN);
	assert_int_equal(hash_pipe_final(hp, got), 0);
	assert_memory_equal(got, want, 32);
	hash_pipe_free(hp);
	free(d);
}

static void test_empty_input(void **state)
{
	unsigned char want[32], got[32];
	struct hash_pipe *hp = hash_pipe_new();

	SHA256((const unsigned char *)"", 0, want);
	assert_int_equal(hash_pipe_final(hp, got), 0);
	assert_memory_equal(got, want, 32);
	hash_pipe_free(hp);
}

static void test_reset_forgets_what_was_fed(void **state)
{
	unsigned char *d = make_data();
	unsigned char want[32], got[32];
	struct hash_pipe *hp = hash_pipe_new();

	feed_in_pieces(hp, d, 1u << 20); /* queued, maybe not hashed yet: reset must wait */
	assert_int_equal(hash_pipe_reset(hp), 0);
	feed_in_pieces(hp, d + 100, 5000);
	SHA256(d + 100, 5000, want);
	assert_int_equal(hash_pipe_final(hp, got), 0);
	assert_memory_equal(got, want, 32);
	hash_pipe_free(hp);
	free(d);
}

static void test_final_then_only_reset(void **state)
{
	unsigned char got[32], want[32];
	struct hash_pipe *hp = hash_pipe_new();

	assert_int_equal(hash_pipe_feed(hp, "abc", 3), 0);
	assert_int_equal(hash_pipe_final(hp, got), 0);
	assert_int_equal(hash_pipe_feed(hp, "d", 1), -EIO);
	assert_int_equal(hash_pipe_final(hp, got), -EIO);
	assert_int_equal(hash_pipe_reset(hp), 0);
	assert_int_equal(hash_pipe_feed(hp, "abc", 3), 0);
	assert_int_equal(hash_pipe_final(hp, got), 0);
	SHA256((const unsigned char *)"abc", 3, want);
	assert_memory_equal(got, want, 32);
	hash_pipe_free(hp);
}

static void test_free_with_work_queued(void **state)
{
	unsigned char *d = make_data();
	struct hash_pipe *hp = hash_pipe_new();

	feed_in_pieces(hp, d, DATA_LEN); /* never finalised: free must join, not hang or leak */
	hash_pipe_free(hp);
	hash_pipe_free(NULL);
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_equals_one_shot_digest),
		cmocka_unit_test(test_empty_input),
		cmocka_unit_test(test_reset_forgets_what_was_fed),
		cmocka_unit_test(test_final_then_only_reset),
		cmocka_unit_test(test_free_with_work_queued),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
