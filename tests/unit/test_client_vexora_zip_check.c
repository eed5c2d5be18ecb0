/* client/vexora/zip_check.c: the zip end-record check that keeps a cut xlsx from turning ready
 * (a server declaring a short Content-Length makes a cut file look complete). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../client/vexora/zip_check.h"

struct tmp {
	char dir[64];
	char path[128];
};

static int setup(void **state)
{
	struct tmp *t = calloc(1, sizeof(*t));

	snprintf(t->dir, sizeof(t->dir), "/tmp/orderfs-part-XXXXXX");
	if (!t || !mkdtemp(t->dir))
		return -1;
	snprintf(t->path, sizeof(t->path), "%s/x.part", t->dir);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tmp *t = *state;

	unlink(t->path);
	rmdir(t->dir);
	free(t);
	return 0;
}

/* Write bytes to the part file and check it. */
static int check(struct tmp *t, const unsigned char *data, size_t len)
{
	int fd = open(t->path, O_RDWR | O_CREAT | O_TRUNC, 0600), rc;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	rc = zip_check_end(fd, len);
	close(fd);
	return rc;
}

/* A zip of one stored entry "a" holding "hi", with an optional archive comment. */
static size_t make_zip(unsigned char *out, const char *comment)
{
	static const unsigned char local[] = {
		'P', 'K', 3, 4, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xac, 0x2a, 0x93, 0xd8,
		2, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 'a', 'h', 'i'};
	static const unsigned char central[] = {
		'P', 'K', 1, 2, 20, 0, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xac, 0x2a, 0x93, 0xd8,
		2, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		'a'};
	size_t n = 0, clen = strlen(comment);
	uint32_t cd_off = sizeof(local), cd_size = sizeof(central);

	memcpy(out, local, sizeof(local));
	n += sizeof(local);
	memcpy(out + n, central, sizeof(central));
	n += sizeof(central);
	unsigned char eocd[22] = {'P', 'K', 5, 6, 0, 0, 0, 0, 1, 0, 1, 0,
				  (unsigned char)cd_size, (unsigned char)(cd_size >> 8), 0, 0,
				  (unsigned char)cd_off, (unsigned char)(cd_off >> 8), 0, 0,
				  (unsigned char)clen, (unsigned char)(clen >> 8)};
	memcpy(out + n, eocd, sizeof(eocd));
	n += sizeof(eocd);
	memcpy(out + n, comment, clen);
	return n + clen;
}

static void test_whole_zip_passes(void **state)
{
	unsigned char z[256];
	size_t n = make_zip(z, "");

	assert_int_equal(check(*state, z, n), 0);
	n = make_zip(z, "a comment PK\x05\x06 inside");
	assert_int_equal(check(*state, z, n), 0);
}

static void test_cut_zip_refused_at_every_length(void **state)
{
	unsigned char z[256];
	size_t n = make_zip(z, "");

	for (size_t cut = 0; cut < n; cut++)
		assert_int_equal(check(*state, z, cut), -EBADMSG);
	n = make_zip(z, "comment");
	for (size_t cut = 0; cut < n; cut++)
		assert_int_equal(check(*state, z, cut), -EBADMSG);
}

static void test_not_a_zip_refused(void **state)
{
	unsigned char junk[100000];

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)(i * 7919u >> 3);
	assert_int_equal(check(*state, junk, sizeof(junk)), -EBADMSG);
	assert_int_equal(check(*state, junk, 0), -EBADMSG);
}

/* A gzip stream (what Content-Encoding: gzip leaves undecoded) is told apart. */
static void test_gzip_told_apart(void **state)
{
	static const unsigned char gz[] = {0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0, 3};
	static const unsigned char pk[] = {'P', 'K', 3, 4, 0, 0};
	struct tmp *t = *state;
	int fd;

	assert_int_equal(check(t, gz, sizeof(gz)), -EBADMSG);
	fd = open(t->path, O_RDONLY);
	assert_int_equal(zip_check_gzip(fd, sizeof(gz)), 1);
	assert_int_equal(zip_check_gzip(fd, 1), 0);
	close(fd);
	check(t, pk, sizeof(pk));
	fd = open(t->path, O_RDONLY);
	assert_int_equal(zip_check_gzip(fd, sizeof(pk)), 0);
	close(fd);
}

static void test_trailing_garbage_refused(void **state)
{
	unsigned char z[256];
	size_t n = make_zip(z, "");

	z[n] = 'x'; /* one byte more than the archive: the server sent something else */
	assert_int_equal(check(*state, z, n + 1), -EBADMSG);
}

static void test_large_file_tail_only(void **state)
{
	struct tmp *t = *state;
	unsigned char z[256];
	size_t n = make_zip(z, "");
	static unsigned char big[300000];
	/* 300000 bytes of padding before a valid archive whose offsets say so: still whole. */
	uint32_t off = (uint32_t)sizeof(big) + 33;

	z[n - 22 + 16] = (unsigned char)off;
	z[n - 22 + 17] = (unsigned char)(off >> 8);
	z[n - 22 + 18] = (unsigned char)(off >> 16);
	int fd = open(t->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, big, sizeof(big)), (ssize_t)sizeof(big));
	assert_int_equal(write(fd, z, n), (ssize_t)n);
	assert_int_equal(zip_check_end(fd, sizeof(big) + n), 0);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_whole_zip_passes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cut_zip_refused_at_every_length, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_not_a_zip_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gzip_told_apart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trailing_garbage_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_large_file_tail_only, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
