/* A scripted provider for unit tests; see fake_provider.h. */
#include "fake_provider.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../common/bundle.h"

#define FAKE_RANGES 64
#define FAKE_TASKS 512
#define FAKE_FAULTS 64
#define FAKE_HOLDS 8
#define FAKE_SEQ 16
#define FAKE_MEMBERS 16

struct fake_range_cfg {
	int used;
	struct date_range r;
	enum export_state seq[FAKE_SEQ];
	size_t nseq;
	unsigned char *content;
	size_t len;
	int has_content;
	uint64_t counts[FAKE_NCALLS];
	int last_task; /* index of the newest task, -1 none */
};

struct fake_task {
	char id[PROVIDER_ID_MAX];
	int range; /* index into ranges */
	size_t nquery;
	unsigned char *content;
	size_t len;
	int64_t expires;
};

struct fake_fault_q {
	struct fake_fault f;
	int has_range;
	struct date_range r;
	char code[PROVIDER_CODE_MAX];
	char msg[PROVIDER_MSG_MAX];
};

struct fake_hold_s {
	int used;
	enum fake_call call;
	int has_range;
	struct date_range r;
};

struct fake_member_s {
	char name[BUNDLE_NAME_MAX];
	unsigned char *data;
	size_t len;
};

struct fake {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	size_t default_size;
	enum export_state seq[FAKE_SEQ];
	size_t nseq;
	int64_t file_expires, url_expires_ms;
	size_t urls_n;
	int ignore_offset;
	unsigned napplied;
	unsigned napplied_payments; /* applies whose report_type was "payments" */
	struct fake_range_cfg ranges[FAKE_RANGES];
	struct fake_task tasks[FAKE_TASKS];
	int ntasks;
	struct fake_fault_q faults[FAKE_NCALLS][FAKE_FAULTS];
	int nfaults[FAKE_NCALLS];
	struct fake_hold_s holds[FAKE_HOLDS];
	int held;
	int passes[FAKE_NCALLS];
	uint64_t counts[FAKE_NCALLS];
	uint64_t bytes;
	/* fetch mode */
	struct fake_member_s members[FAKE_MEMBERS];
	size_t nmembers;
	char derived[BUNDLE_NAME_MAX]; /* "" = none */
	uint64_t readback;
};

static struct fake *F(struct provider *p)
{
	return p->priv;
}

static int range_eq(const struct date_range *a, const struct date_range *b)
{
	return date_cmp(&a->start, &b->start) == 0 && date_cmp(&a->end, &b->end) == 0;
}

/* Index of the range's config, created if missing; lock held. -1 when full. */
static int range_idx(struct fake *f, const struct date_range *r)
{
	int free_i = -1;

	for (int i = 0; i < FAKE_RANGES; i++) {
		if (f->ranges[i].used && range_eq(&f->ranges[i].r, r))
			return i;
		if (!f->ranges[i].used && free_i < 0)
			free_i = i;
	}
	if (free_i >= 0) {
		memset(&f->ranges[free_i], 0, sizeof(f->ranges[free_i]));
		f->ranges[free_i].used = 1;
		f->ranges[free_i].r = *r;
		f->ranges[free_i].last_task = -1;
	}
	return free_i;
}

static struct fake_task *task_find(struct fake *f, const char *id)
{
	for (int i = 0; i < f->ntasks; i++)
		if (strcmp(f->tasks[i].id, id) == 0)
			return &f->tasks[i];
	return NULL;
}

/* Block while a hold matches; lock held. */
static void hold_wait(struct fake *f, enum fake_call call, const struct date_range *r)
{
	for (;;) {
		int match = 0;
		for (int i = 0; i < FAKE_HOLDS && !match; i++)
			match = f->holds[i].used && f->holds[i].call == call &&
				(!f->holds[i].has_range || (r && range_eq(&f->holds[i].r, r)));
		if (!match)
			return;
		if (f->passes[call] > 0) {
			f->passes[call]--;
			return;
		}
		f->held++;
		pthread_cond_broadcast(&f->cond);
		pthread_cond_wait(&f->cond, &f->lock);
		f->held--;
	}
}

