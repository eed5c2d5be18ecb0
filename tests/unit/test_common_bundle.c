/* client/bundle.c: the bundle writer over a download sink and the index reader that refuses
 * anything but a whole bundle. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../common/bundle.h"

/* --- an in-memory sink that can read back and fail on demand --- */

struct mem {
	unsigned char *buf;
	size_t len, cap;
	int begins;
	int fail_begin;		/* -errno begin returns, 0 = ok */
	int fail_write;		/* -errno the next write returns, 0 = ok */
	uint64_t begin_offset, begin_total;
	int reads;
};

static int mem_begin(void *ctx, uint64_t offset, uint64_t total)
{
	struct mem *m = ctx;

	m->begins++;
	m->begin_offset = offset;
	m->begin_total = total;
	if (m->fail_begin)
		return m->fail_begin;
	if (offset > m->len)
		return -EIO;
	m->len = (size_t)offset;
	return 0;
}

static int mem_write(void *ctx, const void *buf, size_t len, uint64_t offset)
{
	struct mem *m = ctx;

	if (m->fail_write) {
		int rc = m->fail_write;
		m->fail_write = 0;
		return rc;
	}
	if (offset != m->len)
		return -EIO;
	if (m->len + len > m->cap) {
		size_t cap = (m->len + len) * 2 + 64;
		unsigned char *p = realloc(m->buf, cap);
		if (!p)
			return -ENOMEM;
		m->buf = p;
		m->cap = cap;
	}
	memcpy(m->buf + m->len, buf, len);
	m->len += len;
	return 0;
}

static int mem_read(void *ctx, void *buf, size_t len, uint64_t offset)
{
	struct mem *m = ctx;

	m->reads++;
	if (offset > m->len || len > m->len - offset)
		return -EIO;
	memcpy(buf, m->buf + offset, len);
	return 0;
}

static struct download_sink mem_sink(struct mem *m)
{
	struct download_sink s = {
		.begin = mem_begin, .write = mem_write, .ctx = m, .read = mem_read, .items = NULL};
	return s;
}

/* A fresh unlinked temp file holding exactly len bytes. */
static int fd_of(const void *buf, size_t len)
{
	char path[] = "/tmp/orderfs-bundle-XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	unlink(path);
	if (len)
		assert_int_equal(pwrite(fd, buf, len, 0), (ssize_t)len);
	return fd;
}

/* bundle_index_read of a byte string. */
static int index_of(const void *buf, size_t len, struct bundle_index *ix)
{
	int fd = fd_of(buf, len);
	int rc = bundle_index_read(fd, len, ix);

	close(fd);
	return rc;
}

