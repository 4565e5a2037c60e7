/* Unit tests of MX verification and delivery decisions (RFC 8461 §4, §5):
 * mtasts_verify_mx() on certificate chains made at test time by
 * tests/unit/gen_mx_certs.py (run by main() into a temporary directory
 * unless MTASTS_MX_CERTS names one), and mtasts_decide() in every mode.
 *
 * The library's clock is pinned to the generator's reference time, so the
 * outcome never depends on the day the tests run.
 */
#include "harness.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mtasts/mtasts.h"

#define NOW INT64_C(1767225600) /* 2026-01-01T00:00:00Z, gen_mx_certs.py */
#define DAY INT64_C(86400)
#define CHAIN_MAX 4

static int64_t clock_now = NOW;

static int64_t
test_clock(void *user)
{
    (void)user;
    return clock_now;
}

static const char *
certs_dir(void)
{
    const char *dir = getenv("MTASTS_MX_CERTS");
    ck_assert_msg(dir != NULL && dir[0] != '\0',
                  "MTASTS_MX_CERTS unset: run through gen_mx_certs.py");
    return dir;
}

struct der {
    unsigned char *p;
    size_t len;
};

static struct der
load_der(const char *name)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s.der", certs_dir(), name);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    struct der d = {malloc(16384), 0};
    ck_assert_ptr_nonnull(d.p);
    d.len = fread(d.p, 1, 16384, f);
    ck_assert_msg(d.len > 0 && feof(f), "%s: empty or too large", path);
    fclose(f);
    return d;
}

static mtasts_ctx *
new_ctx(void)
{
    mtasts_ctx *ctx = NULL;
    ck_assert_int_eq(mtasts_ctx_new(&ctx), MTASTS_OK);
    char path[1024];
    snprintf(path, sizeof(path), "%s/ca.pem", certs_dir());
    ck_assert_int_eq(mtasts_ctx_set_ca_file(ctx, path), MTASTS_OK);
    ck_assert_int_eq(mtasts_ctx_set_clock(ctx, test_clock, NULL), MTASTS_OK);
    clock_now = NOW;
    return ctx;
}

static mtasts_policy *
policy(const char *text)
{
    mtasts_policy *p = NULL;
    ck_assert_int_eq(mtasts_policy_parse(text, strlen(text), &p, NULL),
                     MTASTS_OK);
    return p;
}

#define POLICY_MXES                                                            \
    "mx: mx.example.com\nmx: *.mx.example.com\nmx: example.com\n"              \
    "max_age: 86400\n"
static const char enforce_text[] =
    "version: STSv1\nmode: enforce\n" POLICY_MXES;
static const char testing_text[] =
    "version: STSv1\nmode: testing\n" POLICY_MXES;
static const char none_text[] = "version: STSv1\nmode: none\nmax_age: 86400\n";

/* Verify names[0..] (cert names, NULL-terminated) for host. */
static mtasts_mx_check *
verify(mtasts_ctx *ctx, const mtasts_policy *p, const char *host,
       const char *const *names)
{
    struct der d[CHAIN_MAX];
    const unsigned char *chain[CHAIN_MAX] = {NULL};
    size_t lens[CHAIN_MAX] = {0};
    size_t n = 0;
    for (; names[n] != NULL; n++) {
        ck_assert_uint_lt(n, CHAIN_MAX);
        d[n] = load_der(names[n]);
        chain[n] = d[n].p;
        lens[n] = d[n].len;
    }
    mtasts_mx_check *c = NULL;
    int rc = mtasts_verify_mx(ctx, p, host, chain, lens, n, &c);
    for (size_t i = 0; i < n; i++) {
        free(d[i].p);
    }
    ck_assert_msg(rc == MTASTS_OK, "verify %s: %s", host,
                  mtasts_status_name(rc));
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(mtasts_mx_check_status(c), MTASTS_OK);
    ck_assert_str_eq(mtasts_mx_check_ip(c), "");
    return c;
}

/* ---- certificate cases, each under each mode ---------------------------- */

