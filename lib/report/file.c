/* The report store file (docs/report.md, "The store file"): the day's
 * aggregates kept across restarts. All numbers big-endian.
 *
 *   file   = magic(8) version(2) flags(2) count(4) *record
 *   record = "MRA" rec-version(1) body-length(4) body crc32(body)(4)
 *   body   = day(8, signed) success(8) failure(8)
 *            domain-length(1) domain  policy-length(4) policy
 *            detail-count(2) *detail
 *   detail = type(1) count(8) code-length(1) code mx-length(1) mx
 *            rip-length(1) rip sip-length(1) sip
 *
 * A policy length of 0 is no-policy-found. Reading trusts nothing: every
 * length is bounded before use, the CRC is checked, names and addresses
 * must be in the canonical form the store writes, policies are parsed
 * again, and a duplicate aggregate or failure detail is refused. */
#include <stdio.h>
#include <string.h>

#include "report/json.h"
#include "report/report_int.h"
#include "util/alloc.h"
#include "util/crc32.h"
#include "util/cur.h"
#include "util/file.h"

#define MAGIC "\x89MTSR\r\n\x1a"
#define MAGIC_LEN 8
#define VERSION 1
#define HEADER 16
#define REC_HEAD 8 /* "MRA", version, length */
#define REC_VERSION 1

static void
put_be(struct mtasts__json *b, uint64_t v, size_t n)
{
    unsigned char p[8];
    for (size_t i = 0; i < n; i++) {
        p[i] = (unsigned char)(v >> (8 * (n - 1 - i)));
    }
    mtasts__json_bytes(b, p, n);
}

static void
put_str8(struct mtasts__json *b, const char *s)
{
    size_t n = strlen(s);
    put_be(b, n, 1);
    mtasts__json_bytes(b, s, n);
}

/* One aggregate's body into b. */
static void
encode_body(struct mtasts__json *b, const struct aggregate *a)
{
    put_be(b, (uint64_t)a->day, 8);
    put_be(b, a->success, 8);
    put_be(b, a->failure, 8);
    put_str8(b, a->domain);
    size_t plen = 0;
    const char *text = a->policy ? mtasts_policy_text(a->policy, &plen) : "";
    put_be(b, plen, 4);
    mtasts__json_bytes(b, text, plen);
    put_be(b, a->ndetails, 2);
    for (size_t i = 0; i < a->ndetails; i++) {
        const struct detail *d = &a->details[i];
        put_be(b, (uint64_t)d->type, 1);
        put_be(b, d->count, 8);
        put_str8(b, d->code);
        put_str8(b, d->mx);
        put_str8(b, d->rip);
        put_str8(b, d->sip);
    }
}

int
mtasts__report_encode(struct mtasts__report *r, unsigned char **out,
                      size_t *len)
{
    struct mtasts__json f, body;
    mtasts__json_init(&f);
    mtasts__json_bytes(&f, MAGIC, MAGIC_LEN);
    put_be(&f, VERSION, 2);
    put_be(&f, 0, 2);
    pthread_mutex_lock(&r->lock);
    put_be(&f, r->count, 4);
    for (size_t i = 0; i < MTASTS__RPT_BUCKETS; i++) {
        for (const struct aggregate *a = r->buckets[i]; a; a = a->next) {
            mtasts__json_init(&body);
            encode_body(&body, a);
            size_t blen = 0;
            char *bytes = mtasts__json_finish(&body, &blen);
            if (bytes == NULL) {
                f.failed = true;
                break;
            }
            mtasts__json_bytes(&f, "MRA", 3);
            put_be(&f, REC_VERSION, 1);
            put_be(&f, blen, 4);
            mtasts__json_bytes(&f, bytes, blen);
            put_be(&f, mtasts__crc32(0, bytes, blen), 4);
            mtasts__free(bytes);
        }
    }
    pthread_mutex_unlock(&r->lock);
    char *data = mtasts__json_finish(&f, len);
    if (data == NULL) {
        return MTASTS_ERR_NOMEM;
    }
    *out = (unsigned char *)data;
    return MTASTS_OK;
}

struct bytes {
    const unsigned char *data;
    size_t len;
};

static int
write_cb(FILE *fp, void *arg)
{
    const struct bytes *b = arg;
    return fwrite(b->data, 1, b->len, fp) == b->len ? MTASTS_OK : MTASTS_ERR_IO;
}

