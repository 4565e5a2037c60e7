/* The MTA-STS policy body, RFC 8461 §3.2 (ABNF in CHECKLIST.md A.2):
 *
 *   sts-policy-record = sts-policy-field *WSP
 *                       *(sts-policy-term sts-policy-field *WSP)
 *                       [sts-policy-term]
 *   sts-policy-term   = LF / CRLF
 *   field             = name ":" *WSP value
 *
 * Decisions (docs/policy.md): known keys with a bad value are errors even
 * when repeated (CHECKLIST E-7, R8461-3.2-q); max_age above 31557600 is
 * clamped with a warning (E-3, R8461-3.2-j); empty lines after the last
 * field are accepted with a warning, empty lines anywhere else are errors
 * (E-8).
 */
#include "parse/policy.h"

#include <stdatomic.h>
#include <string.h>

#include "util/alloc.h"
#include "util/chars.h"
#include "util/cur.h"
#include "util/domain.h"

enum key {
    KEY_EXTENSION,
    KEY_VERSION,
    KEY_MODE,
    KEY_MAX_AGE,
    KEY_MX,
};

/* Where an mx value lies in the text. */
struct span {
    size_t off;
    size_t len;
};

#define MX_INLINE 16 /* mx spans kept on the stack before growing */

struct pstate {
    struct mtasts__cur cur;
    const unsigned char *text;
    size_t len;
    /* first occurrences */
    bool have_version, have_mode, have_max_age;
    mtasts_mode mode;
    uint64_t max_age;
    uint32_t warnings;
    /* offset of a line whose name equals a required key but for case, for
     * the "missing field" message (SIZE_MAX: none) */
    size_t near_miss[KEY_MX + 1];
    /* mx spans */
    struct span *mx;
    size_t mx_count, mx_cap, mx_bytes;
    /* error */
    size_t bad;
    const char *why;
    /* last, so that the memset in mtasts_policy_parse can skip it */
    struct span inline_mx[MX_INLINE];
};

_Static_assert(offsetof(struct pstate, inline_mx) +
                       sizeof(((struct pstate *)0)->inline_mx) ==
                   sizeof(struct pstate),
               "inline_mx must be the last member of struct pstate");

static int
pfail(struct pstate *st, size_t at, const char *why)
{
    st->bad = at;
    st->why = why;
    return MTASTS_ERR_SYNTAX;
}

static enum key
classify(const unsigned char *name, size_t n)
{
    switch (n) {
    case 2:
        return memcmp(name, "mx", 2) == 0 ? KEY_MX : KEY_EXTENSION;
    case 4:
        return memcmp(name, "mode", 4) == 0 ? KEY_MODE : KEY_EXTENSION;
    case 7:
        if (memcmp(name, "version", 7) == 0) {
            return KEY_VERSION;
        }
        return memcmp(name, "max_age", 7) == 0 ? KEY_MAX_AGE : KEY_EXTENSION;
    default:
        return KEY_EXTENSION;
    }
}

/* Remember an extension whose name is a known key in another case, so that
 * a missing-field error can point at it (R8461-3.2-f). */
static void
note_near_miss(struct pstate *st, const unsigned char *name, size_t n,
               size_t off)
{
    static const char *const keys[] = {NULL, "version", "mode", "max_age",
                                       "mx"};
    for (int k = KEY_VERSION; k <= KEY_MX; k++) {
        const char *key = keys[k];
        if (strlen(key) != n || st->near_miss[k] != SIZE_MAX) {
            continue;
        }
        size_t i = 0;
        while (i < n && mtasts__tolower(name[i]) == (unsigned char)key[i]) {
            i++;
        }
        if (i == n) {
            st->near_miss[k] = off;
        }
    }
}

/* Length of a well-formed UTF-8 sequence (RFC 3629 §4) at s[0..left), or
 * 0 if it is ill-formed (overlong, surrogate, above U+10FFFF, cut short). */
