/*
 * Admin requests: socketmap requests whose NAME is SM_ADMIN_NAME, taken
 * only from loopback TCP peers and the Unix socket. Keys: `dump` (the
 * library cache as JSON) and `purge DOMAIN`. Network-free.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef SOCKETMAP_ADMIN_H
#define SOCKETMAP_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include <mtasts/mtasts.h>

/* The reserved socketmap NAME of admin requests (no zone may take it). */
#define SM_ADMIN_NAME "__admin"
/* The largest answer payload Postfix's socketmap client takes
 * (socketmap_table(5): 100,000 characters without the netstring). */
#define SM_ANSWER_MAX 100000

/* Whether a peer may send admin requests: AF_UNIX, 127.0.0.0/8, ::1 or
 * ::ffff:127.0.0.0/104. */
bool sm_admin_peer_ok(const struct sockaddr *sa, socklen_t len);

/*
 * The `dump` answer: `OK {"count":N,"entries":[{"domain":...,"id":...,
 * "mode":...,"expires":T,"last_used":T},...]}` (times in seconds since
 * the epoch), or, when that is over max bytes, `PERM` and why.
 * @return a malloc'd NUL-terminated answer of *len bytes; NULL when out of
 *         memory
 */
char *sm_admin_dump(const mtasts_cache_snapshot *s, size_t max, size_t *len);

#endif
