/* Timing helpers shared by the benchmarks (STYLE.md §9). A benchmark never
 * fails on a timing; it aborts only when the library gives a wrong result,
 * which is a correctness check. */
#ifndef MTASTS_TESTS_BENCH_H
#define MTASTS_TESTS_BENCH_H

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define BENCH_CALIBRATE_NS 20e6 /* a calibration run long enough to scale */
#define BENCH_TARGET_NS 300e6   /* aim for 0.3 s per figure ... */
#define BENCH_MIN_NS 200e6      /* ... and never report under 0.2 s */

/* Runs the operation iters times. It checks each result (bench_fail) and
 * folds something of it into bench_sink, so the work cannot be dropped. */
typedef void bench_loop_fn(void *arg, size_t iters);

static volatile size_t bench_sink;

static inline void
bench_fail(const char *what)
{
    fprintf(stderr, "benchmark: wrong result: %s\n", what);
    abort();
}

static inline double
bench_now_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
        bench_fail("clock_gettime(CLOCK_MONOTONIC)");
    }
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static inline double
bench_time(bench_loop_fn *fn, void *arg, size_t iters)
{
    double start = bench_now_ns();
    fn(arg, iters);
    return bench_now_ns() - start;
}

/* Warm up while calibrating (the first runs also fault in code and data),
 * then time a run of at least BENCH_MIN_NS. Returns ns per operation and
 * the number of operations timed in *n_out. */
static inline double
bench_run(bench_loop_fn *fn, void *arg, size_t *n_out)
{
    size_t n = 16;
    double t = bench_time(fn, arg, n);
    while (t < BENCH_CALIBRATE_NS) {
        n *= t < BENCH_CALIBRATE_NS / 16 ? 16 : 2;
        t = bench_time(fn, arg, n);
    }
    for (;;) {
        double scaled = (double)n * BENCH_TARGET_NS / (t > 1 ? t : 1);
        n = scaled > (double)n ? (size_t)scaled : n * 2;
        t = bench_time(fn, arg, n);
        if (t >= BENCH_MIN_NS) {
            break;
        }
    }
    *n_out = n;
    return t / (double)n;
}

/* One figure: "name: 142.0 ns/op (n=1000000)". */
static inline double
bench_report(const char *name, bench_loop_fn *fn, void *arg)
{
    size_t n;
    double ns = bench_run(fn, arg, &n);
    printf("%s: %.1f ns/op (n=%zu)\n", name, ns, n);
    fflush(stdout);
    return ns;
}

/* A figure with throughput: "name: 81234.5 ns/op 806.7 MB/s (n=2500)",
 * MB being 10^6 bytes. */
static inline void
bench_report_bytes(const char *name, bench_loop_fn *fn, void *arg,
                   size_t bytes)
{
    size_t n;
    double ns = bench_run(fn, arg, &n);
    printf("%s: %.1f ns/op %.1f MB/s (n=%zu)\n", name, ns,
           (double)bytes * 1e3 / ns, n);
    fflush(stdout);
}

#endif
