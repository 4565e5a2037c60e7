/* Load client for mtasts-socketmap (figures only: `meson test --benchmark`).
 *
 *   run.py bench_socketmap [OPTIONS] PATH-TO-mtasts-socketmap [ADDR:PORT]
 *
 * Starts the daemon in the loopback world (or, given ADDR:PORT, measures
 * a daemon already listening there, e.g. the Python postfix-mta-sts-
 * resolver, for a side-by-side ratio: tests/integration/sidebyside.py),
 * looks each domain up once, then
 * asks in lock-step, one request and its answer at a time per connection,
 * as Postfix does: cached enforce domains over 1 and over 8 connections,
 * and domains without a policy over 1 connection; and, for the daemon's
 * own rate, batches of 64 pipelined requests. Then the machine's
 * ceiling: the same lock-step client against a minimal netstring echo
 * server, a thread of this process that answers every request with a
 * fixed valid answer, so that the daemon's lock-step figure can be read
 * against what a loopback round trip here allows at all. Each phase is bounded
 * by a request count and a time. Prints requests per second, p50 and p99
 * latency, and the daemon's resident memory (VmRSS) idle before any
 * request and after the load. Fails only on a wrong answer, never on a
 * timing.
 *
 * Options: --label NAME starts each figure line with NAME instead of
 * "socketmap"; --pid PID reads the RSS of a daemon given by ADDR:PORT;
 * --any-match-order takes an answer whose match= patterns are those
 * expected in another order (the Python daemon writes them in the order
 * of a Python set). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define REQUESTS_MAX 100000 /* per phase */
#define PHASE_SECONDS 3.0
#define CONNS_MAX 8

static const char *const cached_domains[] = {"valid.test", "wild.test",
                                             "split.test", "deleg.test"};
static const char *const cached_answers[] = {
    "OK secure match=mail.valid.test:.backup.valid.test servername=hostname",
    "OK secure match=mail.wild.test servername=hostname",
    "OK secure match=mail.split.test servername=hostname",
    "OK secure match=mail.deleg.test servername=hostname",
};
static const char *const none_domains[] = {"nxdomain.test", "notxt.test",
                                           "nodata.test", "none.test"};

static const char *label = "socketmap";
static bool any_match_order;

/* got equals want, or with --any-match-order differs only in the order
 * of the ':'-separated patterns of "OK secure match=...". */
static bool
same_answer(const char *got, size_t glen, const char *want)
{
    size_t wlen = strlen(want);
    if (glen == wlen && memcmp(got, want, wlen) == 0) {
        return true;
    }
    static const char ok[] = "OK secure match=";
    size_t olen = sizeof(ok) - 1;
    if (!any_match_order || glen != wlen || glen <= olen ||
        memcmp(got, ok, olen) != 0 || memcmp(want, ok, olen) != 0) {
        return false;
    }
    const char *gend = memchr(got + olen, ' ', glen - olen);
    const char *wend = memchr(want + olen, ' ', wlen - olen);
    size_t gl = gend != NULL ? (size_t)(gend - got) : glen;
    size_t wl = wend != NULL ? (size_t)(wend - want) : wlen;
    if (gl != wl || memcmp(got + gl, want + wl, glen - gl) != 0) {
        return false;
    }
    /* Every pattern of want occurs once in got; equal lengths then make
     * them the same list (patterns are distinct in our answers). */
    size_t n_want = 0;
    for (size_t i = olen; i < wl;) {
        const char *c = memchr(want + i, ':', wl - i);
        size_t pl = c != NULL ? (size_t)(c - (want + i)) : wl - i;
        bool found = false;
        for (size_t j = olen; j < gl && !found;) {
            const char *d = memchr(got + j, ':', gl - j);
            size_t ql = d != NULL ? (size_t)(d - (got + j)) : gl - j;
            found = ql == pl && memcmp(got + j, want + i, pl) == 0;
            j += ql + 1;
        }
        if (!found) {
            return false;
        }
        n_want++;
        i += pl + 1;
    }
    return n_want > 0;
}

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
connect_to(const char *host, unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port)};
    if (fd < 0 || inet_pton(AF_INET, host, &sa.sin_addr) != 1 ||
        connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        fprintf(stderr, "bench_socketmap: connect %s:%u: %s\n", host, port,
                strerror(errno));
        exit(1);
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

/* One lock-step request; the answer payload into out (NUL-terminated). */
static bool
ask(int fd, const char *domain, char *out, size_t cap)
{
    char req[512];
    int plen = (int)strlen("postfix ") + (int)strlen(domain);
    int n = snprintf(req, sizeof(req), "%d:postfix %s,", plen, domain);
    if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        return false;
    }
    char buf[1024];
    size_t have = 0;
    for (;;) {
        ssize_t r = recv(fd, buf + have, sizeof(buf) - have, 0);
        if (r <= 0) {
            return false;
        }
        have += (size_t)r;
        char *colon = memchr(buf, ':', have);
        if (colon == NULL) {
            continue;
        }
        size_t len = strtoul(buf, NULL, 10);
        size_t start = (size_t)(colon - buf) + 1;
        if (have >= start + len + 1) {
            if (len >= cap || buf[start + len] != ',') {
                return false;
            }
            memcpy(out, buf + start, len);
            out[len] = '\0';
            return true;
        }
        if (have == sizeof(buf)) {
            return false;
        }
    }
}

