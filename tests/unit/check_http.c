/* Unit tests of the incremental HTTP/1.x response parser of the default
 * I/O (lib/io/http.c): RFC 9112 framing, the body cap (R8461-3.3-k,
 * CHECKLIST E-13), and the transport of status and Content-Type to the
 * engine (R8461-3.2-b, R8461-3.3-g, R8461-3.3-h: the parser reports, the
 * engine judges).
 *
 * The table is tests/data/http_cases.tsv; each row is fed whole, one byte
 * at a time and split in two at every offset, every piece in a heap block
 * of its exact size, and all ways must agree. Limits that need long inputs
 * and the callback paths are tested below; the byte tests restate the
 * RFC 9110 field grammar here, apart from lib/io/http.c.
 */
#include "harness.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/http.h"
#include "mtasts/mtasts.h"

#define TYPE_MAX 512
#define DEFAULT_CAP MTASTS_POLICY_MAX

static struct td_file http_table;

/* ---- what the callbacks saw ------------------------------------------- */

struct seen {
    unsigned heads;
    unsigned status;
    bool have_type;
    char type[TYPE_MAX];
    unsigned char *body;
    size_t body_len;
    size_t body_calls;
    bool body_before_head;
    int head_rc;          /* what the head callback returns */
    int body_rc;          /* what the body callback returns... */
    size_t body_rc_after; /* ...from this call on (1-based; 0 never) */
};

static void
seen_init(struct seen *s)
{
    memset(s, 0, sizeof(*s));
}

static void
seen_free(struct seen *s)
{
    free(s->body);
    s->body = NULL;
}

static int
seen_head(void *user, unsigned status, const char *type)
{
    struct seen *s = user;
    s->heads++;
    s->status = status;
    s->have_type = type != NULL;
    if (type != NULL) {
        ck_assert_uint_lt(strlen(type), TYPE_MAX);
        strcpy(s->type, type);
    }
    return s->head_rc;
}

static int
seen_body(void *user, const unsigned char *data, size_t len)
{
    struct seen *s = user;
    ck_assert_uint_gt(len, 0);
    if (s->heads == 0) {
        s->body_before_head = true;
    }
    s->body_calls++;
    if (s->body_rc_after != 0 && s->body_calls >= s->body_rc_after) {
        return s->body_rc;
    }
    unsigned char *grown = realloc(s->body, s->body_len + len);
    ck_assert_ptr_nonnull(grown);
    memcpy(grown + s->body_len, data, len);
    s->body = grown;
    s->body_len += len;
    return MTASTS_OK;
}

/* ---- running a response -------------------------------------------- */

enum end { END_COMPLETE, END_CLOSE, END_ERROR_FEED, END_ERROR_EOF };

static const char *const end_names[] = {"complete", "close", "error-feed",
                                        "error-eof"};

struct outcome {
    int status;
    enum end end;
    char why[MTASTS__HTTP_WHY_MAX];
    struct seen seen;
};

/* Feed in[0..len) in pieces cut at cuts[0..ncuts) (ascending), each piece
 * in a heap block of its exact size; then the end of the connection. */
static void
run_cuts(const char *in, size_t len, size_t cap, const size_t *cuts,
         size_t ncuts, struct outcome *o)
{
    struct mtasts__http *h = malloc(sizeof(*h));
    ck_assert_ptr_nonnull(h);
    mtasts__http_init(h, cap, seen_head, seen_body, &o->seen);
    o->status = MTASTS_OK;
    size_t at = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        size_t n = end - at;
        char *piece = malloc(n != 0 ? n : 1);
        ck_assert_ptr_nonnull(piece);
        if (n != 0) {
            memcpy(piece, in + at, n);
        }
        o->status = mtasts__http_feed(h, piece, n);
        free(piece);
        at = end;
        if (o->status != MTASTS_OK) {
            break;
        }
    }
    if (o->status != MTASTS_OK) {
        o->end = END_ERROR_FEED;
        ck_assert_int_eq(mtasts__http_finish(h), o->status); /* sticky */
    } else if (mtasts__http_complete(h)) {
        o->end = END_COMPLETE;
        ck_assert_int_eq(mtasts__http_finish(h), MTASTS_OK);
    } else {
        ck_assert(!mtasts__http_complete(h));
        o->status = mtasts__http_finish(h);
        o->end = o->status == MTASTS_OK ? END_CLOSE : END_ERROR_EOF;
        ck_assert(mtasts__http_complete(h) == (o->status == MTASTS_OK));
    }
    ck_assert_uint_eq(mtasts__http_status(h), o->seen.status);
    snprintf(o->why, sizeof(o->why), "%s", mtasts__http_why(h));
    free(h);
}

