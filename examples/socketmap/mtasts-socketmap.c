/*
 * mtasts-socketmap: an MTA-STS policy daemon for Postfix and sendmail.
 *
 * It speaks Postfix's socketmap protocol (socketmap_table(5)): each
 * request is a netstring `NAME KEY`; the answer is a netstring
 * `OK secure match=P1:P2 servername=hostname` for a domain whose policy
 * is to be enforced, else `NOTFOUND `, as postfix-mta-sts-resolver
 * answers (answer.c). Connections are persistent; pipelined requests are
 * answered in order.
 *
 * Threads: one event loop (epoll) owns the sockets and an answer table
 * (domain -> policy, freshness, lookup in flight); a few worker threads
 * run the library's blocking lookups (mtasts_lookup_result() with the
 * default I/O) and hand results back through an eventfd. A request for a
 * domain with a known answer is answered at once from the table, and a
 * stale answer starts one lookup in the background. A request for a new
 * domain waits for its lookup at most --deadline-ms, then is answered
 * `NOTFOUND ` while the lookup goes on. README.md says why.
 *
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <mtasts/mtasts.h>

#include "admin.h"
#include "answer.h"
#include "config.h"
#include "dane.h"
#include "key.h"
#include "log.h"
#include "netstring.h"
#ifdef SM_HAVE_REDIS
#include "redis_store.h"
#endif

#define PROG "mtasts-socketmap"
#define EXIT_USAGE 64
#define EXIT_SOFTWARE 70
#define EXIT_OSERR 71

/* Requests taken from one connection before its answers are written. */
#define PIPELINE_MAX 64
/* A request netstring: "10000:" + payload + ",". */
#define IN_MAX (SM_REQUEST_MAX + 16)
/* Answer table entries kept before idle ones are dropped. */
#define MEMO_MAX 100000
#define EVENTS_MAX 64

static const char usage_text[] =
    "usage: " PROG " [OPTIONS]\n"
    "\n"
    "An MTA-STS (RFC 8461) policy daemon for Postfix's socketmap table\n"
    "(smtp_tls_policy_maps = socketmap:inet:127.0.0.1:8461:postfix) and\n"
    "sendmail. Runs in the foreground; SIGTERM saves the cache and stops,\n"
    "SIGHUP reopens syslog and saves the cache. With NOTIFY_SOCKET set\n"
    "(systemd Type=notify) it sends READY=1 once it listens and\n"
    "STOPPING=1 at SIGTERM.\n"
    "\n"
    "  --listen ADDR:PORT | [ADDR6]:PORT | unix:PATH\n"
    "                      where to listen (default: 127.0.0.1:8461)\n"
    "  --config FILE       options as `name = value` lines and zones as\n"
    "                      [zone NAME] sections (mtasts-socketmap(8));\n"
    "                      command-line options win\n"
    "  --cache FILE        policy cache loaded at start, saved on SIGHUP\n"
    "                      and at exit\n"
    "  --resolver ADDR[@PORT]  DNS resolver (default: /etc/resolv.conf)\n"
    "  --ca-file FILE      trust anchors (default: the system CA bundle)\n"
    "  --redis HOST:PORT   a Redis server as the library's second-level\n"
    "                      policy store, shared by several daemons (only\n"
    "                      when built with hiredis)\n"
    "  --https-port PORT   policy host port, for tests (default: 443)\n"
    "  --fetch-timeout-ms MS  total policy fetch timeout\n"
    "  --deadline-ms MS    answer every request within MS (default 4000):\n"
    "                      a lookup still running then answers NOTFOUND\n"
    "                      and goes on in the background\n"
    "  --workers N         lookup threads (default 4)\n"
    "  --answer-ttl-s S    an answer is re-checked in the background when\n"
    "                      used after S seconds (default 60)\n"
    "  --dane              answer NOTFOUND when the domain's MX hosts have\n"
    "                      DNSSEC-validated TLSA records (or their lookup\n"
    "                      failed), so that Postfix's dane level applies;\n"
    "                      trusts the AD bit: --resolver must be a local\n"
    "                      validating resolver\n"
    "  --postfix-tlsrpt    add the Postfix 3.10 TLSRPT attributes\n"
    "                      (policy_type=sts, policy_domain, mx_host_pattern,\n"
    "                      { policy_string = ... }, policy_failure=) to\n"
    "                      secure answers, in every zone (Postfix 3.10+)\n"
    "  --max-connections N  (default 1024)\n"
    "  --syslog            log to syslog (facility mail) besides stderr;\n"
    "                      stderr lines that would block are dropped and\n"
    "                      counted in the next line written\n"
    "  --socket-mode MODE  octal mode of the unix: socket, e.g. 660\n"
    "  --socket-owner USER, --socket-group GROUP\n"
    "                      owner and group of the unix: socket\n"
    "  --reuse-port yes    SO_REUSEPORT: several daemons on one port\n"
    "  --user NAME         after binding and reading the CA and cache\n"
    "                      files, run as NAME (and its groups)\n"
    "  --refresh-interval-s S  every S seconds (default 300) save the cache\n"
    "                      file and refresh the policies used in the last\n"
    "                      7 days that expire within --refresh-expiring-s\n"
    "  --refresh-expiring-s S  (default 3600)\n"
    "  --help, --version\n"
    "\n"
    "Admin requests, from loopback or the Unix socket only: the socketmap\n"
    "NAME __admin with the KEY `dump` (the cache as JSON) or\n"
    "`purge DOMAIN` (forget the domain's policy).\n"
    "\n"
    "Exit status: 0 after SIGTERM or SIGINT, 64 usage or config error,\n"
    "71 cannot listen or start.\n";

/* ---- the answer table -------------------------------------------------- */

struct memo {
    struct memo *next; /* hash chain */
    char domain[MTASTS_DOMAIN_BUFSIZE];
    mtasts_policy *policy;     /* the policy to apply; NULL: none */
    int status;                /* of the last lookup */
    mtasts_rpt_result failure; /* of the last lookup (postfix-tlsrpt) */
    bool known;                /* a lookup has answered (or the cache file) */
    bool in_flight;            /* a worker is looking it up */
    bool late;                 /* in flight past a request's deadline */
    enum sm_dane_verdict dane; /* --dane: of the last lookup */
    int64_t fresh_until;       /* monotonic ms; later uses re-check */
    int64_t last_used;
};

struct memo_table {
    struct memo **buckets;
    size_t nbuckets; /* a power of two */
    size_t count;
};

/* ---- connections ------------------------------------------------------- */

