/*
 * The public cache API and single-flight.
 *
 * Design note.
 *
 * One entry per key (provider|account|type|language|range) lives in memory from the first
 * time it is seen until cache_free. Its truth on disk is <hash>.meta plus <hash>.data/.part
 * (store.h). Memory is authoritative while the process runs; the disk is what a crash leaves,
 * and every step that matters (task id, DOWNLOADING, READY) is made durable before the next
 * step starts, so a restart resumes a task instead of applying twice.
 *
 * Single-flight: at most one flight (fill) per entry is queued or running (entry->filling).
 * cache_open starts one if none runs, or joins the running one, then waits on cache->wake
 * until entry->flight changes; every waiter of that flight sees the same entry->result. A
 * waiter's cancellation only ends its own wait. cache_forget bumps entry->gen, which makes the
 * running flight stop at its next check and never touch the disk again.
 *
 * Consistency: a reader gets a handle on the .data inode; the file is replaced by rename and
 * deleted by unlink, never truncated, so a handle keeps reading the bytes it opened even when
 * the entry expires, is re-exported, forgotten or evicted meanwhile.
 *
 * Expiry: READY is served until the server's fileExpires (cache_info.expires, unix s, clock
 * cfg.now_ms); from then on the entry reads as EXPIRED, the next cache_open starts a new
 * export, and the sweeper deletes expired files every sweep_interval_s. NO_DATA is served as
 * -ENODATA for nodata_ttl_s after it was learned; FAILED is retried on the next open.
 *
 * Freshness (fresh.h): a READY file exported before its range closed also reads as EXPIRED
 * from fresh_until on, and the next open exports the range again. The old file's info is kept
 * (entry->old) while that export runs: with open_refresh_background opens get the old file at
 * once, and if the export fails the entry becomes the old file again, marked stale, instead of
 * FAILED. The open that waited for a flight always gets that flight's file.
 */
#include "internal.h"
#include "entry/entry.h"
#include "fill/fill.h"
#include "fill_run.h"
#include "fleet/fleet.h"
#include "entry/shared_pointer.h"
#include "shared/shared.h"
#include "upkeep/upkeep.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/clock.h"
#include "../common/log.h"

/*
 * One descriptor of a .data file, shared by every handle on that inode: reads are preads, so
 * one reader holding thousands of opens of an export costs orderfs one descriptor, not
 * thousands. The entry points to the one of its current .data (entry->data_fd); one whose
 * file was replaced meanwhile lives on, detached, until its last handle closes.
 */
struct data_fd {
	int fd;
	dev_t dev;
	ino_t ino;
	struct cache_file_info info; /* snapshot taken with the open */
	unsigned refs;		     /* handles on it (cache->lock) */
};

struct cache_handle {
	struct cache *c;
	struct entry *e;
	struct data_fd *d;
};

const char *cache_fleet_role_name(enum cache_fleet_role r)
{
	switch (r) {
	case CACHE_FLEET_NONE:
		return "none";
	case CACHE_FLEET_HOLDER:
		return "holder";
	case CACHE_FLEET_FOLLOWER:
		return "follower";
	case CACHE_FLEET_ALONE:
		return "alone";
	}
	return "unknown";
}

static int def(int v, int d)
{
	return v > 0 ? v : d;
}

static void cache_stop(struct cache *c)
{
	pthread_mutex_lock(&c->lock);
	c->stopping = 1;
	pthread_cond_broadcast(&c->wake);
	pthread_cond_broadcast(&c->work);
	pthread_cond_broadcast(&c->upload_wake);
	pthread_mutex_unlock(&c->lock);
	pool_join(c);
	shared_stop(c);
	if (c->sweeper_started)
		pthread_join(c->sweeper, NULL);
	if (c->recoverer_started)
		pthread_join(c->recoverer, NULL);
	c->sweeper_started = c->recoverer_started = 0;
	fleet_rate_stop(c);
}

