/*
 * The provider interface: what orderfs needs from any merchant export API.
 *
 * client/ holds at its top level what every provider shares: this interface and its errors
 * (error.c), HTTP over libcurl (http.h: http.c, http_xfer.c), the interrupt of a call in
 * flight (interrupt.h), a secret read again when its file changes (secret_file.h) and text
 * into an xlsx cell (xlsx_text.h). Each provider has a folder of its own (client/vexora/,
 * client/clover/, client/mogujie/) whose main header says what lives there; none uses
 * another's, and nothing at the top level uses a provider's. Beside them: client/store/ (the
 * shared store's S3 client) and client/fleet/ (fleet mode over etcd). A new provider is one
 * new folder client/NAME/ with NAME.h declaring NAME_new(), and one row in fs/providers.c.
 *
 * Design note. Every provider orderfs speaks to fits one shape:
 *   apply(range)      -> a server task id            (Vexora apply, Clover POST exports,
 *                                                      Mogujie: a local sync job)
 *   query(task id)    -> state, progress, name(s), expiry
 *   get_urls(task id) -> one or more temporary download URLs (Vexora: one; Clover: several)
 *   download(url)     -> bytes to a sink, resumable from an offset
 * or, for providers whose files orderfs assembles itself (Clover's several JSON files plus
 * derived .jsonl/.csv, Mogujie's paged sync), fetch(task) -> one bundle (client/bundle.h) of
 * named members written to the sink.
 * The cache drives this interface and never sees HTTP; implementations never see the cache
 * or FUSE. All calls are synchronous and may block for up to the configured timeouts; they
 * are thread-safe (one provider is shared by every fill thread).
 *
 * Errors: every call returns 0 on success or -1 with *err filled. client_error_to_errno() is
 * the one place a client error becomes an errno.
 */
#ifndef ORDERFS_PROVIDER_H
#define ORDERFS_PROVIDER_H

#include <stddef.h>
#include <stdint.h>

#include "../common/date.h"
#include "../common/tz.h"
#include "../common/sink.h"

#define PROVIDER_ID_MAX 128
#define PROVIDER_NAME_MAX 256
#define PROVIDER_MSG_MAX 256
#define PROVIDER_CODE_MAX 32
#define PROVIDER_URL_MAX 4096
#define PROVIDER_URLS_MAX 64

enum export_state {
	EXPORT_PENDING = 0,    /* accepted, not started (Vexora status 0) */
	EXPORT_GENERATING = 1, /* being generated (Vexora 1) */
	EXPORT_GENERATED = 2,  /* ready to download (Vexora 2) */
	EXPORT_FAILED = 3,     /* generation failed (Vexora 3): re-apply on the next request */
	EXPORT_NO_DATA = 4,    /* nothing in that range (Vexora 4) */
};

enum client_errkind {
	CLIENT_OK = 0,
	CLIENT_E_TRANSIENT,    /* connect/timeout/reset, HTTP 5xx, truncated body: retry with backoff */
	CLIENT_E_RATE_LIMIT,   /* 429, or 503 with Retry-After: retry after retry_after_ms */
	CLIENT_E_UNAVAILABLE,  /* provider closed for now (service hours, capacity); retry_after_ms */
	CLIENT_E_BUSINESS,     /* the provider refused: code and msg carry its words */
	CLIENT_E_URL_EXPIRED,  /* the temporary download URL is dead (403/410, or past its expiry) */
	CLIENT_E_FILE_EXPIRED, /* the server file itself expired: the task must be re-applied */
	CLIENT_E_NOT_FOUND,    /* the task id is unknown to the server: re-apply */
	CLIENT_E_PROTOCOL,     /* malformed, oversized or unexpected response; bad URL scheme */
	CLIENT_E_INVALID,      /* request refused locally before sending (range rules, config) */
	CLIENT_E_AUTH,         /* signature/token refused */
	CLIENT_E_LOCAL,        /* local failure: sink write error, ENOMEM; sys_errno says which */
	CLIENT_E_CANCELLED,    /* the sink asked to stop */
};

/* code of a CLIENT_E_UNAVAILABLE that means "outside the provider's service hours" (as
 * opposed to a capacity limit): .status then says it waits for service hours. */
#define PROVIDER_CODE_SERVICE_HOURS "service_hours"
/* code of a CLIENT_E_TRANSIENT download that moved slower than download_min_rate for
 * download_stall_timeout: retried, but a bounded number of times even when it made progress,
 * so a trickle cannot hold an export slot forever. */
#define PROVIDER_CODE_STALL "download_stall"