struct pending {
    struct memo *wait; /* waiting for this lookup; NULL: answered */
    const struct sm_zone *zone;
    int64_t deadline;
    char *answer; /* the payload, malloc'd */
    size_t answer_len;
};

struct conn {
    int fd;
    struct conn *prev, *next;
    char in[IN_MAX];
    size_t in_len;
    char *out;
    size_t out_len, out_off, out_cap;
    struct pending q[PIPELINE_MAX];
    size_t q_head, q_len;
    size_t waiting;  /* pendings with wait != NULL */
    uint32_t events; /* registered with epoll */
    bool dead;       /* closed; freed after the current epoll batch */
    bool admin_ok;   /* a loopback or Unix socket peer (admin.h) */
    char peer[INET6_ADDRSTRLEN + 8]; /* for the log */
};

/* ---- the worker pool --------------------------------------------------- */

struct job {
    struct job *next;
    bool refresh; /* mtasts_refresh(), not a lookup */
    bool dane;    /* also check DANE (dane.h) */
    char domain[MTASTS_DOMAIN_BUFSIZE];
    int status;
    mtasts_policy *policy;
    mtasts_rpt_result failure;
    int64_t expires; /* wall clock, s */
    enum sm_dane_verdict dane_verdict;
    uint32_t dane_ttl_s;
};

struct pool {
    pthread_mutex_t lock;
    pthread_cond_t more;
    pthread_cond_t idle;
    struct job *todo_head, *todo_tail;
    struct job *done; /* LIFO; order does not matter */
    size_t busy;
    bool stop;
    int evfd;
    mtasts_ctx *ctx;
    const char *resolver;   /* --resolver, for the DANE lookups */
    int64_t dane_budget_ms; /* 0: --dane off */
    pthread_t *threads;
    size_t nthreads;
};

struct daemon {
    struct sm_config cfg;
    mtasts_ctx *ctx;
#ifdef SM_HAVE_REDIS
    struct redis_store *redis;
#endif
    int epfd, lfd, sigfd;
    bool lfd_paused;
    char unix_path[SM_PATH_MAX];
    struct memo_table memo;
    struct pool pool;
    struct conn *conns;
    struct conn *dead; /* closed in this epoll batch, to free */
    size_t nconns;
};

static int64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
oom(void)
{
    fputs(PROG ": out of memory\n", stderr);
    exit(EXIT_OSERR);
}

static void *
xmalloc(size_t n)
{
    void *p = malloc(n);
    if (p == NULL) {
        oom();
    }
    return p;
}

/* ---- answer table ------------------------------------------------------ */

static uint64_t
hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s != '\0'; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    }
    return h;
}

static void
memo_grow(struct memo_table *t)
{
    size_t n = t->nbuckets == 0 ? 1024 : t->nbuckets * 2;
    struct memo **b = calloc(n, sizeof(*b));
    if (b == NULL) {
        oom();
    }
    for (size_t i = 0; i < t->nbuckets; i++) {
        struct memo *m = t->buckets[i];
        while (m != NULL) {
            struct memo *next = m->next;
            size_t h = (size_t)hash_name(m->domain) & (n - 1);
            m->next = b[h];
            b[h] = m;
            m = next;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = n;
}

static void
memo_free(struct memo *m)
{
    mtasts_policy_unref(m->policy);
    free(m);
}

/* Drop entries not used for idle_ms and not in flight. */
static size_t
memo_sweep(struct memo_table *t, int64_t now, int64_t idle_ms)
{
    size_t removed = 0;
    for (size_t i = 0; i < t->nbuckets; i++) {
        struct memo **pp = &t->buckets[i];
        while (*pp != NULL) {
            struct memo *m = *pp;
            if (!m->in_flight && now - m->last_used >= idle_ms) {
                *pp = m->next;
                memo_free(m);
                removed++;
            } else {
                pp = &m->next;
            }
        }
    }
    t->count -= removed;
    return removed;
}

static struct memo *
memo_find(struct memo_table *t, const char *domain)
{
    if (t->nbuckets == 0) {
        return NULL;
    }
    size_t h = (size_t)hash_name(domain) & (t->nbuckets - 1);
    for (struct memo *m = t->buckets[h]; m != NULL; m = m->next) {
        if (strcmp(m->domain, domain) == 0) {
            return m;
        }
    }
    return NULL;
}

static struct memo *
memo_get(struct memo_table *t, const char *domain, int64_t now, bool *created)
{
    struct memo *m = memo_find(t, domain);
    *created = false;
    if (m != NULL) {
        return m;
    }
    if (t->count >= MEMO_MAX) {
        /* Unused for an hour, then for a minute, then any idle entry. */
        if (memo_sweep(t, now, 3600000) == 0 &&
            memo_sweep(t, now, 60000) == 0) {
            memo_sweep(t, now, 0);
        }
    }
    if (t->count >= t->nbuckets) {
        memo_grow(t);
    }
    m = calloc(1, sizeof(*m));
    if (m == NULL) {
        oom();
    }
    strcpy(m->domain, domain);
    size_t h = (size_t)hash_name(domain) & (t->nbuckets - 1);
    m->next = t->buckets[h];
    t->buckets[h] = m;
    t->count++;
    *created = true;
    return m;
}

static void
memo_clear(struct memo_table *t)
{
    for (size_t i = 0; i < t->nbuckets; i++) {
        struct memo *m = t->buckets[i];
        while (m != NULL) {
            struct memo *next = m->next;
            memo_free(m);
            m = next;
        }
    }
    free(t->buckets);
    memset(t, 0, sizeof(*t));
}

/* ---- worker pool ------------------------------------------------------- */

static void *
worker_main(void *arg)
{
    struct pool *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->stop && p->todo_head == NULL) {
            pthread_cond_wait(&p->more, &p->lock);
        }
        if (p->stop) {
            break;
        }
        struct job *j = p->todo_head;
        p->todo_head = j->next;
        if (p->todo_head == NULL) {
            p->todo_tail = NULL;
        }
        p->busy++;
        pthread_mutex_unlock(&p->lock);

        mtasts_result *r = NULL;
        j->status = j->refresh ? mtasts_refresh(p->ctx, j->domain, &r)
                               : mtasts_lookup_result(p->ctx, j->domain, &r);
        mtasts_policy *pol = r != NULL ? mtasts_result_policy(r) : NULL;
        j->policy = pol != NULL ? mtasts_policy_ref(pol) : NULL;
        j->expires = r != NULL ? mtasts_result_expires(r) : 0;
        j->failure = r != NULL ? mtasts_result_failure(r) : MTASTS_RPT_NONE;
        mtasts_result_free(r);
        if (j->dane) {
            char why[512];
            j->dane_verdict =
                sm_dane_check(p->resolver, j->domain, p->dane_budget_ms,
                              &j->dane_ttl_s, why, sizeof(why));
            sm_log(LOG_INFO, "%s: DANE %s: %s", j->domain,
                   sm_dane_verdict_name(j->dane_verdict), why);
        }

        pthread_mutex_lock(&p->lock);
        j->next = p->done;
        p->done = j;
        p->busy--;
        pthread_cond_broadcast(&p->idle);
        uint64_t one = 1;
        if (write(p->evfd, &one, sizeof(one)) < 0) {
            /* the counter cannot overflow at this rate; nothing to do */
        }
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* dane_budget_ms: the time a DANE check may take (0: --dane off). */
static int
pool_start(struct pool *p, mtasts_ctx *ctx, size_t n, const char *resolver,
           int64_t dane_budget_ms)
{
    memset(p, 0, sizeof(*p));
    p->resolver = resolver;
    p->dane_budget_ms = dane_budget_ms;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->more, NULL);
    pthread_cond_init(&p->idle, NULL);
    p->ctx = ctx;
    p->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->evfd < 0) {
        return -1;
    }
    p->threads = xmalloc(n * sizeof(*p->threads));
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    for (size_t i = 0; i < n; i++) {
        if (pthread_create(&p->threads[i], &attr, worker_main, p) != 0) {
            pthread_attr_destroy(&attr);
            return -1;
        }
        p->nthreads++;
    }
    pthread_attr_destroy(&attr);
    return 0;
}

