/*
 * `orderfs get CONFIG A..B [-o FILE]`: one export to a file or stdout through the same cache
 * as the mount, without FUSE (containers and CI runners without /dev/fuse).
 */
#ifndef ORDERFS_GET_H
#define ORDERFS_GET_H

#include "../cache/cache.h"

/* Exit statuses of `orderfs get` (also in the man page). */
enum get_status {
	GET_OK = 0,
	GET_FAILED = 1,	   /* the export failed: provider error, unreachable, timeout, disk */
	GET_USAGE = 2,	   /* bad command line, config or range */
	GET_NO_DATA = 3,   /* the provider has no data in that range */
};

/*
 * Fetch the export of type `type` (an index into prov->types) for range_str ("A..B", at most
 * prov->max_range_days days, inside the window), prov being added to the cache as sc says
 * (setup_source_config: the account in its keys, the report_type), and copy member (that
 * file of a bundle export; "" for a whole-file export) into out_path, written to a temp file
 * next to it, then renamed: never a partial file under that name; or to stdout when out_path
 * is NULL or "-". Prints one line saying what failed on stderr. While it waits, and unless
 * quiet, a line on stderr rewritten in place shows the export's step when stderr is a
 * terminal (nothing otherwise). Returns an enum get_status.
 */
int get_run(const struct cache_config *cc, struct provider *prov,
	    const struct cache_source_config *sc, size_t type, const char *range_str,
	    const char *member, const char *out_path, int quiet);

/*
 * `orderfs get [-d] [-q] CONFIG A..B[/NAME] [-o FILE]`, argv[0] being "get": the command line, the
 * config, then get_run for the file named. Returns the exit status (an enum get_status).
 */
int get_main(int argc, char **argv);

#endif
