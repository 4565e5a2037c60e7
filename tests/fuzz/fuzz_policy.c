/* Fuzz the policy body parser (RFC 8461 §3.2) and the policy object.
 *
 * On success every getter runs and the policy is checked against what
 * mtasts.h promises; mtasts_policy_match_mx() is compared with
 * mtasts_mx_pattern_match() over the policy's patterns for fixed hosts, a
 * host made from each pattern and a host taken from the input. On failure
 * the error must say where and why. */
#include "fuzz.h"

#include <stdbool.h>

#include "mtasts/mtasts.h"

#define HOST_MAX 300 /* longer than any valid host, to reach the limits */

static const char *const fixed_hosts[] = {
    "mail.example.com",
    "MAIL.Example.COM.",
    "example.com",
    "a.b.example.com",
    "mx1.example.net",
    "backupmx.example.com",
    "",
    ".",
    "*.example.com",
    "[192.0.2.1]",
    "xn--bcher-kva.example",
};

/* mtasts.h: policy_match_mx(p, h) is pattern_match() over the patterns. */
static bool
check_match(const mtasts_policy *p, const char *host)
{
    bool any = false;
    size_t n = mtasts_policy_mx_count(p);
    for (size_t i = 0; i < n; i++) {
        if (mtasts_mx_pattern_match(mtasts_policy_mx(p, i), host)) {
            any = true;
        }
    }
    bool got = mtasts_policy_match_mx(p, host);
    FUZZ_CHECK(got == any);
    return got;
}

/* The same host in upper case, and with one trailing dot added, matches
 * the same way (RFC 8461 §4.1 compares names case-insensitively). */
static void
check_host_variants(const mtasts_policy *p, const char *host)
{
    bool want = check_match(p, host);
    size_t n = strlen(host);
    char *v = malloc(n + 2);
    FUZZ_CHECK(v != NULL);
    for (size_t i = 0; i < n; i++) {
        char c = host[i];
        v[i] = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
    }
    v[n] = '\0';
    FUZZ_CHECK(check_match(p, v) == want);
    if (n > 0 && host[n - 1] != '.') {
        memcpy(v, host, n);
        v[n] = '.';
        v[n + 1] = '\0';
        FUZZ_CHECK(check_match(p, v) == want);
    }
    free(v);
}

static bool
is_lower_pattern_byte(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '*';
}

/* Each pattern is a lower-case ["*."] Domain that matches a host made from
 * it: itself, or "a" in place of the "*". */
static void
check_patterns(const mtasts_policy *p)
{
    size_t n = mtasts_policy_mx_count(p);
    mtasts_mode mode = mtasts_policy_mode(p);
    FUZZ_CHECK(n > 0 || mode == MTASTS_MODE_NONE);
    for (size_t i = 0; i < n; i++) {
        const char *mx = mtasts_policy_mx(p, i);
        FUZZ_CHECK(mx != NULL);
        size_t len = strlen(mx);
        FUZZ_CHECK(len >= 1 && len <= 2 + 253);
        for (size_t j = 0; j < len; j++) {
            FUZZ_CHECK(is_lower_pattern_byte(mx[j]));
            FUZZ_CHECK(mx[j] != '*' || (j == 0 && mx[1] == '.'));
        }
        char host[HOST_MAX];
        if (mx[0] == '*') {
            if (len > 253) {
                continue; /* "a" + ".suffix" (len bytes) is too long */
            }
            host[0] = 'a';
            memcpy(host + 1, mx + 1, len); /* with the NUL */
        } else {
            memcpy(host, mx, len + 1);
        }
        FUZZ_CHECK(mtasts_mx_pattern_match(mx, host));
        FUZZ_CHECK(check_match(p, host));
        check_host_variants(p, host);
    }
    FUZZ_CHECK(mtasts_policy_mx(p, n) == NULL);
    FUZZ_CHECK(mtasts_policy_mx(p, (size_t)-1) == NULL);
}

