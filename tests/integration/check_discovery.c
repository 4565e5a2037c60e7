/* Integration tests of policy discovery (RFC 8461 §3, §5) through the
 * public API and the default I/O (DNS through ldns, HTTPS through mbedTLS),
 * against the loopback world of tests/integration/world.py: nsd for the
 * zones test. and example., nginx and small Python servers for the policy
 * hosts, and a test CA made at run time.
 *
 * run.py starts the world, runs this program and stops the world. It
 * exports MTASTS_WORLD_RESOLVER, MTASTS_WORLD_DEAD_RESOLVER,
 * MTASTS_WORLD_HTTPS_PORT, MTASTS_WORLD_CA, MTASTS_WORLD_OTHER_CA and
 * MTASTS_WORLD_IPV6; without them the program skips (exit 77).
 *
 * One test per case of the world, each naming the CHECKLIST.md ids it
 * proves. Every lookup runs in a new context, so no case sees another's
 * cache. nginx refuses TLS handshakes without a known SNI name, so every
 * policy that arrives at all proves the SNI (R8461-7.1-a).
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

#define PROG "check_discovery" /* in messages */

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Short timeouts keep the suite fast; the slow cases of the world are
 * built to exceed them (a byte per 100 ms, or silence). */
#define CONNECT_TIMEOUT_MS 1000
#define FETCH_TIMEOUT_MS 2000
#define DNS_TIMEOUT_MS 1000
/* A lookup stopped by a timeout ends within the timeout plus this. */
#define TIMEOUT_SLACK_MS 1500
/* Check's limit for one test, in seconds. */
#define TEST_TIMEOUT_S 30

#define DAY_S 86400

static struct {
    const char *resolver;      /* nsd, "127.0.0.1@PORT" */
    const char *dead_resolver; /* a port that never answers */
    const char *ca_file;       /* the test CA */
    const char *other_ca_file; /* a CA that signed only unknownca.test */
    uint16_t https_port;
    bool ipv6;
} world;

/* ---- the world ----------------------------------------------------------- */

static void
world_load(void)
{
    world.resolver = world_env(PROG, "MTASTS_WORLD_RESOLVER");
    world.dead_resolver = world_env(PROG, "MTASTS_WORLD_DEAD_RESOLVER");
    world.ca_file = world_env(PROG, "MTASTS_WORLD_CA");
    world.other_ca_file = world_env(PROG, "MTASTS_WORLD_OTHER_CA");
    world.https_port = world_port(PROG, "MTASTS_WORLD_HTTPS_PORT");
    world.ipv6 = strcmp(world_env(PROG, "MTASTS_WORLD_IPV6"), "1") == 0;
}

/* A context that reaches the world: its resolver, CA and port, and short
 * timeouts. */
static mtasts_ctx *
world_ctx(const char *resolver, const char *ca_file)
{
    mtasts_ctx *ctx = NULL;
    ck_assert_int_eq(mtasts_ctx_new(&ctx), MTASTS_OK);
    ck_assert_int_eq(mtasts_ctx_set_resolver(ctx, resolver), MTASTS_OK);
    ck_assert_int_eq(mtasts_ctx_set_ca_file(ctx, ca_file), MTASTS_OK);
    ck_assert_int_eq(mtasts_ctx_set_https_port(ctx, world.https_port),
                     MTASTS_OK);
    ck_assert_int_eq(mtasts_ctx_set_connect_timeout_ms(ctx, CONNECT_TIMEOUT_MS),
                     MTASTS_OK);
    ck_assert_int_eq(mtasts_ctx_set_fetch_timeout_ms(ctx, FETCH_TIMEOUT_MS),
                     MTASTS_OK);
    ck_assert_int_eq(mtasts_ctx_set_dns_timeout_ms(ctx, DNS_TIMEOUT_MS),
                     MTASTS_OK);
    return ctx;
}

/* One lookup and how long it took. */
struct outcome {
    int status;
    mtasts_result *r;
    long elapsed_ms;
};

static struct outcome
lookup_with(mtasts_ctx *ctx, const char *domain)
{
    struct outcome o = {0, NULL, 0};
    long t0 = world_now_ms();
    o.status = mtasts_lookup_result(ctx, domain, &o.r);
    o.elapsed_ms = world_now_ms() - t0;
    ck_assert_msg(o.r != NULL, "%s: no result (status %s)", domain,
                  mtasts_status_name(o.status));
    ck_assert_int_eq(mtasts_result_status(o.r), o.status);
    return o;
}

