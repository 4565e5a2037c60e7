/* mtasts-query --probe: STARTTLS probes of a domain's MX hosts.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MTASTS_EXAMPLES_PROBE_H
#define MTASTS_EXAMPLES_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mtasts/mtasts.h>

#include "json.h"
#include "mxdns.h"

struct probe_opts {
    uint16_t smtp_port; /* 0: 25 */
};

struct probe_row {
    char host[256];
    int status;             /* mtasts_probe_mx()'s */
    mtasts_mx_check *check; /* NULL when the probe could not start */
    bool have_verdict;
    mtasts_verdict verdict;
};

struct probe_set {
    size_t n;
    bool implicit;      /* no MX record: the domain itself */
    char mx_error[256]; /* why there is no MX to probe, or "" */
    struct probe_row row[MX_LIST_MAX];
};

/* Probe the mx_count hosts of mx, or when there are none the domain's MX
 * hosts from DNS, under policy p (NULL: no policy). 0, or -1 when memory
 * ran out (free the set in both cases). */
int probe_run(mtasts_ctx *ctx, const char *domain, const mtasts_policy *p,
              const char *const *mx, size_t mx_count, const char *resolver,
              const struct probe_opts *po, struct probe_set *out);

/* Whether some MX would be refused (exit status 3). */
bool probe_refused(const struct probe_set *s);

/* The "mx" member (and "mx_error") of the JSON object being written. */
void probe_print_json(struct json *j, const struct probe_set *s);
void probe_print_text(const struct probe_set *s);
void probe_free(struct probe_set *s);

#endif