/* Take the next matching fault for a call; lock held. 1 with *out filled, else 0. */
static int fault_take(struct fake *f, enum fake_call call, const struct date_range *r,
		      struct fake_fault_q *out)
{
	for (int i = 0; i < f->nfaults[call]; i++) {
		struct fake_fault_q *q = &f->faults[call][i];
		if (q->has_range && (!r || !range_eq(&q->r, r)))
			continue;
		*out = *q;
		if (--q->f.times <= 0) {
			memmove(q, q + 1, (size_t)(f->nfaults[call] - i - 1) * sizeof(*q));
			f->nfaults[call]--;
		}
		return 1;
	}
	return 0;
}

static void fault_to_err(const struct fake_fault_q *q, struct client_error *err)
{
	client_error_clear(err);
	err->kind = q->f.kind;
	err->retry_after_ms = q->f.retry_after_ms;
	err->sys_errno = q->f.sys_errno;
	snprintf(err->code, sizeof(err->code), "%s", q->code);
	snprintf(err->msg, sizeof(err->msg), "%s",
		 q->msg[0] ? q->msg : client_errkind_name(q->f.kind));
}

/* Enter a call: wait for holds, count, take a fault. Lock held. */
static int call_enter(struct fake *f, enum fake_call call, int ri, struct fake_fault_q *q)
{
	const struct date_range *r = ri >= 0 ? &f->ranges[ri].r : NULL;

	f->counts[call]++;
	if (ri >= 0)
		f->ranges[ri].counts[call]++;
	hold_wait(f, call, r);
	return fault_take(f, call, r, q);
}

static unsigned char *make_content(struct fake *f, int ri, size_t *len)
{
	struct fake_range_cfg *rc = &f->ranges[ri];
	unsigned char *buf;
	size_t n = rc->has_content ? rc->len : f->default_size;

	buf = malloc(n ? n : 1);
	if (!buf)
		return NULL;
	if (rc->has_content) {
		memcpy(buf, rc->content, n);
	} else {
		unsigned seed = (unsigned)(rc->r.start.day * 31 + rc->r.end.day * 7 +
					   rc->r.start.month * 131) +
				f->napplied * 977u;
		for (size_t i = 0; i < n; i++)
			buf[i] = (unsigned char)(seed + i * 13 + (i >> 8) * 7 + (i >> 16));
	}
	*len = n;
	return buf;
}

static int add_task(struct fake *f, const char *id, int ri)
{
	struct fake_task *t;

	if (f->ntasks >= FAKE_TASKS)
		return -1;
	t = &f->tasks[f->ntasks];
	memset(t, 0, sizeof(*t));
	snprintf(t->id, sizeof(t->id), "%s", id);
	t->range = ri;
	t->expires = f->file_expires;
	t->content = make_content(f, ri, &t->len);
	if (!t->content)
		return -1;
	f->ranges[ri].last_task = f->ntasks;
	f->ntasks++;
	return 0;
}

static int fake_check(struct provider *p, const struct export_request *req, int64_t now_s,
		      struct client_error *err)
{
	struct fake *f = F(p);
	struct fake_fault_q q;
	int rc = 0;

	(void)now_s;
	pthread_mutex_lock(&f->lock);
	if (call_enter(f, FAKE_CHECK, range_idx(f, &req->range), &q)) {
		fault_to_err(&q, err);
		rc = -1;
	}
	pthread_mutex_unlock(&f->lock);
	return rc;
}

static int fake_apply(struct provider *p, const struct export_request *req,
		      struct export_task *out, struct client_error *err)
{
	struct fake *f = F(p);
	struct fake_fault_q q;
	char id[64];
	int ri, rc = 0;