static void
pool_submit(struct pool *p, const char *domain, bool refresh)
{
    struct job *j = calloc(1, sizeof(*j));
    if (j == NULL) {
        oom();
    }
    j->refresh = refresh;
    j->dane = p->dane_budget_ms > 0;
    strcpy(j->domain, domain);
    pthread_mutex_lock(&p->lock);
    if (p->todo_tail != NULL) {
        p->todo_tail->next = j;
    } else {
        p->todo_head = j;
    }
    p->todo_tail = j;
    pthread_cond_signal(&p->more);
    pthread_mutex_unlock(&p->lock);
}

/* Stop the workers: true when all were joined within wait_ms, false when
 * some are still inside a lookup (the process may then only exit). */
static bool
pool_stop(struct pool *p, int64_t wait_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)(wait_ms / 1000);
    until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_broadcast(&p->more);
    while (p->busy > 0 &&
           pthread_cond_timedwait(&p->idle, &p->lock, &until) == 0) {
    }
    bool idle = p->busy == 0;
    pthread_mutex_unlock(&p->lock);
    if (!idle) {
        return false;
    }
    for (size_t i = 0; i < p->nthreads; i++) {
        pthread_join(p->threads[i], NULL);
    }
    for (struct job *j = p->todo_head; j != NULL;) {
        struct job *next = j->next;
        free(j);
        j = next;
    }
    for (struct job *j = p->done; j != NULL;) {
        struct job *next = j->next;
        mtasts_policy_unref(j->policy);
        free(j);
        j = next;
    }
    free(p->threads);
    close(p->evfd);
    pthread_cond_destroy(&p->more);
    pthread_cond_destroy(&p->idle);
    pthread_mutex_destroy(&p->lock);
    return true;
}

/* ---- connections ------------------------------------------------------- */

static void
conn_set_events(struct daemon *d, struct conn *c, uint32_t events)
{
    if (c->events == events) {
        return;
    }
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (epoll_ctl(d->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0) {
        c->events = events;
    }
}

static void
conn_close(struct daemon *d, struct conn *c)
{
    epoll_ctl(d->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    for (size_t i = 0; i < c->q_len; i++) {
        free(c->q[(c->q_head + i) % PIPELINE_MAX].answer);
    }
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        d->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    free(c->out);
    c->out = NULL;
    /* The epoll batch being handled may still name c: free it later. */
    c->dead = true;
    c->next = d->dead;
    d->dead = c;
    d->nconns--;
    if (d->lfd_paused) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
        if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->lfd, &ev) == 0) {
            d->lfd_paused = false;
        }
    }
}

/* Append the netstring of payload to c's output. */
static void
conn_put(struct conn *c, const char *payload, size_t len)
{
    size_t need = len + 24;
    if (c->out_cap - c->out_len < need) {
        if (c->out_off > 0) {
            memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
            c->out_len -= c->out_off;
            c->out_off = 0;
        }
        if (c->out_cap - c->out_len < need) {
            size_t cap = c->out_cap == 0 ? 4096 : c->out_cap;
            while (cap - c->out_len < need) {
                cap *= 2;
            }
            char *o = realloc(c->out, cap);
            if (o == NULL) {
                oom();
            }
            c->out = o;
            c->out_cap = cap;
        }
    }
    c->out_len += sm_ns_format(payload, len, c->out + c->out_len,
                               c->out_cap - c->out_len);
}

/* Format the answer of m (or NOTFOUND without m) for zone. */
static char *
answer_alloc(const struct memo *m, const struct sm_zone *zone, size_t *len,
             char *stack, size_t stack_cap)
{
    /* DANE applies (or may): NOTFOUND, and Postfix's dane level decides
     * (RFC 8461 §2: MTA-STS must not override DANE). */
    if (m != NULL && m->known && sm_dane_notfound(m->dane)) {
        *len = strlen(SM_NOTFOUND);
        memcpy(stack, SM_NOTFOUND, *len + 1);
        return stack;
    }
    const mtasts_policy *p = m != NULL && m->known ? m->policy : NULL;
    const char *domain = m != NULL ? m->domain : "";
    mtasts_rpt_result failure = m != NULL ? m->failure : MTASTS_RPT_NONE;
    /* Not known yet (the deadline passed): no failure to speak of. */
    int status = m != NULL && m->known ? m->status : MTASTS_OK;
    *len = sm_answer_format(p, domain, status, failure, zone, stack, stack_cap);
    if (*len < stack_cap) {
        return stack;
    }
    char *heap = xmalloc(*len + 1);
    sm_answer_format(p, domain, status, failure, zone, heap, *len + 1);
    return heap;
}

/* Queue an answer for the next request of c, in order. */
static void
conn_answer(struct conn *c, const struct memo *m, const struct sm_zone *zone)
{
    char stack[1024];
    size_t len = 0;
    char *a = answer_alloc(m, zone, &len, stack, sizeof(stack));
    if (c->q_len == 0) {
        conn_put(c, a, len);
        if (a != stack) {
            free(a);
        }
        return;
    }
    struct pending *p = &c->q[(c->q_head + c->q_len) % PIPELINE_MAX];
    memset(p, 0, sizeof(*p));
    if (a == stack) {
        a = xmalloc(len + 1);
        memcpy(a, stack, len + 1);
    }
    p->answer = a;
    p->answer_len = len;
    c->q_len++;
}

