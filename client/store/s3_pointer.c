/* The shared store's key layout and range pointers (s3_pointer.h). */
#include "s3_pointer.h"

#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../../common/check.h"
#include "../fleet/fleet.h"

#define POINTER_VERSION 1
#define POINTER_KEYS 7		     /* v sha256 size as_of complete expires writer */
#define JSON_EXACT_MAX 9007199254740992.0 /* 2^53: integers a double holds exactly */

int s3_sha256_ok(const char *s)
{
	return s && strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

/* Whether a provider name or account hash can be one key segment. */
static int segment_ok(const char *s)
{
	return s && s[0] && !strchr(s, '/') && s3_key_ok(s);
}

int s3_object_key(const char *provider, const char *account_hex, const char *sha256,
		  char out[S3_KEY_MAX])
{
	int n;

	out[0] = '\0';
	if (!segment_ok(provider) || !segment_ok(account_hex) || !s3_sha256_ok(sha256))
		return -1;
	n = snprintf(out, S3_KEY_MAX, "%s/%s/%s", provider, account_hex, sha256);
	return n > 0 && n < S3_KEY_MAX ? 0 : -1;
}

int s3_pointer_key(const char *provider, const char *account_hex,
		   const struct date_range *range, const char *file, char out[S3_KEY_MAX])
{
	char r[DATE_RANGE_STR_LEN];
	int n;

	out[0] = '\0';
	if (!segment_ok(provider) || !segment_ok(account_hex) || !s3_key_ok(file))
		return -1;
	date_range_format(range, r);
	n = snprintf(out, S3_KEY_MAX, "%s/%s/ranges/%s/%s.json", provider, account_hex, r, file);
	if (n <= 0 || n >= S3_KEY_MAX || !s3_key_ok(out)) {
		out[0] = '\0';
		return -1;
	}
	return 0;
}

static int pointer_valid(const struct s3_pointer *p)
{
	return s3_sha256_ok(p->sha256) && p->size >= 0 && p->as_of > 0 && p->expires >= 0 &&
	       (p->complete == 0 || p->complete == 1) && fleet_name_ok(p->writer) &&
	       (!p->task_id[0] || check_token(p->task_id, PROVIDER_ID_MAX - 1));
}

long s3_pointer_to_json(const struct s3_pointer *p, char *out, size_t cap)
{
	cJSON *o;
	long len = -1;

	if (cap > 0)
		out[0] = '\0';
	if (!pointer_valid(p) || cap < 2 || !(o = cJSON_CreateObject()))
		return -1;
	/* cJSON_PrintPreallocated wants 5 bytes of slack. */
	if (cJSON_AddNumberToObject(o, "v", POINTER_VERSION) &&
	    cJSON_AddStringToObject(o, "sha256", p->sha256) &&
	    cJSON_AddNumberToObject(o, "size", (double)p->size) &&
	    cJSON_AddNumberToObject(o, "as_of", (double)p->as_of) &&
	    cJSON_AddBoolToObject(o, "complete", p->complete) &&
	    cJSON_AddNumberToObject(o, "expires", (double)p->expires) &&
	    cJSON_AddStringToObject(o, "writer", p->writer) &&
	    (!p->task_id[0] || cJSON_AddStringToObject(o, "task_id", p->task_id)) && cap > 5 &&
	    cJSON_PrintPreallocated(o, out, (int)(cap - 5), 0))
		len = (long)strlen(out);
	else if (cap > 0)
		out[0] = '\0';
	cJSON_Delete(o);
	return len;
}

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

static int take_string(const cJSON *o, const char *name, char *out, size_t cap)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);

	if (!cJSON_IsString(it) || strlen(it->valuestring) >= cap)
		return -1;
	memcpy(out, it->valuestring, strlen(it->valuestring) + 1);
	return 0;
}

/* Whether each key of this version appears exactly once in o, the optional task_id at most
 * once (others are ignored). */
static int known_keys_once(const cJSON *o)
{
	static const char *const known[POINTER_KEYS + 1] = {
		"v", "sha256", "size", "as_of", "complete", "expires", "writer", "task_id"};
	int seen[POINTER_KEYS + 1] = {0};
	const cJSON *it;

	cJSON_ArrayForEach(it, o) {
		for (int i = 0; i <= POINTER_KEYS; i++)
			if (it->string && strcmp(it->string, known[i]) == 0)
				seen[i]++;
	}
	for (int i = 0; i < POINTER_KEYS; i++)
		if (seen[i] != 1)
			return 0;
	return seen[POINTER_KEYS] <= 1;
}

int s3_pointer_from_json(const char *text, size_t len, struct s3_pointer *out)
{
	struct s3_pointer p;
	const cJSON *complete;
	const char *end = NULL;
	int64_t version;
	cJSON *o;
	int rc = -1;

	if (!text || len > S3_POINTER_JSON_MAX)
		return -1;
	memset(&p, 0, sizeof(p));
	o = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	complete = o ? cJSON_GetObjectItemCaseSensitive(o, "complete") : NULL;
	if (cJSON_IsObject(o) && known_keys_once(o) && take_int(o, "v", 0, &version) == 0 &&
	    version == POINTER_VERSION &&
	    take_string(o, "sha256", p.sha256, sizeof(p.sha256)) == 0 &&
	    take_int(o, "size", 0, &p.size) == 0 && take_int(o, "as_of", 1, &p.as_of) == 0 &&
	    cJSON_IsBool(complete) && take_int(o, "expires", 0, &p.expires) == 0 &&
	    take_string(o, "writer", p.writer, sizeof(p.writer)) == 0 &&
	    (!cJSON_GetObjectItemCaseSensitive(o, "task_id") ||
	     take_string(o, "task_id", p.task_id, sizeof(p.task_id)) == 0)) {
		p.complete = cJSON_IsTrue(complete);
		while (end && end < text + len &&
		       (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t'))
			end++;
		if (end == text + len && pointer_valid(&p)) {
			*out = p;
			rc = 0;
		}
	}
	cJSON_Delete(o);
	return rc;
}

int s3_pointer_usable(const struct s3_pointer *p, int64_t now)
{
	return p->expires == 0 || now < p->expires;
}
