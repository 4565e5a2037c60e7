/* Unit tests of the certificate name check (lib/verify/hostname.c):
 * RFC 8461 §3.3 (R8461-3.3-b, -c, -d), RFC 6125 §6.4 as narrowed by
 * RFC 9525, CHECKLIST E-17: only subjectAltName dNSName entries count, never
 * the Subject CN; a wildcard only as the whole leftmost label, matching
 * exactly one label; ASCII case-insensitive.
 *
 * The matcher is tested on (DNS-ID, host) and (SAN list, host) tables here,
 * then on the DER certificates of tests/data/certs (see its README) parsed
 * by mbedTLS, and through mbedtls_x509_crt_verify() with the callback the
 * HTTPS client installs, so that a CN-only certificate is rejected.
 */
#include "harness.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/version.h>
#include <mbedtls/x509.h>
#include <mbedtls/x509_crt.h>
#if MBEDTLS_VERSION_NUMBER >= 0x03000000 && defined(MBEDTLS_PSA_CRYPTO_C)
#include <psa/crypto.h>
#define NEED_PSA_INIT 1 /* mbedTLS 3 parses certificates with PSA crypto */
#endif

#include "mtasts/mtasts.h"
#include "verify/hostname.h"

#define L(s) s, sizeof(s) - 1 /* a literal and its length, NULs included */

/* ---- one DNS-ID against one host ---------------------------------------- */

static const struct {
    const char *id;
    size_t id_len;
    const char *host;
    bool match;
} id_cases[] = {
    /* R8461-3.3-b: exact names, ASCII case-insensitive */
    {L("mta-sts.example.com"), "mta-sts.example.com", true},
    {L("MTA-STS.Example.COM"), "mta-sts.example.com", true},
    {L("mta-sts.example.com"), "MTA-STS.EXAMPLE.COM", true},
    {L("mta-sts.example.com"), "mta-sts.example.com.", true},
    {L("mta-sts.xn--bcher-kva.example"), "mta-sts.xn--bcher-kva.example",
     true},
    {L("www.example.com"), "mta-sts.example.com", false},
    {L("example.com"), "mta-sts.example.com", false},
    {L("sts.example.com"), "mta-sts.example.com", false},
    {L("ta-sts.example.com"), "mta-sts.example.com", false},
    {L("mta-sts.example.com.evil.example"), "mta-sts.example.com", false},
    {L("mta-sts.example.co"), "mta-sts.example.com", false},
    /* a presented name must itself be a host name */
    {L("mta-sts.example.com."), "mta-sts.example.com", false},
    {L("mta-sts.example.com\0.evil.example"), "mta-sts.example.com", false},
    {L("mta-sts.example.com\0"), "mta-sts.example.com", false},
    {L(""), "mta-sts.example.com", false},
    {L("."), "mta-sts.example.com", false},
    {L(".example.com"), "mta-sts.example.com", false},
    {L("mta-sts..example.com"), "mta-sts.example.com", false},
    {L("_mta-sts.example.com"), "_mta-sts.example.com", false},
    {L("mta sts.example.com"), "mta sts.example.com", false},
    {L("mta-sts.\xc3\xa9xample.com"), "mta-sts.\xc3\xa9xample.com", false},
    /* R8461-3.3-d: "*." + two labels or more, one whole label */
    {L("*.example.com"), "mta-sts.example.com", true},
    {L("*.EXAMPLE.com"), "MTA-STS.example.COM", true},
    {L("*.example.com"), "mta-sts.example.com.", true},
    {L("*.xn--bcher-kva.example"), "mta-sts.xn--bcher-kva.example", true},
    {L("*.example.com"), "xn--mta-sts-abc.example.com", true},
    {L("*.example.com"), "example.com", false},
    {L("*.example.com"), "a.mta-sts.example.com", false},
    {L("*.example.com"), "mta-sts.example.org", false},
    {L("*.example.com"), "mta-sts.sub.example.com", false},
    {L("*.com"), "example.com", false},
    {L("*.com"), "mta-sts.com", false},
    {L("m*.example.com"), "mta-sts.example.com", false},
    {L("*-sts.example.com"), "mta-sts.example.com", false},
    {L("mta-*.example.com"), "mta-sts.example.com", false},
    {L("xn--*.example.com"), "xn--bcher-kva.example.com", false},
    {L("mta-sts.*.com"), "mta-sts.example.com", false},
    {L("*.*.example.com"), "a.b.example.com", false},
    {L("**.example.com"), "mta-sts.example.com", false},
    {L("*"), "mta-sts", false},
    {L("*."), "mta-sts.example.com", false},
    {L("*.example.com."), "mta-sts.example.com", false},
    {L("*.example.com"), "*.example.com", false},
    /* the host must be a host name, never an address */
    {L("127.0.0.1"), "127.0.0.1", false},
    {L("*.0.0.1"), "127.0.0.1", false},
    {L("1.2.3.example"), "1.2.3.example", true},
    {L("mta-sts.example.com"), "", false},
    {L("mta-sts.example.com"), ".", false},
    {L("mta-sts.example.com"), "mta-sts.example.com..", false},
    {L("[192.0.2.1]"), "[192.0.2.1]", false},
    /* labels of 63 bytes pass, 64 do not */
    {L("a23456789012345678901234567890123456789012345678901234567890123.x"),
     "a23456789012345678901234567890123456789012345678901234567890123.x",
     true},
    {L("a234567890123456789012345678901234567890123456789012345678901234.x"),
     "a234567890123456789012345678901234567890123456789012345678901234.x",
     false},
};

