/* Unit tests of lib/util: status codes and their names, versions, the
 * character class table, the internal allocator (and the failing one the
 * other tests use), the bounded cursor and error positions.
 *
 * Everything the library is checked against is written out here again:
 * the status enumerators (with a switch that fails to compile when the
 * header gains one, and a scan of the header itself), and the RFC 5234 /
 * RFC 8461 ABNF character classes.
 */
#include "harness.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mtasts/mtasts.h"
#include "util/alloc.h"
#include "util/chars.h"
#include "util/cur.h"

#ifndef MTASTS_PROJECT_VERSION
#error "MTASTS_PROJECT_VERSION must come from meson (tests/unit/meson.build)"
#endif

/* ---- status codes -------------------------------------------------------- */

/* clang-format off */
#define STATUS(x) {x, #x}
/* clang-format on */

/* Every mtasts_status enumerator with its spelling. */
static const struct {
    int code;
    const char *spelling;
} all_statuses[] = {
    STATUS(MTASTS_OK),
    STATUS(MTASTS_ERR_INVALID),
    STATUS(MTASTS_ERR_NOMEM),
    STATUS(MTASTS_ERR_STATE),
    STATUS(MTASTS_ERR_IO),
    STATUS(MTASTS_ERR_SYNTAX),
    STATUS(MTASTS_ERR_TOO_LARGE),
    STATUS(MTASTS_ERR_BAD_DOMAIN),
    STATUS(MTASTS_ERR_NOT_ASCII),
    STATUS(MTASTS_ERR_NO_POLICY),
    STATUS(MTASTS_ERR_DNS_TEMPFAIL),
    STATUS(MTASTS_ERR_FETCH),
    STATUS(MTASTS_ERR_WEBPKI),
    STATUS(MTASTS_ERR_POLICY_INVALID),
    STATUS(MTASTS_ERR_CONNECT),
    STATUS(MTASTS_ERR_TIMEOUT),
    STATUS(MTASTS_ERR_PROTOCOL),
    STATUS(MTASTS_ERR_NOT_FOUND),
    STATUS(MTASTS_ERR_CACHE_FORMAT),
    STATUS(MTASTS_ERR_CACHE_CORRUPT),
    STATUS(MTASTS_ERR_STORE),
    STATUS(MTASTS_ERR_NO_TLSRPT),
    STATUS(MTASTS_ERR_NO_DATA),
    STATUS(MTASTS_ERR_FULL),
    STATUS(MTASTS_ERR_REPORT_FILE),
};

/* A switch with no default: a status added to the header and not here is a
 * compile error, so all_statuses cannot silently fall behind. */
#pragma GCC diagnostic push
#pragma GCC diagnostic error "-Wswitch"
static bool
is_bad_input_expected(mtasts_status s)
{
    switch (s) {
    case MTASTS_ERR_SYNTAX:
    case MTASTS_ERR_TOO_LARGE:
    case MTASTS_ERR_BAD_DOMAIN:
    case MTASTS_ERR_NOT_ASCII:
        return true;
    case MTASTS_OK:
    case MTASTS_ERR_INVALID:
    case MTASTS_ERR_NOMEM:
    case MTASTS_ERR_STATE:
    case MTASTS_ERR_IO:
    case MTASTS_ERR_NO_POLICY:
    case MTASTS_ERR_DNS_TEMPFAIL:
    case MTASTS_ERR_FETCH:
    case MTASTS_ERR_WEBPKI:
    case MTASTS_ERR_POLICY_INVALID:
    case MTASTS_ERR_CONNECT:
    case MTASTS_ERR_TIMEOUT:
    case MTASTS_ERR_PROTOCOL:
    case MTASTS_ERR_NOT_FOUND:
    case MTASTS_ERR_CACHE_FORMAT:
    case MTASTS_ERR_CACHE_CORRUPT:
    case MTASTS_ERR_STORE:
    case MTASTS_ERR_NO_TLSRPT:
    case MTASTS_ERR_NO_DATA:
    case MTASTS_ERR_FULL:
    case MTASTS_ERR_REPORT_FILE:
        return false;
    }
    return false;
}
#pragma GCC diagnostic pop

static const int unknown_statuses[] = {
    1, 2, 100, -5, -99, -104, -199, -205, -299, -303, -399, -404, -499, -504,
    -599, -1000, INT_MIN, INT_MAX,
};

