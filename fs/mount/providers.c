#include "providers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../client/clover/clover.h"
#include "../../client/mogujie/mogujie.h"
#include "../../client/vexora/vexora.h"

/* The transport settings every client config has, as designated initializers. */
#define NET_SETTINGS(cfg)                                              \
	.connect_timeout_ms = (cfg)->connect_timeout_s * 1000L,        \
	.request_timeout_ms = (cfg)->request_timeout_s * 1000L,        \
	.download_stall_s = (cfg)->download_stall_s,                   \
	.download_min_rate = (long)(cfg)->download_min_rate,           \
	.tls_insecure = (cfg)->tls_insecure,                           \
	.download_allow_private = (cfg)->download_allow_private,       \
	.max_requests_per_s = (cfg)->max_requests_per_s

/* Read one secret file; NULL with why in err. The caller wipes and frees. */
static char *read_secret(const char *key, const char *path, char *err, size_t errlen)
{
	char *s = NULL;

	if (config_read_secret_key(key, path, &s, err, errlen))
		return NULL;
	return s;
}

static void wipe(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* 0 when value is NULL (the default) or one of allowed; else -1 with
 * "bad value for 'KEY': 'VALUE' (a, b, c)". */
static int check_choice(const char *key, const char *value, const char *const *allowed,
			char *err, size_t errlen)
{
	char list[128] = "";
	size_t used = 0;

	if (!value)
		return 0;
	for (const char *const *a = allowed; *a; a++) {
		if (!strcmp(value, *a))
			return 0;
		int w = snprintf(list + used, sizeof(list) - used, "%s%s", used ? ", " : "", *a);
		if (w > 0 && (size_t)w < sizeof(list) - used)
			used += (size_t)w;
	}
	snprintf(err, errlen, "bad value for '%s': '%s' (%s)", key, value, list);
	return -1;
}

static struct provider *make_vexora(const struct fs_config *cfg, const char *secret,
				    const char *work_dir, struct client_error *cerr)
{
	struct vexora_config vc = {
		.base_url = cfg->base_url,
		.merchant_no = cfg->merchant_no,
		.secret = secret,
		.secret_path = cfg->secret_file,
		NET_SETTINGS(cfg),
	};
	return vexora_new(&vc, cerr);
}

static int validate_clover(const struct fs_config *cfg, char *err, size_t errlen)
{
	static const char *const regions[] = {"us", "eu", "la", "sandbox", NULL};
	return check_choice("region", cfg->region, regions, err, errlen);
}

static struct provider *make_clover(const struct fs_config *cfg, const char *token,
				    const char *work_dir, struct client_error *cerr)
{
	struct clover_config cc = {
		.base_url = cfg->base_url,
		.merchant_id = cfg->merchant_id,
		.token = token,
		.token_path = cfg->token_file,
		.region = cfg->region ? cfg->region : "us",
		.work_dir = work_dir,
		NET_SETTINGS(cfg),
	};
	return clover_new(&cc, cerr);
}

static int validate_mogujie(const struct fs_config *cfg, char *err, size_t errlen)
{
	static const char *const modes[] = {"ecb", "cbc", NULL};
	static const char *const redactions[] = {"receiver", "none", NULL};

	if (check_choice("decrypt_mode", cfg->decrypt_mode, modes, err, errlen) ||
	    check_choice("redact", cfg->redact, redactions, err, errlen))
		return -1;
	return cfg->oauth_url ? config_check_url("oauth_url", cfg->oauth_url, err, errlen) : 0;
}

static struct provider *make_mogujie(const struct fs_config *cfg, const char *secret,
				     const char *work_dir, struct client_error *cerr)
{
	struct mogujie_config mc = {
		.base_url = cfg->base_url,
		.app_key = cfg->app_key,
		.secret = secret,
		.token_file = cfg->token_file,
		.refresh_token_file = cfg->refresh_token_file,
		.oauth_url = cfg->oauth_url,
		.decrypt_mode = cfg->decrypt_mode ? cfg->decrypt_mode : "ecb",
		.redact_receiver = cfg->redact && !strcmp(cfg->redact, "receiver"),
		.work_dir = work_dir,
		NET_SETTINGS(cfg),
	};
	return mogujie_new(&mc, cerr);
}

#define KEYS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NO_KEYS ((const char *const[]){NULL})

static const struct provider_spec specs[] = {
	{
		.name = "vexora",
		.description = "Vexora order export: one xlsx per range (MD5-signed API)",
		.required = KEYS("base_url", "merchant_no", "secret_file"),
		.accepts = KEYS("report_type"),
		.exclusive = KEYS("report_type"),
		.account_keys = KEYS("merchant_no", "secret_file"),
		.account_secret_key = "secret_file",
		.secret_key = "secret_file",
		.validate = NULL,
		.make = make_vexora,
	},
	{
		.name = "clover",
		.description = "Clover merchant data export: orders and payments (Bearer token)",
		.required = KEYS("base_url", "merchant_id", "token_file"),
		.accepts = KEYS("region"),
		.exclusive = NO_KEYS,
		.account_keys = KEYS("merchant_id", "token_file"),
		.account_secret_key = "token_file",
		.secret_key = "token_file",
		.validate = validate_clover,
		.make = make_clover,
	},
	{
		.name = "mogujie",
		.description = "Mogujie encrypted order query, synced by orderfs (OAuth token)",
		.required = KEYS("base_url", "app_key", "secret_file", "token_file"),
		.accepts = KEYS("refresh_token_file", "oauth_url", "decrypt_mode", "redact",
				"sync_ttl"),
		.exclusive = NO_KEYS,
		.account_keys = KEYS("token_file", "refresh_token_file"),
		.account_secret_key = "token_file",
		.account_per_name = 1,
		.secret_key = "secret_file",
		.validate = validate_mogujie,
		.make = make_mogujie,
	},
};

#define NSPECS (sizeof(specs) / sizeof(specs[0]))

const struct provider_spec *provider_spec_at(size_t i)
{
	return i < NSPECS ? &specs[i] : NULL;
}

const struct provider_spec *provider_spec_find(const char *name)
{
	for (size_t i = 0; i < NSPECS; i++)
		if (!strcmp(specs[i].name, name))
			return &specs[i];
	return NULL;
}

static int in_list(const char *key, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(key, *list))
			return 1;
	return 0;
}

