#include "harness.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mtasts/mtasts.h"
#include "util/alloc.h"

int
harness_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

TCase *
harness_case(const char *name, void (*setup)(void), void (*teardown)(void))
{
    TCase *tc = tcase_create(name);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    return tc;
}

static void
die(const struct td_file *f, size_t line, const char *why)
{
    fprintf(stderr, "tests/data/%s:%zu: %s\n", f->name, line, why);
    exit(99);
}

static int
hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Decode one field in place; its decoded length. */
static size_t
decode(const struct td_file *f, size_t line, char *s)
{
    if (strcmp(s, "-") == 0) {
        s[0] = '\0';
        return 0;
    }
    size_t o = 0;
    for (size_t i = 0; s[i] != '\0'; i++) {
        if (s[i] != '\\') {
            s[o++] = s[i];
            continue;
        }
        i++;
        switch (s[i]) {
        case 't':
            s[o++] = '\t';
            break;
        case 'n':
            s[o++] = '\n';
            break;
        case 'r':
            s[o++] = '\r';
            break;
        case 's':
            s[o++] = ' ';
            break;
        case '\\':
            s[o++] = '\\';
            break;
        case 'x': {
            int hi = hexval(s[i + 1]);
            int lo = hi < 0 ? -1 : hexval(s[i + 2]);
            if (lo < 0) {
                die(f, line, "bad \\x escape");
            }
            s[o++] = (char)(hi * 16 + lo);
            i += 2;
            break;
        }
        default:
            die(f, line, "unknown escape");
        }
    }
    s[o] = '\0';
    return o;
}

static void
add_row(struct td_file *f, size_t line, char *text, size_t min_fields)
{
    struct td_row r = {.line = line};
    size_t cap = 4;
    r.field = malloc(cap * sizeof(*r.field));
    r.len = malloc(cap * sizeof(*r.len));
    char *p = text;
    for (;;) {
        char *tab = strchr(p, '\t');
        if (tab != NULL) {
            *tab = '\0';
        }
        if (r.nfields == cap) {
            cap *= 2;
            r.field = realloc(r.field, cap * sizeof(*r.field));
            r.len = realloc(r.len, cap * sizeof(*r.len));
        }
        if (r.field == NULL || r.len == NULL) {
            die(f, line, "out of memory");
        }
        r.field[r.nfields] = strdup(p);
        r.len[r.nfields] = decode(f, line, r.field[r.nfields]);
        r.nfields++;
        if (tab == NULL) {
            break;
        }
        p = tab + 1;
    }
    if (r.nfields < min_fields) {
        die(f, line, "too few fields");
    }
    f->row = realloc(f->row, (f->nrows + 1) * sizeof(*f->row));
    if (f->row == NULL) {
        die(f, line, "out of memory");
    }
    f->row[f->nrows++] = r;
}

void
td_load(struct td_file *f, const char *name, size_t min_fields)
{
    memset(f, 0, sizeof(*f));
    f->name = name;
    const char *dir = getenv("MTASTS_TESTDATA");
    if (dir == NULL) {
        die(f, 0, "MTASTS_TESTDATA is not set (run through meson test)");
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *fp = fopen(path, "r");
    if (fp == NULL) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        exit(99);
    }
    char buf[1 << 16];
    size_t line = 0;
    while (fgets(buf, sizeof(buf), fp) != NULL) {
        line++;
        size_t n = strlen(buf);
        if (n > 0 && buf[n - 1] == '\n') {
            buf[--n] = '\0';
        } else if (!feof(fp)) {
            die(f, line, "line too long");
        }
        if (n == 0 || buf[0] == '#') {
            continue;
        }
        add_row(f, line, buf, min_fields);
    }
    fclose(fp);
    if (f->nrows == 0) {
        die(f, line, "no rows");
    }
}

void
td_free(struct td_file *f)
{
    for (size_t i = 0; i < f->nrows; i++) {
        for (size_t j = 0; j < f->row[i].nfields; j++) {
            free(f->row[i].field[j]);
        }
        free(f->row[i].field);
        free(f->row[i].len);
    }
    free(f->row);
    memset(f, 0, sizeof(*f));
}

/* ---- Failing allocator ------------------------------------------------ */

static size_t fail_at;
static size_t calls;
static long live;

static void *
fa_malloc(size_t size)
{
    calls++;
    if (fail_at != 0 && calls == fail_at) {
        return NULL;
    }
    void *p = malloc(size);
    if (p != NULL) {
        live++;
    }
    return p;
}

static void *
fa_realloc(void *ptr, size_t size)
{
    calls++;
    if (fail_at != 0 && calls == fail_at) {
        return NULL;
    }
    void *p = realloc(ptr, size);
    if (p != NULL && ptr == NULL) {
        live++;
    }
    return p;
}

static void
fa_free(void *ptr)
{
    if (ptr != NULL) {
        live--;
    }
    free(ptr);
}

static const struct mtasts__allocator failing = {fa_malloc, fa_realloc,
                                                 fa_free};

void
failalloc_start(size_t n)
{
    fail_at = n;
    calls = 0;
    live = 0;
    mtasts__allocator_set(&failing);
}

void
failalloc_stop(void)
{
    mtasts__allocator_set(NULL);
}

size_t
failalloc_calls(void)
{
    return calls;
}

long
failalloc_live(void)
{
    return live;
}

/* ---- Table fields -------------------------------------------------------- */

/* Status codes lie in -1..-999 (mtasts.h: ranges of 100 per layer). */
#define STATUS_LOWEST (-999)

int
td_status(const struct td_file *f, const struct td_row *r, size_t field)
{
    for (int s = 0; s >= STATUS_LOWEST; s--) {
        if (strcmp(r->field[field], mtasts_status_name(s)) == 0) {
            return s;
        }
    }
    ck_abort_msg(ROW "unknown status \"%s\"", ROW_ARGS(f, r), r->field[field]);
    return 0;
}

size_t
td_number(const struct td_file *f, const struct td_row *r, size_t field)
{
    char *end = NULL;
    unsigned long long v = strtoull(r->field[field], &end, 10);
    ck_assert_msg(end != r->field[field] && *end == '\0',
                  ROW "field %zu is not a number", ROW_ARGS(f, r), field + 1);
    return (size_t)v;
}

char *
td_exact_copy(const char *s, size_t len)
{
    char *p = malloc(len != 0 ? len : 1);
    ck_assert_ptr_nonnull(p);
    if (len != 0) {
        memcpy(p, s, len);
    }
    return p;
}

/* ---- Parse errors ---------------------------------------------------------- */

const char poison_message[] = "poison";

void
err_poison(mtasts_parse_error *err)
{
    err->size = sizeof(*err);
    err->line = POISON;
    err->column = POISON;
    err->offset = POISON;
    err->message = poison_message;
}