START_TEST(test_util_status_texts)
{
    for (size_t i = 0; i < ARRAY_LEN(all_statuses); i++) {
        int code = all_statuses[i].code;
        const char *text = mtasts_strerror(code);
        const char *name = mtasts_status_name(code);
        ck_assert_msg(text != NULL && text[0] != '\0', "%s: no text",
                      all_statuses[i].spelling);
        ck_assert_msg(name != NULL, "%s: no name", all_statuses[i].spelling);
        ck_assert_str_eq(name, all_statuses[i].spelling);
        ck_assert_str_ne(text, "unknown status");
        for (size_t j = 0; j < i; j++) {
            int other = all_statuses[j].code;
            ck_assert_msg(code != other, "%s and %s share a value",
                          all_statuses[i].spelling, all_statuses[j].spelling);
            ck_assert_msg(strcmp(text, mtasts_strerror(other)) != 0,
                          "%s and %s share a text", all_statuses[i].spelling,
                          all_statuses[j].spelling);
            ck_assert_str_ne(name, mtasts_status_name(other));
        }
    }
    ck_assert_str_eq(mtasts_strerror(MTASTS_OK), "success");
}
END_TEST

START_TEST(test_util_status_unknown)
{
    for (size_t i = 0; i < ARRAY_LEN(unknown_statuses); i++) {
        int code = unknown_statuses[i];
        ck_assert_msg(mtasts_strerror(code) != NULL, "%d: NULL text", code);
        ck_assert_str_eq(mtasts_strerror(code), "unknown status");
        ck_assert_str_eq(mtasts_status_name(code), "MTASTS_UNKNOWN");
        ck_assert(!mtasts_status_is_bad_input(code));
    }
}
END_TEST

START_TEST(test_util_status_is_bad_input)
{
    for (size_t i = 0; i < ARRAY_LEN(all_statuses); i++) {
        int code = all_statuses[i].code;
        ck_assert_msg(mtasts_status_is_bad_input(code) ==
                          is_bad_input_expected((mtasts_status)code),
                      "mtasts_status_is_bad_input(%s)",
                      all_statuses[i].spelling);
    }
}
END_TEST

/* Read the public header and check that its mtasts_status enum lists
 * exactly the enumerators and values above. */
static char *
read_header(void)
{
    const char *dir = getenv("MTASTS_TESTDATA");
    ck_assert_msg(dir != NULL, "MTASTS_TESTDATA is not set");
    char path[4096];
    int n =
        snprintf(path, sizeof(path), "%s/../../include/mtasts/mtasts.h", dir);
    ck_assert(n > 0 && (size_t)n < sizeof(path));
    FILE *fp = fopen(path, "rb");
    ck_assert_msg(fp != NULL, "cannot open %s", path);
    size_t cap = 1 << 16;
    size_t len = 0;
    char *text = malloc(cap);
    ck_assert_ptr_nonnull(text);
    for (;;) {
        size_t got = fread(text + len, 1, cap - 1 - len, fp);
        len += got;
        if (got == 0) {
            break;
        }
        if (len == cap - 1) {
            cap *= 2;
            text = realloc(text, cap);
            ck_assert_ptr_nonnull(text);
        }
    }
    fclose(fp);
    text[len] = '\0';
    return text;
}

START_TEST(test_util_status_list_matches_header)
{
    char *text = read_header();
    char *start = strstr(text, "typedef enum mtasts_status {");
    ck_assert_ptr_nonnull(start);
    char *end = strstr(start, "} mtasts_status;");
    ck_assert_ptr_nonnull(end);

    size_t found = 0;
    const char *p = start + strlen("typedef enum mtasts_status {");
    while (p < end) {
        if (p[0] == '/' && p[1] == '*') {
            const char *close = strstr(p + 2, "*/");
            ck_assert_ptr_nonnull(close);
            p = close + 2;
            continue;
        }
        if (strncmp(p, "MTASTS_", 7) != 0) {
            p++;
            continue;
        }
        size_t n = 7;
        while ((p[n] >= 'A' && p[n] <= 'Z') || p[n] == '_' ||
               (p[n] >= '0' && p[n] <= '9')) {
            n++;
        }
        const char *q = p + n;
        while (*q == ' ' || *q == '\t') {
            q++;
        }
        ck_assert_msg(*q == '=', "header: %.*s has no written value", (int)n,
                      p);
        long value = strtol(q + 1, NULL, 10);
        bool known = false;
        for (size_t i = 0; i < ARRAY_LEN(all_statuses); i++) {
            if (strlen(all_statuses[i].spelling) == n &&
                strncmp(all_statuses[i].spelling, p, n) == 0) {
                ck_assert_msg(all_statuses[i].code == value,
                              "header: %s = %ld, test says %d",
                              all_statuses[i].spelling, value,
                              all_statuses[i].code);
                known = true;
            }
        }
        ck_assert_msg(known, "header enumerator %.*s missing from the test",
                      (int)n, p);
        found++;
        p = q + 1;
    }
    ck_assert_uint_eq(found, ARRAY_LEN(all_statuses));
    free(text);
}
END_TEST