int provider_spec_names_key(const char *key)
{
	for (size_t i = 0; i < NSPECS; i++)
		if (in_list(key, specs[i].required) || in_list(key, specs[i].accepts) ||
		    in_list(key, specs[i].exclusive))
			return 1;
	return 0;
}

const struct provider_spec *provider_spec_owner(const char *key)
{
	for (size_t i = 0; i < NSPECS; i++)
		if (in_list(key, specs[i].exclusive))
			return &specs[i];
	return NULL;
}

void provider_spec_names(char *out, size_t n)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < NSPECS && used < n; i++) {
		int w = snprintf(out + used, n - used, "%s%s", i ? ", " : "", specs[i].name);
		if (w < 0)
			break;
		used += (size_t)w;
	}
}

/* The secret is read here and wiped here, so no make function handles its lifetime. */
static struct provider *make(const struct provider_spec *spec, const struct fs_config *cfg,
			     struct client_error *cerr)
{
	char *secret = read_secret(spec->secret_key, config_string(cfg, spec->secret_key),
				   cerr->msg, sizeof(cerr->msg));
	char work_dir[4096]; /* scratch space for building files: beside the cache, same disk */
	struct provider *p;

	if (!secret) {
		cerr->kind = CLIENT_E_INVALID;
		return NULL;
	}
	snprintf(work_dir, sizeof(work_dir), "%s/work", cfg->cache_dir);
	p = spec->make(cfg, secret, work_dir, cerr);
	wipe(secret);
	return p;
}

struct provider *provider_make(const struct fs_config *cfg, char *err, size_t errlen)
{
	const struct provider_spec *spec = provider_spec_find(cfg->provider);
	struct client_error cerr;
	struct provider *p = NULL;

	client_error_clear(&cerr);
	if (spec)
		p = make(spec, cfg, &cerr);
	else
		client_error_set(&cerr, CLIENT_E_INVALID, "unknown provider '%s'", cfg->provider);
	if (!p) {
		snprintf(err, errlen, "%s", cerr.msg[0] ? cerr.msg : "cannot make the provider");
		return NULL;
	}
	if (p->ntypes > FS_TYPES_MAX) {
		snprintf(err, errlen, "provider %s has too many export types", p->name);
		provider_destroy(p);
		return NULL;
	}
	/* Its own copy of the zone, read once here: no thread ever switches TZ (common/tz.h). */
	if (!(p->zone = tz_load(cfg->time_zone, err, errlen))) {
		provider_destroy(p);
		return NULL;
	}
	return p;
}

struct provider *provider_from_config(const struct fs_config *cfg)
{
	char err[512];
	struct provider *p = provider_make(cfg, err, sizeof(err));

	if (!p)
		fprintf(stderr, "orderfs: %s\n", err);
	return p;
}
