/*
 * fleet_probe: client/fleet/fleet.h and client/fleet/etcd/etcd.h driven line by line from
 * stdin, for the integration tests against a real etcd. Not installed.
 *
 *   fleet_probe --endpoints E [--host H] [--provider P] [--account A] [--base-url U] [--ttl S]
 *               [--max-exports N] [--ca-file F] [--auth-file F] [--connect-ms N]
 *               [--request-ms N] [--raw] [--debug]
 * Joins the fleet (unless --raw), prints {"ok":true,"ready":true,"lease":..}, then answers
 * each command line with one JSON line {"ok":true,...} or {"ok":false,"errno":..,"kind":..,
 * "msg":..} (the failure also goes to stderr as "error: <kind> <errno> msg=<msg>"):
 *   fleet: claim KEY | record-put KEY TOKEN TASK STATE [SIZE [SHA256]] | record-get KEY |
 *          release KEY TOKEN | slot-take | slot-release N | members | reachable | stats |
 *          lease
 *   etcd:  get KEY | put KEY VALUE [LEASE] | put-if-absent KEY VALUE [LEASE] | delete KEY |
 *          count PREFIX | grant TTL | keepalive ID | revoke ID
 *   other: sleep SECONDS | quit
 * A fleet_new failure prints the failure line and exits 2; a usage error exits 64.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "../../common/log.h"
#include "../../client/fleet/etcd/etcd.h"
#include "../../client/fleet/fleet.h"

#define EXIT_FAIL 2
#define EXIT_USAGE 64
#define MAX_ARGS 8

struct probe {
	struct fleet *fleet; /* NULL with --raw */
	struct etcd *etcd;
};

/* Prints o as one line and frees it. */
static void emit(cJSON *o)
{
	char *s = cJSON_PrintUnformatted(o);
	if (s)
		printf("%s\n", s);
	fflush(stdout);
	free(s);
	cJSON_Delete(o);
}

static cJSON *ok_object(void)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddTrueToObject(o, "ok");
	return o;
}

/* Adds an int64 exactly, as a number when it fits a double, else as a string. */
static void add_i64(cJSON *o, const char *name, int64_t v)
{
	char text[24];
	if (v > -9007199254740992LL && v < 9007199254740992LL) {
		cJSON_AddNumberToObject(o, name, (double)v);
		return;
	}
	snprintf(text, sizeof(text), "%" PRId64, v);
	cJSON_AddRawToObject(o, name, text);
}

static int failed(int rc, const struct client_error *err)
{
	cJSON *o = cJSON_CreateObject();
	const char *name = rc == -ESTALE ? "ESTALE" : rc == -ENOENT ? "ENOENT"
			 : rc == -EBUSY	 ? "EBUSY"
			 : rc == -EINVAL ? "EINVAL"
					 : "EIO";
	cJSON_AddFalseToObject(o, "ok");
	cJSON_AddStringToObject(o, "errno", name);
	cJSON_AddStringToObject(o, "kind", client_errkind_name(err->kind));
	cJSON_AddStringToObject(o, "msg", err->msg);
	fprintf(stderr, "error: %s %s msg=%s\n", client_errkind_name(err->kind), name, err->msg);
	emit(o);
	return 0;
}

static cJSON *record_json(const struct fleet_record *r)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "task_id", r->task_id);
	cJSON_AddStringToObject(o, "state", fleet_state_name(r->state));
	add_i64(o, "expires", r->expires);
	add_i64(o, "size", r->size);
	cJSON_AddStringToObject(o, "sha256", r->sha256);
	cJSON_AddStringToObject(o, "holder", r->holder);
	return o;
}

static int64_t arg_i64(const char *s)
{
	return s ? strtoll(s, NULL, 10) : 0;
}

/* ---- fleet commands ---- */

static int cmd_claim(struct probe *p, char **a, struct client_error *err)
{
	struct fleet_claim c;
	int rc = fleet_claim(p->fleet, a[1], &c, err);
	if (rc != 0)
		return failed(rc, err);
	cJSON *o = ok_object();
	cJSON_AddStringToObject(o, "role", c.role == FLEET_HOLDER ? "holder" : "follower");
	add_i64(o, "token", c.token);
	cJSON_AddStringToObject(o, "holder", c.holder);
	cJSON_AddBoolToObject(o, "takeover", c.takeover);
	if (c.has_record)
		cJSON_AddItemToObject(o, "record", record_json(&c.record));
	emit(o);
	return 0;
}

