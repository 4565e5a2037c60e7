/* Unit tests of TLS report recording and the RFC 8460 §4 JSON report
 * (lib/report, lib/ctx/report.c): what each session counts as, merging of
 * failure details, UTC day boundaries, bounds, errors, and the exact JSON.
 * Lookup results and MX checks are built directly (internal layouts), so
 * no network is involved; tests/integration/query_probe.py checks reports
 * from real lookups and probes against the schema with Python's json. */
#include "harness.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "mtasts/mtasts.h"
#include "util/crc32.h"
#include "verify/mxcheck.h"

#define DAY0 INT64_C(1767225600) /* 2026-01-01T00:00:00Z */
#define DAY INT64_C(86400)

static int64_t now = DAY0 + 3600;

static int64_t
test_clock(void *user)
{
    (void)user;
    return now;
}

static const char enforce_text[] = "version: STSv1\r\nmode: enforce\r\n"
                                   "mx: mx.example.net\r\nmx: *.example.net"
                                   "\r\nmax_age: 86400\r\n";
static const char testing_text[] = "version: STSv1\nmode: testing\n"
                                   "mx: mx.example.net\nmax_age: 86400\n";
static const char none_text[] = "version: STSv1\nmode: none\nmax_age: 86400\n";

static mtasts_ctx *
new_ctx(void)
{
    mtasts_ctx *ctx = NULL;
    ck_assert_int_eq(mtasts_ctx_new(&ctx), MTASTS_OK);
    ck_assert_int_eq(mtasts_ctx_set_clock(ctx, test_clock, NULL), MTASTS_OK);
    now = DAY0 + 3600;
    return ctx;
}

/* A lookup result as the engine makes it. */
static mtasts_result *
lookup(const char *domain, const char *policy_text, mtasts_rpt_result failure,
       const char *reason)
{
    mtasts_result *r = calloc(1, sizeof(*r));
    ck_assert_ptr_nonnull(r);
    r->status = MTASTS_ERR_NO_POLICY;
    if (policy_text != NULL) {
        ck_assert_int_eq(mtasts_policy_parse(policy_text, strlen(policy_text),
                                             &r->policy, NULL),
                         MTASTS_OK);
        r->status = MTASTS_OK;
    } else if (failure != MTASTS_RPT_NONE) {
        r->status = MTASTS_ERR_FETCH;
    }
    r->failure = failure;
    snprintf(r->domain, sizeof(r->domain), "%s", domain);
    /* the reason as a person reads it; the code is what reports carry */
    snprintf(r->reason, sizeof(r->reason), "%s (from 192.0.2.53)", reason);
    snprintf(r->code, sizeof(r->code), "%s", reason);
    return r;
}

static void
lookup_free(mtasts_result *r)
{
    mtasts_policy_unref(r->policy);
    free(r);
}

/* An MX check as mtasts_verify_mx() or mtasts_probe_mx() leaves it. */
static mtasts_mx_check *
check(const mtasts_result *l, const char *host, const char *ip,
      mtasts_rpt_result tls, const char *code)
{
    mtasts_mx_check *c = mtasts__mx_check_new(l->policy, host);
    ck_assert_ptr_nonnull(c);
    snprintf(c->ip, sizeof(c->ip), "%s", ip);
    if (tls != MTASTS_RPT_NONE) {
        mtasts__mx_check_fail(c, tls, code, "test failure");
    }
    return c;
}

static char *
report(mtasts_ctx *ctx, const char *domain, int64_t day)
{
    char *json = NULL;
    size_t len = 0;
    int rc = mtasts_rpt_json(ctx, domain, day, "Example Sender",
                             "tlsrpt@mail.sender.example", &json, &len);
    ck_assert_msg(rc == MTASTS_OK, "mtasts_rpt_json: %s",
                  mtasts_status_name(rc));
    ck_assert_uint_eq(strlen(json), len);
    return json;
}

/* Record sessions of one (lookup, check) pair, mx NULL for no check, and
 * give the domain's report for DAY0. */
static char *
record_one(mtasts_ctx *ctx, const char *domain, const char *policy_text,
           mtasts_rpt_result failure, const char *reason, const char *mx,
           mtasts_rpt_result tls, const char *code, uint32_t sessions)
{
    mtasts_result *l = lookup(domain, policy_text, failure, reason);
    mtasts_mx_check *c =
        mx != NULL ? check(l, mx, "192.0.2.25", tls, code) : NULL;
    ck_assert_int_eq(mtasts_rpt_record(ctx, l, c, NULL, sessions), MTASTS_OK);
    mtasts_mx_check_free(c);
    lookup_free(l);
    return report(ctx, domain, DAY0);
}

/* The summary of the report's first policy is ok/failed. */
static void
expect_summary(const char *json, int ok, int failed)
{
    char want[128];
    snprintf(want, sizeof(want),
             "\"total-successful-session-count\":%d,"
             "\"total-failure-session-count\":%d}",
             ok, failed);
    ck_assert_msg(strstr(json, want) != NULL, "%s not in %s", want, json);
}

#define HEAD                                                                   \
    "{\"organization-name\":\"Example Sender\",\"date-range\":{"               \
    "\"start-datetime\":\"2026-01-01T00:00:00Z\",\"end-datetime\":"            \
    "\"2026-01-01T23:59:59Z\"},\"contact-info\":"                              \
    "\"tlsrpt@mail.sender.example\",\"report-id\":"                            \
    "\"20260101.example.net@mail.sender.example\",\"policies\":["

/* R8461-6-e, R8460-4-b..g: successes and a failure under an enforce
 * policy, the whole report compared byte for byte. */
START_TEST(test_report_exact)
{
    mtasts_ctx *ctx = new_ctx();
    mtasts_result *l = lookup("example.net", enforce_text, MTASTS_RPT_NONE, "");
    mtasts_mx_check *ok =
        check(l, "mx.example.net", "192.0.2.25", MTASTS_RPT_NONE, "");
    mtasts_mx_check *bad =
        check(l, "MX.Example.NET.", "2001:0DB8:0:0:0:0:0:1",
              MTASTS_RPT_CERTIFICATE_EXPIRED, "certificate-expired");
    ck_assert_int_eq(mtasts_rpt_record(ctx, l, ok, "198.51.100.1", 2),
                     MTASTS_OK);
    ck_assert_int_eq(mtasts_rpt_record(ctx, l, ok, NULL, 1), MTASTS_OK);
    ck_assert_int_eq(mtasts_rpt_record(ctx, l, bad, "198.51.100.1", 1),
                     MTASTS_OK);
    ck_assert_int_eq(mtasts_rpt_record(ctx, l, bad, "198.51.100.1", 4),
                     MTASTS_OK);
    char *json = report(ctx, "EXAMPLE.net.", DAY0 + 5);
    ck_assert_str_eq(
        json,
        HEAD "{\"policy\":{\"policy-type\":\"sts\",\"policy-string\":["
             "\"version: STSv1\",\"mode: enforce\",\"mx: mx.example.net\","
             "\"mx: *.example.net\",\"max_age: 86400\"],"
             "\"policy-domain\":\"example.net\","
             "\"mx-host\":[\"mx.example.net\",\"*.example.net\"]},"
             "\"summary\":{\"total-successful-session-count\":3,"
             "\"total-failure-session-count\":5},"
             "\"failure-details\":[{\"result-type\":\"certificate-expired\","
             "\"sending-mta-ip\":\"198.51.100.1\","
             "\"receiving-mx-hostname\":\"mx.example.net\","
             "\"receiving-ip\":\"2001:db8::1\","
             "\"failed-session-count\":5,"
             "\"failure-reason-code\":\"certificate-expired\"}]}]}");
    mtasts_rpt_free(json);
    mtasts_mx_check_free(ok);
    mtasts_mx_check_free(bad);
    lookup_free(l);
    mtasts_ctx_free(ctx);
}
END_TEST

