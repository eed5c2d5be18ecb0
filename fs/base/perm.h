/*
 * Who may read what in the mount: the owner, group and mode the kernel is shown for the whole
 * mount and for each account (config keys owner, group, mode), enforced by the kernel through
 * default_permissions. Directories get mode; files get mode without execute bits (0750 gives
 * 0640). The exports directory, where ranges are made and forgotten with mkdir and rmdir,
 * also shows write permission to the owner and to the group when they may read it: every
 * other change is refused by orderfs itself (EROFS), so that write bit allows nothing else.
 * Thread-safe; the parsers look names up in the user and group databases (NSS).
 */
#ifndef ORDERFS_PERM_H
#define ORDERFS_PERM_H

#include <sys/stat.h>

#define PERM_MODE_DEFAULT "0750"

struct fs_perm {
	uid_t uid;
	gid_t gid;
	mode_t mode; /* of directories, 0..0777 */
};

/* A user name or number into *uid. 0, or -1 (no such user, or not a number in range). */
int perm_parse_owner(const char *s, long *uid);

/* A group name or number into *gid. 0, or -1 (no such group, or not a number in range). */
int perm_parse_group(const char *s, long *gid);

/* An octal mode 0..0777 ("0750", "750") into *mode. 0, or -1 (not octal, setuid/setgid/sticky
 * bits, or beyond 0777). */
int perm_parse_mode(const char *s, int *mode);

/* Owner, group and mode of a directory into st (other fields untouched); mkdir_here: the
 * exports directory, where mkdir and rmdir of ranges are allowed (see the top of this file). */
void perm_dir_stat(const struct fs_perm *p, int mkdir_here, struct stat *st);

/* Owner, group and mode of a regular file into st (other fields untouched). */
void perm_file_stat(const struct fs_perm *p, struct stat *st);

#endif