static int cmd_record_put(struct probe *p, char **a, struct client_error *err)
{
	struct fleet_record r = {.size = -1};
	snprintf(r.task_id, sizeof(r.task_id), "%s", a[3] ? a[3] : "");
	if (!a[4] || fleet_state_parse(a[4], &r.state) != 0)
		r.state = (enum fleet_state)99; /* refused as invalid */
	if (a[5])
		r.size = arg_i64(a[5]);
	if (a[5] && a[6])
		snprintf(r.sha256, sizeof(r.sha256), "%s", a[6]);
	int rc = fleet_record_put(p->fleet, a[1], arg_i64(a[2]), &r, 0, err);
	if (rc != 0)
		return failed(rc, err);
	emit(ok_object());
	return 0;
}

static int cmd_record_get(struct probe *p, char **a, struct client_error *err)
{
	struct fleet_record r;
	int rc = fleet_record_get(p->fleet, a[1], &r, err);
	if (rc != 0)
		return failed(rc, err);
	cJSON *o = ok_object();
	cJSON_AddItemToObject(o, "record", record_json(&r));
	emit(o);
	return 0;
}

static int cmd_release(struct probe *p, char **a, struct client_error *err)
{
	int rc = fleet_release(p->fleet, a[1], arg_i64(a[2]), err);
	if (rc != 0)
		return failed(rc, err);
	emit(ok_object());
	return 0;
}

static int cmd_slot_take(struct probe *p, char **a, struct client_error *err)
{
	int slot, rc = fleet_slot_take(p->fleet, &slot, err);
	if (rc != 0)
		return failed(rc, err);
	cJSON *o = ok_object();
	cJSON_AddNumberToObject(o, "slot", slot);
	emit(o);
	return 0;
}

static int cmd_slot_release(struct probe *p, char **a, struct client_error *err)
{
	int rc = fleet_slot_release(p->fleet, (int)arg_i64(a[1]), err);
	if (rc != 0)
		return failed(rc, err);
	emit(ok_object());
	return 0;
}

static int cmd_members(struct probe *p, char **a, struct client_error *err)
{
	int64_t n;
	int rc = fleet_members(p->fleet, &n, err);
	if (rc != 0)
		return failed(rc, err);
	cJSON *o = ok_object();
	add_i64(o, "count", n);
	emit(o);
	return 0;
}

static int cmd_reachable(struct probe *p, char **a, struct client_error *err)
{
	cJSON *o = ok_object();
	cJSON_AddBoolToObject(o, "reachable", fleet_reachable(p->fleet));
	emit(o);
	return 0;
}

static int cmd_stats(struct probe *p, char **a, struct client_error *err)
{
	struct fleet_stats s;
	cJSON *o = ok_object();
	fleet_get_stats(p->fleet, &s);
	add_i64(o, "claims_won", (int64_t)s.claims_won);
	add_i64(o, "claims_lost", (int64_t)s.claims_lost);
	add_i64(o, "takeovers", (int64_t)s.takeovers);
	add_i64(o, "fenced_refused", (int64_t)s.fenced_refused);
	add_i64(o, "etcd_errors", (int64_t)s.etcd_errors);
	add_i64(o, "lease_regrants", (int64_t)s.lease_regrants);
	emit(o);
	return 0;
}

static int cmd_lease(struct probe *p, char **a, struct client_error *err)
{
	cJSON *o = ok_object();
	add_i64(o, "lease", fleet_lease_id(p->fleet));
	emit(o);
	return 0;
}

/* ---- raw etcd commands ---- */

static cJSON *kv_json(const struct etcd_kv *kv)
{
	cJSON *o = ok_object();
	cJSON_AddBoolToObject(o, "found", kv->create_revision != 0);
	add_i64(o, "create_revision", kv->create_revision);
	add_i64(o, "mod_revision", kv->mod_revision);
	add_i64(o, "lease", kv->lease);
	cJSON_AddStringToObject(o, "value", kv->value);
	return o;
}

static int cmd_get(struct probe *p, char **a, struct client_error *err)
{
	struct etcd_kv kv;
	if (etcd_get(p->etcd, a[1], &kv, err) != 0)
		return failed(-EIO, err);
	emit(kv_json(&kv));
	return 0;
}