/* R8461-6-a, E-24, E-29: a failed fetch with nothing cached is a failed
 * session under no-policy-found, without MX or receiving IP. */
START_TEST(test_report_fetch_failure)
{
    mtasts_ctx *ctx = new_ctx();
    mtasts_result *l =
        lookup("example.net", NULL, MTASTS_RPT_STS_POLICY_FETCH_ERROR,
               "http-status-404");
    mtasts_mx_check *c =
        check(l, "mx.example.net", "192.0.2.25", MTASTS_RPT_NONE, "");
    ck_assert_int_eq(mtasts_rpt_record(ctx, l, c, "198.51.100.1", 1),
                     MTASTS_OK);
    ck_assert_int_eq(mtasts_rpt_record(ctx, l, NULL, "198.51.100.1", 1),
                     MTASTS_OK);
    char *json = report(ctx, "example.net", DAY0);
    ck_assert_str_eq(json, HEAD
                     "{\"policy\":{\"policy-type\":\"no-policy-found\","
                     "\"policy-domain\":\"example.net\"},\"summary\":{"
                     "\"total-successful-session-count\":0,"
                     "\"total-failure-session-count\":2},\"failure-details\":[{"
                     "\"result-type\":\"sts-policy-fetch-error\","
                     "\"sending-mta-ip\":\"198.51.100.1\","
                     "\"failed-session-count\":2,\"failure-reason-code\":"
                     "\"http-status-404\"}]}]}");
    mtasts_rpt_free(json);
    mtasts_mx_check_free(c);
    lookup_free(l);

    /* no policy and no failure: successful sessions (E-29) */
    json =
        record_one(ctx, "plain.example", NULL, MTASTS_RPT_NONE, "no TXT record",
                   "mx.plain.example", MTASTS_RPT_STARTTLS_NOT_SUPPORTED,
                   "starttls-not-offered", 3);
    ck_assert_ptr_nonnull(strstr(json, "\"policy-type\":\"no-policy-found\""));
    expect_summary(json, 3, 0);
    ck_assert_ptr_nonnull(strstr(json, "\"failure-details\":[]"));
    mtasts_rpt_free(json);
    mtasts_ctx_free(ctx);
}
END_TEST

/* R8461-6-b: a cached policy applied after a failed refresh: the refresh
 * failure is a failure detail, the session counts by its TLS outcome. Also
 * R8461-5-c: mode none never reports a session failure. */
START_TEST(test_report_refresh_and_none)
{
    mtasts_ctx *ctx = new_ctx();
    char *json = record_one(
        ctx, "example.net", testing_text, MTASTS_RPT_STS_POLICY_FETCH_ERROR,
        "txt-lookup-failed", "mx.example.net", MTASTS_RPT_NONE, "", 1);
    ck_assert_ptr_nonnull(strstr(json, "\"policy-type\":\"sts\""));
    expect_summary(json, 1, 0);
    ck_assert_ptr_nonnull(
        strstr(json, "{\"result-type\":\"sts-policy-fetch-error\","
                     "\"failed-session-count\":1,"
                     "\"failure-reason-code\":\"txt-lookup-failed\"}"));
    /* the human reason (it names a resolver here) never goes out */
    ck_assert_ptr_null(strstr(json, "192.0.2.53"));
    mtasts_rpt_free(json);

    json = record_one(ctx, "none.example", none_text, MTASTS_RPT_NONE, "",
                      "mx.none.example", MTASTS_RPT_CERTIFICATE_NOT_TRUSTED,
                      "certificate-not-trusted", 2);
    ck_assert_ptr_nonnull(strstr(json, "\"mode: none\""));
    expect_summary(json, 2, 0);
    ck_assert_ptr_nonnull(strstr(json, "\"failure-details\":[]"));
    mtasts_rpt_free(json);
    mtasts_ctx_free(ctx);
}
END_TEST

/* R8461-6-c, -6-d, R8460-4-g: merging equal failure details, and keeping
 * apart those that differ in any member; a session that ended before
 * STARTTLS counts nothing (R8461-5.1-d, R8460-4.3.4-a). */
START_TEST(test_report_merge)
{
    mtasts_ctx *ctx = new_ctx();
    mtasts_result *l = lookup("example.net", testing_text, MTASTS_RPT_NONE, "");
    mtasts_mx_check *a =
        check(l, "other.example.org", "192.0.2.25", MTASTS_RPT_NONE, "");
    mtasts_mx_check *b =
        check(l, "other.example.org", "192.0.2.26", MTASTS_RPT_NONE, "");
    mtasts_mx_check *s =
        check(l, "mx.example.net", "192.0.2.27",
              MTASTS_RPT_STARTTLS_NOT_SUPPORTED, "starttls-not-offered");
    mtasts_mx_check *gone = check(l, "mx.example.net", "", MTASTS_RPT_NONE, "");
    mtasts__mx_check_abort(gone, MTASTS_ERR_CONNECT, "refused");
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(mtasts_rpt_record(ctx, l, a, NULL, 1), MTASTS_OK);
    }
    ck_assert_int_eq(mtasts_rpt_record(ctx, l, b, NULL, 1), MTASTS_OK);
    ck_assert_int_eq(mtasts_rpt_record(ctx, l, s, NULL, 2), MTASTS_OK);
    ck_assert_int_eq(mtasts_rpt_record(ctx, l, gone, NULL, 9), MTASTS_OK);
    mtasts_mx_check *both =
        check(l, "other.example.org", "192.0.2.28",
              MTASTS_RPT_STARTTLS_NOT_SUPPORTED, "starttls-not-offered");
    ck_assert_int_eq(mtasts_rpt_record(ctx, l, both, NULL, 1), MTASTS_OK);
    mtasts_mx_check_free(both);
    char *json = report(ctx, "example.net", DAY0);
    ck_assert_ptr_nonnull(strstr(json, "\"total-successful-session-count\":0,"
                                       "\"total-failure-session-count\":7}"));
    /* R8460-4-k: outside the policy and no STARTTLS: one failed session,
     * two failure-details entries */
    ck_assert_ptr_nonnull(
        strstr(json, "{\"result-type\":\"validation-failure\","
                     "\"receiving-mx-hostname\":\"other.example.org\","
                     "\"receiving-ip\":\"192.0.2.28\","
                     "\"failed-session-count\":1,"
                     "\"failure-reason-code\":\"mx-mismatch\"},"
                     "{\"result-type\":\"starttls-not-supported\","
                     "\"receiving-mx-hostname\":\"other.example.org\","
                     "\"receiving-ip\":\"192.0.2.28\","
                     "\"failed-session-count\":1,"
                     "\"failure-reason-code\":\"starttls-not-offered\"}"));
    ck_assert_ptr_nonnull(
        strstr(json, "{\"result-type\":\"validation-failure\","
                     "\"receiving-mx-hostname\":\"other.example.org\","
                     "\"receiving-ip\":\"192.0.2.25\","
                     "\"failed-session-count\":3,"
                     "\"failure-reason-code\":\"mx-mismatch\"}"));
    ck_assert_ptr_nonnull(strstr(json, "\"receiving-ip\":\"192.0.2.26\","
                                       "\"failed-session-count\":1,"));
    ck_assert_ptr_nonnull(
        strstr(json, "{\"result-type\":\"starttls-not-supported\","
                     "\"receiving-mx-hostname\":\"mx.example.net\","
                     "\"receiving-ip\":\"192.0.2.27\","
                     "\"failed-session-count\":2,"
                     "\"failure-reason-code\":\"starttls-not-offered\"}"));
    mtasts_rpt_free(json);
    mtasts_mx_check_free(a);
    mtasts_mx_check_free(b);
    mtasts_mx_check_free(s);
    mtasts_mx_check_free(gone);
    lookup_free(l);
    mtasts_ctx_free(ctx);
}
END_TEST

