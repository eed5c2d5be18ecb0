#include "setup.h"
#include "../../client/store/s3.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../common/owner.h"

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

/* path, a directory orderfs keeps files in, is ours and closed to others (missing is fine
 * when may_miss). 0, or -1 after printing why. */
static int check_private_dir(const char *path, int may_miss)
{
	struct stat st;
	char why[200];

	if (lstat(path, &st)) {
		if (may_miss && errno == ENOENT)
			return 0;
		fprintf(stderr, "orderfs: cache_dir %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (owner_private_dir(&st, why, sizeof(why))) {
		fprintf(stderr, "orderfs: cache_dir %s: %s\n", path, why);
		return -1;
	}
	return 0;
}

int setup_cache_dir(const char *dir)
{
	char work[PATH_MAX];

	if (mkdir(dir, 0700) && errno != EEXIST) {
		fprintf(stderr, "orderfs: cache_dir %s: %s\n", dir, strerror(errno));
		return -1;
	}
	/* Whoever else can write it could plant symlinks or read exports. The cache checks each
	 * directory of its own (store_init); the providers' scratch directory "work" (made when
	 * first needed, see providers.c) is checked here. */
	snprintf(work, sizeof(work), "%s/work", dir);
	if (check_private_dir(dir, 0) || check_private_dir(work, 1))
		return -1;
	if (access(dir, R_OK | W_OK | X_OK)) {
		fprintf(stderr, "orderfs: cache_dir %s: %s\n", dir, strerror(errno));
		return -1;
	}
	return 0;
}

int setup_accounts_dir(const char *dir)
{
	struct stat st;
	char why[200];

	/* Whoever may add or swap a file there decides which secrets the mount reads and
	 * under which name a merchant's exports are served. */
	if (stat(dir, &st)) {
		fprintf(stderr, "orderfs: accounts_dir %s: %s\n", dir, strerror(errno));
		return -1;
	}
	if (owner_trusted_dir(&st, why, sizeof(why))) {
		fprintf(stderr, "orderfs: accounts_dir %s: %s\n", dir, why);
		return -1;
	}
	return 0;
}

void setup_cache_config(const struct fs_config *cfg, struct cache_config *cc)
{
	memset(cc, 0, sizeof(*cc));
	cc->dir = cfg->cache_dir;
	cc->max_size = cfg->cache_max_size;
	cc->max_file_size = cfg->max_file_size;
	cc->min_free = cfg->cache_min_free_given ? cfg->cache_min_free : CACHE_MIN_FREE_AUTO;
	cc->max_exports = config_max_exports_total(cfg); /* max_exports without accounts */
	cc->export_timeout_s = cfg->export_timeout_s;
	cc->nodata_ttl_s = cfg->nodata_ttl_s;
	cc->settle_delay_s = cfg->settle_delay_s ? cfg->settle_delay_s : -1; /* 0: none */
	cc->open_ttl_s = config_open_ttl(cfg);
	cc->store_keep_days = cfg->store_url ? config_store_keep_days(cfg) : 0;
	cc->open_refresh_background = cfg->open_refresh && !strcmp(cfg->open_refresh, "background");
	cc->language = cfg->language ? cfg->language : "en-US";
	cc->poll_initial_ms = cfg->poll_initial_ms;
	cc->poll_max_ms = cfg->poll_max_ms;
	cc->retry_limit = cfg->retry_limit;
}

/* Split the "user:password" line of fleet_etcd_auth_file in place into *user and *password.
 * 0, or -1 with why in err (without the line). */
static int split_auth(const char *path, char *line, const char **user, const char **password,
		      char *err, size_t errlen)
{
	char *colon = strchr(line, ':');

	if (!colon || colon == line || !colon[1]) {
		snprintf(err, errlen, "fleet_etcd_auth_file %s: expected one line user:password",
			 path);
		return -1;
	}
	*colon = '\0';
	*user = line;
	*password = colon + 1;
	return 0;
}

/* The credentials of fleet_etcd_auth_file into fc (pointing into *auth, which the caller
 * wipes). 0, or -1 with err. */
static int read_auth(const struct fs_config *cfg, struct fleet_config *fc, char **auth,
		     size_t *auth_len, char *err, size_t errlen)
{
	if (!cfg->fleet_etcd_auth_file)
		return 0;
	if (config_read_secret_key("fleet_etcd_auth_file", cfg->fleet_etcd_auth_file, auth, err,
				   errlen))
		return -1;
	*auth_len = strlen(*auth); /* before split_auth cuts it */
	return split_auth(cfg->fleet_etcd_auth_file, *auth, &fc->etcd.user, &fc->etcd.password,
			  err, errlen);
}

/* cfg's fleet settings into fc (its credentials are read_auth's) for account of provider. */
static void fleet_config_of(const struct fs_config *cfg, const char *provider,
			    const char *account, const char *host, struct fleet_config *fc)
{
	fc->etcd.endpoints = cfg->fleet_etcd;
	fc->etcd.ca_file = cfg->fleet_etcd_ca_file;
	fc->provider = provider;
	fc->account = account;
	fc->base_url = cfg->base_url;
	fc->host = host;
	fc->lease_ttl_s = cfg->fleet_lease_ttl_s;
	fc->max_exports = config_fleet_max_exports(cfg);
}

static void say_cannot_join(const struct fs_config *cfg, const struct client_error *cerr,
			    char *err, size_t errlen)
{
	snprintf(err, errlen, "fleet_etcd %s: cannot join the fleet (%s): %s", cfg->fleet_etcd,
		 client_errkind_name(cerr->kind), cerr->msg[0] ? cerr->msg : "no detail");
}

/* The credentials read_auth read, wiped and freed (NULL is a no-op). */
static void auth_drop(char *auth, size_t auth_len)
{
	if (auth) {
		explicit_bzero(auth, auth_len);
		free(auth);
	}
}

struct fleet_session *setup_fleet_session(const struct fs_config *cfg, const char *provider,
					  char host[FLEET_HOST_MAX], char *err, size_t errlen)
{
	struct fleet_config fc;
	struct client_error cerr;
	struct fleet_session *s = NULL;
	char *auth = NULL;
	size_t auth_len = 0;

	memset(&fc, 0, sizeof(fc));
	if (config_fleet_host(cfg, host, FLEET_HOST_MAX, err, errlen))
		return NULL;
	if (read_auth(cfg, &fc, &auth, &auth_len, err, errlen) == 0) {
		fleet_config_of(cfg, provider, NULL, host, &fc);
		s = fleet_session_new(&fc, &cerr); /* copies what it keeps: auth is wiped below */
		if (!s)
			say_cannot_join(cfg, &cerr, err, errlen);
	}
	auth_drop(auth, auth_len);
	return s;
}

struct fleet *setup_fleet_account(const struct fs_config *cfg, struct fleet_session *s,
				  const struct provider *prov, const char *account,
				  char host[FLEET_HOST_MAX], char *err, size_t errlen)
{
	struct fleet_config fc;
	struct client_error cerr;
	struct fleet *f = NULL;
	char *auth = NULL;
	size_t auth_len = 0;

	memset(&fc, 0, sizeof(fc));
	if (config_fleet_host(cfg, host, FLEET_HOST_MAX, err, errlen))
		return NULL;
	/* On the mount's session the credentials are the session's: none to read. */
	if (s || read_auth(cfg, &fc, &auth, &auth_len, err, errlen) == 0) {
		fleet_config_of(cfg, prov->name, account, host, &fc);
		/* Each copies what it keeps: auth is wiped below. */
		f = s ? fleet_new_in(s, &fc, &cerr) : fleet_new(&fc, &cerr);
		if (!f)
			say_cannot_join(cfg, &cerr, err, errlen);
	}
	auth_drop(auth, auth_len);
	return f;
}

struct fleet *setup_fleet(const struct fs_config *cfg, const struct provider *prov,
			  char host[FLEET_HOST_MAX])
{
	char err[512];
	struct fleet *f = setup_fleet_account(cfg, NULL, prov, prov->account, host, err,
					      sizeof(err));

	if (!f)
		fprintf(stderr, "orderfs: %s\n", err);
	return f;
}

void setup_source_config(const struct fs_config *cfg, struct fleet *fleet, const char *account,
			 struct cache_source_config *sc)
{
	memset(sc, 0, sizeof(*sc));
	sc->account = account;
	/* report_type (Vexora only, config_validate makes sure) overrides the type sent. */
	sc->report_type0 = cfg->report_type;
	sc->max_exports = cfg->max_exports; /* providers limit each merchant */
	sc->fleet = fleet;
	sc->fleet_refuse = config_fleet_refuse(cfg);
	sc->fleet_ttl_s = cfg->fleet_lease_ttl_s;
	sc->fleet_max_exports = config_fleet_max_exports(cfg);
	/* The whole fleet's cap: the cache gives each host its share of it. */
	sc->fleet_rate_cap = cfg->max_requests_per_s;
}

struct s3_store *setup_store(const struct fs_config *cfg)
{
	struct s3_config sc = {
		.url = cfg->store_url,
		.virtual_host = cfg->store_virtual_host,
		.region = cfg->store_region,
		.credentials_file = cfg->store_credentials_file,
		.insecure = cfg->store_insecure,
		.ca_file = cfg->store_ca_file,
		.stall_s = cfg->download_stall_s,
	};
	struct client_error err;
	struct s3_store *st;

	client_error_clear(&err);
	if (!(st = s3_new(&sc, &err)))
		fprintf(stderr, "orderfs: shared store: %s\n", err.msg);
	return st;
}

int setup_source_store(const struct fs_config *cfg, struct s3_store *store,
		       const char *provider, const char *account, struct cache_source_config *sc,
		       char prefix[128], char writer[FLEET_HOST_MAX], char *err, size_t errlen)
{
	char hex[FLEET_SHA256_HEX];

	if (!store)
		return 0;
	if (config_fleet_host(cfg, writer, FLEET_HOST_MAX, err, errlen) != 0)
		return -1;
	if (fleet_account_hex(provider, cfg->base_url, account, hex) != 0) {
		snprintf(err, errlen, "shared store: SHA-256 failed");
		return -1;
	}
	snprintf(prefix, 128, "%s/%.*s", provider, FLEET_ACCOUNT_HEX, hex);
	sc->store = store;
	sc->store_prefix = prefix;
	sc->store_writer = writer;
	return 0;
}