/* ---- versions ------------------------------------------------------------ */

START_TEST(test_util_version)
{
    char buf[64];

    ck_assert_uint_eq(mtasts_version(), MTASTS_VERSION_NUM);
    ck_assert_ptr_nonnull(mtasts_version_string());
    ck_assert_str_eq(mtasts_version_string(), MTASTS_VERSION_STRING);
    ck_assert_str_eq(mtasts_version_string(), MTASTS_PROJECT_VERSION);
    ck_assert_str_eq(MTASTS_VERSION_STRING, MTASTS_PROJECT_VERSION);

    /* the macros agree with each other */
    ck_assert_int_ge(MTASTS_VERSION_MAJOR, 0);
    ck_assert_int_le(MTASTS_VERSION_MAJOR, 255);
    ck_assert_int_ge(MTASTS_VERSION_MINOR, 0);
    ck_assert_int_le(MTASTS_VERSION_MINOR, 255);
    ck_assert_int_ge(MTASTS_VERSION_PATCH, 0);
    ck_assert_int_le(MTASTS_VERSION_PATCH, 255);
    ck_assert_uint_eq(MTASTS_VERSION_NUM,
                      ((unsigned)MTASTS_VERSION_MAJOR << 16) |
                          ((unsigned)MTASTS_VERSION_MINOR << 8) |
                          (unsigned)MTASTS_VERSION_PATCH);
    snprintf(buf, sizeof(buf), "%d.%d.%d", MTASTS_VERSION_MAJOR,
             MTASTS_VERSION_MINOR, MTASTS_VERSION_PATCH);
    ck_assert_str_eq(buf, MTASTS_VERSION_STRING);

    /* the run-time number decodes to the run-time string */
    uint32_t v = mtasts_version();
    snprintf(buf, sizeof(buf), "%u.%u.%u", (unsigned)(v >> 16) & 0xffu,
             (unsigned)(v >> 8) & 0xffu, (unsigned)v & 0xffu);
    ck_assert_str_eq(buf, mtasts_version_string());
}
END_TEST

/* ---- character classes (RFC 5234 App. B.1, RFC 5321, RFC 8461 §3.1) ------ */

static bool
abnf_alpha(int c)
{
    return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

static bool
abnf_digit(int c)
{
    return c >= 0x30 && c <= 0x39;
}

/* Every class of chars.h, from its ABNF definition. */
static unsigned
abnf_classes(int c)
{
    unsigned m = 0;
    if (abnf_alpha(c)) {
        m |= MTASTS__C_ALPHA;
    }
    if (abnf_digit(c)) {
        m |= MTASTS__C_DIGIT;
    }
    /* RFC 5321 Ldh-str: ALPHA / DIGIT / "-" */
    if (abnf_alpha(c) || abnf_digit(c) || c == 0x2d) {
        m |= MTASTS__C_LDH;
    }
    /* sts-ext-name: ALPHA / DIGIT / "_" / "-" / "." */
    if (abnf_alpha(c) || abnf_digit(c) || c == 0x5f || c == 0x2d || c == 0x2e) {
        m |= MTASTS__C_NAME;
    }
    /* sts-ext-value: %x21-3A / %x3C / %x3E-7E */
    if ((c >= 0x21 && c <= 0x3a) || c == 0x3c || (c >= 0x3e && c <= 0x7e)) {
        m |= MTASTS__C_TXTVAL;
    }
    /* WSP = SP / HTAB */
    if (c == 0x20 || c == 0x09) {
        m |= MTASTS__C_WSP;
    }
    /* VCHAR = %x21-7E */
    if (c >= 0x21 && c <= 0x7e) {
        m |= MTASTS__C_VCHAR;
    }
    /* HEXDIG, either case */
    if (abnf_digit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)) {
        m |= MTASTS__C_HEX;
    }
    return m;
}

