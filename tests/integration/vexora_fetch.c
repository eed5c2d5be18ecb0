/*
 * vexora_fetch: a small CLI over the provider interface, for integration tests and manual
 * checks against the Vexora simulator or sandbox. Not installed.
 *
 *   vexora_fetch --base-url U --merchant M --secret-file F [--insecure] [--no-check]
 *                [--clock-offset-ms N] [--debug] CMD ...
 *   apply A..B                      print the task id
 *   status ID                       print the task as one JSON line
 *   urls ID                         print {"url":..,"expires_ms":..}
 *   download URL OFFSET OUTFILE     one download call into OUTFILE from OFFSET
 *   fetch A..B OUTFILE [--poll-ms N] [--tries N]
 *                                   check, apply, poll, urls, download with resume; prints
 *                                   {"task":..,"size":..,"file_name":..}
 * Failure: one line "error: <kind> code=<code> msg=<msg>" on stderr, exit 2 (3 for no data,
 * 64 for a usage error).
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

#include "../../common/log.h"
#include "../../client/provider.h"
#include "../../client/vexora/vexora.h"
#include "fetch_tool.h"

#define EXIT_FAIL 2
#define EXIT_NODATA 3
#define EXIT_USAGE 64
#define POLL_DEADLINE_S 300

static int64_t clock_offset_ms;

static int64_t offset_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + clock_offset_ms;
}

static int usage(void)
{
	fprintf(stderr, "usage: vexora_fetch --base-url U --merchant M --secret-file F "
			"[--insecure] [--no-check] [--clock-offset-ms N] [--debug] "
			"apply A..B | status ID | urls ID | download URL OFFSET OUTFILE | "
			"fetch A..B OUTFILE [--poll-ms N] [--tries N]\n");
	return EXIT_USAGE;
}

static int fail(const struct client_error *e)
{
	fprintf(stderr, "error: %s code=%s msg=%s\n", client_errkind_name(e->kind), e->code,
		e->msg);
	return EXIT_FAIL;
}

/* First line of path, without the newline, into out. 0 or -1. */

/* ---- commands ---- */

/* "A..B" with two real dates. A > B is left to check() (or, with --no-check, the server). */
static int parse_range(const char *s, struct export_request *req, struct client_error *err)
{
	memset(req, 0, sizeof(*req));
	req->report_type = "order";
	if (strlen(s) != 22 || strncmp(s + 10, "..", 2) != 0 ||
	    date_parse(s, 10, &req->range.start) != 0 ||
	    date_parse(s + 12, 10, &req->range.end) != 0) {
		client_error_set(err, CLIENT_E_INVALID, "range %s: expected YYYY-MM-DD..YYYY-MM-DD",
				 s);
		return -1;
	}
	return 0;
}

static int cmd_fetch(struct provider *p, const char *range, const char *outfile,
		     const struct opts *o)
{
	struct export_request req;
	struct export_task task, st;
	struct download_url url;
	struct client_error err;
	struct file_sink sink = {.fd = -1};
	struct download_sink ds = {.begin = fs_begin, .write = fs_write, .ctx = &sink};
	uint64_t total = 0, offset = 0;
	size_t n;
	int attempt = 0, rc = EXIT_FAIL;
	time_t deadline = time(NULL) + POLL_DEADLINE_S;

	client_error_clear(&err);
	if (parse_range(range, &req, &err) != 0)
		return fail(&err);
	if (!o->no_check && p->ops->check(p, &req, offset_now_ms() / 1000, &err) != 0)
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
			fprintf(stderr, "error: failed code=3 msg=%s\n", st.msg);
			return EXIT_FAIL;
		}
		if (st.state == EXPORT_NO_DATA) {
			fprintf(stderr, "error: no-data code=4 msg=%s\n", st.msg);
			return EXIT_NODATA;
		}
		if (time(NULL) > deadline) {
			fprintf(stderr, "error: transient code= msg=task still %s after %d s\n",
				export_state_name(st.state), POLL_DEADLINE_S);
			return EXIT_FAIL;
		}
		sleep_ms(o->poll_ms);
	}
	while (p->ops->get_urls(p, task.id, &url, 1, &n, &err) != 0)
		if (backoff(&err, &attempt, o->tries) != 0)
			return fail(&err);

	sink.fd = open(outfile, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (sink.fd < 0) {
		fprintf(stderr, "error: local code= msg=%s: %s\n", outfile, strerror(errno));
		return EXIT_FAIL;
	}
	attempt = 0;
	while (p->ops->download(p, &url, offset, &ds, &total, &err) != 0) {
		if (err.kind == CLIENT_E_URL_EXPIRED && ++attempt < o->tries) {
			fprintf(stderr, "download URL expired, asking for a new one\n");
			if (p->ops->get_urls(p, task.id, &url, 1, &n, &err) != 0 &&
			    backoff(&err, &attempt, o->tries) != 0)
				goto out;
		} else if (backoff(&err, &attempt, o->tries) != 0) {
			goto out;
		}
		offset = file_size(sink.fd);
		fprintf(stderr, "resuming download at %" PRIu64 "\n", offset);
	}
	cJSON *res = cJSON_CreateObject();
	cJSON_AddStringToObject(res, "task", task.id);
	cJSON_AddNumberToObject(res, "size", (double)file_size(sink.fd));
	cJSON_AddStringToObject(res, "file_name", st.file_name);
	char *line = cJSON_PrintUnformatted(res);
	if (line)
		printf("%s\n", line);
	free(line);
	cJSON_Delete(res);
	rc = 0;
out:
	if (rc != 0)
		fail(&err);
	close(sink.fd);
	return rc;
}