/* Copy cfg with its defaults applied, and the strings it points to. -ENOMEM. */
static int cache_config_copy(struct cache *c, const struct cache_config *cfg)
{
	c->cfg = *cfg;
	c->dir = strdup(cfg->dir);
	c->language = strdup(cfg->language ? cfg->language : "");
	if (!c->dir || !c->language)
		return -ENOMEM;
	c->cfg.dir = c->dir;
	c->cfg.language = c->language;
	c->cfg.report_type0 = NULL; /* the first source's */
	c->cfg.fleet = NULL;	    /* fleet mode is per source */
	c->cfg.max_exports = def(cfg->max_exports, 2);
	c->cfg.export_timeout_s = def(cfg->export_timeout_s, 1800);
	c->cfg.nodata_ttl_s = def(cfg->nodata_ttl_s, 3600);
	c->cfg.settle_delay_s = cfg->settle_delay_s < 0 ? 0 : def(cfg->settle_delay_s, 3600);
	c->cfg.open_ttl_s = def(cfg->open_ttl_s, 900);
	c->cfg.open_refresh_background = cfg->open_refresh_background;
	c->cfg.poll_initial_ms = def(cfg->poll_initial_ms, 500);
	c->cfg.poll_max_ms = def(cfg->poll_max_ms, 10000);
	if (c->cfg.poll_max_ms < c->cfg.poll_initial_ms)
		c->cfg.poll_max_ms = c->cfg.poll_initial_ms;
	c->cfg.retry_initial_ms = def(cfg->retry_initial_ms, 500);
	c->cfg.retry_max_ms = def(cfg->retry_max_ms, 8000);
	if (c->cfg.retry_max_ms < c->cfg.retry_initial_ms)
		c->cfg.retry_max_ms = c->cfg.retry_initial_ms;
	c->cfg.retry_limit = def(cfg->retry_limit, 5);
	c->cfg.sweep_interval_s = def(cfg->sweep_interval_s, 60);
	c->cfg.worker_idle_ms = def(cfg->worker_idle_ms, 2000);
	if (c->cfg.max_file_size == 0)
		c->cfg.max_file_size = c->cfg.max_size ? c->cfg.max_size : CACHE_DEFAULT_MAX_FILE;
	return 0;
}

/* cache_new's provider as the first source: cfg's report_type0, fleet fields and max_exports.
 * -EINVAL (a key field), -ENOMEM, or -errno of the fleet rate thread. */
static int cache_first_source(struct cache *c, const struct cache_config *cfg,
			      struct provider *prov)
{
	struct cache_source_config sc = {
		.account = NULL,
		.report_type0 = cfg->report_type0,
		.max_exports = c->cfg.max_exports,
		.fleet = cfg->fleet,
		.fleet_refuse = cfg->fleet_refuse,
		.fleet_ttl_s = cfg->fleet_ttl_s,
		.fleet_max_exports = cfg->fleet_max_exports,
		.fleet_rate_cap = cfg->fleet_rate_cap,
		.store = cfg->store,
		.store_prefix = cfg->store_prefix,
		.store_writer = cfg->store_writer,
	};

	return prov ? cache_add_source(c, prov, &sc, NULL) : 0;
}

static void cache_io_locks_destroy(struct cache *c)
{
	for (int i = 0; i < IO_LOCKS; i++)
		pthread_mutex_destroy(&c->io_locks[i]);
}

/* The entries' io locks (internal.h); 0, or -ENOMEM with none made. */
static int cache_io_locks_init(struct cache *c)
{
	for (int i = 0; i < IO_LOCKS; i++)
		if (pthread_mutex_init(&c->io_locks[i], NULL) != 0) {
			while (i-- > 0)
				pthread_mutex_destroy(&c->io_locks[i]);
			return -ENOMEM;
		}
	return 0;
}

/* The lock, the four condition variables (CLOCK_MONOTONIC) and the io locks. 0, or -ENOMEM
 * with none made. */
static int cache_sync_init(struct cache *c)
{
	pthread_cond_t *conds[] = {&c->wake, &c->work, &c->upload_wake, &c->poll_wake};
	size_t n = 0;

	if (cache_io_locks_init(c) != 0)
		return -ENOMEM;
	if (pthread_mutex_init(&c->lock, NULL) != 0) {
		cache_io_locks_destroy(c);
		return -ENOMEM;
	}
	while (n < sizeof(conds) / sizeof(conds[0]) && clock_mono_cond_init(conds[n]) == 0)
		n++;
	if (n == sizeof(conds) / sizeof(conds[0]))
		return 0;
	while (n > 0) /* undo what was made, newest first */
		pthread_cond_destroy(conds[--n]);
	pthread_mutex_destroy(&c->lock);
	cache_io_locks_destroy(c);
	return -ENOMEM;
}

