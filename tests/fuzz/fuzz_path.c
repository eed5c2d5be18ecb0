/*
 * libFuzzer target: the range-name parser. Any byte string as a path below the mount (and as
 * a bare "A..B" name) must resolve or be refused, never crash, overrun or loop; whatever
 * resolves must name files that resolve back to the same node.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/date.h"
#include "../../fs/path.h"

#define FUZZ_PATH_MAX 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct path_layout l = {7, "orders", "xlsx"};
	char path[FUZZ_PATH_MAX + 1], name[PATH_NAME_MAX], again[FUZZ_PATH_MAX + 1];
	struct path_node n, m;
	struct date_range r, chunk;
	struct date d;
	const char *why = NULL;
	size_t count;

	if (size > FUZZ_PATH_MAX)
		return 0;
	memcpy(path, data, size);
	path[size] = '\0';
	(void)date_parse(path, size, &d);
	if (date_range_parse(path, &r, &why) == 0) {
		char back[DATE_RANGE_STR_LEN];
		date_range_format(&r, back);
		if (strcmp(back, path) != 0)
			abort(); /* a parsed range prints back as itself */
	}
	if (path_resolve(path, &l, &n, &why) != 0)
		return 0;
	if (n.kind != PATH_RANGE_DIR && n.kind != PATH_EXPORT_FILE && n.kind != PATH_STATUS)
		return 0;
	count = path_file_count(&n.range, &l);
	if (count == 0)
		abort();
	/* First and last few files of the range: their names resolve to themselves. */
	for (size_t i = 0; i < count && i < 4; i++) {
		size_t k = i < 2 ? i : count - (4 - i);
		char rs[DATE_RANGE_STR_LEN];
		if (k >= count || path_file_name(&n.range, &l, k, name, &chunk) != 0)
			continue;
		date_range_format(&n.range, rs);
		snprintf(again, sizeof(again), "/exports/%s/%s", rs, name);
		if (path_resolve(again, &l, &m, &why) != 0 || m.kind != PATH_EXPORT_FILE ||
		    date_cmp(&m.chunk.start, &chunk.start) != 0 ||
		    date_cmp(&m.chunk.end, &chunk.end) != 0)
			abort();
	}
	if (path_file_name(&n.range, &l, count, name, &chunk) == 0)
		abort(); /* one past the end is refused */
	return 0;
}