static int cmd_download(struct provider *p, const char *u, const char *off, const char *outfile)
{
	struct download_url url;
	struct client_error err;
	struct file_sink sink;
	struct download_sink ds = {.begin = fs_begin, .write = fs_write, .ctx = &sink};
	uint64_t total = 0;
	char *end;
	int rc;

	client_error_clear(&err);
	memset(&url, 0, sizeof(url));
	snprintf(url.url, sizeof(url.url), "%s", u);
	errno = 0;
	unsigned long long offset = strtoull(off, &end, 10);
	if (errno || *end || end == off)
		return usage();
	sink.fd = open(outfile, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (sink.fd < 0) {
		fprintf(stderr, "error: local code= msg=%s: %s\n", outfile, strerror(errno));
		return EXIT_FAIL;
	}
	rc = p->ops->download(p, &url, offset, &ds, &total, &err);
	uint64_t size = file_size(sink.fd);
	close(sink.fd);
	if (rc != 0)
		return fail(&err);
	printf("{\"size\":%" PRIu64 ",\"total\":%" PRIu64 "}\n", size,
	       total == UINT64_MAX ? size : total);
	return 0;
}

static int run(struct provider *p, int argc, char **argv, const struct opts *o)
{
	struct client_error err;
	struct export_request req;
	struct export_task t;
	struct download_url url;
	size_t n;

	client_error_clear(&err);
	if (argc == 2 && strcmp(argv[0], "apply") == 0) {
		if (parse_range(argv[1], &req, &err) != 0 ||
		    (!o->no_check && p->ops->check(p, &req, offset_now_ms() / 1000, &err) != 0) ||
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
	if (argc == 2 && strcmp(argv[0], "urls") == 0) {
		if (p->ops->get_urls(p, argv[1], &url, 1, &n, &err) != 0)
			return fail(&err);
		cJSON *o2 = cJSON_CreateObject();
		cJSON_AddStringToObject(o2, "url", url.url);
		cJSON_AddNumberToObject(o2, "expires_ms", (double)url.expires_ms);
		char *s = cJSON_PrintUnformatted(o2);
		if (s)
			printf("%s\n", s);
		free(s);
		cJSON_Delete(o2);
		return 0;
	}
	if (argc == 4 && strcmp(argv[0], "download") == 0)
		return cmd_download(p, argv[1], argv[2], argv[3]);
	if (argc == 3 && strcmp(argv[0], "fetch") == 0)
		return cmd_fetch(p, argv[1], argv[2], o);
	return usage();
}

int main(int argc, char **argv)
{
	struct vexora_config cfg = {0};
	struct opts o = {0, 200, 5};
	struct client_error err;
	const char *secret_file = NULL;
	char secret[1024];
	char *cmd[8];
	int ncmd = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--base-url") == 0 && v)
			cfg.base_url = argv[++i];
		else if (strcmp(a, "--merchant") == 0 && v)
			cfg.merchant_no = argv[++i];
		else if (strcmp(a, "--secret-file") == 0 && v)
			secret_file = argv[++i];
		else if (strcmp(a, "--clock-offset-ms") == 0 && v)
			clock_offset_ms = strtoll(argv[++i], NULL, 10);
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
	if (!cfg.base_url || !cfg.merchant_no || !secret_file || ncmd == 0 || o.tries < 1 ||
	    o.poll_ms < 1)
		return usage();
	if (read_first_line(secret_file, secret, sizeof(secret)) != 0) {
		fprintf(stderr, "error: invalid code= msg=cannot read a secret from %s\n",
			secret_file);
		return EXIT_FAIL;
	}
	cfg.secret = secret;
	cfg.now_ms = offset_now_ms;
	client_error_clear(&err);
	struct provider *p = vexora_new(&cfg, &err);
	explicit_bzero(secret, sizeof(secret));
	if (!p)
		return fail(&err);
	int rc = run(p, ncmd, cmd, &o);
	provider_destroy(p);
	return rc;
}