/* Look a domain up in a new context. */
static struct outcome
lookup(const char *domain)
{
    mtasts_ctx *ctx = world_ctx(world.resolver, world.ca_file);
    struct outcome o = lookup_with(ctx, domain);
    mtasts_ctx_free(ctx);
    return o;
}

/* ---- expectations -------------------------------------------------------- */

/* The lookup gave this policy: status, mode, the mx patterns in order, the
 * TXT id, no failure, fetched now. */
static void
expect_policy(const char *ids, const char *domain, const struct outcome *o,
              mtasts_mode mode, const char *const *mx, size_t nmx,
              const char *txt_id)
{
    const mtasts_result *r = o->r;
    ck_assert_msg(o->status == MTASTS_OK,
                  "%s %s: status %s, want MTASTS_OK (%s)", ids, domain,
                  mtasts_status_name(o->status), mtasts_result_reason(r));
    const mtasts_policy *p = mtasts_result_policy(r);
    ck_assert_msg(p != NULL, "%s %s: no policy", ids, domain);
    ck_assert_msg(mtasts_policy_mode(p) == mode, "%s %s: mode %s, want %s", ids,
                  domain, mtasts_mode_name(mtasts_policy_mode(p)),
                  mtasts_mode_name(mode));
    ck_assert_msg(mtasts_policy_mx_count(p) == nmx,
                  "%s %s: %zu mx patterns, want %zu", ids, domain,
                  mtasts_policy_mx_count(p), nmx);
    for (size_t i = 0; i < nmx; i++) {
        ck_assert_msg(strcmp(mtasts_policy_mx(p, i), mx[i]) == 0,
                      "%s %s: mx %zu is \"%s\", want \"%s\"", ids, domain, i,
                      mtasts_policy_mx(p, i), mx[i]);
    }
    ck_assert_msg(mtasts_result_failure(r) == MTASTS_RPT_NONE,
                  "%s %s: failure %s on success", ids, domain,
                  mtasts_rpt_result_name(mtasts_result_failure(r)));
    ck_assert_msg(strcmp(mtasts_result_txt_id(r), txt_id) == 0,
                  "%s %s: id \"%s\", want \"%s\"", ids, domain,
                  mtasts_result_txt_id(r), txt_id);
    ck_assert_msg(!mtasts_result_from_cache(r), "%s %s: from the cache", ids,
                  domain);
    ck_assert_msg(mtasts_result_expires(r) > time(NULL),
                  "%s %s: expires in the past", ids, domain);
}

/* The lookup failed with this status and failure class, no policy, and a
 * reason. */
static void
expect_failure(const char *ids, const char *domain, const struct outcome *o,
               int status, mtasts_rpt_result failure)
{
    const mtasts_result *r = o->r;
    ck_assert_msg(o->status == status, "%s %s: status %s, want %s (%s)", ids,
                  domain, mtasts_status_name(o->status),
                  mtasts_status_name(status), mtasts_result_reason(r));
    ck_assert_msg(mtasts_result_policy(r) == NULL, "%s %s: a policy", ids,
                  domain);
    ck_assert_msg(mtasts_result_failure(r) == failure,
                  "%s %s: failure %s, want %s (%s)", ids, domain,
                  mtasts_rpt_result_name(mtasts_result_failure(r)),
                  mtasts_rpt_result_name(failure), mtasts_result_reason(r));
    ck_assert_msg(mtasts_result_reason(r)[0] != '\0', "%s %s: empty reason",
                  ids, domain);
    ck_assert_msg(mtasts_result_expires(r) == 0, "%s %s: expires set", ids,
                  domain);
}

static void
outcome_free(struct outcome *o)
{
    mtasts_result_free(o->r);
    o->r = NULL;
}

/* A policy case: look the domain up, expect an enforce policy with one mx
 * "mail.<domain>" and the given id. */
static void
check_enforce(const char *ids, const char *domain, const char *txt_id)
{
    char mx[MTASTS_DOMAIN_BUFSIZE + 8];
    snprintf(mx, sizeof(mx), "mail.%s", domain);
    const char *const want[] = {mx};
    struct outcome o = lookup(domain);
    expect_policy(ids, domain, &o, MTASTS_MODE_ENFORCE, want, 1, txt_id);
    outcome_free(&o);
}

static void
check_failure(const char *ids, const char *domain, int status,
              mtasts_rpt_result failure)
{
    struct outcome o = lookup(domain);
    expect_failure(ids, domain, &o, status, failure);
    outcome_free(&o);
}