static int cmd_put(struct probe *p, char **a, struct client_error *err)
{
	const char *v = a[2] ? a[2] : "";
	if (etcd_put(p->etcd, a[1], v, strlen(v), arg_i64(a[3]), err) != 0)
		return failed(-EIO, err);
	emit(ok_object());
	return 0;
}

static int cmd_put_if_absent(struct probe *p, char **a, struct client_error *err)
{
	const char *v = a[2] ? a[2] : "";
	struct etcd_kv kv;
	int won;
	if (etcd_put_if_absent(p->etcd, a[1], v, strlen(v), arg_i64(a[3]), &won, &kv, err) != 0)
		return failed(-EIO, err);
	cJSON *o = kv_json(&kv);
	cJSON_AddBoolToObject(o, "won", won);
	emit(o);
	return 0;
}

static int cmd_delete(struct probe *p, char **a, struct client_error *err)
{
	int deleted;
	if (etcd_delete(p->etcd, a[1], &deleted, err) != 0)
		return failed(-EIO, err);
	cJSON *o = ok_object();
	cJSON_AddNumberToObject(o, "deleted", deleted);
	emit(o);
	return 0;
}

static int cmd_count(struct probe *p, char **a, struct client_error *err)
{
	int64_t n;
	if (etcd_count_prefix(p->etcd, a[1], &n, err) != 0)
		return failed(-EIO, err);
	cJSON *o = ok_object();
	add_i64(o, "count", n);
	emit(o);
	return 0;
}

static int cmd_grant(struct probe *p, char **a, struct client_error *err)
{
	int64_t id;
	if (etcd_lease_grant(p->etcd, (long)arg_i64(a[1]), &id, err) != 0)
		return failed(-EIO, err);
	cJSON *o = ok_object();
	add_i64(o, "id", id);
	emit(o);
	return 0;
}

static int cmd_keepalive(struct probe *p, char **a, struct client_error *err)
{
	int64_t left;
	if (etcd_lease_keepalive(p->etcd, arg_i64(a[1]), 0, &left, err) != 0)
		return failed(-EIO, err);
	cJSON *o = ok_object();
	add_i64(o, "ttl", left);
	emit(o);
	return 0;
}

static int cmd_revoke(struct probe *p, char **a, struct client_error *err)
{
	if (etcd_lease_revoke(p->etcd, arg_i64(a[1]), err) != 0)
		return failed(-EIO, err);
	emit(ok_object());
	return 0;
}

static int cmd_sleep(struct probe *p, char **a, struct client_error *err)
{
	double s = a[1] ? strtod(a[1], NULL) : 0;
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	emit(ok_object());
	return 0;
}

static const struct command {
	const char *name;
	int nargs;	 /* required arguments */
	int needs_fleet; /* not with --raw */
	int (*run)(struct probe *p, char **a, struct client_error *err);
} commands[] = {
	{"claim", 1, 1, cmd_claim},	      {"record-put", 4, 1, cmd_record_put},
	{"record-get", 1, 1, cmd_record_get}, {"release", 2, 1, cmd_release},
	{"slot-take", 0, 1, cmd_slot_take},   {"slot-release", 1, 1, cmd_slot_release},
	{"members", 0, 1, cmd_members},	      {"reachable", 0, 1, cmd_reachable},
	{"stats", 0, 1, cmd_stats},	      {"lease", 0, 1, cmd_lease},
	{"get", 1, 0, cmd_get},		      {"put", 2, 0, cmd_put},
	{"put-if-absent", 2, 0, cmd_put_if_absent},
	{"delete", 1, 0, cmd_delete},	      {"count", 1, 0, cmd_count},
	{"grant", 1, 0, cmd_grant},	      {"keepalive", 1, 0, cmd_keepalive},
	{"revoke", 1, 0, cmd_revoke},	      {"sleep", 1, 0, cmd_sleep},
};

/* Runs one command line. Returns 1 on "quit", else 0. */
static int run_line(struct probe *p, char *line)
{
	char *a[MAX_ARGS + 1] = {0}, *save = NULL;
	struct client_error err;
	int n = 0;

	for (char *t = strtok_r(line, " \t\r\n", &save); t && n < MAX_ARGS;
	     t = strtok_r(NULL, " \t\r\n", &save))
		a[n++] = t;
	if (n == 0)
		return 0;
	if (strcmp(a[0], "quit") == 0)
		return 1;
	client_error_clear(&err);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const struct command *c = &commands[i];
		if (strcmp(a[0], c->name) != 0)
			continue;
		if (n - 1 < c->nargs || (c->needs_fleet && !p->fleet))
			break;
		return c->run(p, a, &err);
	}
	client_error_set(&err, CLIENT_E_INVALID, "bad command %s", a[0]);
	return failed(-EINVAL, &err);
}

