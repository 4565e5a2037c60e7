/* Unit tests of the SMTP reply reader of the STARTTLS probe
 * (lib/io/smtp_reply.c): RFC 5321 §4.2 reply lines, the 512-byte line
 * limit of §4.5.3.1.5, our bound on lines, and the EHLO keyword STARTTLS
 * (RFC 3207 §4) that decides between starttls-not-supported and a
 * handshake (R8461-4-a, R8461-6-c).
 *
 * The table is tests/data/smtp_reply_cases.tsv; each row is fed whole, one
 * byte at a time and split in two at every offset, every piece in a heap
 * block of its exact size, and all ways must agree. Long inputs, every
 * byte value, the quoting of reasons and the keyword list are tested
 * below. The session itself is tested against real servers in
 * tests/integration/check_probe.c.
 */
#include "harness.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/smtp.h"
#include "mtasts/mtasts.h"

#define CONTENT_MAX (MTASTS__SMTP_LINE_MAX - 2)

static struct td_file smtp_table;

/* ---- feeding ------------------------------------------------------------ */

struct outcome {
    int status;
    size_t used;
    struct mtasts__smtp_reply r;
};

/* Feed one piece in a heap block of its exact size. */
static int
feed_piece(struct mtasts__smtp_reply *r, const char *data, size_t len,
           size_t *used)
{
    char *copy = td_exact_copy(data, len);
    int rc = mtasts__smtp_reply_feed(r, copy, len, used);
    free(copy);
    ck_assert_uint_le(*used, len);
    return rc;
}

/* Feed pieces of in, cut at the offsets in cuts (ascending), until the
 * reply ends or fails. */
static void
run_pieces(const char *in, size_t len, const size_t *cuts, size_t ncuts,
           struct outcome *o)
{
    mtasts__smtp_reply_init(&o->r);
    o->status = MTASTS_OK;
    o->used = 0;
    size_t from = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t to = i < ncuts ? cuts[i] : len;
        size_t used = 0;
        o->status = feed_piece(&o->r, in + from, to - from, &used);
        o->used += used;
        if (o->status != MTASTS_OK || o->r.done) {
            ck_assert_msg(o->status != MTASTS_OK || used <= to - from,
                          "used past the piece");
            return;
        }
        ck_assert_uint_eq(used, to - from); /* an incomplete reply takes
                                               everything */
        from = to;
    }
}

static void
run_whole(const char *in, size_t len, struct outcome *o)
{
    run_pieces(in, len, NULL, 0, o);
}

static void
run_split(const char *in, size_t len, size_t at, struct outcome *o)
{
    size_t cuts[1] = {at};
    run_pieces(in, len, cuts, 1, o);
}

static void
run_bytes(const char *in, size_t len, struct outcome *o)
{
    size_t *cuts = malloc((len + 1) * sizeof(*cuts));
    ck_assert_ptr_nonnull(cuts);
    for (size_t i = 0; i + 1 < len; i++) {
        cuts[i] = i + 1;
    }
    run_pieces(in, len, cuts, len > 0 ? len - 1 : 0, o);
    free(cuts);
}

/* ---- the table ----------------------------------------------------------- */