/* Undo cache_sync_init (no thread left). */
static void cache_sync_destroy(struct cache *c)
{
	pthread_cond_destroy(&c->poll_wake);
	pthread_cond_destroy(&c->upload_wake);
	pthread_cond_destroy(&c->work);
	pthread_cond_destroy(&c->wake);
	pthread_mutex_destroy(&c->lock);
	cache_io_locks_destroy(c);
}

/* Free what cache_new allocated (threads and sync objects already gone). */
static void cache_release(struct cache *c)
{
	entry_free_all(c);
	source_free_all(c);
	free(c->dir);
	free(c->language);
	free(c);
}

struct cache *cache_new(const struct cache_config *cfg, struct provider *prov, int *err)
{
	struct cache *c = NULL;
	int rc = -EINVAL, synced = 0;

	if (!cfg || !cfg->dir || (cfg->language && !key_field_ok(cfg->language)) ||
	    (prov && (!prov->ops || !prov->types || prov->ntypes == 0 ||
		      !key_field_ok(prov->name) || !key_field_ok(prov->account))))
		goto fail;
	rc = -ENOMEM;
	c = calloc(1, sizeof(*c));
	if (!c)
		goto fail;
	if ((rc = cache_config_copy(c, cfg)) != 0 || (rc = store_init(&c->store, c->dir)) != 0 ||
	    (rc = cache_sync_init(c)) != 0)
		goto fail;
	synced = 1;
	/* The pool runs flights with fill_run: passed down, as the pool sits below the fill that
	 * borrows and gives back its slots. Before the first source, whose orphans may resume. */
	if ((rc = pool_start(c, fill_run)) != 0 || (rc = cache_first_source(c, cfg, prov)) != 0 ||
	    (rc = sweep_start(c)) != 0 || (rc = recover_start(c)) != 0)
		goto fail;
	return c;
fail:
	if (synced) {
		cache_stop(c);
		cache_sync_destroy(c);
	}
	if (c)
		cache_release(c);
	if (err)
		*err = rc;
	return NULL;
}

void cache_free(struct cache *c)
{
	if (!c)
		return;
	cache_stop(c);
	cache_sync_destroy(c);
	cache_release(c);
}

/* Where e's ready file came from and, when it is in the shared store, the object's key
 * (derived: the store holds it under its SHA-256). Caller holds cache->lock. */
static void cache_lookup_source(const struct entry *e, struct cache_info *out)
{
	static const char *const names[] = {"", "provider", "store"};

	snprintf(out->source, sizeof(out->source), "%s", names[e->source]);
	if (out->state == CACHE_READY && !out->source[0])
		snprintf(out->source, sizeof(out->source), "cache"); /* an earlier run's */
	if (e->in_store)
		shared_entry_object(e, out->store_key, sizeof(out->store_key));
}

int cache_lookup(struct cache *c, size_t type, const struct date_range *r,
		 struct cache_info *out)
{
	struct entry *e;
	int err = 0;

