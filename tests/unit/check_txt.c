/* Unit tests of the _mta-sts TXT record (RFC 8461 §3.1): mtasts_txt_parse(),
 * mtasts_txt_diagnose() and mtasts_txt_select().
 *
 * The tables are tests/data/txt_cases.tsv (one record each) and
 * tests/data/txt_select_cases.tsv (the RR set of one name each); every row
 * names the CHECKLIST.md id it tests, and a failing row prints its file
 * line. The byte-by-byte tests below restate the §3.1 ABNF here, apart
 * from lib/util/chars.c.
 */
#include "harness.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "mtasts/mtasts.h"
#include "parse/txt.h"

/* id buffers are this much larger than MTASTS_ID_BUFSIZE and start filled
 * with SENTINEL, so a write past the 33 bytes shows. */
#define ID_SLACK 8
#define SENTINEL 'X'

static struct td_file txt_table;
static struct td_file select_table;

/* ---- helpers ------------------------------------------------------------- */

static void
id_fill(char *id)
{
    memset(id, SENTINEL, MTASTS_ID_BUFSIZE + ID_SLACK);
}

/* The id buffer holds want and nothing was written past its 33 bytes. */
static void
id_check(const struct td_file *f, const struct td_row *r, const char *what,
         const char *id, const char *want)
{
    ck_assert_msg(memchr(id, '\0', MTASTS_ID_BUFSIZE) != NULL,
                  ROW "%s: id_out not terminated", ROW_ARGS(f, r), what);
    ck_assert_msg(strcmp(id, want) == 0, ROW "%s: id_out \"%s\", want \"%s\"",
                  ROW_ARGS(f, r), what, id, want);
    for (size_t i = MTASTS_ID_BUFSIZE; i < MTASTS_ID_BUFSIZE + ID_SLACK; i++) {
        ck_assert_msg(id[i] == SENTINEL, ROW "%s: wrote past id_out[32]",
                      ROW_ARGS(f, r), what);
    }
}

/* ---- txt_cases.tsv ------------------------------------------------------- */

START_TEST(test_txt_table)
{
    const struct td_file *f = &txt_table;
    const struct td_row *r = &f->row[_i];
    size_t len = r->len[1];
    int want = td_status(f, r, 2);
    const char *want_id = want == MTASTS_OK ? r->field[3] : "";
    size_t want_col = td_number(f, r, 4);
    const char *want_msg = r->field[5];
    char id[MTASTS_ID_BUFSIZE + ID_SLACK];
    char *rec = td_exact_copy(r->field[1], len);

    ck_assert_msg(want != MTASTS_OK || (want_col == 0 && r->len[3] > 0),
                  ROW "bad row: OK needs an id and column 0", ROW_ARGS(f, r));
    ck_assert_msg(want == MTASTS_OK || want_col > 0,
                  ROW "bad row: an error needs a column", ROW_ARGS(f, r));

    id_fill(id);
    int rc = mtasts_txt_parse(rec, len, id);
    ck_assert_msg(rc == want, ROW "mtasts_txt_parse gave %s, want %s",
                  ROW_ARGS(f, r), mtasts_status_name(rc),
                  mtasts_status_name(want));
    id_check(f, r, "mtasts_txt_parse", id, want_id);

    mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
    err_poison(&err);
    id_fill(id);
    rc = mtasts_txt_diagnose(rec, len, id, &err);
    ck_assert_msg(rc == want, ROW "mtasts_txt_diagnose gave %s, want %s",
                  ROW_ARGS(f, r), mtasts_status_name(rc),
                  mtasts_status_name(want));
    id_check(f, r, "mtasts_txt_diagnose", id, want_id);
    if (want == MTASTS_OK) {
        ck_assert_msg(err.line == 0 && err.column == 0 && err.offset == 0 &&
                          err.message == NULL,
                      ROW "err not cleared on success", ROW_ARGS(f, r));
    } else {
        ck_assert_msg(err.message != NULL && err.message != poison_message &&
                          err.message[0] != '\0',
                      ROW "no error message", ROW_ARGS(f, r));
        ck_assert_msg(err.line == 1, ROW "error line %zu, want 1",
                      ROW_ARGS(f, r), err.line);
        ck_assert_msg(err.column == want_col,
                      ROW "error column %zu, want %zu (\"%s\")", ROW_ARGS(f, r),
                      err.column, want_col, err.message);
        ck_assert_msg(err.offset + 1 == err.column,
                      ROW "offset %zu does not match column %zu",
                      ROW_ARGS(f, r), err.offset, err.column);
        ck_assert_msg(strstr(err.message, want_msg) != NULL,
                      ROW "message \"%s\" lacks \"%s\"", ROW_ARGS(f, r),
                      err.message, want_msg);
    }

    id_fill(id);
    rc = mtasts_txt_diagnose(rec, len, id, NULL);
    ck_assert_msg(rc == want, ROW "mtasts_txt_diagnose(err NULL) gave %s",
                  ROW_ARGS(f, r), mtasts_status_name(rc));
    id_check(f, r, "mtasts_txt_diagnose(err NULL)", id, want_id);
    free(rec);
}
END_TEST