/* R8460-4.1-a: one report per UTC day; a changed policy is a second
 * policies entry (R8460-4-k); expiry drops old days. */
START_TEST(test_report_days)
{
    mtasts_ctx *ctx = new_ctx();
    mtasts_result *l = lookup("example.net", testing_text, MTASTS_RPT_NONE, "");
    mtasts_result *l2 =
        lookup("example.net", enforce_text, MTASTS_RPT_NONE, "");
    mtasts_mx_check *c =
        check(l, "mx.example.net", "192.0.2.25", MTASTS_RPT_NONE, "");
    now = DAY0 + DAY - 1; /* 2026-01-01T23:59:59Z */
    ck_assert_int_eq(mtasts_rpt_record(ctx, l, c, NULL, 1), MTASTS_OK);
    now = DAY0 + DAY; /* 2026-01-02T00:00:00Z */
    ck_assert_int_eq(mtasts_rpt_record(ctx, l, c, NULL, 2), MTASTS_OK);
    ck_assert_int_eq(mtasts_rpt_record(ctx, l2, c, NULL, 4), MTASTS_OK);

    char *json = report(ctx, "example.net", DAY0 + DAY - 1);
    ck_assert_ptr_nonnull(
        strstr(json, "\"total-successful-session-count\":1,"));
    ck_assert_ptr_null(strstr(json, "mode: enforce"));
    mtasts_rpt_free(json);
    json = report(ctx, "example.net", DAY0 + DAY);
    ck_assert_ptr_nonnull(strstr(json, "\"start-datetime\":"
                                       "\"2026-01-02T00:00:00Z\","
                                       "\"end-datetime\":"
                                       "\"2026-01-02T23:59:59Z\""));
    ck_assert_ptr_nonnull(strstr(json, "\"report-id\":\"20260102.example.net@"
                                       "mail.sender.example\""));
    ck_assert_ptr_nonnull(strstr(json, "mode: testing"));
    ck_assert_ptr_nonnull(strstr(json, "mode: enforce"));
    ck_assert_ptr_nonnull(
        strstr(json, "\"total-successful-session-count\":2,"));
    ck_assert_ptr_nonnull(
        strstr(json, "\"total-successful-session-count\":4,"));
    mtasts_rpt_free(json);

    char *none = (char *)&none;
    ck_assert_int_eq(mtasts_rpt_json(ctx, "example.net", DAY0 + 2 * DAY, "o",
                                     "a@b.example", &none, NULL),
                     MTASTS_ERR_NO_DATA);
    ck_assert_ptr_null(none);
    ck_assert_int_eq(mtasts_rpt_json(ctx, "other.example", DAY0, "o",
                                     "a@b.example", &none, NULL),
                     MTASTS_ERR_NO_DATA);
    ck_assert_uint_eq(mtasts_rpt_expire(ctx, DAY0 + DAY), 1);
    ck_assert_int_eq(mtasts_rpt_json(ctx, "example.net", DAY0, "o",
                                     "a@b.example", &none, NULL),
                     MTASTS_ERR_NO_DATA);
    ck_assert_uint_eq(mtasts_rpt_expire(ctx, DAY0 + 10 * DAY), 2);
    ck_assert_uint_eq(mtasts_rpt_expire(NULL, DAY0), 0);
    mtasts_mx_check_free(c);
    lookup_free(l);
    lookup_free(l2);
    mtasts_ctx_free(ctx);
}
END_TEST

