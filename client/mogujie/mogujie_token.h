/*
 * Mogujie OAuth tokens kept in files: reading them, refreshing an expired access token, and
 * writing the new pair back atomically.
 *
 * A token file holds the token on its first line (trailing CR/LF/spaces ignored). Files are
 * rewritten as: temp file (0600, O_EXCL) in the same directory, write, fsync, rename over the
 * old name, fsync the directory, so a crash leaves the old or the new token, never half.
 * Tokens never reach a log line or an error message. Thread-safe (callers serialise
 * refreshes of one token pair themselves: see mogujie.c).
 */
#ifndef ORDERFS_MOGUJIE_TOKEN_H
#define ORDERFS_MOGUJIE_TOKEN_H

#include <stddef.h>

#include "../http.h"
#include "../provider.h"

#define MOGUJIE_TOKEN_MAX 1024
#define MOGUJIE_DEFAULT_OAUTH_URL "https://oauth.mogujie.com/token"

/*
 * First line of path into out (cap bytes). 0, or -1 with *err: CLIENT_E_AUTH naming the file
 * (missing, unreadable, empty, too long, or a control character in it), sys_errno set when
 * a system call failed. what ("token_file") names the setting in the message.
 */
int mogujie_token_read(const char *path, const char *what, char *out, size_t cap,
		       struct client_error *err);

/* Atomically replace path with value + "\n", mode 0600. 0 or -errno; on failure path is
 * untouched and no temp file is left. */
int mogujie_token_write(const char *path, const char *value);

/*
 * POST oauth_url (form: grant_type=refresh_token, refresh_token, app_key, app_secret) and
 * parse the new pair into access/refresh (MOGUJIE_TOKEN_MAX bytes each). 0, or -1 with
 * *err: CLIENT_E_AUTH when the server refused (4xx; its error/error_description in the
 * message) or answered 2xx without both tokens; CLIENT_E_TRANSIENT for transport failures
 * and 5xx; CLIENT_E_LOCAL out of memory.
 */
int mogujie_token_refresh(struct http_client *http, const char *oauth_url, const char *app_key,
			  const char *secret, const char *refresh_token,
			  char access[MOGUJIE_TOKEN_MAX], char refresh[MOGUJIE_TOKEN_MAX],
			  struct client_error *err);

#endif
