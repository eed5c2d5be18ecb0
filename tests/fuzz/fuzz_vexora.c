/*
 * libFuzzer target: every Vexora response parser (apply, status, downloadUrl, times, state)
 * and the HTTP header parsers a response goes through (Retry-After, Content-Range). The first
 * byte picks the parser, the rest is the response. Whatever the server sends must give a
 * parsed answer or a clear error: never a crash, an overrun or an unterminated string.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../../client/http.h"
#include "../../common/check.h"
#include "../../common/log.h"
#include "../../client/vexora/vexora_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_task(const struct export_task *t)
{
	/* Strings from the server are bounded and terminated. */
	if (strnlen(t->id, sizeof(t->id)) == sizeof(t->id) ||
	    strnlen(t->file_name, sizeof(t->file_name)) == sizeof(t->file_name) ||
	    strnlen(t->msg, sizeof(t->msg)) == sizeof(t->msg))
		abort();
}

static void check_err(const struct client_error *e)
{
	if (strnlen(e->msg, sizeof(e->msg)) == sizeof(e->msg) ||
	    strnlen(e->code, sizeof(e->code)) == sizeof(e->code))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int quiet;
	struct export_task t;
	struct download_url u;
	struct client_error err;
	char *s;
	int64_t when;
	uint64_t a, b, total;

	if (!quiet) {
		log_init(0, LOG_CRIT); /* next to nothing: keep the fuzzer's output readable */
		quiet = 1;
	}
	if (size < 1 || size > 1 << 20)
		return 0;
	s = malloc(size);
	if (!s)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	client_error_clear(&err);
	memset(&t, 0, sizeof(t));
	switch (data[0] % 8) {
	case 0:
		if (vexora_parse_apply(s, size - 1, &t, &err) == 0)
			check_task(&t);
		break;
	case 1:
		if (vexora_parse_status(s, size - 1, NULL, &t, &err) == 0)
			check_task(&t);
		break;
	case 2:
		if (vexora_parse_status(s, size - 1, "f1f0a2", &t, &err) == 0)
			check_task(&t);
		break;
	case 3:
		if (vexora_parse_download_url(s, size - 1, 1779172654161LL, &u, &err) == 0 &&
		    (strnlen(u.url, sizeof(u.url)) == sizeof(u.url) || !check_http_url(u.url)))
			abort(); /* only a bounded http(s) URL is ever accepted */
		break;
	case 4:
		(void)vexora_parse_time(s, &when);
		break;
	case 5: {
		cJSON *v = cJSON_ParseWithLength(s, size - 1);
		enum export_state st;
		if (v && vexora_parse_state(v, &st) == 0 && (st < EXPORT_PENDING || st > EXPORT_NO_DATA))
			abort();
		cJSON_Delete(v);
		break;
	}
	case 6:
		(void)http_parse_retry_after(s, 1779172654);
		break;
	case 7:
		if (http_parse_content_range(s, &a, &b, &total) == 0 &&
		    (a > b || (total != UINT64_MAX && b >= total)))
			abort();
		break;
	}
	check_err(&err);
	free(s);
	return 0;
}
