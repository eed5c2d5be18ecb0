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
#include <time.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../client/store/s3.h"
#include "../common/log.h"
#include "accounts/accounts.h"
#include "mount/config.h"
#include "mount/dirlock.h"
#include "get.h"
#include "mount/notify.h"
#include "orderfs.h"
#include "report/metrics.h"
#include "mount/prefetch.h"
#include "mount/setup.h"
#include "user_count.h"
#include "user_waits.h"
#include "report/stats.h"

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
		"\n");
	config_print_keys(out);
	fprintf(out, "See orderfs(1) for what each key means.\n");
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

#define FS_IDLE_THREADS 10

/* Everything a mount holds while it runs, undone in reverse by mount_teardown. */
struct mount {
	struct orderfs o;
	struct fuse_args args;
	struct fuse_loop_config *lc;
	struct stats_watch *sw;
	struct metrics *mx;
	int report_fd; /* to the waiting parent until the mount is live; -1 with -f */
	int lock_fd;   /* cache_dir's lock, for as long as this process lives */
	int mounted, handlers;
};

/* cache_dir exists and is ours; in the background (unless -f) after the fork, because the
 * lock belongs to the process that keeps running. 0, or -1 after saying why. */
static int take_cache_dir(const struct cmdline *cl, const struct fs_config *cfg,
			  struct mount *m)
{
	if (setup_cache_dir(cfg->cache_dir))
		return -1;
	if (!cl->foreground && daemon_fork(&m->report_fd))
		return -1;
	m->lock_fd = dirlock_take(cfg->cache_dir);
	if (m->lock_fd < 0) {
		fprintf(stderr, "orderfs: cache_dir %s: %s\n", cfg->cache_dir,
			m->lock_fd == -EBUSY ? "in use by another orderfs (a mount or orderfs get)"
					     : strerror(-m->lock_fd));
		return -1;
	}
	return 0;
}

/* The provider (without accounts_dir: accounts start theirs when used) and the state the ops
 * share, caches aside (caches_open). 0 or -1. */
static int orderfs_setup(struct orderfs *o, const struct fs_config *cfg)
{
	o->cfg = cfg;
	if (!cfg->accounts_dir &&
	    (!(o->single.prov = provider_from_config(cfg)) || !(o->single.notes = range_map_new())))
		return -1;
	o->bundles = bundle_memo_new();
	if (!o->bundles)
		return -1;
	o->cache_dir = cfg->cache_dir;
	o->attr_timeout_s = cfg->attr_timeout_s;
	o->exact_sizes = cfg->exact_sizes;
	o->export_waiters_max = cfg->max_threads / 2 > 2 ? cfg->max_threads / 2 : 2;
	o->mount_time = time(NULL);
	perm_of_config(cfg, &o->perm);
	o->mount_uid = getuid();
	o->max_open_per_user = (unsigned)cfg->max_open_per_user;
	if (!(o->opens = user_count_new()))
		return -1;
	o->max_queued_per_user = (unsigned)cfg->max_queued_per_user;
	if (!(o->waits = user_waits_new()))
		return -1;
	struct kernel_view_limits kvl = {0, (int64_t)(cfg->attr_timeout_s * 1000), NULL};
	o->kview = kernel_view_new(&kvl);
	return o->kview ? 0 : -1;
}

/* libfuse's arguments: safe defaults first so an explicit -o can still add to them. */
static int fuse_args_build(const struct cmdline *cl, const struct orderfs *o,
			   struct fuse_args *args)
{
	char fsname[200];

	snprintf(fsname, sizeof(fsname), "fsname=orderfs:%s,subtype=orderfs",
		 o->accounts || !o->single.prov ? o->cfg->provider : o->single.prov->account);
	if (fuse_opt_add_arg(args, "orderfs") || fuse_opt_add_arg(args, "-o") ||
	    fuse_opt_add_arg(args, cl->no_auto_unmount ? "default_permissions"
						       : "default_permissions,auto_unmount") ||
	    fuse_opt_add_arg(args, "-o") || fuse_opt_add_arg(args, fsname))
		return -1;
	if (cl->fuse_opts && (fuse_opt_add_arg(args, "-o") || fuse_opt_add_arg(args, cl->fuse_opts)))
		return -1;
	if (cl->debug && fuse_opt_add_arg(args, "-d"))
		return -1;
	return 0;
}

