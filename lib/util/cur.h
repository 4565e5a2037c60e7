/* The bounded cursor: every parser reads input only through it, as a
 * (pointer, bytes left) pair, so no read can pass the end and network input
 * never needs a NUL terminator (STYLE.md §10). */
#ifndef MTASTS_UTIL_CUR_H
#define MTASTS_UTIL_CUR_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "mtasts/mtasts.h"
#include "util/chars.h"

struct mtasts__cur {
    const unsigned char *base; /* start of the whole input, for offsets */
    const unsigned char *ptr;  /* next byte */
    size_t left;               /* bytes from ptr to the end */
};

static inline void
mtasts__cur_init(struct mtasts__cur *c, const void *data, size_t len)
{
    c->base = (const unsigned char *)data;
    c->ptr = c->base;
    c->left = len;
}

static inline bool
mtasts__cur_at_end(const struct mtasts__cur *c)
{
    return c->left == 0;
}

/* The next byte, or -1 at the end. */
static inline int
mtasts__cur_peek(const struct mtasts__cur *c)
{
    return c->left != 0 ? c->ptr[0] : -1;
}

/* The byte k positions ahead, or -1 past the end. */
static inline int
mtasts__cur_peek_at(const struct mtasts__cur *c, size_t k)
{
    return k < c->left ? c->ptr[k] : -1;
}

static inline size_t
mtasts__cur_offset(const struct mtasts__cur *c)
{
    return (size_t)(c->ptr - c->base);
}

static inline void
mtasts__cur_skip(struct mtasts__cur *c, size_t n)
{
    if (n > c->left) {
        n = c->left;
    }
    c->ptr += n;
    c->left -= n;
}

/* Take the literal lit[0..n) if the input continues with it. */
static inline bool
mtasts__cur_take_lit(struct mtasts__cur *c, const char *lit, size_t n)
{
    if (c->left < n || memcmp(c->ptr, lit, n) != 0) {
        return false;
    }
    c->ptr += n;
    c->left -= n;
    return true;
}

/* Take bytes while they are in the character class mask; the count. */
static inline size_t
mtasts__cur_take_while(struct mtasts__cur *c, unsigned mask)
{
    size_t n = 0;
    while (n < c->left && mtasts__is(c->ptr[n], mask)) {
        n++;
    }
    c->ptr += n;
    c->left -= n;
    return n;
}

/* Take bytes up to (not including) the first byte equal to ch, or to the
 * end; the count. */
static inline size_t
mtasts__cur_take_until(struct mtasts__cur *c, unsigned char ch)
{
    const unsigned char *hit = memchr(c->ptr, ch, c->left);
    size_t n = hit != NULL ? (size_t)(hit - c->ptr) : c->left;
    c->ptr += n;
    c->left -= n;
    return n;
}

/* Fill err (if not NULL, and only members inside err->size) with the line
 * and column of base[offset] and a static message. */
void mtasts__parse_error_set(mtasts_parse_error *err, const void *base,
                             size_t offset, const char *message);

/* A failure that is not at a position in the input (misuse, no record, out
 * of memory, too large): line, column and offset 0, and a message. */
void mtasts__parse_error_note(mtasts_parse_error *err, const char *message);

/* Mark err (if not NULL) as "no error". */
void mtasts__parse_error_clear(mtasts_parse_error *err);

#endif