static const struct cert_case {
    const char *id;               /* checklist id(s) */
    const char *host;             /* the MX host */
    const char *chain[CHAIN_MAX]; /* leaf first, NULL-terminated */
    int64_t shift;                /* clock offset from NOW */
    bool matches;                 /* under POLICY_MXES */
    mtasts_rpt_result tls;        /* mtasts_mx_check_tls() */
    const char *code;             /* mtasts_mx_check_reason_code() */
    const char *reason;           /* a part of the reason ("" when ok) */
} cert_cases[] = {
    {"R8461-4.2-b RSA",
     "mx.example.com",
     {"rsa_ok", "int"},
     0,
     true,
     MTASTS_RPT_NONE,
     "",
     ""},
    {"R8461-4.2-b ECDSA",
     "mx.example.com",
     {"ec_ok", "ec_int"},
     0,
     true,
     MTASTS_RPT_NONE,
     "",
     ""},
    {"R8461-4.2-d case, dot",
     "MX.Example.COM.",
     {"rsa_ok", "int"},
     0,
     true,
     MTASTS_RPT_NONE,
     "",
     ""},
    {"R8461-4.2-h, -d",
     "mx.example.com",
     {"multi_san", "int"},
     0,
     true,
     MTASTS_RPT_NONE,
     "",
     ""},
    {"R8461-4.2-e one label",
     "mx.example.com",
     {"wildcard", "int"},
     0,
     true,
     MTASTS_RPT_NONE,
     "",
     ""},
    {"R8461-4.2-e two labels",
     "a.mx.example.com",
     {"wildcard", "int"},
     0,
     true,
     MTASTS_RPT_CERTIFICATE_HOST_MISMATCH,
     "certificate-host-mismatch",
     "*.example.com"},
    {"R8461-4.2-e no label",
     "example.com",
     {"wildcard", "int"},
     0,
     true,
     MTASTS_RPT_CERTIFICATE_HOST_MISMATCH,
     "certificate-host-mismatch",
     "not valid for example.com"},
    {"R8461-4.2-e partial",
     "mx1.example.com",
     {"wildcard_partial", "int"},
     0,
     false,
     MTASTS_RPT_CERTIFICATE_HOST_MISMATCH,
     "certificate-host-mismatch",
     "mx*.example.com"},
    {"R8461-4.2-e inner",
     "mx.example.com",
     {"wildcard_inner", "int"},
     0,
     true,
     MTASTS_RPT_CERTIFICATE_HOST_MISMATCH,
     "certificate-host-mismatch",
     "mx.*.com"},
    {"R8461-4.2-c CN only",
     "mx.example.com",
     {"cn_only", "int"},
     0,
     true,
     MTASTS_RPT_CERTIFICATE_HOST_MISMATCH,
     "certificate-host-mismatch",
     "no subjectAltName dNSName (the subject CN is not used)"},
    {"R8461-4.2-c IP SAN only",
     "mx.example.com",
     {"ip_only", "int"},
     0,
     true,
     MTASTS_RPT_CERTIFICATE_HOST_MISMATCH,
     "certificate-host-mismatch",
     "no subjectAltName dNSName (the subject CN is not used)"},
    {"wrong name",
     "mx.example.com",
     {"wrong_name", "int"},
     0,
     true,
     MTASTS_RPT_CERTIFICATE_HOST_MISMATCH,
     "certificate-host-mismatch",
     "other.example.net"},
    {"R8461-4.2-g next-hop only",
     "mx.example.com",
     {"domain_only", "int"},
     0,
     true,
     MTASTS_RPT_CERTIFICATE_HOST_MISMATCH,
     "certificate-host-mismatch",
     "example.com"},
    {"R8461-4.2-a expired",
     "mx.example.com",
     {"expired", "int"},
     0,
     true,
     MTASTS_RPT_CERTIFICATE_EXPIRED,
     "certificate-expired",
     "the MX certificate (CN=mx.example.com) expired at 2025-12-31T00:00:00Z"},
    {"R8461-4.2-a not yet valid",
     "mx.example.com",
     {"not_yet_valid", "int"},
     0,
     true,
     MTASTS_RPT_VALIDATION_FAILURE,
     "certificate-not-yet-valid",
     "is not valid before 2026-01-02T00:00:00Z"},
    {"R8461-4.2-a clock past notAfter",
     "mx.example.com",
     {"rsa_ok", "int"},
     400 * DAY,
     true,
     MTASTS_RPT_CERTIFICATE_EXPIRED,
     "certificate-expired",
     "expired at 2027-01-01T00:00:00Z"},
    {"R8461-4.2-a clock before notBefore",
     "mx.example.com",
     {"rsa_ok", "int"},
     -31 * DAY,
     true,
     MTASTS_RPT_VALIDATION_FAILURE,
     "certificate-not-yet-valid",
     "not valid before 2025-12-02T00:00:00Z"},
    {"R8461-4.2-a expired intermediate",
     "mx.example.com",
     {"under_int_expired", "int_expired"},
     0,
     true,
     MTASTS_RPT_CERTIFICATE_EXPIRED,
     "certificate-expired",
     "a chain certificate (CN=Test Old Intermediate) expired"},
    {"R8461-4.2-b intermediate missing",
     "mx.example.com",
     {"rsa_ok"},
     0,
     true,
     MTASTS_RPT_CERTIFICATE_NOT_TRUSTED,
     "certificate-not-trusted",
     "no chain to a trust anchor"},
    {"R8461-4.2-b unknown CA",
     "mx.example.com",
     {"unknown_ca", "unknown_root"},
     0,
     true,
     MTASTS_RPT_CERTIFICATE_NOT_TRUSTED,
     "certificate-not-trusted",
     "no chain to a trust anchor"},
    {"R8461-4.2-b self-signed",
     "mx.example.com",
     {"self_signed"},
     0,
     true,
     MTASTS_RPT_CERTIFICATE_NOT_TRUSTED,
     "certificate-not-trusted",
     "no chain to a trust anchor"},
    {"R8461-4.2-b root sent, out of order",
     "mx.example.com",
     {"rsa_ok", "root", "int"},
     0,
     true,
     MTASTS_RPT_NONE,
     "",
     ""},
    {"R8461-4.2-b unrelated extra",
     "mx.example.com",
     {"rsa_ok", "ec_int", "int"},
     0,
     true,
     MTASTS_RPT_NONE,
     "",
     ""},
    {"not for servers",
     "mx.example.com",
     {"client_only", "int"},
     0,
     true,
     MTASTS_RPT_VALIDATION_FAILURE,
     "certificate-invalid",
     "not usable for TLS server authentication"},
    /* several problems: the type by the documented order, all in the
     * reason */
    {"expired and wrong name",
     "mail.example.org",
     {"expired", "int"},
     0,
     false,
     MTASTS_RPT_CERTIFICATE_EXPIRED,
     "certificate-expired",
     "expired at 2025-12-31T00:00:00Z; certificate not valid for "
     "mail.example.org"},
    {"untrusted and expired",
     "mx.example.com",
     {"expired"},
     0,
     true,
     MTASTS_RPT_CERTIFICATE_NOT_TRUSTED,
     "certificate-not-trusted",
     "no chain to a trust anchor; the MX certificate (CN=mx.example.com) "
     "expired"},
    {"wrong name, not yet valid",
     "mail.example.org",
     {"not_yet_valid", "int"},
     0,
     false,
     MTASTS_RPT_CERTIFICATE_HOST_MISMATCH,
     "certificate-host-mismatch",
     "not valid for mail.example.org"},
    {"R8461-4.1-c not a host name",
     "mx..example.com",
     {"rsa_ok", "int"},
     0,
     false,
     MTASTS_RPT_CERTIFICATE_HOST_MISMATCH,
     "certificate-host-mismatch",
     "mx..example.com"},
};

