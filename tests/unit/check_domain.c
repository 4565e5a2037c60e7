/* Unit tests of domain name checking and normalisation:
 * mtasts_domain_normalize() (RFC 5321 §4.1.2 Domain, RFC 1035 §2.3.4
 * lengths, CHECKLIST.md A.3, R8461-3.1-a, R8461-4.1-c).
 *
 * The table is tests/data/domain_cases.tsv; a failing row prints its file
 * line. Names at the length limits are built here, and one test tries every
 * byte value inside a label against the ABNF restated below.
 */
#include "harness.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mtasts/mtasts.h"

/* out buffers are this much larger than MTASTS_DOMAIN_BUFSIZE and start
 * filled with SENTINEL, so a write past the 254 bytes shows. */
#define OUT_SLACK 8
#define SENTINEL 'X'

static struct td_file domain_table;

/* ---- helpers ------------------------------------------------------------- */

static void
out_fill(char *out)
{
    memset(out, SENTINEL, MTASTS_DOMAIN_BUFSIZE + OUT_SLACK);
}

static void
out_check_slack(const char *out)
{
    for (size_t i = MTASTS_DOMAIN_BUFSIZE;
         i < MTASTS_DOMAIN_BUFSIZE + OUT_SLACK; i++) {
        ck_assert_msg(out[i] == SENTINEL, "wrote past out[253]");
    }
}

/* Write a name of exactly len bytes (len >= 1): labels of label_max
 * letters and digits, the last one shorter, no empty label. */
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

