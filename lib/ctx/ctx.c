/* The context: configuration, the engine and its cache, the default I/O;
 * the public lookup calls and results. */
#include <pthread.h>
#include <string.h>

#include "ctx/ctx.h"
#include "util/alloc.h"

#define TIMEOUT_MAX_MS 600000u /* ten minutes */
#define SECONDS_MAX 86400u     /* one day */
#define DEFAULT_CONNECT_MS 10000u
#define DEFAULT_FETCH_MS 60000u /* RFC 8461 §3.3: one minute */
#define DEFAULT_DNS_MS 5000u

int
mtasts_ctx_new(mtasts_ctx **out)
{
    if (out == NULL) {
        return MTASTS_ERR_INVALID;
    }
    *out = NULL;
    mtasts_ctx *ctx = mtasts__calloc(1, sizeof(*ctx));
    if (ctx == NULL) {
        return MTASTS_ERR_NOMEM;
    }
    int rc = mtasts__engine_init(&ctx->eng);
    if (rc != MTASTS_OK) {
        mtasts__free(ctx);
        return rc;
    }
    rc = mtasts__io_new(&ctx->io);
    if (rc == MTASTS_OK) {
        rc = mtasts__report_new(&ctx->report);
        if (rc != MTASTS_OK) {
            mtasts__io_free(ctx->io);
        }
    }
    if (rc != MTASTS_OK) {
        mtasts__engine_destroy(&ctx->eng);
        mtasts__free(ctx);
        return rc;
    }
    ctx->connect_ms = DEFAULT_CONNECT_MS;
    ctx->fetch_ms = DEFAULT_FETCH_MS;
    ctx->dns_ms = DEFAULT_DNS_MS;
    ctx->smtp_ms = MTASTS__DEFAULT_SMTP_MS;
    memcpy(ctx->helo, MTASTS__DEFAULT_HELO, sizeof(MTASTS__DEFAULT_HELO));
    mtasts__io_set_timeouts(ctx->io, ctx->connect_ms, ctx->fetch_ms,
                            ctx->dns_ms);
    mtasts__io_set_body_max(ctx->io, ctx->eng.body_max);
    /* The default I/O goes in through the same setters a user calls. */
    mtasts_ctx_set_dns_txt_hook(ctx, NULL, NULL);
    mtasts_ctx_set_https_get_hook(ctx, NULL, NULL);
    mtasts_ctx_set_https_post_hook(ctx, NULL, NULL);
    ctx->rpt_verify = true;
    *out = ctx;
    return MTASTS_OK;
}

void
mtasts_ctx_free(mtasts_ctx *ctx)
{
    if (ctx == NULL) {
        return;
    }
    mtasts__engine_destroy(&ctx->eng);
    mtasts__io_free(ctx->io);
    mtasts__report_free(ctx->report);
    mtasts__free(ctx);
}

static bool
timeout_ok(uint32_t ms)
{
    return ms >= 1 && ms <= TIMEOUT_MAX_MS;
}

static void
push_timeouts(mtasts_ctx *ctx)
{
    mtasts__io_set_timeouts(ctx->io, ctx->connect_ms, ctx->fetch_ms,
                            ctx->dns_ms);
}

int
mtasts_ctx_set_connect_timeout_ms(mtasts_ctx *ctx, uint32_t ms)
{
    if (ctx == NULL || !timeout_ok(ms)) {
        return MTASTS_ERR_INVALID;
    }
    ctx->connect_ms = ms;
    push_timeouts(ctx);
    return MTASTS_OK;
}

int
mtasts_ctx_set_fetch_timeout_ms(mtasts_ctx *ctx, uint32_t ms)
{
    if (ctx == NULL || !timeout_ok(ms)) {
        return MTASTS_ERR_INVALID;
    }
    ctx->fetch_ms = ms;
    push_timeouts(ctx);
    return MTASTS_OK;
}

int
mtasts_ctx_set_dns_timeout_ms(mtasts_ctx *ctx, uint32_t ms)
{
    if (ctx == NULL || !timeout_ok(ms)) {
        return MTASTS_ERR_INVALID;
    }
    ctx->dns_ms = ms;
    push_timeouts(ctx);
    return MTASTS_OK;
}

int
mtasts_ctx_set_smtp_timeout_ms(mtasts_ctx *ctx, uint32_t ms)
{
    if (ctx == NULL || !timeout_ok(ms)) {
        return MTASTS_ERR_INVALID;
    }
    ctx->smtp_ms = ms;
    return MTASTS_OK;
}

int
mtasts_ctx_set_helo_name(mtasts_ctx *ctx, const char *name)
{
    if (ctx == NULL || name == NULL) {
        return MTASTS_ERR_INVALID;
    }
    char norm[MTASTS_DOMAIN_BUFSIZE];
    int rc = mtasts_domain_normalize(name, strlen(name), norm, NULL);
    if (rc != MTASTS_OK) {
        return rc;
    }
    memcpy(ctx->helo, norm, sizeof(norm));
    return MTASTS_OK;
}

