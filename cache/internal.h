/*
 * Private to cache/: the structures every part of the cache shares (the cache, its sources and
 * kinds, its entries), and the lock order. Each part's calls are declared in its folder's
 * header, not here:
 *
 *   cache.c, source.c, stats.c  the public calls (cache.h): above everything below
 *   fill_run.h       a flight's driver (fill_run.c): the shared store, the fleet or its own
 *                    export, whichever gives the file
 *   upkeep/upkeep.h  the recovery scan at start, the expiry sweeper
 *   fleet/fleet.h    the cache's side of fleet mode: a flight's claim, the fleet's rate cap
 *   shared/shared.h  the shared store: a flight's file from it, uploads to it
 *   fill/fill.h      one flight's acts and steps, and the pool of workers (fill/pool.h)
 *   entry/entry.h    the in-memory table: entries, kinds, freshness, credential gate, steps,
 *                    LRU eviction; entry/shared_pointer.h, an entry's keys in the shared store
 *   store/store.h    the on-disk files: keys, .meta/.data/.part, room on the disk
 *
 * The folders call one way, in that order (tests/check_circles.py checks it from the built
 * objects): the driver (fill_run.c) calls the fleet's part and the shared store's, the fleet's
 * part calls the shared store's, both call the flight's own acts and steps (fill/flight.c,
 * fill/fill_steps.c), and those call only the pool, the entry table and the store. No file
 * calls one that calls it back, directly or not: where a lower part must reach an upper one
 * it is given a function at set-up (pool_start's flight runner, a flight's check_file).
 *
 * Locks, in the order they nest (take the left one first, never the reverse):
 *
 *     entry io lock (entry_io_lock)  ->  cache->lock
 *
 *   cache->lock   protects ALL in-memory state: the entry table and every entry's fields
 *                 (its io lock is apart), the fill queue, the counters, stopping/scan_done,
 *                 the source and kind tables and each source's running/closed/fleet state.
 *                 Held only for memory work and the odd open()/unlink() of one file; never
 *                 across a provider call, a download, an fsync or a scan.
 *   entry_io_lock(c, e) serializes changes to one entry's files (.meta/.data/.part) between
 *                 the fill, cache_forget, the sweeper and eviction. Held across small metadata
 *                 writes (with their fsync) and unlinks; never across a provider call, a
 *                 download or a wait, and never two at once. It is one of IO_LOCKS shared by
 *                 the entries whose hash falls in its stripe, not a mutex in each entry (40
 *                 bytes x 100,000 entries): the rules above make sharing one safe, and the
 *                 short holds make waiting for a neighbour's rare.
 *
 * A writer of an entry's files takes its io lock, then checks under cache->lock that the entry is
 * still what it expects (entry_gen_ok for fills; state/refs for sweep and eviction), then does
 * the disk work with only the io lock held. cache_forget bumps entry->gen under both locks, so a
 * fill that outlived its entry can never write over a newer state.
 *
 * Entries are never freed before cache_free: forgetting, sweeping and evicting reset them to
 * ABSENT. That keeps pointers held by handles and fills valid without refcounts; the table
 * only grows with the number of distinct ranges ever asked for.
 */
#ifndef ORDERFS_CACHE_INTERNAL_H
#define ORDERFS_CACHE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "cache.h"
#include "fill/poll_hint.h"
#include "store/key.h"
#include "store/store.h"

#define ENTRY_BUCKETS 16384 /* power of two */
#define IO_LOCKS 1024	    /* power of two, at most 4096 (entry_io_lock) */

/*
 * What an entry knows (cache->lock): cache_info's stored fields, compact, since a mount may
 * hold 100,000 entries. Its strings are sized to their content (never NULL: "" when empty,
 * set with entry_str_set), its error is kept only while there is one (NULL = none). The
 * fields cache_lookup computes (complete, fresh_until, old_size, stale) are not stored.
 * entry_info_get expands it into a cache_info.
 */