static void
to_upper(char *dst, const char *src)
{
    size_t i = 0;
    for (; src[i] != '\0'; i++) {
        char c = src[i];
        dst[i] = (char)(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
    }
    dst[i] = '\0';
}

/* Normalise name (NUL-terminated, passed without its NUL); expect want and,
 * on success, the lower-case form expect_out, on error the column. */
static void
expect_normalize(const char *name, int want, const char *expect_out,
                 size_t want_column)
{
    size_t len = strlen(name);
    char *copy = td_exact_copy(name, len);
    char out[MTASTS_DOMAIN_BUFSIZE + OUT_SLACK];
    mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
    out_fill(out);
    err_poison(&err);
    int rc = mtasts_domain_normalize(copy, len, out, &err);
    ck_assert_msg(rc == want, "%zu-byte name: %s, want %s", len,
                  mtasts_status_name(rc), mtasts_status_name(want));
    ck_assert_str_eq(out, want == MTASTS_OK ? expect_out : "");
    out_check_slack(out);
    if (want == MTASTS_OK) {
        ck_assert_ptr_null(err.message);
        ck_assert_uint_eq(err.column, 0);
    } else {
        ck_assert_ptr_nonnull(err.message);
        ck_assert_ptr_ne(err.message, poison_message);
        ck_assert_uint_eq(err.line, 1);
        ck_assert_msg(err.column == want_column,
                      "%zu-byte name: column %zu, want %zu (%s)", len,
                      err.column, want_column, err.message);
        ck_assert_uint_eq(err.offset + 1, err.column);
    }
    free(copy);
}

/* ---- domain_cases.tsv ---------------------------------------------------- */

START_TEST(test_domain_table)
{
    const struct td_file *f = &domain_table;
    const struct td_row *r = &f->row[_i];
    size_t len = r->len[1];
    int want = td_status(f, r, 2);
    const char *want_out = want == MTASTS_OK ? r->field[3] : "";
    size_t want_col = td_number(f, r, 4);
    const char *want_msg = r->field[5];
    char *name = td_exact_copy(r->field[1], len);
    char out[MTASTS_DOMAIN_BUFSIZE + OUT_SLACK];
    mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;

    ck_assert_msg(want == MTASTS_OK ? want_col == 0 : want_col > 0,
                  ROW "bad row: column must be 0 exactly on success",
                  ROW_ARGS(f, r));
    out_fill(out);
    err_poison(&err);
    int rc = mtasts_domain_normalize(name, len, out, &err);
    ck_assert_msg(rc == want, ROW "%s, want %s", ROW_ARGS(f, r),
                  mtasts_status_name(rc), mtasts_status_name(want));
    ck_assert_msg(strcmp(out, want_out) == 0, ROW "out \"%s\", want \"%s\"",
                  ROW_ARGS(f, r), out, want_out);
    out_check_slack(out);
    if (want == MTASTS_OK) {
        ck_assert_msg(err.line == 0 && err.column == 0 && err.offset == 0 &&
                          err.message == NULL,
                      ROW "err not cleared on success", ROW_ARGS(f, r));
    } else {
        ck_assert_msg(err.message != NULL && err.message != poison_message &&
                          err.message[0] != '\0',
                      ROW "no error message", ROW_ARGS(f, r));
        ck_assert_msg(err.line == 1, ROW "line %zu, want 1", ROW_ARGS(f, r),
                      err.line);
        ck_assert_msg(err.column == want_col,
                      ROW "column %zu, want %zu (\"%s\")", ROW_ARGS(f, r),
                      err.column, want_col, err.message);
        ck_assert_msg(err.offset + 1 == err.column,
                      ROW "offset %zu does not match column %zu",
                      ROW_ARGS(f, r), err.offset, err.column);
        ck_assert_msg(strstr(err.message, want_msg) != NULL,
                      ROW "message \"%s\" lacks \"%s\"", ROW_ARGS(f, r),
                      err.message, want_msg);
    }

    /* err may be NULL: same status and output */
    out_fill(out);
    rc = mtasts_domain_normalize(name, len, out, NULL);
    ck_assert_msg(rc == want, ROW "with err NULL: %s", ROW_ARGS(f, r),
                  mtasts_status_name(rc));
    ck_assert_msg(strcmp(out, want_out) == 0, ROW "with err NULL: out \"%s\"",
                  ROW_ARGS(f, r), out);
    free(name);
}
END_TEST

/* ---- every byte inside a label (ABNF restated) --------------------------- */

static bool
abnf_let_dig(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9');
}

START_TEST(test_domain_bytes)
{
    for (int b = 0; b < 256; b++) {
        char name[4] = {'a', (char)b, 'b', '\0'};
        char out[MTASTS_DOMAIN_BUFSIZE + OUT_SLACK];
        mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
        int want = abnf_let_dig(b) || b == '-' || b == '.' ? MTASTS_OK
                   : b >= 0x80 ? MTASTS_ERR_NOT_ASCII
                               : MTASTS_ERR_BAD_DOMAIN;
        char *copy = td_exact_copy(name, 3);
        out_fill(out);
        int rc = mtasts_domain_normalize(copy, 3, out, &err);
        ck_assert_msg(rc == want, "\"a\" + byte 0x%02x + \"b\": %s, want %s",
                      (unsigned)b, mtasts_status_name(rc),
                      mtasts_status_name(want));
        if (want != MTASTS_OK) {
            ck_assert_msg(err.column == 2 && out[0] == '\0',
                          "byte 0x%02x: column %zu", (unsigned)b, err.column);
        }

        /* a one-byte name is one label: a letter or digit only */
        want = abnf_let_dig(b) ? MTASTS_OK
               : b >= 0x80     ? MTASTS_ERR_NOT_ASCII
                               : MTASTS_ERR_BAD_DOMAIN;
        out_fill(out);
        rc = mtasts_domain_normalize(copy + 1, 1, out, &err);
        ck_assert_msg(rc == want, "byte 0x%02x alone: %s, want %s", (unsigned)b,
                      mtasts_status_name(rc), mtasts_status_name(want));
        if (rc == MTASTS_OK) {
            ck_assert_int_eq(out[0], b >= 'A' && b <= 'Z' ? b - 'A' + 'a' : b);
            ck_assert_int_eq(out[1], '\0');
        }
        free(copy);
    }
}
END_TEST

/* ---- limits: labels of 63 bytes, names of 253 (RFC 1035 §2.3.4) ---------- */

START_TEST(test_domain_label_lengths)
{
    char l63[64];
    char l64[65];
    char name[300];
    char up[300];

    make_name(l63, 63, 63);
    make_name(l64, 64, 64);

    expect_normalize(l63, MTASTS_OK, l63, 0);
    to_upper(up, l63);
    expect_normalize(up, MTASTS_OK, l63, 0);
    snprintf(name, sizeof(name), "a.%s.b", l63);
    expect_normalize(name, MTASTS_OK, name, 0);

    expect_normalize(l64, MTASTS_ERR_BAD_DOMAIN, "", 64);
    snprintf(name, sizeof(name), "a.%s.b", l64);
    expect_normalize(name, MTASTS_ERR_BAD_DOMAIN, "", 2 + 63 + 1);
    snprintf(name, sizeof(name), "%s.", l64);
    expect_normalize(name, MTASTS_ERR_BAD_DOMAIN, "", 64);

    mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
    char out[MTASTS_DOMAIN_BUFSIZE + OUT_SLACK];
    ck_assert_int_eq(mtasts_domain_normalize(l64, 64, out, &err),
                     MTASTS_ERR_BAD_DOMAIN);
    ck_assert_ptr_nonnull(strstr(err.message, "63"));
}
END_TEST

START_TEST(test_domain_name_lengths)
{
    char n253[254];
    char n254[255];
    char name[1100];
    char up[300];

    make_name(n253, 253, 63);
    make_name(n254, 254, 63);

    expect_normalize(n253, MTASTS_OK, n253, 0);
    to_upper(up, n253);
    expect_normalize(up, MTASTS_OK, n253, 0);
    snprintf(name, sizeof(name), "%s.", up); /* 254 bytes with the root dot */
    expect_normalize(name, MTASTS_OK, n253, 0);

    expect_normalize(n254, MTASTS_ERR_BAD_DOMAIN, "", 254);
    snprintf(name, sizeof(name), "%s.", n254);
    expect_normalize(name, MTASTS_ERR_BAD_DOMAIN, "", 254);
    make_name(name, 1000, 50);
    expect_normalize(name, MTASTS_ERR_BAD_DOMAIN, "", 254);

    mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
    char out[MTASTS_DOMAIN_BUFSIZE + OUT_SLACK];
    ck_assert_int_eq(mtasts_domain_normalize(n254, 254, out, &err),
                     MTASTS_ERR_BAD_DOMAIN);
    ck_assert_ptr_nonnull(strstr(err.message, "253"));

    /* a bad byte early in a long name is reported as such */
    make_name(name, 1000, 50);
    name[3] = '_';
    expect_normalize(name, MTASTS_ERR_BAD_DOMAIN, "", 4);
    name[3] = '\xc3';
    expect_normalize(name, MTASTS_ERR_NOT_ASCII, "", 4);
}
END_TEST

/* Only len bytes are read; the name need not end in NUL. */
START_TEST(test_domain_length_bounds)
{
    static const char text[] = "Example.COM.junk";
    char out[MTASTS_DOMAIN_BUFSIZE + OUT_SLACK];

    out_fill(out);
    ck_assert_int_eq(mtasts_domain_normalize(text, 11, out, NULL), MTASTS_OK);
    ck_assert_str_eq(out, "example.com");
    out_fill(out);
    ck_assert_int_eq(mtasts_domain_normalize(text, 12, out, NULL), MTASTS_OK);
    ck_assert_str_eq(out, "example.com");
    out_fill(out);
    ck_assert_int_eq(mtasts_domain_normalize(text, 7, out, NULL), MTASTS_OK);
    ck_assert_str_eq(out, "example");
    out_fill(out);
    ck_assert_int_eq(mtasts_domain_normalize(text, 0, out, NULL),
                     MTASTS_ERR_BAD_DOMAIN);
    ck_assert_str_eq(out, "");
    out_fill(out);
    ck_assert_int_eq(mtasts_domain_normalize(text, strlen(text), out, NULL),
                     MTASTS_OK);
    ck_assert_str_eq(out, "example.com.junk");
}
END_TEST

/* ---- arguments ----------------------------------------------------------- */

START_TEST(test_domain_invalid_args)
{
    char out[MTASTS_DOMAIN_BUFSIZE + OUT_SLACK];
    mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;

    err_poison(&err);
    ck_assert_int_eq(mtasts_domain_normalize("example.com", 11, NULL, &err),
                     MTASTS_ERR_INVALID);
    ck_assert_ptr_nonnull(err.message);
    ck_assert_ptr_ne(err.message, poison_message);
    ck_assert_int_eq(mtasts_domain_normalize("example.com", 11, NULL, NULL),
                     MTASTS_ERR_INVALID);

    out_fill(out);
    err_poison(&err);
    ck_assert_int_eq(mtasts_domain_normalize(NULL, 3, out, &err),
                     MTASTS_ERR_INVALID);
    ck_assert_str_eq(out, "");
    ck_assert_ptr_nonnull(err.message);
    ck_assert_ptr_ne(err.message, poison_message);

    /* NULL with length 0 is the empty name */
    out_fill(out);
    err_poison(&err);
    ck_assert_int_eq(mtasts_domain_normalize(NULL, 0, out, &err),
                     MTASTS_ERR_BAD_DOMAIN);
    ck_assert_str_eq(out, "");
    ck_assert_uint_eq(err.line, 1);
    ck_assert_uint_eq(err.column, 1);
    ck_assert_ptr_nonnull(strstr(err.message, "empty"));
}
END_TEST

/* ---- diagnostics --------------------------------------------------------- */

/* The library writes no member of mtasts_parse_error that ends past the
 * caller's size (STYLE.md §6): an older, smaller struct stays safe. */
START_TEST(test_domain_err_size)
{
    static const char bad[] = "a_b.example";
    static const char good[] = "a-b.example";
    char out[MTASTS_DOMAIN_BUFSIZE + OUT_SLACK];
    mtasts_parse_error err;

    err_poison(&err);
    err.size = offsetof(mtasts_parse_error, offset);
    ck_assert_int_eq(mtasts_domain_normalize(bad, strlen(bad), out, &err),
                     MTASTS_ERR_BAD_DOMAIN);
    ck_assert_uint_eq(err.size, offsetof(mtasts_parse_error, offset));
    ck_assert_uint_eq(err.line, 1);
    ck_assert_uint_eq(err.column, 2);
    ck_assert_uint_eq(err.offset, POISON);
    ck_assert_ptr_eq(err.message, poison_message);

    err_poison(&err);
    err.size = offsetof(mtasts_parse_error, message);
    ck_assert_int_eq(mtasts_domain_normalize(bad, strlen(bad), out, &err),
                     MTASTS_ERR_BAD_DOMAIN);
    ck_assert_uint_eq(err.column, 2);
    ck_assert_uint_eq(err.offset, 1);
    ck_assert_ptr_eq(err.message, poison_message);

    err_poison(&err);
    err.size = offsetof(mtasts_parse_error, column);
    ck_assert_int_eq(mtasts_domain_normalize(bad, strlen(bad), out, &err),
                     MTASTS_ERR_BAD_DOMAIN);
    ck_assert_uint_eq(err.line, 1);
    ck_assert_uint_eq(err.column, POISON);

    /* a size that ends inside a member does not get that member */
    err_poison(&err);
    err.size = offsetof(mtasts_parse_error, column) + 1;
    ck_assert_int_eq(mtasts_domain_normalize(bad, strlen(bad), out, &err),
                     MTASTS_ERR_BAD_DOMAIN);
    ck_assert_uint_eq(err.line, 1);
    ck_assert_uint_eq(err.column, POISON);

    err_poison(&err);
    err.size = 0;
    ck_assert_int_eq(mtasts_domain_normalize(bad, strlen(bad), out, &err),
                     MTASTS_ERR_BAD_DOMAIN);
    ck_assert_uint_eq(err.size, 0);
    ck_assert_uint_eq(err.line, POISON);
    ck_assert_ptr_eq(err.message, poison_message);

    /* success clears only what fits, too */
    err_poison(&err);
    err.size = offsetof(mtasts_parse_error, offset);
    ck_assert_int_eq(mtasts_domain_normalize(good, strlen(good), out, &err),
                     MTASTS_OK);
    ck_assert_uint_eq(err.line, 0);
    ck_assert_uint_eq(err.column, 0);
    ck_assert_uint_eq(err.offset, POISON);
    ck_assert_ptr_eq(err.message, poison_message);

    err_poison(&err);
    err.size = sizeof(err);
    ck_assert_int_eq(mtasts_domain_normalize(good, strlen(good), out, &err),
                     MTASTS_OK);
    ck_assert_uint_eq(err.offset, 0);
    ck_assert_ptr_null(err.message);
}
END_TEST

/* ---- suite --------------------------------------------------------------- */

static Suite *
domain_suite(void)
{
    Suite *s = suite_create("domain");

    TCase *tc = tcase_create("syntax");
    tcase_add_loop_test(tc, test_domain_table, 0, (int)domain_table.nrows);
    tcase_add_test(tc, test_domain_bytes);
    suite_add_tcase(s, tc);

    tc = tcase_create("limits");
    tcase_add_test(tc, test_domain_label_lengths);
    tcase_add_test(tc, test_domain_name_lengths);
    tcase_add_test(tc, test_domain_length_bounds);
    suite_add_tcase(s, tc);

    tc = tcase_create("arguments");
    tcase_add_test(tc, test_domain_invalid_args);
    suite_add_tcase(s, tc);

    tc = tcase_create("diagnostics");
    tcase_add_test(tc, test_domain_err_size);
    suite_add_tcase(s, tc);

    return s;
}

int
main(void)
{
    td_load(&domain_table, "domain_cases.tsv", 6);
    int rc = harness_run(domain_suite());
    td_free(&domain_table);
    return rc;
}
