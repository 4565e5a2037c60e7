/*
 * DANE awareness: the DNS lookups (dane.h), blocking, through ldns. Run by
 * the daemon's worker threads, never by its event loop.
 *
 * SPDX-License-Identifier: MIT
 */
#include "dane.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ldns/ldns.h>

#define RESOLVER_MAX 1024
#define NAME_MAX_TEXT 300

struct asker {
    ldns_resolver *res;
    int64_t deadline; /* monotonic ms */
    uint32_t ttl;     /* smallest TTL seen */
};

static int64_t
mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ADDR[@PORT] (ADDR an IPv4 or IPv6 literal) or "" for resolv.conf. */
static ldns_resolver *
resolver_new(const char *spec)
{
    ldns_resolver *res = NULL;
    if (spec[0] == '\0') {
        return ldns_resolver_new_frm_file(&res, NULL) == LDNS_STATUS_OK ? res
                                                                        : NULL;
    }
    char addr[RESOLVER_MAX];
    unsigned long port = 53;
    const char *at = strrchr(spec, '@');
    size_t len = at != NULL ? (size_t)(at - spec) : strlen(spec);
    if (len == 0 || len >= sizeof(addr)) {
        return NULL;
    }
    memcpy(addr, spec, len);
    addr[len] = '\0';
    if (at != NULL) {
        char *end = NULL;
        port = strtoul(at + 1, &end, 10);
        if (end == at + 1 || *end != '\0' || port == 0 || port > 65535) {
            return NULL;
        }
    }
    unsigned char bin[16];
    ldns_rdf *ns = NULL;
    if (inet_pton(AF_INET, addr, bin) == 1) {
        ns = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_A, 4, bin);
    } else if (inet_pton(AF_INET6, addr, bin) == 1) {
        ns = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_AAAA, 16, bin);
    }
    res = ns != NULL ? ldns_resolver_new() : NULL;
    if (res == NULL ||
        ldns_resolver_push_nameserver(res, ns) != LDNS_STATUS_OK) {
        ldns_resolver_deep_free(res);
        ldns_rdf_deep_free(ns);
        return NULL;
    }
    ldns_rdf_deep_free(ns); /* pushed as a copy */
    ldns_resolver_set_port(res, (uint16_t)port);
    return res;
}

/* One query with DO and RD set; the outcome, the answer's records of the
 * type in *rrs (caller frees; NULL unless secure). */
static enum sm_dns_outcome
ask(struct asker *a, const char *name, ldns_rr_type type, ldns_rr_list **rrs)
{
    *rrs = NULL;
    int64_t left = a->deadline - mono_ms();
    if (left <= 0) {
        return SM_DNS_FAIL;
    }
    struct timeval tv = {.tv_sec = (time_t)(left / 1000),
                         .tv_usec = (suseconds_t)(left % 1000) * 1000};
    ldns_resolver_set_timeout(a->res, tv);
    ldns_rdf *qname = ldns_dname_new_frm_str(name);
    if (qname == NULL) {
        return SM_DNS_FAIL;
    }
    ldns_pkt *pkt = NULL;
    ldns_status s = ldns_resolver_send(&pkt, a->res, qname, type,
                                       LDNS_RR_CLASS_IN, LDNS_RD);
    ldns_rdf_deep_free(qname);
    if (s != LDNS_STATUS_OK || pkt == NULL) {
        ldns_pkt_free(pkt);
        return SM_DNS_FAIL;
    }
    ldns_rr_list *list =
        ldns_pkt_rr_list_by_type(pkt, type, LDNS_SECTION_ANSWER);
    size_t count = list != NULL ? ldns_rr_list_rr_count(list) : 0;
    enum sm_dns_outcome o =
        sm_dns_classify((int)ldns_pkt_get_rcode(pkt), ldns_pkt_ad(pkt), count);
    /* The TTL of what was seen: the records, or the SOA of a denial. */
    ldns_rr_list *ttl_from = count > 0 ? list : ldns_pkt_authority(pkt);
    for (size_t i = 0; ttl_from != NULL && i < ldns_rr_list_rr_count(ttl_from);
         i++) {
        uint32_t t = ldns_rr_ttl(ldns_rr_list_rr(ttl_from, i));
        if (t < a->ttl) {
            a->ttl = t;
        }
    }
    if (o == SM_DNS_SECURE) {
        *rrs = list;
    } else {
        ldns_rr_list_deep_free(list);
    }
    ldns_pkt_free(pkt);
    return o;
}

static void
discard(ldns_rr_list *rrs)
{
    ldns_rr_list_deep_free(rrs);
}

/* The address lookup of a host: A, or AAAA when A is proven absent. */
static enum sm_dns_outcome
ask_addr(struct asker *a, const char *host)
{
    ldns_rr_list *rrs = NULL;
    enum sm_dns_outcome o = ask(a, host, LDNS_RR_TYPE_A, &rrs);
    discard(rrs);
    if (o == SM_DNS_SECURE_NONE) {
        o = ask(a, host, LDNS_RR_TYPE_AAAA, &rrs);
        discard(rrs);
    }
    return o;
}

static int
by_preference(const void *x, const void *y)
{
    const ldns_rr *const *a = x;
    const ldns_rr *const *b = y;
    uint16_t pa = ldns_rdf2native_int16(ldns_rr_mx_preference(*a));
    uint16_t pb = ldns_rdf2native_int16(ldns_rr_mx_preference(*b));
    return (pa > pb) - (pa < pb);
}

