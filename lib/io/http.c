/* Incremental HTTP/1.x response parser (RFC 9112 §2-§7, RFC 9110 §5).
 *
 *   status-line = HTTP-version SP status-code SP [ reason-phrase ]
 *   field-line  = field-name ":" OWS field-value OWS
 *   chunk       = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *   chunk-ext   = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
 *
 * Every read of input goes through the bounded cursor; lines are gathered
 * in the parser's own buffer, which bounds them too. */
#include "io/http.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mtasts/mtasts.h"
#include "util/chars.h"
#include "util/cur.h"

enum http_state {
    ST_HEAD = 0,   /* status line and header fields */
    ST_LENGTH,     /* a Content-Length body */
    ST_CLOSE,      /* a body read until the connection closes */
    ST_CHUNK_SIZE, /* a chunk-size line */
    ST_CHUNK_DATA, /* chunk data */
    ST_CHUNK_CR,   /* the CRLF after chunk data */
    ST_CHUNK_LF,   /* its LF */
    ST_TRAILER,    /* the trailer section */
    ST_DONE,
    ST_FAILED
};

#if defined(__GNUC__) || defined(__clang__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

static int fail(struct mtasts__http *h, int status, const char *fmt, ...)
    PRINTF_LIKE(3, 4);

static int
fail(struct mtasts__http *h, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->why, sizeof(h->why), fmt, ap);
    va_end(ap);
    h->state = ST_FAILED;
    h->err = status;
    return status;
}

/* ---- byte classes (RFC 9110 §5.6.2, §5.5) ----------------------------- */