/* ---- txt_select_cases.tsv ------------------------------------------------ */

struct rrset {
    size_t n;
    char **rec;
    size_t *len;
};

/* Fields 4... of a select row: one RR each, "|" between character-strings,
 * joined here with nothing in between (R8461-3.1-b). */
static void
rrset_build(const struct td_row *r, struct rrset *s)
{
    s->n = r->nfields - 3;
    s->rec = calloc(s->n + 1, sizeof(*s->rec));
    s->len = calloc(s->n + 1, sizeof(*s->len));
    ck_assert_ptr_nonnull(s->rec);
    ck_assert_ptr_nonnull(s->len);
    for (size_t i = 0; i < s->n; i++) {
        const char *src = r->field[3 + i];
        size_t srclen = r->len[3 + i];
        size_t n = 0;
        char *joined = malloc(srclen != 0 ? srclen : 1);
        ck_assert_ptr_nonnull(joined);
        for (size_t k = 0; k < srclen; k++) {
            if (src[k] != '|') {
                joined[n++] = src[k];
            }
        }
        /* exactly n bytes, nothing after them */
        s->rec[i] = td_exact_copy(joined, n);
        s->len[i] = n;
        free(joined);
    }
}

static void
rrset_free(struct rrset *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->rec[i]);
    }
    free(s->rec);
    free(s->len);
}

static bool
begins(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(s, prefix, n) == 0;
}

START_TEST(test_txt_select_table)
{
    const struct td_file *f = &select_table;
    const struct td_row *r = &f->row[_i];
    int want = td_status(f, r, 1);
    const char *want_id = want == MTASTS_OK ? r->field[2] : "";
    char id[MTASTS_ID_BUFSIZE + ID_SLACK];
    struct rrset s;

    ck_assert_msg(want != MTASTS_OK || r->len[2] > 0,
                  ROW "bad row: OK needs an id", ROW_ARGS(f, r));
    rrset_build(r, &s);
    const char *const *recs = s.n != 0 ? (const char *const *)s.rec : NULL;
    const size_t *lens = s.n != 0 ? s.len : NULL;

    id_fill(id);
    int rc = mtasts_txt_select(recs, lens, s.n, id);
    ck_assert_msg(rc == want, ROW "mtasts_txt_select (n=%zu) gave %s, want %s",
                  ROW_ARGS(f, r), s.n, mtasts_status_name(rc),
                  mtasts_status_name(want));
    id_check(f, r, "mtasts_txt_select", id, want_id);

    /* The internal variant says which record it judged and why it failed. */
    size_t which = 12345;
    mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
    err_poison(&err);
    id_fill(id);
    rc = mtasts__txt_select(recs, lens, s.n, id, &which, &err);
    ck_assert_msg(rc == want, ROW "mtasts__txt_select gave %s", ROW_ARGS(f, r),
                  mtasts_status_name(rc));
    id_check(f, r, "mtasts__txt_select", id, want_id);
    if (want == MTASTS_ERR_NO_POLICY) {
        ck_assert_msg(which == s.n, ROW "which %zu, want n", ROW_ARGS(f, r),
                      which);
        ck_assert_msg(err.message != NULL && err.message != poison_message,
                      ROW "no message", ROW_ARGS(f, r));
    } else {
        ck_assert_msg(which < s.n, ROW "which %zu out of range", ROW_ARGS(f, r),
                      which);
        ck_assert_msg(begins(s.rec[which], s.len[which],
                             s.n == 1 ? "v=STSv1" : "v=STSv1;"),
                      ROW "judged record %zu is no candidate", ROW_ARGS(f, r),
                      which);
        /* the verdict is the grammar's verdict on that record */
        char id2[MTASTS_ID_BUFSIZE + ID_SLACK];
        id_fill(id2);
        ck_assert_int_eq(mtasts_txt_parse(s.rec[which], s.len[which], id2),
                         want);
        id_check(f, r, "mtasts_txt_parse(selected)", id2, want_id);
        if (want == MTASTS_OK) {
            ck_assert_msg(err.message == NULL && err.column == 0,
                          ROW "err not cleared", ROW_ARGS(f, r));
        } else {
            ck_assert_msg(err.message != NULL &&
                              err.message != poison_message && err.line == 1 &&
                              err.column >= 1 && err.column <= s.len[which] + 1,
                          ROW "bad diagnostic", ROW_ARGS(f, r));
        }
    }
    rrset_free(&s);
}
END_TEST

