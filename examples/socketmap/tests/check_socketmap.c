/* Unit tests of the network-free parts of mtasts-socketmap: netstrings and
 * requests (netstring.c, Postfix socketmap_table(5)), keys to policy
 * domains (key.c), answers (answer.c, the default profile of
 * postfix-mta-sts-resolver), settings (config.c) and the --dane decision
 * table (dane.c). */
#define _GNU_SOURCE
#include <check.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mtasts/mtasts.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include "admin.h"
#include "answer.h"
#include "config.h"
#include "dane.h"
#include "key.h"
#include "log.h"
#include "netstring.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- netstrings -------------------------------------------------------- */

static enum sm_ns_status
parse(const char *s, const char **payload, size_t *plen, size_t *used)
{
    /* A heap copy of the exact size, so a read past the end shows under
     * ASan and valgrind. */
    size_t len = strlen(s);
    char *copy = malloc(len + 1);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, s, len);
    const char *p = NULL;
    enum sm_ns_status st =
        sm_ns_parse(copy, len, SM_REQUEST_MAX, &p, plen, used);
    static char kept[SM_REQUEST_MAX + 1];
    if (st == SM_NS_OK) {
        ck_assert(p >= copy && p + *plen <= copy + len);
        memcpy(kept, p, *plen);
        kept[*plen] = '\0';
        *payload = kept;
    }
    free(copy);
    return st;
}

START_TEST(test_ns_whole)
{
    const char *p = NULL;
    size_t plen = 0, used = 0;
    ck_assert_int_eq(parse("19:postfix example.com,", &p, &plen, &used),
                     SM_NS_OK);
    ck_assert_uint_eq(plen, 19);
    ck_assert_str_eq(p, "postfix example.com");
    ck_assert_uint_eq(used, 23);
    /* Pipelined: only the first is taken. */
    ck_assert_int_eq(parse("3:a b,3:c d,", &p, &plen, &used), SM_NS_OK);
    ck_assert_str_eq(p, "a b");
    ck_assert_uint_eq(used, 6);
    ck_assert_int_eq(parse("0:,", &p, &plen, &used), SM_NS_OK);
    ck_assert_uint_eq(plen, 0);
}
END_TEST

START_TEST(test_ns_prefixes_need_more)
{
    const char *whole = "19:postfix example.com,";
    char buf[64];
    for (size_t n = 0; n < strlen(whole); n++) {
        memcpy(buf, whole, n);
        buf[n] = '\0';
        const char *p = NULL;
        size_t plen = 0, used = 0;
        ck_assert_msg(parse(buf, &p, &plen, &used) == SM_NS_MORE,
                      "prefix of %zu bytes", n);
    }
}
END_TEST

START_TEST(test_ns_malformed)
{
    static const char *const bad[] = {
        ":x,",     /* no length */
        "a:x,",    /* not a digit */
        "3x:abc,", /* junk after the length */
        "3:abc;",  /* no comma */
        "3:abcd,", /* longer than said */
        "01:a,",   /* leading zero */
        "00:,",    /* leading zero */
        "-1:a,",   /* sign */
        " 3:abc,", /* blank */
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        const char *p = NULL;
        size_t plen = 0, used = 0;
        ck_assert_msg(parse(bad[i], &p, &plen, &used) == SM_NS_SYNTAX, "%s",
                      bad[i]);
    }
}
END_TEST

START_TEST(test_ns_too_large)
{
    const char *p = NULL;
    size_t plen = 0, used = 0;
    /* Refused from the length alone, before any payload. */
    ck_assert_int_eq(parse("10001:", &p, &plen, &used), SM_NS_TOO_LARGE);
    ck_assert_int_eq(parse("10001", &p, &plen, &used), SM_NS_TOO_LARGE);
    ck_assert_int_eq(parse("99999999999999999999:", &p, &plen, &used),
                     SM_NS_TOO_LARGE);
    /* Exactly the limit is accepted. */
    char *big = malloc(SM_REQUEST_MAX + 16);
    ck_assert_ptr_nonnull(big);
    int n = sprintf(big, "%d:", SM_REQUEST_MAX);
    memset(big + n, 'a', SM_REQUEST_MAX);
    big[n + SM_REQUEST_MAX] = ',';
    big[n + SM_REQUEST_MAX + 1] = '\0';
    ck_assert_int_eq(parse(big, &p, &plen, &used), SM_NS_OK);
    ck_assert_uint_eq(plen, SM_REQUEST_MAX);
    free(big);
}
END_TEST

