/* The _smtp._tls TXT record, RFC 8460 §3:
 *
 *   tlsrpt-record    = tlsrpt-version 1*(field-delim tlsrpt-field)
 *                      [field-delim]
 *   field-delim      = *WSP ";" *WSP
 *   tlsrpt-field     = tlsrpt-rua / tlsrpt-extension  ; rua is required
 *   tlsrpt-version   = %s"v=TLSRPTv1"
 *   tlsrpt-rua       = %s"rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri)
 *   tlsrpt-uri       = URI  ; RFC 3986; ",", "!" and ";" MUST be encoded
 *   tlsrpt-extension = tlsrpt-ext-name "=" tlsrpt-ext-value
 *
 * As for the _mta-sts record: a known field whose value does not fit its
 * rule is an error even when repeated (CHECKLIST E-7), otherwise the first
 * occurrence counts; unknown fields are checked and ignored (R8460-3-e).
 * Each URI must fit RFC 3986's URI characters with "," "!" ";" encoded
 * and a scheme; mailto: and https: URIs must also name a valid host, and
 * only those two schemes are kept (R8460-3-f).
 */
#include <string.h>

#include "parse/kv.h"
#include "util/alloc.h"
#include "util/chars.h"
#include "util/cur.h"
#include "util/domain.h"

#define RPT_VERSION "v=TLSRPTv1"
#define RPT_VERSION_LEN 10
#define URIS_MAX 32 /* rua URIs kept from one record */

struct rua {
    mtasts_rua_scheme scheme;
    const char *uri; /* NUL-terminated, inside the record's text */
};

struct mtasts_tlsrpt {
    size_t n;
    struct rua rua[URIS_MAX];
    char text[]; /* the kept URIs, each followed by NUL */
};

/* A URI found in the record: where it is in the record. */
struct uri_span {
    size_t off, len;
    mtasts_rua_scheme scheme; /* 0: another scheme, ignored */
};

struct rpt_state {
    struct mtasts__kv kv;
    bool have_rua;
    size_t nuris; /* kept ones, in uris[] */
    struct uri_span uris[URIS_MAX];
};

static int
rpt_fail(struct rpt_state *st, size_t at, const char *why)
{
    return mtasts__kv_fail(&st->kv, at, why);
}

/* ---- URIs (RFC 3986 §2, §3) ------------------------------------------- */

/* A character a URI may hold as is in this record: unreserved, the
 * reserved characters but "," "!" ";" (which the record must encode), and
 * "%" (checked as pct-encoded by the caller). */
static bool
uri_char(unsigned char c)
{
    if (mtasts__is(c, MTASTS__C_ALNUM)) {
        return true;
    }
    return c != '\0' && strchr("-._~:/?#[]@$&'()*+=%", c) != NULL;
}

/* The end of a host in an https authority, checked: a host name, an IPv4
 * address or "[" IPv6 "]", then an optional ":" port. Returns the offset
 * after it in u[0..len), or 0 when it is not valid. */
static size_t
https_authority(const unsigned char *u, size_t len, size_t at)
{
    size_t end = at;
    while (end < len && u[end] != '/' && u[end] != '?' && u[end] != '#') {
        end++;
    }
    if (memchr(u + at, '@', end - at) != NULL) {
        return 0; /* userinfo has no place in a report endpoint */
    }
    size_t host_end = end;
    if (u[at] == '[') {
        const unsigned char *close = memchr(u + at, ']', end - at);
        if (close == NULL || close == u + at + 1) {
            return 0;
        }
        for (const unsigned char *p = u + at + 1; p < close; p++) {
            if (!mtasts__is(*p, MTASTS__C_HEX) && *p != ':' && *p != '.') {
                return 0;
            }
        }
        host_end = (size_t)(close - u) + 1;
    } else {
        const unsigned char *colon = memchr(u + at, ':', end - at);
        if (colon != NULL) {
            host_end = (size_t)(colon - u);
        }
        size_t hlen =
            mtasts__domain_strip_dot((const char *)u + at, host_end - at);
        size_t bad;
        const char *msg;
        if (hlen == 0 ||
            mtasts__domain_check(u + at, hlen, NULL, &bad, &msg) != MTASTS_OK) {
            return 0; /* an IPv4 address passes as a name of digit labels */
        }
    }
    if (host_end < end) {
        if (u[host_end] != ':' || host_end + 1 == end || end - host_end > 6) {
            return 0;
        }
        unsigned long port = 0;
        for (size_t i = host_end + 1; i < end; i++) {
            if (!mtasts__is(u[i], MTASTS__C_DIGIT)) {
                return 0;
            }
            port = port * 10 + (unsigned long)(u[i] - '0');
        }
        if (port == 0 || port > 65535) {
            return 0;
        }
    }
    return end;
}

