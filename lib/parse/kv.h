/* The tag=value TXT records: _mta-sts (RFC 8461 §3.1) and _smtp._tls
 * (RFC 8460 §3) share their shape:
 *
 *   record      = version 1*(field-delim field) [field-delim]
 *   field-delim = *WSP ";" *WSP
 *   field       = name "=" value
 *   name        = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
 *   ext-value   = 1*(%x21-3A / %x3C / %x3E-7E)
 *
 * These read the common parts and say precisely what is wrong. */
#ifndef MTASTS_PARSE_KV_H
#define MTASTS_PARSE_KV_H

#include <stdbool.h>
#include <stddef.h>

#include "util/cur.h"

#define MTASTS__KV_NAME_MAX 32 /* name: 1 + *31 */

struct mtasts__kv {
    struct mtasts__cur cur;
    size_t bad;      /* offset of the error */
    const char *why; /* static message */
};

/* Record an error at offset at; returns MTASTS_ERR_SYNTAX. */
int mtasts__kv_fail(struct mtasts__kv *kv, size_t at, const char *why);

/* Why the byte c cannot continue a value or a delimiter. */
const char *mtasts__kv_stray(int c);

/* After the version (version_len bytes, read by the caller): step over
 * one field-delim. *more says whether a field follows at the cursor (false
 * at the end of the record, the trailing delimiter included). */
int mtasts__kv_next(struct mtasts__kv *kv, size_t version_len,
                    const char *after_version, bool *more);

/* A field name and its "=" at the cursor. */
int mtasts__kv_name(struct mtasts__kv *kv, const unsigned char **name,
                    size_t *nlen);

/* An ext-value at the cursor; *voff is its offset. */
int mtasts__kv_value(struct mtasts__kv *kv, const unsigned char **val,
                     size_t *vlen, size_t *voff);

/* The record to judge among the n TXT records of one name, each beginning
 * with version or not: with several, those not beginning with version
 * followed by ";" are discarded and exactly one must remain (RFC 8461
 * §3.1, RFC 8460 §3); a lone record is judged by the grammar when it
 * begins with version (CHECKLIST E-1, E-28). Returns its index, or n when
 * there is none. MTASTS_ERR_INVALID in *rc when records, lens or a record
 * is NULL where it may not be (then n is returned), else MTASTS_OK. */
size_t mtasts__kv_pick(const char *const *records, const size_t *lens, size_t n,
                       const char *version, size_t version_len, int *rc);

#endif
