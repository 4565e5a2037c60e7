/* Unit tests of the MTA-STS policy body (RFC 8461 §3.2): mtasts_policy_parse()
 * and the mtasts_policy object.
 *
 * The table is tests/data/policy_cases.tsv: every row names the CHECKLIST.md
 * id it tests and a failing row prints its file line. The id also picks the
 * test case that runs the row: "syntax" (lines, names, character set: D,
 * R8461-3.2-d, -e, -f, -n, -o, -r, E-6, E-8), "fields" (the known fields:
 * R8461-3.2-g to -m, -p, -q) or "limits" (R8461-3.3-k). The decisions of
 * CHECKLIST part E show up in the rows of their requirement: E-2 in
 * R8461-3.2-d, E-3 in R8461-3.2-j, E-7 in R8461-3.2-q, E-10 in R8461-3.2-p.
 * Inputs too large for a table row (64 KiB, thousands of lines) are built
 * here, as are the allocation-failure loops and the object tests.
 */
#include "harness.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mtasts/mtasts.h"
#include "parse/policy.h"

/* Columns of policy_cases.tsv. */
enum { F_REF, F_WANT, F_EXPECT, F_INPUT, F_COUNT };

/* Test cases that run table rows. */
enum group { G_SYNTAX, G_FIELDS, G_LIMITS, G_COUNT };

static struct td_file policy_table;
static size_t *group_rows[G_COUNT]; /* indexes into policy_table.row */
static size_t group_len[G_COUNT];

/* A valid policy (the base of most table rows) and the RFC 8461 §3.2
 * example. */
static const char base_policy[] = "version: STSv1\n"
                                  "mode: enforce\n"
                                  "mx: a.example\n"
                                  "max_age: 86400\n";
static const char rfc_policy[] = "version: STSv1\n"
                                 "mode: enforce\n"
                                 "mx: mail.example.com\n"
                                 "mx: *.example.net\n"
                                 "mx: backupmx.example.com\n"
                                 "max_age: 604800\n";

/* What *out starts as, so that a missing "*out = NULL" shows. Never
 * dereferenced. */
static max_align_t out_sentinel;
#define NOT_WRITTEN ((mtasts_policy *)&out_sentinel)

/* ---- a growing text buffer for built policies ---------------------------- */

struct buf {
    char *data;
    size_t len;
    size_t cap;
};

static void
buf_add(struct buf *b, const char *s, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap != 0 ? b->cap : 256;
        while (cap < b->len + n) {
            cap *= 2;
        }
        char *grown = realloc(b->data, cap);
        ck_assert_ptr_nonnull(grown);
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

static void
buf_str(struct buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

static void
buf_fill(struct buf *b, char c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        buf_add(b, &c, 1);
    }
}

static void
buf_free(struct buf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

/* ---- rendering a policy as a table expectation -------------------------- */

static void
append(char *out, size_t size, size_t *o, const char *s)
{
    size_t n = strlen(s);
    ck_assert_msg(*o + n < size, "rendered policy longer than %zu bytes", size);
    memcpy(out + *o, s, n + 1);
    *o += n;
}

/* "mode=M;max_age=N;mx=P1,P2;warn=W", the form of an OK row's expectation. */
static void
render(const mtasts_policy *p, char *out, size_t size)
{
    char num[32];
    size_t o = 0;
    out[0] = '\0';
    append(out, size, &o, "mode=");
    append(out, size, &o, mtasts_mode_name(mtasts_policy_mode(p)));
    snprintf(num, sizeof(num), "%" PRIu32, mtasts_policy_max_age(p));
    append(out, size, &o, ";max_age=");
    append(out, size, &o, num);
    append(out, size, &o, ";mx=");
    for (size_t i = 0; i < mtasts_policy_mx_count(p); i++) {
        const char *mx = mtasts_policy_mx(p, i);
        ck_assert_ptr_nonnull(mx);
        if (i > 0) {
            append(out, size, &o, ",");
        }
        append(out, size, &o, mx);
    }
    append(out, size, &o, ";warn=");
    uint32_t w = mtasts_policy_warnings(p);
    if (w == 0) {
        append(out, size, &o, "0");
    }
    const char *sep = "";
    if ((w & MTASTS_POLICY_WARN_MAX_AGE_CLAMPED) != 0) {
        append(out, size, &o, "clamped");
        sep = "+";
    }
    if ((w & MTASTS_POLICY_WARN_TRAILING_EMPTY_LINES) != 0) {
        append(out, size, &o, sep);
        append(out, size, &o, "trailing");
        sep = "+";
    }
    w &= ~(MTASTS_POLICY_WARN_MAX_AGE_CLAMPED |
           MTASTS_POLICY_WARN_TRAILING_EMPTY_LINES);
    if (w != 0) {
        snprintf(num, sizeof(num), "%s0x%" PRIx32, sep, w);
        append(out, size, &o, num);
    }
}

/* Line and column (1-based, column in bytes) of text[off], counted here
 * apart from the library. */
static void
position_of(const char *text, size_t off, size_t *line, size_t *column)
{
    size_t l = 1;
    size_t start = 0;
    for (size_t i = 0; i < off; i++) {
        if (text[i] == '\n') {
            l++;
            start = i + 1;
        }
    }
    *line = l;
    *column = off - start + 1;
}

/* Every pattern of a parsed policy matches a host built from it
 * (R8461-4.1-a, -b): the pattern itself, or "x" in place of the "*". */
static void
check_patterns_match(const mtasts_policy *p, const char *what)
{
    for (size_t i = 0; i < mtasts_policy_mx_count(p); i++) {
        const char *mx = mtasts_policy_mx(p, i);
        char host[MTASTS_DOMAIN_BUFSIZE + 2];
        snprintf(host, sizeof(host), "%s%s", mx[0] == '*' ? "x" : "",
                 mx[0] == '*' ? mx + 1 : mx);
        ck_assert_msg(mtasts_policy_match_mx(p, host),
                      "%s: pattern %zu \"%s\" does not match \"%s\"", what, i,
                      mx, host);
    }
}

/* ---- policy_cases.tsv ---------------------------------------------------- */

struct expect {
    int status;
    size_t pad;         /* fill the input up to this many bytes; 0: no */
    const char *fields; /* OK: the rendered policy */
    size_t line;        /* SYNTAX: where */
    size_t column;
    const char *msg; /* SYNTAX: a piece of the message ("" for any) */
};

static size_t
parse_number(const struct td_row *r, const char **s)
{
    char *end = NULL;
    unsigned long long v = strtoull(*s, &end, 10);
    ck_assert_msg(end != *s, ROW "bad number in \"%s\"",
                  ROW_ARGS(&policy_table, r), r->field[F_EXPECT]);
    *s = end;
    return (size_t)v;
}

static bool
skip_prefix(const char **s, const char *prefix)
{
    size_t n = strlen(prefix);
    if (strncmp(*s, prefix, n) != 0) {
        return false;
    }
    *s += n;
    return true;
}

static void
row_expect(const struct td_row *r, struct expect *e)
{
    const char *want = r->field[F_WANT];
    const char *s = r->field[F_EXPECT];
    memset(e, 0, sizeof(*e));
    e->msg = "";
    if (strcmp(want, "OK") == 0) {
        e->status = MTASTS_OK;
    } else if (strcmp(want, "SYNTAX") == 0) {
        e->status = MTASTS_ERR_SYNTAX;
    } else if (strcmp(want, "TOO_LARGE") == 0) {
        e->status = MTASTS_ERR_TOO_LARGE;
    } else {
        ck_abort_msg(ROW "want must be OK, SYNTAX or TOO_LARGE, not \"%s\"",
                     ROW_ARGS(&policy_table, r), want);
    }
    if (skip_prefix(&s, "pad=")) {
        e->pad = parse_number(r, &s);
        ck_assert_msg(*s == '\0' || *s == ';',
                      ROW "bad pad=", ROW_ARGS(&policy_table, r));
        s += *s == ';';
    }
    switch (e->status) {
    case MTASTS_OK:
        ck_assert_msg(strncmp(s, "mode=", 5) == 0,
                      ROW "OK needs mode=...;max_age=...;mx=...;warn=...",
                      ROW_ARGS(&policy_table, r));
        e->fields = s;
        break;
    case MTASTS_ERR_SYNTAX:
        ck_assert_msg(skip_prefix(&s, "at="), ROW "SYNTAX needs at=LINE:COL",
                      ROW_ARGS(&policy_table, r));
        e->line = parse_number(r, &s);
        ck_assert_msg(*s == ':', ROW "SYNTAX needs at=LINE:COL",
                      ROW_ARGS(&policy_table, r));
        s++;
        e->column = parse_number(r, &s);
        ck_assert_msg(e->line > 0 && e->column > 0, ROW "positions are 1-based",
                      ROW_ARGS(&policy_table, r));
        if (*s != '\0') {
            ck_assert_msg(skip_prefix(&s, ";msg="),
                          ROW "after at=LINE:COL only ;msg=TEXT",
                          ROW_ARGS(&policy_table, r));
            e->msg = s;
        }
        break;
    default:
        ck_assert_msg(*s == '\0', ROW "TOO_LARGE takes no expectation",
                      ROW_ARGS(&policy_table, r));
        break;
    }
}

/* The row's input as an exact heap copy, filled up to e->pad bytes. */
static char *
row_input(const struct td_row *r, const struct expect *e, size_t *len)
{
    size_t n = r->len[F_INPUT];
    if (e->pad == 0) {
        *len = n;
        return td_exact_copy(r->field[F_INPUT], n);
    }
    ck_assert_msg(e->pad >= n, ROW "pad= below the input length",
                  ROW_ARGS(&policy_table, r));
    char *p = malloc(e->pad);
    ck_assert_ptr_nonnull(p);
    memcpy(p, r->field[F_INPUT], n);
    memset(p + n, 'a', e->pad - n);
    *len = e->pad;
    return p;
}

/* The same text with every LF turned into CRLF (the input has no CR). */
static char *
to_crlf(const char *text, size_t len, size_t *len_out)
{
    size_t n = 0;
    char *p = malloc(2 * len + 1);
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\n') {
            p[n++] = '\r';
        }
        p[n++] = text[i];
    }
    *len_out = n;
    char *exact = td_exact_copy(p, n);
    free(p);
    return exact;
}