/* ---- the grammar byte by byte (ABNF restated, RFC 8461 §3.1) ------------- */

static bool
abnf_alnum(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9');
}

static bool
abnf_wsp(int c)
{
    return c == ' ' || c == '\t';
}

/* sts-ext-value = 1*(%x21-3A / %x3C / %x3E-7E) */
static bool
abnf_ext_value(int c)
{
    return (c >= 0x21 && c <= 0x3a) || c == 0x3c || (c >= 0x3e && c <= 0x7e);
}

/* sts-ext-name after its first byte: ALPHA / DIGIT / "_" / "-" / "." */
static bool
abnf_ext_name_rest(int c)
{
    return abnf_alnum(c) || c == '_' || c == '-' || c == '.';
}

/* Diagnose pre + byte b + post, from an exact heap copy; *column gets the
 * error column (0 on success). */
static int
diagnose_with_byte(const char *pre, int b, const char *post, size_t *column)
{
    char buf[128];
    size_t n = strlen(pre);
    size_t m = strlen(post);
    ck_assert_uint_lt(n + 1 + m, sizeof(buf));
    memcpy(buf, pre, n);
    buf[n] = (char)b;
    memcpy(buf + n + 1, post, m);
    char *rec = td_exact_copy(buf, n + 1 + m);
    char id[MTASTS_ID_BUFSIZE + ID_SLACK];
    mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
    id_fill(id);
    int rc = mtasts_txt_diagnose(rec, n + 1 + m, id, &err);
    ck_assert_msg(rc == MTASTS_OK ? id[0] != '\0' : id[0] == '\0',
                  "byte 0x%02x: id_out \"%s\" after %s", (unsigned)b, id,
                  mtasts_status_name(rc));
    ck_assert_msg(rc == MTASTS_OK || err.message != NULL,
                  "byte 0x%02x: no message", (unsigned)b);
    *column = err.column;
    free(rec);
    return rc;
}

static void
expect_byte(const char *pre, int b, const char *post, bool valid,
            size_t want_column)
{
    size_t column = 0;
    int rc = diagnose_with_byte(pre, b, post, &column);
    ck_assert_msg(rc == (valid ? MTASTS_OK : MTASTS_ERR_SYNTAX),
                  "\"%s\" + byte 0x%02x + \"%s\": %s, want %s", pre,
                  (unsigned)b, post, mtasts_status_name(rc),
                  valid ? "MTASTS_OK" : "MTASTS_ERR_SYNTAX");
    if (!valid && want_column != 0) {
        ck_assert_msg(column == want_column,
                      "\"%s\" + byte 0x%02x + \"%s\": column %zu, want %zu",
                      pre, (unsigned)b, post, column, want_column);
    }
}

