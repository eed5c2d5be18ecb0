/* The on-disk store; the layout is documented in store.h. */
#include "store.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "../../common/log.h"
#include "../../common/owner.h"

#define META_VERSION 1

/* The states' names are the words a .meta stores (and .status shows): the store parses them
 * back (parse_state), so they live with it. */
const char *cache_state_name(enum cache_state s)
{
	switch (s) {
	case CACHE_ABSENT:
		return "absent";
	case CACHE_QUEUED:
		return "queued";
	case CACHE_APPLIED:
		return "applied";
	case CACHE_GENERATING:
		return "generating";
	case CACHE_DOWNLOADING:
		return "downloading";
	case CACHE_READY:
		return "ready";
	case CACHE_EXPIRED:
		return "expired";
	case CACHE_FAILED:
		return "failed";
	case CACHE_NO_DATA:
		return "no-data";
	case CACHE_WAITING:
		return "waiting";
	}
	return "unknown";
}

static int mkdir_0700(const char *path)
{
	struct stat st;

	if (mkdir(path, 0700) == 0)
		return 0;
	if (errno != EEXIST)
		return -errno;
	if (stat(path, &st) != 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

/*
 * A directory the store keeps files in, created 0700 if missing: it must be ours and closed
 * to group and others, and not a symlink, or whoever controls it could plant a symlink or a
 * file of theirs under an entry's name. 0, or -EPERM after one log line naming path and fix.
 */
static int private_dir(const char *path)
{
	struct stat st;
	char why[200];
	int rc = mkdir_0700(path);

	if (rc && rc != -ENOTDIR)
		return rc;
	if (lstat(path, &st) != 0)
		return -errno;
	if (owner_private_dir(&st, why, sizeof(why))) {
		log_err("cache: %s: %s", path, why);
		return -EPERM;
	}
	return 0;
}

/*
 * The run id names this process's temp files; the recovery scan deletes temp files of other
 * runs (a crash's leftovers). One id per process, not per cache: several caches share a
 * directory (one per export type) and must not delete each other's files in flight.
 */
static pthread_once_t run_once = PTHREAD_ONCE_INIT;
static char process_run[17];

static void run_id_init(void)
{
	unsigned char rnd[8];

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		/* Not fatal: the run id only has to differ from earlier runs. */
		uint64_t v = (uint64_t)getpid() ^ (uint64_t)time(NULL) << 20;
		memcpy(rnd, &v, sizeof(rnd));
	}
	key_hex(rnd, sizeof(rnd), process_run);
}

int store_init(struct store *s, const char *dir)
{
	char tmp[PATH_MAX];
	int rc;

	memset(s, 0, sizeof(*s));
	if (!dir || !*dir)
		return -EINVAL;
	if (snprintf(tmp, sizeof(tmp), "%s", dir) >= (int)sizeof(s->vdir) - 4)
		return -ENAMETOOLONG;
	/* mkdir -p, each missing level 0700 */
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		rc = mkdir_0700(tmp);
		*p = '/';
		if (rc)
			return rc;
	}
	if ((rc = private_dir(tmp)))
		return rc;
	snprintf(s->vdir, sizeof(s->vdir), "%s/%s", dir, STORE_VDIR);
	if ((rc = private_dir(s->vdir)))
		return rc;
	pthread_once(&run_once, run_id_init);
	memcpy(s->run, process_run, sizeof(s->run));
	return 0;
}

void store_path(const struct store *s, const char *hash, const char *suffix, char *out)
{
	snprintf(out, PATH_MAX, "%s/%s%s", s->vdir, hash, suffix);
}

int store_sync_dir(const struct store *s)
{
	int fd = open(s->vdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) != 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* Write len bytes to a fresh temp file and rename it to final. */
static int write_atomic(struct store *s, const char *hash, const char *final, const char *buf,
			size_t len, int durable)
{
	char tmp[PATH_MAX];
	unsigned long n = __atomic_add_fetch(&s->seq, 1, __ATOMIC_RELAXED);
	size_t off = 0;
	int fd, rc = 0;

	snprintf(tmp, sizeof(tmp), "%s/.tmp-%s-%s.%lu", s->vdir, hash, s->run, n);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	while (off < len) {
		ssize_t w = write(fd, buf + off, len - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto fail;
		}
		off += (size_t)w;
	}
	if (durable && fsync(fd) != 0) {
		rc = -errno;
		goto fail;
	}
	if (close(fd) != 0) {
		fd = -1;
		rc = -errno;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, final) != 0) {
		rc = -errno;
		goto fail;
	}
	return durable ? store_sync_dir(s) : 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return rc;
}

static int add_num(cJSON *o, const char *k, double v)
{
	return cJSON_AddNumberToObject(o, k, v) ? 0 : -1;
}

static int add_str(cJSON *o, const char *k, const char *v)
{
	return cJSON_AddStringToObject(o, k, v) ? 0 : -1;
}

