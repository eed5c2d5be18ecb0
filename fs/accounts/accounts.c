#include "accounts.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/clock.h"
#include "../../common/log.h"
#include "../mount/prefetch.h"
#include "../mount/providers.h"
#include "../base/str_map.h"

#define START_RETRY_MS 1000 /* a failed start is tried again at most this often */

struct accounts {
	struct accounts_env env;
	pthread_mutex_t scan_lock; /* one scan at a time; taken before lock, never inside it */
	pthread_mutex_t lock;	 /* the maps and every account's table fields; no file I/O
				  * while it is held (every lookup takes it) */
	pthread_cond_t started;	 /* broadcast (with lock) when a start ends */
	struct str_map *by_name; /* NAME -> struct fs_account * */
	struct str_map *skipped; /* file name -> struct account_sig: bad files, logged once */
	unsigned scan;		 /* number of the current scan (scan_lock) */
	int scan_errno;		 /* the last scan's failure, so it is logged once (scan_lock) */
};

struct accounts *accounts_new(const struct accounts_env *env)
{
	struct accounts *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->env = *env;
	pthread_mutex_init(&t->lock, NULL);
	pthread_mutex_init(&t->scan_lock, NULL);
	pthread_cond_init(&t->started, NULL);
	t->by_name = str_map_new(sizeof(struct fs_account *));
	t->skipped = str_map_new(sizeof(struct account_sig));
	if (!t->by_name || !t->skipped) {
		accounts_free(t);
		return NULL;
	}
	return t;
}

static void stop_one(void *arg, const char *name, const void *value)
{
	struct fs_account *a = *(struct fs_account *const *)value;
	(void)arg;
	(void)name;
	if (account_active(a)) {
		prefetch_stop(a->prefetch);
		a->prefetch = NULL;
	}
}

void accounts_stop(struct accounts *t)
{
	if (t)
		str_map_foreach(t->by_name, stop_one, NULL);
}

static void free_one(void *arg, const char *name, const void *value)
{
	struct fs_account *a = *(struct fs_account *const *)value;
	(void)arg;
	(void)name;
	if (account_active(a)) {
		prefetch_stop(a->prefetch);
		fleet_free(a->fleet);
		provider_destroy(a->prov);
		range_map_free(a->notes);
		config_free(&a->run_cfg);
	}
	config_free(&a->cfg);
	free(a);
}

void accounts_free(struct accounts *t)
{
	if (!t)
		return;
	if (t->by_name) {
		str_map_foreach(t->by_name, free_one, NULL);
		str_map_free(t->by_name);
	}
	str_map_free(t->skipped);
	pthread_mutex_destroy(&t->lock);
	pthread_mutex_destroy(&t->scan_lock);
	pthread_cond_destroy(&t->started);
	free(t);
}

/* Listed or hidden (t->lock held). A hidden account's prefetch pauses: a merchant whose file
 * is gone gets no new exports until it comes back. */
static void set_present(struct fs_account *a, int present)
{
	if (a->present != present && account_active(a) && a->prefetch)
		prefetch_pause(a->prefetch, !present);
	a->present = present;
}

static struct fs_account *find(struct accounts *t, const char *name)
{
	struct fs_account *a = NULL;
	str_map_get(t->by_name, name, &a);
	return a;
}

static void conf_path(const struct accounts *t, const char *name, char path[PATH_MAX])
{
	snprintf(path, PATH_MAX, "%s/%s%s", t->env.main->accounts_dir, name,
		 ACCOUNT_CONF_SUFFIX);
}

/* Whether file was skipped already in the version sig (then it is not logged again). */
static int skipped_before(struct accounts *t, const char *file, const struct account_sig *sig)
{
	struct account_sig old;
	return str_map_get(t->skipped, file, &old) == 0 && account_sig_equal(&old, sig);
}

static void skip(struct accounts *t, const char *file, const struct account_sig *sig,
		 const char *why)
{
	log_warn("accounts_dir: %s skipped: %s", file, why);
	str_map_put(t->skipped, file, sig);
}

/* Whether two configs of one account name the same merchant with the same credentials and
 * time zone. */
