/* Fuzz mx pattern matching (RFC 8461 §4.1) and domain normalisation.
 *
 * The input is "pattern SEP host", SEP being the first NUL or LF (without
 * one, the host is the pattern itself). mtasts_mx_pattern_match() is
 * checked against a model built on mtasts_domain_normalize() alone, and
 * against mtasts_policy_match_mx() on a policy holding the pattern. */
#include "fuzz.h"

#include <stdbool.h>

#include "mtasts/mtasts.h"

#define POLICY_BUF 512 /* a one-mx policy around a pattern of < 300 bytes */

struct norm {
    int rc;
    char out[MTASTS_DOMAIN_BUFSIZE];
};

static bool
is_ldh_or_dot(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.';
}

/* Normalise name[0..len) (given in an exact-size block) and check the
 * result: rc, the normal form, its idempotence and the error position. */
static void
normalize_checked(const char *name, size_t len, struct norm *n)
{
    mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
    memset(n->out, 'x', sizeof(n->out));
    fuzz_dirty_stack();
    n->rc = mtasts_domain_normalize(name, len, n->out, &err);
    FUZZ_CHECK(n->rc == MTASTS_OK || n->rc == MTASTS_ERR_BAD_DOMAIN ||
               n->rc == MTASTS_ERR_NOT_ASCII);
    bool high = false;
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)name[i] >= 0x80) {
            high = true;
        }
    }
    if (n->rc != MTASTS_OK) {
        FUZZ_CHECK(n->out[0] == '\0');
        FUZZ_CHECK(n->rc != MTASTS_ERR_NOT_ASCII || high);
        fuzz_check_error_position(name, len, err.line, err.column,
                                  err.offset, err.message);
        return;
    }
    FUZZ_CHECK(!high);
    FUZZ_CHECK(err.message == NULL && err.line == 0 && err.offset == 0);
    size_t olen = strnlen(n->out, sizeof(n->out));
    FUZZ_CHECK(olen < sizeof(n->out));
    FUZZ_CHECK(olen >= 1 && olen <= 253);
    /* The normal form is the name, lower case, less one trailing dot. */
    FUZZ_CHECK(olen == len || (olen + 1 == len && name[olen] == '.'));
    for (size_t i = 0; i < olen; i++) {
        char c = name[i];
        char lower = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
        FUZZ_CHECK(n->out[i] == lower);
        FUZZ_CHECK(is_ldh_or_dot(n->out[i]));
    }
    FUZZ_CHECK(n->out[0] != '.' && n->out[olen - 1] != '.');
    FUZZ_CHECK(n->out[0] != '-' && n->out[olen - 1] != '-');
    char twice[MTASTS_DOMAIN_BUFSIZE];
    FUZZ_CHECK(mtasts_domain_normalize(n->out, olen, twice, NULL) ==
               MTASTS_OK);
    FUZZ_CHECK(strcmp(twice, n->out) == 0);
}

/* Normalise a C string through an exact-size copy. */
static void
normalize_cstr(const char *s, struct norm *n)
{
    size_t len = strlen(s);
    char *copy = fuzz_copy((const uint8_t *)s, len);
    normalize_checked(copy, len, n);
    free(copy);
}

/* What mtasts.h says mtasts_mx_pattern_match(pattern, host) returns, from
 * normalisation alone. Sets *valid when the pattern fits ["*."] Domain. */
static bool
model_match(const char *pattern, const char *host, bool *valid)
{
    size_t plen = strlen(pattern);
    *valid = false;
    if (plen == 0 || pattern[plen - 1] == '.') {
        return false; /* patterns take no trailing dot */
    }
    bool wildcard = plen >= 2 && pattern[0] == '*' && pattern[1] == '.';
    struct norm p, h;
    normalize_cstr(wildcard ? pattern + 2 : pattern, &p);
    if (p.rc != MTASTS_OK) {
        return false;
    }
    *valid = true;
    normalize_cstr(host, &h);
    if (h.rc != MTASTS_OK) {
        return false;
    }
    if (!wildcard) {
        return strcmp(p.out, h.out) == 0;
    }
    /* Exactly one extra, non-empty leftmost label. */
    const char *dot = strchr(h.out, '.');
    return dot != NULL && strcmp(dot + 1, p.out) == 0;
}

