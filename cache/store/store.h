/*
 * cache/store/: the on-disk files, at the bottom of the cache (it calls nothing above it).
 *
 *   store.c  paths, metadata (JSON) and atomic writes (this header), the states' names
 *   key.c    an export's canonical key and its SHA-256, which names its files (key.h)
 *   part.c   the .part being downloaded, hashed as it grows (part.h)
 *   room.c   room on cache_dir's filesystem for one download (room.h)
 *
 * The on-disk store: paths, metadata (JSON) and atomic writes. No locks, no threads: callers
 * serialize operations on one entry's files (the entry's io lock, see internal.h).
 *
 * Layout (everything below cache_dir; directories 0700, files 0600):
 *
 *   <dir>/v1/                       version of this layout; a future v2 sits beside it
 *   <dir>/v1/<hash>.meta            entry metadata, JSON (see store_meta); written atomically
 *   <dir>/v1/<hash>.data            the verified file of a READY entry; replaced by rename,
 *                                   never truncated in place, so open handles keep old bytes
 *   <dir>/v1/<hash>.part            download in progress; resumed from its length
 *   <dir>/v1/.tmp-<hash>-<run>.<n>  temp file of an atomic write (O_EXCL|O_CREAT, 0600,
 *                                   fsync, rename, fsync dir); <run> is random per process,
 *                                   so the recovery scan deletes only temps of earlier runs
 *
 * <hash> is the SHA-256 hex of the canonical key "provider|account|type|lang|start|end"
 * (key.h); a file name given by the server is never used as a path.
 *
 * Ordering that makes crashes safe: the task id reaches .meta (APPLIED) before anything else
 * happens for a task; .meta says DOWNLOADING before .part is created; .part is fsynced and
 * renamed to .data before .meta says READY; deletion unlinks .data/.part before .meta.
 */
#ifndef ORDERFS_CACHE_STORE_H
#define ORDERFS_CACHE_STORE_H

#include <limits.h>
#include <stdint.h>

#include "../cache.h"
#include "key.h"

#define STORE_VDIR "v1"
#define STORE_META_MAX 16384 /* a .meta bigger than this is corrupt */

struct store {
	char vdir[PATH_MAX - 96]; /* <dir>/v1, room left for the file names */
	char run[17];		  /* random hex, names this run's temp files */
	unsigned long seq;	  /* temp file counter; atomic */
};

/* What one .meta holds. */
struct store_meta {
	struct cache_key key;
	enum cache_state state; /* APPLIED, GENERATING, DOWNLOADING, READY, FAILED or NO_DATA */
	char task_id[PROVIDER_ID_MAX];
	char server_name[PROVIDER_NAME_MAX];
	char owner[CACHE_OWNER_MAX]; /* optional in the JSON (absent = "", unknown) */
	int64_t finish_time, expires, ready_time, learned_time; /* unix s, 0 unknown */
	int64_t applied_time; /* unix s; 0 unknown (absent from an older .meta) */
	int64_t last_access_ms;					/* unix ms */
	uint64_t size;						/* READY: bytes */
	uint64_t total; /* DOWNLOADING: file size if known, else 0 */
	char sha256[KEY_HASH_LEN];
	int last_errno;
	enum client_errkind err_kind;
	char err_code[PROVIDER_CODE_MAX];
	char err_msg[PROVIDER_MSG_MAX];
};

/* Create <dir> and <dir>/v1 (0700) if missing and fill *s. 0 or -errno. */
int store_init(struct store *s, const char *dir);

/* "<vdir>/<hash><suffix>" into out (PATH_MAX). suffix is ".meta", ".data" or ".part". */
void store_path(const struct store *s, const char *hash, const char *suffix, char *out);

/* Write .meta atomically. durable=0 skips the fsyncs (for lazy last_access updates).
 * 0 or -errno; on error the old .meta is untouched and no temp file is left. */
int store_meta_write(struct store *s, const char *hash, const struct store_meta *m,
		     int durable);

/* Read and validate .meta. 0; -ENOENT if absent; -EBADMSG only when the content is proven
 * corrupt (not JSON, wrong version, a field missing or out of range, oversized, or its key does
 * not hash to hash); any other -errno (-EMFILE, -EIO, -EACCES, -ENOMEM) is an error reading it
 * that says nothing about the file, which must then be left alone. */
int store_meta_read(const struct store *s, const char *hash, struct store_meta *m);

/* store_meta_read for a scan of many: the .meta is opened relative to vfd, the store's vdir
 * open by the caller (no walk of the whole path per file), and read into buf, the caller's
 * STORE_META_MAX + 1 bytes (no allocation per file). Same returns. */
int store_meta_read_at(int vfd, const char *hash, struct store_meta *m, char *buf);

/* Delete .data, .part, then .meta; fsync the directory. Missing files are fine. */
void store_remove(const struct store *s, const char *hash);

/* Unlink one file of an entry (suffix as in store_path). 0 or -errno (-ENOENT if absent). */
int store_unlink(const struct store *s, const char *hash, const char *suffix);

/* Rename .part to .data and fsync the directory. 0 or -errno. */
int store_commit_part(const struct store *s, const char *hash);

/* fsync the vdir. 0 or -errno. */
int store_sync_dir(const struct store *s);

/* Parse a directory entry name: 1 and the hash and kind ('m' meta, 'd' data, 'p' part,
 * 't' temp; for temps *own is whether this run wrote it) when it is one of ours, else 0. */
int store_name_parse(const struct store *s, const char *name, char hash[KEY_HASH_LEN],
		     char *kind, int *own);

#endif