START_TEST(test_report_args)
{
    mtasts_ctx *ctx = new_ctx();
    mtasts_result *l = lookup("example.net", testing_text, MTASTS_RPT_NONE, "");
    ck_assert_int_eq(mtasts_rpt_record(NULL, l, NULL, NULL, 1),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_rpt_record(ctx, NULL, NULL, NULL, 1),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_rpt_record(ctx, l, NULL, NULL, 0),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_rpt_record(ctx, l, NULL, "192.0.2.300", 1),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_rpt_record(ctx, l, NULL, "mx.example", 1),
                     MTASTS_ERR_INVALID);
    /* nothing to count: no policy failure, no session */
    ck_assert_int_eq(mtasts_rpt_record(ctx, l, NULL, NULL, 1), MTASTS_OK);
    char *json = (char *)&json;
    size_t len = 7;
    ck_assert_int_eq(mtasts_rpt_json(ctx, "example.net", DAY0, "o",
                                     "a@b.example", &json, &len),
                     MTASTS_ERR_NO_DATA);
    ck_assert_ptr_null(json);
    ck_assert_uint_eq(len, 0);

    mtasts_mx_check *c =
        check(l, "mx.example.net", "192.0.2.25", MTASTS_RPT_NONE, "");
    ck_assert_int_eq(mtasts_rpt_record(ctx, l, c, NULL, 1), MTASTS_OK);
    static const struct {
        const char *domain, *org, *contact;
        int want;
    } bad[] = {
        {NULL, "o", "a@b.example", MTASTS_ERR_INVALID},
        {"example.net", NULL, "a@b.example", MTASTS_ERR_INVALID},
        {"example.net", "o", NULL, MTASTS_ERR_INVALID},
        {"example.net", "", "a@b.example", MTASTS_ERR_INVALID},
        {"example.net", "bad \xff UTF-8", "a@b.example", MTASTS_ERR_INVALID},
        {"example.net", "surrogate \xed\xa0\x80", "a@b.example",
         MTASTS_ERR_INVALID},
        {"example.net", "o", "b.example", MTASTS_ERR_INVALID},
        {"example.net", "o", "@b.example", MTASTS_ERR_INVALID},
        {"example.net", "o", "a..b@b.example", MTASTS_ERR_INVALID},
        {"example.net", "o", "a b@b.example", MTASTS_ERR_INVALID},
        {"example.net", "o", "a@b..example", MTASTS_ERR_INVALID},
        {"exa mple.net", "o", "a@b.example", MTASTS_ERR_BAD_DOMAIN},
        {"b\xc3\xbc"
         "cher.example",
         "o", "a@b.example", MTASTS_ERR_NOT_ASCII},
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        json = (char *)&json;
        ck_assert_msg(mtasts_rpt_json(ctx, bad[i].domain, DAY0, bad[i].org,
                                      bad[i].contact, &json,
                                      NULL) == bad[i].want,
                      "case %zu", i);
        ck_assert_ptr_null(json);
    }
    ck_assert_int_eq(mtasts_rpt_json(ctx, "example.net", DAY0, "o",
                                     "a@b.example", NULL, NULL),
                     MTASTS_ERR_INVALID);
    /* a 256-byte name is fine, 257 is not */
    char org[258];
    memset(org, 'x', 257);
    org[257] = '\0';
    ck_assert_int_eq(mtasts_rpt_json(ctx, "example.net", DAY0, org,
                                     "a@b.example", &json, NULL),
                     MTASTS_ERR_INVALID);
    org[256] = '\0';
    ck_assert_int_eq(mtasts_rpt_json(ctx, "example.net", DAY0, org,
                                     "a@b.example", &json, NULL),
                     MTASTS_OK);
    mtasts_rpt_free(json);
    mtasts_rpt_free(NULL);
    mtasts_mx_check_free(c);
    lookup_free(l);
    mtasts_ctx_free(ctx);
}
END_TEST

/* R8460-4-a: the organization name is escaped, and valid UTF-8 passes. */
START_TEST(test_report_escaping)
{
    mtasts_ctx *ctx = new_ctx();
    mtasts_result *l = lookup("example.net", testing_text, MTASTS_RPT_NONE, "");
    mtasts_mx_check *c =
        check(l, "mx.example.net", "192.0.2.25", MTASTS_RPT_NONE, "");
    ck_assert_int_eq(mtasts_rpt_record(ctx, l, c, NULL, 1), MTASTS_OK);
    char *json = NULL;
    ck_assert_int_eq(
        mtasts_rpt_json(ctx, "example.net", DAY0,
                        "Q\"uote\\ \t\x01 M\xc3\xbcller \xf0\x9f\x93\xa7",
                        "a@b.example", &json, NULL),
        MTASTS_OK);
    ck_assert_ptr_nonnull(
        strstr(json, "\"organization-name\":\"Q\\\"uote\\\\ \\u0009\\u0001 "
                     "M\xc3\xbcller \xf0\x9f\x93\xa7\""));
    mtasts_rpt_free(json);
    mtasts_mx_check_free(c);
    lookup_free(l);
    mtasts_ctx_free(ctx);
}
END_TEST

/* The bounds: a refused record changes nothing. */
START_TEST(test_report_bounds)
{
    mtasts_ctx *ctx = new_ctx();
    mtasts_result *l = lookup("example.net", testing_text, MTASTS_RPT_NONE, "");
    for (int i = 0; i <= MTASTS_RPT_DETAILS_MAX; i++) {
        char ip[32];
        snprintf(ip, sizeof(ip), "10.0.%d.%d", i / 256, i % 256);
        mtasts_mx_check *c =
            check(l, "mx.example.net", ip, MTASTS_RPT_CERTIFICATE_EXPIRED, "x");
        ck_assert_int_eq(mtasts_rpt_record(ctx, l, c, NULL, 1),
                         i < MTASTS_RPT_DETAILS_MAX ? MTASTS_OK
                                                    : MTASTS_ERR_FULL);
        mtasts_mx_check_free(c);
    }
    char *json = report(ctx, "example.net", DAY0);
    char want[96];
    snprintf(want, sizeof(want), "\"total-failure-session-count\":%d}",
             MTASTS_RPT_DETAILS_MAX);
    ck_assert_ptr_nonnull(strstr(json, want));
    mtasts_rpt_free(json);
    lookup_free(l);

    /* MTASTS_RPT_AGGREGATES_MAX aggregates, one per domain */
    mtasts_rpt_expire(ctx, DAY0 + DAY);
    for (int i = 0; i <= MTASTS_RPT_AGGREGATES_MAX; i++) {
        char domain[64];
        snprintf(domain, sizeof(domain), "d%d.example", i);
        l = lookup(domain, NULL, MTASTS_RPT_STS_POLICY_INVALID, "bad");
        ck_assert_int_eq(mtasts_rpt_record(ctx, l, NULL, NULL, 1),
                         i < MTASTS_RPT_AGGREGATES_MAX ? MTASTS_OK
                                                       : MTASTS_ERR_FULL);
        lookup_free(l);
    }
    ck_assert_uint_eq(mtasts_rpt_expire(ctx, DAY0 + DAY),
                      MTASTS_RPT_AGGREGATES_MAX);
    mtasts_ctx_free(ctx);
}
END_TEST

START_TEST(test_report_nomem)
{
    mtasts_ctx *ctx = new_ctx();
    mtasts_result *l = lookup("example.net", enforce_text, MTASTS_RPT_NONE, "");
    mtasts_mx_check *c = check(l, "mx.example.net", "192.0.2.25",
                               MTASTS_RPT_CERTIFICATE_EXPIRED, "x");
    bool saw_nomem = false, done = false;
    for (size_t n = 1; n < 16 && !done; n++) {
        failalloc_start(n);
        int rc = mtasts_rpt_record(ctx, l, c, NULL, 1);
        failalloc_stop();
        if (rc == MTASTS_OK) {
            done = true;
        } else {
            ck_assert_int_eq(rc, MTASTS_ERR_NOMEM);
            saw_nomem = true;
        }
    }
    ck_assert(done && saw_nomem);
    char *json = NULL;
    saw_nomem = done = false;
    for (size_t n = 1; n < 64 && !done; n++) {
        failalloc_start(n);
        int rc = mtasts_rpt_json(ctx, "example.net", DAY0, "o", "a@b.example",
                                 &json, NULL);
        failalloc_stop();
        if (rc == MTASTS_OK) {
            done = true;
        } else {
            ck_assert_int_eq(rc, MTASTS_ERR_NOMEM);
            ck_assert_ptr_null(json);
            saw_nomem = true;
        }
    }
    ck_assert(done && saw_nomem);
    /* the failed attempts recorded nothing: one failed session */
    ck_assert_ptr_nonnull(strstr(json, "\"total-failure-session-count\":1}"));
    mtasts_rpt_free(json);
    mtasts_mx_check_free(c);
    lookup_free(l);
    mtasts_ctx_free(ctx);
}
END_TEST