static void
check_row(const struct td_file *f, const struct td_row *r, const char *way,
          const struct outcome *o)
{
    int want = td_status(f, r, 2);
    const char *tls = r->field[5];
    ck_assert_msg(o->status == want, ROW "%s: status %s, want %s (%s)",
                  ROW_ARGS(f, r), way, mtasts_status_name(o->status),
                  mtasts_status_name(want), o->r.why);
    ck_assert_msg(o->r.code == td_number(f, r, 3), ROW "%s: code %u",
                  ROW_ARGS(f, r), way, o->r.code);
    ck_assert_msg(o->r.lines == td_number(f, r, 4), ROW "%s: %zu lines",
                  ROW_ARGS(f, r), way, o->r.lines);
    ck_assert_msg(o->used == td_number(f, r, 6), ROW "%s: used %zu",
                  ROW_ARGS(f, r), way, o->used);
    ck_assert_msg(strcmp(o->r.keywords, r->field[7]) == 0,
                  ROW "%s: keywords \"%s\"", ROW_ARGS(f, r), way,
                  o->r.keywords);
    if (want != MTASTS_OK) {
        ck_assert_msg(!o->r.done, ROW "%s: done after an error", ROW_ARGS(f, r),
                      way);
        ck_assert_msg(strstr(o->r.why, r->field[8]) != NULL,
                      ROW "%s: message \"%s\" lacks \"%s\"", ROW_ARGS(f, r),
                      way, o->r.why, r->field[8]);
        return;
    }
    ck_assert_msg(o->r.why[0] == '\0', ROW "%s: a message on success",
                  ROW_ARGS(f, r), way);
    if (strcmp(tls, "incomplete") == 0) {
        ck_assert_msg(!o->r.done, ROW "%s: done", ROW_ARGS(f, r), way);
        return;
    }
    ck_assert_msg(o->r.done, ROW "%s: not done", ROW_ARGS(f, r), way);
    ck_assert_msg(o->r.starttls == (strcmp(tls, "yes") == 0),
                  ROW "%s: starttls %d", ROW_ARGS(f, r), way, o->r.starttls);
}

START_TEST(test_smtp_reply_table)
{
    const struct td_file *f = &smtp_table;
    const struct td_row *r = &f->row[_i];
    const char *in = r->field[1];
    size_t len = r->len[1];

    struct outcome whole;
    run_whole(in, len, &whole);
    check_row(f, r, "whole", &whole);

    struct outcome bytes;
    run_bytes(in, len, &bytes);
    check_row(f, r, "byte by byte", &bytes);
    ck_assert_str_eq(bytes.r.why, whole.r.why);

    for (size_t at = 1; at < len; at++) {
        struct outcome two;
        char way[48];
        snprintf(way, sizeof(way), "split at %zu", at);
        run_split(in, len, at, &two);
        check_row(f, r, way, &two);
        ck_assert_str_eq(two.r.why, whole.r.why);
    }
}
END_TEST

/* ---- limits built here --------------------------------------------------- */

/* One line in a malloc'ed buffer: code_sep ("220 "), then 'x' up to
 * content bytes, then eol. */
static char *
make_line(size_t content, const char *code_sep, const char *eol,
          size_t *len_out)
{
    size_t e = strlen(eol);
    char *buf = malloc(content + e);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_ge(content, 4);
    memcpy(buf, code_sep, 4);
    memset(buf + 4, 'x', content - 4);
    memcpy(buf + content, eol, e);
    *len_out = content + e;
    return buf;
}

START_TEST(test_smtp_line_limit)
{
    /* R5321-4.5.3.1.5: 512 bytes with CRLF, i.e. 510 of content; the same
     * content with a bare LF. _i: 0 CRLF, 1 LF. */
    const char *eol = _i == 0 ? "\r\n" : "\n";
    size_t len = 0;
    char *in = make_line(CONTENT_MAX, "220 ", eol, &len);
    struct outcome o;
    run_whole(in, len, &o);
    ck_assert_int_eq(o.status, MTASTS_OK);
    ck_assert(o.r.done);
    ck_assert_uint_eq(o.r.first_len, CONTENT_MAX);
    ck_assert_uint_eq(o.used, len);
    run_bytes(in, len, &o);
    ck_assert_int_eq(o.status, MTASTS_OK);
    free(in);

    in = make_line(CONTENT_MAX + 1, "220 ", eol, &len);
    run_whole(in, len, &o);
    ck_assert_int_eq(o.status, MTASTS_ERR_TOO_LARGE);
    ck_assert_str_eq(o.r.why, "line 1 longer than 512 bytes with its CRLF "
                              "(RFC 5321 §4.5.3.1.5)");
    /* It fails at the 511th content byte, before the line end. */
    ck_assert_uint_eq(o.used, CONTENT_MAX + 1);
    free(in);
}
END_TEST