int
mtasts_ctx_set_body_max(mtasts_ctx *ctx, size_t bytes)
{
    if (ctx == NULL || bytes == 0 || bytes > MTASTS_POLICY_MAX) {
        return MTASTS_ERR_INVALID;
    }
    ctx->eng.body_max = bytes;
    mtasts__io_set_body_max(ctx->io, bytes);
    return MTASTS_OK;
}

int
mtasts_ctx_set_ca_file(mtasts_ctx *ctx, const char *path)
{
    if (ctx == NULL) {
        return MTASTS_ERR_INVALID;
    }
    return mtasts__io_set_ca(ctx->io, path, NULL);
}

int
mtasts_ctx_set_ca_dir(mtasts_ctx *ctx, const char *dir)
{
    if (ctx == NULL) {
        return MTASTS_ERR_INVALID;
    }
    return mtasts__io_set_ca(ctx->io, NULL, dir);
}

int
mtasts_ctx_set_resolver(mtasts_ctx *ctx, const char *addr)
{
    if (ctx == NULL) {
        return MTASTS_ERR_INVALID;
    }
    return mtasts__io_set_resolver(ctx->io, addr);
}

int
mtasts_ctx_set_cache_capacity(mtasts_ctx *ctx, size_t entries)
{
    if (ctx == NULL || entries == 0) {
        return MTASTS_ERR_INVALID;
    }
    mtasts__cache_set_capacity(&ctx->eng.cache, entries);
    return MTASTS_OK;
}

int
mtasts_ctx_set_fetch_backoff_s(mtasts_ctx *ctx, uint32_t seconds)
{
    if (ctx == NULL || seconds > SECONDS_MAX) {
        return MTASTS_ERR_INVALID;
    }
    ctx->eng.backoff_s = seconds;
    return MTASTS_OK;
}

int
mtasts_ctx_set_no_policy_ttl_s(mtasts_ctx *ctx, uint32_t seconds)
{
    if (ctx == NULL || seconds > SECONDS_MAX) {
        return MTASTS_ERR_INVALID;
    }
    ctx->eng.no_policy_ttl_s = seconds;
    return MTASTS_OK;
}

int
mtasts_ctx_set_txt_check_interval_s(mtasts_ctx *ctx, uint32_t seconds)
{
    if (ctx == NULL || seconds > SECONDS_MAX) {
        return MTASTS_ERR_INVALID;
    }
    ctx->eng.txt_check_s = seconds;
    return MTASTS_OK;
}

int
mtasts_ctx_set_clock(mtasts_ctx *ctx, mtasts_clock_fn *fn, void *user)
{
    if (ctx == NULL) {
        return MTASTS_ERR_INVALID;
    }
    ctx->eng.clock = fn;
    ctx->eng.clock_user = fn != NULL ? user : NULL;
    return MTASTS_OK;
}

int
mtasts_ctx_set_https_port(mtasts_ctx *ctx, uint16_t port)
{
    if (ctx == NULL || port == 0) {
        return MTASTS_ERR_INVALID;
    }
    ctx->eng.https_port = port;
    return MTASTS_OK;
}

int
mtasts_ctx_set_dns_txt_hook(mtasts_ctx *ctx, mtasts_dns_txt_fn *fn, void *user)
{
    if (ctx == NULL) {
        return MTASTS_ERR_INVALID;
    }
    if (fn == NULL) {
        fn = mtasts__io_dns_txt;
        user = ctx->io;
    }
    ctx->eng.dns_fn = fn;
    ctx->eng.dns_user = user;
    return MTASTS_OK;
}

int
mtasts_ctx_set_https_get_hook(mtasts_ctx *ctx, mtasts_https_get_fn *fn,
                              void *user)
{
    if (ctx == NULL) {
        return MTASTS_ERR_INVALID;
    }
    if (fn == NULL) {
        fn = mtasts__io_https_get;
        user = ctx->io;
    }
    ctx->eng.https_fn = fn;
    ctx->eng.https_user = user;
    return MTASTS_OK;
}

/* ---- lookups ---------------------------------------------------------- */

int
mtasts_lookup_async(mtasts_ctx *ctx, const char *domain, mtasts_lookup_fn *cb,
                    void *user)
{
    if (ctx == NULL || domain == NULL || cb == NULL) {
        return MTASTS_ERR_INVALID;
    }
    return mtasts__engine_lookup(&ctx->eng, domain, cb, user);
}

/* The blocking calls wait for the callback, which may run inline (the
 * default I/O, a cache hit) or later in another thread (user hooks). */
int
mtasts__latch_init(struct mtasts__latch *l)
{
    l->done = false;
    if (pthread_mutex_init(&l->lock, NULL) != 0) {
        return MTASTS_ERR_NOMEM;
    }
    if (pthread_cond_init(&l->cond, NULL) != 0) {
        pthread_mutex_destroy(&l->lock);
        return MTASTS_ERR_NOMEM;
    }
    return MTASTS_OK;
}

