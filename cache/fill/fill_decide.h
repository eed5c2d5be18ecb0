/*
 * What a failed provider call means to a flight, decided in one place: call it again after a
 * backoff, wait while the provider is closed, apply again, get a new download URL, or give up
 * with the errno readers see (client_error_to_errno, the one table). The answer depends on the
 * error's kind, on the step that failed and on what the flight went through so far; never on
 * the HTTP status, which the client already folded into the kind.
 *
 * Pure: no clock, no lock, no I/O, no log. flight.c acts on the verdict (fill_judge).
 */
#ifndef ORDERFS_CACHE_FILL_DECIDE_H
#define ORDERFS_CACHE_FILL_DECIDE_H

#include <stdint.h>

#include "../../client/provider.h"

/* The step whose provider call failed. */
enum fill_step {
	FILL_STEP_APPLY,    /* apply: there is no task yet, so nothing to re-apply */
	FILL_STEP_QUERY,    /* query of the current task */
	FILL_STEP_GET_URL,  /* get_urls of the current task */
	FILL_STEP_VERIFY,   /* verify of a resumed .part that already had the whole size */
	FILL_STEP_DOWNLOAD, /* download of the generated file, with its verify */
	FILL_STEP_FETCH,    /* the provider's own fetch of a bundle, with its checks */
};

enum fill_verdict {
	FILL_RETRY,	   /* the same call again after wait_ms */
	FILL_WAIT_CLOSED,  /* the provider is closed for now: wait wait_ms (entry WAITING), again */
	FILL_REAPPLY_TASK, /* the server lost the task or its file: apply again */
	FILL_REFRESH_URL,	   /* the download URL is dead: get a new one, download again */
	FILL_GIVE_UP,	   /* end the flight: readers get eno */
};

/* The limits, from the cache's configuration. */
struct fill_policy {
	int retry_limit;       /* transient faults in a row before giving up */
	long retry_initial_ms; /* first backoff, doubling on every fault in a row ... */
	long retry_max_ms;     /* ... up to this */
};

/* What the flight went through so far. The caller zeroes retries and url_refreshes when a
 * call makes progress; fill_decide only counts. */
struct fill_tries {
	int retries;	   /* transient faults in a row */
	int url_refreshes; /* download URLs replaced in a row */
	int waits;	   /* waits for a closed provider that gave no retry_after (backoff) */
	int stalls;	   /* downloads aborted below download_min_rate (PROVIDER_CODE_STALL),
			    * this flight: progress does not reset them */
};

struct fill_decision {
	enum fill_verdict verdict;
	struct fill_tries tries; /* the counts with this fault added: the caller keeps them */
	long wait_ms;		 /* FILL_RETRY, FILL_WAIT_CLOSED: sleep this long first */
	int server_paced;	 /* FILL_RETRY: the server set the pace (rate limit), not counted */
	int eno;		 /* FILL_GIVE_UP: errno for readers; ECANCELED = the flight stopped */
	int unreachable;	 /* FILL_GIVE_UP: after retry_limit transient faults in a row */
	int drop_part;		 /* FILL_GIVE_UP: the .part cannot be trusted (local write error) */
};

/*
 * What err, from a call in step, means. so_far: the counts before this fault; ms_left: time
 * left before the export deadline (a rate-limit wait that does not fit gives up EAGAIN; a
 * closed provider's wait does not count against it). Thread-safe, no side effects.
 *
 *   TRANSIENT     retry after the backoff, at most retry_limit in a row, then give up EIO
 *                 (unreachable)
 *   RATE_LIMIT    retry after retry_after_ms (or the backoff), not counted; EAGAIN past ms_left
 *   UNAVAILABLE   wait retry_after_ms (or the backoff of the waits so far)
 *   FILE_EXPIRED, NOT_FOUND
 *                 re-apply after QUERY, GET_URL, DOWNLOAD, FETCH; give up EIO after APPLY, VERIFY
 *   URL_EXPIRED   a new URL after DOWNLOAD, at most retry_limit + 1 in a row (then EIO);
 *                 give up EIO after any other step
 *   LOCAL         give up with its sys_errno (EIO without); after DOWNLOAD the .part is dropped
 *   CANCELLED     give up ECANCELED: the flight was stopped (forget, shutdown)
 *   CLIENT_OK     (a call failed without saying why) give up EIO, never 0
 *   others        give up with client_error_to_errno
 */
struct fill_decision fill_decide(enum fill_step step, const struct client_error *err,
				 const struct fill_tries *so_far, int64_t ms_left,
				 const struct fill_policy *pol);

/* The wait before try n (1 = the first retry): retry_initial_ms doubling, capped at
 * retry_max_ms. */
long fill_backoff_ms(const struct fill_policy *pol, int n);

#endif
