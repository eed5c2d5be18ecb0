/* The whole-request deadline and per-address limit of /metrics; see metrics_guard.h. */
#include "metrics_guard.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../../common/clock.h"
#include "../../common/log.h"

#define GUARD_TICK_MS 250

struct guarded {
	int fd;
	int64_t since_ms; /* connected, or its last request answered */
	int shut;	  /* shut down already: waits for libmicrohttpd to close it */
	int loopback;
	struct sockaddr_storage addr;
	struct guarded *prev, *next;
};

struct metrics_guard {
	pthread_mutex_t lock; /* protects conns, stop */
	pthread_cond_t wake;
	pthread_t thread;
	struct guarded *conns;
	int stop;
	unsigned deadline_ms, per_addr_max;
};

static int addr_is_loopback(const struct sockaddr_storage *a)
{
	if (a->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr) >> 24) == 127;
	if (a->ss_family == AF_INET6) {
		const struct in6_addr *ip = &((const struct sockaddr_in6 *)a)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(ip))
			return ip->s6_addr[12] == 127;
		return IN6_IS_ADDR_LOOPBACK(ip);
	}
	return 0;
}

static int same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		       &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr));
}

/* Connections from c's host still open (c excluded; g->lock held). */
static unsigned host_conns(struct metrics_guard *g, const struct guarded *c)
{
	unsigned n = 0;

	for (struct guarded *p = g->conns; p; p = p->next)
		if (p != c && !p->shut && same_host(&p->addr, &c->addr))
			n++;
	return n;
}

static void *watchdog(void *arg)
{
	struct metrics_guard *g = arg;
	struct timespec ts;

	pthread_mutex_lock(&g->lock);
	while (!g->stop) {
		int64_t now = clock_mono_ms();
		for (struct guarded *c = g->conns; c; c = c->next) {
			if (!c->shut && now - c->since_ms > (int64_t)g->deadline_ms) {
				shutdown(c->fd, SHUT_RDWR); /* libmicrohttpd sees EOF and closes */
				c->shut = 1;
			}
		}
		clock_mono_deadline(&ts, GUARD_TICK_MS);
		pthread_cond_timedwait(&g->wake, &g->lock, &ts);
	}
	pthread_mutex_unlock(&g->lock);
	return NULL;
}

struct metrics_guard *metrics_guard_new(unsigned deadline_ms, unsigned per_addr_max)
{
	struct metrics_guard *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	g->deadline_ms = deadline_ms;
	g->per_addr_max = per_addr_max;
	pthread_mutex_init(&g->lock, NULL);
	clock_mono_cond_init(&g->wake);
	if (pthread_create(&g->thread, NULL, watchdog, g)) {
		pthread_cond_destroy(&g->wake);
		pthread_mutex_destroy(&g->lock);
		free(g);
		return NULL;
	}
	return g;
}

void metrics_guard_free(struct metrics_guard *g)
{
	if (!g)
		return;
	pthread_mutex_lock(&g->lock);
	g->stop = 1;
	pthread_cond_signal(&g->wake);
	pthread_mutex_unlock(&g->lock);
	pthread_join(g->thread, NULL);
	while (g->conns) { /* none after MHD_stop_daemon; defensive */
		struct guarded *c = g->conns;
		g->conns = c->next;
		free(c);
	}
	pthread_cond_destroy(&g->wake);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

/* A new connection: guarded from now; one past the per-address limit is shut at once. */
static struct guarded *guard_start(struct metrics_guard *g, struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *fd =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	const union MHD_ConnectionInfo *ad =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	struct guarded *c = calloc(1, sizeof(*c));

	if (!c || !fd || !ad || !ad->client_addr) {
		free(c);
		return NULL; /* unguarded: libmicrohttpd's own timeout still applies */
	}
	c->fd = fd->connect_fd;
	c->since_ms = clock_mono_ms();
	memcpy(&c->addr, ad->client_addr,
	       ad->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						      : sizeof(struct sockaddr_in));
	c->loopback = addr_is_loopback(&c->addr);
	pthread_mutex_lock(&g->lock);
	if (!c->loopback && host_conns(g, c) >= g->per_addr_max) {
		shutdown(c->fd, SHUT_RDWR);
		c->shut = 1;
		log_debug("metrics: a client has %u connections already; one more refused",
			  g->per_addr_max);
	}
	c->next = g->conns;
	if (g->conns)
		g->conns->prev = c;
	g->conns = c;
	pthread_mutex_unlock(&g->lock);
	return c;
}

void metrics_guard_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct metrics_guard *g = cls;
	struct guarded *c = *socket_context;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		*socket_context = guard_start(g, conn);
		return;
	}
	if (!c)
		return;
	pthread_mutex_lock(&g->lock); /* after this the watchdog no longer sees the fd */
	if (c->prev)
		c->prev->next = c->next;
	else
		g->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	pthread_mutex_unlock(&g->lock);
	free(c);
	*socket_context = NULL;
}

void metrics_guard_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			     enum MHD_RequestTerminationCode toe)
{
	struct metrics_guard *g = cls;
	const union MHD_ConnectionInfo *sc =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct guarded *c = sc ? sc->socket_context : NULL;

	(void)con_cls;
	if (!c || toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
		return;
	pthread_mutex_lock(&g->lock);
	c->since_ms = clock_mono_ms();
	pthread_mutex_unlock(&g->lock);
}
