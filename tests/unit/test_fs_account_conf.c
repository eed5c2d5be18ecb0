/* fs/accounts/account_conf.c: account names, the NAME.conf rules (owner, mode, keys) and what an
 * account inherits from the main config; and config.c's rules for accounts_dir. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../fs/accounts/account_conf.h"
#include "../../fs/mount/config.h"
#include "tmp_dir.h"

/* A Clover main config with accounts_dir; the merchant keys live in the account files. */
static void main_config(struct fs_config *c)
{
	char err[256];
	config_init(c);
	assert_int_equal(config_set(c, "provider", "clover", err, sizeof(err)), 0);
	assert_int_equal(config_set(c, "base_url", "http://127.0.0.1:1", err, sizeof(err)), 0);
	assert_int_equal(config_set(c, "cache_dir", "/var/cache/orderfs", err, sizeof(err)), 0);
	assert_int_equal(config_set(c, "accounts_dir", tmp_dir, err, sizeof(err)), 0);
	assert_int_equal(config_set(c, "max_exports", "3", err, sizeof(err)), 0);
	assert_int_equal(config_validate(c, err, sizeof(err)), 0);
}

static void test_names(void **state)
{
	char name[ACCOUNT_NAME_MAX];

	assert_true(account_name_ok("shop-1"));
	assert_true(account_name_ok("A.b_c-9"));
	assert_false(account_name_ok(""));
	assert_false(account_name_ok(".hidden"));
	assert_false(account_name_ok("a b"));
	assert_false(account_name_ok("a/b"));
	assert_false(account_name_ok("caf\xc3\xa9"));
	char longname[80];
	memset(longname, 'x', 64);
	longname[64] = '\0';
	assert_false(account_name_ok(longname));
	longname[63] = '\0';
	assert_true(account_name_ok(longname));

	assert_int_equal(account_file_name("shop-1.conf", name), ACCOUNT_FILE_OK);
	assert_string_equal(name, "shop-1");
	assert_int_equal(account_file_name(".shop.conf.swp", name), ACCOUNT_FILE_IGNORED);
	assert_int_equal(account_file_name("README", name), ACCOUNT_FILE_IGNORED);
	assert_int_equal(account_file_name(".conf", name), ACCOUNT_FILE_IGNORED);
	assert_int_equal(account_file_name("bad name.conf", name), ACCOUNT_FILE_BAD);
	assert_int_equal(account_file_name("shop.conf~", name), ACCOUNT_FILE_IGNORED);
}

static void test_account_inherits_the_main_config(void **state)
{
	struct fs_config m, a;
	struct account_sig sig, now;
	char err[512];

	main_config(&m);
	const char *p =
		tmp_dir_write("shop.conf", "merchant_id = MSHOP1\ntoken_file = /etc/t\n", 0644);
	assert_int_equal(account_conf_load(&m, p, &a, &sig, err, sizeof(err)), 0);
	assert_string_equal(a.merchant_id, "MSHOP1");
	assert_string_equal(a.token_file, "/etc/t");
	assert_string_equal(a.provider, "clover");
	assert_string_equal(a.base_url, "http://127.0.0.1:1");
	assert_int_equal(a.max_exports, 3);
	assert_null(a.accounts_dir); /* an account is one merchant */
	assert_int_equal(account_conf_stat(p, &now), 0);
	assert_true(account_sig_equal(&sig, &now));
	config_free(&a);
	config_free(&m);
}

static void expect_refused(const char *name, const char *text, mode_t mode, const char *why)
{
	struct fs_config m, a;
	struct account_sig sig;
	char err[512] = "";

	main_config(&m);
	const char *p = tmp_dir_write(name, text, mode);
	assert_int_equal(account_conf_load(&m, p, &a, &sig, err, sizeof(err)), -1);
	if (!strstr(err, why))
		fail_msg("'%s' does not say '%s'", err, why);
	assert_null(strstr(err, "QmVhcmVyLXRva2Vu"));
	assert_non_null(strstr(err, name)); /* the line names the file */
	config_free(&m);
}

