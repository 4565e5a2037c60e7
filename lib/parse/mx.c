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

/* Whether the text of pattern pat[0..plen) matches host[0..hlen) (no
 * trailing dot), case-insensitively, before any validity check. */
static bool
match_text(const char *pat, size_t plen, const char *host, size_t hlen)
{
    if (plen >= 2 && pat[0] == '*' && pat[1] == '.') {
        const char *dot = memchr(host, '.', hlen);
        if (dot == NULL) {
            return false;
        }
        size_t rest = hlen - (size_t)(dot + 1 - host);
        return rest == plen - 2 && mtasts__eq_nocase(dot + 1, pat + 2, rest);
    }
    return plen == hlen && mtasts__eq_nocase(pat, host, hlen);
}

/* Whether host[0..len) is a valid host name. */
static bool
host_valid(const char *host, size_t len)
{
    size_t bad;
    const char *why;
    return mtasts__domain_check((const unsigned char *)host, len, NULL, &bad,
                                &why) == MTASTS_OK;
}

/*
 * Validation runs only after the text matched, which is what keeps this
 * fast. It is enough to validate the host: when the texts match, the
 * pattern is the host (or "*." and the host's labels after the first) up
 * to ASCII case, so a valid host makes the pattern valid too, and a valid
 * host's first label is never empty, so "*." never matches the bare
 * parent or an empty label (RFC 8461 §4.1).
 */
bool
mtasts_mx_pattern_match(const char *pattern, const char *host)
{
    if (pattern == NULL || host == NULL) {
        return false;
    }
    size_t plen = strlen(pattern);
    size_t hlen = mtasts__domain_strip_dot(host, strlen(host));
    return match_text(pattern, plen, host, hlen) && host_valid(host, hlen);
}

bool
mtasts_policy_match_mx(const mtasts_policy *p, const char *host)
{
    if (p == NULL || host == NULL) {
        return false;
    }
    size_t len = mtasts__domain_strip_dot(host, strlen(host));
    const char *dot = memchr(host, '.', len);
    size_t rest = dot != NULL ? len - (size_t)(dot + 1 - host) : 0;
    const struct mtasts__mx *mx = mtasts__policy_mx(p);
    for (size_t i = 0; i < p->mx_count; i++) {
        const struct mtasts__mx *m = &mx[i];
        const char *name = mtasts__mx_name(p, m);
        bool text_matches;
        if (m->wildcard) {
            text_matches = dot != NULL && rest == (size_t)m->len - 2 &&
                           mtasts__eq_lower(dot + 1, name + 2, rest);
        } else {
            text_matches = m->len == len && mtasts__eq_lower(host, name, len);
        }
        if (text_matches) {
            /* Patterns are valid, so only the host needs checking; an
             * invalid host matches nothing, so stop at the first match. */
            return host_valid(host, len);
        }
    }
    return false;
}
