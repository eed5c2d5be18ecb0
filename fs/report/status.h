/*
 * The text of /exports/A..B/.status: JSON describing the state of each file of a range, built
 * from cache snapshots only (reading it never starts an export).
 */
#ifndef ORDERFS_STATUS_H
#define ORDERFS_STATUS_H

#include <stddef.h>

#include "../../cache/cache.h"
#include "../../common/tz.h"
#include "../path.h"

/*
 * Render the .status JSON for range r. names[i]/chunks[i]/infos[i] describe its n files; in
 * fleet mode fleet says how this host stands in the fleet ("member", "unreachable, running
 * alone": stats_fleet_state), NULL otherwise. Times are shown in zone (the account's
 * time_zone; NULL: the process's). Returns a malloc'd NUL-terminated string (caller frees) and its length in *len, or NULL on
 * out of memory.
 */
char *status_render(const struct date_range *r, size_t n, const char (*names)[PATH_NAME_MAX],
		    const struct date_range *chunks, const struct cache_info *infos, const char *fleet,
		    const struct tz *zone, size_t *len);

typedef struct cJSON cJSON;
/* The last failure of the export info describes, as .status shows it: {errno, error, kind,
 * code, msg[, http_status]}, or JSON null when it has none; NULL on ENOMEM. */
cJSON *status_error_json(const struct cache_info *in);

#endif
