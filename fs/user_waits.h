/*
 * The exports each user (uid) waits for at once, to cap them (max_queued_per_user): one
 * user's hundreds of opens of ranges not exported yet must not queue hundreds of exports
 * ahead of everyone else's. An export is named by a key (its type and range); several opens
 * of one export by one user count once. Thread-safe (one mutex inside, held only briefly).
 */
#ifndef ORDERFS_USER_WAITS_H
#define ORDERFS_USER_WAITS_H

#include <sys/types.h>

#define USER_WAITS_KEY_MAX 64

struct user_waits;

/* An empty table. NULL on ENOMEM. */
struct user_waits *user_waits_new(void);

/* Free u (NULL: no-op). */
void user_waits_free(struct user_waits *u);

/* uid waits for key: 0, or -1 when uid waits for max other exports already (max 0: no cap)
 * or on ENOMEM (nothing taken). A key longer than USER_WAITS_KEY_MAX - 1 is cut. */
int user_waits_take(struct user_waits *u, uid_t uid, const char *key, unsigned max);

/* uid no longer waits for key (once per successful take). */
void user_waits_give(struct user_waits *u, uid_t uid, const char *key);

#endif
