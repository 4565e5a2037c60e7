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

/* Record the lookup and every probe with a TLS outcome. 0, or an exit
 * status (70 a bound, 71 out of memory). */
int report_record(mtasts_ctx *ctx, const mtasts_result *r,
                  const struct probe_set *ps);

/* Write the day's report for domain to path. 0, or an exit status (66
 * cannot write, 71 out of memory, 64 bad org or contact). */
int report_write(mtasts_ctx *ctx, const char *domain, const char *path,
                 const char *org, const char *contact);

/* POST the day's gzip'ed report for domain to each https: URI in turn
 * until one accepts it (RFC 8460 §5.4; R8460-3-g), with the certificate
 * check unless verify is false (§3). Prints the outcome of each to
 * standard error. 0 delivered (or nothing to report), 75 no endpoint
 * accepted it, 64 bad org or contact or every URI unusable, 71 out of
 * memory. */
int report_post(mtasts_ctx *ctx, const char *domain, const char *const *uris,
                size_t n, bool verify, const char *org, const char *contact);

#endif
