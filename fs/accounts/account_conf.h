/*
 * One merchant account of a mount with accounts_dir: the file ACCOUNTS_DIR/NAME.conf, which
 * holds that merchant's own keys (the provider table's account_keys) and inherits every other
 * key from the main config. Pure: no FUSE, no cache, no network.
 */
#ifndef ORDERFS_ACCOUNT_CONF_H
#define ORDERFS_ACCOUNT_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../mount/config.h"

#define ACCOUNT_NAME_MAX 64 /* 63 characters and the NUL */
#define ACCOUNT_CONF_SUFFIX ".conf"

/* Whether name may name an account: 1..63 of A-Z a-z 0-9 . _ - not starting with a dot. */
int account_name_ok(const char *name);

/* What a file name in accounts_dir is. */
enum account_file {
	ACCOUNT_FILE_IGNORED, /* a dot file or not *.conf: editors' and tools' files, unlogged */
	ACCOUNT_FILE_BAD,     /* *.conf whose NAME is not account_name_ok: skipped, logged */
	ACCOUNT_FILE_OK,      /* NAME.conf; name holds NAME */
};
enum account_file account_file_name(const char *file, char name[ACCOUNT_NAME_MAX]);

/* What a NAME.conf was when it was read: a change of any field means it changed. */
struct account_sig {
	dev_t dev;
	ino_t ino;
	off_t size;
	int64_t mtime_ns;
	int64_t ctime_ns;
};
int account_sig_equal(const struct account_sig *a, const struct account_sig *b);

#define ACCOUNT_CONF_MAX_SIZE (64 * 1024) /* a larger NAME.conf is refused unread */

/* What account_conf_load says of a file it could not take. */
enum {
	ACCOUNT_CONF_BAD = -1,	     /* the file itself is wrong: skip it until it changes */
	ACCOUNT_CONF_TRANSIENT = -2, /* it could not be read now (EMFILE, EIO...): try again */
};

/*
 * Read the account file at path into out: a copy of main (accounts_dir cleared) with the
 * file's keys set, validated as a whole config. The file must be a regular file of at most
 * ACCOUNT_CONF_MAX_SIZE bytes owned by this user or root and not writable by group or others
 * (it says which secret files the mount reads). Only the provider's account keys may be set
 * in it. It is opened without blocking (a FIFO never holds the caller) and checked with
 * fstat before a byte is read. *sig says what was read (set whenever fstat succeeded).
 * 0, or ACCOUNT_CONF_BAD / ACCOUNT_CONF_TRANSIENT with one line in err naming the problem
 * (never a secret); out then holds nothing.
 */
int account_conf_load(const struct fs_config *main, const char *path, struct fs_config *out,
		      struct account_sig *sig, char *err, size_t errlen);

/* The signature of path now. 0, or -errno (-ENOENT: the file is gone). */
int account_conf_stat(const char *path, struct account_sig *sig);

#endif
