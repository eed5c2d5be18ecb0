/*
 * The export cache: "give me the file for this range" becomes exactly one export on the
 * server and one verified file on disk, shared by every reader, kept until the server's
 * expiry, never lost or duplicated by a crash.
 *
 * Talks to the provider only through client/provider.h; knows nothing of HTTP or FUSE.
 * All functions are thread-safe. Errors are 0 or -errno.
 *
 * One cache serves one or more sources (merchant accounts, each its own provider instance) and
 * every export type of each (prov->types[]: Clover's orders and payments). A call that names a
 * range also names its "type", a kind: one source's provider type, numbered when the source
 * was added (cache_new's provider: 0 .. ntypes-1; cache_add_source says where its own start).
 * All kinds share one directory, one size budget evicted least recently used first whatever
 * the kind, one fill pool of max_exports flights, one recovery scan and one sweeper. A source
 * has its own cap on running flights, its own "provider closed until" and its own fleet state:
 * one merchant's closed hours or outage never show on another's flights.
 */
#ifndef ORDERFS_CACHE_H
#define ORDERFS_CACHE_H

#include <stdint.h>

#include "../common/date.h"
#include "../client/provider.h"

struct cache;
struct cache_handle;
struct s3_store;

#define CACHE_DEFAULT_MAX_FILE (4ull << 30)
#define CACHE_MIN_FREE_AUTO UINT64_MAX

struct cache_config {
	const char *dir;	  /* cache_dir; created 0700 if missing */
	uint64_t max_size;	  /* cache_max_size in bytes; 0 = unlimited */
	/* max_file_size: one download larger than this is refused (declared) or stopped
	 * (undeclared) with -EFBIG; 0 = max_size, or CACHE_DEFAULT_MAX_FILE when that is 0. */
	uint64_t max_file_size;
	/* cache_min_free: bytes a download leaves free on cache_dir's filesystem, else -ENOSPC;
	 * CACHE_MIN_FREE_AUTO = the smaller of 1 GiB and 5 % of that filesystem; 0 = none. */
	uint64_t min_free;
	int max_exports;	  /* fills running at once, every source's together; 0 = 2 */
	int export_timeout_s;	  /* give up polling after this; 0 = default 1800 */
	int nodata_ttl_s;	  /* remember "no data" this long; 0 = default 3600 */
	int settle_delay_s;	  /* a range turns closed this long after its end (fresh.h);
				   * 0 = default 3600, < 0 = at its end */
	int open_ttl_s;		  /* an open file is served this long; 0 = default 900 */
	int store_keep_days;	  /* with a shared store: a closed range's complete file is kept
				   * (in the store and here) until its as_of + this many days when
				   * that is after the provider's expiry; 0 = the provider's expiry */
	int open_refresh_background; /* 1: an open past fresh_until gets the old file at once
				      * and the export runs behind it; 0: it waits (default) */
	/* The report_type of type 0 in its keys and requests instead of
	 * prov->types[0].report_type (Vexora's report_type setting); NULL = none. Every other
	 * type's is prov->types[t].report_type. */
	const char *report_type0;
	const char *language;	  /* part of the cache key ("en-US") */
	int poll_initial_ms;	  /* first status poll delay and shortest wait; 0 = default 500 */
	int poll_max_ms;	  /* longest wait (others: elapsed / 10); 0 = default 10000 */
	int retry_initial_ms;	  /* first retry delay after a transient fault; 0 = default 500 */
	int retry_max_ms;	  /* retry backoff cap; 0 = default 8000 */
	int retry_limit;	  /* transient faults in a row before a fill fails; 0 = default 5 */
	int sweep_interval_s;	  /* how often expired files are deleted; 0 = default 60 */
	int worker_idle_ms;	  /* a fill worker idle this long exits (the pool shrinks back,
				   * so 1,000 merchants that exported once keep no threads);
				   * 0 = default 2000 */
	int64_t (*now_ms)(void);  /* wall clock; NULL = real time. Tests pin it. */
	/* Fleet mode (client/fleet/fleet.h; NULL = this host alone). The cache claims each export
	 * through it before applying, follows another host's task record instead of applying,
	 * and writes its own record when it holds the claim. Must outlive the cache. */
	struct fleet *fleet;
	int fleet_refuse;	   /* fleet_fallback = refuse: while etcd cannot be reached, a new
				    * export fails -EAGAIN; 0 = after one lease TTL, run alone */
	long fleet_ttl_s;	   /* the fleet's lease TTL: how long etcd may be unreachable
				    * before this host runs alone */
	int fleet_max_exports;	   /* exports at once across the fleet; also this host's cap on
				    * exports it starts alone (0 = no cap) */
	double fleet_rate_cap;	   /* max_requests_per_s of the whole fleet (0 = none): each host
				    * takes cap / live members, re-counted every TTL */
	/* The shared store (client/s3.h; NULL = none), with the source's key prefix in it
	 * ("<provider>/<account hash>", s3_pointer.h) and this host's name (pointers' writer).
	 * Before applying, a flight looks for the range's pointer there and, when it is usable,
	 * takes the file from the store; after a fill from the provider, the file and its
	 * pointer are uploaded in the background (cache/shared/). Must outlive the cache. */
	struct s3_store *store;
	const char *store_prefix;
	const char *store_writer;
};
/* report_type0 and the fleet fields are those of cache_new's provider, its first source
 * (unused when it has none: each source added has its own). */