#define FETCH_ERROR MTASTS_ERR_FETCH, MTASTS_RPT_STS_POLICY_FETCH_ERROR
#define WEBPKI_INVALID MTASTS_ERR_WEBPKI, MTASTS_RPT_STS_WEBPKI_INVALID
#define NO_POLICY MTASTS_ERR_NO_POLICY, MTASTS_RPT_NONE

/* ---- policies that apply ------------------------------------------------- */

START_TEST(test_discovery_valid)
{
    /* R8461-3.2-a, R8461-3.3-b, R8461-3.3-f (the CA through the option),
     * R8461-7.1-a */
    const char *const mx[] = {"mail.valid.test", "*.backup.valid.test"};
    struct outcome o = lookup("valid.test");
    expect_policy("R8461-3.2-a/3.3-b/3.3-f", "valid.test", &o,
                  MTASTS_MODE_ENFORCE, mx, ARRAY_LEN(mx), "valid1");
    ck_assert_str_eq(mtasts_result_domain(o.r), "valid.test");
    ck_assert_uint_eq(mtasts_policy_max_age(mtasts_result_policy(o.r)), DAY_S);
    outcome_free(&o);
}
END_TEST

START_TEST(test_discovery_http_cache_headers_ignored)
{
    /* R8461-3.3-i: valid.test answers with Cache-Control: max-age=60; the
     * policy still lives max_age (one day) from now. */
    time_t before = time(NULL);
    struct outcome o = lookup("valid.test");
    time_t after = time(NULL);
    ck_assert_int_eq(o.status, MTASTS_OK);
    int64_t expires = mtasts_result_expires(o.r);
    ck_assert_msg(
        expires >= (int64_t)before + DAY_S && expires <= (int64_t)after + DAY_S,
        "R8461-3.3-i: expires %lld, want now + %d", (long long)expires, DAY_S);
    outcome_free(&o);
}
END_TEST

START_TEST(test_discovery_domain_normalised)
{
    /* R8461-3.1-a: any case and one trailing dot; the result names the
     * normalised domain. */
    const char *const mx[] = {"mail.valid.test", "*.backup.valid.test"};
    struct outcome o = lookup("Valid.TEST.");
    expect_policy("R8461-3.1-a", "Valid.TEST.", &o, MTASTS_MODE_ENFORCE, mx,
                  ARRAY_LEN(mx), "valid1");
    ck_assert_str_eq(mtasts_result_domain(o.r), "valid.test");
    outcome_free(&o);
}
END_TEST

START_TEST(test_discovery_mode_testing)
{
    /* R8461-3.2-h */
    const char *const mx[] = {"mail.testing.test"};
    struct outcome o = lookup("testing.test");
    expect_policy("R8461-3.2-h", "testing.test", &o, MTASTS_MODE_TESTING, mx,
                  ARRAY_LEN(mx), "testing1");
    outcome_free(&o);
}
END_TEST

START_TEST(test_discovery_mode_none)
{
    /* R8461-8.3-a: a none policy is a policy (status OK, mode none). */
    struct outcome o = lookup("none.test");
    expect_policy("R8461-8.3-a", "none.test", &o, MTASTS_MODE_NONE, NULL, 0,
                  "none1");
    outcome_free(&o);
}
END_TEST

START_TEST(test_discovery_wildcard_certificate)
{
    /* R8461-3.3-d: SAN *.wild.test covers mta-sts.wild.test. */
    check_enforce("R8461-3.3-d", "wild.test", "wild1");
}
END_TEST

START_TEST(test_discovery_content_type_parameters)
{
    /* R8461-3.2-b, R8461-3.2-c: "Text/Plain; charset=UTF-8". */
    check_enforce("R8461-3.2-b/3.2-c", "charset.test", "charset1");
}
END_TEST

START_TEST(test_discovery_txt_split)
{
    /* R8461-3.1-b: "v=STSv1; id=" "split1" */
    check_enforce("R8461-3.1-b", "split.test", "split1");
}
END_TEST

START_TEST(test_discovery_txt_split_mid_version)
{
    /* R8461-3.1-b: "v=STS" "v1; id=splitmid1" */
    check_enforce("R8461-3.1-b", "splitmid.test", "splitmid1");
}
END_TEST

START_TEST(test_discovery_txt_beside_spf)
{
    /* R8461-3.1-c: v=spf1 beside the one STS record. */
    check_enforce("R8461-3.1-c", "txtmixed.test", "mixed1");
}
END_TEST

