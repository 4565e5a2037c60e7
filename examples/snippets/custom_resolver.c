/*
 * custom_resolver: plug another resolver into libmtasts. The DNS TXT hook
 * below asks glibc's libresolv (res_nquery) instead of the default I/O;
 * the policy fetch stays the default one.
 *
 *   custom_resolver [--resolver ADDR[@PORT]] DOMAIN
 *
 * ADDR is an IPv4 address literal, PORT defaults to 53; without
 * --resolver the nameservers of /etc/resolv.conf are asked. The default
 * HTTPS hook looks up the policy host's address itself, through the
 * resolver of mtasts_ctx_set_resolver(): --resolver sets that one too.
 * Exit status: 0 a policy applies, 1 no policy, 2 discovery failed,
 * 64 usage error, 71 setup failed.
 *
 * docs/hooks.md quotes this file; examples/snippets/meson.build builds it
 * and links it with -lresolv.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE 1 /* glibc: the BSD types <resolv.h> uses */
#endif

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mtasts/mtasts.h>

#define MESSAGE_MAX 65535 /* largest DNS message (TCP) */

/* Join the character-strings of one TXT RDATA, each a length byte and
 * that many bytes, with nothing in between (RFC 8461 §3.1). out has room
 * for rdlen bytes. Returns the joined length, or -1 if malformed. */
static long
join_txt(const unsigned char *rdata, size_t rdlen, char *out)
{
    size_t i = 0;
    size_t n = 0;
    while (i < rdlen) {
        size_t len = rdata[i++];
        if (len > rdlen - i) {
            return -1;
        }
        memcpy(out + n, rdata + i, len);
        n += len;
        i += len;
    }
    return (long)n;
}

/* The DNS TXT hook. res_nquery() blocks, so the request is finished
 * inline, before the hook returns. Once mtasts_dns_done() has been called
 * the hook must return MTASTS_OK; an error return means "done will not be
 * called". */
static int
dns_txt_hook(mtasts_req *req, const char *name, void *user)
{
    res_state res = user; /* one per thread: res_n* share nothing else */
    mtasts_dns_rcode rcode = MTASTS_DNS_TEMPFAIL;
    const char *reason = NULL;
    unsigned char *msg = malloc(MESSAGE_MAX);
    char *text = malloc(MESSAGE_MAX);
    if (msg == NULL || text == NULL) {
        free(msg);
        free(text);
        return MTASTS_ERR_NOMEM; /* nothing started: no done */
    }

    int n = res_nquery(res, name, ns_c_in, ns_t_txt, msg, MESSAGE_MAX);
    if (n < 0) {
        /* res_nquery maps the outcome to h_errno: NXDOMAIN is
         * HOST_NOT_FOUND, NOERROR without an answer NO_DATA; SERVFAIL,
         * REFUSED and timeouts are TRY_AGAIN, other errors NO_RECOVERY. */
        if (res->res_h_errno == HOST_NOT_FOUND) {
            rcode = MTASTS_DNS_NXDOMAIN;
        } else if (res->res_h_errno == NO_DATA) {
            rcode = MTASTS_DNS_NODATA;
        } else {
            reason = hstrerror(res->res_h_errno);
        }
        goto out;
    }
    ns_msg answer;
    if (n > MESSAGE_MAX || ns_initparse(msg, n, &answer) < 0) {
        reason = "malformed DNS answer";
        goto out;
    }
    /* The answer section may start with the CNAME chain; keep the TXT RRs
     * (RFC 8461 §3.1: the records at the end of the chain). */
    for (int i = 0; i < ns_msg_count(answer, ns_s_an); i++) {
        ns_rr rr;
        if (ns_parserr(&answer, ns_s_an, i, &rr) < 0) {
            reason = "malformed DNS answer";
            goto out;
        }
        if (ns_rr_type(rr) != ns_t_txt || ns_rr_class(rr) != ns_c_in) {
            continue;
        }
        long len = join_txt(ns_rr_rdata(rr), ns_rr_rdlen(rr), text);
        if (len < 0) {
            reason = "malformed TXT record";
            goto out;
        }
        /* The library copies the record: text may be reused at once. */
        int rc = mtasts_dns_add_txt(req, text, (size_t)len);
        if (rc != MTASTS_OK) {
            reason = mtasts_strerror(rc);
            goto out;
        }
    }
    rcode = MTASTS_DNS_ANSWER; /* with no TXT RR, the library sees NODATA */

out:
    free(msg);
    free(text);
    /* Exactly once. It copies reason, and may run the rest of the lookup
     * (the fetch, the lookup's callback) before it returns. */
    mtasts_dns_done(req, rcode, reason);
    return MTASTS_OK;
}