static void
check_policy(mtasts_policy *p, const char *text, size_t len)
{
    FUZZ_CHECK(p != NULL);
    mtasts_mode mode = mtasts_policy_mode(p);
    FUZZ_CHECK(mode == MTASTS_MODE_NONE || mode == MTASTS_MODE_TESTING ||
               mode == MTASTS_MODE_ENFORCE);
    FUZZ_CHECK(strcmp(mtasts_mode_name(mode), "unknown") != 0);
    uint32_t max_age = mtasts_policy_max_age(p);
    FUZZ_CHECK(max_age <= MTASTS_MAX_AGE_MAX);
    uint32_t warnings = mtasts_policy_warnings(p);
    FUZZ_CHECK((warnings & ~(MTASTS_POLICY_WARN_MAX_AGE_CLAMPED |
                             MTASTS_POLICY_WARN_TRAILING_EMPTY_LINES)) == 0);
    if ((warnings & MTASTS_POLICY_WARN_MAX_AGE_CLAMPED) != 0) {
        FUZZ_CHECK(max_age == MTASTS_MAX_AGE_MAX);
    }

    size_t text_len = (size_t)-1;
    const char *t = mtasts_policy_text(p, &text_len);
    FUZZ_CHECK(t != NULL && text_len == len);
    FUZZ_CHECK(len == 0 || memcmp(t, text, len) == 0);
    FUZZ_CHECK(t[len] == '\0');
    FUZZ_CHECK(mtasts_policy_text(p, NULL) == t);

    /* The text parsed once must be the one we gave. */
    FUZZ_CHECK(len > 0);
    for (size_t i = 0; i < len; i++) {
        FUZZ_CHECK(text[i] != '\0');
    }

    check_patterns(p);
    for (size_t i = 0; i < sizeof(fixed_hosts) / sizeof(fixed_hosts[0]);
         i++) {
        check_host_variants(p, fixed_hosts[i]);
    }
    /* A host taken from the input: the bytes after the last LF (or the last
     * ':' on that line, with leading spaces skipped). */
    size_t start = len;
    while (start > 0 && text[start - 1] != '\n') {
        start--;
    }
    for (size_t i = start; i < len; i++) {
        if (text[i] == ':') {
            start = i + 1;
        }
    }
    while (start < len && text[start] == ' ') {
        start++;
    }
    size_t n = len - start;
    char *host = fuzz_cstr((const uint8_t *)text + start,
                           n < HOST_MAX ? n : HOST_MAX);
    check_host_variants(p, host);
    free(host);

    /* Reference counting: ref returns the same policy; NULL is ignored. */
    FUZZ_CHECK(mtasts_policy_ref(p) == p);
    mtasts_policy_unref(p);
    FUZZ_CHECK(mtasts_policy_ref(NULL) == NULL);
    mtasts_policy_unref(NULL);
}

/* An error struct from an older, smaller caller: the library must not
 * write past its size (mtasts.h, mtasts_parse_error). */
static void
check_small_error(const char *text, size_t len, int want)
{
    mtasts_parse_error err;
    memset(&err, 0xA5, sizeof(err));
    err.size = offsetof(mtasts_parse_error, column);
    const char *poison = err.message;
    size_t column = err.column;
    size_t offset = err.offset;
    mtasts_policy *p = (mtasts_policy *)&err; /* overwritten with NULL */
    fuzz_dirty_stack();
    int rc = mtasts_policy_parse(text, len, &p, &err);
    FUZZ_CHECK(rc == want);
    FUZZ_CHECK(err.column == column && err.offset == offset);
    FUZZ_CHECK(err.message == poison);
    FUZZ_CHECK(err.size == offsetof(mtasts_parse_error, column));
    FUZZ_CHECK((rc == MTASTS_OK) == (p != NULL));
    mtasts_policy_unref(p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_copy(data, size);
    mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
    mtasts_policy *p = (mtasts_policy *)&err; /* must become NULL or a policy */
    fuzz_dirty_stack();
    int rc = mtasts_policy_parse(text, size, &p, &err);
    FUZZ_CHECK(rc == MTASTS_OK || rc == MTASTS_ERR_SYNTAX ||
               rc == MTASTS_ERR_TOO_LARGE || rc == MTASTS_ERR_NOMEM);
    FUZZ_CHECK((rc == MTASTS_ERR_TOO_LARGE) == (size > MTASTS_POLICY_MAX));
    if (rc == MTASTS_OK) {
        FUZZ_CHECK(err.message == NULL);
        FUZZ_CHECK(err.line == 0 && err.column == 0 && err.offset == 0);
        check_policy(p, text, size);
    } else {
        FUZZ_CHECK(p == NULL);
        if (rc == MTASTS_ERR_SYNTAX) {
            fuzz_check_error_position(text, size, err.line, err.column,
                                      err.offset, err.message);
        } else {
            fuzz_check_error_no_position(err.line, err.column, err.offset,
                                         err.message);
        }
    }

    /* Same answer without an error struct, and with a short one. */
    mtasts_policy *q = NULL;
    fuzz_dirty_stack();
    int again = mtasts_policy_parse(text, size, &q, NULL);
    FUZZ_CHECK(again == rc || again == MTASTS_ERR_NOMEM ||
               rc == MTASTS_ERR_NOMEM);
    if (again == MTASTS_OK && rc == MTASTS_OK) {
        FUZZ_CHECK(mtasts_policy_mode(q) == mtasts_policy_mode(p));
        FUZZ_CHECK(mtasts_policy_max_age(q) == mtasts_policy_max_age(p));
        FUZZ_CHECK(mtasts_policy_mx_count(q) == mtasts_policy_mx_count(p));
        FUZZ_CHECK(mtasts_policy_warnings(q) == mtasts_policy_warnings(p));
    }
    mtasts_policy_unref(q);
    if (rc != MTASTS_ERR_NOMEM) {
        check_small_error(text, size, rc);
    }
    mtasts_policy_unref(p);
    free(text);
    return 0;
}
