/* MX patterns and their matching, RFC 8461 §4.1:
 *   sts-policy-mx-value = ["*."] Domain
 * "*.example.com" matches exactly one extra, non-empty leftmost label. */
#include <string.h>

#include "parse/policy.h"
#include "util/chars.h"
#include "util/domain.h"

int
mtasts__mx_pattern_check(const unsigned char *s, size_t len, size_t *bad,
                         const char **message)
{
    size_t skip = 0;
    if (len >= 2 && s[0] == '*' && s[1] == '.') {
        skip = 2;
    }
    int rc = mtasts__domain_check(s + skip, len - skip, NULL, bad, message);
    if (rc != MTASTS_OK) {
        *bad += skip;
    }
    return rc;
}

/* Case-insensitive equality of two ASCII strings of equal length n. */
static bool
ascii_case_equal(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (mtasts__tolower((unsigned char)a[i]) !=
            mtasts__tolower((unsigned char)b[i])) {
            return false;
        }
    }
    return true;
}

/* Match one checked pattern against one checked host (no trailing dot),
 * case-insensitively. */
static bool
match_one(const char *pat, size_t plen, const char *host, size_t hlen)
{
    if (plen >= 2 && pat[0] == '*') {
        const char *dot = memchr(host, '.', hlen);
        if (dot == NULL) {
            return false;
        }
        /* The host's first label is non-empty (host is checked), so the
         * wildcard never matches the bare parent or an empty label. */
        size_t rest = hlen - (size_t)(dot + 1 - host);
        return rest == plen - 2 && ascii_case_equal(dot + 1, pat + 2, rest);
    }
    return plen == hlen && ascii_case_equal(pat, host, hlen);
}

bool
mtasts_mx_pattern_match(const char *pattern, const char *host)
{
    if (pattern == NULL || host == NULL) {
        return false;
    }
    size_t plen = strlen(pattern);
    size_t hlen = mtasts__domain_strip_dot(host, strlen(host));
    size_t bad;
    const char *why;
    if (mtasts__mx_pattern_check((const unsigned char *)pattern, plen, &bad,
                                 &why) != MTASTS_OK ||
        mtasts__domain_check((const unsigned char *)host, hlen, NULL, &bad,
                             &why) != MTASTS_OK) {
        return false;
    }
    return match_one(pattern, plen, host, hlen);
}

bool
mtasts__policy_match_normalized(const mtasts_policy *p, const char *host,
                                size_t len)
{
    for (size_t i = 0; i < p->mx_count; i++) {
        const struct mtasts__mx *m = &p->mx[i];
        if (m->wildcard) {
            const char *dot = memchr(host, '.', len);
            if (dot != NULL) {
                size_t rest = len - (size_t)(dot + 1 - host);
                if (rest == m->len - 2 &&
                    memcmp(dot + 1, m->name + 2, rest) == 0) {
                    return true;
                }
            }
        } else if (m->len == len && memcmp(m->name, host, len) == 0) {
            return true;
        }
    }
    return false;
}

bool
mtasts_policy_match_mx(const mtasts_policy *p, const char *host)
{
    if (p == NULL || host == NULL) {
        return false;
    }
    size_t hlen = mtasts__domain_strip_dot(host, strlen(host));
    if (hlen > MTASTS__DOMAIN_MAX) {
        return false;
    }
    char lower[MTASTS_DOMAIN_BUFSIZE];
    size_t bad;
    const char *why;
    if (mtasts__domain_check((const unsigned char *)host, hlen, lower, &bad,
                             &why) != MTASTS_OK) {
        return false;
    }
    return mtasts__policy_match_normalized(p, lower, hlen);
}
