/*
 * Socketmap keys to policy domains.
 *
 * Postfix asks smtp_tls_policy_maps with the next-hop destination:
 * `example.com`, `example.com:25`, `[mx.example.com]`, `[mx.example.com]:25`,
 * the port perhaps a service name (`[mx.example.com]:submission`), in any
 * case, perhaps with a trailing dot. sendmail asks with the domain.
 * Network-free.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef SOCKETMAP_KEY_H
#define SOCKETMAP_KEY_H

#include <stddef.h>

#include <mtasts/mtasts.h>

/*
 * The policy domain of a key, normalised (lower case, no trailing dot).
 * @param key  the key bytes (need not end in NUL)
 * @param len  their length
 * @param out  receives the domain; "" when there is none
 * @return 0 with a domain; -1 when the key names no policy domain (empty,
 *         a leading dot, an IP address literal, a bad port, not a host
 *         name, or non-ASCII: the library has no IDNA tables): the answer
 *         is then NOTFOUND
 */
int sm_key_domain(const char *key, size_t len, char out[MTASTS_DOMAIN_BUFSIZE]);

#endif
