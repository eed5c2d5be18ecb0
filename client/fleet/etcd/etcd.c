/*
 * The etcd operations: each builds one gateway request, calls it (etcd_call.c) and reads the
 * answer. See etcd.h for the contracts.
 */
#include "etcd.h"

#include <string.h>

#include "etcd_call.h"

static int oom(struct client_error *err)
{
	client_error_set(err, CLIENT_E_LOCAL, "out of memory");
	return -1;
}

static int key_ok(const char *key, struct client_error *err)
{
	client_error_clear(err);
	if (!key || !key[0] || strlen(key) > ETCD_KEY_MAX) {
		client_error_set(err, CLIENT_E_INVALID, "etcd key empty or over %d bytes",
				 ETCD_KEY_MAX);
		return -1;
	}
	return 0;
}

/* {"key": base64(key)} plus, when value is not NULL, its value and lease. NULL on OOM. */
static cJSON *kv_object(const char *key, const void *value, size_t len, int64_t lease)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || etcd_json_add_b64(o, "key", key, strlen(key)) != 0 ||
	    (value && etcd_json_add_b64(o, "value", value, len) != 0) ||
	    (lease && etcd_json_add_int64(o, "lease", lease) != 0)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* The one key of a range answer ("kvs" of 0 or 1 items) into *out; absent = all zero. */
static int one_kv(const cJSON *range, struct etcd_kv *out, struct client_error *err)
{
	const cJSON *kvs = cJSON_GetObjectItemCaseSensitive(range, "kvs");

	memset(out, 0, sizeof(*out));
	if (!kvs || cJSON_GetArraySize(kvs) == 0)
		return 0;
	if (!cJSON_IsArray(kvs) || cJSON_GetArraySize(kvs) != 1) {
		client_error_set(err, CLIENT_E_PROTOCOL, "etcd: range of one key gave several");
		return -1;
	}
	return etcd_parse_kv(cJSON_GetArrayItem(kvs, 0), out, err);
}

int etcd_get(struct etcd *e, const char *key, struct etcd_kv *out, struct client_error *err)
{
	cJSON *answer = NULL;
	int rc;

	if (key_ok(key, err) != 0 || etcd_call_take(e, "/v3/kv/range", kv_object(key, NULL, 0, 0),
					  &answer, err) != 0)
		return -1;
	rc = one_kv(answer, out, err);
	cJSON_Delete(answer);
	return rc;
}

int etcd_put(struct etcd *e, const char *key, const void *value, size_t len, int64_t lease,
	     struct client_error *err)
{
	cJSON *answer = NULL;

	if (key_ok(key, err) != 0 ||
	    etcd_call_take(e, "/v3/kv/put", kv_object(key, value ? value : "", len, lease), &answer,
		 err) != 0)
		return -1;
	cJSON_Delete(answer);
	return 0;
}

int etcd_delete(struct etcd *e, const char *key, int *deleted, struct client_error *err)
{
	cJSON *answer = NULL;
	int64_t n = 0;
	int rc = 0;

	if (key_ok(key, err) != 0 ||
	    etcd_call_take(e, "/v3/kv/deleterange", kv_object(key, NULL, 0, 0), &answer, err) != 0)
		return -1;
	if (etcd_json_int64(answer, "deleted", &n) != 0 || n < 0 || n > 1) {
		client_error_set(err, CLIENT_E_PROTOCOL, "etcd: bad deleted count");
		rc = -1;
	} else if (deleted) {
		*deleted = (int)n;
	}
	cJSON_Delete(answer);
	return rc;
}

/* The range_end that makes a range cover every key starting with prefix: prefix with its
 * last byte below 0xff incremented and what follows dropped (etcd's prefix rule). */
size_t etcd_prefix_end(const char *prefix, char *end)
{
	size_t n = strlen(prefix);

	memcpy(end, prefix, n);
	while (n > 0 && (unsigned char)end[n - 1] == 0xff)
		n--;
	if (n == 0) {
		end[0] = '\0'; /* "\0" means every key */
		return 1;
	}
	end[n - 1] = (char)((unsigned char)end[n - 1] + 1);
	return n;
}

int etcd_count_prefix(struct etcd *e, const char *prefix, int64_t *count,
		      struct client_error *err)
{
	char end[ETCD_KEY_MAX + 1];
	cJSON *body, *answer = NULL;
	int rc = 0;

