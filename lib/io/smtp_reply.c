/* Reading SMTP replies (RFC 5321 §4.2), pure: bytes in, one reply out,
 * with a precise reason for anything that is not a reply. See smtp.h for
 * the accepted grammar. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "io/smtp.h"
#include "util/chars.h"

/* A reply line's content: MTASTS__SMTP_LINE_MAX without its CRLF. */
#define CONTENT_MAX (MTASTS__SMTP_LINE_MAX - 2)
#define KEYWORD_SHOWN_MAX 32 /* bytes of one EHLO keyword listed */
#define QUOTE_MAX 72         /* a line quoted in a reason */

#if defined(__GNUC__) || defined(__clang__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

static int fail(struct mtasts__smtp_reply *r, int status, const char *fmt, ...)
    PRINTF_LIKE(3, 4);

static int
fail(struct mtasts__smtp_reply *r, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof(r->why), fmt, ap);
    va_end(ap);
    r->err = status;
    return status;
}

void
mtasts__smtp_reply_init(struct mtasts__smtp_reply *r)
{
    r->done = false;
    r->code = 0;
    r->lines = 0;
    r->starttls = false;
    r->first_len = 0;
    r->keywords[0] = '\0';
    r->keywords_cut = false;
    r->len = 0;
    r->err = 0;
    r->why[0] = '\0';
}

void
mtasts__smtp_quote(const unsigned char *bytes, size_t len, char *out,
                   size_t size)
{
    static const char hex[] = "0123456789abcdef";
    if (size < 6) { /* not even `"..."` */
        if (size > 0) {
            out[0] = '\0';
        }
        return;
    }
    size_t need = 3; /* the quotes and the NUL */
    for (size_t i = 0; i < len; i++) {
        unsigned char b = bytes[i];
        need += (b == '"' || b == '\\') ? 2 : (b >= 0x20 && b < 0x7f) ? 1 : 4;
    }
    bool cut = need > size;
    /* Where the text must end: before the closing quote and the NUL, and
     * when cut before `..."` and the NUL. */
    size_t limit = cut ? size - 5 : size - 2;
    size_t o = 0;
    out[o++] = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char b = bytes[i];
        char esc[4];
        size_t n = 0;
        if (b == '"' || b == '\\') {
            esc[n++] = '\\';
            esc[n++] = (char)b;
        } else if (b >= 0x20 && b < 0x7f) {
            esc[n++] = (char)b;
        } else {
            esc[n++] = '\\';
            esc[n++] = 'x';
            esc[n++] = hex[b >> 4];
            esc[n++] = hex[b & 15];
        }
        if (o + n > limit) {
            break;
        }
        memcpy(out + o, esc, n);
        o += n;
    }
    if (cut) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o++] = '"';
    out[o] = '\0';
}

bool
mtasts__smtp_ehlo_keyword(const unsigned char *text, size_t len,
                          const char *lower, size_t n)
{
    return len >= n && mtasts__eq_lower(text, lower, n) &&
           (len == n || text[n] == ' ');
}

/* Add the keyword at the start of an EHLO line's text to r->keywords:
 * letters upper case, digits and '-' as they are, any other byte as '?';
 * "..." marks a keyword or a list cut short. */
static void
note_keyword(struct mtasts__smtp_reply *r, const unsigned char *text,
             size_t len)
{
    if (r->keywords_cut) {
        return;
    }
    char kw[KEYWORD_SHOWN_MAX + 4];
    size_t k = 0;
    size_t i = 0;
    for (; i < len && text[i] != ' ' && k < KEYWORD_SHOWN_MAX; i++) {
        unsigned char b = text[i];
        kw[k++] = mtasts__is(b, MTASTS__C_ALNUM) || b == '-'
                      ? (char)(b >= 'a' && b <= 'z' ? b - 32 : b)
                      : '?';
    }
    if (i < len && text[i] != ' ') {
        memcpy(kw + k, "...", 3);
        k += 3;
    }
    if (k == 0) {
        return;
    }
    size_t have = strlen(r->keywords);
    size_t sep = have > 0 ? 1 : 0;
    /* Keep room for a final " ..." after this keyword. */
    if (have + sep + k + 5 > sizeof(r->keywords)) {
        memcpy(r->keywords + have, sep ? " ..." : "...", sep ? 5 : 4);
        r->keywords_cut = true;
        return;
    }
    if (sep) {
        r->keywords[have++] = ' ';
    }
    memcpy(r->keywords + have, kw, k);
    r->keywords[have + k] = '\0';
}

