/* The shared store's configuration: store_url, credentials, keys and URLs (s3.h). */
#include "s3.h"
#include "s3_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "../../common/owner.h"

#define CRED_LINE_MAX 1024

/* Copy n bytes of src into out (cap bytes). 0, or -1 when they do not fit. */
static int copy_part(char *out, size_t cap, const char *src, size_t n)
{
	if (n >= cap)
		return -1;
	memcpy(out, src, n);
	out[n] = '\0';
	return 0;
}

static int host_is_loopback(const char *host)
{
	return strncmp(host, "127.", 4) == 0 || strcmp(host, "[::1]") == 0 ||
	       strcasecmp(host, "localhost") == 0;
}

static int bucket_ok(const char *b)
{
	size_t n = strlen(b);

	if (n < 3 || n > 63 || b[0] == '.' || b[0] == '-' || b[n - 1] == '.' || b[n - 1] == '-')
		return 0;
	return strspn(b, "abcdefghijklmnopqrstuvwxyz0123456789.-") == n;
}

/* HOST[:PORT] of len bytes into loc. 0 or -1. */
static int parse_authority(const char *p, size_t len, struct s3_location *loc)
{
	const char *colon;
	size_t hlen = len;

	if (memchr(p, '@', len))
		return -1; /* a user in the URL: credentials belong in their file */
	if (p[0] == '[') {
		const char *close = memchr(p, ']', len);
		if (!close)
			return -1;
		hlen = (size_t)(close - p) + 1;
		colon = hlen < len && p[hlen] == ':' ? p + hlen : NULL;
		if (!colon && hlen != len)
			return -1;
	} else {
		colon = memchr(p, ':', len);
		if (colon)
			hlen = (size_t)(colon - p);
	}
	if (hlen == 0 || copy_part(loc->host, sizeof(loc->host), p, hlen) != 0)
		return -1;
	if (colon) {
		size_t plen = len - (size_t)(colon + 1 - p);
		if (plen == 0 || strspn(colon + 1, "0123456789") < plen ||
		    copy_part(loc->port, sizeof(loc->port), colon + 1, plen) != 0)
			return -1;
	}
	return 0;
}

/* BUCKET[/PREFIX] (after the authority's '/') into loc. 0 or -1 with *why. */
static int parse_path(const char *p, struct s3_location *loc, const char **why)
{
	size_t blen = strcspn(p, "/"), plen;
	const char *prefix = p + blen;

	if (copy_part(loc->bucket, sizeof(loc->bucket), p, blen) != 0 || !bucket_ok(loc->bucket)) {
		*why = "the bucket must be 3 to 63 of a-z 0-9 . -";
		return -1;
	}
	while (*prefix == '/')
		prefix++;
	plen = strlen(prefix);
	while (plen > 0 && prefix[plen - 1] == '/')
		plen--;
	if (copy_part(loc->prefix, sizeof(loc->prefix), prefix, plen) != 0) {
		*why = "the prefix is too long";
		return -1;
	}
	if (plen > 0 && !s3_key_ok(loc->prefix)) {
		*why = "the prefix may hold only A-Z a-z 0-9 . _ ~ = - and single slashes";
		return -1;
	}
	return 0;
}

int s3_parse_url(const char *url, int insecure, struct s3_location *loc,
		 struct client_error *err)
{
	const char *p, *slash, *why = "expected http(s)://HOST[:PORT]/BUCKET[/PREFIX]";

	memset(loc, 0, sizeof(*loc));
	if (!url)
		goto bad;
	if (strncasecmp(url, "https://", 8) == 0) {
		loc->https = 1;
		p = url + 8;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		p = url + 7;
	} else {
		goto bad;
	}
	if (strpbrk(url, "?# \t\r\n")) {
		why = "a query, fragment or space has no place in it";
		goto bad;
	}
	slash = strchr(p, '/');
	if (!slash || parse_authority(p, (size_t)(slash - p), loc) != 0)
		goto bad;
	if (parse_path(slash + 1, loc, &why) != 0)
		goto bad;
	if (!loc->https && !insecure && !host_is_loopback(loc->host)) {
		why = "plain http only to a loopback host or with store_insecure = yes";
		goto bad;
	}
	return 0;
bad:
	client_error_set(err, CLIENT_E_INVALID, "store_url: %s", why);
	return -1;
}

/* ACCESS:SECRET split at the last ':' into new strings. 0, or -1 with *why. */
static int split_pair(const char *line, char **access, char **secret, const char **why)
{
	const char *colon = strrchr(line, ':');

	if (!colon || colon == line || !colon[1]) {
		*why = "must hold one line ACCESS_KEY:SECRET";
		return -1;
	}
	*access = strndup(line, (size_t)(colon - line));
	*secret = strdup(colon + 1);
	if (!*access || !*secret) {
		free(*access);
		free(*secret);
		*access = *secret = NULL;
		*why = "out of memory";
		return -1;
	}
	return 0;
}

/* The first line of the open file fd into line (cap bytes). 0, or -1 with *why. */
static int read_line(int fd, char *line, size_t cap, const char **why)
{
	struct stat st;
	size_t len = 0;
	ssize_t n;

	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		*why = "is not a regular file";
		return -1;
	}
	if (st.st_mode & 077) {
		*why = "is readable or writable by group or others (chmod 600)";
		return -1;
	}
	if (!owner_trusted(st.st_uid)) {
		*why = "is owned by another user";
		return -1;
	}
	while (len + 1 < cap && (n = read(fd, line + len, cap - 1 - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*why = "cannot be read";
			return -1;
		}
		len += (size_t)n;
	}
	line[len] = '\0';
	len = strcspn(line, "\r\n");
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	line[len] = '\0';
	return 0;
}