	memset(out, 0, sizeof(*out));
	out->state = CACHE_ABSENT;
	out->progress = -1;
	client_error_clear(&out->last_error);
	pthread_mutex_lock(&c->lock);
	e = entry_get(c, type, r, 0, &err);
	if (e) {
		entry_info_get(e, out);
		out->state = entry_state(c, e);
		entry_freshness(c, e, &out->complete, &out->fresh_until);
		out->stale = e->stale || (e->old && out->state == CACHE_WAITING);
		out->old_size = e->old ? e->old->size : 0;
		if (e->kind && e->kind->src->store)
			snprintf(out->store_error, sizeof(out->store_error), "%s",
				 e->kind->src->store_error);
		cache_lookup_source(e, out);
		steps_get(c, e, out->step_ms);
		if (out->state == CACHE_WAITING && e->info.state == CACHE_QUEUED) {
			/* Queued behind the waiting flight: it waits for the same opening. */
			out->wait_until = (e->kind->src->closed_until_ms + 999) / 1000;
			out->last_error = e->kind->src->closed_err;
			out->last_errno = EAGAIN;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return 0;
}

/* Wait on cache->wake for at most 100 ms. cache->lock held. */
static void cache_wait_tick(struct cache *c)
{
	struct timespec ts;

	clock_mono_deadline(&ts, 100);
	pthread_cond_timedwait(&c->wake, &c->lock, &ts);
}

/* The entry's shared descriptor if it is still on the file at path, with one more reference;
 * else NULL. Its io lock held (no new .data can be committed meanwhile), cache->lock not. */
static struct data_fd *data_fd_reuse(struct cache *c, struct entry *e, const char *path)
{
	struct data_fd *d;
	struct stat st;

	if (lstat(path, &st) != 0)
		return NULL; /* the open that follows says why */
	pthread_mutex_lock(&c->lock);
	d = e->data_fd;
	if (d && d->dev == st.st_dev && d->ino == st.st_ino)
		d->refs++;
	else
		d = NULL;
	pthread_mutex_unlock(&c->lock);
	return d;
}

/* Open the .data at path as the entry's new shared descriptor, with a snapshot of what it
 * is (taken with e's io lock held by the caller, so both describe the same file). */
static int data_fd_open(struct cache *c, struct entry *e, const char *path, struct data_fd **out)
{
	struct cache_file_info info;
	struct data_fd *d;
	struct stat st;
	int fd;

	pthread_mutex_lock(&c->lock);
	const struct entry_info *now = e->info.state != CACHE_READY && e->old ? e->old : &e->info;
	info.size = now->size;
	info.ready_time = now->ready_time;
	entry_sha256_hex(now, info.sha256);
	if (now->state != CACHE_READY)
		info.sha256[0] = '\0';
	pthread_mutex_unlock(&c->lock);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0 || !(d = calloc(1, sizeof(*d)))) {
		int rc = errno ? -errno : -ENOMEM;
		close(fd);
		return rc;
	}
	if ((uint64_t)st.st_size != info.size) {
		info.size = (uint64_t)st.st_size;
		info.sha256[0] = '\0'; /* not the file the entry describes: vouch for nothing */
	}
	d->fd = fd;
	d->dev = st.st_dev;
	d->ino = st.st_ino;
	d->info = info;
	d->refs = 1;
	pthread_mutex_lock(&c->lock);
	e->data_fd = d; /* an older one stays with its handles, detached */
	pthread_mutex_unlock(&c->lock);
	*out = d;
	return 0;
}

/*
 * A handle on the data file of a READY entry whose open_refs we hold: on the entry's shared
 * descriptor when it is still on the current .data, else on a new one. The entry's io lock is
 * held throughout, so a fill cannot commit a new .data (it renames under it) between
 * the look and the open. cache->lock NOT held.
 */
static int cache_open_data(struct cache *c, struct entry *e, struct cache_handle **h)
{
	char path[PATH_MAX];
	struct cache_handle *hd = calloc(1, sizeof(*hd));
	struct data_fd *d;
	int rc = 0;

	if (!hd)
		return -ENOMEM;
	store_path(&c->store, entry_hex(e).s, ".data", path);
	pthread_mutex_lock(entry_io_lock(c, e));
	if (!(d = data_fd_reuse(c, e, path)))
		rc = data_fd_open(c, e, path, &d);
	pthread_mutex_unlock(entry_io_lock(c, e));
	if (rc) {
		free(hd);
		return rc;
	}
	hd->c = c;
	hd->e = e;
	hd->d = d;
	*h = hd;
	return 0;
}

/* A cache_open's progress: the flight it waits for, and what it counted. */
struct open_wait {
	unsigned my_flight;
	int joined, counted, reopened;
	int flight_done; /* the flight we waited for made the file: ours, however short its
			  * open_ttl (it may be past fresh_until already) */
	long who;	 /* the requester, for its turn in the queue (cache_open_as) */
};

enum open_step { OPEN_DONE, OPEN_AGAIN, OPEN_WAIT };

/* A READY entry: take a handle on its file. OPEN_AGAIN when the file vanished under us the
 * first time (the entry is reset: fetch it again). cache->lock held, dropped meanwhile. */
static enum open_step open_ready(struct cache *c, struct entry *e, struct open_wait *w,
				 struct cache_handle **h, int *rc)
{
	if (!w->counted)
		entry_counts(c, e)->n_hits++;
	e->open_refs++;
	pthread_mutex_unlock(&c->lock);
	*rc = cache_open_data(c, e, h);
	pthread_mutex_lock(&c->lock);
	if (*rc == 0) {
		entry_touch(c, e);
		return OPEN_DONE;
	}
	e->open_refs--;
	if (*rc != -ENOENT || w->reopened++)
		return OPEN_DONE;
	/* The data file vanished under us: forget it and fetch it again. */
	log_warn("cache: %s: data file missing, exporting again", entry_name(e).s);
	if (e->info.state == CACHE_READY && !e->filling)
		entry_reset(e);
	w->counted = 1;
	return OPEN_AGAIN;
}

/* open_ready behind the credential gate (cred.c): an account's ready file, the old one
 * served during a refresh included, only once its provider accepted the account's
 * credentials (for Mogujie, a token of the seller the file belongs to). cache->lock held,
 * dropped meanwhile. */
static enum open_step open_gated(struct cache *c, struct entry *e, struct open_wait *w,
				 struct cache_handle **h, int *rc)
{
	/* The file served: the old one while its refresh runs (as cache_open_data picks). */
	const struct entry_info *file = e->info.state != CACHE_READY && e->old ? e->old : &e->info;
	int g = cred_gate(c, e->kind->src, e->info.task_id, file->owner);

