/*
 * clover_fetch: a small CLI over the Clover provider, for integration tests and manual checks
 * against contrib/clover_sim.py or the sandbox. Not installed.
 *
 *   clover_fetch --base-url U --merchant M --token-file F [--region R] [--now-ms N]
 *                [--insecure] [--no-check] [--debug] [--poll-ms N] [--tries N] CMD ...
 *   apply TYPE A..B            print the export id
 *   status ID                  print the task as one JSON line
 *   urls ID                    print {"urls":[..],"expires_ms":..}
 *   download URL OUTFILE       one download() call into OUTFILE
 *   fetch TYPE ID OUTFILE      fetch() the DONE export into OUTFILE (a bundle), then verify()
 *   run TYPE A..B OUTFILE      check, apply, poll until DONE, fetch, verify (retryable errors
 *                              retried up to --tries times)
 * fetch and run print {"task":..,"size":..,"items":..,"items_total":..}.
 * Failure: one line "error: <kind> http=<status> retry_after_ms=<ms> code=<c> msg=<m>" on
 * stderr, exit 2 (3 for a failed export, 64 for a usage error). --now-ms pins the clock.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "../../client/clover/clover.h"
#include "../../common/log.h"
#include "../../client/provider.h"
#include "fetch_tool.h"

#define EXIT_FAIL 2
#define EXIT_FAILED_EXPORT 3
#define EXIT_USAGE 64
#define POLL_DEADLINE_S 120

static int64_t pinned_now_ms = -1;

static int64_t driver_now_ms(void)
{
	struct timespec ts;
	if (pinned_now_ms >= 0)
		return pinned_now_ms;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int usage(void)
{
	fprintf(stderr, "usage: clover_fetch --base-url U --merchant M --token-file F [--region R] "
			"[--now-ms N] [--insecure] [--no-check] [--debug] [--poll-ms N] "
			"[--tries N] apply TYPE A..B | status ID | urls ID | download URL OUT | "
			"fetch TYPE ID OUT | run TYPE A..B OUT\n");
	return EXIT_USAGE;
}

static int fail(const struct client_error *e)
{
	fprintf(stderr, "error: %s http=%d retry_after_ms=%ld code=%s msg=%s\n",
		client_errkind_name(e->kind), e->http_status, e->retry_after_ms, e->code, e->msg);
	return EXIT_FAIL;
}


/* ---- commands ---- */

static int parse_range(const char *type, const char *s, struct export_request *req,
		       struct client_error *err)
{
	memset(req, 0, sizeof(*req));
	req->report_type = type;
	if (strlen(s) != 22 || strncmp(s + 10, "..", 2) != 0 ||
	    date_parse(s, 10, &req->range.start) != 0 ||
	    date_parse(s + 12, 10, &req->range.end) != 0) {
		client_error_set(err, CLIENT_E_INVALID, "range %s: expected YYYY-MM-DD..YYYY-MM-DD",
				 s);
		return -1;
	}
	return 0;
}

/* fetch() into outfile with retries, then verify(). Prints the result line. */
static int do_fetch(struct provider *p, const char *task_id, const struct export_request *req,
		    const char *outfile, const struct opts *o)
{
	struct client_error err;
	struct file_sink fs = {.fd = -1};
	struct download_sink ds = {fs_begin, fs_write, &fs, fs_read, fs_items};
	uint64_t total = UINT64_MAX;
	int attempt = 0, rc = EXIT_FAIL;

	client_error_clear(&err);
	fs.fd = open(outfile, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fs.fd < 0) {
		fprintf(stderr, "error: local http=0 retry_after_ms=-1 code= msg=%s: %s\n", outfile,
			strerror(errno));
		return EXIT_FAIL;
	}
	while (p->ops->fetch(p, task_id, req, &ds, &total, &err) != 0)
		if (backoff(&err, &attempt, o->tries) != 0)
			goto out;
	uint64_t size = file_size(fs.fd);
	if (total != size) {
		client_error_set(&err, CLIENT_E_PROTOCOL,
				 "fetch says %" PRIu64 " bytes, file has %" PRIu64, total, size);
		goto out;
	}
	if (p->ops->verify(p, fs.fd, size, &err) != 0)
		goto out;
	printf("{\"task\":\"%s\",\"size\":%" PRIu64 ",\"items\":%" PRIu64
	       ",\"items_total\":%" PRIu64 ",\"begins\":%d}\n",
	       task_id, size, fs.items, fs.items_total, fs.begins);
	rc = 0;
out:
	if (rc != 0)
		fail(&err);
	close(fs.fd);
	return rc;
}

