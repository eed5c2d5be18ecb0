/* fs/mount/config.c: the config file, -o overrides, required keys and the secret file rules; and
 * fs/mount/providers.c's table, which config.c asks about each provider's keys and values. */
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

#include "../../fs/mount/config.h"
#include "../../fs/base/perm.h"
#include "tmp_dir.h"
#include "../../fs/mount/providers.h"

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
	assert_int_equal(config_load_file(&c, tmp_dir_write("a.conf", good, 0644), err, sizeof(err)), 0);
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
	assert_int_equal(config_load_file(&c, tmp_dir_write("a.conf", good, 0644), err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "max_exports", "4", err, sizeof(err)), 0);
	assert_int_equal(c.max_exports, 4);
	config_free(&c);
}

static void test_unknown_key_named(void **state)
{
	struct fs_config c;
	char err[256];
	config_init(&c);
	assert_int_equal(config_load_file(&c, tmp_dir_write("b.conf", "provider = vexora\nfrobnicate = 1\n", 0644),
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
	assert_int_equal(config_load_file(&c, tmp_dir_write("c.conf", "provider = vexora\nbase_url = http://x\n", 0644),
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
	assert_int_equal(config_load_file(&c, tmp_dir_write("d.conf", "novalue\n", 0644), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "key = value"));
	config_free(&c);
}

static void test_bad_url_and_provider(void **state)
{
	struct fs_config c;
	char err[256];
	config_init(&c);
	assert_int_equal(config_load_file(&c, tmp_dir_write("e.conf", good, 0644), err, sizeof(err)), 0);
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
	assert_int_equal(config_load_file(&c, tmp_dir_write("cl.conf",
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
	assert_int_equal(config_load_file(&c, tmp_dir_write("mo.conf",
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

/* max_file_size 0 and an unset cache_min_free mean "the default"; 0 given is "no reserve". */
static void test_size_limits(void **state)
{
	struct fs_config c;
	char err[128];

	config_init(&c);
	assert_int_equal(c.max_file_size, 0);
	assert_int_equal(c.cache_min_free_given, 0);
	assert_int_equal(config_set(&c, "max_file_size", "100M", err, sizeof(err)), 0);
	assert_int_equal(c.max_file_size, 100ULL << 20);
	assert_int_equal(config_set(&c, "cache_min_free", "0", err, sizeof(err)), 0);
	assert_int_equal(c.cache_min_free, 0);
	assert_int_equal(c.cache_min_free_given, 1);
	assert_int_equal(config_set(&c, "cache_min_free", "-1", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cache_min_free"));
	config_free(&c);
}

static void test_defaults_from_table(void **state)
{
	struct fs_config c;
	config_init(&c);
	assert_int_equal(c.cache_max_size, 4ULL << 30);
	assert_int_equal(c.max_exports, 2);
	assert_int_equal(c.export_timeout_s, 1800);
	assert_int_equal(c.nodata_ttl_s, 3600);
	assert_int_equal(c.connect_timeout_s, 10);
	assert_int_equal(c.request_timeout_s, 30);
	assert_int_equal(c.download_stall_s, 60);
	assert_int_equal(c.poll_initial_ms, 500);
	assert_int_equal(c.poll_max_ms, 10000);
	assert_int_equal(c.retry_limit, 5);
	assert_int_equal(c.max_requests_per_s, 10);
	assert_int_equal(c.max_threads, 256);
	assert_true(c.attr_timeout_s == 1.0);
	assert_int_equal(c.log_level, 6 /* LOG_INFO */);
	assert_int_equal(c.sync_ttl_s, 0);
	assert_int_equal(c.tls_insecure, 0);
	assert_int_equal(c.exact_sizes, 0);
	assert_int_equal(c.prefetch_days, 0);
	assert_int_equal(c.prefetch_interval_s, 0);
	assert_null(c.provider);
	assert_null(c.report_type);
	config_free(&c);
}

/* A config for spec with every required key set except skip (NULL: none). */
static void fill_required(struct fs_config *c, const struct provider_spec *spec, const char *skip)
{
	char err[256];
	config_init(c);
	assert_int_equal(config_set(c, "provider", spec->name, err, sizeof(err)), 0);
	assert_int_equal(config_set(c, "cache_dir", "/tmp/c", err, sizeof(err)), 0);
	for (const char *const *k = spec->required; *k; k++)
		if (!skip || strcmp(*k, skip))
			assert_int_equal(config_set(c, *k, "http://x", err, sizeof(err)), 0);
}

static void test_table_keys_are_config_keys(void **state)
{
	struct fs_config c;
	char err[256];
	size_t n = 0;

	for (const struct provider_spec *s; (s = provider_spec_at(n)); n++) {
		assert_non_null(s->make);
		assert_non_null(s->secret_key);
		assert_true(provider_spec_names_key(s->secret_key));
		int secret_required = 0;
		for (const char *const *k = s->required; *k; k++)
			secret_required |= !strcmp(*k, s->secret_key);
		assert_true(secret_required);
		assert_non_null(s->description);
		assert_ptr_equal(provider_spec_find(s->name), s);
		const char *const *lists[] = {s->required, s->accepts, s->exclusive};
		for (size_t l = 0; l < 3; l++) {
			for (const char *const *k = lists[l]; *k; k++) {
				assert_true(config_is_key(*k));
				assert_true(provider_spec_names_key(*k));
			}
		}
		/* required and exclusive keys are string keys: "set" must mean something */
		const char *const *strings[] = {s->required, s->exclusive};
		for (size_t l = 0; l < 2; l++) {
			for (const char *const *k = strings[l]; *k; k++) {
				config_init(&c);
				assert_null(config_string(&c, *k));
				assert_int_equal(config_set(&c, *k, "x", err, sizeof(err)), 0);
				assert_string_equal(config_string(&c, *k), "x");
				config_free(&c);
			}
		}
	}
	assert_true(n >= 3);
	assert_null(provider_spec_find("acme"));
	assert_false(provider_spec_names_key("cache_dir"));
	assert_false(provider_spec_names_key("provider"));
}

/* Each provider starts with its required keys, and each missing one is named. */
static void test_each_required_key_missing_is_named(void **state)
{
	struct fs_config c;
	char err[256], want[256];

	for (size_t i = 0; provider_spec_at(i); i++) {
		const struct provider_spec *s = provider_spec_at(i);
		fill_required(&c, s, NULL);
		assert_int_equal(config_validate(&c, err, sizeof(err)), 0);
		config_free(&c);
		for (const char *const *k = s->required; *k; k++) {
			fill_required(&c, s, *k);
			assert_int_equal(config_validate(&c, err, sizeof(err)), -1);
			snprintf(want, sizeof(want), "missing required key '%s' (provider %s)", *k,
				 s->name);
			assert_string_equal(err, want);
			config_free(&c);
		}
	}
}

/* A key one provider keeps to itself is refused by every other provider, by name. */
static void test_exclusive_key_refused_by_others(void **state)
{
	struct fs_config c;
	char err[256], want[256];
	size_t refusals = 0;

	for (size_t o = 0; provider_spec_at(o); o++) {
		const struct provider_spec *owner = provider_spec_at(o);
		for (const char *const *k = owner->exclusive; *k; k++) {
			for (size_t i = 0; provider_spec_at(i); i++) {
				const struct provider_spec *s = provider_spec_at(i);
				fill_required(&c, s, NULL);
				assert_int_equal(config_set(&c, *k, "x", err, sizeof(err)), 0);
				if (s == owner) {
					assert_int_equal(config_validate(&c, err, sizeof(err)), 0);
				} else {
					assert_int_equal(config_validate(&c, err, sizeof(err)), -1);
					snprintf(want, sizeof(want),
						 "key '%s' is not valid for provider %s: it applies to "
						 "provider %s only",
						 *k, s->name, owner->name);
					assert_string_equal(err, want);
					refusals++;
				}
				config_free(&c);
			}
		}
	}
	assert_true(refusals >= 2); /* report_type, for clover and mogujie */
}

/* Keys of another provider that are not exclusive stay ignored, as they always were: one
 * config file can switch providers (the integration tests' mounts rely on it). */
static void test_other_keys_ignored(void **state)
{
	struct fs_config c;
	char err[256];
	fill_required(&c, provider_spec_find("clover"), NULL);
	assert_int_equal(config_set(&c, "merchant_no", "M1", err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "secret_file", "/tmp/s", err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "decrypt_mode", "cbc", err, sizeof(err)), 0);
	assert_int_equal(config_validate(&c, err, sizeof(err)), 0);
	config_free(&c);
}

static void test_unknown_provider_lists_the_table(void **state)
{
	struct fs_config c;
	char err[256];
	config_init(&c);
	assert_int_equal(config_load_file(&c, tmp_dir_write("u.conf", good, 0644), err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "provider", "acme", err, sizeof(err)), 0);
	assert_int_equal(config_validate(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "'provider'"));
	assert_non_null(strstr(err, "'acme' is not supported"));
	for (size_t i = 0; provider_spec_at(i); i++)
		assert_non_null(strstr(err, provider_spec_at(i)->name));
	assert_string_equal(err,
			    "bad value for 'provider': 'acme' is not supported (vexora, clover, mogujie)");
	config_free(&c);
}

/* The rules each row brings say what they accept, in the words they always used. */
static void test_row_value_messages(void **state)
{
	struct fs_config c;
	char err[256];

	fill_required(&c, provider_spec_find("clover"), NULL);
	assert_int_equal(config_set(&c, "region", "mars", err, sizeof(err)), 0);
	assert_int_equal(config_validate(&c, err, sizeof(err)), -1);
	assert_string_equal(err, "bad value for 'region': 'mars' (us, eu, la, sandbox)");
	config_free(&c);

	fill_required(&c, provider_spec_find("mogujie"), NULL);
	assert_int_equal(config_set(&c, "decrypt_mode", "gcm", err, sizeof(err)), 0);
	assert_int_equal(config_validate(&c, err, sizeof(err)), -1);
	assert_string_equal(err, "bad value for 'decrypt_mode': 'gcm' (ecb, cbc)");
	assert_int_equal(config_set(&c, "decrypt_mode", "ecb", err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "redact", "all", err, sizeof(err)), 0);
	assert_int_equal(config_validate(&c, err, sizeof(err)), -1);
	assert_string_equal(err, "bad value for 'redact': 'all' (receiver, none)");
	assert_int_equal(config_set(&c, "redact", "none", err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "oauth_url", "ftp://x", err, sizeof(err)), 0);
	assert_int_equal(config_validate(&c, err, sizeof(err)), -1);
	assert_string_equal(err, "bad value for 'oauth_url': must start with http:// or https://");
	config_free(&c);
}

/* --help names every provider with its description and keys, and the shared keys. */
static void test_usage_from_the_table(void **state)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	config_print_keys(f);
	fclose(f);
	for (size_t i = 0; provider_spec_at(i); i++) {
		const struct provider_spec *s = provider_spec_at(i);
		assert_non_null(strstr(text, s->name));
		assert_non_null(strstr(text, s->description));
		const char *const *lists[] = {s->required, s->accepts};
		for (size_t l = 0; l < 2; l++)
			for (const char *const *k = lists[l]; *k; k++)
				assert_non_null(strstr(text, *k));
	}
	for (const char *const *k = (const char *const[]){"provider", "cache_dir", "language",
							   "metrics_listen", "prefetch_interval",
							   NULL};
	     *k; k++)
		assert_non_null(strstr(text, *k));
	for (const char *line = text; *line; line += strcspn(line, "\n") + 1)
		assert_true(strcspn(line, "\n") < 80);
	free(text);
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
	const char *p = tmp_dir_write("secret", "s3cr3t\n", 0600);
	assert_int_equal(config_read_secret(p, &secret, err, sizeof(err)), 0);
	assert_string_equal(secret, "s3cr3t");
	free(secret);
}

static void test_secret_group_readable_refused(void **state)
{
	char err[256];
	char *secret = NULL;
	const char *p = tmp_dir_write("secret2", "s3cr3t\n", 0640);
	assert_int_equal(config_read_secret(p, &secret, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "readable by group or others"));
	assert_null(strstr(err, "s3cr3t"));
	p = tmp_dir_write("secret3", "s3cr3t\n", 0604);
	assert_int_equal(config_read_secret(p, &secret, err, sizeof(err)), -1);
}

static void test_secret_missing_or_empty(void **state)
{
	char err[256];
	char *secret = NULL;
	assert_int_equal(config_read_secret("/nonexistent/secret", &secret, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/secret"));
	const char *p = tmp_dir_write("empty", "\n", 0600);
	assert_int_equal(config_read_secret(p, &secret, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "empty"));
}

/* A good config plus the key=value pairs of kv (NULL-ended), validated: its result and err. */
static int fleet_validate(struct fs_config *c, char *err, size_t errlen, const char *const *kv)
{
	config_init(c);
	assert_int_equal(config_load_file(c, tmp_dir_write("f.conf", good, 0644), err, errlen), 0);
	for (; kv[0]; kv += 2)
		if (config_set(c, kv[0], kv[1], err, errlen))
			return -2; /* refused by config_set itself */
	return config_validate(c, err, errlen);
}

static void test_fleet_defaults(void **state)
{
	struct fs_config c;
	char err[256], host[64], sys[256] = "";
	const char *on[] = {"fleet_etcd", "http://127.0.0.1:2379,https://[::1]:2379/", NULL};

	assert_int_equal(fleet_validate(&c, err, sizeof(err), on), 0);
	assert_int_equal(c.fleet_lease_ttl_s, 10);
	assert_int_equal(config_fleet_max_exports(&c), 3); /* the file's max_exports */
	assert_int_equal(config_fleet_refuse(&c), 0);	   /* local */
	assert_null(c.fleet_etcd_ca_file);
	assert_null(c.fleet_etcd_auth_file);
	assert_int_equal(gethostname(sys, sizeof(sys) - 1), 0);
	assert_int_equal(config_fleet_host(&c, host, sizeof(host), err, sizeof(err)), 0);
	assert_string_equal(host, sys);
	assert_int_equal(config_set(&c, "fleet_max_exports", "5", err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "fleet_fallback", "refuse", err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "fleet_host", "host2", err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "fleet_lease_ttl", "2s", err, sizeof(err)), 0);
	assert_int_equal(config_validate(&c, err, sizeof(err)), 0);
	assert_int_equal(config_fleet_max_exports(&c), 5);
	assert_int_equal(config_fleet_refuse(&c), 1);
	assert_int_equal(c.fleet_lease_ttl_s, 2);
	assert_int_equal(config_fleet_host(&c, host, sizeof(host), err, sizeof(err)), 0);
	assert_string_equal(host, "host2");
	config_free(&c);
	/* Without fleet_etcd: no fleet keys, nothing to check. */
	const char *off[] = {NULL};
	assert_int_equal(fleet_validate(&c, err, sizeof(err), off), 0);
	assert_null(c.fleet_etcd);
	config_free(&c);
}

static void test_fleet_bad_values(void **state)
{
	struct fs_config c;
	char err[256];
	const char *fallback[] = {"fleet_etcd", "http://e:2379", "fleet_fallback", "wait", NULL};
	const char *ttl[] = {"fleet_etcd", "http://e:2379", "fleet_lease_ttl", "1s", NULL};
	const char *host[] = {"fleet_etcd", "http://e:2379", "fleet_host", "a/b", NULL};
	const char *dot[] = {"fleet_etcd", "http://e:2379", "fleet_host", ".hidden", NULL};
	const char *slots[] = {"fleet_etcd", "http://e:2379", "fleet_max_exports", "0", NULL};

	assert_int_equal(fleet_validate(&c, err, sizeof(err), fallback), -1);
	assert_non_null(strstr(err, "fleet_fallback"));
	assert_non_null(strstr(err, "local or refuse"));
	config_free(&c);
	assert_int_equal(fleet_validate(&c, err, sizeof(err), ttl), -2);
	assert_non_null(strstr(err, "fleet_lease_ttl"));
	config_free(&c);
	assert_int_equal(fleet_validate(&c, err, sizeof(err), host), -1);
	assert_non_null(strstr(err, "fleet_host"));
	config_free(&c);
	assert_int_equal(fleet_validate(&c, err, sizeof(err), dot), -1);
	assert_non_null(strstr(err, "fleet_host"));
	config_free(&c);
	assert_int_equal(fleet_validate(&c, err, sizeof(err), slots), -2);
	assert_non_null(strstr(err, "fleet_max_exports"));
	config_free(&c);
}

/* The shared store's keys: store_url checked as the store client parses it, plain http only
 * to loopback or with store_insecure, every other store_* key only with store_url. */
static void test_store_keys(void **state)
{
	struct fs_config c;
	char err[256];
	const char *ok[] = {"store_url", "https://s3.eu-west-1.amazonaws.com/bkt/pre",
			      "store_region", "eu-west-1", "store_virtual_host", "yes", NULL};
	const char *loop[] = {"store_url", "http://127.0.0.1:9000/bkt", NULL};
	const char *plain[] = {"store_url", "http://s3.example.com/bkt", NULL};
	const char *meant[] = {"store_url", "http://s3.example.com/bkt", "store_insecure", "yes",
			       NULL};
	const char *bucket[] = {"store_url", "https://s3.example.com/Bkt", NULL};
	const char *alone[] = {"store_region", "eu-west-1", NULL};

	assert_int_equal(fleet_validate(&c, err, sizeof(err), ok), 0);
	assert_string_equal(c.store_region, "eu-west-1");
	assert_int_equal(c.store_virtual_host, 1);
	config_free(&c);
	assert_int_equal(fleet_validate(&c, err, sizeof(err), loop), 0);
	config_free(&c);
	assert_int_equal(fleet_validate(&c, err, sizeof(err), plain), -1);
	assert_non_null(strstr(err, "store_url"));
	assert_non_null(strstr(err, "store_insecure"));
	config_free(&c);
	assert_int_equal(fleet_validate(&c, err, sizeof(err), meant), 0);
	config_free(&c);
	assert_int_equal(fleet_validate(&c, err, sizeof(err), bucket), -1);
	assert_non_null(strstr(err, "bucket"));
	config_free(&c);
	assert_int_equal(fleet_validate(&c, err, sizeof(err), alone), -1);
	assert_non_null(strstr(err, "store_* needs store_url"));
	config_free(&c);
}

/* store_keep: "provider" (the default) or a whole number of days; nothing else. */
static void test_store_keep(void **state)
{
	struct fs_config c;
	char err[256];
	const char *days[] = {"store_url", "http://127.0.0.1:9000/bkt", "store_keep", "400",
			      NULL};
	const char *prov[] = {"store_url", "http://127.0.0.1:9000/bkt", "store_keep",
			      "provider", NULL};
	const char *bad[] = {"0", "-3", "forever", "3d", "36501", "1.5"};

	assert_int_equal(fleet_validate(&c, err, sizeof(err), days), 0);
	assert_int_equal(config_store_keep_days(&c), 400);
	config_free(&c);
	assert_int_equal(fleet_validate(&c, err, sizeof(err), prov), 0);
	assert_int_equal(config_store_keep_days(&c), 0);
	config_free(&c);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *kv[] = {"store_url", "http://127.0.0.1:9000/bkt", "store_keep", bad[i],
				    NULL};
		assert_int_equal(fleet_validate(&c, err, sizeof(err), kv), -1);
		assert_non_null(strstr(err, "store_keep"));
		config_free(&c);
	}
}

/* A password must not cross the network in clear: credentials with an http:// endpoint are
 * refused unless fleet_etcd_insecure says the operator means it. */
static void test_fleet_auth_over_http_refused(void **state)
{
	const char *plain[] = {"fleet_etcd", "http://e:2379", "fleet_etcd_auth_file", "/etc/a",
			       NULL};
	const char *mixed[] = {"fleet_etcd", "https://e:2379,http://f:2379",
			       "fleet_etcd_auth_file", "/etc/a", NULL};
	const char *tls[] = {"fleet_etcd", "https://e:2379,https://f:2379",
			     "fleet_etcd_auth_file", "/etc/a", NULL};
	const char *meant[] = {"fleet_etcd", "http://e:2379", "fleet_etcd_auth_file", "/etc/a",
			       "fleet_etcd_insecure", "yes", NULL};
	const char *no_auth[] = {"fleet_etcd", "http://e:2379", NULL};
	struct fs_config c;
	char err[256];

	assert_int_equal(fleet_validate(&c, err, sizeof(err), plain), -1);
	assert_non_null(strstr(err, "fleet_etcd_insecure"));
	assert_non_null(strstr(err, "http://e:2379"));
	config_free(&c);
	assert_int_equal(fleet_validate(&c, err, sizeof(err), mixed), -1);
	assert_non_null(strstr(err, "http://f:2379"));
	config_free(&c);
	assert_int_equal(fleet_validate(&c, err, sizeof(err), tls), 0);
	config_free(&c);
	assert_int_equal(fleet_validate(&c, err, sizeof(err), meant), 0);
	config_free(&c);
	assert_int_equal(fleet_validate(&c, err, sizeof(err), no_auth), 0);
	config_free(&c);
}

static void test_fleet_keys_need_fleet_etcd(void **state)
{
	static const char *const alone[][3] = {
		{"fleet_lease_ttl", "10s"},	     {"fleet_max_exports", "2"},
		{"fleet_fallback", "local"},	     {"fleet_host", "h1"},
		{"fleet_etcd_ca_file", "/etc/ca.pem"}, {"fleet_etcd_auth_file", "/etc/auth"},
	};
	struct fs_config c;
	char err[256];

	for (size_t i = 0; i < sizeof(alone) / sizeof(alone[0]); i++) {
		assert_int_equal(fleet_validate(&c, err, sizeof(err), alone[i]), -1);
		assert_non_null(strstr(err, "fleet_* needs fleet_etcd"));
		config_free(&c);
	}
}

static void test_fleet_bad_endpoints(void **state)
{
	static const char *const bad[] = {
		"etcd:2379",	       "ftp://e:2379",	      "http://e",	   "http://e:",
		"http://e:0",	       "http://e:65536",      "http://:2379",	   "http://u:p@e:2379",
		"http://e:2379/v3",    "http://e:2379,",      ",http://e:2379",	   "http://e:2379,,http://f:1",
		"http://e:2379,e:2380", "http://[::1:2379",
	};
	static const char *const ok[] = {
		"http://e:2379", "https://10.0.0.5:2379", "http://[::1]:2379",
		"http://a:1,https://b:2/",
	};
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(config_check_endpoints("fleet_etcd", bad[i], err, sizeof(err)), -1);
		assert_non_null(strstr(err, "fleet_etcd"));
	}
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_int_equal(config_check_endpoints("fleet_etcd", ok[i], err, sizeof(err)), 0);
	struct fs_config c;
	const char *kv[] = {"fleet_etcd", "http://e:2379,etcd2", NULL};
	assert_int_equal(fleet_validate(&c, err, sizeof(err), kv), -1);
	assert_non_null(strstr(err, "etcd2"));
	config_free(&c);
}

/* owner, group, mode: names or numbers, an octal mode without special bits; defaults are the
 * user and group orderfs runs as and 0750 (directories) / 0640 (files). */
static void test_owner_group_mode(void **state)
{
	struct fs_config c;
	struct fs_perm p;
	struct stat st;
	char err[256];

	config_init(&c);
	perm_of_config(&c, &p);
	assert_int_equal(p.uid, getuid());
	assert_int_equal(p.gid, getgid());
	perm_dir_stat(&p, 0, &st);
	assert_int_equal(st.st_mode, S_IFDIR | 0750);
	perm_dir_stat(&p, 1, &st);
	assert_int_equal(st.st_mode, S_IFDIR | 0770);
	perm_file_stat(&p, &st);
	assert_int_equal(st.st_mode, S_IFREG | 0640);
	assert_int_equal(config_set(&c, "owner", "root", err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "group", "4242", err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "mode", "0755", err, sizeof(err)), 0);
	perm_of_config(&c, &p);
	assert_int_equal(p.uid, 0);
	assert_int_equal(p.gid, 4242);
	perm_file_stat(&p, &st);
	assert_int_equal(st.st_mode, S_IFREG | 0644);
	assert_int_equal(config_set(&c, "owner", "no-such-user-xyz", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "owner"));
	assert_int_equal(config_set(&c, "group", "no-such-group-xyz", err, sizeof(err)), -1);
	assert_int_equal(config_set(&c, "owner", "-1", err, sizeof(err)), -1);
	assert_int_equal(config_set(&c, "mode", "4755", err, sizeof(err)), -1);
	assert_int_equal(config_set(&c, "mode", "0789", err, sizeof(err)), -1);
	assert_int_equal(config_set(&c, "mode", "rwx", err, sizeof(err)), -1);
	assert_int_equal(config_set(&c, "mode", "", err, sizeof(err)), -1);
	config_free(&c);
}

/* time_zone names a zoneinfo file; a name orderfs cannot read is refused at start, naming the
 * key and the zone. */
static void test_time_zone(void **state)
{
	struct fs_config c;
	char err[256];
	config_init(&c);
	assert_null(c.time_zone); /* default: the process's zone */
	assert_int_equal(config_load_file(&c, tmp_dir_write("a.conf", good, 0644), err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "time_zone", "Asia/Kolkata", err, sizeof(err)), 0);
	assert_int_equal(config_validate(&c, err, sizeof(err)), 0);
	assert_string_equal(c.time_zone, "Asia/Kolkata");
	assert_int_equal(config_set(&c, "time_zone", "Mars/Olympus_Mons", err, sizeof(err)), 0);
	assert_int_equal(config_validate(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "'time_zone'"));
	assert_non_null(strstr(err, "Mars/Olympus_Mons"));
	assert_int_equal(config_set(&c, "time_zone", "../../etc/passwd", err, sizeof(err)), 0);
	assert_int_equal(config_validate(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "'time_zone'"));
	config_free(&c);
}

/* The freshness keys: durations, and open_refresh one of wait or background. */
static void test_freshness_keys(void **state)
{
	struct fs_config c;
	char err[256];
	config_init(&c);
	assert_int_equal(c.settle_delay_s, 3600);
	assert_int_equal(c.open_ttl_s, 900);
	assert_null(c.open_refresh);
	assert_int_equal(config_load_file(&c, tmp_dir_write("a.conf", good, 0644), err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "open_ttl", "5s", err, sizeof(err)), 0);
	assert_int_equal(c.open_ttl_s, 5);
	assert_int_equal(config_set(&c, "settle_delay", "0", err, sizeof(err)), 0);
	assert_int_equal(c.settle_delay_s, 0);
	assert_int_equal(config_set(&c, "open_ttl", "0", err, sizeof(err)), -1);
	assert_int_equal(config_set(&c, "open_refresh", "background", err, sizeof(err)), 0);
	assert_int_equal(config_validate(&c, err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "open_refresh", "later", err, sizeof(err)), 0);
	assert_int_equal(config_validate(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "'open_refresh'"));
	config_free(&c);
}

/* Mogujie's sync_ttl is open_ttl's older name: it counts unless open_ttl is set. */
static void test_sync_ttl_is_open_ttl(void **state)
{
	struct fs_config c;
	char err[256];
	config_init(&c);
	assert_int_equal(config_open_ttl(&c), 900);
	assert_int_equal(config_set(&c, "sync_ttl", "2h", err, sizeof(err)), 0);
	assert_int_equal(config_open_ttl(&c), 7200);
	assert_int_equal(config_set(&c, "open_ttl", "15m", err, sizeof(err)), 0);
	assert_int_equal(config_open_ttl(&c), 900);
	config_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_file),
		cmocka_unit_test(test_time_zone),
		cmocka_unit_test(test_freshness_keys),
		cmocka_unit_test(test_sync_ttl_is_open_ttl),
		cmocka_unit_test(test_override_wins),
		cmocka_unit_test(test_unknown_key_named),
		cmocka_unit_test(test_missing_key_named),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_bad_url_and_provider),
		cmocka_unit_test(test_clover_and_mogujie_keys),
		cmocka_unit_test(test_defaults_from_table),
		cmocka_unit_test(test_table_keys_are_config_keys),
		cmocka_unit_test(test_each_required_key_missing_is_named),
		cmocka_unit_test(test_exclusive_key_refused_by_others),
		cmocka_unit_test(test_other_keys_ignored),
		cmocka_unit_test(test_unknown_provider_lists_the_table),
		cmocka_unit_test(test_row_value_messages),
		cmocka_unit_test(test_usage_from_the_table),
		cmocka_unit_test(test_sizes_and_durations),
		cmocka_unit_test(test_secret_good),
		cmocka_unit_test(test_secret_group_readable_refused),
		cmocka_unit_test(test_secret_missing_or_empty),
		cmocka_unit_test(test_fleet_defaults),
		cmocka_unit_test(test_fleet_bad_values),
		cmocka_unit_test(test_store_keys),
		cmocka_unit_test(test_store_keep),
		cmocka_unit_test(test_fleet_auth_over_http_refused),
		cmocka_unit_test(test_fleet_keys_need_fleet_etcd),
		cmocka_unit_test(test_fleet_bad_endpoints),
		cmocka_unit_test(test_owner_group_mode),
		cmocka_unit_test(test_size_limits),
	};
	return cmocka_run_group_tests(tests, tmp_dir_setup, tmp_dir_teardown);
}
