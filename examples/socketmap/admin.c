/*
 * Admin requests (admin.h).
 *
 * SPDX-License-Identifier: MIT
 */
#include "admin.h"

#include <inttypes.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool
sm_admin_peer_ok(const struct sockaddr *sa, socklen_t len)
{
    if (sa == NULL) {
        return false;
    }
    if (sa->sa_family == AF_UNIX) {
        return true;
    }
    if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        const struct in6_addr *a =
            &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a)) {
            return true;
        }
        return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
    }
    return false;
}

struct buf {
    char *p;
    size_t len, cap;
    bool oom;
};

static void
put(struct buf *b, const char *s, size_t n)
{
    if (b->oom) {
        return;
    }
    if (b->cap - b->len <= n) {
        size_t cap = b->cap == 0 ? 4096 : b->cap;
        while (cap - b->len <= n) {
            cap *= 2;
        }
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void
put_str(struct buf *b, const char *s)
{
    put(b, s, strlen(s));
}

/* A JSON string: quotes, backslashes and control bytes escaped. */
static void
put_json(struct buf *b, const char *s)
{
    put(b, "\"", 1);
    for (; s != NULL && *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            char e[2] = {'\\', (char)ch};
            put(b, e, 2);
        } else if (ch < 0x20) {
            char e[8];
            snprintf(e, sizeof(e), "\\u%04x", ch);
            put_str(b, e);
        } else {
            put(b, (const char *)&ch, 1);
        }
    }
    put(b, "\"", 1);
}

static void
put_int(struct buf *b, int64_t v)
{
    char n[24];
    snprintf(n, sizeof(n), "%" PRId64, v);
    put_str(b, n);
}

char *
sm_admin_dump(const mtasts_cache_snapshot *s, size_t max, size_t *len)
{
    struct buf b = {0};
    size_t n = mtasts_cache_snapshot_count(s);
    put_str(&b, "OK {\"count\":");
    put_int(&b, (int64_t)n);
    put_str(&b, ",\"entries\":[");
    for (size_t i = 0; i < n; i++) {
        put_str(&b, i > 0 ? ",{\"domain\":" : "{\"domain\":");
        put_json(&b, mtasts_cache_snapshot_domain(s, i));
        put_str(&b, ",\"id\":");
        put_json(&b, mtasts_cache_snapshot_txt_id(s, i));
        put_str(&b, ",\"mode\":");
        put_json(&b, mtasts_mode_name(mtasts_cache_snapshot_mode(s, i)));
        put_str(&b, ",\"expires\":");
        put_int(&b, mtasts_cache_snapshot_expires(s, i));
        put_str(&b, ",\"last_used\":");
        put_int(&b, mtasts_cache_snapshot_last_used(s, i));
        put(&b, "}", 1);
    }
    put_str(&b, "]}");
    if (!b.oom && b.len > max) {
        char why[200];
        snprintf(why, sizeof(why),
                 "PERM dump too large: %zu policies need %zu bytes, over "
                 "the %zu-byte socketmap answer limit; read the cache file",
                 n, b.len, max);
        b.len = 0;
        put_str(&b, why);
    }
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    *len = b.len;
    return b.p;
}