/* One merchant account's exports in the cache (cache_add_source). */
struct cache_source_config {
	const char *account;	  /* the account in its keys; NULL = prov->account. (Mogujie's
				   * prov->account is the app_key shared by every seller, so the
				   * mount passes a per-seller one.) Copied. */
	const char *report_type0; /* as cache_config.report_type0, for this source; copied */
	int max_exports;	  /* this source's flights running at once (the provider's limit
				   * per merchant); 0 = only the cache's max_exports caps it */
	/* Fleet mode for this source: same meaning as the cache_config fields of the same
	 * name. The fleet must outlive the cache. */
	struct fleet *fleet;
	int fleet_refuse;
	long fleet_ttl_s;
	int fleet_max_exports;
	double fleet_rate_cap;
	/* The shared store for this source: as the cache_config fields of the same name. */
	struct s3_store *store;
	const char *store_prefix;
	const char *store_writer;
	/* Serve its ready files (cache_open, cache_peek) only once its provider accepted its
	 * credentials in this run: one authenticated call (provider_ops.check_credentials, or a
	 * query of the entry's own task), or a flight of its own that got its file. Until then
	 * readers wait on that call; a refusal gives -EACCES (rechecked after
	 * CACHE_CRED_RECHECK_S or at the next flight that gets its file); the files stay. For
	 * sources whose keys another party could claim (accounts_dir). */
	int check_credentials;
};

#define CACHE_CRED_RECHECK_S 30

/* What a source's provider said of its credentials in this run. */
enum cache_cred {
	CACHE_CRED_UNCHECKED = 0, /* nothing yet (or no gate and no flight ended) */
	CACHE_CRED_ACCEPTED,	  /* a check or a flight of its own was accepted */
	CACHE_CRED_REFUSED,	  /* the latest check or flight got an authentication error */
};

/* That verdict for export type `type`'s source; UNCHECKED for a type that is not valid. */
enum cache_cred cache_credentials(struct cache *c, size_t type);

enum cache_state {
	CACHE_ABSENT = 0,  /* nothing known */
	CACHE_QUEUED,	   /* requested, waiting for a fill slot (not persisted) */
	CACHE_APPLIED,	   /* task id persisted; server says pending */
	CACHE_GENERATING,  /* server is generating */
	CACHE_DOWNLOADING, /* partial file on disk */
	CACHE_READY,	   /* verified file on disk, before its expiry */
	CACHE_EXPIRED,	   /* past the server's expiry: re-exported on next open */
	CACHE_FAILED,	   /* last fill failed; re-applied on next open */
	CACHE_NO_DATA,	   /* server said no data; remembered for nodata_ttl_s */
	CACHE_WAITING,	   /* provider closed for now (service hours, capacity): the flight
			    * sleeps until wait_until, then goes on; readers get -EAGAIN at once */
};

const char *cache_state_name(enum cache_state s);

/* The steps of one fill, in the order they happen; cache_info.step_ms says when each was
 * passed (README ".status", "steps"). */
enum cache_step {
	CACHE_STEP_APPLIED,    /* the provider took the export request */
	CACHE_STEP_GENERATED,  /* a poll saw the file generated */
	CACHE_STEP_URL,	       /* the download URL is in: the download request follows */
	CACHE_STEP_FIRST_BYTE, /* the first byte of the file is on disk */
	CACHE_STEP_LAST_BYTE,  /* every byte is on disk */
	CACHE_STEP_SYNCED,     /* SHA-256 final and the file fsynced */
	CACHE_STEP_READY,      /* renamed, .meta synced, readers woken */
	CACHE_STEP_N
};

