#include "json.h"

#include <inttypes.h>
#include <string.h>

void
json_init(struct json *j, FILE *fp)
{
    memset(j, 0, sizeof(*j));
    j->fp = fp;
}

/* Before any value: a comma if a sibling came before it. */
static void
value_start(struct json *j)
{
    if (j->after_key) {
        j->after_key = false;
        return;
    }
    if (j->depth > 0 && j->need_comma[j->depth - 1]) {
        fputc(',', j->fp);
    }
    if (j->depth > 0) {
        j->need_comma[j->depth - 1] = true;
    }
}

static void
open_scope(struct json *j, int ch)
{
    value_start(j);
    fputc(ch, j->fp);
    if (j->depth < JSON_MAX_DEPTH) {
        j->need_comma[j->depth] = false;
    }
    j->depth++;
}

static void
close_scope(struct json *j, int ch)
{
    j->depth--;
    fputc(ch, j->fp);
}

void
json_begin_object(struct json *j)
{
    open_scope(j, '{');
}

void
json_end_object(struct json *j)
{
    close_scope(j, '}');
}

void
json_begin_array(struct json *j)
{
    open_scope(j, '[');
}

void
json_end_array(struct json *j)
{
    close_scope(j, ']');
}

/* Length of a well-formed UTF-8 sequence at s, or 0. */
static size_t
utf8_len(const unsigned char *s)
{
    unsigned char c = s[0];
    if (c >= 0xC2 && c <= 0xDF) {
        return (s[1] & 0xC0) == 0x80 ? 2 : 0;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        unsigned char lo = c == 0xE0 ? 0xA0 : 0x80;
        unsigned char hi = c == 0xED ? 0x9F : 0xBF;
        return s[1] >= lo && s[1] <= hi && (s[2] & 0xC0) == 0x80 ? 3 : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        unsigned char lo = c == 0xF0 ? 0x90 : 0x80;
        unsigned char hi = c == 0xF4 ? 0x8F : 0xBF;
        return s[1] >= lo && s[1] <= hi && (s[2] & 0xC0) == 0x80 &&
                       (s[3] & 0xC0) == 0x80
                   ? 4
                   : 0;
    }
    return 0;
}

static void
write_string(FILE *fp, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    fputc('"', fp);
    while (*s != '\0') {
        unsigned char c = *s;
        if (c == '"' || c == '\\') {
            fputc('\\', fp);
            fputc(c, fp);
            s++;
        } else if (c == '\n') {
            fputs("\\n", fp);
            s++;
        } else if (c == '\r') {
            fputs("\\r", fp);
            s++;
        } else if (c == '\t') {
            fputs("\\t", fp);
            s++;
        } else if (c < 0x20 || c == 0x7F) {
            fprintf(fp, "\\u%04x", c);
            s++;
        } else if (c < 0x80) {
            fputc(c, fp);
            s++;
        } else {
            /* The NUL terminator stops utf8_len's look-ahead: a NUL is
             * never a continuation byte. */
            size_t n = utf8_len(s);
            if (n == 0) {
                fputs("\\ufffd", fp);
                s++;
            } else {
                fwrite(s, 1, n, fp);
                s += n;
            }
        }
    }
    fputc('"', fp);
}

void
json_key(struct json *j, const char *key)
{
    value_start(j);
    write_string(j->fp, key);
    fputc(':', j->fp);
    j->after_key = true;
}

void
json_string(struct json *j, const char *s)
{
    value_start(j);
    write_string(j->fp, s);
}

void
json_uint(struct json *j, uint64_t v)
{
    value_start(j);
    fprintf(j->fp, "%" PRIu64, v);
}

void
json_bool(struct json *j, bool v)
{
    value_start(j);
    fputs(v ? "true" : "false", j->fp);
}

void
json_null(struct json *j)
{
    value_start(j);
    fputs("null", j->fp);
}

void
json_finish(struct json *j)
{
    fputc('\n', j->fp);
}
