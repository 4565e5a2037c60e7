/*
 * The daemon's settings (config.h).
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
sm_config_init(struct sm_config *c)
{
    memset(c, 0, sizeof(*c));
    strcpy(c->listen, "127.0.0.1:8461");
    c->deadline_ms = 4000;
    c->workers = 4;
    c->answer_ttl_s = 60;
    c->max_connections = 1024;
    c->refresh_interval_s = 300;
    c->refresh_expiring_s = 3600;
    c->admin_dump_max = 100000; /* SM_ANSWER_MAX */
    strcpy(c->zones[0].name, "default");
    c->zones[0].servername = true;
    c->zone_count = 1;
}

struct number_opt {
    const char *name;
    size_t offset;
    unsigned long min;
    unsigned long max;
};

static const struct number_opt number_opts[] = {
    {"https-port", offsetof(struct sm_config, https_port), 1, 65535},
    {"fetch-timeout-ms", offsetof(struct sm_config, fetch_timeout_ms), 1,
     3600000},
    {"deadline-ms", offsetof(struct sm_config, deadline_ms), 1, 600000},
    {"workers", offsetof(struct sm_config, workers), 1, 256},
    {"answer-ttl-s", offsetof(struct sm_config, answer_ttl_s), 1, 86400},
    {"max-connections", offsetof(struct sm_config, max_connections), 1,
     1000000},
    {"refresh-interval-s", offsetof(struct sm_config, refresh_interval_s), 1,
     86400},
    {"refresh-expiring-s", offsetof(struct sm_config, refresh_expiring_s), 0,
     31557600},
    {"admin-dump-max", offsetof(struct sm_config, admin_dump_max), 64, 100000},
};

struct string_opt {
    const char *name;
    size_t offset;
};

static const struct string_opt string_opts[] = {
    {"listen", offsetof(struct sm_config, listen)},
    {"cache", offsetof(struct sm_config, cache)},
    {"resolver", offsetof(struct sm_config, resolver)},
    {"ca-file", offsetof(struct sm_config, ca_file)},
    {"redis", offsetof(struct sm_config, redis)},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* err = a b c (each cut to fit); returns -1. */
static int
fail(char *err, const char *a, const char *b, const char *c)
{
    snprintf(err, SM_ERR_MAX, "%.80s%.80s%.80s", a, b, c);
    return -1;
}

static int
parse_bool(const char *v, bool *out)
{
    if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 ||
        strcmp(v, "1") == 0) {
        *out = true;
        return 0;
    }
    if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 ||
        strcmp(v, "0") == 0) {
        *out = false;
        return 0;
    }
    return -1;
}

bool
sm_config_is_option(const char *name)
{
    for (size_t i = 0; i < COUNT(number_opts); i++) {
        if (strcmp(name, number_opts[i].name) == 0) {
            return true;
        }
    }
    for (size_t i = 0; i < COUNT(string_opts); i++) {
        if (strcmp(name, string_opts[i].name) == 0) {
            return true;
        }
    }
    return strcmp(name, "reuse-port") == 0 || strcmp(name, "syslog") == 0 ||
           strcmp(name, "dane") == 0 || strcmp(name, "socket-mode") == 0 ||
           strcmp(name, "user") == 0 || strcmp(name, "socket-owner") == 0 ||
           strcmp(name, "socket-group") == 0;
}

int
sm_config_set(struct sm_config *c, struct sm_zone *zone, const char *name,
              const char *value, char *err)
{
    if (zone != NULL) {
        bool *flag = strcmp(name, "strict-testing") == 0 ? &zone->strict_testing
                     : strcmp(name, "servername") == 0   ? &zone->servername
                     : strcmp(name, "postfix-tlsrpt") == 0 ? &zone->tlsrpt
                     : strcmp(name, "temp-on-failure") == 0
                         ? &zone->temp_on_failure
                         : NULL;
        if (flag == NULL) {
            return fail(err, "unknown zone option '", name, "'");
        }
        if (parse_bool(value, flag) != 0) {
            return fail(err, name, ": not yes or no: ", value);
        }
        return 0;
    }
    for (size_t i = 0; i < COUNT(number_opts); i++) {
        const struct number_opt *o = &number_opts[i];
        if (strcmp(name, o->name) != 0) {
            continue;
        }
        char *end = NULL;
        errno = 0;
        unsigned long v = strtoul(value, &end, 10);
        if (value[0] < '0' || value[0] > '9' || errno != 0 || *end != '\0' ||
            v < o->min || v > o->max) {
            return fail(err, name, ": not a number in range: ", value);
        }
        *(unsigned long *)(void *)((char *)c + o->offset) = v;
        return 0;
    }
    bool *flag = strcmp(name, "reuse-port") == 0 ? &c->reuse_port
                 : strcmp(name, "syslog") == 0   ? &c->use_syslog
                 : strcmp(name, "dane") == 0     ? &c->dane
                                                 : NULL;
    if (flag != NULL) {
        if (parse_bool(value, flag) != 0) {
            return fail(err, name, ": not yes or no: ", value);
        }
        return 0;
    }
    char *who = strcmp(name, "user") == 0           ? c->user
                : strcmp(name, "socket-owner") == 0 ? c->socket_owner
                : strcmp(name, "socket-group") == 0 ? c->socket_group
                                                    : NULL;
    if (who != NULL) {
        if (value[0] == '\0' || strlen(value) >= SM_ZONE_NAME_MAX) {
            return fail(err, name, ": empty or too long", "");
        }
        strcpy(who, value);
        return 0;
    }
    if (strcmp(name, "socket-mode") == 0) {
        size_t n = strlen(value);
        if (n == 0 || n > 4 || strspn(value, "01234567") != n) {
            return fail(err, name, ": not an octal mode: ", value);
        }
        strcpy(c->socket_mode, value);
        return 0;
    }
    for (size_t i = 0; i < COUNT(string_opts); i++) {
        const struct string_opt *o = &string_opts[i];
        if (strcmp(name, o->name) != 0) {
            continue;
        }
        if (strlen(value) >= SM_PATH_MAX) {
            return fail(err, name, ": too long", "");
        }
        strcpy((char *)c + o->offset, value);
        return 0;
    }
    return fail(err, "unknown option '", name, "'");
}