static void test_refused_files(void **state)
{
	expect_refused("gw.conf", "merchant_id = M\ntoken_file = /t\n", 0664, "writable by group");
	expect_refused("ow.conf", "merchant_id = M\ntoken_file = /t\n", 0646, "writable by group");
	expect_refused("key.conf", "merchant_id = M\ntoken_file = /t\ncache_dir = /tmp\n", 0600,
		       "key 'cache_dir' is the mount's");
	expect_refused("unk.conf", "merchant_id = M\ntoken_file = /t\nbogus = 1\n", 0600,
		       "unknown key 'bogus'");
	expect_refused("miss.conf", "merchant_id = M\n", 0600, "missing required key 'token_file'");
	expect_refused("syn.conf", "merchant_id M\n", 0600, "expected 'key = value'");
	/* A pasted token is not echoed into the log line. */
	expect_refused("paste.conf", "merchant_id = M\ntoken_file = /t\nQmVhcmVyLXRva2Vu==\n", 0600,
		       "unknown key (not shown");
}

/* What NAME.conf may not be, whoever wrote it: each refused without blocking or reading. */
static void test_special_and_huge_files_are_refused_unread(void **state)
{
	struct fs_config m, a;
	struct account_sig sig;
	char err[512], path[4096], target[4096];

	main_config(&m);
	snprintf(path, sizeof(path), "%s/pipe.conf", tmp_dir);
	assert_int_equal(mkfifo(path, 0600), 0); /* no writer: a blocking open never returns */
	assert_int_equal(account_conf_load(&m, path, &a, &sig, err, sizeof(err)), ACCOUNT_CONF_BAD);
	assert_non_null(strstr(err, "not a regular file"));
	snprintf(target, sizeof(target), "%s/elsewhere", tmp_dir);
	assert_int_equal(mkfifo(target, 0600), 0);
	snprintf(path, sizeof(path), "%s/link.conf", tmp_dir);
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(account_conf_load(&m, path, &a, &sig, err, sizeof(err)), ACCOUNT_CONF_BAD);
	assert_non_null(strstr(err, "not a regular file"));
	snprintf(path, sizeof(path), "%s/dir.conf", tmp_dir);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(account_conf_load(&m, path, &a, &sig, err, sizeof(err)), ACCOUNT_CONF_BAD);
	assert_non_null(strstr(err, "not a regular file"));
	const char *p = tmp_dir_write("huge.conf", "merchant_id = M\ntoken_file = /t\n", 0600);
	assert_int_equal(truncate(p, 1LL << 30), 0);
	assert_int_equal(account_conf_load(&m, p, &a, &sig, err, sizeof(err)), ACCOUNT_CONF_BAD);
	assert_non_null(strstr(err, "more than an account file may hold"));
	config_free(&m);
}

static void test_main_config_rules(void **state)
{
	struct fs_config c;
	char err[256];

	/* The merchant's own keys do not belong in the main config with accounts_dir. */
	main_config(&c);
	assert_int_equal(config_set(&c, "merchant_id", "M1", err, sizeof(err)), 0);
	assert_int_equal(config_validate(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "'merchant_id' belongs in each account's NAME.conf"));
	config_free(&c);
	/* max_exports_total: only with accounts_dir; its default scales with max_exports. */
	main_config(&c);
	assert_int_equal(config_max_exports_total(&c), 16);
	assert_int_equal(config_set(&c, "max_exports", "8", err, sizeof(err)), 0);
	assert_int_equal(config_max_exports_total(&c), 32);
	assert_int_equal(config_set(&c, "max_exports_total", "5", err, sizeof(err)), 0);
	assert_int_equal(config_max_exports_total(&c), 5);
	free(c.accounts_dir);
	c.accounts_dir = NULL;
	assert_int_equal(config_set(&c, "merchant_id", "M1", err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "token_file", "/t", err, sizeof(err)), 0);
	assert_int_equal(config_validate(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "'max_exports_total' needs 'accounts_dir'"));
	config_free(&c);
}

static void test_copy_is_deep(void **state)
{
	struct fs_config m, c;

	main_config(&m);
	assert_int_equal(config_copy(&c, &m), 0);
	assert_ptr_not_equal(c.provider, m.provider);
	assert_string_equal(c.provider, m.provider);
	assert_int_equal(c.max_exports, m.max_exports);
	config_free(&m);
	assert_string_equal(c.base_url, "http://127.0.0.1:1");
	config_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		IN_TMP_DIR(test_special_and_huge_files_are_refused_unread),
		IN_TMP_DIR(test_account_inherits_the_main_config),
		IN_TMP_DIR(test_refused_files),
		IN_TMP_DIR(test_main_config_rules),
		IN_TMP_DIR(test_copy_is_deep),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