START_TEST(test_discovery_cname_delegation)
{
    /* R8461-3.1-m, R8461-3.1-n: _mta-sts.deleg.test is a CNAME to
     * _mta-sts.provider.example; the id is the provider's, the policy is
     * mta-sts.deleg.test's (mta-sts.provider.example serves mx
     * mail.provider.example instead). */
    check_enforce("R8461-3.1-m/3.1-n", "deleg.test", "provider1");
}
END_TEST

START_TEST(test_discovery_cname_chain)
{
    /* R8461-3.1-m, R8461-3.1-n: a chain of two CNAMEs. */
    check_enforce("R8461-3.1-m/3.1-n", "chain.test", "provider1");
}
END_TEST

START_TEST(test_discovery_policy_host_cname)
{
    /* R8461-3.2-a: mta-sts.hostcname.test is a CNAME to
     * web.provider.example; SNI and certificate name stay the policy
     * host's. */
    check_enforce("R8461-3.2-a", "hostcname.test", "hostcname1");
}
END_TEST

START_TEST(test_discovery_body_exactly_64k)
{
    /* R8461-3.3-k: a body of exactly the cap, with Content-Length. */
    check_enforce("R8461-3.3-k", "exact64k.test", "exact1");
}
END_TEST

START_TEST(test_discovery_body_exactly_64k_chunked)
{
    /* R8461-3.3-k: a body of exactly the cap, chunked. */
    check_enforce("R8461-3.3-k", "exact64kchunked.test", "exactchunked1");
}
END_TEST

START_TEST(test_discovery_tls12_only)
{
    /* R8461-7.2-a: a server that speaks TLS 1.2 and nothing else. */
    check_enforce("R8461-7.2-a", "tls12.test", "tls121");
}
END_TEST

START_TEST(test_discovery_ipv6_only)
{
    /* R8461-3.2-a: the policy host has an AAAA record (::1) only. */
    if (!world.ipv6) {
        printf("test_discovery_ipv6_only: no ::1 here, nothing to test\n");
        return;
    }
    check_enforce("R8461-3.2-a", "v6only.test", "v6only1");
}
END_TEST

/* ---- no usable TXT record ------------------------------------------------ */
/* Each policy host of these serves a valid policy: a lookup that fetched
 * anyway would come back with it. */

START_TEST(test_discovery_nxdomain)
{
    /* R8461-3.1-d */
    check_failure("R8461-3.1-d", "nxdomain.test", NO_POLICY);
}
END_TEST

START_TEST(test_discovery_zero_sts_records)
{
    /* R8461-3.1-c, R8461-3.1-d: only v=spf1 at _mta-sts. */
    check_failure("R8461-3.1-c/3.1-d", "notxt.test", NO_POLICY);
}
END_TEST

START_TEST(test_discovery_nodata)
{
    /* R8461-3.1-d: the name exists, with no TXT record. */
    check_failure("R8461-3.1-d", "nodata.test", NO_POLICY);
}
END_TEST

START_TEST(test_discovery_two_sts_records)
{
    /* R8461-3.1-d */
    check_failure("R8461-3.1-d", "twotxt.test", NO_POLICY);
}
END_TEST

START_TEST(test_discovery_txt_syntax_error)
{
    /* R8461-3.1-e: v=STSv1; id=bad! */
    check_failure("R8461-3.1-e", "badtxt.test", NO_POLICY);
}
END_TEST

START_TEST(test_discovery_cname_loop)
{
    /* R8461-3.1-m: a CNAME loop is a failed lookup with no policy; the
     * header leaves open whether the resolver calls it a temporary DNS
     * failure or no record. */
    struct outcome o = lookup("loop.test");
    const char *ids = "R8461-3.1-m";
    ck_assert_msg(o.status == MTASTS_ERR_DNS_TEMPFAIL ||
                      o.status == MTASTS_ERR_NO_POLICY,
                  "%s loop.test: status %s (%s)", ids,
                  mtasts_status_name(o.status), mtasts_result_reason(o.r));
    expect_failure(ids, "loop.test", &o, o.status, MTASTS_RPT_NONE);
    ck_assert_msg(o.elapsed_ms < DNS_TIMEOUT_MS + TIMEOUT_SLACK_MS,
                  "%s loop.test: took %ld ms", ids, o.elapsed_ms);
    outcome_free(&o);
}
END_TEST

