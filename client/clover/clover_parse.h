/*
 * Clover Merchant Data Export wire format, without any I/O: URLs, the request body, the
 * export object and export files. Internal to client/clover/ (clover.c and the unit tests).
 * Pure and thread-safe.
 *
 * Strict like vexora_parse: a body that is not JSON, a required field missing or of the wrong
 * type is CLIENT_E_PROTOCOL naming the field. The one leniency is status: anything but
 * PENDING, IN_PROGRESS and DONE is a failed export (the provider may add states; re-exporting
 * is the only useful answer to any of them), with the status in the task's msg.
 */
#ifndef ORDERFS_CLOVER_PARSE_H
#define ORDERFS_CLOVER_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "clover_csv.h"
#include "../provider.h"

#define CLOVER_BASE_URL_MAX 2048
#define CLOVER_URL_MAX (CLOVER_BASE_URL_MAX + 2 * PROVIDER_ID_MAX + 64)
#define CLOVER_FILE_ELEMENTS_MAX 1000 /* the API's own page size */

/* Whether id may go into a URL path: 1..PROVIDER_ID_MAX-1 of [A-Za-z0-9._-], not "." or "..". */
int clover_id_ok(const char *id);
/* "{base}/v3/merchants/{mid}/exports/" (export_id NULL) or ".../exports/{export_id}". 0, or
 * -1 when it does not fit. The ids are not checked here (see clover_id_ok). */
int clover_exports_url(const char *base, const char *mid, const char *export_id, char *out,
		       size_t cap);

/* Report type "ORDERS" or "PAYMENTS" (exact) into *kind. 0, or -1 with CLIENT_E_INVALID. */
int clover_kind_of(const char *report_type, enum clover_kind *kind, struct client_error *err);
/* "ORDERS"/"PAYMENTS" and the member base name "orders"/"payments". */
const char *clover_kind_type(enum clover_kind kind);
const char *clover_kind_base(enum clover_kind kind);

/* The inclusive day range in UTC ms: start = A 00:00:00.000, end = (B+1) 00:00:00.000 - 1.
 * 0, or -1 when a date is not a real one (outputs untouched). */
int clover_range_ms(const struct date_range *r, int64_t *start_ms, int64_t *end_ms);
/* {"type":..,"startTime":..,"endTime":..} as a malloc'd string (caller frees), or NULL with
 * *err: CLIENT_E_INVALID (type, dates), CLIENT_E_LOCAL (out of memory). */
char *clover_apply_body(const struct export_request *req, struct client_error *err);

/* An export object. */
struct clover_export {
	struct export_task task;    /* id, state, progress, msg; file_name = the type */
	enum clover_kind kind;
	int64_t available_until_ms; /* DONE only; 0 otherwise */
	char **urls;		    /* DONE only: file URLs in order, owned */
	size_t nurls;
};

/*
 * Parse an export object (json: len bytes, NUL not needed). export_id (may be NULL): id must
 * match it. 0 with *out filled (free with clover_export_free), or -1 with CLIENT_E_PROTOCOL
 * (or CLIENT_E_LOCAL for out of memory) and *out empty. State: PENDING -> EXPORT_PENDING,
 * IN_PROGRESS -> EXPORT_GENERATING, DONE -> EXPORT_GENERATED (requires availableUntil and
 * exportUrls.elements[].url, each http(s)), else EXPORT_FAILED. expires = availableUntil/1000.
 */
int clover_parse_export(const char *json, size_t len, const char *export_id,
			struct clover_export *out, struct client_error *err);
void clover_export_free(struct clover_export *x);

/* The "message" string of an error body into out ("" when there is none). Never fails. */
void clover_parse_message(const char *json, size_t len, char *out, size_t cap);

/*
 * Parse an export file: a JSON object whose "elements" is an array of at most
 * CLOVER_FILE_ELEMENTS_MAX objects. Returns the root (caller deletes) with *elements set, or
 * NULL with *err (CLIENT_E_PROTOCOL naming what is wrong; name is the file's member name).
 */
cJSON *clover_parse_file(const char *json, size_t len, const char *name,
			 const cJSON **elements, struct client_error *err);

#endif