START_TEST(test_smtp_line_limit_endless)
{
    /* A line that never ends fails as soon as it is too long, whether or
     * not its last byte so far is a CR. */
    size_t len = 0;
    char *in = make_line(4000, "250-", "", &len);
    struct outcome o;
    run_bytes(in, len, &o);
    ck_assert_int_eq(o.status, MTASTS_ERR_TOO_LARGE);
    ck_assert_uint_eq(o.used, CONTENT_MAX + 1);
    free(in);

    in = make_line(CONTENT_MAX, "250-", "\r\r", &len);
    run_whole(in, len, &o);
    ck_assert_int_eq(o.status, MTASTS_ERR_TOO_LARGE);
    ck_assert_uint_eq(o.used, len);
    free(in);
}
END_TEST

/* n lines: n-1 continuation lines "250-Kk" and a last "250 END" (or, with
 * last false, n continuation lines). */
static char *
make_lines(size_t n, bool last, size_t *len_out)
{
    char *buf = malloc(n * 16 + 16);
    ck_assert_ptr_nonnull(buf);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        bool end = last && i + 1 == n;
        o += (size_t)sprintf(buf + o, end ? "250 END\r\n" : "250-K%zu\r\n", i);
    }
    *len_out = o;
    return buf;
}

START_TEST(test_smtp_lines_limit)
{
    size_t len = 0;
    char *in = make_lines(MTASTS__SMTP_LINES_MAX, true, &len);
    struct outcome o;
    run_whole(in, len, &o);
    ck_assert_int_eq(o.status, MTASTS_OK);
    ck_assert_uint_eq(o.r.lines, MTASTS__SMTP_LINES_MAX);
    ck_assert_uint_eq(o.used, len);
    /* The keyword list is cut, visibly. */
    size_t kl = strlen(o.r.keywords);
    ck_assert_uint_lt(kl, sizeof(o.r.keywords));
    ck_assert_str_eq(o.r.keywords + kl - 4, " ...");
    ck_assert(strncmp(o.r.keywords, "K1 K2 K3 ", 9) == 0);
    free(in);

    in = make_lines(MTASTS__SMTP_LINES_MAX, false, &len);
    run_whole(in, len, &o);
    ck_assert_int_eq(o.status, MTASTS_ERR_TOO_LARGE);
    ck_assert_str_eq(o.r.why, "more than 64 lines in one reply");
    ck_assert_uint_eq(o.used, len);
    free(in);
}
END_TEST

START_TEST(test_smtp_byte_in_text)
{
    /* Every byte value inside the text: HT, SP to '~' and 0x80 to 0xFF are
     * text; CR is a bare CR; LF ends the line early; others are control
     * bytes. */
    unsigned char b = (unsigned char)_i;
    char in[16];
    memcpy(in, "220 a?b\r\n", 9);
    in[5] = (char)b;
    struct outcome o;
    run_whole(in, 9, &o);
    if (b == '\n') {
        ck_assert_int_eq(o.status, MTASTS_OK);
        ck_assert_uint_eq(o.used, 6); /* "220 a\n" */
    } else if (b == '\t' || (b >= 0x20 && b != 0x7f)) {
        ck_assert_int_eq(o.status, MTASTS_OK);
        ck_assert_uint_eq(o.used, 9);
        ck_assert(o.r.done);
    } else if (b == '\r') {
        ck_assert_int_eq(o.status, MTASTS_ERR_SYNTAX);
        ck_assert_ptr_nonnull(strstr(o.r.why, "a CR not followed by LF"));
    } else {
        ck_assert_int_eq(o.status, MTASTS_ERR_SYNTAX);
        ck_assert_msg(
            strstr(o.r.why, b == 0x7f ? "DEL byte" : "control byte 0x") != NULL,
            "byte 0x%02x: %s", b, o.r.why);
    }
}
END_TEST