static void
expect_verdict(const mtasts_policy *p, const char *host, mtasts_rpt_result tls,
               unsigned flags, mtasts_verdict want, const char *what)
{
    mtasts_verdict v = (mtasts_verdict)99;
    ck_assert_int_eq(mtasts_decide(p, host, tls, flags, &v), MTASTS_OK);
    ck_assert_msg(v == want, "%s: verdict %s, want %s", what,
                  mtasts_verdict_name(v), mtasts_verdict_name(want));
}

START_TEST(test_mx_cert_cases)
{
    const struct cert_case *t = &cert_cases[_i];
    mtasts_ctx *ctx = new_ctx();
    clock_now = NOW + t->shift;
    mtasts_policy *modes[3] = {policy(none_text), policy(testing_text),
                               policy(enforce_text)};
    for (int m = 0; m < 3; m++) {
        mtasts_mx_check *c = verify(ctx, modes[m], t->host, t->chain);
        const char *reason = mtasts_mx_check_reason(c);
        /* the TLS part is judged fully in every mode (issue: testing-mode
         * failures are reported) */
        ck_assert_msg(mtasts_mx_check_tls(c) == t->tls, "%s: tls %s, want %s",
                      t->id, mtasts_rpt_result_name(mtasts_mx_check_tls(c)),
                      mtasts_rpt_result_name(t->tls));
        bool match = m > 0 && t->matches; /* mode none lists no mx */
        ck_assert_msg(mtasts_mx_check_matches(c) == match, "%s: matches",
                      t->id);
        mtasts_rpt_result want_result =
            match ? t->tls : MTASTS_RPT_VALIDATION_FAILURE;
        const char *want_code = match ? t->code : "mx-mismatch";
        ck_assert_int_eq(mtasts_mx_check_result(c), want_result);
        ck_assert_str_eq(mtasts_mx_check_reason_code(c), want_code);
        if (t->tls == MTASTS_RPT_NONE) {
            ck_assert_msg(reason[0] == '\0', "%s: reason \"%s\"", t->id,
                          reason);
        } else {
            ck_assert_msg(strstr(reason, t->reason) != NULL,
                          "%s: reason \"%s\" lacks \"%s\"", t->id, reason,
                          t->reason);
        }

        /* R8461-4-a, -5-a, -5-b, -5-c: the verdict in this mode */
        bool ok = match && t->tls == MTASTS_RPT_NONE;
        mtasts_verdict want = m == 0   ? MTASTS_VERDICT_DELIVER
                              : ok     ? MTASTS_VERDICT_DELIVER
                              : m == 1 ? MTASTS_VERDICT_DELIVER_REPORT
                                       : MTASTS_VERDICT_REFUSE;
        expect_verdict(modes[m], t->host, mtasts_mx_check_tls(c), 0, want,
                       t->id);
        /* R8461-2-b: usable TLSA records: DANE decides in every mode */
        expect_verdict(modes[m], t->host, mtasts_mx_check_tls(c),
                       MTASTS_DECIDE_DANE, MTASTS_VERDICT_DANE, t->id);
        mtasts_mx_check_free(c);
    }
    for (int m = 0; m < 3; m++) {
        mtasts_policy_unref(modes[m]);
    }
    mtasts_ctx_free(ctx);
}
END_TEST