	pthread_mutex_lock(&f->lock);
	ri = range_idx(f, &req->range);
	if (call_enter(f, FAKE_APPLY, ri, &q)) {
		fault_to_err(&q, err);
		rc = -1;
		goto out;
	}
	f->napplied++;
	if (req->report_type && strcmp(req->report_type, "payments") == 0)
		f->napplied_payments++;
	snprintf(id, sizeof(id), "task-%u", f->napplied);
	if (ri < 0 || add_task(f, id, ri) != 0) {
		client_error_set(err, CLIENT_E_LOCAL, "fake full");
		rc = -1;
		goto out;
	}
	memset(out, 0, sizeof(*out));
	snprintf(out->id, sizeof(out->id), "%s", id);
	out->state = EXPORT_PENDING;
	out->progress = 0;
	snprintf(out->file_name, sizeof(out->file_name), "Merchant Order List-%s.xlsx", id);
out:
	pthread_mutex_unlock(&f->lock);
	return rc;
}

static int fake_query(struct provider *p, const char *task_id, struct export_task *out,
		      struct client_error *err)
{
	struct fake *f = F(p);
	struct fake_task *t;
	struct fake_fault_q q;
	int rc = 0;

	pthread_mutex_lock(&f->lock);
	t = task_find(f, task_id);
	if (call_enter(f, FAKE_QUERY, t ? t->range : -1, &q)) {
		fault_to_err(&q, err);
		rc = -1;
		goto out;
	}
	if (!t) {
		client_error_set(err, CLIENT_E_NOT_FOUND, "no such task %s", task_id);
		rc = -1;
		goto out;
	}
	{
		struct fake_range_cfg *rcfg = &f->ranges[t->range];
		const enum export_state *seq = rcfg->nseq ? rcfg->seq : f->seq;
		size_t n = rcfg->nseq ? rcfg->nseq : f->nseq;
		size_t i = t->nquery < n ? t->nquery : n - 1;

		t->nquery++;
		memset(out, 0, sizeof(*out));
		snprintf(out->id, sizeof(out->id), "%s", t->id);
		out->state = seq[i];
		out->progress = seq[i] == EXPORT_GENERATED ? 100 : seq[i] == EXPORT_GENERATING ? 50
											      : 0;
		snprintf(out->file_name, sizeof(out->file_name), "Merchant Order List-%s.xlsx",
			 t->id);
		if (seq[i] == EXPORT_GENERATED) {
			out->finish_time = 1779170114;
			out->expires = t->expires;
		}
		snprintf(out->msg, sizeof(out->msg), "%s", export_state_name(seq[i]));
	}
out:
	pthread_mutex_unlock(&f->lock);
	return rc;
}

static int fake_get_urls(struct provider *p, const char *task_id, struct download_url *urls,
			 size_t max, size_t *n, struct client_error *err)
{
	struct fake *f = F(p);
	struct fake_task *t;
	struct fake_fault_q q;
	int rc = 0;

	*n = 0;
	pthread_mutex_lock(&f->lock);
	t = task_find(f, task_id);
	if (call_enter(f, FAKE_URLS, t ? t->range : -1, &q)) {
		fault_to_err(&q, err);
		rc = -1;
		goto out;
	}
	if (!t) {
		client_error_set(err, CLIENT_E_NOT_FOUND, "no such task %s", task_id);
		rc = -1;
		goto out;
	}
	for (size_t i = 0; i < f->urls_n && i < max; i++) {
		snprintf(urls[i].url, sizeof(urls[i].url), "fake://%s", t->id);
		urls[i].expires_ms = f->url_expires_ms;
		(*n)++;
	}
out:
	pthread_mutex_unlock(&f->lock);
	return rc;
}

static int fake_download(struct provider *p, const struct download_url *url, uint64_t offset,
			 const struct download_sink *sink, uint64_t *total,
			 struct client_error *err)
{
	struct fake *f = F(p);
	struct fake_task *t;
	struct fake_fault_q q;
	unsigned char *copy = NULL;
	uint64_t len = 0, stop_at, pos;
	int faulted, rc = -1, srv;

