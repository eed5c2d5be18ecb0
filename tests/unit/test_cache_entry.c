/*
 * What one cached entry costs in memory. A mount of 1,000 accounts keeps 100,000 entries, so
 * an entry holds what it needs in the size it needs: its key's text is its kind's (an orphan
 * points at one text shared by the orphans of its account), its strings are sized to their
 * content, its error and the file a refresh replaces are allocated only while they exist.
 * The round trips check that nothing a .meta says is lost on the way.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../cache/cache.h"
#include "../../cache/entry/entry.h"
#include "fake_provider.h"
#include "tmp_dir.h"

/*
 * The budget of one entry: 376 bytes on x86-64 (2,840 before entries were made compact).
 * A field added to struct entry must fit it, or move where it is needed only sometimes
 * (a flight, a refresh); raising it takes a look at the 1,000 x 100,000 bench row.
 */
#define ENTRY_BYTES_MAX 376

static void test_entry_fits_its_budget(void **state)
{
	(void)state;
	assert_true(sizeof(struct entry) <= ENTRY_BYTES_MAX);
	assert_true(sizeof(struct entry_info) < sizeof(struct cache_info) / 4);
}

static struct cache *cache_in_tmp(void)
{
	struct cache_config cfg;
	struct cache *c;
	int err = 0;

	memset(&cfg, 0, sizeof(cfg));
	cfg.dir = tmp_dir;
	cfg.language = "en-US";
	c = cache_new(&cfg, NULL, &err);
	assert_non_null(c);
	return c;
}

