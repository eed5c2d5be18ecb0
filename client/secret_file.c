/* A secret read again when its file changes (secret_file.h). */
#include "secret_file.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "../common/clock.h"
#include "../common/log.h"

#define SECRET_CHECK_MS 1000 /* the file is stat'ed at most this often */

/* What the file was: any change of these means a new version. */
struct file_sig {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
};

struct secret_file {
	pthread_mutex_t lock; /* every field below */
	char *path;	      /* NULL: fixed */
	char *value;	      /* the value in use, owned, wiped */
	uint64_t gen;
	int64_t checked_ms;   /* monotonic: the last stat */
	int checking;	      /* a thread stats or reads it now (the others use the value) */
	struct file_sig sig;  /* the version whose value is in use, or was refused */
	int have_sig;
};

static void sig_of(const struct stat *st, struct file_sig *s)
{
	memset(s, 0, sizeof(*s));
	s->dev = st->st_dev;
	s->ino = st->st_ino;
	s->size = st->st_size;
	s->mtime = st->st_mtim;
	s->ctime = st->st_ctim;
}

static int sig_equal(const struct file_sig *a, const struct file_sig *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
	       a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

struct secret_file *secret_file_new(const char *path, const char *value)
{
	struct secret_file *s = calloc(1, sizeof(*s));
	struct stat st;

	if (!s)
		return NULL;
	pthread_mutex_init(&s->lock, NULL);
	s->gen = 1;
	s->checked_ms = clock_mono_ms();
	if (!(s->value = strdup(value)) || (path && !(s->path = strdup(path)))) {
		secret_file_free(s);
		return NULL;
	}
	if (path && stat(path, &st) == 0) {
		sig_of(&st, &s->sig);
		s->have_sig = 1;
	}
	return s;
}

void secret_file_free(struct secret_file *s)
{
	if (!s)
		return;
	if (s->value) {
		OPENSSL_cleanse(s->value, strlen(s->value));
		free(s->value);
	}
	free(s->path);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* The first line of the open file fd (fstat'ed as st) into a new string; NULL with why. */
static char *read_value(int fd, const struct stat *st, const char **why)
{
	char buf[SECRET_FILE_MAX + 1];
	ssize_t n;
	size_t len = 0;
	char *v;

	if (!S_ISREG(st->st_mode)) {
		*why = "is not a regular file";
		return NULL;
	}
	if (st->st_mode & 077) {
		*why = "is readable or writable by group or others (chmod 600)";
		return NULL;
	}
	while (len < SECRET_FILE_MAX && (n = read(fd, buf + len, SECRET_FILE_MAX - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*why = strerror(errno);
			OPENSSL_cleanse(buf, sizeof(buf));
			return NULL;
		}
		len += (size_t)n;
	}
	buf[len] = '\0';
	len = strcspn(buf, "\r\n");
	while (len > 0 && (buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		len--;
	buf[len] = '\0';
	*why = len ? NULL : "is empty";
	v = len ? strdup(buf) : NULL;
	if (len && !v)
		*why = "out of memory";
	OPENSSL_cleanse(buf, sizeof(buf));
	return v;
}

/* Stat path (no lock held); read it when it is not the version known. A new value (owned)
 * or NULL; *sig the version seen, *seen whether stat worked. */
static char *check_file(const char *path, const struct file_sig *known, int have_known,
			struct file_sig *sig, int *seen)
{
	const char *why = NULL;
	struct stat st;
	char *v;
	int fd;

	*seen = 0;
	if (stat(path, &st) != 0)
		return NULL; /* gone for now (a rename in progress): keep the value in use */
	sig_of(&st, sig);
	*seen = 1;
	if (have_known && sig_equal(sig, known))
		return NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st) != 0) {
		why = strerror(errno);
		v = NULL;
	} else {
		sig_of(&st, sig);
		v = read_value(fd, &st, &why);
	}
	if (fd >= 0)
		close(fd);
	if (!v)
		log_warn("%s changed but cannot be used (%s); the value in use stays", path, why);
	return v;
}

char *secret_file_get(struct secret_file *s, uint64_t *gen)
{
	struct file_sig known, sig;
	int have, seen;
	char *v, *out;

	pthread_mutex_lock(&s->lock);
	if (s->path && !s->checking && clock_mono_ms() - s->checked_ms >= SECRET_CHECK_MS) {
		s->checking = 1;
		known = s->sig;
		have = s->have_sig;
		pthread_mutex_unlock(&s->lock);
		v = check_file(s->path, &known, have, &sig, &seen);
		pthread_mutex_lock(&s->lock);
		s->checking = 0;
		s->checked_ms = clock_mono_ms();
		if (seen) {
			s->sig = sig; /* a version refused is not read again until it changes */
			s->have_sig = 1;
		}
		if (v && strcmp(v, s->value)) {
			OPENSSL_cleanse(s->value, strlen(s->value));
			free(s->value);
			s->value = v;
			s->gen++;
			log_notice("%s changed: its new value is used from the next request", s->path);
		} else if (v) {
			OPENSSL_cleanse(v, strlen(v));
			free(v);
		}
	}
	out = strdup(s->value);
	if (gen)
		*gen = s->gen;
	pthread_mutex_unlock(&s->lock);
	return out;
}

uint64_t secret_file_gen(struct secret_file *s)
{
	uint64_t g;

	pthread_mutex_lock(&s->lock);
	g = s->gen;
	pthread_mutex_unlock(&s->lock);
	return g;
}
