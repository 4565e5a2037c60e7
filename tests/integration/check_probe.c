/* Integration tests of mtasts_probe_mx() (RFC 8461 §4, §5.1; RFC 8460
 * result types) through the public API and the default I/O, against the
 * SMTP servers of tests/integration/world.py: one per MX host
 * NAME.mx.test, each on its own loopback address at one SMTP port, with
 * certificates from the world's test CA made at run time.
 *
 * run.py starts the world, runs this program and stops the world. It
 * exports MTASTS_WORLD_RESOLVER, MTASTS_WORLD_SMTP_PORT, MTASTS_WORLD_CA,
 * MTASTS_WORLD_OTHER_CA and MTASTS_WORLD_IPV6; without them the program
 * skips (exit 77).
 *
 * One test per case of the world, each naming the CHECKLIST.md ids it
 * proves. The TLS servers present the MX's certificate only when the
 * client's SNI is the MX name, so every valid outcome proves the SNI
 * (R8461-7.1-b).
 */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mtasts/mtasts.h"
#include "world_env.h"

#define PROG "check_probe" /* in messages */

/* Short timeouts keep the suite fast; the silent servers exceed them. */
#define SMTP_TIMEOUT_MS 500
#define CONNECT_TIMEOUT_MS 1000
#define DNS_TIMEOUT_MS 1000
/* A probe stopped by a timeout ends within the timeout plus this. */
#define TIMEOUT_SLACK_MS 1000
#define TEST_TIMEOUT_S 30

#define YEAR_2099 4070908800LL /* 2099-01-01T00:00:00Z */
#define YEAR_2000 946684800LL  /* 2000-01-01T00:00:00Z */

static struct {
    const char *resolver;
    const char *ca_file;
    const char *other_ca_file;
    uint16_t smtp_port;
    bool ipv6;
} world;

static void
world_load(void)
{
    world.resolver = world_env(PROG, "MTASTS_WORLD_RESOLVER");
    world.ca_file = world_env(PROG, "MTASTS_WORLD_CA");
    world.other_ca_file = world_env(PROG, "MTASTS_WORLD_OTHER_CA");
    world.smtp_port = world_port(PROG, "MTASTS_WORLD_SMTP_PORT");
    world.ipv6 = strcmp(world_env(PROG, "MTASTS_WORLD_IPV6"), "1") == 0;
}

static mtasts_ctx *
probe_ctx(const char *ca_file)
{
    mtasts_ctx *ctx = NULL;
    ck_assert_int_eq(mtasts_ctx_new(&ctx), MTASTS_OK);
    ck_assert_int_eq(mtasts_ctx_set_resolver(ctx, world.resolver), MTASTS_OK);
    ck_assert_int_eq(mtasts_ctx_set_ca_file(ctx, ca_file), MTASTS_OK);
    ck_assert_int_eq(mtasts_ctx_set_smtp_timeout_ms(ctx, SMTP_TIMEOUT_MS),
                     MTASTS_OK);
    ck_assert_int_eq(mtasts_ctx_set_connect_timeout_ms(ctx, CONNECT_TIMEOUT_MS),
                     MTASTS_OK);
    ck_assert_int_eq(mtasts_ctx_set_dns_timeout_ms(ctx, DNS_TIMEOUT_MS),
                     MTASTS_OK);
    return ctx;
}

struct outcome {
    int status;
    mtasts_mx_check *c;
    long elapsed_ms;
};

static struct outcome
probe_with(mtasts_ctx *ctx, const mtasts_policy *policy, const char *host,
           const char *addr, uint16_t port)
{
    struct outcome o = {0, NULL, 0};
    long t0 = world_now_ms();
    o.status = mtasts_probe_mx(ctx, policy, host, addr, port, &o.c);
    o.elapsed_ms = world_now_ms() - t0;
    ck_assert_msg(o.c != NULL, "%s: no check (status %s)", host,
                  mtasts_status_name(o.status));
    ck_assert_int_eq(mtasts_mx_check_status(o.c), o.status);
    return o;
}

/* Probe a host of the world in a new context. */
static struct outcome
probe(const char *host)
{
    mtasts_ctx *ctx = probe_ctx(world.ca_file);
    struct outcome o = probe_with(ctx, NULL, host, NULL, world.smtp_port);
    mtasts_ctx_free(ctx);
    return o;
}