/* A READY .meta of another account (an orphan here), with an error recorded. */
static void ready_meta(struct store_meta *m, char hash[KEY_HASH_LEN])
{
	struct date_range r = fake_range("2026-05-18", "2026-05-19");

	memset(m, 0, sizeof(*m));
	assert_int_equal(key_init(&m->key, "vexora", "M900001", "order", "en-US", &r), 0);
	assert_int_equal(key_hash(&m->key, hash), 0);
	m->state = CACHE_READY;
	snprintf(m->task_id, sizeof(m->task_id), "%s", "0123456789abcdef0123456789abcdef");
	snprintf(m->server_name, sizeof(m->server_name), "%s", "Merchant Order List.xlsx");
	snprintf(m->owner, sizeof(m->owner), "%s", "seller-7");
	snprintf(m->sha256, sizeof(m->sha256), "%s",
		 "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
	m->size = 15;
	m->total = 15;
	m->ready_time = m->finish_time = 1779100000;
	m->applied_time = 1779099000;
	m->expires = 1779700000;
	m->last_access_ms = 1779100000123;
	m->last_errno = EIO;
	m->err_kind = CLIENT_E_BUSINESS;
	snprintf(m->err_code, sizeof(m->err_code), "%s", "E500");
	snprintf(m->err_msg, sizeof(m->err_msg), "%s", "a refresh failed");
}

static void test_entry_keeps_what_its_meta_says(void **state)
{
	struct cache *c = cache_in_tmp();
	struct store_meta m, back;
	struct cache_info info;
	char hash[KEY_HASH_LEN];
	struct entry *e;
	int created = 0;

	(void)state;
	ready_meta(&m, hash);
	pthread_mutex_lock(&c->lock);
	e = entry_insert_meta(c, &m, hash, &created);
	assert_non_null(e);
	assert_true(created);
	assert_null(e->kind);	       /* no source has its keys: an orphan */
	assert_non_null(e->okey);      /* ... which keeps its key's text itself */
	assert_null(e->old);	       /* no refresh runs */
	assert_non_null(e->info.last_error);
	entry_info_get(e, &info);
	entry_to_meta(c, e, &back);
	pthread_mutex_unlock(&c->lock);

	assert_string_equal(info.task_id, m.task_id);
	assert_string_equal(info.server_name, m.server_name);
	assert_string_equal(info.owner, m.owner);
	assert_string_equal(info.sha256, m.sha256);
	assert_int_equal(info.last_access, m.last_access_ms / 1000);
	assert_int_equal(info.last_error.kind, CLIENT_E_BUSINESS);
	assert_string_equal(info.last_error.msg, m.err_msg);
	/* Written back, the .meta says the same. */
	assert_true(key_equal(&back.key, &m.key));
	assert_string_equal(back.task_id, m.task_id);
	assert_string_equal(back.server_name, m.server_name);
	assert_string_equal(back.owner, m.owner);
	assert_string_equal(back.sha256, m.sha256);
	assert_string_equal(back.err_code, m.err_code);
	assert_string_equal(back.err_msg, m.err_msg);
	assert_int_equal(back.err_kind, m.err_kind);
	assert_int_equal(back.size, m.size);
	assert_int_equal(back.applied_time, m.applied_time);
	assert_int_equal(back.last_access_ms, m.last_access_ms);
	/* Reset (forgotten, evicted, swept), it has no file and no last access. */
	pthread_mutex_lock(&c->lock);
	entry_reset(e);
	entry_info_get(e, &info);
	pthread_mutex_unlock(&c->lock);
	assert_int_equal(info.state, CACHE_ABSENT);
	assert_int_equal(info.last_access, 0);
	assert_string_equal(info.task_id, "");
	assert_string_equal(info.sha256, "");
	cache_free(c);
}

/* A refresh keeps the old file's info apart, and a failed one gets it back whole. */
static void test_entry_old_only_while_refreshing(void **state)
{
	struct cache *c = cache_in_tmp();
	struct store_meta m;
	struct cache_info info;
	char hash[KEY_HASH_LEN];
	struct entry *e;
	int created;

	(void)state;
	ready_meta(&m, hash);
	pthread_mutex_lock(&c->lock);
	e = entry_insert_meta(c, &m, hash, &created);
	assert_non_null(e);
	assert_int_equal(entry_keep_old(e), 0);
	assert_non_null(e->old);
	assert_ptr_not_equal(e->old->task_id, e->info.task_id); /* its own copy */
	entry_str_set(&e->info.task_id, "");
	entry_err_set(&e->info, NULL);
	e->info.state = CACHE_QUEUED;
	entry_restore_old(e);
	assert_null(e->old);
	entry_info_get(e, &info);
	pthread_mutex_unlock(&c->lock);
	assert_int_equal(info.state, CACHE_READY);
	assert_string_equal(info.task_id, m.task_id);
	assert_string_equal(info.sha256, m.sha256);
	assert_string_equal(info.last_error.msg, m.err_msg);
	cache_free(c);
}

/* Orphans of one account share the text of their keys, whatever their number. */
static void test_orphans_share_their_key_text(void **state)
{
	struct cache *c = cache_in_tmp();
	struct date_range r2 = fake_range("2026-05-20", "2026-05-21");
	struct store_meta m1, m2;
	char h1[KEY_HASH_LEN], h2[KEY_HASH_LEN];
	struct cache_key k;
	struct entry *e1, *e2;
	int created;

	(void)state;
	ready_meta(&m1, h1);
	ready_meta(&m2, h2);
	m2.key.range = r2;
	assert_int_equal(key_hash(&m2.key, h2), 0);
	pthread_mutex_lock(&c->lock);
	e1 = entry_insert_meta(c, &m1, h1, &created);
	e2 = entry_insert_meta(c, &m2, h2, &created);
	assert_non_null(e1);
	assert_non_null(e2);
	assert_ptr_not_equal(e1, e2);
	assert_ptr_equal(e1->okey, e2->okey);
	assert_int_equal(entry_key(c, e2, &k), 0);
	pthread_mutex_unlock(&c->lock);
	assert_true(key_equal(&k, &m2.key));
	cache_free(c);
}

static void test_entry_empty_strings_cost_nothing(void **state)
{
	struct entry_info i;

	(void)state;
	memset(&i, 0, sizeof(i));
	entry_info_clear(&i);
	const char *empty = i.task_id;
	assert_string_equal(empty, "");
	assert_int_equal(entry_str_set(&i.task_id, "T1"), 0);
	assert_string_equal(i.task_id, "T1");
	assert_int_equal(entry_str_set(&i.task_id, ""), 0);
	assert_ptr_equal(i.task_id, empty); /* the shared "", nothing allocated */
	entry_err_set(&i, NULL);
	assert_null(i.last_error);
	entry_sha256_set(&i, "not a digest");
	assert_false(i.has_sha256);
	entry_info_clear(&i);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entry_fits_its_budget),
		IN_TMP_DIR(test_entry_keeps_what_its_meta_says),
		IN_TMP_DIR(test_entry_old_only_while_refreshing),
		IN_TMP_DIR(test_orphans_share_their_key_text),
		cmocka_unit_test(test_entry_empty_strings_cost_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
