/* MX checks (RFC 8461 §4.1, §4.2): the mx pattern match, then the chain
 * the MX presented: parsed, put in issuer order, verified by mbedTLS
 * against the trust store with the validity periods judged by the caller's
 * clock, and the leaf's DNS-IDs checked against the host (CHECKLIST E-17:
 * never the subject CN). */
#include "verify/mxcheck.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/x509.h>

#include "util/alloc.h"
#include "verify/hostname.h"

/* Verification flags this file judges itself or sorts into result types. */
/* "YYYY-MM-DDTHH:MM:SSZ" with room for out-of-range fields */
#define TIME_TEXT_MAX 48

#define FLAG_TIME (MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE)

/* ---- the check object ------------------------------------------------- */

struct mtasts_mx_check *
mtasts__mx_check_new(const mtasts_policy *policy, const char *mx_host)
{
    char norm[MTASTS_DOMAIN_BUFSIZE];
    size_t given = strlen(mx_host);
    bool valid =
        mtasts_domain_normalize(mx_host, given, norm, NULL) == MTASTS_OK;
    const char *host = valid ? norm : mx_host;
    size_t len = valid ? strlen(norm) : given;
    struct mtasts_mx_check *c = mtasts__calloc(1, sizeof(*c) + len + 1);
    if (c == NULL) {
        return NULL;
    }
    memcpy(c->host, host, len + 1);
    c->status = MTASTS_OK;
    c->have_policy = policy != NULL;
    c->matches =
        valid && policy != NULL && mtasts_policy_match_mx(policy, norm);
    c->tls = MTASTS_RPT_NONE;
    c->tls_code = "";
    return c;
}

/* format(printf, 2, 0): fmt is checked at the callers, whose own
 * attributes are in mxcheck.h; clang's -Wformat-nonliteral needs it here. */
static void reason_vadd(struct mtasts_mx_check *c, const char *fmt,
                        va_list ap) __attribute__((format(printf, 2, 0)));

static void
reason_vadd(struct mtasts_mx_check *c, const char *fmt, va_list ap)
{
    size_t len = strlen(c->reason);
    if (len > 0 && len + 2 < sizeof(c->reason)) {
        memcpy(c->reason + len, "; ", 3);
        len += 2;
    }
    if (len + 1 < sizeof(c->reason)) {
        vsnprintf(c->reason + len, sizeof(c->reason) - len, fmt, ap);
    }
}

void
mtasts__mx_check_fail(struct mtasts_mx_check *c, mtasts_rpt_result tls,
                      const char *code, const char *fmt, ...)
{
    if (c->tls == MTASTS_RPT_NONE) { /* the first failure names the type */
        c->tls = tls;
        c->tls_code = code;
    }
    va_list ap;
    va_start(ap, fmt);
    reason_vadd(c, fmt, ap);
    va_end(ap);
}

void
mtasts__mx_check_abort(struct mtasts_mx_check *c, int status, const char *fmt,
                       ...)
{
    c->status = status;
    c->tls = MTASTS_RPT_NONE;
    c->tls_code = "";
    va_list ap;
    va_start(ap, fmt);
    reason_vadd(c, fmt, ap);
    va_end(ap);
}

/* ---- time ------------------------------------------------------------- */

static void
time_from_epoch(int64_t now, mbedtls_x509_time *out)
{
    time_t t = (time_t)now;
    struct tm tm;
    memset(out, 0, sizeof(*out));
    if (gmtime_r(&t, &tm) == NULL) {
        out->year = now < 0 ? 0 : 9999;
        return;
    }
    out->year = tm.tm_year + 1900;
    out->mon = tm.tm_mon + 1;
    out->day = tm.tm_mday;
    out->hour = tm.tm_hour;
    out->min = tm.tm_min;
    out->sec = tm.tm_sec;
}

/* a < b: -1, equal: 0, a > b: 1 */
static int
time_cmp(const mbedtls_x509_time *a, const mbedtls_x509_time *b)
{
    const int av[6] = {a->year, a->mon, a->day, a->hour, a->min, a->sec};
    const int bv[6] = {b->year, b->mon, b->day, b->hour, b->min, b->sec};
    for (int i = 0; i < 6; i++) {
        if (av[i] != bv[i]) {
            return av[i] < bv[i] ? -1 : 1;
        }
    }
    return 0;
}

static void
time_text(const mbedtls_x509_time *t, char out[TIME_TEXT_MAX])
{
    snprintf(out, TIME_TEXT_MAX, "%04d-%02d-%02dT%02d:%02d:%02dZ",
             t->year % 10000, t->mon % 100, t->day % 100, t->hour % 100,
             t->min % 100, t->sec % 100);
}

/* ---- verification ------------------------------------------------------ */

/* The first certificate found outside its validity period one way. */
struct out_of_time {
    bool seen;
    int depth;
    char subject[96];
    char when[TIME_TEXT_MAX];
};