START_TEST(test_discovery_cname_dangling)
{
    /* R8461-3.1-m: a CNAME to a name that does not exist. */
    check_failure("R8461-3.1-m", "dangling.test", NO_POLICY);
}
END_TEST

START_TEST(test_discovery_dns_refused)
{
    /* R8461-3.1-p: the server answers REFUSED (outside its zones). */
    check_failure("R8461-3.1-p", "outside.invalid", MTASTS_ERR_DNS_TEMPFAIL,
                  MTASTS_RPT_NONE);
}
END_TEST

START_TEST(test_discovery_dns_timeout)
{
    /* R8461-3.1-p: a resolver that never answers; the DNS timeout holds. */
    mtasts_ctx *ctx = world_ctx(world.dead_resolver, world.ca_file);
    struct outcome o = lookup_with(ctx, "valid.test");
    expect_failure("R8461-3.1-p", "valid.test", &o, MTASTS_ERR_DNS_TEMPFAIL,
                   MTASTS_RPT_NONE);
    ck_assert_msg(o.elapsed_ms < DNS_TIMEOUT_MS + TIMEOUT_SLACK_MS,
                  "R8461-3.1-p: took %ld ms, DNS timeout %d ms", o.elapsed_ms,
                  DNS_TIMEOUT_MS);
    outcome_free(&o);
    mtasts_ctx_free(ctx);
}
END_TEST

/* ---- the policy cannot be fetched ---------------------------------------- */

START_TEST(test_discovery_policy_host_no_address)
{
    /* R8461-3.3-l: mta-sts.noaddr.test has no A or AAAA record. */
    check_failure("R8461-3.3-l", "noaddr.test", FETCH_ERROR);
}
END_TEST

START_TEST(test_discovery_connection_refused)
{
    /* R8461-3.3-l */
    check_failure("R8461-3.3-l", "refused.test", FETCH_ERROR);
}
END_TEST

START_TEST(test_discovery_http_404)
{
    /* R8461-3.3-g */
    check_failure("R8461-3.3-g", "notfound.test", FETCH_ERROR);
}
END_TEST

START_TEST(test_discovery_http_500)
{
    /* R8461-3.3-g */
    check_failure("R8461-3.3-g", "status500.test", FETCH_ERROR);
}
END_TEST

START_TEST(test_discovery_redirect_not_followed)
{
    /* R8461-3.3-h: 301 to valid.test's policy. */
    check_failure("R8461-3.3-h", "redirect.test", FETCH_ERROR);
}
END_TEST

START_TEST(test_discovery_content_type_html)
{
    /* R8461-3.2-b: text/html with a valid policy body. */
    check_failure("R8461-3.2-b", "html.test", FETCH_ERROR);
}
END_TEST

START_TEST(test_discovery_content_type_missing)
{
    /* R8461-3.2-b: no Content-Type, valid policy body. */
    check_failure("R8461-3.2-b", "notype.test", FETCH_ERROR);
}
END_TEST

START_TEST(test_discovery_policy_invalid)
{
    /* R8461-3.2-h, R8461-3.3-l: 200 text/plain with mode: bogus. */
    check_failure("R8461-3.2-h/3.3-l", "badpolicy.test",
                  MTASTS_ERR_POLICY_INVALID, MTASTS_RPT_STS_POLICY_INVALID);
}
END_TEST

START_TEST(test_discovery_plain_http_only)
{
    /* R8461-3.3-a: the server speaks plain HTTP at the port. */
    check_failure("R8461-3.3-a", "plainhttp.test", FETCH_ERROR);
}
END_TEST

START_TEST(test_discovery_tls10_only)
{
    /* R8461-7.2-b: a server that speaks TLS 1.0 and 1.1 only. */
    check_failure("R8461-7.2-b", "tls10.test", FETCH_ERROR);
}
END_TEST

START_TEST(test_discovery_malformed_http)
{
    /* R8461-3.3-l: the answer is not HTTP. */
    check_failure("R8461-3.3-l", "malformed.test", FETCH_ERROR);
}
END_TEST

START_TEST(test_discovery_bad_content_length)
{
    /* R8461-3.3-l: Content-Length: 12x (RFC 9112 §6.3: unrecoverable). */
    check_failure("R8461-3.3-l", "badlength.test", FETCH_ERROR);
}
END_TEST

START_TEST(test_discovery_truncated_body)
{
    /* R8461-3.3-k: Content-Length 1000, closed after a valid policy of
     * fewer bytes: a truncated body is never parsed. */
    check_failure("R8461-3.3-k", "truncated.test", FETCH_ERROR);
}
END_TEST

