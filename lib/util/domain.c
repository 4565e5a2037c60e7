#include "util/domain.h"

#include "mtasts/mtasts.h"
#include "util/chars.h"
#include "util/cur.h"

static int
fail(size_t *bad, const char **message, size_t at, const char *why)
{
    *bad = at;
    *message = why;
    return MTASTS_ERR_BAD_DOMAIN;
}

/* Why byte c cannot stand where a label must begin or go on. */
static int
bad_byte(const unsigned char *s, size_t at, size_t *bad, const char **message)
{
    unsigned char c = s[at];
    if (c >= 0x80) {
        *bad = at;
        *message = "non-ASCII byte in domain name (convert U-labels to "
                   "A-labels first)";
        return MTASTS_ERR_NOT_ASCII;
    }
    if (c == '[') {
        return fail(bad, message, at, "address literal is not a domain name");
    }
    if (c == '*') {
        return fail(bad, message, at,
                    "wildcard '*' is only allowed as a whole leftmost label "
                    "of an mx pattern");
    }
    if (c == '_') {
        return fail(bad, message, at, "underscore in domain name");
    }
    return fail(bad, message, at,
                "invalid character in domain name (letters, digits, '-' and "
                "'.' only)");
}

int
mtasts__domain_check(const unsigned char *s, size_t len, char *lower_out,
                     size_t *bad, const char **message)
{
    if (len == 0) {
        return fail(bad, message, 0, "empty domain name");
    }
    /* One label per turn: a tight scan over LDH bytes, then the checks at
     * its end. Errors come in byte order, as a reader would find them. */
    size_t i = 0;
    for (;;) {
        size_t start = i;
        if (i < len && s[i] == '-') {
            return fail(bad, message, i, "label starts with '-'");
        }
        while (i < len && mtasts__is(s[i], MTASTS__C_LDH)) {
            i++;
        }
        if (i < len && s[i] != '.') {
            return bad_byte(s, i, bad, message);
        }
        size_t n = i - start;
        if (n == 0 && i == len) {
            /* point at the dot itself */
            return fail(bad, message, i - 1, "domain name ends with '.'");
        }
        if (n == 0) {
            return fail(bad, message, i, "empty label in domain name");
        }
        if (s[i - 1] == '-') {
            return fail(bad, message, i - 1, "label ends with '-'");
        }
        if (n > MTASTS__LABEL_MAX) {
            return fail(bad, message, start + MTASTS__LABEL_MAX,
                        "label longer than 63 bytes");
        }
        if (i == len) {
            break;
        }
        i++; /* the dot */
    }
    if (len > MTASTS__DOMAIN_MAX) {
        return fail(bad, message, MTASTS__DOMAIN_MAX,
                    "domain name longer than 253 bytes");
    }
    if (lower_out != NULL) {
        for (size_t k = 0; k < len; k++) {
            lower_out[k] = (char)mtasts__tolower(s[k]);
        }
    }
    return MTASTS_OK;
}

int
mtasts_domain_normalize(const char *name, size_t len,
                        char out[MTASTS_DOMAIN_BUFSIZE],
                        mtasts_parse_error *err)
{
    if (out != NULL) {
        out[0] = '\0';
    }
    if (out == NULL || (name == NULL && len != 0)) {
        mtasts__parse_error_note(err, "invalid argument");
        return MTASTS_ERR_INVALID;
    }
    size_t n = mtasts__domain_strip_dot(name, len);
    size_t bad = 0;
    const char *why = NULL;
    /* The check rejects names over 253 bytes after scanning them, so a
     * long name with a bad byte early on says so; nothing is written past
     * out because a long name is not copied. */
    int rc =
        mtasts__domain_check((const unsigned char *)name, n,
                             n <= MTASTS__DOMAIN_MAX ? out : NULL, &bad, &why);
    if (rc != MTASTS_OK) {
        out[0] = '\0';
        mtasts__parse_error_set(err, name, bad, why);
        return rc;
    }
    out[n] = '\0';
    mtasts__parse_error_clear(err);
    return MTASTS_OK;
}