struct entry_info {
	uint8_t state;			/* enum cache_state */
	uint8_t fleet_role;		/* enum cache_fleet_role */
	uint8_t fleet_slot_wait;
	uint8_t has_sha256;		/* ready only: sha256 holds the file's digest */
	int8_t progress;		/* provider's percent (0..100), -1 unknown */
	int16_t last_errno;		/* an errno: < 4096 */
	uint64_t size, bytes_done, items_done, items_total;
	int64_t wait_until, finish_time, expires, ready_time, applied_time, learned_time;
	const char *task_id, *server_name, *owner, *fleet_holder;
	struct client_error *last_error;
	unsigned char sha256[32];	/* (entry_sha256_set, entry_sha256_hex) */
};
/* Sources and orphans are also indexed by (provider, account): kind_of_key and adoption stay
 * O(1) in the number of accounts. */
#define ACCOUNT_BUCKETS 1024 /* power of two */

struct entry {
	struct entry *next;  /* cache->entries */
	struct entry *hnext; /* cache->by_range[entry_bucket(range)] */
	struct entry *qnext; /* cache->queue_head while queued */
	struct entry *xnext; /* cache->by_hash[entry_hash_bucket(hash)] */
	/* Its source's list (kind->src->entries), or for an orphan the orphan index
	 * (cache->orphans[account_bucket(provider, account)]) until it is adopted. */
	struct entry *snext;
	/* Its key is its kind's (provider, account, report_type, language: entry_key) and this
	 * range; an orphan, which has no kind, points okey at those four ("p\0a\0t\0l\0"),
	 * shared by every orphan of the same keys (cache->okeys). 100,000 entries must not
	 * each carry four 128-byte fields that 1,000 accounts have once. */
	struct date_range range;
	const char *okey;
	/* Its kind (source and provider type), and that kind's index; NULL and KIND_NONE for
	 * an orphan: a .meta a recovery scan found whose keys no source has (yet). Orphans are
	 * never filled; they count in the size budget, are evicted and swept like any entry, and
	 * cache_add_source adopts them. Set under cache->lock; a kind never moves. */
	struct cache_kind *kind;
	size_t type;
	unsigned char hash[32]; /* its key's SHA-256, whose hex names its files (entry_hex) */

	/* The rest is protected by cache->lock. The flags are bit-fields of one word: all under
	 * that lock, never written without it. */
	struct entry_info info;	 /* state and what cache_lookup reports */
	uint64_t total;		 /* download size if known, for DOWNLOADING meta */
	int64_t last_access_ms;	 /* LRU order, with access_seq as tie-break */
	uint64_t access_seq;
	unsigned gen;		 /* bumped by cache_forget: stale fills must not touch disk */
	unsigned fill_gen;	 /* gen the current flight was started for */
	unsigned flight;	 /* count of flights ended; waiters wait for it to change */
	int result;		 /* 0 or -errno of the last flight that ended */
	long queued_by;		 /* who queued its flight (cache_open_as), for fair turns */
	long running_who;	 /* queued_by of the flight a worker runs now */
	int waiters;		 /* cache_open calls waiting on this entry: pins against eviction */
	int open_refs;		 /* open handles: pin against eviction */
	enum cache_state before_queue; /* its state when its flight was queued (pool_drop) */
	unsigned access_dirty : 1;    /* last_access changed since the .meta was written */
	unsigned filling : 1;	      /* a flight is queued or running */
	unsigned slot_given_back : 1; /* its flight's export is generated: it downloads outside
				       * the max_exports slots (pool_give_back) */
	unsigned prefetched : 1;      /* its queued flight is a prefetch's: wanted without a
				       * waiter */
	unsigned warned_big : 1;      /* logged once that the file alone exceeds max_size */
	unsigned accessed : 1;	      /* last_access_ms is its file's (loaded or touched since
				       * the last reset): cache_info.last_access says it */
	/* The last refresh failed and the old file is served again ("stale"; last_error says
	 * why) until stale_until (unix s), when the next open tries again. */
	unsigned stale : 1;
	unsigned source : 2;   /* enum entry_source: where this host got its ready file */
	unsigned in_store : 1; /* its file is in the shared store (taken from it, or its upload
				* queued): .status names the object (shared_object_key) */
	int64_t stale_until;
	struct data_fd *data_fd; /* the descriptor its handles on the current .data share, or
				  * NULL (cache.c) */
	/* A refresh (fresh.h): the READY file an export of its open range is replacing. Its
	 * .data stays until the new one is renamed over it, so it can be served meanwhile
	 * (open_refresh = background, provider closed) and again if the export fails. NULL
	 * when no refresh runs: allocated only while one does, as most entries never have one
	 * (entry_keep_old, entry_drop_old). */
	struct entry_info *old;
};

