/*
 * Cache keys: what identifies one export. A key is the provider name, the merchant account,
 * the report type, the language and the inclusive date range. Its canonical string is
 *     vexora|M100200|order|en-US|2026-05-18|2026-05-19
 * and the SHA-256 hex of that string is the entry's on-disk base name, so nothing the server
 * says ever becomes a path. Pure functions, thread-safe.
 */
#ifndef ORDERFS_CACHE_KEY_H
#define ORDERFS_CACHE_KEY_H

#include <stddef.h>

#include "../../common/date.h"

#define KEY_FIELD_MAX 128
#define KEY_STR_MAX 600 /* 4 fields + 2 dates + separators */
#define KEY_HASH_LEN 65 /* 64 hex + NUL */

struct cache_key {
	char provider[KEY_FIELD_MAX];
	char account[KEY_FIELD_MAX];
	char report_type[KEY_FIELD_MAX];
	char language[KEY_FIELD_MAX];
	struct date_range range;
};

/* Fill *k. -EINVAL if a field is too long or contains '|' or a control character (it would
 * make the canonical string ambiguous), or the range is not valid; *k is then undefined. */
int key_init(struct cache_key *k, const char *provider, const char *account,
	     const char *report_type, const char *language, const struct date_range *r);

/* Whether a text field may be part of a key (the rule key_init applies). */
int key_field_ok(const char *s);

/* The canonical string; always fits in KEY_STR_MAX. */
void key_format(const struct cache_key *k, char out[KEY_STR_MAX]);

/* SHA-256 hex of the canonical string. 0, or -EIO if the digest failed. */
int key_hash(const struct cache_key *k, char out[KEY_HASH_LEN]);

/* Whether two keys name the same export. */
int key_equal(const struct cache_key *a, const struct cache_key *b);

/* Lower-case hex of n bytes into out (2n+1 bytes). */
void key_hex(const unsigned char *in, size_t n, char *out);

#endif