static size_t
utf8_len(const unsigned char *s, size_t left)
{
    unsigned char c = s[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF; /* range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0) {
            lo = 0xA0;
        } else if (c == 0xED) {
            hi = 0x9F;
        }
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0) {
            lo = 0x90;
        } else if (c == 0xF4) {
            hi = 0x8F;
        }
    } else {
        return 0;
    }
    if (left < n || s[1] < lo || s[1] > hi) {
        return 0;
    }
    for (size_t i = 2; i < n; i++) {
        if (s[i] < 0x80 || s[i] > 0xBF) {
            return 0;
        }
    }
    return n;
}

/* Check the bytes of a value, v[0..n), already stripped of leading and
 * trailing WSP: SP or VCHAR or well-formed UTF-8 (sts-policy-ext-value). */
static int
check_value_bytes(struct pstate *st, const unsigned char *v, size_t n,
                  size_t off)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = v[i];
        if (c >= 0x20 && c < 0x7F) {
            i++;
            continue;
        }
        if (c >= 0x80) {
            size_t u = utf8_len(v + i, n - i);
            if (u == 0) {
                return pfail(st, off + i, "ill-formed UTF-8 in value");
            }
            i += u;
            continue;
        }
        if (c == '\t') {
            return pfail(st, off + i, "tab inside a value");
        }
        if (c == '\r') {
            return pfail(st, off + i,
                         "carriage return not followed by line feed (lines "
                         "end in LF or CRLF)");
        }
        if (c == 0) {
            return pfail(st, off + i, "NUL byte in policy");
        }
        return pfail(st, off + i, "control character in value");
    }
    return MTASTS_OK;
}

static bool
value_is(const unsigned char *v, size_t n, const char *lit)
{
    return strlen(lit) == n && memcmp(v, lit, n) == 0;
}

static int
add_mx(struct pstate *st, size_t off, size_t n)
{
    if (st->mx_count == st->mx_cap) {
        size_t cap = st->mx_cap * 2;
        struct span *grown;
        if (st->mx == st->inline_mx) {
            grown = mtasts__alloc(cap * sizeof(*grown));
            if (grown != NULL) {
                memcpy(grown, st->mx, st->mx_count * sizeof(*grown));
            }
        } else {
            grown = mtasts__realloc(st->mx, cap * sizeof(*grown));
        }
        if (grown == NULL) {
            return MTASTS_ERR_NOMEM;
        }
        st->mx = grown;
        st->mx_cap = cap;
    }
    st->mx[st->mx_count].off = off;
    st->mx[st->mx_count].len = n;
    st->mx_count++;
    st->mx_bytes += n + 1;
    return MTASTS_OK;
}

static int
known_value(struct pstate *st, enum key key, const unsigned char *v, size_t n,
            size_t off)
{
    switch (key) {
    case KEY_VERSION:
        if (!value_is(v, n, "STSv1")) {
            return pfail(st, off, "version must be STSv1");
        }
        st->have_version = true;
        return MTASTS_OK;
    case KEY_MODE: {
        mtasts_mode m;
        if (value_is(v, n, "enforce")) {
            m = MTASTS_MODE_ENFORCE;
        } else if (value_is(v, n, "testing")) {
            m = MTASTS_MODE_TESTING;
        } else if (value_is(v, n, "none")) {
            m = MTASTS_MODE_NONE;
        } else {
            return pfail(st, off,
                         "mode must be enforce, testing or none (lower case)");
        }
        if (!st->have_mode) {
            st->mode = m;
            st->have_mode = true;
        }
        return MTASTS_OK;
    }
    case KEY_MAX_AGE: {
        uint64_t age = 0;
        for (size_t i = 0; i < n; i++) {
            if (!mtasts__is(v[i], MTASTS__C_DIGIT)) {
                return pfail(st, off + i,
                             "max_age must be digits only (seconds)");
            }
            if (i == MTASTS__MAX_AGE_DIGITS) {
                return pfail(st, off + i, "max_age has more than 10 digits");
            }
            age = age * 10 + (uint64_t)(v[i] - '0');
        }
        if (!st->have_max_age) {
            st->max_age = age;
            st->have_max_age = true;
        }
        return MTASTS_OK;
    }
    case KEY_MX: {
        size_t bad;
        const char *why;
        if (mtasts__mx_pattern_check(v, n, &bad, &why) != MTASTS_OK) {
            return pfail(st, off + bad, why);
        }
        return add_mx(st, off, n);
    }
    case KEY_EXTENSION:
        break;
    }
    return MTASTS_OK;
}

