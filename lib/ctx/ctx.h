/* The context's layout, shared by the files of lib/ctx: configuration,
 * the engine and its cache, the default I/O, the TLS report store. */
#ifndef MTASTS_CTX_CTX_H
#define MTASTS_CTX_CTX_H

#include <stdint.h>

#include "engine/engine.h"
#include "io/io.h"
#include "mtasts/mtasts.h"
#include "report/report.h"

#define MTASTS__DEFAULT_SMTP_MS 30000u /* per probe step */
#define MTASTS__DEFAULT_HELO "localhost"

struct mtasts_ctx {
    struct mtasts__engine eng;
    struct mtasts__io *io; /* the default I/O and its configuration */
    uint32_t connect_ms, fetch_ms, dns_ms;
    uint32_t smtp_ms;                 /* mtasts_probe_mx() per step */
    char helo[MTASTS_DOMAIN_BUFSIZE]; /* its EHLO name, normalised */
    struct mtasts__report *report;    /* TLS reporting results */
};

/* An engine call that starts a lookup (mtasts__engine_lookup,
 * mtasts__engine_refresh). */
typedef int mtasts__start_fn(struct mtasts__engine *eng, const char *domain,
                             mtasts_lookup_fn *cb, void *user);

/* Start one and wait for its result, as mtasts_lookup_result() does. */
int mtasts__ctx_wait_result(mtasts_ctx *ctx, const char *domain,
                            mtasts__start_fn *start, mtasts_result **out);

#endif