/* What the verify callback saw, certificate by certificate. */
struct walk {
    mbedtls_x509_time now;
    struct mtasts__verify_name name; /* the leaf's DNS-ID check */
    uint32_t flags;                  /* every certificate's, or'ed */
    struct out_of_time expired, future;
};

static void
note_time(struct out_of_time *o, const mbedtls_x509_crt *crt, int depth,
          const mbedtls_x509_time *when)
{
    if (o->seen) {
        return;
    }
    o->seen = true;
    o->depth = depth;
    time_text(when, o->when);
    if (mbedtls_x509_dn_gets(o->subject, sizeof(o->subject), &crt->subject) <
        0) {
        snprintf(o->subject, sizeof(o->subject), "?");
    }
}

static int
walk_cb(void *arg, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
    struct walk *w = arg;
    mtasts__verify_name_cb(&w->name, crt, depth, flags);
    /* A leaf restricted to other purposes is no TLS server certificate
     * (RFC 5280 §4.2.1.12); mbedTLS checks this only in a handshake. */
    if (depth == 0 && mbedtls_x509_crt_check_extended_key_usage(
                          crt, MBEDTLS_OID_SERVER_AUTH,
                          MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)) != 0) {
        *flags |= MBEDTLS_X509_BADCERT_EXT_KEY_USAGE;
    }
    /* mbedTLS judged the validity period by the system clock: redo it by
     * the caller's (RFC 8461 §4.2; tests and simulations move it). */
    *flags &= ~(uint32_t)FLAG_TIME;
    if (time_cmp(&w->now, &crt->valid_to) > 0) {
        *flags |= MBEDTLS_X509_BADCERT_EXPIRED;
        note_time(&w->expired, crt, depth, &crt->valid_to);
    } else if (time_cmp(&w->now, &crt->valid_from) < 0) {
        *flags |= MBEDTLS_X509_BADCERT_FUTURE;
        note_time(&w->future, crt, depth, &crt->valid_from);
    }
    w->flags |= *flags;
    return 0;
}

static const char *
which(int depth)
{
    return depth == 0 ? "the MX certificate" : "a chain certificate";
}

/* Put the intermediates in issuer order after the leaf: each certificate's
 * issuer next, where the chain holds it (TLS 1.3 lets a server send them in
 * any order; mbedTLS looks for a parent only after the child). order[]
 * receives indexes into chain. */
static void
issuer_order(const mbedtls_x509_crt *const *crts, size_t n, size_t *order)
{
    bool used[MTASTS__MX_CHAIN_MAX] = {false};
    size_t k = 0;
    order[k++] = 0;
    used[0] = true;
    while (k < n) {
        const mbedtls_x509_crt *child = crts[order[k - 1]];
        size_t next = n;
        for (size_t i = 1; i < n; i++) {
            if (!used[i] && crts[i]->subject_raw.len == child->issuer_raw.len &&
                memcmp(crts[i]->subject_raw.p, child->issuer_raw.p,
                       child->issuer_raw.len) == 0) {
                next = i;
                break;
            }
        }
        if (next == n) {
            break;
        }
        order[k++] = next;
        used[next] = true;
    }
    for (size_t i = 1; i < n; i++) { /* the rest keep their places */
        if (!used[i]) {
            order[k++] = i;
        }
    }
}

static int
parse_one(mbedtls_x509_crt *list, const unsigned char *der, size_t len,
          int *mbed_err)
{
    int ret = mbedtls_x509_crt_parse_der(list, der, len);
    *mbed_err = ret;
    if (ret == MBEDTLS_ERR_X509_ALLOC_FAILED) {
        return MTASTS_ERR_NOMEM;
    }
    return ret == 0 ? MTASTS_OK : MTASTS_ERR_SYNTAX;
}

/* Parse the chain into list in issuer order. MTASTS_OK, MTASTS_ERR_NOMEM,
 * or MTASTS_ERR_SYNTAX with *bad the index of a certificate that does not
 * parse and *mbed_err mbedTLS's error. */
static int
parse_chain(mbedtls_x509_crt *list, const unsigned char *const *chain,
            const size_t *lens, size_t n, size_t *bad, int *mbed_err)
{
    for (size_t i = 0; i < n; i++) {
        int rc = parse_one(list, chain[i], lens[i], mbed_err);
        if (rc != MTASTS_OK) {
            *bad = i;
            return rc;
        }
    }
    if (n <= 2) {
        return MTASTS_OK; /* nothing to reorder */
    }
    const mbedtls_x509_crt *crts[MTASTS__MX_CHAIN_MAX];
    size_t i = 0;
    for (const mbedtls_x509_crt *p = list; p != NULL && i < n; p = p->next) {
        crts[i++] = p;
    }
    size_t order[MTASTS__MX_CHAIN_MAX];
    issuer_order(crts, n, order);
    bool same = true;
    for (i = 0; i < n; i++) {
        same = same && order[i] == i;
    }
    if (same) {
        return MTASTS_OK;
    }
    mbedtls_x509_crt sorted;
    mbedtls_x509_crt_init(&sorted);
    for (i = 0; i < n; i++) {
        int rc = parse_one(&sorted, chain[order[i]], lens[order[i]], mbed_err);
        if (rc != MTASTS_OK) { /* parsed once already: only memory */
            *bad = order[i];
            mbedtls_x509_crt_free(&sorted);
            return rc;
        }
    }
    mbedtls_x509_crt_free(list);
    *list = sorted; /* the head is a struct, the rest hang off it */
    return MTASTS_OK;
}

