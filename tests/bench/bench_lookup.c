/*
 * Lookup benchmarks: cached lookups (the hot path of every delivery), in
 * one thread and several, and the engine's cold path (TXT query, fetch,
 * parse, store) with hooks that answer from memory, so the figure is the
 * library's own cost without the network. Cold lookups over real DNS and
 * HTTPS are measured against the loopback world in tests/integration.
 *
 * Prints figures; fails only when a lookup gives a wrong result.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mtasts/mtasts.h>

#include "bench.h"

#define THREADS_MAX 8
#define DOMAINS 1000

static const char policy_text[] = "version: STSv1\nmode: enforce\n"
                                  "mx: mail.example.com\nmx: *.example.net\n"
                                  "max_age: 604800\n";

static int
dns_hook(mtasts_req *req, const char *name, void *user)
{
    (void)name;
    (void)user;
    static const char rec[] = "v=STSv1; id=20240101T000000;";
    mtasts_dns_add_txt(req, rec, sizeof(rec) - 1);
    return mtasts_dns_done(req, MTASTS_DNS_ANSWER, NULL);
}

static int
https_hook(mtasts_req *req, const char *host, uint16_t port, const char *path,
           void *user)
{
    (void)host;
    (void)port;
    (void)path;
    (void)user;
    mtasts_https_response(req, 200, "text/plain");
    mtasts_https_body(req, policy_text, sizeof(policy_text) - 1);
    return mtasts_https_done(req, MTASTS_OK, NULL);
}

static mtasts_ctx *
make_ctx(void)
{
    mtasts_ctx *ctx = NULL;
    if (mtasts_ctx_new(&ctx) != MTASTS_OK ||
        mtasts_ctx_set_dns_txt_hook(ctx, dns_hook, NULL) != MTASTS_OK ||
        mtasts_ctx_set_https_get_hook(ctx, https_hook, NULL) != MTASTS_OK ||
        mtasts_ctx_set_cache_capacity(ctx, 2 * DOMAINS) != MTASTS_OK) {
        fprintf(stderr, "bench_lookup: cannot set up the context\n");
        exit(1);
    }
    return ctx;
}

static void
lookup_or_die(mtasts_ctx *ctx, const char *domain)
{
    mtasts_policy *p = NULL;
    int rc = mtasts_lookup(ctx, domain, &p);
    if (rc != MTASTS_OK || mtasts_policy_mode(p) != MTASTS_MODE_ENFORCE) {
        fprintf(stderr, "bench_lookup: %s: %s\n", domain,
                mtasts_strerror(rc));
        abort();
    }
    mtasts_policy_unref(p);
}

struct worker {
    mtasts_ctx *ctx;
    size_t iterations;
    size_t offset;
};

static char domains[DOMAINS][32];

static void *
worker_run(void *arg)
{
    struct worker *w = arg;
    for (size_t i = 0; i < w->iterations; i++) {
        lookup_or_die(w->ctx, domains[(i + w->offset) % DOMAINS]);
    }
    return NULL;
}

/* Cached lookups of DOMAINS warm domains in n threads; ns per lookup per
 * thread and lookups per second in total. */
static void
bench_cached(mtasts_ctx *ctx, int nthreads, size_t per_thread)
{
    pthread_t tid[THREADS_MAX];
    struct worker w[THREADS_MAX];
    double start = (bench_now_ns() / 1e9);
    for (int t = 0; t < nthreads; t++) {
        w[t].ctx = ctx;
        w[t].iterations = per_thread;
        w[t].offset = (size_t)t * 97;
        if (pthread_create(&tid[t], NULL, worker_run, &w[t]) != 0) {
            fprintf(stderr, "bench_lookup: pthread_create failed\n");
            exit(1);
        }
    }
    for (int t = 0; t < nthreads; t++) {
        pthread_join(tid[t], NULL);
    }
    double secs = (bench_now_ns() / 1e9) - start;
    size_t total = per_thread * (size_t)nthreads;
    printf("lookup_cached_%dthread%s: %.1f ns/op, %.0f lookups/s "
           "(n=%zu)\n",
           nthreads, nthreads == 1 ? "" : "s",
           secs * 1e9 * nthreads / (double)total, (double)total / secs,
           total);
}

int
main(void)
{
    for (size_t i = 0; i < DOMAINS; i++) {
        snprintf(domains[i], sizeof(domains[i]), "d%zu.example.org", i);
    }

    /* Cold: every lookup discovers a new domain through the hooks. */
    size_t cold = 20000;
    mtasts_ctx *ctx = make_ctx();
    mtasts_ctx_set_cache_capacity(ctx, cold + 1);
    double start = (bench_now_ns() / 1e9);
    for (size_t i = 0; i < cold; i++) {
        char name[48];
        snprintf(name, sizeof(name), "cold%zu.example.org", i);
        lookup_or_die(ctx, name);
    }
    double secs = (bench_now_ns() / 1e9) - start;
    printf("lookup_cold_memory_hooks: %.1f ns/op (n=%zu)\n",
           secs * 1e9 / (double)cold, cold);
    mtasts_ctx_free(ctx);

    ctx = make_ctx();
    for (size_t i = 0; i < DOMAINS; i++) {
        lookup_or_die(ctx, domains[i]); /* warm the cache */
    }
    size_t n = 2000000;
    bench_cached(ctx, 1, n);
    bench_cached(ctx, 2, n);
    bench_cached(ctx, 4, n / 2);
    mtasts_ctx_free(ctx);
    return 0;
}
