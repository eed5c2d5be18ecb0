/* The per-thread interrupt of provider calls; the design note is in interrupt.h. */
#include "interrupt.h"

#include <errno.h>
#include <time.h>

static _Thread_local const struct client_interrupt *bound;

const struct client_interrupt *client_interrupt_bind(const struct client_interrupt *in)
{
	const struct client_interrupt *old = bound;

	bound = in;
	return old;
}

int client_interrupted(void)
{
	return bound && bound->stopped && bound->stopped(bound->arg);
}

int client_sleep_ms(long ms)
{
	struct timespec ts;

	if (client_interrupted())
		return -ECANCELED;
	if (ms <= 0)
		return 0;
	if (bound && bound->sleep)
		return bound->sleep(bound->arg, ms) ? -ECANCELED : 0;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	return 0;
}
