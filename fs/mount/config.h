/*
 * orderfs configuration: a `key = value` file (`#` comments) plus `-o key=value` overrides,
 * which win. Every key is documented in README.md "Configuration". Pure: no FUSE, no network.
 */
#ifndef ORDERFS_CONFIG_H
#define ORDERFS_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct fs_config {
	char *provider;	   /* the name of a row of providers.c's table */
	char *test_clock_file; /* tests only: a file holding fs's "now" (test_clock.h) */
	char *base_url;	   /* http(s)://host[:port][/path] */
	char *merchant_no; /* Vexora merchant number */
	char *secret_file; /* path of the one-line signing secret; must be 0600 or stricter */
	char *merchant_id; /* Clover mId */
	char *token_file;  /* Clover Bearer token, Mogujie access token (0600 like secrets) */
	char *region;	   /* Clover: us (default), eu, la, sandbox: sets the service hours */
	char *app_key;	   /* Mogujie app_key */
	char *refresh_token_file; /* Mogujie: optional OAuth refresh token (0600) */
	char *oauth_url;	  /* Mogujie refresh endpoint; default https://oauth.mogujie.com/token */
	char *decrypt_mode;	  /* Mogujie: ecb (default) or cbc */
	char *redact;		  /* Mogujie: "receiver" masks receiver fields; default off */
	int sync_ttl_s;		  /* Mogujie: expiry of ranges touching today; default 3600 */
	char *time_zone;	  /* IANA zone of days and "today"; NULL = the process's zone.
				   * An account's NAME.conf may set its own. */
	char *cache_dir;
	char *language;	   /* default en-US */
	char *report_type; /* default order */
	uint64_t cache_max_size;   /* bytes; default 4 GiB; 0 = no cap */
	uint64_t max_file_size;	   /* bytes; 0 (default) = cache_max_size, or 4 GiB without it */
	uint64_t cache_min_free;   /* bytes a download leaves free on cache_dir's filesystem */
	int cache_min_free_given;  /* 0: cache_min_free is the default (1 GiB or 5 %) */
	int max_exports;	   /* default 2 */
	int export_timeout_s;	   /* default 1800 */
	int nodata_ttl_s;	   /* default 3600 */
	int settle_delay_s;	   /* a range is complete this long after its end; default 3600 */
	int open_ttl_s;		   /* an open (incomplete) file is served this long; default 900 */
	char *open_refresh;	   /* "wait" (default, NULL) or "background" */
	int open_ttl_given;	   /* open_ttl was set (it wins over Mogujie's sync_ttl) */
	int connect_timeout_s;	   /* default 10 */
	int request_timeout_s;	   /* default 30 */
	int download_stall_s;	   /* default 60 */
	uint64_t download_min_rate; /* bytes/s averaged over download_stall_s; default 16k; 0 off */
	int poll_initial_ms;	   /* default 500 */
	int poll_max_ms;	   /* default 10000 */
	int retry_limit;	   /* default 5 */
	int max_requests_per_s;	   /* HTTP requests per second to the provider; default 10; 0 = no cap */
	int max_threads;	   /* FUSE worker threads; default 256 (blocked opens each hold one) */
	double attr_timeout_s;	   /* default 1.0, must be > 0 */
	int tls_insecure;	   /* default 0; simulator only */
	int download_allow_private; /* default 0: downloads refuse private addresses unless the
				     * API is on one */
	char *metrics_listen;	   /* "127.0.0.1:9464": serve Prometheus /metrics; NULL = off */
	int metrics_public;	   /* default 0: metrics_listen must be a loopback address */
	int exact_sizes;	   /* default 0: stat shows 0 until exported; 1: stat waits for the
				    * export, so tools that trust st_size (tar, Samba) get it */
	int log_level;		   /* syslog level; default LOG_INFO */
	int prefetch_days;	   /* prefetch: export the last N complete days; default 0 (off) */
	int prefetch_interval_s;   /* 0 (default): prefetch at start and after local midnight;
				    * > 0: every this many seconds instead (for tests) */
	/* Fleet mode (README "Fleet"): on when fleet_etcd is set. */
	char *fleet_etcd;	    /* "http://h1:2379,https://h2:2379": etcd endpoints */
	char *fleet_etcd_ca_file;   /* CA bundle for https endpoints */
	char *fleet_etcd_auth_file; /* "user:password" on one line (0600 like secrets) */
	int fleet_lease_ttl_s;	    /* default 10, at least 2 */
	int fleet_max_exports;	    /* exports at once across the fleet; 0 = max_exports */
	char *fleet_fallback;	    /* "local" (default, NULL) or "refuse" */
	char *fleet_host;	    /* this host's name in the fleet; NULL = gethostname() */
	int fleet_etcd_insecure;    /* default 0: credentials only over https endpoints */
	int fleet_keys_given;	    /* a fleet_* key other than fleet_etcd was set */
	/* The shared store (README "Shared store"): on when store_url is set. */
	char *store_url;	      /* https://HOST/BUCKET/PREFIX (client/s3.h) */
	char *store_region;	      /* default us-east-1 */
	char *store_credentials_file; /* ACCESS:SECRET (0600); NULL = AWS_* environment */
	char *store_ca_file;	      /* CA bundle for an https store */
	int store_virtual_host;	      /* BUCKET.HOST instead of HOST/BUCKET */
	int store_insecure;	      /* plain http to a host that is not loopback */
	char *store_keep;	      /* "provider" (default, NULL) or DAYS: closed complete
				       * ranges kept that long after their as_of */
	int store_keys_given;	      /* a store_* key other than store_url was set */
	/* Many merchants in one mount (README "Accounts"): on when accounts_dir is set. */
	char *accounts_dir;	    /* one NAME.conf per merchant account */
	int max_exports_total;	    /* exports at once across all accounts; 0 = default */
	int max_open_per_user;	    /* open files one uid may hold; default 4096; 0 = no cap */
	int max_queued_per_user;    /* exports one uid may wait for at once; default 16; 0 = no cap */
	/* Who may read what (perm.h): for the whole mount, or one account in its NAME.conf. */
	long owner;		    /* uid; -1 (default): the user orderfs runs as */
	long group;		    /* gid; -1 (default): the group orderfs runs as */
	int mode;		    /* of directories (files: without x); default 0750 */
};