/* Mount on cl->mountpoint with the signal handlers that end the loop. 0, or -1 (after
 * saying why when it is the user's to fix). */
static int mount_fuse(const struct cmdline *cl, struct mount *m)
{
	struct fuse *f;

	if (fuse_args_build(cl, &m->o, &m->args))
		return -1;
	f = fuse_new(&m->args, orderfs_operations(), sizeof(struct fuse_operations), &m->o);
	if (!f) {
		fprintf(stderr, "orderfs: bad FUSE options\n");
		return -1;
	}
	m->o.fuse = f;
	clear_dead_mount(cl->mountpoint);
	if (fuse_mount(f, cl->mountpoint)) {
		fprintf(stderr, "orderfs: cannot mount on %s\n", cl->mountpoint);
		return -1;
	}
	m->mounted = 1;
	if (fuse_set_signal_handlers(fuse_get_session(f)))
		return -1;
	m->handlers = 1;
	return 0;
}

/* With accounts_dir: the table of accounts, read once now so bad files are logged at
 * mount (the accounts start when used). 0, or -1 after saying why. */
static int accounts_open(const struct fs_config *cfg, struct orderfs *o)
{
	struct accounts_env env = {cfg, o->cache, o->store, o->prefetcher, NULL};
	char why[512];
	int rc;

	if (setup_accounts_dir(cfg->accounts_dir))
		return -1;
	/* One fleet session for every account: one lease, watch and reaper for the mount. */
	if (cfg->fleet_etcd &&
	    !(o->fleet_session = setup_fleet_session(cfg, cfg->provider, o->fleet_host, why,
						     sizeof(why)))) {
		fprintf(stderr, "orderfs: %s\n", why);
		return -1;
	}
	env.fleet = o->fleet_session;
	if (!(o->accounts = accounts_new(&env))) {
		fprintf(stderr, "orderfs: out of memory\n");
		return -1;
	}
	if ((rc = accounts_scan(o->accounts, NULL, NULL)) != 0) {
		fprintf(stderr, "orderfs: accounts_dir %s: %s\n", cfg->accounts_dir, strerror(-rc));
		return -1;
	}
	return 0;
}

/* The mount's one cache, every export type in it. 0, or -1 after saying why. */
static int caches_open(const struct fs_config *cfg, struct orderfs *o)
{
	struct fs_account *a = &o->single;
	struct cache_config cc;
	struct cache_source_config sc;
	char prefix[128], writer[FLEET_HOST_MAX], why[256];
	size_t kind0;
	int err = 0;

	setup_cache_config(cfg, &cc);
	if (cfg->store_url && !(o->store = setup_store(cfg)))
		return -1;
	a->clock_file = cfg->test_clock_file;
	if (!(o->cache = cache_new(&cc, NULL, &err)))
		goto fail;
	if (!(o->prefetcher = prefetcher_new())) {
		err = -ENOMEM;
		goto fail;
	}
	if (cfg->accounts_dir)
		return accounts_open(cfg, o);
	/* The fleet before the merchant's exports, each claimed through it. */
	if (cfg->fleet_etcd && !(a->fleet = setup_fleet(cfg, a->prov, o->fleet_host)))
		return -1;
	snprintf(a->key_account, sizeof(a->key_account), "%s", a->prov->account);
	setup_source_config(cfg, a->fleet, a->key_account, &sc);
	if (setup_source_store(cfg, o->store, a->prov->name, a->key_account, &sc, prefix, writer,
			       why, sizeof(why)) != 0) {
		fprintf(stderr, "orderfs: %s\n", why);
		return -1;
	}
	if ((err = cache_add_source(o->cache, a->prov, &sc, &kind0)) != 0)
		goto fail;
	account_set_active(a, a->prov, kind0);
	return 0;
fail:
	fprintf(stderr, "orderfs: cache_dir %s: %s\n", cfg->cache_dir, strerror(-err));
	return -1;
}