static int cmd_run(struct provider *p, const char *type, const char *range, const char *outfile,
		   const struct opts *o)
{
	struct export_request req;
	struct export_task task, st;
	struct client_error err;
	int attempt = 0;
	time_t deadline = time(NULL) + POLL_DEADLINE_S;

	client_error_clear(&err);
	if (parse_range(type, range, &req, &err) != 0)
		return fail(&err);
	if (!o->no_check && p->ops->check(p, &req, driver_now_ms() / 1000, &err) != 0)
		return fail(&err);
	while (p->ops->apply(p, &req, &task, &err) != 0)
		if (backoff(&err, &attempt, o->tries) != 0)
			return fail(&err);
	for (;;) {
		if (p->ops->query(p, task.id, &st, &err) != 0) {
			if (backoff(&err, &attempt, o->tries) != 0)
				return fail(&err);
			continue;
		}
		if (st.state == EXPORT_GENERATED)
			break;
		if (st.state == EXPORT_FAILED) {
			fprintf(stderr, "error: failed http=200 retry_after_ms=-1 code= msg=%s\n",
				st.msg);
			return EXIT_FAILED_EXPORT;
		}
		if (time(NULL) > deadline) {
			fprintf(stderr, "error: transient http=0 retry_after_ms=-1 code= "
					"msg=export still %s after %d s\n",
				export_state_name(st.state), POLL_DEADLINE_S);
			return EXIT_FAIL;
		}
		sleep_ms(o->poll_ms);
	}
	return do_fetch(p, task.id, &req, outfile, o);
}

static int cmd_download(struct provider *p, const char *u, const char *outfile)
{
	struct download_url url;
	struct client_error err;
	struct file_sink fs = {.fd = -1};
	struct download_sink ds = {fs_begin, fs_write, &fs, NULL, NULL};
	uint64_t total = 0;

	client_error_clear(&err);
	memset(&url, 0, sizeof(url));
	snprintf(url.url, sizeof(url.url), "%s", u);
	fs.fd = open(outfile, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fs.fd < 0) {
		fprintf(stderr, "error: local http=0 retry_after_ms=-1 code= msg=%s: %s\n", outfile,
			strerror(errno));
		return EXIT_FAIL;
	}
	int rc = p->ops->download(p, &url, 0, &ds, &total, &err);
	uint64_t size = file_size(fs.fd);
	close(fs.fd);
	if (rc != 0)
		return fail(&err);
	printf("{\"size\":%" PRIu64 "}\n", size);
	return 0;
}

static int cmd_urls(struct provider *p, const char *id)
{
	struct download_url *urls = calloc(PROVIDER_URLS_MAX, sizeof(*urls));
	struct client_error err;
	size_t n = 0;

	client_error_clear(&err);
	if (!urls)
		return EXIT_FAIL;
	if (p->ops->get_urls(p, id, urls, PROVIDER_URLS_MAX, &n, &err) != 0) {
		free(urls);
		return fail(&err);
	}
	cJSON *o = cJSON_CreateObject();
	cJSON *a = cJSON_AddArrayToObject(o, "urls");
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(urls[i].url));
	cJSON_AddNumberToObject(o, "expires_ms", n ? (double)urls[0].expires_ms : 0);
	char *s = cJSON_PrintUnformatted(o);
	if (s)
		printf("%s\n", s);
	free(s);
	cJSON_Delete(o);
	free(urls);
	return 0;
}

