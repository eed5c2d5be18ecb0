/*
 * cache/fleet/: the cache's side of fleet mode (the coordination itself is client/fleet/).
 *
 *   fill_fleet.c  a flight's part: claim the range, hold it (apply, write the record) or
 *                 follow the holder's record, run alone while etcd is out, check the file's
 *                 SHA-256 against the holder's, take the holder's file from the shared store
 *   fleet_rate.c  the fleet's request cap shared by its live members (one thread)
 *
 * The driver (../fill_run.c) calls fill_fleet.c, which calls the flight's own acts
 * (../fill/flight.c) and the shared store (../shared/); the commit reaches fill_fleet_check
 * only through the flight's check_file. Each call is a no-op for a source without fleet mode.
 */
#ifndef ORDERFS_CACHE_FLEET_H
#define ORDERFS_CACHE_FLEET_H

#include "../internal.h"

struct fill;

/* --- fill_fleet.c: fleet mode's part of a flight (each is a no-op without fleet mode) --- */

/* Get the flight a task: without fleet mode, apply when there is none. In fleet mode, claim
 * (FILL_FROM_STORE: a host that syncs its files itself found the file another host made in
 * the shared store: READY, no task needed.) ...
 * the range: the holder resumes the record's task or applies (in a fleet slot) and writes
 * the record; a follower waits on the holder's record and takes its task once generated;
 * with etcd unreachable past one TTL, run alone (or fail -EAGAIN with fleet_refuse).
 * *fresh = 1 when the task was just applied for. 0, or -errno (f->err set). */
int fill_fleet_task(struct fill *f, int *fresh);
/* The holder tells the fleet the task's state (GENERATING, GENERATED with its expiry,
 * NO_DATA). */
void fill_fleet_state(struct fill *f, enum export_state st);
/* The flight's check_file (fill_commit, before a file goes READY): when another host's record
 * gives the file's SHA-256, sha must match it (waiting a little for the holder to write it).
 * 0, or -EIO (f->err set). */
int fill_fleet_check(struct fill *f, const char *sha);
/* A follower that took the holder's task: wait for the holder's verified file to be named in
 * the record (as fill_fleet_check does), then its SHA-256 into sha and its size into *size:
 * 1. 0 when there is none to wait for (not a follower, the holder is gone and this host holds
 * the range now, or it runs alone); -ETIMEDOUT, -EAGAIN, -ECANCELED as fill_fleet_check. */
int fill_fleet_holder_file(struct fill *f, char sha[65], int64_t *size);
/* Fleet mode, a follower whose task is generated: rather than downloading from the provider,
 * take the holder's file from the store once the holder's record names it (its SHA-256) and
 * the holder's upload is there (fill_from_store_object). 0 (READY), FILL_STORE_MISS (no
 * store, not a follower, or go on with the provider's download URL), or -errno. */
int fill_follow_from_store(struct fill *f);
/* The task was found gone (re-apply): never adopt it again in this flight. */
void fill_fleet_task_gone(struct fill *f);
/* The flight ended with rc: the holder writes the outcome and gives back claim and slot. */
void fill_fleet_done(struct fill *f, int rc);

/* --- fill_fleet.c: the fleet forgets a range (rmdir) --- */
/* In fleet mode, drops the fleet's record of key so the next read on any host exports anew
 * (once: the claim still decides who). Best effort: a failure is logged. No lock held. */
void fill_fleet_forget(struct cache_source *src, const struct cache_key *key);

/* --- fleet_rate.c: the fleet's request cap, shared by its live members --- */

/* When src has fleet mode and a rate cap: give its provider the whole cap / members now (before
 * its first request), and start the thread that re-counts the members of every such source
 * every second or so, unless it runs. No locks held. 0 or -errno. */
int fleet_rate_start(struct cache *c, struct cache_source *src);
/* Stop it (cache->stopping set and broadcast first). */
void fleet_rate_stop(struct cache *c);

#endif
