/*
 * The providers orderfs can mount, one row each in providers.c's table: the config keys a
 * provider requires and accepts, its value rules, how to make it, and its line in --help.
 * config.c asks this table to validate, so adding a provider is one row here plus its client.
 */
#ifndef ORDERFS_PROVIDERS_H
#define ORDERFS_PROVIDERS_H

#include <stddef.h>

#include "../../client/provider.h"
#include "config.h"

#define FS_TYPES_MAX 4 /* export types one provider may have */

/* One provider. Key lists end with NULL; every key in them is a config.c key. */
struct provider_spec {
	const char *name;		 /* the value of the 'provider' key */
	const char *description;	 /* one line for --help */
	const char *const *required;	 /* string keys it cannot start without */
	const char *const *accepts;	 /* optional keys it uses beyond the common ones */
	/*
	 * Of its keys, the string keys that would change what another provider does (the
	 * generic code passes them on): every other provider refuses them. Other providers'
	 * keys are ignored, as they always were, so one config can switch providers.
	 */
	const char *const *exclusive;
	/* With accounts_dir, the keys each account's NAME.conf holds (the merchant's own:
	 * identity and credentials); every other key comes from the main config, which may
	 * not hold these. */
	const char *const *account_keys;
	/* The provider's account (prov->account) is the app's, shared by every merchant of
	 * one app (Mogujie's app_key): with accounts_dir, cache keys and fleet prefixes add
	 * the account's NAME to tell the merchants apart. */
	int account_per_name;
	/* Of account_keys, the one naming the merchant's own credentials file (its .status
	 * checks it can be read). */
	const char *account_secret_key;
	const char *secret_key; /* the required key naming its secret's file (0600, one line) */
	/* Its value rules, run once the required keys are there: 0, or -1 with err naming
	 * the key. NULL: none. */
	int (*validate)(const struct fs_config *cfg, char *err, size_t errlen);
	/* The provider, from a validated cfg, the first line of the secret_key file (which the
	 * caller wipes once this returns: the provider keeps its own copy) and a scratch
	 * directory beside the cache. NULL with cerr set. */
	struct provider *(*make)(const struct fs_config *cfg, const char *secret,
				 const char *work_dir, struct client_error *cerr);
};

/* The row for the 'provider' value name; NULL when no provider has that name. */
const struct provider_spec *provider_spec_find(const char *name);

/* The i-th row in table order, NULL past the last: for loops over every provider. */
const struct provider_spec *provider_spec_at(size_t i);

/* Whether key is in one of the lists of some row (so not a key every provider shares). */
int provider_spec_names_key(const char *key);

/* The row whose exclusive list holds key, or NULL. */
const struct provider_spec *provider_spec_owner(const char *key);

/* "vexora, clover, mogujie": every name, in table order, truncated to fit n (n > 0). */
void provider_spec_names(char *out, size_t n);

/* The provider cfg names (cfg passed config_validate), its secret read from its file and
 * wiped once the provider has its copy. NULL with one line in err saying why (unreadable
 * secret, bad value; never the secret). For a running mount: prints nothing. */
struct provider *provider_make(const struct fs_config *cfg, char *err, size_t errlen);

/* The provider cfg names (cfg passed config_validate), its secret read from its file and
 * wiped from memory once the provider has its copy. NULL after printing one line to stderr
 * saying why (unreadable secret, bad value). */
struct provider *provider_from_config(const struct fs_config *cfg);

#endif
