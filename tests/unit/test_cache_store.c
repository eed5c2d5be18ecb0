/* The on-disk store: keys, metadata, atomic writes, permissions, partial files. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "../../cache/cache.h"
#include "../../common/log.h"
#include "cache_harness.h"

#define UNUSED __attribute__((unused))


#include <dirent.h>

#include "../../cache/store/key.h"
#include "../../cache/store/part.h"
#include "../../cache/store/store.h"

static const struct date_range *R1(void)
{
	static struct date_range r;
	r = fake_range("2026-05-18", "2026-05-19");
	return &r;
}

static void test_store_key_canonical_and_hash(void **state)
{
	struct cache_key k;
	char s[KEY_STR_MAX], h[KEY_HASH_LEN], want[65];
	(void)state;

	assert_int_equal(key_init(&k, "vexora", "M100200", "order", "en-US", R1()), 0);
	key_format(&k, s);
	assert_string_equal(s, "vexora|M100200|order|en-US|2026-05-18|2026-05-19");
	assert_int_equal(key_hash(&k, h), 0);
	sha_hex(s, strlen(s), want);
	assert_string_equal(h, want);
}

static void test_store_key_rejects_ambiguous_fields(void **state)
{
	struct cache_key k;
	struct date_range bad = fake_range("2026-05-19", "2026-05-18");
	(void)state;

	assert_int_equal(key_init(&k, "vexora", "M1|00", "order", "en-US", R1()), -EINVAL);
	assert_int_equal(key_init(&k, "vexora", "M100", "or\nder", "en-US", R1()), -EINVAL);
	assert_int_equal(key_init(&k, "vexora", "M100", "order", "en-US", &bad), -EINVAL);
}

static void test_store_meta_roundtrip(void **state)
{
	struct env *e = *state;
	struct store s;
	struct store_meta m, got;
	char hash[KEY_HASH_LEN];

	assert_int_equal(store_init(&s, e->dir), 0);
	memset(&m, 0, sizeof(m));
	assert_int_equal(key_init(&m.key, "vexora", "M100200", "order", "en-US", R1()), 0);
	assert_int_equal(key_hash(&m.key, hash), 0);
	m.state = CACHE_READY;
	snprintf(m.task_id, sizeof(m.task_id), "f1f06916c29509c77aaf59e23b423123");
	snprintf(m.server_name, sizeof(m.server_name), "../../etc/passwd \"quoted\".xlsx");
	m.finish_time = 1779170114;
	m.expires = 1779774914;
	m.ready_time = 1779170200;
	m.last_access_ms = 1779170200123LL;
	m.size = 123456789;
	sha_hex("x", 1, m.sha256);
	m.last_errno = ENOSPC;
	m.err_kind = CLIENT_E_LOCAL;
	snprintf(m.err_code, sizeof(m.err_code), "0000");
	snprintf(m.err_msg, sizeof(m.err_msg), "disk full");
	assert_int_equal(store_meta_write(&s, hash, &m, 1), 0);
	assert_int_equal(store_meta_read(&s, hash, &got), 0);
	assert_true(key_equal(&got.key, &m.key));
	assert_int_equal(got.state, CACHE_READY);
	assert_string_equal(got.task_id, m.task_id);
	assert_string_equal(got.server_name, m.server_name);
	assert_int_equal(got.finish_time, m.finish_time);
	assert_int_equal(got.expires, m.expires);
	assert_int_equal(got.last_access_ms, m.last_access_ms);
	assert_int_equal(got.size, m.size);
	assert_string_equal(got.sha256, m.sha256);
	assert_int_equal(got.last_errno, ENOSPC);
	assert_int_equal(got.err_kind, CLIENT_E_LOCAL);
	assert_string_equal(got.err_msg, "disk full");
	assert_string_equal(got.owner, ""); /* none written: absent from the JSON */

	/* An owner (Mogujie's seller) is kept. */
	snprintf(m.owner, sizeof(m.owner), "126900000");
	assert_int_equal(store_meta_write(&s, hash, &m, 1), 0);
	assert_int_equal(store_meta_read(&s, hash, &got), 0);
	assert_string_equal(got.owner, "126900000");
}

