#include "account_conf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../mount/providers.h"

int account_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= ACCOUNT_NAME_MAX || name[0] == '.')
		return 0;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
			return 0;
	return 1;
}

enum account_file account_file_name(const char *file, char name[ACCOUNT_NAME_MAX])
{
	size_t n = strlen(file), sl = strlen(ACCOUNT_CONF_SUFFIX);

	if (file[0] == '.' || n <= sl || strcmp(file + n - sl, ACCOUNT_CONF_SUFFIX))
		return ACCOUNT_FILE_IGNORED;
	if (n - sl >= ACCOUNT_NAME_MAX)
		return ACCOUNT_FILE_BAD;
	memcpy(name, file, n - sl);
	name[n - sl] = '\0';
	return account_name_ok(name) ? ACCOUNT_FILE_OK : ACCOUNT_FILE_BAD;
}

int account_sig_equal(const struct account_sig *a, const struct account_sig *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns;
}

static void sig_from_stat(const struct stat *st, struct account_sig *sig)
{
	sig->dev = st->st_dev;
	sig->ino = st->st_ino;
	sig->size = st->st_size;
	sig->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	sig->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
}

int account_conf_stat(const char *path, struct account_sig *sig)
{
	struct stat st;

	if (stat(path, &st))
		return -errno;
	sig_from_stat(&st, sig);
	return 0;
}

/* The account file's own rules: who may have written it decides which secrets are read. */
static int check_owner(const struct stat *st, char *err, size_t errlen)
{
	if (!S_ISREG(st->st_mode)) {
		snprintf(err, errlen, "not a regular file");
		return -1;
	}
	if (st->st_uid != geteuid() && st->st_uid != 0) {
		snprintf(err, errlen, "owned by uid %u, not by this user or root",
			 (unsigned)st->st_uid);
		return -1;
	}
	if (st->st_mode & 022) {
		snprintf(err, errlen, "writable by group or others (mode %03o): chmod go-w",
			 (unsigned)(st->st_mode & 0777));
		return -1;
	}
	return 0;
}

/* The keys a NAME.conf may hold: the merchant's own (the provider's account_keys) and
 * time_zone, which the main config may also set as every account's default. Into out
 * (room for n, NULL-ended). */
static void account_file_keys(const struct provider_spec *spec, const char **out, size_t n)
{
	size_t i = 0;

	for (const char *const *k = spec->account_keys; *k && i + 2 < n; k++)
		out[i++] = *k;
	out[i++] = "time_zone";
	out[i] = NULL;
}

/* The keys of f over a copy of main, then the whole validated. 0 or -1 with err. */
static int load_over(const struct fs_config *main, FILE *f, const char *path,
		     struct fs_config *out, char *err, size_t errlen)
{
	const struct provider_spec *spec = provider_spec_find(main->provider);

	if (config_copy(out, main)) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	free(out->accounts_dir);
	out->accounts_dir = NULL;
	out->max_exports_total = 0;
	char why[400];
	const char *only[16];

	account_file_keys(spec, only, sizeof(only) / sizeof(only[0]));
	if (config_load_stream(out, f, path, only, err, errlen)) {
		config_free(out);
		return -1;
	}
	if (config_validate(out, why, sizeof(why))) {
		snprintf(err, errlen, "%s: %s", path, why);
		config_free(out);
		return -1;
	}
	return 0;
}

/* Whether a failed open or fstat is the moment's (try again), not the file's. */
static int transient_errno(int e)
{
	return e == EMFILE || e == ENFILE || e == ENOMEM || e == EIO || e == EINTR ||
	       e == EAGAIN || e == ENOBUFS || e == ETIMEDOUT || e == ESTALE;
}

int account_conf_load(const struct fs_config *main, const char *path, struct fs_config *out,
		      struct account_sig *sig, char *err, size_t errlen)
{
	char why[400];
	struct stat st;
	FILE *f;
	/* O_NONBLOCK: a FIFO (or a symlink to one) must not hold the lookup until a writer
	 * comes; fstat then refuses it before any read. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	int rc = ACCOUNT_CONF_BAD;

	if (fd < 0 || fstat(fd, &st)) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		if (fd >= 0)
			close(fd);
		return transient_errno(e) ? ACCOUNT_CONF_TRANSIENT : ACCOUNT_CONF_BAD;
	}
	sig_from_stat(&st, sig);
	if (check_owner(&st, why, sizeof(why))) {
		snprintf(err, errlen, "%s: %s", path, why);
	} else if (st.st_size > ACCOUNT_CONF_MAX_SIZE) {
		snprintf(err, errlen, "%s: %lld bytes, more than an account file may hold (%d)",
			 path, (long long)st.st_size, ACCOUNT_CONF_MAX_SIZE);
	} else if (!(f = fdopen(fd, "re"))) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		rc = transient_errno(e) ? ACCOUNT_CONF_TRANSIENT : ACCOUNT_CONF_BAD;
	} else {
		rc = load_over(main, f, path, out, err, errlen) ? ACCOUNT_CONF_BAD : 0;
		fclose(f);
		return rc;
	}
	close(fd);
	return rc;
}