static void
conn_answer_text(struct conn *c, const char *text)
{
    if (c->q_len == 0) {
        conn_put(c, text, strlen(text));
        return;
    }
    struct pending *p = &c->q[(c->q_head + c->q_len) % PIPELINE_MAX];
    memset(p, 0, sizeof(*p));
    p->answer_len = strlen(text);
    p->answer = xmalloc(p->answer_len + 1);
    memcpy(p->answer, text, p->answer_len + 1);
    c->q_len++;
}

/* Settle the waiting requests of c whose lookup answered or whose
 * deadline passed, and move answered ones at the head to the output. */
static void
conn_settle(struct conn *c, int64_t now)
{
    for (size_t i = 0; i < c->q_len && c->waiting > 0; i++) {
        struct pending *p = &c->q[(c->q_head + i) % PIPELINE_MAX];
        if (p->wait == NULL || (!p->wait->known && now < p->deadline)) {
            continue;
        }
        char stack[1024];
        char *a = answer_alloc(p->wait, p->zone, &p->answer_len, stack,
                               sizeof(stack));
        if (a == stack) {
            a = xmalloc(p->answer_len + 1);
            memcpy(a, stack, p->answer_len + 1);
        }
        p->answer = a;
        if (!p->wait->known) {
            p->wait->late = true;
        }
        p->wait = NULL;
        c->waiting--;
    }
    while (c->q_len > 0 && c->q[c->q_head].wait == NULL) {
        struct pending *p = &c->q[c->q_head];
        conn_put(c, p->answer, p->answer_len);
        free(p->answer);
        p->answer = NULL;
        c->q_head = (c->q_head + 1) % PIPELINE_MAX;
        c->q_len--;
    }
}

/* Start a background lookup of m unless one runs. */
static void
lookup_start(struct daemon *d, struct memo *m)
{
    if (!m->in_flight) {
        m->in_flight = true;
        pool_submit(&d->pool, m->domain, false);
    }
}

/* Forget a domain: the library's entry and the answer table's, so that
 * the next request looks it up afresh. An entry in flight stays (requests
 * may wait on it) but loses its answer. */
static bool
purge_domain(struct daemon *d, const char *domain)
{
    bool found = mtasts_cache_remove(d->ctx, domain) == MTASTS_OK;
    struct memo *m = memo_find(&d->memo, domain);
    if (m != NULL) {
        found = found || m->known;
        mtasts_policy_unref(m->policy);
        m->policy = NULL;
        m->known = false;
        m->late = false;
        m->dane = SM_DANE_UNKNOWN;
        m->status = MTASTS_OK;
        m->failure = MTASTS_RPT_NONE;
        m->fresh_until = 0;
    }
    return found;
}

/* A request to SM_ADMIN_NAME: `dump` or `purge DOMAIN`, from loopback or
 * the Unix socket only. */
static void
handle_admin(struct daemon *d, struct conn *c, const char *key, size_t key_len)
{
    if (!c->admin_ok) {
        sm_log(LOG_WARNING, "admin request refused from %s", c->peer);
        conn_answer_text(c, "PERM admin requests only from loopback or the "
                            "Unix socket");
        return;
    }
    if (key_len == 4 && memcmp(key, "dump", 4) == 0) {
        mtasts_cache_snapshot *s = NULL;
        if (mtasts_cache_snapshot_new(d->ctx, &s) != MTASTS_OK) {
            oom();
        }
        size_t len = 0;
        char *a = sm_admin_dump(s, d->cfg.admin_dump_max, &len);
        mtasts_cache_snapshot_free(s);
        if (a == NULL) {
            oom();
        }
        sm_log(LOG_INFO, "admin dump from %s: %zu bytes%s", c->peer, len,
               a[0] == 'P' ? ", refused (too large)" : "");
        conn_answer_text(c, a);
        free(a);
        return;
    }
    char domain[MTASTS_DOMAIN_BUFSIZE];
    if (key_len > 6 && memcmp(key, "purge ", 6) == 0) {
        if (sm_key_domain(key + 6, key_len - 6, domain) != 0) {
            conn_answer_text(c, "PERM purge: not a domain");
            return;
        }
        bool found = purge_domain(d, domain);
        sm_log(LOG_INFO, "admin purge %s from %s: %s", domain, c->peer,
               found ? "purged" : "not cached");
        char a[MTASTS_DOMAIN_BUFSIZE + 16];
        snprintf(a, sizeof(a), "OK purged %s", domain);
        conn_answer_text(c, found ? a : SM_NOTFOUND);
        return;
    }
    conn_answer_text(c, "PERM admin keys: dump, purge DOMAIN");
}

static void
handle_request(struct daemon *d, struct conn *c, const char *payload,
               size_t len, int64_t now)
{
    const char *name = NULL;
    const char *key = NULL;
    size_t name_len = 0;
    size_t key_len = 0;
    if (sm_request_split(payload, len, &name, &name_len, &key, &key_len) != 0) {
        conn_answer_text(c, "PERM request is not NAME KEY");
        return;
    }
    if (name_len == strlen(SM_ADMIN_NAME) &&
        memcmp(name, SM_ADMIN_NAME, name_len) == 0) {
        handle_admin(d, c, key, key_len);
        return;
    }
    const struct sm_zone *zone = sm_config_zone(&d->cfg, name, name_len);
    char domain[MTASTS_DOMAIN_BUFSIZE];
    if (sm_key_domain(key, key_len, domain) != 0) {
        conn_answer_text(c, SM_NOTFOUND);
        return;
    }
    bool created = false;
    struct memo *m = memo_get(&d->memo, domain, now, &created);
    m->last_used = now;
    if (now >= m->fresh_until) {
        lookup_start(d, m);
    }
    if (m->known || m->late) {
        /* Known, or already late for another request: do not wait. */
        conn_answer(c, m, zone);
        return;
    }
    struct pending *p = &c->q[(c->q_head + c->q_len) % PIPELINE_MAX];
    memset(p, 0, sizeof(*p));
    p->wait = m;
    p->zone = zone;
    p->deadline = now + (int64_t)d->cfg.deadline_ms;
    c->q_len++;
    c->waiting++;
}