int
mtasts__report_save(struct mtasts__report *r, const char *path)
{
    struct bytes b = {NULL, 0};
    unsigned char *data = NULL;
    int rc = mtasts__report_encode(r, &data, &b.len);
    if (rc != MTASTS_OK) {
        return rc;
    }
    b.data = data;
    rc = mtasts__file_write_atomic(path, write_cb, &b);
    mtasts__free(data);
    return rc;
}

/* ---- reading ------------------------------------------------------------ */

struct reader {
    const unsigned char *p;
    size_t len, off; /* off: from the start of the file */
    size_t base;
    mtasts_parse_error *err;
};

static int
bad(struct reader *rd, size_t at, const char *why)
{
    mtasts__parse_error_at(rd->err, at, why);
    return MTASTS_ERR_REPORT_FILE;
}

static bool
take(struct reader *rd, size_t n, const unsigned char **out)
{
    if (rd->len - rd->off < n) {
        return false;
    }
    *out = rd->p + rd->off;
    rd->off += n;
    return true;
}

static bool
take_be(struct reader *rd, size_t n, uint64_t *v)
{
    const unsigned char *p;
    if (!take(rd, n, &p)) {
        return false;
    }
    *v = 0;
    for (size_t i = 0; i < n; i++) {
        *v = *v << 8 | p[i];
    }
    return true;
}

/* A length-prefixed string (1-byte length) into out[size], NUL added. */
static bool
take_str8(struct reader *rd, char *out, size_t size)
{
    uint64_t n;
    const unsigned char *p;
    if (!take_be(rd, 1, &n) || n >= size || !take(rd, (size_t)n, &p)) {
        return false;
    }
    memcpy(out, p, (size_t)n);
    out[n] = '\0';
    return memchr(out, '\0', (size_t)n) == NULL;
}

/* "" or an address already in the canonical form the store writes. */
static bool
canonical_ip_or_empty(const char *s)
{
    char back[MTASTS__RPT_IP_MAX];
    return s[0] == '\0' ||
           (mtasts__report_canonical_ip(s, back) && strcmp(back, s) == 0);
}

static bool
canonical_name(const char *s, bool empty_ok)
{
    char norm[MTASTS_DOMAIN_BUFSIZE];
    if (s[0] == '\0') {
        return empty_ok;
    }
    return mtasts_domain_normalize(s, strlen(s), norm, NULL) == MTASTS_OK &&
           strcmp(norm, s) == 0;
}

static bool
session_or_policy_type(uint64_t t)
{
    return t >= MTASTS_RPT_STARTTLS_NOT_SUPPORTED &&
           t <= MTASTS_RPT_STS_WEBPKI_INVALID;
}

