/* Unit tests of the _smtp._tls TXT record (RFC 8460 §3):
 * mtasts_tlsrpt_parse(), mtasts_tlsrpt_select() and the accessors.
 *
 * The table is tests/data/tlsrpt_cases.tsv; every row names the
 * CHECKLIST.md id it tests, and a failing row prints its file line.
 */
#include "harness.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mtasts/mtasts.h"

static struct td_file table;

/* The kept URIs as the table writes them: "m:URI | h:URI". */
static void
describe(const mtasts_tlsrpt *r, char *out, size_t size)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < mtasts_tlsrpt_rua_count(r); i++) {
        mtasts_rua_scheme s = mtasts_tlsrpt_rua_scheme(r, i);
        int n = snprintf(out + len, size - len, "%s%s:%s", i > 0 ? " | " : "",
                         s == MTASTS_RUA_MAILTO  ? "m"
                         : s == MTASTS_RUA_HTTPS ? "h"
                                                 : "?",
                         mtasts_tlsrpt_rua(r, i));
        ck_assert(n > 0 && (size_t)n < size - len);
        len += (size_t)n;
    }
}

START_TEST(test_tlsrpt_table)
{
    const struct td_file *f = &table;
    const struct td_row *r = &f->row[_i];
    size_t len = r->len[1];
    int want = td_status(f, r, 2);
    size_t want_col = td_number(f, r, 4);
    const char *want_msg = r->field[5];
    char *rec = td_exact_copy(r->field[1], len);
    ck_assert_msg((want == MTASTS_ERR_SYNTAX) == (want_col > 0),
                  ROW "bad row: a column exactly for syntax errors",
                  ROW_ARGS(f, r));

    mtasts_tlsrpt *t = (mtasts_tlsrpt *)&t;
    mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
    err_poison(&err);
    int rc = mtasts_tlsrpt_parse(rec, len, &t, &err);
    ck_assert_msg(rc == want, ROW "gave %s, want %s (\"%s\")", ROW_ARGS(f, r),
                  mtasts_status_name(rc), mtasts_status_name(want),
                  err.message != NULL ? err.message : "");
    if (want == MTASTS_OK) {
        char got[2048];
        describe(t, got, sizeof(got));
        ck_assert_msg(strcmp(got, r->field[3]) == 0,
                      ROW "rua \"%s\", want \"%s\"", ROW_ARGS(f, r), got,
                      r->field[3]);
        ck_assert_msg(err.line == 0 && err.column == 0 && err.offset == 0 &&
                          err.message == NULL,
                      ROW "err not cleared on success", ROW_ARGS(f, r));
        ck_assert_ptr_null(mtasts_tlsrpt_rua(t, mtasts_tlsrpt_rua_count(t)));
        ck_assert_int_eq(
            mtasts_tlsrpt_rua_scheme(t, mtasts_tlsrpt_rua_count(t)), 0);
        mtasts_tlsrpt_free(t);
    } else {
        ck_assert_msg(t == NULL, ROW "out not NULL on error", ROW_ARGS(f, r));
        ck_assert_msg(err.message != NULL && err.message != poison_message &&
                          err.message[0] != '\0',
                      ROW "no error message", ROW_ARGS(f, r));
        ck_assert_msg(err.column == want_col && err.line == (want_col ? 1 : 0),
                      ROW "error at %zu:%zu, want column %zu (\"%s\")",
                      ROW_ARGS(f, r), err.line, err.column, want_col,
                      err.message);
        ck_assert_msg(want_col == 0 || err.offset + 1 == err.column,
                      ROW "offset %zu does not match column %zu",
                      ROW_ARGS(f, r), err.offset, err.column);
        ck_assert_msg(strstr(err.message, want_msg) != NULL,
                      ROW "message \"%s\" lacks \"%s\"", ROW_ARGS(f, r),
                      err.message, want_msg);
    }
    /* the same without a diagnostic */
    t = NULL;
    rc = mtasts_tlsrpt_parse(rec, len, &t, NULL);
    ck_assert_msg(rc == want, ROW "err NULL: %s", ROW_ARGS(f, r),
                  mtasts_status_name(rc));
    mtasts_tlsrpt_free(t);
    free(rec);
}
END_TEST

