/* Shared by the Check programs of tests/integration: the variables run.py
 * exports for the world (MTASTS_WORLD_*), and a monotonic clock. */
#ifndef MTASTS_TESTS_WORLD_ENV_H
#define MTASTS_TESTS_WORLD_ENV_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* A world variable; without it the program skips (exit 77): it runs only
 * through tests/integration/run.py. */
static inline const char *
world_env(const char *prog, const char *name)
{
    const char *v = getenv(name);
    if (v == NULL || *v == '\0') {
        fprintf(stderr,
                "%s: %s is not set; run me through "
                "tests/integration/run.py\n",
                prog, name);
        exit(77); /* meson: skipped */
    }
    return v;
}

/* A world variable holding a TCP or UDP port; anything else fails. */
static inline uint16_t
world_port(const char *prog, const char *name)
{
    long port = strtol(world_env(prog, name), NULL, 10);
    if (port <= 0 || port > 65535) {
        fprintf(stderr, "%s: bad %s\n", prog, name);
        exit(EXIT_FAILURE);
    }
    return (uint16_t)port;
}

static inline long
world_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
