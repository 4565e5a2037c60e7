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
 * the suffix to compare is the name + 2. Offsets, not pointers, keep a
 * cached policy small (docs/cache.md#memory-and-speed). */
struct mtasts__mx {
    uint32_t off; /* of the name, from the start of the policy */
    uint16_t len; /* at most 253 */
    bool wildcard;
};

/* One allocation: this struct, then the mx array, the mx names, the text.
 * 28 bytes: a cached one-mx policy costs the struct, 8 bytes of mx, the
 * name and the text, in one malloc block. */
struct mtasts_policy {
    atomic_uint_least32_t refs;
    uint32_t max_age;
    uint32_t warnings;
    uint32_t mx_count;
    uint32_t text_off; /* of the text, from the start of the policy */
    uint32_t text_len;
    uint32_t mode; /* mtasts_mode */
};

static inline const struct mtasts__mx *
mtasts__policy_mx(const struct mtasts_policy *p)
{
    return (const struct mtasts__mx *)(p + 1);
}

static inline const char *
mtasts__mx_name(const struct mtasts_policy *p, const struct mtasts__mx *m)
{
    return (const char *)p + m->off;
}

/* Check an mx value ["*."] Domain; on failure *bad is an offset into s. */
int mtasts__mx_pattern_check(const unsigned char *s, size_t len, size_t *bad,
                             const char **message);

#endif