static int run(struct provider *p, int argc, char **argv, const struct opts *o)
{
	struct client_error err;
	struct export_request req;
	struct export_task t;

	client_error_clear(&err);
	if (argc == 3 && strcmp(argv[0], "apply") == 0) {
		if (parse_range(argv[1], argv[2], &req, &err) != 0 ||
		    (!o->no_check && p->ops->check(p, &req, driver_now_ms() / 1000, &err) != 0) ||
		    p->ops->apply(p, &req, &t, &err) != 0)
			return fail(&err);
		printf("%s\n", t.id);
		return 0;
	}
	if (argc == 2 && strcmp(argv[0], "status") == 0) {
		if (p->ops->query(p, argv[1], &t, &err) != 0)
			return fail(&err);
		print_task(&t);
		return 0;
	}
	if (argc == 2 && strcmp(argv[0], "urls") == 0)
		return cmd_urls(p, argv[1]);
	if (argc == 3 && strcmp(argv[0], "download") == 0)
		return cmd_download(p, argv[1], argv[2]);
	if (argc == 4 && strcmp(argv[0], "fetch") == 0) {
		memset(&req, 0, sizeof(req));
		req.report_type = argv[1];
		return do_fetch(p, argv[2], &req, argv[3], o);
	}
	if (argc == 4 && strcmp(argv[0], "run") == 0)
		return cmd_run(p, argv[1], argv[2], argv[3], o);
	return usage();
}

int main(int argc, char **argv)
{
	struct clover_config cfg = {0};
	struct opts o = {0, 100, 1};
	struct client_error err;
	const char *token_file = NULL;
	char token[4200];
	char *cmd[8];
	int ncmd = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--base-url") == 0 && v)
			cfg.base_url = argv[++i];
		else if (strcmp(a, "--merchant") == 0 && v)
			cfg.merchant_id = argv[++i];
		else if (strcmp(a, "--token-file") == 0 && v)
			token_file = argv[++i];
		else if (strcmp(a, "--region") == 0 && v)
			cfg.region = argv[++i];
		else if (strcmp(a, "--now-ms") == 0 && v)
			pinned_now_ms = strtoll(argv[++i], NULL, 10);
		else if (strcmp(a, "--poll-ms") == 0 && v)
			o.poll_ms = strtol(argv[++i], NULL, 10);
		else if (strcmp(a, "--tries") == 0 && v)
			o.tries = atoi(argv[++i]);
		else if (strcmp(a, "--insecure") == 0)
			cfg.tls_insecure = 1;
		else if (strcmp(a, "--no-check") == 0)
			o.no_check = 1;
		else if (strcmp(a, "--debug") == 0)
			log_init(0, LOG_DEBUG);
		else if (a[0] == '-' && a[1] == '-')
			return usage();
		else if (ncmd < (int)(sizeof(cmd) / sizeof(cmd[0])))
			cmd[ncmd++] = argv[i];
		else
			return usage();
	}
	if (!cfg.base_url || !cfg.merchant_id || !token_file || ncmd == 0 || o.tries < 1 ||
	    o.poll_ms < 1)
		return usage();
	if (read_first_line(token_file, token, sizeof(token)) != 0) {
		fprintf(stderr, "error: invalid http=0 retry_after_ms=-1 code= "
				"msg=cannot read a token from %s\n",
			token_file);
		return EXIT_FAIL;
	}
	cfg.token = token;
	cfg.now_ms = driver_now_ms;
	client_error_clear(&err);
	struct provider *p = clover_new(&cfg, &err);
	explicit_bzero(token, sizeof(token));
	if (!p)
		return fail(&err);
	int rc = run(p, ncmd, cmd, &o);
	provider_destroy(p);
	return rc;
}