/* Without a policy only the certificate is judged; the host matches
 * nothing, and nothing is a pattern failure. */
START_TEST(test_mx_no_policy)
{
    mtasts_ctx *ctx = new_ctx();
    const char *ok[] = {"ec_ok", "ec_int", NULL};
    mtasts_mx_check *c = verify(ctx, NULL, "mx.example.com", ok);
    ck_assert(!mtasts_mx_check_matches(c));
    ck_assert_int_eq(mtasts_mx_check_tls(c), MTASTS_RPT_NONE);
    ck_assert_int_eq(mtasts_mx_check_result(c), MTASTS_RPT_NONE);
    ck_assert_str_eq(mtasts_mx_check_reason_code(c), "");
    ck_assert_str_eq(mtasts_mx_check_host(c), "mx.example.com");
    mtasts_mx_check_free(c);

    const char *bad[] = {"wrong_name", "int", NULL};
    c = verify(ctx, NULL, "MX.EXAMPLE.COM.", bad);
    ck_assert_str_eq(mtasts_mx_check_host(c), "mx.example.com");
    ck_assert_int_eq(mtasts_mx_check_result(c),
                     MTASTS_RPT_CERTIFICATE_HOST_MISMATCH);
    ck_assert_str_eq(mtasts_mx_check_reason_code(c),
                     "certificate-host-mismatch");
    mtasts_mx_check_free(c);
    mtasts_ctx_free(ctx);
}
END_TEST

/* R8461-6-d (E-15): an MX outside the policy is validation-failure with
 * the reason code mx-mismatch, even with a perfect certificate. */
