/*
 * Socketmap keys to policy domains (key.h).
 *
 * SPDX-License-Identifier: MIT
 */
#include "key.h"

#include <stdbool.h>
#include <string.h>

static bool
all_digits(const char *s, size_t len)
{
    if (len == 0) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
    }
    return true;
}

/* A port as Postfix writes it after a next-hop host: a number, or a
 * symbolic service name (smtp(8): "[host]:port", "a numerical port or a
 * symbolic service name"; RFC 6335 §5.1 syntax: 1-15 letters, digits and
 * inner hyphens, at least one letter), e.g. "submission". */
static bool
is_port(const char *s, size_t len)
{
    if (all_digits(s, len)) {
        return true;
    }
    if (len == 0 || len > 15 || s[0] == '-' || s[len - 1] == '-') {
        return false;
    }
    bool letter = false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        letter |= alpha;
        if (!alpha && !(c >= '0' && c <= '9') && c != '-') {
            return false;
        }
    }
    return letter;
}

/* A dotted name whose last label is all digits is an IPv4 address (no
 * top-level domain is numeric). */
static bool
looks_like_ipv4(const char *s, size_t len)
{
    if (len > 0 && s[len - 1] == '.') {
        len--;
    }
    size_t start = len;
    while (start > 0 && s[start - 1] != '.') {
        start--;
    }
    return all_digits(s + start, len - start);
}

int
sm_key_domain(const char *key, size_t len, char out[MTASTS_DOMAIN_BUFSIZE])
{
    out[0] = '\0';
    const char *host = key;
    size_t host_len = len;
    if (len > 0 && key[0] == '[') {
        const char *close = memchr(key, ']', len);
        if (close == NULL) {
            return -1;
        }
        host = key + 1;
        host_len = (size_t)(close - host);
        size_t rest = len - (size_t)(close - key) - 1;
        if (rest > 0 && (close[1] != ':' || !is_port(close + 2, rest - 1))) {
            return -1;
        }
    } else {
        const char *colon = memchr(key, ':', len);
        if (colon != NULL) {
            size_t rest = len - (size_t)(colon - key) - 1;
            if (!is_port(colon + 1, rest)) {
                return -1; /* IPv6 or garbage */
            }
            host_len = (size_t)(colon - key);
        }
    }
    if (host_len == 0 || host[0] == '.' || memchr(host, ':', host_len) ||
        looks_like_ipv4(host, host_len)) {
        return -1;
    }
    if (mtasts_domain_normalize(host, host_len, out, NULL) != MTASTS_OK) {
        out[0] = '\0';
        return -1;
    }
    return 0;
}