START_TEST(test_verify_dns_id_table)
{
    const char *host = id_cases[_i].host;
    bool got = mtasts__verify_dns_id_match(id_cases[_i].id, id_cases[_i].id_len,
                                           host, strlen(host));
    ck_assert_msg(got == id_cases[_i].match,
                  "case %d: id \"%.*s\" host \"%s\": %s, want %s", _i,
                  (int)id_cases[_i].id_len, id_cases[_i].id, host,
                  got ? "match" : "no match",
                  id_cases[_i].match ? "match" : "no match");
}
END_TEST

START_TEST(test_verify_dns_id_null)
{
    ck_assert(!mtasts__verify_dns_id_match(NULL, 0, "a.example", 9));
    ck_assert(!mtasts__verify_dns_id_match("a.example", 9, NULL, 0));
}
END_TEST

/* ---- lists of DNS-IDs ------------------------------------------------- */

#define SANS_MAX 6

static const struct {
    const char *sans[SANS_MAX]; /* NULL-terminated */
    const char *host;
    int want;
    const char *why; /* a piece of the reason, or NULL */
} list_cases[] = {
    /* R8461-3.3-c: no DNS-ID at all is never rescued by the CN */
    {{NULL}, "mta-sts.example.com", MTASTS_ERR_WEBPKI,
     "not valid for mta-sts.example.com: no subjectAltName dNSName (the "
     "subject CN is not used)"},
    {{"mta-sts.example.com", NULL}, "mta-sts.example.com", MTASTS_OK, NULL},
    {{"www.example.com", "*.example.com", NULL},
     "mta-sts.example.com",
     MTASTS_OK,
     NULL},
    {{"www.example.com", "mail.example.com", NULL},
     "mta-sts.example.com",
     MTASTS_ERR_WEBPKI,
     "no subjectAltName dNSName matches (presented: www.example.com, "
     "mail.example.com)"},
    {{"a.example", "b.example", "c.example", "d.example", "e.example", NULL},
     "mta-sts.example.com",
     MTASTS_ERR_WEBPKI,
     "(presented: a.example, b.example, c.example, ... 5 in all)"},
    {{"a.example", "b.example", "c.example", "d.example",
      "MTA-STS.example.com", NULL},
     "mta-sts.example.com",
     MTASTS_OK,
     NULL},
    {{"m*.example.com", NULL},
     "mta-sts.example.com",
     MTASTS_ERR_WEBPKI,
     "(presented: m*.example.com)"},
    {{"bad\x01name\x80.example", NULL},
     "mta-sts.example.com",
     MTASTS_ERR_WEBPKI,
     "(presented: bad?name?.example)"},
    {{"a234567890123456789012345678901234567890123456789012345678901234567890."
      "example",
      NULL},
     "mta-sts.example.com",
     MTASTS_ERR_WEBPKI,
     "(presented: a2345678901234567890123456789012345678901234567890123456789"
     "01234...)"},
};