static void
run_whole(const char *in, size_t len, size_t cap, struct outcome *o)
{
    seen_init(&o->seen);
    run_cuts(in, len, cap, NULL, 0, o);
}

static void
run_bytes(const char *in, size_t len, size_t cap, struct outcome *o)
{
    size_t *cuts = malloc((len != 0 ? len : 1) * sizeof(*cuts));
    ck_assert_ptr_nonnull(cuts);
    for (size_t i = 0; i + 1 < len; i++) {
        cuts[i] = i + 1;
    }
    seen_init(&o->seen);
    run_cuts(in, len, cap, cuts, len > 0 ? len - 1 : 0, o);
    free(cuts);
}

static void
run_split(const char *in, size_t len, size_t cap, size_t at,
          struct outcome *o)
{
    seen_init(&o->seen);
    run_cuts(in, len, cap, &at, 1, o);
}

/* ---- the table -------------------------------------------------------- */

static enum end
row_end(const struct td_file *f, const struct td_row *r, size_t field)
{
    for (size_t i = 0; i < ARRAY_LEN(end_names); i++) {
        if (strcmp(r->field[field], end_names[i]) == 0) {
            return (enum end)i;
        }
    }
    ck_abort_msg(ROW "unknown end \"%s\"", ROW_ARGS(f, r), r->field[field]);
    return END_COMPLETE;
}

static size_t
row_number(const struct td_file *f, const struct td_row *r, size_t field,
           size_t dash)
{
    return r->len[field] == 0 ? dash : td_number(f, r, field);
}

struct want {
    int status;
    enum end end;
    unsigned http;
    bool have_type;
    const char *type;
    const char *body;
    size_t body_len;
    const char *message; /* NULL on success */
    size_t cap;
};

static void
check_outcome(const struct td_file *f, const struct td_row *r,
              const char *way, const struct want *w, const struct outcome *o)
{
    const struct seen *s = &o->seen;
    ck_assert_msg(o->status == w->status, ROW "%s: status %s, want %s",
                  ROW_ARGS(f, r), way, mtasts_status_name(o->status),
                  mtasts_status_name(w->status));
    ck_assert_msg(o->end == w->end, ROW "%s: end %s, want %s", ROW_ARGS(f, r),
                  way, end_names[o->end], end_names[w->end]);
    ck_assert_msg(s->heads == (w->http != 0 ? 1u : 0u),
                  ROW "%s: head reported %u times", ROW_ARGS(f, r), way,
                  s->heads);
    ck_assert_msg(s->status == w->http, ROW "%s: HTTP status %u, want %u",
                  ROW_ARGS(f, r), way, s->status, w->http);
    ck_assert_msg(!s->body_before_head, ROW "%s: body before head",
                  ROW_ARGS(f, r), way);
    if (w->http != 0) {
        ck_assert_msg(s->have_type == w->have_type &&
                          (!w->have_type || strcmp(s->type, w->type) == 0),
                      ROW "%s: Content-Type \"%s\", want \"%s\"",
                      ROW_ARGS(f, r), way, s->have_type ? s->type : "(none)",
                      w->have_type ? w->type : "(none)");
    }
    ck_assert_msg(s->body_len <= w->cap, ROW "%s: body over the cap",
                  ROW_ARGS(f, r), way);
    if (w->message == NULL) {
        ck_assert_msg(s->body_len == w->body_len &&
                          (s->body_len == 0 ||
                           memcmp(s->body, w->body, s->body_len) == 0),
                      ROW "%s: body of %zu bytes differs", ROW_ARGS(f, r), way,
                      s->body_len);
        ck_assert_msg(o->why[0] == '\0', ROW "%s: message \"%s\" on success",
                      ROW_ARGS(f, r), way, o->why);
    } else {
        ck_assert_msg(s->body_len <= w->body_len &&
                          (s->body_len == 0 ||
                           memcmp(s->body, w->body, s->body_len) == 0),
                      ROW "%s: body of %zu bytes is not a prefix of the "
                          "table's",
                      ROW_ARGS(f, r), way, s->body_len);
        ck_assert_msg(strstr(o->why, w->message) != NULL,
                      ROW "%s: message \"%s\" lacks \"%s\"", ROW_ARGS(f, r),
                      way, o->why, w->message);
    }
}