struct client_error {
	enum client_errkind kind;
	int http_status;		 /* 0 when there was no HTTP answer */
	int sys_errno;			 /* set for CLIENT_E_LOCAL; EPROTO on a CLIENT_E_PROTOCOL
					  * that broke a bound orderfs sets (client_error_bound) */
	long retry_after_ms;		 /* -1 when the server gave no hint */
	char code[PROVIDER_CODE_MAX];	 /* provider's business code, "" if none */
	char msg[PROVIDER_MSG_MAX];	 /* what went wrong; never contains a secret */
};

/* Reset to CLIENT_OK with empty strings and retry_after_ms = -1. */
void client_error_clear(struct client_error *e);
/* Set kind and a formatted message (truncated to fit); leaves code/http_status alone. */
void client_error_set(struct client_error *e, enum client_errkind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* CLIENT_E_PROTOCOL for an answer past one of orderfs's bounds (a count, a size): the
 * reader gets EPROTO, not EIO, and it is never retried. Message as client_error_set. */
void client_error_bound(struct client_error *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A reply body that failed to parse as JSON: 1 when asking again will not change it, with
 * *err set: not JSON at all (an HTML error page, plain text: its first byte is not '{' or
 * '['): CLIENT_E_PROTOCOL "<what>: the reply is not JSON; it starts \"...\"" with the first
 * bytes cleaned to printable ASCII; nested deeper than cJSON parses (CJSON_NESTING_LIMIT):
 * client_error_bound (EPROTO) "<what>: the reply nests deeper than N levels". 0 (err
 * untouched) for what may be a body cut short in transit. */
int client_reply_not_json(const char *body, size_t len, const char *what,
			  struct client_error *err);
/* The one table from client errors to errno (0 for CLIENT_OK). */
int client_error_to_errno(const struct client_error *e);
/* Whether retrying the same call later can succeed (transient, rate limit, unavailable). */
int client_error_retryable(const struct client_error *e);
const char *client_errkind_name(enum client_errkind kind);
const char *export_state_name(enum export_state s);

struct export_request {
	const char *report_type; /* "order" (Vexora), "ORDERS"/"PAYMENTS" (Clover) */
	const char *language;	 /* "en-US"; NULL or "" = provider default */
	struct date_range range; /* inclusive days */
};

struct export_task {
	char id[PROVIDER_ID_MAX];
	enum export_state state;
	int progress;			  /* 0..100, -1 when the provider does not say */
	char file_name[PROVIDER_NAME_MAX]; /* the server's file name: for display, never a path */
	int64_t finish_time;		  /* unix seconds, 0 when unknown */
	int64_t expires;		  /* unix seconds the server file stops existing, 0 unknown */
	char msg[PROVIDER_MSG_MAX];	  /* provider's status description */
};

/* A provider's expiry time (unix seconds) as export_task.expires, where 0 means "no expiry":
 * a time at or before the epoch is long past, so it becomes 1 (expired), never 0 or less. */
static inline int64_t provider_expiry(int64_t t)
{
	return t > 0 ? t : 1;
}

struct download_url {
	char url[PROVIDER_URL_MAX]; /* http(s) only; may embed a short-lived token: never log */
	int64_t expires_ms;	    /* absolute ms since epoch after which it is dead; 0 unknown */
};

struct provider;

struct provider_ops {
	/* Refuse a request the provider would refuse, without any network: CLIENT_E_INVALID. */
	int (*check)(struct provider *p, const struct export_request *req, int64_t now_s,
		     struct client_error *err);
	/* Create the export task. On success out->id is set and out->state is its first state. */
	int (*apply)(struct provider *p, const struct export_request *req, struct export_task *out,
		     struct client_error *err);
	/* Current state of a task. Unknown status codes are CLIENT_E_PROTOCOL, never guessed. */
	int (*query)(struct provider *p, const char *task_id, struct export_task *out,
		     struct client_error *err);
	/* Download URL(s) of a generated task: up to max written, *n set to how many. */
	int (*get_urls)(struct provider *p, const char *task_id, struct download_url *urls,
			size_t max, size_t *n, struct client_error *err);
	/*
	 * Fetch url into sink starting at offset (Range when offset > 0). Sends no secret or
	 * provider header. Succeeds only when the whole file arrived and its length matches the
	 * server's Content-Length/Content-Range; a drop mid-body is CLIENT_E_TRANSIENT and the sink
	 * has every byte received so far, so the caller resumes from there. *total is set to the
	 * file's size when known.
	 */
	int (*download)(struct provider *p, const struct download_url *url, uint64_t offset,
			const struct download_sink *sink, uint64_t *total,
			struct client_error *err);
	/*
	 * Optional (NULL = nothing to check): whether the size bytes at fd are a whole file of
	 * the provider's format, after download() reported success. Catches what HTTP cannot,
	 * such as a server that declared too short a Content-Length. 0, or -1 with *err:
	 * CLIENT_E_TRANSIENT when the file is incomplete (download it again), CLIENT_E_LOCAL
	 * when it cannot be read.
	 */
	int (*verify)(struct provider *p, int fd, uint64_t size, struct client_error *err);
	/*
	 * Optional (NULL = the cache uses get_urls + download). Produce a generated task's whole
	 * data into sink as one bundle (client/bundle.h), fetching whatever the task needs.
	 * Always starts from scratch with sink->begin(ctx, 0, UINT64_MAX); sink->read is
	 * available. After a retryable error the cache sleeps and calls it again from scratch.
	 * *total is set to the bytes written. req is the request the task was applied for.
	 */
	int (*fetch)(struct provider *p, const char *task_id, const struct export_request *req,
		     const struct download_sink *sink, uint64_t *total, struct client_error *err);
	/*
	 * Optional: one authenticated call that says whether the provider accepts this
	 * provider's current credentials for its merchant (Mogujie: a one-row query). NULL = the
	 * cache asks query(task_id) of an entry's own task instead (Vexora's signed status
	 * query, Clover's GET of the export). task_id may be "" (then the call needs none).
	 * 0 accepted; -1 with *err: CLIENT_E_AUTH refused, anything else cannot tell now.
	 */
	int (*check_credentials)(struct provider *p, const char *task_id,
				 struct client_error *err);
	/* Optional (NULL = files are not told apart by owner): whom the credentials in use
	 * serve, as the provider's latest answer that said so named it (Mogujie: the
	 * sellerUserId of its order rows), into out (n bytes); "" while no answer said. No I/O,
	 * no lock but the provider's own: callable under the cache lock. Thread-safe. */
	void (*credentials_owner)(struct provider *p, char *out, size_t n);
	/* Optional (NULL = they never change): the version of the credentials in use, one more
	 * each time a new secret or token was read from its file. Thread-safe. */
	uint64_t (*credentials_version)(struct provider *p);
	/* Optional (NULL = fixed at creation): change the cap on requests per second (0 = none);
	 * fleet mode shares one cap between the fleet's hosts. Thread-safe. */
	void (*set_request_rate)(struct provider *p, double per_s);
	/* Free everything, wiping secrets. */
	void (*destroy)(struct provider *p);
};

/*
 * One kind of export a provider offers; orderfs keeps one cache entry per (type, range).
 * A whole-file type (ext set) is one downloaded file, shown as base_name.ext. A bundle type
 * (ext NULL, the provider has fetch) is a bundle whose members are shown under their own
 * names, which all start with base_name: the fixed ones (base_name + each of suffixes) are
 * listed before the export ran; numbered ones (base_name-0001.numbered_ext, ...) once it has.
 */
struct provider_type {
	const char *report_type;	/* sent to the provider, part of the cache key */
	const char *base_name;		/* "orders", "payments" */
	const char *ext;		/* whole-file: "xlsx"; NULL for a bundle */
	const char *const *suffixes;	/* bundle: {".jsonl", ".csv", NULL} */
	const char *numbered_ext;	/* bundle: "json" for base-NNNN.json members, or NULL */
};

struct provider {
	const struct provider_ops *ops;
	const char *name;	 /* "vexora": part of cache keys */
	char account[128];	 /* merchant number: part of cache keys; not a secret */
	int max_range_days;	 /* longest range one export may cover (7 for Vexora) */
	int window_months;	 /* how far back exports reach (3 for Vexora) */
	const struct provider_type *types; /* what it exports; types[0] is the default */
	size_t ntypes;
	int shared_tasks;	 /* a task applied by one host can be queried and downloaded by
				  * any other with the same account (Vexora, Clover); 0 when a
				  * task is a local job (Mogujie's sync) */
	struct tz *zone;	 /* the account's time zone (days, "today"); owned, freed by
				  * provider_destroy; NULL = the process's zone. Set once, before
				  * the provider is shared; read-only after. */
	void *priv;		 /* implementation state */
};

/* The calendar date at unix time now_s in p's zone. Thread-safe (reads only). */
static inline struct date provider_today(const struct provider *p, int64_t now_s)
{
	return p->zone ? tz_date(p->zone, now_s) : date_from_time((time_t)now_s);
}

/* Destroy p and its zone. NULL is a no-op. */
static inline void provider_destroy(struct provider *p)
{
	if (p) {
		struct tz *zone = p->zone;
		p->ops->destroy(p);
		tz_free(zone);
	}
}

#endif