struct worker {
    pthread_t thread;
    const char *host;
    unsigned port;
    const char *const *domains;
    const char *const *answers; /* NULL: "NOTFOUND " for all */
    size_t ndomains;
    size_t quota;
    double until;
    double *lat; /* seconds per request */
    size_t done;
    bool wrong;
};

static void *
worker_main(void *arg)
{
    struct worker *w = arg;
    int fd = connect_to(w->host, w->port);
    char out[1024];
    for (size_t i = 0; i < w->quota; i++) {
        if ((i & 63) == 0 && now_s() > w->until) {
            break;
        }
        size_t k = i % w->ndomains;
        double t0 = now_s();
        if (!ask(fd, w->domains[k], out, sizeof(out))) {
            w->wrong = true;
            break;
        }
        w->lat[w->done++] = now_s() - t0;
        const char *want = w->answers != NULL ? w->answers[k] : "NOTFOUND ";
        if (!same_answer(out, strlen(out), want)) {
            fprintf(stderr, "bench_socketmap: %s: '%s', expected '%s'\n",
                    w->domains[k], out, want);
            w->wrong = true;
            break;
        }
    }
    close(fd);
    return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* One phase; false on a wrong answer. */
static bool
phase(const char *name, const char *host, unsigned port, size_t conns,
      const char *const *domains, const char *const *answers, size_t nd,
      double *rate)
{
    static struct worker w[CONNS_MAX];
    double *lat = malloc(REQUESTS_MAX * sizeof(*lat));
    if (lat == NULL) {
        return false;
    }
    double t0 = now_s();
    for (size_t i = 0; i < conns; i++) {
        w[i] = (struct worker){.host = host,
                               .port = port,
                               .domains = domains,
                               .answers = answers,
                               .ndomains = nd,
                               .quota = REQUESTS_MAX / conns,
                               .until = t0 + PHASE_SECONDS,
                               .lat = lat + i * (REQUESTS_MAX / conns)};
        pthread_create(&w[i].thread, NULL, worker_main, &w[i]);
    }
    size_t total = 0;
    bool wrong = false;
    for (size_t i = 0; i < conns; i++) {
        pthread_join(w[i].thread, NULL);
        wrong |= w[i].wrong;
    }
    double elapsed = now_s() - t0;
    /* Gather the latencies into one run at the front. */
    for (size_t i = 0; i < conns; i++) {
        memmove(lat + total, w[i].lat, w[i].done * sizeof(*lat));
        total += w[i].done;
    }
    if (rate != NULL) {
        *rate = total > 0 ? (double)total / elapsed : 0.0;
    }
    if (total > 0) {
        qsort(lat, total, sizeof(*lat), cmp_double);
        printf("%s %s: %.0f req/s, p50 %.1f us, p99 %.1f us "
               "(n=%zu, %zu connection%s)\n",
               label, name, (double)total / elapsed, lat[total / 2] * 1e6,
               lat[total * 99 / 100] * 1e6, total, conns,
               conns == 1 ? "" : "s");
    }
    free(lat);
    return !wrong && total > 0;
}

/* Pipelined: batches of 64 requests in one write, their answers read
 * back; the daemon's own rate rather than the round trip's. False on a
 * wrong answer. */
static bool
phase_pipelined(const char *host, unsigned port)
{
    enum { BATCH = 64 };
    char req[BATCH * 32];
    size_t rlen = 0;
    for (size_t i = 0; i < BATCH; i++) {
        rlen += (size_t)snprintf(req + rlen, sizeof(req) - rlen,
                                 "18:postfix valid.test,");
    }
    const char *want = "70:OK secure match=mail.valid.test:.backup.valid.test "
                       "servername=hostname,";
    size_t alen = strlen(want);
    char want_payload[128];
    snprintf(want_payload, sizeof(want_payload), "%.*s", (int)(alen - 4),
             want + 3);
    char *buf = malloc(BATCH * alen);
    if (buf == NULL) {
        return false;
    }
    int fd = connect_to(host, port);
    double t0 = now_s();
    size_t total = 0;
    bool ok = true;
    while (ok && total < 2 * REQUESTS_MAX && now_s() - t0 < PHASE_SECONDS) {
        if (send(fd, req, rlen, MSG_NOSIGNAL) != (ssize_t)rlen) {
            ok = false;
            break;
        }
        size_t have = 0;
        while (have < BATCH * alen) {
            ssize_t r = recv(fd, buf + have, BATCH * alen - have, 0);
            if (r <= 0) {
                ok = false;
                break;
            }
            have += (size_t)r;
        }
        for (size_t i = 0; ok && i < BATCH; i++) {
            /* "70:" ... "," around each answer */
            ok = memcmp(buf + i * alen, want, 3) == 0 &&
                 buf[(i + 1) * alen - 1] == ',' &&
                 same_answer(buf + i * alen + 3, alen - 4, want_payload);
        }
        total += BATCH;
    }
    double elapsed = now_s() - t0;
    close(fd);
    free(buf);
    if (ok) {
        printf("%s cached, pipelined by %d: %.0f req/s (n=%zu, 1 "
               "connection)\n",
               label, BATCH, (double)total / elapsed, total);
    } else {
        fputs("bench_socketmap: pipelined answers wrong\n", stderr);
    }
    return ok;
}

/* ---- the ceiling: a minimal netstring echo server in this process ---- */

struct echo {
    int lfd;
    pthread_t thread;
};

/* Serve one connection at a time: read netstrings, answer each with the
 * fixed answer of valid.test, until the client closes. */
static void *
echo_main(void *arg)
{
    struct echo *e = arg;
    static const char answer[] =
        "70:OK secure match=mail.valid.test:.backup.valid.test "
        "servername=hostname,";
    for (;;) {
        int fd = accept(e->lfd, NULL, NULL);
        if (fd < 0) {
            return NULL; /* the listener was shut down */
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        char buf[4096];
        size_t have = 0;
        for (;;) {
            ssize_t r = recv(fd, buf + have, sizeof(buf) - have, 0);
            if (r <= 0) {
                break;
            }
            have += (size_t)r;
            /* Answer every whole netstring in the buffer. */
            size_t off = 0;
            for (;;) {
                char *colon = memchr(buf + off, ':', have - off);
                if (colon == NULL) {
                    break;
                }
                size_t len = strtoul(buf + off, NULL, 10);
                size_t end = (size_t)(colon - buf) + 1 + len + 1;
                if (end > have) {
                    break;
                }
                if (send(fd, answer, sizeof(answer) - 1, MSG_NOSIGNAL) < 0) {
                    break;
                }
                off = end;
            }
            memmove(buf, buf + off, have - off);
            have -= off;
            if (have == sizeof(buf)) {
                break; /* not netstrings */
            }
        }
        close(fd);
    }
}

static bool
echo_start(struct echo *e, unsigned *port)
{
    e->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    if (e->lfd < 0 || bind(e->lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(e->lfd, 8) != 0 ||
        getsockname(e->lfd, (struct sockaddr *)&sa, &sl) != 0 ||
        pthread_create(&e->thread, NULL, echo_main, e) != 0) {
        fprintf(stderr, "bench_socketmap: echo server: %s\n", strerror(errno));
        return false;
    }
    *port = ntohs(sa.sin_port);
    return true;
}

static void
echo_stop(struct echo *e)
{
    shutdown(e->lfd, SHUT_RDWR); /* accept() returns an error */
    pthread_join(e->thread, NULL);
    close(e->lfd);
}

static long
rss_kb(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    char line[256];
    long kb = -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1) {
            break;
        }
    }
    fclose(f);
    return kb;
}

/* Start the daemon in the world; its pid, and its port in *port. */
static pid_t
start_daemon(const char *path, unsigned *port)
{
    int fds[2];
    if (pipe(fds) != 0) {
        return -1;
    }
    const char *env[] = {"MTASTS_WORLD_RESOLVER", "MTASTS_WORLD_CA",
                         "MTASTS_WORLD_HTTPS_PORT"};
    for (size_t i = 0; i < 3; i++) {
        if (getenv(env[i]) == NULL) {
            fprintf(stderr, "bench_socketmap: %s not set (run.py)\n", env[i]);
            return -1;
        }
    }
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        execl(path, path, "--listen", "127.0.0.1:0", "--resolver",
              getenv("MTASTS_WORLD_RESOLVER"), "--ca-file",
              getenv("MTASTS_WORLD_CA"), "--https-port",
              getenv("MTASTS_WORLD_HTTPS_PORT"), (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    char line[512];
    *port = 0;
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        const char *at = strstr(line, "listening on 127.0.0.1:");
        if (at != NULL) {
            *port = (unsigned)strtoul(at + strlen("listening on 127.0.0.1:"),
                                      NULL, 10);
            break;
        }
    }
    /* The pipe stays open (the daemon's stderr); it writes little. */
    return *port != 0 ? pid : -1;
}

int
main(int argc, char **argv)
{
    pid_t pid = -1;     /* the daemon started here */
    pid_t rss_pid = -1; /* the daemon whose RSS is read */
    int a = 1;
    for (; a < argc && strncmp(argv[a], "--", 2) == 0; a++) {
        if (strcmp(argv[a], "--any-match-order") == 0) {
            any_match_order = true;
        } else if (strcmp(argv[a], "--label") == 0 && a + 1 < argc) {
            label = argv[++a];
        } else if (strcmp(argv[a], "--pid") == 0 && a + 1 < argc) {
            rss_pid = (pid_t)strtol(argv[++a], NULL, 10);
        } else {
            break;
        }
    }
    if (argc - a < 1) {
        fputs("usage: bench_socketmap [--label NAME] [--pid PID] "
              "[--any-match-order] DAEMON [ADDR:PORT]\n",
              stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    char host[64] = "127.0.0.1";
    unsigned port = 0;
    if (argc - a >= 2) {
        if (sscanf(argv[a + 1], "%63[^:]:%u", host, &port) != 2) {
            return 2;
        }
    } else {
        pid = start_daemon(argv[a], &port);
        if (pid < 0) {
            fputs("bench_socketmap: the daemon did not start\n", stderr);
            return 1;
        }
        rss_pid = pid;
        usleep(200000);
    }
    if (rss_pid > 0) {
        printf("%s idle RSS, empty cache: %.1f MB\n", label,
               (double)rss_kb(rss_pid) / 1024.0);
    }

    /* Warm up: each domain looked up once (cold lookups in the world). */
    int fd = connect_to(host, port);
    char out[1024];
    bool ok = true;
    for (size_t i = 0; i < 4; i++) {
        ok &= ask(fd, cached_domains[i], out, sizeof(out)) &&
              same_answer(out, strlen(out), cached_answers[i]);
        ok &= ask(fd, none_domains[i], out, sizeof(out));
    }
    close(fd);
    if (!ok) {
        fputs("bench_socketmap: warm-up answers wrong\n", stderr);
    }

    double daemon_rate = 0.0;
    ok = ok && phase("cached, lock-step", host, port, 1, cached_domains,
                     cached_answers, 4, &daemon_rate);
    ok = ok && phase("cached, lock-step", host, port, 8, cached_domains,
                     cached_answers, 4, NULL);
    ok = ok && phase("no policy, lock-step", host, port, 1, none_domains, NULL,
                     4, NULL);
    ok = ok && phase_pipelined(host, port);

    /* The ceiling: the same client against an echo server that does
     * nothing but answer. */
    struct echo e;
    unsigned echo_port = 0;
    double ceiling = 0.0;
    if (ok && echo_start(&e, &echo_port)) {
        ok = phase("ceiling (in-process netstring echo), lock-step",
                   "127.0.0.1", echo_port, 1, cached_domains,
                   (const char *const[]){cached_answers[0]}, 1, &ceiling);
        echo_stop(&e);
        if (ok && ceiling > 0.0) {
            printf("%s daemon vs loopback ceiling, 1 connection "
                   "lock-step: %.0f req/s of %.0f req/s (%.0f%%)\n",
                   label, daemon_rate, ceiling, 100.0 * daemon_rate / ceiling);
        }
    } else {
        ok = false;
    }

    if (rss_pid > 0) {
        usleep(200000);
        printf("%s RSS after the load: %.1f MB\n", label,
               (double)rss_kb(rss_pid) / 1024.0);
    }
    if (pid > 0) {
        kill(pid, SIGTERM);
        int status = 0;
        waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fputs("bench_socketmap: the daemon did not stop cleanly\n", stderr);
            ok = false;
        }
    }
    return ok ? 0 : 1;
}
