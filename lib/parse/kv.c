/* The shared parts of the tag=value TXT records (parse/kv.h). */
#include "parse/kv.h"

#include <string.h>

#include "mtasts/mtasts.h"
#include "util/chars.h"

int
mtasts__kv_fail(struct mtasts__kv *kv, size_t at, const char *why)
{
    kv->bad = at;
    kv->why = why;
    return MTASTS_ERR_SYNTAX;
}

const char *
mtasts__kv_stray(int c)
{
    if (c == '=') {
        return "'=' is not allowed in a field value";
    }
    if (c == 0) {
        return "NUL byte in record";
    }
    if (c >= 0x80) {
        return "non-ASCII byte in record (the record is US-ASCII)";
    }
    if (c < 0x20 || c == 0x7f) {
        return "control character in record";
    }
    return "expected ';' between fields";
}

int
mtasts__kv_next(struct mtasts__kv *kv, size_t version_len,
                const char *after_version, bool *more)
{
    struct mtasts__cur *c = &kv->cur;
    *more = false;
    if (mtasts__cur_at_end(c)) {
        return MTASTS_OK;
    }
    size_t ws = mtasts__cur_offset(c);
    mtasts__cur_take_while(c, MTASTS__C_WSP);
    int d = mtasts__cur_peek(c);
    if (d != ';') {
        if (d < 0) {
            return mtasts__kv_fail(kv, ws, "trailing whitespace without ';'");
        }
        bool right_after = ws == version_len && mtasts__cur_offset(c) == ws;
        return mtasts__kv_fail(kv, mtasts__cur_offset(c),
                               right_after ? after_version
                                           : mtasts__kv_stray(d));
    }
    mtasts__cur_skip(c, 1);
    mtasts__cur_take_while(c, MTASTS__C_WSP);
    *more = !mtasts__cur_at_end(c); /* else the optional trailing ';' */
    return MTASTS_OK;
}

int
mtasts__kv_name(struct mtasts__kv *kv, const unsigned char **name, size_t *nlen)
{
    struct mtasts__cur *c = &kv->cur;
    size_t noff = mtasts__cur_offset(c);
    *name = c->ptr;
    int first = mtasts__cur_peek(c);
    if (first == ';') {
        return mtasts__kv_fail(kv, noff, "empty field between ';' delimiters");
    }
    if (first < 0 || !mtasts__is((unsigned char)first, MTASTS__C_ALNUM)) {
        return mtasts__kv_fail(kv, noff,
                               "field name must begin with a letter or digit");
    }
    *nlen = mtasts__cur_take_while(c, MTASTS__C_NAME);
    if (*nlen > MTASTS__KV_NAME_MAX) {
        return mtasts__kv_fail(kv, noff + MTASTS__KV_NAME_MAX,
                               "field name longer than 32 characters");
    }
    int eq = mtasts__cur_peek(c);
    if (eq != '=') {
        if (eq >= 0 && mtasts__is((unsigned char)eq, MTASTS__C_WSP)) {
            return mtasts__kv_fail(kv, mtasts__cur_offset(c),
                                   "whitespace around '=' is not allowed");
        }
        return mtasts__kv_fail(kv, mtasts__cur_offset(c),
                               eq < 0 ? "expected '=' after field name"
                                      : "invalid character in field name");
    }
    mtasts__cur_skip(c, 1);
    return MTASTS_OK;
}

int
mtasts__kv_value(struct mtasts__kv *kv, const unsigned char **val, size_t *vlen,
                 size_t *voff)
{
    struct mtasts__cur *c = &kv->cur;
    *voff = mtasts__cur_offset(c);
    *val = c->ptr;
    *vlen = mtasts__cur_take_while(c, MTASTS__C_TXTVAL);
    if (*vlen == 0) {
        int v = mtasts__cur_peek(c);
        if (v < 0 || v == ';' || mtasts__is((unsigned char)v, MTASTS__C_WSP)) {
            return mtasts__kv_fail(kv, *voff, "empty field value");
        }
        return mtasts__kv_fail(kv, *voff, mtasts__kv_stray(v));
    }
    return MTASTS_OK;
}

/* record[0..len) begins with version, and ";" after it when semi. */
static bool
begins_with(const char *record, size_t len, const char *version,
            size_t version_len, bool semi)
{
    return len >= version_len + semi &&
           memcmp(record, version, version_len) == 0 &&
           (!semi || record[version_len] == ';');
}

size_t
mtasts__kv_pick(const char *const *records, const size_t *lens, size_t n,
                const char *version, size_t version_len, int *rc)
{
    *rc = MTASTS_ERR_INVALID;
    if (n != 0 && (records == NULL || lens == NULL)) {
        return n;
    }
    for (size_t i = 0; i < n; i++) {
        if (records[i] == NULL && lens[i] != 0) {
            return n;
        }
    }
    *rc = MTASTS_OK;
    if (n == 1) {
        return begins_with(records[0], lens[0], version, version_len, false)
                   ? 0
                   : n;
    }
    size_t pick = n, count = 0;
    for (size_t i = 0; i < n; i++) {
        if (begins_with(records[i], lens[i], version, version_len, true)) {
            pick = i;
            count++;
        }
    }
    return count == 1 ? pick : n;
}
