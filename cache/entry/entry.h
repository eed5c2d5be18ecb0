/*
 * cache/entry/: what the cache knows in memory, below the fill and above the on-disk store.
 *
 *   entry.c  the table of entries: find, load from a .meta, create, reset, their info
 *   kind.c   the kinds (the API's types) looked up by index or by a .meta's keys
 *   fresh.c  the freshness rule (fresh.h): whether a file is complete, until when it is served
 *   cred.c   the credential gate: a source's ready files served once its provider accepted it
 *   steps.c  the step times of the last fills (a ring), and the steps' names
 *   evict.c  LRU eviction of the table's READY files down to max_size (the fill's workers
 *            and the sweeper call it)
 *
 * The structures themselves are in ../internal.h (every part shares them). entry.c loads and
 * checks .meta files through ../store/; nothing here calls the fill, the pool or the cache's
 * public calls.
 */
#ifndef ORDERFS_CACHE_ENTRY_H
#define ORDERFS_CACHE_ENTRY_H

#include "../internal.h"

/* --- entry.c: the table (caller holds cache->lock unless said otherwise) --- */

int64_t cache_now_ms(const struct cache *c);
int64_t cache_mono_ms(void);
/* Find the entry of type for r; NULL if not in memory. */
struct entry *entry_find(struct cache *c, size_t type, const struct date_range *r);
struct entry *entry_find_hash(struct cache *c, const char *hash);
/* Find the entry of type for r, else load its .meta from disk (dropping the lock meanwhile),
 * else (create != 0) create an ABSENT one. NULL with *err: -EINVAL invalid range or type,
 * -ENOMEM,
 * -ENOENT when nothing is known and create is 0, or the -errno of a .meta or .data that could
 * not be read (EMFILE, EIO): then nothing is created, so a file that may be fine is never
 * exported over. */
struct entry *entry_get(struct cache *c, size_t type, const struct date_range *r, int create,
			int *err);
/* Insert an entry built from a .meta if its key is not in memory yet: under the kind whose keys
 * it has (kind_of_key, decided under the lock the caller holds, so a source added meanwhile is
 * never missed), else as an orphan. hash is the key hash of m->key (its file name: the .meta
 * was checked against it). Returns the entry (new or existing), *created says which; NULL on
 * ENOMEM. */
struct entry *entry_insert_meta(struct cache *c, const struct store_meta *m, const char *hash,
				int *created);
/* Make orphan e an entry of kind k (its keys are k's): into the range table and k's source's
 * list. The caller has taken e out of cache->orphans (it walks that bucket anyway). */
void entry_adopt(struct cache *c, struct entry *e, struct cache_kind *k);
/* What entry_meta_usable found. */
enum meta_use {
	META_UNCHECKED = -2, /* the .data could not be stat'ed (EIO, ...): leave everything */
	META_FOREIGN = -1,   /* no source has its keys (yet): an orphan */
	META_STALE = 0,	     /* READY but its .data is missing or has the wrong size: drop it */
	META_USABLE = 1,
};
/* Whether a .meta read from disk can be served: for READY, its .data exists with the
 * recorded size (does a stat; STALE or UNCHECKED otherwise), and a source has its keys
 * (provider, account, report_type, language): *type is that kind, else META_FOREIGN.
 * Takes cache->lock itself (not held on entry). */
enum meta_use entry_meta_usable(struct cache *c, const char *hash, const struct store_meta *m,
				size_t *type);
/* The state cache_lookup reports: READY past its expiry is EXPIRED; QUEUED while its source's
 * provider is closed is WAITING. */
enum cache_state entry_state(const struct cache *c, const struct entry *e);
/* Whether e's READY file is complete, and until when it is served when open (0 when complete);
 * fresh.h. Its as_of is when its export was applied (a file of an older orderfs: when it
 * turned ready); an orphan, or a file with neither time, counts as complete. cache->lock
 * held. */
void entry_freshness(const struct cache *c, const struct entry *e, int *complete,
		     int64_t *until);
/* Whether e is READY past the provider's expiry (the sweeper deletes such files; an open file
 * past fresh_until is kept until its re-export replaces it). cache->lock held. */
int entry_server_expired(const struct cache *c, const struct entry *e);
/* Set *slot (an entry_info string) to a copy of v, freeing what it held; "" needs no
 * memory. 0, or -ENOMEM with one log line and *slot unchanged. */
int entry_str_set(const char **slot, const char *v);
/* Its last error: a copy of err, or none when err is NULL or clear. On ENOMEM the error is
 * dropped with one log line (last_errno still says what failed). */
void entry_err_set(struct entry_info *i, const struct client_error *err);
/* e's info expanded (strings copied) into out. */
void entry_info_get(const struct entry *e, struct cache_info *out);
/* i's digest as hex into out (65 bytes), "" when it has none. */
void entry_sha256_hex(const struct entry_info *i, char *out);
/* Set i's digest from hex ("" or not 64 hex digits: none). */
void entry_sha256_set(struct entry_info *i, const char *hex);
/* Free what i owns and make it an empty (ABSENT) entry_info. */
void entry_info_clear(struct entry_info *i);
/* e's full key into out. 0, or -EINVAL (an orphan's stored fields do not make a key: never
 * for one built by entry_new). cache->lock held (its kind's strings never change). */
