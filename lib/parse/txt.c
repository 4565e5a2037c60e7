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

#include "parse/kv.h"
#include "util/chars.h"
#include "util/cur.h"

#define STS_VERSION "v=STSv1"
#define STS_VERSION_LEN 7

struct txt_state {
    struct mtasts__kv kv;
    char *id_out;
    bool have_id;
};

/* Check a known field's value and take the first id. */
static int
txt_known_field(struct txt_state *st, const unsigned char *name, size_t nlen,
                const unsigned char *val, size_t vlen, size_t voff)
{
    if (nlen == 2 && memcmp(name, "id", 2) == 0) {
        for (size_t i = 0; i < vlen; i++) {
            if (!mtasts__is(val[i], MTASTS__C_ALNUM)) {
                return mtasts__kv_fail(
                    &st->kv, voff + i,
                    "id may contain only letters and digits");
            }
        }
        if (vlen > MTASTS__TXT_ID_MAX) {
            return mtasts__kv_fail(&st->kv, voff + MTASTS__TXT_ID_MAX,
                                   "id longer than 32 characters");
        }
        if (!st->have_id) {
            memcpy(st->id_out, val, vlen);
            st->id_out[vlen] = '\0';
            st->have_id = true;
        }
    } else if (nlen == 1 && name[0] == 'v') {
        if (vlen != 5 || memcmp(val, "STSv1", 5) != 0) {
            return mtasts__kv_fail(&st->kv, voff,
                                   "a repeated v field must be STSv1");
        }
    }
    return MTASTS_OK;
}

static int
txt_parse(struct txt_state *st)
{
    struct mtasts__cur *c = &st->kv.cur;
    if (!mtasts__cur_take_lit(c, STS_VERSION, STS_VERSION_LEN)) {
        return mtasts__kv_fail(&st->kv, 0,
                               "record must begin with \"v=STSv1\"");
    }
    for (;;) {
        bool more;
        int rc = mtasts__kv_next(&st->kv, STS_VERSION_LEN,
                                 "expected ';' after \"v=STSv1\"", &more);
        if (rc != MTASTS_OK) {
            return rc;
        }
        if (!more) {
            break;
        }
        const unsigned char *name, *val;
        size_t nlen, vlen, voff;
        rc = mtasts__kv_name(&st->kv, &name, &nlen);
        if (rc == MTASTS_OK) {
            rc = mtasts__kv_value(&st->kv, &val, &vlen, &voff);
        }
        if (rc == MTASTS_OK) {
            rc = txt_known_field(st, name, nlen, val, vlen, voff);
        }
        if (rc != MTASTS_OK) {
            return rc;
        }
    }
    if (!st->have_id) {
        return mtasts__kv_fail(&st->kv, mtasts__cur_offset(c),
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
    mtasts__cur_init(&st.kv.cur, record, len);
    int rc = txt_parse(&st);
    if (rc != MTASTS_OK) {
        id_out[0] = '\0';
        mtasts__parse_error_set(err, record, st.kv.bad, st.kv.why);
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
    int rc = MTASTS_OK;
    size_t pick = id_out == NULL
                      ? n
                      : mtasts__kv_pick(records, lens, n, STS_VERSION,
                                        STS_VERSION_LEN, &rc);
    if (id_out == NULL || rc != MTASTS_OK) {
        mtasts__parse_error_note(err, "invalid argument");
        return MTASTS_ERR_INVALID;
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