/* R8460-3-b: a record given as several character-strings is judged once
 * they are joined with nothing in between (the caller joins them). */
START_TEST(test_tlsrpt_joined_strings)
{
    const char *parts[] = {"v=TLSRPTv1;rua=mailto:a@", "example.com"};
    char joined[64];
    snprintf(joined, sizeof(joined), "%s%s", parts[0], parts[1]);
    mtasts_tlsrpt *t = NULL;
    ck_assert_int_eq(mtasts_tlsrpt_parse(joined, strlen(joined), &t, NULL),
                     MTASTS_OK);
    ck_assert_str_eq(mtasts_tlsrpt_rua(t, 0), "mailto:a@example.com");
    mtasts_tlsrpt_free(t);
}
END_TEST

/* R8460-3-c, E-28: record selection. */
START_TEST(test_tlsrpt_select)
{
    static const char spf[] = "v=spf1 -all";
    static const char good[] = "v=TLSRPTv1; rua=mailto:r@x.example";
    static const char good2[] = "v=TLSRPTv1;rua=https://r.example/t";
    static const char lone_bad[] = "v=TLSRPTv1 rua=mailto:r@x.example";
    static const char no_semi[] = "v=TLSRPTv1";
    mtasts_tlsrpt *t = NULL;
    mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;

    const char *two[] = {spf, good};
    size_t two_len[] = {sizeof(spf) - 1, sizeof(good) - 1};
    ck_assert_int_eq(mtasts_tlsrpt_select(two, two_len, 2, &t, &err),
                     MTASTS_OK);
    ck_assert_str_eq(mtasts_tlsrpt_rua(t, 0), "mailto:r@x.example");
    mtasts_tlsrpt_free(t);

    /* two TLSRPT records: none */
    const char *dup[] = {good, good2};
    size_t dup_len[] = {sizeof(good) - 1, sizeof(good2) - 1};
    ck_assert_int_eq(mtasts_tlsrpt_select(dup, dup_len, 2, &t, &err),
                     MTASTS_ERR_NO_TLSRPT);
    ck_assert_ptr_null(t);
    ck_assert_str_eq(err.message, "not exactly one TLSRPT TXT record");
    ck_assert_uint_eq(err.column, 0);

    /* with several records, one lacking "v=TLSRPTv1;" is discarded */
    const char *other[] = {spf, lone_bad};
    size_t other_len[] = {sizeof(spf) - 1, sizeof(lone_bad) - 1};
    ck_assert_int_eq(mtasts_tlsrpt_select(other, other_len, 2, &t, &err),
                     MTASTS_ERR_NO_TLSRPT);

    /* a lone record beginning with "v=TLSRPTv1" is judged by the grammar */
    const char *lone[] = {lone_bad};
    size_t lone_len[] = {sizeof(lone_bad) - 1};
    ck_assert_int_eq(mtasts_tlsrpt_select(lone, lone_len, 1, &t, &err),
                     MTASTS_ERR_SYNTAX);
    ck_assert_uint_eq(err.column, 12);
    const char *bare[] = {no_semi};
    size_t bare_len[] = {sizeof(no_semi) - 1};
    ck_assert_int_eq(mtasts_tlsrpt_select(bare, bare_len, 1, &t, &err),
                     MTASTS_ERR_SYNTAX);
    const char *spf_only[] = {spf};
    size_t spf_len[] = {sizeof(spf) - 1};
    ck_assert_int_eq(mtasts_tlsrpt_select(spf_only, spf_len, 1, &t, &err),
                     MTASTS_ERR_NO_TLSRPT);

    /* no record at all */
    ck_assert_int_eq(mtasts_tlsrpt_select(NULL, NULL, 0, &t, &err),
                     MTASTS_ERR_NO_TLSRPT);
    ck_assert_str_eq(err.message, "no TXT record");
    ck_assert_ptr_null(t);
}
END_TEST