int entry_key(const struct cache *c, const struct entry *e, struct cache_key *out);
/* Fill a store_meta from the entry's current info (its key from entry_key). */
void entry_to_meta(const struct cache *c, const struct entry *e, struct store_meta *m);
/* Reset to ABSENT, keeping the key (drops e->old). */
void entry_reset(struct entry *e);
/* A refresh of e begins: keep its current (READY) info as e->old. 0, or -ENOMEM and e
 * unchanged. */
int entry_keep_old(struct entry *e);
/* The refresh failed: e is its old file again (e->old moves into e->info; no allocation). */
void entry_restore_old(struct entry *e);
/* The refresh ended (its file replaced the old one, or the old one is e's again): free
 * e->old. */
void entry_drop_old(struct entry *e);
void entry_touch(struct cache *c, struct entry *e);
void entry_free_all(struct cache *c);

/* The hex of e's hash, the base name of its files: entry_hex(e).s lives to the end of the
 * full expression (an entry keeps the 32 bytes, not the 65 of their text). */
struct entry_hex {
	char s[KEY_HASH_LEN];
};
static inline struct entry_hex entry_hex(const struct entry *e)
{
	struct entry_hex h;

	key_hex(e->hash, sizeof(e->hash), h.s);
	return h;
}

/* e's range as text for a log line: entry_name(e).s lives to the end of the full expression
 * (not kept in the entry: 100,000 entries). */
struct entry_name {
	char s[DATE_RANGE_STR_LEN];
};
static inline struct entry_name entry_name(const struct entry *e)
{
	struct entry_name n;

	date_range_format(&e->range, n.s);
	return n;
}

/* --- kind.c: the kinds looked up (caller holds cache->lock unless said) --- */

/* The bucket of (provider, account) in cache->by_account and cache->orphans. */
unsigned account_bucket(const char *provider, const char *account);
/* The kind of a type index; NULL when it is not one. */
struct cache_kind *kind_get(const struct cache *c, size_t type);
/* The key of kind k for r. 0 or -EINVAL (range not valid). */
int kind_key(const struct cache *c, const struct cache_kind *k, const struct date_range *r,
	     struct cache_key *key);
/* The kind whose keys key has (provider, account, report_type, language); NULL = none. */
struct cache_kind *kind_of_key(const struct cache *c, const struct cache_key *key);
/* The kind of source s whose keys key has (its provider and account are s's); NULL = none. */
struct cache_kind *source_kind_of_key(const struct cache *c, const struct cache_source *s,
				      const struct cache_key *key);

/* --- cred.c: the credential gate (caller holds cache->lock) --- */

enum { CRED_OPEN = 0, CRED_WAIT = 1, CRED_AGAIN = 2 };
/* Whether a ready file of s may be served now: CRED_OPEN (no gate, or its credentials were
 * accepted), CRED_WAIT (another thread asks the provider: wait on cache->wake and look
 * again), CRED_AGAIN (this thread asked, dropping the lock meanwhile: look again),
 * -EACCES (refused), or the errno of a call that could not tell (-EIO...: nothing learned).
 * task_id is the entry's own task, which the check may query; owner is whom the credentials
 * that fetched the file serve ("" unknown: anyone accepted may read it), else the credentials
 * in use must serve the same (their owner learned by the check if not yet): -EACCES when
 * they serve another or the check showed none (Mogujie: a seller without orders in the
 * entry's range is not the one that had them). Both copied before the lock is dropped. */
int cred_gate(struct cache *c, struct cache_source *s, const char *task_id, const char *owner);
/* Whom s's credentials in use serve (provider_ops.credentials_owner) into out, "" unknown.
 * No I/O: callable with cache->lock held. */
void cred_owner(struct cache_source *s, char *out, size_t n);
/* Whether s may use what an earlier run left (no gate, or its credentials accepted). */
int cred_accepted(struct cache_source *s);
/* What a flight of s learned: accepted (it got its file) or refused (an auth error). */
void cred_learn(struct cache *c, struct cache_source *s, enum cache_cred verdict);

/* --- evict.c: LRU eviction --- */

/* Evict READY files with no handle, least recently used first, until the total fits
 * max_size; downloads in progress count with their declared size (or the bytes they have)
 * so the cache plus what is being downloaded fits. Takes the locks itself (none held on
 * entry). */
void evict_run(struct cache *c);

/* --- steps.c: the step times of the last fills, and the steps' names --- */

/* The step times of e's last fill in this process, made (zeroed, taking the oldest row)
 * when it has none: never NULL. cache->lock held. */
int64_t *steps_row(struct cache *c, const struct entry *e);
/* Zero e's step times: a new export of it starts. cache->lock held. */
void steps_reset(struct cache *c, const struct entry *e);
/* e's step times into out (zeros when none are kept). cache->lock held. */
void steps_get(const struct cache *c, const struct entry *e, int64_t out[CACHE_STEP_N]);

#endif