/* ---- body size ----------------------------------------------------------- */

START_TEST(test_discovery_body_too_large)
{
    /* R8461-3.3-k: 70000 bytes with Content-Length. */
    check_failure("R8461-3.3-k", "big.test", FETCH_ERROR);
}
END_TEST

START_TEST(test_discovery_body_too_large_chunked)
{
    /* R8461-3.3-k: 70000 bytes, chunked. */
    check_failure("R8461-3.3-k", "bigchunked.test", FETCH_ERROR);
}
END_TEST

START_TEST(test_discovery_body_cap_plus_one)
{
    /* R8461-3.3-k: a valid policy of 65537 bytes. */
    check_failure("R8461-3.3-k", "over64k.test", FETCH_ERROR);
}
END_TEST

/* ---- certificates -------------------------------------------------------- */

START_TEST(test_discovery_cert_expired)
{
    /* R8461-3.3-b */
    check_failure("R8461-3.3-b", "expired.test", WEBPKI_INVALID);
}
END_TEST

START_TEST(test_discovery_cert_not_yet_valid)
{
    /* R8461-3.3-b */
    check_failure("R8461-3.3-b", "notyet.test", WEBPKI_INVALID);
}
END_TEST

START_TEST(test_discovery_cert_wrong_name)
{
    /* R8461-3.3-b, R8461-3.3-c: SAN www.wrongname.test (the CN is
     * mta-sts.wrongname.test and must not count). */
    check_failure("R8461-3.3-b/3.3-c", "wrongname.test", WEBPKI_INVALID);
}
END_TEST

START_TEST(test_discovery_cert_cn_only)
{
    /* R8461-3.3-c: CN mta-sts.cnonly.test and no SAN. */
    check_failure("R8461-3.3-c", "cnonly.test", WEBPKI_INVALID);
}
END_TEST

START_TEST(test_discovery_cert_unknown_ca)
{
    /* R8461-3.3-b */
    check_failure("R8461-3.3-b", "unknownca.test", WEBPKI_INVALID);
}
END_TEST

START_TEST(test_discovery_cert_partial_wildcard)
{
    /* R8461-3.3-d: SAN m*.badwild.test. */
    check_failure("R8461-3.3-d", "badwild.test", WEBPKI_INVALID);
}
END_TEST

START_TEST(test_discovery_ca_from_option_only)
{
    /* R8461-3.3-f: with another CA file, the test CA's certificate of
     * valid.test is not trusted. */
    mtasts_ctx *ctx = world_ctx(world.resolver, world.other_ca_file);
    struct outcome o = lookup_with(ctx, "valid.test");
    expect_failure("R8461-3.3-f", "valid.test", &o, WEBPKI_INVALID);
    outcome_free(&o);
    mtasts_ctx_free(ctx);
}
END_TEST

/* ---- timeouts ------------------------------------------------------------ */

START_TEST(test_discovery_trickling_server)
{
    /* R8461-3.3-k: a valid response sent one byte per 100 ms; the total
     * fetch timeout ends it. */
    struct outcome o = lookup("slow.test");
    expect_failure("R8461-3.3-k", "slow.test", &o, FETCH_ERROR);
    ck_assert_msg(o.elapsed_ms < FETCH_TIMEOUT_MS + TIMEOUT_SLACK_MS,
                  "R8461-3.3-k slow.test: took %ld ms, fetch timeout %d ms",
                  o.elapsed_ms, FETCH_TIMEOUT_MS);
    outcome_free(&o);
}
END_TEST

START_TEST(test_discovery_silent_server)
{
    /* R8461-3.3-k: TCP accepts, no TLS handshake ever; the connect timeout
     * (TCP and TLS handshake) ends it before the fetch timeout. */
    struct outcome o = lookup("hang.test");
    expect_failure("R8461-3.3-k", "hang.test", &o, FETCH_ERROR);
    ck_assert_msg(o.elapsed_ms < FETCH_TIMEOUT_MS,
                  "R8461-3.3-k hang.test: took %ld ms, connect timeout %d ms",
                  o.elapsed_ms, CONNECT_TIMEOUT_MS);
    outcome_free(&o);
}
END_TEST