/* The mount is live: tell the parent and systemd, then start the background threads. */
static void mount_live(const struct cmdline *cl, const struct fs_config *cfg, struct mount *m)
{
	struct orderfs *o = &m->o;

	if (m->report_fd >= 0) {
		/* Success is silent on the terminal (like mount(8)); the line goes to syslog. */
		log_init(1, cfg->log_level);
		daemon_ready(m->report_fd);
		m->report_fd = -1;
	}
	if (o->accounts)
		log_notice("mounted %s on %s (provider %s, %zu accounts in %s)", cl->config_path,
			   cl->mountpoint, cfg->provider, accounts_count(o->accounts),
			   cfg->accounts_dir);
	else
		log_notice("mounted %s on %s (provider %s, merchant %s)", cl->config_path,
			   cl->mountpoint, o->single.prov->name, o->single.prov->account);
	notify_send("READY=1");
	notify_status("mounted on %s", cl->mountpoint);
	/* After daemon_ready, so its log lines go where the daemon's go. */
	if (cfg->prefetch_days > 0 && !o->accounts) { /* accounts: each when it starts */
		o->single.prefetch = prefetch_start(o->prefetcher, o->cache, 0, o->single.nkinds,
						    cfg->prefetch_days, cfg->prefetch_interval_s,
						    config_open_ttl(cfg), o->single.window_months, o->single.prov->zone);
		if (!o->single.prefetch)
			log_err("cannot start prefetch: %s", strerror(errno));
	}
	/* Last: the stats thread and /metrics read everything above (o->prefetch among it). */
	m->sw = stats_watch_start(o, 10);
	if (cfg->metrics_listen)
		m->mx = metrics_start(o, cfg->metrics_listen); /* the mount works without it */
}

/* Serve until unmounted or signalled. 0 or 1 (the exit status), -1 if the loop could not
 * start. */
/* The exit status once the loop ends: 0 when the mount went away. The kernel says so with
 * ENODEV, or, when it tore the connection down itself while a reply was on its way (an
 * unmount racing the end of an export), with ECONNABORTED: that too is the mount's end, not a
 * failure of orderfs. */
static int loop_status(int r)
{
	return r == 0 || r == -ECONNABORTED || r == ECONNABORTED ? 0 : 1;
}

static int serve(const struct cmdline *cl, const struct fs_config *cfg, struct mount *m)
{
	struct fuse *f = m->o.fuse;

	if (cl->single_thread)
		return loop_status(fuse_loop(f));
	m->lc = fuse_loop_cfg_create();
	if (!m->lc)
		return -1;
	fuse_loop_cfg_set_max_threads(m->lc, (unsigned)cfg->max_threads);
	/* Idle workers past this many exit. libfuse's own default keeps every thread a
	 * burst of blocked opens created, each with its splice pipe (2 fds), for good. */
	fuse_loop_cfg_set_idle_threads(m->lc, FS_IDLE_THREADS);
	return loop_status(fuse_loop_mt(f, m->lc));
}

/* Undo whatever of the mount was set up, in reverse: threads first, then the mount, then the
 * files and caches the ops used, then the rest. */