static bool
is_tchar(int c)
{
    if (c < 0) {
        return false;
    }
    if (mtasts__is((unsigned char)c, MTASTS__C_ALNUM)) {
        return true;
    }
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* field-vchar / SP / HTAB: VCHAR, obs-text, SP, HTAB. */
static bool
is_field_byte(int c)
{
    return c == ' ' || c == '\t' || (c >= 0x21 && c != 0x7f);
}

static bool
is_wsp(int c)
{
    return c == ' ' || c == '\t';
}

static bool
same_name(const unsigned char *name, size_t len, const char *want)
{
    size_t n = strlen(want);
    return len == n && mtasts__eq_lower(name, want, n);
}

/* Up to max bytes of network text, printable ASCII or '?', for messages. */
static void
shown(char *out, size_t out_size, const unsigned char *s, size_t len)
{
    size_t n = len < out_size - 1 ? len : out_size - 1;
    for (size_t i = 0; i < n; i++) {
        out[i] = mtasts__is(s[i], MTASTS__C_VCHAR) || s[i] == ' ' ? (char)s[i]
                                                                  : '?';
    }
    out[n] = '\0';
}

/* ---- set-up and queries ---------------------------------------------- */

static void
head_reset(struct mtasts__http *h)
{
    h->head_status = 0;
    h->minor = 1;
    h->nlines = 0;
    h->have_length = false;
    h->have_chunked = false;
    h->have_type = false;
    h->content_length = 0;
    h->type_off = 0;
    h->type_len = 0;
    h->buf_len = 0;
    h->line_start = 0;
}

void
mtasts__http_init(struct mtasts__http *h, size_t body_max,
                  mtasts__http_head_fn *on_head, mtasts__http_body_fn *on_body,
                  void *user)
{
    h->state = ST_HEAD;
    h->err = MTASTS_OK;
    h->body_max = body_max;
    h->on_head = on_head;
    h->on_body = on_body;
    h->user = user;
    head_reset(h);
    h->interim = 0;
    h->saw_bytes = false;
    h->status = 0;
    h->close_delimited = false;
    h->body_len = 0;
    h->left = 0;
    h->why[0] = '\0';
}

bool
mtasts__http_complete(const struct mtasts__http *h)
{
    return h->state == ST_DONE;
}

bool
mtasts__http_close_delimited(const struct mtasts__http *h)
{
    return h->close_delimited;
}

unsigned
mtasts__http_status(const struct mtasts__http *h)
{
    return h->status;
}

const char *
mtasts__http_why(const struct mtasts__http *h)
{
    return h->why;
}

/* ---- lines ------------------------------------------------------------- */

/* The line just completed, without its LF and one CR before it. A CR
 * anywhere else is an error (RFC 9112 §2.2). */
static int
last_line(struct mtasts__http *h, const unsigned char **line, size_t *len)
{
    const unsigned char *p = h->buf + h->line_start;
    size_t n = h->buf_len - 1 - h->line_start;
    if (n > 0 && p[n - 1] == '\r') {
        n--;
    }
    h->line_start = h->buf_len;
    struct mtasts__cur c;
    mtasts__cur_init(&c, p, n);
    mtasts__cur_take_until(&c, '\r');
    if (!mtasts__cur_at_end(&c)) {
        return fail(h, MTASTS_ERR_SYNTAX, "CR not followed by LF");
    }
    *line = p;
    *len = n;
    return MTASTS_OK;
}

/* Gather bytes up to and including an LF into buf, which may hold limit
 * bytes in all. 1: a line is complete, and *line and *len are that line
 * (from last_line); 0: more is needed; or a failure. */
static int
take_line(struct mtasts__http *h, struct mtasts__cur *c, size_t limit,
          const char *too_long, const unsigned char **line, size_t *len)
{
    const unsigned char *start = c->ptr;
    size_t n = mtasts__cur_take_until(c, '\n');
    bool lf = !mtasts__cur_at_end(c);
    if (n + (lf ? 1 : 0) > limit - h->buf_len) {
        return fail(h, MTASTS_ERR_TOO_LARGE, "%s", too_long);
    }
    memcpy(h->buf + h->buf_len, start, n);
    h->buf_len += n;
    if (!lf) {
        return 0;
    }
    mtasts__cur_skip(c, 1);
    h->buf[h->buf_len++] = '\n';
    int rc = last_line(h, line, len);
    return rc == MTASTS_OK ? 1 : rc;
}

/* ---- the status line -------------------------------------------------- */

static int
status_line(struct mtasts__http *h, const unsigned char *line, size_t len)
{
    struct mtasts__cur c;
    mtasts__cur_init(&c, line, len);
    if (!mtasts__cur_take_lit(&c, "HTTP/", 5)) {
        return fail(h, MTASTS_ERR_SYNTAX,
                    "not an HTTP response (the status line must begin with "
                    "\"HTTP/\")");
    }
    int major = mtasts__cur_peek(&c);
    int minor = mtasts__cur_peek_at(&c, 2);
    if (major < '0' || major > '9' || mtasts__cur_peek_at(&c, 1) != '.' ||
        minor < '0' || minor > '9') {
        return fail(h, MTASTS_ERR_SYNTAX, "malformed HTTP version");
    }
    if (major != '1') {
        return fail(h, MTASTS_ERR_SYNTAX,
                    "unsupported HTTP version %c.%c (only HTTP/1.x)", major,
                    minor);
    }
    h->minor = (unsigned)(minor - '0');
    mtasts__cur_skip(&c, 3);
    if (!mtasts__cur_take_lit(&c, " ", 1)) {
        return fail(h, MTASTS_ERR_SYNTAX,
                    "expected a space after the HTTP version");
    }
    unsigned code = 0;
    for (int i = 0; i < 3; i++) {
        int d = mtasts__cur_peek(&c);
        if (d < '0' || d > '9') {
            return fail(h, MTASTS_ERR_SYNTAX,
                        "invalid status code (three digits expected)");
        }
        code = code * 10 + (unsigned)(d - '0');
        mtasts__cur_skip(&c, 1);
    }
    if (code < 100 || code > 599) {
        return fail(h, MTASTS_ERR_SYNTAX,
                    "status code %u out of range (100 to 599)", code);
    }
    h->head_status = code;
    if (mtasts__cur_at_end(&c)) {
        return MTASTS_OK; /* no reason phrase, no SP: tolerated */
    }
    if (!mtasts__cur_take_lit(&c, " ", 1)) {
        return fail(h, MTASTS_ERR_SYNTAX,
                    "expected a space after the status code");
    }
    while (!mtasts__cur_at_end(&c)) {
        int b = mtasts__cur_peek(&c);
        if (!is_field_byte(b)) {
            return fail(h, MTASTS_ERR_SYNTAX,
                        "invalid byte 0x%02x in the reason phrase", b);
        }
        mtasts__cur_skip(&c, 1);
    }
    return MTASTS_OK;
}

/* ---- header and trailer fields ---------------------------------------- */

static int
field_content_length(struct mtasts__http *h, const unsigned char *v,
                     size_t len)
{
    if (h->have_length) {
        return fail(h, MTASTS_ERR_SYNTAX, "more than one Content-Length field");
    }
    if (len == 0) {
        return fail(h, MTASTS_ERR_SYNTAX, "empty Content-Length");
    }
    uint64_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9') {
            return fail(h, MTASTS_ERR_SYNTAX,
                        "invalid Content-Length (only digits are allowed)");
        }
        unsigned d = (unsigned)(v[i] - '0');
        n = n > (UINT64_MAX - d) / 10 ? UINT64_MAX : n * 10 + d;
    }
    h->have_length = true;
    h->content_length = n;
    return MTASTS_OK;
}

