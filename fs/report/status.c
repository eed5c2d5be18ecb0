#include "status.h"
#include "../base/progress.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ISO 8601 with the offset of zone (the account's time_zone; NULL: the process's), or JSON
 * null for "unknown". */
static cJSON *time_json(const struct tz *zone, int64_t t)
{
	char buf[40];
	struct tm tm;
	time_t tt = (time_t)t;

	if (t <= 0)
		return cJSON_CreateNull();
	if (zone) {
		tz_format_iso(zone, t, buf);
		return cJSON_CreateString(buf);
	}
	if (!localtime_r(&tt, &tm) || !strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S%z", &tm))
		return cJSON_CreateNull();
	return cJSON_CreateString(buf);
}

/* as_of (when the export was applied), complete, fresh_until (README "Freshness"): for a
 * file there is (ready, or expired and about to be exported again), else null. */
static void add_freshness(cJSON *o, const struct cache_info *in, const struct tz *zone)
{
	int has_file = in->state == CACHE_READY || in->state == CACHE_EXPIRED;

	cJSON_AddItemToObject(o, "as_of", time_json(zone, has_file ? in->applied_time : 0));
	if (has_file)
		cJSON_AddBoolToObject(o, "complete", in->complete);
	else
		cJSON_AddNullToObject(o, "complete");
	cJSON_AddItemToObject(o, "fresh_until",
			      time_json(zone, has_file && !in->complete ? in->fresh_until : 0));
	/* The file served is an old one: its refresh failed or waits (last_error says why). */
	cJSON_AddBoolToObject(o, "stale", in->stale);
}

cJSON *status_error_json(const struct cache_info *in)
{
	if (!in->last_errno && in->last_error.kind == CLIENT_OK)
		return cJSON_CreateNull();
	cJSON *e = cJSON_CreateObject();
	if (!e)
		return NULL;
	cJSON_AddNumberToObject(e, "errno", in->last_errno);
	cJSON_AddStringToObject(e, "error", in->last_errno ? strerror(in->last_errno) : "");
	cJSON_AddStringToObject(e, "kind", client_errkind_name(in->last_error.kind));
	cJSON_AddStringToObject(e, "code", in->last_error.code);
	cJSON_AddStringToObject(e, "msg", in->last_error.msg);
	if (in->last_error.http_status)
		cJSON_AddNumberToObject(e, "http_status", in->last_error.http_status);
	return e;
}

/*
 * What a WAITING export waits for: the provider's service hours (it said when they open, as
 * code PROVIDER_CODE_SERVICE_HOURS), or just the provider (a concurrency limit, capacity).
 */
static void waiting_message(const struct cache_info *in, char *out, size_t len)
{
	char when[16] = "?";
	time_t t = (time_t)in->wait_until;
	struct tm tm;

	if (!strcmp(in->last_error.code, PROVIDER_CODE_SERVICE_HOURS)) {
		if (gmtime_r(&t, &tm))
			strftime(when, sizeof(when), "%H:%M", &tm);
		snprintf(out, len, "waiting for service hours (opens %s UTC)", when);
		return;
	}
	if (gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%H:%M:%S", &tm);
	snprintf(out, len, "waiting for the provider (%s); trying again at %s UTC",
		 in->last_error.msg[0] ? in->last_error.msg : "closed for now", when);
}

/* Fleet mode: this host's part in the file's export, who holds it, and a wait for a slot of
 * fleet_max_exports (told as the WAITING state's message is). Nothing outside fleet mode. */
static void add_fleet_fields(cJSON *o, const struct cache_info *in)
{
	if (in->fleet_role != CACHE_FLEET_NONE)
		cJSON_AddStringToObject(o, "fleet_role", cache_fleet_role_name(in->fleet_role));
	if (in->fleet_holder[0])
		cJSON_AddStringToObject(o, "fleet_holder", in->fleet_holder);
	if (!in->fleet_slot_wait)
		return;
	cJSON_AddStringToObject(o, "waiting", "for a fleet slot");
	if (in->state != CACHE_WAITING)
		cJSON_AddStringToObject(o, "message", "waiting for a fleet slot (fleet_max_exports)");
}

/* The shared store: where this host got the file (provider, store, cache) and its object. */
static void add_store_fields(cJSON *o, const struct cache_info *in)
{
	if (in->state == CACHE_READY && in->source[0])
		cJSON_AddStringToObject(o, "source", in->source);
	if (in->store_key[0])
		cJSON_AddStringToObject(o, "store_key", in->store_key);
	if (in->store_error[0])
		cJSON_AddStringToObject(o, "store_error", in->store_error);
}

/* When this process's last fill of the file passed each step, unix ms (null: not passed),
 * so a user or a bench reads where a cold read's time went without watching it live. */
static void add_steps(cJSON *o, const struct cache_info *in)
{
	cJSON *s = cJSON_AddObjectToObject(o, "steps_ms");

	for (int i = 0; s && i < CACHE_STEP_N; i++) {
		const char *name = cache_step_name((enum cache_step)i);
		if (in->step_ms[i] > 0)
			cJSON_AddNumberToObject(s, name, (double)in->step_ms[i]);
		else
			cJSON_AddNullToObject(s, name);
	}
}

static void add_file_fields(cJSON *o, const struct tz *zone, const char *name,
			    const struct date_range *chunk, const struct cache_info *in)
{
	char step[128];
	char rs[DATE_RANGE_STR_LEN];

	date_range_format(chunk, rs);
	cJSON_AddStringToObject(o, "file", name);
	cJSON_AddStringToObject(o, "chunk", rs);
	cJSON_AddStringToObject(o, "state", cache_state_name(in->state));
	if (in->task_id[0])
		cJSON_AddStringToObject(o, "task_id", in->task_id);
	else
		cJSON_AddNullToObject(o, "task_id");
	if (in->server_name[0])
		cJSON_AddStringToObject(o, "server_file_name", in->server_name);
	else
		cJSON_AddNullToObject(o, "server_file_name");
	if (in->progress >= 0)
		cJSON_AddNumberToObject(o, "progress", in->progress);
	else
		cJSON_AddNullToObject(o, "progress");
	cJSON_AddNumberToObject(o, "bytes_done", (double)in->bytes_done);
	progress_step(in, step, sizeof(step));
	cJSON_AddStringToObject(o, "step", step);
	if (in->items_total) {
		/* The provider's own count, e.g. orders synced so far out of the range's total. */
		cJSON_AddNumberToObject(o, "items_done", (double)in->items_done);
		cJSON_AddNumberToObject(o, "items_total", (double)in->items_total);
	}
	if (in->state == CACHE_WAITING) {
		char msg[PROVIDER_MSG_MAX + 64];
		waiting_message(in, msg, sizeof(msg));
		cJSON_AddStringToObject(o, "message", msg);
		cJSON_AddItemToObject(o, "wait_until", time_json(zone, in->wait_until));
	}
	if (in->size)
		cJSON_AddNumberToObject(o, "size", (double)in->size);
	else
		cJSON_AddNullToObject(o, "size");
	cJSON_AddItemToObject(o, "finish_time", time_json(zone, in->finish_time));
	cJSON_AddItemToObject(o, "expires", time_json(zone, in->expires));
	cJSON_AddItemToObject(o, "ready_time", time_json(zone, in->ready_time));
	add_freshness(o, in, zone);
	cJSON_AddItemToObject(o, "last_access", time_json(zone, in->last_access));
	if (in->sha256[0])
		cJSON_AddStringToObject(o, "sha256", in->sha256);
	else
		cJSON_AddNullToObject(o, "sha256");
	cJSON_AddItemToObject(o, "last_error", status_error_json(in));
	add_steps(o, in);
	add_fleet_fields(o, in);
	add_store_fields(o, in);
}

char *status_render(const struct date_range *r, size_t n, const char (*names)[PATH_NAME_MAX],
		    const struct date_range *chunks, const struct cache_info *infos, const char *fleet,
		    const struct tz *zone, size_t *len)
{
	char rs[DATE_RANGE_STR_LEN];
	cJSON *root = cJSON_CreateObject();
	char *text = NULL;

	if (!root)
		return NULL;
	date_range_format(r, rs);
	cJSON_AddStringToObject(root, "range", rs);
	if (fleet)
		cJSON_AddStringToObject(root, "fleet", fleet);
	if (n == 1) {
		/* The common case: one file, its fields at the top level. */
		add_file_fields(root, zone, names[0], &chunks[0], &infos[0]);
	} else {
		cJSON *files = cJSON_AddArrayToObject(root, "files");
		for (size_t i = 0; files && i < n; i++) {
			cJSON *o = cJSON_CreateObject();
			if (!o)
				break;
			add_file_fields(o, zone, names[i], &chunks[i], &infos[i]);
			cJSON_AddItemToArray(files, o);
		}
	}
	char *printed = cJSON_Print(root);
	cJSON_Delete(root);
	if (!printed)
		return NULL;
	/* A trailing newline so `cat .status` ends cleanly in a terminal. */
	size_t l = strlen(printed);
	text = malloc(l + 2);
	if (text) {
		memcpy(text, printed, l);
		text[l] = '\n';
		text[l + 1] = '\0';
		*len = l + 1;
	}
	cJSON_free(printed);
	return text;
}
