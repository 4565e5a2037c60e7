/* The bounded cursor: every parser reads input only through it, as a
 * (pointer, bytes left) pair, so no read can pass the end and network input
 * never needs a NUL terminator (STYLE.md §10). */
#ifndef MTASTS_UTIL_CUR_H
#define MTASTS_UTIL_CUR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
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

/* A fault at a byte offset of a binary input (the cache file), which has
 * no lines: line and column 0, the offset and a static message. */
void mtasts__parse_error_at(mtasts_parse_error *err, size_t offset,
                            const char *message);

/* Mark err (if not NULL) as "no error". */
void mtasts__parse_error_clear(mtasts_parse_error *err);

/* Binary input (the cache file): take n bytes, or an unsigned big-endian
 * integer of n bytes (n <= 8). False, taking nothing, when fewer are left. */
static inline bool
mtasts__cur_take_bytes(struct mtasts__cur *c, size_t n,
                       const unsigned char **out)
{
    if (n > c->left) {
        return false;
    }
    *out = c->ptr;
    c->ptr += n;
    c->left -= n;
    return true;
}

static inline bool
mtasts__cur_take_be(struct mtasts__cur *c, size_t n, uint64_t *out)
{
    const unsigned char *p;
    if (n > 8 || !mtasts__cur_take_bytes(c, n, &p)) {
        return false;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        v = (v << 8) | p[i];
    }
    *out = v;
    return true;
}

#endif
