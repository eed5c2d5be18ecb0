/*
 * The shared store's uploads (design note in shared.c): one job per file a flight got from the
 * provider, run by one uploader thread per cache: the object, then its pointer. A job that
 * failed for a reason a retry may fix (the store unreachable, killed, 5xx, a timeout) is
 * retried with backoff (1, 2, 4, 8, then every 16 s) for as long as its file is in the cache
 * and the mount runs: a store down for minutes gets the file once it is back (the job used to
 * be dropped after 5 tries, 15 s). Any other failure (403, the file evicted) drops it with one
 * log line. Readers never wait for it.
 */
#include "../fill/fill.h"
#include "shared.h"
#include "../entry/shared_pointer.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../client/interrupt.h"
#include "../../client/store/s3.h"
#include "../../client/store/s3_pointer.h"
#include "../../common/clock.h"
#include "../../common/log.h"

#define UPLOAD_BACKOFF_MS 1000
#define UPLOAD_BACKOFF_MAX_SHIFT 4 /* 16 s between tries at most */
#define UPLOAD_LOG_EVERY 16	   /* a long outage: one log line per this many tries */

struct shared_job {
	struct shared_job *next;
	struct cache_source *src;
	struct cache_kind *kind; /* its counters */
	char hash[KEY_HASH_LEN]; /* the entry's files */
	char range[DATE_RANGE_STR_LEN];
	char object[S3_KEY_MAX];
	char pointer[S3_KEY_MAX];
	char json[S3_POINTER_JSON_MAX];
	char sha256[S3_SHA256_HEX];
	uint64_t size;
	struct s3_resume resume; /* a multipart upload left open by a failed try */
	int tries;
	int64_t due_ms; /* monotonic */
};

/* The job for the flight's committed file; NULL when it cannot be shared. */
static struct shared_job *shared_job_new(struct fill *f)
{
	struct shared_job *j = calloc(1, sizeof(*j));
	struct s3_pointer p = {0};
	int complete;
	int64_t until;

	if (!j)
		return NULL;
	pthread_mutex_lock(&f->c->lock);
	entry_freshness(f->c, f->e, &complete, &until);
	entry_sha256_hex(&f->e->info, p.sha256);
	p.size = (int64_t)f->e->info.size;
	p.as_of = f->e->info.applied_time ? f->e->info.applied_time : f->e->info.ready_time;
	p.complete = complete;
	p.expires = f->e->info.expires;
	if (f->p->shared_tasks) /* a local job's id means nothing to another host */
		snprintf(p.task_id, sizeof(p.task_id), "%s", f->e->info.task_id);
	pthread_mutex_unlock(&f->c->lock);
	snprintf(p.writer, sizeof(p.writer), "%s", f->src->store_writer);
	j->src = f->src;
	j->kind = f->e->kind;
	j->size = (uint64_t)p.size;
	snprintf(j->hash, sizeof(j->hash), "%s", entry_hex(f->e).s);
	snprintf(j->range, sizeof(j->range), "%s", f->range_str);
	snprintf(j->sha256, sizeof(j->sha256), "%s", p.sha256);
	if (shared_pointer_key(f->e, f->c->cfg.language, j->pointer) != 0 ||
	    shared_object_key(f->src, p.sha256, j->object) != 0 ||
	    s3_pointer_to_json(&p, j->json, sizeof(j->json)) < 0) {
		free(j);
		return NULL;
	}
	return j;
}

/* One try of job j: the object, then its pointer. 0 or -1 with *err. */
static int shared_upload(struct cache *c, struct shared_job *j, struct client_error *err)
{
	char path[PATH_MAX];
	struct stat st;
	int fd, rc;

	store_path(&c->store, j->hash, ".data", path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0 || (uint64_t)st.st_size != j->size) {
		if (fd >= 0)
			close(fd);
		client_error_set(err, CLIENT_E_LOCAL, "the file left the cache before its upload");
		return -1;
	}
	rc = s3_put_file_resumable(j->src->store, j->object, fd, j->size, j->sha256, &j->resume,
				   NULL, err);
	close(fd);
	if (rc == 0)
		rc = s3_put_small(j->src->store, j->pointer, j->json, strlen(j->json),
				  "application/json", err);
	return rc;
}

