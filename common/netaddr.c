/* Loopback, link-local and private addresses (see netaddr.h). */
#include "netaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
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
