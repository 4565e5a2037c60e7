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

/* One mx pattern, lower case. For "*.example.net", name is the whole
 * pattern and wildcard is true; the suffix to compare is name + 2. */
struct mtasts__mx {
    const char *name;
    uint32_t len;
    bool wildcard;
};

/* One allocation: this struct, then the mx array, the mx names, the text. */
struct mtasts_policy {
    atomic_size_t refs;
    mtasts_mode mode;
    uint32_t max_age;
    uint32_t warnings;
    size_t mx_count;
    const struct mtasts__mx *mx;
    const char *text;
    size_t text_len;
};

/* Check an mx value ["*."] Domain; on failure *bad is an offset into s. */
int mtasts__mx_pattern_check(const unsigned char *s, size_t len, size_t *bad,
                             const char **message);

#endif