/* The MX hosts as text with a trailing dot, in preference order, at most
 * SM_DANE_HOSTS_MAX; none for a null MX (RFC 7505). -1 when out of memory
 * (then nothing is known: a failed lookup, never "no hosts"). */
static long
mx_hosts(ldns_rr_list *rrs, char names[][NAME_MAX_TEXT])
{
    size_t n = ldns_rr_list_rr_count(rrs);
    ldns_rr **sorted = calloc(n, sizeof(*sorted));
    long out = 0;
    if (sorted == NULL) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        sorted[i] = ldns_rr_list_rr(rrs, i);
    }
    qsort(sorted, n, sizeof(*sorted), by_preference);
    for (size_t i = 0; i < n && out < SM_DANE_HOSTS_MAX; i++) {
        char *text = ldns_rdf2str(ldns_rr_mx_exchange(sorted[i]));
        if (text == NULL) {
            out = -1;
            break;
        }
        if (strcmp(text, ".") != 0 && strlen(text) < NAME_MAX_TEXT) {
            strcpy(names[out++], text);
        }
        free(text);
    }
    free(sorted);
    return out;
}

enum sm_dane_verdict
sm_dane_check(const char *resolver, const char *domain, int64_t budget_ms,
              uint32_t *ttl_s, char *why, size_t why_cap)
{
    *ttl_s = SM_DANE_RETRY_S;
    struct asker a = {.res = resolver_new(resolver),
                      .deadline = mono_ms() + budget_ms,
                      .ttl = SM_DANE_TTL_MAX_S};
    if (a.res == NULL) {
        snprintf(why, why_cap, "resolver %s unusable", resolver);
        return SM_DANE_MX_FAIL;
    }
    ldns_resolver_set_dnssec(a.res, true); /* DO */
    ldns_resolver_set_dnssec_cd(a.res, false);
    ldns_resolver_set_recursive(a.res, true);
    ldns_resolver_set_edns_udp_size(a.res, 1232);
    ldns_resolver_set_fallback(a.res, true); /* TCP when truncated */
    ldns_resolver_set_retry(a.res, 1);
    ldns_resolver_set_retrans(a.res, 0); /* no sleep after a timeout */

    char names[SM_DANE_HOSTS_MAX][NAME_MAX_TEXT];
    struct sm_dane_host hosts[SM_DANE_HOSTS_MAX];
    size_t n = 0;
    char qname[NAME_MAX_TEXT];
    snprintf(qname, sizeof(qname), "%s.", domain);
    ldns_rr_list *rrs = NULL;
    enum sm_dns_outcome mx = ask(&a, qname, LDNS_RR_TYPE_MX, &rrs);
    if (mx == SM_DNS_SECURE) {
        long got = mx_hosts(rrs, names);
        if (got < 0) {
            mx = SM_DNS_FAIL;
        } else {
            n = (size_t)got;
        }
    } else if (mx == SM_DNS_SECURE_NONE) {
        strcpy(names[n++], qname); /* RFC 7672 §2.2.2, RFC 5321 §5.1 */
    }
    discard(rrs);
    const char *tlsa_host = NULL;
    const char *failed_host = NULL;
    for (size_t i = 0; i < n; i++) {
        hosts[i].addr = ask_addr(&a, names[i]);
        hosts[i].tlsa = SM_DNS_INSECURE;
        if (hosts[i].addr == SM_DNS_SECURE) {
            char tname[NAME_MAX_TEXT + 16];
            /* RFC 7672 §3: the TLSA base domain of port 25 */
            memcpy(tname, "_25._tcp.", 9);
            memcpy(tname + 9, names[i], strlen(names[i]) + 1);
            hosts[i].tlsa = ask(&a, tname, LDNS_RR_TYPE_TLSA, &rrs);
            discard(rrs);
        }
        if (hosts[i].addr == SM_DNS_SECURE && hosts[i].tlsa == SM_DNS_SECURE) {
            tlsa_host = names[i];
            n = i + 1; /* one host with DANE settles it */
            break;
        }
        if (failed_host == NULL &&
            (hosts[i].addr == SM_DNS_FAIL || hosts[i].tlsa == SM_DNS_FAIL)) {
            failed_host = names[i];
        }
    }
    ldns_resolver_deep_free(a.res);
    enum sm_dane_verdict v = sm_dane_decide(mx, hosts, n);
    switch (v) {
    case SM_DANE_APPLIES:
        snprintf(why, why_cap, "secure TLSA records at _25._tcp.%s",
                 tlsa_host != NULL ? tlsa_host : "?");
        break;
    case SM_DANE_TLSA_FAIL:
        snprintf(why, why_cap,
                 "secure MX, lookup of %s failed (SERVFAIL, bogus or timeout)",
                 failed_host != NULL ? failed_host : "?");
        break;
    case SM_DANE_MX_FAIL:
        snprintf(why, why_cap, "MX lookup failed (SERVFAIL, bogus or timeout)");
        break;
    default:
        snprintf(why, why_cap, "%s",
                 mx == SM_DNS_INSECURE ? "MX RRset not validated (no AD)"
                                       : "no secure TLSA records");
        break;
    }
    if (v != SM_DANE_MX_FAIL && v != SM_DANE_TLSA_FAIL) {
        *ttl_s = a.ttl < SM_DANE_TTL_MIN_S ? SM_DANE_TTL_MIN_S : a.ttl;
    }
    return v;
}
