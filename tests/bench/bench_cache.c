/*
 * Policy cache at scale (docs/cache.md): fill the cache with 1,000,000
 * synthetic domains, each with its own one-mx policy (mx: mail.<domain>)
 * fetched through hooks that answer from memory, then print
 *  - the memory per entry, from the growth of the process's RSS (entry,
 *    policy object and its text, hash buckets, allocator overhead);
 *  - cached lookups per second on 1 and 2 threads, random domains, over
 *    all of them (memory latency bound) and over a hot set of 20,000 of
 *    them (what fits the CPU caches: the cost of the code);
 *  - the time to save the million to a file and to load it into a new
 *    context (every policy parsed again), and the file's size.
 * MTASTS_BENCH_DOMAINS changes the count. Figures only; it fails only on
 * a wrong result. Public API only, linked with the shared library.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mtasts/mtasts.h>

#include "bench.h"

#define NAME_MAX_LEN 40
#define HOT_SET 20000 /* domains of the hot-set lookups */

static size_t ndomains = 1000000;
static char *names; /* ndomains names of NAME_MAX_LEN bytes */

static const char *
name_of(size_t i)
{
    return names + i * NAME_MAX_LEN;
}

static int
dns_hook(mtasts_req *req, const char *name, void *user)
{
    (void)name;
    (void)user;
    static const char rec[] = "v=STSv1; id=20260101T000000";
    mtasts_dns_add_txt(req, rec, sizeof(rec) - 1);
    return mtasts_dns_done(req, MTASTS_DNS_ANSWER, NULL);
}

static int
https_hook(mtasts_req *req, const char *host, uint16_t port, const char *path,
           void *user)
{
    (void)port;
    (void)path;
    (void)user;
    char body[160];
    int n = snprintf(body, sizeof(body),
                     "version: STSv1\nmode: enforce\nmx: mail.%s\n"
                     "max_age: 604800\n",
                     host + strlen("mta-sts."));
    mtasts_https_response(req, 200, "text/plain");
    mtasts_https_body(req, body, (size_t)n);
    return mtasts_https_done(req, MTASTS_OK, NULL);
}

static mtasts_ctx *
make_ctx(void)
{
    mtasts_ctx *ctx = NULL;
    if (mtasts_ctx_new(&ctx) != MTASTS_OK ||
        mtasts_ctx_set_dns_txt_hook(ctx, dns_hook, NULL) != MTASTS_OK ||
        mtasts_ctx_set_https_get_hook(ctx, https_hook, NULL) != MTASTS_OK ||
        mtasts_ctx_set_cache_capacity(ctx, ndomains + ndomains / 8) !=
            MTASTS_OK ||
        mtasts_ctx_set_txt_check_interval_s(ctx, 86400) != MTASTS_OK) {
        bench_fail("context set-up");
    }
    return ctx;
}

static long
rss_bytes(void)
{
    FILE *fp = fopen("/proc/self/statm", "r");
    long size = 0, resident = 0;
    if (fp == NULL || fscanf(fp, "%ld %ld", &size, &resident) != 2) {
        bench_fail("/proc/self/statm");
    }
    fclose(fp);
    return resident * sysconf(_SC_PAGESIZE);
}

static void
lookup_or_die(mtasts_ctx *ctx, const char *domain)
{
    mtasts_policy *p = NULL;
    if (mtasts_lookup(ctx, domain, &p) != MTASTS_OK ||
        mtasts_policy_mx_count(p) != 1) {
        bench_fail(domain);
    }
    bench_sink += mtasts_policy_max_age(p);
    mtasts_policy_unref(p);
}

struct worker {
    mtasts_ctx *ctx;
    size_t iterations;
    size_t span; /* domains 0 to span - 1 */
    unsigned seed;
};

static void *
worker_run(void *arg)
{
    struct worker *w = arg;
    for (size_t i = 0; i < w->iterations; i++) {
        lookup_or_die(w->ctx, name_of((size_t)rand_r(&w->seed) % w->span));
    }
    return NULL;
}

