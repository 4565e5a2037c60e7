/* The MX hosts of a domain for mtasts-query --probe, and the TXT records
 * of a name for --tlsrpt: the tool's own DNS queries (ldns), as the
 * library leaves MX resolution and TLSRPT record lookups to the MTA.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MTASTS_EXAMPLES_MXDNS_H
#define MTASTS_EXAMPLES_MXDNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MX_LIST_MAX 64

struct mx_host {
    char name[256]; /* as published, without the final dot */
    uint16_t preference;
};

struct mx_list {
    size_t n;
    bool implicit; /* no MX record: the domain itself (RFC 5321 §5.1) */
    struct mx_host host[MX_LIST_MAX]; /* by preference */
};

enum { MX_OK = 0, MX_NONE = 1, MX_ERROR = 2 };

/* The MX hosts of domain through resolver ("ADDR[@PORT]", NULL for
 * /etc/resolv.conf): MX_OK with out->n >= 1, MX_NONE (NXDOMAIN, null MX)
 * or MX_ERROR, with why. */
int mx_lookup(const char *domain, const char *resolver, struct mx_list *out,
              char *why, size_t why_size);

#define TXT_LIST_MAX 16

struct txt_list {
    size_t n;
    size_t len[TXT_LIST_MAX];
    char record[TXT_LIST_MAX][4096]; /* the strings of one RR, joined */
};

/* The TXT records at name: MX_OK (out->n may be 0: no record of the
 * type), MX_NONE (NXDOMAIN) or MX_ERROR, with why. */
int txt_lookup(const char *name, const char *resolver, struct txt_list *out,
               char *why, size_t why_size);

#endif