/* Where a ready file came from, for .status (entry->source); a ready entry with none was
 * loaded from the cache by a recovery scan ("cache"). */
enum entry_source { ENTRY_SOURCE_NONE, ENTRY_SOURCE_PROVIDER, ENTRY_SOURCE_STORE };

#define ENTRY_SLAB 128

struct entry_slab {
	struct entry_slab *next;
	struct entry e[ENTRY_SLAB];
};

/* What the cache counts, per export type (cache->lock, except n_bytes). */
struct cache_counts {
	uint64_t n_applies, n_running, n_queued, n_hits, n_misses, n_errors;
	atomic_uint_least64_t n_bytes; /* bumped by download sinks without the lock */
	/* failed flights by errno, "no data" answers, cache_prefetch flights */
	uint64_t n_err_io, n_err_timeout, n_err_nospc, n_err_invalid, n_err_again, n_err_other;
	uint64_t n_nodata, n_prefetches;
	uint64_t n_refreshes; /* open files exported again past fresh_until (fresh.h) */
	uint64_t n_ready, n_failed; /* flights that ended READY / failed */
	uint64_t duration_le[CACHE_DURATION_NBOUNDS];
	double duration_sum_s;
	/* The shared store (shared.c): hits, misses, uploads, errors (of those, 403s) */
	uint64_t n_store_hits, n_store_misses, n_store_uploads, n_store_errors, n_store_auth;
	atomic_uint_least64_t n_store_bytes; /* bumped without the lock */
};

#define KIND_NONE ((size_t)-1) /* entry->type of an orphan */
#define POOL_WHO_MAX 64	       /* requesters whose running flights the pool counts */

/*
 * One merchant account's exports (cache_add_source). Allocated once, never moved or freed
 * before cache_free, so entries, fills and download sinks keep pointers to it and its kinds.
 * The fields after `running` are protected by cache->lock.
 */
struct cache_source {
	struct provider *prov;
	struct cache_source *anext; /* cache->by_account[account_bucket(provider, account)] */
	/* Its entries (every kind's, any state), linked by snext: a listing or the figures of
	 * one account walk these, never the whole table (cache->lock). */
	struct entry *entries;
	char *account;		/* the account of its keys (owned) */
	int max_exports;	/* its flights running at once; 0 = no cap of its own */
	size_t first, ntypes;	/* its kinds: first .. first + ntypes - 1 */
	/* Fleet mode (fill_fleet.c, fleet_rate.c): NULL = this source alone. */
	struct fleet *fleet;
	int fleet_refuse;
	long fleet_ttl_s;
	int fleet_max_exports;
	double fleet_rate_cap;
	/* The shared store (shared.c): NULL = none. Set at creation, read-only after. */
	struct s3_store *store;
	char *store_prefix; /* "<provider>/<account hash>" (owned) */
	char *store_writer; /* this host's name in pointers (owned) */
	char store_error[PROVIDER_MSG_MAX]; /* the last failed store call, "" after a success
					     * (cache->lock) */