/* What a probe must have found: the status, the TLS outcome and its
 * reason code, a reason that holds `has`, an address when it connected. */
static void
expect_probe(const char *ids, const char *host, const struct outcome *o,
             int status, mtasts_rpt_result tls, const char *code,
             const char *has)
{
    const mtasts_mx_check *c = o->c;
    const char *reason = mtasts_mx_check_reason(c);
    ck_assert_msg(o->status == status, "%s %s: status %s, want %s (%s)", ids,
                  host, mtasts_status_name(o->status),
                  mtasts_status_name(status), reason);
    ck_assert_msg(mtasts_mx_check_tls(c) == tls, "%s %s: tls %s, want %s (%s)",
                  ids, host, mtasts_rpt_result_name(mtasts_mx_check_tls(c)),
                  mtasts_rpt_result_name(tls), reason);
    ck_assert_msg(strcmp(mtasts_mx_check_reason_code(c), code) == 0,
                  "%s %s: reason code \"%s\", want \"%s\"", ids, host,
                  mtasts_mx_check_reason_code(c), code);
    ck_assert_str_eq(mtasts_mx_check_host(c), host);
    bool failed = status != MTASTS_OK || tls != MTASTS_RPT_NONE;
    ck_assert_msg(failed == (reason[0] != '\0'), "%s %s: reason \"%s\"", ids,
                  host, reason);
    ck_assert_msg(strstr(reason, has) != NULL,
                  "%s %s: reason \"%s\" does not say \"%s\"", ids, host, reason,
                  has);
    const char *ip = mtasts_mx_check_ip(c);
    if (status == MTASTS_ERR_CONNECT) {
        ck_assert_msg(ip[0] == '\0', "%s %s: ip \"%s\" without a connection",
                      ids, host, ip);
    } else {
        ck_assert_msg(strncmp(ip, "127.0.0.", 8) == 0 || strcmp(ip, "::1") == 0,
                      "%s %s: ip \"%s\"", ids, host, ip);
        if (failed && status == MTASTS_OK) {
            /* a TLS failure names the address it talked to */
            ck_assert_msg(strstr(reason, ip) != NULL ||
                              strstr(reason, "certificate") != NULL,
                          "%s %s: reason \"%s\" without %s", ids, host, reason,
                          ip);
        }
    }
}

static void
check_case(const char *ids, const char *host, int status, mtasts_rpt_result tls,
           const char *code, const char *has)
{
    struct outcome o = probe(host);
    expect_probe(ids, host, &o, status, tls, code, has);
    mtasts_mx_check_free(o.c);
}

static mtasts_policy *
policy_for(const char *mode, const char *mx)
{
    char text[256];
    snprintf(text, sizeof(text),
             "version: STSv1\nmode: %s\nmx: %s\nmax_age: 86400\n", mode, mx);
    mtasts_policy *p = NULL;
    ck_assert_int_eq(mtasts_policy_parse(text, strlen(text), &p, NULL),
                     MTASTS_OK);
    return p;
}

/* ---- valid STARTTLS --------------------------------------------------- */

START_TEST(test_probe_valid)
{
    /* R8461-4-a, R8461-7.1-b (the certificate comes only with SNI) */
    check_case("R8461-4-a/7.1-b", "valid.mx.test", MTASTS_OK, MTASTS_RPT_NONE,
               "", "");
}
END_TEST

START_TEST(test_probe_valid_name_forms)
{
    /* The name as an MTA may have it: any case, a final dot. */
    struct outcome o = probe("Valid.MX.test.");
    expect_probe("R8461-4.1-a", "valid.mx.test", &o, MTASTS_OK, MTASTS_RPT_NONE,
                 "", "");
    mtasts_mx_check_free(o.c);
}
END_TEST

START_TEST(test_probe_multiline)
{
    /* R5321-4.2: multi-line banner and EHLO reply; STARTTLS in lower case
     * on an inner line of the EHLO reply (RFC 3207 §4). */
    check_case("R8461-4-a", "multiline.mx.test", MTASTS_OK, MTASTS_RPT_NONE, "",
               "");
}
END_TEST

