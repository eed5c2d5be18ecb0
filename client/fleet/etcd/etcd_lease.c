/*
 * etcd leases: grant, one keepalive, revoke. A keepalive is a gRPC stream behind the
 * gateway; one request body gives one answer ({"result": {...}}) and the stream ends.
 */
#include <stdio.h>

#include "etcd.h"
#include "etcd_call.h"

/* {"ID": id} plus "TTL" when ttl_s > 0; NULL on OOM. */
static cJSON *lease_body(int64_t id, long ttl_s)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || etcd_json_add_int64(o, "ID", id) != 0 ||
	    (ttl_s > 0 && !cJSON_AddNumberToObject(o, "TTL", (double)ttl_s))) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

int etcd_lease_grant(struct etcd *e, long ttl_s, int64_t *id, struct client_error *err)
{
	cJSON *answer = NULL;
	int rc = 0;

	if (ttl_s < 1) {
		client_error_clear(err);
		client_error_set(err, CLIENT_E_INVALID, "lease ttl %ld s: at least 1", ttl_s);
		return -1;
	}
	if (etcd_call_take(e, "/v3/lease/grant", lease_body(0, ttl_s), &answer, err) != 0)
		return -1;
	if (etcd_json_int64(answer, "ID", id) != 0 || *id == 0) {
		client_error_set(err, CLIENT_E_PROTOCOL, "etcd: lease grant without an id");
		rc = -1;
	}
	cJSON_Delete(answer);
	return rc;
}

int etcd_lease_keepalive(struct etcd *e, int64_t id, long timeout_ms, int64_t *ttl_left,
			 struct client_error *err)
{
	cJSON *answer = NULL, *body = lease_body(id, 0);
	const cJSON *result;
	int rc = 0;

	client_error_clear(err);
	if (!body) {
		client_error_set(err, CLIENT_E_LOCAL, "out of memory");
		return -1;
	}
	rc = etcd_call_within(e, "/v3/lease/keepalive", body, timeout_ms, &answer, err);
	cJSON_Delete(body);
	if (rc != 0)
		return -1;
	/* A lease etcd no longer has comes back with no TTL: 0. */
	result = cJSON_GetObjectItemCaseSensitive(answer, "result");
	if (!cJSON_IsObject(result) || etcd_json_int64(result, "TTL", ttl_left) != 0 ||
	    *ttl_left < 0) {
		client_error_set(err, CLIENT_E_PROTOCOL, "etcd: malformed keepalive answer");
		rc = -1;
	}
	cJSON_Delete(answer);
	return rc;
}

int etcd_lease_revoke(struct etcd *e, int64_t id, struct client_error *err)
{
	cJSON *answer = NULL;

	if (etcd_call_take(e, "/v3/lease/revoke", lease_body(id, 0), &answer, err) != 0) {
		if (err->kind != CLIENT_E_NOT_FOUND)
			return -1;
		client_error_clear(err); /* already gone: what revoking wanted */
	}
	cJSON_Delete(answer);
	return 0;
}
