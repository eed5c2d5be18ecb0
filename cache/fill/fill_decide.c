/* What a failed provider call means to a flight: the one decision (see fill_decide.h). */
#include "fill_decide.h"

#include <errno.h>
#include <string.h>

long fill_backoff_ms(const struct fill_policy *pol, int n)
{
	long ms = pol->retry_initial_ms;

	while (--n > 0 && ms < pol->retry_max_ms)
		ms *= 2;
	return ms < pol->retry_max_ms ? ms : pol->retry_max_ms;
}

static void give_up(struct fill_decision *d, const struct client_error *err)
{
	d->verdict = FILL_GIVE_UP;
	if (err->kind == CLIENT_E_CANCELLED)
		d->eno = ECANCELED; /* stopped by us: the table's EINTR is for a reader's call */
	else if (err->kind == CLIENT_OK)
		d->eno = EIO; /* errno 0 here would read as success (READY, nothing stored) */
	else
		d->eno = client_error_to_errno(err);
}

/* The faults that pass if the same call is made later. 1 when d is decided. */
static int decide_wait(struct fill_decision *d, const struct client_error *err, int64_t ms_left,
		       const struct fill_policy *pol)
{
	if (err->kind == CLIENT_E_TRANSIENT && !strcmp(err->code, PROVIDER_CODE_STALL)) {
		/* A trickle makes progress on every try: counted on its own, never forgiven. */
		if (++d->tries.stalls >= pol->retry_limit) {
			d->verdict = FILL_GIVE_UP;
			d->eno = ETIMEDOUT;
			return 1;
		}
		d->verdict = FILL_RETRY;
		d->wait_ms = fill_backoff_ms(pol, d->tries.stalls);
		return 1;
	}
	if (err->kind == CLIENT_E_TRANSIENT) {
		if (++d->tries.retries > pol->retry_limit) {
			give_up(d, err);
			d->unreachable = 1;
			return 1;
		}
		d->verdict = FILL_RETRY;
		d->wait_ms = fill_backoff_ms(pol, d->tries.retries);
		return 1;
	}
	if (err->kind == CLIENT_E_RATE_LIMIT) {
		d->wait_ms = err->retry_after_ms >= 0 ? err->retry_after_ms
						      : fill_backoff_ms(pol, d->tries.retries + 1);
		if (d->wait_ms > ms_left) {
			give_up(d, err);
			return 1;
		}
		d->verdict = FILL_RETRY;
		d->server_paced = 1;
		return 1;
	}
	if (err->kind == CLIENT_E_UNAVAILABLE) {
		d->verdict = FILL_WAIT_CLOSED;
		d->wait_ms = err->retry_after_ms >= 0 ? err->retry_after_ms
						      : fill_backoff_ms(pol, ++d->tries.waits);
		return 1;
	}
	return 0;
}

/* Whether err says the server no longer has the task or its file. */
static int task_gone(const struct client_error *err)
{
	return err->kind == CLIENT_E_FILE_EXPIRED || err->kind == CLIENT_E_NOT_FOUND;
}

struct fill_decision fill_decide(enum fill_step step, const struct client_error *err,
				 const struct fill_tries *so_far, int64_t ms_left,
				 const struct fill_policy *pol)
{
	struct fill_decision d = {.verdict = FILL_GIVE_UP, .tries = *so_far, .wait_ms = 0};
	/* After apply there is no task yet; a resumed file's verify keeps to retry or give up. */
	int may_reapply = step != FILL_STEP_APPLY && step != FILL_STEP_VERIFY;

	if (decide_wait(&d, err, ms_left, pol))
		return d;
	if (may_reapply && task_gone(err)) {
		d.verdict = FILL_REAPPLY_TASK;
		return d;
	}
	if (step == FILL_STEP_DOWNLOAD && err->kind == CLIENT_E_URL_EXPIRED &&
	    ++d.tries.url_refreshes <= pol->retry_limit + 1) {
		d.verdict = FILL_REFRESH_URL;
		return d;
	}
	give_up(&d, err);
	/* Disk full or a write error: the partial file goes, the task stays. */
	d.drop_part = step == FILL_STEP_DOWNLOAD && err->kind == CLIENT_E_LOCAL;
	return d;
}
