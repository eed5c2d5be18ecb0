/*
 * The credential gate. A source's keys say which merchant its files are (provider, merchant
 * id, report type), but whoever writes an account file chooses the merchant id: without a
 * gate an account naming another merchant's id with any token would be served that
 * merchant's cached files. So a gated source serves a ready file only after its provider has
 * accepted its credentials in this run: one authenticated call (check_credentials, or a
 * query of the entry's own task), made by the first reader while the others wait, or a
 * flight of its own that got its file. The verdict is kept for the source: accepted until a
 * flight of its own is refused; refused until CACHE_CRED_RECHECK_S passed or a flight of its
 * own gets its file; either until its credentials change (credentials_version). A call that cannot tell (the provider unreachable) is not remembered:
 * the reader gets its errno and the next read asks again. Nothing on disk changes.
 *
 * Where a provider tells whom credentials serve (credentials_owner: Mogujie's seller, the
 * merchant id there being only the account NAME), an entry keeps the owner of the
 * credentials that fetched it, and is served only to credentials of the same owner: a NAME
 * reused with another seller's valid token is accepted, yet gets none of the first seller's
 * files.
 */
#include "entry.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../../common/log.h"

/* Ask s's provider once (no lock held). 0 accepted, -EACCES refused, else -errno. */
static int cred_ask(struct cache_source *s, const char *task_id, struct client_error *err)
{
	struct provider *p = s->prov;
	struct export_task t;
	int rc;

	client_error_clear(err);
	if (p->ops->check_credentials)
		rc = p->ops->check_credentials(p, task_id, err);
	else
		rc = p->ops->query(p, task_id, &t, err);
	if (rc == 0)
		return 0;
	switch (err->kind) {
	case CLIENT_E_AUTH:
		return -EACCES;
	case CLIENT_E_NOT_FOUND:
	case CLIENT_E_FILE_EXPIRED:
		/* It answered about the task, which it does only for an authenticated caller. */
		return p->ops->check_credentials ? -EIO : 0;
	default:
		rc = client_error_to_errno(err);
		return rc ? -rc : -EIO;
	}
}

static uint64_t cred_version(const struct cache_source *s)
{
	struct provider *p = s->prov;
	return p->ops->credentials_version ? p->ops->credentials_version(p) : 0;
}

/* The verdict, forgotten when the credentials changed since it was learned. */
static enum cache_cred cred_now(struct cache_source *s)
{
	if (s->cred != CACHE_CRED_UNCHECKED && s->cred_version != cred_version(s))
		s->cred = CACHE_CRED_UNCHECKED;
	return s->cred;
}

static void cred_set(struct cache_source *s, enum cache_cred v)
{
	s->cred_version = cred_version(s);
	if (v == CACHE_CRED_REFUSED)
		s->cred_refused_ms = cache_mono_ms();
	s->cred = v;
}

void cred_owner(struct cache_source *s, char *out, size_t n)
{
	struct provider *p = s->prov;

	if (n)
		out[0] = '\0';
	if (p->ops->credentials_owner)
		p->ops->credentials_owner(p, out, n);
}

/* 1: the credentials in use serve owner (or the entry names none), 0: another, -1: unknown
 * yet. cache->lock held. */
static int cred_owner_match(struct cache_source *s, const char *owner)
{
	char mine[CACHE_OWNER_MAX];

	if (!owner[0])
		return 1;
	cred_owner(s, mine, sizeof(mine));
	return !mine[0] ? -1 : strcmp(mine, owner) == 0;
}

/* The entry is another owner's, or the check showed whom the credentials serve not at all. */
static int cred_owner_refused(struct cache_source *s, const char *owner, int match)
{
	log_warn("cache: account %s: a cached file of another owner (%s) is not served: the "
		 "credentials in use %s", s->account, owner,
		 match ? "did not say whom they serve (no order rows in its range)"
		       : "serve another");
	return -EACCES;
}

int cred_gate(struct cache *c, struct cache_source *s, const char *task_id, const char *owner)
{
	char id[PROVIDER_ID_MAX], own[CACHE_OWNER_MAX];
	struct client_error err;
	int rc, match;

	if (!s->cred_gate)
		return CRED_OPEN;
	match = cred_owner_match(s, owner);
	if (cred_now(s) == CACHE_CRED_ACCEPTED && match >= 0)
		return match ? CRED_OPEN : cred_owner_refused(s, owner, 0);
	if (s->cred_checking)
		return CRED_WAIT;
	if (s->cred == CACHE_CRED_REFUSED &&
	    cache_mono_ms() - s->cred_refused_ms < CACHE_CRED_RECHECK_S * 1000LL)
		return -EACCES;
	snprintf(id, sizeof(id), "%s", task_id);
	snprintf(own, sizeof(own), "%s", owner);
	s->cred_checking = 1;
	pthread_mutex_unlock(&c->lock);
	rc = cred_ask(s, id, &err);
	pthread_mutex_lock(&c->lock);
	s->cred_checking = 0;
	pthread_cond_broadcast(&c->wake);
	if (rc == 0 || rc == -EACCES) {
		if (s->cred != (rc ? CACHE_CRED_REFUSED : CACHE_CRED_ACCEPTED))
			log_notice("cache: account %s: the provider %s its credentials%s%s",
				   s->account, rc ? "refused" : "accepted", rc ? ": " : "",
				   rc ? err.msg : "");
		cred_set(s, rc ? CACHE_CRED_REFUSED : CACHE_CRED_ACCEPTED);
		if (rc == 0 && (match = cred_owner_match(s, own)) != 1)
			return cred_owner_refused(s, own, match);
		return rc ? rc : CRED_AGAIN;
	}
	log_warn("cache: account %s: cannot check its credentials now: %s: %s", s->account,
		 client_errkind_name(err.kind), err.msg);
	return rc;
}

int cred_accepted(struct cache_source *s)
{
	return !s->cred_gate || cred_now(s) == CACHE_CRED_ACCEPTED;
}

void cred_learn(struct cache *c, struct cache_source *s, enum cache_cred verdict)
{
	cred_set(s, verdict);
}

enum cache_cred cache_credentials(struct cache *c, size_t type)
{
	struct cache_kind *k;
	enum cache_cred v = CACHE_CRED_UNCHECKED;

	pthread_mutex_lock(&c->lock);
	if ((k = kind_get(c, type)) != NULL)
		v = cred_now(k->src);
	pthread_mutex_unlock(&c->lock);
	return v;
}