START_TEST(test_ns_format)
{
    char out[32];
    size_t n = sm_ns_format("NOTFOUND ", 9, out, sizeof(out));
    ck_assert_uint_eq(n, 12);
    ck_assert(memcmp(out, "9:NOTFOUND ,", 12) == 0);
    ck_assert_uint_eq(sm_ns_format("", 0, out, sizeof(out)), 3);
    ck_assert(memcmp(out, "0:,", 3) == 0);
    ck_assert_uint_eq(sm_ns_format("NOTFOUND ", 9, out, 11), 0);
    ck_assert_uint_eq(sm_ns_format("NOTFOUND ", 9, out, 12), 12);
}
END_TEST

START_TEST(test_request_split)
{
    const char *name = NULL, *key = NULL;
    size_t nl = 0, kl = 0;
    ck_assert_int_eq(
        sm_request_split("postfix a.example b", 19, &name, &nl, &key, &kl), 0);
    ck_assert_uint_eq(nl, 7);
    ck_assert(memcmp(name, "postfix", 7) == 0);
    ck_assert_uint_eq(kl, 11); /* the key is the rest, spaces and all */
    ck_assert(memcmp(key, "a.example b", 11) == 0);
    ck_assert_int_eq(sm_request_split("postfix", 7, &name, &nl, &key, &kl), -1);
    ck_assert_int_eq(sm_request_split(" x", 2, &name, &nl, &key, &kl), -1);
    /* An empty KEY is a key (NOTFOUND), as in postfix-mta-sts-resolver. */
    ck_assert_int_eq(sm_request_split("x ", 2, &name, &nl, &key, &kl), 0);
    ck_assert_uint_eq(nl, 1);
    ck_assert_uint_eq(kl, 0);
    ck_assert_int_eq(sm_request_split("", 0, &name, &nl, &key, &kl), -1);
}
END_TEST

/* ---- keys -------------------------------------------------------------- */

static const struct {
    const char *key;
    const char *domain; /* NULL: NOTFOUND */
} key_cases[] = {
    {"example.com", "example.com"},
    {"EXAMPLE.Com", "example.com"},
    {"example.com.", "example.com"},
    {"example.com:25", "example.com"},
    {"[mx.example.com]", "mx.example.com"},
    {"[MX.Example.COM.]:587", "mx.example.com"},
    {"[mx.example.com]:25", "mx.example.com"},
    {".example.com", NULL},
    {"[.example.com]", NULL},
    {"", NULL},
    {"[]", NULL},
    {"[mx.example.com", NULL},
    {"[mx.example.com]x", NULL},
    {"[mx.example.com]:", NULL},
    {"[mx.example.com]:2_x", NULL},
    {"[mx.example.com]:2x", "mx.example.com"}, /* a service name */
    {"example.com:", NULL},
    {"example.com:smtp", "example.com"}, /* a service name as port */
    {"[mx.example.com]:submission", "mx.example.com"},
    {"example.com:smtp-2", "example.com"},
    {"example.com:-smtp", NULL},
    {"example.com:smtp-", NULL},
    {"example.com:sm_tp", NULL},
    {"example.com:abcdefghijklmnop", NULL}, /* 16 characters */
    {"[mx.example.com]:sub mission", NULL},
    {"192.0.2.1", NULL},
    {"[192.0.2.1]", NULL},
    {"[192.0.2.1]:25", NULL},
    {"192.0.2.1:25", NULL},
    {"[IPv6:2001:db8::1]", NULL},
    {"[2001:db8::1]", NULL},
    {"2001:db8::1", NULL},
    {"ex ample.com", NULL},
    {"exa_mple.com", NULL},
    {"b\xc3\xbc"
     "cher.example",
     NULL}, /* UTF-8: no IDNA tables */
    {"xn--bcher-kva.example", "xn--bcher-kva.example"},
    {"example..com", NULL},
    {"localhost", "localhost"},
};

START_TEST(test_key_table)
{
    for (size_t i = 0; i < ARRAY_LEN(key_cases); i++) {
        char out[MTASTS_DOMAIN_BUFSIZE];
        const char *k = key_cases[i].key;
        int rc = sm_key_domain(k, strlen(k), out);
        if (key_cases[i].domain == NULL) {
            ck_assert_msg(rc == -1 && out[0] == '\0', "key '%s' gave '%s'", k,
                          out);
        } else {
            ck_assert_msg(rc == 0, "key '%s' refused", k);
            ck_assert_str_eq(out, key_cases[i].domain);
        }
    }
}
END_TEST

