/*
 * The daemon's log (log.h).
 *
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *log_ident = "";
static bool log_syslog;
static uint64_t log_dropped; /* under log_lock */

void
sm_log_open(const char *ident, bool use_syslog)
{
    log_ident = ident;
    log_syslog = use_syslog;
    if (use_syslog) {
        openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
    }
}

void
sm_log_reopen(void)
{
    if (log_syslog) {
        pthread_mutex_lock(&log_lock);
        closelog();
        openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
        pthread_mutex_unlock(&log_lock);
    }
}

size_t
sm_log_format(char *out, size_t cap, const char *ident, uint64_t dropped,
              const char *msg)
{
    if (cap < 2) {
        return 0;
    }
    int n = dropped > 0
                ? snprintf(out, cap,
                           "%s: [%" PRIu64 " earlier log lines dropped] %s",
                           ident, dropped, msg)
                : snprintf(out, cap, "%s: %s", ident, msg);
    size_t len = n < 0 ? 0 : (size_t)n;
    if (len > cap - 2) {
        len = cap - 2; /* cut, keeping room for the newline */
    }
    out[len++] = '\n';
    out[len] = '\0';
    return len;
}

/* Write the whole line now or not at all: true when written. */
static bool
write_now(int fd, const char *line, size_t len)
{
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int r;
    do {
        r = poll(&p, 1, 0);
    } while (r < 0 && errno == EINTR);
    if (r != 1 || (p.revents & POLLOUT) == 0) {
        return false; /* would block, or the fd is gone */
    }
    ssize_t w;
    do {
        w = write(fd, line, len);
    } while (w < 0 && errno == EINTR);
    return w == (ssize_t)len;
}

void
sm_log(int prio, const char *fmt, ...)
{
    char msg[SM_LOG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    char line[SM_LOG_LINE_MAX];
    pthread_mutex_lock(&log_lock);
    if (log_syslog) {
        syslog(prio, "%s", msg);
    }
    size_t len = sm_log_format(line, sizeof(line), log_ident, log_dropped, msg);
    if (write_now(STDERR_FILENO, line, len)) {
        log_dropped = 0;
    } else {
        log_dropped++;
    }
    pthread_mutex_unlock(&log_lock);
}

uint64_t
sm_log_dropped(void)
{
    pthread_mutex_lock(&log_lock);
    uint64_t n = log_dropped;
    pthread_mutex_unlock(&log_lock);
    return n;
}
