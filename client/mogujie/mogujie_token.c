/* Token files and the OAuth refresh (see mogujie_token.h). */
#include "mogujie_token.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>

#include "../../common/owner.h"
#include "mogujie_sign.h"

int mogujie_token_read(const char *path, const char *what, char *out, size_t cap,
		       struct client_error *err)
{
	char buf[MOGUJIE_TOKEN_MAX + 2];
	ssize_t n;
	size_t len = 0;
	int fd;

	out[0] = '\0';
	if (!path || !*path) {
		client_error_set(err, CLIENT_E_AUTH, "%s is not set", what);
		return -1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		err->sys_errno = errno;
		client_error_set(err, CLIENT_E_AUTH, "cannot read %s %s: %s", what, path,
				 strerror(errno));
		return -1;
	}
	/* Re-read at every sync: a file someone else swapped in since the start is not read. */
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || !owner_trusted(st.st_uid)) {
		client_error_set(err, CLIENT_E_AUTH,
				 "%s %s: not a regular file owned by this user or root", what, path);
		close(fd);
		return -1;
	}
	while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err->sys_errno = errno;
			client_error_set(err, CLIENT_E_AUTH, "cannot read %s %s: %s", what, path,
					 strerror(errno));
			close(fd);
			OPENSSL_cleanse(buf, sizeof(buf));
			return -1;
		}
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	len = strcspn(buf, "\r\n");
	buf[len] = '\0';
	while (len > 0 && (buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		buf[--len] = '\0';
	const char *why = NULL;
	if (len == 0)
		why = "is empty";
	else if (len >= cap || len > MOGUJIE_TOKEN_MAX - 1)
		why = "holds too long a token";
	for (size_t i = 0; !why && i < len; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			why = "holds a control character";
	if (why) {
		client_error_set(err, CLIENT_E_AUTH, "%s %s %s", what, path, why);
		OPENSSL_cleanse(buf, sizeof(buf));
		return -1;
	}
	memcpy(out, buf, len + 1);
	OPENSSL_cleanse(buf, sizeof(buf));
	return 0;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* fsync the directory holding path, so the rename itself is durable. */
static int sync_dir(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else if ((size_t)(slash - path) < sizeof(dir))
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	else
		return -ENAMETOOLONG;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) == 0 ? 0 : -errno;
	close(fd);
	return rc;
}

int mogujie_token_write(const char *path, const char *value)
{
	char tmp[4096];
	int fd, rc;

	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkostemp(tmp, O_CLOEXEC); /* O_EXCL, mode 0600 */
	if (fd < 0)
		return -errno;
	if ((rc = fchmod(fd, 0600) == 0 ? 0 : -errno) || (rc = write_all(fd, value, strlen(value))) ||
	    (rc = write_all(fd, "\n", 1)) || (rc = fsync(fd) == 0 ? 0 : -errno)) {
		close(fd);
		unlink(tmp);
		return rc;
	}
	if (close(fd) != 0) {
		rc = -errno;
		unlink(tmp);
		return rc;
	}
	if (rename(tmp, path) != 0) {
		rc = -errno;
		unlink(tmp);
		return rc;
	}
	return sync_dir(path);
}

/* Copy a string member of o into out, or -1 if missing, empty, or too long. */
static int token_member(const cJSON *o, const char *name, char *out)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, name));
	size_t len = s ? strlen(s) : 0;
	if (len == 0 || len >= MOGUJIE_TOKEN_MAX || strpbrk(s, "\r\n"))
		return -1;
	memcpy(out, s, len + 1);
	return 0;
}

/* The token endpoint's answer into access and refresh. *o gets the parsed body, NULL when
 * none was parsed, for the caller to wipe. 0, or -1 with *err. */
static int refresh_answer(const struct http_response *resp, cJSON **o,
			  char access[MOGUJIE_TOKEN_MAX], char refresh[MOGUJIE_TOKEN_MAX],
			  struct client_error *err)
{
	err->http_status = (int)resp->status;
	if (resp->status >= 500 || resp->status == 429) {
		client_error_set(err, CLIENT_E_TRANSIENT, "token refresh: HTTP %ld", resp->status);
		return -1;
	}
	*o = cJSON_ParseWithLength(resp->body, resp->len);
	if (resp->status < 200 || resp->status > 299) {
		const char *e = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(*o, "error"));
		const char *d = cJSON_GetStringValue(
			cJSON_GetObjectItemCaseSensitive(*o, "error_description"));
		client_error_set(err, CLIENT_E_AUTH, "token refresh refused: HTTP %ld %.40s %.120s",
				 resp->status, e ? e : "", d ? d : "");
		return -1;
	}
	if (!cJSON_IsObject(*o) || token_member(*o, "access_token", access) ||
	    token_member(*o, "refresh_token", refresh)) {
		client_error_set(err, CLIENT_E_AUTH,
				 "token refresh: HTTP %ld without access_token and refresh_token",
				 resp->status);
		return -1;
	}
	return 0;
}

/* Wipe the token strings of a parsed answer (NULL is fine), then delete it. */
static void wipe_answer(cJSON *o)
{
	if (!o)
		return;
	char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "access_token"));
	if (s)
		OPENSSL_cleanse(s, strlen(s));
	s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "refresh_token"));
	if (s)
		OPENSSL_cleanse(s, strlen(s));
	cJSON_Delete(o);
}

int mogujie_token_refresh(struct http_client *http, const char *oauth_url, const char *app_key,
			  const char *secret, const char *refresh_token,
			  char access[MOGUJIE_TOKEN_MAX], char refresh[MOGUJIE_TOKEN_MAX],
			  struct client_error *err)
{
	static const char *const names[] = {"grant_type", "refresh_token", "app_key",
					    "app_secret"};
	const char *values[] = {"refresh_token", refresh_token, app_key, secret};
	struct http_response resp = {0};
	cJSON *o = NULL;
	int rc = -1;

	access[0] = refresh[0] = '\0';
	char *body = mogujie_form_body(names, values, 4);
	if (!body) {
		err->sys_errno = ENOMEM;
		client_error_set(err, CLIENT_E_LOCAL, "out of memory");
		return -1;
	}
	struct http_request rq = {oauth_url, NULL, 0, body, "application/x-www-form-urlencoded"};
	if (http_request(http, &rq, &resp, err) == 0)
		rc = refresh_answer(&resp, &o, access, refresh, err);
	else if (err->kind != CLIENT_E_LOCAL)
		client_error_set(err, CLIENT_E_TRANSIENT, "token refresh: %.200s", err->msg);
	if (rc != 0) {
		OPENSSL_cleanse(access, MOGUJIE_TOKEN_MAX);
		OPENSSL_cleanse(refresh, MOGUJIE_TOKEN_MAX);
		access[0] = refresh[0] = '\0';
	}
	/* The parsed strings held the new tokens. */
	wipe_answer(o);
	if (resp.body)
		OPENSSL_cleanse(resp.body, resp.len);
	http_response_free(&resp);
	OPENSSL_cleanse(body, strlen(body));
	free(body);
	return rc;
}