START_TEST(test_discovery_silent_after_handshake)
{
    /* R8461-3.3-k: TLS handshake, then no response. */
    struct outcome o = lookup("hangtls.test");
    expect_failure("R8461-3.3-k", "hangtls.test", &o, FETCH_ERROR);
    ck_assert_msg(o.elapsed_ms < FETCH_TIMEOUT_MS + TIMEOUT_SLACK_MS,
                  "R8461-3.3-k hangtls.test: took %ld ms, fetch timeout %d ms",
                  o.elapsed_ms, FETCH_TIMEOUT_MS);
    outcome_free(&o);
}
END_TEST

/* ---- the cache in front of the network (B.5) ----------------------------- */

START_TEST(test_discovery_same_id_uses_cache)
{
    /* R8461-3-a: a second lookup that checks the TXT record (interval 0)
     * and finds the same id answers from the cache. */
    mtasts_ctx *ctx = world_ctx(world.resolver, world.ca_file);
    ck_assert_int_eq(mtasts_ctx_set_txt_check_interval_s(ctx, 0), MTASTS_OK);
    struct outcome o = lookup_with(ctx, "valid.test");
    ck_assert_int_eq(o.status, MTASTS_OK);
    ck_assert(!mtasts_result_from_cache(o.r));
    outcome_free(&o);
    o = lookup_with(ctx, "valid.test");
    ck_assert_msg(o.status == MTASTS_OK, "R8461-3-a: status %s (%s)",
                  mtasts_status_name(o.status), mtasts_result_reason(o.r));
    ck_assert_msg(mtasts_result_from_cache(o.r), "R8461-3-a: fetched again");
    ck_assert_str_eq(mtasts_result_txt_id(o.r), "valid1");
    outcome_free(&o);
    mtasts_ctx_free(ctx);
}
END_TEST

START_TEST(test_discovery_dns_failure_keeps_cache)
{
    /* R8461-3.1-o, R8461-3.3-m: with a cached enforce policy, a resolver
     * that stops answering leaves the cached policy in force, and the
     * failure is reportable. */
    mtasts_ctx *ctx = world_ctx(world.resolver, world.ca_file);
    ck_assert_int_eq(mtasts_ctx_set_txt_check_interval_s(ctx, 0), MTASTS_OK);
    struct outcome o = lookup_with(ctx, "valid.test");
    ck_assert_int_eq(o.status, MTASTS_OK);
    outcome_free(&o);
    ck_assert_int_eq(mtasts_ctx_set_resolver(ctx, world.dead_resolver),
                     MTASTS_OK);
    o = lookup_with(ctx, "valid.test");
    ck_assert_msg(o.status == MTASTS_OK, "R8461-3.3-m: status %s (%s)",
                  mtasts_status_name(o.status), mtasts_result_reason(o.r));
    const mtasts_policy *p = mtasts_result_policy(o.r);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(mtasts_policy_mode(p), MTASTS_MODE_ENFORCE);
    ck_assert(mtasts_result_from_cache(o.r));
    ck_assert_msg(mtasts_result_failure(o.r) != MTASTS_RPT_NONE,
                  "R8461-3.3-m: the failed check is not reported");
    ck_assert_msg(mtasts_result_reason(o.r)[0] != '\0',
                  "R8461-3.3-m: empty reason");
    outcome_free(&o);
    mtasts_ctx_free(ctx);
}
END_TEST

START_TEST(test_discovery_fetch_backoff)
{
    /* R8461-3.3-j: after a failed fetch (slow.test times out), a lookup
     * with the same TXT id makes no new fetch within the back-off: it
     * answers at once with the same failure. With back-off 0 it fetches
     * (and times out) again. */
    mtasts_ctx *ctx = world_ctx(world.resolver, world.ca_file);
    ck_assert_int_eq(mtasts_ctx_set_txt_check_interval_s(ctx, 0), MTASTS_OK);
    ck_assert_int_eq(mtasts_ctx_set_fetch_backoff_s(ctx, 300), MTASTS_OK);
    struct outcome o = lookup_with(ctx, "slow.test");
    expect_failure("R8461-3.3-j", "slow.test", &o, FETCH_ERROR);
    ck_assert_int_ge(o.elapsed_ms, FETCH_TIMEOUT_MS / 2);
    outcome_free(&o);
    o = lookup_with(ctx, "slow.test");
    expect_failure("R8461-3.3-j", "slow.test", &o, FETCH_ERROR);
    ck_assert_msg(o.elapsed_ms < FETCH_TIMEOUT_MS / 2,
                  "R8461-3.3-j: the second lookup took %ld ms (fetched?)",
                  o.elapsed_ms);
    outcome_free(&o);
    mtasts_ctx_free(ctx);
}
END_TEST