/* Parse text as the row says, with and without an err struct. */
static void
check_parse(const struct td_row *r, const struct expect *e, const char *text,
            size_t len, const char *variant)
{
    mtasts_policy *p = NOT_WRITTEN;
    mtasts_parse_error err;
    err_poison(&err);
    int rc = mtasts_policy_parse(text, len, &p, &err);
    ck_assert_msg(rc == e->status, ROW "%sgave %s, want %s (%zu:%zu: %s)",
                  ROW_ARGS(&policy_table, r), variant, mtasts_status_name(rc),
                  mtasts_status_name(e->status), err.line, err.column,
                  err.message != NULL ? err.message : "no message");
    char got[1024];
    if (rc == MTASTS_OK) {
        ck_assert_msg(p != NULL && p != NOT_WRITTEN, ROW "%sno policy",
                      ROW_ARGS(&policy_table, r), variant);
        render(p, got, sizeof(got));
        ck_assert_msg(strcmp(got, e->fields) == 0,
                      ROW "%sgot\n    %s\nwant\n    %s",
                      ROW_ARGS(&policy_table, r), variant, got, e->fields);
        size_t tlen = 12345;
        const char *t = mtasts_policy_text(p, &tlen);
        ck_assert_msg(t != NULL && tlen == len && memcmp(t, text, len) == 0 &&
                          t[len] == '\0',
                      ROW "%spolicy text is not the input",
                      ROW_ARGS(&policy_table, r), variant);
        ck_assert_ptr_null(mtasts_policy_mx(p, mtasts_policy_mx_count(p)));
        check_patterns_match(p, r->field[F_REF]);
        ck_assert_msg(err.line == 0 && err.column == 0 && err.offset == 0 &&
                          err.message == NULL,
                      ROW "%serr not cleared on success",
                      ROW_ARGS(&policy_table, r), variant);
        mtasts_policy_unref(p);
    } else if (rc == MTASTS_ERR_SYNTAX) {
        ck_assert_msg(p == NULL, ROW "%s*out not NULL on error",
                      ROW_ARGS(&policy_table, r), variant);
        ck_assert_msg(err.message != NULL && err.message != poison_message &&
                          err.message[0] != '\0',
                      ROW "%sno error message", ROW_ARGS(&policy_table, r),
                      variant);
        ck_assert_msg(err.line == e->line && err.column == e->column,
                      ROW "%serror at %zu:%zu, want %zu:%zu (\"%s\")",
                      ROW_ARGS(&policy_table, r), variant, err.line, err.column,
                      e->line, e->column, err.message);
        ck_assert_msg(err.offset <= len, ROW "%soffset %zu past the end",
                      ROW_ARGS(&policy_table, r), variant, err.offset);
        size_t line, column;
        position_of(text, err.offset, &line, &column);
        ck_assert_msg(line == err.line && column == err.column,
                      ROW "%soffset %zu is %zu:%zu, not %zu:%zu",
                      ROW_ARGS(&policy_table, r), variant, err.offset, line,
                      column, err.line, err.column);
        ck_assert_msg(strstr(err.message, e->msg) != NULL,
                      ROW "%smessage \"%s\" lacks \"%s\"",
                      ROW_ARGS(&policy_table, r), variant, err.message, e->msg);
    } else {
        ck_assert_msg(p == NULL, ROW "%s*out not NULL on error",
                      ROW_ARGS(&policy_table, r), variant);
        ck_assert_msg(err.line == 0 && err.column == 0 && err.offset == 0 &&
                          err.message != NULL && err.message != poison_message,
                      ROW "%sa size error has a message and no position",
                      ROW_ARGS(&policy_table, r), variant);
    }

    /* err may be NULL: same status, same policy */
    p = NOT_WRITTEN;
    rc = mtasts_policy_parse(text, len, &p, NULL);
    ck_assert_msg(rc == e->status, ROW "%s(err NULL) gave %s",
                  ROW_ARGS(&policy_table, r), variant, mtasts_status_name(rc));
    if (rc == MTASTS_OK) {
        render(p, got, sizeof(got));
        ck_assert_msg(strcmp(got, e->fields) == 0, ROW "%s(err NULL) got %s",
                      ROW_ARGS(&policy_table, r), variant, got);
        mtasts_policy_unref(p);
    } else {
        ck_assert_msg(p == NULL, ROW "%s(err NULL) *out not NULL",
                      ROW_ARGS(&policy_table, r), variant);
    }
}

static void
run_row(size_t idx)
{
    const struct td_row *r = &policy_table.row[idx];
    struct expect e;
    row_expect(r, &e);
    size_t len;
    char *text = row_input(r, &e, &len);
    check_parse(r, &e, text, len, "");
    /* R8461-3.2-d: CRLF line ends give the same result as LF */
    if (e.pad == 0 && memchr(text, '\r', len) == NULL &&
        memchr(text, '\n', len) != NULL) {
        size_t clen;
        char *crlf = to_crlf(text, len, &clen);
        check_parse(r, &e, crlf, clen, "with CRLF: ");
        free(crlf);
    }
    free(text);
}

START_TEST(test_policy_syntax_table)
{
    run_row(group_rows[G_SYNTAX][_i]);
}
END_TEST

START_TEST(test_policy_fields_table)
{
    run_row(group_rows[G_FIELDS][_i]);
}
END_TEST

START_TEST(test_policy_limits_table)
{
    run_row(group_rows[G_LIMITS][_i]);
}
END_TEST

/* Each parse rule of RFC 8461 §3.2 (CHECKLIST B.4) and each golden policy
 * of part D, with LF and with CRLF, has rows in the table. */