START_TEST(test_verify_dns_ids_table)
{
    const char *ids[SANS_MAX];
    size_t lens[SANS_MAX];
    size_t n = 0;
    while (n < SANS_MAX && list_cases[_i].sans[n] != NULL) {
        ids[n] = list_cases[_i].sans[n];
        lens[n] = strlen(ids[n]);
        n++;
    }
    char why[MTASTS__VERIFY_WHY_MAX];
    memset(why, 'X', sizeof(why));
    int rc = mtasts__verify_dns_ids(ids, lens, n, list_cases[_i].host, why,
                                    sizeof(why));
    ck_assert_msg(rc == list_cases[_i].want, "case %d: %s", _i,
                  mtasts_status_name(rc));
    if (list_cases[_i].why != NULL) {
        ck_assert_msg(strstr(why, list_cases[_i].why) != NULL,
                      "case %d: reason \"%s\" lacks \"%s\"", _i, why,
                      list_cases[_i].why);
    }
    /* no reason buffer, or a tiny one, is fine */
    ck_assert_int_eq(
        mtasts__verify_dns_ids(ids, lens, n, list_cases[_i].host, NULL, 0),
        rc);
    char tiny[8];
    ck_assert_int_eq(mtasts__verify_dns_ids(ids, lens, n, list_cases[_i].host,
                                            tiny, sizeof(tiny)),
                     rc);
    ck_assert_uint_lt(strlen(tiny), sizeof(tiny));
}
END_TEST

/* ---- certificates -------------------------------------------------------- */

static void
load_der(mbedtls_x509_crt *crt, const char *name)
{
    const char *dir = getenv("MTASTS_TESTDATA");
    ck_assert_ptr_nonnull(dir);
    char path[1024];
    snprintf(path, sizeof(path), "%s/certs/%s", dir, name);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    unsigned char buf[8192];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    ck_assert_uint_gt(n, 0);
    int ret = mbedtls_x509_crt_parse_der(crt, buf, n);
    ck_assert_msg(ret == 0, "%s: mbedtls_x509_crt_parse_der -0x%04x", name,
                  (unsigned)-ret);
}

static const struct {
    const char *file;
    const char *host;
    int want;
    const char *why;
} crt_cases[] = {
    {"san_mta_sts.der", "mta-sts.example.com", MTASTS_OK, NULL},
    {"san_mta_sts.der", "MTA-STS.example.com.", MTASTS_OK, NULL},
    {"san_mta_sts.der", "mta-sts.example.net", MTASTS_ERR_WEBPKI,
     "(presented: mta-sts.example.com)"},
    /* R8461-3.3-c: the CN matches, and does not count */
    {"cn_only.der", "mta-sts.example.com", MTASTS_ERR_WEBPKI,
     "no subjectAltName dNSName (the subject CN is not used)"},
    {"san_wildcard.der", "mta-sts.example.com", MTASTS_OK, NULL},
    {"san_wildcard.der", "example.com", MTASTS_ERR_WEBPKI,
     "(presented: *.example.com)"},
    {"san_wildcard.der", "a.mta-sts.example.com", MTASTS_ERR_WEBPKI, NULL},
    {"san_other_names.der", "mta-sts.example.com", MTASTS_ERR_WEBPKI,
     "(presented: www.example.com, mail.example.com)"},
    /* IP, URI and email SANs are no DNS-IDs, and the CN is not used */
    {"san_no_dns.der", "mta-sts.example.com", MTASTS_ERR_WEBPKI,
     "no subjectAltName dNSName (the subject CN is not used)"},
    {"san_partial_wildcard.der", "mta-sts.example.com", MTASTS_ERR_WEBPKI,
     "(presented: m*.example.com)"},
    {"san_last_of_many.der", "mta-sts.example.com", MTASTS_OK, NULL},
    {"san_last_of_many.der", "mta-sts.example.net", MTASTS_ERR_WEBPKI,
     "(presented: a.example.net, b.example.net, c.example.net, ... 5 in "
     "all)"},
};