/* ---- runner -------------------------------------------------------------- */

static TCase *
tcase(Suite *s, const char *name)
{
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, TEST_TIMEOUT_S);
    suite_add_tcase(s, tc);
    return tc;
}

static Suite *
discovery_suite(void)
{
    Suite *s = suite_create("discovery");

    TCase *tc = tcase(s, "policy");
    tcase_add_test(tc, test_discovery_valid);
    tcase_add_test(tc, test_discovery_http_cache_headers_ignored);
    tcase_add_test(tc, test_discovery_domain_normalised);
    tcase_add_test(tc, test_discovery_mode_testing);
    tcase_add_test(tc, test_discovery_mode_none);
    tcase_add_test(tc, test_discovery_wildcard_certificate);
    tcase_add_test(tc, test_discovery_content_type_parameters);
    tcase_add_test(tc, test_discovery_txt_split);
    tcase_add_test(tc, test_discovery_txt_split_mid_version);
    tcase_add_test(tc, test_discovery_txt_beside_spf);
    tcase_add_test(tc, test_discovery_cname_delegation);
    tcase_add_test(tc, test_discovery_cname_chain);
    tcase_add_test(tc, test_discovery_policy_host_cname);
    tcase_add_test(tc, test_discovery_body_exactly_64k);
    tcase_add_test(tc, test_discovery_body_exactly_64k_chunked);
    tcase_add_test(tc, test_discovery_tls12_only);
    tcase_add_test(tc, test_discovery_ipv6_only);

    tc = tcase(s, "txt");
    tcase_add_test(tc, test_discovery_nxdomain);
    tcase_add_test(tc, test_discovery_zero_sts_records);
    tcase_add_test(tc, test_discovery_nodata);
    tcase_add_test(tc, test_discovery_two_sts_records);
    tcase_add_test(tc, test_discovery_txt_syntax_error);
    tcase_add_test(tc, test_discovery_cname_loop);
    tcase_add_test(tc, test_discovery_cname_dangling);
    tcase_add_test(tc, test_discovery_dns_refused);
    tcase_add_test(tc, test_discovery_dns_timeout);

    tc = tcase(s, "fetch");
    tcase_add_test(tc, test_discovery_policy_host_no_address);
    tcase_add_test(tc, test_discovery_connection_refused);
    tcase_add_test(tc, test_discovery_http_404);
    tcase_add_test(tc, test_discovery_http_500);
    tcase_add_test(tc, test_discovery_redirect_not_followed);
    tcase_add_test(tc, test_discovery_content_type_html);
    tcase_add_test(tc, test_discovery_content_type_missing);
    tcase_add_test(tc, test_discovery_policy_invalid);
    tcase_add_test(tc, test_discovery_plain_http_only);
    tcase_add_test(tc, test_discovery_tls10_only);
    tcase_add_test(tc, test_discovery_malformed_http);
    tcase_add_test(tc, test_discovery_bad_content_length);
    tcase_add_test(tc, test_discovery_truncated_body);

    tc = tcase(s, "limits");
    tcase_add_test(tc, test_discovery_body_too_large);
    tcase_add_test(tc, test_discovery_body_too_large_chunked);
    tcase_add_test(tc, test_discovery_body_cap_plus_one);

    tc = tcase(s, "webpki");
    tcase_add_test(tc, test_discovery_cert_expired);
    tcase_add_test(tc, test_discovery_cert_not_yet_valid);
    tcase_add_test(tc, test_discovery_cert_wrong_name);
    tcase_add_test(tc, test_discovery_cert_cn_only);
    tcase_add_test(tc, test_discovery_cert_unknown_ca);
    tcase_add_test(tc, test_discovery_cert_partial_wildcard);
    tcase_add_test(tc, test_discovery_ca_from_option_only);

    tc = tcase(s, "timeouts");
    tcase_add_test(tc, test_discovery_trickling_server);
    tcase_add_test(tc, test_discovery_silent_server);
    tcase_add_test(tc, test_discovery_silent_after_handshake);

    tc = tcase(s, "cache");
    tcase_add_test(tc, test_discovery_same_id_uses_cache);
    tcase_add_test(tc, test_discovery_dns_failure_keeps_cache);
    tcase_add_test(tc, test_discovery_fetch_backoff);
    return s;
}

int
main(void)
{
    world_load();
    SRunner *sr = srunner_create(discovery_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