/* mtasts_rpt_gzip() and mtasts_rpt_mail(): argument errors, no data, out
 * of memory (their output is checked by check_report_mail.py). */
START_TEST(test_report_package_errors)
{
    mtasts_ctx *ctx = new_ctx();
    unsigned char *gz = (unsigned char *)&gz;
    size_t gz_len = 7;
    char name[MTASTS_RPT_NAME_BUFSIZE] = "x";
    char *msg = (char *)&msg;
    ck_assert_int_eq(mtasts_rpt_gzip(ctx, "example.net", DAY0, "o",
                                     "a@b.example", &gz, &gz_len, name),
                     MTASTS_ERR_NO_DATA);
    ck_assert_ptr_null(gz);
    ck_assert_uint_eq(gz_len, 0);
    ck_assert_str_eq(name, "");
    ck_assert_int_eq(mtasts_rpt_mail(ctx, "example.net", DAY0, "o",
                                     "a@b.example", "mailto:r@example.net",
                                     &msg, NULL),
                     MTASTS_ERR_NO_DATA);
    ck_assert_ptr_null(msg);

    char *json = record_one(ctx, "example.net", testing_text, MTASTS_RPT_NONE,
                            "", "mx.example.net", MTASTS_RPT_NONE, "", 1);
    mtasts_rpt_free(json);
    ck_assert_int_eq(mtasts_rpt_gzip(ctx, "example.net", DAY0, "o",
                                     "a@b.example", NULL, &gz_len, name),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_rpt_gzip(ctx, "example.net", DAY0, "o",
                                     "a@b.example", &gz, NULL, name),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_rpt_gzip(ctx, "example.net", DAY0, "o",
                                     "not-an-address", &gz, &gz_len, name),
                     MTASTS_ERR_INVALID);
    /* the name is optional */
    ck_assert_int_eq(mtasts_rpt_gzip(ctx, "example.net", DAY0, "o",
                                     "a@b.example", &gz, &gz_len, NULL),
                     MTASTS_OK);
    ck_assert(gz_len > 20 && gz[0] == 0x1f && gz[1] == 0x8b);
    mtasts_rpt_free(gz);

    static const char *const bad_rua[] = {
        NULL,
        "https://r.example/t",
        "mailto:",
        "mailto:example.net",
        "mailto:a@b.example%2Cc@d.example", /* two addresses */
        "mailto:a@b..example",
        "mailto:a%0d%0aBcc: x@y.example", /* header injection */
        "mailto:a%zz@b.example",
        "mailto:a%4@b.example",
    };
    for (size_t i = 0; i < ARRAY_LEN(bad_rua); i++) {
        msg = (char *)&msg;
        ck_assert_msg(mtasts_rpt_mail(ctx, "example.net", DAY0, "o",
                                      "a@b.example", bad_rua[i], &msg,
                                      NULL) == MTASTS_ERR_INVALID,
                      "rua %zu", i);
        ck_assert_ptr_null(msg);
    }
    ck_assert_int_eq(mtasts_rpt_mail(ctx, "example.net", DAY0, "o",
                                     "a@b.example", "mailto:r@example.net",
                                     NULL, NULL),
                     MTASTS_ERR_INVALID);
    /* MAILTO: in capitals is the same scheme */
    size_t len = 0;
    ck_assert_int_eq(mtasts_rpt_mail(ctx, "example.net", DAY0, "o",
                                     "a@b.example", "MAILTO:r@example.net",
                                     &msg, &len),
                     MTASTS_OK);
    ck_assert_uint_eq(strlen(msg), len);
    ck_assert_ptr_nonnull(strstr(msg, "\r\nTo: <r@example.net>\r\n"));
    mtasts_rpt_free(msg);

    /* the longest names fit whole: 253-byte domain, 64-byte local part */
    char domain[254], local[80], contact[400], rua[400], want[800];
    memset(domain, 'a', 253);
    for (int i = 63; i < 253; i += 64) {
        domain[i] = '.';
    }
    domain[253] = '\0';
    memset(local, 'l', 65);
    local[65] = '\0';
    snprintf(contact, sizeof(contact), "%s@b.example", local);
    ck_assert_int_eq(
        mtasts_rpt_json(ctx, "example.net", DAY0, "o", contact, &json, NULL),
        MTASTS_ERR_INVALID); /* 65 octets */
    local[64] = '\0';
    snprintf(contact, sizeof(contact), "%s@%s", local, domain);
    snprintf(rua, sizeof(rua), "mailto:%s@%s", local, domain);
    json = record_one(ctx, domain, testing_text, MTASTS_RPT_NONE, "",
                      "mx.example.net", MTASTS_RPT_NONE, "", 1);
    mtasts_rpt_free(json);
    ck_assert_int_eq(
        mtasts_rpt_mail(ctx, domain, DAY0, "o", contact, rua, &msg, &len),
        MTASTS_OK);
    snprintf(want, sizeof(want), "\r\nTLS-Report-Domain: %s\r\n", domain);
    ck_assert_ptr_nonnull(strstr(msg, want));
    snprintf(want, sizeof(want), "\r\nTo: <%s@%s>\r\n", local, domain);
    ck_assert_ptr_nonnull(strstr(msg, want));
    snprintf(want, sizeof(want), " Report-ID: <20260101.%s@%s>\r\n", domain,
             domain);
    ck_assert_ptr_nonnull(strstr(msg, want));
    mtasts_rpt_free(msg);

    bool saw_nomem = false, done = false;
    for (size_t n = 1; n < 64 && !done; n++) {
        failalloc_start(n);
        int rc = mtasts_rpt_mail(ctx, "example.net", DAY0, "o", "a@b.example",
                                 "mailto:r@example.net", &msg, NULL);
        failalloc_stop();
        if (rc == MTASTS_OK) {
            done = true;
            mtasts_rpt_free(msg);
        } else {
            ck_assert_int_eq(rc, MTASTS_ERR_NOMEM);
            ck_assert_ptr_null(msg);
            ck_assert_int_eq(failalloc_live(), 0);
            saw_nomem = true;
        }
    }
    ck_assert(done && saw_nomem);
    mtasts_ctx_free(ctx);
}
END_TEST

/* ---- the store file (mtasts_rpt_save, mtasts_rpt_load) ------------------ */