/* The field name at the cursor, up to and including ':'. */
static int
parse_name(struct pstate *st, const unsigned char **name, size_t *nlen)
{
    struct mtasts__cur *c = &st->cur;
    size_t off = mtasts__cur_offset(c);
    int first = mtasts__cur_peek(c);
    *name = c->ptr;
    if (first < 0 || !mtasts__is((unsigned char)first, MTASTS__C_ALNUM)) {
        if (off == 0 && mtasts__cur_peek_at(c, 0) == 0xEF &&
            mtasts__cur_peek_at(c, 1) == 0xBB &&
            mtasts__cur_peek_at(c, 2) == 0xBF) {
            return pfail(st, off, "byte order mark (BOM) at start of policy");
        }
        if (first == ' ' || first == '\t') {
            return pfail(st, off, "whitespace before field name");
        }
        if (first == ':') {
            return pfail(st, off, "empty field name");
        }
        if (first == '\r') {
            return pfail(st, off,
                         "carriage return not followed by line feed (lines "
                         "end in LF or CRLF)");
        }
        if (first == 0) {
            return pfail(st, off, "NUL byte in policy");
        }
        return pfail(st, off, "field name must begin with a letter or digit");
    }
    *nlen = mtasts__cur_take_while(c, MTASTS__C_NAME);
    if (*nlen > MTASTS__POLICY_EXT_NAME_MAX) {
        return pfail(st, off + MTASTS__POLICY_EXT_NAME_MAX,
                     "field name longer than 32 characters");
    }
    int colon = mtasts__cur_peek(c);
    if (colon == ':') {
        mtasts__cur_skip(c, 1);
        return MTASTS_OK;
    }
    size_t at = mtasts__cur_offset(c);
    if (colon == ' ' || colon == '\t') {
        size_t k = 1;
        while (mtasts__cur_peek_at(c, k) == ' ' ||
               mtasts__cur_peek_at(c, k) == '\t') {
            k++;
        }
        return pfail(st, at,
                     mtasts__cur_peek_at(c, k) == ':'
                         ? "whitespace before ':'"
                         : "expected ':' after field name");
    }
    if (colon < 0 || colon == '\n' || colon == '\r') {
        return pfail(st, at, "expected ':' after field name");
    }
    if (colon == 0) {
        return pfail(st, at, "NUL byte in policy");
    }
    return pfail(st, at,
                 "invalid character in field name (letters, digits, '_', "
                 "'-' and '.' only)");
}

/* One line: name ":" *WSP value *WSP, then LF, CRLF or the end. */
static int
parse_line(struct pstate *st)
{
    struct mtasts__cur *c = &st->cur;
    size_t line_off = mtasts__cur_offset(c);
    const unsigned char *name;
    size_t nlen = 0;
    int rc = parse_name(st, &name, &nlen);
    if (rc != MTASTS_OK) {
        return rc;
    }
    mtasts__cur_take_while(c, MTASTS__C_WSP);
    size_t voff = mtasts__cur_offset(c);
    const unsigned char *v = c->ptr;
    size_t n = mtasts__cur_take_until(c, '\n');
    if (n > 0 && v[n - 1] == '\r' && !mtasts__cur_at_end(c)) {
        n--; /* CRLF */
    }
    while (n > 0 && mtasts__is(v[n - 1], MTASTS__C_WSP)) {
        n--;
    }
    if (n == 0) {
        return pfail(st, voff, "empty value");
    }
    enum key key = classify(name, nlen);
    if (key == KEY_EXTENSION) {
        rc = check_value_bytes(st, v, n, voff);
        if (rc == MTASTS_OK) {
            note_near_miss(st, name, nlen, line_off);
        }
        return rc;
    }
    /* A known field's own rule admits only printable ASCII, so the byte
     * check runs only to explain a failure: a tab, CR, NUL or bad UTF-8
     * says more than "mode must be ...". */
    rc = known_value(st, key, v, n, voff);
    if (rc == MTASTS_ERR_SYNTAX) {
        size_t bad = st->bad;
        const char *why = st->why;
        if (check_value_bytes(st, v, n, voff) == MTASTS_OK) {
            st->bad = bad;
            st->why = why;
        }
    }
    return rc;
}

/* At an empty line: accept it only if nothing but line ends follows. */
static int
empty_lines(struct pstate *st, size_t fields)
{
    struct mtasts__cur *c = &st->cur;
    size_t off = mtasts__cur_offset(c);
    for (;;) {
        if (mtasts__cur_take_lit(c, "\n", 1) ||
            mtasts__cur_take_lit(c, "\r\n", 2)) {
            continue;
        }
        if (mtasts__cur_at_end(c) && fields > 0) {
            st->warnings |= MTASTS_POLICY_WARN_TRAILING_EMPTY_LINES;
            return MTASTS_OK;
        }
        break;
    }
    return pfail(st, off,
                 off == 0 ? "policy begins with an empty line"
                          : "empty line between fields");
}