	int running;		/* its flights a worker runs now */
	int closed_waiting;	/* of those, waiting for its provider to open (pool.c) */
	struct poll_hint poll_hint; /* where its last export was generated (poll_hint.h) */
	unsigned poll_hint_seq;	    /* +1 each time poll_hint is learned: wakes sleeping polls */
	unsigned poll_turns;	    /* +1 each apply: the flight's turn in a wave (poll_hint.h) */
	/* Its provider said it is closed (service hours, capacity) until this wall time (ms):
	 * its flights queued behind the waiting one show WAITING and their readers get EAGAIN.
	 * Other sources' flights never see it. */
	int64_t closed_until_ms;
	struct client_error closed_err;
	int fleet_alone;		/* etcd unreachable past one TTL: flights run alone */
	int64_t fleet_down_since_ms;	/* monotonic: first failed etcd call of this outage */
	int64_t fleet_down_last_ms;	/* monotonic: the latest failed one */
	int64_t fleet_alone_since_ms;	/* monotonic: when this source began running alone */
	double fleet_alone_total_s;	/* time run alone in earlier outages */
	double fleet_rate;		/* the request rate this host takes (cap / members) */
	int64_t fleet_recount_idle_ms;	/* monotonic: idle, count the members again then */
	uint64_t fleet_members_mark;	/* the watch's members mark at the last count */
	int fleet_alone_running;	/* exports this source applied for alone, still running */
	int fleet_refused_logged;	/* etcd refused this host: said once, until it answers */

	/* The credential gate (cred.c): with cred_gate set, its ready files are served only once
	 * its provider accepted its credentials in this run. */
	int cred_gate;
	enum cache_cred cred;		/* what the provider said last */
	int cred_checking;		/* a reader is asking it now (the others wait) */
	int64_t cred_refused_ms;	/* monotonic: when it refused */
	uint64_t cred_version;		/* the credentials_version cred was learned for */
};

/* One "type" of the public API: a source's provider type. Never moved or freed before
 * cache_free. */
struct cache_kind {
	struct cache_source *src;
	size_t ptype;		/* index into src->prov->types */
	char *report_type;	/* the report_type of its keys and requests (owned) */
	struct cache_counts counts;
};

/* The step times (cache_info.step_ms) of the last fills of this process: a ring, not a field
 * of every entry, since only the files filled lately have any and 100,000 entries must not
 * each carry them. A row belongs to an entry while its range and type match it. */
#define STEP_LOG_N 64
struct step_log_row {
	const struct entry *e;
	struct date_range range;
	size_t type;
	int64_t ms[CACHE_STEP_N];
};

struct cache {
	struct step_log_row step_log[STEP_LOG_N]; /* (steps.c), under lock */
	unsigned step_log_next;
	struct cache_config cfg; /* defaults applied; strings point into the owned copies; the
				  * fleet fields are the sources' own */
	char *dir, *language;
	/* The kinds (the API's types) and the sources, in the order they were added. The
	 * arrays grow (realloc) under cache->lock: read them only with it held; the structs
	 * they point to never move. */
	struct cache_kind **kinds;
	size_t nkinds, kinds_cap;
	struct cache_source **sources;
	size_t nsources, sources_cap;
	struct store store;

