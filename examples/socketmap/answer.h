/*
 * Socketmap answers in the default profile of postfix-mta-sts-resolver.
 * Network-free.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef SOCKETMAP_ANSWER_H
#define SOCKETMAP_ANSWER_H

#include <stddef.h>

#include <mtasts/mtasts.h>

#include "config.h"

/* The answer without a policy to enforce (note the trailing space). */
#define SM_NOTFOUND "NOTFOUND "

/*
 * The answer payload for a lookup outcome, snprintf-style.
 * An enforce policy (or testing, in a zone with strict-testing) gives
 * `OK secure match=P1:P2[ servername=hostname]`, patterns in policy order
 * and `*.example.net` written `.example.net`; anything else (no policy, a
 * failure, mode none or testing) gives `NOTFOUND `.
 * In a zone with postfix-tlsrpt the secure answer goes on with the
 * attributes Postfix 3.10 gives its TLSRPT reports: ` policy_type=sts
 * policy_domain=DOMAIN`, ` mx_host_pattern=P` for each pattern as written
 * (`*.` kept), ` { policy_string = LINE }` for each non-empty policy line,
 * and, when the last refresh failed while the cached policy still
 * applies, ` policy_failure=sts-policy-fetch-error` (or
 * `sts-policy-invalid`, `sts-webpki-invalid`).
 * In a zone with temp-on-failure, a discovery that failed with nothing
 * cached (status MTASTS_ERR_DNS_TEMPFAIL, _FETCH, _WEBPKI,
 * _POLICY_INVALID, _IO or _NOMEM, no policy) gives `TEMP ...` instead of
 * `NOTFOUND `: the MTA defers the mail rather than sending it without
 * MTA-STS (RFC 8461 §3.3 lets it fail open; this is the cautious choice).
 * @param policy  the policy to apply, or NULL
 * @param domain  the policy domain (postfix-tlsrpt only)
 * @param status  the status of the last lookup (MTASTS_OK with a policy)
 * @param failure the reportable failure of the last lookup
 * @param zone    the zone of the request
 * @param out     receives the payload, NUL-terminated if cap > 0
 * @return the payload length, which may be cap or more (then out holds a
 *         truncated prefix)
 */
size_t sm_answer_format(const mtasts_policy *policy, const char *domain,
                        int status, mtasts_rpt_result failure,
                        const struct sm_zone *zone, char *out, size_t cap);

#endif
