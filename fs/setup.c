#include "setup.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int setup_load_config(const char *path, char **overrides, size_t n_overrides,
		      struct fs_config *cfg)
{
	char err[512];

	config_init(cfg);
	if (config_load_file(cfg, path, err, sizeof(err)))
		goto fail;
	for (size_t i = 0; i < n_overrides; i++) {
		char *eq = strchr(overrides[i], '=');
		if (!eq) {
			snprintf(err, sizeof(err), "-o %s: expected key=value", overrides[i]);
			goto fail;
		}
		*eq = '\0';
		int rc = config_set(cfg, overrides[i], eq + 1, err, sizeof(err));
		*eq = '=';
		if (rc)
			goto fail;
	}
	if (config_validate(cfg, err, sizeof(err)))
		goto fail;
	return 0;
fail:
	fprintf(stderr, "orderfs: config: %s\n", err);
	return -1;
}

int setup_cache_dir(const char *dir)
{
	if (mkdir(dir, 0700) && errno != EEXIST) {
		fprintf(stderr, "orderfs: cache_dir %s: %s\n", dir, strerror(errno));
		return -1;
	}
	if (access(dir, R_OK | W_OK | X_OK)) {
		fprintf(stderr, "orderfs: cache_dir %s: %s\n", dir, strerror(errno));
		return -1;
	}
	return 0;
}

void setup_cache_config(const struct fs_config *cfg, struct cache_config *cc)
{
	memset(cc, 0, sizeof(*cc));
	cc->dir = cfg->cache_dir;
	cc->max_size = cfg->cache_max_size;
	cc->max_exports = cfg->max_exports;
	cc->export_timeout_s = cfg->export_timeout_s;
	cc->nodata_ttl_s = cfg->nodata_ttl_s;
	/* report_type (Vexora only, config_validate makes sure) overrides the type sent. */
	cc->report_type0 = cfg->report_type;
	cc->language = cfg->language ? cfg->language : "en-US";
	cc->poll_initial_ms = cfg->poll_initial_ms;
	cc->poll_max_ms = cfg->poll_max_ms;
	cc->retry_limit = cfg->retry_limit;
}
