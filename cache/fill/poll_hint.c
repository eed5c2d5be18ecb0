/* Poll close to where the account's last export was generated (see poll_hint.h). */
#include "poll_hint.h"

long poll_hint_wait(long wait_ms, int64_t since_apply_ms, const struct poll_hint *h,
		    int polling, unsigned turn)
{
	unsigned n = polling > 1 ? (unsigned)polling : 1;
	long step = POLL_HINT_STEP_MS * (long)n;
	int64_t start, end;

	if (wait_ms < 0)
		wait_ms = 0;
	if (!h || h->hi_ms <= 0)
		return wait_ms;
	start = h->lo_ms - POLL_HINT_MARGIN_MS;
	end = h->hi_ms + POLL_HINT_MARGIN_MS;
	if (start < 0)
		start = 0;
	start += (int64_t)(turn % n) * POLL_HINT_STEP_MS; /* this export's turn in the wave */
	if (since_apply_ms < start) {
		if (since_apply_ms + wait_ms > start)
			return (long)(start - since_apply_ms);
		return wait_ms;
	}
	if (since_apply_ms < end && wait_ms > step)
		return step;
	return wait_ms;
}

int poll_hint_wakes(const struct poll_hint *h, int64_t since_apply_ms)
{
	return h && h->hi_ms > 0 && since_apply_ms >= h->lo_ms - POLL_HINT_MARGIN_MS;
}

struct poll_hint poll_hint_learn(int64_t lo_ms, int64_t hi_ms)
{
	struct poll_hint h = {0, 0};

	/* Never seen pending: it was generated before the first poll, which tells only an upper
	 * bound; a window from 0 would poll a short export every step from its apply on. */
	if (lo_ms <= 0 || hi_ms <= 0)
		return h;
	h.lo_ms = lo_ms < hi_ms ? lo_ms : hi_ms;
	h.hi_ms = hi_ms;
	return h;
}
