/*
 * The fill pool (pool.c): the worker threads that run queued flights, their slots and fair
 * turns. It runs a flight through the function pool_start is given (fill_run), so it knows
 * nothing of what a flight does; a flight borrows and gives back its slots here.
 */
#ifndef ORDERFS_CACHE_POOL_H
#define ORDERFS_CACHE_POOL_H

#include "../internal.h"

/* --- pool.c: fill workers --- */

/* Queue a flight for e (caller holds cache->lock, e->filling is 0, e has a kind). Sets
 * QUEUED, and starts a worker when none is idle (pool_grow). A worker takes, among the
 * queued flights whose source is below its max_exports, one of the source running the
 * fewest, the oldest of its requester's (pool.c). */
void pool_enqueue(struct cache *c, struct entry *e);
/* A worker more for a flight that may start now, when none is idle and the pool is below
 * its bound (max_exports + lent + given-back slots); not when stopping. cache->lock held.
 * A worker that cannot be started is logged; the queued flight waits for the next one. */
void pool_grow(struct cache *c);
/* Queue a flight that polls e's saved task (never re-applies) when e has a kind and was left
 * mid-export (APPLIED, GENERATING, DOWNLOADING) with no flight. cache->lock held. */
void pool_resume(struct cache *c, struct entry *e);

/* Drop e's flight if it is still in the queue (not started), has not applied for a task, and
 * nobody wants it any more: no waiter, not a prefetch's. Its waiters' flight ends with
 * -ECANCELED and e goes back to the state it had. 1 if dropped, else 0. cache->lock held. */
int pool_drop_unwanted(struct cache *c, struct entry *e);
/* What a worker runs for a queued flight e, without locks: 0 when e turned READY, else -errno
 * (fill_run). */
typedef int pool_run_fn(struct cache *c, struct entry *e);
/* Set the pool up to run its flights with run (before the first pool_enqueue; no lock
 * needed then). Nothing starts: workers come with the first flight (pool_enqueue). Always
 * 0. */
int pool_start(struct cache *c, pool_run_fn *run);
/* A flight of s begins waiting for its provider to open: its slot is lent to other sources'
 * flights meanwhile (a worker thread more when needed). cache->lock held. */
void pool_lend(struct cache *c, struct cache_source *s);
/* Its wait ended: with take, take a slot back, waiting on cache->wake while other sources'
 * flights hold them all (not when stopping); without (the flight stops), just end the loan.
 * cache->lock held, dropped while waiting. */
void pool_unlend(struct cache *c, struct cache_source *s, int take);
/* Join the workers; cache->stopping must be set and broadcast first. */
void pool_join(struct cache *c);
/* e's export is generated at the provider: its flight gives its slot of max_exports (and of
 * its source's cap) back, so the next queued export applies while this one downloads. At
 * most max_exports flights download so; past that the flight keeps its slot. Only for
 * providers whose exports run at the server (provider->shared_tasks). cache->lock held. */
void pool_give_back(struct cache *c, struct entry *e);
/* Take e's slot again (its task is gone and it must apply anew), waiting for one to be free.
 * No-op when the slot was not given back. cache->lock held. */
void pool_take_back(struct cache *c, struct entry *e);

#endif
