/*
 * The checks every provider runs on its configuration before anything goes on the wire:
 * ids and secrets that end up in header lines, form fields and cache keys, and the base URL
 * every API call is built on. Pure and thread-safe; they report, the caller words the error.
 */
#ifndef ORDERFS_CHECK_H
#define ORDERFS_CHECK_H

#include <stddef.h>

/*
 * Whether s is 1..max_len bytes of printable ASCII without spaces (0x21..0x7e), so it can go
 * into a header line, a form or a cache key as is. 1 or 0; NULL is 0.
 */
int check_token(const char *s, size_t max_len);

/* Whether url starts with http:// or https:// (case-insensitive) and names a host (the next
 * byte is neither the end nor '/'). 1 or 0; NULL is 0. */
int check_http_url(const char *url);

enum check_url {
	CHECK_URL_OK = 0,
	CHECK_URL_SCHEME, /* not http(s)://host (check_http_url), or NULL */
	CHECK_URL_CHARS,  /* holds a space or a control character */
	CHECK_URL_LONG,	  /* does not fit in out */
};

/*
 * A base URL that API paths are appended to: check url (http(s)://host..., no spaces or
 * control characters) and copy it into out (cap bytes) without one trailing slash, followed
 * by suffix ("" for none). Returns CHECK_URL_OK, or the first problem found; out is then
 * unspecified.
 */
enum check_url check_base_url(const char *url, const char *suffix, char *out, size_t cap);

#endif