/* R8461-3.1-g, -k: the id is letters and digits only. */
START_TEST(test_txt_byte_id)
{
    for (int b = 0; b < 256; b++) {
        expect_byte("v=STSv1; id=", b, "", abnf_alnum(b), 13);
        expect_byte("v=STSv1; id=a", b, "b", abnf_alnum(b), 0);
    }
}
END_TEST

/* R8461-3.1-j, -k: extension values are %x21-3A / %x3C / %x3E-7E. */
START_TEST(test_txt_byte_ext_value)
{
    for (int b = 0; b < 256; b++) {
        expect_byte("v=STSv1; id=1; x=", b, "", abnf_ext_value(b), 18);
        expect_byte("v=STSv1; id=1; x=a", b, "a", abnf_ext_value(b), 0);
    }
}
END_TEST

/* R8461-3.1-j: extension names; "v" is the known field whose value must be
 * STSv1 (E-7), so "v=1" is an error. */
START_TEST(test_txt_byte_ext_name)
{
    for (int b = 0; b < 256; b++) {
        expect_byte("v=STSv1; id=1; ", b, "=1", abnf_alnum(b) && b != 'v', 0);
        expect_byte("v=STSv1; id=1; a", b, "=1", abnf_ext_name_rest(b), 0);
    }
}
END_TEST

/* R8461-3.1-i: only SP and HTAB around ';'; after the last field only a
 * delimiter. */
START_TEST(test_txt_byte_delimiter)
{
    for (int b = 0; b < 256; b++) {
        expect_byte("v=STSv1;", b, "id=1", abnf_wsp(b), 0);
        expect_byte("v=STSv1", b, ";id=1", abnf_wsp(b), 0);
        expect_byte("v=STSv1; id=1", b, "", abnf_alnum(b) || b == ';', 0);
        expect_byte("v=STSv1; id=1", b, ";", abnf_alnum(b) || abnf_wsp(b), 0);
    }
}
END_TEST

/* ---- arguments ----------------------------------------------------------- */

START_TEST(test_txt_parse_invalid_args)
{
    static const char rec[] = "v=STSv1; id=1";
    char id[MTASTS_ID_BUFSIZE + ID_SLACK];
    mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;

    ck_assert_int_eq(mtasts_txt_parse(rec, strlen(rec), NULL),
                     MTASTS_ERR_INVALID);
    err_poison(&err);
    ck_assert_int_eq(mtasts_txt_diagnose(rec, strlen(rec), NULL, &err),
                     MTASTS_ERR_INVALID);
    ck_assert_ptr_nonnull(err.message);
    ck_assert_ptr_ne(err.message, poison_message);

    id_fill(id);
    ck_assert_int_eq(mtasts_txt_parse(NULL, 5, id), MTASTS_ERR_INVALID);
    ck_assert_str_eq(id, "");
    id_fill(id);
    err_poison(&err);
    ck_assert_int_eq(mtasts_txt_diagnose(NULL, 5, id, &err),
                     MTASTS_ERR_INVALID);
    ck_assert_str_eq(id, "");
    ck_assert_ptr_nonnull(err.message);
    ck_assert_ptr_ne(err.message, poison_message);

    /* NULL with length 0 is the empty record: a syntax error */
    id_fill(id);
    err_poison(&err);
    ck_assert_int_eq(mtasts_txt_diagnose(NULL, 0, id, &err), MTASTS_ERR_SYNTAX);
    ck_assert_str_eq(id, "");
    ck_assert_uint_eq(err.line, 1);
    ck_assert_uint_eq(err.column, 1);
    ck_assert_ptr_nonnull(err.message);
    ck_assert_int_eq(mtasts_txt_parse(NULL, 0, id), MTASTS_ERR_SYNTAX);
}
END_TEST

