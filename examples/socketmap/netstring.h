/*
 * Netstrings and socketmap requests (Postfix socketmap_table(5)).
 *
 * A netstring is `LEN:PAYLOAD,` with LEN in decimal; a request is one
 * netstring whose payload is `NAME KEY`. Network-free: the daemon feeds the
 * bytes it has read and gets back whole requests.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef SOCKETMAP_NETSTRING_H
#define SOCKETMAP_NETSTRING_H

#include <stddef.h>

/* The largest request payload accepted (socketmap_table(5): 10,000). */
#define SM_REQUEST_MAX 10000

enum sm_ns_status {
    SM_NS_OK = 0,         /* a whole netstring */
    SM_NS_MORE = 1,       /* a prefix of one: read more bytes */
    SM_NS_SYNTAX = -1,    /* not a netstring: close the connection */
    SM_NS_TOO_LARGE = -2, /* its length is above the limit: close */
};

/*
 * Find the netstring at the start of buf[0..len).
 * @param max       largest payload accepted
 * @param payload   receives a pointer into buf (SM_NS_OK)
 * @param plen      receives the payload length (SM_NS_OK)
 * @param consumed  receives the bytes of the whole netstring (SM_NS_OK)
 * Leading zeros are refused ("0:," is the only length starting with 0), as
 * is an empty length. A length above max is refused as soon as its digits
 * show it, before the payload arrives.
 */
enum sm_ns_status sm_ns_parse(const char *buf, size_t len, size_t max,
                              const char **payload, size_t *plen,
                              size_t *consumed);

/*
 * Write the netstring of payload[0..plen) to out (cap bytes).
 * @return the length written (without a NUL; none is written), or 0 when
 *         it does not fit
 */
size_t sm_ns_format(const char *payload, size_t plen, char *out, size_t cap);

/*
 * Split a request payload `NAME KEY` at its first space.
 * @return 0 and the two parts (not NUL-terminated; KEY may be empty, a key
 *         that names no domain, answered `NOTFOUND ` as by
 *         postfix-mta-sts-resolver), or -1 when there is no space or NAME
 *         is empty
 */
int sm_request_split(const char *payload, size_t plen, const char **name,
                     size_t *name_len, const char **key, size_t *key_len);

#endif