START_TEST(test_key_every_byte)
{
    /* No byte value crashes or gives a domain with that byte, except
     * letters, digits, '-' (inner) and the dropped trailing dot. */
    for (int b = 0; b < 256; b++) {
        char key[] = "ab?c.example";
        key[2] = (char)b;
        char out[MTASTS_DOMAIN_BUFSIZE];
        int rc = sm_key_domain(key, sizeof(key) - 1, out);
        bool ldh = (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') ||
                   (b >= '0' && b <= '9') || b == '-' || b == '.';
        ck_assert_msg((rc == 0) == ldh, "byte 0x%02x", b);
    }
}
END_TEST

/* ---- answers ----------------------------------------------------------- */

static mtasts_policy *
policy(const char *text)
{
    mtasts_policy *p = NULL;
    ck_assert_int_eq(mtasts_policy_parse(text, strlen(text), &p, NULL),
                     MTASTS_OK);
    return p;
}

#define POLICY(mode, mx)                                                       \
    "version: STSv1\r\nmode: " mode "\r\n" mx "max_age: 86400\r\n"

START_TEST(test_answer_enforce)
{
    struct sm_config c;
    sm_config_init(&c);
    mtasts_policy *p = policy(
        POLICY("enforce", "mx: mail.example.com\r\nmx: *.Backup.example.net\r\n"
                          "mx: alt.example.org\r\n"));
    char out[256];
    size_t n = sm_answer_format(p, "example.com", MTASTS_OK, MTASTS_RPT_NONE,
                                &c.zones[0], out, sizeof(out));
    ck_assert_str_eq(out, "OK secure match=mail.example.com:"
                          ".backup.example.net:alt.example.org "
                          "servername=hostname");
    ck_assert_uint_eq(n, strlen(out));
    /* Without servername. */
    c.zones[0].servername = false;
    sm_answer_format(p, "example.com", MTASTS_OK, MTASTS_RPT_NONE, &c.zones[0],
                     out, sizeof(out));
    ck_assert_str_eq(out, "OK secure match=mail.example.com:"
                          ".backup.example.net:alt.example.org");
    /* snprintf-style: the length needed, a truncated prefix. */
    char small[10];
    ck_assert_uint_eq(sm_answer_format(p, "example.com", MTASTS_OK,
                                       MTASTS_RPT_NONE, &c.zones[0], small,
                                       sizeof(small)),
                      n - strlen(" servername=hostname"));
    ck_assert_str_eq(small, "OK secure");
    mtasts_policy_unref(p);
}
END_TEST

START_TEST(test_answer_notfound)
{
    struct sm_config c;
    sm_config_init(&c);
    char out[256];
    ck_assert_uint_eq(sm_answer_format(NULL, "example.com", MTASTS_OK,
                                       MTASTS_RPT_NONE, &c.zones[0], out,
                                       sizeof(out)),
                      9);
    ck_assert_str_eq(out, "NOTFOUND ");
    mtasts_policy *t = policy(POLICY("testing", "mx: mail.example.com\r\n"));
    sm_answer_format(t, "example.com", MTASTS_OK, MTASTS_RPT_NONE, &c.zones[0],
                     out, sizeof(out));
    ck_assert_str_eq(out, "NOTFOUND ");
    mtasts_policy *none = policy(POLICY("none", ""));
    sm_answer_format(none, "example.com", MTASTS_OK, MTASTS_RPT_NONE,
                     &c.zones[0], out, sizeof(out));
    ck_assert_str_eq(out, "NOTFOUND ");
    /* strict testing: testing is enforced, none still is not. */
    c.zones[0].strict_testing = true;
    sm_answer_format(t, "example.com", MTASTS_OK, MTASTS_RPT_NONE, &c.zones[0],
                     out, sizeof(out));
    ck_assert_str_eq(out, "OK secure match=mail.example.com "
                          "servername=hostname");
    sm_answer_format(none, "example.com", MTASTS_OK, MTASTS_RPT_NONE,
                     &c.zones[0], out, sizeof(out));
    ck_assert_str_eq(out, "NOTFOUND ");
    mtasts_policy_unref(t);
    mtasts_policy_unref(none);
}
END_TEST

START_TEST(test_answer_tlsrpt)
{
    struct sm_config c;
    sm_config_init(&c);
    char err[SM_ERR_MAX] = "";
    ck_assert_int_eq(
        sm_config_parse(&c, "[zone default]\npostfix-tlsrpt = yes\n", 36, err),
        0);
    ck_assert(c.zones[0].tlsrpt);
    mtasts_policy *p = policy("version: STSv1\r\nmode: enforce\r\n"
                              "mx: mail.example.com\r\nmx: *.example.net\r\n"
                              "max_age: 86400\r\n");
    char out[1024];
    size_t n = sm_answer_format(p, "example.com", MTASTS_OK, MTASTS_RPT_NONE,
                                &c.zones[0], out, sizeof(out));
    static const char want[] =
        "OK secure match=mail.example.com:.example.net servername=hostname"
        " policy_type=sts policy_domain=example.com"
        " mx_host_pattern=mail.example.com mx_host_pattern=*.example.net"
        " { policy_string = version: STSv1 } { policy_string = mode: enforce }"
        " { policy_string = mx: mail.example.com }"
        " { policy_string = mx: *.example.net }"
        " { policy_string = max_age: 86400 }";
    ck_assert_str_eq(out, want);
    ck_assert_uint_eq(n, strlen(want));
    /* A failed refresh while the cached policy applies. */
    sm_answer_format(p, "example.com", MTASTS_OK, MTASTS_RPT_STS_WEBPKI_INVALID,
                     &c.zones[0], out, sizeof(out));
    ck_assert_str_eq(out + strlen(want), " policy_failure=sts-webpki-invalid");
    sm_answer_format(p, "example.com", MTASTS_OK,
                     MTASTS_RPT_STS_POLICY_FETCH_ERROR, &c.zones[0], out,
                     sizeof(out));
    ck_assert_str_eq(out + strlen(want),
                     " policy_failure=sts-policy-fetch-error");
    /* Other result types are not policy failures. */
    sm_answer_format(p, "example.com", MTASTS_OK,
                     MTASTS_RPT_CERTIFICATE_EXPIRED, &c.zones[0], out,
                     sizeof(out));
    ck_assert_str_eq(out, want);
    /* No policy: still NOTFOUND, nothing to attach attributes to. */
    sm_answer_format(NULL, "example.com", MTASTS_OK,
                     MTASTS_RPT_STS_POLICY_FETCH_ERROR, &c.zones[0], out,
                     sizeof(out));
    ck_assert_str_eq(out, "NOTFOUND ");
    /* Truncated into a small buffer: the full length, a prefix. */
    char small[40];
    ck_assert_uint_eq(sm_answer_format(p, "example.com", MTASTS_OK,
                                       MTASTS_RPT_NONE, &c.zones[0], small,
                                       sizeof(small)),
                      strlen(want));
    ck_assert(strncmp(small, want, sizeof(small) - 1) == 0);
    mtasts_policy_unref(p);
}
END_TEST

START_TEST(test_answer_temp_on_failure)
{
    struct sm_config c;
    sm_config_init(&c);
    char err[SM_ERR_MAX] = "";
    static const char conf[] = "[zone cautious]\ntemp-on-failure = yes\n";
    ck_assert_int_eq(sm_config_parse(&c, conf, sizeof(conf) - 1, err), 0);
    const struct sm_zone *z = sm_config_zone(&c, "cautious", 8);
    ck_assert(z->temp_on_failure && !c.zones[0].temp_on_failure);
    char out[256];
    static const int failures[] = {
        MTASTS_ERR_DNS_TEMPFAIL,   MTASTS_ERR_FETCH, MTASTS_ERR_WEBPKI,
        MTASTS_ERR_POLICY_INVALID, MTASTS_ERR_IO,    MTASTS_ERR_NOMEM};
    for (size_t i = 0; i < ARRAY_LEN(failures); i++) {
        sm_answer_format(NULL, "example.com", failures[i], MTASTS_RPT_NONE, z,
                         out, sizeof(out));
        char want[128];
        snprintf(want, sizeof(want), "TEMP MTA-STS policy discovery failed: %s",
                 mtasts_status_name(failures[i]));
        ck_assert_str_eq(out, want);
        /* The default zone fails open. */
        sm_answer_format(NULL, "example.com", failures[i], MTASTS_RPT_NONE,
                         &c.zones[0], out, sizeof(out));
        ck_assert_str_eq(out, "NOTFOUND ");
    }
    /* No policy at all, a bad key, mode none: not failures. */
    static const int not_failures[] = {MTASTS_OK, MTASTS_ERR_NO_POLICY,
                                       MTASTS_ERR_BAD_DOMAIN,
                                       MTASTS_ERR_NOT_ASCII};
    for (size_t i = 0; i < ARRAY_LEN(not_failures); i++) {
        sm_answer_format(NULL, "example.com", not_failures[i], MTASTS_RPT_NONE,
                         z, out, sizeof(out));
        ck_assert_str_eq(out, "NOTFOUND ");
    }
    mtasts_policy *none = policy(POLICY("none", ""));
    sm_answer_format(none, "example.com", MTASTS_OK, MTASTS_RPT_NONE, z, out,
                     sizeof(out));
    ck_assert_str_eq(out, "NOTFOUND ");
    mtasts_policy_unref(none);
}
END_TEST

/* ---- settings ---------------------------------------------------------- */

/* ---- --dane: the decision table (dane.c) ----------------------------- */

#define F SM_DNS_FAIL
#define S SM_DNS_SECURE
#define N SM_DNS_SECURE_NONE
#define I SM_DNS_INSECURE

static const struct {
    int rcode;
    bool ad;
    size_t count;
    enum sm_dns_outcome want;
} classify_cases[] = {
    {0, true, 1, SM_DNS_SECURE},      /* validated records */
    {0, true, 0, SM_DNS_SECURE_NONE}, /* validated NODATA */
    {3, true, 0, SM_DNS_SECURE_NONE}, /* validated NXDOMAIN */
    {3, true, 1, SM_DNS_SECURE_NONE}, /* NXDOMAIN: records ignored */
    {0, false, 2, SM_DNS_INSECURE},   /* unsigned zone */
    {0, false, 0, SM_DNS_INSECURE},   /* unsigned NODATA */
    {3, false, 0, SM_DNS_INSECURE},   /* unsigned NXDOMAIN */
    {2, false, 0, SM_DNS_FAIL},       /* SERVFAIL: bogus or unreachable */
    {2, true, 0, SM_DNS_FAIL},        /* SERVFAIL, AD ignored */
    {5, false, 0, SM_DNS_FAIL},       /* REFUSED */
    {1, false, 0, SM_DNS_FAIL},       /* FORMERR */
    {-1, false, 0, SM_DNS_FAIL},      /* no answer (timeout) */
};

START_TEST(test_dane_classify)
{
    ck_assert_int_eq(sm_dns_classify(classify_cases[_i].rcode,
                                     classify_cases[_i].ad,
                                     classify_cases[_i].count),
                     classify_cases[_i].want);
}
END_TEST

/* The decision table of README.md ("DANE"); R8461-2-a (MTA-STS never
 * overrides DANE), R8461-2-b (DANE wins when usable TLSA records exist,
 * E-14), RFC 7672 §2.1.1, §2.2.1-§2.2.3. */
static const struct {
    const char *why;
    enum sm_dns_outcome mx;
    size_t n;
    struct sm_dane_host hosts[3];
    enum sm_dane_verdict want;
} decide_cases[] = {
    {"MX lookup failed", F, 0, {{F, F}}, SM_DANE_MX_FAIL},
    {"MX insecure, hosts ignored", I, 1, {{S, S}}, SM_DANE_NONE},
    {"secure MX, secure TLSA", S, 1, {{S, S}}, SM_DANE_APPLIES},
    {"secure MX, TLSA proven absent", S, 1, {{S, N}}, SM_DANE_NONE},
    {"secure MX, TLSA insecure", S, 1, {{S, I}}, SM_DANE_NONE},
    {"secure MX, TLSA bogus", S, 1, {{S, F}}, SM_DANE_TLSA_FAIL},
    {"secure MX, address bogus", S, 1, {{F, I}}, SM_DANE_TLSA_FAIL},
    {"secure MX, address insecure: TLSA not used",
     S,
     1,
     {{I, S}},
     SM_DANE_NONE},
    {"secure MX, no address", S, 1, {{N, S}}, SM_DANE_NONE},
    {"second host has TLSA", S, 2, {{S, N}, {S, S}}, SM_DANE_APPLIES},
    {"TLSA at one host beats a failure at another",
     S,
     3,
     {{S, F}, {I, N}, {S, S}},
     SM_DANE_APPLIES},
    {"one host fails, the others have none",
     S,
     3,
     {{S, N}, {S, F}, {I, S}},
     SM_DANE_TLSA_FAIL},
    {"null MX: no host", S, 0, {{F, F}}, SM_DANE_NONE},
    {"no MX: the domain itself, with TLSA", N, 1, {{S, S}}, SM_DANE_APPLIES},
    {"no MX: the domain itself, without", N, 1, {{S, N}}, SM_DANE_NONE},
};

START_TEST(test_dane_decide)
{
    ck_assert_msg(sm_dane_decide(decide_cases[_i].mx, decide_cases[_i].hosts,
                                 decide_cases[_i].n) == decide_cases[_i].want,
                  "%s", decide_cases[_i].why);
}
END_TEST
#undef F
#undef S
#undef N
#undef I

START_TEST(test_dane_verdicts)
{
    /* NOTFOUND exactly when DANE applies or may apply (R8461-2-a). */
    ck_assert(!sm_dane_notfound(SM_DANE_UNKNOWN));
    ck_assert(!sm_dane_notfound(SM_DANE_NONE));
    ck_assert(sm_dane_notfound(SM_DANE_APPLIES));
    ck_assert(sm_dane_notfound(SM_DANE_TLSA_FAIL));
    ck_assert(!sm_dane_notfound(SM_DANE_MX_FAIL));
    ck_assert_str_eq(sm_dane_verdict_name(SM_DANE_UNKNOWN), "unknown");
    ck_assert_str_eq(sm_dane_verdict_name(SM_DANE_NONE), "none");
    ck_assert_str_eq(sm_dane_verdict_name(SM_DANE_APPLIES), "applies");
    ck_assert_str_eq(sm_dane_verdict_name(SM_DANE_TLSA_FAIL), "tlsa-fail");
    ck_assert_str_eq(sm_dane_verdict_name(SM_DANE_MX_FAIL), "mx-fail");
    ck_assert_str_eq(sm_dane_verdict_name((enum sm_dane_verdict)99), "unknown");
}
END_TEST

START_TEST(test_config_defaults)
{
    struct sm_config c;
    sm_config_init(&c);
    ck_assert_str_eq(c.listen, "127.0.0.1:8461");
    ck_assert_uint_eq(c.deadline_ms, 4000);
    ck_assert_uint_eq(c.refresh_interval_s, 300);
    ck_assert_uint_eq(c.refresh_expiring_s, 3600);
    ck_assert_uint_eq(c.zone_count, 1);
    ck_assert_str_eq(c.zones[0].name, "default");
    ck_assert(c.zones[0].servername);
    ck_assert(!c.zones[0].strict_testing);
    ck_assert(!c.dane); /* byte-compatible with the Python daemon */
    ck_assert_ptr_eq(sm_config_zone(&c, "postfix", 7), &c.zones[0]);
}
END_TEST

START_TEST(test_config_file)
{
    static const char text[] = "# comment\n"
                               "listen = unix:/run/mtasts.sock\n"
                               "  deadline-ms=250  \r\n"
                               "\n"
                               "workers = 2\n"
                               "refresh-expiring-s = 0\n"
                               "socket-mode = 0660\n"
                               "reuse-port = yes\n"
                               "dane = yes\n"
                               "user = mtasts\n"
                               "[zone strict]\n"
                               "strict-testing = yes\n"
                               "servername = no\n"
                               "[zone default]\n"
                               "servername = false\n";
    struct sm_config c;
    sm_config_init(&c);
    char err[SM_ERR_MAX] = "";
    ck_assert_msg(sm_config_parse(&c, text, sizeof(text) - 1, err) == 0, "%s",
                  err);
    ck_assert_str_eq(c.listen, "unix:/run/mtasts.sock");
    ck_assert_uint_eq(c.deadline_ms, 250);
    ck_assert_uint_eq(c.workers, 2);
    ck_assert_uint_eq(c.refresh_expiring_s, 0);
    ck_assert_str_eq(c.socket_mode, "0660");
    ck_assert(c.reuse_port);
    ck_assert(c.dane);
    ck_assert_str_eq(c.user, "mtasts");
    ck_assert_uint_eq(c.zone_count, 2);
    const struct sm_zone *z = sm_config_zone(&c, "strict", 6);
    ck_assert_str_eq(z->name, "strict");
    ck_assert(z->strict_testing && !z->servername);
    ck_assert_ptr_eq(sm_config_zone(&c, "stric", 5), &c.zones[0]);
    ck_assert_ptr_eq(sm_config_zone(&c, "stricter", 8), &c.zones[0]);
    ck_assert(!c.zones[0].servername);
}
END_TEST

START_TEST(test_config_errors)
{
    static const struct {
        const char *text;
        const char *err;
    } bad[] = {
        {"bogus = 1\n", "line 1: unknown option 'bogus'"},
        {"\nworkers = 0\n", "line 2: workers: not a number in range: 0"},
        {"deadline-ms = 12x\n", "line 1: deadline-ms: not a number"},
        {"https-port = 65536\n", "line 1: https-port: not a number"},
        {"refresh-interval-s = 0\n", "line 1: refresh-interval-s: not a"},
        {"socket-mode = 0x1\n", "line 1: socket-mode: not an octal mode"},
        {"socket-mode = 12345\n", "line 1: socket-mode: not an octal mode"},
        {"socket-mode = 689\n", "line 1: socket-mode: not an octal mode"},
        {"reuse-port = sometimes\n", "line 1: reuse-port: not yes or no"},
        {"dane = maybe\n", "line 1: dane: not yes or no"},
        {"[zone x]\ndane = yes\n", "line 2: unknown zone option 'dane'"},
        {"user = \n", "line 1: user: empty or too long"},
        {"socket-owner = \n", "line 1: socket-owner: empty or too long"},
        {"socket-group = "
         "a-group-name-longer-than-sixty-three-bytes-is-refused-here-yes-yes\n",
         "line 1: socket-group: empty or too long"},
        {"listen\n", "line 1: expected NAME = VALUE"},
        {"[zone]\n", "line 1: expected [zone NAME]"},
        {"[zone a b]\n", "line 1: bad zone name"},
        {"[zone x]\nstrict-testing = maybe\n", "line 2: strict-testing: not"},
        {"[zone x]\nworkers = 2\n", "line 2: unknown zone option 'workers'"},
        {"= 1\n", "line 1: name or value empty"},
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        struct sm_config c;
        sm_config_init(&c);
        char err[SM_ERR_MAX] = "";
        ck_assert_msg(
            sm_config_parse(&c, bad[i].text, strlen(bad[i].text), err) == -1,
            "%s", bad[i].text);
        ck_assert_msg(strncmp(err, bad[i].err, strlen(bad[i].err)) == 0,
                      "'%s': got '%s'", bad[i].text, err);
    }
    /* A NUL byte inside a line. */
    struct sm_config c;
    sm_config_init(&c);
    char err[SM_ERR_MAX] = "";
    ck_assert_int_eq(sm_config_parse(&c, "workers = 2\0\n", 13, err), -1);
    ck_assert_str_eq(err, "line 1: NUL byte");
    /* Options by name, as the command line sets them. */
    ck_assert(sm_config_is_option("ca-file"));
    ck_assert(!sm_config_is_option("config"));
    ck_assert(sm_config_is_option("reuse-port"));
    ck_assert(sm_config_is_option("socket-mode"));
    ck_assert(sm_config_is_option("socket-owner"));
    ck_assert(sm_config_is_option("socket-group"));
    ck_assert(sm_config_is_option("syslog"));
    ck_assert_int_eq(sm_config_parse(&c,
                                     "socket-owner = postfix\n"
                                     "socket-group = mail\nsyslog = yes\n",
                                     56, err),
                     0);
    ck_assert_str_eq(c.socket_owner, "postfix");
    ck_assert_str_eq(c.socket_group, "mail");
    ck_assert(c.use_syslog);
    ck_assert(!sm_config_is_option("strict-testing"));
}
END_TEST

START_TEST(test_config_zone_limit)
{
    struct sm_config c;
    sm_config_init(&c);
    char text[64];
    char err[SM_ERR_MAX] = "";
    for (size_t i = 1; i < SM_ZONES_MAX; i++) {
        int n = snprintf(text, sizeof(text), "[zone z%zu]\n", i);
        ck_assert_int_eq(sm_config_parse(&c, text, (size_t)n, err), 0);
    }
    ck_assert_uint_eq(c.zone_count, SM_ZONES_MAX);
    ck_assert_int_eq(sm_config_parse(&c, "[zone one-more]\n", 16, err), -1);
    ck_assert_str_eq(err, "line 1: too many zones or name too long");
}
END_TEST

START_TEST(test_admin_peer)
{
    static const struct {
        const char *addr;
        bool ok;
    } v4[] = {{"127.0.0.1", true}, {"127.255.0.9", true}, {"128.0.0.1", false},
              {"10.0.0.1", false}, {"192.0.2.2", false},  {"0.0.0.0", false}};
    for (size_t i = 0; i < ARRAY_LEN(v4); i++) {
        struct sockaddr_in in = {.sin_family = AF_INET};
        ck_assert_int_eq(inet_pton(AF_INET, v4[i].addr, &in.sin_addr), 1);
        ck_assert_msg(sm_admin_peer_ok((struct sockaddr *)&in, sizeof(in)) ==
                          v4[i].ok,
                      "%s", v4[i].addr);
        /* A short address length is refused. */
        ck_assert(!sm_admin_peer_ok((struct sockaddr *)&in, 4));
    }
    static const struct {
        const char *addr;
        bool ok;
    } v6[] = {
        {"::1", true},  {"::ffff:127.0.0.1", true}, {"::ffff:10.0.0.1", false},
        {"::2", false}, {"fd00::2", false},         {"2001:db8::1", false}};
    for (size_t i = 0; i < ARRAY_LEN(v6); i++) {
        struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
        ck_assert_int_eq(inet_pton(AF_INET6, v6[i].addr, &in6.sin6_addr), 1);
        ck_assert_msg(sm_admin_peer_ok((struct sockaddr *)&in6, sizeof(in6)) ==
                          v6[i].ok,
                      "%s", v6[i].addr);
    }
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    ck_assert(sm_admin_peer_ok((struct sockaddr *)&un, sizeof(sa_family_t)));
    ck_assert(!sm_admin_peer_ok(NULL, 0));
}
END_TEST

START_TEST(test_admin_dump_empty_and_limit)
{
    mtasts_ctx *ctx = NULL;
    ck_assert_int_eq(mtasts_ctx_new(&ctx), MTASTS_OK);
    mtasts_cache_snapshot *s = NULL;
    ck_assert_int_eq(mtasts_cache_snapshot_new(ctx, &s), MTASTS_OK);
    size_t len = 0;
    char *a = sm_admin_dump(s, SM_ANSWER_MAX, &len);
    ck_assert_ptr_nonnull(a);
    ck_assert_str_eq(a, "OK {\"count\":0,\"entries\":[]}");
    ck_assert_uint_eq(len, strlen(a));
    free(a);
    /* Over the limit: refused with PERM, never cut. */
    a = sm_admin_dump(s, 10, &len);
    ck_assert_ptr_nonnull(a);
    ck_assert_str_eq(a, "PERM dump too large: 0 policies need 27 bytes, "
                        "over the 10-byte socketmap answer limit; read the "
                        "cache file");
    free(a);
    mtasts_cache_snapshot_free(s);
    mtasts_ctx_free(ctx);
}
END_TEST

START_TEST(test_config_admin_reserved)
{
    struct sm_config c;
    sm_config_init(&c);
    char err[SM_ERR_MAX] = "";
    ck_assert_int_eq(sm_config_parse(&c, "[zone __admin]\n", 15, err), -1);
    ck_assert_str_eq(err, "line 1: zone name __admin is reserved");
}
END_TEST

START_TEST(test_log_format)
{
    char line[SM_LOG_LINE_MAX];
    size_t n = sm_log_format(line, sizeof(line), "d", 0, "hello");
    ck_assert_str_eq(line, "d: hello\n");
    ck_assert_uint_eq(n, 9);
    n = sm_log_format(line, sizeof(line), "d", 17, "hello");
    ck_assert_str_eq(line, "d: [17 earlier log lines dropped] hello\n");
    ck_assert_uint_eq(n, strlen(line));
    /* Cut to fit, the newline kept. */
    char small[8];
    n = sm_log_format(small, sizeof(small), "d", 0, "hello world");
    ck_assert_str_eq(small, "d: hel\n");
    ck_assert_uint_eq(n, 7);
    ck_assert_uint_eq(sm_log_format(small, 1, "d", 0, "x"), 0);
}
END_TEST

START_TEST(test_log_counts_dropped_lines)
{
    /* stderr onto a pipe nobody reads: lines are dropped once it is full,
     * never blocking, and the next line through carries the count. */
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_ge(fcntl(p[0], F_SETPIPE_SZ, 4096), 4096);
    int saved = dup(STDERR_FILENO);
    ck_assert_int_ge(saved, 0);
    ck_assert_int_eq(dup2(p[1], STDERR_FILENO), STDERR_FILENO);
    sm_log_open("t", false);
    char fill[200];
    memset(fill, 'x', sizeof(fill) - 1);
    fill[sizeof(fill) - 1] = '\0';
    size_t logged = 0;
    while (sm_log_dropped() < 5 && logged < 10000) {
        sm_log(LOG_INFO, "%s", fill);
        logged++;
    }
    ck_assert_uint_eq(sm_log_dropped(), 5);
    /* Read what went through, then one more line. */
    char buf[65536];
    ssize_t got = read(p[0], buf, sizeof(buf));
    ck_assert_int_gt(got, 0);
    size_t lines = 0;
    for (ssize_t i = 0; i < got; i++) {
        lines += buf[i] == '\n';
    }
    ck_assert_uint_eq(lines + 5, logged);
    sm_log(LOG_INFO, "after");
    ck_assert_uint_eq(sm_log_dropped(), 0);
    got = read(p[0], buf, sizeof(buf) - 1);
    ck_assert_int_gt(got, 0);
    buf[got] = '\0';
    ck_assert_str_eq(buf, "t: [5 earlier log lines dropped] after\n");
    ck_assert_int_eq(dup2(saved, STDERR_FILENO), STDERR_FILENO);
    close(saved);
    close(p[0]);
    close(p[1]);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("socketmap");
    TCase *tc = tcase_create("all");
    tcase_add_test(tc, test_ns_whole);
    tcase_add_test(tc, test_ns_prefixes_need_more);
    tcase_add_test(tc, test_ns_malformed);
    tcase_add_test(tc, test_ns_too_large);
    tcase_add_test(tc, test_ns_format);
    tcase_add_test(tc, test_request_split);
    tcase_add_test(tc, test_key_table);
    tcase_add_test(tc, test_key_every_byte);
    tcase_add_test(tc, test_answer_enforce);
    tcase_add_test(tc, test_answer_notfound);
    tcase_add_test(tc, test_answer_tlsrpt);
    tcase_add_test(tc, test_answer_temp_on_failure);
    tcase_add_loop_test(tc, test_dane_classify, 0, ARRAY_LEN(classify_cases));
    tcase_add_loop_test(tc, test_dane_decide, 0, ARRAY_LEN(decide_cases));
    tcase_add_test(tc, test_dane_verdicts);
    tcase_add_test(tc, test_config_defaults);
    tcase_add_test(tc, test_config_file);
    tcase_add_test(tc, test_config_errors);
    tcase_add_test(tc, test_config_zone_limit);
    tcase_add_test(tc, test_admin_peer);
    tcase_add_test(tc, test_admin_dump_empty_and_limit);
    tcase_add_test(tc, test_config_admin_reserved);
    tcase_add_test(tc, test_log_format);
    tcase_add_test(tc, test_log_counts_dropped_lines);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
