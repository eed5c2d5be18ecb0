/*
 * Mogujie request encoding: the form body and the gateway's MD5 signature.
 *
 * Sign rule (Mogujie open platform, "API 调用说明"): take every request parameter except
 * "sign" (Params included, as the exact JSON text sent), sort the names by ASCII (strcmp),
 * concatenate name + value with no separators, put the app secret before AND after, and the
 * signature is the UPPERCASE hex MD5 of that string. Example: secret TESTAPPSECRET over
 * access_token, app_key, format, itemId, method, sign_method, timestamp, version gives
 * 34619030B487EC1B49B9EF564A877925 (tests/unit/test_client_mogujie_sign.c).
 *
 * Bodies are application/x-www-form-urlencoded in UTF-8: RFC 3986 unreserved bytes
 * (A-Z a-z 0-9 - . _ ~) are kept, every other byte becomes %XX (uppercase hex; a space is
 * %20, never '+', so any decoder reads it the same).
 *
 * Pure functions, thread-safe, no logging. The buffers that held the secret are wiped.
 */
#ifndef ORDERFS_MOGUJIE_SIGN_H
#define ORDERFS_MOGUJIE_SIGN_H

#include <stddef.h>

#define MOGUJIE_SIGN_LEN 33 /* 32 uppercase hex digits + NUL */

/*
 * Signature of the n parameters (names[i], values[i]; neither NULL, none named "sign") with
 * secret, into out. The arrays are not reordered (the function sorts its own index).
 * out is "" when n exceeds 64 or OpenSSL fails.
 */
void mogujie_sign(const char *secret, const char *const *names, const char *const *values,
		  size_t n, char out[MOGUJIE_SIGN_LEN]);

/* Percent-encode the NUL-terminated s into out (cap bytes, NUL-terminated). Returns the
 * encoded length, or -1 (out unspecified) when it does not fit. */
long mogujie_form_encode(const char *s, char *out, size_t cap);

/* "n1=v1&n2=v2..." with names and values encoded, malloc'd (caller frees; it may hold a
 * token: wipe it). NULL when out of memory. */
char *mogujie_form_body(const char *const *names, const char *const *values, size_t n);

#endif
