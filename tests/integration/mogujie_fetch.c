/*
 * mogujie_fetch: a small CLI over the Mogujie provider, for integration tests and manual
 * checks against contrib/mogujie_sim.py. Not installed.
 *
 *   mogujie_fetch --base-url U --app-key K --secret-file F --token-file T
 *                 [--refresh-token-file R] [--oauth-url U] [--mode ecb|cbc] [--redact]
 *                 [--work-dir D] [--no-check] [--debug] CMD ...
 *   apply A..B            check + apply; print the task as one JSON line
 *   status ID             query; print the task as one JSON line
 *   fetch A..B OUTFILE    check, apply, fetch the bundle into OUTFILE through a file sink
 *                         that can read back, verify it; print
 *                         {"task","size","items_done","items_total","items_calls","members"}
 *                         On failure OUTFILE is removed: no partial bundle is ever kept.
 * Failure: one line "error: <kind> code=<code> msg=<msg>" on stderr, exit 2 (64 for usage).
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

#include "../../common/bundle.h"
#include "../../common/log.h"
#include "../../client/mogujie/mogujie.h"
#include "../../client/provider.h"
#include "fetch_tool.h"

#define EXIT_FAIL 2
#define EXIT_USAGE 64

static int usage(void)
{
	fprintf(stderr, "usage: mogujie_fetch --base-url U --app-key K --secret-file F "
			"--token-file T [--refresh-token-file R] [--oauth-url U] [--mode ecb|cbc] "
			"[--redact] [--work-dir D] [--no-check] [--debug] "
			"apply A..B | status ID | fetch A..B OUTFILE\n");
	return EXIT_USAGE;
}

static int fail(const struct client_error *e)
{
	fprintf(stderr, "error: %s code=%s msg=%s\n", client_errkind_name(e->kind), e->code,
		e->msg);
	return EXIT_FAIL;
}

/* ---- commands ---- */

static int parse_range(const char *s, struct export_request *req, struct client_error *err)
{
	const char *why = NULL;
	memset(req, 0, sizeof(*req));
	req->report_type = "orders";
	if (date_range_parse(s, &req->range, &why) != 0) {
		client_error_set(err, CLIENT_E_INVALID, "range %s: %s", s, why);
		return -1;
	}
	return 0;
}

static int cmd_fetch(struct provider *p, const char *range, const char *outfile, int no_check)
{
	struct export_request req;
	struct export_task task;
	struct client_error err;
	struct file_sink fs = {.fd = -1};
	struct download_sink ds = {fs_begin, fs_write, &fs, fs_read, fs_items};
	struct bundle_index ix = {0};
	uint64_t total = 0;
	int rc = EXIT_FAIL;

	client_error_clear(&err);
	if (parse_range(range, &req, &err) != 0)
		return fail(&err);
	if (!no_check && p->ops->check(p, &req, time(NULL), &err) != 0)
		return fail(&err);
	if (p->ops->apply(p, &req, &task, &err) != 0)
		return fail(&err);
	fs.fd = open(outfile, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fs.fd < 0) {
		fprintf(stderr, "error: local code= msg=%s: %s\n", outfile, strerror(errno));
		return EXIT_FAIL;
	}
	if (p->ops->fetch(p, task.id, &req, &ds, &total, &err) != 0)
		goto out;
	if (p->ops->verify(p, fs.fd, total, &err) != 0)
		goto out;
	if (bundle_index_read(fs.fd, total, &ix) != 0) {
		client_error_set(&err, CLIENT_E_PROTOCOL, "not a bundle");
		goto out;
	}
	cJSON *res = cJSON_CreateObject();
	cJSON *mem = cJSON_AddObjectToObject(res, "members");
	cJSON_AddStringToObject(res, "task", task.id);
	cJSON_AddNumberToObject(res, "size", (double)total);
	cJSON_AddNumberToObject(res, "items_done", (double)fs.items);
	cJSON_AddNumberToObject(res, "items_total", (double)fs.items_total);
	cJSON_AddNumberToObject(res, "items_calls", (double)fs.item_calls);
	for (size_t i = 0; i < ix.n; i++) {
		double pair[2] = {(double)ix.members[i].offset, (double)ix.members[i].size};
		cJSON_AddItemToObject(mem, ix.members[i].name, cJSON_CreateDoubleArray(pair, 2));
	}
	char *line = cJSON_PrintUnformatted(res);
	if (line)
		printf("%s\n", line);
	free(line);
	cJSON_Delete(res);
	bundle_index_free(&ix);
	rc = 0;
out:
	close(fs.fd);
	if (rc != 0) {
		unlink(outfile);
		fail(&err);
	}
	return rc;
}