/* Write what c has to write; false when c was closed. */
static bool
conn_flush(struct daemon *d, struct conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
                         MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                break;
            }
            conn_close(d, c);
            return false;
        }
        c->out_off += (size_t)n;
    }
    if (c->out_off == c->out_len) {
        c->out_off = 0;
        c->out_len = 0;
    }
    uint32_t ev = 0;
    if (c->q_len < PIPELINE_MAX && c->out_len < 1024 * 1024) {
        ev |= EPOLLIN;
    }
    if (c->out_len > 0) {
        ev |= EPOLLOUT;
    }
    conn_set_events(d, c, ev);
    return true;
}

/* Take the whole requests in c's input; false when c was closed. */
static bool
conn_parse(struct daemon *d, struct conn *c, int64_t now)
{
    size_t off = 0;
    while (c->q_len < PIPELINE_MAX) {
        const char *payload = NULL;
        size_t plen = 0;
        size_t used = 0;
        enum sm_ns_status st =
            sm_ns_parse(c->in + off, c->in_len - off, SM_REQUEST_MAX, &payload,
                        &plen, &used);
        if (st == SM_NS_MORE) {
            break;
        }
        if (st != SM_NS_OK) {
            conn_close(d, c); /* socketmap_table(5): no reply possible */
            return false;
        }
        handle_request(d, c, payload, plen, now);
        off += used;
    }
    if (off > 0) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }
    return true;
}

/* Take requests already read, settle and write; false when c was
 * closed. */
static bool
conn_progress(struct daemon *d, struct conn *c, int64_t now)
{
    if (!conn_parse(d, c, now)) {
        return false;
    }
    conn_settle(c, now);
    return conn_flush(d, c);
}

static void
conn_readable(struct daemon *d, struct conn *c)
{
    if (c->in_len < IN_MAX) {
        ssize_t n = recv(c->fd, c->in + c->in_len, IN_MAX - c->in_len, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            conn_close(d, c); /* a disconnect drops unanswered requests */
            return;
        }
        if (n > 0) {
            c->in_len += (size_t)n;
        }
    }
    conn_progress(d, c, now_ms());
}

static void
accept_all(struct daemon *d)
{
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(d->lfd, (struct sockaddr *)&ss, &sl,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) {
                sm_log(LOG_ERR, "accept: %s", strerror(errno));
            }
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct conn *c = calloc(1, sizeof(*c));
        if (c == NULL) {
            close(fd);
            return;
        }
        c->fd = fd;
        c->events = EPOLLIN;
        c->admin_ok = sm_admin_peer_ok((struct sockaddr *)&ss, sl);
        if (ss.ss_family == AF_UNIX ||
            getnameinfo((struct sockaddr *)&ss, sl, c->peer, sizeof(c->peer),
                        NULL, 0, NI_NUMERICHOST) != 0) {
            strcpy(c->peer, ss.ss_family == AF_UNIX ? "unix" : "?");
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            close(fd);
            free(c);
            return;
        }
        c->next = d->conns;
        if (d->conns != NULL) {
            d->conns->prev = c;
        }
        d->conns = c;
        d->nconns++;
        if (d->nconns >= d->cfg.max_connections) {
            epoll_ctl(d->epfd, EPOLL_CTL_DEL, d->lfd, NULL);
            d->lfd_paused = true;
            return;
        }
    }
}

/* Take the workers' results into the table and settle waiting requests. */
static void
take_results(struct daemon *d)
{
    uint64_t n = 0;
    if (read(d->pool.evfd, &n, sizeof(n)) < 0) {
        return;
    }
    pthread_mutex_lock(&d->pool.lock);
    struct job *done = d->pool.done;
    d->pool.done = NULL;
    pthread_mutex_unlock(&d->pool.lock);
    int64_t now = now_ms();
    int64_t wall = (int64_t)time(NULL);
    while (done != NULL) {
        struct job *j = done;
        done = j->next;
        struct memo *m = memo_find(&d->memo, j->domain);
        if (m == NULL || (j->refresh && j->status == MTASTS_ERR_NOT_FOUND)) {
            /* No entry (cannot happen: in-flight entries stay), or the
             * library's entry went before its refresh: keep the answer. */
            if (m != NULL) {
                m->in_flight = false;
            }
            mtasts_policy_unref(j->policy);
            free(j);
            continue;
        }
        mtasts_policy_unref(m->policy);
        m->policy = j->policy;
        m->failure = j->failure;
        m->status = j->status;
        m->known = true;
        m->in_flight = false;
        m->late = false;
        int64_t ttl = (int64_t)d->cfg.answer_ttl_s * 1000;
        if (j->policy != NULL && j->expires > wall &&
            (j->expires - wall) * 1000 < ttl) {
            ttl = (j->expires - wall) * 1000;
        }
        if (j->dane) {
            m->dane = j->dane_verdict;
            if ((int64_t)j->dane_ttl_s * 1000 < ttl) {
                ttl = (int64_t)j->dane_ttl_s * 1000;
            }
        }
        m->fresh_until = now + ttl;
        free(j);
    }
    for (struct conn *c = d->conns, *next = NULL; c != NULL; c = next) {
        next = c->next;
        if (c->waiting > 0) {
            conn_progress(d, c, now);
        }
    }
}

/* Answer the requests whose deadline passed; the epoll timeout in ms until
 * the next deadline (-1: none). */
static int
settle_deadlines(struct daemon *d)
{
    int64_t now = now_ms();
    int64_t next = -1;
    for (struct conn *c = d->conns, *cn = NULL; c != NULL; c = cn) {
        cn = c->next;
        if (c->waiting == 0) {
            continue;
        }
        if (!conn_progress(d, c, now)) {
            continue;
        }
        for (size_t i = 0; i < c->q_len; i++) {
            const struct pending *p = &c->q[(c->q_head + i) % PIPELINE_MAX];
            if (p->wait != NULL) {
                if (next < 0 || p->deadline < next) {
                    next = p->deadline;
                }
                break; /* later requests have later deadlines */
            }
        }
    }
    if (next < 0) {
        return -1;
    }
    return next <= now ? 0 : (int)(next - now);
}

/* ---- the cache file ---------------------------------------------------- */

static void
cache_save(struct daemon *d, const char *why)
{
    if (d->cfg.cache[0] == '\0') {
        return;
    }
    int rc = mtasts_cache_save(d->ctx, d->cfg.cache);
    if (rc != MTASTS_OK) {
        sm_log(LOG_ERR, "%s: cannot save the cache (%s): %s", d->cfg.cache, why,
               mtasts_strerror(rc));
    }
}

/* Load the cache file and put its policies in the answer table, stale, so
 * that they answer at once and are re-checked in the background. */
