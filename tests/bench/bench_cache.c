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
 *    context (every policy parsed again), and the file's size; the load
 *    twice: in this process, whose heap the first context left behind,
 *    and in a new process (this program run again with --load FILE), as
 *    an MTA restarting, whose first touch of each page of heap faults,
 *    then once more with the new process's heap in huge pages;
 *  - the time to remove one domain (mtasts_cache_remove()).
 * Two floors put those figures in scale, measured on the same machine in
 * the same run:
 *  - memory latency: a chain of dependent loads at random over a buffer
 *    as large as the cache's RSS growth, in 4 KiB pages and, where the
 *    kernel grants them, in 2 MiB pages (ns per load); a cached lookup
 *    of a random domain needs about four such loads one after the other
 *    (the benchmark's name, the bucket, the entry, the policy);
 *  - the disk: as many bytes as the cache file written in the same
 *    directory and fsynced (what a crash-safe save cannot beat).
 * MTASTS_BENCH_DOMAINS changes the count. Figures only; it fails only on
 * a wrong result. Public API only, linked with the shared library.
 */
/* MAP_ANONYMOUS, madvise() and MADV_HUGEPAGE are not POSIX. */
#define _DEFAULT_SOURCE 1

#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

/* Dependent random loads over bytes of memory: a random cyclic
 * permutation of its 64-byte lines (Sattolo), followed for a fixed number
 * of steps. Returns ns per load. huge: ask for 2 MiB pages
 * (MADV_HUGEPAGE); *huge_kb gets what the kernel gave. */
static double
chase_ns(size_t bytes, bool huge, long *huge_kb)
{
    size_t lines = bytes / 64;
    size_t map_len = lines * 64;
    unsigned char *buf = mmap(NULL, map_len, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED || lines < 2) {
        bench_fail("mmap");
    }
#ifdef MADV_HUGEPAGE
    if (huge) {
        (void)madvise(buf, map_len, MADV_HUGEPAGE);
    }
#else
    (void)huge;
#endif
    uint32_t *perm = malloc(lines * sizeof(*perm));
    if (perm == NULL || lines > UINT32_MAX) {
        bench_fail("malloc");
    }
    for (size_t i = 0; i < lines; i++) {
        perm[i] = (uint32_t)i;
    }
    uint64_t x = 88172645463325252u; /* xorshift64, fixed seed */
    for (size_t i = lines - 1; i > 0; i--) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t j = (size_t)(x % i); /* j < i: one cycle through all */
        uint32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    /* line perm[i] points at line perm[i + 1] */
    for (size_t i = 0; i < lines; i++) {
        void *next = buf + (size_t)perm[(i + 1) % lines] * 64;
        memcpy(buf + (size_t)perm[i] * 64, &next, sizeof(next));
    }
    free(perm);
    *huge_kb = 0;
    FILE *fp = fopen("/proc/self/smaps_rollup", "r");
    if (fp != NULL) {
        char line[128];
        while (fgets(line, sizeof(line), fp) != NULL) {
            long kb;
            if (sscanf(line, "AnonHugePages: %ld kB", &kb) == 1) {
                *huge_kb = kb;
            }
        }
        fclose(fp);
    }
    const size_t steps = 4000000;
    void *p = buf;
    double start = bench_now_ns();
    for (size_t i = 0; i < steps; i++) {
        memcpy(&p, p, sizeof(p));
    }
    double ns = (bench_now_ns() - start) / (double)steps;
    bench_sink += (size_t)(uintptr_t)p;
    munmap(buf, map_len);
    return ns;
}

static void
bench_memory_floor(size_t bytes)
{
    for (int huge = 0; huge <= 1; huge++) {
        long huge_kb = 0;
        double ns = chase_ns(bytes, huge != 0, &huge_kb);
        printf("memory_latency_floor_%s: %.1f ns/op, %.0f dependent "
               "loads/s (random over %.1f MB, %ld kB in huge pages); 4 "
               "such loads a lookup: %.0f lookups/s\n",
               huge ? "2m_pages" : "4k_pages", ns, 1e9 / ns,
               (double)bytes / 1e6, huge_kb, 1e9 / (4 * ns));
        fflush(stdout);
    }
}

/* bytes of zeros written in 1 MiB writes to a new file in dir, fsynced:
 * the seconds it took. */
static double
disk_floor_s(const char *dir, size_t bytes)
{
    char path[96];
    snprintf(path, sizeof(path), "%s/disk-floor", dir);
    static char chunk[1 << 20];
    double start = bench_now_ns();
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        bench_fail("open disk-floor");
    }
    for (size_t done = 0; done < bytes;) {
        size_t n = bytes - done < sizeof(chunk) ? bytes - done : sizeof(chunk);
        ssize_t w = write(fd, chunk, n);
        if (w <= 0) {
            bench_fail("write disk-floor");
        }
        done += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        bench_fail("fsync disk-floor");
    }
    double secs = (bench_now_ns() - start) / 1e9;
    unlink(path);
    return secs;
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

/* The load in a process of its own (--load FILE): a restarted MTA's. */
static int
load_only(const char *path, bool thp)
{
    mtasts_ctx *ctx = make_ctx();
    double start = bench_now_ns();
    if (mtasts_cache_load(ctx, path, NULL) != MTASTS_OK) {
        bench_fail("load in a new process");
    }
    double load_ns = bench_now_ns() - start;
    size_t n = cached_count(ctx);
    if (n != ndomains) {
        bench_fail("not every entry loaded in a new process");
    }
    printf("cache_load_new_process%s: %.1f ns/op (%.3f s for %zu entries, "
           "the first load of a new process%s)\n",
           thp ? "_thp" : "", load_ns / (double)n, load_ns / 1e9, n,
           thp ? ", its heap in huge pages" : "");
    mtasts_ctx_free(ctx);
    return 0;
}

/* Run this program again with --load path, and wait for it; thp: with
 * glibc's heap in transparent huge pages (GLIBC_TUNABLES
 * glibc.malloc.hugetlb=1, glibc 2.35 and later; docs/cache.md). */
static void
load_in_new_process(char *path, bool thp)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        bench_fail("fork");
    }
    if (pid == 0) {
        static char arg0[] = "bench_cache", arg1[] = "--load";
        static char arg1_thp[] = "--load-thp";
        char *argv[] = {arg0, thp ? arg1_thp : arg1, path, NULL};
        if (thp && setenv("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1", 1) != 0) {
            _exit(127);
        }
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        bench_fail("the load in a new process");
    }
}