static void
record_mixed(mtasts_ctx *ctx)
{
    now = DAY0 + 3600;
    mtasts_result *l = lookup("example.net", enforce_text, MTASTS_RPT_NONE, "");
    mtasts_mx_check *ok =
        check(l, "mx.example.net", "192.0.2.25", MTASTS_RPT_NONE, "");
    mtasts_mx_check *bad = check(l, "mx.example.net", "2001:db8::25",
                                 MTASTS_RPT_CERTIFICATE_EXPIRED, "expired");
    ck_assert_int_eq(mtasts_rpt_record(ctx, l, ok, "198.51.100.1", 5),
                     MTASTS_OK);
    ck_assert_int_eq(mtasts_rpt_record(ctx, l, bad, "198.51.100.1", 2),
                     MTASTS_OK);
    mtasts_mx_check_free(ok);
    mtasts_mx_check_free(bad);
    lookup_free(l);
    l = lookup("fail.example", NULL, MTASTS_RPT_STS_WEBPKI_INVALID,
               "certificate expired");
    ck_assert_int_eq(mtasts_rpt_record(ctx, l, NULL, NULL, 1), MTASTS_OK);
    lookup_free(l);
    now = DAY0 + DAY + 60;
    l = lookup("example.net", testing_text, MTASTS_RPT_NONE, "");
    ok = check(l, "mx.example.net", "192.0.2.25", MTASTS_RPT_NONE, "");
    ck_assert_int_eq(mtasts_rpt_record(ctx, l, ok, NULL, 3), MTASTS_OK);
    mtasts_mx_check_free(ok);
    lookup_free(l);
}

static char *
json_of(mtasts_ctx *ctx, const char *domain, int64_t day)
{
    char *json = NULL;
    int rc = mtasts_rpt_json(ctx, domain, day, "o", "a@b.example", &json, NULL);
    return rc == MTASTS_OK ? json : NULL;
}

static char tmpdir[64];

static const char *
tmp_path(const char *name)
{
    static char path[160];
    if (tmpdir[0] == '\0') {
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/mtasts-rpt.XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    }
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    return path;
}

static unsigned char *
read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    unsigned char *buf = malloc(1 << 20);
    ck_assert_ptr_nonnull(buf);
    *len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
}

static void
write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

START_TEST(test_report_file_roundtrip)
{
    mtasts_ctx *a = new_ctx();
    record_mixed(a);
    const char *path = tmp_path("store");
    ck_assert_int_eq(mtasts_rpt_save(a, path), MTASTS_OK);

    mtasts_ctx *b = new_ctx();
    mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
    ck_assert_int_eq(mtasts_rpt_load(b, path, &err), MTASTS_OK);
    ck_assert_ptr_null(err.message);
    static const struct {
        const char *domain;
        int64_t day;
    } reports[] = {{"example.net", DAY0},
                   {"fail.example", DAY0},
                   {"example.net", DAY0 + DAY}};
    for (size_t i = 0; i < ARRAY_LEN(reports); i++) {
        char *ja = json_of(a, reports[i].domain, reports[i].day);
        char *jb = json_of(b, reports[i].domain, reports[i].day);
        ck_assert_ptr_nonnull(ja);
        ck_assert_ptr_nonnull(jb);
        ck_assert_str_eq(ja, jb); /* the same report after a restart */
        mtasts_rpt_free(ja);
        mtasts_rpt_free(jb);
    }
    /* loading again adds: the counts double, details merge */
    ck_assert_int_eq(mtasts_rpt_load(b, path, NULL), MTASTS_OK);
    char *j = json_of(b, "example.net", DAY0);
    expect_summary(j, 10, 4);
    ck_assert_ptr_nonnull(strstr(j, "\"failed-session-count\":4,"));
    mtasts_rpt_free(j);
    /* saving is stable: what b saves loads into what b holds */
    ck_assert_int_eq(mtasts_rpt_save(b, path), MTASTS_OK);
    mtasts_ctx *c = new_ctx();
    ck_assert_int_eq(mtasts_rpt_load(c, path, NULL), MTASTS_OK);
    j = json_of(c, "example.net", DAY0);
    expect_summary(j, 10, 4);
    mtasts_rpt_free(j);
    mtasts_ctx_free(a);
    mtasts_ctx_free(b);
    mtasts_ctx_free(c);
}
END_TEST

/* Every truncation, a flipped byte anywhere, and trailing bytes are
 * refused with nothing loaded. */
START_TEST(test_report_file_damage)
{
    mtasts_ctx *a = new_ctx();
    record_mixed(a);
    const char *good = tmp_path("good");
    ck_assert_int_eq(mtasts_rpt_save(a, good), MTASTS_OK);
    mtasts_ctx_free(a);
    size_t len = 0;
    unsigned char *buf = read_file(good, &len);
    ck_assert_uint_gt(len, 16);
    const char *path = tmp_path("damaged");
    mtasts_ctx *b = new_ctx();
    for (size_t n = 0; n < len; n++) {
        write_file(path, buf, n);
        mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
        ck_assert_msg(mtasts_rpt_load(b, path, &err) == MTASTS_ERR_REPORT_FILE,
                      "truncated to %zu", n);
        ck_assert_ptr_nonnull(err.message);
        ck_assert_uint_le(err.offset, len);
    }
    for (size_t i = 0; i < len; i++) {
        buf[i] ^= 0x20;
        write_file(path, buf, len);
        ck_assert_msg(mtasts_rpt_load(b, path, NULL) == MTASTS_ERR_REPORT_FILE,
                      "byte %zu flipped", i);
        buf[i] ^= 0x20;
    }
    buf[len] = 0;
    write_file(path, buf, len + 1);
    mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
    ck_assert_int_eq(mtasts_rpt_load(b, path, &err), MTASTS_ERR_REPORT_FILE);
    ck_assert_str_eq(err.message, "bytes after the last record");
    ck_assert_uint_eq(err.offset, len);
    buf[9] = 2; /* version 2 */
    write_file(path, buf, len);
    ck_assert_int_eq(mtasts_rpt_load(b, path, &err), MTASTS_ERR_REPORT_FILE);
    ck_assert_str_eq(err.message, "report store file of another version");
    /* nothing of any refused file was loaded */
    ck_assert_ptr_null(json_of(b, "example.net", DAY0));
    ck_assert_ptr_null(json_of(b, "fail.example", DAY0));
    free(buf);
    mtasts_ctx_free(b);
}
END_TEST

/* A hand-made file: header and records of the given bodies, with their
 * checksums right, so that the content checks are reached. */
static size_t
make_file(unsigned char *out, const unsigned char *const *bodies,
          const size_t *lens, size_t n)
{
    size_t o = 0;
    memcpy(out, "\x89MTSR\r\n\x1a\x00\x01\x00\x00", 12);
    o = 12;
    out[o++] = 0;
    out[o++] = 0;
    out[o++] = (unsigned char)(n >> 8);
    out[o++] = (unsigned char)n;
    for (size_t i = 0; i < n; i++) {
        memcpy(out + o, "MRA\x01", 4);
        o += 4;
        for (int k = 3; k >= 0; k--) {
            out[o++] = (unsigned char)(lens[i] >> (8 * k));
        }
        memcpy(out + o, bodies[i], lens[i]);
        o += lens[i];
        uint32_t crc = mtasts__crc32(0, bodies[i], lens[i]);
        for (int k = 3; k >= 0; k--) {
            out[o++] = (unsigned char)(crc >> (8 * k));
        }
    }
    return o;
}

