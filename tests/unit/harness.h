/* Shared pieces of the Check unit tests: a runner, table data files from
 * tests/data/, and an allocator that fails on demand. */
#ifndef MTASTS_TESTS_HARNESS_H
#define MTASTS_TESTS_HARNESS_H

#include <check.h>
#include <stddef.h>

#include "mtasts/mtasts.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Run one suite with CK_NORMAL output (keeps Check's "Checks: N, Failures:
 * 0, Errors: 0" line); the process exit status. */
int harness_run(Suite *s);

/* A test case with a checked fixture and a 120 s timeout. */
TCase *harness_case(const char *name, void (*setup)(void),
                    void (*teardown)(void));

/* ---- Table data files ---------------------------------------------------
 * tests/data/<name>: one case per line, fields separated by TAB; lines that
 * are empty or start with '#' are skipped. Inside a field these escapes are
 * decoded: \t \n \r \\ \s (a space, for clarity at the ends) and \xNN. A
 * field "-" stands for an empty string. The directory comes from the
 * MTASTS_TESTDATA environment variable (set by meson). */
struct td_row {
    size_t line;    /* line number in the file, for messages */
    size_t nfields;
    char **field;   /* decoded, NUL-terminated (may hold NUL bytes) */
    size_t *len;    /* decoded lengths */
};

struct td_file {
    const char *name;
    size_t nrows;
    struct td_row *row;
};

/* Load a table; every row must have at least min_fields fields. Aborts the
 * test program with a message on any error (missing file, bad escape,
 * short row). */
void td_load(struct td_file *f, const char *name, size_t min_fields);
void td_free(struct td_file *f);

/* The prefix of a message about a row: file, line and the row's first
 * field (its name): ck_assert_msg(ok, ROW "what", ROW_ARGS(f, r)). */
#define ROW "tests/data/%s:%zu [%s]: "
#define ROW_ARGS(f, r) (f)->name, (r)->line, (r)->field[0]

/* A field naming a status as mtasts_status_name() does ("MTASTS_OK",
 * "MTASTS_ERR_SYNTAX"): its value. A name that is no status fails the
 * test. */
int td_status(const struct td_file *f, const struct td_row *r, size_t field);

/* A field holding a decimal number; anything else fails the test. */
size_t td_number(const struct td_file *f, const struct td_row *r,
                 size_t field);

/* A heap copy of exactly len bytes with no NUL after it, so that ASan and
 * valgrind see any read past the end of the input. Never NULL. */
char *td_exact_copy(const char *s, size_t len);

/* ---- Parse errors -------------------------------------------------------
 * err_poison() sets a mtasts_parse_error's size to the whole struct and
 * fills the rest with POISON and poison_message, so a test sees which
 * members a call wrote. */
#define POISON 0xa5a5u
extern const char poison_message[];
void err_poison(mtasts_parse_error *err);

/* ---- Failing allocator --------------------------------------------------
 * failalloc_start(n): the n-th allocation from now on (1-based) fails, and
 * every later one succeeds; n == 0 never fails. failalloc_stop() restores
 * the C library's allocator. failalloc_live() is the number of blocks
 * allocated through it and not yet freed. */
void failalloc_start(size_t n);
void failalloc_stop(void);
size_t failalloc_calls(void);
long failalloc_live(void);

#endif
