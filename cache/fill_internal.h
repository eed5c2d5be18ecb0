/*
 * Private to the fill engine: the flight shared by its driver (fill.c: apply, poll, waits,
 * failures) and its transfer steps (fill_steps.c: URL, download or fetch, verify, commit).
 * Locking as in internal.h: none of these is called with a lock held.
 */
#ifndef ORDERFS_CACHE_FILL_INTERNAL_H
#define ORDERFS_CACHE_FILL_INTERNAL_H

#include "fill_decide.h"
#include "internal.h"

/* Beyond 0 and -errno, what a step can tell the driver. */
#define FILL_REAPPLY 1 /* the task or its file is gone: apply again */
#define FILL_NEW_URL 2 /* fill_judge: the download URL is dead, get a new one */

struct part;

struct fill {
	struct cache *c;
	struct entry *e;
	struct provider *p;
	unsigned gen;			/* e->gen this flight belongs to */
	int64_t deadline;		/* monotonic ms: export_timeout_s from the start */
	int64_t start_ms;		/* monotonic ms at the start of the flight */
	struct fill_policy policy;	/* retry limits, from the cache's configuration */
	struct fill_tries tries;	/* faults in a row, URL refreshes, closed waits */
	int reapplied;			/* re-applies done this flight (max 1) */
	int unreachable;		/* gave up after retry_limit transient faults */
	int drop_task;			/* the task is dead: do not keep its id */
	unsigned seed;			/* poll jitter */
	char task_id[PROVIDER_ID_MAX];	/* "" = apply first */
	struct export_task task;	/* last query answer */
	struct client_error err;	/* why the flight failed */
};

/* --- fill.c --- */

/* Whether this flight may still act: not stopping, not forgotten. cache->lock held. */
int fill_alive_locked(const struct fill *f);
/* The same, taking cache->lock. */
int fill_alive(struct fill *f);
/* Set the entry's state unless the flight is stale. */
void fill_set_state(struct fill *f, enum cache_state st);
/* Write the entry's current info as its .meta (durable). 0, -ECANCELED if the flight is
 * stale, or -errno of the write (then f->err says so). */
int fill_persist(struct fill *f);
/* Delete the .part unless the flight is stale. */
void fill_drop_part(struct fill *f);
/* Set err to CLIENT_E_LOCAL "<what>: <strerror>" with sys_errno = -rc. */
void fill_local_error(struct client_error *err, const char *what, int rc);
/*
 * After a failed provider call in step, act on fill_decide's verdict: 0 = waited (backoff or
 * a closed provider), call again; FILL_REAPPLY (f->err set); FILL_NEW_URL; else the flight's
 * final -errno (f->err set), or -ECANCELED when the flight stopped while waiting. pt (may be
 * NULL) is the step's .part: closed and deleted when the verdict says it cannot be trusted.
 */
int fill_judge(struct fill *f, enum fill_step step, const struct client_error *err,
	       struct part *pt);

/* --- fill_steps.c: the generated file onto the disk --- */

/* Download the generated file (or have the provider fetch its bundle), verify it and commit
 * it: 0 (READY), FILL_REAPPLY or -errno (f->err set). */
int fill_transfer(struct fill *f);

#endif
