/*
 * orderfs: mount a merchant's order-export API as files.
 *
 *   orderfs [-f] [-d] [-s] [-o key=value[,...]] CONFIG MOUNTPOINT
 *   orderfs get [-d] CONFIG A..B [-o FILE]   (no FUSE; see get.h)
 *
 * Start-up order matters: options and config are checked in the foreground so mistakes print
 * to the terminal; then, unless -f, we fork and the parent waits until the child reports that
 * the mount is live (exit 0) or failed (exit 1, the child has printed why). Threads (cache
 * workers, FUSE workers) start only in the process that keeps running.
 */
#define FUSE_USE_VERSION 314
#include <fuse.h>
#include <fuse_lowlevel.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/log.h"
#include "config.h"
#include "dirlock.h"
#include "get.h"
#include "notify.h"
#include "orderfs.h"
#include "metrics.h"
#include "prefetch.h"
#include "stats.h"

extern char **environ;

struct cmdline {
	int foreground;
	int debug;
	int single_thread;
	const char *config_path;
	const char *mountpoint;
	int no_auto_unmount;  /* -o no_auto_unmount: leave a dead mount behind if we die */
	char *fuse_opts;      /* comma-separated options passed to libfuse */
	char **overrides;     /* "key=value" config overrides from -o, applied after the file */
	size_t n_overrides;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: orderfs [-f] [-d] [-s] [-o key=value[,...]] CONFIG MOUNTPOINT\n"
		"       orderfs get [-d] CONFIG A..B [-o FILE]\n"
		"       fusermount3 -u MOUNTPOINT\n"
		"\n"
		"Mounts a merchant's order-export API as files under MOUNTPOINT/exports/.\n"
		"\n"
		"  -f             stay in the foreground, log to stderr\n"
		"  -d             debug: log HTTP-level detail and FUSE requests (implies -f)\n"
		"  -s             single-threaded FUSE loop\n"
		"  -o key=value   set a config key (wins over CONFIG) or a FUSE mount option\n"
		"  -h, --help     this help\n"
		"  -V, --version  print the version\n"
		"\n"
		"Config keys: provider base_url merchant_no secret_file cache_dir language\n"
		"  merchant_id token_file region (clover) app_key refresh_token_file oauth_url\n"
		"  decrypt_mode redact sync_ttl (mogujie)\n"
		"  report_type cache_max_size max_exports export_timeout nodata_ttl connect_timeout\n"
		"  request_timeout download_stall_timeout poll_initial_ms poll_max_ms retry_limit\n"
		"  max_requests_per_second max_threads attr_timeout tls_insecure log_level\n"
		"  exact_sizes metrics_listen\n"
		"  prefetch prefetch_interval   (see orderfs(1))\n");
}

/* Generic mount(8) options that mean nothing to orderfs and are dropped (fstab passes them). */
static int is_ignored_mount_opt(const char *o)
{
	static const char *ignored[] = {"defaults", "_netdev", "nofail", "auto", "noauto",
					"user",	    "users",   "nouser", "rw",	 "x-systemd"};
	for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
		if (!strcmp(o, ignored[i]) || !strncmp(o, "x-systemd.", 10))
			return 1;
	return 0;
}

static int append_opt(char **list, const char *opt)
{
	size_t old = *list ? strlen(*list) : 0;
	char *n = realloc(*list, old + strlen(opt) + 2);
	if (!n)
		return -1;
	if (old)
		n[old++] = ',';
	strcpy(n + old, opt);
	*list = n;
	return 0;
}

