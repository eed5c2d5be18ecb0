/* client/store/s3*.c: store_url parsing, keys and URLs, credentials rules, SigV4 signing against
 * AWS's published S3 examples, and the operations' handling of what a store answers, against
 * a loopback server of the test's own that records each request and plays scripted replies. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../client/store/s3.h"
#include "../../client/store/s3_int.h"
#include "tmp_dir.h"

/* ---- a loopback server: one scripted reply per request, each request kept ---- */

#define REPLIES_MAX 8
#define REQ_MAX 65536

struct script_server {
	int fd, port;
	pthread_t thread;
	const char *replies[REPLIES_MAX]; /* raw HTTP answers, in order; NULL ends */
	char req[REPLIES_MAX][REQ_MAX];	  /* what each request sent (headers and body) */
	int nreq;
};

/* Read one request (headers, then Content-Length bytes of body) into out. Its length. */
static size_t read_request(int cfd, char *out, size_t cap)
{
	size_t len = 0;
	ssize_t n;
	char *end;

	while (len + 1 < cap && (n = read(cfd, out + len, cap - 1 - len)) > 0) {
		len += (size_t)n;
		out[len] = '\0';
		if (!(end = strstr(out, "\r\n\r\n")))
			continue;
		const char *cl = strcasestr(out, "\r\nContent-Length:");
		size_t want = cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
		if (len >= (size_t)(end + 4 - out) + want)
			break;
	}
	out[len] = '\0';
	return len;
}

static void *script_serve(void *arg)
{
	struct script_server *t = arg;
	int cfd = -1;

	/* One connection may carry several requests (keep-alive); a closed one is replaced. */
	while (t->nreq < REPLIES_MAX && t->replies[t->nreq]) {
		if (cfd < 0 && (cfd = accept(t->fd, NULL, NULL)) < 0)
			break;
		if (read_request(cfd, t->req[t->nreq], REQ_MAX) == 0) {
			close(cfd);
			cfd = -1;
			continue;
		}
		const char *r = t->replies[t->nreq++];
		if (write(cfd, r, strlen(r)) < 0 || strstr(r, "Connection: close")) {
			close(cfd);
			cfd = -1;
		}
	}
	if (cfd >= 0)
		close(cfd);
	return NULL;
}

static void script_start(struct script_server *t)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);

	t->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(t->fd >= 0);
	assert_int_equal(bind(t->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(t->fd, 8), 0);
	assert_int_equal(getsockname(t->fd, (struct sockaddr *)&a, &len), 0);
	t->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&t->thread, NULL, script_serve, t), 0);
}

static void script_stop(struct script_server *t)
{
	shutdown(t->fd, SHUT_RDWR);
	close(t->fd);
	pthread_join(t->thread, NULL);
}

/* The value of header name in raw request req into out ("" when absent). */
static const char *req_header(const char *req, const char *name, char *out, size_t cap)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\r\n%s:", name);
	out[0] = '\0';
	if ((p = strcasestr(req, pat))) {
		p += strlen(pat);
		while (*p == ' ')
			p++;
		snprintf(out, cap, "%.*s", (int)strcspn(p, "\r\n"), p);
	}
	return out;
}

/* A store on the test server: http://127.0.0.1:PORT/bucket/pre/fix, key ACC:OUNT:SECRET. */
static struct s3_store *store_on(struct script_server *t)
{
	char url[96];
	struct s3_config cfg = {.url = url};
	struct client_error e;
	struct s3_store *s;

	setenv("AWS_ACCESS_KEY_ID", "ACC:OUNT", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "SeCrEt/Value+1", 1);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/bucket/pre/fix/", t->port);
	client_error_clear(&e);
	s = s3_new(&cfg, &e);
	assert_non_null(s);
	return s;
}

/* ---- SigV4 against AWS's published examples ---- */

#define EX_ACCESS "AKIAIOSFODNN7EXAMPLE"
#define EX_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

/*
 * AWS's "GET Object" example of Signature Version 4 for S3 (Authenticating Requests: Using
 * the Authorization Header), sent through this store's URL derivation (virtual-host style)
 * and signing setup; the date is the example's, given as x-amz-date (curl then signs with
 * it). The Authorization header must be the published one, signature and all.
 */
