/* A small JSON text builder for the reports (RFC 8259, I-JSON RFC 7493):
 * a growing buffer, strings escaped, any byte string made valid UTF-8
 * (an ill-formed sequence becomes U+FFFD). An allocation failure is
 * sticky: the text is then dropped and mtasts__json_finish() fails. */
#ifndef MTASTS_REPORT_JSON_H
#define MTASTS_REPORT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mtasts__json {
    char *buf;
    size_t len, cap;
    bool failed;
};

void mtasts__json_init(struct mtasts__json *j);
/* Raw text (punctuation, member names the caller wrote correctly). */
void mtasts__json_raw(struct mtasts__json *j, const char *text);
/* Raw bytes data[0..n) (the builder also serves as a plain text buffer). */
void mtasts__json_bytes(struct mtasts__json *j, const void *data, size_t n);
/* A string value from s[0..len), quoted and escaped. */
void mtasts__json_string(struct mtasts__json *j, const char *s, size_t len);
/* "name": with the name escaped, after a comma when comma is true. */
void mtasts__json_key(struct mtasts__json *j, bool comma, const char *name);
void mtasts__json_uint(struct mtasts__json *j, uint64_t v);
/* Whether s[0..len) is well-formed UTF-8 (RFC 3629). */
bool mtasts__utf8_valid(const char *s, size_t len);
/* The text (NUL-terminated, owned by the caller) and its length, or NULL
 * after an allocation failure (everything is freed). */
char *mtasts__json_finish(struct mtasts__json *j, size_t *len_out);

#endif