/* Defaults for every optional key (the key table's own column); strings NULL. */
void config_init(struct fs_config *c);
void config_free(struct fs_config *c);

/* A deep copy of src into dst (free it with config_free). 0, or -ENOMEM (dst then holds
 * nothing to free). */
int config_copy(struct fs_config *dst, const struct fs_config *src);

/* Set one key. 0, or -1 with a message naming the key in err (unknown key, bad value). */
int config_set(struct fs_config *c, const char *key, const char *value, char *err, size_t errlen);

/* Whether key is an orderfs key (as opposed to a FUSE mount option). */
int config_is_key(const char *key);

/* Read a config file into c. 0, or -1 with "PATH:LINE: problem" in err. Apply -o overrides
 * after this call so they win. */
int config_load_file(struct fs_config *c, const char *path, char *err, size_t errlen);

/* The same from an open file f (named path in messages), accepting only the keys in the
 * NULL-ended list only (NULL: every key; another key is an error naming it). */
int config_load_stream(struct fs_config *c, FILE *f, const char *path, const char *const *only,
		       char *err, size_t errlen);

/* The value of a string key, owned by c; NULL when it has none, or when key is not a string
 * key (numbers and flags always have a value: their default). */
const char *config_string(const struct fs_config *c, const char *key);

/*
 * Check required keys and consistency once everything is loaded: the provider's row in
 * providers.c says which keys it requires, which values it takes and which keys of other
 * providers it refuses. 0 or -1 with err naming the key.
 */
int config_validate(const struct fs_config *c, char *err, size_t errlen);

/* The open_ttl in force: open_ttl when set, else sync_ttl (Mogujie's older name for it) when
 * set, else open_ttl's default. */
int config_open_ttl(const struct fs_config *c);

/* store_keep in days: 0 for "provider" (the default: files end with the provider's expiry),
 * 1-36500 days, -1 for a value that is neither (config_validate refuses it). */
int config_store_keep_days(const struct fs_config *c);

/* Exports at once across the mount: max_exports without accounts_dir; with it
 * max_exports_total, by default 4 x max_exports and at least 16. */
int config_max_exports_total(const struct fs_config *c);

/* The fleet's export slots: fleet_max_exports, or max_exports when it is not set. */
int config_fleet_max_exports(const struct fs_config *c);

/* Whether fleet_fallback is "refuse" (new exports fail EAGAIN while etcd is unreachable). */
int config_fleet_refuse(const struct fs_config *c);

/* This host's name in the fleet into out: fleet_host, or the system host name. 0, or -1 with
 * err when that name cannot name a host in the fleet (fleet_name_ok). */
int config_fleet_host(const struct fs_config *c, char *out, size_t n, char *err, size_t errlen);

/* 0 when list is one or more comma-separated http(s)://host:port endpoints; else -1 with err
 * naming key. */
int config_check_endpoints(const char *key, const char *list, char *err, size_t errlen);

/* 0 when url starts with http:// or https://; else -1 with err naming key. */
int config_check_url(const char *key, const char *url, char *err, size_t errlen);

/* The --help lines about keys: each provider of the table with its description, required
 * and accepted keys, then the keys every provider shares. */
void config_print_keys(FILE *out);

/*
 * Read a secret file: refuses a file readable or writable by group or others, or not a
 * regular file; returns the first line without its newline in *out (caller wipes and frees).
 * 0 or -1 with err (which never contains the secret).
 */
int config_read_secret(const char *path, char **out, char *err, size_t errlen);
/* The same for another key's file (token_file): messages name that key. */
int config_read_secret_key(const char *key, const char *path, char **out, char *err,
			   size_t errlen);

/* Parse "10G", "512M", "1048576" (bytes, binary units) and "30", "30s", "5m", "2h". */
int config_parse_size(const char *s, uint64_t *out);
int config_parse_duration(const char *s, int *seconds);

struct fs_perm;

/* The perm c's owner, group and mode keys give; unset owner and group are the user and group
 * orderfs runs as (its real ids: the mounting user). */
void perm_of_config(const struct fs_config *c, struct fs_perm *p);

#endif