	if (g < 0) {
		*rc = g;
		return OPEN_DONE;
	}
	if (g != CRED_OPEN) /* the lock was or will be dropped: look again */
		return g == CRED_WAIT ? OPEN_WAIT : OPEN_AGAIN;
	return open_ready(c, e, w, h, rc);
}

/* Whether "no data" is still remembered for e. cache->lock held. */
static int nodata_fresh(struct cache *c, const struct entry *e, enum cache_state st)
{
	return st == CACHE_NO_DATA &&
	       cache_now_ms(c) / 1000 - e->info.learned_time < c->cfg.nodata_ttl_s;
}

/* Queue a flight for e (not filling): a new export unless a task is to be resumed. 0, or
 * -ENOMEM (nothing queued: the old file of a refresh could not be kept). */
static int open_enqueue(struct cache *c, struct entry *e, enum cache_state st, long who)
{
	if (st == CACHE_EXPIRED && !entry_server_expired(c, e)) {
		/* served meanwhile and again if this export fails */
		if (entry_keep_old(e) != 0) {
			log_err("cache: %s: out of memory starting its refresh", entry_name(e).s);
			return -ENOMEM;
		}
		entry_counts(c, e)->n_refreshes++;
		log_info("cache: %s: exported while its range was open; exporting it again",
			 entry_name(e).s);
	}
	if (st == CACHE_EXPIRED || st == CACHE_NO_DATA)
		entry_str_set(&e->info.task_id, ""); /* a new export, not the old task */
	e->queued_by = who;
	pool_enqueue(c, e);
	return 0;
}

/* One look at e for a cache_open: done (*rc, *h set), look again at once, or wait for the
 * next change. cache->lock held. */
static enum open_step open_step(struct cache *c, struct entry *e, struct open_wait *w,
				struct cache_handle **h, int *rc)
{
	enum cache_state st;