START_TEST(test_mx_pattern_mismatch)
{
    mtasts_ctx *ctx = new_ctx();
    mtasts_policy *p = policy("version: STSv1\nmode: enforce\n"
                              "mx: mail.example.net\nmax_age: 600\n");
    const char *ok[] = {"rsa_ok", "int", NULL};
    mtasts_mx_check *c = verify(ctx, p, "mx.example.com", ok);
    ck_assert(!mtasts_mx_check_matches(c));
    ck_assert_int_eq(mtasts_mx_check_tls(c), MTASTS_RPT_NONE);
    ck_assert_int_eq(mtasts_mx_check_result(c), MTASTS_RPT_VALIDATION_FAILURE);
    ck_assert_str_eq(mtasts_mx_check_reason_code(c), "mx-mismatch");
    expect_verdict(p, "mx.example.com", mtasts_mx_check_tls(c), 0,
                   MTASTS_VERDICT_REFUSE, "enforce, mx outside the policy");
    mtasts_mx_check_free(c);
    mtasts_policy_unref(p);
    mtasts_ctx_free(ctx);
}
END_TEST

/* Chains that are not certificates. */
START_TEST(test_mx_malformed)
{
    mtasts_ctx *ctx = new_ctx();
    mtasts_policy *p = policy(enforce_text);
    mtasts_mx_check *c = NULL;

    /* no certificate at all */
    ck_assert_int_eq(
        mtasts_verify_mx(ctx, p, "mx.example.com", NULL, NULL, 0, &c),
        MTASTS_OK);
    ck_assert_int_eq(mtasts_mx_check_tls(c), MTASTS_RPT_VALIDATION_FAILURE);
    ck_assert_str_eq(mtasts_mx_check_reason_code(c), "no-certificate");
    ck_assert_str_eq(mtasts_mx_check_reason(c), "no certificate presented");
    mtasts_mx_check_free(c);

    struct der leaf = load_der("rsa_ok"), inter = load_der("int");
    static const unsigned char junk[] = {0x30, 0x03, 0x02, 0x01, 0x05};
    /* a leaf that is not DER, then an intermediate that is not, then a
     * leaf cut short by one byte */
    const unsigned char *chains[3][2] = {
        {junk, inter.p}, {leaf.p, junk}, {leaf.p, inter.p}};
    size_t lens[3][2] = {{sizeof(junk), inter.len},
                         {leaf.len, sizeof(junk)},
                         {leaf.len - 1, inter.len}};
    const char *want[3] = {"certificate 1 of 2 (the MX's) does not parse",
                           "certificate 2 of 2 (chain) does not parse",
                           "certificate 1 of 2 (the MX's) does not parse"};
    for (int i = 0; i < 3; i++) {
        c = NULL;
        ck_assert_int_eq(mtasts_verify_mx(ctx, p, "mx.example.com", chains[i],
                                          lens[i], 2, &c),
                         MTASTS_OK);
        ck_assert_int_eq(mtasts_mx_check_tls(c), MTASTS_RPT_VALIDATION_FAILURE);
        ck_assert_str_eq(mtasts_mx_check_reason_code(c),
                         "certificate-malformed");
        ck_assert_msg(strstr(mtasts_mx_check_reason(c), want[i]) != NULL,
                      "case %d: \"%s\"", i, mtasts_mx_check_reason(c));
        expect_verdict(p, "mx.example.com", mtasts_mx_check_tls(c), 0,
                       MTASTS_VERDICT_REFUSE, "malformed chain");
        mtasts_mx_check_free(c);
    }
    free(leaf.p);
    free(inter.p);
    mtasts_policy_unref(p);
    mtasts_ctx_free(ctx);
}
END_TEST