	pthread_mutex_lock(&f->lock);
	t = strncmp(url->url, "fake://", 7) == 0 ? task_find(f, url->url + 7) : NULL;
	faulted = call_enter(f, FAKE_DOWNLOAD, t ? t->range : -1, &q);
	if (!t) {
		client_error_set(err, CLIENT_E_URL_EXPIRED, "unknown url");
		pthread_mutex_unlock(&f->lock);
		return -1;
	}
	if (faulted && q.f.after_bytes == 0) {
		fault_to_err(&q, err);
		pthread_mutex_unlock(&f->lock);
		return -1;
	}
	len = t->len;
	copy = malloc(len ? len : 1);
	if (copy)
		memcpy(copy, t->content, len);
	if (offset > 0 && f->ignore_offset > 0) {
		f->ignore_offset--;
		offset = 0;
	}
	pthread_mutex_unlock(&f->lock);
	if (!copy) {
		client_error_set(err, CLIENT_E_LOCAL, "ENOMEM");
		return -1;
	}
	*total = len;
	if (offset > len) {
		client_error_set(err, CLIENT_E_PROTOCOL, "range not satisfiable");
		goto out;
	}
	if ((srv = sink->begin(sink->ctx, offset, len)) != 0)
		goto sink_err;
	stop_at = faulted ? offset + q.f.after_bytes : len;
	if (stop_at > len)
		stop_at = len;
	for (pos = offset; pos < stop_at;) {
		size_t n = stop_at - pos < FAKE_CHUNK ? (size_t)(stop_at - pos) : FAKE_CHUNK;
		if ((srv = sink->write(sink->ctx, copy + pos, n, pos)) != 0)
			goto sink_err;
		pthread_mutex_lock(&f->lock);
		f->bytes += n;
		pthread_mutex_unlock(&f->lock);
		pos += n;
	}
	if (faulted) {
		fault_to_err(&q, err);
		goto out;
	}
	rc = 0;
	goto out;
sink_err:
	client_error_set(err, srv == -ECANCELED ? CLIENT_E_CANCELLED : CLIENT_E_LOCAL,
			 "sink: %s", strerror(-srv));
	err->sys_errno = -srv;
out:
	free(copy);
	return rc;
}

/* The sink fetch writes through: passes everything to the cache's sink, counts bytes, and
 * cuts the bundle after limit bytes (an injected mid-bundle fault). */
struct cut_sink {
	struct fake *f;
	const struct download_sink *inner;
	uint64_t limit; /* UINT64_MAX = no cut */
	int cut;
};

static int cut_begin(void *ctx, uint64_t offset, uint64_t total)
{
	struct cut_sink *cs = ctx;

	return cs->inner->begin(cs->inner->ctx, offset, total);
}

static int cut_write(void *ctx, const void *buf, size_t len, uint64_t offset)
{
	struct cut_sink *cs = ctx;
	size_t n = len;
	int rc;

	if (cs->limit != UINT64_MAX && offset + len > cs->limit)
		n = offset < cs->limit ? (size_t)(cs->limit - offset) : 0;
	if (n > 0) {
		if ((rc = cs->inner->write(cs->inner->ctx, buf, n, offset)) != 0)
			return rc;
		pthread_mutex_lock(&cs->f->lock);
		cs->f->bytes += n;
		pthread_mutex_unlock(&cs->f->lock);
	}
	if (n < len) {
		cs->cut = 1;
		return -EPIPE;
	}
	return 0;
}

static int cut_read(void *ctx, void *buf, size_t len, uint64_t offset)
{
	struct cut_sink *cs = ctx;

	return cs->inner->read(cs->inner->ctx, buf, len, offset);
}

/* Write one member in FAKE_CHUNK pieces. 0 or the bundle/sink -errno. */
static int fetch_member(struct bundle_writer *w, const char *name, const unsigned char *data,
			size_t len)
{
	int rc = bundle_member_start(w, name);

	for (size_t off = 0; rc == 0 && off < len; off += FAKE_CHUNK)
		rc = bundle_write(w, data + off, len - off < FAKE_CHUNK ? len - off : FAKE_CHUNK);
	return rc ? rc : bundle_member_end(w);
}