	if (c->stopping) {
		*rc = -EINTR;
		return OPEN_DONE;
	}
	if (w->joined && e->flight != w->my_flight) {
		w->joined = 0; /* our flight ended: its result is ours */
		/* ... unless it was a refresh that failed: then the old file is served (stale) */
		if (e->result != 0 && !(e->stale && e->info.state == CACHE_READY)) {
			*rc = e->result == -ECANCELED ? -EINTR : e->result;
			return OPEN_DONE;
		}
		w->flight_done = 1;
	}
	st = entry_state(c, e);
	if (e->filling && e->fill_gen == e->gen && e->old &&
	    (st == CACHE_WAITING || c->cfg.open_refresh_background))
		return open_gated(c, e, w, h, rc); /* the old file while its refresh runs */
	if (e->filling && e->fill_gen == e->gen && st == CACHE_WAITING) {
		/* The provider is closed for now: say so at once; the flight waits on. */
		entry_counts(c, e)->n_errors++;
		entry_counts(c, e)->n_err_again++;
		*rc = -EAGAIN;
		return OPEN_DONE;
	}
	if (!e->filling && (st == CACHE_READY || (w->flight_done && e->info.state == CACHE_READY)))
		return open_gated(c, e, w, h, rc);
	if (!e->filling && nodata_fresh(c, e, st)) {
		*rc = -ENODATA;
		return OPEN_DONE;
	}
	if (!e->filling && e->info.task_id[0] && st != CACHE_EXPIRED && st != CACHE_NO_DATA) {
		/* Resuming a task (one an earlier run left): the same gate as a ready file. */
		int g = cred_gate(c, e->kind->src, e->info.task_id, e->info.owner);
		if (g < 0) {
			*rc = g;
			return OPEN_DONE;
		}
		if (g != CRED_OPEN)
			return g == CRED_WAIT ? OPEN_WAIT : OPEN_AGAIN;
	}
	if (!e->filling) {
		if ((*rc = open_enqueue(c, e, st, w->who)) != 0)
			return OPEN_DONE;
		if (e->old && c->cfg.open_refresh_background)
			return open_gated(c, e, w, h, rc); /* the old file; the export runs behind */
		w->joined = 1;
		w->my_flight = e->flight;
	} else if (!w->joined && e->fill_gen == e->gen) {
		w->joined = 1;
		w->my_flight = e->flight;
	}
	if (w->joined && !w->counted) {
		entry_counts(c, e)->n_misses++;
		w->counted = 1;
	}
	return OPEN_WAIT;
}

int cache_open(struct cache *c, size_t type, const struct date_range *r,
	       cache_cancel_fn cancelled, void *arg, struct cache_handle **h)
{
	return cache_open_as(c, type, r, CACHE_WHO_NONE, cancelled, arg, h);
}

int cache_open_as(struct cache *c, size_t type, const struct date_range *r, long who,
		  cache_cancel_fn cancelled, void *arg, struct cache_handle **h)
{
	struct open_wait w = {0, 0, 0, 0, 0, who};
	struct entry *e;
	enum open_step step;
	int rc = 0;

	*h = NULL;
	pthread_mutex_lock(&c->lock);
	e = entry_get(c, type, r, 1, &rc);
	if (!e) {
		pthread_mutex_unlock(&c->lock);
		return rc;
	}
	e->waiters++;
	while ((step = open_step(c, e, &w, h, &rc)) != OPEN_DONE) {
		if (step == OPEN_AGAIN)
			continue;
		cache_wait_tick(c);
		if (cancelled) {
			pthread_mutex_unlock(&c->lock);
			int stop = cancelled(arg);
			pthread_mutex_lock(&c->lock);
			if (stop) {
				rc = -EINTR;
				break;
			}
		}
	}
	e->waiters--;
	if (rc == -EINTR) /* the reader is gone: its export may be wanted by nobody now */
		pool_drop_unwanted(c, e);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int cache_peek(struct cache *c, size_t type, const struct date_range *r, int *fd,
	       uint64_t *size)
{
	char path[PATH_MAX];
	struct entry *e;
	struct stat st;
	int rc = 0;

	pthread_mutex_lock(&c->lock);
	for (int g = CRED_AGAIN; g != CRED_OPEN;) {
		/* entry_get, not entry_find: before the recovery scan has loaded a READY entry,
		 * read its .meta as cache_lookup does, or a bundle is invisible for a while after
		 * a restart. */
		e = entry_get(c, type, r, 0, &rc);
		/* The file an open would get: READY, an open one past its freshness, or the old
		 * file served while its refresh runs (open_refresh = background, a failed
		 * refresh). */
		if (!e || !(entry_state(c, e) == CACHE_READY || e->old ||
			    (e->info.state == CACHE_READY && !entry_server_expired(c, e)))) {
			pthread_mutex_unlock(&c->lock);
			return -ENOENT;
		}
		const struct entry_info *file =
			e->info.state != CACHE_READY && e->old ? e->old : &e->info;
		if ((g = cred_gate(c, e->kind->src, e->info.task_id, file->owner)) < 0) {
			pthread_mutex_unlock(&c->lock);
			return g;
		}
		if (g == CRED_WAIT)
			cache_wait_tick(c);
	}
	store_path(&c->store, entry_hex(e).s, ".data", path);
	pthread_mutex_unlock(&c->lock);
	*fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (*fd < 0)
		return -errno;
	if (fstat(*fd, &st) != 0) {
		rc = -errno;
		close(*fd);
		*fd = -1;
		return rc;
	}
	*size = (uint64_t)st.st_size;
	return 0;
}

int cache_handle_fd(const struct cache_handle *h)
{
	return h->d->fd;
}

uint64_t cache_handle_size(const struct cache_handle *h)
{
	return h->d->info.size;
}

void cache_handle_info(const struct cache_handle *h, struct cache_file_info *out)
{
	*out = h->d->info;
}

void cache_handle_close(struct cache_handle *h)
{
	struct data_fd *last = NULL;

	if (!h)
		return;
	pthread_mutex_lock(&h->c->lock);
	h->e->open_refs--;
	if (--h->d->refs == 0) {
		last = h->d;
		if (h->e->data_fd == last)
			h->e->data_fd = NULL;
	}
	pthread_mutex_unlock(&h->c->lock);
	if (last) {
		close(last->fd);
		free(last);
	}
	free(h);
}

int cache_forget(struct cache *c, size_t type, const struct date_range *r)
{
	struct entry *e;
	int rc = 0;

	pthread_mutex_lock(&c->lock);
	e = entry_get(c, type, r, 0, &rc);
	if (!e || (e->info.state == CACHE_ABSENT && !(e->filling && e->fill_gen == e->gen))) {
		pthread_mutex_unlock(&c->lock);
		return -ENOENT;
	}
	pthread_mutex_unlock(&c->lock);

	pthread_mutex_lock(entry_io_lock(c, e));
	pthread_mutex_lock(&c->lock);
	e->gen++; /* the flight in progress, if any, is now stale */
	entry_reset(e);
	pthread_cond_broadcast(&c->wake);
	pthread_mutex_unlock(&c->lock);
	store_remove(&c->store, entry_hex(e).s);
	pthread_mutex_unlock(entry_io_lock(c, e));
	if (e->kind) {
		struct cache_key k;
		if (kind_key(c, e->kind, &e->range, &k) == 0)
			fill_fleet_forget(e->kind->src, &k); /* fleet-wide: the next read exports */
	}
	log_info("cache: %s: forgotten", entry_name(e).s);
	return 0;
}

/* What cache_foreach lists: (type, range) with the hash, so the disk pass skips known ones. */
struct listed {
	struct date_range r;
	size_t type;
	int absent; /* known to memory as ABSENT: not listed */
	char hash[KEY_HASH_LEN];
};

struct range_list {
	struct listed *v;
	size_t n, cap;
};

static int range_list_add(struct range_list *l, size_t type, const struct date_range *r,
			  const char *hash, int absent)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct listed *v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n].r = *r;
	l->v[l->n].type = type;
	l->v[l->n].absent = absent;
	memcpy(l->v[l->n].hash, hash, KEY_HASH_LEN);
	l->n++;
	return 0;
}