START_TEST(test_policy_table_coverage)
{
    static const char *const ids[] = {
        "D",           "R8461-3.2-d", "R8461-3.2-e", "R8461-3.2-f",
        "R8461-3.2-g", "R8461-3.2-h", "R8461-3.2-i", "R8461-3.2-j",
        "R8461-3.2-k", "R8461-3.2-l", "R8461-3.2-m", "R8461-3.2-n",
        "R8461-3.2-o", "R8461-3.2-p", "R8461-3.2-q", "R8461-3.2-r",
        "E-6",         "E-8",         "R8461-3.3-k",
    };
    static const char *const golden[] = {
        "mode=enforce;max_age=604800;mx=mail.example.com,*.example.net,"
        "backupmx.example.com;warn=0",
        "mode=testing;max_age=1296000;mx=mx1.example.com,mx2.example.com,"
        "mx.backup-example.com;warn=0",
    };
    for (size_t i = 0; i < ARRAY_LEN(ids); i++) {
        size_t rows = 0;
        for (size_t k = 0; k < policy_table.nrows; k++) {
            if (strcmp(policy_table.row[k].field[F_REF], ids[i]) == 0) {
                rows++;
            }
        }
        ck_assert_msg(rows > 0, "no row for %s", ids[i]);
    }
    for (size_t g = 0; g < ARRAY_LEN(golden); g++) {
        bool lf = false, crlf = false;
        for (size_t k = 0; k < policy_table.nrows; k++) {
            const struct td_row *r = &policy_table.row[k];
            if (strcmp(r->field[F_REF], "D") != 0 ||
                strcmp(r->field[F_EXPECT], golden[g]) != 0) {
                continue;
            }
            if (strstr(r->field[F_INPUT], "\r\n") != NULL) {
                crlf = true;
            } else {
                lf = true;
            }
        }
        ck_assert_msg(lf && crlf, "golden policy %zu lacks an LF or CRLF row",
                      g);
    }
}
END_TEST

/* ---- errors -------------------------------------------------------------- */

/* MTASTS_ERR_INVALID: out NULL, or text NULL with len > 0; *out is NULL and
 * err has a message but no position. Misuse is checked before the size. */
