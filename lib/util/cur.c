#include "util/cur.h"

#include <stddef.h>
#include <string.h>

/* Write one member only if it lies wholly inside the caller's struct, so a
 * caller built against an older, smaller mtasts_parse_error is safe. */
#define FITS(err, member)                                                      \
    ((err)->size >=                                                            \
     offsetof(mtasts_parse_error, member) + sizeof((err)->member))

static void
fill(mtasts_parse_error *err, size_t line, size_t column, size_t offset,
     const char *message)
{
    if (err == NULL) {
        return;
    }
    if (FITS(err, line)) {
        err->line = line;
    }
    if (FITS(err, column)) {
        err->column = column;
    }
    if (FITS(err, offset)) {
        err->offset = offset;
    }
    if (FITS(err, message)) {
        err->message = message;
    }
}

void
mtasts__parse_error_set(mtasts_parse_error *err, const void *base,
                        size_t offset, const char *message)
{
    if (err == NULL) {
        return;
    }
    const unsigned char *b = base;
    size_t line = 1;
    size_t line_start = 0;
    for (size_t i = 0; i < offset; i++) {
        if (b[i] == '\n') {
            line++;
            line_start = i + 1;
        }
    }
    fill(err, line, offset - line_start + 1, offset, message);
}

void
mtasts__parse_error_note(mtasts_parse_error *err, const char *message)
{
    fill(err, 0, 0, 0, message);
}

void
mtasts__parse_error_at(mtasts_parse_error *err, size_t offset,
                       const char *message)
{
    fill(err, 0, 0, offset, message);
}

void
mtasts__parse_error_clear(mtasts_parse_error *err)
{
    fill(err, 0, 0, 0, NULL);
}
