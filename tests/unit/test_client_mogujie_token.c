/* mogujie_token.c: token files (read, atomic write-back). The refresh is integration-tested. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../client/mogujie/mogujie_token.h"

static char dir[64];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/orderfs-mgj-token-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int count_entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void test_write_then_read(void **state)
{
	char path[128], tok[MOGUJIE_TOKEN_MAX];
	struct client_error err;
	struct stat st;

	snprintf(path, sizeof(path), "%s/access", dir);
	assert_int_equal(mogujie_token_write(path, "mgjat0123"), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	client_error_clear(&err);
	assert_int_equal(mogujie_token_read(path, "token_file", tok, sizeof(tok), &err), 0);
	assert_string_equal(tok, "mgjat0123");

	/* replacing keeps 0600, even over a 0644 file, and leaves no temp file */
	chmod(path, 0644);
	assert_int_equal(mogujie_token_write(path, "mgjat4567"), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(mogujie_token_read(path, "token_file", tok, sizeof(tok), &err), 0);
	assert_string_equal(tok, "mgjat4567");
	assert_int_equal(count_entries(), 1);
	unlink(path);
}

static void test_write_failure_leaves_nothing(void **state)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/missing-dir/access", dir);
	assert_true(mogujie_token_write(path, "x") < 0);
	assert_int_equal(count_entries(), 0);
}

static void test_read_trims_and_rejects(void **state)
{
	char path[128], tok[MOGUJIE_TOKEN_MAX];
	struct client_error err;
	FILE *f;

	snprintf(path, sizeof(path), "%s/t", dir);
	f = fopen(path, "w");
	fputs("abc  \r\nsecond line\n", f);
	fclose(f);
	client_error_clear(&err);
	assert_int_equal(mogujie_token_read(path, "token_file", tok, sizeof(tok), &err), 0);
	assert_string_equal(tok, "abc");

	f = fopen(path, "w");
	fputs("\n", f);
	fclose(f);
	assert_int_equal(mogujie_token_read(path, "token_file", tok, sizeof(tok), &err), -1);
	assert_int_equal(err.kind, CLIENT_E_AUTH);
	assert_non_null(strstr(err.msg, "token_file"));
	assert_non_null(strstr(err.msg, "empty"));

	f = fopen(path, "w");
	fputs("a\tb\n", f);
	fclose(f);
	assert_int_equal(mogujie_token_read(path, "token_file", tok, sizeof(tok), &err), -1);
	unlink(path);

	client_error_clear(&err);
	assert_int_equal(mogujie_token_read(path, "refresh_token_file", tok, sizeof(tok), &err),
			 -1);
	assert_int_equal(err.kind, CLIENT_E_AUTH);
	assert_non_null(strstr(err.msg, "refresh_token_file"));
	/* never echoes file content */
	assert_null(strstr(err.msg, "a\tb"));
}

/* Re-read at every sync: a token file now owned by someone else (swapped in) is refused. */
static void test_read_refuses_another_users_file(void **state)
{
	char path[128], tok[MOGUJIE_TOKEN_MAX];
	struct client_error err;
	FILE *f;

	(void)state;
	if (geteuid() != 0)
		skip(); /* only root can give a file away */
	snprintf(path, sizeof(path), "%s/theirs", dir);
	f = fopen(path, "w");
	fputs("abc\n", f);
	fclose(f);
	assert_int_equal(chown(path, 4242, 4242), 0);
	client_error_clear(&err);
	assert_int_equal(mogujie_token_read(path, "token_file", tok, sizeof(tok), &err), -1);
	assert_int_equal(err.kind, CLIENT_E_AUTH);
	assert_non_null(strstr(err.msg, "owned"));
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_then_read),
		cmocka_unit_test(test_write_failure_leaves_nothing),
		cmocka_unit_test(test_read_trims_and_rejects),
		cmocka_unit_test(test_read_refuses_another_users_file),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