static int
missing(struct pstate *st, enum key k, const char *plain, const char *cased)
{
    if (st->near_miss[k] != SIZE_MAX) {
        return pfail(st, st->near_miss[k], cased);
    }
    return pfail(st, st->len, plain);
}

static int
parse_all(struct pstate *st)
{
    struct mtasts__cur *c = &st->cur;
    size_t fields = 0;
    if (st->len == 0) {
        return pfail(st, 0, "empty policy");
    }
    while (!mtasts__cur_at_end(c)) {
        int p = mtasts__cur_peek(c);
        if (p == '\n' || (p == '\r' && mtasts__cur_peek_at(c, 1) == '\n')) {
            /* Only line ends may follow; the required fields are still
             * checked below. */
            int rc = empty_lines(st, fields);
            if (rc != MTASTS_OK) {
                return rc;
            }
            break;
        }
        int rc = parse_line(st);
        if (rc != MTASTS_OK) {
            return rc;
        }
        fields++;
        mtasts__cur_take_lit(c, "\n", 1);
    }
    if (!st->have_version) {
        return missing(st, KEY_VERSION, "missing required field \"version\"",
                       "missing required field \"version\" (field names are "
                       "case-sensitive: this line does not count)");
    }
    if (!st->have_mode) {
        return missing(st, KEY_MODE, "missing required field \"mode\"",
                       "missing required field \"mode\" (field names are "
                       "case-sensitive: this line does not count)");
    }
    if (!st->have_max_age) {
        return missing(st, KEY_MAX_AGE, "missing required field \"max_age\"",
                       "missing required field \"max_age\" (field names are "
                       "case-sensitive: this line does not count)");
    }
    if (st->mode != MTASTS_MODE_NONE && st->mx_count == 0) {
        return missing(st, KEY_MX,
                       "mode enforce or testing needs at least one mx field",
                       "mode enforce or testing needs at least one mx field "
                       "(field names are case-sensitive: this line does not "
                       "count)");
    }
    return MTASTS_OK;
}

/* The layout of policy.h, on which docs/cache.md's figures rest. */
_Static_assert(sizeof(struct mtasts_policy) == 16, "policy header grew");
_Static_assert(sizeof(struct mtasts__mx) == 4, "mx record grew");
_Static_assert((MTASTS_POLICY_WARN_MAX_AGE_CLAMPED |
                MTASTS_POLICY_WARN_TRAILING_EMPTY_LINES) <= UINT8_MAX,
               "warning flags must fit struct mtasts_policy.warnings");
_Static_assert(MTASTS_MODE_TESTING <= UINT8_MAX &&
                   MTASTS_MODE_ENFORCE <= UINT8_MAX &&
                   MTASTS_MODE_NONE <= UINT8_MAX,
               "modes must fit struct mtasts_policy.mode");
/* "*." and a domain of at most 253 bytes (no trailing dot). */
_Static_assert(2 + MTASTS__DOMAIN_MAX <= UINT8_MAX, "mx length field");

/* Build the immutable policy in one allocation (layout: policy.h). NULL
 * when out of memory, or if a count would not fit its field, which the
 * parser's limits rule out (policy.h). */
static mtasts_policy *
build(const struct pstate *st)
{
    if (st->mx_count > UINT16_MAX || st->mx_bytes > UINT16_MAX + (size_t)1 ||
        st->len > MTASTS_POLICY_MAX) {
        return NULL;
    }
    size_t size = sizeof(mtasts_policy) +
                  st->mx_count * sizeof(struct mtasts__mx) + st->len + 1 +
                  st->mx_bytes;
    mtasts_policy *p = mtasts__alloc(size);
    if (p == NULL) {
        return NULL;
    }
    atomic_init(&p->refs, 1);
    p->mode = (uint8_t)st->mode;
    p->max_age = st->max_age > MTASTS_MAX_AGE_MAX ? MTASTS_MAX_AGE_MAX
                                                  : (uint32_t)st->max_age;
    uint32_t warnings = st->warnings;
    if (st->max_age > MTASTS_MAX_AGE_MAX) {
        warnings |= MTASTS_POLICY_WARN_MAX_AGE_CLAMPED;
    }
    p->warnings = (uint8_t)warnings;
    p->mx_count = (uint16_t)st->mx_count;
    p->text_len = (uint32_t)st->len;

    struct mtasts__mx *mx = (struct mtasts__mx *)(void *)(p + 1);
    char *text = (char *)(mx + st->mx_count);
    memcpy(text, st->text, st->len);
    text[st->len] = '\0';
    char *names = text + st->len + 1;
    size_t off = 0;
    for (size_t i = 0; i < st->mx_count; i++) {
        const unsigned char *src = st->text + st->mx[i].off;
        size_t n = st->mx[i].len;
        if (n > UINT8_MAX) { /* ruled out by mtasts__mx_pattern_check() */
            mtasts__free(p);
            return NULL;
        }
        for (size_t j = 0; j < n; j++) {
            names[off + j] = (char)mtasts__tolower(src[j]);
        }
        names[off + n] = '\0';
        mx[i].off = (uint16_t)off;
        mx[i].len = (uint8_t)n;
        mx[i].wildcard = src[0] == '*';
        off += n + 1;
    }
    return p;
}

