/* fs/bundle_memo.c: an index is remembered per ready file (SHA-256 and ready time), read once
 * from disk, and never handed to a re-export of the same range. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../fs/bundle_memo.h"

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static void put_le64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* A bundle file of members "orders.csv" (5 bytes) and "orders.jsonl" (6 bytes), written by hand
 * in the format of common/bundle.h. Returns an fd; *size its size. */
static int bundle_file(uint64_t *size)
{
	static const char body[] = "a,b\n\n{\"x\":1}";
	static const char index[] = "0 5 orders.csv\n5 6 orders.jsonl\n";
	unsigned char trailer[BUNDLE_TRAILER_LEN];
	FILE *f = tmpfile();

	assert_non_null(f);
	memcpy(trailer, BUNDLE_MAGIC, 16);
	put_le64(trailer + 16, 11);
	put_le64(trailer + 24, strlen(index));
	assert_int_equal(fwrite(body, 1, 11, f), 11);
	assert_int_equal(fwrite(index, 1, strlen(index), f), strlen(index));
	assert_int_equal(fwrite(trailer, 1, sizeof(trailer), f), sizeof(trailer));
	fflush(f);
	*size = 11 + strlen(index) + sizeof(trailer);
	return dup(fileno(f)); /* tmpfile's file lives while the dup is open */
}

static struct bundle_index one_member(const char *name, uint64_t size)
{
	struct bundle_index ix = {calloc(1, sizeof(struct bundle_member)), 1};
	assert_non_null(ix.members);
	snprintf(ix.members[0].name, BUNDLE_NAME_MAX, "%s", name);
	ix.members[0].size = size;
	return ix;
}

static void test_put_then_get_same_file(void **state)
{
	struct bundle_memo *m = bundle_memo_new();
	struct bundle_index ix = one_member("orders.csv", 42), out;

	assert_int_equal(bundle_memo_get(m, SHA_A, 100, &out), -ENOENT);
	bundle_memo_put(m, SHA_A, 100, &ix);
	assert_int_equal(bundle_memo_get(m, SHA_A, 100, &out), 0);
	assert_int_equal(out.n, 1);
	assert_string_equal(out.members[0].name, "orders.csv");
	assert_int_equal(out.members[0].size, 42);
	bundle_index_free(&out);
	bundle_index_free(&ix);
	bundle_memo_free(m);
}

static void test_reexport_never_meets_old_index(void **state)
{
	struct bundle_memo *m = bundle_memo_new();
	struct bundle_index ix = one_member("orders.csv", 42), out;

	bundle_memo_put(m, SHA_A, 100, &ix);
	/* Same range exported again: a new ready time, even with the same bytes. */
	assert_int_equal(bundle_memo_get(m, SHA_A, 200, &out), -ENOENT);
	/* Other bytes. */
	assert_int_equal(bundle_memo_get(m, SHA_B, 100, &out), -ENOENT);
	bundle_index_free(&ix);
	bundle_memo_free(m);
}

static void test_unvouched_file_is_never_remembered(void **state)
{
	struct bundle_memo *m = bundle_memo_new();
	struct bundle_index ix = one_member("orders.csv", 42), out;

	bundle_memo_put(m, "", 100, &ix);
	assert_int_equal(bundle_memo_get(m, "", 100, &out), -ENOENT);
	bundle_index_free(&ix);
	bundle_memo_free(m);
}

static void test_read_goes_to_disk_once_per_file(void **state)
{
	struct bundle_memo *m = bundle_memo_new();
	struct bundle_index out;
	uint64_t size;
	int fd = bundle_file(&size);

	assert_int_equal(bundle_memo_read(m, SHA_A, 100, fd, size, &out), 0);
	assert_int_equal(out.n, 2);
	assert_string_equal(out.members[1].name, "orders.jsonl");
	assert_int_equal(out.members[1].offset, 5);
	bundle_index_free(&out);
	close(fd);
	/* The file is gone: only the memo can answer now. */
	assert_int_equal(bundle_memo_read(m, SHA_A, 100, fd, size, &out), 0);
	assert_int_equal(out.n, 2);
	bundle_index_free(&out);
	/* A re-export must read its own file, not reuse the index. */
	assert_int_not_equal(bundle_memo_read(m, SHA_A, 200, fd, size, &out), 0);
	bundle_memo_free(m);
}

static void test_read_refuses_non_bundle_and_remembers_nothing(void **state)
{
	struct bundle_memo *m = bundle_memo_new();
	struct bundle_index out;
	FILE *f = tmpfile();

	assert_non_null(f);
	fputs("not a bundle at all, just some bytes of an xlsx file....", f);
	fflush(f);
	assert_int_equal(bundle_memo_read(m, SHA_A, 100, fileno(f), 56, &out), -EBADMSG);
	assert_int_equal(bundle_memo_get(m, SHA_A, 100, &out), -ENOENT);
	fclose(f);
	bundle_memo_free(m);
}

static void test_least_recently_used_goes_first(void **state)
{
	struct bundle_memo *m = bundle_memo_new();
	struct bundle_index ix = one_member("orders.csv", 1), out;

	for (int64_t t = 1; t <= BUNDLE_MEMO_SLOTS; t++)
		bundle_memo_put(m, SHA_A, t, &ix);
	assert_int_equal(bundle_memo_get(m, SHA_A, 1, &out), 0); /* 1 is now the newest use */
	bundle_index_free(&out);
	bundle_memo_put(m, SHA_A, BUNDLE_MEMO_SLOTS + 1, &ix); /* evicts 2 */
	assert_int_equal(bundle_memo_get(m, SHA_A, 2, &out), -ENOENT);
	assert_int_equal(bundle_memo_get(m, SHA_A, 1, &out), 0);
	bundle_index_free(&out);
	assert_int_equal(bundle_memo_get(m, SHA_A, BUNDLE_MEMO_SLOTS + 1, &out), 0);
	bundle_index_free(&out);
	bundle_index_free(&ix);
	bundle_memo_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_then_get_same_file),
		cmocka_unit_test(test_reexport_never_meets_old_index),
		cmocka_unit_test(test_unvouched_file_is_never_remembered),
		cmocka_unit_test(test_read_goes_to_disk_once_per_file),
		cmocka_unit_test(test_read_refuses_non_bundle_and_remembers_nothing),
		cmocka_unit_test(test_least_recently_used_goes_first),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
