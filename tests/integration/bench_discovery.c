/*
 * Discovery benchmark against the loopback world (run by run.py, which
 * exports MTASTS_WORLD_*): cold lookups (TXT query, A/AAAA query, TCP
 * connect, TLS handshake, HTTP GET, parse, store) with the default I/O,
 * in one thread and two, and cached lookups, in one thread and two; then
 * where the time of one cold lookup goes.
 *
 * A cold lookup is made cold by a cache of one entry and two domains
 * looked up in turn: each lookup evicts the other domain. Each thread has
 * its own context, so single flight never merges two threads' lookups.
 *
 * The breakdown wraps the default hooks (the same functions the context
 * uses, called through the public hook interface) and times the address
 * lookup and the TCP connect on their own, with the library's internals:
 * this program links the library's objects, like the unit tests.
 *
 * Prints figures ("name: N ns/op (n=...)"); fails only when a lookup does
 * not find the policy the world serves, never on a timing. Without the
 * world's variables it exits 77 (skipped).
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "io/internal.h"
#include "io/io.h"
#include "mtasts/mtasts.h"

#define COLD_ITERS 300    /* per thread */
#define CACHED_ITERS 2000000
#define BREAKDOWN_ITERS 200
#define THREADS_MAX 2

static const char *resolver;
static const char *ca_file;
static uint16_t https_port;

/* Two pairs of domains of the world with valid policies, one per thread. */
static const char *const pairs[THREADS_MAX][2] = {
    {"valid.test", "testing.test"},
    {"split.test", "charset.test"},
};

static void
die(const char *what, int rc)
{
    fprintf(stderr, "bench_discovery: %s: %s\n", what, mtasts_strerror(rc));
    exit(1);
}

static double
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static mtasts_ctx *
make_ctx(size_t capacity)
{
    mtasts_ctx *ctx = NULL;
    int rc = mtasts_ctx_new(&ctx);
    if (rc != MTASTS_OK) {
        die("mtasts_ctx_new", rc);
    }
    if ((rc = mtasts_ctx_set_resolver(ctx, resolver)) != MTASTS_OK ||
        (rc = mtasts_ctx_set_ca_file(ctx, ca_file)) != MTASTS_OK ||
        (rc = mtasts_ctx_set_https_port(ctx, https_port)) != MTASTS_OK ||
        (rc = mtasts_ctx_set_cache_capacity(ctx, capacity)) != MTASTS_OK) {
        die("setting up the context", rc);
    }
    return ctx;
}

static void
lookup_ok(mtasts_ctx *ctx, const char *domain)
{
    mtasts_policy *p = NULL;
    int rc = mtasts_lookup(ctx, domain, &p);
    if (rc != MTASTS_OK || p == NULL) {
        fprintf(stderr, "bench_discovery: %s: ", domain);
        die("lookup", rc);
    }
    mtasts_policy_unref(p);
}

/* ---- cold and cached lookups, 1 or 2 threads ---------------------------- */

struct job {
    mtasts_ctx *ctx;
    const char *const *pair;
    size_t iters;
    double ns;
};

static void *
cold_job(void *arg)
{
    struct job *j = arg;
    double t0 = now_ns();
    for (size_t i = 0; i < j->iters; i++) {
        lookup_ok(j->ctx, j->pair[i & 1]);
    }
    j->ns = now_ns() - t0;
    return NULL;
}

static void *
cached_job(void *arg)
{
    struct job *j = arg;
    double t0 = now_ns();
    for (size_t i = 0; i < j->iters; i++) {
        lookup_ok(j->ctx, j->pair[0]);
    }
    j->ns = now_ns() - t0;
    return NULL;
}

static void
run_threads(const char *name, void *(*fn)(void *), struct job *jobs,
            size_t n)
{
    pthread_t tid[THREADS_MAX];
    double t0 = now_ns();
    for (size_t i = 0; i < n; i++) {
        if (pthread_create(&tid[i], NULL, fn, &jobs[i]) != 0) {
            fprintf(stderr, "bench_discovery: pthread_create failed\n");
            exit(1);
        }
    }
    for (size_t i = 0; i < n; i++) {
        pthread_join(tid[i], NULL);
    }
    double wall = now_ns() - t0;
    size_t total = 0;
    double per_op = 0;
    for (size_t i = 0; i < n; i++) {
        total += jobs[i].iters;
        per_op += jobs[i].ns / (double)jobs[i].iters;
    }
    per_op /= (double)n;
    printf("%s, %zu thread%s: %.1f ns/op (n=%zu), %.0f lookups/s in all\n",
           name, n, n == 1 ? "" : "s", per_op, total,
           (double)total * 1e9 / wall);
    fflush(stdout);
}

static void
bench_lookups(void)
{
    for (size_t n = 1; n <= THREADS_MAX; n++) {
        struct job jobs[THREADS_MAX];
        for (size_t i = 0; i < n; i++) {
            jobs[i] = (struct job){make_ctx(1), pairs[i], COLD_ITERS, 0};
        }
        run_threads("cold lookup (DNS, HTTPS, parse)", cold_job, jobs, n);
        for (size_t i = 0; i < n; i++) {
            mtasts_ctx_free(jobs[i].ctx);
        }
    }
    /* Cached: one shared context, warmed, as an MTA has it. */
    mtasts_ctx *shared = make_ctx(16);
    for (size_t i = 0; i < THREADS_MAX; i++) {
        lookup_ok(shared, pairs[i][0]);
    }
    for (size_t n = 1; n <= THREADS_MAX; n++) {
        struct job jobs[THREADS_MAX];
        for (size_t i = 0; i < n; i++) {
            jobs[i] = (struct job){shared, pairs[i], CACHED_ITERS, 0};
        }
        run_threads("cached lookup, shared context", cached_job, jobs, n);
    }
    mtasts_ctx_free(shared);
}