START_TEST(test_txt_select_invalid_args)
{
    const char *recs[] = {"v=STSv1; id=1", NULL};
    size_t lens[] = {13, 5};
    const char *null_first[] = {NULL, "v=STSv1; id=1"};
    size_t null_first_lens[] = {1, 13};
    char id[MTASTS_ID_BUFSIZE + ID_SLACK];

    /* a NULL record with a non-zero length, wherever it is */
    id_fill(id);
    ck_assert_int_eq(mtasts_txt_select(recs, lens, 2, id), MTASTS_ERR_INVALID);
    ck_assert_str_eq(id, "");
    id_fill(id);
    ck_assert_int_eq(mtasts_txt_select(null_first, null_first_lens, 2, id),
                     MTASTS_ERR_INVALID);
    ck_assert_str_eq(id, "");
    /* records or lens NULL with n > 0 */
    id_fill(id);
    ck_assert_int_eq(mtasts_txt_select(NULL, lens, 1, id), MTASTS_ERR_INVALID);
    ck_assert_str_eq(id, "");
    id_fill(id);
    ck_assert_int_eq(mtasts_txt_select(recs, NULL, 1, id), MTASTS_ERR_INVALID);
    ck_assert_str_eq(id, "");
    /* id_out NULL, even with nothing to select */
    ck_assert_int_eq(mtasts_txt_select(recs, lens, 1, NULL),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_txt_select(NULL, NULL, 0, NULL),
                     MTASTS_ERR_INVALID);

    size_t which = 99;
    mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
    err_poison(&err);
    ck_assert_int_eq(mtasts__txt_select(recs, lens, 2, id, &which, &err),
                     MTASTS_ERR_INVALID);
    ck_assert_uint_eq(which, 2);
    ck_assert_ptr_nonnull(err.message);
    ck_assert_ptr_ne(err.message, poison_message);
}
END_TEST

/* R8461-3.1-d: no records is no policy, whether or not arrays are given; a
 * NULL record of length 0 is an empty record (never a candidate). */
START_TEST(test_txt_select_empty)
{
    const char *recs[] = {NULL, "v=STSv1; id=1"};
    size_t lens[] = {0, 13};
    char id[MTASTS_ID_BUFSIZE + ID_SLACK];

    id_fill(id);
    ck_assert_int_eq(mtasts_txt_select(NULL, NULL, 0, id),
                     MTASTS_ERR_NO_POLICY);
    ck_assert_str_eq(id, "");
    id_fill(id);
    ck_assert_int_eq(mtasts_txt_select(recs, lens, 0, id),
                     MTASTS_ERR_NO_POLICY);
    ck_assert_str_eq(id, "");
    id_fill(id);
    ck_assert_int_eq(mtasts_txt_select(recs, lens, 1, id),
                     MTASTS_ERR_NO_POLICY);
    ck_assert_str_eq(id, "");
    id_fill(id);
    ck_assert_int_eq(mtasts_txt_select(recs, lens, 2, id), MTASTS_OK);
    ck_assert_str_eq(id, "1");
    /* only the first n entries count */
    id_fill(id);
    ck_assert_int_eq(mtasts_txt_select(recs + 1, lens + 1, 1, id), MTASTS_OK);
    ck_assert_str_eq(id, "1");
}
END_TEST

/* ---- limits -------------------------------------------------------------- */

/* R8461-3.1-b: the caller joins an RR's character-strings; parsing sees
 * only the joined text. */
START_TEST(test_txt_joined_strings)
{
    static const char *const parts[][3] = {
        {"v=STSv1; id=", "2016083108", "2016083108"},
        {"v=STS", "v1; id=1", "1"},
        {"v=STSv1; id=ab", "cd", "abcd"},
    };
    for (size_t i = 0; i < ARRAY_LEN(parts); i++) {
        char joined[64];
        size_t a = strlen(parts[i][0]);
        size_t b = strlen(parts[i][1]);
        memcpy(joined, parts[i][0], a);
        memcpy(joined + a, parts[i][1], b);
        char *rec = td_exact_copy(joined, a + b);
        char id[MTASTS_ID_BUFSIZE + ID_SLACK];
        id_fill(id);
        ck_assert_int_eq(mtasts_txt_parse(rec, a + b, id), MTASTS_OK);
        ck_assert_str_eq(id, parts[i][2]);
        const char *const one[] = {rec};
        size_t one_len[] = {a + b};
        id_fill(id);
        ck_assert_int_eq(mtasts_txt_select(one, one_len, 1, id), MTASTS_OK);
        ck_assert_str_eq(id, parts[i][2]);
        free(rec);
    }
}
END_TEST

