#include "get.h"
#include "accounts/account.h"
#include "mount/dirlock.h"
#include "node.h"
#include "base/progress.h"
#include "mount/providers.h"
#include "mount/setup.h"

#include "../common/bundle.h"
#include "../common/clock.h"
#include "../common/log.h"

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

/* The process's umask, read once at start (reading it means setting it), before any thread. */
static mode_t get_umask;

/* The mode the output file gets: that of the regular file it replaces, else what the umask
 * gives a new file, as cp or a shell redirection would. */
static mode_t output_mode(const char *path)
{
	struct stat st;

	if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
		return st.st_mode & 0777;
	return 0666 & ~get_umask;
}

/* Write the handle's file to path atomically (temp + fsync + rename). 0 or -errno. */
static int write_file(int in, uint64_t base, uint64_t len, const char *path)
{
	char tmp[PATH_MAX];
	mode_t mode = output_mode(path);
	int fd, rc;

	if (snprintf(tmp, sizeof(tmp), "%s.orderfs-XXXXXX", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkstemp(tmp);
	if (fd < 0)
		return -errno;
	rc = copy_fd(in, fd, base, len);
	if (rc == 0 && fchmod(fd, mode) != 0)
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
	rc = node_member_extent(&ix, member, base, len);
	bundle_index_free(&ix);
	return rc;
}

/* Parse range_str into r and check it is one export inside the window. GET_OK, or GET_USAGE
 * after saying why. */
static int check_range(const struct provider *prov, const char *range_str, struct date_range *r)
{
	struct date today = provider_today(prov, (int64_t)time(NULL));
	const char *why = NULL;

	if (date_range_parse(range_str, r, &why) ||
	    date_range_check(r, &today, prov->max_range_days, prov->window_months, &why)) {
		fprintf(stderr, "orderfs get: %s: bad range: %s (A..B, dates YYYY-MM-DD, at most %d "
				"days, within the last %d months)\n",
			range_str, why, prov->max_range_days, prov->window_months);
		return GET_USAGE;
	}
	return GET_OK;
}

/* The cache with prov's types as *first.. (sc says how). 0 or -errno (nothing held). */
static int cache_make(const struct cache_config *cc, struct provider *prov,
		      const struct cache_source_config *sc, struct cache **cache, size_t *first)
{
	int err = 0;

	if (!(*cache = cache_new(cc, NULL, &err)))
		return err;
	if ((err = cache_add_source(*cache, prov, sc, first)) != 0) {
		cache_free(*cache);
		*cache = NULL;
	}
	return err;
}

/* Take cache_dir's lock and open its cache. 0, or -1 after saying why (nothing held). */
static int cache_take(const struct cache_config *cc, struct provider *prov,
		      const struct cache_source_config *sc, int *lock_fd, struct cache **cache,
		      size_t *first)
{
	int err = 0;

	*lock_fd = dirlock_take(cc->dir);
	if (*lock_fd < 0) {
		fprintf(stderr, "orderfs get: cache_dir %s: %s\n", cc->dir,
			*lock_fd == -EBUSY ? "in use by a running orderfs; copy the file from its "
					     "mount instead"
					   : strerror(-*lock_fd));
		return -1;
	}
	if ((err = cache_make(cc, prov, sc, cache, first)) != 0) {
		fprintf(stderr, "orderfs get: cache_dir %s: %s\n", cc->dir, strerror(-err));
		close(*lock_fd);
		return -1;
	}
	return 0;
}

/*
 * The line `orderfs get` rewrites in place on a terminal while it waits (as curl's and rclone's
 * progress do): the export's step and, while downloading, the average rate so far. Drawn at
 * most every PROGRESS_EVERY_MS from cache_open's wait, which calls back every ~100 ms.
 */
#define PROGRESS_EVERY_MS 250

struct get_progress {
	struct cache *cache;
	size_t type;
	const struct date_range *r;
	const char *range_str;
	int64_t last_ms, dl_start_ms;
	uint64_t dl_start_bytes;
	int drawn;
};

static int progress_draw(void *arg)
{
	struct get_progress *gp = arg;
	struct cache_info info;
	char step[128], rate[48] = "";
	int64_t now = clock_mono_ms();

	if (gp->drawn && now - gp->last_ms < PROGRESS_EVERY_MS)
		return 0;
	cache_lookup(gp->cache, gp->type, gp->r, &info);
	progress_step(&info, step, sizeof(step));
	if (info.state == CACHE_DOWNLOADING && !info.items_total) {
		if (!gp->dl_start_ms) {
			gp->dl_start_ms = now;
			gp->dl_start_bytes = info.bytes_done;
		} else if (now > gp->dl_start_ms && info.bytes_done > gp->dl_start_bytes) {
			snprintf(rate, sizeof(rate), " at %.0f MiB/s",
				 (double)(info.bytes_done - gp->dl_start_bytes) / 1048576.0 /
					 ((double)(now - gp->dl_start_ms) / 1000.0));
		}
	}
	fprintf(stderr, "\rorderfs get: %s: %s%s\033[K", gp->range_str, step, rate);
	fflush(stderr);
	gp->last_ms = now;
	gp->drawn = 1;
	return 0; /* never cancels: Ctrl-C ends the process */
}

/* The export of r, fetched if need be. GET_OK with *h open, or the status after saying why.
 * show: draw the progress line on stderr (a terminal) while waiting. */
static int fetch(struct cache *cache, size_t t, const struct date_range *r,
		 const char *range_str, int show, struct cache_handle **h)
{
	struct cache_info info;
	struct get_progress gp = {cache, t, r, range_str, 0, 0, 0, 0};
	int rc = cache_open(cache, t, r, show ? progress_draw : NULL, &gp, h);

	if (gp.drawn) { /* the line goes; what follows is said on its own lines */
		fprintf(stderr, "\r\033[K");
		fflush(stderr);
	}

	if (rc == 0)
		return GET_OK;
	cache_lookup(cache, t, r, &info);
	if (rc == -ENODATA) {
		fprintf(stderr, "orderfs get: %s: no data in that range\n", range_str);
		return GET_NO_DATA;
	}
	if (info.last_error.msg[0])
		fprintf(stderr, "orderfs get: %s: %s%s%s: %s\n", range_str, strerror(-rc),
			info.last_error.code[0] ? ", code " : "", info.last_error.code,
			info.last_error.msg);
	else
		fprintf(stderr, "orderfs get: %s: %s\n", range_str, strerror(-rc));
	return GET_FAILED;
}

/* Copy member of the export h has open to out_path (or stdout) and say what was written.
 * GET_OK or GET_FAILED after saying why. */
static int deliver(struct cache *cache, size_t t, const struct date_range *r,
		   struct cache_handle *h, const char *range_str, const char *member,
		   const char *out_path)
{
	int to_stdout = !out_path || !strcmp(out_path, "-");
	struct cache_info info;
	uint64_t base = 0, len = 0;
	int rc;

	if ((rc = extent(h, member, &base, &len)) != 0) {
		fprintf(stderr, "orderfs get: %s: %s%s\n", range_str,
			rc == -ENOENT ? "the export has no file " : "unreadable export: ",
			rc == -ENOENT ? member : strerror(-rc));
		return GET_FAILED;
	}
	if (to_stdout)
		rc = copy_fd(cache_handle_fd(h), STDOUT_FILENO, base, len);
	else
		rc = write_file(cache_handle_fd(h), base, len, out_path);
	if (rc) {
		fprintf(stderr, "orderfs get: %s: %s\n", out_path ? out_path : "stdout",
			strerror(-rc));
		return GET_FAILED;
	}
	cache_lookup(cache, t, r, &info);
	if (!to_stdout)
		fprintf(stderr, "orderfs get: %s: %llu bytes, %s %s\n", out_path,
			(unsigned long long)len, member[0] ? "bundle sha256" : "sha256",
			info.sha256);
	return GET_OK;
}

int get_run(const struct cache_config *cc, struct provider *prov,
	    const struct cache_source_config *sc, size_t type, const char *range_str,
	    const char *member, const char *out_path, int quiet)
{
	struct cache *cache = NULL;
	struct cache_handle *h = NULL;
	struct date_range r;
	size_t first;
	int lock_fd, status;

	if (check_range(prov, range_str, &r) != GET_OK)
		return GET_USAGE;
	if (cache_take(cc, prov, sc, &lock_fd, &cache, &first))
		return GET_FAILED;
	type += first;
	status = fetch(cache, type, &r, range_str, !quiet && isatty(STDERR_FILENO), &h);
	if (status == GET_OK)
		status = deliver(cache, type, &r, h, range_str, member, out_path);
	cache_handle_close(h);
	cache_free(cache);
	close(lock_fd);
	return status;
}

/*
 * What `orderfs get` fetches (node_get_target): "A..B" the provider's default file, "A..B/NAME"
 * any file the mount shows in that range. 0, or -1 after saying why.
 */
static int get_target(const struct provider *prov, const char *arg,
		      char range[DATE_RANGE_STR_LEN], size_t *t, char member[PATH_NAME_MAX])
{
	struct path_layout l = {prov->max_range_days, prov->types, prov->ntypes};
	int rc = node_get_target(arg, &l, range, t, member);

	if (rc == -EINVAL)
		fprintf(stderr, "orderfs get: %s: bad range: not YYYY-MM-DD..YYYY-MM-DD\n", arg);
	else if (rc)
		fprintf(stderr, "orderfs get: %s: no such file in a range of provider %s\n", arg,
			prov->name);
	return rc ? -1 : 0;
}

#define GET_USAGE_LINE "usage: orderfs get [-d] [-q] CONFIG [ACCOUNT/]A..B[/NAME] [-o FILE]\n"

/* The command line of `orderfs get`. -1 to go on, else the exit status (after --help, or
 * after saying what is wrong). */
static int get_parse_args(int argc, char **argv, const char **config, const char **range,
			  const char **out, int *debug, int *quiet)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-d")) {
			*debug = 1;
		} else if (!strcmp(a, "-q")) {
			*quiet = 1;
		} else if (!strcmp(a, "-o")) {
			if (i + 1 >= argc) {
				fprintf(stderr, "orderfs get: -o needs a file name\n");
				return GET_USAGE;
			}
			*out = argv[++i];
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			printf(GET_USAGE_LINE
			       "Fetches the export of A..B (at most one export long), or its file\n"
			       "NAME, into FILE or to stdout, through CONFIG's cache. With accounts_dir,\n"
			       "name the account first: ACCOUNT/A..B[/NAME]. On a terminal, one line on\n"
			       "stderr shows the export's step while it waits; -q leaves it out.\n"
			       "Exit status: 0 done, 1 the export\n"
			       "failed, 2 usage, config or range error, 3 no data in that range.\n");
			return GET_OK;
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "orderfs get: unknown option '%s'\n", a);
			return GET_USAGE;
		} else if (!*config) {
			*config = a;
		} else if (!*range) {
			*range = a;
		} else {
			fprintf(stderr, "orderfs get: unexpected argument '%s'\n", a);
			return GET_USAGE;
		}
	}
	if (!*config || !*range) {
		fprintf(stderr, GET_USAGE_LINE);
		return GET_USAGE;
	}
	return -1;
}

