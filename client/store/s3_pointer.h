/*
 * The shared store's layout: where a file's bytes and its range pointer live, and the
 * pointer's JSON. Pure functions, thread-safe; no network (s3.h moves the bytes).
 *
 * Design note. Below the store's prefix, per merchant (h = the fleet's account hash,
 * fleet_account_hex: 32 hex of SHA-256 over provider, base URL and account, so no account id
 * reaches the store in clear and two merchants never share keys):
 *   <provider>/<h>/<sha256>                         the file's bytes (content-addressed:
 *                                                   written once, never changed)
 *   <provider>/<h>/ranges/<A>..<B>/<file>.json      the pointer: which object is the file
 *                                                   of that range, how big, as of when,
 *                                                   whether the range was closed, and until
 *                                                   when the provider keeps it
 *   (<file> is "<report_type>/<language>/<name>": orders.xlsx, or a bundle's name.bundle)
 * The pointer is written after its object, so a reader that finds a pointer finds its bytes
 * (unless the object was deleted since: the reader then falls back to the provider).
 * Pointer JSON: {"v":1,"sha256":..,"size":..,"as_of":..,"complete":..,"expires":..,
 * "writer":..[,"task_id":..]}, parsed strictly: each key once with its type, sha256 64 lowercase hex,
 * numbers integral and in range, writer a host name (fleet_name_ok); unknown keys ignored.
 */
#ifndef ORDERFS_S3_POINTER_H
#define ORDERFS_S3_POINTER_H

#include <stddef.h>
#include <stdint.h>

#include "../../common/date.h"
#include "../provider.h"
#include "s3.h"

#define S3_POINTER_JSON_MAX 1024
#define S3_WRITER_MAX 64

struct s3_pointer {
	char sha256[S3_SHA256_HEX]; /* lowercase hex of the file */
	int64_t size;		    /* bytes, >= 0 */
	int64_t as_of;		    /* unix seconds the file's data is current to, > 0 */
	int complete;		    /* the range was closed when the file was made: it never
				     * changes again */
	int64_t expires;	    /* unix seconds the pointer stops being usable; 0 = never */
	char writer[S3_WRITER_MAX]; /* host that wrote it (it deletes the object at expiry) */
	char task_id[PROVIDER_ID_MAX]; /* the provider's task the file came from, "" none (a
					* reader's credentials are checked against it) */
};

/* Whether s is 64 lowercase hex digits. 1 or 0. */
int s3_sha256_ok(const char *s);

/* The object key of a file: "<provider>/<account_hex>/<sha256>" into out (S3_KEY_MAX).
 * 0, or -1 when a part is not fit for a key (s3_key_ok, s3_sha256_ok) or it does not fit. */
int s3_object_key(const char *provider, const char *account_hex, const char *sha256,
		  char out[S3_KEY_MAX]);

/* The pointer key of a range's file: "<provider>/<account_hex>/ranges/A..B/<file>.json";
 * file may have several segments ("order/en-US/orders.xlsx"). 0, or -1 when file is not fit
 * for a key (s3_key_ok) or it does not fit. */
int s3_pointer_key(const char *provider, const char *account_hex,
		   const struct date_range *range, const char *file, char out[S3_KEY_MAX]);

/* p as JSON into out (cap bytes). Its length, or -1 when p is not valid or out too small. */
long s3_pointer_to_json(const struct s3_pointer *p, char *out, size_t cap);

/* Parse len bytes of JSON into *out. 0, or -1 when it is not a valid pointer (*out
 * untouched). */
int s3_pointer_from_json(const char *text, size_t len, struct s3_pointer *out);

/* Whether p may be served at now (unix seconds): not expired. 1 or 0. */
int s3_pointer_usable(const struct s3_pointer *p, int64_t now);

#endif
