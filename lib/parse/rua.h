/* An https: rua of a TLSRPT record (RFC 8460 §3, §5.4) taken apart for
 * the POST: host, port and request target. Pure. */
#ifndef MTASTS_PARSE_RUA_H
#define MTASTS_PARSE_RUA_H

#include <stddef.h>
#include <stdint.h>

#include "mtasts/mtasts.h"

#define MTASTS__RUA_PATH_MAX 512 /* request target bytes, as lib/io sends */
#define MTASTS__RUA_HTTPS_PORT 443

struct mtasts__rua_https {
    char host[MTASTS_DOMAIN_BUFSIZE];    /* normalised: lower case, no dot */
    uint16_t port;                       /* 443 when the URI gives none */
    char path[MTASTS__RUA_PATH_MAX + 1]; /* path and query, "/" at least */
};

/* Parse "https://host[:port][/path][?query]" (RFC 3986 §3; scheme and host
 * case-insensitive). Refused: another scheme, userinfo, an IP literal or
 * any host that is not a host name, an empty or bad port, a fragment,
 * bytes outside %x21-7E, a bad %-escape, a target over
 * MTASTS__RUA_PATH_MAX bytes. Returns MTASTS_OK or MTASTS_ERR_SYNTAX;
 * then *off_out (the 0-based byte offset of the fault) and *why_out (a
 * static sentence) say what is wrong. */
int mtasts__rua_https_parse(const char *rua, size_t len,
                            struct mtasts__rua_https *out, size_t *off_out,
                            const char **why_out);

#endif
