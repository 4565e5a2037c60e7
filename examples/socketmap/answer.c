/*
 * Socketmap answers (answer.h).
 *
 * SPDX-License-Identifier: MIT
 */
#include "answer.h"

#include <stdbool.h>
#include <string.h>

/* Append s to out[0..cap) at *len, counting what does not fit. */
static void
put(char *out, size_t cap, size_t *len, const char *s)
{
    size_t n = strlen(s);
    if (*len < cap) {
        size_t room = cap - *len - 1;
        memcpy(out + *len, s, n < room ? n : room);
        out[*len + (n < room ? n : room)] = '\0';
    }
    *len += n;
}

size_t
sm_answer_format(const mtasts_policy *policy, const struct sm_zone *zone,
                 char *out, size_t cap)
{
    size_t len = 0;
    if (cap > 0) {
        out[0] = '\0';
    }
    mtasts_mode mode =
        policy != NULL ? mtasts_policy_mode(policy) : MTASTS_MODE_NONE;
    bool secure = mode == MTASTS_MODE_ENFORCE ||
                  (mode == MTASTS_MODE_TESTING && zone->strict_testing);
    size_t count = policy != NULL ? mtasts_policy_mx_count(policy) : 0;
    if (!secure || count == 0) {
        put(out, cap, &len, SM_NOTFOUND);
        return len;
    }
    put(out, cap, &len, "OK secure match=");
    for (size_t i = 0; i < count; i++) {
        const char *mx = mtasts_policy_mx(policy, i);
        if (i > 0) {
            put(out, cap, &len, ":");
        }
        /* Postfix's form of a wildcard: ".example.net" matches any
         * subdomain (also deeper ones than RFC 8461 §4.1 allows). */
        put(out, cap, &len, mx[0] == '*' ? mx + 1 : mx);
    }
    if (zone->servername) {
        put(out, cap, &len, " servername=hostname");
    }
    return len;
}
