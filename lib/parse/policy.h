/* MTA-STS policy objects (RFC 8461 §3.2). */
#ifndef MTASTS_PARSE_POLICY_H
#define MTASTS_PARSE_POLICY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mtasts/mtasts.h"

#define MTASTS__POLICY_EXT_NAME_MAX 32 /* sts-policy-ext-name: 1 + *31 */
#define MTASTS__MAX_AGE_DIGITS 10      /* sts-policy-max-age-value */

/* One mx pattern, lower case, NUL-terminated at mtasts__mx_name(). For
 * "*.example.net", the name is the whole pattern and wildcard is true;
 * the suffix to compare is the name + 2. Four bytes: offsets and lengths
 * in the narrowest type that holds them keep a cached policy small
 * (docs/cache.md#memory-and-speed). */
struct mtasts__mx {
    uint16_t off; /* of the name, from the start of the names */
    uint8_t len;  /* at most 253 */
    bool wildcard;
};

/* One allocation: this struct (16 bytes), the mx array, the text exactly
 * as received and its NUL, then the mx names (lower case, each
 * NUL-terminated). A cached one-mx policy is one malloc block of 16 + 4
 * bytes, the text and the name: 128 bytes for the benchmark's 74-byte
 * text and 24-byte name.
 *
 * The narrow types hold by construction: a policy text is at most
 * MTASTS_POLICY_MAX (65536) bytes and each mx line takes at least
 * "mx:", the value and an end of line, so there are fewer than 65536 / 6
 * mx fields, each name is at most 253 bytes (a domain), and the names
 * with their NULs take fewer bytes than the text: every name starts at an
 * offset below 65536. build() checks it all the same. */
struct mtasts_policy {
    atomic_uint_least32_t refs;
    uint32_t max_age;
    uint32_t text_len;
    uint16_t mx_count;
    uint8_t mode;     /* mtasts_mode */
    uint8_t warnings; /* MTASTS_POLICY_WARN_* */
};

static inline const struct mtasts__mx *
mtasts__policy_mx(const struct mtasts_policy *p)
{
    return (const struct mtasts__mx *)(const void *)(p + 1);
}

/* The text, NUL-terminated. */
static inline const char *
mtasts__policy_text(const struct mtasts_policy *p)
{
    return (const char *)(mtasts__policy_mx(p) + p->mx_count);
}

static inline const char *
mtasts__mx_name(const struct mtasts_policy *p, const struct mtasts__mx *m)
{
    return mtasts__policy_text(p) + p->text_len + 1 + m->off;
}

/* Check an mx value ["*."] Domain; on failure *bad is an offset into s. */
int mtasts__mx_pattern_check(const unsigned char *s, size_t len, size_t *bad,
                             const char **message);

#endif