static void put_u64le(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* data_len bytes of 'x', then the index text, then a trailer (magic, ioff, ilen as given;
 * UINT64_MAX = the true value). Caller frees; *len is the size. */
static unsigned char *craft(size_t data_len, const char *index, size_t index_len,
			    uint64_t ioff, uint64_t ilen, const char *magic, size_t *len)
{
	size_t n = data_len + index_len + BUNDLE_TRAILER_LEN;
	unsigned char *b = malloc(n);

	assert_non_null(b);
	memset(b, 'x', data_len);
	memcpy(b + data_len, index, index_len);
	memcpy(b + data_len + index_len, magic, 16);
	put_u64le(b + n - 16, ioff == UINT64_MAX ? data_len : ioff);
	put_u64le(b + n - 8, ilen == UINT64_MAX ? index_len : ilen);
	*len = n;
	return b;
}

/* Whether a crafted bundle with this index over data_len bytes is accepted. */
static int crafted_rc(size_t data_len, const char *index)
{
	struct bundle_index ix;
	size_t len;
	unsigned char *b = craft(data_len, index, strlen(index), UINT64_MAX, UINT64_MAX,
				 BUNDLE_MAGIC, &len);
	int rc = index_of(b, len, &ix);

	free(b);
	if (rc == 0) {
		bundle_index_free(&ix);
	} else {
		assert_null(ix.members);
		assert_int_equal(ix.n, 0);
	}
	return rc;
}

struct spec {
	const char *name;
	size_t len;
	size_t pieces; /* written in this many bundle_write calls */
};

static unsigned char member_byte(size_t m, size_t i)
{
	return (unsigned char)(m * 37 + i * 11 + (i >> 7));
}

/* Write a bundle of these members into m. Returns the writer's total. */
static uint64_t write_bundle(struct mem *m, struct download_sink *s, const struct spec *sp,
			     size_t n)
{
	struct bundle_writer w;
	uint64_t total = 0;

	assert_int_equal(bundle_begin(&w, s), 0);
	for (size_t i = 0; i < n; i++) {
		unsigned char *d = malloc(sp[i].len + 1);
		size_t off = 0;
		assert_non_null(d);
		for (size_t k = 0; k < sp[i].len; k++)
			d[k] = member_byte(i, k);
		assert_int_equal(bundle_member_start(&w, sp[i].name), 0);
		for (size_t p = 0; p < sp[i].pieces; p++) {
			size_t step = p + 1 == sp[i].pieces ? sp[i].len - off : sp[i].len / sp[i].pieces;
			assert_int_equal(bundle_write(&w, d + off, step), 0);
			off += step;
		}
		assert_int_equal(off, sp[i].len);
		assert_int_equal(bundle_member_end(&w), 0);
		free(d);
	}
	assert_int_equal(bundle_finish(&w, &total), 0);
	bundle_writer_free(&w);
	(void)m;
	return total;
}

static const struct spec SMALL[] = {
	{"orders-0001.json", 700, 3},
	{"empty.txt", 0, 0},
	{"orders.jsonl", 333, 1},
	{"orders.csv", 5000, 7},
	{"z", 0, 1},
};
#define NSMALL (sizeof(SMALL) / sizeof(SMALL[0]))

/* --- round trip --- */

static void test_bundle_round_trip(void **state)
{
	struct mem m = {0};
	struct download_sink s = mem_sink(&m);
	struct bundle_writer w;
	struct bundle_index ix;
	uint64_t total = 0, off = 0;

	(void)state;
	assert_int_equal(bundle_begin(&w, &s), 0);
	assert_int_equal(m.begins, 1);
	assert_int_equal(m.begin_offset, 0);
	assert_true(m.begin_total == UINT64_MAX);
	for (size_t i = 0; i < NSMALL; i++) {
		unsigned char *d = malloc(SMALL[i].len + 1), *back = malloc(SMALL[i].len + 1);
		size_t done = 0;
		assert_non_null(d);
		assert_non_null(back);
		for (size_t k = 0; k < SMALL[i].len; k++)
			d[k] = member_byte(i, k);
		assert_int_equal(bundle_member_start(&w, SMALL[i].name), 0);
		for (size_t p = 0; p < SMALL[i].pieces; p++) {
			size_t step = p + 1 == SMALL[i].pieces ? SMALL[i].len - done
							       : SMALL[i].len / SMALL[i].pieces;
			assert_int_equal(bundle_write(&w, d + done, step), 0);
			done += step;
		}
		assert_int_equal(bundle_member_end(&w), 0);
		/* every finished member reads back whole and in pieces, this one and earlier */
		for (size_t j = 0; j <= i; j++) {
			size_t len = SMALL[j].len;
			unsigned char *b = malloc(len + 1);
			assert_non_null(b);
			assert_int_equal(bundle_member_read(&w, j, 0, b, len), 0);
			for (size_t k = 0; k < len; k++)
				assert_int_equal(b[k], member_byte(j, k));
			if (len > 10) {
				assert_int_equal(bundle_member_read(&w, j, len - 10, b, 10), 0);
				for (size_t k = 0; k < 10; k++)
					assert_int_equal(b[k], member_byte(j, len - 10 + k));
			}
			free(b);
		}
		free(d);
		free(back);
	}
	assert_int_equal(w.n, NSMALL);
	assert_int_equal(bundle_finish(&w, &total), 0);
	assert_int_equal(total, m.len);
	bundle_writer_free(&w);
	assert_null(w.members);

	assert_int_equal(index_of(m.buf, m.len, &ix), 0);
	assert_int_equal(ix.n, NSMALL);
	for (size_t i = 0; i < NSMALL; i++) {
		const struct bundle_member *bm = bundle_index_find(&ix, SMALL[i].name);
		assert_ptr_equal(bm, &ix.members[i]); /* in write order */
		assert_string_equal(bm->name, SMALL[i].name);
		assert_int_equal(bm->offset, off);
		assert_int_equal(bm->size, SMALL[i].len);
		for (size_t k = 0; k < SMALL[i].len; k++)
			assert_int_equal(m.buf[bm->offset + k], member_byte(i, k));
		off += SMALL[i].len;
	}
	assert_null(bundle_index_find(&ix, "missing"));
	assert_null(bundle_index_find(&ix, "orders"));
	/* the trailer: magic, then the index right after the last member */
	assert_memory_equal(m.buf + m.len - BUNDLE_TRAILER_LEN, BUNDLE_MAGIC, 16);
	assert_memory_equal(m.buf + off, "0 700 orders-0001.json\n700 0 empty.txt\n", 39);
	bundle_index_free(&ix);
	assert_null(ix.members);
	assert_int_equal(ix.n, 0);
	free(m.buf);
}

static void test_bundle_zero_members_valid(void **state)
{
	struct mem m = {0};
	struct download_sink s = mem_sink(&m);
	struct bundle_index ix;
	uint64_t total = 1;

	(void)state;
	total = write_bundle(&m, &s, NULL, 0);
	assert_int_equal(total, BUNDLE_TRAILER_LEN);
	assert_int_equal(m.len, BUNDLE_TRAILER_LEN);
	assert_int_equal(index_of(m.buf, m.len, &ix), 0);
	assert_int_equal(ix.n, 0);
	assert_null(bundle_index_find(&ix, "a"));
	bundle_index_free(&ix);
	/* the same crafted by hand */
	assert_int_equal(crafted_rc(0, ""), 0);
	/* but bytes before an empty index belong to no member */
	assert_int_equal(crafted_rc(5, ""), -EBADMSG);
	free(m.buf);
}

static void test_bundle_begin_restarts_sink(void **state)
{
	struct mem m = {0};
	struct download_sink s = mem_sink(&m);
	struct bundle_writer w;
	static const struct spec one[] = {{"a", 100, 1}};

	(void)state;
	/* a first, abandoned try leaves bytes in the sink; a new bundle starts at 0 */
	assert_int_equal(bundle_begin(&w, &s), 0);
	assert_int_equal(bundle_member_start(&w, "junk"), 0);
	assert_int_equal(bundle_write(&w, "garbage", 7), 0);
	bundle_writer_free(&w);
	assert_int_equal(m.len, 7);
	uint64_t total = write_bundle(&m, &s, one, 1);
	assert_int_equal(total, m.len);
	struct bundle_index ix;
	assert_int_equal(index_of(m.buf, m.len, &ix), 0);
	assert_int_equal(ix.n, 1);
	assert_string_equal(ix.members[0].name, "a");
	bundle_index_free(&ix);
	/* begin's error is returned */
	m.fail_begin = -ENOSPC;
	assert_int_equal(bundle_begin(&w, &s), -ENOSPC);
	bundle_writer_free(&w);
	free(m.buf);
}

/* --- the writer refuses misuse --- */

static void test_bundle_member_start_refusals(void **state)
{
	struct mem m = {0};
	struct download_sink s = mem_sink(&m);
	struct bundle_writer w;
	char longname[BUNDLE_NAME_MAX + 1];

	(void)state;
	assert_int_equal(bundle_begin(&w, &s), 0);
	assert_int_equal(bundle_member_start(&w, "a.json"), 0);
	assert_int_equal(bundle_write(&w, "123", 3), 0);
	/* a second member while one is open */
	assert_int_equal(bundle_member_start(&w, "b.json"), -EINVAL);
	assert_int_equal(w.n, 1);
	assert_int_equal(w.pos, 3);
	assert_int_equal(bundle_finish(&w, NULL), -EINVAL); /* open member */
	assert_int_equal(bundle_member_end(&w), 0);
	assert_int_equal(bundle_member_end(&w), -EINVAL); /* nothing open */
	assert_int_equal(bundle_write(&w, "x", 1), -EINVAL); /* nothing open */
	assert_int_equal(w.pos, 3);
	/* duplicates, even of a finished member */
	assert_int_equal(bundle_member_start(&w, "a.json"), -EINVAL);
	/* bad names */
	assert_int_equal(bundle_member_start(&w, "../x"), -EINVAL);
	assert_int_equal(bundle_member_start(&w, ".hidden"), -EINVAL);
	assert_int_equal(bundle_member_start(&w, "a/b"), -EINVAL);
	assert_int_equal(bundle_member_start(&w, ""), -EINVAL);
	memset(longname, 'n', BUNDLE_NAME_MAX);
	longname[BUNDLE_NAME_MAX] = '\0';
	assert_int_equal(bundle_member_start(&w, longname), -EINVAL); /* 64 */
	longname[BUNDLE_NAME_MAX - 1] = '\0';
	assert_int_equal(bundle_member_start(&w, longname), 0); /* 63: fine */
	assert_int_equal(bundle_member_end(&w), 0);
	assert_int_equal(w.n, 2);
	uint64_t total = 0;
	assert_int_equal(bundle_finish(&w, &total), 0);
	bundle_writer_free(&w);
	struct bundle_index ix;
	assert_int_equal(index_of(m.buf, m.len, &ix), 0);
	assert_int_equal(ix.n, 2);
	assert_string_equal(ix.members[1].name, longname);
	bundle_index_free(&ix);
	free(m.buf);
}

static void test_bundle_member_read_refusals(void **state)
{
	struct mem m = {0};
	struct download_sink s = mem_sink(&m);
	struct bundle_writer w;
	char b[16];

	(void)state;
	assert_int_equal(bundle_begin(&w, &s), 0);
	assert_int_equal(bundle_member_read(&w, 0, 0, b, 0), -EINVAL); /* no members */
	assert_int_equal(bundle_member_start(&w, "a"), 0);
	assert_int_equal(bundle_write(&w, "0123456789", 10), 0);
	assert_int_equal(bundle_member_read(&w, 0, 0, b, 1), -EINVAL); /* still open */
	assert_int_equal(bundle_member_end(&w), 0);
	assert_int_equal(bundle_member_start(&w, "b"), 0);
	assert_int_equal(bundle_write(&w, "abc", 3), 0);
	assert_int_equal(bundle_member_read(&w, 1, 0, b, 1), -EINVAL); /* open */
	assert_int_equal(bundle_member_read(&w, 0, 0, b, 10), 0);     /* finished: fine */
	assert_memory_equal(b, "0123456789", 10);
	assert_int_equal(bundle_member_read(&w, 0, 0, b, 11), -EINVAL);
	assert_int_equal(bundle_member_read(&w, 0, 5, b, 6), -EINVAL);
	assert_int_equal(bundle_member_read(&w, 0, 11, b, 0), -EINVAL);
	assert_int_equal(bundle_member_read(&w, 0, UINT64_MAX, b, 1), -EINVAL);
	assert_int_equal(bundle_member_read(&w, 0, 1, b, SIZE_MAX), -EINVAL);
	assert_int_equal(bundle_member_read(&w, 0, 10, b, 0), 0); /* empty at the end */
	assert_int_equal(bundle_member_read(&w, 0, 7, b, 3), 0);
	assert_memory_equal(b, "789", 3);
	assert_int_equal(bundle_member_read(&w, 2, 0, b, 0), -EINVAL); /* no such member */
	assert_int_equal(bundle_member_read(&w, SIZE_MAX, 0, b, 0), -EINVAL);
	assert_int_equal(bundle_member_end(&w), 0);
	assert_int_equal(bundle_member_read(&w, 1, 0, b, 3), 0);
	assert_memory_equal(b, "abc", 3);
	/* a sink that cannot read */
	s.read = NULL;
	assert_int_equal(bundle_member_read(&w, 0, 0, b, 1), -ENOTSUP);
	bundle_writer_free(&w);
	free(m.buf);
}

static void test_bundle_sink_errors_propagate(void **state)
{
	struct mem m = {0};
	struct download_sink s = mem_sink(&m);
	struct bundle_writer w;

	(void)state;
	assert_int_equal(bundle_begin(&w, &s), 0);
	assert_int_equal(bundle_member_start(&w, "a"), 0);
	assert_int_equal(bundle_write(&w, "abc", 3), 0);
	m.fail_write = -ENOSPC;
	assert_int_equal(bundle_write(&w, "def", 3), -ENOSPC);
	assert_int_equal(w.members[0].size, 3); /* what failed is not counted */
	assert_int_equal(w.pos, 3);
	assert_int_equal(bundle_member_end(&w), 0);
	m.fail_write = -EIO;
	assert_int_equal(bundle_finish(&w, NULL), -EIO);
	bundle_writer_free(&w);
	free(m.buf);
}

static void test_bundle_too_many_members(void **state)
{
	struct mem m = {0};
	struct download_sink s = mem_sink(&m);
	struct bundle_writer w;
	struct bundle_index ix;
	char name[16];
	uint64_t total = 0;

	(void)state;
	assert_int_equal(bundle_begin(&w, &s), 0);
	for (int i = 0; i < BUNDLE_MEMBERS_MAX; i++) {
		snprintf(name, sizeof(name), "m%05d", i);
		assert_int_equal(bundle_member_start(&w, name), 0);
		assert_int_equal(bundle_write(&w, "x", i % 3 == 0), 0);
		assert_int_equal(bundle_member_end(&w), 0);
	}
	assert_int_equal(bundle_member_start(&w, "one-more"), -E2BIG);
	assert_int_equal(bundle_finish(&w, &total), 0);
	bundle_writer_free(&w);
	assert_int_equal(index_of(m.buf, m.len, &ix), 0); /* the largest bundle reads back */
	assert_int_equal(ix.n, BUNDLE_MEMBERS_MAX);
	bundle_index_free(&ix);
	free(m.buf);
}

/* --- the reader refuses anything but a whole bundle --- */

static void test_bundle_every_prefix_refused(void **state)
{
	struct mem m = {0};
	struct download_sink s = mem_sink(&m);
	struct bundle_index ix;
	static const struct spec sp[] = {
		{"orders-0001.json", 40, 2}, {"e", 0, 0}, {"orders.csv", 25, 1}};

	(void)state;
	write_bundle(&m, &s, sp, 3);
	assert_int_equal(index_of(m.buf, m.len, &ix), 0);
	bundle_index_free(&ix);
	for (size_t len = 0; len < m.len; len++) {
		int rc = index_of(m.buf, len, &ix);
		if (rc != -EBADMSG)
			fail_msg("prefix of %zu of %zu bytes: rc %d", len, m.len, rc);
		assert_null(ix.members);
	}
	/* a size larger than the file (a short read) is no bundle either */
	int fd = fd_of(m.buf, m.len);
	assert_int_equal(bundle_index_read(fd, m.len + 1, &ix), -EBADMSG);
	close(fd);
	/* one extra byte appended (the trailer no longer ends the file) */
	unsigned char *more = malloc(m.len + 1);
	assert_non_null(more);
	memcpy(more, m.buf, m.len);
	more[m.len] = '\n';
	assert_int_equal(index_of(more, m.len + 1, &ix), -EBADMSG);
	free(more);
	free(m.buf);
}

static void test_bundle_wrong_magic(void **state)
{
	struct bundle_index ix;
	size_t len;
	unsigned char *b = craft(3, "0 3 a\n", 6, UINT64_MAX, UINT64_MAX, BUNDLE_MAGIC, &len);

	(void)state;
	assert_int_equal(index_of(b, len, &ix), 0);
	bundle_index_free(&ix);
	free(b);
	b = craft(3, "0 3 a\n", 6, UINT64_MAX, UINT64_MAX, "ORDERFS-BUNDLE-2", &len);
	assert_int_equal(index_of(b, len, &ix), -EBADMSG);
	free(b);
	b = craft(3, "0 3 a\n", 6, UINT64_MAX, UINT64_MAX, "orderfs-bundle-1", &len);
	assert_int_equal(index_of(b, len, &ix), -EBADMSG);
	free(b);
	/* too short for a trailer at all */
	assert_int_equal(index_of("ORDERFS-BUNDLE-1", 16, &ix), -EBADMSG);
	assert_int_equal(index_of("", 0, &ix), -EBADMSG);
}

static void test_bundle_index_must_tile(void **state)
{
	(void)state;
	assert_int_equal(crafted_rc(7, "0 3 a\n3 4 b\n"), 0);
	assert_int_equal(crafted_rc(7, "0 3 a\n4 3 b\n"), -EBADMSG);  /* gap */
	assert_int_equal(crafted_rc(7, "0 4 a\n3 4 b\n"), -EBADMSG);  /* overlap */
	assert_int_equal(crafted_rc(7, "3 4 b\n0 3 a\n"), -EBADMSG);  /* out of order */
	assert_int_equal(crafted_rc(7, "0 3 a\n"), -EBADMSG);	      /* tail not covered */
	assert_int_equal(crafted_rc(7, "1 6 a\n"), -EBADMSG);	      /* head not covered */
	assert_int_equal(crafted_rc(7, "0 8 a\n"), -EBADMSG);	      /* runs into the index */
	assert_int_equal(crafted_rc(7, "0 7 a\n7 0 b\n"), 0);	      /* empty at the end */
	assert_int_equal(crafted_rc(7, "0 7 a\n7 1 b\n"), -EBADMSG);
	assert_int_equal(crafted_rc(7, "0 0 e\n0 7 a\n7 0 f\n"), 0); /* empty ones anywhere */
	assert_int_equal(crafted_rc(7, "0 18446744073709551615 a\n"), -EBADMSG);
	assert_int_equal(crafted_rc(7, "0 3 a\n3 18446744073709551613 b\n"), -EBADMSG);
	assert_int_equal(crafted_rc(7, "0 3 a\n18446744073709551619 4 b\n"), -EBADMSG);
}

static void test_bundle_index_duplicate_names(void **state)
{
	(void)state;
	assert_int_equal(crafted_rc(6, "0 3 a\n3 3 a\n"), -EBADMSG);
	assert_int_equal(crafted_rc(6, "0 3 a\n3 0 b\n3 3 a\n"), -EBADMSG);
	assert_int_equal(crafted_rc(6, "0 0 a\n0 0 a\n0 6 c\n"), -EBADMSG);
	assert_int_equal(crafted_rc(6, "0 3 a\n3 3 A\n"), 0); /* names are case-sensitive */
}

static void test_bundle_index_bad_names(void **state)
{
	char line[200], name[BUNDLE_NAME_MAX + 2];

	(void)state;
	assert_int_equal(crafted_rc(3, "0 3 ../x\n"), -EBADMSG);
	assert_int_equal(crafted_rc(3, "0 3 .hidden\n"), -EBADMSG);
	assert_int_equal(crafted_rc(3, "0 3 ..\n"), -EBADMSG);
	assert_int_equal(crafted_rc(3, "0 3 a/b\n"), -EBADMSG);
	assert_int_equal(crafted_rc(3, "0 3 a b\n"), -EBADMSG);
	assert_int_equal(crafted_rc(3, "0 3 \n"), -EBADMSG);
	assert_int_equal(crafted_rc(3, "0 3 a\r\n"), -EBADMSG);
	assert_int_equal(crafted_rc(3, "0 3 caf\xc3\xa9\n"), -EBADMSG);
	memset(name, 'n', sizeof(name));
	name[BUNDLE_NAME_MAX] = '\0'; /* 64 chars */
	snprintf(line, sizeof(line), "0 3 %s\n", name);
	assert_int_equal(crafted_rc(3, line), -EBADMSG);
	name[BUNDLE_NAME_MAX - 1] = '\0'; /* 63: the longest */
	snprintf(line, sizeof(line), "0 3 %s\n", name);
	assert_int_equal(crafted_rc(3, line), 0);
	assert_int_equal(crafted_rc(3, "0 3 a.b-c_D9\n"), 0);
}

static void test_bundle_index_bad_syntax(void **state)
{
	struct bundle_index ix;
	size_t len;
	unsigned char *b;

	(void)state;
	assert_int_equal(crafted_rc(3, "0 3 a"), -EBADMSG);	/* no final newline */
	assert_int_equal(crafted_rc(3, "0 3 a\n\n"), -EBADMSG); /* empty line */
	assert_int_equal(crafted_rc(3, " 0 3 a\n"), -EBADMSG);
	assert_int_equal(crafted_rc(3, "0  3 a\n"), -EBADMSG);
	assert_int_equal(crafted_rc(3, "0 3  a\n"), -EBADMSG);
	assert_int_equal(crafted_rc(3, "-0 3 a\n"), -EBADMSG);
	assert_int_equal(crafted_rc(3, "0 +3 a\n"), -EBADMSG);
	assert_int_equal(crafted_rc(3, "0 0x3 a\n"), -EBADMSG);
	assert_int_equal(crafted_rc(3, "0\t3 a\n"), -EBADMSG);
	assert_int_equal(crafted_rc(3, "0 3\n"), -EBADMSG);
	assert_int_equal(crafted_rc(3, "a\n"), -EBADMSG);
	/* a NUL inside the index */
	b = craft(3, "0 3 a\0b\n", 8, UINT64_MAX, UINT64_MAX, BUNDLE_MAGIC, &len);
	assert_int_equal(index_of(b, len, &ix), -EBADMSG);
	free(b);
}

static void test_bundle_index_length_mismatch(void **state)
{
	struct bundle_index ix;
	size_t len;
	unsigned char *b;

	(void)state;
	/* index length one short / one long */
	b = craft(3, "0 3 a\n", 6, UINT64_MAX, 5, BUNDLE_MAGIC, &len);
	assert_int_equal(index_of(b, len, &ix), -EBADMSG);
	free(b);
	b = craft(3, "0 3 a\n", 6, UINT64_MAX, 7, BUNDLE_MAGIC, &len);
	assert_int_equal(index_of(b, len, &ix), -EBADMSG);
	free(b);
	/* index offset off by one either way, and past the end */
	b = craft(3, "0 3 a\n", 6, 2, UINT64_MAX, BUNDLE_MAGIC, &len);
	assert_int_equal(index_of(b, len, &ix), -EBADMSG);
	free(b);
	b = craft(3, "0 3 a\n", 6, 4, UINT64_MAX, BUNDLE_MAGIC, &len);
	assert_int_equal(index_of(b, len, &ix), -EBADMSG);
	free(b);
	b = craft(3, "0 3 a\n", 6, UINT64_MAX - 1, 0, BUNDLE_MAGIC, &len);
	assert_int_equal(index_of(b, len, &ix), -EBADMSG);
	free(b);
	/* ioff + ilen wrapping around to look right */
	b = craft(3, "0 3 a\n", 6, 3 + 7, (uint64_t)0 - 1, BUNDLE_MAGIC, &len);
	assert_int_equal(index_of(b, len, &ix), -EBADMSG);
	free(b);
}

static void test_bundle_index_too_big(void **state)
{
	struct bundle_index ix;
	unsigned char trailer[BUNDLE_TRAILER_LEN];
	/* a (sparse) file whose index claims more than any real bundle's index could be */
	uint64_t ilen = (uint64_t)BUNDLE_MEMBERS_MAX * (BUNDLE_NAME_MAX + 44) + 1;
	int fd = fd_of(NULL, 0);

	(void)state;
	memcpy(trailer, BUNDLE_MAGIC, 16);
	put_u64le(trailer + 16, 0);
	put_u64le(trailer + 24, ilen);
	assert_int_equal(pwrite(fd, trailer, sizeof(trailer), (off_t)ilen), (ssize_t)sizeof(trailer));
	assert_int_equal(bundle_index_read(fd, ilen + BUNDLE_TRAILER_LEN, &ix), -EBADMSG);
	close(fd);

	/* more lines than BUNDLE_MEMBERS_MAX */
	size_t cap = (BUNDLE_MEMBERS_MAX + 1) * 16, n = 0;
	char *index = malloc(cap);
	assert_non_null(index);
	for (int i = 0; i <= BUNDLE_MEMBERS_MAX; i++)
		n += (size_t)snprintf(index + n, cap - n, "0 0 m%d\n", i);
	size_t len;
	unsigned char *b = craft(0, index, n, UINT64_MAX, UINT64_MAX, BUNDLE_MAGIC, &len);
	assert_int_equal(index_of(b, len, &ix), -EBADMSG);
	free(b);
	/* exactly BUNDLE_MEMBERS_MAX is fine */
	n = 0;
	for (int i = 0; i < BUNDLE_MEMBERS_MAX; i++)
		n += (size_t)snprintf(index + n, cap - n, "0 0 m%d\n", i);
	b = craft(0, index, n, UINT64_MAX, UINT64_MAX, BUNDLE_MAGIC, &len);
	assert_int_equal(index_of(b, len, &ix), 0);
	assert_int_equal(ix.n, BUNDLE_MEMBERS_MAX);
	bundle_index_free(&ix);
	free(b);
	free(index);
}

static void test_bundle_name_ok(void **state)
{
	(void)state;
	assert_true(bundle_name_ok("orders.jsonl"));
	assert_true(bundle_name_ok("orders-0001.json"));
	assert_true(bundle_name_ok("A_b-9.x"));
	assert_true(bundle_name_ok("a."));
	assert_false(bundle_name_ok(""));
	assert_false(bundle_name_ok("."));
	assert_false(bundle_name_ok(".."));
	assert_false(bundle_name_ok("../x"));
	assert_false(bundle_name_ok(".hidden"));
	assert_false(bundle_name_ok("a/b"));
	assert_false(bundle_name_ok("a\\b"));
	assert_false(bundle_name_ok("a b"));
	assert_false(bundle_name_ok("a\nb"));
	assert_false(bundle_name_ok("a:b"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bundle_round_trip),
		cmocka_unit_test(test_bundle_zero_members_valid),
		cmocka_unit_test(test_bundle_begin_restarts_sink),
		cmocka_unit_test(test_bundle_member_start_refusals),
		cmocka_unit_test(test_bundle_member_read_refusals),
		cmocka_unit_test(test_bundle_sink_errors_propagate),
		cmocka_unit_test(test_bundle_too_many_members),
		cmocka_unit_test(test_bundle_every_prefix_refused),
		cmocka_unit_test(test_bundle_wrong_magic),
		cmocka_unit_test(test_bundle_index_must_tile),
		cmocka_unit_test(test_bundle_index_duplicate_names),
		cmocka_unit_test(test_bundle_index_bad_names),
		cmocka_unit_test(test_bundle_index_bad_syntax),
		cmocka_unit_test(test_bundle_index_length_mismatch),
		cmocka_unit_test(test_bundle_index_too_big),
		cmocka_unit_test(test_bundle_name_ok),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
