/* Per-user counts with a cap; see user_count.h. */
#include "user_count.h"

#include <pthread.h>
#include <stdlib.h>

struct user_slot {
	uid_t uid;
	unsigned n;
	int refused; /* refused since it was last under the cap: said already */
};

struct user_count {
	pthread_mutex_t lock; /* protects slots, used, cap */
	struct user_slot *slots;
	size_t used, cap;
};

struct user_count *user_count_new(void)
{
	struct user_count *u = calloc(1, sizeof(*u));

	if (u)
		pthread_mutex_init(&u->lock, NULL);
	return u;
}

void user_count_free(struct user_count *u)
{
	if (!u)
		return;
	pthread_mutex_destroy(&u->lock);
	free(u->slots);
	free(u);
}

/* uid's slot, made (n 0) if missing; NULL on ENOMEM. u->lock held. A handful of users hold
 * files at once: a linear search is all it needs. */
static struct user_slot *slot_of(struct user_count *u, uid_t uid, int make)
{
	for (size_t i = 0; i < u->used; i++)
		if (u->slots[i].uid == uid)
			return &u->slots[i];
	if (!make)
		return NULL;
	if (u->used == u->cap) {
		size_t cap = u->cap ? 2 * u->cap : 8;
		struct user_slot *s = realloc(u->slots, cap * sizeof(*s));
		if (!s)
			return NULL;
		u->slots = s;
		u->cap = cap;
	}
	u->slots[u->used] = (struct user_slot){uid, 0, 0};
	return &u->slots[u->used++];
}

int user_count_take(struct user_count *u, uid_t uid, unsigned max, int *say)
{
	struct user_slot *s;
	int rc = -1;

	*say = 0;
	pthread_mutex_lock(&u->lock);
	if ((s = slot_of(u, uid, 1))) {
		if (max && s->n >= max) {
			*say = !s->refused;
			s->refused = 1;
		} else {
			s->n++;
			rc = 0;
		}
	}
	pthread_mutex_unlock(&u->lock);
	return rc;
}

void user_count_give(struct user_count *u, uid_t uid)
{
	struct user_slot *s;

	pthread_mutex_lock(&u->lock);
	if ((s = slot_of(u, uid, 0)) && s->n > 0) {
		s->n--;
		if (s->n == 0) /* forget users who hold nothing */
			*s = u->slots[--u->used];
	}
	pthread_mutex_unlock(&u->lock);
}

unsigned user_count_of(struct user_count *u, uid_t uid)
{
	struct user_slot *s;
	unsigned n;

	pthread_mutex_lock(&u->lock);
	n = (s = slot_of(u, uid, 0)) ? s->n : 0;
	pthread_mutex_unlock(&u->lock);
	return n;
}
