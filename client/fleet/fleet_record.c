/* The fleet task record and its strict JSON: see fleet_record.h. */
#include "fleet_record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#define RECORD_VERSION 1
#define RECORD_KEYS 7
#define JSON_EXACT_MAX 9007199254740992.0 /* 2^53 */

static const char *const state_names[] = {
	[FLEET_APPLIED] = "applied",	 [FLEET_GENERATING] = "generating",
	[FLEET_GENERATED] = "generated", [FLEET_FAILED] = "failed",
	[FLEET_NO_DATA] = "no_data",
};
#define NSTATES (sizeof(state_names) / sizeof(state_names[0]))

const char *fleet_state_name(enum fleet_state s)
{
	return (unsigned)s < NSTATES ? state_names[s] : "?";
}

int fleet_state_parse(const char *name, enum fleet_state *out)
{
	for (size_t i = 0; i < NSTATES; i++) {
		if (strcmp(name, state_names[i]) == 0) {
			*out = (enum fleet_state)i;
			return 0;
		}
	}
	return -1;
}

int fleet_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= FLEET_HOST_MAX || name[0] == '.')
		return 0;
	return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") ==
	       n;
}

/* 1..max-1 bytes, each printable ASCII. */
static int printable_ok(const char *s, size_t max)
{
	size_t n = strnlen(s, max);

	if (n == 0 || n >= max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return 0;
	return 1;
}

static int sha256_ok(const char *s)
{
	size_t n = strnlen(s, FLEET_SHA256_HEX);

	return n == 0 || (n == FLEET_SHA256_HEX - 1 && strspn(s, "0123456789abcdef") == n);
}

int fleet_record_valid(const struct fleet_record *r)
{
	return printable_ok(r->task_id, sizeof(r->task_id)) && (unsigned)r->state < NSTATES &&
	       r->expires >= 0 && r->expires <= (int64_t)JSON_EXACT_MAX && r->size >= -1 &&
	       r->size <= (int64_t)JSON_EXACT_MAX && sha256_ok(r->sha256) &&
	       strnlen(r->holder, FLEET_HOST_MAX) < FLEET_HOST_MAX && fleet_name_ok(r->holder) &&
	       r->written >= 0 && r->written <= (int64_t)JSON_EXACT_MAX;
}

long fleet_record_to_json(const struct fleet_record *r, char *out, size_t cap)
{
	int print_cap = (int)(cap < FLEET_RECORD_JSON_MAX ? cap : FLEET_RECORD_JSON_MAX);
	cJSON *o;
	long n = -1;

	if (cap > 0)
		out[0] = '\0';
	if (!fleet_record_valid(r) || !(o = cJSON_CreateObject()))
		return -1;
	if (cJSON_AddNumberToObject(o, "v", RECORD_VERSION) &&
	    cJSON_AddStringToObject(o, "task_id", r->task_id) &&
	    cJSON_AddStringToObject(o, "state", fleet_state_name(r->state)) &&
	    cJSON_AddNumberToObject(o, "expires", (double)r->expires) &&
	    cJSON_AddNumberToObject(o, "size", (double)r->size) &&
	    cJSON_AddStringToObject(o, "sha256", r->sha256) &&
	    cJSON_AddStringToObject(o, "holder", r->holder) &&
	    (!r->written || cJSON_AddNumberToObject(o, "written", (double)r->written)) &&
	    cJSON_PrintPreallocated(o, out, print_cap, 0))
		n = (long)strlen(out);
	else if (cap > 0)
		out[0] = '\0';
	cJSON_Delete(o);
	return n;
}

/* The string field name of o into out (cap bytes) if it fits. 0 or -1. */
static int take_string(const cJSON *o, const char *name, char *out, size_t cap)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);

	if (!cJSON_IsString(it) || strlen(it->valuestring) >= cap)
		return -1;
	memcpy(out, it->valuestring, strlen(it->valuestring) + 1);
	return 0;
}

/* The integral number field name of o, in [min, 2^53]. 0 or -1. */
static int take_int(const cJSON *o, const char *name, int64_t min, int64_t *out)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);
	double d;

	if (!cJSON_IsNumber(it))
		return -1;
	d = it->valuedouble;
	if (!(d >= (double)min && d <= JSON_EXACT_MAX) || d != (double)(int64_t)d)
		return -1;
	*out = (int64_t)d;
	return 0;
}

/* The fields of o into *r; the caller checks the key count and validity. 0 or -1. */
static int take_fields(const cJSON *o, struct fleet_record *r)
{
	char state[16];
	int64_t version;

	if (take_int(o, "v", 0, &version) != 0 || version != RECORD_VERSION ||
	    take_string(o, "task_id", r->task_id, sizeof(r->task_id)) != 0 ||
	    take_string(o, "state", state, sizeof(state)) != 0 ||
	    fleet_state_parse(state, &r->state) != 0 ||
	    take_int(o, "expires", 0, &r->expires) != 0 || take_int(o, "size", -1, &r->size) ||
	    take_string(o, "sha256", r->sha256, sizeof(r->sha256)) != 0 ||
	    take_string(o, "holder", r->holder, sizeof(r->holder)) != 0 ||
	    (cJSON_GetObjectItemCaseSensitive(o, "written") &&
	     take_int(o, "written", 0, &r->written) != 0))
		return -1;
	return 0;
}

/* Whether each key this version knows appears exactly once in o (others are ignored: a newer
 * orderfs may add fields). */
static int known_keys_once(const cJSON *o)
{
	/* The last one is optional. */
	static const char *const known[RECORD_KEYS + 1] = {"v", "task_id", "state", "expires",
							   "size", "sha256", "holder", "written"};
	int seen[RECORD_KEYS + 1] = {0};
	const cJSON *it;

	cJSON_ArrayForEach(it, o) {
		for (int i = 0; i <= RECORD_KEYS; i++)
			if (it->string && strcmp(it->string, known[i]) == 0)
				seen[i]++;
	}
	for (int i = 0; i < RECORD_KEYS; i++)
		if (seen[i] != 1)
			return 0;
	return seen[RECORD_KEYS] <= 1;
}

static int only_space(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	return p == end;
}

int fleet_record_from_json(const char *text, size_t len, struct fleet_record *out)
{
	struct fleet_record r;
	const char *end = NULL;
	cJSON *o;
	int rc = -1;

	if (len > FLEET_RECORD_JSON_MAX)
		return -1;
	memset(&r, 0, sizeof(r));
	o = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	/* The record's keys, each once, and any others ignored. Nothing but white space after
	 * the object. */
	if (cJSON_IsObject(o) && known_keys_once(o) &&
	    take_fields(o, &r) == 0 && fleet_record_valid(&r) && end &&
	    only_space(end, text + len)) {
		*out = r;
		rc = 0;
	}
	cJSON_Delete(o);
	return rc;
}