static int
field_transfer_encoding(struct mtasts__http *h, const unsigned char *v,
                        size_t len)
{
    if (h->have_chunked) {
        return fail(h, MTASTS_ERR_SYNTAX,
                    "more than one Transfer-Encoding field");
    }
    if (!same_name(v, len, "chunked")) {
        char what[41];
        shown(what, sizeof(what), v, len);
        return fail(h, MTASTS_ERR_SYNTAX,
                    "unsupported Transfer-Encoding \"%s\" (only chunked)",
                    what);
    }
    h->have_chunked = true;
    return MTASTS_OK;
}

/* A field line: name ":" OWS value OWS. In the head, the framing fields
 * and Content-Type are taken; trailer fields are only checked. */
static int
field_line(struct mtasts__http *h, const unsigned char *line, size_t len,
           bool in_head)
{
    struct mtasts__cur c;
    mtasts__cur_init(&c, line, len);
    if (is_wsp(mtasts__cur_peek(&c))) {
        return fail(h, MTASTS_ERR_SYNTAX,
                    "obsolete line folding (a field line begins with "
                    "whitespace)");
    }
    const unsigned char *name = c.ptr;
    while (is_tchar(mtasts__cur_peek(&c))) {
        mtasts__cur_skip(&c, 1);
    }
    size_t name_len = (size_t)(c.ptr - name);
    int b = mtasts__cur_peek(&c);
    if (b != ':' || name_len == 0) {
        if (name_len == 0 && b == ':') {
            return fail(h, MTASTS_ERR_SYNTAX, "field line with an empty name");
        }
        if (name_len > 0 && is_wsp(b)) {
            return fail(h, MTASTS_ERR_SYNTAX,
                        "whitespace between a field name and its colon");
        }
        if (b < 0) {
            return fail(h, MTASTS_ERR_SYNTAX, "field line without a colon");
        }
        return fail(h, MTASTS_ERR_SYNTAX,
                    "invalid byte 0x%02x in a field name", b);
    }
    mtasts__cur_skip(&c, 1);
    while (is_wsp(mtasts__cur_peek(&c))) {
        mtasts__cur_skip(&c, 1);
    }
    const unsigned char *value = c.ptr;
    size_t value_off = (size_t)(value - h->buf);
    while (!mtasts__cur_at_end(&c)) {
        b = mtasts__cur_peek(&c);
        if (!is_field_byte(b)) {
            return fail(h, MTASTS_ERR_SYNTAX,
                        "invalid byte 0x%02x in the value of field %.*s", b,
                        (int)(name_len < 40 ? name_len : 40),
                        (const char *)name);
        }
        mtasts__cur_skip(&c, 1);
    }
    size_t value_len = (size_t)(c.ptr - value);
    while (value_len > 0 && is_wsp(value[value_len - 1])) {
        value_len--;
    }
    if (!in_head) {
        return MTASTS_OK;
    }
    if (same_name(name, name_len, "content-length")) {
        return field_content_length(h, value, value_len);
    }
    if (same_name(name, name_len, "transfer-encoding")) {
        return field_transfer_encoding(h, value, value_len);
    }
    if (same_name(name, name_len, "content-type")) {
        if (h->have_type) {
            return fail(h, MTASTS_ERR_SYNTAX,
                        "more than one Content-Type field");
        }
        h->have_type = true;
        h->type_off = value_off;
        h->type_len = value_len;
    }
    return MTASTS_OK;
}

/* ---- the end of a head -------------------------------------------------- */

static int
deliver_head(struct mtasts__http *h)
{
    const char *type = NULL;
    if (h->have_type) {
        /* The value ends before the line's LF, inside buf: room for a
         * NUL now that the line has been read. */
        h->buf[h->type_off + h->type_len] = '\0';
        type = (const char *)h->buf + h->type_off;
    }
    h->status = h->head_status;
    if (h->on_head != NULL) {
        int rc = h->on_head(h->user, h->status, type);
        if (rc != MTASTS_OK) {
            return fail(h, rc, "response head not accepted: %s",
                        mtasts_strerror(rc));
        }
    }
    return MTASTS_OK;
}

