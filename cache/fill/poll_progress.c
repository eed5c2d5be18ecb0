/* Poll just after the end the provider's own percent predicts (see poll_progress.h). */
#include "poll_progress.h"
#include "poll_hint.h"

void poll_progress_note(struct poll_progress *pp, int64_t now_ms, int percent)
{
	/* 0 is also what a pending export says, and its wait is no part of the rate; 100 is
	 * the end itself. */
	if (percent <= 0 || percent >= 100)
		return;
	if (!pp->t0_ms) {
		pp->t0_ms = now_ms;
		pp->p0 = percent;
		return;
	}
	if (percent > pp->p0) {
		pp->t1_ms = now_ms;
		pp->p1 = percent;
	}
}

int64_t poll_progress_end(const struct poll_progress *pp)
{
	int gain = pp->p1 - pp->p0;

	if (!pp->t0_ms || !pp->t1_ms || gain < POLL_PROGRESS_MIN_GAIN || pp->t1_ms <= pp->t0_ms)
		return 0;
	/* Both reports are whole percents, each a little below the true one: the rate is as
	 * good as their difference, and what is left of the last is 99.5 points on average. */
	double ms_per_point = (double)(pp->t1_ms - pp->t0_ms) / gain;
	return pp->t1_ms + (int64_t)((99.5 - pp->p1) * ms_per_point);
}

long poll_progress_wait(long wait_ms, int64_t now_ms, const struct poll_progress *pp)
{
	int64_t end = poll_progress_end(pp), first;

	if (wait_ms < 0)
		wait_ms = 0;
	if (!end)
		return wait_ms;
	first = end + POLL_PROGRESS_AFTER_MS;
	if (now_ms < first)
		return now_ms + wait_ms > first ? (long)(first - now_ms) : wait_ms;
	if (now_ms < end + POLL_PROGRESS_WINDOW_MS && wait_ms > POLL_HINT_STEP_MS)
		return POLL_HINT_STEP_MS;
	return wait_ms;
}