/* ---- where the time of a cold lookup goes -------------------------------- */

static struct mtasts__io *io;
static double txt_ns, https_ns; /* summed over the breakdown's lookups */

static int
timed_dns(mtasts_req *req, const char *name, void *user)
{
    /* The engine may start the fetch from inside mtasts_dns_done(), so
     * the HTTPS hook can run within this call: count that time once. */
    double h0 = https_ns;
    double t0 = now_ns();
    int rc = mtasts__io_dns_txt(req, name, user);
    txt_ns += now_ns() - t0 - (https_ns - h0);
    return rc;
}

static int
timed_https(mtasts_req *req, const char *host, uint16_t port,
            const char *path, void *user)
{
    double t0 = now_ns();
    int rc = mtasts__io_https_get(req, host, port, path, user);
    https_ns += now_ns() - t0;
    return rc;
}

static void
bench_breakdown(void)
{
    int rc = mtasts__io_new(&io);
    if (rc != MTASTS_OK) {
        die("mtasts__io_new", rc);
    }
    if ((rc = mtasts__io_set_resolver(io, resolver)) != MTASTS_OK ||
        (rc = mtasts__io_set_ca(io, ca_file, NULL)) != MTASTS_OK) {
        die("setting up the I/O", rc);
    }
    mtasts__io_set_timeouts(io, 5000, 10000, 5000);

    mtasts_ctx *ctx = make_ctx(1);
    if ((rc = mtasts_ctx_set_dns_txt_hook(ctx, timed_dns, io)) != MTASTS_OK ||
        (rc = mtasts_ctx_set_https_get_hook(ctx, timed_https, io)) !=
            MTASTS_OK) {
        die("setting the hooks", rc);
    }
    lookup_ok(ctx, pairs[0][0]); /* warm-up: the trust store is loaded */
    lookup_ok(ctx, pairs[0][1]);
    txt_ns = https_ns = 0;
    double t0 = now_ns();
    for (size_t i = 0; i < BREAKDOWN_ITERS; i++) {
        lookup_ok(ctx, pairs[0][i & 1]);
    }
    double total = (now_ns() - t0) / BREAKDOWN_ITERS;
    mtasts_ctx_free(ctx);
    double txt = txt_ns / BREAKDOWN_ITERS;
    double https = https_ns / BREAKDOWN_ITERS;

    /* The address lookup and the TCP connect of the HTTPS hook, alone. */
    double addrs_ns = 0, connect_ns = 0;
    for (size_t i = 0; i < BREAKDOWN_ITERS; i++) {
        struct mtasts__io_addrs addrs;
        char why[MTASTS__IO_REASON_MAX];
        uint64_t deadline = mtasts__io_now_ms() + 5000;
        double a0 = now_ns();
        rc = mtasts__io_dns_addrs(io, "mta-sts.valid.test", https_port,
                                  deadline, &addrs, why, sizeof(why));
        double a1 = now_ns();
        if (rc != MTASTS_OK || addrs.n == 0) {
            fprintf(stderr, "bench_discovery: address lookup: %s\n", why);
            exit(1);
        }
        int fd = -1;
        int err = mtasts__io_connect(&addrs.a[0], SOCK_STREAM, deadline, &fd);
        double a2 = now_ns();
        if (err != 0) {
            fprintf(stderr, "bench_discovery: connect: %s\n", strerror(err));
            exit(1);
        }
        close(fd);
        addrs_ns += a1 - a0;
        connect_ns += a2 - a1;
    }
    double addrs = addrs_ns / BREAKDOWN_ITERS;
    double conn = connect_ns / BREAKDOWN_ITERS;
    double tls = https - addrs - conn;
    double rest = total - txt - https;

    printf("cold lookup breakdown, 1 thread: %.1f ns/op (n=%d) =\n", total,
           BREAKDOWN_ITERS);
    printf("  TXT query (_mta-sts):          %10.1f ns/op  %5.1f %%\n", txt,
           100 * txt / total);
    printf("  A/AAAA query (mta-sts):        %10.1f ns/op  %5.1f %%\n", addrs,
           100 * addrs / total);
    printf("  TCP connect:                   %10.1f ns/op  %5.1f %%\n", conn,
           100 * conn / total);
    printf("  TLS handshake, GET, read body: %10.1f ns/op  %5.1f %%\n", tls,
           100 * tls / total);
    printf("  engine, parse, cache:          %10.1f ns/op  %5.1f %%\n", rest,
           100 * rest / total);
    mtasts__io_free(io);
}

int
main(void)
{
    resolver = getenv("MTASTS_WORLD_RESOLVER");
    ca_file = getenv("MTASTS_WORLD_CA");
    const char *port = getenv("MTASTS_WORLD_HTTPS_PORT");
    if (resolver == NULL || ca_file == NULL || port == NULL) {
        fprintf(stderr, "bench_discovery: run it with run.py (no world)\n");
        return 77;
    }
    char *end = NULL;
    errno = 0;
    long p = strtol(port, &end, 10);
    if (errno != 0 || *end != '\0' || p < 1 || p > 65535) {
        fprintf(stderr, "bench_discovery: bad MTASTS_WORLD_HTTPS_PORT\n");
        return 1;
    }
    https_port = (uint16_t)p;
    bench_lookups();
    bench_breakdown();
    return 0;
}
