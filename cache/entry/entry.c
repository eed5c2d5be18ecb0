/* The entry table: find, load on demand, insert from metadata. See internal.h for locking. */
#include "entry.h"
#include "fresh.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../../common/clock.h"
#include "../../common/log.h"

static int hex_digit(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* 64 hex digits into 32 bytes. 0, or -1 when hex is not that. */
static int hex_to_bin(const char *hex, unsigned char out[32])
{
	if (strlen(hex) != 64)
		return -1;
	for (int k = 0; k < 32; k++) {
		int hi = hex_digit(hex[2 * k]), lo = hex_digit(hex[2 * k + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[k] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

int64_t cache_now_ms(const struct cache *c)
{
	return c->cfg.now_ms ? c->cfg.now_ms() : clock_real_ms();
}

int64_t cache_mono_ms(void)
{
	return clock_mono_ms();
}

static int make_key(const struct cache *c, size_t type, const struct date_range *r,
		    struct cache_key *k)
{
	const struct cache_kind *kind = kind_get(c, type);

	return kind ? kind_key(c, kind, r, k) : -EINVAL;
}

static unsigned entry_bucket(size_t type, const struct date_range *r)
{
	unsigned h = 2166136261u;
	const int v[7] = {r->start.year, r->start.month, r->start.day, r->end.year,
			  r->end.month,	 r->end.day,	 (int)type};

	for (int i = 0; i < 7; i++)
		h = (h ^ (unsigned)v[i]) * 16777619u; /* FNV-1a over the seven fields */
	return h & (ENTRY_BUCKETS - 1);
}

struct entry *entry_find(struct cache *c, size_t type, const struct date_range *r)
{
	for (struct entry *e = c->by_range[entry_bucket(type, r)]; e; e = e->hnext)
		if (e->type == type && e->kind && date_cmp(&e->range.start, &r->start) == 0 &&
		    date_cmp(&e->range.end, &r->end) == 0)
			return e;
	return NULL;
}

/* What an empty entry_info string points to: owns no memory. */
static const char entry_empty[] = "";

static void entry_str_free(const char *s)
{
	if (s && s != entry_empty)
		free((char *)s);
}

int entry_str_set(const char **slot, const char *v)
{
	char *copy;

	if (*slot && strcmp(*slot, v) == 0)
		return 0; /* polls repeat the same name: no churn */
	if (!v[0]) {
		entry_str_free(*slot);
		*slot = entry_empty;
		return 0;
	}
	if (!(copy = strdup(v))) {
		log_err("cache: out of memory keeping \"%s\"", v);
		return -ENOMEM;
	}
	entry_str_free(*slot);
	*slot = copy;
	return 0;
}

void entry_err_set(struct entry_info *i, const struct client_error *err)
{
	if (!err || (err->kind == CLIENT_OK && !err->code[0] && !err->msg[0] &&
		     err->http_status == 0)) {
		free(i->last_error);
		i->last_error = NULL;
		return;
	}
	if (!i->last_error && !(i->last_error = malloc(sizeof(*i->last_error)))) {
		log_err("cache: out of memory keeping an error: %s", err->msg);
		return;
	}
	*i->last_error = *err;
}

void entry_info_clear(struct entry_info *i)
{
	entry_str_free(i->task_id);
	entry_str_free(i->server_name);
	entry_str_free(i->owner);
	entry_str_free(i->fleet_holder);
	free(i->last_error);
	memset(i, 0, sizeof(*i));
	i->state = CACHE_ABSENT;
	i->progress = -1;
	i->task_id = i->server_name = i->owner = i->fleet_holder = entry_empty;
}

void entry_sha256_set(struct entry_info *i, const char *hex)
{
	i->has_sha256 = hex_to_bin(hex, i->sha256) == 0;
}

void entry_sha256_hex(const struct entry_info *i, char *out)
{
	if (i->has_sha256)
		key_hex(i->sha256, sizeof(i->sha256), out);
	else
		out[0] = '\0';
}

void entry_info_get(const struct entry *e, struct cache_info *out)
{
	const struct entry_info *i = &e->info;

	memset(out, 0, sizeof(*out));
	out->state = i->state;
	snprintf(out->task_id, sizeof(out->task_id), "%s", i->task_id);
	snprintf(out->server_name, sizeof(out->server_name), "%s", i->server_name);
	snprintf(out->owner, sizeof(out->owner), "%s", i->owner);
	out->progress = i->progress;
	out->size = i->size;
	out->bytes_done = i->bytes_done;
	out->items_done = i->items_done;
	out->items_total = i->items_total;
	out->wait_until = i->wait_until;
	out->finish_time = i->finish_time;
	out->expires = i->expires;
	out->ready_time = i->ready_time;
	out->applied_time = i->applied_time;
	out->last_access = e->accessed ? e->last_access_ms / 1000 : 0;
	out->learned_time = i->learned_time;
	entry_sha256_hex(i, out->sha256);
	out->last_errno = i->last_errno;
	if (i->last_error)
		out->last_error = *i->last_error;
	else
		client_error_clear(&out->last_error);
	out->fleet_role = i->fleet_role;
	snprintf(out->fleet_holder, sizeof(out->fleet_holder), "%s", i->fleet_holder);
	out->fleet_slot_wait = i->fleet_slot_wait;
}

/* A copy of i owning its own strings and error; NULL on ENOMEM. */
static struct entry_info *entry_info_dup(const struct entry_info *i)
{
	struct entry_info *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	*d = *i;
	d->task_id = d->server_name = d->owner = d->fleet_holder = entry_empty;
	d->last_error = NULL;
	if (entry_str_set(&d->task_id, i->task_id) || entry_str_set(&d->server_name, i->server_name) ||
	    entry_str_set(&d->owner, i->owner) || entry_str_set(&d->fleet_holder, i->fleet_holder) ||
	    (i->last_error && !(d->last_error = malloc(sizeof(*d->last_error))))) {
		entry_info_clear(d);
		free(d);
		return NULL;
	}
	if (i->last_error)
		*d->last_error = *i->last_error;
	return d;
}

void entry_reset(struct entry *e)
{
	entry_info_clear(&e->info);
	e->total = 0;
	e->access_dirty = 0;
	e->accessed = 0;
	e->warned_big = 0;
	entry_drop_old(e);
	e->stale = 0;
}

int entry_keep_old(struct entry *e)
{
	struct entry_info *old = entry_info_dup(&e->info);

	if (!old)
		return -ENOMEM;
	entry_drop_old(e);
	e->old = old;
	return 0;
}

void entry_restore_old(struct entry *e)
{
	entry_info_clear(&e->info);
	e->info = *e->old; /* its strings move with it */
	free(e->old);
	e->old = NULL;
}

void entry_drop_old(struct entry *e)
{
	if (e->old) {
		entry_info_clear(e->old);
		free(e->old);
		e->old = NULL;
	}
}

static unsigned entry_hash_bucket(const unsigned char hash[32])
{
	/* The key hash is a SHA-256: its first bytes are as good a hash as any. */
	return ((unsigned)hash[0] << 16 | (unsigned)hash[1] << 8 | hash[2]) & (ENTRY_BUCKETS - 1);
}

/* The orphan whose key hashes to hash in memory; NULL if none. */
static struct entry *entry_find_orphan(struct cache *c, const char *hash)
{
	unsigned char h[32];

	if (hex_to_bin(hash, h) != 0)
		return NULL;
	for (struct entry *e = c->by_hash[entry_hash_bucket(h)]; e; e = e->xnext)
		if (!e->kind && memcmp(e->hash, h, sizeof(h)) == 0)
			return e;
	return NULL;
}

/* The shared text of k's fields, "p\0a\0t\0l\0" (cache->okeys), made on first use; NULL
 * on ENOMEM. */
static const char *okey_get(struct cache *c, const struct cache_key *k)
{
	const char *f[4] = {k->provider, k->account, k->report_type, k->language};
	char text[4 * KEY_FIELD_MAX];
	struct okey **head = &c->okeys[account_bucket(k->provider, k->account)], *o;
	size_t n = 0;

	for (int i = 0; i < 4; i++) {
		size_t len = strlen(f[i]) + 1; /* < KEY_FIELD_MAX: key_init checked */
		memcpy(text + n, f[i], len);
		n += len;
	}
	for (o = *head; o; o = o->next)
		if (o->len == n && memcmp(o->text, text, n) == 0)
			return o->text;
	if (!(o = malloc(sizeof(*o) + n)))
		return NULL;
	o->len = n;
	memcpy(o->text, text, n);
	o->next = *head;
	*head = o;
	return o->text;
}

int entry_key(const struct cache *c, const struct entry *e, struct cache_key *out)
{
	const char *f[4];

	if (e->kind)
		return kind_key(c, e->kind, &e->range, out);
	f[0] = e->okey;
	for (int i = 1; i < 4; i++)
		f[i] = f[i - 1] + strlen(f[i - 1]) + 1;
	return key_init(out, f[0], f[1], f[2], f[3], &e->range);
}

/* A zeroed entry from the newest slab (a new slab when it is full); NULL on ENOMEM. */
static struct entry *entry_alloc(struct cache *c)
{
	if (!c->slabs || c->slab_used == ENTRY_SLAB) {
		struct entry_slab *s = calloc(1, sizeof(*s));
		if (!s)
			return NULL;
		s->next = c->slabs;
		c->slabs = s;
		c->slab_used = 0;
	}
	return &c->slabs->e[c->slab_used++];
}

/* Give back e, the last entry_alloc gave, unused. */
static void entry_unalloc(struct cache *c, struct entry *e)
{
	memset(e, 0, sizeof(*e));
	c->slab_used--;
}

/* A new ABSENT entry of kind (NULL: an orphan) for k, whose key hash is hash (NULL: computed
 * here; the scan knows it from the file name and saves a SHA-256 per entry). */
static struct entry *entry_new(struct cache *c, struct cache_kind *kind, size_t type,
			       const struct cache_key *k, const char *hash)
{
	struct entry *e = entry_alloc(c);
	unsigned b = entry_bucket(type, &k->range);
	char hex[KEY_HASH_LEN] = "";

	if (!e)
		return NULL;
	e->range = k->range;
	if (!kind && !(e->okey = okey_get(c, k))) {
		entry_unalloc(c, e);
		return NULL;
	}
	e->kind = kind;
	e->type = type;
	if (!hash && key_hash(k, hex) == 0)
		hash = hex;
	if (!hash || hex_to_bin(hash, e->hash) != 0) {
		entry_unalloc(c, e);
		return NULL;
	}
	entry_reset(e);
	e->next = c->entries;
	c->entries = e;
	e->xnext = c->by_hash[entry_hash_bucket(e->hash)];
	c->by_hash[entry_hash_bucket(e->hash)] = e;
	if (kind) {
		e->hnext = c->by_range[b];
		c->by_range[b] = e;
		e->snext = kind->src->entries;
		kind->src->entries = e;
	} else {
		unsigned ab = account_bucket(k->provider, k->account);
		e->snext = c->orphans[ab];
		c->orphans[ab] = e;
	}
	return e;
}

/* e as m says. 0, or -ENOMEM (e is left ABSENT). */
static int entry_load(struct entry *e, const struct store_meta *m)
{
	struct entry_info *i = &e->info;

	entry_reset(e);
	if (entry_str_set(&i->task_id, m->task_id) ||
	    entry_str_set(&i->server_name, m->server_name) || entry_str_set(&i->owner, m->owner)) {
		entry_reset(e);
		return -ENOMEM;
	}
	i->state = m->state;
	i->finish_time = m->finish_time;
	i->expires = m->expires;
	i->ready_time = m->ready_time;
	i->applied_time = m->applied_time;
	i->learned_time = m->learned_time;
	e->last_access_ms = m->last_access_ms;
	e->accessed = 1;
	i->size = m->state == CACHE_READY ? m->size : m->total;
	e->total = m->total;
	if (m->state == CACHE_READY)
		entry_sha256_set(i, m->sha256);
	/* An errno; a .meta edited to say more is an I/O error of unknown kind. */
	i->last_errno = (int16_t)(m->last_errno < 4096 ? m->last_errno : EIO);
	if (m->err_kind != CLIENT_OK || m->err_code[0] || m->err_msg[0]) {
		struct client_error err;
		client_error_clear(&err);
		err.kind = m->err_kind;
		snprintf(err.code, sizeof(err.code), "%s", m->err_code);
		snprintf(err.msg, sizeof(err.msg), "%s", m->err_msg);
		entry_err_set(i, &err);
	}
	return 0;
}

/* The kind of m's key and its type index; KIND_NONE and NULL for an orphan. */
static struct cache_kind *meta_kind(const struct cache *c, const struct store_meta *m,
				    size_t *type)
{
	struct cache_kind *k = kind_of_key(c, &m->key);

	*type = k ? k->src->first + k->ptype : KIND_NONE;
	return k;
}

struct entry *entry_insert_meta(struct cache *c, const struct store_meta *m, const char *hash,
				int *created)
{
	size_t type;
	struct cache_kind *kind = meta_kind(c, m, &type);
	struct entry *e = kind ? entry_find(c, type, &m->key.range) : entry_find_orphan(c, hash);

	*created = 0;
	if (e && e->info.state != CACHE_ABSENT)
		return e;
	if (!e) {
		e = entry_new(c, kind, type, &m->key, hash);
		if (!e)
			return NULL;
	} else if (e->filling) {
		return e; /* a flight owns it now */
	}
	if (entry_load(e, m) != 0)
		return NULL;
	*created = 1;
	e->access_seq = ++c->access_seq;
	return e;
}

void entry_adopt(struct cache *c, struct entry *e, struct cache_kind *k)
{
	unsigned b;

	e->kind = k;
	e->type = k->src->first + k->ptype;
	e->okey = NULL; /* its key is k's now */
	b = entry_bucket(e->type, &e->range);
	e->hnext = c->by_range[b];
	c->by_range[b] = e;
	e->snext = k->src->entries;
	k->src->entries = e;
}

enum meta_use entry_meta_usable(struct cache *c, const char *hash, const struct store_meta *m,
				size_t *type)
{
	char path[PATH_MAX];
	struct stat st;
	struct cache_kind *k;

	if (m->state == CACHE_READY) {
		store_path(&c->store, hash, ".data", path);
		if (stat(path, &st) != 0)
			return errno == ENOENT || errno == ENOTDIR ? META_STALE : META_UNCHECKED;
		if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != m->size)
			return META_STALE;
	}
	pthread_mutex_lock(&c->lock);
	k = meta_kind(c, m, type);
	pthread_mutex_unlock(&c->lock);
	return k ? META_USABLE : META_FOREIGN;
}

struct entry *entry_find_hash(struct cache *c, const char *hash)
{
	unsigned char h[32];

	if (hex_to_bin(hash, h) != 0)
		return NULL;
	for (struct entry *e = c->by_hash[entry_hash_bucket(h)]; e; e = e->xnext)
		if (memcmp(e->hash, h, sizeof(h)) == 0)
			return e;
	return NULL;
}

struct entry *entry_get(struct cache *c, size_t type, const struct date_range *r, int create,
			int *err)
{
	struct cache_key k;
	struct store_meta m;
	char hash[KEY_HASH_LEN];
	struct entry *e = kind_get(c, type) ? entry_find(c, type, r) : NULL;
	size_t mtype;
	int rc;

	if (e)
		return e;
	if ((rc = make_key(c, type, r, &k)) != 0 || (rc = key_hash(&k, hash)) != 0) {
		*err = rc;
		return NULL;
	}
	if (c->scan_done && !create) {
		*err = -ENOENT; /* after the scan, memory knows every usable .meta */
		return NULL;
	}
	/* Not in memory (the recovery scan may not have reached it): read its .meta unlocked. */
	pthread_mutex_unlock(&c->lock);
	rc = store_meta_read(&c->store, hash, &m);
	if (rc == 0) {
		enum meta_use use = entry_meta_usable(c, hash, &m, &mtype);
		if (use == META_UNCHECKED)
			rc = -EIO;
		else if (use != META_USABLE || mtype != type)
			rc = -ENOENT; /* the scan will clean it up */
	} else if (rc == -EBADMSG) {
		rc = -ENOENT; /* corrupt: as good as absent; the scan deletes it */
	}
	pthread_mutex_lock(&c->lock);
	e = entry_find(c, type, r);
	if (e)
		return e;
	if (rc != 0 && rc != -ENOENT) {
		/* Could not read what the disk holds: never start over a file that may be fine. */
		if (create) {
			char rs[DATE_RANGE_STR_LEN];
			date_range_format(r, rs);
			log_warn("cache: %s: cannot read its metadata (%s); not exporting it again",
				 rs, strerror(-rc));
		}
		*err = rc;
		return NULL;
	}
	if (rc == 0) {
		int created;
		e = entry_insert_meta(c, &m, hash, &created);
	} else if (create) {
		e = entry_new(c, kind_get(c, type), type, &k, hash);
	}
	if (!e)
		*err = create || rc == 0 ? -ENOMEM : -ENOENT;
	return e;
}

void entry_freshness(const struct cache *c, const struct entry *e, int *complete,
		     int64_t *until)
{
	struct fresh_rule rule = {c->cfg.settle_delay_s, c->cfg.open_ttl_s};
	/* A file of an older orderfs: its ready time is a later bound of when it was applied. */
	int64_t as_of = e->info.applied_time ? e->info.applied_time : e->info.ready_time;
	const struct tz *zone = e->kind ? e->kind->src->prov->zone : NULL;

	*complete = 1;
	*until = 0;
	if (e->info.state != CACHE_READY || !e->kind || as_of <= 0)
		return; /* nothing says when it was exported: served until expiry, as before */
	*until = fresh_until(zone, &e->range, as_of, &rule);
	*complete = *until == 0;
}

int entry_server_expired(const struct cache *c, const struct entry *e)
{
	return e->info.state == CACHE_READY && e->info.expires > 0 &&
	       cache_now_ms(c) / 1000 >= e->info.expires;
}

enum cache_state entry_state(const struct cache *c, const struct entry *e)
{
	int complete;
	int64_t until;

	if (entry_server_expired(c, e))
		return CACHE_EXPIRED;
	/* An open file past fresh_until: the next open exports it again (fresh.h). */
	entry_freshness(c, e, &complete, &until);
	if (!complete && cache_now_ms(c) / 1000 >= until &&
	    !(e->stale && cache_now_ms(c) / 1000 < e->stale_until))
		return CACHE_EXPIRED;
	/* Queued behind a flight that waits for the provider to open: waiting too. */
	if (e->info.state == CACHE_QUEUED && e->filling && e->kind &&
	    cache_now_ms(c) < e->kind->src->closed_until_ms)
		return CACHE_WAITING;
	return e->info.state;
}

void entry_to_meta(const struct cache *c, const struct entry *e, struct store_meta *m)
{
	const struct entry_info *i = &e->info;

	memset(m, 0, sizeof(*m));
	entry_key(c, e, &m->key);
	m->state = i->state;
	snprintf(m->task_id, sizeof(m->task_id), "%s", i->task_id);
	snprintf(m->server_name, sizeof(m->server_name), "%s", i->server_name);
	snprintf(m->owner, sizeof(m->owner), "%s", i->owner);
	m->finish_time = i->finish_time;
	m->expires = i->expires;
	m->ready_time = i->ready_time;
	m->applied_time = i->applied_time;
	m->learned_time = i->learned_time;
	m->last_access_ms = e->last_access_ms;
	m->size = i->state == CACHE_READY ? i->size : 0;
	m->total = e->total;
	entry_sha256_hex(i, m->sha256);
	m->last_errno = i->last_errno;
	if (i->last_error) {
		m->err_kind = i->last_error->kind;
		snprintf(m->err_code, sizeof(m->err_code), "%s", i->last_error->code);
		snprintf(m->err_msg, sizeof(m->err_msg), "%s", i->last_error->msg);
	} else {
		m->err_kind = CLIENT_OK;
	}
}

void entry_touch(struct cache *c, struct entry *e)
{
	e->last_access_ms = cache_now_ms(c);
	e->access_seq = ++c->access_seq;
	e->access_dirty = 1;
	e->accessed = 1;
}

void entry_free_all(struct cache *c)
{
	struct entry *e = c->entries;

	while (e) {
		struct entry *n = e->next;
		entry_drop_old(e);
		entry_info_clear(&e->info);
		e = n;
	}
	while (c->slabs) {
		struct entry_slab *sl = c->slabs;
		c->slabs = sl->next;
		free(sl);
	}
	c->slab_used = 0;
	for (size_t b = 0; b < ACCOUNT_BUCKETS; b++)
		while (c->okeys[b]) {
			struct okey *o = c->okeys[b];
			c->okeys[b] = o->next;
			free(o);
		}
	c->entries = NULL;
	memset(c->by_range, 0, sizeof(c->by_range));
	memset(c->by_hash, 0, sizeof(c->by_hash));
	memset(c->orphans, 0, sizeof(c->orphans));
}
