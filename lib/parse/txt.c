/* The _mta-sts TXT record, RFC 8461 §3.1:
 *
 *   sts-text-record = sts-version 1*(sts-field-delim sts-field)
 *                     [sts-field-delim]
 *   sts-field-delim = *WSP ";" *WSP
 *   sts-version     = %s"v=STSv1"
 *   sts-id          = %s"id=" 1*32(ALPHA / DIGIT)
 *   sts-extension   = sts-ext-name "=" sts-ext-value
 *
 * Known fields whose value does not fit their own rule are errors even
 * when repeated (CHECKLIST E-7); otherwise the first occurrence counts
 * (RFC 8461 §3.2, last paragraph).
 */
#include "parse/txt.h"

#include <string.h>

#include "util/chars.h"
#include "util/cur.h"

#define STS_VERSION "v=STSv1"
#define STS_VERSION_LEN 7
#define STS_PREFIX "v=STSv1;" /* the §3.1 selection prefix */
#define STS_PREFIX_LEN 8

struct txt_state {
    struct mtasts__cur cur;
    char *id_out;
    bool have_id;
    size_t bad;      /* offset of the error */
    const char *why; /* static message */
};

static int
txt_fail(struct txt_state *st, size_t at, const char *why)
{
    st->bad = at;
    st->why = why;
    return MTASTS_ERR_SYNTAX;
}

/* Why the byte at the cursor cannot continue a value or delimiter. */
static const char *
describe_stray(int c)
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

/* Check a known field's value and take the first id. */
static int
txt_known_field(struct txt_state *st, const unsigned char *name, size_t nlen,
                const unsigned char *val, size_t vlen, size_t voff)
{
    if (nlen == 2 && memcmp(name, "id", 2) == 0) {
        for (size_t i = 0; i < vlen; i++) {
            if (!mtasts__is(val[i], MTASTS__C_ALNUM)) {
                return txt_fail(st, voff + i,
                                "id may contain only letters and digits");
            }
        }
        if (vlen > MTASTS__TXT_ID_MAX) {
            return txt_fail(st, voff + MTASTS__TXT_ID_MAX,
                            "id longer than 32 characters");
        }
        if (!st->have_id) {
            memcpy(st->id_out, val, vlen);
            st->id_out[vlen] = '\0';
            st->have_id = true;
        }
    } else if (nlen == 1 && name[0] == 'v') {
        if (vlen != 5 || memcmp(val, "STSv1", 5) != 0) {
            return txt_fail(st, voff, "a repeated v field must be STSv1");
        }
    }
    return MTASTS_OK;
}

/* One sts-field at the cursor: name "=" value. */
static int
txt_field(struct txt_state *st)
{
    struct mtasts__cur *c = &st->cur;
    size_t noff = mtasts__cur_offset(c);
    const unsigned char *name = c->ptr;
    int first = mtasts__cur_peek(c);
    if (first == ';') {
        return txt_fail(st, noff, "empty field between ';' delimiters");
    }
    if (first < 0 || !mtasts__is((unsigned char)first, MTASTS__C_ALNUM)) {
        return txt_fail(st, noff,
                        "field name must begin with a letter or digit");
    }
    size_t nlen = mtasts__cur_take_while(c, MTASTS__C_NAME);
    if (nlen > MTASTS__TXT_EXT_NAME_MAX) {
        return txt_fail(st, noff + MTASTS__TXT_EXT_NAME_MAX,
                        "field name longer than 32 characters");
    }
    int eq = mtasts__cur_peek(c);
    if (eq != '=') {
        if (eq >= 0 && mtasts__is((unsigned char)eq, MTASTS__C_WSP)) {
            return txt_fail(st, mtasts__cur_offset(c),
                            "whitespace around '=' is not allowed");
        }
        return txt_fail(st, mtasts__cur_offset(c),
                        eq < 0 ? "expected '=' after field name"
                               : "invalid character in field name");
    }
    mtasts__cur_skip(c, 1);
    size_t voff = mtasts__cur_offset(c);
    const unsigned char *val = c->ptr;
    size_t vlen = mtasts__cur_take_while(c, MTASTS__C_TXTVAL);
    if (vlen == 0) {
        int v = mtasts__cur_peek(c);
        if (v < 0 || v == ';' || mtasts__is((unsigned char)v, MTASTS__C_WSP)) {
            return txt_fail(st, voff, "empty field value");
        }
        return txt_fail(st, voff, describe_stray(v));
    }
    return txt_known_field(st, name, nlen, val, vlen, voff);
}

