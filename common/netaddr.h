/*
 * Which network addresses a provider's download may not lead to: loopback, link-local and
 * private ones, where other services of this host or its network live (a download URL or a
 * redirect pointing there would read them and serve their answer as an export file); and the
 * literal ADDRESS:PORT a listening socket of the mount binds (metrics_listen), which config
 * validation and the metrics server both parse. Pure; thread-safe.
 */
#ifndef ORDERFS_NETADDR_H
#define ORDERFS_NETADDR_H

#include <stddef.h>
#include <sys/socket.h>

#define NETADDR_STR_MAX 64

/*
 * 1 when sa (len bytes) is an address no download should reach unless allowed: IPv4
 * 0.0.0.0/8, 127/8, 10/8, 172.16/12, 192.168/16, 169.254/16, 100.64/10; IPv6 ::, ::1,
 * fc00::/7, fe80::/10, and IPv4-mapped (::ffff:a.b.c.d) or IPv4-compatible forms of the IPv4
 * ones. 0 for any other IPv4 or IPv6 address; 1 for any other family (refuse what we cannot
 * judge).
 */
int netaddr_is_private(const struct sockaddr *sa, size_t len);

/* The numeric address of sa into out ("127.0.0.1", "::1"; "?" when it cannot be shown). */
void netaddr_format(const struct sockaddr *sa, size_t len, char *out, size_t cap);

/* Parse "IPv4:PORT" or "[IPv6]:PORT" (a literal address, port 1..65535) into *out. 0, or -1
 * with a reason (static) in *why. */
int netaddr_parse_listen(const char *s, struct sockaddr_storage *out, socklen_t *len,
			 const char **why);

/* Whether a (AF_INET or AF_INET6) is a loopback address. */
int netaddr_is_loopback(const struct sockaddr_storage *a);

#endif
