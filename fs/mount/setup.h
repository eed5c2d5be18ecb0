/*
 * fs/mount/: how a mount (or `orderfs get`) is set up and what runs beside the FUSE loop.
 *   config.c     the configuration file: keys, defaults, -o overrides, validation
 *   providers.c  the provider table: each provider's keys and values (config asks it) and the
 *                making of a provider from a configuration
 *   setup.c      the start-up steps main.c and get.c share (this header)
 *   dirlock.c    one orderfs process per cache_dir
 *   notify.c     systemd's readiness and STATUS= protocol
 *   prefetch.c   the one thread that exports recent days before anyone asks
 * Config and the provider table ask each other about a provider's keys and know nothing of
 * accounts, reports or the FUSE adapter; setup builds on them. The entry points (fs/main.c,
 * fs/get.c) and the accounts (fs/accounts/) call in; nothing here calls up into them.
 *
 * Start-up steps the mount (main.c) and `orderfs get` (get.c) share: the configuration with
 * its -o overrides, the cache directory, and what each type's cache is given. Each prints one
 * line to stderr saying what is wrong, so mistakes show on the terminal.
 */
#ifndef ORDERFS_SETUP_H
#define ORDERFS_SETUP_H

#include <stddef.h>

#include "../../cache/cache.h"
#include "../../client/fleet/fleet.h"
#include "config.h"

/*
 * Load the config file at path, apply overrides ("key=value", in order: they win over the file)
 * and validate the result into cfg. 0, or -1 after printing "orderfs: config: ..." (cfg must
 * still be freed with config_free either way). The overrides are left as they were.
 */
int setup_load_config(const char *path, char **overrides, size_t n_overrides,
		      struct fs_config *cfg);

/* Create cache_dir (0700) if missing and check we may use it: a directory (not a symlink)
 * owned by the user orderfs runs as, not writable by group or others. 0, or -1 after printing
 * why, naming the path and the fix. */
int setup_cache_dir(const char *dir);

/* Check accounts_dir: a directory owned by root or the user orderfs runs as, not writable by
 * group or others. 0, or -1 after printing why, naming the path and the fix. */
int setup_accounts_dir(const char *dir);

/* The cache config of the mount: one cache holds every export type of every merchant, sharing
 * cache_max_size and max_exports (max_exports_total with accounts_dir) by use; each merchant
 * is added with setup_source_config. */
void setup_cache_config(const struct fs_config *cfg, struct cache_config *cc);

/*
 * Fleet mode (cfg->fleet_etcd set): join the fleet of prov's account through etcd, as
 * fleet_host (its name into host), with the credentials of fleet_etcd_auth_file (read, then wiped). Starts a thread,
 * so call it in the process that keeps running, before the cache is made. Returns the fleet
 * (also when etcd is down: it joins later), or NULL after printing one line saying why (bad
 * auth file, refused credentials, bad configuration; never a secret). Free it with fleet_free
 * after cache_free. Not for `orderfs get`, which runs without fleet mode.
 */
struct fleet *setup_fleet(const struct fs_config *cfg, const struct provider *prov,
			  char host[FLEET_HOST_MAX]);

/* The same for one account of a running mount: its fleet prefix is account's (the cache
 * key's account), on the mount's session s (setup_fleet_session; NULL: a session of its own).
 * NULL with one line in err saying why; prints nothing. */
struct fleet *setup_fleet_account(const struct fs_config *cfg, struct fleet_session *s,
				  const struct provider *prov, const char *account,
				  char host[FLEET_HOST_MAX], char *err, size_t errlen);

/* An accounts_dir mount's one fleet session (fleet.h): the etcd client, this host's lease and
 * keepalive, the watch stream over provider's keys and the reaper that every account's fleet
 * shares, so they do not grow with the merchants. Also when etcd is down (it joins later).
 * NULL with one line in err saying why (as setup_fleet); prints nothing. Free it with
 * fleet_session_free after every account's fleet. */
struct fleet_session *setup_fleet_session(const struct fs_config *cfg, const char *provider,
					  char host[FLEET_HOST_MAX], char *err, size_t errlen);

/* What the cache is given of one merchant (cache_add_source): the account in its keys, the
 * report_type, its own cap on running exports (max_exports) and fleet mode's settings with
 * fleet (NULL: none). Strings point into cfg and account. */
void setup_source_config(const struct fs_config *cfg, struct fleet *fleet, const char *account,
			 struct cache_source_config *sc);

/*
 * The shared store (cfg->store_url set): the client of the store, its credentials read and
 * checked (no network). NULL after printing one line saying why (never a secret). Free it
 * with s3_free after cache_free.
 */
struct s3_store *setup_store(const struct fs_config *cfg);

/* The shared store for one merchant into sc: store, its prefix "<provider>/<account hash>"
 * (the fleet's hash of provider, base_url and account) into prefix, this host's name
 * (fleet_host or the system's) into writer. No-op when store is NULL. 0, or -1 with err
 * (a host name the store cannot hold). */
int setup_source_store(const struct fs_config *cfg, struct s3_store *store,
		       const char *provider, const char *account, struct cache_source_config *sc,
		       char prefix[128], char writer[FLEET_HOST_MAX], char *err, size_t errlen);

#endif
