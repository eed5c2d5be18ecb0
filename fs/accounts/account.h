/*
 * One merchant account of a mount: its provider, its export types in the mount's one cache,
 * its fleet membership and the ranges pinned into its listing. A mount without accounts_dir
 * has one, always active; a mount with accounts_dir has one per NAME.conf (accounts.h), made
 * active (provider, cache source, fleet) the first time something under MOUNT/NAME/ needs it.
 *
 * Lifetime: an account is never freed before the mount ends (accounts_free, after the cache),
 * so a pointer to one stays valid without counting references; a removed NAME.conf only hides
 * it. The fields under "fixed once active" are written once, before `active` is set (release),
 * and only read after `active` was seen set (acquire).
 */
#ifndef ORDERFS_ACCOUNT_H
#define ORDERFS_ACCOUNT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "../../cache/cache.h"
#include "../../client/fleet/fleet.h"
#include "account_conf.h"
#include "../mount/config.h"
#include "../path.h"
#include "../base/range_map.h"
#include "../test_clock.h"

struct prefetch;

struct fs_account {
	char name[ACCOUNT_NAME_MAX]; /* "" in a mount without accounts_dir */

	/* fixed once active */
	struct provider *prov;
	struct fleet *fleet;	    /* fleet mode's membership of this merchant, or NULL */
	struct prefetch *prefetch;  /* NULL when prefetch is off */
	char key_account[128];	    /* the account in its cache keys and fleet prefix */
	struct path_layout layout;
	int window_months;
	size_t kind0, nkinds;	    /* its nkinds types in the mount's cache, from kind0 */
	struct range_map *notes;    /* ranges pinned into its /exports listing (mkdir, use) */
	atomic_int active;
	/* Providers whose account is the app's (Mogujie): the SHA-256 of the token it started
	 * with, so two NAMEs holding one seller's token are one merchant (never the token). */
	unsigned char token_digest[32];
	int has_token_digest;
	const char *clock_file;	    /* test_clock_file (the mount's config owns it), or NULL:
				     * set when the account is made, never changed */

	/* accounts.c's, under the table's lock */
	struct fs_config cfg;	    /* the config it runs with (active) or would start with */
	struct account_sig sig;	    /* what its NAME.conf was when cfg was read */
	int present;		    /* its NAME.conf exists and is valid now: it is listed */
	/* Its NAME.conf could not be read for the moment (EMFILE, EIO) and no version of it was
	 * ever read: listed, cannot start, error says why; read again at the next lookup. */
	int unread;
	int change_logged;	    /* said that an edit waits for a remount (until undone) */
	int starting;		    /* a thread is starting it (others wait for the verdict) */
	unsigned seen;		    /* the scan that last found its file */
	struct fs_config run_cfg;   /* the config it started with (active) */

	char error[256];	    /* why it could not start ("" none); shown in its .status */
	int64_t tried_ms;	    /* monotonic: the last failed start (0: try at once) */
};

/* Whether a is active, with the fields it fixed visible. */
static inline int account_active(struct fs_account *a)
{
	return atomic_load_explicit(&a->active, memory_order_acquire);
}

/* Today in a's time zone (its provider's; the process's until a is active). Thread-safe. */
static inline struct date account_today(struct fs_account *a)
{
	int64_t now = test_clock_now(a->clock_file);
	return account_active(a) ? provider_today(a->prov, now) : date_from_time((time_t)now);
}

struct accounts_env;

/*
 * Start a with a->run_cfg (set by the caller, who makes sure no other start of a runs): its
 * provider, fleet membership, types in env's cache and prefetch, then mark it active.
 * taken(arg, a, other, n) is asked once a->key_account is known: nonzero (with the other
 * account's name in other) when another account already runs that merchant. 0, or -1 with
 * one line in err; nothing is left made then.
 */
int account_start(const struct accounts_env *env, struct fs_account *a,
		  int (*taken)(void *arg, const struct fs_account *a, char *other, size_t n),
		  void *arg, char *err, size_t errlen);

/* The account in the cache keys and fleet prefix of account name (with cfg, prov): the
 * provider's, plus "/NAME" where the provider's is the app's (Mogujie); the provider's when
 * name is "" (no accounts_dir). */
void account_key_account(const struct fs_config *cfg, const struct provider *prov,
			 const char *name, char out[128]);

/* Fill the layout fields of a from prov (and kinds from kind0), then mark it active. */
void account_set_active(struct fs_account *a, struct provider *prov, size_t kind0);

#endif