START_TEST(test_smtp_reply_codes)
{
    /* R5321-4.2 Reply-code = %x32-35 %x30-35 %x30-39: every code from 000
     * to 999 on a one-line reply. */
    char in[16];
    snprintf(in, sizeof(in), "%03d x\r\n", _i);
    struct outcome o;
    run_whole(in, strlen(in), &o);
    int d1 = _i / 100;
    int d2 = _i / 10 % 10;
    bool ok = d1 >= 2 && d1 <= 5 && d2 <= 5;
    ck_assert_int_eq(o.status, ok ? MTASTS_OK : MTASTS_ERR_SYNTAX);
    ck_assert_uint_eq(o.r.code, ok ? (unsigned)_i : 0);
}
END_TEST

START_TEST(test_smtp_feed_after_end)
{
    /* Once done, nothing more is taken; once failed, the failure stays. */
    struct mtasts__smtp_reply r;
    size_t used = 99;
    mtasts__smtp_reply_init(&r);
    ck_assert_int_eq(mtasts__smtp_reply_feed(&r, "220 a\r\n", 7, &used),
                     MTASTS_OK);
    ck_assert(r.done);
    ck_assert_int_eq(mtasts__smtp_reply_feed(&r, "250 b\r\n", 7, &used),
                     MTASTS_OK);
    ck_assert_uint_eq(used, 0);
    ck_assert_uint_eq(r.code, 220);

    mtasts__smtp_reply_init(&r);
    ck_assert_int_eq(mtasts__smtp_reply_feed(&r, "bad\r\n", 5, &used),
                     MTASTS_ERR_SYNTAX);
    ck_assert_int_eq(mtasts__smtp_reply_feed(&r, "220 a\r\n", 7, &used),
                     MTASTS_ERR_SYNTAX);
    ck_assert_uint_eq(used, 0);
    ck_assert(!r.done);

    /* Empty and NULL input. */
    mtasts__smtp_reply_init(&r);
    ck_assert_int_eq(mtasts__smtp_reply_feed(&r, NULL, 0, &used), MTASTS_OK);
    ck_assert_uint_eq(used, 0);
    ck_assert(!r.done);
}
END_TEST

START_TEST(test_smtp_reinit)
{
    /* One reader serves a whole session: init resets every part. */
    struct mtasts__smtp_reply r;
    size_t used = 0;
    mtasts__smtp_reply_init(&r);
    const char ehlo[] = "250-mx\r\n250 STARTTLS\r\n";
    ck_assert_int_eq(mtasts__smtp_reply_feed(&r, ehlo, strlen(ehlo), &used),
                     MTASTS_OK);
    ck_assert(r.starttls);
    mtasts__smtp_reply_init(&r);
    ck_assert_int_eq(mtasts__smtp_reply_feed(&r, "220 go\r\n", 8, &used),
                     MTASTS_OK);
    ck_assert(!r.starttls);
    ck_assert_str_eq(r.keywords, "");
    ck_assert_uint_eq(r.lines, 1);
    ck_assert_uint_eq(r.first_len, 6);
    ck_assert(memcmp(r.first, "220 go", 6) == 0);
}
END_TEST

/* ---- EHLO keywords ------------------------------------------------------- */

static const struct {
    const char *text;
    bool want;
} keyword_cases[] = {
    {"STARTTLS", true},    {"starttls", true},   {"StartTLS", true},
    {"STARTTLS x", true},  {"STARTTLS ", true},  {"STARTTLSX", false},
    {"STARTTL", false},    {"", false},          {" STARTTLS", false},
    {"STARTTLS\t", false}, {"XSTARTTLS", false}, {"8BITMIME", false},
};

START_TEST(test_smtp_ehlo_keyword)
{
    /* R5321-4.1.1.1 ehlo-keyword, RFC 3207 §4: any case, then the end or a
     * space. */
    const char *t = keyword_cases[_i].text;
    char *copy = td_exact_copy(t, strlen(t));
    ck_assert_msg(mtasts__smtp_ehlo_keyword((const unsigned char *)copy,
                                            strlen(t), "starttls",
                                            8) == keyword_cases[_i].want,
                  "\"%s\"", t);
    free(copy);
}
END_TEST