static int credentials_from_file(const char *path, char **access, char **secret,
				 struct client_error *err)
{
	char line[CRED_LINE_MAX];
	const char *why = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), rc = -1;

	if (fd < 0) {
		client_error_set(err, CLIENT_E_INVALID, "store_credentials_file %s: %s", path,
				 strerror(errno));
		return -1;
	}
	if (read_line(fd, line, sizeof(line), &why) == 0)
		rc = split_pair(line, access, secret, &why);
	OPENSSL_cleanse(line, sizeof(line));
	close(fd);
	if (rc != 0)
		client_error_set(err, CLIENT_E_INVALID, "store_credentials_file %s %s", path,
				 why);
	return rc;
}

int s3_read_credentials(const char *path, char **access, char **secret,
			struct client_error *err)
{
	const char *a, *s;

	*access = *secret = NULL;
	if (path && path[0])
		return credentials_from_file(path, access, secret, err);
	a = getenv("AWS_ACCESS_KEY_ID");
	s = getenv("AWS_SECRET_ACCESS_KEY");
	if (!a || !a[0] || !s || !s[0]) {
		client_error_set(err, CLIENT_E_INVALID,
				 "the store needs credentials: store_credentials_file, or "
				 "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment");
		return -1;
	}
	*access = strdup(a);
	*secret = strdup(s);
	if (!*access || !*secret) {
		free(*access);
		free(*secret);
		*access = *secret = NULL;
		err->sys_errno = ENOMEM;
		client_error_set(err, CLIENT_E_LOCAL, "out of memory");
		return -1;
	}
	return 0;
}

int s3_key_ok(const char *key)
{
	size_t n = key ? strlen(key) : 0;
	const char *seg = key;

	if (n == 0 || n >= S3_KEY_MAX || key[0] == '/' ||
	    strspn(key, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~/=-") < n)
		return 0;
	while (seg) {
		size_t len = strcspn(seg, "/");
		if (len == 0 || (len == 1 && seg[0] == '.') ||
		    (len == 2 && seg[0] == '.' && seg[1] == '.'))
			return 0;
		seg = seg[len] ? seg + len + 1 : NULL;
	}
	return 1;
}

int s3_url(const struct s3_store *s, const char *key, const char *query, char *out,
	   size_t cap)
{
	const struct s3_location *l = &s->loc;
	const char *scheme = l->https ? "https" : "http", *colon = l->port[0] ? ":" : "";
	int n;

	if (key && !s3_key_ok(key))
		return -1;
	if (s->virtual_host)
		n = snprintf(out, cap, "%s://%s.%s%s%s/%s%s%s", scheme, l->bucket, l->host,
			     colon, l->port, l->prefix, l->prefix[0] && key ? "/" : "",
			     key ? key : "");
	else
		n = snprintf(out, cap, "%s://%s%s%s/%s%s%s%s%s", scheme, l->host, colon, l->port,
			     l->bucket, l->prefix[0] ? "/" : "", l->prefix, key ? "/" : "",
			     key ? key : "");
	if (n < 0 || (size_t)n >= cap)
		return -1;
	if (query && query[0]) {
		size_t used = (size_t)n;
		n = snprintf(out + used, cap - used, "?%s", query);
		if (n < 0 || (size_t)n >= cap - used)
			return -1;
	}
	return 0;
}

struct s3_store *s3_new(const struct s3_config *cfg, struct client_error *err)
{
	struct s3_store *s = calloc(1, sizeof(*s));
	struct http_options ho = {.download_stall_s = cfg->stall_s, .max_response_bytes =
									   S3_SMALL_MAX};
	const char *region = cfg->region && cfg->region[0] ? cfg->region : S3_DEFAULT_REGION;

	if (!s) {
		err->sys_errno = ENOMEM;
		client_error_set(err, CLIENT_E_LOCAL, "out of memory");
		return NULL;
	}
	if (s3_parse_url(cfg->url, cfg->insecure, &s->loc, err) != 0)
		goto fail;
	if (strspn(region, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(region) ||
	    strlen(region) > 32) {
		client_error_set(err, CLIENT_E_INVALID, "store_region: a-z 0-9 - only");
		goto fail;
	}
	snprintf(s->sigv4, sizeof(s->sigv4), "aws:amz:%s:s3", region);
	snprintf(s->where, sizeof(s->where), "%s%s%s", s->loc.bucket, s->loc.prefix[0] ? "/" : "",
		 s->loc.prefix);
	s->virtual_host = cfg->virtual_host;
	if ((cfg->ca_file && !(s->ca_file = strdup(cfg->ca_file))) ||
	    (cfg->connect_to && !(s->connect_to = strdup(cfg->connect_to)))) {
		client_error_set(err, CLIENT_E_LOCAL, "out of memory");
		goto fail;
	}
	if (s3_read_credentials(cfg->credentials_file, &s->access, &s->secret, err) != 0)
		goto fail;
	if (!(s->http = http_client_new(&ho, err)))
		goto fail;
	return s;
fail:
	s3_free(s);
	return NULL;
}

void s3_free(struct s3_store *s)
{
	if (!s)
		return;
	http_client_free(s->http);
	if (s->secret) {
		OPENSSL_cleanse(s->secret, strlen(s->secret));
		free(s->secret);
	}
	free(s->access);
	free(s->ca_file);
	free(s->connect_to);
	free(s);
}

const char *s3_where(const struct s3_store *s)
{
	return s->where;
}
