/* Unit tests of MX pattern matching (RFC 8461 §4.1):
 * mtasts_mx_pattern_match(), and mtasts_policy_match_mx() against it.
 *
 * The table is tests/data/mx_cases.tsv; every row names the CHECKLIST.md id
 * it tests (R8461-4.1-a, -b, -c, R8461-3.2-l and the golden example D), and
 * a failing row prints its file line. Names at the length limits are built
 * here.
 */
#include "harness.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mtasts/mtasts.h"
#include "parse/policy.h"

static struct td_file mx_table;

/* ---- helpers ------------------------------------------------------------- */

static bool
row_match(const struct td_file *f, const struct td_row *r)
{
    if (strcmp(r->field[3], "match") == 0) {
        return true;
    }
    ck_assert_msg(strcmp(r->field[3], "no") == 0,
                  ROW "result must be \"match\" or \"no\"", ROW_ARGS(f, r));
    return false;
}

/* A heap copy of exactly len bytes plus the NUL the API needs. */
static char *
str_copy(const char *s, size_t len)
{
    char *p = malloc(len + 1);
    ck_assert_ptr_nonnull(p);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

/* Write a host name of exactly len bytes (len >= 1) into buf: labels of
 * label_max letters and digits, the last one shorter, no empty label. */
static char *
make_name(char *buf, size_t len, size_t label_max)
{
    size_t o = 0;
    size_t left = len;
    while (left > 0) {
        size_t k = left < label_max ? left : label_max;
        if (left - k == 1) {
            k--; /* leave room for ".x", never a trailing dot */
        }
        for (size_t i = 0; i < k; i++) {
            buf[o++] = (char)(i % 36 < 26 ? 'a' + i % 36 : '0' + i % 36 - 26);
        }
        left -= k;
        if (left > 0) {
            buf[o++] = '.';
            left--;
        }
    }
    buf[o] = '\0';
    ck_assert_uint_eq(strlen(buf), len);
    return buf;
}

static char *
upper(char *s)
{
    for (char *p = s; *p != '\0'; p++) {
        if (*p >= 'a' && *p <= 'z') {
            *p = (char)(*p - 'a' + 'A');
        }
    }
    return s;
}

static void
expect_match(const char *pattern, const char *host, bool want)
{
    ck_assert_msg(mtasts_mx_pattern_match(pattern, host) == want,
                  "pattern \"%s\" (%zu bytes), host \"%s\" (%zu bytes): "
                  "want %s",
                  pattern, strlen(pattern), host, strlen(host),
                  want ? "a match" : "no match");
}

/* ---- mx_cases.tsv -------------------------------------------------------- */

START_TEST(test_mx_table)
{
    const struct td_file *f = &mx_table;
    const struct td_row *r = &f->row[_i];
    bool want = row_match(f, r);
    char *pattern = str_copy(r->field[1], r->len[1]);
    char *host = str_copy(r->field[2], r->len[2]);

    ck_assert_msg(mtasts_mx_pattern_match(pattern, host) == want,
                  ROW "pattern \"%s\", host \"%s\": want %s", ROW_ARGS(f, r),
                  pattern, host, want ? "a match" : "no match");
    free(pattern);
    free(host);
}
END_TEST

/* mtasts_policy_match_mx() gives the same answer as the row, through a
 * policy holding the row's pattern; and the policy parser accepts the
 * pattern exactly when the mx grammar check in lib/parse/mx.c does.
 * Patterns holding SP, HTAB, CR or LF are skipped: in a policy line they
 * would be field syntax, not part of the value. */
START_TEST(test_mx_policy_agrees)
{
    const struct td_file *f = &mx_table;
    const struct td_row *r = &f->row[_i];
    const char *pattern = r->field[1];
    size_t plen = r->len[1];
    bool want = row_match(f, r);

    if (memchr(pattern, '\0', plen) != NULL ||
        strpbrk(pattern, " \t\r\n") != NULL) {
        return;
    }
    char text[512];
    int n = snprintf(text, sizeof(text),
                     "version: STSv1\nmode: enforce\nmx: %s\nmax_age: 86400\n",
                     pattern);
    ck_assert(n > 0 && (size_t)n < sizeof(text));

    size_t bad = 0;
    const char *why = NULL;
    bool valid = mtasts__mx_pattern_check((const unsigned char *)pattern, plen,
                                          &bad, &why) == MTASTS_OK;
    mtasts_policy *p = NULL;
    mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
    int rc = mtasts_policy_parse(text, (size_t)n, &p, &err);
    ck_assert_msg(rc == (valid ? MTASTS_OK : MTASTS_ERR_SYNTAX),
                  ROW "policy with mx \"%s\": %s (%s), mx check says %s",
                  ROW_ARGS(f, r), pattern, mtasts_status_name(rc),
                  err.message != NULL ? err.message : "-",
                  valid ? "valid" : "invalid");
    if (!valid) {
        ck_assert_msg(!want, ROW "invalid pattern \"%s\" expected to match",
                      ROW_ARGS(f, r), pattern);
        return;
    }
    char *host = str_copy(r->field[2], r->len[2]);
    ck_assert_msg(mtasts_policy_match_mx(p, host) == want,
                  ROW "mtasts_policy_match_mx(mx \"%s\", \"%s\"): want %s",
                  ROW_ARGS(f, r), pattern, host, want ? "a match" : "no match");
    free(host);
    mtasts_policy_unref(p);
}
END_TEST

/* ---- arguments ----------------------------------------------------------- */

START_TEST(test_mx_null_args)
{
    ck_assert(!mtasts_mx_pattern_match(NULL, "mail.example.com"));
    ck_assert(!mtasts_mx_pattern_match("mail.example.com", NULL));
    ck_assert(!mtasts_mx_pattern_match("*.example.com", NULL));
    ck_assert(!mtasts_mx_pattern_match(NULL, NULL));
    ck_assert(mtasts_mx_pattern_match("mail.example.com", "mail.example.com"));
}
END_TEST

/* ---- limits: labels of 63 bytes, names of 253 (RFC 1035 §2.3.4) ---------- */

START_TEST(test_mx_label_lengths)
{
    char l63[64];
    char l64[65];
    char p[300];
    char h[300];

    make_name(l63, 63, 63);
    make_name(l64, 64, 64);

    snprintf(p, sizeof(p), "%s.example", l63);
    expect_match(p, p, true);
    snprintf(h, sizeof(h), "%s.example.", l63);
    expect_match(p, upper(h), true);
    expect_match("*.example", p, true);

    snprintf(p, sizeof(p), "%s.example", l64);
    expect_match(p, p, false);
    expect_match("*.example", p, false);

    /* the label after "*." and the host's first label */
    snprintf(p, sizeof(p), "*.%s.example", l63);
    snprintf(h, sizeof(h), "mail.%s.example", l63);
    expect_match(p, h, true);
    snprintf(p, sizeof(p), "*.%s.example", l64);
    snprintf(h, sizeof(h), "mail.%s.example", l64);
    expect_match(p, h, false);
    snprintf(h, sizeof(h), "%s.example.com", l63);
    expect_match("*.example.com", h, true);
    snprintf(h, sizeof(h), "%s.example.com", l64);
    expect_match("*.example.com", h, false);
}
END_TEST

START_TEST(test_mx_name_lengths)
{
    char n251[252];
    char n253[254];
    char n254[255];
    char p[300];
    char h[300];

    make_name(n251, 251, 63);
    make_name(n253, 253, 63);
    make_name(n254, 254, 63);

    expect_match(n253, n253, true);
    snprintf(h, sizeof(h), "%s.", n253); /* 254 bytes with the root dot */
    expect_match(n253, h, true);
    expect_match(n253, upper(h), true);
    expect_match(n254, n254, false);
    snprintf(h, sizeof(h), "%s.", n254);
    expect_match(n254, h, false);

    /* the wildcard: a 253-byte host matches, a 254-byte one never */
    snprintf(p, sizeof(p), "*.%s", n251);
    snprintf(h, sizeof(h), "a.%s", n251);
    expect_match(p, h, true);
    snprintf(h, sizeof(h), "a.%s.", n251);
    expect_match(p, h, true);
    snprintf(h, sizeof(h), "ab.%s", n251);
    expect_match(p, h, false);
    snprintf(h, sizeof(h), "ab.%s.", n251);
    expect_match(p, h, false);
}
END_TEST

/* ---- suite --------------------------------------------------------------- */

static Suite *
mx_suite(void)
{
    Suite *s = suite_create("mx");

    TCase *tc = tcase_create("match");
    tcase_add_loop_test(tc, test_mx_table, 0, (int)mx_table.nrows);
    suite_add_tcase(s, tc);

    tc = tcase_create("arguments");
    tcase_add_test(tc, test_mx_null_args);
    suite_add_tcase(s, tc);

    tc = tcase_create("limits");
    tcase_add_test(tc, test_mx_label_lengths);
    tcase_add_test(tc, test_mx_name_lengths);
    suite_add_tcase(s, tc);

    tc = tcase_create("policy");
    tcase_add_loop_test(tc, test_mx_policy_agrees, 0, (int)mx_table.nrows);
    suite_add_tcase(s, tc);

    return s;
}

int
main(void)
{
    td_load(&mx_table, "mx_cases.tsv", 4);
    int rc = harness_run(mx_suite());
    td_free(&mx_table);
    return rc;
}