static void test_store_meta_corrupt_or_misplaced(void **state)
{
	struct env *e = *state;
	struct store s;
	struct store_meta m;
	char hash[KEY_HASH_LEN], other[KEY_HASH_LEN], path[PATH_MAX], to[PATH_MAX];

	assert_int_equal(store_init(&s, e->dir), 0);
	memset(&m, 0, sizeof(m));
	assert_int_equal(key_init(&m.key, "vexora", "M100200", "order", "en-US", R1()), 0);
	assert_int_equal(key_hash(&m.key, hash), 0);
	m.state = CACHE_FAILED;
	assert_int_equal(store_meta_read(&s, hash, &m), -ENOENT);
	assert_int_equal(store_meta_write(&s, hash, &m, 1), 0);
	/* Renamed to another key's name: its key no longer hashes to its name. */
	memset(other, 'a', 64);
	other[64] = '\0';
	store_path(&s, hash, ".meta", path);
	store_path(&s, other, ".meta", to);
	assert_int_equal(rename(path, to), 0);
	assert_int_equal(store_meta_read(&s, other, &m), -EBADMSG);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"version\":1}", f);
	fclose(f);
	assert_int_equal(store_meta_read(&s, hash, &m), -EBADMSG);
}

static void test_store_atomic_write_leaves_no_temp(void **state)
{
	struct env *e = *state;
	struct store s;
	struct store_meta m;
	char hash[KEY_HASH_LEN], v1[300];
	DIR *d;
	struct dirent *de;
	int files = 0;

	assert_int_equal(store_init(&s, e->dir), 0);
	memset(&m, 0, sizeof(m));
	assert_int_equal(key_init(&m.key, "vexora", "M100200", "order", "en-US", R1()), 0);
	assert_int_equal(key_hash(&m.key, hash), 0);
	m.state = CACHE_NO_DATA;
	for (int i = 0; i < 5; i++)
		assert_int_equal(store_meta_write(&s, hash, &m, i & 1), 0);
	snprintf(v1, sizeof(v1), "%s/v1", e->dir);
	d = opendir(v1);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' || strncmp(de->d_name, ".tmp", 4) == 0)
			files++;
	closedir(d);
	assert_int_equal(files, 1);
}

static void assert_mode(const char *path, mode_t want)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, want);
}

static void test_store_permissions(void **state)
{
	struct env *e = *state;
	char top[256], sub[512], v1[600], path[512];
	struct env view;

	umask(022);
	memcpy(top, e->dir, sizeof(top));
	fake_rmrf(top); /* let the cache create every level */
	snprintf(sub, sizeof(sub), "%s/sub", top);
	e->cfg.dir = sub;
	env_start(e);
	assert_int_equal(open_check(e, R1()), 0);
	assert_mode(top, 0700);
	assert_mode(sub, 0700);
	snprintf(v1, sizeof(v1), "%s/v1", sub);
	assert_mode(v1, 0700);
	memset(&view, 0, sizeof(view));
	assert_true(strlen(top) + 4 < sizeof(view.dir));
	memcpy(view.dir, top, strlen(top));
	memcpy(view.dir + strlen(top), "/sub", 5);
	key_path(&view, R1(), ".data", path, sizeof(path));
	assert_mode(path, 0600);
	key_path(&view, R1(), ".meta", path, sizeof(path));
	assert_mode(path, 0600);
}