/* The successful-session count make_body() writes. */
static uint64_t body_success = 1;

/* A body: day DAY0, counts body_success/1, the domain, a policy text (or
 * ""), and at most one failure detail (type 0: none). */
static size_t
make_body(unsigned char *b, const char *domain, const char *policy_text,
          int type, uint64_t count, const char *code, const char *mx,
          const char *rip)
{
    size_t o = 0;
    uint64_t nums[3] = {(uint64_t)(DAY0 / DAY), body_success, 1};
    for (int i = 0; i < 3; i++) {
        for (int k = 7; k >= 0; k--) {
            b[o++] = (unsigned char)(nums[i] >> (8 * k));
        }
    }
    b[o++] = (unsigned char)strlen(domain);
    memcpy(b + o, domain, strlen(domain));
    o += strlen(domain);
    size_t pl = strlen(policy_text);
    for (int k = 3; k >= 0; k--) {
        b[o++] = (unsigned char)(pl >> (8 * k));
    }
    memcpy(b + o, policy_text, pl);
    o += pl;
    b[o++] = 0;
    b[o++] = type != 0;
    if (type != 0) {
        b[o++] = (unsigned char)type;
        for (int k = 7; k >= 0; k--) {
            b[o++] = (unsigned char)(count >> (8 * k));
        }
        const char *strs[4] = {code, mx, rip, ""};
        for (int i = 0; i < 4; i++) {
            b[o++] = (unsigned char)strlen(strs[i]);
            memcpy(b + o, strs[i], strlen(strs[i]));
            o += strlen(strs[i]);
        }
    }
    return o;
}

START_TEST(test_report_file_content)
{
    static const struct {
        const char *domain, *policy;
        int type;
        uint64_t count;
        const char *mx, *rip, *message;
    } cases[] = {
        {"example.net", testing_text, 3, 1, "mx.example.net", "192.0.2.1",
         NULL},
        {"EXAMPLE.net", testing_text, 0, 0, "", "", "bad day, count or domain"},
        {"exa mple.net", "", 0, 0, "", "", "bad day, count or domain"},
        {"example.net", "version: STSv1\nmode: sometimes\n", 0, 0, "", "",
         "a policy does not parse"},
        {"example.net", testing_text, 0, 1, "", "", NULL},
        {"example.net", testing_text, 12, 1, "", "", "bad failure detail"},
        {"example.net", testing_text, 3, 0, "", "", "bad failure detail"},
        {"example.net", testing_text, 3, 1, "MX.example.net", "",
         "bad failure detail"},
        {"example.net", testing_text, 3, 1, "", "2001:0db8::1",
         "bad failure detail"},
        {"example.net", testing_text, 3, 1, "", "192.0.2.300",
         "bad failure detail"},
    };
    const char *path = tmp_path("made");
    unsigned char body[4096], file[8192];
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        size_t bl =
            make_body(body, cases[i].domain, cases[i].policy, cases[i].type,
                      cases[i].count, "x", cases[i].mx, cases[i].rip);
        const unsigned char *bodies[1] = {body};
        size_t fl = make_file(file, bodies, &bl, 1);
        write_file(path, file, fl);
        mtasts_ctx *ctx = new_ctx();
        mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
        int rc = mtasts_rpt_load(ctx, path, &err);
        if (cases[i].message == NULL) {
            ck_assert_msg(rc == MTASTS_OK, "case %zu: %s", i,
                          err.message ? err.message : "");
        } else {
            ck_assert_msg(rc == MTASTS_ERR_REPORT_FILE &&
                              strstr(err.message, cases[i].message) != NULL,
                          "case %zu: %s (%s)", i, mtasts_status_name(rc),
                          err.message ? err.message : "");
        }
        mtasts_ctx_free(ctx);
    }
    /* the same aggregate twice */
    size_t bl = make_body(body, "example.net", testing_text, 0, 0, "", "", "");
    const unsigned char *two[2] = {body, body};
    size_t lens[2] = {bl, bl};
    write_file(path, file, make_file(file, two, lens, 2));
    mtasts_ctx *ctx = new_ctx();
    mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
    ck_assert_int_eq(mtasts_rpt_load(ctx, path, &err), MTASTS_ERR_REPORT_FILE);
    ck_assert_ptr_nonnull(strstr(err.message, "duplicate aggregate"));
    mtasts_ctx_free(ctx);
}
END_TEST

/* Counts stop at 2^53 (I-JSON): a record or a load that would pass it is
 * refused with MTASTS_ERR_FULL and changes nothing, so the JSON never
 * holds a number a reader rounds and a saved file always loads again. */
START_TEST(test_report_count_bound)
{
    const uint64_t max = UINT64_C(1) << 53;
    const char *path = tmp_path("bound");
    unsigned char body[4096], file[8192];
    mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;

    /* a failure detail at the bound: loading it twice would double it */
    size_t bl = make_body(body, "example.net", testing_text, 3, max, "x",
                          "mx.example.net", "192.0.2.1");
    const unsigned char *bodies[1] = {body};
    write_file(path, file, make_file(file, bodies, &bl, 1));
    mtasts_ctx *ctx = new_ctx();
    ck_assert_int_eq(mtasts_rpt_load(ctx, path, &err), MTASTS_OK);
    char *before = report(ctx, "example.net", DAY0);
    ck_assert_ptr_nonnull(
        strstr(before, "\"failed-session-count\":9007199254740992,"));
    ck_assert_int_eq(mtasts_rpt_load(ctx, path, &err), MTASTS_ERR_FULL);
    char *after = report(ctx, "example.net", DAY0);
    ck_assert_str_eq(before, after);
    mtasts_rpt_free(before);
    mtasts_rpt_free(after);
    mtasts_ctx_free(ctx);

    /* successes one below the bound: one more session fits, then none */
    body_success = max - 1;
    bl = make_body(body, "example.net", testing_text, 0, 0, "", "", "");
    body_success = 1;
    write_file(path, file, make_file(file, bodies, &bl, 1));
    ctx = new_ctx();
    ck_assert_int_eq(mtasts_rpt_load(ctx, path, &err), MTASTS_OK);
    mtasts_result *l = lookup("example.net", testing_text, MTASTS_RPT_NONE, "");
    mtasts_mx_check *ok =
        check(l, "mx.example.net", "192.0.2.25", MTASTS_RPT_NONE, "");
    ck_assert_int_eq(mtasts_rpt_record(ctx, l, ok, NULL, 1), MTASTS_OK);
    ck_assert_int_eq(mtasts_rpt_record(ctx, l, ok, NULL, 1), MTASTS_ERR_FULL);
    ck_assert_int_eq(mtasts_rpt_record(ctx, l, ok, NULL, UINT32_MAX),
                     MTASTS_ERR_FULL);
    char *json = report(ctx, "example.net", DAY0);
    ck_assert_ptr_nonnull(
        strstr(json, "\"total-successful-session-count\":9007199254740992,"));
    mtasts_rpt_free(json);
    /* the saved file loads again */
    ck_assert_int_eq(mtasts_rpt_save(ctx, path), MTASTS_OK);
    mtasts_ctx *again = new_ctx();
    ck_assert_int_eq(mtasts_rpt_load(again, path, &err), MTASTS_OK);
    mtasts_ctx_free(again);
    mtasts_mx_check_free(ok);
    lookup_free(l);
    mtasts_ctx_free(ctx);
}
END_TEST