START_TEST(test_mx_verify_args)
{
    mtasts_ctx *ctx = new_ctx();
    struct der leaf = load_der("rsa_ok");
    const unsigned char *chain[1] = {leaf.p};
    const unsigned char *null_chain[1] = {NULL};
    size_t lens[1] = {leaf.len};
    mtasts_mx_check *c = (mtasts_mx_check *)&c;
    const char *h = "mx.example.com";

    ck_assert_int_eq(mtasts_verify_mx(NULL, NULL, h, chain, lens, 1, &c),
                     MTASTS_ERR_INVALID);
    ck_assert_ptr_null(c);
    c = (mtasts_mx_check *)&c;
    ck_assert_int_eq(mtasts_verify_mx(ctx, NULL, NULL, chain, lens, 1, &c),
                     MTASTS_ERR_INVALID);
    ck_assert_ptr_null(c);
    ck_assert_int_eq(mtasts_verify_mx(ctx, NULL, h, chain, lens, 1, NULL),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_verify_mx(ctx, NULL, h, NULL, lens, 1, &c),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_verify_mx(ctx, NULL, h, chain, NULL, 1, &c),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_verify_mx(ctx, NULL, h, null_chain, lens, 1, &c),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_verify_mx(ctx, NULL, h, chain, lens, 65, &c),
                     MTASTS_ERR_INVALID);
    ck_assert_ptr_null(c);

    /* the accessors on NULL */
    ck_assert_int_eq(mtasts_mx_check_status(NULL), MTASTS_ERR_INVALID);
    ck_assert_str_eq(mtasts_mx_check_host(NULL), "");
    ck_assert_str_eq(mtasts_mx_check_ip(NULL), "");
    ck_assert(!mtasts_mx_check_matches(NULL));
    ck_assert_int_eq(mtasts_mx_check_tls(NULL), MTASTS_RPT_NONE);
    ck_assert_int_eq(mtasts_mx_check_result(NULL), MTASTS_RPT_NONE);
    ck_assert_str_eq(mtasts_mx_check_reason_code(NULL), "");
    ck_assert_str_eq(mtasts_mx_check_reason(NULL), "");
    mtasts_mx_check_free(NULL);
    free(leaf.p);
    mtasts_ctx_free(ctx);
}
END_TEST

/* Out of memory at each allocation of a verification: MTASTS_ERR_NOMEM
 * and no check, or the full result; never a leak or a half check. */
START_TEST(test_mx_verify_nomem)
{
    mtasts_ctx *ctx = new_ctx();
    mtasts_policy *p = policy(enforce_text);
    struct der leaf = load_der("wrong_name"), inter = load_der("int");
    const unsigned char *chain[2] = {leaf.p, inter.p};
    size_t lens[2] = {leaf.len, inter.len};
    /* load the trust store first: its allocations are the ctx's */
    mtasts_mx_check *c = NULL;
    ck_assert_int_eq(
        mtasts_verify_mx(ctx, p, "mx.example.com", chain, lens, 2, &c),
        MTASTS_OK);
    mtasts_mx_check_free(c);
    bool succeeded = false;
    for (size_t n = 0; n < 8 && !succeeded; n++) {
        c = NULL;
        failalloc_start(n);
        int rc = mtasts_verify_mx(ctx, p, "mx.example.com", chain, lens, 2, &c);
        failalloc_stop();
        if (rc == MTASTS_OK) {
            succeeded = true;
            ck_assert_int_eq(mtasts_mx_check_tls(c),
                             MTASTS_RPT_CERTIFICATE_HOST_MISMATCH);
            mtasts_mx_check_free(c);
        } else {
            ck_assert_int_eq(rc, MTASTS_ERR_NOMEM);
            ck_assert_ptr_null(c);
        }
    }
    ck_assert(succeeded);
    free(leaf.p);
    free(inter.p);
    mtasts_policy_unref(p);
    mtasts_ctx_free(ctx);
}
END_TEST

/* ---- decisions ---------------------------------------------------------- */

/* R8461-4-a: {match, no match} x {no STARTTLS, bad certificate, good
 * certificate} in each mode, spelled out (R8461-5-a, -5-b, -5-c, -5-e:
 * enforce refusals are MTASTS_VERDICT_REFUSE, documented as temporary). */
