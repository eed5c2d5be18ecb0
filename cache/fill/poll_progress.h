/*
 * When to poll an export whose provider reports its percent while it generates (Clover's
 * percentComplete). Two reports give a rate, and at that rate the export ends at a predicted
 * time: one poll lands just after it, a few more follow POLL_HINT_STEP_MS apart in case the
 * prediction was a little early, then the schedule goes on. The schedule alone finds the
 * export done up to a tenth of its time late (../fill_run.c); this costs a poll or two per export.
 * Times are in any one monotonic clock, in ms.
 */
#ifndef ORDERFS_CACHE_POLL_PROGRESS_H
#define ORDERFS_CACHE_POLL_PROGRESS_H

#include <stdint.h>

#define POLL_PROGRESS_AFTER_MS 40   /* the first poll this long after the predicted end */
#define POLL_PROGRESS_WINDOW_MS 250 /* then every POLL_HINT_STEP_MS until this long after */
#define POLL_PROGRESS_MIN_GAIN 2    /* percent points between the reports a rate is taken from */

struct poll_progress {
	int64_t t0_ms; /* the first report inside 0 < percent < 100; 0 = none yet */
	int p0;
	int64_t t1_ms; /* the latest report above p0 */
	int p1;
};

/* Note the provider's percent (0..100; anything else is ignored) reported at now_ms while the
 * export generates. Pure. */
void poll_progress_note(struct poll_progress *pp, int64_t now_ms, int percent);

/* The predicted end, in the clock of the reports; 0 = no prediction (fewer than two reports
 * POLL_PROGRESS_MIN_GAIN points apart). Pure. */
int64_t poll_progress_end(const struct poll_progress *pp);

/* The wait before the next poll: wait_ms as the schedule gives it, shortened so a poll lands
 * POLL_PROGRESS_AFTER_MS after the predicted end, or at most POLL_HINT_STEP_MS while within
 * POLL_PROGRESS_WINDOW_MS after it. Pure; never more than wait_ms, nor less than 0. */
long poll_progress_wait(long wait_ms, int64_t now_ms, const struct poll_progress *pp);

#endif
