/* Character classes for the RFC 8461 grammars (RFC 5234 core rules). */
#ifndef MTASTS_UTIL_CHARS_H
#define MTASTS_UTIL_CHARS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MTASTS__C_ALPHA 0x01u  /* ALPHA */
#define MTASTS__C_DIGIT 0x02u  /* DIGIT */
#define MTASTS__C_LDH 0x04u    /* ALPHA / DIGIT / "-" (RFC 5321 Ldh-str) */
#define MTASTS__C_NAME 0x08u   /* ALPHA / DIGIT / "_" / "-" / "." (names) */
#define MTASTS__C_TXTVAL 0x10u /* %x21-3A / %x3C / %x3E-7E (sts-ext-value) */
#define MTASTS__C_WSP 0x20u    /* SP / HTAB */
#define MTASTS__C_VCHAR 0x40u  /* %x21-7E */
#define MTASTS__C_HEX 0x80u    /* HEXDIG, either case */
#define MTASTS__C_ALNUM (MTASTS__C_ALPHA | MTASTS__C_DIGIT)

extern const uint8_t mtasts__char_class[256];
extern const uint8_t mtasts__lower[256];

static inline bool
mtasts__is(unsigned char c, unsigned mask)
{
    return (mtasts__char_class[c] & mask) != 0;
}

static inline unsigned char
mtasts__tolower(unsigned char c)
{
    return mtasts__lower[c];
}

/* Whether a[0..n) equals lower[0..n), ASCII case-insensitively, where
 * lower is already lower-case (a literal, a normalised name). */
static inline bool
mtasts__eq_lower(const void *a, const char *lower, size_t n)
{
    const unsigned char *p = a;
    for (size_t i = 0; i < n; i++) {
        if (mtasts__tolower(p[i]) != (unsigned char)lower[i]) {
            return false;
        }
    }
    return true;
}

/* Whether a[0..n) equals b[0..n), ASCII case-insensitively. */
static inline bool
mtasts__eq_nocase(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (mtasts__tolower((unsigned char)a[i]) !=
            mtasts__tolower((unsigned char)b[i])) {
            return false;
        }
    }
    return true;
}

#endif