/* Split one -o argument into config overrides and FUSE options. */
static int take_opts(struct cmdline *cl, const char *arg)
{
	char *copy = strdup(arg);
	char *save = NULL;
	int rc = 0;

	if (!copy)
		return -1;
	for (char *o = strtok_r(copy, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
		char key[64];
		size_t klen = strcspn(o, "=");
		if (klen < sizeof(key)) {
			memcpy(key, o, klen);
			key[klen] = '\0';
		} else {
			key[0] = '\0';
		}
		if (config_is_key(key)) {
			char **n = realloc(cl->overrides, (cl->n_overrides + 1) * sizeof(*n));
			if (!n || !(n[cl->n_overrides] = strdup(o))) {
				free(n);
				rc = -1;
				break;
			}
			cl->overrides = n;
			cl->n_overrides++;
		} else if (!strcmp(o, "no_auto_unmount")) {
			cl->no_auto_unmount = 1;
		} else if (!is_ignored_mount_opt(o)) {
			if (append_opt(&cl->fuse_opts, o)) {
				rc = -1;
				break;
			}
		}
	}
	free(copy);
	return rc;
}

/* Returns 0 to go on, 1 to exit successfully (help/version), -1 on a usage error. */
static int parse_cmdline(int argc, char **argv, struct cmdline *cl)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 1;
		} else if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
			printf("orderfs %s (libfuse %d)\n", ORDERFS_VERSION, fuse_version());
			return 1;
		} else if (!strcmp(a, "-f")) {
			cl->foreground = 1;
		} else if (!strcmp(a, "-d")) {
			cl->debug = 1;
			cl->foreground = 1;
		} else if (!strcmp(a, "-s")) {
			cl->single_thread = 1;
		} else if (!strcmp(a, "-o") || !strncmp(a, "-o", 2)) {
			const char *v = a[2] ? a + 2 : (i + 1 < argc ? argv[++i] : NULL);
			if (!v) {
				fprintf(stderr, "orderfs: -o needs an argument\n");
				return -1;
			}
			if (take_opts(cl, v)) {
				fprintf(stderr, "orderfs: out of memory\n");
				return -1;
			}
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "orderfs: unknown option '%s'\n", a);
			return -1;
		} else if (!cl->config_path) {
			cl->config_path = a;
		} else if (!cl->mountpoint) {
			cl->mountpoint = a;
		} else {
			fprintf(stderr, "orderfs: unexpected argument '%s'\n", a);
			return -1;
		}
	}
	if (!cl->config_path || !cl->mountpoint) {
		usage(stderr);
		return -1;
	}
	return 0;
}

static int load_config(const struct cmdline *cl, struct fs_config *cfg)
{
	char err[512];

	config_init(cfg);
	if (config_load_file(cfg, cl->config_path, err, sizeof(err)))
		goto fail;
	for (size_t i = 0; i < cl->n_overrides; i++) {
		char *eq = strchr(cl->overrides[i], '=');
		if (!eq) {
			snprintf(err, sizeof(err), "-o %s: expected key=value", cl->overrides[i]);
			goto fail;
		}
		*eq = '\0';
		int rc = config_set(cfg, cl->overrides[i], eq + 1, err, sizeof(err));
		*eq = '=';
		if (rc)
			goto fail;
	}
	if (config_validate(cfg, err, sizeof(err)))
		goto fail;
	return 0;
fail:
	fprintf(stderr, "orderfs: config: %s\n", err);
	return -1;
}

/* A previous orderfs that died leaves "Transport endpoint is not connected": clear it. */
static void clear_dead_mount(const char *mountpoint)
{
	/* statfs always reaches the daemon; stat may be answered from cached attributes. */
	struct statvfs st;
	if (statvfs(mountpoint, &st) == 0 || errno != ENOTCONN)
		return;
	log_warn("%s: a previous mount is dead (not connected); unmounting it", mountpoint);
	char *args[] = {(char *)"fusermount3", (char *)"-u", (char *)"-z", (char *)mountpoint, NULL};
	pid_t pid;
	int status;
	if (posix_spawnp(&pid, "fusermount3", NULL, NULL, args, environ) == 0)
		waitpid(pid, &status, 0);
}

static int check_cache_dir(const char *dir)
{
	if (mkdir(dir, 0700) && errno != EEXIST) {
		fprintf(stderr, "orderfs: cache_dir %s: %s\n", dir, strerror(errno));
		return -1;
	}
	if (access(dir, R_OK | W_OK | X_OK)) {
		fprintf(stderr, "orderfs: cache_dir %s: %s\n", dir, strerror(errno));
		return -1;
	}
	return 0;
}

/* Fork; the parent waits for the child's verdict on the pipe and exits with it. */
static int daemon_fork(int *report_fd)
{
	int p[2];
	if (pipe(p)) {
		perror("orderfs: pipe");
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("orderfs: fork");
		return -1;
	}
	if (pid > 0) {
		char ok = 1;
		close(p[1]);
		ssize_t n = read(p[0], &ok, 1);
		_exit(n == 1 && ok == 0 ? 0 : 1);
	}
	close(p[0]);
	setsid();
	*report_fd = p[1];
	return 0;
}

