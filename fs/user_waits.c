/* Exports each user waits for, capped; see user_waits.h. */
#include "user_waits.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct user_wait {
	uid_t uid;
	char key[USER_WAITS_KEY_MAX];
	unsigned refs; /* opens of uid waiting for key */
	struct user_wait *next;
};

struct user_waits {
	pthread_mutex_t lock; /* protects head */
	struct user_wait *head;
};

struct user_waits *user_waits_new(void)
{
	struct user_waits *u = calloc(1, sizeof(*u));

	if (u)
		pthread_mutex_init(&u->lock, NULL);
	return u;
}

void user_waits_free(struct user_waits *u)
{
	if (!u)
		return;
	while (u->head) {
		struct user_wait *w = u->head;
		u->head = w->next;
		free(w);
	}
	pthread_mutex_destroy(&u->lock);
	free(u);
}

/* uid's record of key, and how many exports uid waits for in all (u->lock held). Waiting
 * opens are bounded by the FUSE threads: a list is enough. */
static struct user_wait *find(struct user_waits *u, uid_t uid, const char *key,
			      unsigned *of_uid)
{
	struct user_wait *found = NULL;

	*of_uid = 0;
	for (struct user_wait *w = u->head; w; w = w->next) {
		if (w->uid != uid)
			continue;
		(*of_uid)++;
		if (!strcmp(w->key, key))
			found = w;
	}
	return found;
}

int user_waits_take(struct user_waits *u, uid_t uid, const char *key, unsigned max)
{
	char k[USER_WAITS_KEY_MAX];
	struct user_wait *w;
	unsigned n;
	int rc = 0;

	snprintf(k, sizeof(k), "%s", key);
	pthread_mutex_lock(&u->lock);
	if ((w = find(u, uid, k, &n))) {
		w->refs++;
	} else if ((max && n >= max) || !(w = calloc(1, sizeof(*w)))) {
		rc = -1;
	} else {
		w->uid = uid;
		memcpy(w->key, k, sizeof(k));
		w->refs = 1;
		w->next = u->head;
		u->head = w;
	}
	pthread_mutex_unlock(&u->lock);
	return rc;
}

void user_waits_give(struct user_waits *u, uid_t uid, const char *key)
{
	char k[USER_WAITS_KEY_MAX];

	snprintf(k, sizeof(k), "%s", key);
	pthread_mutex_lock(&u->lock);
	for (struct user_wait **p = &u->head; *p; p = &(*p)->next) {
		struct user_wait *w = *p;
		if (w->uid != uid || strcmp(w->key, k))
			continue;
		if (--w->refs == 0) {
			*p = w->next;
			free(w);
		}
		break;
	}
	pthread_mutex_unlock(&u->lock);
}
