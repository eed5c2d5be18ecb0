/*
 * Clocks, in milliseconds. Wall time for what the servers speak of (expiry, finish time);
 * monotonic time for intervals that a clock step must not stretch or shrink (backoff, rate
 * limits, durations). Thread-safe.
 */
#ifndef ORDERFS_CLOCK_H
#define ORDERFS_CLOCK_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t clock_real_ms(void);

/* Milliseconds on CLOCK_MONOTONIC: only differences mean anything. */
int64_t clock_mono_ms(void);

/* The CLOCK_MONOTONIC instant ms milliseconds from now, for pthread_cond_timedwait on a
 * condition variable set to that clock. */
void clock_mono_deadline(struct timespec *ts, int64_t ms);

/* Initialise cond to time its waits on CLOCK_MONOTONIC (the clock clock_mono_deadline's
 * instants are on), so a step of the wall clock cannot stretch or cut a wait. 0, or the
 * errno pthread gave (then cond is not initialised). */
int clock_mono_cond_init(pthread_cond_t *cond);

#endif