/* Judge one complete line (its line end removed) of n bytes. */
static int
end_line(struct mtasts__smtp_reply *r, const unsigned char *s, size_t n)
{
    size_t no = r->lines + 1;
    char got[QUOTE_MAX];
    const unsigned char *cr = memchr(s, '\r', n);
    if (cr != NULL) {
        return fail(r, MTASTS_ERR_SYNTAX,
                    "line %zu: a CR not followed by LF at byte %zu", no,
                    (size_t)(cr - s) + 1);
    }
    if (n < 3 || !mtasts__is(s[0], MTASTS__C_DIGIT) ||
        !mtasts__is(s[1], MTASTS__C_DIGIT) ||
        !mtasts__is(s[2], MTASTS__C_DIGIT)) {
        mtasts__smtp_quote(s, n, got, sizeof(got));
        return fail(r, MTASTS_ERR_SYNTAX,
                    "line %zu: expected a three-digit reply code, got %s", no,
                    got);
    }
    unsigned code = (unsigned)(s[0] - '0') * 100 + (unsigned)(s[1] - '0') * 10 +
                    (unsigned)(s[2] - '0');
    if (s[0] < '2' || s[0] > '5' || s[1] > '5') {
        return fail(r, MTASTS_ERR_SYNTAX,
                    "line %zu: reply code %03u is not one of 200 to 559 "
                    "(RFC 5321 §4.2)",
                    no, code);
    }
    if (n > 3 && s[3] != ' ' && s[3] != '-') {
        mtasts__smtp_quote(s + 3, 1, got, sizeof(got));
        return fail(r, MTASTS_ERR_SYNTAX,
                    "line %zu: expected ' ' or '-' after the code, got %s", no,
                    got);
    }
    for (size_t i = 4; i < n; i++) {
        if (s[i] < 0x20 && s[i] != '\t') {
            return fail(r, MTASTS_ERR_SYNTAX,
                        "line %zu: control byte 0x%02x in the text at byte "
                        "%zu",
                        no, (unsigned)s[i], i + 1);
        }
        if (s[i] == 0x7f) {
            return fail(r, MTASTS_ERR_SYNTAX,
                        "line %zu: DEL byte in the text at byte %zu", no,
                        i + 1);
        }
    }
    if (r->lines == 0) {
        r->code = code;
        memcpy(r->first, s, n);
        r->first_len = n;
    } else if (code != r->code) {
        return fail(r, MTASTS_ERR_SYNTAX,
                    "line %zu: code %03u differs from the code %03u of "
                    "line 1",
                    no, code, r->code);
    } else if (n > 4) {
        note_keyword(r, s + 4, n - 4);
        if (mtasts__smtp_ehlo_keyword(s + 4, n - 4, "starttls", 8)) {
            r->starttls = true;
        }
    }
    r->lines++;
    if (n == 3 || s[3] == ' ') {
        r->done = true;
        return MTASTS_OK;
    }
    if (r->lines == MTASTS__SMTP_LINES_MAX) {
        return fail(r, MTASTS_ERR_TOO_LARGE, "more than %d lines in one reply",
                    MTASTS__SMTP_LINES_MAX);
    }
    return MTASTS_OK;
}

int
mtasts__smtp_reply_feed(struct mtasts__smtp_reply *r, const void *data,
                        size_t len, size_t *used)
{
    const unsigned char *p = data;
    *used = 0;
    if (r->err != 0) {
        return r->err;
    }
    for (size_t i = 0; i < len && !r->done; i++) {
        unsigned char b = p[i];
        *used = i + 1;
        if (b == '\n') {
            size_t n = r->len;
            if (n > 0 && r->line[n - 1] == '\r') {
                n--; /* CRLF; a bare LF ends the line as well */
            }
            r->len = 0;
            int rc = end_line(r, r->line, n);
            if (rc != MTASTS_OK) {
                return rc;
            }
            continue;
        }
        /* Room for the content and a CR: a longer line fails now, before
         * its end arrives (if ever). */
        if (r->len == CONTENT_MAX + 1 || (r->len == CONTENT_MAX && b != '\r')) {
            return fail(r, MTASTS_ERR_TOO_LARGE,
                        "line %zu longer than %d bytes with its CRLF "
                        "(RFC 5321 §4.5.3.1.5)",
                        r->lines + 1, MTASTS__SMTP_LINE_MAX);
        }
        r->line[r->len++] = b;
    }
    return MTASTS_OK;
}