/* One record's body, already CRC-checked, into a new aggregate. */
static int
decode_body(struct reader *rd, struct aggregate **out)
{
    size_t start = rd->off;
    uint64_t day = 0, ok = 0, fail = 0, plen = 0, nd = 0;
    const unsigned char *policy = NULL;
    struct aggregate *a = mtasts__calloc(1, sizeof(*a));
    if (a == NULL) {
        return MTASTS_ERR_NOMEM;
    }
    int rc = MTASTS_OK;
    if (!take_be(rd, 8, &day) || !take_be(rd, 8, &ok) ||
        !take_be(rd, 8, &fail) ||
        !take_str8(rd, a->domain, sizeof(a->domain)) ||
        !take_be(rd, 4, &plen) || plen > MTASTS_POLICY_MAX ||
        !take(rd, (size_t)plen, &policy) || !take_be(rd, 2, &nd)) {
        rc = bad(rd, start, "record body truncated or a length too large");
    } else if (!mtasts__report_id_day_ok((int64_t)day) || ok > MTASTS__RPT_COUNT_MAX ||
               fail > MTASTS__RPT_COUNT_MAX || !canonical_name(a->domain, false)) {
        rc = bad(rd, start, "bad day, count or domain in a record");
    } else if (nd > MTASTS_RPT_DETAILS_MAX) {
        rc = bad(rd, rd->off - 2, "too many failure details in a record");
    } else if (plen > 0) {
        int prc = mtasts_policy_parse((const char *)policy, (size_t)plen,
                                      &a->policy, NULL);
        if (prc == MTASTS_ERR_NOMEM) {
            rc = prc;
        } else if (prc != MTASTS_OK) {
            rc = bad(rd, rd->off - 2 - (size_t)plen, "a policy does not parse");
        }
    }
    a->day = (int64_t)day;
    a->success = ok;
    a->failure = fail;
    if (rc == MTASTS_OK && nd > 0) {
        a->details = mtasts__calloc((size_t)nd, sizeof(*a->details));
        rc = a->details == NULL ? MTASTS_ERR_NOMEM : MTASTS_OK;
        a->capdetails = (size_t)nd;
    }
    for (uint64_t i = 0; rc == MTASTS_OK && i < nd; i++) {
        struct detail *d = &a->details[i];
        size_t at = rd->off;
        uint64_t type;
        if (!take_be(rd, 1, &type) || !take_be(rd, 8, &d->count) ||
            !take_str8(rd, d->code, sizeof(d->code)) ||
            !take_str8(rd, d->mx, sizeof(d->mx)) ||
            !take_str8(rd, d->rip, sizeof(d->rip)) ||
            !take_str8(rd, d->sip, sizeof(d->sip))) {
            rc = bad(rd, at, "failure detail truncated or too long");
            break;
        }
        d->type = (mtasts_rpt_result)type;
        struct mtasts__rpt_detail key = {d->type, d->code, d->mx, d->rip,
                                         d->sip};
        if (!session_or_policy_type(type) || d->count == 0 ||
            d->count > MTASTS__RPT_COUNT_MAX ||
            !mtasts__utf8_valid(d->code, strlen(d->code)) ||
            !canonical_name(d->mx, true) || !canonical_ip_or_empty(d->rip) ||
            !canonical_ip_or_empty(d->sip)) {
            rc = bad(rd, at, "bad failure detail");
        } else if (mtasts__report_find_detail(a, &key) != NULL) {
            rc = bad(rd, at, "duplicate failure detail");
        } else {
            a->ndetails++;
        }
    }
    if (rc != MTASTS_OK) {
        mtasts__report_aggregate_free(a);
        return rc;
    }
    *out = a;
    return MTASTS_OK;
}

int
mtasts__report_decode(const unsigned char *buf, size_t len,
                      struct mtasts__report *into, mtasts_parse_error *err)
{
    struct reader rd = {buf, len, 0, 0, err};
    const unsigned char *p;
    uint64_t version = 0, flags = 0, count = 0;
    if (!take(&rd, MAGIC_LEN, &p) || memcmp(p, MAGIC, MAGIC_LEN) != 0) {
        return bad(&rd, 0, "not a report store file (bad magic)");
    }
    if (!take_be(&rd, 2, &version) || version != VERSION) {
        return bad(&rd, MAGIC_LEN, "report store file of another version");
    }
    if (!take_be(&rd, 2, &flags) || flags != 0 || !take_be(&rd, 4, &count) ||
        count > MTASTS_RPT_AGGREGATES_MAX) {
        return bad(&rd, MAGIC_LEN + 2, "bad flags or record count");
    }
    for (uint64_t i = 0; i < count; i++) {
        size_t at = rd.off;
        uint64_t rv = 0, blen = 0, crc = 0;
        if (!take(&rd, 3, &p) || memcmp(p, "MRA", 3) != 0 ||
            !take_be(&rd, 1, &rv) || rv != REC_VERSION ||
            !take_be(&rd, 4, &blen) || blen > rd.len - rd.off ||
            rd.len - rd.off - blen < 4) {
            return bad(&rd, at, "record header bad or truncated");
        }
        const unsigned char *body = rd.p + rd.off;
        size_t body_off = rd.off;
        rd.off += (size_t)blen;
        take_be(&rd, 4, &crc);
        if (crc != mtasts__crc32(0, body, (size_t)blen)) {
            return bad(&rd, at, "record checksum mismatch");
        }
        struct reader br = {buf, body_off + (size_t)blen, body_off, 0, err};
        struct aggregate *a = NULL;
        int rc = decode_body(&br, &a);
        if (rc == MTASTS_OK && br.off != br.len) {
            mtasts__report_aggregate_free(a);
            rc = bad(&rd, br.off, "bytes left over in a record");
        }
        if (rc != MTASTS_OK) {
            return rc;
        }
        if (mtasts__report_take(into, a) != MTASTS_OK) {
            mtasts__report_aggregate_free(a);
            return bad(&rd, at, "duplicate aggregate (domain, day, policy)");
        }
    }
    if (rd.off != rd.len) {
        return bad(&rd, rd.off, "bytes after the last record");
    }
    return MTASTS_OK;
}
