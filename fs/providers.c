#include "providers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../client/clover.h"
#include "../client/mogujie.h"
#include "../client/vexora.h"

/* Read one secret file; NULL after printing why. The caller wipes and frees. */
static char *read_secret(const char *key, const char *path)
{
	char err[512];
	char *s = NULL;

	if (config_read_secret_key(key, path, &s, err, sizeof(err))) {
		fprintf(stderr, "orderfs: config: %s\n", err);
		return NULL;
	}
	return s;
}

static void wipe(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static struct provider *make_vexora(const struct fs_config *cfg, struct client_error *cerr)
{
	char *secret = read_secret("secret_file", cfg->secret_file);
	if (!secret)
		return NULL;
	struct vexora_config vc = {
		.base_url = cfg->base_url,
		.merchant_no = cfg->merchant_no,
		.secret = secret,
		.connect_timeout_ms = cfg->connect_timeout_s * 1000L,
		.request_timeout_ms = cfg->request_timeout_s * 1000L,
		.download_stall_s = cfg->download_stall_s,
		.tls_insecure = cfg->tls_insecure,
		.max_requests_per_s = cfg->max_requests_per_s,
	};
	struct provider *p = vexora_new(&vc, cerr);
	wipe(secret);
	return p;
}

/* The providers' scratch space for xlsx building: beside the cache, on the same disk. */
static void scratch_dir(const struct fs_config *cfg, char *out, size_t n)
{
	snprintf(out, n, "%s/work", cfg->cache_dir);
}

static struct provider *make_clover(const struct fs_config *cfg, struct client_error *cerr)
{
	char *token = read_secret("token_file", cfg->token_file);
	char work_dir[4096];
	if (!token)
		return NULL;
	scratch_dir(cfg, work_dir, sizeof(work_dir));
	struct clover_config cc = {
		.base_url = cfg->base_url,
		.merchant_id = cfg->merchant_id,
		.token = token,
		.region = cfg->region ? cfg->region : "us",
		.connect_timeout_ms = cfg->connect_timeout_s * 1000L,
		.request_timeout_ms = cfg->request_timeout_s * 1000L,
		.download_stall_s = cfg->download_stall_s,
		.tls_insecure = cfg->tls_insecure,
		.max_requests_per_s = cfg->max_requests_per_s,
		.work_dir = work_dir,
	};
	struct provider *p = clover_new(&cc, cerr);
	wipe(token);
	return p;
}

static struct provider *make_mogujie(const struct fs_config *cfg, struct client_error *cerr)
{
	char *secret = read_secret("secret_file", cfg->secret_file);
	char work_dir[4096];
	if (!secret)
		return NULL;
	scratch_dir(cfg, work_dir, sizeof(work_dir));
	struct mogujie_config mc = {
		.base_url = cfg->base_url,
		.app_key = cfg->app_key,
		.secret = secret,
		.token_file = cfg->token_file,
		.refresh_token_file = cfg->refresh_token_file,
		.oauth_url = cfg->oauth_url,
		.decrypt_mode = cfg->decrypt_mode ? cfg->decrypt_mode : "ecb",
		.redact_receiver = cfg->redact && !strcmp(cfg->redact, "receiver"),
		.sync_ttl_s = cfg->sync_ttl_s,
		.work_dir = work_dir,
		.connect_timeout_ms = cfg->connect_timeout_s * 1000L,
		.request_timeout_ms = cfg->request_timeout_s * 1000L,
		.download_stall_s = cfg->download_stall_s,
		.tls_insecure = cfg->tls_insecure,
		.max_requests_per_s = cfg->max_requests_per_s,
	};
	struct provider *p = mogujie_new(&mc, cerr);
	wipe(secret);
	return p;
}

struct provider *provider_from_config(const struct fs_config *cfg)
{
	struct client_error cerr;
	struct provider *p = NULL;

	client_error_clear(&cerr);
	if (!strcmp(cfg->provider, "vexora"))
		p = make_vexora(cfg, &cerr);
	else if (!strcmp(cfg->provider, "clover"))
		p = make_clover(cfg, &cerr);
	else if (!strcmp(cfg->provider, "mogujie"))
		p = make_mogujie(cfg, &cerr);
	else
		client_error_set(&cerr, CLIENT_E_INVALID, "unknown provider '%s'", cfg->provider);
	if (!p && cerr.kind != CLIENT_OK)
		fprintf(stderr, "orderfs: provider: %s\n", cerr.msg);
	if (p && p->ntypes > FS_TYPES_MAX) {
		fprintf(stderr, "orderfs: provider %s has too many export types\n", p->name);
		provider_destroy(p);
		p = NULL;
	}
	return p;
}