START_TEST(test_verify_crt_table)
{
    mbedtls_x509_crt crt;
    mbedtls_x509_crt_init(&crt);
    load_der(&crt, crt_cases[_i].file);
    char why[MTASTS__VERIFY_WHY_MAX];
    int rc = mtasts__verify_crt_host(&crt, crt_cases[_i].host, why,
                                     sizeof(why));
    ck_assert_msg(rc == crt_cases[_i].want, "%s for %s: %s",
                  crt_cases[_i].file, crt_cases[_i].host,
                  mtasts_status_name(rc));
    if (rc == MTASTS_OK) {
        ck_assert_str_eq(why, "");
    }
    if (crt_cases[_i].why != NULL) {
        ck_assert_msg(strstr(why, crt_cases[_i].why) != NULL,
                      "%s: reason \"%s\" lacks \"%s\"", crt_cases[_i].file,
                      why, crt_cases[_i].why);
    }
    mbedtls_x509_crt_free(&crt);
}
END_TEST

/* ---- the mbedTLS verification callback (E-17) -------------------------- */

static const struct {
    const char *leaf;
    const char *trust;
    const char *host;
    int want_ret;    /* of mbedtls_x509_crt_verify() */
    uint32_t flags;  /* the flags it reports */
    bool mismatch;   /* our name check failed */
    const char *why; /* a piece of mtasts__verify_flags_describe() */
} chain_cases[] = {
    {"san_mta_sts.der", "ca.der", "mta-sts.example.com", 0, 0, false, NULL},
    {"san_wildcard.der", "ca.der", "mta-sts.example.com", 0, 0, false, NULL},
    /* mbedTLS alone would accept this one on its CN */
    {"cn_only.der", "ca.der", "mta-sts.example.com",
     MBEDTLS_ERR_X509_CERT_VERIFY_FAILED, MBEDTLS_X509_BADCERT_CN_MISMATCH,
     true,
     "not valid for mta-sts.example.com: no subjectAltName dNSName (the "
     "subject CN is not used)"},
    {"san_no_dns.der", "ca.der", "mta-sts.example.com",
     MBEDTLS_ERR_X509_CERT_VERIFY_FAILED, MBEDTLS_X509_BADCERT_CN_MISMATCH,
     true, "no subjectAltName dNSName"},
    {"san_mta_sts.der", "ca.der", "www.example.com",
     MBEDTLS_ERR_X509_CERT_VERIFY_FAILED, MBEDTLS_X509_BADCERT_CN_MISMATCH,
     true, "not valid for www.example.com"},
    /* a chain to no anchor: both problems are named */
    {"san_other_names.der", "san_mta_sts.der", "mta-sts.example.com",
     MBEDTLS_ERR_X509_CERT_VERIFY_FAILED,
     MBEDTLS_X509_BADCERT_NOT_TRUSTED | MBEDTLS_X509_BADCERT_CN_MISMATCH, true,
     "not trusted (no chain to a trust anchor); not valid for "
     "mta-sts.example.com"},
    {"san_mta_sts.der", "san_wildcard.der", "mta-sts.example.com",
     MBEDTLS_ERR_X509_CERT_VERIFY_FAILED, MBEDTLS_X509_BADCERT_NOT_TRUSTED,
     false, "not trusted"},
};

