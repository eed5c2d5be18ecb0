/*
 * store_tool: a small CLI over the shared store's client (client/store/s3.h), for integration tests
 * against a real S3-compatible server and manual checks. Not installed.
 *
 *   store_tool --url U [--credentials-file F] [--region R] [--virtual-host] [--insecure]
 *              [--debug] CMD ...
 *   put KEY FILE SHA256            upload FILE as KEY (multipart above 64 MiB); prints
 *                                  {"existed":0|1}
 *   get KEY SIZE SHA256 OUTFILE    download KEY verified by size and SHA-256
 *   head KEY                       prints {"size":N}
 *   delete KEY
 *   put-small KEY TEXT             PUT TEXT as KEY
 *   get-small KEY                  prints the object
 * Credentials without --credentials-file: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
 * Failure: one line "error: <kind> status=<http> code=<code> msg=<msg>" on stderr, exit 2 (64
 * for a usage error).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <syslog.h>

#include "../../client/store/s3.h"
#include "../../common/log.h"
#include "fetch_tool.h"

#define EXIT_FAIL 2
#define EXIT_USAGE 64

static int usage(void)
{
	fprintf(stderr, "usage: store_tool --url U [--credentials-file F] [--region R] "
			"[--virtual-host] [--insecure] [--debug] put KEY FILE SHA256 | "
			"get KEY SIZE SHA256 OUTFILE | head KEY | delete KEY | "
			"put-small KEY TEXT | get-small KEY\n");
	return EXIT_USAGE;
}

static int fail(const struct client_error *e)
{
	fprintf(stderr, "error: %s status=%d code=%s msg=%s\n", client_errkind_name(e->kind),
		e->http_status, e->code, e->msg);
	return EXIT_FAIL;
}

static int cmd_put(struct s3_store *s, char **argv, struct client_error *e)
{
	struct stat st;
	int existed = 0, fd = open(argv[1], O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0 || fstat(fd, &st) != 0) {
		perror(argv[1]);
		return EXIT_FAIL;
	}
	rc = s3_put_file(s, argv[0], fd, (uint64_t)st.st_size, argv[2], &existed, e);
	close(fd);
	if (rc != 0)
		return fail(e);
	printf("{\"existed\":%d}\n", existed);
	return 0;
}

static int cmd_get(struct s3_store *s, char **argv, struct client_error *e)
{
	struct file_sink fsink = {.fd = open(argv[3], O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)};
	struct download_sink sink = {.begin = fs_begin, .write = fs_write, .ctx = &fsink};

	if (fsink.fd < 0) {
		perror(argv[3]);
		return EXIT_FAIL;
	}
	int rc = s3_get_file(s, argv[0], strtoull(argv[1], NULL, 10), argv[2], &sink, e);
	close(fsink.fd);
	return rc == 0 ? 0 : fail(e);
}

static int run(struct s3_store *s, int argc, char **argv)
{
	struct client_error e;
	uint64_t size;
	char *body;
	size_t len;

	client_error_clear(&e);
	if (argc == 4 && strcmp(argv[0], "put") == 0)
		return cmd_put(s, argv + 1, &e);
	if (argc == 5 && strcmp(argv[0], "get") == 0)
		return cmd_get(s, argv + 1, &e);
	if (argc == 2 && strcmp(argv[0], "head") == 0) {
		if (s3_head(s, argv[1], &size, &e) != 0)
			return fail(&e);
		printf("{\"size\":%" PRIu64 "}\n", size);
		return 0;
	}
	if (argc == 2 && strcmp(argv[0], "delete") == 0)
		return s3_delete(s, argv[1], &e) == 0 ? 0 : fail(&e);
	if (argc == 3 && strcmp(argv[0], "put-small") == 0)
		return s3_put_small(s, argv[1], argv[2], strlen(argv[2]), "application/json", &e) == 0
			       ? 0
			       : fail(&e);
	if (argc == 2 && strcmp(argv[0], "get-small") == 0) {
		if (s3_get_small(s, argv[1], &body, &len, &e) != 0)
			return fail(&e);
		fwrite(body, 1, len, stdout);
		free(body);
		return 0;
	}
	return usage();
}

int main(int argc, char **argv)
{
	struct s3_config cfg = {0};
	struct client_error e;
	struct s3_store *s;
	int i = 1, rc;

	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		if (strcmp(argv[i], "--url") == 0 && i + 1 < argc)
			cfg.url = argv[++i];
		else if (strcmp(argv[i], "--credentials-file") == 0 && i + 1 < argc)
			cfg.credentials_file = argv[++i];
		else if (strcmp(argv[i], "--region") == 0 && i + 1 < argc)
			cfg.region = argv[++i];
		else if (strcmp(argv[i], "--virtual-host") == 0)
			cfg.virtual_host = 1;
		else if (strcmp(argv[i], "--insecure") == 0)
			cfg.insecure = 1;
		else if (strcmp(argv[i], "--debug") == 0)
			log_init(0, LOG_DEBUG);
		else
			return usage();
	}
	if (!cfg.url || i >= argc)
		return usage();
	client_error_clear(&e);
	if (!(s = s3_new(&cfg, &e)))
		return fail(&e);
	rc = run(s, argc - i, argv + i);
	s3_free(s);
	return rc;
}