static int
cache_load(struct daemon *d)
{
    if (d->cfg.cache[0] == '\0') {
        return 0;
    }
    mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
    int rc = mtasts_cache_load(d->ctx, d->cfg.cache, &err);
    if (rc == MTASTS_ERR_NOT_FOUND) {
        return 0;
    }
    if (rc != MTASTS_OK) {
        /* A damaged file must not keep the MTA's policy service down. */
        sm_log(LOG_ERR, "%s: not loaded: %s", d->cfg.cache,
               err.message != NULL ? err.message : mtasts_strerror(rc));
        return 0;
    }
    mtasts_cache_snapshot *s = NULL;
    if (mtasts_cache_snapshot_new(d->ctx, &s) != MTASTS_OK) {
        return -1;
    }
    int64_t now = now_ms();
    int64_t wall = (int64_t)time(NULL);
    size_t loaded = 0;
    for (size_t i = 0; i < mtasts_cache_snapshot_count(s); i++) {
        if (mtasts_cache_snapshot_expires(s, i) <= wall) {
            continue;
        }
        bool created = false;
        struct memo *m = memo_get(&d->memo, mtasts_cache_snapshot_domain(s, i),
                                  now, &created);
        mtasts_policy_unref(m->policy);
        m->policy = mtasts_policy_ref(mtasts_cache_snapshot_policy(s, i));
        /* With --dane a policy answers only once DANE was checked. */
        m->known = !d->cfg.dane;
        m->fresh_until = 0;
        m->last_used = now;
        loaded++;
    }
    mtasts_cache_snapshot_free(s);
    sm_log(LOG_INFO, "%s: %zu policies loaded", d->cfg.cache, loaded);
    return 0;
}

/* Every --refresh-interval-s: refresh the policies in use that expire
 * soon (RFC 8461 §3.3: before they expire, whether or not mail waits) and
 * save the cache file. */
static void
tick(struct daemon *d)
{
    mtasts_cache_snapshot *s = NULL;
    size_t started = 0;
    if (mtasts_cache_due(d->ctx, 7 * 86400, (uint32_t)d->cfg.refresh_expiring_s,
                         0, &s) == MTASTS_OK) {
        for (size_t i = 0; i < mtasts_cache_snapshot_count(s); i++) {
            struct memo *m =
                memo_find(&d->memo, mtasts_cache_snapshot_domain(s, i));
            if (m != NULL && !m->in_flight) {
                m->in_flight = true;
                pool_submit(&d->pool, m->domain, true);
                started++;
            }
        }
        mtasts_cache_snapshot_free(s);
    }
    if (started > 0) {
        sm_log(LOG_INFO, "refreshing %zu policies", started);
    }
    cache_save(d, "periodic");
}

/* ---- setup ------------------------------------------------------------- */

static int
usage_error(const char *msg, const char *arg)
{
    fprintf(stderr, PROG ": %s%s%s\nTry '" PROG " --help'.\n", msg,
            arg != NULL ? ": " : "", arg != NULL ? arg : "");
    return EXIT_USAGE;
}

static int
load_config_file(struct sm_config *cfg, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        sm_log(LOG_ERR, "%s: %s", path, strerror(errno));
        return EXIT_USAGE;
    }
    char *text = NULL;
    size_t len = 0;
    size_t cap = 0;
    for (;;) {
        if (cap - len < 4096) {
            cap = cap == 0 ? 8192 : cap * 2;
            if (cap > 1024 * 1024) {
                fclose(f);
                free(text);
                sm_log(LOG_ERR, "%s: larger than 1 MiB", path);
                return EXIT_USAGE;
            }
            char *t = realloc(text, cap);
            if (t == NULL) {
                oom();
            }
            text = t;
        }
        size_t n = fread(text + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            break;
        }
    }
    bool bad = ferror(f) != 0;
    fclose(f);
    char err[SM_ERR_MAX];
    int rc = 0;
    if (bad) {
        sm_log(LOG_ERR, "%s: read error", path);
        rc = EXIT_USAGE;
    } else if (sm_config_parse(cfg, text, len, err) != 0) {
        sm_log(LOG_ERR, "%s: %s", path, err);
        rc = EXIT_USAGE;
    }
    free(text);
    return rc;
}

/* Options: --config first, then the others over it. -1 to go on, else an
 * exit status. */
static int
parse_args(int argc, char **argv, struct sm_config *cfg)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage_text, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf(PROG " (libmtasts) %s\n", mtasts_version_string());
            return 0;
        }
    }
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--config") == 0) {
            int rc = load_config_file(cfg, argv[i + 1]);
            if (rc != 0) {
                return rc;
            }
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--syslog") == 0) {
            cfg->use_syslog = true; /* a flag, as `syslog = yes` */
            continue;
        }
        if (strcmp(a, "--dane") == 0) {
            cfg->dane = true; /* a flag, as `dane = yes` */
            continue;
        }
        if (strcmp(a, "--postfix-tlsrpt") == 0) {
            /* A flag: every zone gets the TLSRPT attributes. */
            for (size_t z = 0; z < cfg->zone_count; z++) {
                cfg->zones[z].tlsrpt = true;
            }
            continue;
        }
        if (strncmp(a, "--", 2) != 0) {
            return usage_error("unexpected argument", a);
        }
        if (i + 1 == argc) {
            return usage_error("option needs a value", a);
        }
        const char *v = argv[++i];
        if (strcmp(a, "--config") == 0) {
            continue;
        }
        if (!sm_config_is_option(a + 2)) {
            return usage_error("unknown option", a);
        }
        char err[SM_ERR_MAX];
        if (sm_config_set(cfg, NULL, a + 2, v, err) != 0) {
            return usage_error(err, NULL);
        }
    }
    return -1;
}

/* --redis HOST:PORT: the library's store hooks on examples/redis-store
 * (keys "mtasts:" + domain, commands bounded by 1 s, a dead server
 * retried every 5 s). -1 to go on, else an exit status. */
static int
setup_redis(struct daemon *d)
{
    const char *r = d->cfg.redis;
    if (r[0] == '\0') {
        return -1;
    }
#ifdef SM_HAVE_REDIS
    char host[SM_PATH_MAX];
    const char *colon = strrchr(r, ':');
    char *end = NULL;
    unsigned long port = colon != NULL ? strtoul(colon + 1, &end, 10) : 0;
    if (colon == NULL || colon == r || end == colon + 1 || *end != '\0' ||
        port == 0 || port > 65535) {
        return usage_error("--redis: expected HOST:PORT", r);
    }
    memcpy(host, r, (size_t)(colon - r));
    host[colon - r] = '\0';
    if (redis_store_new(host, (int)port, "mtasts:", 1000, 5000, &d->redis) !=
            0 ||
        redis_store_install(d->redis, d->ctx) != 0) {
        sm_log(LOG_ERR, "--redis %s: %s", r, strerror(errno));
        return EXIT_OSERR;
    }
    sm_log(LOG_INFO, "policy store: redis %s", r);
    return -1;
#else
    return usage_error("--redis: built without hiredis", r);
#endif
}