START_TEST(test_probe_ipv6)
{
    if (!world.ipv6) {
        return; /* ::1 unusable here: the world has no v6.mx.test */
    }
    struct outcome o = probe("v6.mx.test");
    expect_probe("R8461-4-a", "v6.mx.test", &o, MTASTS_OK, MTASTS_RPT_NONE, "",
                 "");
    ck_assert_str_eq(mtasts_mx_check_ip(o.c), "::1");
    mtasts_mx_check_free(o.c);
}
END_TEST

START_TEST(test_probe_address_given)
{
    /* The address the name resolves to, given: the same outcome, at that
     * address; port 0 is 25, where nothing listens on loopback. */
    struct outcome o = probe("valid.mx.test");
    char ip[64];
    snprintf(ip, sizeof(ip), "%s", mtasts_mx_check_ip(o.c));
    mtasts_mx_check_free(o.c);

    mtasts_ctx *ctx = probe_ctx(world.ca_file);
    o = probe_with(ctx, NULL, "valid.mx.test", ip, world.smtp_port);
    expect_probe("R8461-4-a", "valid.mx.test", &o, MTASTS_OK, MTASTS_RPT_NONE,
                 "", "");
    ck_assert_str_eq(mtasts_mx_check_ip(o.c), ip);
    mtasts_mx_check_free(o.c);

    o = probe_with(ctx, NULL, "valid.mx.test", ip, 0);
    char where[96];
    snprintf(where, sizeof(where), "connect to %s port 25: ", ip);
    expect_probe("R8461-5.1-d", "valid.mx.test", &o, MTASTS_ERR_CONNECT,
                 MTASTS_RPT_NONE, "", where);
    mtasts_mx_check_free(o.c);
    mtasts_ctx_free(ctx);
}
END_TEST

START_TEST(test_probe_policy_match)
{
    /* R8461-4-a: mx pattern and certificate both pass: deliver. */
    mtasts_policy *p = policy_for("enforce", "*.mx.test");
    mtasts_ctx *ctx = probe_ctx(world.ca_file);
    struct outcome o =
        probe_with(ctx, p, "valid.mx.test", NULL, world.smtp_port);
    expect_probe("R8461-4-a", "valid.mx.test", &o, MTASTS_OK, MTASTS_RPT_NONE,
                 "", "");
    ck_assert(mtasts_mx_check_matches(o.c));
    ck_assert_int_eq(mtasts_mx_check_result(o.c), MTASTS_RPT_NONE);
    mtasts_verdict v;
    ck_assert_int_eq(
        mtasts_decide(p, "valid.mx.test", mtasts_mx_check_tls(o.c), 0, &v),
        MTASTS_OK);
    ck_assert_int_eq(v, MTASTS_VERDICT_DELIVER);
    mtasts_mx_check_free(o.c);
    mtasts_ctx_free(ctx);
    mtasts_policy_unref(p);
}
END_TEST

START_TEST(test_probe_policy_mismatch)
{
    /* R8461-6-d (CHECKLIST E-15): a good certificate on an MX the policy
     * does not list is validation-failure, "mx-mismatch"; enforce refuses. */
    mtasts_policy *p = policy_for("enforce", "mail.other.test");
    mtasts_ctx *ctx = probe_ctx(world.ca_file);
    struct outcome o =
        probe_with(ctx, p, "valid.mx.test", NULL, world.smtp_port);
    ck_assert_int_eq(o.status, MTASTS_OK);
    ck_assert(!mtasts_mx_check_matches(o.c));
    ck_assert_int_eq(mtasts_mx_check_tls(o.c), MTASTS_RPT_NONE);
    ck_assert_int_eq(mtasts_mx_check_result(o.c),
                     MTASTS_RPT_VALIDATION_FAILURE);
    ck_assert_str_eq(mtasts_mx_check_reason_code(o.c), "mx-mismatch");
    mtasts_verdict v;
    ck_assert_int_eq(
        mtasts_decide(p, "valid.mx.test", mtasts_mx_check_tls(o.c), 0, &v),
        MTASTS_OK);
    ck_assert_int_eq(v, MTASTS_VERDICT_REFUSE);
    mtasts_mx_check_free(o.c);
    mtasts_ctx_free(ctx);
    mtasts_policy_unref(p);
}
END_TEST

