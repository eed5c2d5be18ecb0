/* An export's step in words (see progress.h). */
#include "progress.h"

#include <stdio.h>

#define MIB (1024.0 * 1024.0)

static int progress_download(const struct cache_info *in, char *out, size_t len)
{
	if (in->items_total) /* a provider's own sync (Mogujie): its count says more */
		return snprintf(out, len, "syncing %llu of %llu orders",
				(unsigned long long)in->items_done,
				(unsigned long long)in->items_total);
	if (in->size && in->bytes_done >= in->size) /* all bytes in: hash, fsync, commit */
		return snprintf(out, len, "verifying %.1f MiB", (double)in->size / MIB);
	if (in->size)
		return snprintf(out, len, "downloading %.1f of %.1f MiB",
				(double)in->bytes_done / MIB, (double)in->size / MIB);
	return snprintf(out, len, "downloading %.1f MiB", (double)in->bytes_done / MIB);
}

int progress_step(const struct cache_info *in, char *out, size_t len)
{
	switch (in->state) {
	case CACHE_GENERATING:
		if (in->progress >= 0)
			return snprintf(out, len, "generating %d%%", in->progress);
		return snprintf(out, len, "generating");
	case CACHE_DOWNLOADING:
		return progress_download(in, out, len);
	case CACHE_WAITING:
		return snprintf(out, len, "waiting for the provider");
	default:
		return snprintf(out, len, "%s", cache_state_name(in->state));
	}
}
