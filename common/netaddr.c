/* Loopback, link-local and private addresses (see netaddr.h). */
#include "netaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* a (host order) in prefix/bits. */
static int in_v4(uint32_t a, uint32_t prefix, int bits)
{
	uint32_t mask = bits == 0 ? 0 : 0xffffffffu << (32 - bits);
	return (a & mask) == (prefix & mask);
}

static int v4_private(uint32_t a)
{
	return in_v4(a, 0x00000000u, 8) ||  /* 0/8: "this host", 0.0.0.0 reaches loopback */
	       in_v4(a, 0x7f000000u, 8) ||  /* 127/8 loopback */
	       in_v4(a, 0x0a000000u, 8) ||  /* 10/8 */
	       in_v4(a, 0xac100000u, 12) || /* 172.16/12 */
	       in_v4(a, 0xc0a80000u, 16) || /* 192.168/16 */
	       in_v4(a, 0xa9fe0000u, 16) || /* 169.254/16 link-local (cloud metadata) */
	       in_v4(a, 0x64400000u, 10);   /* 100.64/10 carrier-grade NAT */
}

static int v6_private(const unsigned char *b)
{
	static const unsigned char zero[12];

	if (!memcmp(b, zero, 10) && b[10] == 0xff && b[11] == 0xff) /* ::ffff:a.b.c.d */
		return v4_private((uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 |
				  (uint32_t)b[14] << 8 | b[15]);
	if (!memcmp(b, zero, 12)) /* ::, ::1 and the old IPv4-compatible ::a.b.c.d */
		return 1;
	return (b[0] & 0xfe) == 0xfc ||		   /* fc00::/7 unique local */
	       (b[0] == 0xfe && (b[1] & 0xc0) == 0x80); /* fe80::/10 link-local */
}

int netaddr_is_private(const struct sockaddr *sa, size_t len)
{
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in))
		return v4_private(ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr));
	if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6))
		return v6_private(((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr);
	return 1;
}

void netaddr_format(const struct sockaddr *sa, size_t len, char *out, size_t cap)
{
	const void *a = NULL;

	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in))
		a = &((const struct sockaddr_in *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6))
		a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	if (!a || !inet_ntop(sa->sa_family, a, out, (socklen_t)cap))
		snprintf(out, cap, "?");
}

int netaddr_parse_listen(const char *s, struct sockaddr_storage *out, socklen_t *len,
			 const char **why)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	char *end;
	long port;

	memset(out, 0, sizeof(*out));
	*why = "not ADDRESS:PORT (127.0.0.1:9464 or [::1]:9464)";
	if (!colon || colon == s || (size_t)(colon - s) >= sizeof(host))
		return -1;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || port < 1 || port > 65535) {
		*why = "the port must be 1..65535";
		return -1;
	}
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	*why = "the address must be a literal IPv4 or [IPv6] address";
	if (host[0] == '[') {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)out;
		size_t n = strlen(host);
		if (n < 3 || host[n - 1] != ']')
			return -1;
		host[n - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1)
			return -1;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		*len = sizeof(*a);
		return 0;
	}
	struct sockaddr_in *a = (struct sockaddr_in *)out;
	if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
		return -1;
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)port);
	*len = sizeof(*a);
	return 0;
}

int netaddr_is_loopback(const struct sockaddr_storage *a)
{
	if (a->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr) >> 24) == 127;
	return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)a)->sin6_addr);
}
