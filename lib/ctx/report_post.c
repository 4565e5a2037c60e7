/* Delivering a TLS report over HTTPS (RFC 8460 §5.4): the rua taken
 * apart, the gzip'ed report handed to the context's POST hook, and the
 * caller's thread waiting for the hook's done call, which may come inline
 * (the default I/O) or later from any thread (a user hook). */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ctx/ctx.h"
#include "engine/engine.h"
#include "io/io.h"
#include "parse/rua.h"
#include "util/alloc.h"

#define RPT_MEDIA_TYPE "application/tlsrpt+gzip" /* RFC 8460 §5.4, §6.5 */
#define WHY_MAX 512

int
mtasts_ctx_set_https_post_hook(mtasts_ctx *ctx, mtasts_https_post_fn *fn,
                               void *user)
{
    if (ctx == NULL) {
        return MTASTS_ERR_INVALID;
    }
    if (fn == NULL) {
        fn = mtasts__io_https_post;
        user = ctx->io;
    }
    ctx->post_fn = fn;
    ctx->post_user = user;
    return MTASTS_OK;
}

int
mtasts_ctx_set_rpt_https_verify(mtasts_ctx *ctx, bool verify)
{
    if (ctx == NULL) {
        return MTASTS_ERR_INVALID;
    }
    ctx->rpt_verify = verify;
    return MTASTS_OK;
}

/* The caller waits here for the hook's done call. */
struct post_wait {
    struct mtasts__latch latch;
    int status;
    bool have_head;
    unsigned http_status;
    char why[WHY_MAX];
};

static void
post_done(void *user, int status, bool have_head, unsigned http_status,
          const char *reason)
{
    struct post_wait *w = user;
    pthread_mutex_lock(&w->latch.lock);
    w->status = status;
    w->have_head = have_head;
    w->http_status = http_status;
    snprintf(w->why, sizeof(w->why), "%s", reason != NULL ? reason : "");
    mtasts__latch_open(&w->latch);
}

static void say(char *out, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
say(char *out, size_t size, const char *fmt, ...)
{
    if (out == NULL || size == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, size, fmt, ap);
    va_end(ap);
}

/* Hand the body to the hook and wait for done; w->status is the outcome. */
static int
post_run(mtasts_ctx *ctx, const struct mtasts__rua_https *u,
         const unsigned char *body, size_t len, struct post_wait *w)
{
    memset(w, 0, sizeof(*w));
    int rc = mtasts__latch_init(&w->latch);
    if (rc != MTASTS_OK) {
        return rc;
    }
    rc = MTASTS_ERR_NOMEM;
    mtasts_req *req = mtasts__req_post_new(post_done, w);
    if (req != NULL) {
        uint32_t flags = ctx->rpt_verify ? 0 : MTASTS_HTTPS_POST_NO_VERIFY;
        rc = ctx->post_fn(req, u->host, u->port, u->path, RPT_MEDIA_TYPE, body,
                          len, flags, ctx->post_user);
        if (rc != MTASTS_OK) {
            mtasts__req_post_free(req); /* done was not called */
            snprintf(w->why, sizeof(w->why), "POST to %s not started: %s",
                     u->host, mtasts_strerror(rc));
            rc = rc == MTASTS_ERR_NOMEM ? rc : MTASTS_ERR_FETCH;
        }
    }
    mtasts__latch_wait(&w->latch, rc == MTASTS_OK);
    return rc == MTASTS_OK ? w->status : rc;
}

/* What the finished POST means (RFC 8460 §5.4, CHECKLIST R8460-5.4-b). */
static int
post_judge(int rc, const struct post_wait *w, const char *host, char *out,
           size_t size)
{
    if (rc != MTASTS_OK) {
        say(out, size, "%s", w->why[0] != '\0' ? w->why : mtasts_strerror(rc));
        return rc;
    }
    if (!w->have_head) {
        say(out, size, "no HTTP response from %s", host);
        return MTASTS_ERR_FETCH;
    }
    unsigned s = w->http_status;
    if (s >= 200 && s <= 299) {
        return MTASTS_OK;
    }
    if (s >= 300 && s <= 399) {
        say(out, size, "HTTP status %u from %s: redirects are not followed", s,
            host);
    } else {
        say(out, size, "HTTP status %u from %s: report not accepted", s, host);
    }
    return MTASTS_ERR_PROTOCOL;
}

int
mtasts_rpt_post(mtasts_ctx *ctx, const char *policy_domain, int64_t day,
                const char *org_name, const char *contact_info, const char *rua,
                unsigned *http_status_out, char *reason_out, size_t reason_size)
{
    if (http_status_out != NULL) {
        *http_status_out = 0;
    }
    say(reason_out, reason_size, "%s", "");
    if (ctx == NULL || rua == NULL || (reason_out == NULL && reason_size > 0)) {
        return MTASTS_ERR_INVALID;
    }
    struct mtasts__rua_https u;
    size_t off = 0;
    const char *why = NULL;
    if (mtasts__rua_https_parse(rua, strlen(rua), &u, &off, &why) !=
        MTASTS_OK) {
        say(reason_out, reason_size, "rua, byte %zu: %s", off + 1, why);
        return MTASTS_ERR_SYNTAX;
    }
    char domain[MTASTS_DOMAIN_BUFSIZE], submitter[MTASTS_DOMAIN_BUFSIZE];
    unsigned char *gz = NULL;
    size_t gz_len = 0;
    int rc =
        mtasts__ctx_report_gz(ctx, policy_domain, day, org_name, contact_info,
                              &gz, &gz_len, domain, submitter);
    if (rc != MTASTS_OK) {
        say(reason_out, reason_size, "no report: %s", mtasts_strerror(rc));
        return rc;
    }
    struct post_wait *w = mtasts__alloc(sizeof(*w));
    if (w == NULL) {
        mtasts__free(gz);
        return MTASTS_ERR_NOMEM;
    }
    rc = post_run(ctx, &u, gz, gz_len, w);
    mtasts__free(gz);
    if (http_status_out != NULL && w->have_head) {
        *http_status_out = w->http_status;
    }
    rc = post_judge(rc, w, u.host, reason_out, reason_size);
    mtasts__free(w);
    return rc;
}
