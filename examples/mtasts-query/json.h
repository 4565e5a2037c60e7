/* A small streaming JSON writer for the example tools: correct escaping of
 * any byte string (invalid UTF-8 is written as U+FFFD), commas handled by a
 * nesting stack. */
#ifndef MTASTS_EXAMPLES_JSON_H
#define MTASTS_EXAMPLES_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 16

struct json {
    FILE *fp;
    int depth;
    bool need_comma[JSON_MAX_DEPTH];
    bool after_key;
};

void json_init(struct json *j, FILE *fp);
void json_begin_object(struct json *j);
void json_end_object(struct json *j);
void json_begin_array(struct json *j);
void json_end_array(struct json *j);
void json_key(struct json *j, const char *key);
void json_string(struct json *j, const char *s);
void json_uint(struct json *j, uint64_t v);
void json_bool(struct json *j, bool v);
void json_null(struct json *j);
void json_finish(struct json *j); /* newline after the top-level value */

#endif