static int fake_fetch(struct provider *p, const char *task_id, const struct export_request *req,
		      const struct download_sink *sink, uint64_t *total, struct client_error *err)
{
	struct fake *f = F(p);
	struct fake_task *t;
	struct fake_fault_q q;
	struct fake_member_s m[FAKE_MEMBERS];
	char derived[BUNDLE_NAME_MAX];
	struct date_range r;
	struct cut_sink cs = {f, sink, UINT64_MAX, 0};
	struct download_sink s = {.begin = cut_begin,
				  .write = cut_write,
				  .ctx = &cs,
				  .read = sink->read ? cut_read : NULL,
				  .items = NULL};
	struct bundle_writer w;
	unsigned char *back = NULL;
	size_t n, nitems;
	int faulted, begun = 0, rc = -1, srv = 0;

	(void)req;
	pthread_mutex_lock(&f->lock);
	t = task_find(f, task_id);
	faulted = call_enter(f, FAKE_FETCH, t ? t->range : -1, &q);
	if (faulted && q.f.after_bytes == 0) {
		fault_to_err(&q, err);
		pthread_mutex_unlock(&f->lock);
		return -1;
	}
	if (!t) {
		client_error_set(err, CLIENT_E_NOT_FOUND, "no such task %s", task_id);
		pthread_mutex_unlock(&f->lock);
		return -1;
	}
	r = f->ranges[t->range].r;
	n = f->nmembers;
	memcpy(m, f->members, n * sizeof(*m)); /* the data stays put until destroy */
	snprintf(derived, sizeof(derived), "%s", f->derived);
	pthread_mutex_unlock(&f->lock);
	if (faulted)
		cs.limit = q.f.after_bytes;
	nitems = n + (derived[0] != '\0');

	if ((srv = bundle_begin(&w, &s)) != 0)
		goto sink_err;
	begun = 1;
	if (sink->items)
		sink->items(sink->ctx, 0, nitems);
	for (size_t i = 0; i < nitems; i++) {
		const char *name = i < n ? m[i].name : derived;
		const unsigned char *data = i < n ? m[i].data : back;
		size_t len = i < n ? m[i].len : (n ? m[0].len : 0);
		unsigned char *chk;

		if (i == n && n > 0) {
			/* the derived member: member 0 as read back from the sink */
			back = malloc(m[0].len ? m[0].len : 1);
			if (!back) {
				srv = -ENOMEM;
				goto sink_err;
			}
			if ((srv = bundle_member_read(&w, 0, 0, back, m[0].len)) != 0)
				goto sink_err;
			data = back;
			pthread_mutex_lock(&f->lock);
			f->readback += m[0].len;
			pthread_mutex_unlock(&f->lock);
		}
		if ((srv = fetch_member(&w, name, data, len)) != 0)
			goto sink_err;
		chk = malloc(len ? len : 1);
		if (!chk) {
			srv = -ENOMEM;
			goto sink_err;
		}
		if ((srv = bundle_member_read(&w, w.n - 1, 0, chk, len)) != 0) {
			free(chk);
			goto sink_err;
		}
		if (len && memcmp(chk, data, len) != 0) {
			free(chk);
			client_error_set(err, CLIENT_E_PROTOCOL, "read-back mismatch in %s", name);
			goto out;
		}
		free(chk);
		pthread_mutex_lock(&f->lock);
		f->readback += len;
		pthread_mutex_unlock(&f->lock);
		if (sink->items)
			sink->items(sink->ctx, i + 1, nitems);
		pthread_mutex_lock(&f->lock);
		f->counts[FAKE_FETCH_MID]++;
		f->ranges[t->range].counts[FAKE_FETCH_MID]++;
		hold_wait(f, FAKE_FETCH_MID, &r);
		pthread_mutex_unlock(&f->lock);
	}
	if ((srv = bundle_finish(&w, total)) != 0)
		goto sink_err;
	if (faulted) { /* the fault's byte count lies past the end: fail after the whole bundle */
		fault_to_err(&q, err);
		goto out;
	}
	rc = 0;
	goto out;
sink_err:
	if (cs.cut)
		fault_to_err(&q, err);
	else if (srv == -ECANCELED)
		client_error_set(err, CLIENT_E_CANCELLED, "sink: %s", strerror(-srv));
	else if (srv == -EINVAL || srv == -E2BIG || srv == -ENOTSUP)
		client_error_set(err, CLIENT_E_PROTOCOL, "bundle: %s", strerror(-srv));
	else {
		client_error_set(err, CLIENT_E_LOCAL, "sink: %s", strerror(-srv));
		err->sys_errno = -srv;
	}
out:
	if (begun)
		bundle_writer_free(&w);
	free(back);
	return rc;
}

