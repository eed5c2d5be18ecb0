/*
 * A temp directory per test, for unit tests that write files (config and account files).
 * Include after <cmocka.h>.
 */
#ifndef ORDERFS_TMP_DIR_H
#define ORDERFS_TMP_DIR_H

#include <sys/types.h>

/* The current test's directory (valid between tmp_dir_setup and tmp_dir_teardown). */
extern char tmp_dir[64];

/* cmocka setup and teardown: make /tmp/orderfs-unit-XXXXXX, remove it and what it holds. */
int tmp_dir_setup(void **state);
int tmp_dir_teardown(void **state);

/* A cmocka test f run in a fresh tmp_dir. */
#define IN_TMP_DIR(f) cmocka_unit_test_setup_teardown(f, tmp_dir_setup, tmp_dir_teardown)

/* Write text to tmp_dir/name with mode (the test fails if it cannot). Its path, in a static
 * buffer that the next call overwrites. */
const char *tmp_dir_write(const char *name, const char *text, mode_t mode);

#endif