static int
setup_ctx(struct daemon *d)
{
    const struct sm_config *o = &d->cfg;
    int rc = mtasts_ctx_new(&d->ctx);
    const char *what = "creating the context";
    if (rc == MTASTS_OK && o->resolver[0] != '\0') {
        what = "--resolver";
        rc = mtasts_ctx_set_resolver(d->ctx, o->resolver);
    }
    if (rc == MTASTS_OK && o->ca_file[0] != '\0') {
        what = "--ca-file";
        rc = mtasts_ctx_set_ca_file(d->ctx, o->ca_file);
    }
    if (rc == MTASTS_OK && o->https_port != 0) {
        what = "--https-port";
        rc = mtasts_ctx_set_https_port(d->ctx, (uint16_t)o->https_port);
    }
    if (rc == MTASTS_OK && o->fetch_timeout_ms != 0) {
        what = "--fetch-timeout-ms";
        rc = mtasts_ctx_set_fetch_timeout_ms(d->ctx,
                                             (uint32_t)o->fetch_timeout_ms);
    }
    if (rc != MTASTS_OK) {
        sm_log(LOG_ERR, "%s: %s", what, mtasts_strerror(rc));
        return rc == MTASTS_ERR_NOMEM ? EXIT_OSERR : EXIT_USAGE;
    }
    return setup_redis(d);
}

/* --socket-owner and --socket-group as ids (-1: unchanged). -1 to go on,
 * else an exit status. */
static int
socket_ids(const struct sm_config *cfg, bool is_unix, uid_t *uid, gid_t *gid)
{
    *uid = (uid_t)-1;
    *gid = (gid_t)-1;
    if (cfg->socket_owner[0] == '\0' && cfg->socket_group[0] == '\0') {
        return -1;
    }
    if (!is_unix) {
        return usage_error("--socket-owner and --socket-group need "
                           "--listen unix:PATH",
                           NULL);
    }
    if (cfg->socket_owner[0] != '\0') {
        struct passwd *pw = getpwnam(cfg->socket_owner);
        if (pw == NULL) {
            return usage_error("--socket-owner: no such user",
                               cfg->socket_owner);
        }
        *uid = pw->pw_uid;
    }
    if (cfg->socket_group[0] != '\0') {
        struct group *gr = getgrnam(cfg->socket_group);
        if (gr == NULL) {
            return usage_error("--socket-group: no such group",
                               cfg->socket_group);
        }
        *gid = gr->gr_gid;
    }
    return -1;
}

static int
open_listener(struct daemon *d)
{
    const char *l = d->cfg.listen;
    int fd = -1;
    uid_t uid;
    gid_t gid;
    int rc = socket_ids(&d->cfg, strncmp(l, "unix:", 5) == 0, &uid, &gid);
    if (rc >= 0) {
        return rc;
    }
    if (strncmp(l, "unix:", 5) == 0) {
        struct sockaddr_un sun = {.sun_family = AF_UNIX};
        if (strlen(l + 5) == 0 || strlen(l + 5) >= sizeof(sun.sun_path)) {
            return usage_error("--listen: bad unix socket path", l);
        }
        strcpy(sun.sun_path, l + 5);
        struct stat st;
        if (lstat(sun.sun_path, &st) == 0 && S_ISSOCK(st.st_mode)) {
            unlink(sun.sun_path); /* left by a previous run */
        }
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
            sm_log(LOG_ERR, "%s: %s", l, strerror(errno));
            if (fd >= 0) {
                close(fd);
            }
            return EXIT_OSERR;
        }
        strcpy(d->unix_path, sun.sun_path);
        if (d->cfg.socket_mode[0] != '\0' &&
            chmod(sun.sun_path, (mode_t)strtoul(d->cfg.socket_mode, NULL, 8)) !=
                0) {
            sm_log(LOG_ERR, "%s: chmod: %s", l, strerror(errno));
            close(fd);
            return EXIT_OSERR;
        }
        if ((uid != (uid_t)-1 || gid != (gid_t)-1) &&
            chown(sun.sun_path, uid, gid) != 0) {
            sm_log(LOG_ERR, "%s: chown: %s", l, strerror(errno));
            close(fd);
            return EXIT_OSERR;
        }
    } else {
        char host[SM_PATH_MAX];
        const char *colon = strrchr(l, ':');
        if (colon == NULL || colon == l || colon[1] == '\0') {
            return usage_error("--listen: expected ADDR:PORT or unix:PATH", l);
        }
        size_t hl = (size_t)(colon - l);
        if (l[0] == '[' && l[hl - 1] == ']') {
            memcpy(host, l + 1, hl - 2);
            host[hl - 2] = '\0';
        } else {
            memcpy(host, l, hl);
            host[hl] = '\0';
        }
        struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV |
                                             AI_PASSIVE,
                                 .ai_socktype = SOCK_STREAM};
        struct addrinfo *ai = NULL;
        if (getaddrinfo(host, colon + 1, &hints, &ai) != 0) {
            return usage_error("--listen: not a numeric address and port", l);
        }
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    0);
        int one = 1;
        if (fd < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
            (d->cfg.reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one,
                                             sizeof(one)) != 0) ||
            bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            sm_log(LOG_ERR, "%s: %s", l, strerror(errno));
            freeaddrinfo(ai);
            if (fd >= 0) {
                close(fd);
            }
            return EXIT_OSERR;
        }
        freeaddrinfo(ai);
    }
    if (listen(fd, 512) != 0) {
        sm_log(LOG_ERR, "listen: %s", strerror(errno));
        close(fd);
        return EXIT_OSERR;
    }
    d->lfd = fd;
    /* Say where (with the port the kernel chose for port 0). */
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char addr[INET6_ADDRSTRLEN] = "";
    if (d->unix_path[0] != '\0') {
        sm_log(LOG_INFO, "listening on unix:%s", d->unix_path);
    } else if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0 &&
               getnameinfo((struct sockaddr *)&ss, sl, addr, sizeof(addr), NULL,
                           0, NI_NUMERICHOST) == 0) {
        unsigned port = ss.ss_family == AF_INET6
                            ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                            : ntohs(((struct sockaddr_in *)&ss)->sin_port);
        sm_log(LOG_INFO, "listening on %s%s%s:%u",
               ss.ss_family == AF_INET6 ? "[" : "", addr,
               ss.ss_family == AF_INET6 ? "]" : "", port);
    }
    return -1;
}