static void fake_destroy(struct provider *p)
{
	struct fake *f = F(p);

	for (int i = 0; i < f->ntasks; i++)
		free(f->tasks[i].content);
	for (int i = 0; i < FAKE_RANGES; i++)
		free(f->ranges[i].content);
	for (size_t i = 0; i < f->nmembers; i++)
		free(f->members[i].data);
	pthread_mutex_destroy(&f->lock);
	pthread_cond_destroy(&f->cond);
	free(f);
	free(p);
}

static const struct provider_ops fake_ops = {
	.check = fake_check,
	.apply = fake_apply,
	.query = fake_query,
	.get_urls = fake_get_urls,
	.download = fake_download,
	.destroy = fake_destroy,
};

/* The same provider with fetch (fake_set_fetch): the cache fetches bundles instead. */
static const struct provider_ops fake_fetch_ops = {
	.check = fake_check,
	.apply = fake_apply,
	.query = fake_query,
	.get_urls = fake_get_urls,
	.download = fake_download,
	.fetch = fake_fetch,
	.destroy = fake_destroy,
};

static const struct provider_type fake_types[] = {{"order", "orders", "xlsx", NULL, NULL},
						 {"payments", "payments", "xlsx", NULL, NULL}};

void fake_set_two_types(struct provider *p)
{
	p->ntypes = 2;
}

unsigned fake_applied_payments(struct provider *p)
{
	struct fake *f = F(p);

	pthread_mutex_lock(&f->lock);
	unsigned n = f->napplied_payments;
	pthread_mutex_unlock(&f->lock);
	return n;
}

struct provider *fake_provider_new(void)
{
	struct provider *p = calloc(1, sizeof(*p));
	struct fake *f = calloc(1, sizeof(*f));

	if (!p || !f) {
		free(p);
		free(f);
		return NULL;
	}
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cond, NULL);
	f->default_size = 100000;
	f->seq[0] = EXPORT_PENDING;
	f->seq[1] = EXPORT_GENERATING;
	f->seq[2] = EXPORT_GENERATED;
	f->nseq = 3;
	f->urls_n = 1;
	p->ops = &fake_ops;
	p->name = "vexora";
	snprintf(p->account, sizeof(p->account), "M100200");
	p->max_range_days = 7;
	p->window_months = 3;
	p->types = fake_types;
	p->ntypes = 1;
	p->priv = f;
	return p;
}

void fake_set_fetch(struct provider *p, const struct fake_member *m, size_t n,
		    const char *derived)
{
	struct fake *f = F(p);

	if (n > FAKE_MEMBERS)
		n = FAKE_MEMBERS;
	pthread_mutex_lock(&f->lock);
	for (size_t i = 0; i < f->nmembers; i++)
		free(f->members[i].data);
	f->nmembers = 0;
	for (size_t i = 0; i < n; i++) {
		struct fake_member_s *d = &f->members[f->nmembers];
		d->data = malloc(m[i].len ? m[i].len : 1);
		if (!d->data)
			break;
		if (m[i].len)
			memcpy(d->data, m[i].data, m[i].len);
		d->len = m[i].len;
		snprintf(d->name, sizeof(d->name), "%s", m[i].name);
		f->nmembers++;
	}
	snprintf(f->derived, sizeof(f->derived), "%s", derived ? derived : "");
	p->ops = &fake_fetch_ops;
	pthread_mutex_unlock(&f->lock);
}