/* The zone named name[0..len), made if new; NULL when the table is full. */
static struct sm_zone *
zone_get(struct sm_config *c, const char *name, size_t len)
{
    for (size_t i = 0; i < c->zone_count; i++) {
        if (strlen(c->zones[i].name) == len &&
            memcmp(c->zones[i].name, name, len) == 0) {
            return &c->zones[i];
        }
    }
    if (c->zone_count == SM_ZONES_MAX || len >= SM_ZONE_NAME_MAX) {
        return NULL;
    }
    struct sm_zone *z = &c->zones[c->zone_count++];
    memset(z, 0, sizeof(*z));
    memcpy(z->name, name, len);
    z->servername = true;
    return z;
}

static bool
is_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r';
}

/* Trim blanks from both ends of s[0..*len). */
static const char *
trim(const char *s, size_t *len)
{
    while (*len > 0 && is_blank(s[0])) {
        s++;
        (*len)--;
    }
    while (*len > 0 && is_blank(s[*len - 1])) {
        (*len)--;
    }
    return s;
}

static int
parse_line(struct sm_config *c, struct sm_zone **zone, const char *line,
           size_t len, char *err)
{
    line = trim(line, &len);
    if (len == 0 || line[0] == '#') {
        return 0;
    }
    if (line[0] == '[') {
        if (line[len - 1] != ']' || len < 7 || memcmp(line, "[zone ", 6)) {
            return fail(err, "expected [zone NAME]", "", "");
        }
        size_t nlen = len - 7;
        const char *name = trim(line + 6, &nlen);
        if (nlen == 0 || memchr(name, ' ', nlen) != NULL) {
            return fail(err, "bad zone name", "", "");
        }
        if (nlen == 7 && memcmp(name, "__admin", 7) == 0) {
            return fail(err, "zone name __admin is reserved", "", "");
        }
        *zone = zone_get(c, name, nlen);
        if (*zone == NULL) {
            return fail(err, "too many zones or name too long", "", "");
        }
        return 0;
    }
    const char *eq = memchr(line, '=', len);
    if (eq == NULL) {
        return fail(err, "expected NAME = VALUE", "", "");
    }
    size_t klen = (size_t)(eq - line);
    const char *k = trim(line, &klen);
    size_t vlen = len - (size_t)(eq - line) - 1;
    const char *v = trim(eq + 1, &vlen);
    char name[64];
    char value[SM_PATH_MAX];
    if (klen == 0 || klen >= sizeof(name) || vlen >= sizeof(value)) {
        return fail(err, "name or value empty or too long", "", "");
    }
    memcpy(name, k, klen);
    name[klen] = '\0';
    memcpy(value, v, vlen);
    value[vlen] = '\0';
    return sm_config_set(c, *zone, name, value, err);
}

int
sm_config_parse(struct sm_config *c, const char *text, size_t len, char *err)
{
    struct sm_zone *zone = NULL;
    size_t line_no = 1;
    size_t off = 0;
    while (off < len) {
        const char *nl = memchr(text + off, '\n', len - off);
        size_t end = nl != NULL ? (size_t)(nl - text) : len;
        if (memchr(text + off, '\0', end - off) != NULL) {
            snprintf(err, SM_ERR_MAX, "line %zu: NUL byte", line_no);
            return -1;
        }
        char why[SM_ERR_MAX];
        if (parse_line(c, &zone, text + off, end - off, why) != 0) {
            snprintf(err, SM_ERR_MAX, "line %zu: %.200s", line_no, why);
            return -1;
        }
        off = end + 1;
        line_no++;
    }
    return 0;
}

const struct sm_zone *
sm_config_zone(const struct sm_config *c, const char *name, size_t len)
{
    for (size_t i = 1; i < c->zone_count; i++) {
        if (strlen(c->zones[i].name) == len &&
            memcmp(c->zones[i].name, name, len) == 0) {
            return &c->zones[i];
        }
    }
    return &c->zones[0];
}