void
mtasts__latch_open(struct mtasts__latch *l)
{
    l->done = true;
    pthread_cond_signal(&l->cond);
    pthread_mutex_unlock(&l->lock);
}

void
mtasts__latch_wait(struct mtasts__latch *l, bool started)
{
    if (started) {
        pthread_mutex_lock(&l->lock);
        while (!l->done) {
            pthread_cond_wait(&l->cond, &l->lock);
        }
        pthread_mutex_unlock(&l->lock);
    }
    pthread_cond_destroy(&l->cond);
    pthread_mutex_destroy(&l->lock);
}

struct waiting {
    struct mtasts__latch latch;
    bool want_result;
    int status;
    mtasts_policy *policy; /* one reference */
    mtasts_result *result; /* a copy, when wanted */
};

static void
wake(const mtasts_result *r, void *user)
{
    struct waiting *w = user;
    mtasts_result *copy = NULL;
    int status = r->status;
    if (w->want_result) {
        copy = mtasts__alloc(sizeof(*copy));
        if (copy != NULL) {
            *copy = *r;
            mtasts_policy_ref(copy->policy);
        } else {
            status = MTASTS_ERR_NOMEM;
        }
    }
    pthread_mutex_lock(&w->latch.lock);
    w->status = status;
    w->policy = status == MTASTS_OK ? mtasts_policy_ref(r->policy) : NULL;
    w->result = copy;
    mtasts__latch_open(&w->latch);
}

static int
wait_lookup(mtasts_ctx *ctx, const char *domain, bool want_result,
            struct waiting *w, mtasts__start_fn *start)
{
    memset(w, 0, sizeof(*w));
    w->want_result = want_result;
    int rc = mtasts__latch_init(&w->latch);
    if (rc != MTASTS_OK) {
        return rc;
    }
    rc = start(&ctx->eng, domain, wake, w);
    mtasts__latch_wait(&w->latch, rc == MTASTS_OK);
    return rc == MTASTS_OK ? w->status : rc;
}

int
mtasts_lookup(mtasts_ctx *ctx, const char *domain, mtasts_policy **out)
{
    if (out != NULL) {
        *out = NULL;
    }
    if (ctx == NULL || domain == NULL || out == NULL) {
        return MTASTS_ERR_INVALID;
    }
    int rc = mtasts__engine_lookup_cached(&ctx->eng, domain, out);
    if (rc != MTASTS_ERR_NO_POLICY) {
        return rc; /* answered from the cache, or a bad domain */
    }
    struct waiting w;
    rc = wait_lookup(ctx, domain, false, &w, mtasts__engine_lookup);
    *out = w.policy;
    return rc;
}

int
mtasts__ctx_wait_result(mtasts_ctx *ctx, const char *domain,
                        mtasts__start_fn *start, mtasts_result **out)
{
    if (out != NULL) {
        *out = NULL;
    }
    if (ctx == NULL || domain == NULL || out == NULL) {
        return MTASTS_ERR_INVALID;
    }
    struct waiting w;
    int rc = wait_lookup(ctx, domain, true, &w, start);
    mtasts_policy_unref(w.policy);
    *out = w.result;
    return rc;
}

int
mtasts_lookup_result(mtasts_ctx *ctx, const char *domain, mtasts_result **out)
{
    return mtasts__ctx_wait_result(ctx, domain, mtasts__engine_lookup, out);
}

/* ---- results ---------------------------------------------------------- */

int
mtasts_result_status(const mtasts_result *r)
{
    return r != NULL ? r->status : MTASTS_ERR_INVALID;
}

mtasts_policy *
mtasts_result_policy(const mtasts_result *r)
{
    return r != NULL ? r->policy : NULL;
}

const char *
mtasts_result_domain(const mtasts_result *r)
{
    return r != NULL ? r->domain : "";
}

const char *
mtasts_result_txt_id(const mtasts_result *r)
{
    return r != NULL ? r->id : "";
}

mtasts_rpt_result
mtasts_result_failure(const mtasts_result *r)
{
    return r != NULL ? r->failure : MTASTS_RPT_NONE;
}

const char *
mtasts_result_reason(const mtasts_result *r)
{
    return r != NULL ? r->reason : "";
}

const char *
mtasts_result_reason_code(const mtasts_result *r)
{
    return r != NULL ? r->code : "";
}

bool
mtasts_result_from_cache(const mtasts_result *r)
{
    return r != NULL && r->from_cache;
}

int64_t
mtasts_result_expires(const mtasts_result *r)
{
    return r != NULL && r->policy != NULL ? r->expires : 0;
}

void
mtasts_result_free(mtasts_result *r)
{
    if (r != NULL) {
        mtasts_policy_unref(r->policy);
        mtasts__free(r);
    }
}