static void daemon_ready(int report_fd)
{
	int null = open("/dev/null", O_RDWR);
	if (chdir("/")) {
		/* keep going: the mount works whatever our cwd */
	}
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		if (null > STDERR_FILENO)
			close(null);
	}
	char ok = 0;
	if (write(report_fd, &ok, 1) != 1) {
		/* the parent is gone; nothing to tell */
	}
	close(report_fd);
}

/*
 * The mount's one cache, of every export type of the provider (Clover: orders and payments):
 * they share cache_max_size and max_exports by use.
 */
static void make_cache_config(const struct fs_config *cfg, struct cache_config *cc)
{
	memset(cc, 0, sizeof(*cc));
	cc->dir = cfg->cache_dir;
	cc->max_size = cfg->cache_max_size;
	cc->max_exports = cfg->max_exports;
	cc->export_timeout_s = cfg->export_timeout_s;
	cc->nodata_ttl_s = cfg->nodata_ttl_s;
	/* report_type (Vexora only, config_validate makes sure) overrides the type sent. */
	cc->report_type0 = cfg->report_type;
	cc->language = cfg->language ? cfg->language : "en-US";
	cc->poll_initial_ms = cfg->poll_initial_ms;
	cc->poll_max_ms = cfg->poll_max_ms;
	cc->retry_limit = cfg->retry_limit;
}

/*
 * What `orderfs get` fetches: "A..B" is the provider's default file (Vexora's orders.xlsx, the
 * first fixed file of a bundle type: Clover's orders.jsonl, Mogujie's orders.xlsx) and
 * "A..B/NAME" any file the mount shows in that range. 0, or -1 after saying why.
 */
static int get_target(const struct provider *prov, const char *arg,
		      char range[DATE_RANGE_STR_LEN], size_t *t, char member[PATH_NAME_MAX])
{
	struct path_layout l = {prov->max_range_days, prov->types, prov->ntypes};
	const char *slash = strchr(arg, '/');
	size_t rlen = slash ? (size_t)(slash - arg) : strlen(arg);
	char path[PATH_MAX];
	struct path_node node;

	*t = 0;
	member[0] = '\0';
	if (rlen != DATE_RANGE_STR_LEN - 1) {
		fprintf(stderr, "orderfs get: %s: bad range: not YYYY-MM-DD..YYYY-MM-DD\n", arg);
		return -1;
	}
	snprintf(range, DATE_RANGE_STR_LEN, "%.*s", (int)rlen, arg);
	if (!slash) {
		const struct provider_type *pt = &prov->types[0];
		if (!pt->ext && pt->suffixes && pt->suffixes[0])
			snprintf(member, PATH_NAME_MAX, "%s%s", pt->base_name, pt->suffixes[0]);
		return 0;
	}
	snprintf(path, sizeof(path), "/exports/%s", arg);
	if (path_resolve(path, &l, &node, NULL) || node.kind != PATH_EXPORT_FILE) {
		fprintf(stderr, "orderfs get: %s: no such file in a range of provider %s\n", arg,
			prov->name);
		return -1;
	}
	*t = node.type;
	snprintf(member, PATH_NAME_MAX, "%s", node.member);
	date_range_format(&node.chunk, range); /* a chunk's file names the chunk's export */
	return 0;
}

/* orderfs get [-d] CONFIG A..B[/NAME] [-o FILE]: argv[0] is "get". Returns the exit status. */
static int get_main(int argc, char **argv)
{
	const char *config = NULL, *range = NULL, *out = NULL;
	struct cmdline cl;
	struct fs_config cfg;
	struct provider *prov = NULL;
	int debug = 0, rc = GET_USAGE;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-d")) {
			debug = 1;
		} else if (!strcmp(a, "-o")) {
			if (i + 1 >= argc) {
				fprintf(stderr, "orderfs get: -o needs a file name\n");
				return GET_USAGE;
			}
			out = argv[++i];
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			printf("usage: orderfs get [-d] CONFIG A..B[/NAME] [-o FILE]\n"
			       "Fetches the export of A..B (at most one export long), or its file\n"
			       "NAME, into FILE or to stdout, through CONFIG's cache. Exit status: 0 done, 1 the export\n"
			       "failed, 2 usage, config or range error, 3 no data in that range.\n");
			return GET_OK;
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "orderfs get: unknown option '%s'\n", a);
			return GET_USAGE;
		} else if (!config) {
			config = a;
		} else if (!range) {
			range = a;
		} else {
			fprintf(stderr, "orderfs get: unexpected argument '%s'\n", a);
			return GET_USAGE;
		}
	}
	if (!config || !range) {
		fprintf(stderr, "usage: orderfs get [-d] CONFIG A..B[/NAME] [-o FILE]\n");
		return GET_USAGE;
	}
	memset(&cl, 0, sizeof(cl));
	cl.config_path = config;
	if (load_config(&cl, &cfg))
		goto out;
	/* A command: stderr says only what went wrong unless -d. */
	log_init(0, debug ? LOG_DEBUG : (cfg.log_level < LOG_WARNING ? cfg.log_level : LOG_WARNING));
	if (check_cache_dir(cfg.cache_dir))
		goto out;
	prov = provider_from_config(&cfg);
	if (!prov)
		goto out;
	struct cache_config cc;
	size_t t;
	char member[PATH_NAME_MAX], range_only[DATE_RANGE_STR_LEN];
	if (get_target(prov, range, range_only, &t, member)) {
		rc = GET_USAGE;
		goto out;
	}
	make_cache_config(&cfg, &cc);
	rc = get_run(&cc, prov, t, range_only, member, out);