/* Check one URI at u[0..len) (offset off in the record). */
static int
check_uri(struct rpt_state *st, const unsigned char *u, size_t len, size_t off,
          mtasts_rua_scheme *scheme)
{
    *scheme = (mtasts_rua_scheme)0;
    if (len == 0 || !mtasts__is(u[0], MTASTS__C_ALPHA)) {
        return rpt_fail(st, off, "a rua URI must begin with a scheme");
    }
    size_t i = 1;
    while (i < len && (mtasts__is(u[i], MTASTS__C_ALNUM) || u[i] == '+' ||
                       u[i] == '-' || u[i] == '.')) {
        i++;
    }
    if (i == len || u[i] != ':') {
        return rpt_fail(st, off + i, "expected ':' after the URI scheme");
    }
    size_t colon = i;
    for (i = colon + 1; i < len; i++) {
        if (u[i] == '%') {
            if (i + 2 >= len || !mtasts__is(u[i + 1], MTASTS__C_HEX) ||
                !mtasts__is(u[i + 2], MTASTS__C_HEX)) {
                return rpt_fail(st, off + i,
                                "'%' must begin a %XX escape in a URI");
            }
        } else if (!uri_char(u[i])) {
            return rpt_fail(st, off + i,
                            u[i] == '!' ? "'!' must be written %21 in a "
                                          "rua URI"
                                        : "character not allowed in a URI");
        }
    }
    if (colon + 1 == len) {
        return rpt_fail(st, off + colon, "empty URI after the scheme");
    }
    if (colon == 6 && mtasts__eq_lower(u, "mailto", 6)) {
        /* RFC 6068: one addr-spec here; its domain must be a host name */
        size_t end = colon + 1;
        while (end < len && u[end] != '?') {
            end++;
        }
        const unsigned char *at = NULL;
        for (size_t k = colon + 1; k < end; k++) {
            if (u[k] == '@') {
                at = u + k;
            }
        }
        if (at == NULL || at == u + colon + 1) {
            return rpt_fail(st, off + colon + 1,
                            "a mailto: rua needs an address local@domain");
        }
        size_t dstart = (size_t)(at - u) + 1;
        size_t bad;
        const char *msg;
        if (dstart == end ||
            mtasts__domain_check(u + dstart, end - dstart, NULL, &bad, &msg) !=
                MTASTS_OK) {
            return rpt_fail(st, off + dstart,
                            "the domain of a mailto: rua is not a valid "
                            "host name");
        }
        *scheme = MTASTS_RUA_MAILTO;
    } else if (colon == 5 && mtasts__eq_lower(u, "https", 5)) {
        if (len < colon + 3 || u[colon + 1] != '/' || u[colon + 2] != '/' ||
            colon + 3 == len) {
            return rpt_fail(st, off + colon + 1,
                            "an https: rua needs \"//\" and a host");
        }
        if (https_authority(u, len, colon + 3) == 0) {
            return rpt_fail(st, off + colon + 3,
                            "the host of an https: rua is not valid");
        }
        *scheme = MTASTS_RUA_HTTPS;
    }
    return MTASTS_OK;
}

/* The rua value at the cursor: URIs separated by *WSP "," *WSP. */
static int
rpt_rua(struct rpt_state *st, bool keep)
{
    struct mtasts__cur *c = &st->kv.cur;
    for (;;) {
        size_t off = mtasts__cur_offset(c);
        const unsigned char *u = c->ptr;
        size_t len = 0;
        while (!mtasts__cur_at_end(c)) {
            int ch = mtasts__cur_peek(c);
            if (ch == ',' || ch == ';' ||
                mtasts__is((unsigned char)ch, MTASTS__C_WSP)) {
                break;
            }
            mtasts__cur_skip(c, 1);
            len++;
        }
        if (len == 0) {
            return rpt_fail(st, off, "empty rua URI");
        }
        mtasts_rua_scheme scheme;
        int rc = check_uri(st, u, len, off, &scheme);
        if (rc != MTASTS_OK) {
            return rc;
        }
        if (keep && scheme != 0) {
            if (st->nuris == URIS_MAX) {
                return rpt_fail(st, off, "more than 32 rua URIs");
            }
            st->uris[st->nuris++] = (struct uri_span){off, len, scheme};
        }
        /* *WSP "," goes on with the list; other whitespace is left to
         * the field delimiter */
        size_t k = 0;
        int ch;
        while ((ch = mtasts__cur_peek_at(c, k)) >= 0 &&
               mtasts__is((unsigned char)ch, MTASTS__C_WSP)) {
            k++;
        }
        if (ch != ',') {
            return MTASTS_OK;
        }
        mtasts__cur_skip(c, k + 1);
        mtasts__cur_take_while(c, MTASTS__C_WSP);
    }
}