	if (key_ok(prefix, err) != 0)
		return -1;
	body = kv_object(prefix, NULL, 0, 0);
	if (body && (etcd_json_add_b64(body, "range_end", end, etcd_prefix_end(prefix, end)) != 0 ||
		     !cJSON_AddTrueToObject(body, "count_only"))) {
		cJSON_Delete(body);
		body = NULL;
	}
	if (etcd_call_take(e, "/v3/kv/range", body, &answer, err) != 0)
		return -1;
	if (etcd_json_int64(answer, "count", count) != 0 || *count < 0) {
		client_error_set(err, CLIENT_E_PROTOCOL, "etcd: bad count");
		rc = -1;
	}
	cJSON_Delete(answer);
	return rc;
}

/* ---- transactions ---- */

/* [{"key": guard, "target": "CREATE", "result": "EQUAL", "create_revision": rev}] */
static cJSON *compare_created_at(const char *guard, int64_t rev)
{
	cJSON *list = cJSON_CreateArray(), *c = kv_object(guard, NULL, 0, 0);

	if (!list || !c || !cJSON_AddStringToObject(c, "target", "CREATE") ||
	    !cJSON_AddStringToObject(c, "result", "EQUAL") ||
	    etcd_json_add_int64(c, "create_revision", rev) != 0) {
		cJSON_Delete(list);
		cJSON_Delete(c);
		return NULL;
	}
	cJSON_AddItemToArray(list, c);
	return list;
}

/* [{op: request}], or [] when request is NULL. Takes request (freed on failure). */
static cJSON *op_list(const char *op, cJSON *request)
{
	cJSON *list = cJSON_CreateArray(), *item = request ? cJSON_CreateObject() : NULL;

	if (!list || (request && !item)) {
		cJSON_Delete(list);
		cJSON_Delete(item);
		cJSON_Delete(request);
		return NULL;
	}
	if (request) {
		cJSON_AddItemToObject(item, op, request);
		cJSON_AddItemToArray(list, item);
	}
	return list;
}

/*
 * One txn: if compare, then success, else failure (each taken and freed here; NULL = out of
 * memory). *succeeded says which branch ran; *answer (may be NULL) gets the answer to free.
 */
static int txn(struct etcd *e, cJSON *compare, cJSON *success, cJSON *failure,
	       int *succeeded, cJSON **answer, struct client_error *err)
{
	cJSON *body = cJSON_CreateObject(), *a = NULL;

	if (!body || !compare || !success || !failure) {
		cJSON_Delete(body);
		cJSON_Delete(compare);
		cJSON_Delete(success);
		cJSON_Delete(failure);
		return oom(err);
	}
	cJSON_AddItemToObject(body, "compare", compare);
	cJSON_AddItemToObject(body, "success", success);
	cJSON_AddItemToObject(body, "failure", failure);
	if (etcd_call_take(e, "/v3/kv/txn", body, &a, err) != 0)
		return -1;
	*succeeded = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "succeeded"));
	if (answer)
		*answer = a;
	else
		cJSON_Delete(a);
	return 0;
}

/* The range result of a txn's response n. */
static const cJSON *nth_range(const cJSON *answer, int n)
{
	const cJSON *r = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(answer, "responses"),
					     n);
	return cJSON_GetObjectItemCaseSensitive(r, "response_range");
}

/* Appends {"request_range": {"key": key}} to ops. 0, or -1 (out of memory: ops unchanged). */
static int add_range(cJSON *ops, const char *key)
{
	cJSON *item = cJSON_CreateObject(), *req = kv_object(key, NULL, 0, 0);

	if (!item || !req) {
		cJSON_Delete(item);
		cJSON_Delete(req);
		return -1;
	}
	cJSON_AddItemToObject(item, "request_range", req);
	cJSON_AddItemToArray(ops, item);
	return 0;
}

/* What a won put_if_absent wrote: its revision is the txn's. */
static int written_kv(const cJSON *answer, const void *value, size_t len, int64_t lease,
		      struct etcd_kv *out, struct client_error *err)
{
	const cJSON *header = cJSON_GetObjectItemCaseSensitive(answer, "header");

	memset(out, 0, sizeof(*out));
	if (etcd_json_int64(header, "revision", &out->create_revision) != 0 ||
	    out->create_revision <= 0) {
		client_error_set(err, CLIENT_E_PROTOCOL, "etcd: txn without a revision");
		return -1;
	}
	out->mod_revision = out->create_revision;
	out->lease = lease;
	out->value_len = len <= ETCD_VALUE_MAX ? len : ETCD_VALUE_MAX;
	memcpy(out->value, value, out->value_len);
	return 0;
}

