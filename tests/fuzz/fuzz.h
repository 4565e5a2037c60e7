/* Shared by the fuzz targets and driver.c (STYLE.md §9). Every target
 * defines LLVMFuzzerTestOneInput(); libFuzzer or driver.c calls it. */
#ifndef MTASTS_TESTS_FUZZ_H
#define MTASTS_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant that must hold for every input: report it and abort(), which
 * libFuzzer and the sanitizers turn into a crash with a saved input. */
#define FUZZ_CHECK(cond)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__,        \
                    __LINE__, #cond);                                          \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* A copy of data[0..size) in a heap block of exactly size bytes, without a
 * terminator, so that AddressSanitizer catches a read past the end. NULL
 * only for size 0 when malloc(0) gives NULL (the APIs accept NULL, 0). */
static inline char *
fuzz_copy(const uint8_t *data, size_t size)
{
    char *copy = malloc(size);
    if (copy == NULL) {
        FUZZ_CHECK(size == 0);
        return NULL;
    }
    if (size > 0) {
        memcpy(copy, data, size);
    }
    return copy;
}

/* A NUL-terminated copy of data[0..size) for APIs that take a C string;
 * an embedded NUL simply ends the string early. */
static inline char *
fuzz_cstr(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1);
    FUZZ_CHECK(copy != NULL);
    if (size > 0) {
        memcpy(copy, data, size);
    }
    copy[size] = '\0';
    return copy;
}

#if defined(__GNUC__) || defined(__clang__)
#define FUZZ_NOINLINE __attribute__((noinline, unused))
#else
#define FUZZ_NOINLINE
#endif

/* Fill the stack below the caller with a non-zero pattern, so that a
 * library function called next from the same frame finds garbage, not
 * zeros, in any local it forgets to initialise: the read then goes wrong
 * every time instead of depending on what ran before. */
static FUZZ_NOINLINE void
fuzz_dirty_stack(void)
{
    volatile unsigned char junk[32768];
    for (size_t i = 0; i < sizeof(junk); i++) {
        junk[i] = 0xA5;
    }
}

/* Whether a parse error of an input at fault (MTASTS_ERR_SYNTAX,
 * MTASTS_ERR_BAD_DOMAIN, MTASTS_ERR_NOT_ASCII) says where and why, as
 * mtasts.h promises: a static message, a 1-based line and column, and an
 * offset inside the input that agrees with them (line = 1 + LFs before
 * offset, column counts bytes). */
static inline void
fuzz_check_error_position(const char *text, size_t len, size_t line,
                          size_t column, size_t offset, const char *message)
{
    FUZZ_CHECK(message != NULL);
    FUZZ_CHECK(offset <= len);
    FUZZ_CHECK(line >= 1);
    FUZZ_CHECK(column >= 1);
    size_t want_line = 1;
    size_t line_start = 0;
    for (size_t i = 0; i < offset && text != NULL; i++) {
        if (text[i] == '\n') {
            want_line++;
            line_start = i + 1;
        }
    }
    FUZZ_CHECK(line == want_line);
    FUZZ_CHECK(column == offset - line_start + 1);
}

/* Any other failure (misuse, too large, out of memory, no record) has a
 * message and no position: line, column and offset are 0 (mtasts.h). */
static inline void
fuzz_check_error_no_position(size_t line, size_t column, size_t offset,
                             const char *message)
{
    FUZZ_CHECK(message != NULL);
    FUZZ_CHECK(line == 0 && column == 0 && offset == 0);
}

#endif