int store_meta_write(struct store *s, const char *hash, const struct store_meta *m,
		     int durable)
{
	char path[PATH_MAX], a[DATE_STR_LEN], b[DATE_STR_LEN];
	cJSON *o = cJSON_CreateObject();
	char *txt = NULL;
	int rc = -ENOMEM;

	if (!o)
		return -ENOMEM;
	date_format(&m->key.range.start, a);
	date_format(&m->key.range.end, b);
	if (add_num(o, "version", META_VERSION) || add_str(o, "provider", m->key.provider) ||
	    add_str(o, "account", m->key.account) ||
	    add_str(o, "report_type", m->key.report_type) ||
	    add_str(o, "language", m->key.language) || add_str(o, "start", a) ||
	    add_str(o, "end", b) || add_str(o, "state", cache_state_name(m->state)) ||
	    add_str(o, "task_id", m->task_id) || add_str(o, "server_name", m->server_name) ||
	    add_num(o, "finish_time", (double)m->finish_time) ||
	    add_num(o, "expires", (double)m->expires) ||
	    add_num(o, "ready_time", (double)m->ready_time) ||
	    add_num(o, "applied_time", (double)m->applied_time) ||
	    add_num(o, "learned_time", (double)m->learned_time) ||
	    add_num(o, "last_access_ms", (double)m->last_access_ms) ||
	    add_num(o, "size", (double)m->size) || add_num(o, "total", (double)m->total) ||
	    add_str(o, "sha256", m->sha256) || add_num(o, "last_errno", m->last_errno) ||
	    add_str(o, "err_kind", client_errkind_name(m->err_kind)) ||
	    add_str(o, "err_code", m->err_code) || add_str(o, "err_msg", m->err_msg) ||
	    (m->owner[0] && add_str(o, "owner", m->owner)))
		goto out;
	txt = cJSON_PrintUnformatted(o);
	if (!txt)
		goto out;
	store_path(s, hash, ".meta", path);
	rc = write_atomic(s, hash, path, txt, strlen(txt), durable);
out:
	free(txt);
	cJSON_Delete(o);
	return rc;
}

static int get_str(const cJSON *o, const char *k, char *out, size_t n)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	if (!cJSON_IsString(v) || !v->valuestring || strlen(v->valuestring) >= n)
		return -1;
	memcpy(out, v->valuestring, strlen(v->valuestring) + 1);
	return 0;
}

static int get_i64(const cJSON *o, const char *k, int64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 9007199254740992.0)
		return -1;
	*out = (int64_t)v->valuedouble;
	return 0;
}

static int parse_state(const char *s, enum cache_state *out)
{
	static const enum cache_state ok[] = {CACHE_APPLIED,	 CACHE_GENERATING,
					      CACHE_DOWNLOADING, CACHE_READY,
					      CACHE_FAILED,	 CACHE_NO_DATA};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strcmp(s, cache_state_name(ok[i])) == 0) {
			*out = ok[i];
			return 0;
		}
	return -1;
}

static enum client_errkind parse_kind(const char *s)
{
	for (int k = CLIENT_OK; k <= CLIENT_E_CANCELLED; k++)
		if (strcmp(s, client_errkind_name((enum client_errkind)k)) == 0)
			return (enum client_errkind)k;
	return CLIENT_E_LOCAL;
}