static const struct {
    const char *text;
    const char *host;
    mtasts_rpt_result tls;
    mtasts_verdict want;
} decide_cases[] = {
    {enforce_text, "mx.example.com", MTASTS_RPT_NONE, MTASTS_VERDICT_DELIVER},
    {enforce_text, "mx.example.com", MTASTS_RPT_STARTTLS_NOT_SUPPORTED,
     MTASTS_VERDICT_REFUSE},
    {enforce_text, "mx.example.com", MTASTS_RPT_CERTIFICATE_EXPIRED,
     MTASTS_VERDICT_REFUSE},
    {enforce_text, "mx.example.com", MTASTS_RPT_CERTIFICATE_NOT_TRUSTED,
     MTASTS_VERDICT_REFUSE},
    {enforce_text, "mx.example.com", MTASTS_RPT_CERTIFICATE_HOST_MISMATCH,
     MTASTS_VERDICT_REFUSE},
    {enforce_text, "mx.example.com", MTASTS_RPT_VALIDATION_FAILURE,
     MTASTS_VERDICT_REFUSE},
    {enforce_text, "mx.other.test", MTASTS_RPT_NONE, MTASTS_VERDICT_REFUSE},
    {enforce_text, "mx.other.test", MTASTS_RPT_STARTTLS_NOT_SUPPORTED,
     MTASTS_VERDICT_REFUSE},
    {enforce_text, "mx.other.test", MTASTS_RPT_CERTIFICATE_EXPIRED,
     MTASTS_VERDICT_REFUSE},
    {enforce_text, NULL, MTASTS_RPT_NONE, MTASTS_VERDICT_REFUSE},
    {enforce_text, "", MTASTS_RPT_NONE, MTASTS_VERDICT_REFUSE},
    {enforce_text, "MX.EXAMPLE.COM.", MTASTS_RPT_NONE, MTASTS_VERDICT_DELIVER},
    {testing_text, "mx.example.com", MTASTS_RPT_NONE, MTASTS_VERDICT_DELIVER},
    {testing_text, "mx.example.com", MTASTS_RPT_STARTTLS_NOT_SUPPORTED,
     MTASTS_VERDICT_DELIVER_REPORT},
    {testing_text, "mx.example.com", MTASTS_RPT_CERTIFICATE_HOST_MISMATCH,
     MTASTS_VERDICT_DELIVER_REPORT},
    {testing_text, "mx.other.test", MTASTS_RPT_NONE,
     MTASTS_VERDICT_DELIVER_REPORT},
    {testing_text, "mx.other.test", MTASTS_RPT_CERTIFICATE_EXPIRED,
     MTASTS_VERDICT_DELIVER_REPORT},
    {none_text, "mx.example.com", MTASTS_RPT_NONE, MTASTS_VERDICT_DELIVER},
    {none_text, "mx.other.test", MTASTS_RPT_STARTTLS_NOT_SUPPORTED,
     MTASTS_VERDICT_DELIVER},
    {none_text, "mx.other.test", MTASTS_RPT_CERTIFICATE_NOT_TRUSTED,
     MTASTS_VERDICT_DELIVER},
    {NULL, "mx.other.test", MTASTS_RPT_VALIDATION_FAILURE,
     MTASTS_VERDICT_DELIVER},
    {NULL, NULL, MTASTS_RPT_STARTTLS_NOT_SUPPORTED, MTASTS_VERDICT_DELIVER},
};

START_TEST(test_mx_decide_table)
{
    mtasts_policy *p =
        decide_cases[_i].text != NULL ? policy(decide_cases[_i].text) : NULL;
    char what[128];
    snprintf(what, sizeof(what), "case %d (%s, %s)", _i,
             decide_cases[_i].host != NULL ? decide_cases[_i].host : "NULL",
             mtasts_rpt_result_name(decide_cases[_i].tls));
    expect_verdict(p, decide_cases[_i].host, decide_cases[_i].tls, 0,
                   decide_cases[_i].want, what);
    expect_verdict(p, decide_cases[_i].host, decide_cases[_i].tls,
                   MTASTS_DECIDE_DANE, MTASTS_VERDICT_DANE, what);
    mtasts_policy_unref(p);
}
END_TEST