/* Before the recovery scan has finished, add the ranges only the disk knows. A .meta that
 * cannot be read (or whose data file cannot be checked) is left out with a debug line, so one
 * bad file never fails every listing. 0 or -errno (the directory cannot be read, or this
 * process is out of descriptors or memory). */
static int listed_hash_cmp(const void *a, const void *b)
{
	return strcmp(((const struct listed *)a)->hash, ((const struct listed *)b)->hash);
}

static int foreach_disk(struct cache *c, struct range_list *known)
{
	size_t nmem = known->n;
	DIR *d = opendir(c->store.vdir);
	struct dirent *de;
	int rc = 0;

	if (!d)
		return -errno;
	/* Sorted by hash, so each name on disk is checked in O(log n), not against every entry.
	 * (None known: v may be NULL, which qsort must not get.) */
	if (nmem > 1)
		qsort(known->v, nmem, sizeof(*known->v), listed_hash_cmp);
	while (rc == 0 && (de = readdir(d)) != NULL) {
		char hash[KEY_HASH_LEN], kind;
		struct store_meta m;
		size_t type;
		struct listed probe;
		int own;

		enum meta_use use;
		if (!store_name_parse(&c->store, de->d_name, hash, &kind, &own) || kind != 'm')
			continue;
		memcpy(probe.hash, hash, KEY_HASH_LEN);
		if (nmem && bsearch(&probe, known->v, nmem, sizeof(*known->v), listed_hash_cmp))
			continue;
		rc = store_meta_read(&c->store, hash, &m);
		if (rc == -ENOENT || rc == -EBADMSG) {
			rc = 0; /* gone meanwhile, or corrupt: not a range to list */
			continue;
		}
		if (rc == -EMFILE || rc == -ENFILE || rc == -ENOMEM || rc == -EINTR)
			break; /* this process is short of something: the listing would be short */
		if (rc != 0) {
			/* That one file cannot be read (EISDIR, EIO): one bad .meta must not fail
			 * every listing; the recovery scan logs it and tries it again. */
			log_debug("cache: listing without %s.meta: %s", hash, strerror(-rc));
			rc = 0;
			continue;
		}
		use = entry_meta_usable(c, hash, &m, &type);
		if (use == META_USABLE)
			rc = range_list_add(known, type, &m.key.range, hash, 0);
		else if (use == META_UNCHECKED)
			log_debug("cache: listing without %s.meta: its data file cannot be checked",
				  hash);
	}
	closedir(d);
	return rc;
}