START_TEST(test_tlsrpt_args)
{
    static const char good[] = "v=TLSRPTv1; rua=mailto:r@x.example";
    mtasts_tlsrpt *t = (mtasts_tlsrpt *)&t;
    mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
    ck_assert_int_eq(mtasts_tlsrpt_parse(good, sizeof(good) - 1, NULL, &err),
                     MTASTS_ERR_INVALID);
    ck_assert_str_eq(err.message, "invalid argument");
    ck_assert_int_eq(mtasts_tlsrpt_parse(NULL, 3, &t, &err),
                     MTASTS_ERR_INVALID);
    ck_assert_ptr_null(t);
    ck_assert_int_eq(mtasts_tlsrpt_parse(NULL, 0, &t, &err), MTASTS_ERR_SYNTAX);
    ck_assert_uint_eq(err.column, 1);

    const char *recs[] = {good, NULL};
    size_t lens[] = {sizeof(good) - 1, 1};
    ck_assert_int_eq(mtasts_tlsrpt_select(NULL, lens, 1, &t, NULL),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_tlsrpt_select(recs, NULL, 1, &t, NULL),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_tlsrpt_select(recs, lens, 2, &t, NULL),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_tlsrpt_select(recs, lens, 1, NULL, NULL),
                     MTASTS_ERR_INVALID);

    ck_assert_uint_eq(mtasts_tlsrpt_rua_count(NULL), 0);
    ck_assert_ptr_null(mtasts_tlsrpt_rua(NULL, 0));
    ck_assert_int_eq(mtasts_tlsrpt_rua_scheme(NULL, 0), 0);
    mtasts_tlsrpt_free(NULL);
}
END_TEST

/* The URI count bound and out of memory. */
START_TEST(test_tlsrpt_limits)
{
    char rec[4096];
    size_t len = (size_t)snprintf(rec, sizeof(rec), "v=TLSRPTv1; rua=");
    for (int i = 0; i < 33; i++) {
        len += (size_t)snprintf(rec + len, sizeof(rec) - len,
                                "%smailto:r%d@x.example", i > 0 ? "," : "", i);
    }
    mtasts_tlsrpt *t = NULL;
    mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
    ck_assert_int_eq(mtasts_tlsrpt_parse(rec, len, &t, &err),
                     MTASTS_ERR_SYNTAX);
    ck_assert_str_eq(err.message, "more than 32 rua URIs");
    /* 32 are fine */
    char *last = strrchr(rec, ',');
    len = (size_t)(last - rec);
    ck_assert_int_eq(mtasts_tlsrpt_parse(rec, len, &t, &err), MTASTS_OK);
    ck_assert_uint_eq(mtasts_tlsrpt_rua_count(t), 32);
    ck_assert_str_eq(mtasts_tlsrpt_rua(t, 31), "mailto:r31@x.example");
    mtasts_tlsrpt_free(t);

    failalloc_start(1); /* the first allocation fails */
    int rc = mtasts_tlsrpt_parse(rec, len, &t, &err);
    failalloc_stop();
    ck_assert_int_eq(rc, MTASTS_ERR_NOMEM);
    ck_assert_ptr_null(t);
    ck_assert_str_eq(err.message, "out of memory");
}
END_TEST

static Suite *
tlsrpt_suite(void)
{
    Suite *s = suite_create("tlsrpt");
    TCase *tc = tcase_create("record");
    td_load(&table, "tlsrpt_cases.tsv", 6);
    tcase_add_loop_test(tc, test_tlsrpt_table, 0, (int)table.nrows);
    tcase_add_test(tc, test_tlsrpt_joined_strings);
    tcase_add_test(tc, test_tlsrpt_select);
    tcase_add_test(tc, test_tlsrpt_args);
    tcase_add_test(tc, test_tlsrpt_limits);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    int rc = harness_run(tlsrpt_suite());
    td_free(&table);
    return rc;
}
