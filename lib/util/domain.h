/* Domain names: RFC 5321 Domain syntax, lengths, ASCII case folding. */
#ifndef MTASTS_UTIL_DOMAIN_H
#define MTASTS_UTIL_DOMAIN_H

#include <stddef.h>

#define MTASTS__LABEL_MAX 63   /* RFC 1035 §2.3.4 */
#define MTASTS__DOMAIN_MAX 253 /* RFC 1035 §2.3.4, text form, no root dot */

/* Check s[0..len) as an RFC 5321 Domain (no trailing dot). When lower_out is
 * not NULL it receives len lower-case bytes (no NUL). On failure *bad is the
 * offset of the offending byte and *message a static sentence.
 * Returns MTASTS_OK, MTASTS_ERR_BAD_DOMAIN or MTASTS_ERR_NOT_ASCII. */
int mtasts__domain_check(const unsigned char *s, size_t len, char *lower_out,
                         size_t *bad, const char **message);

/* Length of host without its one accepted trailing dot ("a.b." -> 3).
 * A lone "." keeps its length, so it fails the check as an empty label. */
static inline size_t
mtasts__domain_strip_dot(const char *host, size_t len)
{
    return (len > 1 && host[len - 1] == '.') ? len - 1 : len;
}

#endif