/* With accounts_dir, ARG is NAME/A..B[/FILE]: NAME's config (its NAME.conf over the main
 * config) into acfg and the rest of ARG into *rest. 0, or -1 after saying why. */
static int get_account(const struct fs_config *cfg, const char *arg, char name[ACCOUNT_NAME_MAX],
		       struct fs_config *acfg, const char **rest)
{
	char path[PATH_MAX], err[600];
	struct account_sig sig;
	size_t len = strcspn(arg, "/");

	if (len == 0 || len >= ACCOUNT_NAME_MAX || !arg[len]) {
		fprintf(stderr, "orderfs get: %s: with accounts_dir, name the account: "
				"NAME/A..B[/FILE]\n", arg);
		return -1;
	}
	memcpy(name, arg, len);
	name[len] = '\0';
	*rest = arg + len + 1;
	if (!account_name_ok(name)) {
		fprintf(stderr, "orderfs get: %s: not an account name\n", name);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s%s", cfg->accounts_dir, name, ACCOUNT_CONF_SUFFIX);
	if (account_conf_load(cfg, path, acfg, &sig, err, sizeof(err))) {
		fprintf(stderr, "orderfs get: account %s: %s\n", name, err);
		return -1;
	}
	return 0;
}

int get_main(int argc, char **argv)
{
	const char *config = NULL, *range = NULL, *out = NULL;
	char member[PATH_NAME_MAX], range_only[DATE_RANGE_STR_LEN], name[ACCOUNT_NAME_MAX] = "";
	char key[128];
	struct cache_source_config sc;
	struct fs_config cfg, acfg;
	const struct fs_config *run_cfg = &cfg;
	struct cache_config cc;
	struct provider *prov = NULL;
	int debug = 0, quiet = 0, rc;
	size_t t;

	get_umask = umask(077);
	umask(get_umask);
	if ((rc = get_parse_args(argc, argv, &config, &range, &out, &debug, &quiet)) >= 0)
		return rc;
	rc = GET_USAGE;
	memset(&acfg, 0, sizeof(acfg));
	if (setup_load_config(config, NULL, 0, &cfg))
		goto out;
	/* A command: stderr says only what went wrong unless -d. */
	log_init(0, debug ? LOG_DEBUG : (cfg.log_level < LOG_WARNING ? cfg.log_level : LOG_WARNING));
	if (cfg.accounts_dir) {
		if (setup_accounts_dir(cfg.accounts_dir) ||
		    get_account(&cfg, range, name, &acfg, &range))
			goto out;
		run_cfg = &acfg;
	}
	if (setup_cache_dir(cfg.cache_dir))
		goto out;
	prov = provider_from_config(run_cfg);
	if (!prov)
		goto out;
	if (get_target(prov, range, range_only, &t, member))
		goto out;
	setup_cache_config(run_cfg, &cc);
	account_key_account(run_cfg, prov, name, key);
	setup_source_config(run_cfg, NULL, key, &sc);
	/* As in the mount: an account's cached file only with credentials its provider accepts. */
	sc.check_credentials = cfg.accounts_dir != NULL;
	rc = get_run(&cc, prov, &sc, t, range_only, member, out, quiet);
out:
	provider_destroy(prov);
	config_free(&acfg);
	config_free(&cfg);
	return rc;
}