START_TEST(test_report_file_errors)
{
    mtasts_ctx *ctx = new_ctx();
    mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
    ck_assert_int_eq(mtasts_rpt_load(ctx, tmp_path("missing"), &err),
                     MTASTS_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(err.message);
    ck_assert_int_eq(mtasts_rpt_load(ctx, tmpdir, NULL), MTASTS_ERR_IO);
    ck_assert_int_eq(mtasts_rpt_save(ctx, "/nonexistent-dir/x/store"),
                     MTASTS_ERR_IO);
    ck_assert_int_eq(mtasts_rpt_load(NULL, "x", &err), MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_rpt_load(ctx, NULL, NULL), MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_rpt_save(NULL, "x"), MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_rpt_save(ctx, NULL), MTASTS_ERR_INVALID);

    /* a merge that would pass the detail bound changes nothing */
    mtasts_result *l = lookup("example.net", testing_text, MTASTS_RPT_NONE, "");
    for (int i = 0; i < MTASTS_RPT_DETAILS_MAX; i++) {
        char ip[32];
        snprintf(ip, sizeof(ip), "10.1.%d.%d", i / 256, i % 256);
        mtasts_mx_check *c =
            check(l, "mx.example.net", ip, MTASTS_RPT_CERTIFICATE_EXPIRED, "x");
        ck_assert_int_eq(mtasts_rpt_record(ctx, l, c, NULL, 1), MTASTS_OK);
        mtasts_mx_check_free(c);
    }
    mtasts_ctx *other = new_ctx();
    mtasts_mx_check *c = check(l, "mx.example.net", "10.9.9.9",
                               MTASTS_RPT_CERTIFICATE_EXPIRED, "x");
    ck_assert_int_eq(mtasts_rpt_record(other, l, c, NULL, 1), MTASTS_OK);
    ck_assert_int_eq(mtasts_rpt_save(other, tmp_path("one")), MTASTS_OK);
    ck_assert_int_eq(mtasts_rpt_load(ctx, tmp_path("one"), NULL),
                     MTASTS_ERR_FULL);
    char *j = json_of(ctx, "example.net", DAY0);
    ck_assert_ptr_null(strstr(j, "10.9.9.9"));
    expect_summary(j, 0, MTASTS_RPT_DETAILS_MAX);
    mtasts_rpt_free(j);

    /* out of memory at each allocation of a load and of a save */
    bool saw = false, done = false;
    for (size_t n = 1; n < 64 && !done; n++) {
        mtasts_ctx *fresh = new_ctx();
        failalloc_start(n);
        int rc = mtasts_rpt_load(fresh, tmp_path("one"), NULL);
        failalloc_stop();
        if (rc == MTASTS_OK) {
            done = true;
        } else {
            ck_assert_int_eq(rc, MTASTS_ERR_NOMEM);
            ck_assert_ptr_null(json_of(fresh, "example.net", DAY0));
            saw = true;
        }
        mtasts_ctx_free(fresh);
    }
    ck_assert(done && saw);
    saw = done = false;
    for (size_t n = 1; n < 64 && !done; n++) {
        failalloc_start(n);
        int rc = mtasts_rpt_save(other, tmp_path("two"));
        failalloc_stop();
        done = rc == MTASTS_OK;
        ck_assert(done || rc == MTASTS_ERR_NOMEM);
        saw = saw || !done;
    }
    ck_assert(done && saw);
    mtasts_mx_check_free(c);
    lookup_free(l);
    mtasts_ctx_free(other);
    mtasts_ctx_free(ctx);
}
END_TEST

struct worker {
    mtasts_ctx *ctx;
    mtasts_result *l;
    mtasts_mx_check *c;
};

static void *
record_many(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 10000; i++) {
        if (mtasts_rpt_record(w->ctx, w->l, w->c, NULL, 1) != MTASTS_OK) {
            return (void *)1;
        }
    }
    return NULL;
}

/* Recording from several threads at once loses nothing. */
START_TEST(test_report_threads)
{
    mtasts_ctx *ctx = new_ctx();
    mtasts_result *l = lookup("example.net", testing_text, MTASTS_RPT_NONE, "");
    mtasts_mx_check *c = check(l, "mx.example.net", "192.0.2.25",
                               MTASTS_RPT_CERTIFICATE_EXPIRED, "x");
    struct worker w = {ctx, l, c};
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(pthread_create(&t[i], NULL, record_many, &w), 0);
    }
    for (int i = 0; i < 4; i++) {
        void *ret = (void *)1;
        pthread_join(t[i], &ret);
        ck_assert_ptr_null(ret);
    }
    char *json = report(ctx, "example.net", DAY0);
    ck_assert_ptr_nonnull(
        strstr(json, "\"total-failure-session-count\":40000}"));
    ck_assert_ptr_nonnull(strstr(json, "\"failed-session-count\":40000,"));
    mtasts_rpt_free(json);
    mtasts_mx_check_free(c);
    lookup_free(l);
    mtasts_ctx_free(ctx);
}
END_TEST

static Suite *
report_suite(void)
{
    Suite *s = suite_create("report");
    TCase *tc = tcase_create("record");
    tcase_add_test(tc, test_report_exact);
    tcase_add_test(tc, test_report_fetch_failure);
    tcase_add_test(tc, test_report_refresh_and_none);
    tcase_add_test(tc, test_report_merge);
    tcase_add_test(tc, test_report_days);
    tcase_add_test(tc, test_report_args);
    tcase_add_test(tc, test_report_escaping);
    tcase_add_test(tc, test_report_bounds);
    tcase_add_test(tc, test_report_nomem);
    tcase_add_test(tc, test_report_threads);
    tcase_add_test(tc, test_report_package_errors);
    tcase_add_test(tc, test_report_file_roundtrip);
    tcase_add_test(tc, test_report_file_damage);
    tcase_add_test(tc, test_report_file_content);
    tcase_add_test(tc, test_report_file_errors);
    tcase_add_test(tc, test_report_count_bound);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    int rc = harness_run(report_suite());
    if (tmpdir[0] != '\0') {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0) {
            fprintf(stderr, "could not remove %s\n", tmpdir);
        }
    }
    return rc;
}