static int usage(void)
{
	fprintf(stderr, "usage: fleet_probe --endpoints E [--host H] [--provider P] "
			"[--account A] [--ttl S] [--max-exports N] [--ca-file F] "
			"[--auth-file F] [--connect-ms N] [--request-ms N] [--raw] [--debug] "
			"< commands\n");
	return EXIT_USAGE;
}

/* "user:password" from the first line of path into user and password (NUL in place of the
 * colon). 0, or -1 when unreadable or without a colon. */
static int read_auth(const char *path, char *buf, size_t cap, const char **user,
		     const char **password)
{
	FILE *f = fopen(path, "r");
	char *colon;

	if (!f)
		return -1;
	if (!fgets(buf, (int)cap, f)) {
		fclose(f);
		return -1;
	}
	fclose(f);
	buf[strcspn(buf, "\r\n")] = '\0';
	colon = strchr(buf, ':');
	if (!colon)
		return -1;
	*colon = '\0';
	*user = buf;
	*password = colon + 1;
	return 0;
}

/* Parses argv into cfg. 0, or -1 on a usage error. */
static int parse_args(int argc, char **argv, struct fleet_config *cfg, const char **auth_file,
		      int *raw)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int takes = v != NULL;
		if (strcmp(a, "--raw") == 0)
			*raw = 1, takes = 0;
		else if (strcmp(a, "--debug") == 0)
			log_init(0, LOG_DEBUG), takes = 0;
		else if (!v)
			return -1;
		else if (strcmp(a, "--endpoints") == 0)
			cfg->etcd.endpoints = v;
		else if (strcmp(a, "--host") == 0)
			cfg->host = v;
		else if (strcmp(a, "--provider") == 0)
			cfg->provider = v;
		else if (strcmp(a, "--account") == 0)
			cfg->account = v;
		else if (strcmp(a, "--base-url") == 0)
			cfg->base_url = v;
		else if (strcmp(a, "--ttl") == 0)
			cfg->lease_ttl_s = strtol(v, NULL, 10);
		else if (strcmp(a, "--max-exports") == 0)
			cfg->max_exports = atoi(v);
		else if (strcmp(a, "--ca-file") == 0)
			cfg->etcd.ca_file = v;
		else if (strcmp(a, "--auth-file") == 0)
			*auth_file = v;
		else if (strcmp(a, "--connect-ms") == 0)
			cfg->etcd.connect_timeout_ms = strtol(v, NULL, 10);
		else if (strcmp(a, "--request-ms") == 0)
			cfg->etcd.request_timeout_ms = strtol(v, NULL, 10);
		else
			return -1;
		i += takes;
	}
	return cfg->etcd.endpoints ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct fleet_config cfg = {.provider = "vexora", .account = "M100", .host = "host-a"};
	struct probe p = {0};
	struct client_error err;
	const char *auth_file = NULL;
	char auth[512], line[1024];
	int raw = 0;

	if (parse_args(argc, argv, &cfg, &auth_file, &raw) != 0)
		return usage();
	if (auth_file && read_auth(auth_file, auth, sizeof(auth), &cfg.etcd.user,
				   &cfg.etcd.password) != 0) {
		fprintf(stderr, "fleet_probe: %s: expected user:password\n", auth_file);
		return EXIT_USAGE;
	}
	p.etcd = etcd_new(&cfg.etcd, &err);
	if (p.etcd && !raw)
		p.fleet = fleet_new(&cfg, &err);
	if (!p.etcd || (!raw && !p.fleet)) {
		failed(-EIO, &err);
		etcd_free(p.etcd);
		return EXIT_FAIL;
	}
	cJSON *o = ok_object();
	cJSON_AddTrueToObject(o, "ready");
	add_i64(o, "lease", p.fleet ? fleet_lease_id(p.fleet) : 0);
	emit(o);
	while (fgets(line, sizeof(line), stdin) && !run_line(&p, line))
		;
	fleet_free(p.fleet);
	etcd_free(p.etcd);
	explicit_bzero(auth, sizeof(auth));
	return 0;
}