int etcd_put_if_absent_read(struct etcd *e, const char *key, const void *value, size_t len,
			    int64_t lease, const char *read_key, int *won, struct etcd_kv *out,
			    struct etcd_kv *read_out, struct client_error *err)
{
	struct etcd_kv scratch;
	cJSON *answer = NULL, *success, *failure;
	int rc;

	if (key_ok(key, err) != 0 || (read_key && key_ok(read_key, err) != 0))
		return -1;
	value = value ? value : "";
	success = op_list("request_put", kv_object(key, value, len, lease));
	failure = op_list("request_range", kv_object(key, NULL, 0, 0));
	if (read_key && success && failure &&
	    (add_range(success, read_key) != 0 || add_range(failure, read_key) != 0)) {
		cJSON_Delete(success);
		success = NULL; /* txn answers out of memory */
	}
	rc = txn(e, compare_created_at(key, 0), success, failure, won, &answer, err);
	if (rc != 0)
		return -1;
	out = out ? out : &scratch;
	rc = *won ? written_kv(answer, value, len, lease, out, err)
		  : one_kv(nth_range(answer, 0), out, err);
	if (rc == 0 && read_key)
		rc = one_kv(nth_range(answer, 1), read_out, err);
	cJSON_Delete(answer);
	return rc;
}

int etcd_put_if_absent(struct etcd *e, const char *key, const void *value, size_t len,
		       int64_t lease, int *won, struct etcd_kv *out, struct client_error *err)
{
	return etcd_put_if_absent_read(e, key, value, len, lease, NULL, won, out, NULL, err);
}

int etcd_put_if_owner(struct etcd *e, const char *guard_key, int64_t token, const char *key,
		      const void *value, size_t len, int64_t lease, int *applied,
		      struct client_error *err)
{
	if (key_ok(guard_key, err) != 0 || key_ok(key, err) != 0)
		return -1;
	return txn(e, compare_created_at(guard_key, token),
		   op_list("request_put", kv_object(key, value ? value : "", len, lease)),
		   op_list(NULL, NULL), applied, NULL, err);
}

/* Appends {"request_delete_range": {"key": key}} to ops. 0, or -1 (out of memory: ops is
 * left as it was). */
static int add_delete(cJSON *ops, const char *key)
{
	cJSON *item = cJSON_CreateObject(), *req = kv_object(key, NULL, 0, 0);

	if (!item || !req) {
		cJSON_Delete(item);
		cJSON_Delete(req);
		return -1;
	}
	cJSON_AddItemToObject(item, "request_delete_range", req);
	cJSON_AddItemToArray(ops, item);
	return 0;
}

int etcd_put_release_if_owner(struct etcd *e, const char *guard_key, int64_t token,
			      const char *guard2_key, int64_t token2, const char *key,
			      const void *value, size_t len, int64_t lease, int *applied,
			      struct client_error *err)
{
	cJSON *compare, *second, *success;

	if (key_ok(guard_key, err) != 0 || key_ok(key, err) != 0 ||
	    (guard2_key && key_ok(guard2_key, err) != 0))
		return -1;
	compare = compare_created_at(guard_key, token);
	second = guard2_key ? compare_created_at(guard2_key, token2) : NULL;
	success = op_list("request_put", kv_object(key, value ? value : "", len, lease));
	if (compare && second)
		cJSON_AddItemToArray(compare, cJSON_DetachItemFromArray(second, 0));
	if (!compare || (guard2_key && !second) || !success || add_delete(success, guard_key) ||
	    (guard2_key && add_delete(success, guard2_key))) {
		cJSON_Delete(compare);
		compare = NULL; /* txn answers out of memory */
	}
	cJSON_Delete(second);
	return txn(e, compare, success, op_list(NULL, NULL), applied, NULL, err);
}

int etcd_delete_if_owner(struct etcd *e, const char *guard_key, int64_t token, const char *key,
			 int *applied, struct client_error *err)
{
	if (key_ok(guard_key, err) != 0 || key_ok(key, err) != 0)
		return -1;
	return txn(e, compare_created_at(guard_key, token),
		   op_list("request_delete_range", kv_object(key, NULL, 0, 0)),
		   op_list(NULL, NULL), applied, NULL, err);
}