static int same_account_keys(const struct fs_config *a, const struct fs_config *b)
{
	const struct provider_spec *spec = provider_spec_find(a->provider);
	const char *za = a->time_zone ? a->time_zone : "", *zb = b->time_zone ? b->time_zone : "";

	if (strcmp(za, zb))
		return 0;
	for (const char *const *k = spec->account_keys; *k; k++) {
		const char *x = config_string(a, *k), *y = config_string(b, *k);
		if ((x == NULL) != (y == NULL) || (x && strcmp(x, y)))
			return 0;
	}
	return 1;
}

static struct fs_account *account_new(struct accounts *t, const char *name)
{
	struct fs_account *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	snprintf(a->name, sizeof(a->name), "%s", name);
	a->clock_file = t->env.main->test_clock_file;
	if (str_map_put(t->by_name, name, &a)) {
		free(a);
		return NULL;
	}
	return a;
}

/* Take cfg (read from a's file in version sig) into a: an account that has not started
 * starts with it; one that has keeps its own until the remount. */
static void take_config(struct fs_account *a, struct fs_config *cfg, const struct account_sig *sig)
{
	if (!account_active(a)) {
		config_free(&a->cfg);
		a->cfg = *cfg;
		a->tried_ms = 0; /* an edit may be the fix: the next lookup tries at once */
	} else {
		int same = same_account_keys(&a->run_cfg, cfg);
		if (!same && !a->change_logged)
			log_notice("accounts_dir: %s%s changed; account %s keeps its running "
				   "configuration until the next mount",
				   a->name, ACCOUNT_CONF_SUFFIX, a->name);
		a->change_logged = !same;
		config_free(cfg);
	}
	a->sig = *sig;
	set_present(a, 1);
}

/* NAME.conf could not be read for the moment (t->lock held): an account never read is made
 * (or shown again) as unread, listed with error saying why, so the name does not vanish for a
 * passing EMFILE; one that has a version read keeps it. The account, or NULL on ENOMEM. */
static struct fs_account *transient(struct accounts *t, struct fs_account *a, const char *name,
				    const char *file, const char *why)
{
	if (a && a->present)
		return a;
	if (!a && !(a = account_new(t, name)))
		return NULL;
	if (!account_active(a)) {
		a->unread = 1;
		snprintf(a->error, sizeof(a->error), "%s cannot be read now (%s); read again at "
			 "the next lookup", file, why);
		a->tried_ms = clock_mono_ms();
	}
	memset(&a->sig, 0, sizeof(a->sig)); /* no version known: the next lookup reads it */
	set_present(a, 1);
	return a;
}

/* NAME.conf could not be stat'ed (t->lock held): gone (ENOENT, ENOTDIR) hides the account;
 * anything else is the moment's, so a known account stays as it is and the lookup fails EIO.
 * The account, or NULL with *eno. */
static struct fs_account *stat_failed(struct accounts *t, struct fs_account *a,
				      const char *name, const char *file, int rc, int *eno)
{
	if (rc == -ENOENT || rc == -ENOTDIR) {
		if (a)
			set_present(a, 0);
		*eno = -ENOENT;
		return NULL;
	}
	log_warn("accounts_dir: %s: %s; tried again at the next lookup", file, strerror(-rc));
	if (!(a = transient(t, a, name, file, strerror(-rc))))
		*eno = -ENOMEM;
	return a;
}

/* What account_conf_load said of NAME.conf, taken into the table (t->lock held). The
 * account when the file is valid, else NULL with *eno (a known account of that name is
 * hidden, unless the read failed for the moment: then it stays as it was). */
static struct fs_account *take_read(struct accounts *t, const char *name, const char *file,
				    int rc, struct fs_config *cfg, const struct account_sig *sig,
				    const char *err, int *eno)
{
	struct fs_account *a = find(t, name);

	if (rc == ACCOUNT_CONF_TRANSIENT) {
		log_warn("accounts_dir: %s: cannot read it now: %s; tried again at the next lookup",
			 file, err);
		if (!(a = transient(t, a, name, file, err)))
			*eno = -ENOMEM;
		return a;
	}
	if (rc) {
		if (!skipped_before(t, file, sig))
			skip(t, file, sig, err);
		if (a)
			set_present(a, 0);
		*eno = -ENOENT;
		return NULL;
	}
	str_map_del(t->skipped, file);
	if (!a && !(a = account_new(t, name))) {
		config_free(cfg);
		*eno = -ENOMEM;
		return NULL;
	}
	if (a->unread) { /* its error was the failed read's */
		a->unread = 0;
		a->error[0] = '\0';
	}
	take_config(a, cfg, sig);
	return a;
}