START_TEST(test_http_table)
{
    const struct td_file *f = &http_table;
    const struct td_row *r = &f->row[_i];
    struct want w;
    w.cap = row_number(f, r, 2, DEFAULT_CAP);
    w.status = td_status(f, r, 3);
    w.end = row_end(f, r, 4);
    w.http = (unsigned)row_number(f, r, 5, 0);
    w.have_type = strcmp(r->field[6], "(none)") != 0;
    w.type = r->field[6];
    w.body = r->field[7];
    w.body_len = r->len[7];
    w.message = w.status == MTASTS_OK ? NULL : r->field[8];
    ck_assert_msg((w.status == MTASTS_OK) ==
                      (w.end == END_COMPLETE || w.end == END_CLOSE),
                  ROW "status and end disagree", ROW_ARGS(f, r));

    const char *in = r->field[1];
    size_t len = r->len[1];
    struct outcome whole;
    run_whole(in, len, w.cap, &whole);
    check_outcome(f, r, "whole", &w, &whole);

    struct outcome bytes;
    run_bytes(in, len, w.cap, &bytes);
    check_outcome(f, r, "byte by byte", &w, &bytes);
    ck_assert_str_eq(bytes.why, whole.why);
    seen_free(&bytes.seen);

    for (size_t at = 1; at < len; at++) {
        struct outcome two;
        char way[48];
        snprintf(way, sizeof(way), "split at %zu", at);
        run_split(in, len, w.cap, at, &two);
        check_outcome(f, r, way, &w, &two);
        ck_assert_str_eq(two.why, whole.why);
        seen_free(&two.seen);
    }
    seen_free(&whole.seen);
}
END_TEST

/* ---- limits built here ------------------------------------------------- */

/* A response head of exactly total bytes: a status line, one X-Pad field
 * sized to fit, the empty line; then "ok" with Content-Length 2. */