/* One tlsrpt-field at the cursor. */
static int
rpt_field(struct rpt_state *st)
{
    const unsigned char *name, *val;
    size_t nlen, vlen, voff;
    int rc = mtasts__kv_name(&st->kv, &name, &nlen);
    if (rc != MTASTS_OK) {
        return rc;
    }
    if (nlen == 3 && memcmp(name, "rua", 3) == 0) {
        bool first_rua = !st->have_rua;
        st->have_rua = true;
        return rpt_rua(st, first_rua);
    }
    rc = mtasts__kv_value(&st->kv, &val, &vlen, &voff);
    if (rc == MTASTS_OK && nlen == 1 && name[0] == 'v' &&
        (vlen != 8 || memcmp(val, "TLSRPTv1", 8) != 0)) {
        rc = rpt_fail(st, voff, "a repeated v field must be TLSRPTv1");
    }
    return rc;
}

static int
rpt_parse(struct rpt_state *st)
{
    struct mtasts__cur *c = &st->kv.cur;
    if (!mtasts__cur_take_lit(c, RPT_VERSION, RPT_VERSION_LEN)) {
        return rpt_fail(st, 0, "record must begin with \"v=TLSRPTv1\"");
    }
    for (;;) {
        bool more;
        int rc = mtasts__kv_next(&st->kv, RPT_VERSION_LEN,
                                 "expected ';' after \"v=TLSRPTv1\"", &more);
        if (rc != MTASTS_OK) {
            return rc;
        }
        if (!more) {
            break;
        }
        rc = rpt_field(st);
        if (rc != MTASTS_OK) {
            return rc;
        }
    }
    if (!st->have_rua) {
        return rpt_fail(st, mtasts__cur_offset(c),
                        "missing required field \"rua\"");
    }
    return MTASTS_OK;
}

int
mtasts_tlsrpt_parse(const char *record, size_t len, mtasts_tlsrpt **out,
                    mtasts_parse_error *err)
{
    if (out != NULL) {
        *out = NULL;
    }
    if (out == NULL || (record == NULL && len != 0)) {
        mtasts__parse_error_note(err, "invalid argument");
        return MTASTS_ERR_INVALID;
    }
    struct rpt_state st = {0};
    mtasts__cur_init(&st.kv.cur, record, len);
    int rc = rpt_parse(&st);
    if (rc != MTASTS_OK) {
        mtasts__parse_error_set(err, record, st.kv.bad, st.kv.why);
        return rc;
    }
    if (st.nuris == 0) {
        mtasts__parse_error_note(err, "no rua URI with the mailto: or https: "
                                      "scheme (others are not used)");
        return MTASTS_ERR_NO_TLSRPT;
    }
    size_t text = 0;
    for (size_t i = 0; i < st.nuris; i++) {
        text += st.uris[i].len + 1;
    }
    mtasts_tlsrpt *r = mtasts__alloc(sizeof(*r) + text);
    if (r == NULL) {
        mtasts__parse_error_note(err, "out of memory");
        return MTASTS_ERR_NOMEM;
    }
    r->n = st.nuris;
    char *p = r->text;
    for (size_t i = 0; i < st.nuris; i++) {
        memcpy(p, record + st.uris[i].off, st.uris[i].len);
        p[st.uris[i].len] = '\0';
        r->rua[i].uri = p;
        r->rua[i].scheme = st.uris[i].scheme;
        p += st.uris[i].len + 1;
    }
    mtasts__parse_error_clear(err);
    *out = r;
    return MTASTS_OK;
}

int
mtasts_tlsrpt_select(const char *const *records, const size_t *lens, size_t n,
                     mtasts_tlsrpt **out, mtasts_parse_error *err)
{
    if (out != NULL) {
        *out = NULL;
    }
    int rc = MTASTS_OK;
    size_t pick = out == NULL ? n
                              : mtasts__kv_pick(records, lens, n, RPT_VERSION,
                                                RPT_VERSION_LEN, &rc);
    if (out == NULL || rc != MTASTS_OK) {
        mtasts__parse_error_note(err, "invalid argument");
        return MTASTS_ERR_INVALID;
    }
    if (pick == n) {
        mtasts__parse_error_note(err, n == 0 ? "no TXT record"
                                             : "not exactly one TLSRPT TXT "
                                               "record");
        return MTASTS_ERR_NO_TLSRPT;
    }
    return mtasts_tlsrpt_parse(records[pick], lens[pick], out, err);
}

size_t
mtasts_tlsrpt_rua_count(const mtasts_tlsrpt *r)
{
    return r != NULL ? r->n : 0;
}

const char *
mtasts_tlsrpt_rua(const mtasts_tlsrpt *r, size_t i)
{
    return r != NULL && i < r->n ? r->rua[i].uri : NULL;
}

mtasts_rua_scheme
mtasts_tlsrpt_rua_scheme(const mtasts_tlsrpt *r, size_t i)
{
    return r != NULL && i < r->n ? r->rua[i].scheme : (mtasts_rua_scheme)0;
}

void
mtasts_tlsrpt_free(mtasts_tlsrpt *r)
{
    mtasts__free(r);
}