/* The step's name in .status ("applied", "first_byte", ...); "?" for no step. */
const char *cache_step_name(enum cache_step s);

/* This host's part in the export of one range, in fleet mode. */
enum cache_fleet_role {
	CACHE_FLEET_NONE = 0, /* no fleet mode, or no flight yet */
	CACHE_FLEET_HOLDER,   /* this host claimed the range: it applies and writes the record */
	CACHE_FLEET_FOLLOWER, /* another host holds it: this one waits on its record */
	CACHE_FLEET_ALONE,    /* etcd could not be reached: this host runs alone */
};

const char *cache_fleet_role_name(enum cache_fleet_role r);

#define CACHE_OWNER_MAX 32 /* a provider's id of whom credentials serve (Mogujie's seller) */
#define CACHE_STORE_KEY_MAX 256 /* "<provider>/<account hash>/<sha256>" */

/* A snapshot of one entry, for stat and .status. Never causes network traffic. */
struct cache_info {
	enum cache_state state;
	char task_id[PROVIDER_ID_MAX];
	char server_name[PROVIDER_NAME_MAX]; /* display only */
	char owner[CACHE_OWNER_MAX]; /* whom the credentials that fetched it serve, "" unknown */
	int progress;			     /* provider's percent, -1 unknown */
	uint64_t size;			     /* ready: file size; downloading: total if known */
	uint64_t bytes_done;		     /* downloading: bytes on disk so far */
	uint64_t items_done, items_total;    /* provider's own progress (orders synced of total);
					      * items_total 0 = not reported */
	int64_t wait_until;		     /* WAITING: when the flight tries again, unix s */
	int64_t finish_time;		     /* server's finish time, unix s, 0 unknown */
	int64_t expires;		     /* server's file expiry, unix s, 0 unknown */
	int64_t ready_time;		     /* when the file turned ready here, unix s */
	int64_t applied_time;		     /* when its export was applied (as_of), unix s; 0
					      * unknown (a file of an older orderfs) */
	int complete;			     /* ready: applied after its range closed (fresh.h) */
	int64_t fresh_until;		     /* ready and open: re-exported from then on, unix s */
	uint64_t old_size;		     /* while its range is exported again: the size of
					      * the file served meanwhile (0 none) */
	int stale;			     /* the file served is an old one: exporting its range
					      * again failed or the provider is closed (last_error
					      * says why) */
	int64_t last_access;		     /* unix s */
	int64_t learned_time;		     /* when FAILED/NO_DATA was learned, unix s */
	char sha256[65];		     /* hex, ready only */
	int last_errno;			     /* errno of the last failure, 0 if none */
	struct client_error last_error;	     /* provider's code and message of that failure */
	enum cache_fleet_role fleet_role;    /* fleet mode: this host's part in the flight */
	char fleet_holder[64];		     /* fleet mode: the holding host's name, "" unknown */
	int fleet_slot_wait;		     /* fleet mode: waiting for a free fleet export slot */
	char source[12];		     /* ready: where this host got the file: "provider",
					      * "store" (the shared store) or "cache" (found on
					      * disk from an earlier run); "" unknown */
	char store_key[CACHE_STORE_KEY_MAX]; /* the shared store's object of the file, "" none */
	char store_error[PROVIDER_MSG_MAX];  /* its source's last failed store call ("" none
					      * since the last success): a 403 says the store
					      * refused the credentials */
	int64_t step_ms[CACHE_STEP_N];	     /* when this process's last fill of it passed each
					      * step, unix ms; 0 = not passed (yet) */
};

/* Start the cache: create dirs, start the fill pool and, in the background, the recovery scan
 * of what a previous run left (so a big cache never delays the mount). prov (may be NULL: no
 * source yet, a mount of many accounts adds them with cache_add_source) is its first source:
 * types 0 .. prov->ntypes-1, with cfg's report_type0 and fleet fields and cfg's max_exports
 * as its cap. NULL + *err = -errno (-EINVAL: a key field is not valid, the provider has no
 * type, or two types share a report_type). The provider must outlive the cache. */
struct cache *cache_new(const struct cache_config *cfg, struct provider *prov, int *err);

