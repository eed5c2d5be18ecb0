/*
 * Counts per user (uid) of something each user may hold only so many of (open files): one
 * local user's thousands of opens must fail for that user alone, not for everyone.
 * Thread-safe (one mutex inside, held only for the count).
 */
#ifndef ORDERFS_USER_COUNT_H
#define ORDERFS_USER_COUNT_H

#include <sys/types.h>

struct user_count;

/* An empty table. NULL on ENOMEM. */
struct user_count *user_count_new(void);

/* Free u (NULL: no-op). */
void user_count_free(struct user_count *u);

/*
 * One more for uid unless it holds max already (max 0: no cap). 0, or -1 at the cap (nothing
 * taken) or on ENOMEM. *say is set to 1 on the first refusal since uid last held nothing (one
 * log line per episode, however long the user stays at the cap), else 0.
 */
int user_count_take(struct user_count *u, uid_t uid, unsigned max, int *say);

/* Give back one that user_count_take gave uid. */
void user_count_give(struct user_count *u, uid_t uid);

/* How many uid holds now. */
unsigned user_count_of(struct user_count *u, uid_t uid);

#endif
