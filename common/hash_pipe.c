/* A SHA-256 on its own thread behind a bounded ring of copied slots (see hash_pipe.h). */
#include "hash_pipe.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#define PIPE_SLOTS 4
#define PIPE_SLOT (256u << 10) /* one curl read (CURLOPT_BUFFERSIZE) fits one slot */

/*
 * The ring: slots [taken, filled) are queued for the thread, slot filled % PIPE_SLOTS is the
 * one the feeder is filling (fill_len bytes). lock protects every field below it; the digest
 * itself belongs to the thread while it hashes and to the feeder once the ring is drained.
 */
struct hash_pipe {
	pthread_t thread;
	EVP_MD_CTX *md;
	unsigned char *slot[PIPE_SLOTS];
	size_t slot_len[PIPE_SLOTS];
	size_t fill_len;
	pthread_mutex_t lock;
	pthread_cond_t queued;  /* the thread waits for work */
	pthread_cond_t drained; /* the feeder waits for a free slot or an empty ring */
	unsigned long filled;   /* slots handed to the thread so far */
	unsigned long taken;    /* slots the thread has finished */
	int failed;             /* a digest call failed: every later call says -EIO */
	int stop;
};

static void *hash_pipe_main(void *arg)
{
	struct hash_pipe *hp = arg;

	pthread_mutex_lock(&hp->lock);
	for (;;) {
		while (hp->taken == hp->filled && !hp->stop)
			pthread_cond_wait(&hp->queued, &hp->lock);
		if (hp->taken == hp->filled)
			break; /* stop, nothing left */
		unsigned i = (unsigned)(hp->taken % PIPE_SLOTS);
		pthread_mutex_unlock(&hp->lock);
		int ok = EVP_DigestUpdate(hp->md, hp->slot[i], hp->slot_len[i]);
		pthread_mutex_lock(&hp->lock);
		if (!ok)
			hp->failed = 1;
		hp->taken++;
		pthread_cond_signal(&hp->drained);
	}
	pthread_mutex_unlock(&hp->lock);
	return NULL;
}

/* Free what hash_pipe_new allocated (its thread stopped or never started). */
static void hash_pipe_release(struct hash_pipe *hp)
{
	for (int i = 0; i < PIPE_SLOTS; i++)
		free(hp->slot[i]);
	EVP_MD_CTX_free(hp->md);
	pthread_cond_destroy(&hp->drained);
	pthread_cond_destroy(&hp->queued);
	pthread_mutex_destroy(&hp->lock);
	free(hp);
}

struct hash_pipe *hash_pipe_new(void)
{
	struct hash_pipe *hp = calloc(1, sizeof(*hp));
	int i, r;

	if (!hp)
		return NULL;
	pthread_mutex_init(&hp->lock, NULL);
	pthread_cond_init(&hp->queued, NULL);
	pthread_cond_init(&hp->drained, NULL);
	hp->md = EVP_MD_CTX_new();
	if (!hp->md || !EVP_DigestInit_ex(hp->md, EVP_sha256(), NULL))
		goto fail;
	for (i = 0; i < PIPE_SLOTS; i++)
		if (!(hp->slot[i] = malloc(PIPE_SLOT)))
			goto fail;
	if ((r = pthread_create(&hp->thread, NULL, hash_pipe_main, hp)) != 0) {
		errno = r;
		goto fail_nothread;
	}
	return hp;
fail:
	errno = ENOMEM;
fail_nothread:
	hash_pipe_release(hp);
	return NULL;
}

/* Hand the slot being filled to the thread, waiting for room first. Lock held. */
static void hash_pipe_submit_locked(struct hash_pipe *hp)
{
	if (hp->fill_len == 0)
		return;
	hp->slot_len[hp->filled % PIPE_SLOTS] = hp->fill_len;
	hp->filled++;
	hp->fill_len = 0;
	pthread_cond_signal(&hp->queued);
	/* The next slot to fill must not be one the thread still reads. */
	while (hp->filled - hp->taken >= PIPE_SLOTS)
		pthread_cond_wait(&hp->drained, &hp->lock);
}

int hash_pipe_feed(struct hash_pipe *hp, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	int rc;

	pthread_mutex_lock(&hp->lock);
	while (len > 0 && !hp->failed) {
		unsigned char *dst = hp->slot[hp->filled % PIPE_SLOTS];
		size_t n = PIPE_SLOT - hp->fill_len < len ? PIPE_SLOT - hp->fill_len : len;
		/* The slot being filled is the feeder's alone: copy outside the lock. */
		pthread_mutex_unlock(&hp->lock);
		memcpy(dst + hp->fill_len, p, n);
		pthread_mutex_lock(&hp->lock);
		hp->fill_len += n;
		p += n;
		len -= n;
		if (hp->fill_len == PIPE_SLOT)
			hash_pipe_submit_locked(hp);
	}
	rc = hp->failed ? -EIO : 0;
	pthread_mutex_unlock(&hp->lock);
	return rc;
}

/* Queue the partial slot and wait until the thread has hashed everything. Lock held. */
static void hash_pipe_drain_locked(struct hash_pipe *hp)
{
	hash_pipe_submit_locked(hp);
	while (hp->taken != hp->filled)
		pthread_cond_wait(&hp->drained, &hp->lock);
}

int hash_pipe_reset(struct hash_pipe *hp)
{
	int rc = 0;

	pthread_mutex_lock(&hp->lock);
	hash_pipe_drain_locked(hp);
	if (!EVP_DigestInit_ex(hp->md, EVP_sha256(), NULL))
		rc = -EIO;
	hp->failed = rc != 0;
	pthread_mutex_unlock(&hp->lock);
	return rc;
}

int hash_pipe_final(struct hash_pipe *hp, unsigned char md[32])
{
	unsigned int len = 0;
	int rc = 0;

	pthread_mutex_lock(&hp->lock);
	hash_pipe_drain_locked(hp);
	if (hp->failed || !EVP_DigestFinal_ex(hp->md, md, &len) || len != 32)
		rc = -EIO;
	hp->failed = 1; /* finalised: only a reset makes it usable again */
	pthread_mutex_unlock(&hp->lock);
	return rc;
}

void hash_pipe_free(struct hash_pipe *hp)
{
	if (!hp)
		return;
	pthread_mutex_lock(&hp->lock);
	hp->stop = 1;
	pthread_cond_signal(&hp->queued);
	pthread_mutex_unlock(&hp->lock);
	pthread_join(hp->thread, NULL);
	hash_pipe_release(hp);
}
