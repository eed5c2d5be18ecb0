/*
 * Request signing: MD5 hex digests and the Vexora signing rule.
 *
 * Vexora rule (README "Signing"): take every top-level field of the request body except
 * "sign" whose value is neither null nor the empty string; sort the names by ASCII (strcmp);
 * concatenate name=value with no separator (strings verbatim, booleans true/false, numbers
 * as plain decimal integers such as 1779172654161, never 1.779e12; a raw JSON item made
 * with cJSON_CreateRaw is taken verbatim, so a caller can pin how a number is spelled on the
 * wire and in the signature alike); append the secret; the signature is the lowercase hex
 * MD5 of that string.
 *
 * Pure functions, thread-safe, no logging. Buffers that held the secret are wiped.
 */
#ifndef ORDERFS_VEXORA_SIGN_H
#define ORDERFS_VEXORA_SIGN_H

#include <stddef.h>

#include <cjson/cJSON.h>

#define SIGN_HEX_LEN 33 /* 32 hex digits + NUL */

/* Lowercase hex MD5 of len bytes into out. Returns 0, or -1 if OpenSSL fails (out = ""). */
int sign_md5_hex(const void *data, size_t len, char out[SIGN_HEX_LEN]);

/*
 * The Vexora signing string of body without the secret, NUL-terminated into out (cap bytes).
 * Returns its length, or -1 when body is not an object, a signed field is an object, array
 * or non-integral number (none of which the rule defines), or the string does not fit.
 */
int sign_vexora_string(const cJSON *body, char *out, size_t cap);

/*
 * Vexora signature of body with secret: MD5(signing string + secret) in lowercase hex.
 * Returns 0, or -1 (out = "") for the reasons of sign_vexora_string or out of memory.
 */
int sign_vexora(const cJSON *body, const char *secret, char out[SIGN_HEX_LEN]);

#endif
