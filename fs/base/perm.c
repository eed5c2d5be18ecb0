/* Owner, group and mode of the mount's nodes; see perm.h. */
#include "perm.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <unistd.h>


#define PERM_NSS_BUF 16384

/* s as a whole decimal number 0..2^32-2 (uid_t and gid_t; -1 is "none"). 0 or -1. */
static int parse_id(const char *s, long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end || v < 0 || v > 4294967294LL)
		return -1;
	*out = (long)v;
	return 0;
}

int perm_parse_owner(const char *s, long *uid)
{
	struct passwd pw, *res = NULL;
	char *buf;
	int rc = -1;

	if (parse_id(s, uid) == 0)
		return 0;
	if (!(buf = malloc(PERM_NSS_BUF)))
		return -1;
	if (getpwnam_r(s, &pw, buf, PERM_NSS_BUF, &res) == 0 && res) {
		*uid = (long)pw.pw_uid;
		rc = 0;
	}
	free(buf);
	return rc;
}

int perm_parse_group(const char *s, long *gid)
{
	struct group gr, *res = NULL;
	char *buf;
	int rc = -1;

	if (parse_id(s, gid) == 0)
		return 0;
	if (!(buf = malloc(PERM_NSS_BUF)))
		return -1;
	if (getgrnam_r(s, &gr, buf, PERM_NSS_BUF, &res) == 0 && res) {
		*gid = (long)gr.gr_gid;
		rc = 0;
	}
	free(buf);
	return rc;
}

int perm_parse_mode(const char *s, int *mode)
{
	char *end;

	if (*s < '0' || *s > '7')
		return -1;
	errno = 0;
	long v = strtol(s, &end, 8);
	if (errno || *end || v < 0 || v > 0777)
		return -1;
	*mode = (int)v;
	return 0;
}

void perm_dir_stat(const struct fs_perm *p, int mkdir_here, struct stat *st)
{
	mode_t m = p->mode;

	if (mkdir_here)
		m |= (m & 0440) >> 1; /* u+w, g+w where they may read */
	st->st_mode = S_IFDIR | m;
	st->st_uid = p->uid;
	st->st_gid = p->gid;
}

void perm_file_stat(const struct fs_perm *p, struct stat *st)
{
	st->st_mode = S_IFREG | (p->mode & 0666);
	st->st_uid = p->uid;
	st->st_gid = p->gid;
}
