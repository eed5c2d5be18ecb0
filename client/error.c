/* Client errors: the typed error every provider call returns, and the one errno table. */
#include "provider.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void client_error_clear(struct client_error *e)
{
	memset(e, 0, sizeof(*e));
	e->kind = CLIENT_OK;
	e->retry_after_ms = -1;
}

void client_error_set(struct client_error *e, enum client_errkind kind, const char *fmt, ...)
{
	va_list ap;

	e->kind = kind;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
}

void client_error_bound(struct client_error *e, const char *fmt, ...)
{
	va_list ap;

	e->kind = CLIENT_E_PROTOCOL;
	e->sys_errno = EPROTO;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
}

#define SHOWN_BYTES 40 /* of a reply that is not JSON, in its message */

/* The deepest nesting of arrays and objects in body, strings skipped. Stops counting past
 * limit: a reply that goes deeper is refused whole, however it ends. */
static int json_depth(const char *body, size_t len, int limit)
{
	int depth = 0, max = 0, in_str = 0;

	for (size_t i = 0; i < len && max <= limit; i++) {
		char ch = body[i];
		if (in_str) {
			if (ch == '\\')
				i++; /* the escaped character cannot end the string */
			else if (ch == '"')
				in_str = 0;
		} else if (ch == '"') {
			in_str = 1;
		} else if (ch == '{' || ch == '[') {
			if (++depth > max)
				max = depth;
		} else if ((ch == '}' || ch == ']') && depth > 0) {
			depth--;
		}
	}
	return max;
}

int client_reply_not_json(const char *body, size_t len, const char *what,
			  struct client_error *err)
{
	char shown[SHOWN_BYTES + 1];
	size_t i = 0, n = 0;

	while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' ||
			   body[i] == '\n'))
		i++;
	if (i < len && (body[i] == '{' || body[i] == '[') &&
	    json_depth(body + i, len - i, CJSON_NESTING_LIMIT) > CJSON_NESTING_LIMIT) {
		/* Deeper than the parser goes: it will be so on every try. */
		client_error_bound(err, "%s: the reply nests deeper than %d levels", what,
				   CJSON_NESTING_LIMIT);
		return 1;
	}
	if (i == len || body[i] == '{' || body[i] == '[')
		return 0;
	for (; i < len && n < SHOWN_BYTES; i++) /* it lands in logs: printable, no quotes */
		shown[n++] = body[i] >= 0x20 && body[i] < 0x7f && body[i] != '"' ? body[i] : ' ';
	shown[n] = '\0';
	client_error_set(err, CLIENT_E_PROTOCOL, "%s: the reply is not JSON; it starts \"%s\"",
			 what, shown);
	return 1;
}

int client_error_to_errno(const struct client_error *e)
{
	switch (e->kind) {
	case CLIENT_OK:
		return 0;
	case CLIENT_E_RATE_LIMIT:
	case CLIENT_E_UNAVAILABLE:
		return EAGAIN;
	case CLIENT_E_INVALID:
		return EINVAL;
	case CLIENT_E_LOCAL:
		return e->sys_errno > 0 ? e->sys_errno : EIO;
	case CLIENT_E_CANCELLED:
		return EINTR;
	case CLIENT_E_PROTOCOL:
		/* EPROTO when the answer broke one of orderfs's own bounds (sys_errno says so):
		 * the reader learns it is the provider's answer, not the transport. */
		return e->sys_errno == EPROTO ? EPROTO : EIO;
	case CLIENT_E_TRANSIENT:
	case CLIENT_E_BUSINESS:
	case CLIENT_E_URL_EXPIRED:
	case CLIENT_E_FILE_EXPIRED:
	case CLIENT_E_NOT_FOUND:
	case CLIENT_E_AUTH:
		/* The server could not give us the file: to a reader that is an I/O error. */
		return EIO;
	}
	return EIO;
}

int client_error_retryable(const struct client_error *e)
{
	return e->kind == CLIENT_E_TRANSIENT || e->kind == CLIENT_E_RATE_LIMIT ||
	       e->kind == CLIENT_E_UNAVAILABLE;
}

const char *client_errkind_name(enum client_errkind kind)
{
	switch (kind) {
	case CLIENT_OK:
		return "ok";
	case CLIENT_E_TRANSIENT:
		return "transient";
	case CLIENT_E_RATE_LIMIT:
		return "rate-limited";
	case CLIENT_E_UNAVAILABLE:
		return "unavailable";
	case CLIENT_E_BUSINESS:
		return "refused";
	case CLIENT_E_URL_EXPIRED:
		return "url-expired";
	case CLIENT_E_FILE_EXPIRED:
		return "file-expired";
	case CLIENT_E_NOT_FOUND:
		return "not-found";
	case CLIENT_E_PROTOCOL:
		return "protocol";
	case CLIENT_E_INVALID:
		return "invalid";
	case CLIENT_E_AUTH:
		return "auth";
	case CLIENT_E_LOCAL:
		return "local";
	case CLIENT_E_CANCELLED:
		return "cancelled";
	}
	return "unknown";
}

const char *export_state_name(enum export_state s)
{
	switch (s) {
	case EXPORT_PENDING:
		return "pending";
	case EXPORT_GENERATING:
		return "generating";
	case EXPORT_GENERATED:
		return "generated";
	case EXPORT_FAILED:
		return "failed";
	case EXPORT_NO_DATA:
		return "no-data";
	}
	return "unknown";
}
