/*
 * The daemon's log: one line per record to stderr and, with --syslog, to
 * syslog (facility mail). Writing never blocks the event loop: a line
 * that stderr cannot take at once (a full pipe, a failing write) is
 * dropped and counted, and the next line that gets through says how many
 * went before it, so that the loss itself is never lost.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef SOCKETMAP_LOG_H
#define SOCKETMAP_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <syslog.h>

/* The longest line written (PIPE_BUF: a write to a pipe is whole). */
#define SM_LOG_LINE_MAX 4096

/* Open syslog (ident, LOG_PID, facility mail) when use_syslog. */
void sm_log_open(const char *ident, bool use_syslog);

/* SIGHUP: close and reopen syslog. */
void sm_log_reopen(void);

/* Log a record at priority prio (LOG_ERR, LOG_WARNING, LOG_INFO, ...).
 * Threads: any thread. */
void sm_log(int prio, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Lines dropped from stderr and not yet reported. */
uint64_t sm_log_dropped(void);

/*
 * Format one stderr line: "IDENT: [N earlier log lines dropped] MSG\n"
 * (the bracket only when dropped > 0), cut to fit cap bytes with the
 * newline kept. Network-free.
 * @return the length (without a NUL)
 */
size_t sm_log_format(char *out, size_t cap, const char *ident, uint64_t dropped,
                     const char *msg);

#endif
