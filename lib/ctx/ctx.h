/* The context's layout, shared by the files of lib/ctx: configuration,
 * the engine and its cache, the default I/O, the TLS report store. */
#ifndef MTASTS_CTX_CTX_H
#define MTASTS_CTX_CTX_H

#include <pthread.h>
#include <stdbool.h>
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
    mtasts_https_post_fn *post_fn;    /* mtasts_rpt_post() */
    void *post_user;
    bool rpt_verify; /* mtasts_ctx_set_rpt_https_verify(), default true */
};

/* An engine call that starts a lookup (mtasts__engine_lookup,
 * mtasts__engine_refresh). */
typedef int mtasts__start_fn(struct mtasts__engine *eng, const char *domain,
                             mtasts_lookup_fn *cb, void *user);

/* Start one and wait for its result, as mtasts_lookup_result() does. */
int mtasts__ctx_wait_result(mtasts_ctx *ctx, const char *domain,
                            mtasts__start_fn *start, mtasts_result **out);

/* A blocking call waits on a latch for a callback that may run inline or
 * in another thread. The callback takes latch.lock, stores its outcome
 * and calls mtasts__latch_open(), which wakes the waiter and unlocks. */
struct mtasts__latch {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
};

/* MTASTS_OK or MTASTS_ERR_NOMEM (nothing to destroy then). */
int mtasts__latch_init(struct mtasts__latch *l);
/* Lock held: mark done, wake the waiter, unlock. */
void mtasts__latch_open(struct mtasts__latch *l);
/* When started, wait until opened; then destroy the latch either way. */
void mtasts__latch_wait(struct mtasts__latch *l, bool started);

/* The report of a domain's day gzip'ed (mtasts_rpt_gzip() without the
 * name), with the normalised domain and the submitter; the statuses of
 * mtasts_rpt_json(). */
int mtasts__ctx_report_gz(mtasts_ctx *ctx, const char *policy_domain,
                          int64_t day, const char *org_name,
                          const char *contact_info, unsigned char **gz,
                          size_t *gz_len, char domain[MTASTS_DOMAIN_BUFSIZE],
                          char submitter[MTASTS_DOMAIN_BUFSIZE]);

#endif