uint64_t fake_fetch_readback(struct provider *p)
{
	struct fake *f = F(p);
	uint64_t n;

	pthread_mutex_lock(&f->lock);
	n = f->readback;
	pthread_mutex_unlock(&f->lock);
	return n;
}

void fake_set_default_size(struct provider *p, size_t len)
{
	struct fake *f = F(p);

	pthread_mutex_lock(&f->lock);
	f->default_size = len;
	pthread_mutex_unlock(&f->lock);
}

void fake_set_content(struct provider *p, const struct date_range *r, const void *data,
		      size_t len)
{
	struct fake *f = F(p);
	int ri;

	pthread_mutex_lock(&f->lock);
	ri = range_idx(f, r);
	if (ri >= 0) {
		free(f->ranges[ri].content);
		f->ranges[ri].content = malloc(len ? len : 1);
		if (f->ranges[ri].content) {
			memcpy(f->ranges[ri].content, data, len);
			f->ranges[ri].len = len;
			f->ranges[ri].has_content = 1;
		}
	}
	pthread_mutex_unlock(&f->lock);
}

void fake_set_statuses(struct provider *p, const struct date_range *r,
		       const enum export_state *seq, size_t n)
{
	struct fake *f = F(p);

	if (n == 0 || n > FAKE_SEQ)
		return;
	pthread_mutex_lock(&f->lock);
	if (!r) {
		memcpy(f->seq, seq, n * sizeof(*seq));
		f->nseq = n;
	} else {
		int ri = range_idx(f, r);
		if (ri >= 0) {
			memcpy(f->ranges[ri].seq, seq, n * sizeof(*seq));
			f->ranges[ri].nseq = n;
		}
	}
	pthread_mutex_unlock(&f->lock);
}

void fake_set_file_expires(struct provider *p, int64_t expires_s)
{
	struct fake *f = F(p);

	pthread_mutex_lock(&f->lock);
	f->file_expires = expires_s;
	pthread_mutex_unlock(&f->lock);
}

void fake_set_url_expires_ms(struct provider *p, int64_t expires_ms)
{
	struct fake *f = F(p);

	pthread_mutex_lock(&f->lock);
	f->url_expires_ms = expires_ms;
	pthread_mutex_unlock(&f->lock);
}

void fake_set_urls_n(struct provider *p, size_t n)
{
	struct fake *f = F(p);

	pthread_mutex_lock(&f->lock);
	f->urls_n = n;
	pthread_mutex_unlock(&f->lock);
}

void fake_set_ignore_offset(struct provider *p, int n)
{
	struct fake *f = F(p);

	pthread_mutex_lock(&f->lock);
	f->ignore_offset = n;
	pthread_mutex_unlock(&f->lock);
}

void fake_inject(struct provider *p, enum fake_call call, const struct fake_fault *flt)
{
	struct fake *f = F(p);

	pthread_mutex_lock(&f->lock);
	if (f->nfaults[call] < FAKE_FAULTS) {
		struct fake_fault_q *q = &f->faults[call][f->nfaults[call]++];
		memset(q, 0, sizeof(*q));
		q->f = *flt;
		if (q->f.times < 1)
			q->f.times = 1;
		if (flt->range) {
			q->has_range = 1;
			q->r = *flt->range;
		}
		q->f.range = NULL;
		q->f.code = q->f.msg = NULL;
		snprintf(q->code, sizeof(q->code), "%s", flt->code ? flt->code : "");
		snprintf(q->msg, sizeof(q->msg), "%s", flt->msg ? flt->msg : "");
	}
	pthread_mutex_unlock(&f->lock);
}

void fake_add_task(struct provider *p, const char *id, const struct date_range *r)
{
	struct fake *f = F(p);
	int ri;

	pthread_mutex_lock(&f->lock);
	ri = range_idx(f, r);
	if (ri >= 0)
		add_task(f, id, ri);
	pthread_mutex_unlock(&f->lock);
}

static long copy_content(const struct fake_task *t, void *out, size_t max)
{
	if (!t)
		return -1;
	memcpy(out, t->content, t->len < max ? t->len : max);
	return (long)t->len;
}

