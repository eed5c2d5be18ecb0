#include "account_status.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../accounts/accounts.h"
#include "../orderfs.h"
#include "report.h"
#include "stats.h"
#include "status.h"

/* One export of the account, as cache_foreach passes it. */
struct export_ref {
	size_t kind;
	struct date_range range;
};

struct export_list {
	const struct fs_account *a;
	struct export_ref *v;
	size_t n, cap;
	int oom;
};

static void collect(void *arg, size_t kind, const struct date_range *r)
{
	struct export_list *l = arg;

	if (kind < l->a->kind0 || kind >= l->a->kind0 + l->a->nkinds || l->oom)
		return;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct export_ref *v = realloc(l->v, cap * sizeof(*v));
		if (!v) {
			l->oom = 1;
			return;
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n].kind = kind;
	l->v[l->n++].range = *r;
}

/* What the account's exports say, from one snapshot each. */
struct summary {
	uint64_t ready, failed;
	struct cache_info last_fail; /* the latest failure (state FAILED), learned_time 0: none */
	struct date_range last_fail_range;
	int64_t last_ready;	     /* the latest ready_time */
};

static void summarize(struct orderfs *o, const struct export_list *l, struct summary *s)
{
	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < l->n; i++) {
		struct cache_info in;
		cache_lookup(o->cache, l->v[i].kind, &l->v[i].range, &in);
		if (in.state == CACHE_READY || in.state == CACHE_EXPIRED) {
			s->ready++;
			if (in.ready_time > s->last_ready)
				s->last_ready = in.ready_time;
		} else if (in.state == CACHE_FAILED) {
			s->failed++;
			if (in.learned_time >= s->last_fail.learned_time) {
				s->last_fail = in;
				s->last_fail_range = l->v[i].range;
			}
		}
	}
}

static const char *token_verdict(struct orderfs *o, const struct fs_account *a,
				 const struct summary *s)
{
	/* The gate's verdict is the latest word of the provider on these credentials. */
	switch (cache_credentials(o->cache, a->kind0)) {
	case CACHE_CRED_ACCEPTED:
		return "valid";
	case CACHE_CRED_REFUSED:
		return "refused";
	case CACHE_CRED_UNCHECKED:
		if (a->name[0])
			return "unknown"; /* its cached files prove nothing of these credentials */
		break;
	}
	if (s->last_fail.learned_time && s->last_fail.last_error.kind == CLIENT_E_AUTH &&
	    s->last_fail.learned_time >= s->last_ready)
		return "refused";
	return s->last_ready ? "valid" : "unknown";
}

static cJSON *last_error_json(const struct summary *s)
{
	char rs[DATE_RANGE_STR_LEN];
	const struct cache_info *in = &s->last_fail;
	cJSON *e;

	if (!in->learned_time)
		return cJSON_CreateNull();
	if (!(e = status_error_json(in)) || cJSON_IsNull(e))
		return e;
	date_range_format(&s->last_fail_range, rs);
	cJSON_AddStringToObject(e, "range", rs);
	cJSON_AddNumberToObject(e, "time", (double)in->learned_time);
	return e;
}

static void add_exports(cJSON *root, const struct cache_stats *cs, const struct summary *s)
{
	cJSON *x = cJSON_AddObjectToObject(root, "exports");

	if (!x)
		return;
	cJSON_AddNumberToObject(x, "in_flight", (double)cs->fills_running);
	cJSON_AddNumberToObject(x, "queued", (double)cs->fills_queued);
	cJSON_AddNumberToObject(x, "ready", (double)s->ready);
	cJSON_AddNumberToObject(x, "failed", (double)s->failed);
}

/* What only a started account knows: its merchant, exports, token verdict, last error. */
static void add_running(struct orderfs *o, struct fs_account *a, cJSON *root)
{
	struct export_list l = {a, NULL, 0, 0, 0};
	struct cache_stats cs;
	struct summary s;
	const char *fleet = stats_fleet_state(o, a);

	int rc = cache_foreach_types(o->cache, a->kind0, a->nkinds, collect, &l);

	if (rc || l.oom) {
		/* Say what is known rather than fail the file. */
		free(l.v);
		cJSON_AddStringToObject(root, "merchant", a->prov->account);
		cJSON_AddStringToObject(root, "token", "unknown");
		cJSON_AddStringToObject(root, "exports_error", strerror(rc ? -rc : ENOMEM));
		return;
	}
	summarize(o, &l, &s);
	free(l.v);
	report_account_stats(o, a, &cs);
	cJSON_AddStringToObject(root, "merchant", a->prov->account);
	cJSON_AddStringToObject(root, "token", token_verdict(o, a, &s));
	cJSON_AddItemToObject(root, "last_error", last_error_json(&s));
	add_exports(root, &cs, &s);
	if (fleet)
		cJSON_AddStringToObject(root, "fleet", fleet);
}

char *account_status_render(struct orderfs *o, struct fs_account *a, size_t *len)
{
	char err[256], cred[300];
	cJSON *root = cJSON_CreateObject();
	char *text = NULL;
	int active = account_active(a);

	if (!root)
		return NULL;
	cJSON_AddStringToObject(root, "account", a->name);
	cJSON_AddStringToObject(root, "provider", o->cfg->provider);
	cJSON_AddStringToObject(root, "state", accounts_state(o->accounts, a, err, sizeof(err)));
	accounts_credentials(o->accounts, a, cred, sizeof(cred));
	if (err[0])
		cJSON_AddStringToObject(root, "error", err);
	else
		cJSON_AddNullToObject(root, "error");
	cJSON_AddStringToObject(root, "credentials", cred);
	if (active)
		add_running(o, a, root);
	else
		cJSON_AddStringToObject(root, "token", "unknown");
	text = cJSON_Print(root);
	cJSON_Delete(root);
	if (text)
		*len = strlen(text);
	return text;
}
