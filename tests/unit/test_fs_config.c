/* fs/config.c: the config file, -o overrides, required keys and the secret file rules. */
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

#include "../../fs/config.h"

static char tmpdir[64];

static int setup(void **state)
{
	strcpy(tmpdir, "/tmp/orderfs-cfg-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd);
}

static const char *write_file(const char *name, const char *text, mode_t mode)
{
	static char path[128];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
	return path;
}

static const char *good =
	"# a comment\n"
	"provider = vexora\n"
	"base_url = https://sandbox-api.vexora.com/nigeria\n"
	"merchant_no = M1\n"
	"secret_file = /etc/orderfs/secret\n"
	"cache_dir = /var/cache/orderfs\n"
	"\n"
	"cache_max_size = 2G\n"
	"max_exports = 3\n"
	"export_timeout = 10m\n";

static void test_good_file(void **state)
{
	struct fs_config c;
	char err[256];
	config_init(&c);
	assert_int_equal(config_load_file(&c, write_file("a.conf", good, 0644), err, sizeof(err)), 0);
	assert_int_equal(config_validate(&c, err, sizeof(err)), 0);
	assert_string_equal(c.base_url, "https://sandbox-api.vexora.com/nigeria");
	assert_int_equal(c.cache_max_size, 2ULL << 30);
	assert_int_equal(c.max_exports, 3);
	assert_int_equal(c.export_timeout_s, 600);
	assert_int_equal(c.nodata_ttl_s, 3600); /* default */
	config_free(&c);
}

static void test_override_wins(void **state)
{
	struct fs_config c;
	char err[256];
	config_init(&c);
	assert_int_equal(config_load_file(&c, write_file("a.conf", good, 0644), err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "max_exports", "4", err, sizeof(err)), 0);
	assert_int_equal(c.max_exports, 4);
	config_free(&c);
}

static void test_unknown_key_named(void **state)
{
	struct fs_config c;
	char err[256];
	config_init(&c);
	assert_int_equal(config_load_file(&c, write_file("b.conf", "provider = vexora\nfrobnicate = 1\n", 0644),
					  err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "frobnicate"));
	assert_non_null(strstr(err, ":2:"));
	config_free(&c);
}

static void test_missing_key_named(void **state)
{
	struct fs_config c;
	char err[256];
	config_init(&c);
	assert_int_equal(config_load_file(&c, write_file("c.conf", "provider = vexora\nbase_url = http://x\n", 0644),
					  err, sizeof(err)),
			 0);
	assert_int_equal(config_validate(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "merchant_no"));
	config_free(&c);
}

static void test_bad_values(void **state)
{
	struct fs_config c;
	char err[256];
	config_init(&c);
	assert_int_equal(config_set(&c, "max_exports", "0", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "max_exports"));
	assert_int_equal(config_set(&c, "cache_max_size", "12X", err, sizeof(err)), -1);
	assert_int_equal(config_set(&c, "export_timeout", "-1", err, sizeof(err)), -1);
	assert_int_equal(config_set(&c, "attr_timeout", "0", err, sizeof(err)), -1);
	assert_int_equal(config_set(&c, "tls_insecure", "maybe", err, sizeof(err)), -1);
	assert_int_equal(config_set(&c, "provider", "", err, sizeof(err)), -1);
	assert_int_equal(config_load_file(&c, write_file("d.conf", "novalue\n", 0644), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "key = value"));
	config_free(&c);
}

static void test_bad_url_and_provider(void **state)
{
	struct fs_config c;
	char err[256];
	config_init(&c);
	assert_int_equal(config_load_file(&c, write_file("e.conf", good, 0644), err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "base_url", "ftp://x", err, sizeof(err)), 0);
	assert_int_equal(config_validate(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "base_url"));
	assert_int_equal(config_set(&c, "base_url", "http://x", err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "provider", "acme", err, sizeof(err)), 0);
	assert_int_equal(config_validate(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "provider"));
	config_free(&c);
}

/* Each provider names the key it misses, and its own keys refuse bad values. */
static void test_clover_and_mogujie_keys(void **state)
{
	struct fs_config c;
	char err[256];

	config_init(&c);
	assert_int_equal(config_load_file(&c, write_file("cl.conf",
							 "provider = clover\nbase_url = http://x\n"
							 "merchant_id = M1\ncache_dir = /tmp/c\n",
							 0644),
					  err, sizeof(err)),
			 0);
	assert_int_equal(config_validate(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "token_file"));
	assert_int_equal(config_set(&c, "token_file", "/tmp/t", err, sizeof(err)), 0);
	assert_int_equal(config_validate(&c, err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "region", "mars", err, sizeof(err)), 0);
	assert_int_equal(config_validate(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "region"));
	assert_int_equal(config_set(&c, "region", "eu", err, sizeof(err)), 0);
	assert_int_equal(config_validate(&c, err, sizeof(err)), 0);
	config_free(&c);

	config_init(&c);
	assert_int_equal(config_load_file(&c, write_file("mo.conf",
							 "provider = mogujie\nbase_url = http://x\n"
							 "app_key = 1\nsecret_file = /tmp/s\n"
							 "cache_dir = /tmp/c\n",
							 0644),
					  err, sizeof(err)),
			 0);
	assert_int_equal(config_validate(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "token_file"));
	assert_int_equal(config_set(&c, "token_file", "/tmp/t", err, sizeof(err)), 0);
	assert_int_equal(config_validate(&c, err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "decrypt_mode", "gcm", err, sizeof(err)), 0);
	assert_int_equal(config_validate(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "decrypt_mode"));
	assert_int_equal(config_set(&c, "decrypt_mode", "cbc", err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "redact", "everything", err, sizeof(err)), 0);
	assert_int_equal(config_validate(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "redact"));
	assert_int_equal(config_set(&c, "redact", "receiver", err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "sync_ttl", "2h", err, sizeof(err)), 0);
	assert_int_equal(c.sync_ttl_s, 7200);
	assert_int_equal(config_validate(&c, err, sizeof(err)), 0);
	config_free(&c);
}

static void test_sizes_and_durations(void **state)
{
	uint64_t v;
	int s;
	assert_int_equal(config_parse_size("512M", &v), 0);
	assert_int_equal(v, 512ULL << 20);
	assert_int_equal(config_parse_size("1GiB", &v), 0);
	assert_int_equal(v, 1ULL << 30);
	assert_int_equal(config_parse_size("100", &v), 0);
	assert_int_equal(v, 100);
	assert_int_equal(config_parse_size("-1", &v), -1);
	assert_int_equal(config_parse_size("99999999999T", &v), -1);
	assert_int_equal(config_parse_duration("2h", &s), 0);
	assert_int_equal(s, 7200);
	assert_int_equal(config_parse_duration("1x", &s), -1);
}

static void test_secret_good(void **state)
{
	char err[256];
	char *secret = NULL;
	const char *p = write_file("secret", "s3cr3t\n", 0600);
	assert_int_equal(config_read_secret(p, &secret, err, sizeof(err)), 0);
	assert_string_equal(secret, "s3cr3t");
	free(secret);
}

static void test_secret_group_readable_refused(void **state)
{
	char err[256];
	char *secret = NULL;
	const char *p = write_file("secret2", "s3cr3t\n", 0640);
	assert_int_equal(config_read_secret(p, &secret, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "readable by group or others"));
	assert_null(strstr(err, "s3cr3t"));
	p = write_file("secret3", "s3cr3t\n", 0604);
	assert_int_equal(config_read_secret(p, &secret, err, sizeof(err)), -1);
}

static void test_secret_missing_or_empty(void **state)
{
	char err[256];
	char *secret = NULL;
	assert_int_equal(config_read_secret("/nonexistent/secret", &secret, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/secret"));
	const char *p = write_file("empty", "\n", 0600);
	assert_int_equal(config_read_secret(p, &secret, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "empty"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_file),
		cmocka_unit_test(test_override_wins),
		cmocka_unit_test(test_unknown_key_named),
		cmocka_unit_test(test_missing_key_named),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_bad_url_and_provider),
		cmocka_unit_test(test_clover_and_mogujie_keys),
		cmocka_unit_test(test_sizes_and_durations),
		cmocka_unit_test(test_secret_good),
		cmocka_unit_test(test_secret_group_readable_refused),
		cmocka_unit_test(test_secret_missing_or_empty),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
