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

/* A resolver for spec ("ADDR[@PORT]", NULL: /etc/resolv.conf), or NULL
 * with why. */
static ldns_resolver *
make_resolver(const char *resolver, char *why, size_t why_size)
{
    ldns_resolver *res = NULL;
    if (resolver != NULL) {
        res = ldns_resolver_new();
        if (res == NULL) {
            snprintf(why, why_size, "out of memory");
            return NULL;
        }
        if (!add_resolver(res, resolver, why, why_size)) {
            ldns_resolver_deep_free(res);
            return NULL;
        }
    } else if (ldns_resolver_new_frm_file(&res, NULL) != LDNS_STATUS_OK) {
        snprintf(why, why_size, "cannot read /etc/resolv.conf");
        return NULL;
    }
    struct timeval tv = {DNS_TIMEOUT_S, 0};
    ldns_resolver_set_timeout(res, tv);
    ldns_resolver_set_retry(res, 1);
    ldns_resolver_set_recursive(res, true);
    return res;
}

/* Ask for name's records of type: MX_OK with the answer's records of that
 * type in *rrs (NULL when there are none), MX_NONE for NXDOMAIN, or
 * MX_ERROR; why says what went wrong. */
static int
query(const char *name, ldns_rr_type type, const char *resolver,
      ldns_rr_list **rrs, char *why, size_t why_size)
{
    *rrs = NULL;
    ldns_resolver *res = make_resolver(resolver, why, why_size);
    if (res == NULL) {
        return MX_ERROR;
    }
    ldns_rdf *dname = ldns_dname_new_frm_str(name);
    if (dname == NULL) {
        snprintf(why, why_size, "%s is not a domain name", name);
        ldns_resolver_deep_free(res);
        return MX_ERROR;
    }
    ldns_pkt *pkt = NULL;
    ldns_status st = ldns_resolver_query_status(&pkt, res, dname, type,
                                                LDNS_RR_CLASS_IN, LDNS_RD);
    int rc = MX_OK;
    if (st != LDNS_STATUS_OK || pkt == NULL) {
        snprintf(why, why_size, "query for %s failed: %s", name,
                 ldns_get_errorstr_by_id(st));
        rc = MX_ERROR;
    } else if (ldns_pkt_get_rcode(pkt) == LDNS_RCODE_NXDOMAIN) {
        snprintf(why, why_size, "%s does not exist (NXDOMAIN)", name);
        rc = MX_NONE;
    } else if (ldns_pkt_get_rcode(pkt) != LDNS_RCODE_NOERROR) {
        snprintf(why, why_size, "query for %s: rcode %d", name,
                 (int)ldns_pkt_get_rcode(pkt));
        rc = MX_ERROR;
    } else {
        *rrs = ldns_pkt_rr_list_by_type(pkt, type, LDNS_SECTION_ANSWER);
    }
    ldns_pkt_free(pkt);
    ldns_rdf_deep_free(dname);
    ldns_resolver_deep_free(res);
    return rc;
}

int
mx_lookup(const char *domain, const char *resolver, struct mx_list *out,
          char *why, size_t why_size)
{
    memset(out, 0, sizeof(*out));
    ldns_rr_list *mx = NULL;
    int rc = query(domain, LDNS_RR_TYPE_MX, resolver, &mx, why, why_size);
    if (rc != MX_OK) {
        return rc;
    }
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
        return MX_NONE;
    }
    if (n == 0) {
        /* no MX: the domain itself is the implicit MX (RFC 5321 §5.1) */
        snprintf(out->host[0].name, sizeof(out->host[0].name), "%s", domain);
        out->n = 1;
        out->implicit = true;
    }
    qsort(out->host, out->n, sizeof(out->host[0]), by_preference);
    return MX_OK;
}

int
txt_lookup(const char *name, const char *resolver, struct txt_list *out,
           char *why, size_t why_size)
{
    memset(out, 0, sizeof(*out));
    ldns_rr_list *txt = NULL;
    int rc = query(name, LDNS_RR_TYPE_TXT, resolver, &txt, why, why_size);
    size_t n = txt != NULL ? ldns_rr_list_rr_count(txt) : 0;
    for (size_t i = 0; rc == MX_OK && i < n; i++) {
        if (out->n == TXT_LIST_MAX) {
            snprintf(why, why_size, "more than %d TXT records at %s",
                     TXT_LIST_MAX, name);
            rc = MX_ERROR;
            break;
        }
        ldns_rr *rr = ldns_rr_list_rr(txt, i);
        size_t len = 0;
        for (size_t k = 0; k < ldns_rr_rd_count(rr); k++) {
            /* character-strings joined with nothing in between */
            const ldns_rdf *f = ldns_rr_rdf(rr, k);
            const uint8_t *d = ldns_rdf_data(f);
            size_t flen = ldns_rdf_size(f);
            if (flen == 0 || d[0] + 1u > flen) {
                continue;
            }
            if (len + d[0] >= sizeof(out->record[0])) {
                snprintf(why, why_size, "a TXT record at %s is too long", name);
                rc = MX_ERROR;
                break;
            }
            memcpy(out->record[out->n] + len, d + 1, d[0]);
            len += d[0];
        }
        out->len[out->n++] = len;
    }
    ldns_rr_list_deep_free(txt);
    return rc;
}