long fake_task_content(struct provider *p, const char *id, void *out, size_t max)
{
	struct fake *f = F(p);
	long n;

	pthread_mutex_lock(&f->lock);
	n = copy_content(task_find(f, id), out, max);
	pthread_mutex_unlock(&f->lock);
	return n;
}

long fake_range_content(struct provider *p, const struct date_range *r, void *out, size_t max)
{
	struct fake *f = F(p);
	long n = -1;
	int ri;

	pthread_mutex_lock(&f->lock);
	ri = range_idx(f, r);
	if (ri >= 0 && f->ranges[ri].last_task >= 0)
		n = copy_content(&f->tasks[f->ranges[ri].last_task], out, max);
	pthread_mutex_unlock(&f->lock);
	return n;
}

void fake_hold(struct provider *p, enum fake_call call, const struct date_range *r)
{
	struct fake *f = F(p);

	pthread_mutex_lock(&f->lock);
	for (int i = 0; i < FAKE_HOLDS; i++) {
		if (f->holds[i].used)
			continue;
		f->holds[i].used = 1;
		f->holds[i].call = call;
		f->holds[i].has_range = r != NULL;
		if (r)
			f->holds[i].r = *r;
		break;
	}
	pthread_mutex_unlock(&f->lock);
}

void fake_release(struct provider *p, enum fake_call call)
{
	struct fake *f = F(p);

	pthread_mutex_lock(&f->lock);
	for (int i = 0; i < FAKE_HOLDS; i++)
		if (f->holds[i].used && f->holds[i].call == call)
			f->holds[i].used = 0;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

void fake_step(struct provider *p, enum fake_call call)
{
	struct fake *f = F(p);

	pthread_mutex_lock(&f->lock);
	f->passes[call]++;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

int64_t fake_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int fake_wait_held(struct provider *p, int n, int timeout_ms)
{
	struct fake *f = F(p);
	int64_t until = fake_mono_ms() + timeout_ms;
	int rc = 0;

	pthread_mutex_lock(&f->lock);
	while (f->held < n) {
		struct timespec ts;
		if (fake_mono_ms() >= until) {
			rc = -1;
			break;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 10 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&f->cond, &f->lock, &ts);
	}
	pthread_mutex_unlock(&f->lock);
	return rc;
}

int fake_held(struct provider *p)
{
	struct fake *f = F(p);
	int n;

	pthread_mutex_lock(&f->lock);
	n = f->held;
	pthread_mutex_unlock(&f->lock);
	return n;
}

uint64_t fake_count(struct provider *p, enum fake_call call)
{
	struct fake *f = F(p);
	uint64_t n;

	pthread_mutex_lock(&f->lock);
	n = f->counts[call];
	pthread_mutex_unlock(&f->lock);
	return n;
}

uint64_t fake_count_range(struct provider *p, enum fake_call call, const struct date_range *r)
{
	struct fake *f = F(p);
	uint64_t n = 0;
	int ri;

	pthread_mutex_lock(&f->lock);
	ri = range_idx(f, r);
	if (ri >= 0)
		n = f->ranges[ri].counts[call];
	pthread_mutex_unlock(&f->lock);
	return n;
}

uint64_t fake_bytes(struct provider *p)
{
	struct fake *f = F(p);
	uint64_t n;

	pthread_mutex_lock(&f->lock);
	n = f->bytes;
	pthread_mutex_unlock(&f->lock);
	return n;
}

void fake_tmpdir(char *out, size_t n)
{
	const char *t = getenv("TMPDIR");

	snprintf(out, n, "%s/orderfs-cache-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(out))
		out[0] = '\0';
}

void fake_rmrf(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;

	if (!d) {
		unlink(path);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		char sub[4096];
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name) >= (int)sizeof(sub))
			continue;
		fake_rmrf(sub);
	}
	closedir(d);
	rmdir(path);
}

struct date_range fake_range(const char *a, const char *b)
{
	struct date_range r;

	memset(&r, 0, sizeof(r));
	date_parse(a, strlen(a), &r.start);
	date_parse(b, strlen(b), &r.end);
	return r;
}