/*
 * Add prov's export types to the cache as the types (kinds) *first .. *first+prov->ntypes-1
 * that every other call takes as its `type` argument (first may be NULL). Entries a recovery
 * scan found on disk for this source's keys are served from then on (without an export; one
 * left mid-export resumes its task). The provider must outlive the cache.
 * 0; -EINVAL (an account or report_type that may not be part of a key, two types sharing a
 * report_type, or a provider and account another source already has: one source per
 * account, so its files are found through it alone), -ENOMEM,
 * or -errno starting the fleet rate thread; then nothing was added. Thread-safe, may be
 * called at any time while the cache runs (accounts are added without a remount). Sources
 * are never removed while the cache runs.
 */
int cache_add_source(struct cache *c, struct provider *prov,
		     const struct cache_source_config *sc, size_t *first);

/* Stop fills (their persisted state stays for the next run), join threads, free. Open handles
 * must be closed first. */
void cache_free(struct cache *c);

/* Snapshot of the entry of export type `type` for a range; state CACHE_ABSENT if unknown (or
 * the type or range is not valid). Always 0. */
int cache_lookup(struct cache *c, size_t type, const struct date_range *r,
		 struct cache_info *out);

typedef int (*cache_cancel_fn)(void *arg);

/*
 * Start or join the fill of export type `type` for a range and block until its file is
 * ready, the fill fails, or cancelled(arg) returns non-zero (polled at least every 100 ms).
 * On success *h is a handle on the ready file: it stays readable even if the entry expires or
 * is evicted meanwhile.
 * Errors: -EINTR cancelled (the fill goes on), -ENODATA no data, -EIO failed or unreachable,
 * -ETIMEDOUT export_timeout passed, -ENOSPC disk full, -EINVAL range refused by the provider,
 * -EAGAIN provider closed for now: returned as soon as the flight learns it (state WAITING);
 * the flight stays queued and runs when the provider opens (cache_info.wait_until), so a later
 * open finds the file. The cause is in the entry's cache_info.last_error. -EINVAL also for a
 * type that is not one of the provider's.
 * Freshness (fresh.h): while an open file's range is exported again, the handle may be on the
 * file it replaces (open_refresh_background, provider closed), and when that export fails it
 * is that file, 0 returned and cache_info.stale set: a good file is never replaced by an error.
 */
int cache_open(struct cache *c, size_t type, const struct date_range *r,
	       cache_cancel_fn cancelled, void *arg, struct cache_handle **h);

/* Who asks for an export, for fair turns in the queue (a uid, or CACHE_WHO_NONE). */
#define CACHE_WHO_NONE (-1L)
/*
 * cache_open on behalf of who (a uid): an export this call queues is started in who's turn.
 * The queue serves requesters fairly: a free slot goes to the oldest queued export of the
 * requester with the fewest exports running, so one user's many ranges never keep another
 * user's single range waiting for more than one slot. cache_open is this with CACHE_WHO_NONE
 * (prefetch, orderfs get, resumed tasks share that turn). Same errors as cache_open.
 */
int cache_open_as(struct cache *c, size_t type, const struct date_range *r, long who,
		  cache_cancel_fn cancelled, void *arg, struct cache_handle **h);

int cache_handle_fd(const struct cache_handle *h);
uint64_t cache_handle_size(const struct cache_handle *h);

/* What a handle has open, taken when it was opened and never changed after: a re-export of
 * the range meanwhile does not touch it, so it always describes the bytes the handle reads. */
struct cache_file_info {
	uint64_t size;
	char sha256[65];    /* hex; "" when it cannot be vouched for */
	int64_t ready_time; /* unix s */
};
void cache_handle_info(const struct cache_handle *h, struct cache_file_info *out);
/* A read-only fd on the file an open of export type `type` for a range would get now (READY,
 * an open file past fresh_until, or the old file while its refresh runs), without a hit, a
 * miss or an access time: for looking inside the file (a bundle's index) to answer stat.
 * -ENOENT when there is none (or not a valid type). */
int cache_peek(struct cache *c, size_t type, const struct date_range *r, int *fd,
	       uint64_t *size);

/* Close the fd and drop the reference that protects the file from eviction. */
void cache_handle_close(struct cache_handle *h);

/* Forget the export of type `type` for a range: delete its files and metadata (open handles
 * stay readable); the other types' exports of the range are untouched. A fill in flight for
 * it is cancelled. 0, or -ENOENT if nothing was known. */
int cache_forget(struct cache *c, size_t type, const struct date_range *r);

