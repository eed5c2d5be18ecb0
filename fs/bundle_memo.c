#include "bundle_memo.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct memo_slot {
	char sha[65];
	int64_t ready_time;
	struct bundle_index ix;
	uint64_t used; /* last use, for LRU; 0 = empty */
};

struct bundle_memo {
	pthread_mutex_t lock;
	struct memo_slot slots[BUNDLE_MEMO_SLOTS];
	uint64_t clock;
};

struct bundle_memo *bundle_memo_new(void)
{
	struct bundle_memo *m = calloc(1, sizeof(*m));
	if (m && pthread_mutex_init(&m->lock, NULL)) {
		free(m);
		return NULL;
	}
	return m;
}

void bundle_memo_free(struct bundle_memo *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < BUNDLE_MEMO_SLOTS; i++)
		bundle_index_free(&m->slots[i].ix);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

static int index_copy(const struct bundle_index *from, struct bundle_index *to)
{
	to->n = 0;
	to->members = malloc((from->n ? from->n : 1) * sizeof(*to->members));
	if (!to->members)
		return -ENOMEM;
	memcpy(to->members, from->members, from->n * sizeof(*to->members));
	to->n = from->n;
	return 0;
}

/* Whether slot s holds the index of the file (sha, ready_time). Lock held. */
static int slot_is(const struct memo_slot *s, const char *sha, int64_t ready_time)
{
	return s->used && s->ready_time == ready_time && !strcmp(s->sha, sha);
}

int bundle_memo_get(struct bundle_memo *m, const char *sha, int64_t ready_time,
		    struct bundle_index *out)
{
	int rc = -ENOENT;

	memset(out, 0, sizeof(*out));
	if (!sha[0])
		return -ENOENT;
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < BUNDLE_MEMO_SLOTS; i++) {
		struct memo_slot *s = &m->slots[i];
		if (slot_is(s, sha, ready_time)) {
			s->used = ++m->clock;
			rc = index_copy(&s->ix, out);
			break;
		}
	}
	pthread_mutex_unlock(&m->lock);
	return rc;
}

void bundle_memo_put(struct bundle_memo *m, const char *sha, int64_t ready_time,
		     const struct bundle_index *ix)
{
	struct bundle_index copy;

	if (!sha[0] || strlen(sha) >= sizeof(m->slots[0].sha) || index_copy(ix, &copy))
		return;
	pthread_mutex_lock(&m->lock);
	struct memo_slot *victim = &m->slots[0];
	for (size_t i = 0; i < BUNDLE_MEMO_SLOTS; i++) {
		struct memo_slot *s = &m->slots[i];
		if (slot_is(s, sha, ready_time)) {
			victim = s;
			break;
		}
		if (s->used < victim->used)
			victim = s;
	}
	bundle_index_free(&victim->ix);
	victim->ix = copy;
	strcpy(victim->sha, sha);
	victim->ready_time = ready_time;
	victim->used = ++m->clock;
	pthread_mutex_unlock(&m->lock);
}

int bundle_memo_read(struct bundle_memo *m, const char *sha, int64_t ready_time, int fd,
		     uint64_t size, struct bundle_index *out)
{
	int rc = bundle_memo_get(m, sha, ready_time, out);

	if (rc != -ENOENT)
		return rc;
	rc = bundle_index_read(fd, size, out);
	if (rc == 0)
		bundle_memo_put(m, sha, ready_time, out);
	return rc;
}