static int
head_end(struct mtasts__http *h)
{
    unsigned code = h->head_status;
    if (code < 200) {
        if (code == 101) {
            return fail(h, MTASTS_ERR_SYNTAX,
                        "unexpected 101 Switching Protocols");
        }
        if (++h->interim > MTASTS__HTTP_INTERIM_MAX) {
            return fail(h, MTASTS_ERR_SYNTAX,
                        "more than %d interim (1xx) responses",
                        MTASTS__HTTP_INTERIM_MAX);
        }
        head_reset(h); /* the final response follows */
        return MTASTS_OK;
    }
    if (h->have_chunked && h->minor == 0) {
        return fail(h, MTASTS_ERR_SYNTAX,
                    "Transfer-Encoding in an HTTP/1.0 response");
    }
    if (h->have_chunked && h->have_length) {
        return fail(h, MTASTS_ERR_SYNTAX,
                    "both Transfer-Encoding and Content-Length");
    }
    int rc = deliver_head(h);
    if (rc != MTASTS_OK) {
        return rc;
    }
    if (code == 204 || code == 304) {
        h->state = ST_DONE; /* no body (RFC 9112 §6.3) */
    } else if (h->have_chunked) {
        h->buf_len = 0;
        h->line_start = 0;
        h->state = ST_CHUNK_SIZE;
    } else if (h->have_length) {
        if (h->content_length > (uint64_t)h->body_max) {
            return fail(h, MTASTS_ERR_TOO_LARGE,
                        "body of %llu bytes (Content-Length) is larger than "
                        "the limit of %zu bytes",
                        (unsigned long long)h->content_length, h->body_max);
        }
        h->left = h->content_length;
        h->state = h->left == 0 ? ST_DONE : ST_LENGTH;
    } else {
        h->close_delimited = true;
        h->state = ST_CLOSE;
    }
    return MTASTS_OK;
}

static int
feed_head(struct mtasts__http *h, struct mtasts__cur *c)
{
    h->saw_bytes = true;
    const unsigned char *line = NULL;
    size_t len = 0;
    int rc = take_line(h, c, MTASTS__HTTP_HEAD_MAX,
                       "response head larger than 16384 bytes", &line, &len);
    if (rc <= 0) {
        return rc;
    }
    if (h->nlines++ == 0) {
        return status_line(h, line, len);
    }
    if (len == 0) {
        return head_end(h);
    }
    return field_line(h, line, len, true);
}

/* ---- bodies -------------------------------------------------------------- */

static int
deliver(struct mtasts__http *h, const unsigned char *p, size_t n)
{
    if (n > h->body_max - h->body_len) {
        return fail(h, MTASTS_ERR_TOO_LARGE, "body larger than %zu bytes",
                    h->body_max);
    }
    h->body_len += n;
    if (h->on_body != NULL && n > 0) {
        int rc = h->on_body(h->user, p, n);
        if (rc != MTASTS_OK) {
            return fail(h, rc, "body not accepted: %s", mtasts_strerror(rc));
        }
    }
    return MTASTS_OK;
}

/* Content-Length bodies and chunk data: up to h->left bytes. */
static int
feed_counted(struct mtasts__http *h, struct mtasts__cur *c)
{
    size_t n = c->left;
    if ((uint64_t)n > h->left) {
        n = (size_t)h->left;
    }
    const unsigned char *p = c->ptr;
    mtasts__cur_skip(c, n);
    int rc = deliver(h, p, n);
    if (rc != MTASTS_OK) {
        return rc;
    }
    h->left -= n;
    if (h->left == 0) {
        h->state = h->state == ST_LENGTH ? ST_DONE : ST_CHUNK_CR;
    }
    return MTASTS_OK;
}

static int
feed_close(struct mtasts__http *h, struct mtasts__cur *c)
{
    const unsigned char *p = c->ptr;
    size_t n = c->left;
    mtasts__cur_skip(c, n);
    return deliver(h, p, n);
}

/* quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE */
static bool
take_quoted(struct mtasts__cur *c)
{
    mtasts__cur_skip(c, 1); /* the opening quote */
    while (!mtasts__cur_at_end(c)) {
        int b = mtasts__cur_peek(c);
        mtasts__cur_skip(c, 1);
        if (b == '"') {
            return true;
        }
        if (b == '\\') {
            if (!is_field_byte(mtasts__cur_peek(c))) {
                return false;
            }
            mtasts__cur_skip(c, 1);
        } else if (!is_field_byte(b)) {
            return false;
        }
    }
    return false;
}

static bool
take_token(struct mtasts__cur *c)
{
    size_t n = 0;
    while (is_tchar(mtasts__cur_peek(c))) {
        mtasts__cur_skip(c, 1);
        n++;
    }
    return n > 0;
}

/* chunk-ext after the size; trailing whitespace is tolerated. Each turn
 * takes at least the ';'. */
static bool
take_chunk_ext(struct mtasts__cur *c)
{
    for (;;) {
        while (is_wsp(mtasts__cur_peek(c))) {
            mtasts__cur_skip(c, 1);
        }
        if (mtasts__cur_at_end(c)) {
            return true;
        }
        if (mtasts__cur_peek(c) != ';') {
            return false;
        }
        mtasts__cur_skip(c, 1);
        while (is_wsp(mtasts__cur_peek(c))) {
            mtasts__cur_skip(c, 1);
        }
        if (!take_token(c)) {
            return false;
        }
        while (is_wsp(mtasts__cur_peek(c))) {
            mtasts__cur_skip(c, 1);
        }
        if (mtasts__cur_peek(c) == '=') {
            mtasts__cur_skip(c, 1);
            while (is_wsp(mtasts__cur_peek(c))) {
                mtasts__cur_skip(c, 1);
            }
            bool ok = mtasts__cur_peek(c) == '"' ? take_quoted(c)
                                                 : take_token(c);
            if (!ok) {
                return false;
            }
        }
    }
}

static int
hex_value(int b)
{
    if (b >= '0' && b <= '9') {
        return b - '0';
    }
    if (b >= 'a' && b <= 'f') {
        return b - 'a' + 10;
    }
    if (b >= 'A' && b <= 'F') {
        return b - 'A' + 10;
    }
    return -1;
}

static int
chunk_size_line(struct mtasts__http *h, const unsigned char *line, size_t len)
{
    struct mtasts__cur c;
    mtasts__cur_init(&c, line, len);
    uint64_t size = 0;
    size_t digits = 0;
    for (;;) {
        int d = hex_value(mtasts__cur_peek(&c));
        if (d < 0) {
            break;
        }
        size = size > (UINT64_MAX - (unsigned)d) / 16
                   ? UINT64_MAX
                   : size * 16 + (unsigned)d;
        mtasts__cur_skip(&c, 1);
        digits++;
    }
    if (digits == 0) {
        return fail(h, MTASTS_ERR_SYNTAX,
                    "invalid chunk size (hex digits expected)");
    }
    if (!take_chunk_ext(&c)) {
        return fail(h, MTASTS_ERR_SYNTAX, "invalid chunk extension");
    }
    h->buf_len = 0;
    h->line_start = 0;
    if (size == 0) {
        h->state = ST_TRAILER;
        return MTASTS_OK;
    }
    if (size > (uint64_t)(h->body_max - h->body_len)) {
        return fail(h, MTASTS_ERR_TOO_LARGE, "body larger than %zu bytes",
                    h->body_max);
    }
    h->left = size;
    h->state = ST_CHUNK_DATA;
    return MTASTS_OK;
}

static int
feed_chunk_size(struct mtasts__http *h, struct mtasts__cur *c)
{
    const unsigned char *line = NULL;
    size_t len = 0;
    int rc = take_line(h, c, MTASTS__HTTP_CHUNK_LINE_MAX,
                       "chunk-size line longer than 4096 bytes", &line, &len);
    if (rc <= 0) {
        return rc;
    }
    return chunk_size_line(h, line, len);
}

/* The CRLF (or a bare LF) after chunk data. */
static int
feed_chunk_end(struct mtasts__http *h, struct mtasts__cur *c)
{
    int b = mtasts__cur_peek(c);
    if (h->state == ST_CHUNK_CR && b == '\r') {
        mtasts__cur_skip(c, 1);
        h->state = ST_CHUNK_LF;
        return MTASTS_OK;
    }
    if (b != '\n') {
        return fail(h, MTASTS_ERR_SYNTAX,
                    "chunk data not followed by CRLF (wrong chunk size?)");
    }
    mtasts__cur_skip(c, 1);
    h->state = ST_CHUNK_SIZE;
    return MTASTS_OK;
}