START_TEST(test_mx_decide_args)
{
    mtasts_policy *p = policy(enforce_text);
    mtasts_verdict v = MTASTS_VERDICT_DELIVER;
    ck_assert_int_eq(
        mtasts_decide(p, "mx.example.com", MTASTS_RPT_NONE, 0, NULL),
        MTASTS_ERR_INVALID);
    /* flags this version does not know are refused, not ignored */
    ck_assert_int_eq(
        mtasts_decide(p, "mx.example.com", MTASTS_RPT_NONE, 0x2u, &v),
        MTASTS_ERR_INVALID);
    ck_assert_int_eq(
        mtasts_decide(p, "mx.example.com", MTASTS_RPT_NONE, 0x80000001u, &v),
        MTASTS_ERR_INVALID);
    /* policy and DANE result types say nothing of one session */
    static const mtasts_rpt_result not_session[] = {
        MTASTS_RPT_TLSA_INVALID,       MTASTS_RPT_DNSSEC_INVALID,
        MTASTS_RPT_DANE_REQUIRED,      MTASTS_RPT_STS_POLICY_FETCH_ERROR,
        MTASTS_RPT_STS_POLICY_INVALID, MTASTS_RPT_STS_WEBPKI_INVALID,
        (mtasts_rpt_result)12,         (mtasts_rpt_result)-1,
    };
    for (size_t i = 0; i < ARRAY_LEN(not_session); i++) {
        ck_assert_int_eq(
            mtasts_decide(p, "mx.example.com", not_session[i], 0, &v),
            MTASTS_ERR_INVALID);
    }
    ck_assert_int_eq(v, MTASTS_VERDICT_DELIVER); /* untouched */
    mtasts_policy_unref(p);

    ck_assert_str_eq(mtasts_verdict_name(MTASTS_VERDICT_DELIVER), "deliver");
    ck_assert_str_eq(mtasts_verdict_name(MTASTS_VERDICT_DELIVER_REPORT),
                     "deliver-and-report");
    ck_assert_str_eq(mtasts_verdict_name(MTASTS_VERDICT_REFUSE), "refuse");
    ck_assert_str_eq(mtasts_verdict_name(MTASTS_VERDICT_DANE), "dane");
    ck_assert_str_eq(mtasts_verdict_name((mtasts_verdict)4), "unknown");
    ck_assert_str_eq(mtasts_verdict_name((mtasts_verdict)-1), "unknown");
}
END_TEST

static Suite *
mxverify_suite(void)
{
    Suite *s = suite_create("mxverify");
    TCase *tc = tcase_create("verify");
    tcase_add_loop_test(tc, test_mx_cert_cases, 0, ARRAY_LEN(cert_cases));
    tcase_add_test(tc, test_mx_no_policy);
    tcase_add_test(tc, test_mx_pattern_mismatch);
    tcase_add_test(tc, test_mx_malformed);
    tcase_add_test(tc, test_mx_verify_args);
    tcase_add_test(tc, test_mx_verify_nomem);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    tc = tcase_create("decide");
    tcase_add_loop_test(tc, test_mx_decide_table, 0, ARRAY_LEN(decide_cases));
    tcase_add_test(tc, test_mx_decide_args);
    suite_add_tcase(s, tc);
    return s;
}

/* Make the certificates (python3-cryptography) unless MTASTS_MX_CERTS
 * names a directory that has them; *tmp receives a directory to remove. */
static bool
make_certs(char *tmp, size_t size)
{
    const char *dir = getenv("MTASTS_MX_CERTS");
    if (dir != NULL && dir[0] != '\0') {
        return true;
    }
    snprintf(tmp, size, "%s", "/tmp/mtasts-mx-certs.XXXXXX");
    if (mkdtemp(tmp) == NULL) {
        perror("mkdtemp");
        tmp[0] = '\0';
        return false;
    }
    char cmd[4096];
    snprintf(cmd, sizeof(cmd), "'%s' '%s' --out '%s'", MTASTS_TEST_PYTHON,
             MTASTS_GEN_MX_CERTS, tmp);
    if (system(cmd) != 0) {
        fprintf(stderr, "failed: %s\n", cmd);
        return false;
    }
    return setenv("MTASTS_MX_CERTS", tmp, 1) == 0;
}

int
main(void)
{
    char tmp[64] = "";
    int rc = make_certs(tmp, sizeof(tmp)) ? harness_run(mxverify_suite()) : 1;
    if (tmp[0] != '\0') {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
        if (system(cmd) != 0) {
            fprintf(stderr, "could not remove %s\n", tmp);
        }
    }
    return rc;
}
