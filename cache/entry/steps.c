/*
 * When the last fills of this process passed each step (apply .. ready), for .status's
 * steps_ms: a ring of STEP_LOG_N rows in the cache rather than a field of every entry.
 * All functions run under cache->lock.
 */
#include "entry.h"

#include <string.h>

const char *cache_step_name(enum cache_step s)
{
	static const char *const names[CACHE_STEP_N] = {
		"applied", "generated", "url", "first_byte", "last_byte", "synced", "ready"};

	return (unsigned)s < CACHE_STEP_N ? names[s] : "?";
}

static int row_is(const struct step_log_row *r, const struct entry *e)
{
	return r->e == e && r->type == e->type && date_cmp(&r->range.start, &e->range.start) == 0 &&
	       date_cmp(&r->range.end, &e->range.end) == 0;
}

static struct step_log_row *row_find(const struct cache *c, const struct entry *e)
{
	for (unsigned i = 0; i < STEP_LOG_N; i++)
		if (row_is(&c->step_log[i], e))
			return (struct step_log_row *)&c->step_log[i];
	return NULL;
}

int64_t *steps_row(struct cache *c, const struct entry *e)
{
	struct step_log_row *r = row_find(c, e);

	if (!r) {
		r = &c->step_log[c->step_log_next++ % STEP_LOG_N];
		memset(r, 0, sizeof(*r));
		r->e = e;
		r->range = e->range;
		r->type = e->type;
	}
	return r->ms;
}

void steps_reset(struct cache *c, const struct entry *e)
{
	memset(steps_row(c, e), 0, sizeof(int64_t) * CACHE_STEP_N);
}

void steps_get(const struct cache *c, const struct entry *e, int64_t out[CACHE_STEP_N])
{
	const struct step_log_row *r = row_find(c, e);

	if (r)
		memcpy(out, r->ms, sizeof(r->ms));
	else
		memset(out, 0, sizeof(int64_t) * CACHE_STEP_N);
}