START_TEST(test_probe_helo_name)
{
    mtasts_ctx *ctx = probe_ctx(world.ca_file);
    ck_assert_int_eq(mtasts_ctx_set_helo_name(ctx, "Probe.Example."),
                     MTASTS_OK);
    struct outcome o =
        probe_with(ctx, NULL, "valid.mx.test", NULL, world.smtp_port);
    expect_probe("R8461-4-a", "valid.mx.test", &o, MTASTS_OK, MTASTS_RPT_NONE,
                 "", "");
    mtasts_mx_check_free(o.c);
    mtasts_ctx_free(ctx);
}
END_TEST

/* ---- certificates that fail (the session itself succeeds) --------------- */

START_TEST(test_probe_cert_wrong_name)
{
    check_case("R8461-4.2-c/6-c", "wrongname.mx.test", MTASTS_OK,
               MTASTS_RPT_CERTIFICATE_HOST_MISMATCH,
               "certificate-host-mismatch", "www.mx.test");
}
END_TEST

START_TEST(test_probe_cert_expired)
{
    check_case("R8461-4.2-a/6-c", "expired.mx.test", MTASTS_OK,
               MTASTS_RPT_CERTIFICATE_EXPIRED, "certificate-expired",
               "2020-01-02");
}
END_TEST

static int64_t
fixed_clock(void *user)
{
    return *(const int64_t *)user;
}

START_TEST(test_probe_cert_expired_by_clock)
{
    /* R8461-4.2-a by the context's clock: the valid certificate (7 days)
     * has expired in 2099 and is not yet valid in 2000. */
    static int64_t when;
    mtasts_ctx *ctx = probe_ctx(world.ca_file);
    ck_assert_int_eq(mtasts_ctx_set_clock(ctx, fixed_clock, &when), MTASTS_OK);
    when = YEAR_2099;
    struct outcome o =
        probe_with(ctx, NULL, "valid.mx.test", NULL, world.smtp_port);
    expect_probe("R8461-4.2-a", "valid.mx.test", &o, MTASTS_OK,
                 MTASTS_RPT_CERTIFICATE_EXPIRED, "certificate-expired",
                 "expired");
    mtasts_mx_check_free(o.c);
    when = YEAR_2000;
    o = probe_with(ctx, NULL, "valid.mx.test", NULL, world.smtp_port);
    expect_probe("R8461-4.2-a", "valid.mx.test", &o, MTASTS_OK,
                 MTASTS_RPT_VALIDATION_FAILURE, "certificate-not-yet-valid",
                 "");
    mtasts_mx_check_free(o.c);
    mtasts_ctx_free(ctx);
}
END_TEST

START_TEST(test_probe_cert_cn_only)
{
    /* R8461-4.2-c: CN = the MX name, no SAN: never accepted (E-17). */
    check_case("R8461-4.2-c", "cnonly.mx.test", MTASTS_OK,
               MTASTS_RPT_CERTIFICATE_HOST_MISMATCH,
               "certificate-host-mismatch", "no subjectAltName");
}
END_TEST

START_TEST(test_probe_cert_unknown_ca)
{
    check_case("R8461-4.2-b/6-c", "unknownca.mx.test", MTASTS_OK,
               MTASTS_RPT_CERTIFICATE_NOT_TRUSTED, "certificate-not-trusted",
               "trust");
}
END_TEST

START_TEST(test_probe_ca_from_context)
{
    /* R8461-4.2-b: the context's trust store decides; with only the other
     * CA, the valid certificate is not trusted. */
    mtasts_ctx *ctx = probe_ctx(world.other_ca_file);
    struct outcome o =
        probe_with(ctx, NULL, "valid.mx.test", NULL, world.smtp_port);
    expect_probe("R8461-4.2-b", "valid.mx.test", &o, MTASTS_OK,
                 MTASTS_RPT_CERTIFICATE_NOT_TRUSTED, "certificate-not-trusted",
                 "");
    mtasts_mx_check_free(o.c);
    mtasts_ctx_free(ctx);
}
END_TEST

/* ---- STARTTLS missing, refused or failing -------------------------------- */

START_TEST(test_probe_no_starttls)
{
    check_case("R8461-4-a/6-c", "nostarttls.mx.test", MTASTS_OK,
               MTASTS_RPT_STARTTLS_NOT_SUPPORTED, "starttls-not-offered",
               "does not offer STARTTLS (EHLO keywords: PIPELINING 8BITMIME)");
}
END_TEST

