/*
 * Room on disk for a download. A provider (or whoever controls a download URL) decides how
 * many bytes come: a Content-Length of 100 GB, or a body that never ends. These checks run in
 * the download sink's hook, before a byte is written and as the file grows, so no download
 * passes max_file_size or eats into the cache_min_free reserve of cache_dir's filesystem.
 * Each refusal logs one line with both numbers; the caller turns the -errno into the
 * flight's failure, and the .part is deleted.
 */
#include "../internal.h"
#include "room.h"

#include <errno.h>
#include <sys/statvfs.h>

#include "../../common/log.h"

#define ROOM_MIN_FREE_CAP (1ull << 30) /* the automatic reserve: at most 1 GiB... */
#define ROOM_MIN_FREE_PERCENT 5	       /* ...or 5 % of the filesystem, whichever is smaller */

/* Free bytes for us on cache_dir's filesystem, and the reserve to leave there. 0 or -errno. */
static int room_disk(const struct cache *c, uint64_t *avail, uint64_t *reserve)
{
	struct statvfs st;

	if (statvfs(c->dir, &st) != 0)
		return -errno;
	*avail = (uint64_t)st.f_bavail * st.f_frsize;
	*reserve = c->cfg.min_free;
	if (*reserve == CACHE_MIN_FREE_AUTO) {
		uint64_t part = (uint64_t)st.f_blocks * st.f_frsize / 100 * ROOM_MIN_FREE_PERCENT;
		*reserve = part < ROOM_MIN_FREE_CAP ? part : ROOM_MIN_FREE_CAP;
	}
	return 0;
}

int room_begin(const struct cache *c, const char *range, uint64_t have, uint64_t total)
{
	uint64_t avail, reserve, need;

	if (total == UINT64_MAX)
		return 0; /* undeclared: room_grow watches it */
	if (total > c->cfg.max_file_size) {
		log_warn("cache: %s: the server declares %llu bytes, over max_file_size %llu; "
			 "refused",
			 range, (unsigned long long)total,
			 (unsigned long long)c->cfg.max_file_size);
		return -EFBIG;
	}
	if (room_disk(c, &avail, &reserve) != 0)
		return 0; /* cannot tell: the writes will say */
	need = total > have ? total - have : 0;
	if (need > avail || avail - need < reserve) {
		log_warn("cache: %s: the server declares %llu bytes (%llu still to come) but "
			 "cache_dir has %llu bytes free and cache_min_free is %llu; refused",
			 range, (unsigned long long)total, (unsigned long long)need,
			 (unsigned long long)avail, (unsigned long long)reserve);
		return -ENOSPC;
	}
	return 0;
}

int room_grow(const struct cache *c, const char *range, uint64_t before, uint64_t size)
{
	uint64_t avail, reserve;

	if (size > c->cfg.max_file_size) {
		log_warn("cache: %s: download passed max_file_size %llu (%llu bytes so far); "
			 "stopped",
			 range, (unsigned long long)c->cfg.max_file_size, (unsigned long long)size);
		return -EFBIG;
	}
	if (before / ROOM_CHECK_EVERY == size / ROOM_CHECK_EVERY)
		return 0;
	if (room_disk(c, &avail, &reserve) == 0 && avail < reserve) {
		log_warn("cache: %s: cache_dir has %llu bytes free, under cache_min_free %llu, "
			 "after %llu bytes of the download; stopped",
			 range, (unsigned long long)avail, (unsigned long long)reserve,
			 (unsigned long long)size);
		return -ENOSPC;
	}
	return 0;
}
