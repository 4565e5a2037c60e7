/* MX checks (RFC 8461 §4): the mx pattern match and the certificate chain
 * an MX presented, judged against a trust store at a given time, as one
 * immutable mtasts_mx_check. Used by mtasts_verify_mx() (a DER chain from
 * the MTA's TLS stack) and mtasts_probe_mx() (the chain of its own
 * STARTTLS handshake).
 *
 * Threads: pure; a check belongs to its maker until it is handed out. */
#ifndef MTASTS_VERIFY_MXCHECK_H
#define MTASTS_VERIFY_MXCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mbedtls/x509_crt.h>

#include "mtasts/mtasts.h"

#define MTASTS__MX_CHAIN_MAX 64   /* certificates accepted in one chain */
#define MTASTS__MX_REASON_MAX 512 /* a check's reason, NUL included */
#define MTASTS__MX_IP_MAX 48      /* an address in text, NUL included */

struct mtasts_mx_check {
    int status;            /* MTASTS_OK, or the probe's error */
    bool matches;          /* the host matched an mx pattern */
    bool have_policy;      /* a policy was given */
    mtasts_rpt_result tls; /* the TLS part: STARTTLS and certificate */
    const char *tls_code;  /* its reason code (static), "" when valid */
    char ip[MTASTS__MX_IP_MAX];
    char reason[MTASTS__MX_REASON_MAX];
    char host[]; /* normalised, or as given when not a host name */
};

/* A new check of mx_host under policy (may be NULL): status MTASTS_OK,
 * the pattern match made, the TLS part not judged yet (tls NONE). NULL
 * when out of memory. */
struct mtasts_mx_check *mtasts__mx_check_new(const mtasts_policy *policy,
                                             const char *mx_host);

/* Record a failed TLS part: the result type, its reason code (static) and
 * a reason, which is appended to any reason already recorded. */
void mtasts__mx_check_fail(struct mtasts_mx_check *c, mtasts_rpt_result tls,
                           const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Record that the session ended before a TLS outcome: status is the
 * probe's error (MTASTS_ERR_CONNECT, _TIMEOUT, _PROTOCOL, or MTASTS_ERR_IO
 * when the TLS client could not be set up), the reason says why. */
void mtasts__mx_check_abort(struct mtasts_mx_check *c, int status,
                            const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Judge a DER chain (leaf first, n certificates, n <= MTASTS__MX_CHAIN_MAX)
 * against trust at time now (seconds since the epoch): parse, build the
 * path to an anchor, check each certificate's validity period by now and
 * the leaf's DNS-IDs against the host. Records the outcome in c.
 * Returns MTASTS_OK (whatever was found) or MTASTS_ERR_NOMEM. */
int mtasts__mx_check_chain(struct mtasts_mx_check *c, mbedtls_x509_crt *trust,
                           int64_t now, const unsigned char *const *chain,
                           const size_t *lens, size_t n);

#endif