/* Tell the service manager (systemd's sd_notify protocol: one datagram
 * to the Unix socket in NOTIFY_SOCKET, '@' for the abstract namespace);
 * nothing without NOTIFY_SOCKET. */
static void
notify(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (path == NULL || (path[0] != '/' && path[0] != '@') ||
        strlen(path) >= sizeof(sun.sun_path)) {
        return;
    }
    size_t n = strlen(path);
    memcpy(sun.sun_path, path, n);
    if (path[0] == '@') {
        sun.sun_path[0] = '\0';
    }
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return;
    }
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sun,
               len) < 0) {
        sm_log(LOG_ERR, "NOTIFY_SOCKET: %s", strerror(errno));
    }
    close(fd);
}

/* After the bind: become --user (its uid, primary group and groups).
 * -1 to go on, or an exit status. */
static int
drop_privileges(const struct sm_config *cfg)
{
    if (cfg->user[0] == '\0') {
        return -1;
    }
    errno = 0;
    struct passwd *pw = getpwnam(cfg->user);
    if (pw == NULL) {
        sm_log(LOG_ERR, "--user %s: no such user", cfg->user);
        return EXIT_USAGE;
    }
    if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
        setuid(pw->pw_uid) != 0) {
        sm_log(LOG_ERR, "--user %s: %s", cfg->user, strerror(errno));
        return EXIT_OSERR;
    }
    if (pw->pw_uid != 0 && setuid(0) == 0) {
        sm_log(LOG_ERR, "--user: root could be regained");
        return EXIT_OSERR;
    }
    return -1;
}

/* ---- main loop --------------------------------------------------------- */

static void
free_dead(struct daemon *d)
{
    while (d->dead != NULL) {
        struct conn *c = d->dead;
        d->dead = c->next;
        free(c);
    }
}

/* Run until SIGTERM or SIGINT. */
static void
run(struct daemon *d)
{
    struct epoll_event events[EVENTS_MAX];
    int timeout = -1;
    int64_t interval = (int64_t)d->cfg.refresh_interval_s * 1000;
    int64_t next_tick = now_ms() + interval;
    for (;;) {
        int n = epoll_wait(d->epfd, events, EVENTS_MAX, timeout);
        if (n < 0 && errno != EINTR) {
            sm_log(LOG_ERR, "epoll_wait: %s", strerror(errno));
            return;
        }
        for (int i = 0; i < n; i++) {
            void *ptr = events[i].data.ptr;
            if (ptr == NULL) {
                accept_all(d);
            } else if (ptr == &d->pool) {
                take_results(d);
            } else if (ptr == &d->sigfd) {
                struct signalfd_siginfo si;
                if (read(d->sigfd, &si, sizeof(si)) != sizeof(si)) {
                    continue;
                }
                if (si.ssi_signo == SIGHUP) {
                    sm_log_reopen();
                    cache_save(d, "SIGHUP");
                    continue;
                }
                return;
            } else {
                struct conn *c = ptr;
                if (c->dead) {
                    continue;
                }
                if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                    if (events[i].events & EPOLLOUT) {
                        if (!conn_flush(d, c)) {
                            continue;
                        }
                    }
                    conn_readable(d, c);
                } else if (events[i].events & EPOLLOUT) {
                    conn_flush(d, c);
                }
            }
        }
        timeout = settle_deadlines(d);
        free_dead(d);
        int64_t now = now_ms();
        if (now >= next_tick) {
            tick(d);
            next_tick = now + interval;
        }
        if (timeout < 0 || next_tick - now < timeout) {
            timeout = (int)(next_tick - now);
        }
    }
}

static int
add_fd(struct daemon *d, int fd, void *ptr)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = ptr};
    return epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev);
}

int
main(int argc, char **argv)
{
    static struct daemon d;
    sm_config_init(&d.cfg);
    sm_log_open(PROG, false);
    int rc = parse_args(argc, argv, &d.cfg);
    if (rc >= 0) {
        return rc;
    }
    if (d.cfg.use_syslog) {
        sm_log_open(PROG, true);
    }
    d.lfd = -1;
    rc = open_listener(&d);
    if (rc >= 0) {
        return rc;
    }
    rc = setup_ctx(&d);
    if (rc >= 0) {
        return rc;
    }
    if (cache_load(&d) != 0) {
        oom();
    }
    /* As root still: the CA file and the cache file are read; saving the
     * cache later needs the user's write access to its directory. */
    rc = drop_privileges(&d.cfg);
    if (rc >= 0) {
        return rc;
    }

    /* Signals go to the loop only: blocked before the workers start. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    d.sigfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
    d.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (d.sigfd < 0 || d.epfd < 0 ||
        pool_start(&d.pool, d.ctx, d.cfg.workers, d.cfg.resolver,
                   d.cfg.dane ? (int64_t)d.cfg.deadline_ms : 0) != 0 ||
        add_fd(&d, d.lfd, NULL) != 0 || add_fd(&d, d.pool.evfd, &d.pool) != 0 ||
        add_fd(&d, d.sigfd, &d.sigfd) != 0) {
        sm_log(LOG_ERR, "cannot start: %s", strerror(errno));
        return EXIT_OSERR;
    }

    char ready[64];
    snprintf(ready, sizeof(ready), "READY=1\nMAINPID=%ld", (long)getpid());
    notify(ready);
    run(&d);
    notify("STOPPING=1");

    close(d.lfd);
    if (d.unix_path[0] != '\0') {
        unlink(d.unix_path);
    }
    while (d.conns != NULL) {
        conn_close(&d, d.conns);
    }
    free_dead(&d);
    cache_save(&d, "exit");
    if (!pool_stop(&d.pool, 1000)) {
        /* A worker is inside a lookup that cannot be cancelled: the cache
         * is saved; leave the rest to the exit. */
        sm_log(LOG_INFO, "stopped (a lookup was still running)");
        fflush(NULL);
        _exit(0); /* no exit handlers while that worker runs */
    }
    memo_clear(&d.memo);
    mtasts_ctx_free(d.ctx);
#ifdef SM_HAVE_REDIS
    redis_store_free(d.redis); /* after the context that used it */
#endif
    close(d.epfd);
    close(d.sigfd);
    sm_log(LOG_INFO, "stopped");
    return 0;
}