START_TEST(test_util_char_classes)
{
    static const struct {
        unsigned mask;
        const char *name;
    } classes[] = {
        {MTASTS__C_ALPHA, "ALPHA"},   {MTASTS__C_DIGIT, "DIGIT"},
        {MTASTS__C_LDH, "LDH"},       {MTASTS__C_NAME, "NAME"},
        {MTASTS__C_TXTVAL, "TXTVAL"}, {MTASTS__C_WSP, "WSP"},
        {MTASTS__C_VCHAR, "VCHAR"},   {MTASTS__C_HEX, "HEX"},
        {MTASTS__C_ALNUM, "ALNUM"},
    };
    for (int c = 0; c < 256; c++) {
        unsigned want = abnf_classes(c);
        ck_assert_msg(mtasts__char_class[c] == want,
                      "mtasts__char_class[0x%02x] = 0x%02x, ABNF says 0x%02x",
                      (unsigned)c, (unsigned)mtasts__char_class[c], want);
        for (size_t k = 0; k < ARRAY_LEN(classes); k++) {
            bool in = (want & classes[k].mask) != 0;
            ck_assert_msg(mtasts__is((unsigned char)c, classes[k].mask) == in,
                          "mtasts__is(0x%02x, %s)", (unsigned)c,
                          classes[k].name);
        }
    }
    /* the classes are distinct bits; ALNUM is ALPHA or DIGIT */
    ck_assert_uint_eq(MTASTS__C_ALPHA | MTASTS__C_DIGIT | MTASTS__C_LDH |
                          MTASTS__C_NAME | MTASTS__C_TXTVAL | MTASTS__C_WSP |
                          MTASTS__C_VCHAR | MTASTS__C_HEX,
                      0xffu);
    ck_assert_uint_eq(MTASTS__C_ALNUM, MTASTS__C_ALPHA | MTASTS__C_DIGIT);
}
END_TEST

START_TEST(test_util_tolower)
{
    for (int c = 0; c < 256; c++) {
        int want = c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
        ck_assert_msg(mtasts__tolower((unsigned char)c) == want,
                      "mtasts__tolower(0x%02x) = 0x%02x, want 0x%02x",
                      (unsigned)c, (unsigned)mtasts__tolower((unsigned char)c),
                      (unsigned)want);
        ck_assert_int_eq(mtasts__lower[c], want);
    }
}
END_TEST

/* ---- allocator ----------------------------------------------------------- */

static size_t dirty_calls;

/* An allocator whose fresh memory is never zero. */
static void *
dirty_malloc(size_t size)
{
    dirty_calls++;
    void *p = malloc(size);
    if (p != NULL) {
        memset(p, 0xa5, size);
    }
    return p;
}

static void *
dirty_realloc(void *ptr, size_t size)
{
    dirty_calls++;
    return realloc(ptr, size);
}

static const struct mtasts__allocator dirty = {dirty_malloc, dirty_realloc,
                                               free};

static void
restore_allocator(void)
{
    failalloc_stop();
}

START_TEST(test_util_alloc_zero)
{
    void *p = mtasts__alloc(0);
    ck_assert_ptr_nonnull(p);
    mtasts__free(p);
    p = mtasts__calloc(0, 16);
    ck_assert_ptr_nonnull(p);
    mtasts__free(p);
    p = mtasts__calloc(16, 0);
    ck_assert_ptr_nonnull(p);
    p = mtasts__realloc(p, 0);
    ck_assert_ptr_nonnull(p);
    mtasts__free(p);
    p = mtasts__realloc(NULL, 8);
    ck_assert_ptr_nonnull(p);
    mtasts__free(p);
    mtasts__free(NULL);
}
END_TEST

