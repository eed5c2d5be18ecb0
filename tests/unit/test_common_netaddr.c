/* common/netaddr.c: which addresses a download may not reach, and names that resolve there. */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/netaddr.h"

/* Whether the numeric address s (IPv4 or IPv6) counts as private. */
static int private_of(const char *s)
{
	struct sockaddr_in v4 = {.sin_family = AF_INET};
	struct sockaddr_in6 v6 = {.sin6_family = AF_INET6};

	if (inet_pton(AF_INET, s, &v4.sin_addr) == 1)
		return netaddr_is_private((struct sockaddr *)&v4, sizeof(v4));
	assert_int_equal(inet_pton(AF_INET6, s, &v6.sin6_addr), 1);
	return netaddr_is_private((struct sockaddr *)&v6, sizeof(v6));
}

static void test_private_ranges(void **state)
{
	static const char *const yes[] = {
		"127.0.0.1", "127.255.255.254", "0.0.0.0", "10.0.0.1", "10.255.255.255",
		"172.16.0.1", "172.31.255.255", "192.168.0.1", "192.168.255.255", "169.254.169.254",
		"100.64.0.1", "::1", "::", "fc00::1", "fd12:3456::1", "fe80::1", "febf::1",
		"::ffff:127.0.0.1", "::ffff:10.1.2.3", "::ffff:169.254.169.254", "::127.0.0.1"};
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (!private_of(yes[i]))
			fail_msg("%s should be private", yes[i]);
}

static void test_public_addresses(void **state)
{
	static const char *const no[] = {
		"8.8.8.8", "172.15.255.255", "172.32.0.1", "192.167.255.255", "192.169.0.1",
		"169.253.255.255", "11.0.0.1", "100.63.255.255", "100.128.0.1", "1.1.1.1",
		"2001:4860:4860::8888", "fec0::1", "fbff::1", "::ffff:8.8.8.8", "2606:4700::1111"};
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (private_of(no[i]))
			fail_msg("%s should not be private", no[i]);
}

static void test_unknown_family_refused(void **state)
{
	struct sockaddr sa = {.sa_family = AF_UNIX};
	struct sockaddr_in short_v4 = {.sin_family = AF_INET};

	assert_true(netaddr_is_private(&sa, sizeof(sa)));
	assert_true(netaddr_is_private((struct sockaddr *)&short_v4, 4));
}

/* A name is judged by what it resolves to: localhost is loopback however it is spelled. */
static void test_names_resolving_to_private(void **state)
{
	static const char *const names[] = {"localhost", "127.0.0.1", "::ffff:127.0.0.1",
					    "0x7f.1"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
		if (getaddrinfo(names[i], "80", &hints, &res) != 0)
			continue; /* a spelling this libc does not take cannot be fetched either */
		for (struct addrinfo *a = res; a; a = a->ai_next)
			if (!netaddr_is_private(a->ai_addr, a->ai_addrlen))
				fail_msg("%s resolved to a public address", names[i]);
		freeaddrinfo(res);
	}
}

static void test_format(void **state)
{
	struct sockaddr_in6 v6 = {.sin6_family = AF_INET6};
	char out[NETADDR_STR_MAX];

	assert_int_equal(inet_pton(AF_INET6, "::ffff:10.0.0.1", &v6.sin6_addr), 1);
	netaddr_format((struct sockaddr *)&v6, sizeof(v6), out, sizeof(out));
	assert_string_equal(out, "::ffff:10.0.0.1");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_private_ranges),
		cmocka_unit_test(test_public_addresses),
		cmocka_unit_test(test_unknown_family_refused),
		cmocka_unit_test(test_names_resolving_to_private),
		cmocka_unit_test(test_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
