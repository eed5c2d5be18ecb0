/*
 * The task record of fleet mode: what one host tells the others about the export of one
 * range (client/fleet/fleet.h stores it in etcd). It never holds a download URL or a secret: a
 * follower that needs the file asks the provider for URLs of task_id itself.
 *
 * Serialized as one JSON object, {"v":1,"task_id":..,"state":..,"expires":..,"size":..,
 * "sha256":..,"holder":..,"written":..} ("written" optional: older records lack it), parsed
 * strictly: each of those keys once, the right types, bounded
 * strings; keys a newer orderfs adds are ignored (version 1 stays readable). Pure functions,
 * thread-safe.
 */
#ifndef ORDERFS_FLEET_RECORD_H
#define ORDERFS_FLEET_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "../provider.h"

#define FLEET_HOST_MAX 64	   /* host name bytes with the NUL */
#define FLEET_SHA256_HEX 65	   /* 64 lowercase hex digits + NUL */
#define FLEET_RECORD_JSON_MAX 1024 /* a serialized record never exceeds this */

enum fleet_state {
	FLEET_APPLIED = 0, /* the provider accepted the task */
	FLEET_GENERATING,
	FLEET_GENERATED,   /* ready to download */
	FLEET_FAILED,	   /* generation failed: the next claimer applies again */
	FLEET_NO_DATA,	   /* nothing in that range */
};

struct fleet_record {
	char task_id[PROVIDER_ID_MAX];	/* provider's task id: 1..127 printable ASCII */
	enum fleet_state state;
	int64_t expires;		/* unix seconds the server file stops existing; 0 unknown */
	int64_t size;			/* bytes of the file; -1 unknown */
	char sha256[FLEET_SHA256_HEX];	/* lowercase hex of the file; "" unknown */
	char holder[FLEET_HOST_MAX];	/* host that wrote the record */
	int64_t written;		/* unix seconds it was written; 0 unknown (an old record) */
};

/* "applied", "generating", "generated", "failed", "no_data"; "?" for anything else. */
const char *fleet_state_name(enum fleet_state s);
/* The state named name. 0, or -1 for an unknown name (*out untouched). */
int fleet_state_parse(const char *name, enum fleet_state *out);

/* Whether name can name a host (or a provider) in etcd keys: 1..63 of [A-Za-z0-9._-], not
 * starting with a dot. 1 or 0. */
int fleet_name_ok(const char *name);

/* Whether every field of r is within the rules above. 1 or 0. */
int fleet_record_valid(const struct fleet_record *r);

/* r as JSON into out (cap bytes, NUL-terminated). Returns its length, or -1 when r is not
 * valid or out too small (out is then ""). */
long fleet_record_to_json(const struct fleet_record *r, char *out, size_t cap);

/* Parses len bytes of JSON into *out, ignoring unknown keys. Returns 0, or -1 when it is not
 * a valid record (over FLEET_RECORD_JSON_MAX bytes, not an object, a key missing or repeated, a
 * wrong type, a non-integral or out of range number, an unknown version or state, a string
 * too long or with bytes outside its rule); *out is then untouched. */
int fleet_record_from_json(const char *text, size_t len, struct fleet_record *out);

#endif