START_TEST(test_util_calloc)
{
    mtasts__allocator_set(&dirty);
    dirty_calls = 0;

    unsigned char *p = mtasts__calloc(37, 13);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(dirty_calls, 1);
    for (size_t i = 0; i < 37 * 13; i++) {
        ck_assert_msg(p[i] == 0, "byte %zu not zeroed", i);
    }
    mtasts__free(p);

    /* count * size overflows: NULL, and no allocation is even tried */
    dirty_calls = 0;
    ck_assert_ptr_null(mtasts__calloc(SIZE_MAX, 2));
    ck_assert_ptr_null(mtasts__calloc(2, SIZE_MAX));
    ck_assert_ptr_null(mtasts__calloc(SIZE_MAX / 2 + 1, 2));
    ck_assert_ptr_null(mtasts__calloc(SIZE_MAX, SIZE_MAX));
    ck_assert_ptr_null(mtasts__calloc((SIZE_MAX >> 16) + 2, (size_t)1 << 16));
    ck_assert_uint_eq(dirty_calls, 0);
    mtasts__allocator_set(NULL);
}
END_TEST

/* failalloc_start(n): the n-th allocation through mtasts__alloc,
 * mtasts__calloc or mtasts__realloc fails, every other one succeeds. */
START_TEST(test_util_failalloc)
{
    for (size_t n = 1; n <= 6; n++) {
        void *blocks[6];
        failalloc_start(n);
        for (size_t i = 0; i < 6; i++) {
            blocks[i] = mtasts__alloc(16);
            ck_assert_msg((blocks[i] == NULL) == (i + 1 == n),
                          "fail at %zu: call %zu gave %p", n, i + 1, blocks[i]);
        }
        ck_assert_uint_eq(failalloc_calls(), 6);
        ck_assert_int_eq(failalloc_live(), 5);
        for (size_t i = 0; i < 6; i++) {
            mtasts__free(blocks[i]);
        }
        ck_assert_int_eq(failalloc_live(), 0);
        failalloc_stop();
    }

    /* 0: never fails */
    failalloc_start(0);
    for (size_t i = 0; i < 100; i++) {
        void *p = mtasts__alloc(i);
        ck_assert_ptr_nonnull(p);
        mtasts__free(p);
    }
    ck_assert_uint_eq(failalloc_calls(), 100);
    ck_assert_int_eq(failalloc_live(), 0);

    /* calloc and realloc count too; a failed realloc keeps the block */
    failalloc_start(1);
    ck_assert_ptr_null(mtasts__calloc(4, 4));
    ck_assert_uint_eq(failalloc_calls(), 1);
    failalloc_start(2);
    char *p = mtasts__alloc(8);
    ck_assert_ptr_nonnull(p);
    memcpy(p, "abcdefg", 8);
    ck_assert_ptr_null(mtasts__realloc(p, 4096));
    ck_assert_str_eq(p, "abcdefg");
    char *q = mtasts__realloc(p, 4096);
    ck_assert_ptr_nonnull(q);
    ck_assert_str_eq(q, "abcdefg");
    mtasts__free(q);
    ck_assert_int_eq(failalloc_live(), 0);
    failalloc_stop();

    /* back on the C library's allocator */
    p = mtasts__alloc(8);
    ck_assert_ptr_nonnull(p);
    mtasts__free(p);
}
END_TEST

/* ---- the bounded cursor and error positions ------------------------------ */