/* Read NAME.conf again if it changed since it was read. Called without t->lock: the stat and
 * the read happen without it (a slow or hostile file never holds up another lookup), the
 * verdict is taken under it. The account when the file is there and valid, else NULL with
 * *eno (-ENOENT, or -EIO when it could not be read now). */
static struct fs_account *refresh(struct accounts *t, const char *name, int *eno)
{
	char path[PATH_MAX], file[ACCOUNT_NAME_MAX + 8], err[600] = "";
	struct fs_account *a;
	struct account_sig sig, read_sig;
	struct fs_config cfg;
	int rc;

	conf_path(t, name, path);
	snprintf(file, sizeof(file), "%s%s", name, ACCOUNT_CONF_SUFFIX);
	rc = account_conf_stat(path, &sig);
	pthread_mutex_lock(&t->lock);
	a = find(t, name);
	if (rc)
		a = stat_failed(t, a, name, file, rc, eno);
	else if (a && a->present && account_sig_equal(&sig, &a->sig))
		;
	else if (skipped_before(t, file, &sig)) {
		if (a)
			set_present(a, 0);
		*eno = -ENOENT;
		a = NULL;
	} else {
		pthread_mutex_unlock(&t->lock);
		read_sig = sig;
		rc = account_conf_load(t->env.main, path, &cfg, &read_sig, err, sizeof(err));
		pthread_mutex_lock(&t->lock);
		a = take_read(t, name, file, rc, &cfg, &read_sig, err, eno);
	}
	pthread_mutex_unlock(&t->lock);
	return a;
}

struct fs_account *accounts_get(struct accounts *t, const char *name, int *eno)
{
	*eno = -ENOENT;
	if (!account_name_ok(name))
		return NULL;
	return refresh(t, name, eno);
}

/* One directory entry of a scan (t->scan_lock held, t->lock not). */
static void scan_entry(struct accounts *t, const char *file, unsigned scan)
{
	char name[ACCOUNT_NAME_MAX], path[PATH_MAX];
	struct account_sig sig;
	struct fs_account *a;
	int eno;

	switch (account_file_name(file, name)) {
	case ACCOUNT_FILE_IGNORED:
		return;
	case ACCOUNT_FILE_BAD:
		snprintf(path, sizeof(path), "%s/%s", t->env.main->accounts_dir, file);
		if (account_conf_stat(path, &sig))
			return;
		pthread_mutex_lock(&t->lock);
		if (!skipped_before(t, file, &sig))
			skip(t, file, &sig, "NAME must be 1..63 of A-Z a-z 0-9 . _ - "
					    "not starting with a dot");
		pthread_mutex_unlock(&t->lock);
		return;
	case ACCOUNT_FILE_OK:
		if ((a = refresh(t, name, &eno)) != NULL) {
			pthread_mutex_lock(&t->lock);
			a->seen = scan;
			pthread_mutex_unlock(&t->lock);
		}
		return;
	}
}

/* Accounts collected under the lock, to be used without it. */
struct listed {
	struct fs_account **v;
	size_t n, cap;
	int oom;
	int started; /* collect every started account, not the listed ones */
};

