/*
 * One logger for every layer of orderfs.
 *
 * Levels are syslog's (LOG_ERR .. LOG_DEBUG). The level check happens before any formatting,
 * so a disabled debug line costs one comparison. Output goes to stderr (foreground, tests) or
 * syslog (daemon). Nothing here ever receives a secret: callers log names, ids and codes only.
 *
 * Thread-safe: each line is formatted into a local buffer and written with one call.
 */
#ifndef ORDERFS_LOG_H
#define ORDERFS_LOG_H

#include <syslog.h>

extern int log_max_level;

/* Route output. use_syslog != 0 opens syslog with ident "orderfs"; otherwise stderr.
 * max_level: the most verbose level printed (LOG_INFO by default, LOG_DEBUG with -d). */
void log_init(int use_syslog, int max_level);

/* Tests capture lines through a hook; NULL restores normal output. */
typedef void (*log_hook_fn)(int level, const char *line, void *arg);
void log_set_hook(log_hook_fn fn, void *arg);

void log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define LOG_AT(level, ...)                                                                 \
	do {                                                                               \
		if ((level) <= log_max_level)                                              \
			log_write((level), __VA_ARGS__);                                   \
	} while (0)

#define log_err(...) LOG_AT(LOG_ERR, __VA_ARGS__)
#define log_warn(...) LOG_AT(LOG_WARNING, __VA_ARGS__)
#define log_notice(...) LOG_AT(LOG_NOTICE, __VA_ARGS__)
#define log_info(...) LOG_AT(LOG_INFO, __VA_ARGS__)
#define log_debug(...) LOG_AT(LOG_DEBUG, __VA_ARGS__)

#endif