static int run(struct provider *p, int argc, char **argv, int no_check)
{
	struct client_error err;
	struct export_request req;
	struct export_task t;

	client_error_clear(&err);
	if (argc == 2 && strcmp(argv[0], "apply") == 0) {
		if (parse_range(argv[1], &req, &err) != 0 ||
		    (!no_check && p->ops->check(p, &req, time(NULL), &err) != 0) ||
		    p->ops->apply(p, &req, &t, &err) != 0)
			return fail(&err);
		print_task(&t);
		return 0;
	}
	if (argc == 2 && strcmp(argv[0], "status") == 0) {
		if (p->ops->query(p, argv[1], &t, &err) != 0)
			return fail(&err);
		print_task(&t);
		return 0;
	}
	if (argc == 3 && strcmp(argv[0], "fetch") == 0)
		return cmd_fetch(p, argv[1], argv[2], no_check);
	return usage();
}

int main(int argc, char **argv)
{
	struct mogujie_config cfg = {0};
	struct client_error err;
	const char *secret_file = NULL;
	char secret[1024];
	char *cmd[8];
	int ncmd = 0, no_check = 0;

	cfg.work_dir = "/tmp/orderfs-mogujie-work";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--base-url") == 0 && v)
			cfg.base_url = argv[++i];
		else if (strcmp(a, "--app-key") == 0 && v)
			cfg.app_key = argv[++i];
		else if (strcmp(a, "--secret-file") == 0 && v)
			secret_file = argv[++i];
		else if (strcmp(a, "--token-file") == 0 && v)
			cfg.token_file = argv[++i];
		else if (strcmp(a, "--refresh-token-file") == 0 && v)
			cfg.refresh_token_file = argv[++i];
		else if (strcmp(a, "--oauth-url") == 0 && v)
			cfg.oauth_url = argv[++i];
		else if (strcmp(a, "--mode") == 0 && v)
			cfg.decrypt_mode = argv[++i];
		else if (strcmp(a, "--work-dir") == 0 && v)
			cfg.work_dir = argv[++i];
		else if (strcmp(a, "--redact") == 0)
			cfg.redact_receiver = 1;
		else if (strcmp(a, "--no-check") == 0)
			no_check = 1;
		else if (strcmp(a, "--debug") == 0)
			log_init(0, LOG_DEBUG);
		else if (a[0] == '-' && a[1] == '-')
			return usage();
		else if (ncmd < (int)(sizeof(cmd) / sizeof(cmd[0])))
			cmd[ncmd++] = argv[i];
		else
			return usage();
	}
	if (!cfg.base_url || !cfg.app_key || !secret_file || ncmd == 0)
		return usage();
	if (read_first_line(secret_file, secret, sizeof(secret)) != 0) {
		fprintf(stderr, "error: invalid code= msg=cannot read a secret from %s\n",
			secret_file);
		return EXIT_FAIL;
	}
	cfg.secret = secret;
	client_error_clear(&err);
	struct provider *p = mogujie_new(&cfg, &err);
	explicit_bzero(secret, sizeof(secret));
	if (!p)
		return fail(&err);
	int rc = run(p, ncmd, cmd, no_check);
	provider_destroy(p);
	return rc;
}