/* Run job j once; requeue it for a retry or free it. cache->lock not held. */
static void shared_run_job(struct cache *c, struct shared_job *j)
{
	struct client_error err;
	int rc, tries = 0;

	client_error_clear(&err);
	rc = shared_upload(c, j, &err);
	pthread_mutex_lock(&c->lock);
	if (rc == 0) {
		j->kind->counts.n_store_uploads++;
		j->src->store_error[0] = '\0';
		atomic_fetch_add(&j->kind->counts.n_store_bytes, j->size);
	} else if (err.kind != CLIENT_E_LOCAL) {
		j->kind->counts.n_store_errors++;
		if (err.kind == CLIENT_E_AUTH)
			j->kind->counts.n_store_auth++;
		snprintf(j->src->store_error, sizeof(j->src->store_error), "%s", err.msg);
	}
	if (rc != 0 && client_error_retryable(&err) && !c->stopping) {
		int shift = j->tries < UPLOAD_BACKOFF_MAX_SHIFT ? j->tries : UPLOAD_BACKOFF_MAX_SHIFT;
		tries = ++j->tries;
		j->due_ms = cache_mono_ms() + ((int64_t)UPLOAD_BACKOFF_MS << shift);
		j->next = c->uploads;
		c->uploads = j;
		j = NULL;
	}
	pthread_mutex_unlock(&c->lock);
	if (j)
		s3_resume_abort(j->src->store, j->object, &j->resume); /* done or given up */
	if (rc == 0)
		log_info("cache: %s: uploaded to the shared store as %s", j->range, j->object);
	else if (j)
		log_warn("cache: %s: uploading to the shared store failed, given up: %s",
			 j->range, err.msg);
	else if (tries % UPLOAD_LOG_EVERY == 1)
		log_notice("cache: shared store upload failed (%d tries), retrying: %s", tries,
			   err.msg);
	free(j);
}

/* The due job that was queued first, taken off the queue; else NULL with *wait_ms until the
 * next is due (-1: none queued). cache->lock held. */
static struct shared_job *shared_next(struct cache *c, int64_t *wait_ms)
{
	struct shared_job **pp, **pick = NULL, *j;
	int64_t now = cache_mono_ms();

	*wait_ms = -1;
	for (pp = &c->uploads; *pp; pp = &(*pp)->next) {
		if ((*pp)->due_ms <= now)
			pick = pp; /* the list is newest first: the last due one is the oldest */
		else if (*wait_ms < 0 || (*pp)->due_ms - now < *wait_ms)
			*wait_ms = (*pp)->due_ms - now;
	}
	if (!pick)
		return NULL;
	j = *pick;
	*pick = j->next;
	return j;
}

/* An upload in flight stops at unmount (interrupt.h): its file stays in the cache. */
static int shared_stopped(void *arg)
{
	struct cache *c = arg;
	int stop;

	pthread_mutex_lock(&c->lock);
	stop = c->stopping;
	pthread_mutex_unlock(&c->lock);
	return stop;
}

static int shared_sleep(void *arg, long ms)
{
	(void)ms;
	return shared_stopped(arg); /* the store client never sleeps: no retry loop of its own */
}

static void *shared_uploader(void *arg)
{
	struct cache *c = arg;
	struct client_interrupt in = {shared_sleep, shared_stopped, c};
	struct shared_job *j;
	struct timespec ts;
	int64_t wait_ms;

	client_interrupt_bind(&in);
	pthread_mutex_lock(&c->lock);
	while (!c->stopping) {
		if (!(j = shared_next(c, &wait_ms))) {
			if (wait_ms < 0) {
				pthread_cond_wait(&c->upload_wake, &c->lock);
			} else {
				clock_mono_deadline(&ts, wait_ms);
				pthread_cond_timedwait(&c->upload_wake, &c->lock, &ts);
			}
			continue;
		}
		pthread_mutex_unlock(&c->lock);
		shared_run_job(c, j);
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

void fill_to_store(struct fill *f)
{
	struct cache *c = f->c;
	struct shared_job *j;

	if (!f->src->store)
		return;
	if (!(j = shared_job_new(f))) {
		log_warn("cache: %s: cannot be shared through the store (a key field it cannot "
			 "hold, or out of memory)", f->range_str);
		return;
	}
	pthread_mutex_lock(&c->lock);
	f->e->in_store = 1;
	if (c->stopping) {
		pthread_mutex_unlock(&c->lock);
		free(j);
		return;
	}
	if (!c->uploader_started) {
		if (pthread_create(&c->uploader, NULL, shared_uploader, c) != 0) {
			pthread_mutex_unlock(&c->lock);
			log_warn("cache: %s: cannot start the shared store's uploader",
				 f->range_str);
			free(j);
			return;
		}
		c->uploader_started = 1;
	}
	j->due_ms = cache_mono_ms();
	j->next = c->uploads;
	c->uploads = j;
	pthread_cond_broadcast(&c->upload_wake);
	pthread_mutex_unlock(&c->lock);
}

void shared_stop(struct cache *c)
{
	struct shared_job *j;

	if (c->uploader_started)
		pthread_join(c->uploader, NULL);
	c->uploader_started = 0;
	pthread_mutex_lock(&c->lock);
	while ((j = c->uploads)) {
		c->uploads = j->next;
		free(j);
	}
	pthread_mutex_unlock(&c->lock);
}
