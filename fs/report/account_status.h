/*
 * MOUNT/NAME/.status with accounts_dir: one account's health as JSON, from its start, its
 * credentials file and the cache's snapshots of its exports (reading it never starts an
 * export, and never starts the account).
 */
#ifndef ORDERFS_ACCOUNT_STATUS_H
#define ORDERFS_ACCOUNT_STATUS_H

#include <stddef.h>

struct orderfs;
struct fs_account;

/*
 * The JSON text, malloc'd and NUL-terminated, its length in *len; NULL on ENOMEM. Says:
 * "state" (running, not started, cannot start) and "error" (why not); "credentials" (its
 * secret or token file readable with safe permissions now: "ok", or why not); "token"
 * ("valid": the latest export that ended got its file; "refused": it ended in an
 * authentication error; "unknown"); "last_error" (the latest failed export: range, when,
 * errno, kind, code, msg); "exports" (in_flight, queued, ready, failed); "fleet" in fleet
 * mode. Never a secret.
 */
char *account_status_render(struct orderfs *o, struct fs_account *a, size_t *len);

#endif
