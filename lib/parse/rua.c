/* An https: rua (RFC 8460 §3, §5.4) for the report POST. Only what can be
 * sent safely in a request line and checked against a certificate's
 * DNS-ID is accepted; every refusal names its byte. */
#include "parse/rua.h"

#include <string.h>

#include "util/chars.h"

#define SCHEME "https://"
#define SCHEME_LEN (sizeof(SCHEME) - 1)

static int
refuse(size_t off, const char *why, size_t *off_out, const char **why_out)
{
    *off_out = off;
    *why_out = why;
    return MTASTS_ERR_SYNTAX;
}

/* Every byte a visible ASCII character; no fragment. */
static int
check_bytes(const char *rua, size_t len, size_t *off_out, const char **why_out)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)rua[i];
        if (c >= 0x80) {
            return refuse(i, "a non-ASCII byte (write the URI in ASCII)",
                          off_out, why_out);
        }
        if (!mtasts__is(c, MTASTS__C_VCHAR)) {
            return refuse(i, "a space or control byte", off_out, why_out);
        }
        if (c == '#') {
            return refuse(i, "a fragment (#) is not allowed", off_out, why_out);
        }
    }
    return MTASTS_OK;
}

/* The port after ':' in [p, end): 1 to 65535. */
static int
parse_port(const char *rua, size_t p, size_t end, uint16_t *port,
           size_t *off_out, const char **why_out)
{
    if (p == end) {
        return refuse(p, "an empty port", off_out, why_out);
    }
    uint32_t v = 0;
    for (size_t i = p; i < end; i++) {
        if (!mtasts__is((unsigned char)rua[i], MTASTS__C_DIGIT)) {
            return refuse(i, "the port is not a number", off_out, why_out);
        }
        v = v * 10 + (uint32_t)(rua[i] - '0');
        if (v > 65535) {
            return refuse(p, "the port is above 65535", off_out, why_out);
        }
    }
    if (v == 0) {
        return refuse(p, "port 0", off_out, why_out);
    }
    *port = (uint16_t)v;
    return MTASTS_OK;
}

/* host[:port] in [p, end). */
static int
parse_authority(const char *rua, size_t p, size_t end,
                struct mtasts__rua_https *out, size_t *off_out,
                const char **why_out)
{
    const char *at = memchr(rua + p, '@', end - p);
    if (at != NULL) {
        return refuse(p, "userinfo (user@) is not allowed", off_out, why_out);
    }
    if (p < end && rua[p] == '[') {
        return refuse(p,
                      "an IP literal host is not allowed (the "
                      "certificate is checked for a host name)",
                      off_out, why_out);
    }
    size_t host_end = end;
    const char *colon = memchr(rua + p, ':', end - p);
    if (colon != NULL) {
        host_end = (size_t)(colon - rua);
        int rc =
            parse_port(rua, host_end + 1, end, &out->port, off_out, why_out);
        if (rc != MTASTS_OK) {
            return rc;
        }
    }
    if (host_end == p) {
        return refuse(p, "no host", off_out, why_out);
    }
    size_t digits = p;
    while (digits < host_end &&
           (mtasts__is((unsigned char)rua[digits], MTASTS__C_DIGIT) ||
            rua[digits] == '.')) {
        digits++;
    }
    if (digits == host_end) {
        return refuse(p,
                      "an IP address host is not allowed (the certificate "
                      "is checked for a host name)",
                      off_out, why_out);
    }
    if (mtasts_domain_normalize(rua + p, host_end - p, out->host, NULL) !=
        MTASTS_OK) {
        return refuse(p, "the host is not a host name", off_out, why_out);
    }
    return MTASTS_OK;
}

/* path-abempty [ "?" query ] in [p, len); "%" must start an escape. */
static int
parse_target(const char *rua, size_t p, size_t len,
             struct mtasts__rua_https *out, size_t *off_out,
             const char **why_out)
{
    size_t n = 0;
    if (p == len || rua[p] == '?') {
        out->path[n++] = '/'; /* RFC 9110 §4.2.1: an empty path is "/" */
    }
    if (len - p > MTASTS__RUA_PATH_MAX - n) {
        return refuse(p, "the path and query are longer than 512 bytes",
                      off_out, why_out);
    }
    for (size_t i = p; i < len; i++) {
        if (rua[i] == '%' &&
            (i + 2 >= len ||
             !mtasts__is((unsigned char)rua[i + 1], MTASTS__C_HEX) ||
             !mtasts__is((unsigned char)rua[i + 2], MTASTS__C_HEX))) {
            return refuse(i, "a bad percent-escape", off_out, why_out);
        }
        out->path[n++] = rua[i];
    }
    out->path[n] = '\0';
    return MTASTS_OK;
}

int
mtasts__rua_https_parse(const char *rua, size_t len,
                        struct mtasts__rua_https *out, size_t *off_out,
                        const char **why_out)
{
    memset(out, 0, sizeof(*out));
    out->port = MTASTS__RUA_HTTPS_PORT;
    *off_out = 0;
    *why_out = "";
    if (len >= 7 && mtasts__eq_lower(rua, "mailto:", 7)) {
        return refuse(0, "a mailto: URI (send it by mail)", off_out, why_out);
    }
    if (len < SCHEME_LEN || !mtasts__eq_lower(rua, SCHEME, SCHEME_LEN)) {
        return refuse(0, "not an https:// URI", off_out, why_out);
    }
    int rc = check_bytes(rua, len, off_out, why_out);
    if (rc != MTASTS_OK) {
        return rc;
    }
    size_t end = SCHEME_LEN;
    while (end < len && rua[end] != '/' && rua[end] != '?') {
        end++;
    }
    rc = parse_authority(rua, SCHEME_LEN, end, out, off_out, why_out);
    if (rc != MTASTS_OK) {
        return rc;
    }
    return parse_target(rua, end, len, out, off_out, why_out);
}