START_TEST(test_probe_starttls_refused)
{
    check_case("R8461-6-c", "refused.mx.test", MTASTS_OK,
               MTASTS_RPT_STARTTLS_NOT_SUPPORTED, "starttls-refused",
               "STARTTLS refused by 127.0.0.");
    check_case("R8461-6-c", "refused.mx.test", MTASTS_OK,
               MTASTS_RPT_STARTTLS_NOT_SUPPORTED, "starttls-refused",
               "\"454 4.7.0 TLS not available\"");
}
END_TEST

START_TEST(test_probe_tls_handshake_fails)
{
    /* R8461-5-a, R8461-6-c: STARTTLS accepted, then no TLS. */
    check_case("R8461-5-a/6-c", "badtls.mx.test", MTASTS_OK,
               MTASTS_RPT_VALIDATION_FAILURE, "tls-handshake",
               "TLS handshake with 127.0.0.");
}
END_TEST

START_TEST(test_probe_plaintext_after_starttls)
{
    /* RFC 3207 §4.2: bytes after the 220 to STARTTLS and before TLS (a
     * plaintext response injection) are never taken as the server's TLS:
     * no handshake is attempted. */
    check_case("R8461-5-a/6-c", "inject.mx.test", MTASTS_OK,
               MTASTS_RPT_VALIDATION_FAILURE, "tls-handshake",
               "sent 14 bytes after its 220 reply to STARTTLS, before the "
               "TLS handshake: \"250 injected\\x0d\\x0a\"");
}
END_TEST

/* ---- sessions that end before STARTTLS (RFC 8461 §5.1) ------------------- */

START_TEST(test_probe_silent_server)
{
    /* R8461-5.1-d: no banner within the SMTP timeout. */
    struct outcome o = probe("silent.mx.test");
    expect_probe("R8461-5.1-d", "silent.mx.test", &o, MTASTS_ERR_TIMEOUT,
                 MTASTS_RPT_NONE, "", "banner: no reply from 127.0.0.");
    ck_assert_ptr_nonnull(strstr(mtasts_mx_check_reason(o.c), "within 500 ms"));
    ck_assert_int_eq(mtasts_mx_check_result(o.c), MTASTS_RPT_NONE);
    ck_assert_msg(o.elapsed_ms >= SMTP_TIMEOUT_MS - 50 &&
                      o.elapsed_ms < SMTP_TIMEOUT_MS + TIMEOUT_SLACK_MS,
                  "took %ld ms, SMTP timeout %d ms", o.elapsed_ms,
                  SMTP_TIMEOUT_MS);
    mtasts_mx_check_free(o.c);
}
END_TEST

START_TEST(test_probe_stall_after_banner)
{
    struct outcome o = probe("stall.mx.test");
    expect_probe("R8461-5.1-d", "stall.mx.test", &o, MTASTS_ERR_TIMEOUT,
                 MTASTS_RPT_NONE, "", "EHLO: no reply from 127.0.0.");
    ck_assert_msg(o.elapsed_ms < SMTP_TIMEOUT_MS + TIMEOUT_SLACK_MS,
                  "took %ld ms", o.elapsed_ms);
    mtasts_mx_check_free(o.c);
}
END_TEST

START_TEST(test_probe_garbage_banner)
{
    check_case("R8461-5.1-d", "garbage.mx.test", MTASTS_ERR_PROTOCOL,
               MTASTS_RPT_NONE, "", "banner: not an SMTP reply from 127.0.0.");
    check_case("R8461-5.1-d", "garbage.mx.test", MTASTS_ERR_PROTOCOL,
               MTASTS_RPT_NONE, "",
               "line 1: expected a three-digit reply code, got "
               "\"HTTP/1.1 400 Bad Request\"");
}
END_TEST

START_TEST(test_probe_banner_554)
{
    check_case("R8461-5.1-d", "banner554.mx.test", MTASTS_ERR_PROTOCOL,
               MTASTS_RPT_NONE, "",
               "got \"554 5.3.2 banner554.mx.test takes no mail\"");
}
END_TEST

START_TEST(test_probe_connection_refused)
{
    check_case("R8461-5.1-d", "closed.mx.test", MTASTS_ERR_CONNECT,
               MTASTS_RPT_NONE, "", "Connection refused");
}
END_TEST

START_TEST(test_probe_no_address)
{
    check_case("R8461-5.1-d", "noaddr.mx.test", MTASTS_ERR_CONNECT,
               MTASTS_RPT_NONE, "", "cannot resolve noaddr.mx.test");
}
END_TEST