/* Record the verification's findings, in the order that names the result
 * type (mtasts.h, mtasts_mx_check_tls()): not trusted, expired, host
 * mismatch, then the rest as validation-failure. */
static void
judge(struct mtasts_mx_check *c, const struct walk *w, int verify_ret)
{
    char what[MTASTS__MX_REASON_MAX];
    if ((w->flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED) != 0) {
        mtasts__mx_check_fail(c, MTASTS_RPT_CERTIFICATE_NOT_TRUSTED,
                              "certificate-not-trusted",
                              "certificate not trusted: no chain to a trust "
                              "anchor");
    }
    if (w->expired.seen) {
        mtasts__mx_check_fail(c, MTASTS_RPT_CERTIFICATE_EXPIRED,
                              "certificate-expired", "%s (%s) expired at %s",
                              which(w->expired.depth), w->expired.subject,
                              w->expired.when);
    }
    if (w->name.mismatch) {
        mtasts__mx_check_fail(c, MTASTS_RPT_CERTIFICATE_HOST_MISMATCH,
                              "certificate-host-mismatch", "certificate %s",
                              w->name.why);
    }
    if (w->future.seen) {
        mtasts__mx_check_fail(
            c, MTASTS_RPT_VALIDATION_FAILURE, "certificate-not-yet-valid",
            "%s (%s) is not valid before %s", which(w->future.depth),
            w->future.subject, w->future.when);
    }
    uint32_t rest =
        w->flags & ~(uint32_t)(MBEDTLS_X509_BADCERT_NOT_TRUSTED | FLAG_TIME |
                               MBEDTLS_X509_BADCERT_CN_MISMATCH);
    if (rest != 0) {
        mtasts__verify_flags_describe(rest, NULL, what, sizeof(what));
        mtasts__mx_check_fail(c, MTASTS_RPT_VALIDATION_FAILURE,
                              "certificate-invalid", "certificate %s", what);
    }
    if (verify_ret != 0 && verify_ret != MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
        /* mbedTLS gave up without flags: a chain too long, a fatal error */
        mbedtls_strerror(verify_ret, what, sizeof(what));
        mtasts__mx_check_fail(c, MTASTS_RPT_VALIDATION_FAILURE,
                              "certificate-invalid",
                              "chain verification failed: %s", what);
    } else if (verify_ret != 0 && c->tls == MTASTS_RPT_NONE) {
        mtasts__mx_check_fail(c, MTASTS_RPT_VALIDATION_FAILURE,
                              "certificate-invalid",
                              "chain verification failed");
    }
}

int
mtasts__mx_check_chain(struct mtasts_mx_check *c, mbedtls_x509_crt *trust,
                       int64_t now, const unsigned char *const *chain,
                       const size_t *lens, size_t n)
{
    if (n == 0) {
        mtasts__mx_check_fail(c, MTASTS_RPT_VALIDATION_FAILURE,
                              "no-certificate", "no certificate presented");
        return MTASTS_OK;
    }
    mbedtls_x509_crt list;
    mbedtls_x509_crt_init(&list);
    size_t bad = 0;
    int mbed_err = 0;
    int rc = parse_chain(&list, chain, lens, n, &bad, &mbed_err);
    if (rc == MTASTS_ERR_NOMEM) {
        mbedtls_x509_crt_free(&list);
        return rc;
    }
    if (rc != MTASTS_OK) {
        char what[160];
        mbedtls_strerror(mbed_err, what, sizeof(what));
        mtasts__mx_check_fail(
            c, MTASTS_RPT_VALIDATION_FAILURE, "certificate-malformed",
            "certificate %zu of %zu (%s) does not parse: %s", bad + 1, n,
            bad == 0 ? "the MX's" : "chain", what);
        mbedtls_x509_crt_free(&list);
        return MTASTS_OK;
    }
    struct walk w;
    memset(&w, 0, sizeof(w));
    time_from_epoch(now, &w.now);
    mtasts__verify_name_init(&w.name, c->host);
    uint32_t flags = 0;
    int ret = mbedtls_x509_crt_verify_with_profile(
        &list, trust, NULL, &mbedtls_x509_crt_profile_default, NULL, &flags,
        walk_cb, &w);
    if (!w.name.checked) {
        /* mbedTLS stopped before the leaf reached the callback */
        (void)mtasts__verify_name_cb(&w.name, &list, 0, &flags);
        w.flags |= flags;
    }
    judge(c, &w, ret);
    mbedtls_x509_crt_free(&list);
    return MTASTS_OK;
}
