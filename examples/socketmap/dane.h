/*
 * DANE awareness (--dane): whether the domain's MX hosts have
 * DNSSEC-validated TLSA records, in which case the daemon answers
 * `NOTFOUND ` so that MTA-STS never overrides DANE (RFC 8461 §2) and
 * Postfix applies its own dane security level (RFC 7672).
 *
 * As Postfix does, the daemon trusts the AD bit of its resolver, which must
 * therefore be a local validating resolver (unbound, knot-resolver on
 * 127.0.0.1 or ::1): an AD bit from a remote resolver is only as good as
 * the path to it.
 *
 * The decision (sm_dane_decide) is network-free; sm_dane_check() asks the
 * resolver through ldns (dane_query.c, the daemon only).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef SOCKETMAP_DANE_H
#define SOCKETMAP_DANE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* MX hosts checked for TLSA records at most, in MX preference order. */
#define SM_DANE_HOSTS_MAX 10
/* A result is re-checked after its smallest DNS TTL, within these bounds;
 * a failed lookup after SM_DANE_RETRY_S. */
#define SM_DANE_TTL_MIN_S 10
#define SM_DANE_TTL_MAX_S 3600
#define SM_DANE_RETRY_S 30

/* What one DNS answer says, from its RCODE, AD bit and the records of the
 * asked type in the answer section. */
enum sm_dns_outcome {
    SM_DNS_FAIL = 0,    /* SERVFAIL (bogus data included), REFUSED, timeout */
    SM_DNS_SECURE,      /* NOERROR with records, AD set */
    SM_DNS_SECURE_NONE, /* NXDOMAIN or NODATA, AD set: proven absent */
    SM_DNS_INSECURE,    /* NOERROR or NXDOMAIN, AD clear: not validated */
};

/*
 * Classify an answer.
 * @param rcode  the RCODE (0 NOERROR, 3 NXDOMAIN, ...); -1: no answer
 * @param ad     the AD bit
 * @param count  records of the asked type in the answer section
 */
enum sm_dns_outcome sm_dns_classify(int rcode, bool ad, size_t count);

/* The DANE state of a domain, as the answers use it. */
enum sm_dane_verdict {
    SM_DANE_UNKNOWN = 0, /* not checked (--dane off, or not yet) */
    SM_DANE_NONE,        /* DANE does not apply: the MTA-STS answer */
    SM_DANE_APPLIES,     /* secure TLSA records at a secure MX host */
    SM_DANE_TLSA_FAIL,   /* secure MX, a host's address or TLSA lookup
                            failed: DANE may apply, cannot say no */
    SM_DANE_MX_FAIL,     /* the MX lookup failed: the MTA-STS answer */
};

/* What was seen for one MX host. */
struct sm_dane_host {
    enum sm_dns_outcome addr; /* A, or AAAA when A is proven absent */
    enum sm_dns_outcome tlsa; /* _25._tcp.HOST; only read if addr secure */
};

/*
 * The decision table (README.md, "DANE"):
 *  - MX lookup failed: SM_DANE_MX_FAIL;
 *  - MX RRset insecure: SM_DANE_NONE (RFC 7672 §2.2.1: DANE only for a
 *    secure MX RRset);
 *  - MX secure (or securely absent, the domain being its own host, RFC 7672
 *    §2.2.2; no host for a null MX): a host with a secure address and a
 *    secure non-empty TLSA RRset gives SM_DANE_APPLIES (RFC 7672 §2.2.3);
 *    otherwise a host whose address or TLSA lookup failed gives
 *    SM_DANE_TLSA_FAIL (RFC 7672 §2.1.1: such a host must not be used
 *    without DANE); otherwise (insecure addresses, TLSA proven absent or
 *    insecure) SM_DANE_NONE.
 * @param mx     the MX lookup
 * @param hosts  what was seen for each host checked
 * @param n      number of hosts (0 for a null MX or an insecure MX)
 */
enum sm_dane_verdict sm_dane_decide(enum sm_dns_outcome mx,
                                    const struct sm_dane_host *hosts, size_t n);

/* Whether the verdict makes the answer `NOTFOUND ` (SM_DANE_APPLIES and
 * SM_DANE_TLSA_FAIL). */
bool sm_dane_notfound(enum sm_dane_verdict v);

/* "unknown", "none", "applies", "tlsa-fail", "mx-fail". */
const char *sm_dane_verdict_name(enum sm_dane_verdict v);

/*
 * Check the domain's MX hosts for DANE through the resolver (ADDR[@PORT],
 * "" for /etc/resolv.conf), asking with DO and RD set and trusting AD.
 * Blocks for at most budget_ms in all; a lookup the budget cuts short
 * counts as failed. Threads: any thread (own resolver handle).
 * @param resolver  as --resolver
 * @param domain    the policy domain, A-labels, no trailing dot
 * @param budget_ms total time allowed
 * @param ttl_s     receives how long the verdict may be cached
 * @param why       receives a one-line reason for the log
 * @param why_cap   size of why
 * @return the verdict (never SM_DANE_UNKNOWN)
 */
enum sm_dane_verdict sm_dane_check(const char *resolver, const char *domain,
                                   int64_t budget_ms, uint32_t *ttl_s,
                                   char *why, size_t why_cap);

#endif