/* ---- arguments ------------------------------------------------------------
 */

START_TEST(test_probe_invalid_arguments)
{
    mtasts_ctx *ctx = probe_ctx(world.ca_file);
    mtasts_mx_check *c = (mtasts_mx_check *)&world; /* must become NULL */
    const uint16_t port = world.smtp_port;
    ck_assert_int_eq(
        mtasts_probe_mx(NULL, NULL, "valid.mx.test", NULL, port, &c),
        MTASTS_ERR_INVALID);
    ck_assert_ptr_null(c);
    ck_assert_int_eq(mtasts_probe_mx(ctx, NULL, NULL, NULL, port, &c),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(
        mtasts_probe_mx(ctx, NULL, "valid.mx.test", NULL, port, NULL),
        MTASTS_ERR_INVALID);
    static const char *const bad_hosts[] = {
        "",        ".", "a..b", "-a.test", "[127.0.0.1]", "b\xc3\xbc.test",
        "a b.test"};
    for (size_t i = 0; i < sizeof(bad_hosts) / sizeof(bad_hosts[0]); i++) {
        c = (mtasts_mx_check *)&world;
        ck_assert_msg(mtasts_probe_mx(ctx, NULL, bad_hosts[i], NULL, port,
                                      &c) == MTASTS_ERR_INVALID,
                      "host \"%s\"", bad_hosts[i]);
        ck_assert_ptr_null(c);
    }
    static const char *const bad_addrs[] = {
        "",        "valid.mx.test", "[::1]",    "127.0.0.1:25",
        "127.0.0", "::1%lo",        "256.0.0.1"};
    for (size_t i = 0; i < sizeof(bad_addrs) / sizeof(bad_addrs[0]); i++) {
        c = (mtasts_mx_check *)&world;
        ck_assert_msg(mtasts_probe_mx(ctx, NULL, "valid.mx.test", bad_addrs[i],
                                      port, &c) == MTASTS_ERR_INVALID,
                      "addr \"%s\"", bad_addrs[i]);
        ck_assert_ptr_null(c);
    }
    mtasts_ctx_free(ctx);
}
END_TEST

static TCase *
tcase(Suite *s, const char *name)
{
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, TEST_TIMEOUT_S);
    suite_add_tcase(s, tc);
    return tc;
}

static Suite *
probe_suite(void)
{
    Suite *s = suite_create("probe");

    TCase *tc = tcase(s, "valid");
    tcase_add_test(tc, test_probe_valid);
    tcase_add_test(tc, test_probe_valid_name_forms);
    tcase_add_test(tc, test_probe_multiline);
    tcase_add_test(tc, test_probe_ipv6);
    tcase_add_test(tc, test_probe_address_given);
    tcase_add_test(tc, test_probe_policy_match);
    tcase_add_test(tc, test_probe_policy_mismatch);
    tcase_add_test(tc, test_probe_helo_name);

    tc = tcase(s, "certificate");
    tcase_add_test(tc, test_probe_cert_wrong_name);
    tcase_add_test(tc, test_probe_cert_expired);
    tcase_add_test(tc, test_probe_cert_expired_by_clock);
    tcase_add_test(tc, test_probe_cert_cn_only);
    tcase_add_test(tc, test_probe_cert_unknown_ca);
    tcase_add_test(tc, test_probe_ca_from_context);

    tc = tcase(s, "starttls");
    tcase_add_test(tc, test_probe_no_starttls);
    tcase_add_test(tc, test_probe_starttls_refused);
    tcase_add_test(tc, test_probe_tls_handshake_fails);
    tcase_add_test(tc, test_probe_plaintext_after_starttls);

    tc = tcase(s, "before-starttls");
    tcase_add_test(tc, test_probe_silent_server);
    tcase_add_test(tc, test_probe_stall_after_banner);
    tcase_add_test(tc, test_probe_garbage_banner);
    tcase_add_test(tc, test_probe_banner_554);
    tcase_add_test(tc, test_probe_connection_refused);
    tcase_add_test(tc, test_probe_no_address);

    tc = tcase(s, "arguments");
    tcase_add_test(tc, test_probe_invalid_arguments);
    return s;
}

int
main(void)
{
    world_load();
    SRunner *sr = srunner_create(probe_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
