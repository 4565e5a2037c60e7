/*
 * The daemon's settings: command-line options and the --config file, which
 * take the same names (a file line `deadline-ms = 4000` is the option
 * `--deadline-ms 4000`), and the zones selected by the socketmap NAME.
 * Network-free.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef SOCKETMAP_CONFIG_H
#define SOCKETMAP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define SM_ZONES_MAX 32
#define SM_ZONE_NAME_MAX 64
#define SM_PATH_MAX 1024
#define SM_ERR_MAX 256

/* What a zone changes in the answers. */
struct sm_zone {
    char name[SM_ZONE_NAME_MAX]; /* "default" for the default zone */
    bool strict_testing;         /* mode testing answered as enforce */
    bool servername;             /* append " servername=hostname" */
    bool tlsrpt; /* Postfix 3.10 TLSRPT attributes and policy_failure= */
    bool temp_on_failure; /* TEMP, not NOTFOUND, when discovery failed */
};

struct sm_config {
    char listen[SM_PATH_MAX];    /* ADDR:PORT, [ADDR6]:PORT or unix:PATH */
    char cache[SM_PATH_MAX];     /* "" : no cache file */
    char resolver[SM_PATH_MAX];  /* "" : /etc/resolv.conf */
    char ca_file[SM_PATH_MAX];   /* "" : the system bundle */
    char redis[SM_PATH_MAX];     /* HOST:PORT of a shared store; "" */
    char user[SM_ZONE_NAME_MAX]; /* "" : keep the starting user */
    char socket_owner[SM_ZONE_NAME_MAX]; /* unix: socket; "": as created */
    char socket_group[SM_ZONE_NAME_MAX]; /* unix: socket; "": as created */
    unsigned long https_port;            /* 0: 443 */
    unsigned long fetch_timeout_ms;      /* 0: the library's default */
    unsigned long deadline_ms;
    unsigned long workers;
    unsigned long answer_ttl_s;
    unsigned long refresh_interval_s; /* the periodic save and refresh */
    unsigned long refresh_expiring_s; /* refresh policies expiring so soon */
    unsigned long max_connections;
    unsigned long admin_dump_max; /* largest `dump` answer (admin.h) */
    char socket_mode[8];          /* octal mode of a unix: socket; "" : umask */
    bool reuse_port;              /* SO_REUSEPORT on the TCP socket */
    bool use_syslog;              /* log to syslog (facility mail) too */
    bool dane; /* NOTFOUND when DANE applies to the MX hosts (dane.h) */
    struct sm_zone zones[SM_ZONES_MAX]; /* zones[0] is the default zone */
    size_t zone_count;
};

/* Defaults: listen 127.0.0.1:8461, deadline 4000 ms, 4 workers, answers
 * re-checked after 60 s, 1024 connections, every 300 s the cache saved and
 * the policies in use that expire within 3600 s refreshed, the default zone
 * with servername=hostname and without strict testing. */
void sm_config_init(struct sm_config *c);

/*
 * Set a global option (`listen`, `cache`, `resolver`, `ca-file`, `redis`,
 * `https-port`, `fetch-timeout-ms`, `deadline-ms`, `workers`,
 * `answer-ttl-s`, `max-connections`, `refresh-interval-s`,
 * `refresh-expiring-s`, `admin-dump-max`, `socket-mode` (octal), `reuse-port`,
 * `syslog` and `dane` (yes/no), `user`, `socket-owner`, `socket-group`) or, with zone
 * not NULL, a zone option
 * (`strict-testing`, `servername`, `postfix-tlsrpt`, `temp-on-failure`:
 * yes/no/true/false/1/0).
 * @return 0, or -1 with a message in err (SM_ERR_MAX bytes)
 */
int sm_config_set(struct sm_config *c, struct sm_zone *zone, const char *name,
                  const char *value, char *err);

/* Whether name is an option sm_config_set() takes globally. */
bool sm_config_is_option(const char *name);

/*
 * Parse a config file's text: `name = value` lines, `#` comments, blank
 * lines and `[zone NAME]` sections whose lines set that zone (`[zone
 * default]` is the default zone); lines before any section are global.
 * @return 0, or -1 with "line N: why" in err
 */
int sm_config_parse(struct sm_config *c, const char *text, size_t len,
                    char *err);

/* The zone for a socketmap NAME: the zone of that name, else the default
 * zone. */
const struct sm_zone *sm_config_zone(const struct sm_config *c,
                                     const char *name, size_t len);

#endif