static char *
upper_copy(const char *s)
{
    size_t n = strlen(s);
    char *u = fuzz_cstr((const uint8_t *)s, n);
    for (size_t i = 0; i < n; i++) {
        if (u[i] >= 'a' && u[i] <= 'z') {
            u[i] = (char)(u[i] - 'a' + 'A');
        }
    }
    return u;
}

/* A policy with the one pattern must match hosts as the pattern does. */
static void
check_policy(const char *pattern, const char *host, bool want)
{
    char text[POLICY_BUF];
    int n = snprintf(text, sizeof(text),
                     "version: STSv1\nmode: enforce\nmx: %s\nmax_age: 86400\n",
                     pattern);
    FUZZ_CHECK(n > 0 && (size_t)n < sizeof(text));
    mtasts_policy *p = NULL;
    fuzz_dirty_stack();
    FUZZ_CHECK(mtasts_policy_parse(text, (size_t)n, &p, NULL) == MTASTS_OK);
    FUZZ_CHECK(mtasts_policy_mx_count(p) == 1);
    const char *mx = mtasts_policy_mx(p, 0);
    FUZZ_CHECK(strlen(mx) == strlen(pattern));
    FUZZ_CHECK(mtasts_policy_match_mx(p, host) == want);
    FUZZ_CHECK(mtasts_mx_pattern_match(mx, host) == want);
    mtasts_policy_unref(p);
}

static void
check_pair(const char *pattern, const char *host)
{
    bool valid;
    bool want = model_match(pattern, host, &valid);
    fuzz_dirty_stack();
    bool got = mtasts_mx_pattern_match(pattern, host);
    FUZZ_CHECK(got == want);

    /* Case does not matter, on either side. */
    char *up = upper_copy(pattern);
    char *uh = upper_copy(host);
    FUZZ_CHECK(mtasts_mx_pattern_match(up, host) == want);
    FUZZ_CHECK(mtasts_mx_pattern_match(pattern, uh) == want);
    free(up);
    free(uh);

    /* The host may end in one dot. */
    size_t hlen = strlen(host);
    if (hlen > 0 && host[hlen - 1] != '.') {
        char *dotted = malloc(hlen + 2);
        FUZZ_CHECK(dotted != NULL);
        memcpy(dotted, host, hlen);
        dotted[hlen] = '.';
        dotted[hlen + 1] = '\0';
        FUZZ_CHECK(mtasts_mx_pattern_match(pattern, dotted) == want);
        free(dotted);
    }

    if (valid && strlen(pattern) < POLICY_BUF - 64) {
        check_policy(pattern, host, want);
    }
    FUZZ_CHECK(!mtasts_mx_pattern_match(NULL, host));
    FUZZ_CHECK(!mtasts_mx_pattern_match(pattern, NULL));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t split = size;
    for (size_t i = 0; i < size; i++) {
        if (data[i] == '\0' || data[i] == '\n') {
            split = i;
            break;
        }
    }
    const uint8_t *hdata = split < size ? data + split + 1 : data;
    size_t hsize = split < size ? size - split - 1 : size;

    /* Normalisation on exact-size blocks, as network input would come. */
    struct norm n;
    char *p_exact = fuzz_copy(data, split);
    normalize_checked(p_exact, split, &n);
    free(p_exact);
    char *h_exact = fuzz_copy(hdata, hsize);
    normalize_checked(h_exact, hsize, &n);
    free(h_exact);

    char *pattern = fuzz_cstr(data, split);
    char *host = fuzz_cstr(hdata, hsize);
    check_pair(pattern, host);
    check_pair(host, pattern);
    check_pair(pattern, pattern);
    free(pattern);
    free(host);
    return 0;
}
