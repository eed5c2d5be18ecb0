/*
 * cache/fill/: one flight (apply -> poll -> URL -> download or fetch -> verify -> READY) and
 * the workers that run them.
 *
 * The driver, which runs a flight from its start to its outcome and chooses between its own
 * export, the fleet's part (../fleet/) and the shared store (../shared/), is ../fill_run.c,
 * above all three: they call the acts and steps here, never the driver, and nothing here
 * calls them (a commit's SHA-256 check reaches the fleet through struct fill's check_file).
 *
 *   flight.c         the flight's own acts: alive, sleep, state and .meta, apply or take a
 *                    task, no data, step stamps, what a failed call means (fill_judge)
 *   fill_steps.c     the generated file onto the disk: URL, download or fetch, verify, commit
 *   fill_decide.c    what a failed provider call means, for every step (a pure table)
 *   poll_hint.c      where the next poll lands, from the last export's window (pure)
 *   poll_progress.c  the end predicted from the provider's percent (pure)
 *   pool.c           the workers (pool.h): below the fill, which it runs through pool_start's
 *                    function
 *
 * struct fill is the flight shared by these files and by ../fleet/ and ../shared/. Locking
 * as in ../internal.h: none of the functions here is called with a lock held.
 */
#ifndef ORDERFS_CACHE_FILL_H
#define ORDERFS_CACHE_FILL_H

#include "../entry/entry.h"
#include "../internal.h"
#include "fill_decide.h"
#include "poll_progress.h"
#include "pool.h"

/* Beyond 0 and -errno, what a step can tell the driver. */
#define FILL_REAPPLY 1 /* the task or its file is gone: apply again */
#define FILL_NEW_URL 2 /* fill_judge: the download URL is dead, get a new one */
#define FILL_STORE_MISS 4 /* fill_from_store: no usable file in the shared store */
#define FILL_FROM_STORE 5 /* fill_fleet_task: the file came from the store (READY) */

struct part;
struct s3_pointer;

struct fill {
	struct cache *c;
	struct entry *e;
	struct cache_source *src;	/* the entry's source */
	struct provider *p;		/* its provider */
	char range_str[DATE_RANGE_STR_LEN]; /* the entry's range, for log lines */
	unsigned gen;			/* e->gen this flight belongs to */
	int64_t deadline;		/* monotonic ms: export_timeout_s from the start */
	int64_t start_ms;		/* monotonic ms at the start of the flight */
	struct fill_policy policy;	/* retry limits, from the cache's configuration */
	struct fill_tries tries;	/* faults in a row, URL refreshes, closed waits */
	int reapplied;			/* re-applies done this flight (max 1) */
	int unreachable;		/* gave up after retry_limit transient faults */
	int drop_task;			/* the task is dead: do not keep its id */
	unsigned seed;			/* poll jitter */
	int64_t applied_ms;		/* monotonic ms of this flight's own apply; 0 = none */
	int64_t pending_seen_ms;	/* since the apply: the last poll that saw it pending */
	unsigned polls;			/* status queries this flight made */
	struct poll_progress progress;	/* the provider's percent while generating, its task */
	unsigned poll_turn;		/* its turn among a wave's polls (poll_hint_wait) */
	char task_id[PROVIDER_ID_MAX];	/* "" = apply first */
	struct export_task task;	/* last query answer */
	struct client_error err;	/* why the flight failed */

	/* Fleet mode (fill_fleet.c). */
	enum cache_fleet_role role;	 /* this host's part in this flight */
	int64_t token;			 /* HOLDER: the claim's fencing token */
	int fenced;			 /* HOLDER: a record write was refused: no more writes */
	int slot;			 /* the fleet export slot held, -1 none */
	int alone_slot;			 /* counted in cache->fleet_alone_running */
	int adopted;			 /* the task came from another host's record */
	char dead_task[PROVIDER_ID_MAX]; /* found gone: never adopted again this flight */
	char key_str[KEY_STR_MAX];	 /* the export key, as the fleet knows it */
	char verified_task[PROVIDER_ID_MAX]; /* a task whose file the fleet verified ("" none), */
	char verified_sha[KEY_HASH_LEN];     /* its SHA-256 */
	int64_t verified_size;		     /* and size: kept in the records this flight writes */
	int store_tried;		 /* fill_wait_store ran in this flight */
	int from_store;			 /* the file came from the shared store (shared.c) */
	int keep_longer;		 /* from the store, kept longer than its pointer says
					  * (store_keep): its pointer is written again */
	char want_sha[KEY_HASH_LEN];	 /* "" or the SHA-256 fill_commit must find (a store
					  * object's: checked on the part's own hash) */
	const struct s3_pointer *take;	 /* NULL, or the pointer whose fields the entry takes
					  * once fill_commit found want_sha (shared.c) */
	/* Before a file goes READY, fill_commit has the flight check its SHA-256 here: 0, or
	 * -errno (f->err set) and the file is dropped. The driver sets it at the flight's start
	 * (fill_fleet_check): the commit sits below the fleet's part of the flight, which reaches
	 * it through the shared store. */
	int (*check_file)(struct fill *f, const char *sha);
};

/* --- flight.c: the flight's own acts (the driver, ../fill_run.c, calls them) --- */

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

/* One debug line "+N ms WHAT" timing the flight's steps from its start (apply, each poll,
 * URL, first and last byte, hash + fsync, rename, ready): the breakdown of a cold read. */
void fill_mark(const struct fill *f, const char *what);
/* fill_mark of step s, and its time (unix ms) in the entry's cache_info.step_ms while the
 * flight is alive, for .status. Takes cache->lock. */
void fill_stamp(const struct fill *f, enum cache_step s);
/* Sleep ms unless the flight must stop: 0, or -ECANCELED. */
int fill_sleep(struct fill *f, long ms);
/* Apply for a new task (check first) and persist its id: 0, or -errno (f->err set). */
int fill_apply(struct fill *f);
/* Make t the flight's task: on disk first, then in memory (no apply counted). 0 or -errno. */
int fill_take_task(struct fill *f, const struct export_task *t);
/* Nothing in the range: remembered as NO_DATA. -ENODATA, or -errno of the write. */
int fill_no_data(struct fill *f);

/* --- fill_steps.c: the generated file onto the disk --- */

/* Download the generated file (or have the provider fetch its bundle), verify it and commit
 * it: 0 (READY), FILL_REAPPLY or -errno (f->err set). */
int fill_transfer(struct fill *f);
/* Open (or resume) the entry's .part with the fill's hooks (room, progress, cancel). 0 or
 * -errno (f->err set). */
int fill_open_part(struct fill *f, struct part *pt);
/* .part -> .data, .meta READY from the entry's info. Takes ownership of pt (closes it).
 * 0 or -errno (f->err set). */
int fill_commit(struct fill *f, struct part *pt);

#endif