START_TEST(test_policy_invalid_args)
{
    mtasts_parse_error err;
    mtasts_policy *p;

    err_poison(&err);
    ck_assert_int_eq(
        mtasts_policy_parse(base_policy, strlen(base_policy), NULL, &err),
        MTASTS_ERR_INVALID);
    ck_assert_uint_eq(err.line, 0);
    ck_assert_uint_eq(err.column, 0);
    ck_assert_uint_eq(err.offset, 0);
    ck_assert_ptr_nonnull(err.message);
    ck_assert_ptr_ne(err.message, poison_message);

    err_poison(&err);
    p = NOT_WRITTEN;
    ck_assert_int_eq(mtasts_policy_parse(NULL, 5, &p, &err),
                     MTASTS_ERR_INVALID);
    ck_assert_ptr_null(p);
    ck_assert_uint_eq(err.line, 0);
    ck_assert_uint_eq(err.column, 0);
    ck_assert_uint_eq(err.offset, 0);
    ck_assert_ptr_nonnull(err.message);
    ck_assert_ptr_ne(err.message, poison_message);

    p = NOT_WRITTEN;
    ck_assert_int_eq(mtasts_policy_parse(NULL, MTASTS_POLICY_MAX + 1, &p, NULL),
                     MTASTS_ERR_INVALID);
    ck_assert_ptr_null(p);
    ck_assert_int_eq(mtasts_policy_parse(NULL, 5, NULL, NULL),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_policy_parse(NULL, 0, NULL, NULL),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(
        mtasts_policy_parse(base_policy, strlen(base_policy), NULL, NULL),
        MTASTS_ERR_INVALID);
}
END_TEST

/* text NULL with len 0 is the empty policy: a syntax error at 1:1, as is
 * any text with len 0 (only len bytes are read). */
START_TEST(test_policy_empty_text)
{
    const char *const texts[] = {NULL, "", base_policy};
    for (size_t i = 0; i < ARRAY_LEN(texts); i++) {
        mtasts_parse_error err;
        mtasts_policy *p = NOT_WRITTEN;
        err_poison(&err);
        ck_assert_int_eq(mtasts_policy_parse(texts[i], 0, &p, &err),
                         MTASTS_ERR_SYNTAX);
        ck_assert_ptr_null(p);
        ck_assert_uint_eq(err.line, 1);
        ck_assert_uint_eq(err.column, 1);
        ck_assert_uint_eq(err.offset, 0);
        ck_assert_ptr_nonnull(err.message);
        ck_assert_str_eq(err.message, "empty policy");
        p = NOT_WRITTEN;
        ck_assert_int_eq(mtasts_policy_parse(texts[i], 0, &p, NULL),
                         MTASTS_ERR_SYNTAX);
        ck_assert_ptr_null(p);
    }
}
END_TEST

/* MTASTS_ERR_TOO_LARGE: above 65536 bytes nothing is parsed (and nothing
 * past the limit is read: a huge len with a short buffer is safe). */
START_TEST(test_policy_too_large)
{
    struct buf b = {0};
    buf_str(&b, base_policy);
    buf_str(&b, "x: ");
    buf_fill(&b, 'v', MTASTS_POLICY_MAX + 1 - b.len);
    ck_assert_uint_eq(b.len, 65537);
    char *text = td_exact_copy(b.data, b.len);
    buf_free(&b);

    mtasts_parse_error err;
    mtasts_policy *p = NOT_WRITTEN;
    err_poison(&err);
    ck_assert_int_eq(mtasts_policy_parse(text, 65537, &p, &err),
                     MTASTS_ERR_TOO_LARGE);
    ck_assert_ptr_null(p);
    ck_assert_uint_eq(err.line, 0);
    ck_assert_uint_eq(err.column, 0);
    ck_assert_uint_eq(err.offset, 0);
    ck_assert_ptr_nonnull(err.message);
    ck_assert_ptr_ne(err.message, poison_message);

    /* one byte less is fine */
    ck_assert_int_eq(mtasts_policy_parse(text, 65536, &p, &err), MTASTS_OK);
    mtasts_policy_unref(p);

    p = NOT_WRITTEN;
    ck_assert_int_eq(mtasts_policy_parse(text, 65537, &p, NULL),
                     MTASTS_ERR_TOO_LARGE);
    ck_assert_ptr_null(p);
    free(text);

    static const char shorty[] = "version: STSv1\n";
    p = NOT_WRITTEN;
    ck_assert_int_eq(mtasts_policy_parse(shorty, SIZE_MAX, &p, NULL),
                     MTASTS_ERR_TOO_LARGE);
    ck_assert_ptr_null(p);
}
END_TEST

/* err == NULL works for every status. */
START_TEST(test_policy_err_null)
{
    static const char bad[] = "version: STSv2\n";
    mtasts_policy *p = NOT_WRITTEN;

    ck_assert_int_eq(mtasts_policy_parse(bad, strlen(bad), &p, NULL),
                     MTASTS_ERR_SYNTAX);
    ck_assert_ptr_null(p);
    ck_assert_int_eq(mtasts_policy_parse(NULL, 1, &p, NULL),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(
        mtasts_policy_parse(base_policy, MTASTS_POLICY_MAX + 1, &p, NULL),
        MTASTS_ERR_TOO_LARGE);
    failalloc_start(1);
    p = NOT_WRITTEN;
    int rc = mtasts_policy_parse(base_policy, strlen(base_policy), &p, NULL);
    long live = failalloc_live();
    failalloc_stop();
    ck_assert_int_eq(rc, MTASTS_ERR_NOMEM);
    ck_assert_ptr_null(p);
    ck_assert_int_eq(live, 0);
    ck_assert_int_eq(
        mtasts_policy_parse(base_policy, strlen(base_policy), &p, NULL),
        MTASTS_OK);
    ck_assert_ptr_nonnull(p);
    mtasts_policy_unref(p);
}
END_TEST

/* An err struct from a caller built against a smaller mtasts_parse_error:
 * only the members that fit inside err->size are written (STYLE.md §6). */
START_TEST(test_policy_err_size)
{
    static const char bad[] = "version: STSv1\nmode : enforce\n"; /* 2:5 */
    static const size_t sizes[] = {
        0,
        offsetof(mtasts_parse_error, line),
        offsetof(mtasts_parse_error, column),
        offsetof(mtasts_parse_error, offset),
        offsetof(mtasts_parse_error, message),
        offsetof(mtasts_parse_error, message) + sizeof(const char *) - 1,
        sizeof(mtasts_parse_error),
    };
    /* what a full struct gets: syntax error, success, misuse */
    const struct {
        const char *text;
        size_t len;
        bool out;
        size_t line, column, offset;
        bool message;
    } calls[] = {
        {bad, strlen(bad), true, 2, 5, 19, true},
        {base_policy, strlen(base_policy), true, 0, 0, 0, false},
        {base_policy, strlen(base_policy), false, 0, 0, 0, true},
        {base_policy, MTASTS_POLICY_MAX + 1, true, 0, 0, 0, true},
    };
    for (size_t c = 0; c < ARRAY_LEN(calls); c++) {
        for (size_t s = 0; s < ARRAY_LEN(sizes); s++) {
            size_t size = sizes[s];
            mtasts_parse_error err;
            unsigned char sentinel[sizeof(err)];
            memset(&err, 0xa5, sizeof(err));
            memset(sentinel, 0xa5, sizeof(sentinel));
            err.size = size;
            mtasts_policy *p = NULL;
            (void)mtasts_policy_parse(calls[c].text, calls[c].len,
                                      calls[c].out ? &p : NULL, &err);
            mtasts_policy_unref(p);
            ck_assert_uint_eq(err.size, size);
            /* every byte from the first member that does not fit on is
             * untouched */
            size_t fits = sizeof(size_t);
            static const size_t ends[] = {
                offsetof(mtasts_parse_error, line) + sizeof(size_t),
                offsetof(mtasts_parse_error, column) + sizeof(size_t),
                offsetof(mtasts_parse_error, offset) + sizeof(size_t),
                offsetof(mtasts_parse_error, message) + sizeof(const char *),
            };
            for (size_t m = 0; m < ARRAY_LEN(ends) && ends[m] <= size; m++) {
                fits = ends[m];
            }
            ck_assert_msg(memcmp((unsigned char *)&err + fits, sentinel + fits,
                                 sizeof(err) - fits) == 0,
                          "call %zu, size %zu: a member past size written", c,
                          size);
            if (fits >= ends[0]) {
                ck_assert_uint_eq(err.line, calls[c].line);
            }
            if (fits >= ends[1]) {
                ck_assert_uint_eq(err.column, calls[c].column);
            }
            if (fits >= ends[2]) {
                ck_assert_uint_eq(err.offset, calls[c].offset);
            }
            if (fits >= ends[3]) {
                ck_assert(calls[c].message ? err.message != NULL
                                           : err.message == NULL);
            }
        }
    }
}
END_TEST

/* A newer caller's larger struct: the library writes only the members it
 * knows, nothing after them. */
START_TEST(test_policy_err_larger)
{
    struct {
        mtasts_parse_error err;
        size_t future;
    } big;
    static const char bad[] = "mode: bogus\n";
    memset(&big, 0xa5, sizeof(big));
    big.err.size = sizeof(big);
    mtasts_policy *p = NOT_WRITTEN;
    ck_assert_int_eq(mtasts_policy_parse(bad, strlen(bad), &p, &big.err),
                     MTASTS_ERR_SYNTAX);
    ck_assert_ptr_null(p);
    ck_assert_uint_eq(big.err.line, 1);
    ck_assert_uint_eq(big.err.column, 7);
    ck_assert_uint_eq(big.err.offset, 6);
    size_t sentinel;
    memset(&sentinel, 0xa5, sizeof(sentinel));
    ck_assert_uint_eq(big.future, sentinel);
}
END_TEST

/* The same struct used again: success clears what a failure left, and a
 * failure after a success fills it in. */
START_TEST(test_policy_err_reuse)
{
    static const char bad[] = "version: STSv1\nmode: enforce\nmode: bogus\n";
    mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
    mtasts_policy *p = NOT_WRITTEN;

    ck_assert_int_eq(mtasts_policy_parse(bad, strlen(bad), &p, &err),
                     MTASTS_ERR_SYNTAX);
    ck_assert_uint_eq(err.line, 3);
    ck_assert_uint_eq(err.column, 7);
    ck_assert_uint_eq(err.offset, 35);
    ck_assert_ptr_nonnull(err.message);

    ck_assert_int_eq(
        mtasts_policy_parse(base_policy, strlen(base_policy), &p, &err),
        MTASTS_OK);
    ck_assert_uint_eq(err.line, 0);
    ck_assert_uint_eq(err.column, 0);
    ck_assert_uint_eq(err.offset, 0);
    ck_assert_ptr_null(err.message);
    mtasts_policy_unref(p);

    ck_assert_int_eq(mtasts_policy_parse(bad, strlen(bad), &p, &err),
                     MTASTS_ERR_SYNTAX);
    ck_assert_uint_eq(err.line, 3);
    ck_assert_ptr_null(p);
}
END_TEST

/* ---- limits -------------------------------------------------------------- */

/* R8461-3.3-k: a valid policy of exactly 65536 bytes (one long extension
 * value) parses and keeps all its bytes; one byte more is too large. An
 * error in the last byte is reported at its column. */
START_TEST(test_policy_size_limit)
{
    struct buf b = {0};
    buf_str(&b, base_policy);
    buf_str(&b, "x: ");
    size_t value_at = b.len;
    buf_fill(&b, 'v', MTASTS_POLICY_MAX - 1 - b.len);
    buf_str(&b, "\n");
    buf_str(&b, "\n"); /* the 65537th byte */
    ck_assert_uint_eq(b.len, MTASTS_POLICY_MAX + 1);
    char *text = td_exact_copy(b.data, b.len);
    buf_free(&b);

    mtasts_policy *p = NOT_WRITTEN;
    mtasts_parse_error err;
    err_poison(&err);
    ck_assert_int_eq(mtasts_policy_parse(text, MTASTS_POLICY_MAX, &p, &err),
                     MTASTS_OK);
    ck_assert_ptr_null(err.message);
    size_t len = 0;
    const char *t = mtasts_policy_text(p, &len);
    ck_assert_uint_eq(len, MTASTS_POLICY_MAX);
    ck_assert_int_eq(memcmp(t, text, len), 0);
    ck_assert_int_eq(t[len], '\0');
    ck_assert_uint_eq(mtasts_policy_warnings(p), 0);
    mtasts_policy_unref(p);

    /* with the second LF it would be valid too, but it is one byte over */
    ck_assert_int_eq(mtasts_policy_parse(text, MTASTS_POLICY_MAX + 1, &p, &err),
                     MTASTS_ERR_TOO_LARGE);
    ck_assert_ptr_null(p);

    /* a control byte at the very end of the 65536 */
    text[MTASTS_POLICY_MAX - 1] = '\x01';
    err_poison(&err);
    ck_assert_int_eq(mtasts_policy_parse(text, MTASTS_POLICY_MAX, &p, &err),
                     MTASTS_ERR_SYNTAX);
    ck_assert_ptr_null(p);
    ck_assert_uint_eq(err.line, 5);
    /* line 5 begins 3 bytes before value_at */
    ck_assert_uint_eq(err.column, MTASTS_POLICY_MAX - 1 - (value_at - 3) + 1);
    ck_assert_uint_eq(err.offset, MTASTS_POLICY_MAX - 1);
    free(text);
}
END_TEST

/* Only len bytes are read: what follows in the caller's buffer does not
 * count and is not copied. */
START_TEST(test_policy_length_bounds)
{
    struct buf b = {0};
    buf_str(&b, base_policy);
    buf_str(&b, "mode: bogus\x01");
    char *text = td_exact_copy(b.data, b.len);
    size_t n = strlen(base_policy);
    buf_free(&b);

    mtasts_policy *p = NULL;
    ck_assert_int_eq(mtasts_policy_parse(text, n, &p, NULL), MTASTS_OK);
    size_t len = 0;
    ck_assert_int_eq(memcmp(mtasts_policy_text(p, &len), base_policy, n), 0);
    ck_assert_uint_eq(len, n);
    mtasts_policy_unref(p);

    /* without the final LF */
    ck_assert_int_eq(mtasts_policy_parse(text, n - 1, &p, NULL), MTASTS_OK);
    ck_assert_uint_eq(mtasts_policy_max_age(p), 86400);
    mtasts_policy_unref(p);

    /* "max_age: 864" */
    ck_assert_int_eq(mtasts_policy_parse(text, n - 3, &p, NULL), MTASTS_OK);
    ck_assert_uint_eq(mtasts_policy_max_age(p), 864);
    mtasts_policy_unref(p);

    /* cut after "max_age: ": the value is empty */
    mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
    ck_assert_int_eq(mtasts_policy_parse(text, n - 6, &p, &err),
                     MTASTS_ERR_SYNTAX);
    ck_assert_ptr_null(p);
    ck_assert_uint_eq(err.line, 4);
    ck_assert_uint_eq(err.column, 10);
    ck_assert_str_eq(err.message, "empty value");
    free(text);
}
END_TEST

/* Line numbers stay right over thousands of lines, LF and CRLF alike. */
START_TEST(test_policy_many_lines)
{
    for (int crlf = 0; crlf < 2; crlf++) {
        const char *eol = crlf ? "\r\n" : "\n";
        struct buf b = {0};
        buf_str(&b, "version: STSv1");
        buf_str(&b, eol);
        buf_str(&b, "mode: none");
        buf_str(&b, eol);
        buf_str(&b, "max_age: 1");
        buf_str(&b, eol);
        for (int i = 0; i < 5000; i++) {
            buf_str(&b, "x: 1");
            buf_str(&b, eol);
        }
        char *text = td_exact_copy(b.data, b.len);
        mtasts_policy *p = NULL;
        ck_assert_int_eq(mtasts_policy_parse(text, b.len, &p, NULL), MTASTS_OK);
        ck_assert_int_eq(mtasts_policy_mode(p), MTASTS_MODE_NONE);
        mtasts_policy_unref(p);
        free(text);

        buf_str(&b, "x:  a\tb");
        text = td_exact_copy(b.data, b.len);
        mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
        ck_assert_int_eq(mtasts_policy_parse(text, b.len, &p, &err),
                         MTASTS_ERR_SYNTAX);
        ck_assert_uint_eq(err.line, 5004);
        ck_assert_uint_eq(err.column, 6);
        ck_assert_uint_eq(err.offset, b.len - 2);
        free(text);
        buf_free(&b);
    }
}
END_TEST

/* A policy with n mx lines "mx: mxI.example" (I from 0). */
static char *
many_mx_policy(size_t n, size_t *len)
{
    struct buf b = {0};
    buf_str(&b, "version: STSv1\nmode: enforce\nmax_age: 86400\n");
    for (size_t i = 0; i < n; i++) {
        char line[64];
        snprintf(line, sizeof(line), "mx: MX%zu.Example\n", i);
        buf_str(&b, line);
    }
    char *text = td_exact_copy(b.data, b.len);
    *len = b.len;
    buf_free(&b);
    return text;
}

/* Each mx line adds one pattern, in order (R8461-3.2-p), across the 16
 * kept on the stack and every growth of the heap array after them. */
START_TEST(test_policy_many_mx)
{
    static const size_t counts[] = {1,  15, 16, 17,  31,   32,  33,
                                    40, 64, 65, 129, 1000, 3000};
    for (size_t c = 0; c < ARRAY_LEN(counts); c++) {
        size_t n = counts[c];
        size_t len;
        char *text = many_mx_policy(n, &len);
        mtasts_policy *p = NULL;
        ck_assert_int_eq(mtasts_policy_parse(text, len, &p, NULL), MTASTS_OK);
        ck_assert_uint_eq(mtasts_policy_mx_count(p), n);
        for (size_t i = 0; i < n; i++) {
            char want[64];
            snprintf(want, sizeof(want), "mx%zu.example", i);
            ck_assert_str_eq(mtasts_policy_mx(p, i), want);
        }
        ck_assert_ptr_null(mtasts_policy_mx(p, n));
        char host[64];
        snprintf(host, sizeof(host), "MX%zu.example.", n - 1);
        ck_assert(mtasts_policy_match_mx(p, host));
        snprintf(host, sizeof(host), "mx%zu.example", n);
        ck_assert(!mtasts_policy_match_mx(p, host));
        mtasts_policy_unref(p);
        free(text);
    }
}
END_TEST

/* As many mx lines as fit in 64 KiB ("mx: a\n", 6 bytes each). */
START_TEST(test_policy_mx_fill_64k)
{
    struct buf b = {0};
    buf_str(&b, "version: STSv1\nmode: testing\nmax_age: 1\n");
    size_t n = 0;
    while (b.len + 6 <= MTASTS_POLICY_MAX) {
        buf_str(&b, "mx: a\n");
        n++;
    }
    char *text = td_exact_copy(b.data, b.len);
    mtasts_policy *p = NULL;
    ck_assert_int_eq(mtasts_policy_parse(text, b.len, &p, NULL), MTASTS_OK);
    ck_assert_uint_eq(mtasts_policy_mx_count(p), n);
    ck_assert_str_eq(mtasts_policy_mx(p, n - 1), "a");
    ck_assert(mtasts_policy_match_mx(p, "A"));
    mtasts_policy_unref(p);
    free(text);
    buf_free(&b);
}
END_TEST

/* R8461-3.3-k, R8461-3.2-l: 64 KiB of long mx patterns ("*." and 251
 * bytes, each distinct, so that a host under one is a valid 253-byte
 * name): the names, lower-cased, fill almost all of the 64 KiB that a
 * cached policy's narrow name offsets can address (lib/parse/policy.h),
 * and every one reads back whole and matches. */
START_TEST(test_policy_mx_fill_longest)
{
    struct buf b = {0};
    buf_str(&b, "version: STSv1\nmode: enforce\nmax_age: 1\n");
    char name[254];
    size_t n = 0;
    while (b.len + 4 + 253 + 1 <= MTASTS_POLICY_MAX) {
        /* "*." then labels of 63, 63, 63 and 59 bytes: 251 in all; the
         * first label spells n in upper-case letters (base 26) */
        size_t o = 0;
        name[o++] = '*';
        name[o++] = '.';
        static const size_t labels[] = {63, 63, 63, 59};
        for (size_t l = 0; l < 4; l++) {
            memset(name + o, 'Q', labels[l]);
            if (l == 0) {
                name[o] = (char)('A' + n % 26);
                name[o + 1] = (char)('A' + n / 26 % 26);
            }
            o += labels[l];
            name[o++] = l < 3 ? '.' : '\0';
        }
        ck_assert_uint_eq(strlen(name), 253);
        buf_str(&b, "mx: ");
        buf_str(&b, name);
        buf_str(&b, "\n");
        n++;
    }
    char *text = td_exact_copy(b.data, b.len);
    mtasts_policy *p = NULL;
    ck_assert_int_eq(mtasts_policy_parse(text, b.len, &p, NULL), MTASTS_OK);
    ck_assert_uint_eq(mtasts_policy_mx_count(p), n);
    ck_assert_uint_gt(n * 254, 60000); /* the names' offsets reach past 60000 */
    size_t tlen = 0;
    ck_assert_mem_eq(mtasts_policy_text(p, &tlen), text, b.len);
    ck_assert_uint_eq(tlen, b.len);
    for (size_t i = 0; i < n; i++) {
        const char *mx = mtasts_policy_mx(p, i);
        ck_assert_uint_eq(strlen(mx), 253);
        ck_assert_int_eq(mx[2], 'a' + (int)(i % 26));
        ck_assert_int_eq(mx[3], 'a' + (int)(i / 26 % 26));
        ck_assert_int_eq(mx[252], 'q');
    }
    /* a host under the last pattern matches, in any case */
    const char *last = mtasts_policy_mx(p, n - 1);
    char host[260];
    snprintf(host, sizeof(host), "M%s", last + 1);
    ck_assert_uint_eq(strlen(host), 253);
    ck_assert(mtasts_policy_match_mx(p, host));
    host[2 + 10] = 'r'; /* valid, but under no pattern */
    ck_assert(!mtasts_policy_match_mx(p, host));
    mtasts_policy_unref(p);
    free(text);
    buf_free(&b);
}
END_TEST

/* R8461-3.2-l: the Domain of an mx is at most 253 bytes after "*.", its
 * labels at most 63 (RFC 1035 limits, docs/policy.md). */
START_TEST(test_policy_mx_lengths)
{
    static const struct {
        const char *prefix;
        size_t name_len;
        bool ok;
        size_t column; /* of the error, on line 3 */
    } cases[] = {
        {"", 253, true, 0},
        {"", 254, false, 5 + 253},
        {"*.", 253, true, 0},
        {"*.", 254, false, 7 + 253},
    };
    for (size_t c = 0; c < ARRAY_LEN(cases); c++) {
        /* labels of 63 with one shorter label at the end */
        char name[300];
        size_t o = 0;
        while (o < cases[c].name_len) {
            size_t left = cases[c].name_len - o;
            size_t k = left > 63 ? 63 : left;
            if (left > 63 && left - 63 < 2) {
                k = 61;
            }
            memset(name + o, (int)('a' + o % 26), k);
            o += k;
            if (o < cases[c].name_len) {
                name[o++] = '.';
            }
        }
        name[o] = '\0';
        ck_assert_uint_eq(strlen(name), cases[c].name_len);

        struct buf b = {0};
        buf_str(&b, "version: STSv1\nmode: enforce\nmx: ");
        buf_str(&b, cases[c].prefix);
        buf_str(&b, name);
        buf_str(&b, "\nmax_age: 1\n");
        char *text = td_exact_copy(b.data, b.len);
        mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
        mtasts_policy *p = NULL;
        int rc = mtasts_policy_parse(text, b.len, &p, &err);
        if (cases[c].ok) {
            ck_assert_int_eq(rc, MTASTS_OK);
            ck_assert_uint_eq(strlen(mtasts_policy_mx(p, 0)),
                              strlen(cases[c].prefix) + cases[c].name_len);
            if (cases[c].prefix[0] == '\0') {
                ck_assert(mtasts_policy_match_mx(p, name));
            }
            mtasts_policy_unref(p);
        } else {
            ck_assert_int_eq(rc, MTASTS_ERR_SYNTAX);
            ck_assert_uint_eq(err.line, 3);
            ck_assert_uint_eq(err.column, cases[c].column);
            ck_assert_ptr_nonnull(strstr(err.message, "253"));
        }
        free(text);
        buf_free(&b);
    }
}
END_TEST

/* R8461-3.2-i, -j: every length of max_age from 1 to 11 digits of nines.
 * Up to 10 digits the value is kept, or clamped to 31557600 with the
 * warning; it never wraps (9999999999 > 2^32); 11 digits are an error. */
START_TEST(test_policy_max_age_digits)
{
    uint64_t v = 0;
    for (int digits = 1; digits <= 11; digits++) {
        v = v * 10 + 9;
        char text[128];
        int n =
            snprintf(text, sizeof(text),
                     "version: STSv1\nmode: none\nmax_age: %" PRIu64 "\n", v);
        ck_assert_int_gt(n, 0);
        mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
        mtasts_policy *p = NULL;
        int rc = mtasts_policy_parse(text, (size_t)n, &p, &err);
        if (digits == 11) {
            ck_assert_int_eq(rc, MTASTS_ERR_SYNTAX);
            ck_assert_uint_eq(err.line, 3);
            ck_assert_uint_eq(err.column, 20);
            continue;
        }
        ck_assert_int_eq(rc, MTASTS_OK);
        bool clamped = v > MTASTS_MAX_AGE_MAX;
        ck_assert_uint_eq(mtasts_policy_max_age(p),
                          clamped ? MTASTS_MAX_AGE_MAX : v);
        ck_assert_uint_eq(mtasts_policy_warnings(p),
                          clamped ? MTASTS_POLICY_WARN_MAX_AGE_CLAMPED : 0);
        mtasts_policy_unref(p);
    }
}
END_TEST

/* ---- objects ------------------------------------------------------------- */

/* ref returns the same pointer and adds one; the last unref frees; NULL is
 * accepted by both. */
START_TEST(test_policy_ref_unref)
{
    ck_assert_ptr_null(mtasts_policy_ref(NULL));
    mtasts_policy_unref(NULL);

    failalloc_start(0); /* never fails; counts live blocks */
    mtasts_policy *p = NULL;
    int rc = mtasts_policy_parse(base_policy, strlen(base_policy), &p, NULL);
    if (rc != MTASTS_OK) {
        failalloc_stop();
        ck_abort_msg("parse gave %s", mtasts_status_name(rc));
    }
    long live_parsed = failalloc_live();
    size_t refs_parsed = atomic_load(&p->refs);
    mtasts_policy *q = mtasts_policy_ref(p);
    mtasts_policy *q2 = mtasts_policy_ref(q);
    size_t refs_three = atomic_load(&p->refs);
    mtasts_policy_unref(q2);
    mtasts_policy_unref(p);
    long live_one_ref = failalloc_live();
    /* still readable through the last reference */
    mtasts_mode mode = mtasts_policy_mode(q);
    mtasts_policy_unref(q);
    long live_end = failalloc_live();
    failalloc_stop();

    ck_assert_ptr_eq(q, p);
    ck_assert_ptr_eq(q2, p);
    ck_assert_uint_eq(refs_parsed, 1);
    ck_assert_uint_eq(refs_three, 3);
    ck_assert_int_gt(live_parsed, 0);
    ck_assert_int_eq(live_one_ref, live_parsed);
    ck_assert_int_eq(mode, MTASTS_MODE_ENFORCE);
    ck_assert_int_eq(live_end, 0);
}
END_TEST

/* Every getter accepts NULL. */
START_TEST(test_policy_null_getters)
{
    ck_assert_int_eq(mtasts_policy_mode(NULL), MTASTS_MODE_NONE);
    ck_assert_uint_eq(mtasts_policy_max_age(NULL), 0);
    ck_assert_uint_eq(mtasts_policy_mx_count(NULL), 0);
    ck_assert_ptr_null(mtasts_policy_mx(NULL, 0));
    ck_assert_ptr_null(mtasts_policy_mx(NULL, SIZE_MAX));
    size_t len = 12345;
    ck_assert_ptr_null(mtasts_policy_text(NULL, &len));
    ck_assert_uint_eq(len, 0);
    ck_assert_ptr_null(mtasts_policy_text(NULL, NULL));
    ck_assert_uint_eq(mtasts_policy_warnings(NULL), 0);
    ck_assert(!mtasts_policy_match_mx(NULL, "a.example"));
}
END_TEST

/* The getters of the RFC 8461 §3.2 example; mx index out of range. */
START_TEST(test_policy_getters)
{
    mtasts_policy *p = NULL;
    ck_assert_int_eq(
        mtasts_policy_parse(rfc_policy, strlen(rfc_policy), &p, NULL),
        MTASTS_OK);
    ck_assert_int_eq(mtasts_policy_mode(p), MTASTS_MODE_ENFORCE);
    ck_assert_uint_eq(mtasts_policy_max_age(p), 604800);
    ck_assert_uint_eq(mtasts_policy_mx_count(p), 3);
    ck_assert_str_eq(mtasts_policy_mx(p, 0), "mail.example.com");
    ck_assert_str_eq(mtasts_policy_mx(p, 1), "*.example.net");
    ck_assert_str_eq(mtasts_policy_mx(p, 2), "backupmx.example.com");
    ck_assert_ptr_null(mtasts_policy_mx(p, 3));
    ck_assert_ptr_null(mtasts_policy_mx(p, 4));
    ck_assert_ptr_null(mtasts_policy_mx(p, SIZE_MAX));
    ck_assert_uint_eq(mtasts_policy_warnings(p), 0);
    mtasts_policy_unref(p);

    /* mx patterns come back in lower case, the text as it was */
    static const char mixed[] = "version: STSv1\r\nmode: testing\r\n"
                                "mx: MX1.Example.ORG\nmx: *.B\xc3\xbc.xn--"
                                "Bcher-KVA.example\nmax_age: 1\n";
    /* the U-label makes it invalid; with A-labels only it is fine */
    ck_assert_int_eq(mtasts_policy_parse(mixed, strlen(mixed), &p, NULL),
                     MTASTS_ERR_SYNTAX);
    static const char upper[] = "version: STSv1\r\nmode: testing\r\n"
                                "mx: MX1.Example.ORG\nmx: *.xn--"
                                "Bcher-KVA.EXAMPLE\nmax_age: 1\n";
    ck_assert_int_eq(mtasts_policy_parse(upper, strlen(upper), &p, NULL),
                     MTASTS_OK);
    ck_assert_str_eq(mtasts_policy_mx(p, 0), "mx1.example.org");
    ck_assert_str_eq(mtasts_policy_mx(p, 1), "*.xn--bcher-kva.example");
    size_t len = 0;
    const char *t = mtasts_policy_text(p, &len);
    ck_assert_uint_eq(len, strlen(upper));
    ck_assert_str_eq(t, upper);
    mtasts_policy_unref(p);
}
END_TEST

/* The policy keeps its own NUL-terminated copy of exactly the input bytes
 * (NUL-free input here; CR, tabs and UTF-8 kept), so the caller may free the
 * text at once. */
START_TEST(test_policy_text_copy)
{
    static const char src[] = "max_age: 0604800\t\r\n"
                              "x: caf\xc3\xa9  \n"
                              "mode: none\r\n"
                              "version: STSv1";
    size_t n = strlen(src);
    char *text = td_exact_copy(src, n);
    mtasts_policy *p = NULL;
    ck_assert_int_eq(mtasts_policy_parse(text, n, &p, NULL), MTASTS_OK);
    memset(text, 'z', n);
    free(text);
    size_t len = 0;
    const char *t = mtasts_policy_text(p, &len);
    ck_assert_ptr_nonnull(t);
    ck_assert_uint_eq(len, n);
    ck_assert_int_eq(memcmp(t, src, n), 0);
    ck_assert_int_eq(t[n], '\0');
    ck_assert_ptr_eq(mtasts_policy_text(p, NULL), t);
    ck_assert_uint_eq(mtasts_policy_max_age(p), 604800);
    mtasts_policy_unref(p);
}
END_TEST

START_TEST(test_policy_mode_name)
{
    ck_assert_str_eq(mtasts_mode_name(MTASTS_MODE_ENFORCE), "enforce");
    ck_assert_str_eq(mtasts_mode_name(MTASTS_MODE_TESTING), "testing");
    ck_assert_str_eq(mtasts_mode_name(MTASTS_MODE_NONE), "none");
    ck_assert_str_eq(mtasts_mode_name((mtasts_mode)3), "unknown");
    ck_assert_str_eq(mtasts_mode_name((mtasts_mode)-1), "unknown");
    ck_assert_str_eq(mtasts_mode_name((mtasts_mode)1000), "unknown");
    /* the values are stable (abi.md) */
    ck_assert_int_eq(MTASTS_MODE_NONE, 0);
    ck_assert_int_eq(MTASTS_MODE_TESTING, 1);
    ck_assert_int_eq(MTASTS_MODE_ENFORCE, 2);
}
END_TEST

/* R8461-4.1-a, -b (and part D's §4.1 example) on a parsed policy: ASCII
 * case-insensitive, one trailing root dot, "*." matches exactly one
 * non-empty leftmost label. */
START_TEST(test_policy_match_mx)
{
    static const struct {
        const char *host;
        bool match;
    } hosts[] = {
        {"mail.example.com", true},     /* 4.1-a */
        {"MAIL.Example.COM.", true},    /* 4.1-a */
        {"mail.example.co", false},     /* 4.1-a */
        {"mail.example.com..", false},  /* 4.1-a */
        {"backupmx.example.com", true}, /* 4.1-a */
        {"foo.example.net", true},      /* 4.1-b */
        {"FOO.EXAMPLE.NET.", true},     /* 4.1-b */
        {"example.net", false},         /* 4.1-b */
        {"foo.bar.example.net", false}, /* 4.1-b */
        {".example.net", false},        /* 4.1-b */
        {"*.example.net", false},       /* 4.1-b: no pattern as host */
        {"example.com", false},         /* 4.1-b */
        {"x.mail.example.com", false},  /* 4.1-b: no implied wildcard */
        {"", false},
        {".", false},
        {"b\xc3\xbc.example.net", false}, /* U-label host: no match */
        {"[192.0.2.1]", false},
    };
    mtasts_policy *p = NULL;
    ck_assert_int_eq(
        mtasts_policy_parse(rfc_policy, strlen(rfc_policy), &p, NULL),
        MTASTS_OK);
    for (size_t i = 0; i < ARRAY_LEN(hosts); i++) {
        ck_assert_msg(
            mtasts_policy_match_mx(p, hosts[i].host) == hosts[i].match,
            "\"%s\": match should be %d", hosts[i].host, hosts[i].match);
    }
    ck_assert(!mtasts_policy_match_mx(p, NULL));
    mtasts_policy_unref(p);

    /* the D example of §4.1 with the pattern written in upper case */
    static const char wild[] = "version: STSv1\nmode: enforce\n"
                               "mx: *.EXAMPLE.com\nmax_age: 1\n";
    ck_assert_int_eq(mtasts_policy_parse(wild, strlen(wild), &p, NULL),
                     MTASTS_OK);
    ck_assert(mtasts_policy_match_mx(p, "mail.example.com"));
    ck_assert(!mtasts_policy_match_mx(p, "example.com"));
    ck_assert(!mtasts_policy_match_mx(p, "foo.bar.example.com"));
    mtasts_policy_unref(p);

    /* mode none without mx matches nothing */
    static const char none[] = "version: STSv1\nmode: none\nmax_age: 1\n";
    ck_assert_int_eq(mtasts_policy_parse(none, strlen(none), &p, NULL),
                     MTASTS_OK);
    ck_assert(!mtasts_policy_match_mx(p, "mail.example.com"));
    mtasts_policy_unref(p);
}
END_TEST

/* ---- reference counts across threads ------------------------------------- */

#define REF_THREADS 4
#define REF_PAIRS 100000

/* Takes and drops REF_PAIRS references and reads the policy meanwhile;
 * returns NULL if all went well. With drop_own, the thread was handed one
 * reference of its own and drops it at the end. */
struct ref_job {
    mtasts_policy *p;
    bool drop_own;
};

static void *
ref_worker(void *arg)
{
    struct ref_job *job = arg;
    mtasts_policy *p = job->p;
    void *result = NULL;
    for (int i = 0; i < REF_PAIRS; i++) {
        mtasts_policy *q = mtasts_policy_ref(p);
        if (q != p || mtasts_policy_mode(q) != MTASTS_MODE_ENFORCE ||
            mtasts_policy_max_age(q) != 604800 ||
            mtasts_policy_mx_count(q) != 3) {
            result = job;
        }
        mtasts_policy_unref(q);
    }
    if (job->drop_own) {
        mtasts_policy_unref(p);
    }
    return result;
}

/* 4 threads, 100000 ref/unref pairs each on one policy: the count ends
 * where it began and the policy still works; a final unref frees it. Then
 * the same with each thread holding its own reference and the creator's
 * dropped first, so whichever thread is last frees it. ASan and valgrind
 * see any use after free. */
START_TEST(test_policy_ref_threads)
{
    for (int phase = 0; phase < 2; phase++) {
        failalloc_start(0); /* never fails; counts live blocks */
        mtasts_policy *p = NULL;
        int rc = mtasts_policy_parse(rfc_policy, strlen(rfc_policy), &p, NULL);
        long live_parsed = failalloc_live();
        if (rc != MTASTS_OK) {
            failalloc_stop();
            ck_abort_msg("parse gave %s", mtasts_status_name(rc));
        }

        pthread_t tid[REF_THREADS];
        struct ref_job jobs[REF_THREADS];
        for (int t = 0; t < REF_THREADS; t++) {
            jobs[t].p = phase == 0 ? p : mtasts_policy_ref(p);
            jobs[t].drop_own = phase == 1;
        }
        if (phase == 1) {
            mtasts_policy_unref(p);
        }
        for (int t = 0; t < REF_THREADS; t++) {
            ck_assert_int_eq(
                pthread_create(&tid[t], NULL, ref_worker, &jobs[t]), 0);
        }
        bool all_ok = true;
        for (int t = 0; t < REF_THREADS; t++) {
            void *result = &jobs[t];
            ck_assert_int_eq(pthread_join(tid[t], &result), 0);
            all_ok = all_ok && result == NULL;
        }
        if (phase == 0) {
            size_t refs = atomic_load(&p->refs);
            bool usable =
                mtasts_policy_match_mx(p, "x.example.net") &&
                strcmp(mtasts_policy_mx(p, 2), "backupmx.example.com") == 0;
            long live_before = failalloc_live();
            mtasts_policy_unref(p);
            long live_after = failalloc_live();
            failalloc_stop();
            ck_assert_uint_eq(refs, 1);
            ck_assert(usable);
            ck_assert_int_eq(live_before, live_parsed);
            ck_assert_int_eq(live_after, 0);
        } else {
            long live_after = failalloc_live();
            failalloc_stop();
            ck_assert_int_eq(live_after, 0);
        }
        ck_assert_msg(all_ok, "a thread saw a wrong pointer or value");
    }
}
END_TEST

/* ---- allocation failures ------------------------------------------------- */

/* Fail the 1st, 2nd, ... allocation until the parse succeeds: each failure
 * is MTASTS_ERR_NOMEM with *out NULL, err saying so without a position,
 * and nothing left allocated. Returns the number of allocations a
 * successful parse makes. */
static size_t
nomem_loop(const char *text, size_t len, int want_other)
{
    size_t n;
    for (n = 1; n < 1000; n++) {
        mtasts_policy *p = NOT_WRITTEN;
        mtasts_parse_error err;
        err_poison(&err);
        failalloc_start(n);
        int rc = mtasts_policy_parse(text, len, &p, &err);
        long live = failalloc_live();
        size_t calls = failalloc_calls();
        mtasts_policy *copy = p;
        long live_freed = 0;
        if (rc == MTASTS_OK) {
            mtasts_policy_unref(p);
            live_freed = failalloc_live();
        }
        failalloc_stop();
        if (rc == want_other) {
            ck_assert_msg(calls < n, "allocation %zu failed but gave %s", n,
                          mtasts_status_name(rc));
            ck_assert_int_eq(live_freed, 0);
            if (rc != MTASTS_OK) {
                ck_assert_ptr_null(copy);
                ck_assert_int_eq(live, 0);
            }
            return calls;
        }
        ck_assert_msg(rc == MTASTS_ERR_NOMEM,
                      "allocation %zu failed: got %s, want MTASTS_ERR_NOMEM", n,
                      mtasts_status_name(rc));
        ck_assert_msg(copy == NULL, "allocation %zu failed: *out not NULL", n);
        ck_assert_msg(live == 0, "allocation %zu failed: %ld blocks leaked", n,
                      live);
        ck_assert_uint_ge(calls, n);
        ck_assert_uint_eq(err.line, 0);
        ck_assert_uint_eq(err.column, 0);
        ck_assert_uint_eq(err.offset, 0);
        ck_assert_ptr_nonnull(err.message);
        ck_assert_ptr_ne(err.message, poison_message);
    }
    ck_abort_msg("parse still failing after %zu allocation failures", n);
    return 0;
}

START_TEST(test_policy_nomem_typical)
{
    size_t allocs = nomem_loop(rfc_policy, strlen(rfc_policy), MTASTS_OK);
    ck_assert_uint_ge(allocs, 1);
}
END_TEST

/* 40 mx lines: past the 16 kept on the stack the parser grows a heap array
 * (allocate, then reallocate), and every one of those can fail too. */
START_TEST(test_policy_nomem_many_mx)
{
    static const size_t counts[] = {16, 17, 33, 40};
    size_t allocs_16 = 0;
    for (size_t c = 0; c < ARRAY_LEN(counts); c++) {
        size_t len;
        char *text = many_mx_policy(counts[c], &len);
        size_t allocs = nomem_loop(text, len, MTASTS_OK);
        free(text);
        if (counts[c] == 16) {
            allocs_16 = allocs;
        } else {
            /* the growth path has allocations of its own */
            ck_assert_uint_gt(allocs, allocs_16);
        }
    }
}
END_TEST

/* A syntax error after the mx array has grown: the array is freed on the
 * error path too, and an allocation failure before the error wins. */
START_TEST(test_policy_nomem_then_syntax)
{
    struct buf b = {0};
    size_t len;
    char *head = many_mx_policy(40, &len);
    buf_add(&b, head, len);
    free(head);
    buf_str(&b, "mode: bogus\n");
    char *text = td_exact_copy(b.data, b.len);
    size_t allocs = nomem_loop(text, b.len, MTASTS_ERR_SYNTAX);
    ck_assert_uint_ge(allocs, 1);
    free(text);
    buf_free(&b);
}
END_TEST

/* ---- suite --------------------------------------------------------------- */

static enum group
group_of(const struct td_row *r)
{
    static const struct {
        const char *ref;
        enum group group;
    } groups[] = {
        {"D", G_SYNTAX},           {"E-6", G_SYNTAX},
        {"E-8", G_SYNTAX},         {"R8461-3.2-d", G_SYNTAX},
        {"R8461-3.2-e", G_SYNTAX}, {"R8461-3.2-f", G_SYNTAX},
        {"R8461-3.2-n", G_SYNTAX}, {"R8461-3.2-o", G_SYNTAX},
        {"R8461-3.2-r", G_SYNTAX}, {"R8461-3.2-g", G_FIELDS},
        {"R8461-3.2-h", G_FIELDS}, {"R8461-3.2-i", G_FIELDS},
        {"R8461-3.2-j", G_FIELDS}, {"R8461-3.2-k", G_FIELDS},
        {"R8461-3.2-l", G_FIELDS}, {"R8461-3.2-m", G_FIELDS},
        {"R8461-3.2-p", G_FIELDS}, {"R8461-3.2-q", G_FIELDS},
        {"R8461-3.3-k", G_LIMITS},
    };
    for (size_t i = 0; i < ARRAY_LEN(groups); i++) {
        if (strcmp(r->field[F_REF], groups[i].ref) == 0) {
            return groups[i].group;
        }
    }
    fprintf(stderr, "tests/data/%s:%zu: unknown ref \"%s\"\n",
            policy_table.name, r->line, r->field[F_REF]);
    exit(99);
}

static void
groups_build(void)
{
    for (size_t g = 0; g < G_COUNT; g++) {
        group_rows[g] = calloc(policy_table.nrows, sizeof(size_t));
        if (group_rows[g] == NULL) {
            fprintf(stderr, "out of memory\n");
            exit(99);
        }
    }
    for (size_t i = 0; i < policy_table.nrows; i++) {
        const struct td_row *r = &policy_table.row[i];
        if (r->nfields != F_COUNT) {
            fprintf(stderr, "tests/data/%s:%zu: %zu fields, want %d\n",
                    policy_table.name, r->line, r->nfields, F_COUNT);
            exit(99);
        }
        enum group g = group_of(r);
        group_rows[g][group_len[g]++] = i;
    }
}

static void
groups_free(void)
{
    for (size_t g = 0; g < G_COUNT; g++) {
        free(group_rows[g]);
        group_rows[g] = NULL;
    }
}

static Suite *
policy_suite(void)
{
    Suite *s = suite_create("policy");

    TCase *tc = tcase_create("syntax");
    tcase_add_loop_test(tc, test_policy_syntax_table, 0,
                        (int)group_len[G_SYNTAX]);
    tcase_add_test(tc, test_policy_table_coverage);
    suite_add_tcase(s, tc);

    tc = tcase_create("fields");
    tcase_add_loop_test(tc, test_policy_fields_table, 0,
                        (int)group_len[G_FIELDS]);
    tcase_add_test(tc, test_policy_max_age_digits);
    tcase_add_test(tc, test_policy_mx_lengths);
    suite_add_tcase(s, tc);

    tc = tcase_create("limits");
    tcase_add_loop_test(tc, test_policy_limits_table, 0,
                        (int)group_len[G_LIMITS]);
    tcase_add_test(tc, test_policy_size_limit);
    tcase_add_test(tc, test_policy_length_bounds);
    tcase_add_test(tc, test_policy_many_lines);
    tcase_add_test(tc, test_policy_many_mx);
    tcase_add_test(tc, test_policy_mx_fill_64k);
    tcase_add_test(tc, test_policy_mx_fill_longest);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_test(tc, test_policy_invalid_args);
    tcase_add_test(tc, test_policy_empty_text);
    tcase_add_test(tc, test_policy_too_large);
    tcase_add_test(tc, test_policy_err_null);
    tcase_add_test(tc, test_policy_err_size);
    tcase_add_test(tc, test_policy_err_larger);
    tcase_add_test(tc, test_policy_err_reuse);
    suite_add_tcase(s, tc);

    tc = tcase_create("objects");
    tcase_add_test(tc, test_policy_ref_unref);
    tcase_add_test(tc, test_policy_null_getters);
    tcase_add_test(tc, test_policy_getters);
    tcase_add_test(tc, test_policy_text_copy);
    tcase_add_test(tc, test_policy_mode_name);
    tcase_add_test(tc, test_policy_match_mx);
    tcase_add_test(tc, test_policy_ref_threads);
    suite_add_tcase(s, tc);

    tc = tcase_create("alloc");
    tcase_add_test(tc, test_policy_nomem_typical);
    tcase_add_test(tc, test_policy_nomem_many_mx);
    tcase_add_test(tc, test_policy_nomem_then_syntax);
    suite_add_tcase(s, tc);

    return s;
}

int
main(void)
{
    td_load(&policy_table, "policy_cases.tsv", F_COUNT);
    groups_build();
    int rc = harness_run(policy_suite());
    groups_free();
    td_free(&policy_table);
    return rc;
}