static void mount_teardown(struct mount *m)
{
	struct orderfs *o = &m->o;
	struct fuse *f = o->fuse;

	metrics_stop(m->mx);
	stats_watch_stop(m->sw);
	prefetch_stop(o->single.prefetch);
	o->single.prefetch = NULL;
	accounts_stop(o->accounts);
	prefetcher_free(o->prefetcher); /* every prefetch is stopped */
	o->prefetcher = NULL;
	if (f) {
		if (m->handlers)
			fuse_remove_signal_handlers(fuse_get_session(f));
		if (m->mounted)
			fuse_unmount(f);
	}
	orderfs_close_all(o);
	cache_free(o->cache);
	fleet_free(o->single.fleet); /* after the cache, which used it to the end */
	s3_free(o->store);	     /* the same */
	accounts_free(o->accounts);  /* the same for the accounts' providers and fleets */
	fleet_session_free(o->fleet_session); /* after every fleet on it */
	bundle_memo_free(o->bundles);
	if (f)
		fuse_destroy(f);
	if (m->lc)
		fuse_loop_cfg_destroy(m->lc);
	fuse_opt_free_args(&m->args);
	range_map_free(o->single.notes);
	kernel_view_free(o->kview);
	user_count_free(o->opens);
	user_waits_free(o->waits);
	provider_destroy(o->single.prov);
	pthread_mutex_destroy(&o->files_lock);
	if (m->report_fd >= 0)
		close(m->report_fd); /* the parent reads EOF: failure */
	if (m->lock_fd >= 0)
		close(m->lock_fd);
}

/* Mount, serve until unmounted, tear down. Returns the exit status. */
static int run(const struct cmdline *cl, struct fs_config *cfg)
{
	struct mount m;
	int rc = 1;

	memset(&m, 0, sizeof(m));
	m.report_fd = m.lock_fd = -1;
	pthread_mutex_init(&m.o.files_lock, NULL);
	if (take_cache_dir(cl, cfg, &m) == 0 && orderfs_setup(&m.o, cfg) == 0 &&
	    mount_fuse(cl, &m) == 0 && caches_open(cfg, &m.o) == 0) {
		mount_live(cl, cfg, &m);
		rc = serve(cl, cfg, &m);
		if (rc >= 0) {
			log_notice("unmounting %s", cl->mountpoint);
			notify_send("STOPPING=1");
		} else {
			rc = 1;
		}
	}
	mount_teardown(&m);
	return rc;
}

/*
 * Load the time zone once, before any thread, so that mktime and localtime_r only read it.
 * glibc's mktime looks at TZ on every call, and while TZ is unset it frees and copies the zone
 * name each time: fill threads parsing times at once would race on it (ThreadSanitizer sees
 * it; glibc's lock is invisible to it). Naming the zone glibc uses when TZ is unset
 * (/etc/localtime) changes nothing else and turns every later look into "no change".
 */
static void pin_time_zone(void)
{
	if (!getenv("TZ"))
		setenv("TZ", ":/etc/localtime", 0);
	tzset();
}

/*
 * The process holds secrets (signing secrets, tokens, etcd credentials) in memory: no core
 * dump may carry them to disk, and no other process of the same user may read its memory
 * through /proc (not dumpable also means not ptrace-able by that user). At start, before any
 * secret is read; a failure only weakens the protection, so it is logged, not fatal.
 */
static void no_core_dumps(void)
{
	const struct rlimit zero = {0, 0};

	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		fprintf(stderr, "orderfs: warning: PR_SET_DUMPABLE: %s\n", strerror(errno));
	if (setrlimit(RLIMIT_CORE, &zero) != 0)
		fprintf(stderr, "orderfs: warning: RLIMIT_CORE: %s\n", strerror(errno));
}

int main(int argc, char **argv)
{
	struct cmdline cl;
	struct fs_config cfg;
	int rc;

	/* Before any thread exists, so every thread inherits the mask: the stats thread takes
	 * SIGUSR1 with sigwait (stats.h). */
	no_core_dumps();
	stats_block_signals();
	pin_time_zone();
	if (argc > 1 && !strcmp(argv[1], "get"))
		return get_main(argc - 1, argv + 1);
	memset(&cl, 0, sizeof(cl));
	rc = parse_cmdline(argc, argv, &cl);
	if (rc) {
		rc = rc > 0 ? 0 : 2;
		goto out;
	}
	if (setup_load_config(cl.config_path, cl.overrides, cl.n_overrides, &cfg)) {
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
