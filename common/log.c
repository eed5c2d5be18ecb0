#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int log_max_level = LOG_INFO;

static int log_use_syslog;
static log_hook_fn log_hook;
static void *log_hook_arg;

static const char *level_name(int level)
{
	switch (level) {
	case LOG_EMERG:
	case LOG_ALERT:
	case LOG_CRIT:
	case LOG_ERR:
		return "error";
	case LOG_WARNING:
		return "warning";
	case LOG_NOTICE:
		return "notice";
	case LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

void log_init(int use_syslog, int max_level)
{
	log_max_level = max_level;
	log_use_syslog = use_syslog;
	if (use_syslog)
		openlog("orderfs", LOG_PID, LOG_DAEMON);
}

void log_set_hook(log_hook_fn fn, void *arg)
{
	log_hook = fn;
	log_hook_arg = arg;
}

void log_write(int level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);

	if (log_hook) {
		log_hook(level, line, log_hook_arg);
		return;
	}
	if (log_use_syslog) {
		syslog(level, "%s", line);
		return;
	}

	/* One write per line so concurrent threads never interleave within a line. */
	char out[1200];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	int n = snprintf(out, sizeof(out), "%02d:%02d:%02d.%03ld orderfs %s: %s\n", tm.tm_hour,
			 tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, level_name(level), line);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(out))
		n = sizeof(out) - 1;
	ssize_t w = write(STDERR_FILENO, out, (size_t)n);
	(void)w;
}