static int parse_meta(const char *txt, const char *hash, struct store_meta *m)
{
	char prov[KEY_FIELD_MAX], acct[KEY_FIELD_MAX], type[KEY_FIELD_MAX], lang[KEY_FIELD_MAX];
	char a[DATE_STR_LEN], b[DATE_STR_LEN], st[32], kind[32], h[KEY_HASH_LEN];
	struct date_range r;
	int64_t ver, size, total, lerr;
	cJSON *o = cJSON_Parse(txt);
	int rc = -EBADMSG;

	memset(m, 0, sizeof(*m));
	if (!o || !cJSON_IsObject(o))
		goto out;
	if (get_i64(o, "version", &ver) || ver != META_VERSION ||
	    get_str(o, "provider", prov, sizeof(prov)) ||
	    get_str(o, "account", acct, sizeof(acct)) ||
	    get_str(o, "report_type", type, sizeof(type)) ||
	    get_str(o, "language", lang, sizeof(lang)) || get_str(o, "start", a, sizeof(a)) ||
	    get_str(o, "end", b, sizeof(b)) || get_str(o, "state", st, sizeof(st)) ||
	    get_str(o, "task_id", m->task_id, sizeof(m->task_id)) ||
	    get_str(o, "server_name", m->server_name, sizeof(m->server_name)) ||
	    get_i64(o, "finish_time", &m->finish_time) || get_i64(o, "expires", &m->expires) ||
	    get_i64(o, "ready_time", &m->ready_time) ||
	    get_i64(o, "learned_time", &m->learned_time) ||
	    get_i64(o, "last_access_ms", &m->last_access_ms) || get_i64(o, "size", &size) ||
	    get_i64(o, "total", &total) || get_str(o, "sha256", m->sha256, sizeof(m->sha256)) ||
	    get_i64(o, "last_errno", &lerr) || get_str(o, "err_kind", kind, sizeof(kind)) ||
	    get_str(o, "err_code", m->err_code, sizeof(m->err_code)) ||
	    get_str(o, "err_msg", m->err_msg, sizeof(m->err_msg)) ||
	    (cJSON_HasObjectItem(o, "owner") && get_str(o, "owner", m->owner, sizeof(m->owner))))
		goto out;
	/* Optional: a .meta of an older orderfs has none (0: unknown). */
	if (cJSON_HasObjectItem(o, "applied_time") && get_i64(o, "applied_time", &m->applied_time))
		goto out;
	if (date_parse(a, strlen(a), &r.start) || date_parse(b, strlen(b), &r.end) ||
	    key_init(&m->key, prov, acct, type, lang, &r) || parse_state(st, &m->state) ||
	    key_hash(&m->key, h) || strcmp(h, hash) != 0)
		goto out;
	m->size = (uint64_t)size;
	m->total = (uint64_t)total;
	m->last_errno = (int)lerr;
	m->err_kind = parse_kind(kind);
	if (m->state == CACHE_READY && strlen(m->sha256) != 64)
		goto out;
	if ((m->state == CACHE_APPLIED || m->state == CACHE_GENERATING ||
	     m->state == CACHE_DOWNLOADING) &&
	    !m->task_id[0])
		goto out;
	rc = 0;
out:
	cJSON_Delete(o);
	return rc;
}

/* Read the open .meta fd into buf (STORE_META_MAX + 1 bytes) and parse it; closes fd. */
static int meta_read_fd(int fd, const char *hash, struct store_meta *m, char *buf)
{
	size_t len = 0;
	int rc;

	for (;;) {
		ssize_t n = read(fd, buf + len, STORE_META_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > STORE_META_MAX) {
			rc = -EBADMSG;
			goto out;
		}
	}
	buf[len] = '\0';
	rc = parse_meta(buf, hash, m);
out:
	close(fd);
	return rc;
}

int store_meta_read(const struct store *s, const char *hash, struct store_meta *m)
{
	char path[PATH_MAX];
	char *buf;
	int fd;

	store_path(s, hash, ".meta", path);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno; /* EMFILE, EIO, EACCES...: says nothing about the file's content */
	buf = malloc(STORE_META_MAX + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	int rc = meta_read_fd(fd, hash, m, buf);
	free(buf);
	return rc;
}

int store_meta_read_at(int vfd, const char *hash, struct store_meta *m, char *buf)
{
	char name[KEY_HASH_LEN + 8];
	int fd;

	snprintf(name, sizeof(name), "%s.meta", hash);
	fd = openat(vfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	return meta_read_fd(fd, hash, m, buf);
}

int store_unlink(const struct store *s, const char *hash, const char *suffix)
{
	char path[PATH_MAX];

	store_path(s, hash, suffix, path);
	return unlink(path) == 0 ? 0 : -errno;
}

void store_remove(const struct store *s, const char *hash)
{
	store_unlink(s, hash, ".data");
	store_unlink(s, hash, ".part");
	store_unlink(s, hash, ".meta");
	store_sync_dir(s);
}

int store_commit_part(const struct store *s, const char *hash)
{
	char from[PATH_MAX], to[PATH_MAX];

	store_path(s, hash, ".part", from);
	store_path(s, hash, ".data", to);
	if (rename(from, to) != 0)
		return -errno;
	return store_sync_dir(s);
}

static int is_hash(const char *p, size_t n)
{
	if (n != 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
			return 0;
	return 1;
}

int store_name_parse(const struct store *s, const char *name, char hash[KEY_HASH_LEN],
		     char *kind, int *own)
{
	size_t n = strlen(name);

	*own = 0;
	if (strncmp(name, ".tmp-", 5) == 0) {
		*kind = 't';
		if (n >= 5 + 64 && is_hash(name + 5, 64)) {
			memcpy(hash, name + 5, 64);
			hash[64] = '\0';
		} else {
			hash[0] = '\0';
		}
		*own = n > 5 + 64 + 1 + 16 && strncmp(name + 5 + 64 + 1, s->run, 16) == 0 &&
		       name[5 + 64 + 1 + 16] == '.';
		return 1;
	}
	if (n != 64 + 5 || !is_hash(name, 64))
		return 0;
	if (strcmp(name + 64, ".meta") == 0)
		*kind = 'm';
	else if (strcmp(name + 64, ".data") == 0)
		*kind = 'd';
	else if (strcmp(name + 64, ".part") == 0)
		*kind = 'p';
	else
		return 0;
	memcpy(hash, name, 64);
	hash[64] = '\0';
	return 1;
}