static int
txt_parse(struct txt_state *st)
{
    struct mtasts__cur *c = &st->cur;
    if (!mtasts__cur_take_lit(c, STS_VERSION, STS_VERSION_LEN)) {
        return txt_fail(st, 0, "record must begin with \"v=STSv1\"");
    }
    size_t fields = 0;
    for (;;) {
        if (mtasts__cur_at_end(c)) {
            break;
        }
        size_t ws = mtasts__cur_offset(c);
        mtasts__cur_take_while(c, MTASTS__C_WSP);
        int d = mtasts__cur_peek(c);
        if (d != ';') {
            if (d < 0) {
                return txt_fail(st, ws, "trailing whitespace without ';'");
            }
            return txt_fail(st, mtasts__cur_offset(c),
                            fields == 0 && mtasts__cur_offset(c) == ws
                                ? "expected ';' after \"v=STSv1\""
                                : describe_stray(d));
        }
        mtasts__cur_skip(c, 1);
        mtasts__cur_take_while(c, MTASTS__C_WSP);
        if (mtasts__cur_at_end(c)) {
            break; /* the optional trailing delimiter */
        }
        int rc = txt_field(st);
        if (rc != MTASTS_OK) {
            return rc;
        }
        fields++;
    }
    if (!st->have_id) {
        return txt_fail(st, mtasts__cur_offset(c),
                        "missing required field \"id\"");
    }
    return MTASTS_OK;
}

int
mtasts_txt_diagnose(const char *record, size_t len,
                    char id_out[MTASTS_ID_BUFSIZE], mtasts_parse_error *err)
{
    if (id_out != NULL) {
        id_out[0] = '\0';
    }
    if (id_out == NULL || (record == NULL && len != 0)) {
        mtasts__parse_error_note(err, "invalid argument");
        return MTASTS_ERR_INVALID;
    }
    struct txt_state st = {.id_out = id_out};
    mtasts__cur_init(&st.cur, record, len);
    int rc = txt_parse(&st);
    if (rc != MTASTS_OK) {
        id_out[0] = '\0';
        mtasts__parse_error_set(err, record, st.bad, st.why);
        return rc;
    }
    mtasts__parse_error_clear(err);
    return MTASTS_OK;
}

int
mtasts_txt_parse(const char *record, size_t len, char id_out[MTASTS_ID_BUFSIZE])
{
    return mtasts_txt_diagnose(record, len, id_out, NULL);
}

static bool
has_prefix(const char *s, size_t len, const char *prefix, size_t plen)
{
    return len >= plen && memcmp(s, prefix, plen) == 0;
}

int
mtasts__txt_select(const char *const *records, const size_t *lens, size_t n,
                   char id_out[MTASTS_ID_BUFSIZE], size_t *which,
                   mtasts_parse_error *err)
{
    if (which != NULL) {
        *which = n;
    }
    if (id_out != NULL) {
        id_out[0] = '\0';
    }
    if (id_out == NULL || (n != 0 && (records == NULL || lens == NULL))) {
        mtasts__parse_error_note(err, "invalid argument");
        return MTASTS_ERR_INVALID;
    }
    for (size_t i = 0; i < n; i++) {
        if (records[i] == NULL && lens[i] != 0) {
            mtasts__parse_error_note(err, "invalid argument");
            return MTASTS_ERR_INVALID;
        }
    }
    size_t pick = n;
    if (n == 1) {
        /* A lone record is an STS record when it begins with "v=STSv1";
         * the grammar then judges it (DESIGN.md, CHECKLIST E-1). */
        if (has_prefix(records[0], lens[0], STS_VERSION, STS_VERSION_LEN)) {
            pick = 0;
        }
    } else {
        /* §3.1: discard records not beginning with "v=STSv1;". */
        size_t count = 0;
        for (size_t i = 0; i < n; i++) {
            if (has_prefix(records[i], lens[i], STS_PREFIX, STS_PREFIX_LEN)) {
                pick = i;
                count++;
            }
        }
        if (count != 1) {
            pick = n;
        }
    }
    if (pick == n) {
        mtasts__parse_error_note(err,
                                 n == 0 ? "no TXT record"
                                        : "not exactly one MTA-STS TXT record");
        return MTASTS_ERR_NO_POLICY;
    }
    if (which != NULL) {
        *which = pick;
    }
    return mtasts_txt_diagnose(records[pick], lens[pick], id_out, err);
}

int
mtasts_txt_select(const char *const *records, const size_t *lens, size_t n,
                  char id_out[MTASTS_ID_BUFSIZE])
{
    return mtasts__txt_select(records, lens, n, id_out, NULL, NULL);
}