/* Call fn for every (type, range) the cache knows (any state but ABSENT), in no particular
 * order: a range with files of two types is passed twice. Files no source has keys for are
 * not passed.
 * fn must not call back into the cache. 0, or -errno (-ENOMEM, or the cache directory could
 * not be read before the recovery scan finished, or this process ran out of descriptors
 * reading it): then fn was not called at all, so a caller never mistakes part of the ranges
 * for all of them. One .meta that cannot be read (EISDIR, EIO) is left out, not an error. */
int cache_foreach(struct cache *c,
		  void (*fn)(void *arg, size_t type, const struct date_range *r), void *arg);
/* As cache_foreach, but only types [first, first + n), which must be one source's (one
 * account's, as cache_add_source numbered them). Once the recovery scan is done this walks that
 * source's own entries only, so it costs what the account holds, not what the cache holds.
 * Same errors; -EINVAL when first is not a type. */
int cache_foreach_types(struct cache *c, size_t first, size_t n,
			void (*fn)(void *arg, size_t type, const struct date_range *r), void *arg);

#define CACHE_DURATION_NBOUNDS 10

struct cache_stats {
	uint64_t applies, fills_running, fills_queued;
	uint64_t hits, misses;
	uint64_t bytes_downloaded;
	uint64_t total_size, entries;
	uint64_t errors;
	/* Failed flights by the errno their readers got (errors is their sum; err_again also
	 * counts each reader told EAGAIN while a flight waits for the provider to open), and
	 * flights that ended in "no data" (not counted in errors). */
	uint64_t err_io, err_timeout, err_nospc, err_invalid, err_again, err_other;
	uint64_t nodata;
	uint64_t prefetches; /* flights started by cache_prefetch */
	uint64_t refreshes;  /* open files exported again past fresh_until (fresh.h) */
	/* Flights by how they ended: READY, failed (the errno went to their readers); flights
	 * that ended in "no data" are nodata above, cancelled ones (unmount, forget) are in none. */
	uint64_t flights_ready, flights_failed;
	/* How long flights that ended READY took, from dequeue to READY: per bucket, how many
	 * took at most cache_duration_bounds[i] seconds (cumulative, as Prometheus counts), and
	 * the sum in seconds; their count is flights_ready. */
	uint64_t duration_le[CACHE_DURATION_NBOUNDS];
	double duration_sum_s;
	/* Fleet mode: whether this host runs alone now (etcd unreachable past one TTL), how
	 * long it has in all, in seconds, and the request rate it takes (cap / members). For the
	 * whole cache: 1 if any source runs alone, the longest time one did, the sum of rates. */
	int fleet_alone;
	double fleet_alone_s;
	double fleet_rate;
	/* The shared store: files taken from it instead of the provider (hits), flights that
	 * found no usable pointer there (misses), files and pointers uploaded, bytes moved
	 * either way, failed store calls (errors; auth_errors: 403, a configuration error). */
	uint64_t store_hits, store_misses, store_uploads, store_bytes, store_errors;
	uint64_t store_auth_errors;
};

/* Upper bounds, in seconds, of the duration buckets. */
extern const double cache_duration_bounds[CACHE_DURATION_NBOUNDS];
/* The figures of the whole cache: every type's counters added up, every entry (files no
 * source has keys for too). */
void cache_get_stats(struct cache *c, struct cache_stats *out);
/* The figures of export type `type` alone: its counters, its entries (entries, total_size,
 * and its flights in fills_running/fills_queued), and its source's fleet fields. All zero for
 * a type that is not valid. */
void cache_get_type_stats(struct cache *c, size_t type, struct cache_stats *out);
/* The same for the types first .. first + n - 1 together (one account's; one pass over the
 * entries), with the fleet fields of their source(s). Stops at the first type not valid. */
void cache_get_types_stats(struct cache *c, size_t first, size_t n, struct cache_stats *out);
/* Add s to sum: counters and entries added up, fleet fields as cache_get_stats combines
 * sources (any alone, the longest alone time, rates added). */
void cache_stats_add(struct cache_stats *sum, const struct cache_stats *s);

/*
 * Start the fill of export type `type` for a range in the background without waiting for
 * it (prefetch). Does nothing when the file is ready, a flight is already queued or running,
 * or "no data" is still remembered. 1 if a flight was queued, 0 if nothing was needed, -errno
 * (-EINVAL bad range or type, -ENOMEM) otherwise. Counts neither a hit nor a miss.
 */
int cache_prefetch(struct cache *c, size_t type, const struct date_range *r);

#endif
