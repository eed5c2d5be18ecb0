#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tmp_dir.h"

char tmp_dir[64];

int tmp_dir_setup(void **state)
{
	(void)state;
	strcpy(tmp_dir, "/tmp/orderfs-unit-XXXXXX");
	return mkdtemp(tmp_dir) ? 0 : -1;
}

int tmp_dir_teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp_dir);
	return system(cmd);
}

const char *tmp_dir_write(const char *name, const char *text, mode_t mode)
{
	static char path[128];

	snprintf(path, sizeof(path), "%s/%s", tmp_dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}