static void test_store_name_parse(void **state)
{
	struct env *e = *state;
	struct store s;
	char hash[KEY_HASH_LEN], name[128], kind;
	int own;
	char h64[65];

	assert_int_equal(store_init(&s, e->dir), 0);
	memset(h64, 'b', 64);
	h64[64] = '\0';
	snprintf(name, sizeof(name), "%s.meta", h64);
	assert_true(store_name_parse(&s, name, hash, &kind, &own));
	assert_int_equal(kind, 'm');
	assert_string_equal(hash, h64);
	snprintf(name, sizeof(name), "%s.part", h64);
	assert_true(store_name_parse(&s, name, hash, &kind, &own));
	assert_int_equal(kind, 'p');
	snprintf(name, sizeof(name), ".tmp-%s-%s.7", h64, s.run);
	assert_true(store_name_parse(&s, name, hash, &kind, &own));
	assert_int_equal(kind, 't');
	assert_true(own);
	snprintf(name, sizeof(name), ".tmp-%s-0000000000000000.7", h64);
	assert_true(store_name_parse(&s, name, hash, &kind, &own));
	assert_false(own);
	assert_false(store_name_parse(&s, "Merchant Order List.xlsx", hash, &kind, &own));
	assert_false(store_name_parse(&s, "abc.meta", hash, &kind, &own));
}

static void test_store_part_resume_and_restart(void **state)
{
	struct env *e = *state;
	struct part pt;
	char path[512], hex[65], want[65];
	const char *all = "hello, resumable world";
	size_t n = strlen(all);

	snprintf(path, sizeof(path), "%s/x.part", e->dir);
	assert_int_equal(part_open(&pt, path), 0);
	assert_int_equal(pt.sink.begin(pt.sink.ctx, 0, n), 0);
	assert_int_equal(pt.sink.write(pt.sink.ctx, all, 7, 0), 0);
	part_close(&pt);
	/* Reopen: resumes from 7 with the digest of what is on disk. */
	assert_int_equal(part_open(&pt, path), 0);
	assert_int_equal(pt.size, 7);
	assert_int_equal(pt.sink.begin(pt.sink.ctx, 7, n), 0);
	assert_int_equal(pt.sink.write(pt.sink.ctx, all + 7, n - 7, 7), 0);
	assert_int_equal(pt.sink.write(pt.sink.ctx, all, 1, 3), -EIO); /* out of order */
	assert_int_equal(part_finish(&pt, hex), 0);
	sha_hex(all, n, want);
	assert_string_equal(hex, want);
	part_close(&pt);
	/* A full body in answer to a resume: begin(0) starts over. */
	assert_int_equal(part_open(&pt, path), 0);
	assert_int_equal(pt.sink.begin(pt.sink.ctx, 0, 5), 0);
	assert_int_equal(pt.size, 0);
	assert_int_equal(pt.sink.write(pt.sink.ctx, "abcde", 5, 0), 0);
	assert_int_equal(part_finish(&pt, hex), 0);
	sha_hex("abcde", 5, want);
	assert_string_equal(hex, want);
	part_close(&pt);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 5);
	assert_int_equal(st.st_mode & 0777, 0600);
}

/* Writes arrive 16 KiB at a time (curl's) and are gathered into 1 MiB pwrites: the file holds
 * every byte taken before anyone reads it (read-back, fd users after part_flush, finish), and a
 * part closed with bytes still gathered keeps them for the resume. */
static void test_store_part_gathers_small_writes(void **state)
{
	struct env *e = *state;
	struct part pt;
	char path[512], hex[65], want[65];
	size_t n = (3u << 20) + 12345, piece = 16384, off = 0;
	unsigned char *all = malloc(n), back[64];
	struct stat st;

	assert_non_null(all);
	for (size_t i = 0; i < n; i++)
		all[i] = (unsigned char)(i * 2654435761u >> 13);
	snprintf(path, sizeof(path), "%s/g.part", e->dir);
	assert_int_equal(part_open(&pt, path), 0);
	assert_int_equal(pt.sink.begin(pt.sink.ctx, 0, n), 0);
	while (off < (2u << 20) + 777) {
		size_t k = piece < n - off ? piece : n - off;
		assert_int_equal(pt.sink.write(pt.sink.ctx, all + off, k, off), 0);
		off += k;
	}
	/* Read-back of bytes still gathered in memory. */
	assert_int_equal(pt.sink.read(pt.sink.ctx, back, sizeof(back), off - sizeof(back)), 0);
	assert_memory_equal(back, all + off - sizeof(back), sizeof(back));
	assert_int_equal(pt.sink.write(pt.sink.ctx, all + off, 100, off), 0);
	off += 100;
	part_close(&pt); /* 100 bytes were only gathered: close writes them */
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal((size_t)st.st_size, off);
	/* The resume hashes what is on disk and goes on from there. */
	assert_int_equal(part_open(&pt, path), 0);
	assert_int_equal(pt.size, off);
	assert_int_equal(pt.sink.begin(pt.sink.ctx, off, n), 0);
	while (off < n) {
		size_t k = piece < n - off ? piece : n - off;
		assert_int_equal(pt.sink.write(pt.sink.ctx, all + off, k, off), 0);
		off += k;
	}
	assert_int_equal(part_flush(&pt), 0);
	assert_int_equal(fstat(pt.fd, &st), 0);
	assert_int_equal((size_t)st.st_size, n);
	assert_int_equal(part_finish(&pt, hex), 0);
	sha_hex((const char *)all, n, want);
	assert_string_equal(hex, want);
	part_close(&pt);
	free(all);
}

