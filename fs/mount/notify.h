/*
 * systemd's readiness protocol (sd_notify) without libsystemd: one datagram to the unix socket
 * named by $NOTIFY_SOCKET. Without that variable every call does nothing, so orderfs behaves
 * the same outside systemd. Thread-safe (one sendto per call, no shared state).
 */
#ifndef ORDERFS_NOTIFY_H
#define ORDERFS_NOTIFY_H

/* Send "READY=1", "STATUS=...", "STOPPING=1" (newline-separated assignments). 0 if sent, 1 if
 * there is no $NOTIFY_SOCKET, -1 if sending failed (nothing else to do about it). */
int notify_send(const char *state);

/* Send "STATUS=" followed by the formatted text (truncated to 200 bytes). */
int notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