	pthread_mutex_t lock; /* see above */
	pthread_mutex_t io_locks[IO_LOCKS]; /* the entries' io locks (entry_io_lock) */
	pthread_cond_t wake;  /* CLOCK_MONOTONIC; broadcast when a flight ends, on forget, on stop:
			       * waiters in cache_open and sleeping fills re-check */
	pthread_cond_t work;  /* CLOCK_MONOTONIC; workers: a flight queued, a source's running
			       * count dropped, or stop */
	struct entry *entries;
	/* Where entries live: ENTRY_SLAB at a time (entries are freed only with the cache, so
	 * one allocation per entry would add its malloc header to each of 100,000). */
	struct entry_slab *slabs; /* the newest first */
	size_t slab_used;	  /* entries taken from the newest */
	/* The same entries hashed by (type, range): lookups stay O(1) with tens of thousands
	 * cached (a list scan per insert made the recovery scan quadratic). Orphans are not in
	 * it (by_hash and orphans find them). */
	struct entry *by_range[ENTRY_BUCKETS];
	/* Every entry (orphans too) by its key hash (the name of its files): the recovery scan
	 * and the listing's disk pass find an entry by hash in O(1). */
	struct entry *by_hash[ENTRY_BUCKETS];
	/* The sources by (provider, account); the orphans by the same, linked by snext: built
	 * by the recovery scan as it finds them, so a source adopts its own orphans without a
	 * walk of the table. */
	struct cache_source *by_account[ACCOUNT_BUCKETS];
	struct entry *orphans[ACCOUNT_BUCKETS];
	/* The orphans' key texts (entry->okey), one per (provider, account, report_type,
	 * language) found on disk, in the same buckets; freed by cache_free only, so there are
	 * at most as many as accounts the disk holds files of. */
	struct okey {
		struct okey *next;
		size_t len;
		char text[];
	} *okeys[ACCOUNT_BUCKETS];
	struct entry *queue_head, *queue_tail;
	int stopping;
	/* The recovery scan has read every .meta: memory knows every usable entry. Stays 0 when
	 * the scan could not read some (EMFILE, EIO), so lookups keep asking the disk. */
	int scan_done;
	int scanning; /* a recovery scan is running */
	uint64_t access_seq;

	/* The fill workers (pool.c), under cache->lock: started on demand (a flight queued
	 * with no idle worker), up to max_exports plus the slots lent and given back; a worker
	 * idle for cfg.worker_idle_ms exits and moves its handle to `exited`, joined by the
	 * next pool_add_worker or by pool_join. */
	pthread_t *workers;
	int nworkers, workers_cap;
	pthread_t *exited;	/* workers_cap of them: handles of workers that ended */
	int nexited;
	int idle;		/* workers waiting for a flight */
	int running;		/* flights the workers run now, every source's */
	int closed_waiting;	/* of those, waiting for their provider to open: slots lent */
	int downloading;	/* flights past their export, slot given back (at most max_exports) */
	/* Per requester (cache_open_as), for fair turns in the queue (pool.c): its flights
	 * running and when its last one started (start_seq). The POOL_WHO_MAX most recent are
	 * kept; one forgotten counts as running none and never served. */
	struct pool_who {
		long who;
		int used, n;
		uint64_t last_start;
	} who_running[POOL_WHO_MAX];
	uint64_t start_seq;	/* flights started so far */
	int (*pool_run)(struct cache *c, struct entry *e); /* what a worker runs (pool_start) */
	pthread_t sweeper, recoverer;
	int sweeper_started, recoverer_started;

	/* One thread re-counts the fleet for every source with a rate cap (fleet_rate.c). */
	pthread_t fleet_rater;
	int fleet_rater_started;

	/* One thread uploads verified files to the shared store (shared/shared_upload.c), from
	 * this queue (cache->lock), started at the first upload. */
	struct shared_job *uploads;
	pthread_t uploader;
	int uploader_started;
	pthread_cond_t poll_wake;   /* CLOCK_MONOTONIC: an export of a source was found generated:
				     * the rest of its wave polls now (fill_poll_nap) */
	pthread_cond_t upload_wake; /* CLOCK_MONOTONIC: a job queued, or stop */
};

/* e's io lock (see the top): the stripe of the first 12 bits of its hash. */
static inline pthread_mutex_t *entry_io_lock(struct cache *c, const struct entry *e)
{
	unsigned h = (unsigned)e->hash[0] << 4 | e->hash[1] >> 4;

	return &c->io_locks[h & (IO_LOCKS - 1)];
}

/* A provider's percent as entry_info keeps it: -1 (unknown) or 0..100. */
static inline int8_t entry_progress(int percent)
{
	return (int8_t)(percent < 0 ? -1 : percent > 100 ? 100 : percent);
}

/* The counters of e's kind (e is not an orphan). */
static inline struct cache_counts *entry_counts(struct cache *c, const struct entry *e)
{
	(void)c;
	return &e->kind->counts;
}

/* --- source.c: the sources (cache_add_source) --- */

/* Free every source and kind (threads gone). */
void source_free_all(struct cache *c);

#endif
