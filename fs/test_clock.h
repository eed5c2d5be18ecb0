/*
 * A clock tests can move: the `test_clock_file` key names a file holding a unix time in
 * seconds, which orderfs's file system layer then takes as "now" for the dates it shows
 * (today, the named ranges, the window of listable ranges), so a test can cross midnight
 * without waiting for one. Only for tests: the cache's freshness and the providers keep the
 * real clock. Read at every call; cheap enough for tests, and nothing at all without the key.
 */
#ifndef ORDERFS_TEST_CLOCK_H
#define ORDERFS_TEST_CLOCK_H

#include <stdint.h>

/* Unix seconds: the integer in file (leading digits of its first line) when file is set and
 * holds one, else time(NULL). Never fails (an unreadable file means the real clock: a test
 * that breaks its file sees real dates, not an error). Thread-safe. */
int64_t test_clock_now(const char *file);

#endif
