/* Ownership rules for the paths orderfs trusts; see owner.h. */
#include "owner.h"

#include <stdio.h>
#include <unistd.h>

int owner_trusted(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

/* The checks both directory rules share, once the owner is known to be acceptable. */
static int dir_not_shared(const struct stat *st, char *err, size_t errlen)
{
	if (st->st_mode & 022) {
		snprintf(err, errlen, "writable by group or others (mode %03o): chmod go-w",
			 (unsigned)(st->st_mode & 0777));
		return -1;
	}
	return 0;
}

int owner_private_dir(const struct stat *st, char *err, size_t errlen)
{
	if (!S_ISDIR(st->st_mode)) {
		snprintf(err, errlen, "not a directory (a symlink or file is refused)");
		return -1;
	}
	if (st->st_uid != geteuid()) {
		snprintf(err, errlen,
			 "owned by uid %u, not by the user orderfs runs as (uid %u): remove it "
			 "or chown it to uid %u",
			 (unsigned)st->st_uid, (unsigned)geteuid(), (unsigned)geteuid());
		return -1;
	}
	return dir_not_shared(st, err, errlen);
}

int owner_trusted_dir(const struct stat *st, char *err, size_t errlen)
{
	if (!S_ISDIR(st->st_mode)) {
		snprintf(err, errlen, "not a directory");
		return -1;
	}
	if (!owner_trusted(st->st_uid)) {
		snprintf(err, errlen, "owned by uid %u, not by this user or root: chown it",
			 (unsigned)st->st_uid);
		return -1;
	}
	return dir_not_shared(st, err, errlen);
}