START_TEST(test_verify_callback)
{
    mbedtls_x509_crt leaf;
    mbedtls_x509_crt trust;
    mbedtls_x509_crt_init(&leaf);
    mbedtls_x509_crt_init(&trust);
    load_der(&leaf, chain_cases[_i].leaf);
    load_der(&trust, chain_cases[_i].trust);
    struct mtasts__verify_name name;
    mtasts__verify_name_init(&name, chain_cases[_i].host);
    uint32_t flags = 0;
    int ret = mbedtls_x509_crt_verify(&leaf, &trust, NULL,
                                      chain_cases[_i].host, &flags,
                                      mtasts__verify_name_cb, &name);
    ck_assert_msg(ret == chain_cases[_i].want_ret, "case %d: ret -0x%04x", _i,
                  (unsigned)-ret);
    ck_assert_msg(flags == chain_cases[_i].flags, "case %d: flags 0x%x", _i,
                  (unsigned)flags);
    ck_assert(name.checked);
    ck_assert(name.mismatch == chain_cases[_i].mismatch);
    if (chain_cases[_i].why != NULL) {
        char text[MTASTS__VERIFY_WHY_MAX * 2];
        mtasts__verify_flags_describe(flags, &name, text, sizeof(text));
        ck_assert_msg(strstr(text, chain_cases[_i].why) != NULL,
                      "case %d: \"%s\" lacks \"%s\"", _i, text,
                      chain_cases[_i].why);
    }
    mbedtls_x509_crt_free(&leaf);
    mbedtls_x509_crt_free(&trust);
}
END_TEST

/* Above depth 0 the callback changes nothing. */
START_TEST(test_verify_callback_depth)
{
    mbedtls_x509_crt crt;
    mbedtls_x509_crt_init(&crt);
    load_der(&crt, "cn_only.der");
    struct mtasts__verify_name name;
    mtasts__verify_name_init(&name, "mta-sts.example.com");
    uint32_t flags = MBEDTLS_X509_BADCERT_CN_MISMATCH;
    ck_assert_int_eq(mtasts__verify_name_cb(&name, &crt, 1, &flags), 0);
    ck_assert_uint_eq(flags, MBEDTLS_X509_BADCERT_CN_MISMATCH);
    ck_assert(!name.checked);
    flags = MBEDTLS_X509_BADCERT_EXPIRED;
    ck_assert_int_eq(mtasts__verify_name_cb(&name, &crt, 0, &flags), 0);
    ck_assert_uint_eq(flags, MBEDTLS_X509_BADCERT_EXPIRED |
                                 MBEDTLS_X509_BADCERT_CN_MISMATCH);
    mbedtls_x509_crt_free(&crt);

    /* a match clears a mismatch mbedTLS reported */
    mbedtls_x509_crt_init(&crt);
    load_der(&crt, "san_mta_sts.der");
    flags = MBEDTLS_X509_BADCERT_CN_MISMATCH;
    ck_assert_int_eq(mtasts__verify_name_cb(&name, &crt, 0, &flags), 0);
    ck_assert_uint_eq(flags, 0);
    ck_assert(!name.mismatch);
    mbedtls_x509_crt_free(&crt);
}
END_TEST

/* ---- describing verification flags -------------------------------------- */

static const struct {
    uint32_t flags;
    const char *text;
} flag_cases[] = {
    {0, "verification failed"},
    {MBEDTLS_X509_BADCERT_EXPIRED, "expired"},
    {MBEDTLS_X509_BADCERT_FUTURE, "not yet valid"},
    {MBEDTLS_X509_BADCERT_NOT_TRUSTED,
     "not trusted (no chain to a trust anchor)"},
    {MBEDTLS_X509_BADCERT_REVOKED, "revoked"},
    {MBEDTLS_X509_BADCERT_MISSING, "no certificate presented"},
    {MBEDTLS_X509_BADCERT_BAD_MD, "signed with an unacceptable hash"},
    {MBEDTLS_X509_BADCERT_BAD_PK,
     "unacceptable public key or signature algorithm"},
    {MBEDTLS_X509_BADCERT_BAD_KEY, "unacceptable key (curve or RSA size)"},
    {MBEDTLS_X509_BADCERT_EXT_KEY_USAGE,
     "not usable for TLS server authentication (key usage)"},
    {MBEDTLS_X509_BADCERT_KEY_USAGE | MBEDTLS_X509_BADCERT_NS_CERT_TYPE,
     "not usable for TLS server authentication (key usage)"},
    {MBEDTLS_X509_BADCERT_SKIP_VERIFY, "not verified"},
    {MBEDTLS_X509_BADCERT_OTHER, "rejected"},
    {MBEDTLS_X509_BADCERT_CN_MISMATCH, "not valid for the host"},
    {MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_NOT_TRUSTED,
     "expired; not trusted (no chain to a trust anchor)"},
    {MBEDTLS_X509_BADCRL_EXPIRED, "invalid (verify flags 0x20)"},
    {MBEDTLS_X509_BADCERT_EXPIRED | 0x40000000u,
     "expired; invalid (verify flags 0x40000000)"},
};

