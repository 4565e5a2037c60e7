/* The MX hosts of a domain through ldns (RFC 5321 §5.1), for --probe.
 *
 * SPDX-License-Identifier: MIT
 */
#include "mxdns.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#define DNS_TIMEOUT_S 5

/* "ADDR" or "ADDR@PORT" into a nameserver of res. */
static bool
add_resolver(ldns_resolver *res, const char *spec, char *why, size_t size)
{
    char addr[64];
    const char *at = strrchr(spec, '@');
    size_t len = at != NULL ? (size_t)(at - spec) : strlen(spec);
    unsigned long port = 53;
    if (at != NULL) {
        char *end = NULL;
        port = strtoul(at + 1, &end, 10);
        if (at[1] == '\0' || *end != '\0' || port == 0 || port > 65535) {
            snprintf(why, size, "bad resolver port in %s", spec);
            return false;
        }
    }
    if (len == 0 || len >= sizeof(addr)) {
        snprintf(why, size, "bad resolver address %s", spec);
        return false;
    }
    memcpy(addr, spec, len);
    addr[len] = '\0';
    ldns_rdf *ns = ldns_rdf_new_frm_str(LDNS_RDF_TYPE_A, addr);
    if (ns == NULL) {
        ns = ldns_rdf_new_frm_str(LDNS_RDF_TYPE_AAAA, addr);
    }
    if (ns == NULL) {
        snprintf(why, size, "resolver %s is not an IP address", addr);
        return false;
    }
    ldns_status st = ldns_resolver_push_nameserver(res, ns);
    ldns_rdf_deep_free(ns);
    if (st != LDNS_STATUS_OK) {
        snprintf(why, size, "resolver %s: %s", addr,
                 ldns_get_errorstr_by_id(st));
        return false;
    }
    ldns_resolver_set_port(res, (uint16_t)port);
    return true;
}

static int
by_preference(const void *a, const void *b)
{
    const struct mx_host *x = a, *y = b;
    return (x->preference > y->preference) - (x->preference < y->preference);
}

int
mx_lookup(const char *domain, const char *resolver, struct mx_list *out,
          char *why, size_t why_size)
{
    memset(out, 0, sizeof(*out));
    ldns_resolver *res = NULL;
    if (resolver != NULL) {
        res = ldns_resolver_new();
        if (res == NULL) {
            snprintf(why, why_size, "out of memory");
            return MX_ERROR;
        }
        if (!add_resolver(res, resolver, why, why_size)) {
            ldns_resolver_deep_free(res);
            return MX_ERROR;
        }
    } else if (ldns_resolver_new_frm_file(&res, NULL) != LDNS_STATUS_OK) {
        snprintf(why, why_size, "cannot read /etc/resolv.conf");
        return MX_ERROR;
    }
    struct timeval tv = {DNS_TIMEOUT_S, 0};
    ldns_resolver_set_timeout(res, tv);
    ldns_resolver_set_retry(res, 1);
    ldns_resolver_set_recursive(res, true);

    ldns_rdf *name = ldns_dname_new_frm_str(domain);
    if (name == NULL) {
        snprintf(why, why_size, "%s is not a domain name", domain);
        ldns_resolver_deep_free(res);
        return MX_ERROR;
    }
    ldns_pkt *pkt = NULL;
    ldns_status st = ldns_resolver_query_status(
        &pkt, res, name, LDNS_RR_TYPE_MX, LDNS_RR_CLASS_IN, LDNS_RD);
    int rc = MX_OK;
    if (st != LDNS_STATUS_OK || pkt == NULL) {
        snprintf(why, why_size, "MX query for %s failed: %s", domain,
                 ldns_get_errorstr_by_id(st));
        rc = MX_ERROR;
    } else if (ldns_pkt_get_rcode(pkt) == LDNS_RCODE_NXDOMAIN) {
        snprintf(why, why_size, "%s does not exist (NXDOMAIN)", domain);
        rc = MX_NONE;
    } else if (ldns_pkt_get_rcode(pkt) != LDNS_RCODE_NOERROR) {
        snprintf(why, why_size, "MX query for %s: rcode %d", domain,
                 (int)ldns_pkt_get_rcode(pkt));
        rc = MX_ERROR;
    } else {
        ldns_rr_list *mx =
            ldns_pkt_rr_list_by_type(pkt, LDNS_RR_TYPE_MX, LDNS_SECTION_ANSWER);
        size_t n = mx != NULL ? ldns_rr_list_rr_count(mx) : 0;
        for (size_t i = 0; i < n && out->n < MX_LIST_MAX; i++) {
            ldns_rr *rr = ldns_rr_list_rr(mx, i);
            if (ldns_rr_rd_count(rr) != 2) {
                continue;
            }
            char *host = ldns_rdf2str(ldns_rr_rdf(rr, 1));
            if (host == NULL) {
                continue;
            }
            size_t len = strlen(host);
            if (len > 1 && host[len - 1] == '.') {
                host[--len] = '\0';
            }
            struct mx_host *h = &out->host[out->n];
            if (len < sizeof(h->name)) {
                memcpy(h->name, host, len + 1);
                h->preference = ldns_rdf2native_int16(ldns_rr_rdf(rr, 0));
                out->n++;
            }
            free(host);
        }
        ldns_rr_list_deep_free(mx);
        if (out->n == 1 && strcmp(out->host[0].name, ".") == 0) {
            snprintf(why, why_size, "%s accepts no mail (null MX, RFC 7505)",
                     domain);
            out->n = 0;
            rc = MX_NONE;
        } else if (n == 0) {
            /* no MX: the domain itself is the implicit MX (RFC 5321 §5.1) */
            snprintf(out->host[0].name, sizeof(out->host[0].name), "%s",
                     domain);
            out->n = 1;
            out->implicit = true;
        }
        qsort(out->host, out->n, sizeof(out->host[0]), by_preference);
    }
    ldns_pkt_free(pkt);
    ldns_rdf_deep_free(name);
    ldns_resolver_deep_free(res);
    return rc;
}
