/*
 * DANE awareness: the decision (dane.h). Network-free.
 *
 * SPDX-License-Identifier: MIT
 */
#include "dane.h"

enum sm_dns_outcome
sm_dns_classify(int rcode, bool ad, size_t count)
{
    if (rcode != 0 && rcode != 3) {
        return SM_DNS_FAIL; /* SERVFAIL is how a validator says bogus */
    }
    if (!ad) {
        return SM_DNS_INSECURE;
    }
    return rcode == 0 && count > 0 ? SM_DNS_SECURE : SM_DNS_SECURE_NONE;
}

enum sm_dane_verdict
sm_dane_decide(enum sm_dns_outcome mx, const struct sm_dane_host *hosts,
               size_t n)
{
    if (mx == SM_DNS_FAIL) {
        return SM_DANE_MX_FAIL;
    }
    if (mx == SM_DNS_INSECURE) {
        return SM_DANE_NONE; /* RFC 7672 §2.2.1 */
    }
    bool failed = false;
    for (size_t i = 0; i < n; i++) {
        const struct sm_dane_host *h = &hosts[i];
        if (h->addr == SM_DNS_FAIL) {
            failed = true;
            continue;
        }
        if (h->addr != SM_DNS_SECURE) {
            continue; /* RFC 7672 §2.2.3: TLSA only for secure addresses */
        }
        if (h->tlsa == SM_DNS_SECURE) {
            return SM_DANE_APPLIES;
        }
        if (h->tlsa == SM_DNS_FAIL) {
            failed = true; /* RFC 7672 §2.1.1 */
        }
    }
    return failed ? SM_DANE_TLSA_FAIL : SM_DANE_NONE;
}

bool
sm_dane_notfound(enum sm_dane_verdict v)
{
    return v == SM_DANE_APPLIES || v == SM_DANE_TLSA_FAIL;
}

const char *
sm_dane_verdict_name(enum sm_dane_verdict v)
{
    switch (v) {
    case SM_DANE_NONE:
        return "none";
    case SM_DANE_APPLIES:
        return "applies";
    case SM_DANE_TLSA_FAIL:
        return "tlsa-fail";
    case SM_DANE_MX_FAIL:
        return "mx-fail";
    case SM_DANE_UNKNOWN:
        break;
    }
    return "unknown";
}