/* The record need not end in NUL: only len bytes are read. */
START_TEST(test_txt_length_bounds)
{
    static const char text[] = "v=STSv1; id=12345; junk";
    char id[MTASTS_ID_BUFSIZE + ID_SLACK];

    id_fill(id);
    ck_assert_int_eq(mtasts_txt_parse(text, 14, id), MTASTS_OK);
    ck_assert_str_eq(id, "12");
    id_fill(id);
    ck_assert_int_eq(mtasts_txt_parse(text, 17, id), MTASTS_OK);
    ck_assert_str_eq(id, "12345");
    id_fill(id);
    ck_assert_int_eq(mtasts_txt_parse(text, 18, id), MTASTS_OK);
    ck_assert_str_eq(id, "12345");
    id_fill(id);
    ck_assert_int_eq(mtasts_txt_parse(text, 12, id), MTASTS_ERR_SYNTAX);
    ck_assert_str_eq(id, "");
    id_fill(id);
    ck_assert_int_eq(mtasts_txt_parse(text, strlen(text), id),
                     MTASTS_ERR_SYNTAX);
    ck_assert_str_eq(id, "");
    /* the select prefix test also reads no further than len */
    const char *const recs[] = {text, "v=spf1 -all"};
    size_t lens[] = {7, 11};
    id_fill(id);
    ck_assert_int_eq(mtasts_txt_select(recs, lens, 2, id),
                     MTASTS_ERR_NO_POLICY);
    lens[0] = 8;
    ck_assert_int_eq(mtasts_txt_select(recs, lens, 2, id), MTASTS_ERR_SYNTAX);
}
END_TEST