START_TEST(test_smtp_keyword_cut)
{
    /* A keyword over 32 bytes is listed cut, with "...". */
    char in[128];
    snprintf(in, sizeof(in), "250-mx\r\n250 %s\r\n",
             "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
    struct outcome o;
    run_whole(in, strlen(in), &o);
    ck_assert_int_eq(o.status, MTASTS_OK);
    ck_assert_str_eq(o.r.keywords, "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345...");
}
END_TEST

/* ---- quoting for reasons ------------------------------------------------- */

static const struct {
    const char *in;
    size_t len;
    size_t size;
    const char *want;
} quote_cases[] = {
    {"554 go away", 11, 64, "\"554 go away\""},
    {"", 0, 64, "\"\""},
    {"a\"b\\c", 5, 64, "\"a\\\"b\\\\c\""},
    {"\x00\x1b\x7f\xff", 4, 64, "\"\\x00\\x1b\\x7f\\xff\""},
    {"abcdef", 6, 9, "\"abcdef\""},  /* exactly fits: 8 and the NUL */
    {"abcdefg", 7, 9, "\"abc...\""}, /* one more: cut */
    {"abcdefg", 7, 6, "\"...\""},    /* the least room */
    {"abcdefg", 7, 5, ""},           /* not even that */
    {"a\xff", 2, 7, "\"a...\""},     /* an escape is never split */
    {"a\xff", 2, 8, "\"a\\xff\""},
};

START_TEST(test_smtp_quote)
{
    char out[64];
    memset(out, '#', sizeof(out));
    size_t size = quote_cases[_i].size;
    mtasts__smtp_quote((const unsigned char *)quote_cases[_i].in,
                       quote_cases[_i].len, out, size);
    ck_assert_str_eq(out, quote_cases[_i].want);
    ck_assert_uint_lt(strlen(out), size);
    for (size_t i = size; i < sizeof(out); i++) {
        ck_assert_int_eq(out[i], '#'); /* nothing written past size */
    }
}
END_TEST

START_TEST(test_smtp_quote_zero)
{
    char out[1] = {'#'};
    mtasts__smtp_quote((const unsigned char *)"x", 1, out, 0);
    ck_assert_int_eq(out[0], '#');
}
END_TEST

static Suite *
smtp_suite(void)
{
    Suite *s = suite_create("smtp");

    TCase *tc = tcase_create("table");
    tcase_add_loop_test(tc, test_smtp_reply_table, 0, (int)smtp_table.nrows);
    suite_add_tcase(s, tc);

    tc = tcase_create("limits");
    tcase_add_loop_test(tc, test_smtp_line_limit, 0, 2);
    tcase_add_test(tc, test_smtp_line_limit_endless);
    tcase_add_test(tc, test_smtp_lines_limit);
    suite_add_tcase(s, tc);

    tc = tcase_create("bytes");
    tcase_add_loop_test(tc, test_smtp_byte_in_text, 0, 256);
    tcase_add_loop_test(tc, test_smtp_reply_codes, 0, 1000);
    tcase_add_test(tc, test_smtp_feed_after_end);
    tcase_add_test(tc, test_smtp_reinit);
    suite_add_tcase(s, tc);

    tc = tcase_create("ehlo");
    tcase_add_loop_test(tc, test_smtp_ehlo_keyword, 0,
                        (int)ARRAY_LEN(keyword_cases));
    tcase_add_test(tc, test_smtp_keyword_cut);
    suite_add_tcase(s, tc);

    tc = tcase_create("quote");
    tcase_add_loop_test(tc, test_smtp_quote, 0, (int)ARRAY_LEN(quote_cases));
    tcase_add_test(tc, test_smtp_quote_zero);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    td_load(&smtp_table, "smtp_reply_cases.tsv", 9);
    int rc = harness_run(smtp_suite());
    td_free(&smtp_table);
    return rc;
}