int
main(int argc, char **argv)
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
        snprintf(names + i * NAME_MAX_LEN, NAME_MAX_LEN, "d%zu.example.com", i);
    }
    if (argc == 3 && strcmp(argv[1], "--load") == 0) {
        return load_only(argv[2], false);
    }
    if (argc == 3 && strcmp(argv[1], "--load-thp") == 0) {
        return load_only(argv[2], true);
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
    bench_memory_floor((size_t)(after - before));

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
    double floor_s = disk_floor_s(dir, (size_t)st.st_size);
    printf("cache_save_disk_floor: %.3f s to write and fsync %.1f MB of "
           "zeros beside it (save takes %.2f times that)\n",
           floor_s, (double)st.st_size / 1e6, save_ns / 1e9 / floor_s);
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
    printf("cache_load: %.1f ns/op (%.3f s for %zu entries, into the heap "
           "the first context left)\n",
           load_ns / (double)ndomains, load_ns / 1e9, ndomains);

    /* An operator's purge of single domains: each leaves its chain at
     * once and stays in the ring, dead, until a walk frees it (the ring is
     * linked one way: unlinking it there would walk its shard). */
    size_t nremove = ndomains / 10 > 0 ? ndomains / 10 : 1;
    start = bench_now_ns();
    for (size_t i = 0; i < nremove; i++) {
        if (mtasts_cache_remove(ctx, name_of(i * (ndomains / nremove))) !=
            MTASTS_OK) {
            bench_fail("remove");
        }
    }
    double remove_ns = bench_now_ns() - start;
    if (cached_count(ctx) != ndomains - nremove) {
        bench_fail("not every removed entry gone");
    }
    printf("cache_remove: %.1f ns/op (n=%zu, from %zu entries)\n",
           remove_ns / (double)nremove, nremove, ndomains);
    /* Last: after a fork, each page this process writes first faults
     * (copy on write), which would weigh on any figure measured here. */
    load_in_new_process(path, false);
    load_in_new_process(path, true);
    mtasts_ctx_free(ctx);
    unlink(path);
    rmdir(dir);
    free(names);
    return 0;
}