static void test_sigv4_matches_aws_get_object_example(void **state)
{
	static const char *const replies[] = {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"};
	struct script_server t = {0};
	char cto[96], auth[512];
	struct s3_config cfg = {.url = "http://s3.amazonaws.com/examplebucket",
				.virtual_host = 1, .insecure = 1, .connect_to = cto};
	const char *hdr[] = {"Range: bytes=0-9",
			     "x-amz-content-sha256: " S3_EMPTY_SHA256,
			     "x-amz-date: 20130524T000000Z"};
	struct http_xfer x = {.headers = hdr, .nheaders = 3, .body_fd = -1};
	struct http_response resp;
	struct client_error e;
	struct s3_store *s;

	memcpy(t.replies, replies, sizeof(replies));
	script_start(&t);
	snprintf(cto, sizeof(cto), "examplebucket.s3.amazonaws.com:80:127.0.0.1:%d", t.port);
	setenv("AWS_ACCESS_KEY_ID", EX_ACCESS, 1);
	setenv("AWS_SECRET_ACCESS_KEY", EX_SECRET, 1);
	client_error_clear(&e);
	s = s3_new(&cfg, &e);
	assert_non_null(s);
	assert_int_equal(s3_send(s, "GET", "test.txt", "", &x, &resp, &e), 0);
	http_response_free(&resp);
	script_stop(&t);
	assert_non_null(strstr(t.req[0], "GET /test.txt HTTP/1.1\r\n"));
	assert_string_equal(req_header(t.req[0], "Host", auth, sizeof(auth)),
			    "examplebucket.s3.amazonaws.com");
	assert_string_equal(
		req_header(t.req[0], "Authorization", auth, sizeof(auth)),
		"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
		"aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
		"Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
	s3_free(s);
}

/* AWS's "PUT Object" example: a body from memory, its hash given as x-amz-content-sha256
 * (curl cannot hash a body it reads through a callback), the key's '$' percent-encoded. */
static void test_sigv4_matches_aws_put_object_example(void **state)
{
	static const char *const replies[] = {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"};
	struct script_server t = {0};
	char cto[96], auth[512];
	static const char body[] = "Welcome to Amazon S3.";
	const char *hdr[] = {"Date: Fri, 24 May 2013 00:00:00 GMT",
			     "x-amz-storage-class: REDUCED_REDUNDANCY",
			     "x-amz-content-sha256: "
			     "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
			     "x-amz-date: 20130524T000000Z"};
	struct http_xfer x = {.method = "PUT",
			      .url = "http://examplebucket.s3.amazonaws.com/test%24file.text",
			      .headers = hdr, .nheaders = 4, .sigv4 = "aws:amz:us-east-1:s3",
			      .user = EX_ACCESS, .password = EX_SECRET, .connect_to = cto,
			      .body = body, .body_fd = -1, .body_len = sizeof(body) - 1};
	struct http_response resp;
	struct client_error e;
	struct http_client *c;

	memcpy(t.replies, replies, sizeof(replies));
	script_start(&t);
	snprintf(cto, sizeof(cto), "examplebucket.s3.amazonaws.com:80:127.0.0.1:%d", t.port);
	client_error_clear(&e);
	c = http_client_new(NULL, &e);
	assert_non_null(c);
	assert_int_equal(http_xfer(c, &x, &resp, &e), 0);
	http_response_free(&resp);
	script_stop(&t);
	assert_non_null(strstr(t.req[0], "\r\n\r\nWelcome to Amazon S3."));
	assert_string_equal(
		req_header(t.req[0], "Authorization", auth, sizeof(auth)),
		"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
		"aws4_request, SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;"
		"x-amz-storage-class, "
		"Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
	http_client_free(c);
}

/* An access key holding ':' (Swift's account:user) is sent whole, not split at the colon. */
static void test_access_key_with_colon_is_kept_whole(void **state)
{
	static const char *const replies[] = {"HTTP/1.1 204 No Content\r\n\r\n"};
	struct script_server t = {0};
	struct client_error e;
	struct s3_store *s;
	char auth[512];

	memcpy(t.replies, replies, sizeof(replies));
	script_start(&t);
	s = store_on(&t);
	client_error_clear(&e);
	assert_int_equal(s3_delete(s, "a/b", &e), 0);
	script_stop(&t);
	assert_non_null(strstr(t.req[0], "DELETE /bucket/pre/fix/a/b HTTP/1.1\r\n"));
	req_header(t.req[0], "Authorization", auth, sizeof(auth));
	assert_non_null(strstr(auth, "Credential=ACC:OUNT/"));
	assert_null(strstr(t.req[0], "SeCrEt"));
	s3_free(s);
}

/* ---- store_url, keys, URLs ---- */

static void test_parse_url_path_style(void **state)
{
	struct s3_location l;
	struct client_error e;

	client_error_clear(&e);
	assert_int_equal(s3_parse_url("https://s3.eu-west-1.amazonaws.com/my-bucket/a/b/", 0,
				      &l, &e), 0);
	assert_true(l.https);
	assert_string_equal(l.host, "s3.eu-west-1.amazonaws.com");
	assert_string_equal(l.port, "");
	assert_string_equal(l.bucket, "my-bucket");
	assert_string_equal(l.prefix, "a/b");
	assert_int_equal(s3_parse_url("http://127.0.0.1:9000/bkt", 0, &l, &e), 0);
	assert_string_equal(l.port, "9000");
	assert_string_equal(l.prefix, "");
	assert_int_equal(s3_parse_url("http://[::1]:9000/bkt/p", 0, &l, &e), 0);
	assert_string_equal(l.host, "[::1]");
	assert_string_equal(l.port, "9000");
}

static void test_parse_url_refusals(void **state)
{
	static const char *const bad[] = {
		"ftp://h/bkt",		       /* scheme */
		"https://h",		       /* no bucket */
		"https://h/Bucket",	       /* upper case bucket */
		"https://h/bk",		       /* too short */
		"https://u:p@h/bkt",	       /* credentials in the URL */
		"https://h/bkt?x=1",	       /* query */
		"https://h:90a/bkt",	       /* port */
		"https://h/bkt/a//b",	       /* empty segment in the prefix */
		"https://h/bkt/a/../b",	       /* dot segment */
		"http://s3.example.com/bkt",   /* plain http off loopback */
		"http://10.0.0.1:9000/bkt",    /* ... also a private address */
	};
	struct s3_location l;
	struct client_error e;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		client_error_clear(&e);
		assert_int_equal(s3_parse_url(bad[i], 0, &l, &e), -1);
		assert_int_equal(e.kind, CLIENT_E_INVALID);
		assert_non_null(strstr(e.msg, "store_url"));
	}
	client_error_clear(&e);
	assert_int_equal(s3_parse_url("http://s3.example.com/bkt", 1, &l, &e), 0);
	assert_int_equal(s3_parse_url("http://localhost:9000/bkt", 0, &l, &e), 0);
}

static void test_key_rules(void **state)
{
	assert_true(s3_key_ok("vexora/0123abcd/ranges/2026-05-18..2026-05-19/orders.xlsx.json"));
	assert_true(s3_key_ok("a=b~c_d"));
	assert_false(s3_key_ok(""));
	assert_false(s3_key_ok("/a"));
	assert_false(s3_key_ok("a//b"));
	assert_false(s3_key_ok("a/"));
	assert_false(s3_key_ok("a/./b"));
	assert_false(s3_key_ok("../a"));
	assert_false(s3_key_ok("a b"));
	assert_false(s3_key_ok("a?b"));
	assert_false(s3_key_ok("a%2Fb"));
}

static void test_urls_of_both_styles(void **state)
{
	struct s3_store *s;
	struct s3_config cfg = {.url = "https://s3.example.com:8443/bkt/pre"};
	struct client_error e;
	char url[256];

	setenv("AWS_ACCESS_KEY_ID", "A", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "S", 1);
	client_error_clear(&e);
	assert_non_null(s = s3_new(&cfg, &e));
	assert_int_equal(s3_url(s, "x/y", NULL, url, sizeof(url)), 0);
	assert_string_equal(url, "https://s3.example.com:8443/bkt/pre/x/y");
	assert_int_equal(s3_url(s, "x", "partNumber=1&uploadId=a%2Fb", url, sizeof(url)), 0);
	assert_string_equal(url, "https://s3.example.com:8443/bkt/pre/x?partNumber=1&uploadId=a%2Fb");
	assert_int_equal(s3_url(s, "x//y", NULL, url, sizeof(url)), -1);
	assert_int_equal(s3_url(s, "x", NULL, url, 20), -1);
	assert_string_equal(s3_where(s), "bkt/pre");
	s3_free(s);
	cfg.virtual_host = 1;
	assert_non_null(s = s3_new(&cfg, &e));
	assert_int_equal(s3_url(s, "x/y", NULL, url, sizeof(url)), 0);
	assert_string_equal(url, "https://bkt.s3.example.com:8443/pre/x/y");
	s3_free(s);
}

/* ---- credentials ---- */

static void test_credentials_file_rules(void **state)
{
	char *a = NULL, *s = NULL;
	struct client_error e;
	const char *p;

	p = tmp_dir_write("cred", "ACC:OUNT:TopSecretValue\n", 0644);
	client_error_clear(&e);
	assert_int_equal(s3_read_credentials(p, &a, &s, &e), -1);
	assert_int_equal(e.kind, CLIENT_E_INVALID);
	assert_non_null(strstr(e.msg, "chmod 600"));
	assert_null(strstr(e.msg, "TopSecret"));

	p = tmp_dir_write("cred", "ACC:OUNT:TopSecretValue \r\n", 0600);
	client_error_clear(&e);
	assert_int_equal(s3_read_credentials(p, &a, &s, &e), 0);
	assert_string_equal(a, "ACC:OUNT");
	assert_string_equal(s, "TopSecretValue");
	free(a);
	free(s);

	p = tmp_dir_write("cred", "TopSecretValueNoColon\n", 0600);
	client_error_clear(&e);
	assert_int_equal(s3_read_credentials(p, &a, &s, &e), -1);
	assert_non_null(strstr(e.msg, "ACCESS_KEY:SECRET"));
	assert_null(strstr(e.msg, "TopSecret"));
}

static void test_credentials_from_environment(void **state)
{
	char *a = NULL, *s = NULL;
	struct client_error e;

	setenv("AWS_ACCESS_KEY_ID", "AK", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "SK", 1);
	client_error_clear(&e);
	assert_int_equal(s3_read_credentials(NULL, &a, &s, &e), 0);
	assert_string_equal(a, "AK");
	assert_string_equal(s, "SK");
	free(a);
	free(s);
	unsetenv("AWS_SECRET_ACCESS_KEY");
	assert_int_equal(s3_read_credentials(NULL, &a, &s, &e), -1);
	assert_int_equal(e.kind, CLIENT_E_INVALID);
	assert_non_null(strstr(e.msg, "AWS_SECRET_ACCESS_KEY"));
}

/* ---- operations against scripted answers ---- */

/* A file of n bytes in tmp_dir, open for reading. */
static int file_of(const char *text)
{
	const char *p = tmp_dir_write("obj", text, 0600);
	int fd = open(p, 0);

	assert_true(fd >= 0);
	return fd;
}

#define SHA_HELLO "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824" /* "hello" */

/* 412 to If-None-Match: * means the object is there already: success, existed set. */
static void test_put_412_is_already_there(void **state)
{
	static const char *const replies[] = {
		"HTTP/1.1 412 Precondition Failed\r\nContent-Length: 0\r\n\r\n"};
	struct script_server t = {0};
	struct client_error e;
	struct s3_store *s;
	int fd = file_of("hello"), existed = 0;
	char v[128];

	memcpy(t.replies, replies, sizeof(replies));
	script_start(&t);
	s = store_on(&t);
	client_error_clear(&e);
	assert_int_equal(s3_put_file(s, "k/" SHA_HELLO, fd, 5, SHA_HELLO, &existed, &e), 0);
	script_stop(&t);
	assert_int_equal(existed, 1);
	assert_string_equal(req_header(t.req[0], "If-None-Match", v, sizeof(v)), "*");
	assert_string_equal(req_header(t.req[0], "x-amz-content-sha256", v, sizeof(v)),
			    SHA_HELLO);
	assert_non_null(strstr(t.req[0], "\r\n\r\nhello"));
	close(fd);
	s3_free(s);
}

/* 501 to a conditional PUT (Swift's s3api): the same PUT again without the condition, and
 * every later PUT goes plain at once. */
static void test_put_501_falls_back_to_plain_put(void **state)
{
	static const char *const replies[] = {
		"HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"};
	struct script_server t = {0};
	struct client_error e;
	struct s3_store *s;
	int fd = file_of("hello"), existed = 1;
	char v[128];

	memcpy(t.replies, replies, sizeof(replies));
	script_start(&t);
	s = store_on(&t);
	client_error_clear(&e);
	assert_int_equal(s3_put_file(s, "k/" SHA_HELLO, fd, 5, SHA_HELLO, &existed, &e), 0);
	assert_int_equal(existed, 0);
	assert_int_equal(s3_put_file(s, "k/" SHA_HELLO, fd, 5, SHA_HELLO, &existed, &e), 0);
	script_stop(&t);
	assert_int_equal(t.nreq, 3);
	assert_string_equal(req_header(t.req[0], "If-None-Match", v, sizeof(v)), "*");
	assert_string_equal(req_header(t.req[1], "If-None-Match", v, sizeof(v)), "");
	assert_non_null(strstr(t.req[1], "\r\n\r\nhello"));
	assert_string_equal(req_header(t.req[2], "If-None-Match", v, sizeof(v)), "");
	close(fd);
	s3_free(s);
}

struct mem_sink {
	char data[64];
	size_t len;
	int begun;
};

static int mem_begin(void *ctx, uint64_t off, uint64_t total)
{
	struct mem_sink *m = ctx;

	m->len = 0;
	m->begun++;
	return 0;
}

static int mem_write(void *ctx, const void *b, size_t l, uint64_t o)
{
	struct mem_sink *m = ctx;

	if (m->len + l > sizeof(m->data))
		return -EFBIG;
	memcpy(m->data + m->len, b, l);
	m->len += l;
	return 0;
}

/* Fetch key from a server playing reply; the result, with *e. */
static int get_with(const char *reply, uint64_t size, struct mem_sink *m,
		    struct client_error *e)
{
	const char *replies[2] = {reply, NULL};
	struct script_server t = {0};
	struct download_sink sink = {.begin = mem_begin, .write = mem_write, .ctx = m};
	struct s3_store *s;
	int rc;

	memcpy(t.replies, replies, sizeof(replies));
	script_start(&t);
	s = store_on(&t);
	client_error_clear(e);
	rc = s3_get_file(s, "k/" SHA_HELLO, size, SHA_HELLO, &sink, e);
	script_stop(&t);
	s3_free(s);
	return rc;
}

static void test_get_verifies_size_and_sha256(void **state)
{
	struct mem_sink m = {0};
	struct client_error e;

	assert_int_equal(get_with("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 5, &m, &e),
			 0);
	assert_int_equal(m.len, 5);
	/* Same size, other bytes: a corrupt object. */
	assert_int_equal(get_with("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhellO", 5, &m, &e),
			 -1);
	assert_int_equal(e.kind, CLIENT_E_PROTOCOL);
	assert_non_null(strstr(e.msg, "SHA-256 mismatch"));
	/* Shorter than the pointer says. */
	assert_int_equal(get_with("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nhell", 5, &m, &e),
			 -1);
	assert_int_equal(e.kind, CLIENT_E_PROTOCOL);
	assert_non_null(strstr(e.msg, "size mismatch"));
	/* Longer: refused before it all arrived. */
	assert_int_equal(get_with("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhello!", 5, &m, &e),
			 -1);
	assert_int_equal(e.kind, CLIENT_E_PROTOCOL);
}

/* A body cut mid-way (the connection closes before Content-Length bytes): transient. */
static void test_get_cut_short_is_transient(void **state)
{
	struct mem_sink m = {0};
	struct client_error e;

	assert_int_equal(get_with("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close"
				  "\r\n\r\nhel",
				  5, &m, &e),
			 -1);
	assert_int_equal(e.kind, CLIENT_E_TRANSIENT);
}

/* 403 is a configuration error (CLIENT_E_AUTH) with the store's code; the message carries
 * no secret. 404 NoSuchBucket is told apart from a missing key. 5xx is transient. */
static void test_error_answers(void **state)
{
	struct mem_sink m = {0};
	struct client_error e;

	assert_int_equal(get_with("HTTP/1.1 403 Forbidden\r\nContent-Length: 67\r\n\r\n"
				  "<Error><Code>SignatureDoesNotMatch</Code><Message>x</Message></Error>",
				  5, &m, &e),
			 -1);
	assert_int_equal(e.kind, CLIENT_E_AUTH);
	assert_string_equal(e.code, "SignatureDoesNotMatch");
	assert_null(strstr(e.msg, "SeCrEt"));
	assert_null(strstr(e.msg, "ACC:OUNT"));
	assert_int_equal(m.begun, 0);
	assert_int_equal(get_with("HTTP/1.1 404 Not Found\r\nContent-Length: 42\r\n\r\n"
				  "<Error><Code>NoSuchBucket</Code></Error>\r\n",
				  5, &m, &e),
			 -1);
	assert_int_equal(e.kind, CLIENT_E_NOT_FOUND);
	assert_string_equal(e.code, "NoSuchBucket");
	assert_int_equal(get_with("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n",
				  5, &m, &e),
			 -1);
	assert_int_equal(e.kind, CLIENT_E_TRANSIENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sigv4_matches_aws_get_object_example),
		cmocka_unit_test(test_sigv4_matches_aws_put_object_example),
		cmocka_unit_test(test_access_key_with_colon_is_kept_whole),
		cmocka_unit_test(test_parse_url_path_style),
		cmocka_unit_test(test_parse_url_refusals),
		cmocka_unit_test(test_key_rules),
		cmocka_unit_test(test_urls_of_both_styles),
		IN_TMP_DIR(test_credentials_file_rules),
		cmocka_unit_test(test_credentials_from_environment),
		IN_TMP_DIR(test_put_412_is_already_there),
		IN_TMP_DIR(test_put_501_falls_back_to_plain_put),
		cmocka_unit_test(test_get_verifies_size_and_sha256),
		cmocka_unit_test(test_get_cut_short_is_transient),
		cmocka_unit_test(test_error_answers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
