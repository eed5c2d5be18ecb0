#include "get.h"
#include "dirlock.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Copy all of in to out from offset 0. 0 or -errno. */
static int copy_fd(int in, int out)
{
	char buf[1 << 16];
	off_t off = 0;

	for (;;) {
		ssize_t n = pread(in, buf, sizeof(buf), off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return 0;
		off += n;
		for (ssize_t done = 0; done < n;) {
			ssize_t w = write(out, buf + done, (size_t)(n - done));
			if (w < 0) {
				if (errno == EINTR)
					continue;
				return -errno;
			}
			done += w;
		}
	}
}

/* Write the handle's file to path atomically (temp + fsync + rename). 0 or -errno. */
static int write_file(int in, const char *path)
{
	char tmp[PATH_MAX];
	int fd, rc;

	if (snprintf(tmp, sizeof(tmp), "%s.orderfs-XXXXXX", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkstemp(tmp);
	if (fd < 0)
		return -errno;
	rc = copy_fd(in, fd);
	if (rc == 0 && fchmod(fd, 0644) != 0)
		rc = -errno;
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}

int get_run(const struct cache_config *cc, struct provider *prov, const char *range_str,
	    const char *out_path)
{
	struct date_range r;
	struct date today = date_from_time(time(NULL));
	struct cache *cache = NULL;
	struct cache_handle *h = NULL;
	struct cache_info info;
	const char *why = NULL;
	int err = 0, rc, status = GET_FAILED, lock_fd;

	if (date_range_parse(range_str, &r, &why) ||
	    date_range_check(&r, &today, prov->max_range_days, prov->window_months, &why)) {
		fprintf(stderr, "orderfs get: %s: bad range: %s (A..B, dates YYYY-MM-DD, at most %d "
				"days, within the last %d months)\n",
			range_str, why, prov->max_range_days, prov->window_months);
		return GET_USAGE;
	}
	lock_fd = dirlock_take(cc->dir);
	if (lock_fd < 0) {
		fprintf(stderr, "orderfs get: cache_dir %s: %s\n", cc->dir,
			lock_fd == -EBUSY ? "in use by a running orderfs; copy the file from its "
					    "mount instead"
					  : strerror(-lock_fd));
		return GET_FAILED;
	}
	cache = cache_new(cc, prov, &err);
	if (!cache) {
		fprintf(stderr, "orderfs get: cache_dir %s: %s\n", cc->dir, strerror(-err));
		close(lock_fd);
		return GET_FAILED;
	}
	rc = cache_open(cache, &r, NULL, NULL, &h);
	if (rc) {
		cache_lookup(cache, &r, &info);
		if (rc == -ENODATA) {
			fprintf(stderr, "orderfs get: %s: no data in that range\n", range_str);
			status = GET_NO_DATA;
		} else if (info.last_error.msg[0]) {
			fprintf(stderr, "orderfs get: %s: %s%s%s: %s\n", range_str, strerror(-rc),
				info.last_error.code[0] ? ", code " : "", info.last_error.code,
				info.last_error.msg);
		} else {
			fprintf(stderr, "orderfs get: %s: %s\n", range_str, strerror(-rc));
		}
		goto out;
	}
	if (!out_path || !strcmp(out_path, "-"))
		rc = copy_fd(cache_handle_fd(h), STDOUT_FILENO);
	else
		rc = write_file(cache_handle_fd(h), out_path);
	if (rc) {
		fprintf(stderr, "orderfs get: %s: %s\n", out_path ? out_path : "stdout",
			strerror(-rc));
		goto out;
	}
	cache_lookup(cache, &r, &info);
	if (out_path && strcmp(out_path, "-"))
		fprintf(stderr, "orderfs get: %s: %llu bytes, sha256 %s\n", out_path,
			(unsigned long long)cache_handle_size(h), info.sha256);
	status = GET_OK;
out:
	cache_handle_close(h);
	cache_free(cache);
	close(lock_fd);
	return status;
}