static void
bench_cached(mtasts_ctx *ctx, int nthreads, size_t per_thread, size_t span)
{
    pthread_t tid[2];
    struct worker w[2];
    double start = bench_now_ns();
    for (int t = 0; t < nthreads; t++) {
        w[t] = (struct worker){ctx, per_thread, span, 7u + (unsigned)t};
        if (pthread_create(&tid[t], NULL, worker_run, &w[t]) != 0) {
            bench_fail("pthread_create");
        }
    }
    for (int t = 0; t < nthreads; t++) {
        pthread_join(tid[t], NULL);
    }
    double secs = (bench_now_ns() - start) / 1e9;
    size_t total = per_thread * (size_t)nthreads;
    printf("cache_lookup_%s_%dthread%s: %.1f ns/op, %.0f lookups/s, "
           "%.0f lookups/s per thread (n=%zu, %zu of %zu domains)\n",
           span == ndomains ? "cached" : "hot", nthreads,
           nthreads == 1 ? "" : "s", secs * 1e9 * nthreads / (double)total,
           (double)total / secs, (double)total / secs / nthreads, total, span,
           ndomains);
    fflush(stdout);
}

static size_t
cached_count(mtasts_ctx *ctx)
{
    mtasts_cache_snapshot *s = NULL;
    if (mtasts_cache_snapshot_new(ctx, &s) != MTASTS_OK) {
        bench_fail("snapshot");
    }
    size_t n = mtasts_cache_snapshot_count(s);
    mtasts_cache_snapshot_free(s);
    return n;
}

int
main(void)
{
    const char *env = getenv("MTASTS_BENCH_DOMAINS");
    if (env != NULL && atol(env) > 0) {
        ndomains = (size_t)atol(env);
    }
    names = malloc(ndomains * NAME_MAX_LEN);
    if (names == NULL) {
        bench_fail("malloc");
    }
    for (size_t i = 0; i < ndomains; i++) {
        snprintf(names + i * NAME_MAX_LEN, NAME_MAX_LEN, "d%zu.example.com",
                 i);
    }
    mtasts_ctx *ctx = make_ctx();
    long before = rss_bytes();
    double start = bench_now_ns();
    for (size_t i = 0; i < ndomains; i++) {
        lookup_or_die(ctx, name_of(i));
    }
    double fill_ns = bench_now_ns() - start;
    long after = rss_bytes();
    if (cached_count(ctx) != ndomains) {
        bench_fail("not every domain is cached");
    }
    printf("cache_fill: %.1f ns/op (n=%zu)\n", fill_ns / (double)ndomains,
           ndomains);
    printf("cache_memory_per_entry: %.0f bytes/entry (RSS +%.1f MB for %zu "
           "one-mx policies)\n",
           (double)(after - before) / (double)ndomains,
           (double)(after - before) / 1e6, ndomains);
    fflush(stdout);

    bench_cached(ctx, 1, 4000000, ndomains);
    bench_cached(ctx, 2, 4000000, ndomains);
    if (ndomains > HOT_SET) {
        bench_cached(ctx, 1, 4000000, HOT_SET);
        bench_cached(ctx, 2, 4000000, HOT_SET);
    }

    char dir[] = "/tmp/bench_cache.XXXXXX";
    if (mkdtemp(dir) == NULL) {
        bench_fail("mkdtemp");
    }
    char path[64];
    snprintf(path, sizeof(path), "%s/cache", dir);
    start = bench_now_ns();
    if (mtasts_cache_save(ctx, path) != MTASTS_OK) {
        bench_fail("save");
    }
    double save_ns = bench_now_ns() - start;
    struct stat st;
    if (stat(path, &st) != 0) {
        bench_fail("stat");
    }
    printf("cache_save: %.1f ns/op (%.3f s for %zu entries, %.1f MB file)\n",
           save_ns / (double)ndomains, save_ns / 1e9, ndomains,
           (double)st.st_size / 1e6);
    mtasts_ctx_free(ctx);

    ctx = make_ctx();
    start = bench_now_ns();
    if (mtasts_cache_load(ctx, path, NULL) != MTASTS_OK) {
        bench_fail("load");
    }
    double load_ns = bench_now_ns() - start;
    if (cached_count(ctx) != ndomains) {
        bench_fail("not every entry loaded");
    }
    printf("cache_load: %.1f ns/op (%.3f s for %zu entries)\n",
           load_ns / (double)ndomains, load_ns / 1e9, ndomains);
    mtasts_ctx_free(ctx);
    unlink(path);
    rmdir(dir);
    free(names);
    return 0;
}