/* A .part planted as a symlink is never followed: the file it names stays untouched. */
static void test_store_part_refuses_symlink(void **state)
{
	struct env *e = *state;
	struct part pt;
	char path[512], victim[512];
	struct stat st;

	snprintf(victim, sizeof(victim), "%s/victim", e->dir);
	snprintf(path, sizeof(path), "%s/y.part", e->dir);
	int fd = open(victim, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(symlink(victim, path), 0);
	assert_int_equal(part_open(&pt, path), -ELOOP);
	assert_int_equal(stat(victim, &st), 0);
	assert_int_equal(st.st_size, 0);
	/* A dangling one would be created through: refused as well, nothing created. */
	assert_int_equal(unlink(victim), 0);
	assert_int_equal(part_open(&pt, path), -ELOOP);
	assert_int_equal(lstat(victim, &st), -1);
}

/* A .meta planted as a symlink is not read. */
static void test_store_meta_refuses_symlink(void **state)
{
	struct env *e = *state;
	struct store s;
	struct store_meta m;
	char path[600], other[512];
	const char *hash = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

	assert_int_equal(store_init(&s, e->dir), 0);
	snprintf(other, sizeof(other), "%s/other.meta", e->dir);
	int fd = open(other, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	close(fd);
	store_path(&s, hash, ".meta", path);
	assert_int_equal(symlink(other, path), 0);
	assert_int_equal(store_meta_read(&s, hash, &m), -ELOOP);
}

/* The cache directory and its v1 must be this user's and not writable by others. */
static void test_store_refuses_shared_dirs(void **state)
{
	struct env *e = *state;
	struct store s;
	char v1[300], link[300];

	assert_int_equal(chmod(e->dir, 0777), 0);
	assert_int_equal(store_init(&s, e->dir), -EPERM);
	assert_int_equal(chmod(e->dir, 0700), 0);
	assert_int_equal(store_init(&s, e->dir), 0);
	snprintf(v1, sizeof(v1), "%s/v1", e->dir);
	assert_int_equal(chmod(v1, 0733), 0);
	assert_int_equal(store_init(&s, e->dir), -EPERM);
	assert_int_equal(chmod(v1, 0700), 0);
	snprintf(link, sizeof(link), "%s.link", e->dir);
	unlink(link);
	assert_int_equal(symlink(e->dir, link), 0);
	assert_int_equal(store_init(&s, link), -EPERM);
	unlink(link);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, env_setup, env_teardown)
		T(test_store_key_canonical_and_hash),
		T(test_store_key_rejects_ambiguous_fields),
		T(test_store_meta_roundtrip),
		T(test_store_meta_corrupt_or_misplaced),
		T(test_store_atomic_write_leaves_no_temp),
		T(test_store_permissions),
		T(test_store_name_parse),
		T(test_store_part_resume_and_restart),
		T(test_store_part_gathers_small_writes),
		T(test_store_part_refuses_symlink),
		T(test_store_meta_refuses_symlink),
		T(test_store_refuses_shared_dirs),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