START_TEST(test_verify_flags_table)
{
    char text[MTASTS__VERIFY_WHY_MAX];
    mtasts__verify_flags_describe(flag_cases[_i].flags, NULL, text,
                                  sizeof(text));
    ck_assert_str_eq(text, flag_cases[_i].text);
}
END_TEST

START_TEST(test_verify_flags_name)
{
    struct mtasts__verify_name name;
    mtasts__verify_name_init(&name, "mta-sts.example.com");
    char text[MTASTS__VERIFY_WHY_MAX];
    /* no mismatch recorded: the host is named */
    mtasts__verify_flags_describe(MBEDTLS_X509_BADCERT_CN_MISMATCH, &name,
                                  text, sizeof(text));
    ck_assert_str_eq(text, "not valid for mta-sts.example.com");
    /* a recorded mismatch gives its reason */
    name.mismatch = true;
    snprintf(name.why, sizeof(name.why), "not valid for x: because");
    mtasts__verify_flags_describe(MBEDTLS_X509_BADCERT_FUTURE |
                                      MBEDTLS_X509_BADCERT_CN_MISMATCH,
                                  &name, text, sizeof(text));
    ck_assert_str_eq(text, "not yet valid; not valid for x: because");
    /* a short buffer is cut, never overrun; none at all is fine */
    char tiny[6];
    mtasts__verify_flags_describe(MBEDTLS_X509_BADCERT_NOT_TRUSTED, NULL,
                                  tiny, sizeof(tiny));
    ck_assert_str_eq(tiny, "not t");
    mtasts__verify_flags_describe(MBEDTLS_X509_BADCERT_NOT_TRUSTED, NULL,
                                  NULL, 0);
}
END_TEST

static Suite *
verify_suite(void)
{
    Suite *s = suite_create("verify");

    TCase *tc = tcase_create("names");
    tcase_add_loop_test(tc, test_verify_dns_id_table, 0,
                        (int)ARRAY_LEN(id_cases));
    tcase_add_test(tc, test_verify_dns_id_null);
    tcase_add_loop_test(tc, test_verify_dns_ids_table, 0,
                        (int)ARRAY_LEN(list_cases));
    suite_add_tcase(s, tc);

    tc = tcase_create("certificates");
    tcase_add_loop_test(tc, test_verify_crt_table, 0,
                        (int)ARRAY_LEN(crt_cases));
    tcase_add_loop_test(tc, test_verify_callback, 0,
                        (int)ARRAY_LEN(chain_cases));
    tcase_add_test(tc, test_verify_callback_depth);
    suite_add_tcase(s, tc);

    tc = tcase_create("reasons");
    tcase_add_loop_test(tc, test_verify_flags_table, 0,
                        (int)ARRAY_LEN(flag_cases));
    tcase_add_test(tc, test_verify_flags_name);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
#ifdef NEED_PSA_INIT
    if (psa_crypto_init() != PSA_SUCCESS) {
        fprintf(stderr, "psa_crypto_init failed\n");
        return 99;
    }
#endif
    return harness_run(verify_suite());
}