/* Ask only ADDR[@PORT] (IPv4). Returns 0, or -1 if arg is not one. */
static int
use_nameserver(res_state res, const char *arg)
{
    char addr[INET_ADDRSTRLEN];
    unsigned long port = NS_DEFAULTPORT;
    const char *at = strchr(arg, '@');
    size_t len = at != NULL ? (size_t)(at - arg) : strlen(arg);
    if (len >= sizeof(addr)) {
        return -1;
    }
    memcpy(addr, arg, len);
    addr[len] = '\0';
    if (at != NULL) {
        char *end = NULL;
        if (at[1] < '0' || at[1] > '9') {
            return -1;
        }
        port = strtoul(at + 1, &end, 10);
        if (*end != '\0' || port == 0 || port > 65535) {
            return -1;
        }
    }
    struct in_addr in;
    if (inet_pton(AF_INET, addr, &in) != 1) {
        return -1;
    }
    res->nsaddr_list[0].sin_family = AF_INET;
    res->nsaddr_list[0].sin_addr = in;
    res->nsaddr_list[0].sin_port = htons((unsigned short)port);
    res->nscount = 1;
    return 0;
}

static int
print_result(const mtasts_result *r)
{
    int rc = mtasts_result_status(r);
    const mtasts_policy *p = mtasts_result_policy(r);
    printf("domain: %s\n", mtasts_result_domain(r));
    printf("status: %s\n", mtasts_status_name(rc));
    printf("txt-id: %s\n", mtasts_result_txt_id(r));
    printf("failure: %s\n", mtasts_rpt_result_name(mtasts_result_failure(r)));
    printf("reason: %s\n", mtasts_result_reason(r));
    if (p != NULL) {
        printf("mode: %s\n", mtasts_mode_name(mtasts_policy_mode(p)));
        printf("max_age: %lu\n", (unsigned long)mtasts_policy_max_age(p));
        for (size_t i = 0; i < mtasts_policy_mx_count(p); i++) {
            printf("mx: %s\n", mtasts_policy_mx(p, i));
        }
    }
    return rc == MTASTS_OK ? 0 : rc == MTASTS_ERR_NO_POLICY ? 1 : 2;
}

int
main(int argc, char **argv)
{
    const char *resolver = NULL;
    const char *domain = NULL;
    if (argc == 4 && strcmp(argv[1], "--resolver") == 0) {
        resolver = argv[2];
        domain = argv[3];
    } else if (argc == 2 && argv[1][0] != '-') {
        domain = argv[1];
    } else {
        fprintf(stderr, "usage: custom_resolver [--resolver ADDR[@PORT]] "
                        "DOMAIN\n");
        return 64;
    }

    struct __res_state res;
    memset(&res, 0, sizeof(res));
    if (res_ninit(&res) != 0) {
        fprintf(stderr, "custom_resolver: res_ninit failed\n");
        return 71;
    }
    if (resolver != NULL && use_nameserver(&res, resolver) != 0) {
        fprintf(stderr, "custom_resolver: not ADDR[@PORT]: %s\n", resolver);
        res_nclose(&res);
        return 64;
    }

    /* The hook's user pointer must outlive the context. */
    mtasts_ctx *ctx = NULL;
    int rc = mtasts_ctx_new(&ctx);
    if (rc == MTASTS_OK) {
        rc = mtasts_ctx_set_dns_txt_hook(ctx, dns_txt_hook, &res);
    }
    if (rc == MTASTS_OK && resolver != NULL) {
        rc = mtasts_ctx_set_resolver(ctx, resolver);
    }
    if (rc != MTASTS_OK) {
        fprintf(stderr, "custom_resolver: %s\n", mtasts_strerror(rc));
        mtasts_ctx_free(ctx);
        res_nclose(&res);
        return 71;
    }

    /* Blocking: the hook answers inline, so this returns when the lookup
     * is over. An event loop would use mtasts_lookup_async() instead. */
    mtasts_result *r = NULL;
    rc = mtasts_lookup_result(ctx, domain, &r);
    int status;
    if (r != NULL) {
        status = print_result(r);
    } else {
        /* argument errors (an address literal, a U-label) and NOMEM */
        fprintf(stderr, "custom_resolver: %s: %s (%s)\n", domain,
                mtasts_strerror(rc), mtasts_status_name(rc));
        status = rc == MTASTS_ERR_NOMEM ? 71 : 64;
    }

    mtasts_result_free(r);
    mtasts_ctx_free(ctx);
    res_nclose(&res);
    return status;
}
