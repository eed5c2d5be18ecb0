#include "get.h"
#include "dirlock.h"

#include "../common/bundle.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Copy len bytes of in from offset base to out. 0 or -errno (-EIO if in is shorter). */
static int copy_fd(int in, int out, uint64_t base, uint64_t len)
{
	char buf[1 << 16];
	off_t off = (off_t)base;

	for (;;) {
		uint64_t left = base + len - (uint64_t)off;
		if (left == 0)
			return 0;
		ssize_t n = pread(in, buf, left < sizeof(buf) ? (size_t)left : sizeof(buf), off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
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
static int write_file(int in, uint64_t base, uint64_t len, const char *path)
{
	char tmp[PATH_MAX];
	int fd, rc;

	if (snprintf(tmp, sizeof(tmp), "%s.orderfs-XXXXXX", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkstemp(tmp);
	if (fd < 0)
		return -errno;
	rc = copy_fd(in, fd, base, len);
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

/* Where member lies in the bundle h has open ("" = the whole file). 0 or -errno. */
static int extent(struct cache_handle *h, const char *member, uint64_t *base, uint64_t *len)
{
	struct bundle_index ix;
	int rc;

	*base = 0;
	*len = cache_handle_size(h);
	if (!member[0])
		return 0;
	if ((rc = bundle_index_read(cache_handle_fd(h), cache_handle_size(h), &ix)) != 0)
		return rc;
	const struct bundle_member *m = bundle_index_find(&ix, member);
	if (m) {
		*base = m->offset;
		*len = m->size;
	}
	bundle_index_free(&ix);
	return m ? 0 : -ENOENT;
}

int get_run(const struct cache_config *cc, struct provider *prov, size_t type,
	    const char *range_str, const char *member, const char *out_path)
{
	uint64_t base = 0, len = 0;
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
	rc = cache_open(cache, type, &r, NULL, NULL, &h);
	if (rc) {
		cache_lookup(cache, type, &r, &info);
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
	if ((rc = extent(h, member, &base, &len)) != 0) {
		fprintf(stderr, "orderfs get: %s: %s%s\n", range_str,
			rc == -ENOENT ? "the export has no file " : "unreadable export: ",
			rc == -ENOENT ? member : strerror(-rc));
		goto out;
	}
	if (!out_path || !strcmp(out_path, "-"))
		rc = copy_fd(cache_handle_fd(h), STDOUT_FILENO, base, len);
	else
		rc = write_file(cache_handle_fd(h), base, len, out_path);
	if (rc) {
		fprintf(stderr, "orderfs get: %s: %s\n", out_path ? out_path : "stdout",
			strerror(-rc));
		goto out;
	}
	cache_lookup(cache, type, &r, &info);
	if (out_path && strcmp(out_path, "-"))
		fprintf(stderr, "orderfs get: %s: %llu bytes, %s %s\n", out_path,
			(unsigned long long)len, member[0] ? "bundle sha256" : "sha256",
			info.sha256);
	status = GET_OK;
out:
	cache_handle_close(h);
	cache_free(cache);
	close(lock_fd);
	return status;
}