int
mtasts_policy_parse(const char *text, size_t len, mtasts_policy **out,
                    mtasts_parse_error *err)
{
    if (out != NULL) {
        *out = NULL;
    }
    if (out == NULL || (text == NULL && len != 0)) {
        mtasts__parse_error_note(err, "invalid argument");
        return MTASTS_ERR_INVALID;
    }
    if (len > MTASTS_POLICY_MAX) {
        mtasts__parse_error_note(err,
                                 "policy larger than 64 KiB (65536 bytes)");
        return MTASTS_ERR_TOO_LARGE;
    }
    /* Every member before the inline mx array (the last one) starts
     * zeroed; the array itself needs no clearing. */
    struct pstate st;
    memset(&st, 0, offsetof(struct pstate, inline_mx));
    mtasts__cur_init(&st.cur, text, len);
    st.text = (const unsigned char *)text;
    st.len = len;
    for (size_t k = 0; k <= KEY_MX; k++) {
        st.near_miss[k] = SIZE_MAX;
    }
    st.mx = st.inline_mx;
    st.mx_cap = MX_INLINE;

    int rc = parse_all(&st);
    if (rc == MTASTS_OK) {
        *out = build(&st);
        if (*out == NULL) {
            rc = MTASTS_ERR_NOMEM;
        }
    }
    if (st.mx != st.inline_mx) {
        mtasts__free(st.mx);
    }
    if (rc == MTASTS_ERR_SYNTAX) {
        mtasts__parse_error_set(err, text, st.bad, st.why);
    } else if (rc == MTASTS_ERR_NOMEM) {
        mtasts__parse_error_note(err, "out of memory");
    } else {
        mtasts__parse_error_clear(err);
    }
    return rc;
}

mtasts_policy *
mtasts_policy_ref(mtasts_policy *p)
{
    if (p != NULL) {
        atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
    }
    return p;
}

void
mtasts_policy_unref(mtasts_policy *p)
{
    if (p == NULL) {
        return;
    }
    if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) == 1) {
        mtasts__free(p);
    }
}

mtasts_mode
mtasts_policy_mode(const mtasts_policy *p)
{
    return p != NULL ? (mtasts_mode)p->mode : MTASTS_MODE_NONE;
}

const char *
mtasts_mode_name(mtasts_mode m)
{
    switch (m) {
    case MTASTS_MODE_ENFORCE:
        return "enforce";
    case MTASTS_MODE_TESTING:
        return "testing";
    case MTASTS_MODE_NONE:
        return "none";
    }
    return "unknown";
}

uint32_t
mtasts_policy_max_age(const mtasts_policy *p)
{
    return p != NULL ? p->max_age : 0;
}

size_t
mtasts_policy_mx_count(const mtasts_policy *p)
{
    return p != NULL ? p->mx_count : 0;
}

const char *
mtasts_policy_mx(const mtasts_policy *p, size_t i)
{
    if (p == NULL || i >= p->mx_count) {
        return NULL;
    }
    return mtasts__mx_name(p, &mtasts__policy_mx(p)[i]);
}

const char *
mtasts_policy_text(const mtasts_policy *p, size_t *len_out)
{
    if (len_out != NULL) {
        *len_out = p != NULL ? p->text_len : 0;
    }
    return p != NULL ? mtasts__policy_text(p) : NULL;
}

uint32_t
mtasts_policy_warnings(const mtasts_policy *p)
{
    return p != NULL ? p->warnings : 0;
}
