/* The JSON text builder of the reports (report/json.h). */
#include "report/json.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "util/alloc.h"

#define JSON_CHUNK 1024

void
mtasts__json_init(struct mtasts__json *j)
{
    memset(j, 0, sizeof(*j));
}

static void
put(struct mtasts__json *j, const char *s, size_t n)
{
    if (j->failed) {
        return;
    }
    if (j->len + n + 1 > j->cap) {
        size_t cap = j->cap ? j->cap : JSON_CHUNK;
        while (cap < j->len + n + 1) {
            cap *= 2;
        }
        char *p = mtasts__realloc(j->buf, cap);
        if (p == NULL) {
            j->failed = true;
            return;
        }
        j->buf = p;
        j->cap = cap;
    }
    memcpy(j->buf + j->len, s, n);
    j->len += n;
    j->buf[j->len] = '\0';
}

void
mtasts__json_raw(struct mtasts__json *j, const char *text)
{
    put(j, text, strlen(text));
}

void
mtasts__json_bytes(struct mtasts__json *j, const void *data, size_t n)
{
    put(j, data, n);
}

/* The length of the well-formed UTF-8 sequence at s[0..len), or 0. */
static size_t
utf8_seq(const unsigned char *s, size_t len)
{
    unsigned char c = s[0];
    size_t n;
    unsigned lo = 0x80, hi = 0xbf; /* the second byte's range */
    if (c < 0x80) {
        return 1;
    } else if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        lo = c == 0xe0 ? 0xa0 : 0x80; /* no overlong forms */
        hi = c == 0xed ? 0x9f : 0xbf; /* no surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        lo = c == 0xf0 ? 0x90 : 0x80;
        hi = c == 0xf4 ? 0x8f : 0xbf; /* nothing above U+10FFFF */
    } else {
        return 0;
    }
    if (len < n || s[1] < lo || s[1] > hi) {
        return 0;
    }
    for (size_t i = 2; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
    }
    return n;
}

bool
mtasts__utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_seq(p + i, len - i);
        if (n == 0) {
            return false;
        }
        i += n;
    }
    return true;
}

void
mtasts__json_string(struct mtasts__json *j, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    put(j, "\"", 1);
    size_t run = 0; /* bytes copied as they are, not yet written */
    for (size_t i = 0; i < len;) {
        unsigned char c = p[i];
        size_t n = utf8_seq(p + i, len - i);
        if (n != 0 && c >= 0x20 && c != '"' && c != '\\' && c != 0x7f) {
            i += n;
            run += n;
            continue;
        }
        put(j, s + i - run, run);
        run = 0;
        char esc[8];
        if (n == 0) {
            put(j, "\\ufffd", 6); /* an ill-formed byte */
        } else if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put(j, esc, 2);
        } else {
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            put(j, esc, 6);
        }
        i++;
    }
    put(j, s + len - run, run);
    put(j, "\"", 1);
}

void
mtasts__json_key(struct mtasts__json *j, bool comma, const char *name)
{
    if (comma) {
        put(j, ",", 1);
    }
    mtasts__json_string(j, name, strlen(name));
    put(j, ":", 1);
}

void
mtasts__json_uint(struct mtasts__json *j, uint64_t v)
{
    char num[24];
    int n = snprintf(num, sizeof(num), "%" PRIu64, v);
    put(j, num, (size_t)n);
}

char *
mtasts__json_finish(struct mtasts__json *j, size_t *len_out)
{
    if (j->failed || j->buf == NULL) {
        mtasts__free(j->buf);
        j->buf = NULL;
        return NULL;
    }
    if (len_out != NULL) {
        *len_out = j->len;
    }
    char *out = j->buf;
    j->buf = NULL;
    return out;
}
