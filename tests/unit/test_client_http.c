/* client/http.c: the pure header parsers and the URL scheme gate (check_http_url itself is
 * tested in test_common_check.c), and the private-address rule against a loopback server of
 * the test's own. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../client/http.h"

static void test_content_range_valid(void **state)
{
	uint64_t a = 1, b = 1, t = 1;
	assert_int_equal(http_parse_content_range("bytes 100-199/1000", &a, &b, &t), 0);
	assert_int_equal(a, 100);
	assert_int_equal(b, 199);
	assert_int_equal(t, 1000);
	assert_int_equal(http_parse_content_range("bytes 0-0/*", &a, &b, &t), 0);
	assert_true(t == UINT64_MAX);
}

static void test_content_range_invalid(void **state)
{
	uint64_t a = 7, b = 7, t = 7;
	assert_int_equal(http_parse_content_range("bytes */1000", &a, &b, &t), -1);
	assert_int_equal(http_parse_content_range("bytes 5-4/10", &a, &b, &t), -1);
	assert_int_equal(http_parse_content_range("bytes 0-10/10", &a, &b, &t), -1);
	assert_int_equal(http_parse_content_range("items 0-1/10", &a, &b, &t), -1);
	assert_int_equal(http_parse_content_range("bytes 0-1/10x", &a, &b, &t), -1);
	assert_int_equal(http_parse_content_range("bytes 99999999999999999999-1/10", &a, &b, &t),
			 -1);
	assert_int_equal(a, 7); /* untouched */
}

static void test_retry_after_seconds(void **state)
{
	assert_int_equal(http_parse_retry_after("3", 0), 3000);
	assert_int_equal(http_parse_retry_after(" 0 ", 0), 0);
	assert_int_equal(http_parse_retry_after("999999999", 0), 86400L * 1000);
	assert_int_equal(http_parse_retry_after("3s", 0), -1);
	assert_int_equal(http_parse_retry_after("", 0), -1);
}

static void test_retry_after_http_date(void **state)
{
	/* Wed, 21 Oct 2015 07:28:00 GMT = 1445412480 */
	assert_int_equal(http_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470), 10000);
	assert_int_equal(http_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412490), 0);
	assert_int_equal(http_parse_retry_after("soon", 0), -1);
}

static int never_begin(void *ctx, uint64_t o, uint64_t t)
{
	fail();
	return 0;
}

static int never_write(void *ctx, const void *b, size_t l, uint64_t o)
{
	fail();
	return 0;
}

static void test_download_refuses_bad_scheme(void **state)
{
	struct client_error e;
	struct download_sink sink = {.begin = never_begin, .write = never_write};
	uint64_t total = 0;
	client_error_clear(&e);
	struct http_client *c = http_client_new(NULL, &e);
	assert_non_null(c);
	assert_int_equal(http_download(c, "file:///etc/passwd", 0, &sink, &total, &e), -1);
	assert_int_equal(e.kind, CLIENT_E_PROTOCOL);
	assert_true(total == UINT64_MAX);
	struct http_response r;
	client_error_clear(&e);
	assert_int_equal(http_post_json(c, "ftp://h/x", NULL, 0, "{}", &r, &e), -1);
	assert_int_equal(e.kind, CLIENT_E_PROTOCOL);
	http_client_free(c);
}

/* A loopback server answering every connection with a 2-byte body; counts connections. */
struct tiny_server {
	int fd, port;
	atomic_int accepted;
	pthread_t thread;
};

static void *tiny_serve(void *arg)
{
	static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
				    "Connection: close\r\n\r\nok";
	struct tiny_server *t = arg;
	char req[4096];
	int cfd;

	while ((cfd = accept(t->fd, NULL, NULL)) >= 0) {
		atomic_fetch_add(&t->accepted, 1);
		if (read(cfd, req, sizeof(req)) > 0 && write(cfd, reply, sizeof(reply) - 1) < 0)
			fprintf(stderr, "tiny server: write failed\n");
		close(cfd);
	}
	return NULL;
}

static void tiny_start(struct tiny_server *t)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);

	t->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(t->fd >= 0);
	assert_int_equal(bind(t->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(t->fd, 8), 0);
	assert_int_equal(getsockname(t->fd, (struct sockaddr *)&a, &len), 0);
	t->port = ntohs(a.sin_port);
	atomic_init(&t->accepted, 0);
	assert_int_equal(pthread_create(&t->thread, NULL, tiny_serve, t), 0);
}

static void tiny_stop(struct tiny_server *t)
{
	shutdown(t->fd, SHUT_RDWR);
	close(t->fd);
	pthread_join(t->thread, NULL);
}

static int count_begin(void *ctx, uint64_t off, uint64_t total)
{
	return 0;
}

static int count_write(void *ctx, const void *b, size_t l, uint64_t o)
{
	*(size_t *)ctx += l;
	return 0;
}

static int fetch(struct http_client *c, int port, struct client_error *e)
{
	char url[64];
	size_t got = 0;
	struct download_sink sink = {.begin = count_begin, .write = count_write, .ctx = &got};

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/file", port);
	client_error_clear(e);
	return http_download(c, url, 0, &sink, NULL, e);
}

/* A download to a loopback address is refused before connecting, unless allowed or the API
 * itself answered from such an address. */
static void test_download_refuses_private_address(void **state)
{
	struct tiny_server t;
	struct client_error e;
	struct http_options opt = {0};
	struct http_response r;
	char url[64];

	tiny_start(&t);
	client_error_clear(&e);
	struct http_client *c = http_client_new(&opt, &e);
	assert_int_equal(fetch(c, t.port, &e), -1);
	assert_int_equal(e.kind, CLIENT_E_PROTOCOL);
	assert_non_null(strstr(e.msg, "127.0.0.1"));
	assert_non_null(strstr(e.msg, "download_allow_private"));
	assert_int_equal(atomic_load(&t.accepted), 0);
	/* The API answers from loopback too (a simulator): its downloads may. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/api", t.port);
	client_error_clear(&e);
	assert_int_equal(http_post_json(c, url, NULL, 0, "{}", &r, &e), 0);
	http_response_free(&r);
	assert_int_equal(fetch(c, t.port, &e), 0);
	http_client_free(c);
	/* base_url's host is a name that resolves to loopback: no API call needed first. */
	opt.api_url = "https://user@localhost:8443/api";
	c = http_client_new(&opt, &e);
	assert_int_equal(fetch(c, t.port, &e), 0);
	http_client_free(c);
	opt.api_url = "https://api.example.invalid/";
	c = http_client_new(&opt, &e);
	assert_int_equal(fetch(c, t.port, &e), -1);
	http_client_free(c);
	opt.api_url = NULL;
	/* download_allow_private = yes */
	opt.allow_private = 1;
	c = http_client_new(&opt, &e);
	assert_int_equal(fetch(c, t.port, &e), 0);
	http_client_free(c);
	tiny_stop(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_content_range_valid),
		cmocka_unit_test(test_content_range_invalid),
		cmocka_unit_test(test_retry_after_seconds),
		cmocka_unit_test(test_retry_after_http_date),
		cmocka_unit_test(test_download_refuses_bad_scheme),
		cmocka_unit_test(test_download_refuses_private_address),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