/* A 32-character id fills all 33 bytes of id_out and no more. */
START_TEST(test_txt_id_buffer)
{
    static const char rec[] = "v=STSv1; id=ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
    char id[MTASTS_ID_BUFSIZE + ID_SLACK];

    id_fill(id);
    ck_assert_int_eq(mtasts_txt_parse(rec, strlen(rec), id), MTASTS_OK);
    ck_assert_uint_eq(strlen(id), MTASTS_ID_BUFSIZE - 1);
    ck_assert_str_eq(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345");
    for (size_t i = MTASTS_ID_BUFSIZE; i < sizeof(id); i++) {
        ck_assert_int_eq(id[i], SENTINEL);
    }
    /* an id taken and then an error later: id_out is "" again */
    static const char late[] = "v=STSv1; id=ABCDEF; x=\x01";
    id_fill(id);
    ck_assert_int_eq(mtasts_txt_parse(late, strlen(late), id),
                     MTASTS_ERR_SYNTAX);
    ck_assert_str_eq(id, "");
}
END_TEST

/* A TXT RR may carry up to 65535 bytes; nothing in §3.1 limits a record's
 * length, and diagnostics count columns that far. */
START_TEST(test_txt_long_record)
{
    static const char head[] = "v=STSv1; id=1";
    static const char field[] = "; rpt.x_y-z=a:b/c?d";
    size_t cap = 65535;
    char *rec = malloc(cap);
    ck_assert_ptr_nonnull(rec);
    size_t n = strlen(head);
    memcpy(rec, head, n);
    while (n + strlen(field) <= cap) {
        memcpy(rec + n, field, strlen(field));
        n += strlen(field);
    }
    char id[MTASTS_ID_BUFSIZE + ID_SLACK];
    id_fill(id);
    ck_assert_int_eq(mtasts_txt_parse(rec, n, id), MTASTS_OK);
    ck_assert_str_eq(id, "1");

    rec[n - 1] = '\x01';
    mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
    id_fill(id);
    ck_assert_int_eq(mtasts_txt_diagnose(rec, n, id, &err), MTASTS_ERR_SYNTAX);
    ck_assert_str_eq(id, "");
    ck_assert_uint_eq(err.line, 1);
    ck_assert_uint_eq(err.column, n);
    ck_assert_uint_eq(err.offset, n - 1);
    free(rec);
}
END_TEST

/* ---- diagnostics --------------------------------------------------------- */

/* The library writes no member of mtasts_parse_error that ends past the
 * caller's size (STYLE.md §6). */
START_TEST(test_txt_err_size)
{
    static const char bad[] = "v=STSv1; id=abc!";
    static const char good[] = "v=STSv1; id=abc";
    char id[MTASTS_ID_BUFSIZE + ID_SLACK];
    mtasts_parse_error err;

    err_poison(&err);
    err.size = offsetof(mtasts_parse_error, offset);
    ck_assert_int_eq(mtasts_txt_diagnose(bad, strlen(bad), id, &err),
                     MTASTS_ERR_SYNTAX);
    ck_assert_uint_eq(err.line, 1);
    ck_assert_uint_eq(err.column, 16);
    ck_assert_uint_eq(err.offset, POISON);
    ck_assert_ptr_eq(err.message, poison_message);

    err_poison(&err);
    err.size = offsetof(mtasts_parse_error, column);
    ck_assert_int_eq(mtasts_txt_diagnose(bad, strlen(bad), id, &err),
                     MTASTS_ERR_SYNTAX);
    ck_assert_uint_eq(err.line, 1);
    ck_assert_uint_eq(err.column, POISON);

    err_poison(&err);
    err.size = 0;
    ck_assert_int_eq(mtasts_txt_diagnose(bad, strlen(bad), id, &err),
                     MTASTS_ERR_SYNTAX);
    ck_assert_uint_eq(err.size, 0);
    ck_assert_uint_eq(err.line, POISON);

    err_poison(&err);
    err.size = offsetof(mtasts_parse_error, message);
    ck_assert_int_eq(mtasts_txt_diagnose(good, strlen(good), id, &err),
                     MTASTS_OK);
    ck_assert_uint_eq(err.line, 0);
    ck_assert_uint_eq(err.column, 0);
    ck_assert_uint_eq(err.offset, 0);
    ck_assert_ptr_eq(err.message, poison_message);

    err_poison(&err);
    err.size = sizeof(err);
    ck_assert_int_eq(mtasts_txt_diagnose(bad, strlen(bad), id, &err),
                     MTASTS_ERR_SYNTAX);
    ck_assert_uint_eq(err.offset, 15);
    ck_assert_ptr_ne(err.message, poison_message);
}
END_TEST

/* ---- suite --------------------------------------------------------------- */

static Suite *
txt_suite(void)
{
    Suite *s = suite_create("txt");

    TCase *tc = tcase_create("syntax");
    tcase_add_loop_test(tc, test_txt_table, 0, (int)txt_table.nrows);
    tcase_add_test(tc, test_txt_byte_id);
    tcase_add_test(tc, test_txt_byte_ext_value);
    tcase_add_test(tc, test_txt_byte_ext_name);
    tcase_add_test(tc, test_txt_byte_delimiter);
    suite_add_tcase(s, tc);

    tc = tcase_create("select");
    tcase_add_loop_test(tc, test_txt_select_table, 0, (int)select_table.nrows);
    tcase_add_test(tc, test_txt_select_empty);
    suite_add_tcase(s, tc);

    tc = tcase_create("arguments");
    tcase_add_test(tc, test_txt_parse_invalid_args);
    tcase_add_test(tc, test_txt_select_invalid_args);
    suite_add_tcase(s, tc);

    tc = tcase_create("limits");
    tcase_add_test(tc, test_txt_joined_strings);
    tcase_add_test(tc, test_txt_length_bounds);
    tcase_add_test(tc, test_txt_id_buffer);
    tcase_add_test(tc, test_txt_long_record);
    suite_add_tcase(s, tc);

    tc = tcase_create("diagnostics");
    tcase_add_test(tc, test_txt_err_size);
    suite_add_tcase(s, tc);

    return s;
}

int
main(void)
{
    td_load(&txt_table, "txt_cases.tsv", 6);
    td_load(&select_table, "txt_select_cases.tsv", 3);
    int rc = harness_run(txt_suite());
    td_free(&txt_table);
    td_free(&select_table);
    return rc;
}
