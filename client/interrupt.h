/*
 * Interrupting a provider call from the layer that drives it, without changing every call's
 * signature.
 *
 * Design note. A provider call can block for a long time without writing a byte: retry
 * backoff, a Retry-After, the request cap, a slow API answer. The caller (the cache's fill)
 * binds an interrupt to its own thread for as long as it drives the provider; every sleep in
 * client/ goes through client_sleep_ms, which sleeps through the bound interrupt so the caller
 * can wake it (unmount, forget), and every HTTP transfer asks client_interrupted about once a
 * second and aborts when it says so. The call then fails with CLIENT_E_CANCELLED. The binding
 * is per thread (thread-local, like errno): a thread with nothing bound, such as a test or
 * `orderfs get`'s main thread before it starts a cache, sleeps the full time.
 */
#ifndef ORDERFS_INTERRUPT_H
#define ORDERFS_INTERRUPT_H

struct client_interrupt {
	/* Sleep up to ms; return non-zero when woken early because the call must stop. */
	int (*sleep)(void *arg, long ms);
	/* Non-zero when the call must stop. Cheap: called about once a second per transfer. */
	int (*stopped)(void *arg);
	void *arg;
};

/* Bind in (not copied: it must stay valid until unbound) to the calling thread; NULL
 * unbinds. Returns the binding it replaced, so nested callers can restore it. */
const struct client_interrupt *client_interrupt_bind(const struct client_interrupt *in);

/* Sleep ms (<= 0: not at all) on the calling thread. 0 after the whole time, -ECANCELED when
 * the bound interrupt ended it early (or had already fired). */
int client_sleep_ms(long ms);

/* Whether the bound interrupt says stop; 0 when nothing is bound. */
int client_interrupted(void);

#endif