static char *
make_head(size_t total, size_t *len_out)
{
    static const char status[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n";
    static const char pad[] = "X-Pad: ";
    size_t fixed = strlen(status) + strlen(pad) + 2 + 2; /* CRLF, CRLF */
    ck_assert_uint_gt(total, fixed);
    char *buf = malloc(total + 2);
    ck_assert_ptr_nonnull(buf);
    size_t o = 0;
    memcpy(buf + o, status, strlen(status));
    o += strlen(status);
    memcpy(buf + o, pad, strlen(pad));
    o += strlen(pad);
    memset(buf + o, 'p', total - fixed);
    o += total - fixed;
    memcpy(buf + o, "\r\n\r\nok", 6);
    o += 6;
    ck_assert_uint_eq(o, total + 2);
    *len_out = o;
    return buf;
}

START_TEST(test_http_head_limit)
{
    size_t len = 0;
    char *in = make_head(MTASTS__HTTP_HEAD_MAX, &len);
    struct outcome o;
    run_whole(in, len, DEFAULT_CAP, &o);
    ck_assert_int_eq(o.status, MTASTS_OK);
    ck_assert_int_eq(o.end, END_COMPLETE);
    ck_assert_uint_eq(o.seen.body_len, 2);
    seen_free(&o.seen);
    run_bytes(in, len, DEFAULT_CAP, &o);
    ck_assert_int_eq(o.status, MTASTS_OK);
    seen_free(&o.seen);
    free(in);

    in = make_head(MTASTS__HTTP_HEAD_MAX + 1, &len);
    run_whole(in, len, DEFAULT_CAP, &o);
    ck_assert_int_eq(o.status, MTASTS_ERR_TOO_LARGE);
    ck_assert_str_eq(o.why, "response head larger than 16384 bytes");
    ck_assert_uint_eq(o.seen.heads, 0);
    seen_free(&o.seen);
    run_bytes(in, len, DEFAULT_CAP, &o);
    ck_assert_int_eq(o.status, MTASTS_ERR_TOO_LARGE);
    seen_free(&o.seen);
    free(in);
}
END_TEST

/* A head line that never ends fails at the limit, not at the end. */
START_TEST(test_http_head_endless_line)
{
    size_t len = MTASTS__HTTP_HEAD_MAX + 100;
    char *in = malloc(len);
    ck_assert_ptr_nonnull(in);
    memcpy(in, "HTTP/1.1 200 OK\r\nX: ", 20);
    memset(in + 20, 'a', len - 20);
    struct outcome o;
    run_whole(in, len, DEFAULT_CAP, &o);
    ck_assert_int_eq(o.status, MTASTS_ERR_TOO_LARGE);
    ck_assert_int_eq(o.end, END_ERROR_FEED);
    seen_free(&o.seen);
    free(in);
}
END_TEST

/* "HTTP/1.1 200 OK / chunked" then a chunk-size line of exactly line_len
 * bytes with its CRLF ("1;" and an extension name), one byte, the end. */
static char *
make_chunk_line(size_t line_len, size_t *len_out)
{
    static const char head[] =
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    static const char tail[] = "x\r\n0\r\n\r\n";
    size_t hl = strlen(head);
    char *buf = malloc(hl + line_len + strlen(tail));
    ck_assert_ptr_nonnull(buf);
    memcpy(buf, head, hl);
    memcpy(buf + hl, "1;", 2);
    memset(buf + hl + 2, 'e', line_len - 4);
    memcpy(buf + hl + line_len - 2, "\r\n", 2);
    memcpy(buf + hl + line_len, tail, strlen(tail));
    *len_out = hl + line_len + strlen(tail);
    return buf;
}

START_TEST(test_http_chunk_line_limit)
{
    size_t len = 0;
    char *in = make_chunk_line(MTASTS__HTTP_CHUNK_LINE_MAX, &len);
    struct outcome o;
    run_whole(in, len, DEFAULT_CAP, &o);
    ck_assert_int_eq(o.status, MTASTS_OK);
    ck_assert_uint_eq(o.seen.body_len, 1);
    seen_free(&o.seen);
    free(in);

    in = make_chunk_line(MTASTS__HTTP_CHUNK_LINE_MAX + 1, &len);
    run_bytes(in, len, DEFAULT_CAP, &o);
    ck_assert_int_eq(o.status, MTASTS_ERR_TOO_LARGE);
    ck_assert_str_eq(o.why, "chunk-size line longer than 4096 bytes");
    seen_free(&o.seen);
    free(in);
}
END_TEST

/* A chunked body "ok" whose trailer section is exactly total bytes (one
 * X-Pad field and the empty line). */
static char *
make_trailers(size_t total, size_t *len_out)
{
    static const char head[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
                               "chunked\r\n\r\n2\r\nok\r\n0\r\n";
    size_t hl = strlen(head);
    size_t fixed = strlen("X-Pad: ") + 2 + 2;
    char *buf = malloc(hl + total);
    ck_assert_ptr_nonnull(buf);
    memcpy(buf, head, hl);
    memcpy(buf + hl, "X-Pad: ", 7);
    memset(buf + hl + 7, 't', total - fixed);
    memcpy(buf + hl + total - 4, "\r\n\r\n", 4);
    *len_out = hl + total;
    return buf;
}

START_TEST(test_http_trailer_limit)
{
    size_t len = 0;
    char *in = make_trailers(MTASTS__HTTP_HEAD_MAX, &len);
    struct outcome o;
    run_whole(in, len, DEFAULT_CAP, &o);
    ck_assert_int_eq(o.status, MTASTS_OK);
    ck_assert_int_eq(o.end, END_COMPLETE);
    seen_free(&o.seen);
    free(in);

    in = make_trailers(MTASTS__HTTP_HEAD_MAX + 1, &len);
    run_whole(in, len, DEFAULT_CAP, &o);
    ck_assert_int_eq(o.status, MTASTS_ERR_TOO_LARGE);
    ck_assert_str_eq(o.why, "trailer section larger than 16384 bytes");
    ck_assert_uint_eq(o.seen.body_len, 2);
    seen_free(&o.seen);
    free(in);
}
END_TEST

static char *
make_interim(unsigned n, size_t *len_out)
{
    static const char early[] = "HTTP/1.1 103 Early Hints\r\n\r\n";
    static const char final[] = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx";
    size_t el = strlen(early);
    size_t len = n * el + strlen(final);
    char *buf = malloc(len);
    ck_assert_ptr_nonnull(buf);
    for (unsigned i = 0; i < n; i++) {
        memcpy(buf + i * el, early, el);
    }
    memcpy(buf + n * el, final, strlen(final));
    *len_out = len;
    return buf;
}

START_TEST(test_http_interim_limit)
{
    size_t len = 0;
    char *in = make_interim(MTASTS__HTTP_INTERIM_MAX, &len);
    struct outcome o;
    run_bytes(in, len, DEFAULT_CAP, &o);
    ck_assert_int_eq(o.status, MTASTS_OK);
    ck_assert_uint_eq(o.seen.status, 200);
    ck_assert_uint_eq(o.seen.heads, 1);
    seen_free(&o.seen);
    free(in);

    in = make_interim(MTASTS__HTTP_INTERIM_MAX + 1, &len);
    run_whole(in, len, DEFAULT_CAP, &o);
    ck_assert_int_eq(o.status, MTASTS_ERR_SYNTAX);
    ck_assert_str_eq(o.why, "more than 8 interim (1xx) responses");
    ck_assert_uint_eq(o.seen.heads, 0);
    seen_free(&o.seen);
    free(in);
}
END_TEST

/* A response with a body of `body` bytes framed one of three ways:
 * 0 Content-Length, 1 chunked (one chunk), 2 until the close. */
static char *
make_framed(int framing, size_t body, size_t *len_out)
{
    char *in = malloc(body + 128);
    ck_assert_ptr_nonnull(in);
    int hl;
    if (framing == 0) {
        hl = snprintf(in, 128, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n",
                      body);
    } else if (framing == 1) {
        hl = snprintf(in, 128,
                      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "%zx\r\n",
                      body);
    } else {
        hl = snprintf(in, 128, "HTTP/1.1 200 OK\r\n\r\n");
    }
    ck_assert_int_gt(hl, 0);
    memset(in + hl, 'b', body);
    size_t len = (size_t)hl + body;
    if (framing == 1) {
        memcpy(in + len, "\r\n0\r\n\r\n", 7);
        len += 7;
    }
    *len_out = len;
    return in;
}

/* The default cap is MTASTS_POLICY_MAX: 64 KiB passes, one more byte
 * fails, with each framing (R8461-3.3-k). */
START_TEST(test_http_default_cap)
{
    int framing = _i / 2;
    size_t extra = (size_t)(_i % 2);
    size_t len = 0;
    char *in = make_framed(framing, DEFAULT_CAP + extra, &len);
    struct outcome o;
    run_whole(in, len, DEFAULT_CAP, &o);
    if (extra == 0) {
        ck_assert_int_eq(o.status, MTASTS_OK);
        ck_assert_uint_eq(o.seen.body_len, DEFAULT_CAP);
    } else {
        ck_assert_int_eq(o.status, MTASTS_ERR_TOO_LARGE);
        ck_assert_uint_le(o.seen.body_len, DEFAULT_CAP);
    }
    seen_free(&o.seen);
    free(in);
}
END_TEST

/* ---- callbacks and life cycle ----------------------------------------- */

static const char ok_response[] =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n"
    "\r\n0123456789";

START_TEST(test_http_head_callback_error)
{
    struct mtasts__http h;
    struct seen s;
    seen_init(&s);
    s.head_rc = MTASTS_ERR_NOMEM;
    mtasts__http_init(&h, DEFAULT_CAP, seen_head, seen_body, &s);
    ck_assert_int_eq(mtasts__http_feed(&h, ok_response, strlen(ok_response)),
                     MTASTS_ERR_NOMEM);
    ck_assert_uint_eq(s.heads, 1);
    ck_assert_uint_eq(s.body_calls, 0);
    ck_assert_ptr_nonnull(strstr(mtasts__http_why(&h), "head not accepted"));
    /* an error is final */
    ck_assert_int_eq(mtasts__http_feed(&h, "x", 1), MTASTS_ERR_NOMEM);
    ck_assert_int_eq(mtasts__http_finish(&h), MTASTS_ERR_NOMEM);
    ck_assert(!mtasts__http_complete(&h));
    seen_free(&s);
}
END_TEST

START_TEST(test_http_body_callback_error)
{
    struct mtasts__http h;
    struct seen s;
    seen_init(&s);
    s.body_rc = MTASTS_ERR_TOO_LARGE;
    s.body_rc_after = 2;
    mtasts__http_init(&h, DEFAULT_CAP, seen_head, seen_body, &s);
    size_t len = strlen(ok_response);
    ck_assert_int_eq(mtasts__http_feed(&h, ok_response, len - 4), MTASTS_OK);
    ck_assert_int_eq(mtasts__http_feed(&h, ok_response + len - 4, 4),
                     MTASTS_ERR_TOO_LARGE);
    ck_assert_uint_eq(s.body_len, 6);
    ck_assert_ptr_nonnull(strstr(mtasts__http_why(&h), "body not accepted"));
    ck_assert_int_eq(mtasts__http_finish(&h), MTASTS_ERR_TOO_LARGE);
    seen_free(&s);
}
END_TEST

START_TEST(test_http_no_callbacks)
{
    struct mtasts__http h;
    mtasts__http_init(&h, DEFAULT_CAP, NULL, NULL, NULL);
    ck_assert_uint_eq(mtasts__http_status(&h), 0);
    ck_assert_str_eq(mtasts__http_why(&h), "");
    ck_assert_int_eq(mtasts__http_feed(&h, NULL, 0), MTASTS_OK);
    ck_assert_int_eq(mtasts__http_feed(&h, ok_response, strlen(ok_response)),
                     MTASTS_OK);
    ck_assert(mtasts__http_complete(&h));
    ck_assert(!mtasts__http_close_delimited(&h));
    ck_assert_uint_eq(mtasts__http_status(&h), 200);
    /* bytes after a complete response are ignored */
    ck_assert_int_eq(mtasts__http_feed(&h, "\x00garbage", 8), MTASTS_OK);
    ck_assert_int_eq(mtasts__http_finish(&h), MTASTS_OK);
    ck_assert_int_eq(mtasts__http_finish(&h), MTASTS_OK);
    ck_assert_str_eq(mtasts__http_why(&h), "");
}
END_TEST

START_TEST(test_http_close_delimited)
{
    static const char in[] = "HTTP/1.1 200 OK\r\n\r\nbody";
    struct mtasts__http h;
    mtasts__http_init(&h, DEFAULT_CAP, NULL, NULL, NULL);
    ck_assert(!mtasts__http_close_delimited(&h));
    ck_assert_int_eq(mtasts__http_feed(&h, in, strlen(in)), MTASTS_OK);
    ck_assert(mtasts__http_close_delimited(&h));
    ck_assert(!mtasts__http_complete(&h));
    ck_assert_int_eq(mtasts__http_finish(&h), MTASTS_OK);
    ck_assert(mtasts__http_complete(&h));
}
END_TEST

/* ---- every byte, against RFC 9110 restated ---------------------------- */

static bool
rfc_tchar(unsigned c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", (int)c) != NULL);
}

/* field-value bytes: VCHAR, obs-text, SP, HTAB (RFC 9110 §5.5). */
static bool
rfc_field_byte(unsigned c)
{
    return c == ' ' || c == '\t' || (c >= 0x21 && c <= 0x7e) || c >= 0x80;
}

START_TEST(test_http_byte_in_value)
{
    unsigned b = (unsigned)_i;
    char in[64];
    int n = snprintf(in, sizeof(in), "HTTP/1.1 200 OK\r\nX-A: a%cb\r\n\r\n",
                     'Z');
    ck_assert_int_gt(n, 0);
    char *at = strchr(in, 'Z');
    *at = (char)b;
    struct outcome o;
    run_whole(in, (size_t)n, DEFAULT_CAP, &o);
    if (b == '\n') {
        /* the line ends there; "b" is then a line without a colon */
        ck_assert_int_eq(o.status, MTASTS_ERR_SYNTAX);
    } else if (rfc_field_byte(b)) {
        ck_assert_msg(o.status == MTASTS_OK, "byte 0x%02x refused", b);
    } else {
        ck_assert_msg(o.status == MTASTS_ERR_SYNTAX, "byte 0x%02x accepted",
                      b);
    }
    seen_free(&o.seen);
}
END_TEST

START_TEST(test_http_byte_in_name)
{
    unsigned b = (unsigned)_i;
    char in[64];
    int n = snprintf(in, sizeof(in), "HTTP/1.1 200 OK\r\nX%cA: 1\r\n\r\n",
                     'Z');
    ck_assert_int_gt(n, 0);
    char *at = strchr(in, 'Z');
    *at = (char)b;
    struct outcome o;
    run_whole(in, (size_t)n, DEFAULT_CAP, &o);
    bool ok = rfc_tchar(b) || b == ':'; /* "X:A: 1" is field X */
    ck_assert_msg((o.status == MTASTS_OK) == ok, "byte 0x%02x: %s", b,
                  mtasts_status_name(o.status));
    seen_free(&o.seen);
}
END_TEST

static Suite *
http_suite(void)
{
    Suite *s = suite_create("http");

    TCase *tc = tcase_create("table");
    tcase_add_loop_test(tc, test_http_table, 0, (int)http_table.nrows);
    suite_add_tcase(s, tc);

    tc = tcase_create("limits");
    tcase_add_test(tc, test_http_head_limit);
    tcase_add_test(tc, test_http_head_endless_line);
    tcase_add_test(tc, test_http_chunk_line_limit);
    tcase_add_test(tc, test_http_trailer_limit);
    tcase_add_test(tc, test_http_interim_limit);
    tcase_add_loop_test(tc, test_http_default_cap, 0, 6);
    suite_add_tcase(s, tc);

    tc = tcase_create("callbacks");
    tcase_add_test(tc, test_http_head_callback_error);
    tcase_add_test(tc, test_http_body_callback_error);
    tcase_add_test(tc, test_http_no_callbacks);
    tcase_add_test(tc, test_http_close_delimited);
    suite_add_tcase(s, tc);

    tc = tcase_create("bytes");
    tcase_add_loop_test(tc, test_http_byte_in_value, 0, 256);
    tcase_add_loop_test(tc, test_http_byte_in_name, 0, 256);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    td_load(&http_table, "http_cases.tsv", 9);
    int rc = harness_run(http_suite());
    td_free(&http_table);
    return rc;
}