/* Pass l's ranges (after the disk pass unless scanned) to fn, then free l. */
static int foreach_finish(struct cache *c, struct range_list *l, int scanned, int rc,
			  void (*fn)(void *arg, size_t type, const struct date_range *r), void *arg)
{
	if (rc == 0 && !scanned)
		rc = foreach_disk(c, l);
	for (size_t i = 0; rc == 0 && i < l->n; i++)
		if (!l->v[i].absent)
			fn(arg, l->v[i].type, &l->v[i].r);
	free(l->v);
	return rc;
}

/* Add e to l (ABSENT entries and orphans too, so the disk pass skips their hashes; they are
 * not listed). */
static int foreach_add(struct range_list *l, const struct entry *e)
{
	return range_list_add(l, e->type, &e->range, entry_hex(e).s,
			      !e->kind || (e->info.state == CACHE_ABSENT && !e->filling));
}

int cache_foreach(struct cache *c,
		  void (*fn)(void *arg, size_t type, const struct date_range *r), void *arg)
{
	struct range_list l = {0};
	int scanned, rc = 0;

	pthread_mutex_lock(&c->lock);
	scanned = c->scan_done;
	for (struct entry *e = c->entries; e && rc == 0; e = e->next)
		rc = foreach_add(&l, e);
	pthread_mutex_unlock(&c->lock);
	return foreach_finish(c, &l, scanned, rc, fn, arg);
}

/* cache_foreach's fn and arg, passed on only for types [first, first + n). */
struct types_filter {
	size_t first, n;
	void (*fn)(void *arg, size_t type, const struct date_range *r);
	void *arg;
};

static void types_filter_fn(void *arg, size_t type, const struct date_range *r)
{
	struct types_filter *f = arg;

	if (type >= f->first && type - f->first < f->n)
		f->fn(f->arg, type, r);
}

int cache_foreach_types(struct cache *c, size_t first, size_t n,
			void (*fn)(void *arg, size_t type, const struct date_range *r), void *arg)
{
	struct types_filter f = {first, n, fn, arg};
	struct range_list l = {0};
	struct cache_kind *k;
	int rc = 0;

	pthread_mutex_lock(&c->lock);
	k = kind_get(c, first);
	if (!k) {
		pthread_mutex_unlock(&c->lock);
		return -EINVAL;
	}
	if (!c->scan_done) {
		/* The disk may know ranges memory does not: the whole pass, filtered. */
		pthread_mutex_unlock(&c->lock);
		return cache_foreach(c, types_filter_fn, &f);
	}
	for (struct entry *e = k->src->entries; e && rc == 0; e = e->snext)
		rc = foreach_add(&l, e);
	pthread_mutex_unlock(&c->lock);
	return foreach_finish(c, &l, 1, rc, types_filter_fn, &f);
}

int cache_prefetch(struct cache *c, size_t type, const struct date_range *r)
{
	struct entry *e;
	enum cache_state st;
	int rc = 0;

	pthread_mutex_lock(&c->lock);
	e = entry_get(c, type, r, 1, &rc);
	if (!e)
		goto out;
	if (c->stopping || e->filling) {
		rc = 0;
		goto out;
	}
	st = entry_state(c, e);
	rc = 0;
	if (st == CACHE_READY)
		goto out;
	if (nodata_fresh(c, e, st))
		goto out;
	if (e->info.task_id[0] && st != CACHE_EXPIRED && st != CACHE_NO_DATA &&
	    !cred_accepted(e->kind->src))
		goto out; /* an earlier run's task waits for a reader and the gate (cred.c) */
	/* The same start as cache_open's, without a waiter. */
	if ((rc = open_enqueue(c, e, st, CACHE_WHO_NONE)) != 0)
		goto out;
	e->prefetched = 1; /* wanted, though nobody waits */
	entry_counts(c, e)->n_prefetches++;
	rc = 1;
out:
	pthread_mutex_unlock(&c->lock);
	return rc;
}