static void list_one(void *arg, const char *name, const void *value)
{
	struct listed *l = arg;
	struct fs_account *a = *(struct fs_account *const *)value;
	(void)name;
	if (!(l->started ? account_active(a) : a->present) || l->oom)
		return;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		struct fs_account **v = realloc(l->v, cap * sizeof(*v));
		if (!v) {
			l->oom = 1;
			return;
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = a;
}

struct hide_ctx {
	struct accounts *t;
	struct listed gone; /* accounts this scan hid */
};

static void hide_unseen(void *arg, const char *name, const void *value)
{
	struct hide_ctx *h = arg;
	struct fs_account *a = *(struct fs_account *const *)value;
	if (a->seen == h->t->scan || !a->present)
		return;
	list_one(&h->gone, name, value); /* before present drops: list_one takes present ones */
	set_present(a, 0);
}

int accounts_scan(struct accounts *t, void (*gone)(void *arg, const char *name), void *arg)
{
	struct hide_ctx h = {t, {NULL, 0, 0, 0, 0}};
	DIR *d;
	struct dirent *de;
	int rc = 0;

	/* One scan at a time, and the directory read without t->lock: lookups go on. */
	pthread_mutex_lock(&t->scan_lock);
	t->scan++;
	if (!(d = opendir(t->env.main->accounts_dir))) {
		rc = -errno;
		if (rc != -t->scan_errno && t->scan > 1) /* the first: the mount says why */
			log_err("accounts_dir %s: %s; the accounts known stay listed",
				t->env.main->accounts_dir, strerror(-rc));
		t->scan_errno = -rc;
		pthread_mutex_unlock(&t->scan_lock);
		return rc;
	}
	t->scan_errno = 0;
	while ((de = readdir(d)) != NULL)
		scan_entry(t, de->d_name, t->scan);
	closedir(d);
	pthread_mutex_lock(&t->lock);
	str_map_foreach(t->by_name, hide_unseen, &h);
	pthread_mutex_unlock(&t->lock);
	pthread_mutex_unlock(&t->scan_lock);
	for (size_t i = 0; i < h.gone.n && gone; i++)
		gone(arg, h.gone.v[i]->name);
	free(h.gone.v);
	return 0;
}

/* fn for each account in name order, without the lock: listed ones, or (started) every one
 * that has started, hidden or not. */
static int foreach(struct accounts *t, int started,
		   void (*fn)(void *arg, struct fs_account *a), void *arg)
{
	struct listed l = {NULL, 0, 0, 0, 0};

	pthread_mutex_lock(&t->lock);
	l.started = started;
	str_map_foreach(t->by_name, list_one, &l);
	pthread_mutex_unlock(&t->lock);
	/* Without the lock: fn may ask the table (errors) and the cache. Accounts are never
	 * freed while the mount runs, so the pointers stay good. */
	for (size_t i = 0; i < l.n && !l.oom; i++)
		fn(arg, l.v[i]);
	free(l.v);
	return l.oom ? -ENOMEM : 0;
}

int accounts_foreach(struct accounts *t, void (*fn)(void *arg, struct fs_account *a),
		     void *arg)
{
	return foreach(t, 0, fn, arg);
}

int accounts_foreach_started(struct accounts *t, void (*fn)(void *arg, struct fs_account *a),
			     void *arg)
{
	return foreach(t, 1, fn, arg);
}

static void count_one(void *arg, const char *name, const void *value)
{
	const struct fs_account *a = *(struct fs_account *const *)value;
	(void)name;
	*(size_t *)arg += a->present;
}

size_t accounts_count(struct accounts *t)
{
	size_t n = 0;

	pthread_mutex_lock(&t->lock);
	str_map_foreach(t->by_name, count_one, &n);
	pthread_mutex_unlock(&t->lock);
	return n;
}

struct taken_ctx {
	const struct fs_account *self;
	char *other;
	size_t n;
	int found;
};

static void taken_one(void *arg, const char *name, const void *value)
{
	struct taken_ctx *c = arg;
	struct fs_account *a = *(struct fs_account *const *)value;
	if (a == c->self || c->found || !account_active(a))
		return;
	if (!strcmp(a->prov->name, c->self->run_cfg.provider) &&
	    (!strcmp(a->key_account, c->self->key_account) ||
	     (a->has_token_digest && c->self->has_token_digest &&
	      !memcmp(a->token_digest, c->self->token_digest, sizeof(a->token_digest))))) {
		/* A hidden one keeps its merchant's exports until the next mount. */
		snprintf(c->other, c->n, "%s%s", name,
			 a->present ? "" : " (its file is gone; it keeps the merchant until the "
					   "next mount)");
		c->found = 1;
	}
}

/* account_start's check: does another running account have a's merchant? Two sources with
 * one key would be two entries for one file. */
static int merchant_taken(void *arg, const struct fs_account *a, char *other, size_t n)
{
	struct accounts *t = arg;
	struct taken_ctx c = {a, other, n, 0};

	pthread_mutex_lock(&t->lock);
	str_map_foreach(t->by_name, taken_one, &c);
	pthread_mutex_unlock(&t->lock);
	return c.found;
}

void accounts_perm(struct accounts *t, struct fs_account *a, struct fs_perm *out)
{
	pthread_mutex_lock(&t->lock);
	perm_of_config(&a->cfg, out);
	pthread_mutex_unlock(&t->lock);
}

const char *accounts_state(struct accounts *t, struct fs_account *a, char *err, size_t n)
{
	pthread_mutex_lock(&t->lock);
	snprintf(err, n, "%s", a->error);
	pthread_mutex_unlock(&t->lock);
	if (account_active(a))
		return "running";
	return err[0] ? "cannot start" : "not started";
}

/* Claim a's start (t->lock held): 1 when this thread starts it, 0 when it is running, or
 * -EIO when a start just failed. Waits while another thread starts it, so an account starts
 * once; a start of another account never waits for this one. */
static int claim_start(struct accounts *t, struct fs_account *a)
{
	while (a->starting)
		pthread_cond_wait(&t->started, &t->lock);
	if (account_active(a))
		return 0;
	if (a->unread)
		return -EIO; /* no configuration to start with yet */
	if (a->error[0] && clock_mono_ms() - a->tried_ms < START_RETRY_MS)
		return -EIO; /* do not hammer a broken token file */
	if (config_copy(&a->run_cfg, &a->cfg)) {
		snprintf(a->error, sizeof(a->error), "out of memory");
		a->tried_ms = clock_mono_ms();
		return -EIO;
	}
	a->starting = 1;
	return 1;
}

/* The end of a start this thread claimed: its verdict, logged when it changed. */
static void end_start(struct accounts *t, struct fs_account *a, int ok, const char *err)
{
	pthread_mutex_lock(&t->lock);
	if (ok) {
		a->error[0] = '\0';
		log_notice("account %s: started (provider %s, merchant %s)", a->name, a->prov->name,
			   a->prov->account);
		if (!a->present && a->prefetch)
			prefetch_pause(a->prefetch, 1); /* hidden while it started */
	} else {
		if (strcmp(a->error, err))
			log_err("account %s: cannot start: %s", a->name, err);
		snprintf(a->error, sizeof(a->error), "%s", err);
		a->tried_ms = clock_mono_ms();
		config_free(&a->run_cfg);
	}
	a->starting = 0;
	pthread_cond_broadcast(&t->started);
	pthread_mutex_unlock(&t->lock);
}

int accounts_start(struct accounts *t, struct fs_account *a)
{
	char err[sizeof(a->error)] = "";
	int rc;

	if (account_active(a))
		return 0;
	pthread_mutex_lock(&t->lock);
	rc = claim_start(t, a);
	pthread_mutex_unlock(&t->lock);
	if (rc <= 0)
		return rc;
	/* No lock across the start: it reads files and may talk to etcd. */
	rc = account_start(&t->env, a, merchant_taken, t, err, sizeof(err));
	end_start(t, a, rc == 0, err);
	return rc ? -EIO : 0;
}

void accounts_credentials(struct accounts *t, struct fs_account *a, char *out, size_t n)
{
	const struct provider_spec *spec;
	char path[PATH_MAX] = "", key[64];
	const char *p;
	char *secret = NULL;

	pthread_mutex_lock(&t->lock);
	spec = a->unread ? NULL : provider_spec_find(a->cfg.provider);
	if (!spec) { /* its file was never read: nothing names a credential yet */
		pthread_mutex_unlock(&t->lock);
		snprintf(out, n, "unknown");
		return;
	}
	snprintf(key, sizeof(key), "%s", spec->account_secret_key);
	if ((p = config_string(&a->cfg, key)) != NULL)
		snprintf(path, sizeof(path), "%s", p);
	pthread_mutex_unlock(&t->lock);
	/* The read without the lock: a slow disk must not hold up every lookup. */
	if (config_read_secret_key(key, path, &secret, out, n) == 0) {
		snprintf(out, n, "ok");
		explicit_bzero(secret, strlen(secret));
		free(secret);
	}
}
