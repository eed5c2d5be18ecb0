/*
 * fs/accounts/: the merchant accounts of one mount.
 *   account.h        one account (struct fs_account): its provider, types, fleet and pins;
 *                    account_start.c starts one (provider, cache source, fleet, prefetch)
 *   account_conf.c   ACCOUNTS_DIR/NAME.conf: names, permissions, keys, change detection
 *   accounts.c       the table of a mount's accounts (this header)
 * accounts.c reads NAME.conf through account_conf.c and starts an account through
 * account_start.c, which uses the mount's set-up (fs/mount/). The FUSE adapter and the
 * reports call in; nothing here calls them.
 *
 * The accounts of a mount with accounts_dir: one per ACCOUNTS_DIR/NAME.conf, shown as
 * MOUNT/NAME/. Accounts come and go without a remount: a listing of the mount's root rescans
 * the directory, and every lookup of MOUNT/NAME checks NAME.conf (one stat), so a new file
 * shows at once and a removed one hides the name from new lookups (open files stay readable:
 * they hold the cache's file, not the account). A file with a bad name, bad permissions or a
 * bad key is skipped with one log line naming it (once per version of the file); the other
 * accounts keep working.
 *
 * An account starts (provider, cache source, fleet, prefetch) the first time something under
 * MOUNT/NAME/exports needs it, so a mount of hundreds of merchants costs little until they are
 * used. An edit of NAME.conf reaches an account that has not started; one that has keeps its
 * configuration until the remount (logged once). Token and secret files are read again at
 * each request, so a new token needs nothing.
 *
 * Thread-safe. Accounts are never freed before accounts_free (account.h).
 */
#ifndef ORDERFS_ACCOUNTS_H
#define ORDERFS_ACCOUNTS_H

#include <stddef.h>

#include "../../cache/cache.h"
#include "account.h"
#include "../mount/config.h"
#include "../base/perm.h"

/* What starting an account needs; the pointers must outlive the table. */
struct accounts_env {
	const struct fs_config *main; /* the main config (accounts_dir set) */
	struct cache *cache;	      /* the mount's one cache */
	struct s3_store *store;	      /* the shared store, NULL none (outlives the accounts) */
	struct prefetcher *prefetcher; /* runs the accounts' prefetch (outlives their stop) */
	struct fleet_session *fleet;   /* fleet mode: the session every account's fleet is on
					* (outlives the accounts), else NULL */
};

struct accounts;

/* An empty table; accounts_scan fills it. NULL on ENOMEM. */
struct accounts *accounts_new(const struct accounts_env *env);

/* Stop every account's prefetch thread (before cache_free). */
void accounts_stop(struct accounts *t);

/* Free every account: providers and fleets. After cache_free. NULL is a no-op. */
void accounts_free(struct accounts *t);

/* Read accounts_dir again: new files become accounts, removed ones hide theirs, and
 * gone(arg, NAME) is called (without the table's lock) for each account this scan hid, so the
 * caller can drop what the kernel remembers of it (gone may be NULL). 0, or -errno when the
 * directory cannot be read (logged; what was known stays). */
int accounts_scan(struct accounts *t, void (*gone)(void *arg, const char *name), void *arg);

/* The account NAME when its NAME.conf is there and valid now (checked with one stat, read
 * again when it changed, both without the table's lock), else NULL with *eno: -ENOENT (no
 * such valid file), -EIO (it could not be stat'ed or read now: the next lookup tries again;
 * a known account then stays as it was and is returned). */
struct fs_account *accounts_get(struct accounts *t, const char *name, int *eno);

/* Call fn for every listed account in name order, without the table's lock (fn may use the
 * table and the cache). 0, or -ENOMEM (then fn was not called). */
int accounts_foreach(struct accounts *t, void (*fn)(void *arg, struct fs_account *a),
		     void *arg);

/* The same for every account that has started, listed or hidden (counters that must never
 * go down when a file is removed: /metrics). */
int accounts_foreach_started(struct accounts *t, void (*fn)(void *arg, struct fs_account *a),
			     void *arg);

/* How many accounts are listed. */
size_t accounts_count(struct accounts *t);

/*
 * Start a if it has not started: its provider (reading its secret), its fleet membership, its
 * types in the cache, its prefetch. 0, or -EIO with the reason in a->error and one log line
 * (a bad token file, another account with the same merchant); a failed start is tried again
 * at most once a second.
 */
int accounts_start(struct accounts *t, struct fs_account *a);

/* How a stands, for /.stats and its .status: "running", "not started" or "cannot start",
 * with why it could not start ("" when it did or has not tried) in err. */
const char *accounts_state(struct accounts *t, struct fs_account *a, char *err, size_t n);

/* Who may read a's nodes: the owner, group and mode its NAME.conf (or the main config) gives
 * now, into out (perm.h). Takes the table's lock briefly. */
void accounts_perm(struct accounts *t, struct fs_account *a, struct fs_perm *out);

/* Whether a's secret or token file (its row's account_secret_key) can be read now with safe
 * permissions: "ok", or why not (never the secret) into out. */
void accounts_credentials(struct accounts *t, struct fs_account *a, char *out, size_t n);

#endif