START_TEST(test_util_cursor)
{
    static const char data[] = "v=STSv1; id=1";
    struct mtasts__cur c;

    mtasts__cur_init(&c, data, 9); /* "v=STSv1; " */
    ck_assert(!mtasts__cur_at_end(&c));
    ck_assert_int_eq(mtasts__cur_peek(&c), 'v');
    ck_assert_int_eq(mtasts__cur_peek_at(&c, 8), ' ');
    ck_assert_int_eq(mtasts__cur_peek_at(&c, 9), -1);
    ck_assert(!mtasts__cur_take_lit(&c, "v=STSv2", 7));
    ck_assert_uint_eq(mtasts__cur_offset(&c), 0);
    ck_assert(mtasts__cur_take_lit(&c, "v=STSv1", 7));
    ck_assert_uint_eq(mtasts__cur_offset(&c), 7);
    ck_assert_uint_eq(mtasts__cur_take_while(&c, MTASTS__C_WSP), 0);
    ck_assert_uint_eq(mtasts__cur_take_until(&c, ' '), 1);
    ck_assert_uint_eq(mtasts__cur_take_while(&c, MTASTS__C_WSP), 1);
    ck_assert(mtasts__cur_at_end(&c));
    ck_assert_int_eq(mtasts__cur_peek(&c), -1);
    /* nothing is read past the end, not even by a literal that would fit
     * the NUL-terminated text */
    ck_assert(!mtasts__cur_take_lit(&c, "id", 2));
    ck_assert_uint_eq(mtasts__cur_take_until(&c, '='), 0);
    mtasts__cur_skip(&c, 5);
    ck_assert_uint_eq(mtasts__cur_offset(&c), 9);

    mtasts__cur_init(&c, data, strlen(data));
    ck_assert_uint_eq(mtasts__cur_take_until(&c, '#'), strlen(data));
    ck_assert(mtasts__cur_at_end(&c));
    mtasts__cur_init(&c, data, strlen(data));
    mtasts__cur_skip(&c, 100);
    ck_assert(mtasts__cur_at_end(&c));
    ck_assert_uint_eq(mtasts__cur_offset(&c), strlen(data));

    mtasts__cur_init(&c, NULL, 0);
    ck_assert(mtasts__cur_at_end(&c));
    ck_assert_int_eq(mtasts__cur_peek(&c), -1);
    ck_assert_uint_eq(mtasts__cur_take_while(&c, MTASTS__C_ALPHA), 0);
}
END_TEST

START_TEST(test_util_parse_error_position)
{
    static const char text[] = "ab\ncd\n\nxyz";
    mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;

    mtasts__parse_error_set(&err, text, 0, "m0");
    ck_assert_uint_eq(err.line, 1);
    ck_assert_uint_eq(err.column, 1);
    ck_assert_uint_eq(err.offset, 0);
    ck_assert_str_eq(err.message, "m0");
    mtasts__parse_error_set(&err, text, 2, "m1"); /* the first LF */
    ck_assert_uint_eq(err.line, 1);
    ck_assert_uint_eq(err.column, 3);
    mtasts__parse_error_set(&err, text, 4, "m2"); /* 'd' */
    ck_assert_uint_eq(err.line, 2);
    ck_assert_uint_eq(err.column, 2);
    ck_assert_uint_eq(err.offset, 4);
    mtasts__parse_error_set(&err, text, 6, "m3"); /* the empty line */
    ck_assert_uint_eq(err.line, 3);
    ck_assert_uint_eq(err.column, 1);
    mtasts__parse_error_set(&err, text, 10, "m4"); /* end of text */
    ck_assert_uint_eq(err.line, 4);
    ck_assert_uint_eq(err.column, 4);
    ck_assert_uint_eq(err.offset, 10);

    mtasts__parse_error_clear(&err);
    ck_assert_uint_eq(err.line, 0);
    ck_assert_uint_eq(err.column, 0);
    ck_assert_uint_eq(err.offset, 0);
    ck_assert_ptr_null(err.message);

    /* NULL err is fine */
    mtasts__parse_error_set(NULL, text, 4, "m");
    mtasts__parse_error_clear(NULL);
}
END_TEST

/* ---- suite --------------------------------------------------------------- */

static Suite *
util_suite(void)
{
    Suite *s = suite_create("util");

    TCase *tc = tcase_create("status");
    tcase_add_test(tc, test_util_status_texts);
    tcase_add_test(tc, test_util_status_unknown);
    tcase_add_test(tc, test_util_status_is_bad_input);
    tcase_add_test(tc, test_util_status_list_matches_header);
    suite_add_tcase(s, tc);

    tc = tcase_create("version");
    tcase_add_test(tc, test_util_version);
    suite_add_tcase(s, tc);

    tc = tcase_create("chars");
    tcase_add_test(tc, test_util_char_classes);
    tcase_add_test(tc, test_util_tolower);
    suite_add_tcase(s, tc);

    tc = tcase_create("alloc");
    tcase_add_checked_fixture(tc, NULL, restore_allocator);
    tcase_add_test(tc, test_util_alloc_zero);
    tcase_add_test(tc, test_util_calloc);
    tcase_add_test(tc, test_util_failalloc);
    suite_add_tcase(s, tc);

    tc = tcase_create("cursor");
    tcase_add_test(tc, test_util_cursor);
    tcase_add_test(tc, test_util_parse_error_position);
    suite_add_tcase(s, tc);

    return s;
}

int
main(void)
{
    return harness_run(util_suite());
}
