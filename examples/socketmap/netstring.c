/*
 * Netstrings and socketmap requests (netstring.h).
 *
 * SPDX-License-Identifier: MIT
 */
#include "netstring.h"

#include <string.h>

/* Digits of the largest length kept: far above any limit used. */
#define LEN_DIGITS_MAX 9

enum sm_ns_status
sm_ns_parse(const char *buf, size_t len, size_t max, const char **payload,
            size_t *plen, size_t *consumed)
{
    size_t n = 0;
    size_t i = 0;
    for (; i < len && buf[i] >= '0' && buf[i] <= '9'; i++) {
        if (i == 1 && buf[0] == '0') {
            return SM_NS_SYNTAX; /* leading zero */
        }
        if (i == LEN_DIGITS_MAX) {
            return SM_NS_TOO_LARGE;
        }
        n = n * 10 + (size_t)(buf[i] - '0');
        if (n > max) {
            return SM_NS_TOO_LARGE;
        }
    }
    if (i == len) {
        return SM_NS_MORE;
    }
    if (i == 0 || buf[i] != ':') {
        return SM_NS_SYNTAX;
    }
    size_t start = i + 1;
    if (len - start < n + 1) {
        return SM_NS_MORE;
    }
    if (buf[start + n] != ',') {
        return SM_NS_SYNTAX;
    }
    *payload = buf + start;
    *plen = n;
    *consumed = start + n + 1;
    return SM_NS_OK;
}

size_t
sm_ns_format(const char *payload, size_t plen, char *out, size_t cap)
{
    char digits[24];
    size_t d = 0;
    size_t v = plen;
    do {
        digits[d++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    size_t need = d + 1 + plen + 1;
    if (need > cap) {
        return 0;
    }
    size_t o = 0;
    while (d > 0) {
        out[o++] = digits[--d];
    }
    out[o++] = ':';
    if (plen > 0) {
        memcpy(out + o, payload, plen);
    }
    o += plen;
    out[o++] = ',';
    return o;
}

int
sm_request_split(const char *payload, size_t plen, const char **name,
                 size_t *name_len, const char **key, size_t *key_len)
{
    const char *sp = memchr(payload, ' ', plen);
    if (sp == NULL || sp == payload) {
        return -1;
    }
    *name = payload;
    *name_len = (size_t)(sp - payload);
    *key = sp + 1;
    *key_len = plen - *name_len - 1;
    return 0;
}
