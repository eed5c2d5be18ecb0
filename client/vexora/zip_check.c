/* Whether a downloaded file ends like a whole zip archive (xlsx is one). */
#include "zip_check.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#define ZIP_EOCD_LEN 22
#define ZIP_TAIL_MAX (ZIP_EOCD_LEN + 65535) /* the record plus the longest comment */

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int zip_check_end(int fd, uint64_t size)
{
	size_t n = size < ZIP_TAIL_MAX ? (size_t)size : ZIP_TAIL_MAX, got = 0;
	uint64_t base = size - n;
	unsigned char *buf;
	int rc = -EBADMSG;

	if (n < ZIP_EOCD_LEN)
		return -EBADMSG;
	buf = malloc(n);
	if (!buf)
		return -ENOMEM;
	while (got < n) {
		ssize_t r = pread(fd, buf + got, n - got, (off_t)(base + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = r < 0 ? -errno : -EIO;
			goto out;
		}
		got += (size_t)r;
	}
	for (size_t i = n - ZIP_EOCD_LEN + 1; i-- > 0;) {
		const unsigned char *e = buf + i;
		uint32_t cd_size, cd_off;
		if (e[0] != 'P' || e[1] != 'K' || e[2] != 5 || e[3] != 6)
			continue;
		if (i + ZIP_EOCD_LEN + ((size_t)e[20] | (size_t)e[21] << 8) != n)
			continue;
		cd_size = le32(e + 12);
		cd_off = le32(e + 16);
		/* zip64 keeps the real values elsewhere; the record at EOF is enough then. */
		if (cd_size == 0xffffffffu || cd_off == 0xffffffffu ||
		    (uint64_t)cd_off + cd_size == base + i) {
			rc = 0;
			break;
		}
	}
out:
	free(buf);
	return rc;
}

int zip_check_gzip(int fd, uint64_t size)
{
	unsigned char magic[2];

	return size >= 2 && pread(fd, magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
}
