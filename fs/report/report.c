/* The cache's counters the reports read; see report.h. */
#include "report.h"

#include <string.h>

#include "../orderfs.h"

void report_cache_stats(struct orderfs *o, struct cache_stats *out)
{
	cache_get_stats(o->cache, out);
}

void report_account_stats(struct orderfs *o, struct fs_account *a, struct cache_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (account_active(a))
		cache_get_types_stats(o->cache, a->kind0, a->nkinds, out);
}