out:
	provider_destroy(prov);
	config_free(&cfg);
	return rc;
}

#define FS_IDLE_THREADS 10

static int run(const struct cmdline *cl, struct fs_config *cfg)
{
	struct orderfs o;
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse *f = NULL;
	struct fuse_loop_config *lc = NULL;
	struct stats_watch *sw = NULL;
	struct metrics *mx = NULL;
	int report_fd = -1, lock_fd = -1;
	int rc = 1;
	int mounted = 0, handlers = 0;
	int cache_err = 0;

	memset(&o, 0, sizeof(o));
	pthread_mutex_init(&o.files_lock, NULL);
	if (check_cache_dir(cfg->cache_dir))
		goto out;
	if (!cl->foreground && daemon_fork(&report_fd))
		goto out;
	/* In the process that keeps running: the lock lives as long as this process. */
	lock_fd = dirlock_take(cfg->cache_dir);
	if (lock_fd < 0) {
		fprintf(stderr, "orderfs: cache_dir %s: %s\n", cfg->cache_dir,
			lock_fd == -EBUSY ? "in use by another orderfs (a mount or orderfs get)"
					  : strerror(-lock_fd));
		goto out;
	}

	o.prov = provider_from_config(cfg);
	if (!o.prov)
		goto out;
	o.layout.max_range_days = o.prov->max_range_days;
	o.layout.types = o.prov->types;
	o.layout.ntypes = o.prov->ntypes;
	o.bundles = bundle_memo_new();
	if (!o.bundles)
		goto out;
	o.window_months = o.prov->window_months;
	o.cache_dir = cfg->cache_dir;
	o.attr_timeout_s = cfg->attr_timeout_s;
	o.exact_sizes = cfg->exact_sizes;
	o.stat_waiters_max = cfg->max_threads / 2 > 2 ? cfg->max_threads / 2 : 2;
	o.mount_time = time(NULL);
	o.notes = range_map_new();
	struct kernel_view_limits kvl = {0, (int64_t)(cfg->attr_timeout_s * 1000), NULL};
	o.kview = kernel_view_new(&kvl);
	if (!o.notes || !o.kview)
		goto out;

	/* Safe defaults first so an explicit -o can still add to them. */
	char fsname[200];
	snprintf(fsname, sizeof(fsname), "fsname=orderfs:%s,subtype=orderfs", o.prov->account);
	if (fuse_opt_add_arg(&args, "orderfs") || fuse_opt_add_arg(&args, "-o") ||
	    fuse_opt_add_arg(&args, cl->no_auto_unmount ? "default_permissions"
							: "default_permissions,auto_unmount") ||
	    fuse_opt_add_arg(&args, "-o") || fuse_opt_add_arg(&args, fsname))
		goto out;
	if (cl->fuse_opts && (fuse_opt_add_arg(&args, "-o") || fuse_opt_add_arg(&args, cl->fuse_opts)))
		goto out;
	if (cl->debug && fuse_opt_add_arg(&args, "-d"))
		goto out;

	f = fuse_new(&args, orderfs_operations(), sizeof(struct fuse_operations), &o);
	if (!f) {
		fprintf(stderr, "orderfs: bad FUSE options\n");
		goto out;
	}
	o.fuse = f;
	clear_dead_mount(cl->mountpoint);
	if (fuse_mount(f, cl->mountpoint)) {
		fprintf(stderr, "orderfs: cannot mount on %s\n", cl->mountpoint);
		goto out;
	}
	mounted = 1;
	if (fuse_set_signal_handlers(fuse_get_session(f)))
		goto out;
	handlers = 1;

	struct cache_config cc;
	make_cache_config(cfg, &cc);
	o.cache = cache_new(&cc, o.prov, &cache_err);
	if (!o.cache) {
		fprintf(stderr, "orderfs: cache_dir %s: %s\n", cfg->cache_dir,
			strerror(-cache_err));
		goto out;
	}
	for (size_t t = 0; t < o.prov->ntypes; t++)
		o.kinds[t].type = &o.prov->types[t];
	o.nkinds = o.prov->ntypes;
	if (report_fd >= 0) {
		/* Success is silent on the terminal (like mount(8)); the line goes to syslog. */
		log_init(1, cfg->log_level);
		daemon_ready(report_fd);
		report_fd = -1;
	}
	log_notice("mounted %s on %s (provider %s, merchant %s)", cl->config_path, cl->mountpoint,
		   o.prov->name, o.prov->account);
	notify_send("READY=1");
	notify_status("mounted on %s", cl->mountpoint);
	/* After daemon_ready, so its log lines go where the daemon's go. */
	if (cfg->prefetch_days > 0) {
		o.prefetch = prefetch_start(o.cache, o.nkinds, cfg->prefetch_days,
					    cfg->prefetch_interval_s, o.window_months);
		if (!o.prefetch)
			log_err("cannot start prefetch: %s", strerror(errno));
	}
	/* Last: the stats thread and /metrics read everything above (o.prefetch among it). */
	sw = stats_watch_start(&o, 10);
	if (cfg->metrics_listen)
		mx = metrics_start(&o, cfg->metrics_listen); /* the mount works without it */

	if (cl->single_thread) {
		rc = fuse_loop(f) ? 1 : 0;
	} else {
		lc = fuse_loop_cfg_create();
		if (!lc)
			goto out;
		fuse_loop_cfg_set_max_threads(lc, (unsigned)cfg->max_threads);
		/* Idle workers past this many exit. libfuse's own default keeps every thread a
		 * burst of blocked opens created, each with its splice pipe (2 fds), for good. */
		fuse_loop_cfg_set_idle_threads(lc, FS_IDLE_THREADS);
		rc = fuse_loop_mt(f, lc) ? 1 : 0;
	}
	log_notice("unmounting %s", cl->mountpoint);
	notify_send("STOPPING=1");

out:
	metrics_stop(mx);
	stats_watch_stop(sw);
	prefetch_stop(o.prefetch);
	o.prefetch = NULL;
	if (f) {
		if (handlers)
			fuse_remove_signal_handlers(fuse_get_session(f));
		if (mounted)
			fuse_unmount(f);
	}
	orderfs_close_all(&o);
	cache_free(o.cache);
	bundle_memo_free(o.bundles);
	if (f)
		fuse_destroy(f);
	if (lc)
		fuse_loop_cfg_destroy(lc);
	fuse_opt_free_args(&args);
	range_map_free(o.notes);
	kernel_view_free(o.kview);
	provider_destroy(o.prov);
	pthread_mutex_destroy(&o.files_lock);
	if (report_fd >= 0)
		close(report_fd); /* the parent reads EOF: failure */
	if (lock_fd >= 0)
		close(lock_fd);
	return rc;
}

int main(int argc, char **argv)
{
	struct cmdline cl;
	struct fs_config cfg;
	int rc;

	/* Before any thread exists, so every thread inherits the mask: the stats thread takes
	 * SIGUSR1 with sigwait (stats.h). */
	stats_block_signals();
	if (argc > 1 && !strcmp(argv[1], "get"))
		return get_main(argc - 1, argv + 1);
	memset(&cl, 0, sizeof(cl));
	rc = parse_cmdline(argc, argv, &cl);
	if (rc) {
		rc = rc > 0 ? 0 : 2;
		goto out;
	}
	if (load_config(&cl, &cfg)) {
		rc = 1;
		goto out_cfg;
	}
	log_init(0, cl.debug ? LOG_DEBUG : cfg.log_level);
	rc = run(&cl, &cfg);
out_cfg:
	config_free(&cfg);
out:
	for (size_t i = 0; i < cl.n_overrides; i++)
		free(cl.overrides[i]);
	free(cl.overrides);
	free(cl.fuse_opts);
	return rc;
}