static int
feed_trailer(struct mtasts__http *h, struct mtasts__cur *c)
{
    const unsigned char *line = NULL;
    size_t len = 0;
    int rc = take_line(h, c, MTASTS__HTTP_HEAD_MAX,
                       "trailer section larger than 16384 bytes", &line, &len);
    if (rc <= 0) {
        return rc;
    }
    if (len == 0) {
        h->state = ST_DONE;
        return MTASTS_OK;
    }
    return field_line(h, line, len, false);
}

/* ---- feeding -------------------------------------------------------------- */

static int
feed_step(struct mtasts__http *h, struct mtasts__cur *c)
{
    switch (h->state) {
    case ST_HEAD:
        return feed_head(h, c);
    case ST_LENGTH:
    case ST_CHUNK_DATA:
        return feed_counted(h, c);
    case ST_CLOSE:
        return feed_close(h, c);
    case ST_CHUNK_SIZE:
        return feed_chunk_size(h, c);
    case ST_CHUNK_CR:
    case ST_CHUNK_LF:
        return feed_chunk_end(h, c);
    case ST_TRAILER:
        return feed_trailer(h, c);
    default:
        mtasts__cur_skip(c, c->left); /* after the end: ignored */
        return MTASTS_OK;
    }
}

int
mtasts__http_feed(struct mtasts__http *h, const void *data, size_t len)
{
    if (h->state == ST_FAILED) {
        return h->err;
    }
    if (len == 0) {
        return MTASTS_OK;
    }
    struct mtasts__cur c;
    mtasts__cur_init(&c, data, len);
    /* Each step takes at least one byte or ends the response. */
    while (!mtasts__cur_at_end(&c) && h->state != ST_DONE) {
        feed_step(h, &c);
        if (h->state == ST_FAILED) {
            return h->err;
        }
    }
    return MTASTS_OK;
}

int
mtasts__http_finish(struct mtasts__http *h)
{
    switch (h->state) {
    case ST_DONE:
        return MTASTS_OK;
    case ST_FAILED:
        return h->err;
    case ST_CLOSE:
        h->state = ST_DONE;
        return MTASTS_OK;
    case ST_HEAD:
        return fail(h, MTASTS_ERR_SYNTAX,
                    h->saw_bytes ? "connection closed inside the response head"
                                 : "connection closed without a response");
    case ST_LENGTH:
        return fail(h, MTASTS_ERR_SYNTAX,
                    "connection closed after %zu of %llu body bytes",
                    h->body_len, (unsigned long long)h->content_length);
    case ST_TRAILER:
        return fail(h, MTASTS_ERR_SYNTAX,
                    "connection closed inside the trailer section");
    default:
        return fail(h, MTASTS_ERR_SYNTAX,
                    "connection closed inside the chunked body");
    }
}

/* ---- the request head ---------------------------------------------------- */

size_t
mtasts__http_request_head(char *buf, size_t size,
                          const struct mtasts__http_request *r)
{
    char port[16] = "";
    if (r->port != 443) {
        snprintf(port, sizeof(port), ":%u", (unsigned)r->port);
    }
    int n;
    if (r->content_type == NULL) {
        /* RFC 8461 §3.3: no conditional request, no caching headers. */
        n = snprintf(buf, size,
                     "GET %s HTTP/1.1\r\n"
                     "Host: %s%s\r\n"
                     "Connection: close\r\n"
                     "User-Agent: libmtasts/%s\r\n"
                     "Accept: text/plain\r\n"
                     "\r\n",
                     r->path, r->host, port, MTASTS_VERSION_STRING);
    } else {
        /* RFC 8460 §5.4: the report is the whole body. */
        n = snprintf(buf, size,
                     "POST %s HTTP/1.1\r\n"
                     "Host: %s%s\r\n"
                     "Connection: close\r\n"
                     "User-Agent: libmtasts/%s\r\n"
                     "Content-Type: %s\r\n"
                     "Content-Length: %zu\r\n"
                     "\r\n",
                     r->path, r->host, port, MTASTS_VERSION_STRING,
                     r->content_type, r->body_len);
    }
    if (n < 0 || (size_t)n >= size) {
        return 0;
    }
    return (size_t)n;
}
