/* mtasts-query --tlsrpt DOMAIN (the domain's _smtp._tls record) and
 * --probe --report FILE (the RFC 8460 report of what the run saw).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MTASTS_EXAMPLES_REPORT_H
#define MTASTS_EXAMPLES_REPORT_H

#include <stdbool.h>

#include <mtasts/mtasts.h>

#include "probe.h"

/* Print the TLSRPT record of domain; the exit status: 0 a valid record,
 * 1 none, 2 invalid or the DNS query failed, 71 out of memory. */
int tlsrpt_run(const char *domain, const char *resolver, bool json);

/* Record the lookup and every probe with a TLS outcome, and write the
 * day's report for the lookup's domain to path. 0, or an exit status
 * (66 cannot write, 71 out of memory, 64 bad org or contact). */
int report_write(mtasts_ctx *ctx, const mtasts_result *r,
                 const struct probe_set *ps, const char *path, const char *org,
                 const char *contact);

#endif
