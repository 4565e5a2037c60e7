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

#endif
