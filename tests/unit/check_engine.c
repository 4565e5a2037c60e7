/* Unit tests of the discovery engine (RFC 8461 §3, §5) through the public
 * API: mtasts_lookup(), mtasts_lookup_async(), mtasts_lookup_result(), the
 * I/O hooks and their completion functions, the context setters and the
 * result getters.
 *
 * The hooks answer from a per-test script (struct script S): TXT records,
 * NXDOMAIN, NODATA or TEMPFAIL for DNS; an HTTP status, Content-Type and
 * body, or a transport failure, for HTTPS. They count the requests and keep
 * the names asked for, and either can hold its request for a test thread to
 * complete later. Time is a fake clock (S.now), so no test sleeps; every
 * wait for another thread is bounded (WAIT_S). The fake clock also counts
 * the calls each worker thread makes: a lookup reads the clock under the
 * engine lock in the same critical section in which it joins a flight, so
 * the concurrency tests know when every worker has joined without sleeping.
 *
 * Not tested, on purpose: calling a completion function on a request after
 * its done function (a second mtasts_dns_done(), mtasts_https_body() after
 * mtasts_https_done()). done frees the request, and mtasts.h ("I/O hooks")
 * makes any later use undefined; a pointer to freed memory cannot be told
 * from a live request (the address may already hold a new one), so no
 * error code can be promised for it.
 *
 * Each test names the CHECKLIST.md ids it proves. The DNS and HTTPS outcome
 * tables are tests/data/engine_txt_cases.tsv and engine_fetch_cases.tsv.
 */
#include "harness.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mtasts/mtasts.h"

#define T0 ((int64_t)1700000000) /* the fake clock's start */
#define DAY 86400
#define WAIT_S 10 /* bound of every wait for another thread */
#define NTHREADS 8
#define MAX_RECORDS 8
#define NAME_BUF 300

#define DOMAIN "example.com"
#define TXT_A "v=STSv1; id=aaa1"
#define ID_A "aaa1"
#define TXT_B "v=STSv1; id=bbb2"
#define ID_B "bbb2"

#define POL_ENFORCE                                                            \
    "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 86400\n"
#define POL_TESTING                                                            \
    "version: STSv1\nmode: testing\nmx: mx1.example.com\n"                     \
    "mx: *.example.net\nmax_age: 86400\n"
#define POL_NONE "version: STSv1\nmode: none\nmax_age: 86400\n"
#define POL_INVALID                                                            \
    "version: STSv1\nmode: bogus\nmx: mx.example.com\nmax_age: 86400\n"

#define NO_MODE (-1) /* check_at(): no policy expected */

static struct td_file txt_table;
static struct td_file fetch_table;

/* ---- the script ---------------------------------------------------------- */

enum transport {
    TR_OK,     /* head and body, then done(MTASTS_OK) */
    TR_FETCH,  /* done(MTASTS_ERR_FETCH) before any response */
    TR_LATE,   /* head and body, then done(MTASTS_ERR_FETCH) */
    TR_WEBPKI, /* done(MTASTS_ERR_WEBPKI) */
    TR_NOHEAD, /* done(MTASTS_OK) with no response at all */
};

struct script {
    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t cond;  /* broadcast on every change other threads wait for */
    int64_t now;

    /* DNS */
    mtasts_dns_rcode rcode;
    const char *txt[MAX_RECORDS];
    size_t txt_len[MAX_RECORDS];
    size_t ntxt;
    const char *only_name; /* other names are NXDOMAIN; NULL: any name */
    int dns_hook_rc;       /* not MTASTS_OK: the hook fails with it */
    bool dns_hold;         /* keep the request for a test thread */
    mtasts_req *held_dns;
    int ndns;
    char dns_name[NAME_BUF];

    /* HTTPS */
    enum transport transport;
    unsigned http_status;
    const char *content_type; /* NULL: no Content-Type */
    const char *body;
    size_t body_len;
    size_t chunk;          /* body in pieces of this size; 0: at once */
    bool ignore_too_large; /* finish with MTASTS_OK even after TOO_LARGE */
    int https_hook_rc;
    bool https_hold;
    mtasts_req *held_https;
    int nhttps;
    char https_host[NAME_BUF];
    unsigned https_port;
    char https_path[NAME_BUF];
    int body_rc; /* what the last mtasts_https_body() call returned */

    /* completion-function misuse, checked inside the hooks */
    bool misuse;
    int misuse_checks;

    /* threads of the concurrency tests */
    int entered;
    int finished;

    char bad[256]; /* the first unexpected event, "" if none */
};

static struct script S;

static void note_bad(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* Remember the first unexpected event seen outside the test's own thread
 * of control; lookup_at() fails the test with it. */
static void
note_bad(const char *fmt, ...)
{
    pthread_mutex_lock(&S.lock);
    if (S.bad[0] == '\0') {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(S.bad, sizeof(S.bad), fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&S.lock);
}

static void
setup(void)
{
    memset(&S, 0, sizeof(S));
    pthread_mutex_init(&S.lock, NULL);
    pthread_cond_init(&S.cond, NULL);
    S.now = T0;
    S.rcode = MTASTS_DNS_ANSWER;
    S.txt[0] = TXT_A;
    S.txt_len[0] = strlen(TXT_A);
    S.ntxt = 1;
    S.transport = TR_OK;
    S.http_status = 200;
    S.content_type = "text/plain";
    S.body = POL_ENFORCE;
    S.body_len = strlen(POL_ENFORCE);
}

static void
teardown(void)
{
    failalloc_stop();
    pthread_cond_destroy(&S.cond);
    pthread_mutex_destroy(&S.lock);
}

/* A fresh script in the middle of a test (a new scenario). */
static void
rescript(void)
{
    teardown();
    setup();
}

static void
set_now(int64_t t)
{
    pthread_mutex_lock(&S.lock);
    S.now = t;
    pthread_mutex_unlock(&S.lock);
}

/* Answer TXT queries with one record. */
static void
serve_txt(const char *record)
{
    pthread_mutex_lock(&S.lock);
    S.rcode = MTASTS_DNS_ANSWER;
    S.txt[0] = record;
    S.txt_len[0] = strlen(record);
    S.ntxt = 1;
    pthread_mutex_unlock(&S.lock);
}

/* Answer TXT queries with rcode and no record. */
static void
serve_rcode(mtasts_dns_rcode rcode)
{
    pthread_mutex_lock(&S.lock);
    S.rcode = rcode;
    S.ntxt = 0;
    pthread_mutex_unlock(&S.lock);
}

/* Answer HTTPS requests with a response. */
static void
serve_http(unsigned status, const char *content_type, const char *body)
{
    pthread_mutex_lock(&S.lock);
    S.transport = TR_OK;
    S.http_status = status;
    S.content_type = content_type;
    S.body = body;
    S.body_len = strlen(body);
    pthread_mutex_unlock(&S.lock);
}

static void
serve_transport(enum transport t)
{
    pthread_mutex_lock(&S.lock);
    S.transport = t;
    pthread_mutex_unlock(&S.lock);
}

/* In a worker thread: its count of clock calls (guarded by S.lock). */
static _Thread_local int *tl_clock_calls;

static int64_t
fake_clock(void *user)
{
    struct script *s = user;
    pthread_mutex_lock(&s->lock);
    int64_t now = s->now;
    if (tl_clock_calls != NULL) {
        (*tl_clock_calls)++;
        pthread_cond_broadcast(&s->cond);
    }
    pthread_mutex_unlock(&s->lock);
    return now;
}

/* ---- the hooks ----------------------------------------------------------- */

#define MISUSE(call, want) misuse_check(#call, (call), (want))

static void
misuse_check(const char *what, int got, int want)
{
    if (got != want) {
        note_bad("%s gave %s, want %s", what, mtasts_status_name(got),
                 mtasts_status_name(want));
    }
    pthread_mutex_lock(&S.lock);
    S.misuse_checks++;
    pthread_mutex_unlock(&S.lock);
}

/* Wrong calls on a live DNS request; none may change or free it. */
static void
dns_misuse(mtasts_req *req)
{
    MISUSE(mtasts_https_response(req, 200, "text/plain"), MTASTS_ERR_STATE);
    MISUSE(mtasts_https_body(req, "x", 1), MTASTS_ERR_STATE);
    MISUSE(mtasts_https_done(req, MTASTS_OK, NULL), MTASTS_ERR_STATE);
    MISUSE(mtasts_dns_add_txt(NULL, "x", 1), MTASTS_ERR_INVALID);
    MISUSE(mtasts_dns_add_txt(req, NULL, 1), MTASTS_ERR_INVALID);
    MISUSE(mtasts_dns_done(req, (mtasts_dns_rcode)100, NULL),
           MTASTS_ERR_INVALID);
    MISUSE(mtasts_dns_done(NULL, MTASTS_DNS_ANSWER, NULL), MTASTS_ERR_INVALID);
    MISUSE(mtasts_dns_done(req, (mtasts_dns_rcode)4, NULL), MTASTS_ERR_INVALID);
    MISUSE(mtasts_dns_done(req, (mtasts_dns_rcode)-1, NULL),
           MTASTS_ERR_INVALID);
}

#define DNS_MISUSE_CHECKS 9

/* Wrong calls on a live HTTPS request before its response head. */
static void
https_misuse_before(mtasts_req *req)
{
    MISUSE(mtasts_dns_add_txt(req, TXT_B, strlen(TXT_B)), MTASTS_ERR_STATE);
    MISUSE(mtasts_dns_done(req, MTASTS_DNS_ANSWER, NULL), MTASTS_ERR_STATE);
    MISUSE(mtasts_https_body(req, "x", 1), MTASTS_ERR_STATE);
    MISUSE(mtasts_https_body(NULL, "x", 1), MTASTS_ERR_INVALID);
    MISUSE(mtasts_https_response(NULL, 200, "text/plain"), MTASTS_ERR_INVALID);
    MISUSE(mtasts_https_done(NULL, MTASTS_OK, NULL), MTASTS_ERR_INVALID);
    MISUSE(mtasts_https_done(req, MTASTS_ERR_SYNTAX, NULL), MTASTS_ERR_INVALID);
    MISUSE(mtasts_https_done(req, 1, NULL), MTASTS_ERR_INVALID);
    MISUSE(mtasts_https_done(req, MTASTS_ERR_POLICY_INVALID, NULL),
           MTASTS_ERR_INVALID);
}

/* ... and after it: a second head (which must not replace the first). */
static void
https_misuse_after(mtasts_req *req)
{
    MISUSE(mtasts_https_response(req, 404, "text/html"), MTASTS_ERR_STATE);
    MISUSE(mtasts_https_response(req, 200, NULL), MTASTS_ERR_STATE);
    MISUSE(mtasts_https_body(req, NULL, 1), MTASTS_ERR_INVALID);
    MISUSE(mtasts_https_body(req, NULL, 0), MTASTS_OK);
}

#define HTTPS_MISUSE_CHECKS (9 + 4)

/* Complete a DNS request from the script. inline_hook: called from the hook,
 * which may then fail instead of completing (an allocation failure). The
 * hook's return value. */
static int
answer_dns(mtasts_req *req, bool inline_hook)
{
    const char *txt[MAX_RECORDS];
    size_t len[MAX_RECORDS];
    pthread_mutex_lock(&S.lock);
    mtasts_dns_rcode rcode = S.rcode;
    size_t n = S.ntxt;
    memcpy(txt, S.txt, sizeof(txt));
    memcpy(len, S.txt_len, sizeof(len));
    if (S.only_name != NULL && strcmp(S.only_name, S.dns_name) != 0) {
        rcode = MTASTS_DNS_NXDOMAIN;
        n = 0;
    }
    pthread_mutex_unlock(&S.lock);

    for (size_t i = 0; i < n; i++) {
        int rc = mtasts_dns_add_txt(req, txt[i], len[i]);
        if (rc != MTASTS_OK) {
            if (rc != MTASTS_ERR_NOMEM) {
                note_bad("mtasts_dns_add_txt gave %s", mtasts_status_name(rc));
            }
            if (inline_hook) {
                return rc;
            }
            rcode = MTASTS_DNS_TEMPFAIL;
            break;
        }
    }
    const char *reason =
        rcode == MTASTS_DNS_TEMPFAIL ? "SERVFAIL from 192.0.2.53" : NULL;
    int rc = mtasts_dns_done(req, rcode, reason);
    if (rc != MTASTS_OK) {
        note_bad("mtasts_dns_done gave %s", mtasts_status_name(rc));
    }
    return MTASTS_OK;
}

static int
https_fail(mtasts_req *req, int rc, bool inline_hook)
{
    if (rc != MTASTS_ERR_NOMEM) {
        note_bad("completion function gave %s", mtasts_status_name(rc));
    }
    if (inline_hook) {
        return rc;
    }
    mtasts_https_done(req, MTASTS_ERR_FETCH, "out of memory");
    return MTASTS_OK;
}

static void
https_finish(mtasts_req *req, int status, const char *reason)
{
    int rc = mtasts_https_done(req, status, reason);
    if (rc != MTASTS_OK) {
        note_bad("mtasts_https_done gave %s", mtasts_status_name(rc));
    }
}

/* Complete an HTTPS request from the script, as answer_dns(). */
static int
answer_https(mtasts_req *req, bool inline_hook)
{
    pthread_mutex_lock(&S.lock);
    enum transport transport = S.transport;
    unsigned status = S.http_status;
    const char *type = S.content_type;
    const char *body = S.body;
    size_t len = S.body_len;
    size_t chunk = S.chunk;
    bool ignore_too_large = S.ignore_too_large;
    bool misuse = S.misuse;
    pthread_mutex_unlock(&S.lock);

    if (misuse) {
        https_misuse_before(req);
    }
    if (transport == TR_FETCH) {
        https_finish(req, MTASTS_ERR_FETCH, "connection refused");
        return MTASTS_OK;
    }
    if (transport == TR_WEBPKI) {
        https_finish(req, MTASTS_ERR_WEBPKI, "certificate not trusted");
        return MTASTS_OK;
    }
    if (transport == TR_NOHEAD) {
        https_finish(req, MTASTS_OK, NULL);
        return MTASTS_OK;
    }
    int rc = mtasts_https_response(req, status, type);
    if (rc != MTASTS_OK) {
        return https_fail(req, rc, inline_hook);
    }
    if (misuse) {
        https_misuse_after(req);
    }
    size_t off = 0;
    while (rc == MTASTS_OK && off < len) {
        size_t n = chunk == 0 || chunk > len - off ? len - off : chunk;
        rc = mtasts_https_body(req, body + off, n);
        off += n;
    }
    pthread_mutex_lock(&S.lock);
    S.body_rc = rc;
    pthread_mutex_unlock(&S.lock);
    if (rc != MTASTS_OK && rc != MTASTS_ERR_TOO_LARGE) {
        return https_fail(req, rc, inline_hook);
    }
    if (transport == TR_LATE) {
        https_finish(req, MTASTS_ERR_FETCH, "connection reset");
    } else if (rc == MTASTS_ERR_TOO_LARGE && !ignore_too_large) {
        https_finish(req, MTASTS_ERR_FETCH, "body too large");
    } else {
        https_finish(req, MTASTS_OK, NULL);
    }
    return MTASTS_OK;
}

static int
dns_hook(mtasts_req *req, const char *name, void *user)
{
    if (user != &S) {
        note_bad("DNS hook: wrong user pointer");
    }
    pthread_mutex_lock(&S.lock);
    S.ndns++;
    snprintf(S.dns_name, sizeof(S.dns_name), "%s", name);
    int rc = S.dns_hook_rc;
    bool hold = rc == MTASTS_OK && S.dns_hold;
    bool misuse = S.misuse;
    if (hold) {
        S.held_dns = req;
    }
    pthread_cond_broadcast(&S.cond);
    pthread_mutex_unlock(&S.lock);
    if (rc != MTASTS_OK || hold) {
        return rc;
    }
    if (misuse) {
        dns_misuse(req);
    }
    return answer_dns(req, true);
}

static int
https_hook(mtasts_req *req, const char *host, uint16_t port, const char *path,
           void *user)
{
    if (user != &S) {
        note_bad("HTTPS hook: wrong user pointer");
    }
    pthread_mutex_lock(&S.lock);
    S.nhttps++;
    snprintf(S.https_host, sizeof(S.https_host), "%s", host);
    snprintf(S.https_path, sizeof(S.https_path), "%s", path);
    S.https_port = port;
    int rc = S.https_hook_rc;
    bool hold = rc == MTASTS_OK && S.https_hold;
    if (hold) {
        S.held_https = req;
    }
    pthread_cond_broadcast(&S.cond);
    pthread_mutex_unlock(&S.lock);
    if (rc != MTASTS_OK || hold) {
        return rc;
    }
    return answer_https(req, true);
}

/* ---- helpers ------------------------------------------------------------- */

static mtasts_ctx *
new_ctx(void)
{
    mtasts_ctx *ctx = NULL;
    ck_assert_int_eq(mtasts_ctx_new(&ctx), MTASTS_OK);
    ck_assert_ptr_nonnull(ctx);
    ck_assert_int_eq(mtasts_ctx_set_dns_txt_hook(ctx, dns_hook, &S), MTASTS_OK);
    ck_assert_int_eq(mtasts_ctx_set_https_get_hook(ctx, https_hook, &S),
                     MTASTS_OK);
    ck_assert_int_eq(mtasts_ctx_set_clock(ctx, fake_clock, &S), MTASTS_OK);
    return ctx;
}

static void
check_bad(int line)
{
    pthread_mutex_lock(&S.lock);
    char bad[sizeof(S.bad)];
    memcpy(bad, S.bad, sizeof(bad));
    pthread_mutex_unlock(&S.lock);
    ck_assert_msg(bad[0] == '\0', "line %d: %s", line, bad);
}

#define LOOKUP(ctx, domain) lookup_at(__LINE__, (ctx), (domain))

/* mtasts_lookup_result(), which must give a result equal to its status. */
static mtasts_result *
lookup_at(int line, mtasts_ctx *ctx, const char *domain)
{
    mtasts_result *r = NULL;
    int rc = mtasts_lookup_result(ctx, domain, &r);
    check_bad(line);
    ck_assert_msg(r != NULL, "line %d: lookup of %s gave %s and no result",
                  line, domain, mtasts_status_name(rc));
    ck_assert_msg(rc == mtasts_result_status(r),
                  "line %d: returned %s, result says %s", line,
                  mtasts_status_name(rc),
                  mtasts_status_name(mtasts_result_status(r)));
    return r;
}

#define CHECK(r, status, mode, failure)                                        \
    check_at(__LINE__, (r), (status), (mode), (failure))

/* The result's status, policy mode (NO_MODE: no policy) and reportable
 * failure, and the invariants between them. */
static void
check_at(int line, const mtasts_result *r, int status, int mode,
         mtasts_rpt_result failure)
{
    int got = mtasts_result_status(r);
    const char *reason = mtasts_result_reason(r);
    ck_assert_msg(got == status, "line %d: status %s, want %s (reason \"%s\")",
                  line, mtasts_status_name(got), mtasts_status_name(status),
                  reason);
    mtasts_policy *p = mtasts_result_policy(r);
    if (mode == NO_MODE) {
        ck_assert_msg(p == NULL, "line %d: a policy with status %s", line,
                      mtasts_status_name(got));
        ck_assert_msg(mtasts_result_expires(r) == 0,
                      "line %d: expires without a policy", line);
    } else {
        ck_assert_msg(p != NULL, "line %d: no policy", line);
        ck_assert_msg((int)mtasts_policy_mode(p) == mode,
                      "line %d: mode %s, want %s", line,
                      mtasts_mode_name(mtasts_policy_mode(p)),
                      mtasts_mode_name((mtasts_mode)mode));
        ck_assert_msg(mtasts_result_txt_id(r)[0] != '\0',
                      "line %d: a policy without an id", line);
    }
    ck_assert_msg(status == MTASTS_OK || reason[0] != '\0',
                  "line %d: failure %s without a reason", line,
                  mtasts_status_name(got));
    mtasts_rpt_result f = mtasts_result_failure(r);
    ck_assert_msg(f == failure, "line %d: failure %s, want %s (reason \"%s\")",
                  line, mtasts_rpt_result_name(f),
                  mtasts_rpt_result_name(failure), reason);
    ck_assert_msg(f == MTASTS_RPT_NONE || reason[0] != '\0',
                  "line %d: reportable failure without a reason", line);
}

#define EXPECT(ctx, domain, status, mode, failure)                             \
    expect_at(__LINE__, (ctx), (domain), (status), (mode), (failure))

static void
expect_at(int line, mtasts_ctx *ctx, const char *domain, int status, int mode,
          mtasts_rpt_result failure)
{
    mtasts_result *r = lookup_at(line, ctx, domain);
    check_at(line, r, status, mode, failure);
    mtasts_result_free(r);
}

#define IO(ndns, nhttps) io_at(__LINE__, (ndns), (nhttps))

/* The hooks have been called so many times in all. */
static void
io_at(int line, int ndns, int nhttps)
{
    pthread_mutex_lock(&S.lock);
    int d = S.ndns;
    int h = S.nhttps;
    pthread_mutex_unlock(&S.lock);
    ck_assert_msg(d == ndns && h == nhttps,
                  "line %d: %d DNS and %d HTTPS requests, want %d and %d", line,
                  d, h, ndns, nhttps);
}

static void
check_str(int line, const char *what, const char *got, const char *want)
{
    ck_assert_msg(strcmp(got, want) == 0, "line %d: %s \"%s\", want \"%s\"",
                  line, what, got, want);
}

#define CHECK_STR(what, got, want) check_str(__LINE__, (what), (got), (want))

/* Wait, boundedly, until pred (read under S.lock) holds. */
#define WAIT_UNTIL(pred)                                                       \
    do {                                                                       \
        struct timespec dl_;                                                   \
        clock_gettime(CLOCK_REALTIME, &dl_);                                   \
        dl_.tv_sec += WAIT_S;                                                  \
        pthread_mutex_lock(&S.lock);                                           \
        while (!(pred)) {                                                      \
            if (pthread_cond_timedwait(&S.cond, &S.lock, &dl_) == ETIMEDOUT) { \
                break;                                                         \
            }                                                                  \
        }                                                                      \
        bool ok_ = (pred);                                                     \
        pthread_mutex_unlock(&S.lock);                                         \
        ck_assert_msg(ok_, "line %d: timed out waiting for %s", __LINE__,      \
                      #pred);                                                  \
    } while (0)

static mtasts_req *
take_held_dns(void)
{
    WAIT_UNTIL(S.held_dns != NULL);
    pthread_mutex_lock(&S.lock);
    mtasts_req *req = S.held_dns;
    S.held_dns = NULL;
    pthread_mutex_unlock(&S.lock);
    return req;
}

static mtasts_req *
take_held_https(void)
{
    WAIT_UNTIL(S.held_https != NULL);
    pthread_mutex_lock(&S.lock);
    mtasts_req *req = S.held_https;
    S.held_https = NULL;
    pthread_mutex_unlock(&S.lock);
    return req;
}

/* A lookup callback that records what it got. */
struct cb_slot {
    int calls;
    int status;
    mtasts_policy *policy; /* one reference */
    char id[MTASTS_ID_BUFSIZE];
    mtasts_rpt_result failure;
    bool from_cache;
    char reason[256];
    pthread_t thread;
};

static void
record_cb(const mtasts_result *r, void *user)
{
    struct cb_slot *c = user;
    pthread_mutex_lock(&S.lock);
    c->calls++;
    c->status = mtasts_result_status(r);
    if (c->policy == NULL) {
        c->policy = mtasts_policy_ref(mtasts_result_policy(r));
    }
    snprintf(c->id, sizeof(c->id), "%s", mtasts_result_txt_id(r));
    c->failure = mtasts_result_failure(r);
    c->from_cache = mtasts_result_from_cache(r);
    snprintf(c->reason, sizeof(c->reason), "%s", mtasts_result_reason(r));
    c->thread = pthread_self();
    pthread_cond_broadcast(&S.cond);
    pthread_mutex_unlock(&S.lock);
}

static int
slot_calls(const struct cb_slot *c)
{
    pthread_mutex_lock(&S.lock);
    int n = c->calls;
    pthread_mutex_unlock(&S.lock);
    return n;
}

/* A policy of exactly len bytes (len >= 80): POL_ENFORCE and one extension
 * field that pads it. */
static char *
sized_policy(size_t len)
{
    static const char head[] = POL_ENFORCE "x: ";
    size_t h = sizeof(head) - 1;
    ck_assert_uint_ge(len, h + 2);
    char *p = malloc(len);
    ck_assert_ptr_nonnull(p);
    memcpy(p, head, h);
    memset(p + h, 'a', len - h - 1);
    p[len - 1] = '\n';
    return p;
}

/* A lookup that fills the cache with POL_ENFORCE under ID_A at the current
 * time; the hooks are then called once more each. */
static void
prime_cache(mtasts_ctx *ctx, const char *domain)
{
    serve_txt(TXT_A);
    serve_http(200, "text/plain", POL_ENFORCE);
    mtasts_result *r = LOOKUP(ctx, domain);
    CHECK(r, MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
    CHECK_STR("id", mtasts_result_txt_id(r), ID_A);
    ck_assert(!mtasts_result_from_cache(r));
    mtasts_result_free(r);
}

/* ---- table rows ---------------------------------------------------------- */

static mtasts_rpt_result
row_failure(const struct td_file *f, const struct td_row *r, size_t field)
{
    for (int i = 0; i <= MTASTS_RPT_STS_WEBPKI_INVALID; i++) {
        if (strcmp(r->field[field],
                   mtasts_rpt_result_name((mtasts_rpt_result)i)) == 0) {
            return (mtasts_rpt_result)i;
        }
    }
    ck_abort_msg(ROW "unknown result type \"%s\"", ROW_ARGS(f, r),
                 r->field[field]);
    return MTASTS_RPT_NONE;
}

static mtasts_dns_rcode
row_rcode(const struct td_file *f, const struct td_row *r, size_t field)
{
    static const struct {
        const char *name;
        mtasts_dns_rcode rcode;
    } names[] = {
        {"ANSWER", MTASTS_DNS_ANSWER},
        {"NXDOMAIN", MTASTS_DNS_NXDOMAIN},
        {"NODATA", MTASTS_DNS_NODATA},
        {"TEMPFAIL", MTASTS_DNS_TEMPFAIL},
    };
    for (size_t i = 0; i < ARRAY_LEN(names); i++) {
        if (strcmp(r->field[field], names[i].name) == 0) {
            return names[i].rcode;
        }
    }
    ck_abort_msg(ROW "unknown rcode \"%s\"", ROW_ARGS(f, r), r->field[field]);
    return MTASTS_DNS_ANSWER;
}

/* Serve the row's TXT answer (fields 5...). */
static void
serve_txt_row(const struct td_file *f, const struct td_row *r)
{
    mtasts_dns_rcode rcode = row_rcode(f, r, 1);
    ck_assert_msg(r->nfields - 4 <= MAX_RECORDS, ROW "too many records",
                  ROW_ARGS(f, r));
    pthread_mutex_lock(&S.lock);
    S.rcode = rcode;
    S.ntxt = r->nfields - 4;
    for (size_t i = 0; i < S.ntxt; i++) {
        S.txt[i] = r->field[4 + i];
        S.txt_len[i] = r->len[4 + i];
    }
    pthread_mutex_unlock(&S.lock);
}

/* The mode of a named body, or NO_MODE. */
static int
body_mode(const char *body)
{
    if (strcmp(body, "@enforce") == 0) {
        return MTASTS_MODE_ENFORCE;
    }
    if (strcmp(body, "@testing") == 0) {
        return MTASTS_MODE_TESTING;
    }
    if (strcmp(body, "@none") == 0) {
        return MTASTS_MODE_NONE;
    }
    return NO_MODE;
}

/* Serve the row's HTTPS outcome. */
static void
serve_fetch_row(const struct td_file *f, const struct td_row *r)
{
    static const char *const bodies[] = {POL_ENFORCE, POL_TESTING, POL_NONE};
    const char *t = r->field[1];
    enum transport transport = TR_OK;
    int hook_rc = MTASTS_OK;
    if (strcmp(t, "FETCH") == 0) {
        transport = TR_FETCH;
    } else if (strcmp(t, "LATE") == 0) {
        transport = TR_LATE;
    } else if (strcmp(t, "WEBPKI") == 0) {
        transport = TR_WEBPKI;
    } else if (strcmp(t, "NOHEAD") == 0) {
        transport = TR_NOHEAD;
    } else if (strcmp(t, "HOOK") == 0) {
        hook_rc = MTASTS_ERR_IO;
    } else {
        ck_assert_msg(strcmp(t, "OK") == 0, ROW "unknown transport \"%s\"",
                      ROW_ARGS(f, r), t);
    }
    const char *body = r->field[4];
    size_t len = r->len[4];
    int mode = body_mode(body);
    if (mode == MTASTS_MODE_ENFORCE) {
        body = bodies[0];
    } else if (mode == MTASTS_MODE_TESTING) {
        body = bodies[1];
    } else if (mode == MTASTS_MODE_NONE) {
        body = bodies[2];
    }
    if (mode != NO_MODE) {
        len = strlen(body);
    }
    pthread_mutex_lock(&S.lock);
    S.transport = transport;
    S.https_hook_rc = hook_rc;
    S.http_status = (unsigned)strtoul(r->field[2], NULL, 10);
    S.content_type = strcmp(r->field[3], "(absent)") == 0 ? NULL : r->field[3];
    S.body = body;
    S.body_len = len;
    pthread_mutex_unlock(&S.lock);
}

/* ---- case "table" -------------------------------------------------------- */

/* R8461-3.1-c..p, R8461-3.1-o, R8461-3.3-m, R8461-3-b, R8461-6-b: every row
 * of engine_txt_cases.tsv with nothing cached and with a cached policy. */
START_TEST(test_engine_txt_table)
{
    const struct td_file *f = &txt_table;
    const struct td_row *r = &f->row[_i];
    int want = td_status(f, r, 2);
    const char *want_id = r->field[3];

    /* nothing cached: R8461-3.1-d, -e (no HTTPS request), R8461-3.1-p */
    mtasts_ctx *ctx = new_ctx();
    serve_txt_row(f, r);
    mtasts_result *res = LOOKUP(ctx, DOMAIN);
    ck_assert_msg(mtasts_result_status(res) == want,
                  ROW "nothing cached: %s, want %s (%s)", ROW_ARGS(f, r),
                  mtasts_status_name(mtasts_result_status(res)),
                  mtasts_status_name(want), mtasts_result_reason(res));
    if (want == MTASTS_OK) {
        CHECK(res, MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
        CHECK_STR("id", mtasts_result_txt_id(res), want_id);
        IO(1, 1);
    } else {
        CHECK(res, want, NO_MODE, MTASTS_RPT_NONE);
        CHECK_STR("id", mtasts_result_txt_id(res), "");
        IO(1, 0);
    }
    mtasts_result_free(res);
    mtasts_ctx_free(ctx);

    /* cached enforce policy (id aaa1), TXT checked on every lookup */
    rescript();
    ctx = new_ctx();
    ck_assert_int_eq(mtasts_ctx_set_txt_check_interval_s(ctx, 0), MTASTS_OK);
    prime_cache(ctx, DOMAIN);
    set_now(T0 + 10);
    serve_txt_row(f, r);
    serve_http(200, "text/plain", POL_TESTING);
    res = LOOKUP(ctx, DOMAIN);
    if (want == MTASTS_OK) {
        /* a new id: fetched, replaces the cached policy (R8461-3-b) */
        CHECK(res, MTASTS_OK, MTASTS_MODE_TESTING, MTASTS_RPT_NONE);
        CHECK_STR("id", mtasts_result_txt_id(res), want_id);
        ck_assert(!mtasts_result_from_cache(res));
        IO(2, 2);
    } else {
        /* R8461-3.1-o, R8461-3.3-m, R8461-6-b */
        CHECK(res, MTASTS_OK, MTASTS_MODE_ENFORCE,
              MTASTS_RPT_STS_POLICY_FETCH_ERROR);
        CHECK_STR("id", mtasts_result_txt_id(res), ID_A);
        ck_assert(mtasts_result_from_cache(res));
        ck_assert_int_eq(mtasts_result_expires(res), T0 + DAY);
        IO(2, 1);
        /* the entry is still there, unshortened */
        mtasts_result_free(res);
        set_now(T0 + DAY - 1);
        res = LOOKUP(ctx, DOMAIN);
        CHECK(res, MTASTS_OK, MTASTS_MODE_ENFORCE,
              MTASTS_RPT_STS_POLICY_FETCH_ERROR);
        ck_assert_int_eq(mtasts_result_expires(res), T0 + DAY);
        IO(3, 1);
        /* once it has expired the TXT record is asked again: the failed
         * checks left no "no policy" memory behind */
        mtasts_result_free(res);
        set_now(T0 + DAY);
        serve_txt(TXT_A);
        serve_http(200, "text/plain", POL_ENFORCE);
        res = LOOKUP(ctx, DOMAIN);
        CHECK(res, MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
        ck_assert(!mtasts_result_from_cache(res));
        IO(4, 2);
    }
    mtasts_result_free(res);
    mtasts_ctx_free(ctx);
}
END_TEST

/* R8461-3.2-b, -c, R8461-3.3-g, -h, -l, -m, -n, R8461-3-b, R8461-8.3-a,
 * R8461-6-a, -b: every row of engine_fetch_cases.tsv with nothing cached and
 * with a cached policy. */
START_TEST(test_engine_fetch_table)
{
    const struct td_file *f = &fetch_table;
    const struct td_row *r = &f->row[_i];
    int want = td_status(f, r, 5);
    mtasts_rpt_result want_failure = row_failure(f, r, 6);
    const char *want_code = r->field[7];
    int mode = body_mode(r->field[4]);
    ck_assert_msg(want != MTASTS_OK || mode != NO_MODE,
                  ROW "bad row: MTASTS_OK needs a named policy",
                  ROW_ARGS(f, r));

    /* nothing cached: R8461-3.3-l, R8461-6-a */
    mtasts_ctx *ctx = new_ctx();
    serve_fetch_row(f, r);
    mtasts_result *res = LOOKUP(ctx, DOMAIN);
    ck_assert_msg(mtasts_result_status(res) == want,
                  ROW "nothing cached: %s, want %s (%s)", ROW_ARGS(f, r),
                  mtasts_status_name(mtasts_result_status(res)),
                  mtasts_status_name(want), mtasts_result_reason(res));
    CHECK(res, want, want == MTASTS_OK ? mode : NO_MODE, want_failure);
    CHECK_STR("id", mtasts_result_txt_id(res), ID_A);
    CHECK_STR("reason code", mtasts_result_reason_code(res), want_code);
    ck_assert(!mtasts_result_from_cache(res));
    IO(1, 1);
    if (want == MTASTS_OK) {
        ck_assert_int_eq(mtasts_result_expires(res), T0 + DAY);
    }
    mtasts_result_free(res);
    mtasts_ctx_free(ctx);

    /* cached enforce policy (id aaa1), TXT now id bbb2 */
    rescript();
    ctx = new_ctx();
    prime_cache(ctx, DOMAIN);
    set_now(T0 + 600); /* the TXT check is due */
    serve_txt(TXT_B);
    serve_fetch_row(f, r);
    res = LOOKUP(ctx, DOMAIN);
    IO(2, 2);
    if (want == MTASTS_OK) {
        /* R8461-3-b, R8461-8.3-a: replaced, even by a weaker policy */
        CHECK(res, MTASTS_OK, mode, MTASTS_RPT_NONE);
        CHECK_STR("id", mtasts_result_txt_id(res), ID_B);
        ck_assert(!mtasts_result_from_cache(res));
        ck_assert_int_eq(mtasts_result_expires(res), T0 + 600 + DAY);
    } else {
        /* R8461-3.3-m, -n: the cached policy still applies, and the
         * failure is reportable (R8461-6-b) */
        CHECK(res, MTASTS_OK, MTASTS_MODE_ENFORCE, want_failure);
        CHECK_STR("id", mtasts_result_txt_id(res), ID_A);
        CHECK_STR("reason code", mtasts_result_reason_code(res), want_code);
        ck_assert(mtasts_result_from_cache(res));
        ck_assert_int_eq(mtasts_result_expires(res), T0 + DAY);
    }
    mtasts_result_free(res);
    mtasts_ctx_free(ctx);
}
END_TEST

/* ---- case "discovery" ---------------------------------------------------- */

/* R8461-3.2-a, R8461-3.1-a: the first lookup queries _mta-sts.<domain> and
 * fetches https://mta-sts.<domain>:443/.well-known/mta-sts.txt; another port
 * when one is set. */
START_TEST(test_engine_first_fetch)
{
    mtasts_ctx *ctx = new_ctx();
    mtasts_result *r = LOOKUP(ctx, DOMAIN);
    CHECK(r, MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
    IO(1, 1);
    CHECK_STR("DNS name", S.dns_name, "_mta-sts.example.com");
    CHECK_STR("host", S.https_host, "mta-sts.example.com");
    CHECK_STR("path", S.https_path, "/.well-known/mta-sts.txt");
    ck_assert_uint_eq(S.https_port, 443);
    CHECK_STR("domain", mtasts_result_domain(r), DOMAIN);
    CHECK_STR("id", mtasts_result_txt_id(r), ID_A);
    CHECK_STR("reason", mtasts_result_reason(r), "");
    ck_assert(!mtasts_result_from_cache(r));
    ck_assert_int_eq(mtasts_result_expires(r), T0 + DAY);
    mtasts_policy *p = mtasts_result_policy(r);
    ck_assert_uint_eq(mtasts_policy_max_age(p), DAY);
    ck_assert_uint_eq(mtasts_policy_mx_count(p), 1);
    CHECK_STR("mx", mtasts_policy_mx(p, 0), "mx.example.com");
    mtasts_result_free(r);

    /* the blocking call gives the same policy, now from the cache */
    p = NULL;
    ck_assert_int_eq(mtasts_lookup(ctx, DOMAIN, &p), MTASTS_OK);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(mtasts_policy_mode(p), MTASTS_MODE_ENFORCE);
    mtasts_policy_unref(p);
    IO(1, 1);
    mtasts_ctx_free(ctx);

    /* the port set for tests */
    rescript();
    ctx = new_ctx();
    ck_assert_int_eq(mtasts_ctx_set_https_port(ctx, 8443), MTASTS_OK);
    EXPECT(ctx, "example.org", MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
    IO(1, 1);
    CHECK_STR("DNS name", S.dns_name, "_mta-sts.example.org");
    CHECK_STR("host", S.https_host, "mta-sts.example.org");
    CHECK_STR("path", S.https_path, "/.well-known/mta-sts.txt");
    ck_assert_uint_eq(S.https_port, 8443);
    mtasts_ctx_free(ctx);
}
END_TEST

/* R8461-3-a: an unexpired cached policy with the same TXT id is not fetched
 * again. */
START_TEST(test_engine_same_id_no_fetch)
{
    mtasts_ctx *ctx = new_ctx();
    ck_assert_int_eq(mtasts_ctx_set_txt_check_interval_s(ctx, 0), MTASTS_OK);
    prime_cache(ctx, DOMAIN);
    IO(1, 1);
    for (int i = 1; i <= 3; i++) {
        set_now(T0 + i * 1000);
        mtasts_result *r = LOOKUP(ctx, DOMAIN);
        CHECK(r, MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
        CHECK_STR("id", mtasts_result_txt_id(r), ID_A);
        ck_assert(mtasts_result_from_cache(r));
        ck_assert_int_eq(mtasts_result_expires(r), T0 + DAY);
        mtasts_result_free(r);
        IO(1 + i, 1);
    }
    mtasts_ctx_free(ctx);
}
END_TEST

/* R8461-3-b, R8461-8.3-a: a new id is fetched and replaces the cached
 * policy, even with a weaker one (mode none, fewer mx); the none policy is
 * then cached and applied like any other. */
START_TEST(test_engine_new_id_replaces)
{
    mtasts_ctx *ctx = new_ctx();
    ck_assert_int_eq(mtasts_ctx_set_txt_check_interval_s(ctx, 0), MTASTS_OK);
    prime_cache(ctx, DOMAIN);

    /* testing with other mx */
    set_now(T0 + 100);
    serve_txt(TXT_B);
    serve_http(200, "text/plain", POL_TESTING);
    mtasts_result *r = LOOKUP(ctx, DOMAIN);
    CHECK(r, MTASTS_OK, MTASTS_MODE_TESTING, MTASTS_RPT_NONE);
    CHECK_STR("id", mtasts_result_txt_id(r), ID_B);
    ck_assert(!mtasts_result_from_cache(r));
    ck_assert_int_eq(mtasts_result_expires(r), T0 + 100 + DAY);
    ck_assert(
        !mtasts_policy_match_mx(mtasts_result_policy(r), "mx.example.com"));
    mtasts_result_free(r);
    IO(2, 2);

    /* none, no mx at all */
    set_now(T0 + 200);
    serve_txt("v=STSv1; id=ccc3");
    serve_http(200, "text/plain", POL_NONE);
    r = LOOKUP(ctx, DOMAIN);
    CHECK(r, MTASTS_OK, MTASTS_MODE_NONE, MTASTS_RPT_NONE);
    CHECK_STR("id", mtasts_result_txt_id(r), "ccc3");
    ck_assert_uint_eq(mtasts_policy_mx_count(mtasts_result_policy(r)), 0);
    mtasts_result_free(r);
    IO(3, 3);

    /* later lookups apply none until it expires */
    set_now(T0 + 200 + DAY - 1);
    r = LOOKUP(ctx, DOMAIN);
    CHECK(r, MTASTS_OK, MTASTS_MODE_NONE, MTASTS_RPT_NONE);
    ck_assert(mtasts_result_from_cache(r));
    mtasts_result_free(r);
    IO(4, 3);
    mtasts_ctx_free(ctx);
}
END_TEST

/* R8461-3.2-s: a policy fetched at t0 with max_age m is used until t0+m-1
 * and not at t0+m (the documented boundary: expires = fetched_at + max_age,
 * usable while now < expires). */
START_TEST(test_engine_expiry_boundary)
{
    mtasts_ctx *ctx = new_ctx();
    ck_assert_int_eq(mtasts_ctx_set_txt_check_interval_s(ctx, DAY), MTASTS_OK);
    prime_cache(ctx, DOMAIN);
    set_now(T0 + DAY - 1);
    mtasts_result *r = LOOKUP(ctx, DOMAIN);
    CHECK(r, MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
    ck_assert(mtasts_result_from_cache(r));
    mtasts_result_free(r);
    IO(1, 1); /* not even a TXT query */

    set_now(T0 + DAY);
    r = LOOKUP(ctx, DOMAIN);
    CHECK(r, MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
    ck_assert(!mtasts_result_from_cache(r)); /* fetched again, same id */
    ck_assert_int_eq(mtasts_result_expires(r), T0 + 2 * DAY);
    mtasts_result_free(r);
    IO(2, 2);
    mtasts_ctx_free(ctx);
}
END_TEST

enum refresh_failure {
    RF_TEMPFAIL,
    RF_NXDOMAIN,
    RF_NODATA,
    RF_TXT_INVALID,
    RF_TXT_TWO,
    RF_DNS_HOOK,
    RF_HTTP_500,
    RF_FETCH,
    RF_WEBPKI,
    RF_POLICY_INVALID,
    RF_HTTPS_HOOK,
    RF_COUNT
};

/* Make every refresh fail in one way; the status a lookup then gives with
 * nothing usable cached. */
static int
fail_refresh(enum refresh_failure k)
{
    static const char *const two[] = {TXT_A, TXT_B};
    serve_txt(TXT_B); /* a new id: the fetch kinds need one */
    switch (k) {
    case RF_TEMPFAIL:
        serve_rcode(MTASTS_DNS_TEMPFAIL);
        return MTASTS_ERR_DNS_TEMPFAIL;
    case RF_NXDOMAIN:
        serve_rcode(MTASTS_DNS_NXDOMAIN);
        return MTASTS_ERR_NO_POLICY;
    case RF_NODATA:
        serve_rcode(MTASTS_DNS_NODATA);
        return MTASTS_ERR_NO_POLICY;
    case RF_TXT_INVALID:
        serve_txt("v=STSv1; id=bb-2");
        return MTASTS_ERR_NO_POLICY;
    case RF_TXT_TWO:
        pthread_mutex_lock(&S.lock);
        for (size_t i = 0; i < 2; i++) {
            S.txt[i] = two[i];
            S.txt_len[i] = strlen(two[i]);
        }
        S.ntxt = 2;
        pthread_mutex_unlock(&S.lock);
        return MTASTS_ERR_NO_POLICY;
    case RF_DNS_HOOK:
        S.dns_hook_rc = MTASTS_ERR_IO;
        return MTASTS_ERR_DNS_TEMPFAIL;
    case RF_HTTP_500:
        serve_http(500, "text/plain", POL_ENFORCE);
        return MTASTS_ERR_FETCH;
    case RF_FETCH:
        serve_transport(TR_FETCH);
        return MTASTS_ERR_FETCH;
    case RF_WEBPKI:
        serve_transport(TR_WEBPKI);
        return MTASTS_ERR_WEBPKI;
    case RF_POLICY_INVALID:
        serve_http(200, "text/plain", POL_INVALID);
        return MTASTS_ERR_POLICY_INVALID;
    case RF_HTTPS_HOOK:
        S.https_hook_rc = MTASTS_ERR_IO;
        return MTASTS_ERR_FETCH;
    default:
        ck_abort();
        return 0;
    }
}

/* R8461-5.1-a, R8461-3.3-m: while unexpired, a cached policy survives every
 * kind of refresh failure; once expired it is never used, even when every
 * refresh fails. */
START_TEST(test_engine_expired_never_used)
{
    static const char pol[] =
        "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 100\n";
    for (int k = 0; k < RF_COUNT; k++) {
        rescript();
        mtasts_ctx *ctx = new_ctx();
        ck_assert_int_eq(mtasts_ctx_set_txt_check_interval_s(ctx, 0),
                         MTASTS_OK);
        ck_assert_int_eq(mtasts_ctx_set_fetch_backoff_s(ctx, 0), MTASTS_OK);
        ck_assert_int_eq(mtasts_ctx_set_no_policy_ttl_s(ctx, 0), MTASTS_OK);
        serve_http(200, "text/plain", pol);
        EXPECT(ctx, DOMAIN, MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
        int want = fail_refresh((enum refresh_failure)k);

        set_now(T0 + 99);
        mtasts_result *r = LOOKUP(ctx, DOMAIN);
        ck_assert_msg(mtasts_result_status(r) == MTASTS_OK &&
                          mtasts_policy_mode(mtasts_result_policy(r)) ==
                              MTASTS_MODE_ENFORCE,
                      "failure kind %d at t0+99: %s", k,
                      mtasts_result_reason(r));
        ck_assert_msg(mtasts_result_failure(r) != MTASTS_RPT_NONE,
                      "failure kind %d at t0+99 not reported", k);
        ck_assert(mtasts_result_from_cache(r));
        mtasts_result_free(r);

        set_now(T0 + 100);
        r = LOOKUP(ctx, DOMAIN);
        ck_assert_msg(mtasts_result_status(r) == want,
                      "failure kind %d at t0+100: %s, want %s (%s)", k,
                      mtasts_status_name(mtasts_result_status(r)),
                      mtasts_status_name(want), mtasts_result_reason(r));
        ck_assert_ptr_null(mtasts_result_policy(r));
        mtasts_result_free(r);
        mtasts_policy *p = (mtasts_policy *)&S; /* must be overwritten */
        ck_assert_int_eq(mtasts_lookup(ctx, DOMAIN, &p), want);
        ck_assert_ptr_null(p);
        mtasts_ctx_free(ctx);
    }
}
END_TEST

/* R8461-3.2-t, E-11: TXT checks that find the same id do not extend the
 * lifetime; only a successful fetch would. */
START_TEST(test_engine_txt_check_no_extend)
{
    mtasts_ctx *ctx = new_ctx();
    ck_assert_int_eq(mtasts_ctx_set_txt_check_interval_s(ctx, 3600), MTASTS_OK);
    prime_cache(ctx, DOMAIN);
    for (int h = 1; h < 24; h++) {
        set_now(T0 + h * 3600);
        mtasts_result *r = LOOKUP(ctx, DOMAIN);
        CHECK(r, MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
        ck_assert(mtasts_result_from_cache(r));
        ck_assert_int_eq(mtasts_result_expires(r), T0 + DAY);
        mtasts_result_free(r);
        IO(1 + h, 1);
    }
    /* at t0 + 1 day it has expired: the refresh fails and nothing applies */
    set_now(T0 + DAY);
    serve_http(500, "text/plain", POL_ENFORCE);
    EXPECT(ctx, DOMAIN, MTASTS_ERR_FETCH, NO_MODE,
           MTASTS_RPT_STS_POLICY_FETCH_ERROR);
    IO(25, 2);
    mtasts_ctx_free(ctx);
}
END_TEST

/* R8461-3.1-p, E-12: a temporary DNS failure with nothing cached is
 * MTASTS_ERR_DNS_TEMPFAIL, a temporary status, with no HTTPS request and
 * nothing reportable (no valid TXT record was seen); it is not remembered. */
START_TEST(test_engine_dns_tempfail_no_cache)
{
    mtasts_ctx *ctx = new_ctx();
    serve_rcode(MTASTS_DNS_TEMPFAIL);
    mtasts_result *r = LOOKUP(ctx, DOMAIN);
    CHECK(r, MTASTS_ERR_DNS_TEMPFAIL, NO_MODE, MTASTS_RPT_NONE);
    ck_assert_ptr_nonnull(strstr(mtasts_result_reason(r), "SERVFAIL"));
    CHECK_STR("id", mtasts_result_txt_id(r), "");
    mtasts_result_free(r);
    IO(1, 0);
    ck_assert(mtasts_status_is_temporary(MTASTS_ERR_DNS_TEMPFAIL));

    mtasts_policy *p = (mtasts_policy *)&S;
    ck_assert_int_eq(mtasts_lookup(ctx, DOMAIN, &p), MTASTS_ERR_DNS_TEMPFAIL);
    ck_assert_ptr_null(p);
    IO(2, 0);

    /* the next lookup asks again and succeeds */
    serve_txt(TXT_A);
    EXPECT(ctx, DOMAIN, MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
    IO(3, 1);
    mtasts_ctx_free(ctx);
}
END_TEST

/* R8461-3.3-m, R8461-6-b: a temporary DNS failure with a cached policy gives
 * that policy and reports sts-policy-fetch-error, unless its mode is none. */
START_TEST(test_engine_dns_tempfail_cache)
{
    static const struct {
        const char *body;
        mtasts_mode mode;
        mtasts_rpt_result failure;
    } cases[] = {
        {POL_ENFORCE, MTASTS_MODE_ENFORCE, MTASTS_RPT_STS_POLICY_FETCH_ERROR},
        {POL_TESTING, MTASTS_MODE_TESTING, MTASTS_RPT_STS_POLICY_FETCH_ERROR},
        {POL_NONE, MTASTS_MODE_NONE, MTASTS_RPT_NONE},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        rescript();
        mtasts_ctx *ctx = new_ctx();
        serve_http(200, "text/plain", cases[i].body);
        EXPECT(ctx, DOMAIN, MTASTS_OK, (int)cases[i].mode, MTASTS_RPT_NONE);
        set_now(T0 + 600);
        serve_rcode(MTASTS_DNS_TEMPFAIL);
        mtasts_result *r = LOOKUP(ctx, DOMAIN);
        CHECK(r, MTASTS_OK, (int)cases[i].mode, cases[i].failure);
        ck_assert(mtasts_result_from_cache(r));
        CHECK_STR("id", mtasts_result_txt_id(r), ID_A);
        ck_assert_int_eq(mtasts_result_expires(r), T0 + DAY);
        mtasts_result_free(r);
        IO(2, 1);

        mtasts_policy *p = NULL;
        set_now(T0 + 1200);
        ck_assert_int_eq(mtasts_lookup(ctx, DOMAIN, &p), MTASTS_OK);
        ck_assert_int_eq(mtasts_policy_mode(p), cases[i].mode);
        mtasts_policy_unref(p);
        mtasts_ctx_free(ctx);
    }
    rescript();
}
END_TEST

/* R8461-3.3-n, R8461-6-a: an invalid new policy never replaces the cached
 * one; the failure is reported; the cached policy keeps its lifetime. */
START_TEST(test_engine_invalid_never_replaces)
{
    mtasts_ctx *ctx = new_ctx();
    ck_assert_int_eq(mtasts_ctx_set_txt_check_interval_s(ctx, 0), MTASTS_OK);
    prime_cache(ctx, DOMAIN);
    set_now(T0 + 10);
    serve_txt(TXT_B);
    serve_http(200, "text/plain", POL_INVALID);
    mtasts_result *r = LOOKUP(ctx, DOMAIN);
    CHECK(r, MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_STS_POLICY_INVALID);
    CHECK_STR("id", mtasts_result_txt_id(r), ID_A);
    ck_assert_int_eq(mtasts_result_expires(r), T0 + DAY);
    mtasts_result_free(r);
    IO(2, 2);

    /* the TXT record back at the cached id: no fetch, nothing reported */
    set_now(T0 + 20);
    serve_txt(TXT_A);
    EXPECT(ctx, DOMAIN, MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
    IO(3, 2);
    mtasts_ctx_free(ctx);
}
END_TEST

/* R8461-3.2-u, E-19: a max_age 0 policy applies to the lookup that fetched
 * it, and the next lookup fetches again. */
START_TEST(test_engine_max_age_zero)
{
    static const char pol[] =
        "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 0\n";
    mtasts_ctx *ctx = new_ctx();
    serve_http(200, "text/plain", pol);
    mtasts_result *r = LOOKUP(ctx, DOMAIN);
    CHECK(r, MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
    ck_assert_uint_eq(mtasts_policy_max_age(mtasts_result_policy(r)), 0);
    ck_assert_int_eq(mtasts_result_expires(r), T0);
    ck_assert(!mtasts_result_from_cache(r));
    mtasts_result_free(r);
    IO(1, 1);
    EXPECT(ctx, DOMAIN, MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
    IO(2, 2);
    /* and a failing refetch leaves nothing to apply */
    serve_http(500, "text/plain", pol);
    EXPECT(ctx, DOMAIN, MTASTS_ERR_FETCH, NO_MODE,
           MTASTS_RPT_STS_POLICY_FETCH_ERROR);
    IO(3, 3);
    mtasts_ctx_free(ctx);
}
END_TEST

/* R8461-3.2-j, E-3: a max_age above 31557600 is clamped, and the clamped
 * value is the lifetime. */
START_TEST(test_engine_max_age_clamp)
{
    static const char pol[] = "version: STSv1\nmode: enforce\n"
                              "mx: mx.example.com\nmax_age: 9999999999\n";
    mtasts_ctx *ctx = new_ctx();
    ck_assert_int_eq(mtasts_ctx_set_txt_check_interval_s(ctx, DAY), MTASTS_OK);
    serve_http(200, "text/plain", pol);
    mtasts_result *r = LOOKUP(ctx, DOMAIN);
    CHECK(r, MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
    mtasts_policy *p = mtasts_result_policy(r);
    ck_assert_uint_eq(mtasts_policy_max_age(p), MTASTS_MAX_AGE_MAX);
    ck_assert_uint_eq(mtasts_policy_warnings(p),
                      MTASTS_POLICY_WARN_MAX_AGE_CLAMPED);
    ck_assert_int_eq(mtasts_result_expires(r), T0 + MTASTS_MAX_AGE_MAX);
    mtasts_result_free(r);

    set_now(T0 + MTASTS_MAX_AGE_MAX - 1);
    r = LOOKUP(ctx, DOMAIN);
    CHECK(r, MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
    ck_assert(mtasts_result_from_cache(r));
    mtasts_result_free(r);
    IO(2, 1);
    set_now(T0 + MTASTS_MAX_AGE_MAX);
    r = LOOKUP(ctx, DOMAIN);
    CHECK(r, MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
    ck_assert(!mtasts_result_from_cache(r));
    ck_assert_int_eq(mtasts_result_expires(r), T0 + 2 * MTASTS_MAX_AGE_MAX);
    mtasts_result_free(r);
    IO(3, 2);
    mtasts_ctx_free(ctx);
}
END_TEST

/* ---- case "domains" ------------------------------------------------------ */

static void
never_cb(const mtasts_result *r, void *user)
{
    (void)r;
    (void)user;
    note_bad("a callback ran after mtasts_lookup_async() failed");
}

/* A domain the lookups refuse, with no DNS query and no callback. */
static void
expect_refused(mtasts_ctx *ctx, const char *domain, int want)
{
    pthread_mutex_lock(&S.lock);
    int ndns = S.ndns;
    int nhttps = S.nhttps;
    pthread_mutex_unlock(&S.lock);
    ck_assert_int_eq(mtasts_lookup_async(ctx, domain, never_cb, NULL), want);
    mtasts_policy *p = (mtasts_policy *)&S;
    ck_assert_int_eq(mtasts_lookup(ctx, domain, &p), want);
    ck_assert_ptr_null(p);
    mtasts_result *r = (mtasts_result *)&S;
    ck_assert_int_eq(mtasts_lookup_result(ctx, domain, &r), want);
    ck_assert_ptr_null(r);
    check_bad(__LINE__);
    IO(ndns, nhttps);
}

/* R8461-3.4-b: address literals have no policy: MTASTS_ERR_BAD_DOMAIN and no
 * DNS query; other names that are no host names alike. */
START_TEST(test_engine_address_literal)
{
    mtasts_ctx *ctx = new_ctx();
    expect_refused(ctx, "[192.0.2.1]", MTASTS_ERR_BAD_DOMAIN);
    expect_refused(ctx, "[IPv6:2001:db8::1]", MTASTS_ERR_BAD_DOMAIN);
    expect_refused(ctx, "", MTASTS_ERR_BAD_DOMAIN);
    expect_refused(ctx, ".", MTASTS_ERR_BAD_DOMAIN);
    expect_refused(ctx, "example..com", MTASTS_ERR_BAD_DOMAIN);
    expect_refused(ctx, "example.com..", MTASTS_ERR_BAD_DOMAIN);
    expect_refused(ctx, "_mta-sts.example.com", MTASTS_ERR_BAD_DOMAIN);
    expect_refused(ctx, "user@example.com", MTASTS_ERR_BAD_DOMAIN);
    ck_assert(mtasts_status_is_bad_input(MTASTS_ERR_BAD_DOMAIN));
    mtasts_ctx_free(ctx);
}
END_TEST

/* Non-ASCII names must be given as A-labels: MTASTS_ERR_NOT_ASCII, no DNS. */
START_TEST(test_engine_not_ascii)
{
    mtasts_ctx *ctx = new_ctx();
    expect_refused(ctx,
                   "b\xc3\xbc"
                   "cher.example",
                   MTASTS_ERR_NOT_ASCII);
    expect_refused(ctx, "example.c\xc3\xb6m", MTASTS_ERR_NOT_ASCII);
    /* the A-label form works */
    EXPECT(ctx, "xn--bcher-kva.example", MTASTS_OK, MTASTS_MODE_ENFORCE,
           MTASTS_RPT_NONE);
    CHECK_STR("DNS name", S.dns_name, "_mta-sts.xn--bcher-kva.example");
    CHECK_STR("host", S.https_host, "mta-sts.xn--bcher-kva.example");
    mtasts_ctx_free(ctx);
}
END_TEST

/* R8461-3.4-c: mail.example.com never looks at example.com's policy. */
START_TEST(test_engine_no_parent)
{
    mtasts_ctx *ctx = new_ctx();
    S.only_name = "_mta-sts.example.com";
    EXPECT(ctx, "mail.example.com", MTASTS_ERR_NO_POLICY, NO_MODE,
           MTASTS_RPT_NONE);
    IO(1, 0);
    CHECK_STR("DNS name", S.dns_name, "_mta-sts.mail.example.com");
    mtasts_ctx_free(ctx);
}
END_TEST

/* R8461-3.1-a: the name is lower-cased and loses its trailing dot, for the
 * query, the policy host and the cache key. */
START_TEST(test_engine_normalise)
{
    mtasts_ctx *ctx = new_ctx();
    mtasts_result *r = LOOKUP(ctx, "EXAMPLE.com.");
    CHECK(r, MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
    CHECK_STR("domain", mtasts_result_domain(r), DOMAIN);
    mtasts_result_free(r);
    IO(1, 1);
    CHECK_STR("DNS name", S.dns_name, "_mta-sts.example.com");
    CHECK_STR("host", S.https_host, "mta-sts.example.com");
    static const char *const same[] = {"example.com", "Example.Com",
                                       "EXAMPLE.COM.", "example.com."};
    for (size_t i = 0; i < ARRAY_LEN(same); i++) {
        r = LOOKUP(ctx, same[i]);
        CHECK(r, MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
        ck_assert(mtasts_result_from_cache(r));
        CHECK_STR("domain", mtasts_result_domain(r), DOMAIN);
        mtasts_result_free(r);
    }
    IO(1, 1);
    mtasts_ctx_free(ctx);
}
END_TEST

/* The longest domain (253 bytes): a query name of 262 bytes and a policy
 * host of 261 reach the hooks whole; failure reasons naming them are cut to
 * fit the result. One byte more is no domain. */
START_TEST(test_engine_long_domain)
{
    char name[MTASTS_DOMAIN_BUFSIZE + 1];
    for (size_t i = 0; i < 254; i++) {
        name[i] = i % 64 == 63 ? '.' : 'a' + (char)(i % 26);
    }
    name[253] = '\0'; /* 3 labels of 63, one of 61 */
    char want[NAME_BUF];
    mtasts_ctx *ctx = new_ctx();
    ck_assert_int_eq(mtasts_ctx_set_fetch_backoff_s(ctx, 0), MTASTS_OK);
    mtasts_result *r = LOOKUP(ctx, name);
    CHECK(r, MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
    CHECK_STR("domain", mtasts_result_domain(r), name);
    mtasts_result_free(r);
    snprintf(want, sizeof(want), "_mta-sts.%s", name);
    CHECK_STR("DNS name", S.dns_name, want);
    snprintf(want, sizeof(want), "mta-sts.%s", name);
    CHECK_STR("host", S.https_host, want);

    rescript();
    S.https_hook_rc = MTASTS_ERR_IO;
    set_now(T0 + DAY);
    r = LOOKUP(ctx, name);
    CHECK(r, MTASTS_ERR_FETCH, NO_MODE, MTASTS_RPT_STS_POLICY_FETCH_ERROR);
    ck_assert_uint_lt(strlen(mtasts_result_reason(r)), 256);
    mtasts_result_free(r);
    S.https_hook_rc = MTASTS_OK;
    serve_http(200, "text/html; charset=utf-8; a-long-parameter-value", "x");
    r = LOOKUP(ctx, name);
    CHECK(r, MTASTS_ERR_FETCH, NO_MODE, MTASTS_RPT_STS_POLICY_FETCH_ERROR);
    mtasts_result_free(r);
    serve_http(200, "text/plain", POL_INVALID);
    r = LOOKUP(ctx, name);
    CHECK(r, MTASTS_ERR_POLICY_INVALID, NO_MODE, MTASTS_RPT_STS_POLICY_INVALID);
    mtasts_result_free(r);
    S.dns_hook_rc = MTASTS_ERR_IO;
    EXPECT(ctx, name, MTASTS_ERR_DNS_TEMPFAIL, NO_MODE, MTASTS_RPT_NONE);
    IO(4, 3);

    name[253] = 'a';
    name[254] = '\0';
    expect_refused(ctx, name, MTASTS_ERR_BAD_DOMAIN);
    mtasts_ctx_free(ctx);
}
END_TEST

/* ---- case "memory" ------------------------------------------------------- */

/* R8461-3.3-j, E-21: after a failed fetch no new GET of that (domain, id)
 * before the backoff expires (default 300 s), one after it; a new id is
 * fetched at once. */
/* mtasts_result_reason_code(): the fixed code of each TXT outcome, kept by
 * the remembered "no policy" answer, and a fetch failure's code kept
 * through the back-off (the fetch codes are checked row by row in
 * test_engine_fetch_table). These codes are the failure-reason-code of
 * TLS reports (R8461-6-a, -6-b). */
START_TEST(test_engine_reason_codes)
{
    static const struct {
        mtasts_dns_rcode rcode;
        size_t n;
        const char *txt[2];
        const char *code;
    } cases[] = {
        {MTASTS_DNS_NXDOMAIN, 0, {NULL, NULL}, "txt-missing"},
        {MTASTS_DNS_NODATA, 0, {NULL, NULL}, "txt-missing"},
        {MTASTS_DNS_ANSWER, 0, {NULL, NULL}, "txt-missing"},
        {MTASTS_DNS_TEMPFAIL, 0, {NULL, NULL}, "txt-lookup-failed"},
        {MTASTS_DNS_ANSWER, 1, {"v=STSv1; id=abc!", NULL}, "txt-invalid"},
        {MTASTS_DNS_ANSWER, 1, {"v=spf1 -all", NULL}, "txt-not-one-record"},
        {MTASTS_DNS_ANSWER, 2, {TXT_A, TXT_B}, "txt-not-one-record"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rescript();
        mtasts_ctx *ctx = new_ctx();
        pthread_mutex_lock(&S.lock);
        S.rcode = cases[i].rcode;
        S.ntxt = cases[i].n;
        for (size_t k = 0; k < cases[i].n; k++) {
            S.txt[k] = cases[i].txt[k];
            S.txt_len[k] = strlen(cases[i].txt[k]);
        }
        pthread_mutex_unlock(&S.lock);
        mtasts_result *r = LOOKUP(ctx, DOMAIN);
        CHECK_STR("code", mtasts_result_reason_code(r), cases[i].code);
        mtasts_result_free(r);
        set_now(T0 + 1); /* remembered, or asked again for TEMPFAIL */
        r = LOOKUP(ctx, DOMAIN);
        CHECK_STR("code, again", mtasts_result_reason_code(r), cases[i].code);
        mtasts_result_free(r);
        mtasts_ctx_free(ctx);
    }

    rescript();
    mtasts_ctx *ctx = new_ctx();
    serve_http(404, "text/plain", POL_ENFORCE);
    mtasts_result *r = LOOKUP(ctx, DOMAIN);
    CHECK_STR("code", mtasts_result_reason_code(r), "http-status-404");
    mtasts_result_free(r);
    serve_http(200, "text/plain", POL_ENFORCE);
    set_now(T0 + 1); /* in the back-off: the same failure, the same code */
    r = LOOKUP(ctx, DOMAIN);
    CHECK_STR("code in the back-off", mtasts_result_reason_code(r),
              "http-status-404");
    mtasts_result_free(r);
    set_now(T0 + 300);
    r = LOOKUP(ctx, DOMAIN);
    CHECK(r, MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
    CHECK_STR("code after success", mtasts_result_reason_code(r), "");
    ck_assert_str_eq(mtasts_result_reason_code(NULL), "");
    mtasts_result_free(r);
    mtasts_ctx_free(ctx);
}
END_TEST

START_TEST(test_engine_backoff)
{
    mtasts_ctx *ctx = new_ctx();
    serve_http(500, "text/plain", POL_ENFORCE);
    EXPECT(ctx, DOMAIN, MTASTS_ERR_FETCH, NO_MODE,
           MTASTS_RPT_STS_POLICY_FETCH_ERROR);
    IO(1, 1);
    serve_http(200, "text/plain", POL_ENFORCE); /* mended, but too soon */
    set_now(T0 + 1);
    mtasts_result *r = LOOKUP(ctx, DOMAIN);
    CHECK(r, MTASTS_ERR_FETCH, NO_MODE, MTASTS_RPT_STS_POLICY_FETCH_ERROR);
    CHECK_STR("id", mtasts_result_txt_id(r), ID_A);
    mtasts_result_free(r);
    IO(2, 1);
    set_now(T0 + 299);
    EXPECT(ctx, DOMAIN, MTASTS_ERR_FETCH, NO_MODE,
           MTASTS_RPT_STS_POLICY_FETCH_ERROR);
    IO(3, 1);
    set_now(T0 + 300);
    EXPECT(ctx, DOMAIN, MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
    IO(4, 2);
    mtasts_ctx_free(ctx);

    /* the failure class is remembered, and a new id fetches at once */
    rescript();
    ctx = new_ctx();
    ck_assert_int_eq(mtasts_ctx_set_fetch_backoff_s(ctx, 600), MTASTS_OK);
    serve_transport(TR_WEBPKI);
    EXPECT(ctx, DOMAIN, MTASTS_ERR_WEBPKI, NO_MODE,
           MTASTS_RPT_STS_WEBPKI_INVALID);
    set_now(T0 + 599);
    EXPECT(ctx, DOMAIN, MTASTS_ERR_WEBPKI, NO_MODE,
           MTASTS_RPT_STS_WEBPKI_INVALID);
    IO(2, 1);
    serve_txt(TXT_B);
    serve_http(200, "text/plain", POL_TESTING);
    r = LOOKUP(ctx, DOMAIN);
    CHECK(r, MTASTS_OK, MTASTS_MODE_TESTING, MTASTS_RPT_NONE);
    CHECK_STR("id", mtasts_result_txt_id(r), ID_B);
    mtasts_result_free(r);
    IO(3, 2);
    mtasts_ctx_free(ctx);

    /* with a cached policy: the cached one answers during the backoff */
    rescript();
    ctx = new_ctx();
    ck_assert_int_eq(mtasts_ctx_set_txt_check_interval_s(ctx, 0), MTASTS_OK);
    prime_cache(ctx, DOMAIN);
    serve_txt(TXT_B);
    serve_http(404, "text/plain", "");
    set_now(T0 + 1000);
    EXPECT(ctx, DOMAIN, MTASTS_OK, MTASTS_MODE_ENFORCE,
           MTASTS_RPT_STS_POLICY_FETCH_ERROR);
    IO(2, 2);
    serve_http(200, "text/plain", POL_TESTING);
    set_now(T0 + 1299);
    r = LOOKUP(ctx, DOMAIN);
    CHECK(r, MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_STS_POLICY_FETCH_ERROR);
    CHECK_STR("id", mtasts_result_txt_id(r), ID_A);
    mtasts_result_free(r);
    IO(3, 2);
    set_now(T0 + 1300);
    EXPECT(ctx, DOMAIN, MTASTS_OK, MTASTS_MODE_TESTING, MTASTS_RPT_NONE);
    IO(4, 3);
    mtasts_ctx_free(ctx);

    /* backoff 0: every lookup fetches */
    rescript();
    ctx = new_ctx();
    ck_assert_int_eq(mtasts_ctx_set_fetch_backoff_s(ctx, 0), MTASTS_OK);
    serve_http(500, "text/plain", POL_ENFORCE);
    EXPECT(ctx, DOMAIN, MTASTS_ERR_FETCH, NO_MODE,
           MTASTS_RPT_STS_POLICY_FETCH_ERROR);
    EXPECT(ctx, DOMAIN, MTASTS_ERR_FETCH, NO_MODE,
           MTASTS_RPT_STS_POLICY_FETCH_ERROR);
    IO(2, 2);
    mtasts_ctx_free(ctx);
}
END_TEST

/* The negative memory: a domain without a usable TXT record is not asked
 * again for no_policy_ttl seconds (default 300); 0 disables it. A temporary
 * failure is never remembered. */
START_TEST(test_engine_no_policy_memory)
{
    mtasts_ctx *ctx = new_ctx();
    serve_rcode(MTASTS_DNS_NXDOMAIN);
    EXPECT(ctx, DOMAIN, MTASTS_ERR_NO_POLICY, NO_MODE, MTASTS_RPT_NONE);
    IO(1, 0);
    serve_txt(TXT_A);
    set_now(T0 + 299);
    EXPECT(ctx, DOMAIN, MTASTS_ERR_NO_POLICY, NO_MODE, MTASTS_RPT_NONE);
    IO(1, 0);
    set_now(T0 + 300);
    EXPECT(ctx, DOMAIN, MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
    IO(2, 1);
    mtasts_ctx_free(ctx);

    /* a configured TTL; an invalid record is remembered too */
    rescript();
    ctx = new_ctx();
    ck_assert_int_eq(mtasts_ctx_set_no_policy_ttl_s(ctx, 1000), MTASTS_OK);
    serve_txt("v=STSv1; id=");
    EXPECT(ctx, DOMAIN, MTASTS_ERR_NO_POLICY, NO_MODE, MTASTS_RPT_NONE);
    set_now(T0 + 999);
    EXPECT(ctx, DOMAIN, MTASTS_ERR_NO_POLICY, NO_MODE, MTASTS_RPT_NONE);
    IO(1, 0);
    set_now(T0 + 1000);
    EXPECT(ctx, DOMAIN, MTASTS_ERR_NO_POLICY, NO_MODE, MTASTS_RPT_NONE);
    IO(2, 0);
    mtasts_ctx_free(ctx);

    /* 0: every lookup asks */
    rescript();
    ctx = new_ctx();
    ck_assert_int_eq(mtasts_ctx_set_no_policy_ttl_s(ctx, 0), MTASTS_OK);
    serve_rcode(MTASTS_DNS_NODATA);
    for (int i = 1; i <= 3; i++) {
        EXPECT(ctx, DOMAIN, MTASTS_ERR_NO_POLICY, NO_MODE, MTASTS_RPT_NONE);
        IO(i, 0);
    }
    mtasts_ctx_free(ctx);

    /* TEMPFAIL is not "no policy" */
    rescript();
    ctx = new_ctx();
    serve_rcode(MTASTS_DNS_TEMPFAIL);
    EXPECT(ctx, DOMAIN, MTASTS_ERR_DNS_TEMPFAIL, NO_MODE, MTASTS_RPT_NONE);
    EXPECT(ctx, DOMAIN, MTASTS_ERR_DNS_TEMPFAIL, NO_MODE, MTASTS_RPT_NONE);
    IO(2, 0);
    mtasts_ctx_free(ctx);
}
END_TEST

/* The TXT check interval: within it (default 600 s) a cached policy answers
 * with no DNS query; after it the TXT record is asked; 0 asks every time. */
START_TEST(test_engine_txt_check_interval)
{
    mtasts_ctx *ctx = new_ctx();
    prime_cache(ctx, DOMAIN);
    set_now(T0 + 599);
    EXPECT(ctx, DOMAIN, MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
    IO(1, 1);
    set_now(T0 + 600);
    EXPECT(ctx, DOMAIN, MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
    IO(2, 1);
    /* the interval restarts at the last check */
    set_now(T0 + 1199);
    EXPECT(ctx, DOMAIN, MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
    IO(2, 1);
    set_now(T0 + 1200);
    EXPECT(ctx, DOMAIN, MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
    IO(3, 1);
    mtasts_ctx_free(ctx);

    rescript();
    ctx = new_ctx();
    ck_assert_int_eq(mtasts_ctx_set_txt_check_interval_s(ctx, 60), MTASTS_OK);
    prime_cache(ctx, DOMAIN);
    set_now(T0 + 59);
    EXPECT(ctx, DOMAIN, MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
    IO(1, 1);
    set_now(T0 + 60);
    EXPECT(ctx, DOMAIN, MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
    IO(2, 1);
    mtasts_ctx_free(ctx);

    rescript();
    ctx = new_ctx();
    ck_assert_int_eq(mtasts_ctx_set_txt_check_interval_s(ctx, 0), MTASTS_OK);
    prime_cache(ctx, DOMAIN);
    for (int i = 2; i <= 4; i++) {
        EXPECT(ctx, DOMAIN, MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
        IO(i, 1);
    }
    mtasts_ctx_free(ctx);
}
END_TEST

/* Cache capacity 2 with 3 domains: the least recently used one goes. */
START_TEST(test_engine_cache_lru)
{
    mtasts_ctx *ctx = new_ctx();
    ck_assert_int_eq(mtasts_ctx_set_cache_capacity(ctx, 2), MTASTS_OK);
    EXPECT(ctx, "a.example", MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
    EXPECT(ctx, "b.example", MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
    IO(2, 2);
    /* a is now the most recently used */
    EXPECT(ctx, "a.example", MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
    IO(2, 2);
    /* c evicts b */
    EXPECT(ctx, "c.example", MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
    IO(3, 3);
    EXPECT(ctx, "a.example", MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
    IO(3, 3);
    /* b is fetched again and evicts c */
    EXPECT(ctx, "b.example", MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
    IO(4, 4);
    CHECK_STR("DNS name", S.dns_name, "_mta-sts.b.example");
    EXPECT(ctx, "a.example", MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
    IO(4, 4);
    EXPECT(ctx, "c.example", MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
    IO(5, 5);
    /* shrinking keeps the most recently used: c */
    ck_assert_int_eq(mtasts_ctx_set_cache_capacity(ctx, 1), MTASTS_OK);
    EXPECT(ctx, "c.example", MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
    IO(5, 5);
    EXPECT(ctx, "a.example", MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
    IO(6, 6);
    mtasts_ctx_free(ctx);

    /* an entry with a lookup in flight is never evicted */
    rescript();
    ctx = new_ctx();
    ck_assert_int_eq(mtasts_ctx_set_cache_capacity(ctx, 1), MTASTS_OK);
    S.dns_hold = true;
    struct cb_slot slot = {0};
    ck_assert_int_eq(mtasts_lookup_async(ctx, "a.example", record_cb, &slot),
                     MTASTS_OK);
    mtasts_req *req = take_held_dns();
    S.dns_hold = false;
    EXPECT(ctx, "b.example", MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
    EXPECT(ctx, "c.example", MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
    IO(3, 2);
    ck_assert_int_eq(slot.calls, 0);
    answer_dns(req, false);
    ck_assert_int_eq(slot.calls, 1);
    ck_assert_int_eq(slot.status, MTASTS_OK);
    mtasts_policy_unref(slot.policy);
    IO(3, 3);
    EXPECT(ctx, "a.example", MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
    IO(3, 3);
    check_bad(__LINE__);
    mtasts_ctx_free(ctx);
}
END_TEST

/* ---- case "bodies" ------------------------------------------------------- */

/* R8461-3.3-k, E-13: a body of exactly the cap (default 64 KiB) parses; one
 * byte more makes mtasts_https_body() return MTASTS_ERR_TOO_LARGE and the
 * lookup fail, even if the hook then claims success. */
START_TEST(test_engine_body_cap)
{
    char *exact = sized_policy(MTASTS_POLICY_MAX);
    char *over = sized_policy(MTASTS_POLICY_MAX + 1);

    mtasts_ctx *ctx = new_ctx();
    S.body = exact;
    S.body_len = MTASTS_POLICY_MAX;
    S.chunk = 1000;
    EXPECT(ctx, DOMAIN, MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
    ck_assert_int_eq(S.body_rc, MTASTS_OK);
    mtasts_ctx_free(ctx);

    static const size_t chunks[] = {0, 1000, MTASTS_POLICY_MAX};
    for (size_t i = 0; i < ARRAY_LEN(chunks); i++) {
        for (int ignore = 0; ignore <= 1; ignore++) {
            rescript();
            ctx = new_ctx();
            S.body = over;
            S.body_len = MTASTS_POLICY_MAX + 1;
            S.chunk = chunks[i];
            S.ignore_too_large = ignore;
            mtasts_result *r = LOOKUP(ctx, DOMAIN);
            CHECK(r, MTASTS_ERR_FETCH, NO_MODE,
                  MTASTS_RPT_STS_POLICY_FETCH_ERROR);
            ck_assert_int_eq(S.body_rc, MTASTS_ERR_TOO_LARGE);
            mtasts_result_free(r);
            mtasts_ctx_free(ctx);
        }
    }
    free(exact);
    free(over);

    /* a smaller cap */
    rescript();
    ctx = new_ctx();
    ck_assert_int_eq(mtasts_ctx_set_body_max(ctx, 200), MTASTS_OK);
    exact = sized_policy(200);
    over = sized_policy(201);
    S.body = exact;
    S.body_len = 200;
    EXPECT(ctx, DOMAIN, MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
    ck_assert_int_eq(S.body_rc, MTASTS_OK);
    serve_txt(TXT_B);
    set_now(T0 + 600);
    S.body = over;
    S.body_len = 201;
    S.chunk = 7;
    EXPECT(ctx, DOMAIN, MTASTS_OK, MTASTS_MODE_ENFORCE,
           MTASTS_RPT_STS_POLICY_FETCH_ERROR);
    ck_assert_int_eq(S.body_rc, MTASTS_ERR_TOO_LARGE);
    free(exact);
    free(over);
    mtasts_ctx_free(ctx);
}
END_TEST

/* ---- case "hooks" -------------------------------------------------------- */

/* Hooks that return an error: their completion never runs and the engine
 * counts it as a DNS or fetch failure (mtasts.h, "I/O hooks"). */
START_TEST(test_engine_hook_errors)
{
    /* DNS hook fails, nothing cached: a temporary DNS failure */
    mtasts_ctx *ctx = new_ctx();
    S.dns_hook_rc = MTASTS_ERR_IO;
    EXPECT(ctx, DOMAIN, MTASTS_ERR_DNS_TEMPFAIL, NO_MODE, MTASTS_RPT_NONE);
    IO(1, 0);
    S.dns_hook_rc = MTASTS_ERR_NOMEM;
    EXPECT(ctx, DOMAIN, MTASTS_ERR_NOMEM, NO_MODE, MTASTS_RPT_NONE);
    IO(2, 0);
    /* ... with a cached policy: that policy, and a reportable failure */
    S.dns_hook_rc = MTASTS_OK;
    prime_cache(ctx, DOMAIN);
    set_now(T0 + 600);
    S.dns_hook_rc = MTASTS_ERR_IO;
    EXPECT(ctx, DOMAIN, MTASTS_OK, MTASTS_MODE_ENFORCE,
           MTASTS_RPT_STS_POLICY_FETCH_ERROR);
    IO(4, 1);
    mtasts_ctx_free(ctx);

    /* HTTPS hook fails: a fetch failure, with the backoff */
    rescript();
    ctx = new_ctx();
    S.https_hook_rc = MTASTS_ERR_IO;
    EXPECT(ctx, DOMAIN, MTASTS_ERR_FETCH, NO_MODE,
           MTASTS_RPT_STS_POLICY_FETCH_ERROR);
    IO(1, 1);
    S.https_hook_rc = MTASTS_OK;
    set_now(T0 + 1);
    EXPECT(ctx, DOMAIN, MTASTS_ERR_FETCH, NO_MODE,
           MTASTS_RPT_STS_POLICY_FETCH_ERROR);
    IO(2, 1);
    mtasts_ctx_free(ctx);
}
END_TEST

/* A DNS hook that adds records and then fails. */
static int
dns_hook_add_then_fail(mtasts_req *req, const char *name, void *user)
{
    (void)name;
    (void)user;
    mtasts_dns_add_txt(req, TXT_A, strlen(TXT_A));
    mtasts_dns_add_txt(req, TXT_B, strlen(TXT_B));
    return MTASTS_ERR_IO;
}

/* An HTTPS hook that reports a response and then fails. */
static int
https_hook_head_then_fail(mtasts_req *req, const char *host, uint16_t port,
                          const char *path, void *user)
{
    (void)host;
    (void)port;
    (void)path;
    (void)user;
    mtasts_https_response(req, 200, "text/plain");
    mtasts_https_body(req, POL_ENFORCE, strlen(POL_ENFORCE));
    return MTASTS_ERR_IO;
}

/* Failing hooks that already gave data: it is dropped (no leak under ASan
 * or valgrind), and the lookup fails. */
START_TEST(test_engine_hook_errors_with_data)
{
    mtasts_ctx *ctx = new_ctx();
    ck_assert_int_eq(
        mtasts_ctx_set_dns_txt_hook(ctx, dns_hook_add_then_fail, NULL),
        MTASTS_OK);
    EXPECT(ctx, DOMAIN, MTASTS_ERR_DNS_TEMPFAIL, NO_MODE, MTASTS_RPT_NONE);
    ck_assert_int_eq(mtasts_ctx_set_dns_txt_hook(ctx, dns_hook, &S), MTASTS_OK);
    ck_assert_int_eq(
        mtasts_ctx_set_https_get_hook(ctx, https_hook_head_then_fail, NULL),
        MTASTS_OK);
    EXPECT(ctx, DOMAIN, MTASTS_ERR_FETCH, NO_MODE,
           MTASTS_RPT_STS_POLICY_FETCH_ERROR);
    mtasts_ctx_free(ctx);
}
END_TEST

/* Hooks that ignore a refused completion call and finish with success:
 * the engine remembers the refusal, so a subset of the records or a body
 * with a gap is never judged. A refused record (too long) fails the query
 * temporarily; a copy that ran out of memory, and a hook that finishes
 * with MTASTS_ERR_NOMEM or MTASTS_ERR_IO, are local failures: not
 * reportable, no back-off, the cached policy kept (R8461-3.3-m). */
enum lossy {
    LOSSY_NONE,
    LOSSY_TXT_TOO_LARGE,
    LOSSY_TXT_NOMEM,
    LOSSY_HEAD_NOMEM,
    LOSSY_BODY_NOMEM,
    LOSSY_DONE_NOMEM,
    LOSSY_DONE_IO
};
static enum lossy lossy_mode;
static const char *lossy_txt = TXT_A; /* the record the DNS hook serves */

static int
dns_hook_lossy(mtasts_req *req, const char *name, void *user)
{
    (void)name;
    (void)user;
    static char big[65536];
    int rc = MTASTS_OK;
    if (lossy_mode == LOSSY_TXT_TOO_LARGE) {
        memcpy(big, TXT_B, strlen(TXT_B));
        rc = mtasts_dns_add_txt(req, big, sizeof(big));
        ck_assert_int_eq(rc, MTASTS_ERR_TOO_LARGE);
    } else if (lossy_mode == LOSSY_TXT_NOMEM) {
        failalloc_start(1);
        rc = mtasts_dns_add_txt(req, TXT_B, strlen(TXT_B));
        failalloc_stop();
        ck_assert_int_eq(rc, MTASTS_ERR_NOMEM);
    }
    /* the id of the cached policy: without the memory of the refusal the
     * engine would answer "same id" from this subset */
    ck_assert_int_eq(mtasts_dns_add_txt(req, lossy_txt, strlen(lossy_txt)),
                     MTASTS_OK);
    return mtasts_dns_done(req, MTASTS_DNS_ANSWER, NULL);
}

static int
https_hook_lossy(mtasts_req *req, const char *host, uint16_t port,
                 const char *path, void *user)
{
    (void)host;
    (void)port;
    (void)path;
    (void)user;
    if (lossy_mode == LOSSY_HEAD_NOMEM) {
        failalloc_start(1);
        ck_assert_int_eq(mtasts_https_response(req, 200, "text/plain"),
                         MTASTS_ERR_NOMEM);
        failalloc_stop();
        return mtasts_https_done(req, MTASTS_OK, NULL);
    }
    ck_assert_int_eq(mtasts_https_response(req, 200, "text/plain"), MTASTS_OK);
    const char *pol = POL_TESTING;
    size_t half = strlen(pol) / 2;
    ck_assert_int_eq(mtasts_https_body(req, pol, half), MTASTS_OK);
    if (lossy_mode == LOSSY_BODY_NOMEM) {
        /* a middle piece lost: the rest would still parse as a policy */
        failalloc_start(1);
        ck_assert_int_eq(mtasts_https_body(req, "x", 4096), MTASTS_ERR_NOMEM);
        failalloc_stop();
    }
    ck_assert_int_eq(mtasts_https_body(req, pol + half, strlen(pol) - half),
                     MTASTS_OK);
    if (lossy_mode == LOSSY_DONE_NOMEM) {
        return mtasts_https_done(req, MTASTS_ERR_NOMEM, "no memory for TLS");
    }
    if (lossy_mode == LOSSY_DONE_IO) {
        return mtasts_https_done(req, MTASTS_ERR_IO, "no CA bundle");
    }
    return mtasts_https_done(req, MTASTS_OK, NULL);
}

START_TEST(test_engine_lost_completion_data)
{
    static const struct {
        enum lossy mode;
        bool dns; /* the loss is in the DNS step (else in the fetch) */
        int status;
        mtasts_rpt_result cached_failure; /* with a policy cached */
        const char *reason;
    } cases[] = {
        {LOSSY_TXT_TOO_LARGE, true, MTASTS_ERR_DNS_TEMPFAIL,
         MTASTS_RPT_STS_POLICY_FETCH_ERROR,
         "a TXT record longer than 65535 bytes was refused"},
        {LOSSY_TXT_NOMEM, true, MTASTS_ERR_NOMEM, MTASTS_RPT_NONE,
         "out of memory while the TXT records of _mta-sts.example.com"},
        {LOSSY_HEAD_NOMEM, false, MTASTS_ERR_NOMEM, MTASTS_RPT_NONE,
         "out of memory while fetching from mta-sts.example.com"},
        {LOSSY_BODY_NOMEM, false, MTASTS_ERR_NOMEM, MTASTS_RPT_NONE,
         "out of memory while fetching from mta-sts.example.com"},
        {LOSSY_DONE_NOMEM, false, MTASTS_ERR_NOMEM, MTASTS_RPT_NONE,
         "no memory for TLS"},
        {LOSSY_DONE_IO, false, MTASTS_ERR_IO, MTASTS_RPT_NONE,
         "fetch from mta-sts.example.com not possible here: no CA bundle"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rescript();
        mtasts_ctx *ctx = new_ctx();
        ck_assert_int_eq(mtasts_ctx_set_dns_txt_hook(ctx, dns_hook_lossy, NULL),
                         MTASTS_OK);
        ck_assert_int_eq(
            mtasts_ctx_set_https_get_hook(ctx, https_hook_lossy, NULL),
            MTASTS_OK);
        ck_assert_int_eq(mtasts_ctx_set_txt_check_interval_s(ctx, 0),
                         MTASTS_OK);

        /* nothing cached: the loss is the lookup's status */
        lossy_mode = cases[i].mode;
        lossy_txt = TXT_A;
        mtasts_result *r = LOOKUP(ctx, DOMAIN);
        ck_assert_msg(mtasts_result_status(r) == cases[i].status,
                      "case %zu: status %s", i,
                      mtasts_status_name(mtasts_result_status(r)));
        ck_assert_ptr_null(mtasts_result_policy(r));
        ck_assert_int_eq(mtasts_result_failure(r), MTASTS_RPT_NONE);
        ck_assert_msg(strstr(mtasts_result_reason(r), cases[i].reason) != NULL,
                      "case %zu: reason \"%s\"", i, mtasts_result_reason(r));
        mtasts_result_free(r);

        /* no back-off: with the loss gone the next lookup fetches */
        lossy_mode = LOSSY_NONE;
        set_now(T0 + 1);
        r = LOOKUP(ctx, DOMAIN);
        CHECK(r, MTASTS_OK, MTASTS_MODE_TESTING, MTASTS_RPT_NONE);
        ck_assert(!mtasts_result_from_cache(r));
        mtasts_result_free(r);

        /* a policy cached (id aaa1): the same loss keeps it in force; in
         * the fetch cases the TXT record has a new id, so a fetch runs */
        lossy_mode = cases[i].mode;
        lossy_txt = cases[i].dns ? TXT_A : TXT_B;
        set_now(T0 + 2);
        r = LOOKUP(ctx, DOMAIN);
        CHECK(r, MTASTS_OK, MTASTS_MODE_TESTING, cases[i].cached_failure);
        ck_assert(mtasts_result_from_cache(r));
        ck_assert_str_eq(mtasts_result_txt_id(r), ID_A);
        ck_assert_msg(strstr(mtasts_result_reason(r), cases[i].reason) != NULL,
                      "case %zu: reason \"%s\"", i, mtasts_result_reason(r));
        mtasts_result_free(r);
        mtasts_ctx_free(ctx);
    }
    lossy_mode = LOSSY_NONE;
}
END_TEST

/* Completion-function misuse: the wrong kind of request, a body before the
 * head, a second head, unknown rcode or status, NULL arguments. None
 * changes or frees the request: the lookup then succeeds normally. */
START_TEST(test_engine_completion_misuse)
{
    mtasts_ctx *ctx = new_ctx();
    S.misuse = true;
    mtasts_result *r = LOOKUP(ctx, DOMAIN);
    CHECK(r, MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
    mtasts_result_free(r);
    ck_assert_int_eq(S.misuse_checks, DNS_MISUSE_CHECKS + HTTPS_MISUSE_CHECKS);
    mtasts_ctx_free(ctx);

    /* with no request at all */
    ck_assert_int_eq(mtasts_dns_add_txt(NULL, NULL, 0), MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_dns_done(NULL, MTASTS_DNS_NXDOMAIN, "x"),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_https_response(NULL, 200, NULL),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_https_body(NULL, NULL, 0), MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_https_done(NULL, MTASTS_ERR_FETCH, NULL),
                     MTASTS_ERR_INVALID);
}
END_TEST

/* Records count only with MTASTS_DNS_ANSWER, the reason given with
 * TEMPFAIL reaches the result, and a record of the largest size the
 * completion function takes (65535 bytes) is used. */
START_TEST(test_engine_dns_records_and_rcode)
{
    mtasts_ctx *ctx = new_ctx();
    ck_assert_int_eq(mtasts_ctx_set_no_policy_ttl_s(ctx, 0), MTASTS_OK);
    pthread_mutex_lock(&S.lock);
    S.rcode = MTASTS_DNS_NXDOMAIN;
    pthread_mutex_unlock(&S.lock);
    EXPECT(ctx, DOMAIN, MTASTS_ERR_NO_POLICY, NO_MODE, MTASTS_RPT_NONE);
    pthread_mutex_lock(&S.lock);
    S.rcode = MTASTS_DNS_TEMPFAIL;
    pthread_mutex_unlock(&S.lock);
    mtasts_result *r = LOOKUP(ctx, DOMAIN);
    CHECK(r, MTASTS_ERR_DNS_TEMPFAIL, NO_MODE, MTASTS_RPT_NONE);
    ck_assert_ptr_nonnull(
        strstr(mtasts_result_reason(r), "SERVFAIL from 192.0.2.53"));
    mtasts_result_free(r);
    IO(2, 0);

    static const char head[] = "v=STSv1; id=big1; x=";
    char *big = malloc(65535);
    ck_assert_ptr_nonnull(big);
    memcpy(big, head, sizeof(head) - 1);
    memset(big + sizeof(head) - 1, 'a', 65535 - (sizeof(head) - 1));
    pthread_mutex_lock(&S.lock);
    S.rcode = MTASTS_DNS_ANSWER;
    S.txt[0] = big;
    S.txt_len[0] = 65535;
    pthread_mutex_unlock(&S.lock);
    r = LOOKUP(ctx, DOMAIN);
    CHECK(r, MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
    CHECK_STR("id", mtasts_result_txt_id(r), "big1");
    mtasts_result_free(r);
    free(big);
    mtasts_ctx_free(ctx);
}
END_TEST

/* ---- case "threads" ------------------------------------------------------ */

struct completer {
    pthread_t tid;
    mtasts_req *req;
    bool https;
    bool done;
};

static void *
complete_thread(void *arg)
{
    struct completer *c = arg;
    if (c->https) {
        answer_https(c->req, false);
    } else {
        answer_dns(c->req, false);
    }
    pthread_mutex_lock(&S.lock);
    c->done = true;
    pthread_cond_broadcast(&S.cond);
    pthread_mutex_unlock(&S.lock);
    return NULL;
}

/* Complete req from a new thread and wait (boundedly) for it to end. */
static void
complete_in_thread(struct completer *c, mtasts_req *req, bool https)
{
    c->req = req;
    c->https = https;
    c->done = false;
    ck_assert_int_eq(pthread_create(&c->tid, NULL, complete_thread, c), 0);
    WAIT_UNTIL(c->done);
    pthread_join(c->tid, NULL);
}

enum worker_call {
    W_BLOCKING, /* mtasts_lookup() */
    W_ASYNC,    /* mtasts_lookup_async() with record_cb */
    W_RESULT,   /* mtasts_lookup_result() */
};

struct worker {
    pthread_t tid;
    mtasts_ctx *ctx;
    const char *domain;
    enum worker_call call;
    int rc;
    mtasts_policy *policy; /* W_BLOCKING */
    mtasts_result *result; /* W_RESULT */
    struct cb_slot slot;   /* W_ASYNC */
    int clock_calls;       /* fake_clock() calls from this thread */
};

static void *
worker_thread(void *arg)
{
    struct worker *w = arg;
    tl_clock_calls = &w->clock_calls;
    pthread_mutex_lock(&S.lock);
    S.entered++;
    pthread_cond_broadcast(&S.cond);
    pthread_mutex_unlock(&S.lock);
    switch (w->call) {
    case W_ASYNC:
        w->rc = mtasts_lookup_async(w->ctx, w->domain, record_cb, &w->slot);
        break;
    case W_BLOCKING:
        w->rc = mtasts_lookup(w->ctx, w->domain, &w->policy);
        break;
    case W_RESULT:
        w->rc = mtasts_lookup_result(w->ctx, w->domain, &w->result);
        break;
    }
    tl_clock_calls = NULL;
    pthread_mutex_lock(&S.lock);
    S.finished++;
    pthread_cond_broadcast(&S.cond);
    pthread_mutex_unlock(&S.lock);
    return NULL;
}

static void
start_call(struct worker *w, mtasts_ctx *ctx, const char *domain,
           enum worker_call call)
{
    memset(w, 0, sizeof(*w));
    w->ctx = ctx;
    w->domain = domain;
    w->call = call;
    ck_assert_int_eq(pthread_create(&w->tid, NULL, worker_thread, w), 0);
}

static void
start_worker(struct worker *w, mtasts_ctx *ctx, const char *domain, bool async)
{
    start_call(w, ctx, domain, async ? W_ASYNC : W_BLOCKING);
}

/* Whether each of n workers has called the clock at least min times
 * (S.lock held, for WAIT_UNTIL). */
static bool
all_clocked(const struct worker *w, int n, int min)
{
    for (int i = 0; i < n; i++) {
        if (w[i].clock_calls < min) {
            return false;
        }
    }
    return true;
}

/* Asynchronous hooks completed later from other threads: the callback runs
 * exactly once, in the thread that completed the last step; the blocking
 * mtasts_lookup() waits for it. */
START_TEST(test_engine_async_hooks)
{
    mtasts_ctx *ctx = new_ctx();
    S.dns_hold = true;
    S.https_hold = true;
    struct cb_slot slot = {0};
    ck_assert_int_eq(mtasts_lookup_async(ctx, DOMAIN, record_cb, &slot),
                     MTASTS_OK);
    mtasts_req *req = take_held_dns();
    ck_assert_int_eq(slot_calls(&slot), 0);
    struct completer c1, c2;
    complete_in_thread(&c1, req, false);
    req = take_held_https();
    ck_assert_int_eq(slot_calls(&slot), 0);
    IO(1, 1);
    complete_in_thread(&c2, req, true);
    WAIT_UNTIL(slot.calls == 1);
    check_bad(__LINE__);
    ck_assert_int_eq(slot.status, MTASTS_OK);
    ck_assert_int_eq(mtasts_policy_mode(slot.policy), MTASTS_MODE_ENFORCE);
    CHECK_STR("id", slot.id, ID_A);
    ck_assert(pthread_equal(slot.thread, c2.tid));
    mtasts_policy_unref(slot.policy);

    /* a cached answer runs the callback before mtasts_lookup_async()
     * returns, in the caller's thread */
    memset(&slot, 0, sizeof(slot));
    ck_assert_int_eq(mtasts_lookup_async(ctx, DOMAIN, record_cb, &slot),
                     MTASTS_OK);
    ck_assert_int_eq(slot_calls(&slot), 1);
    ck_assert(pthread_equal(slot.thread, pthread_self()));
    mtasts_policy_unref(slot.policy);
    IO(1, 1);

    /* the blocking call in a worker, completed from this thread */
    struct worker w;
    start_worker(&w, ctx, "example.org", false);
    req = take_held_dns();
    answer_dns(req, false);
    req = take_held_https();
    pthread_mutex_lock(&S.lock);
    int finished = S.finished;
    pthread_mutex_unlock(&S.lock);
    ck_assert_int_eq(finished, 0); /* still waiting */
    answer_https(req, false);
    WAIT_UNTIL(S.finished == 1);
    pthread_join(w.tid, NULL);
    ck_assert_int_eq(w.rc, MTASTS_OK);
    ck_assert_ptr_nonnull(w.policy);
    ck_assert_int_eq(mtasts_policy_mode(w.policy), MTASTS_MODE_ENFORCE);
    mtasts_policy_unref(w.policy);
    IO(2, 2);
    check_bad(__LINE__);
    mtasts_ctx_free(ctx);
}
END_TEST

/* Single flight: many threads looking up one domain while its DNS query is
 * held share one DNS query and one fetch; every caller gets the same
 * policy, and every callback runs exactly once. */
START_TEST(test_engine_single_flight)
{
    mtasts_ctx *ctx = new_ctx();
    /* the TXT record is checked on every lookup, so a thread that came too
     * late for the flight would make its own DNS query, and IO() below
     * would see it (it cannot be answered from the cache unnoticed) */
    ck_assert_int_eq(mtasts_ctx_set_txt_check_interval_s(ctx, 0), MTASTS_OK);
    S.dns_hold = true;
    struct worker w[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        start_worker(&w[i], ctx, DOMAIN, false);
    }
    /* mtasts_lookup() reads the clock in its cache fast path, then again
     * in the critical section where it joins the flight: after two calls
     * from every worker, all of them are waiting on the one flight */
    WAIT_UNTIL(S.held_dns != NULL && all_clocked(w, NTHREADS, 2));
    IO(1, 0);
    answer_dns(take_held_dns(), false);
    WAIT_UNTIL(S.finished == NTHREADS);
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(w[i].tid, NULL);
    }
    IO(1, 1);
    for (int i = 0; i < NTHREADS; i++) {
        ck_assert_int_eq(w[i].rc, MTASTS_OK);
        ck_assert_ptr_eq(w[i].policy, w[0].policy);
    }
    for (int i = 0; i < NTHREADS; i++) {
        mtasts_policy_unref(w[i].policy);
    }

    /* asynchronous callers joining during the DNS and the HTTPS step */
    S.https_hold = true;
    S.entered = 0;
    S.finished = 0;
    for (int i = 0; i < NTHREADS / 2; i++) {
        start_worker(&w[i], ctx, "example.net", true);
    }
    WAIT_UNTIL(S.finished == NTHREADS / 2);
    for (int i = 0; i < NTHREADS / 2; i++) {
        pthread_join(w[i].tid, NULL);
    }
    answer_dns(take_held_dns(), false);
    mtasts_req *req = take_held_https();
    for (int i = NTHREADS / 2; i < NTHREADS; i++) {
        start_worker(&w[i], ctx, "example.net", true);
    }
    WAIT_UNTIL(S.finished == NTHREADS);
    for (int i = NTHREADS / 2; i < NTHREADS; i++) {
        pthread_join(w[i].tid, NULL);
    }
    for (int i = 0; i < NTHREADS; i++) {
        ck_assert_int_eq(w[i].rc, MTASTS_OK);
        ck_assert_int_eq(slot_calls(&w[i].slot), 0);
    }
    IO(2, 2);
    answer_https(req, false);
    for (int i = 0; i < NTHREADS; i++) {
        ck_assert_int_eq(slot_calls(&w[i].slot), 1);
        ck_assert_int_eq(w[i].slot.status, MTASTS_OK);
        ck_assert_ptr_nonnull(w[i].slot.policy);
        ck_assert_ptr_eq(w[i].slot.policy, w[0].slot.policy);
        ck_assert(pthread_equal(w[i].slot.thread, pthread_self()));
    }
    for (int i = 0; i < NTHREADS; i++) {
        mtasts_policy_unref(w[i].slot.policy);
    }
    IO(2, 2);
    check_bad(__LINE__);
    mtasts_ctx_free(ctx);
}
END_TEST

struct reenter {
    mtasts_ctx *ctx;
    int calls;
    int status;
    int async_rc;
    int blocking_rc;
    mtasts_policy *blocking_policy;
    struct cb_slot inner;
};

/* A callback that starts new lookups: another domain asynchronously, its
 * own domain blocking. */
static void
reenter_cb(const mtasts_result *r, void *user)
{
    struct reenter *st = user;
    st->calls++;
    st->status = mtasts_result_status(r);
    st->async_rc =
        mtasts_lookup_async(st->ctx, "other.example", record_cb, &st->inner);
    st->blocking_rc =
        mtasts_lookup(st->ctx, mtasts_result_domain(r), &st->blocking_policy);
}

/* Callbacks may start new lookups, from a fetch's completion and from a
 * cached answer alike. */
START_TEST(test_engine_callback_reenters)
{
    mtasts_ctx *ctx = new_ctx();
    struct reenter st = {.ctx = ctx};
    ck_assert_int_eq(mtasts_lookup_async(ctx, DOMAIN, reenter_cb, &st),
                     MTASTS_OK);
    check_bad(__LINE__);
    ck_assert_int_eq(st.calls, 1);
    ck_assert_int_eq(st.status, MTASTS_OK);
    ck_assert_int_eq(st.async_rc, MTASTS_OK);
    ck_assert_int_eq(st.inner.calls, 1);
    ck_assert_int_eq(st.inner.status, MTASTS_OK);
    ck_assert_int_eq(st.blocking_rc, MTASTS_OK);
    ck_assert_ptr_nonnull(st.blocking_policy);
    IO(2, 2);
    mtasts_policy_unref(st.inner.policy);
    mtasts_policy_unref(st.blocking_policy);

    memset(&st, 0, sizeof(st));
    st.ctx = ctx;
    ck_assert_int_eq(mtasts_lookup_async(ctx, DOMAIN, reenter_cb, &st),
                     MTASTS_OK);
    ck_assert_int_eq(st.calls, 1);
    ck_assert_int_eq(st.inner.calls, 1);
    ck_assert_int_eq(st.blocking_rc, MTASTS_OK);
    IO(2, 2);
    mtasts_policy_unref(st.inner.policy);
    mtasts_policy_unref(st.blocking_policy);
    check_bad(__LINE__);
    mtasts_ctx_free(ctx);
}
END_TEST

/* ---- case "api" ---------------------------------------------------------- */

/* Every setter: MTASTS_ERR_INVALID for a NULL ctx and out-of-range values,
 * MTASTS_OK at the bounds. */
START_TEST(test_engine_setters)
{
    ck_assert_int_eq(mtasts_ctx_new(NULL), MTASTS_ERR_INVALID);
    mtasts_ctx_free(NULL);
    ck_assert_int_eq(mtasts_ctx_set_connect_timeout_ms(NULL, 1000),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_ctx_set_fetch_timeout_ms(NULL, 1000),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_ctx_set_dns_timeout_ms(NULL, 1000),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_ctx_set_body_max(NULL, 1000), MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_ctx_set_ca_file(NULL, NULL), MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_ctx_set_ca_dir(NULL, NULL), MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_ctx_set_resolver(NULL, NULL), MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_ctx_set_cache_capacity(NULL, 10),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_ctx_set_fetch_backoff_s(NULL, 10),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_ctx_set_no_policy_ttl_s(NULL, 10),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_ctx_set_txt_check_interval_s(NULL, 10),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_ctx_set_clock(NULL, fake_clock, &S),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_ctx_set_https_port(NULL, 443), MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_ctx_set_dns_txt_hook(NULL, dns_hook, &S),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_ctx_set_https_get_hook(NULL, https_hook, &S),
                     MTASTS_ERR_INVALID);

    mtasts_ctx *ctx = new_ctx();
    int (*const timeouts[])(mtasts_ctx *, uint32_t) = {
        mtasts_ctx_set_connect_timeout_ms,
        mtasts_ctx_set_fetch_timeout_ms,
        mtasts_ctx_set_dns_timeout_ms,
    };
    for (size_t i = 0; i < ARRAY_LEN(timeouts); i++) {
        ck_assert_int_eq(timeouts[i](ctx, 0), MTASTS_ERR_INVALID);
        ck_assert_int_eq(timeouts[i](ctx, 600001), MTASTS_ERR_INVALID);
        ck_assert_int_eq(timeouts[i](ctx, UINT32_MAX), MTASTS_ERR_INVALID);
        ck_assert_int_eq(timeouts[i](ctx, 1), MTASTS_OK);
        ck_assert_int_eq(timeouts[i](ctx, 600000), MTASTS_OK);
    }
    ck_assert_int_eq(mtasts_ctx_set_body_max(ctx, 0), MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_ctx_set_body_max(ctx, 65537), MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_ctx_set_body_max(ctx, SIZE_MAX),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_ctx_set_body_max(ctx, 1), MTASTS_OK);
    ck_assert_int_eq(mtasts_ctx_set_body_max(ctx, 65536), MTASTS_OK);
    ck_assert_int_eq(mtasts_ctx_set_cache_capacity(ctx, 0), MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_ctx_set_cache_capacity(ctx, 1), MTASTS_OK);
    ck_assert_int_eq(mtasts_ctx_set_cache_capacity(ctx, SIZE_MAX), MTASTS_OK);
    int (*const seconds[])(mtasts_ctx *, uint32_t) = {
        mtasts_ctx_set_fetch_backoff_s,
        mtasts_ctx_set_no_policy_ttl_s,
        mtasts_ctx_set_txt_check_interval_s,
    };
    for (size_t i = 0; i < ARRAY_LEN(seconds); i++) {
        ck_assert_int_eq(seconds[i](ctx, 86401), MTASTS_ERR_INVALID);
        ck_assert_int_eq(seconds[i](ctx, UINT32_MAX), MTASTS_ERR_INVALID);
        ck_assert_int_eq(seconds[i](ctx, 0), MTASTS_OK);
        ck_assert_int_eq(seconds[i](ctx, 86400), MTASTS_OK);
    }
    ck_assert_int_eq(mtasts_ctx_set_https_port(ctx, 0), MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_ctx_set_https_port(ctx, 1), MTASTS_OK);
    ck_assert_int_eq(mtasts_ctx_set_https_port(ctx, 65535), MTASTS_OK);
    /* NULL hooks and clock return to the defaults */
    ck_assert_int_eq(mtasts_ctx_set_dns_txt_hook(ctx, NULL, NULL), MTASTS_OK);
    ck_assert_int_eq(mtasts_ctx_set_https_get_hook(ctx, NULL, NULL), MTASTS_OK);
    ck_assert_int_eq(mtasts_ctx_set_clock(ctx, NULL, NULL), MTASTS_OK);
    mtasts_ctx_free(ctx);

    /* the lookups' argument checks */
    ctx = new_ctx();
    mtasts_policy *p = (mtasts_policy *)&S;
    ck_assert_int_eq(mtasts_lookup(NULL, DOMAIN, &p), MTASTS_ERR_INVALID);
    ck_assert_ptr_null(p);
    p = (mtasts_policy *)&S;
    ck_assert_int_eq(mtasts_lookup(ctx, NULL, &p), MTASTS_ERR_INVALID);
    ck_assert_ptr_null(p);
    ck_assert_int_eq(mtasts_lookup(ctx, DOMAIN, NULL), MTASTS_ERR_INVALID);
    mtasts_result *r = (mtasts_result *)&S;
    ck_assert_int_eq(mtasts_lookup_result(NULL, DOMAIN, &r),
                     MTASTS_ERR_INVALID);
    ck_assert_ptr_null(r);
    r = (mtasts_result *)&S;
    ck_assert_int_eq(mtasts_lookup_result(ctx, NULL, &r), MTASTS_ERR_INVALID);
    ck_assert_ptr_null(r);
    ck_assert_int_eq(mtasts_lookup_result(ctx, DOMAIN, NULL),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_lookup_async(NULL, DOMAIN, never_cb, NULL),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_lookup_async(ctx, NULL, never_cb, NULL),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_lookup_async(ctx, DOMAIN, NULL, NULL),
                     MTASTS_ERR_INVALID);
    IO(0, 0);
    check_bad(__LINE__);
    mtasts_ctx_free(ctx);
}
END_TEST

/* The defaults the setters document, seen through behaviour: port 443
 * (test_engine_first_fetch), body cap 64 KiB (test_engine_body_cap), TXT
 * check 600 s (test_engine_txt_check_interval), no-policy TTL 300 s and
 * backoff 300 s (test_engine_no_policy_memory, test_engine_backoff); here
 * the wall clock when the fake one is removed. */
START_TEST(test_engine_default_clock)
{
    mtasts_ctx *ctx = new_ctx();
    ck_assert_int_eq(mtasts_ctx_set_clock(ctx, NULL, &S), MTASTS_OK);
    time_t before = time(NULL);
    mtasts_result *r = LOOKUP(ctx, DOMAIN);
    time_t after = time(NULL);
    CHECK(r, MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
    ck_assert_int_ge(mtasts_result_expires(r), (int64_t)before + DAY);
    ck_assert_int_le(mtasts_result_expires(r), (int64_t)after + DAY);
    mtasts_result_free(r);
    mtasts_ctx_free(ctx);
}
END_TEST

/* The result getters on NULL. */
START_TEST(test_engine_result_null)
{
    ck_assert_int_eq(mtasts_result_status(NULL), MTASTS_ERR_INVALID);
    ck_assert_ptr_null(mtasts_result_policy(NULL));
    CHECK_STR("domain", mtasts_result_domain(NULL), "");
    CHECK_STR("id", mtasts_result_txt_id(NULL), "");
    ck_assert_int_eq(mtasts_result_failure(NULL), MTASTS_RPT_NONE);
    CHECK_STR("reason", mtasts_result_reason(NULL), "");
    ck_assert(!mtasts_result_from_cache(NULL));
    ck_assert_int_eq(mtasts_result_expires(NULL), 0);
    mtasts_result_free(NULL);
}
END_TEST

/* RFC 8460 §4.3 result type names. */
START_TEST(test_engine_rpt_names)
{
    static const char *const names[] = {
        "none",
        "starttls-not-supported",
        "certificate-host-mismatch",
        "certificate-expired",
        "certificate-not-trusted",
        "validation-failure",
        "tlsa-invalid",
        "dnssec-invalid",
        "dane-required",
        "sts-policy-fetch-error",
        "sts-policy-invalid",
        "sts-webpki-invalid",
    };
    ck_assert_int_eq(ARRAY_LEN(names), MTASTS_RPT_STS_WEBPKI_INVALID + 1);
    for (size_t i = 0; i < ARRAY_LEN(names); i++) {
        CHECK_STR("name", mtasts_rpt_result_name((mtasts_rpt_result)i),
                  names[i]);
    }
    CHECK_STR("name", mtasts_rpt_result_name((mtasts_rpt_result)12), "unknown");
    CHECK_STR("name", mtasts_rpt_result_name((mtasts_rpt_result)-1), "unknown");
    CHECK_STR("name", mtasts_rpt_result_name((mtasts_rpt_result)1000),
              "unknown");
}
END_TEST

/* mtasts_status_is_temporary() over every status and a few unknown ones. */
START_TEST(test_engine_status_temporary)
{
    static const struct {
        int status;
        bool temporary;
    } cases[] = {
        {MTASTS_OK, false},
        {MTASTS_ERR_INVALID, false},
        {MTASTS_ERR_NOMEM, true},
        {MTASTS_ERR_STATE, false},
        {MTASTS_ERR_IO, false},
        {MTASTS_ERR_SYNTAX, false},
        {MTASTS_ERR_TOO_LARGE, false},
        {MTASTS_ERR_BAD_DOMAIN, false},
        {MTASTS_ERR_NOT_ASCII, false},
        {MTASTS_ERR_NO_POLICY, false},
        {MTASTS_ERR_DNS_TEMPFAIL, true},
        {MTASTS_ERR_FETCH, true},
        {MTASTS_ERR_WEBPKI, true},
        {MTASTS_ERR_POLICY_INVALID, true},
        {MTASTS_ERR_CONNECT, true},
        {MTASTS_ERR_TIMEOUT, true},
        {MTASTS_ERR_PROTOCOL, true},
        {MTASTS_ERR_STORE, true},
        {1, false},
        {-5, false},
        {-99, false},
        {-205, false},
        {-303, false},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        ck_assert_msg(mtasts_status_is_temporary(cases[i].status) ==
                          cases[i].temporary,
                      "%s (%d): temporary should be %d",
                      mtasts_status_name(cases[i].status), cases[i].status,
                      cases[i].temporary);
    }
}
END_TEST

/* ---- case "allocation" --------------------------------------------------- */

/* Fail the 1st, 2nd, ... allocation of mtasts_ctx_new() until it succeeds:
 * each failure is MTASTS_ERR_NOMEM and leaks nothing. */
START_TEST(test_engine_alloc_ctx_new)
{
    bool succeeded = false;
    for (size_t n = 1; n < 1000 && !succeeded; n++) {
        failalloc_start(n);
        mtasts_ctx *ctx = (mtasts_ctx *)&S;
        int rc = mtasts_ctx_new(&ctx);
        size_t calls = failalloc_calls();
        mtasts_ctx *got = ctx;
        if (rc == MTASTS_OK) {
            mtasts_ctx_free(ctx);
        }
        long live = failalloc_live();
        failalloc_stop();
        ck_assert_msg(live == 0, "failing allocation %zu: %ld blocks leaked", n,
                      live);
        if (rc == MTASTS_OK) {
            ck_assert_msg(calls < n, "allocation %zu failed, yet MTASTS_OK", n);
            succeeded = true;
        } else {
            ck_assert_msg(rc == MTASTS_ERR_NOMEM, "allocation %zu: %s", n,
                          mtasts_status_name(rc));
            ck_assert_ptr_null(got);
        }
    }
    ck_assert(succeeded);
}
END_TEST

/* One first-fetch lookup with allocation n failing: its status, and
 * whether the failure was reached. */
static int
alloc_lookup_once(size_t n, bool blocking, bool *reached)
{
    failalloc_start(0);
    mtasts_ctx *ctx = new_ctx();
    ck_assert_int_eq(mtasts_ctx_set_txt_check_interval_s(ctx, 0), MTASTS_OK);
    long base = failalloc_live();

    failalloc_start(n);
    int rc;
    int mode = NO_MODE;
    bool consistent = true;
    if (blocking) {
        mtasts_policy *p = (mtasts_policy *)&S;
        rc = mtasts_lookup(ctx, DOMAIN, &p);
        consistent = (rc == MTASTS_OK) == (p != NULL);
        if (p != NULL) {
            mode = (int)mtasts_policy_mode(p);
        }
        mtasts_policy_unref(p);
    } else {
        mtasts_result *r = (mtasts_result *)&S;
        rc = mtasts_lookup_result(ctx, DOMAIN, &r);
        consistent = r == NULL || rc == mtasts_result_status(r);
        if (mtasts_result_policy(r) != NULL) {
            mode = (int)mtasts_policy_mode(mtasts_result_policy(r));
        }
        mtasts_result_free(r);
    }
    *reached = failalloc_calls() >= n;
    mtasts_ctx_free(ctx);
    long live = failalloc_live();
    failalloc_stop();

    ck_assert_msg(consistent, "allocation %zu: inconsistent output", n);
    ck_assert_msg(live == -base, "allocation %zu: %ld blocks leaked", n,
                  live + base);
    ck_assert_msg(rc != MTASTS_OK || mode == MTASTS_MODE_ENFORCE,
                  "allocation %zu: MTASTS_OK without the policy", n);
    return rc;
}

/* Fail the 1st, 2nd, ... allocation of a first-fetch lookup (synchronous
 * scripted hooks) until it succeeds: each failure gives MTASTS_ERR_NOMEM,
 * from the call or as the result's status, and leaks nothing. */
START_TEST(test_engine_alloc_lookup)
{
    for (int blocking = 0; blocking <= 1; blocking++) {
        bool succeeded = false;
        size_t n;
        for (n = 1; n < 1000 && !succeeded; n++) {
            rescript();
            bool reached = false;
            int rc = alloc_lookup_once(n, blocking, &reached);
            check_bad(__LINE__);
            if (!reached) {
                ck_assert_msg(rc == MTASTS_OK, "no failure, yet %s",
                              mtasts_status_name(rc));
                succeeded = true;
            } else {
                ck_assert_msg(rc == MTASTS_ERR_NOMEM,
                              "allocation %zu failed: %s, want "
                              "MTASTS_ERR_NOMEM",
                              n, mtasts_status_name(rc));
            }
        }
        ck_assert(succeeded);
        ck_assert_uint_gt(n, 5); /* the loop did reach the engine */
    }
    rescript();
}
END_TEST

/* ---- added: transitions and failures in depth ---------------------------- */

static int
https_count(void)
{
    pthread_mutex_lock(&S.lock);
    int n = S.nhttps;
    pthread_mutex_unlock(&S.lock);
    return n;
}

/* R8461-3.1-o, R8461-3.3-m, R8461-6-b: with an unexpired policy cached, a
 * missing TXT record (NXDOMAIN, NODATA, an answer without records, an
 * answer without an MTA-STS record) keeps that policy with its lifetime,
 * makes no HTTPS request, and leaves no "no policy" memory behind; the
 * defaults are in force (TXT check 600 s, no-policy TTL 300 s). Once the
 * policy has expired (R8461-5.1-a) the missing record means no policy, and
 * that is then remembered. */
START_TEST(test_engine_txt_missing_keeps_cache)
{
    static const struct {
        mtasts_dns_rcode rcode;
        const char *record; /* NULL: none */
    } missing[] = {
        {MTASTS_DNS_NXDOMAIN, NULL},
        {MTASTS_DNS_NODATA, NULL},
        {MTASTS_DNS_ANSWER, NULL},
        {MTASTS_DNS_ANSWER, "v=spf1 -all"},
    };
    mtasts_ctx *ctx = new_ctx();
    prime_cache(ctx, DOMAIN);
    int ndns = 1;
    int64_t t = T0;
    for (size_t i = 0; i < ARRAY_LEN(missing); i++) {
        t += 600; /* the TXT check is due */
        set_now(t);
        if (missing[i].record != NULL) {
            serve_txt(missing[i].record);
        } else {
            serve_rcode(missing[i].rcode);
        }
        mtasts_result *r = LOOKUP(ctx, DOMAIN);
        CHECK(r, MTASTS_OK, MTASTS_MODE_ENFORCE,
              MTASTS_RPT_STS_POLICY_FETCH_ERROR);
        ck_assert(mtasts_result_from_cache(r));
        CHECK_STR("id", mtasts_result_txt_id(r), ID_A);
        ck_assert_int_eq(mtasts_result_expires(r), T0 + DAY);
        mtasts_result_free(r);
        IO(++ndns, 1);
        /* within the interval the cache answers alone, in the blocking
         * call's fast path too */
        set_now(t + 599);
        mtasts_policy *p = NULL;
        ck_assert_int_eq(mtasts_lookup(ctx, DOMAIN, &p), MTASTS_OK);
        ck_assert_int_eq(mtasts_policy_mode(p), MTASTS_MODE_ENFORCE);
        mtasts_policy_unref(p);
        IO(ndns, 1);
    }
    /* the last second of its life */
    set_now(T0 + DAY - 1);
    serve_rcode(MTASTS_DNS_NXDOMAIN);
    EXPECT(ctx, DOMAIN, MTASTS_OK, MTASTS_MODE_ENFORCE,
           MTASTS_RPT_STS_POLICY_FETCH_ERROR);
    IO(++ndns, 1);

    /* expired: the missing record means no policy, not the old one */
    set_now(T0 + DAY);
    mtasts_result *r = LOOKUP(ctx, DOMAIN);
    CHECK(r, MTASTS_ERR_NO_POLICY, NO_MODE, MTASTS_RPT_NONE);
    ck_assert(!mtasts_result_from_cache(r));
    mtasts_result_free(r);
    IO(++ndns, 1);
    /* ... and remembered for the no-policy TTL */
    mtasts_policy *p = (mtasts_policy *)&S;
    ck_assert_int_eq(mtasts_lookup(ctx, DOMAIN, &p), MTASTS_ERR_NO_POLICY);
    ck_assert_ptr_null(p);
    set_now(T0 + DAY + 299);
    r = LOOKUP(ctx, DOMAIN);
    CHECK(r, MTASTS_ERR_NO_POLICY, NO_MODE, MTASTS_RPT_NONE);
    ck_assert_ptr_nonnull(strstr(mtasts_result_reason(r), "remembered"));
    mtasts_result_free(r);
    IO(ndns, 1);
    set_now(T0 + DAY + 300);
    serve_txt(TXT_A);
    r = LOOKUP(ctx, DOMAIN);
    CHECK(r, MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
    ck_assert(!mtasts_result_from_cache(r));
    ck_assert_int_eq(mtasts_result_expires(r), T0 + 2 * DAY + 300);
    mtasts_result_free(r);
    IO(++ndns, 2);
    mtasts_ctx_free(ctx);
}
END_TEST

/* Every lookup call gives status want, no policy and failure. */
#define EXPECT_ALL_APIS(ctx, want, failure)                                    \
    expect_all_apis_at(__LINE__, (ctx), (want), (failure))

static void
expect_all_apis_at(int line, mtasts_ctx *ctx, int want,
                   mtasts_rpt_result failure)
{
    expect_at(line, ctx, DOMAIN, want, NO_MODE, failure);
    mtasts_policy *p = (mtasts_policy *)&S;
    int rc = mtasts_lookup(ctx, DOMAIN, &p);
    ck_assert_msg(rc == want && p == NULL,
                  "line %d: mtasts_lookup gave %s and %p, want %s and NULL",
                  line, mtasts_status_name(rc), (void *)p,
                  mtasts_status_name(want));
    struct cb_slot slot = {0};
    ck_assert_int_eq(mtasts_lookup_async(ctx, DOMAIN, record_cb, &slot),
                     MTASTS_OK);
    check_bad(line);
    ck_assert_msg(slot.calls == 1 && slot.status == want &&
                      slot.policy == NULL && slot.failure == failure,
                  "line %d: callback: %d calls, %s, policy %p, failure %s",
                  line, slot.calls, mtasts_status_name(slot.status),
                  (void *)slot.policy, mtasts_rpt_result_name(slot.failure));
}

/* R8461-5.1-a, R8461-3.2-s, R8461-3.3-j: once a cached policy has expired
 * a failed refetch never brings it back: not through mtasts_lookup_result(),
 * mtasts_lookup() (and its cache fast path) or mtasts_lookup_async(); not
 * when the TXT record still carries the policy's id; not during the backoff
 * that follows (default 300 s, no GET in it). A successful fetch after the
 * backoff stores a new lifetime. */
START_TEST(test_engine_expired_refetch_fails)
{
    enum { K_HTTP_500, K_WEBPKI, K_INVALID, K_HOOK, K_NEW_ID, K_TEMPFAIL, K_N };
    static const struct {
        int status;
        mtasts_rpt_result failure;
        bool fetches;
    } kinds[K_N] = {
        [K_HTTP_500] = {MTASTS_ERR_FETCH, MTASTS_RPT_STS_POLICY_FETCH_ERROR,
                        true},
        [K_WEBPKI] = {MTASTS_ERR_WEBPKI, MTASTS_RPT_STS_WEBPKI_INVALID, true},
        [K_INVALID] = {MTASTS_ERR_POLICY_INVALID, MTASTS_RPT_STS_POLICY_INVALID,
                       true},
        [K_HOOK] = {MTASTS_ERR_FETCH, MTASTS_RPT_STS_POLICY_FETCH_ERROR, true},
        [K_NEW_ID] = {MTASTS_ERR_FETCH, MTASTS_RPT_STS_POLICY_FETCH_ERROR,
                      true},
        [K_TEMPFAIL] = {MTASTS_ERR_DNS_TEMPFAIL, MTASTS_RPT_NONE, false},
    };
    for (int k = 0; k < K_N; k++) {
        rescript();
        mtasts_ctx *ctx = new_ctx();
        prime_cache(ctx, DOMAIN);
        set_now(T0 + DAY);
        switch (k) {
        case K_HTTP_500:
            serve_http(500, "text/plain", POL_ENFORCE);
            break;
        case K_WEBPKI:
            serve_transport(TR_WEBPKI);
            break;
        case K_INVALID:
            serve_http(200, "text/plain", POL_INVALID);
            break;
        case K_HOOK:
            S.https_hook_rc = MTASTS_ERR_IO;
            break;
        case K_NEW_ID:
            serve_txt(TXT_B);
            serve_http(404, "text/plain", "");
            break;
        case K_TEMPFAIL:
            serve_rcode(MTASTS_DNS_TEMPFAIL);
            break;
        }
        int want_https = kinds[k].fetches ? 2 : 1;
        /* the moment it expires, and every call */
        mtasts_result *r = LOOKUP(ctx, DOMAIN);
        CHECK(r, kinds[k].status, NO_MODE, kinds[k].failure);
        ck_assert(!mtasts_result_from_cache(r));
        CHECK_STR("id", mtasts_result_txt_id(r),
                  k == K_NEW_ID     ? ID_B
                  : k == K_TEMPFAIL ? ""
                                    : ID_A);
        mtasts_result_free(r);
        ck_assert_int_eq(https_count(), want_https);
        EXPECT_ALL_APIS(ctx, kinds[k].status, kinds[k].failure);
        /* the rest of the backoff: still nothing, and no GET */
        set_now(T0 + DAY + 299);
        EXPECT_ALL_APIS(ctx, kinds[k].status, kinds[k].failure);
        ck_assert_msg(https_count() == want_https, "kind %d: %d GETs", k,
                      https_count());
        /* mended; after the backoff one GET, a new lifetime */
        serve_txt(TXT_A);
        serve_http(200, "text/plain", POL_TESTING);
        S.https_hook_rc = MTASTS_OK;
        set_now(T0 + DAY + 300);
        r = LOOKUP(ctx, DOMAIN);
        CHECK(r, MTASTS_OK, MTASTS_MODE_TESTING, MTASTS_RPT_NONE);
        ck_assert_int_eq(mtasts_result_expires(r), T0 + 2 * DAY + 300);
        mtasts_result_free(r);
        ck_assert_int_eq(https_count(), want_https + 1);
        mtasts_ctx_free(ctx);
    }
}
END_TEST

/* R8461-8.3-a, R8461-5-c, R8461-6-b, R8461-3-a: a none policy is cached like
 * any other. The first fetch stores it; within the TXT check interval the
 * cache answers; the same id needs no fetch; it survives every refresh
 * failure (DNS, missing TXT, fetch, certificate, invalid new policy) until
 * it expires, and none of those failures is reportable while it applies;
 * it expires at fetched_at + max_age and is then no longer applied; a new
 * id replaces it. */
START_TEST(test_engine_mode_none_cached)
{
    mtasts_ctx *ctx = new_ctx();
    serve_http(200, "text/plain", POL_NONE);
    mtasts_result *r = LOOKUP(ctx, DOMAIN);
    CHECK(r, MTASTS_OK, MTASTS_MODE_NONE, MTASTS_RPT_NONE);
    ck_assert(!mtasts_result_from_cache(r));
    ck_assert_int_eq(mtasts_result_expires(r), T0 + DAY);
    mtasts_result_free(r);
    IO(1, 1);
    set_now(T0 + 599);
    mtasts_policy *p = NULL;
    ck_assert_int_eq(mtasts_lookup(ctx, DOMAIN, &p), MTASTS_OK);
    ck_assert_int_eq(mtasts_policy_mode(p), MTASTS_MODE_NONE);
    mtasts_policy_unref(p);
    IO(1, 1);
    set_now(T0 + 600);
    r = LOOKUP(ctx, DOMAIN);
    CHECK(r, MTASTS_OK, MTASTS_MODE_NONE, MTASTS_RPT_NONE);
    ck_assert(mtasts_result_from_cache(r));
    mtasts_result_free(r);
    IO(2, 1);

    /* refresh failures, one per TXT check (every 600 s): none still
     * applies, with a reason but nothing to report */
    enum { F_TEMPFAIL, F_NXDOMAIN, F_FETCH, F_WEBPKI, F_INVALID, F_N };
    int nhttps = 1;
    for (int k = 0; k < F_N; k++) {
        char id[16];
        snprintf(id, sizeof(id), "v=STSv1; id=n%d", k);
        serve_txt(id);
        switch (k) {
        case F_TEMPFAIL:
            serve_rcode(MTASTS_DNS_TEMPFAIL);
            break;
        case F_NXDOMAIN:
            serve_rcode(MTASTS_DNS_NXDOMAIN);
            break;
        case F_FETCH:
            serve_transport(TR_FETCH);
            nhttps++;
            break;
        case F_WEBPKI:
            serve_transport(TR_WEBPKI);
            nhttps++;
            break;
        case F_INVALID:
            serve_http(200, "text/plain", POL_INVALID);
            nhttps++;
            break;
        }
        set_now(T0 + 600 * (k + 2));
        r = LOOKUP(ctx, DOMAIN);
        CHECK(r, MTASTS_OK, MTASTS_MODE_NONE, MTASTS_RPT_NONE);
        ck_assert_msg(mtasts_result_reason(r)[0] != '\0', "kind %d: no reason",
                      k);
        ck_assert(mtasts_result_from_cache(r));
        CHECK_STR("id", mtasts_result_txt_id(r), ID_A);
        ck_assert_int_eq(mtasts_result_expires(r), T0 + DAY);
        mtasts_result_free(r);
        IO(3 + k, nhttps);
    }

    /* expired, and the refetch fails: no policy at all, now reportable */
    set_now(T0 + DAY);
    serve_txt(TXT_A);
    serve_http(500, "text/plain", POL_NONE);
    EXPECT(ctx, DOMAIN, MTASTS_ERR_FETCH, NO_MODE,
           MTASTS_RPT_STS_POLICY_FETCH_ERROR);
    IO(3 + F_N, ++nhttps);

    /* a new id replaces an unexpired none */
    set_now(T0 + DAY + 300);
    serve_http(200, "text/plain", POL_NONE);
    EXPECT(ctx, DOMAIN, MTASTS_OK, MTASTS_MODE_NONE, MTASTS_RPT_NONE);
    set_now(T0 + DAY + 900);
    serve_txt(TXT_B);
    serve_http(200, "text/plain", POL_ENFORCE);
    r = LOOKUP(ctx, DOMAIN);
    CHECK(r, MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
    CHECK_STR("id", mtasts_result_txt_id(r), ID_B);
    mtasts_result_free(r);
    IO(5 + F_N, nhttps + 2);
    mtasts_ctx_free(ctx);
}
END_TEST

/* R8461-3.3-j, R8461-6-a: a first fetch that yields an invalid policy is a
 * failed fetch like any other. During the configured backoff every lookup
 * answers from the negative entry with the same status, classification
 * (sts-policy-invalid) and a reason saying so, without a GET; when it ends,
 * one GET, and a new backoff if that fails too. */
START_TEST(test_engine_backoff_invalid_policy)
{
    mtasts_ctx *ctx = new_ctx();
    ck_assert_int_eq(mtasts_ctx_set_fetch_backoff_s(ctx, 60), MTASTS_OK);
    serve_http(200, "text/plain", POL_INVALID);
    mtasts_result *r = LOOKUP(ctx, DOMAIN);
    CHECK(r, MTASTS_ERR_POLICY_INVALID, NO_MODE, MTASTS_RPT_STS_POLICY_INVALID);
    CHECK_STR("id", mtasts_result_txt_id(r), ID_A);
    ck_assert_ptr_nonnull(strstr(mtasts_result_reason(r), "invalid policy"));
    mtasts_result_free(r);
    IO(1, 1);
    static const int64_t during[] = {1, 30, 59};
    for (size_t i = 0; i < ARRAY_LEN(during); i++) {
        set_now(T0 + during[i]);
        r = LOOKUP(ctx, DOMAIN);
        CHECK(r, MTASTS_ERR_POLICY_INVALID, NO_MODE,
              MTASTS_RPT_STS_POLICY_INVALID);
        CHECK_STR("id", mtasts_result_txt_id(r), ID_A);
        ck_assert_ptr_nonnull(
            strstr(mtasts_result_reason(r), "invalid policy"));
        ck_assert_ptr_nonnull(strstr(mtasts_result_reason(r), "failed before"));
        mtasts_result_free(r);
        mtasts_policy *p = (mtasts_policy *)&S;
        ck_assert_int_eq(mtasts_lookup(ctx, DOMAIN, &p),
                         MTASTS_ERR_POLICY_INVALID);
        ck_assert_ptr_null(p);
    }
    ck_assert_int_eq(https_count(), 1);
    set_now(T0 + 60);
    EXPECT(ctx, DOMAIN, MTASTS_ERR_POLICY_INVALID, NO_MODE,
           MTASTS_RPT_STS_POLICY_INVALID);
    ck_assert_int_eq(https_count(), 2);
    serve_http(200, "text/plain", POL_ENFORCE);
    set_now(T0 + 119);
    EXPECT(ctx, DOMAIN, MTASTS_ERR_POLICY_INVALID, NO_MODE,
           MTASTS_RPT_STS_POLICY_INVALID);
    ck_assert_int_eq(https_count(), 2);
    set_now(T0 + 120);
    EXPECT(ctx, DOMAIN, MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
    ck_assert_int_eq(https_count(), 3);
    mtasts_ctx_free(ctx);
}
END_TEST

/* Cache capacity (no CHECKLIST id; mtasts_ctx_set_cache_capacity()): past
 * it the least recently used entries go, and a dropped domain is looked up
 * afresh, never answered from stale memory; a policy the caller still holds
 * outlives its entry; entries with a lookup in flight stay even when all of
 * them do (the cache is then over capacity until the next insertion). */
START_TEST(test_engine_cache_eviction)
{
    enum { CAP = 4, NDOM = 20 };
    char names[NDOM][32];
    mtasts_ctx *ctx = new_ctx();
    ck_assert_int_eq(mtasts_ctx_set_cache_capacity(ctx, CAP), MTASTS_OK);
    mtasts_policy *held = NULL;
    for (int i = 0; i < NDOM; i++) {
        snprintf(names[i], sizeof(names[i]), "d%d.example", i);
        mtasts_result *r = LOOKUP(ctx, names[i]);
        CHECK(r, MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
        ck_assert(!mtasts_result_from_cache(r));
        if (i == 0) {
            held = mtasts_policy_ref(mtasts_result_policy(r));
        }
        mtasts_result_free(r);
        IO(i + 1, i + 1);
    }
    /* the CAP most recent answer from memory, oldest first */
    for (int i = NDOM - CAP; i < NDOM; i++) {
        mtasts_result *r = LOOKUP(ctx, names[i]);
        ck_assert_msg(mtasts_result_from_cache(r), "%s evicted", names[i]);
        mtasts_result_free(r);
    }
    IO(NDOM, NDOM);
    /* the one before was dropped: fetched again, and it pushes out the
     * least recently used (the oldest of those CAP) */
    mtasts_result *r = LOOKUP(ctx, names[NDOM - CAP - 1]);
    CHECK(r, MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
    ck_assert(!mtasts_result_from_cache(r));
    mtasts_result_free(r);
    IO(NDOM + 1, NDOM + 1);
    r = LOOKUP(ctx, names[NDOM - 1]);
    ck_assert(mtasts_result_from_cache(r));
    mtasts_result_free(r);
    IO(NDOM + 1, NDOM + 1);
    r = LOOKUP(ctx, names[NDOM - CAP]);
    ck_assert(!mtasts_result_from_cache(r));
    mtasts_result_free(r);
    IO(NDOM + 2, NDOM + 2);
    /* a dropped domain whose TXT record is now gone has no policy: its
     * old policy is not remembered anywhere */
    serve_rcode(MTASTS_DNS_NXDOMAIN);
    EXPECT(ctx, names[1], MTASTS_ERR_NO_POLICY, NO_MODE, MTASTS_RPT_NONE);
    serve_txt(TXT_A);
    /* the policy held by the caller outlived its entry */
    ck_assert_int_eq(mtasts_policy_mode(held), MTASTS_MODE_ENFORCE);
    ck_assert_uint_eq(mtasts_policy_mx_count(held), 1);
    CHECK_STR("mx", mtasts_policy_mx(held, 0), "mx.example.com");
    mtasts_policy_unref(held);
    mtasts_ctx_free(ctx);

    /* capacity 2, three domains in flight at once: none is dropped; the
     * next insertion brings the cache back to capacity */
    rescript();
    ctx = new_ctx();
    ck_assert_int_eq(mtasts_ctx_set_cache_capacity(ctx, 2), MTASTS_OK);
    S.dns_hold = true;
    static const char *const fly[] = {"a.example", "b.example", "c.example"};
    struct cb_slot slots[3];
    mtasts_req *reqs[3];
    memset(slots, 0, sizeof(slots));
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(mtasts_lookup_async(ctx, fly[i], record_cb, &slots[i]),
                         MTASTS_OK);
        reqs[i] = take_held_dns();
    }
    S.dns_hold = false;
    for (int i = 0; i < 3; i++) {
        answer_dns(reqs[i], false);
        ck_assert_int_eq(slot_calls(&slots[i]), 1);
        ck_assert_int_eq(slots[i].status, MTASTS_OK);
        ck_assert_ptr_nonnull(slots[i].policy);
        mtasts_policy_unref(slots[i].policy);
    }
    IO(3, 3);
    EXPECT(ctx, "d.example", MTASTS_OK, MTASTS_MODE_ENFORCE, MTASTS_RPT_NONE);
    IO(4, 4);
    /* c (most recent of the three) and d stay; a and b went */
    r = LOOKUP(ctx, "c.example");
    ck_assert(mtasts_result_from_cache(r));
    mtasts_result_free(r);
    IO(4, 4);
    r = LOOKUP(ctx, "a.example");
    ck_assert(!mtasts_result_from_cache(r));
    mtasts_result_free(r);
    IO(5, 5);
    check_bad(__LINE__);
    mtasts_ctx_free(ctx);
}
END_TEST

/* Completion-function misuse on requests held past their hook, from the
 * test's thread: the wrong kind of request, an unknown rcode or status
 * (the request stays alive and is then finished normally), a second head,
 * body after the cap (MTASTS_ERR_TOO_LARGE from then on, even for a piece
 * that would fit, or none), and a DNS answer large enough to grow the
 * record array several times. The documented codes, and the lookups end
 * as they should. (Calls after done are undefined: see the file head.) */
START_TEST(test_engine_completion_misuse_held)
{
    mtasts_ctx *ctx = new_ctx();
    ck_assert_int_eq(mtasts_ctx_set_body_max(ctx, 100), MTASTS_OK);

    /* DNS */
    S.dns_hold = true;
    struct cb_slot slot = {0};
    ck_assert_int_eq(mtasts_lookup_async(ctx, DOMAIN, record_cb, &slot),
                     MTASTS_OK);
    mtasts_req *req = take_held_dns();
    ck_assert_int_eq(mtasts_https_response(req, 200, "text/plain"),
                     MTASTS_ERR_STATE);
    ck_assert_int_eq(mtasts_https_body(req, "x", 1), MTASTS_ERR_STATE);
    ck_assert_int_eq(mtasts_https_done(req, MTASTS_OK, NULL), MTASTS_ERR_STATE);
    ck_assert_int_eq(mtasts_https_done(req, MTASTS_ERR_FETCH, "x"),
                     MTASTS_ERR_STATE);
    for (int i = 0; i < 19; i++) {
        char rec[32];
        int n = snprintf(rec, sizeof(rec), "v=spf%d -all", i);
        ck_assert_int_eq(mtasts_dns_add_txt(req, rec, (size_t)n), MTASTS_OK);
    }
    ck_assert_int_eq(mtasts_dns_add_txt(req, NULL, 0), MTASTS_OK);
    ck_assert_int_eq(mtasts_dns_add_txt(req, TXT_B, strlen(TXT_B)), MTASTS_OK);
    ck_assert_int_eq(mtasts_dns_done(req, (mtasts_dns_rcode)4, NULL),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_dns_done(req, (mtasts_dns_rcode)-1, NULL),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(slot_calls(&slot), 0);
    ck_assert_int_eq(mtasts_dns_done(req, MTASTS_DNS_ANSWER, NULL), MTASTS_OK);
    /* the HTTPS hook answered inline */
    ck_assert_int_eq(slot_calls(&slot), 1);
    ck_assert_int_eq(slot.status, MTASTS_OK);
    CHECK_STR("id", slot.id, ID_B);
    mtasts_policy_unref(slot.policy);
    IO(1, 1);

    /* HTTPS */
    S.dns_hold = false;
    S.https_hold = true;
    memset(&slot, 0, sizeof(slot));
    ck_assert_int_eq(mtasts_lookup_async(ctx, "example.org", record_cb, &slot),
                     MTASTS_OK);
    req = take_held_https();
    ck_assert_int_eq(mtasts_dns_add_txt(req, TXT_A, strlen(TXT_A)),
                     MTASTS_ERR_STATE);
    ck_assert_int_eq(mtasts_dns_done(req, MTASTS_DNS_ANSWER, NULL),
                     MTASTS_ERR_STATE);
    ck_assert_int_eq(mtasts_https_body(req, "x", 1), MTASTS_ERR_STATE);
    ck_assert_int_eq(mtasts_https_done(req, MTASTS_ERR_TOO_LARGE, NULL),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_https_done(req, MTASTS_ERR_NO_POLICY, NULL),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_https_response(req, 200, "text/plain"), MTASTS_OK);
    ck_assert_int_eq(mtasts_https_response(req, 200, "text/plain"),
                     MTASTS_ERR_STATE);
    char sixty[60];
    memset(sixty, 'a', sizeof(sixty));
    ck_assert_int_eq(mtasts_https_body(req, sixty, 60), MTASTS_OK);
    ck_assert_int_eq(mtasts_https_body(req, sixty, 41), MTASTS_ERR_TOO_LARGE);
    ck_assert_int_eq(mtasts_https_body(req, sixty, 40), MTASTS_ERR_TOO_LARGE);
    ck_assert_int_eq(mtasts_https_body(req, "", 0), MTASTS_ERR_TOO_LARGE);
    ck_assert_int_eq(mtasts_https_body(req, NULL, 0), MTASTS_ERR_TOO_LARGE);
    ck_assert_int_eq(mtasts_https_body(req, NULL, 1), MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_https_response(req, 200, NULL), MTASTS_ERR_STATE);
    ck_assert_int_eq(slot_calls(&slot), 0);
    /* the hook claims success all the same: a fetch failure */
    ck_assert_int_eq(mtasts_https_done(req, MTASTS_OK, NULL), MTASTS_OK);
    ck_assert_int_eq(slot_calls(&slot), 1);
    ck_assert_int_eq(slot.status, MTASTS_ERR_FETCH);
    ck_assert_int_eq(slot.failure, MTASTS_RPT_STS_POLICY_FETCH_ERROR);
    ck_assert_ptr_null(slot.policy);
    ck_assert_ptr_nonnull(strstr(slot.reason, "larger than 100 bytes"));
    IO(2, 2);
    check_bad(__LINE__);
    mtasts_ctx_free(ctx);
}
END_TEST

/* R8461-3.3-m, R8461-3.3-n, R8461-3.1-o, R8461-6-b with asynchronous hooks:
 * each request is completed from a thread of its own after its hook has
 * returned; the lookup is blocking in a worker thread or asynchronous with
 * the callback in the completing thread. A DNS failure, a missing TXT
 * record, a failed fetch and an invalid new policy all leave the cached
 * policy in force, with the failure classified and explained. */
START_TEST(test_engine_async_failures)
{
    mtasts_ctx *ctx = new_ctx();
    prime_cache(ctx, DOMAIN);
    S.dns_hold = true;
    S.https_hold = true;

    /* DNS failure, blocking lookup in a worker */
    set_now(T0 + 600);
    serve_rcode(MTASTS_DNS_TEMPFAIL);
    struct worker w;
    start_call(&w, ctx, DOMAIN, W_RESULT);
    struct completer c1, c2;
    complete_in_thread(&c1, take_held_dns(), false);
    WAIT_UNTIL(S.finished == 1);
    pthread_join(w.tid, NULL);
    ck_assert_int_eq(w.rc, MTASTS_OK);
    CHECK(w.result, MTASTS_OK, MTASTS_MODE_ENFORCE,
          MTASTS_RPT_STS_POLICY_FETCH_ERROR);
    ck_assert(mtasts_result_from_cache(w.result));
    ck_assert_int_eq(mtasts_result_expires(w.result), T0 + DAY);
    ck_assert_ptr_nonnull(strstr(mtasts_result_reason(w.result), "SERVFAIL"));
    mtasts_result_free(w.result);
    IO(2, 1);

    /* missing TXT record, asynchronous lookup */
    set_now(T0 + 1200);
    serve_rcode(MTASTS_DNS_NXDOMAIN);
    struct cb_slot slot = {0};
    ck_assert_int_eq(mtasts_lookup_async(ctx, DOMAIN, record_cb, &slot),
                     MTASTS_OK);
    ck_assert_int_eq(slot_calls(&slot), 0);
    complete_in_thread(&c1, take_held_dns(), false);
    ck_assert_int_eq(slot_calls(&slot), 1);
    ck_assert(pthread_equal(slot.thread, c1.tid));
    ck_assert_int_eq(slot.status, MTASTS_OK);
    ck_assert_int_eq(mtasts_policy_mode(slot.policy), MTASTS_MODE_ENFORCE);
    ck_assert_int_eq(slot.failure, MTASTS_RPT_STS_POLICY_FETCH_ERROR);
    ck_assert(slot.from_cache);
    ck_assert(slot.reason[0] != '\0');
    mtasts_policy_unref(slot.policy);
    IO(3, 1);

    /* new id, failed fetch; invalid new policy: both steps asynchronous */
    static const struct {
        const char *txt;
        unsigned http;
        const char *body;
        mtasts_rpt_result failure;
    } fetches[] = {
        {TXT_B, 503, POL_ENFORCE, MTASTS_RPT_STS_POLICY_FETCH_ERROR},
        {"v=STSv1; id=ccc3", 200, POL_INVALID, MTASTS_RPT_STS_POLICY_INVALID},
    };
    for (size_t i = 0; i < ARRAY_LEN(fetches); i++) {
        set_now(T0 + 1800 + 600 * (int64_t)i);
        serve_txt(fetches[i].txt);
        serve_http(fetches[i].http, "text/plain", fetches[i].body);
        memset(&slot, 0, sizeof(slot));
        ck_assert_int_eq(mtasts_lookup_async(ctx, DOMAIN, record_cb, &slot),
                         MTASTS_OK);
        complete_in_thread(&c1, take_held_dns(), false);
        ck_assert_int_eq(slot_calls(&slot), 0);
        complete_in_thread(&c2, take_held_https(), true);
        ck_assert_int_eq(slot_calls(&slot), 1);
        ck_assert(pthread_equal(slot.thread, c2.tid));
        ck_assert_int_eq(slot.status, MTASTS_OK);
        ck_assert_int_eq(mtasts_policy_mode(slot.policy), MTASTS_MODE_ENFORCE);
        CHECK_STR("id", slot.id, ID_A);
        ck_assert_int_eq(slot.failure, fetches[i].failure);
        ck_assert(slot.from_cache);
        ck_assert(slot.reason[0] != '\0');
        mtasts_policy_unref(slot.policy);
        IO(4 + (int)i, 2 + (int)i);
    }
    check_bad(__LINE__);
    mtasts_ctx_free(ctx);
}
END_TEST

#define MANY 32

/* Single flight (no CHECKLIST id; mtasts.h "Lookup": concurrent lookups of
 * one domain share one DNS query and one fetch), with MANY threads in
 * mtasts_lookup_result() and both requests completed from other threads.
 * The TXT record is checked on every lookup and each worker is known to
 * have joined before anything completes (fake_clock), so a thread that did
 * not share the flight would make a request of its own or get a result
 * from the cache: exactly one DNS query and one GET, and no result from
 * the cache. Then a refresh of the cached policy whose fetch fails: again
 * one of each, and every thread gets the cached policy with the failure. */
START_TEST(test_engine_single_flight_many)
{
    static struct worker w[MANY];
    mtasts_ctx *ctx = new_ctx();
    ck_assert_int_eq(mtasts_ctx_set_txt_check_interval_s(ctx, 0), MTASTS_OK);
    S.dns_hold = true;
    S.https_hold = true;

    for (int round = 0; round < 2; round++) {
        if (round == 1) {
            set_now(T0 + 10);
            serve_txt(TXT_B);
            serve_transport(TR_FETCH);
        }
        pthread_mutex_lock(&S.lock);
        S.entered = 0;
        S.finished = 0;
        pthread_mutex_unlock(&S.lock);
        for (int i = 0; i < MANY; i++) {
            start_call(&w[i], ctx, DOMAIN, W_RESULT);
        }
        WAIT_UNTIL(S.held_dns != NULL && all_clocked(w, MANY, 1));
        IO(round + 1, round);
        struct completer c1, c2;
        complete_in_thread(&c1, take_held_dns(), false);
        mtasts_req *req = take_held_https();
        IO(round + 1, round + 1);
        pthread_mutex_lock(&S.lock);
        int finished = S.finished;
        pthread_mutex_unlock(&S.lock);
        ck_assert_int_eq(finished, 0);
        complete_in_thread(&c2, req, true);
        WAIT_UNTIL(S.finished == MANY);
        for (int i = 0; i < MANY; i++) {
            pthread_join(w[i].tid, NULL);
        }
        IO(round + 1, round + 1);
        check_bad(__LINE__);
        for (int i = 0; i < MANY; i++) {
            const mtasts_result *r = w[i].result;
            ck_assert_int_eq(w[i].rc, MTASTS_OK);
            CHECK(r, MTASTS_OK, MTASTS_MODE_ENFORCE,
                  round == 0 ? MTASTS_RPT_NONE
                             : MTASTS_RPT_STS_POLICY_FETCH_ERROR);
            ck_assert_msg(mtasts_result_from_cache(r) == (round == 1),
                          "round %d, thread %d: from_cache %d", round, i,
                          mtasts_result_from_cache(r));
            CHECK_STR("id", mtasts_result_txt_id(r), ID_A);
            ck_assert_ptr_eq(mtasts_result_policy(r),
                             mtasts_result_policy(w[0].result));
        }
        for (int i = 0; i < MANY; i++) {
            mtasts_result_free(w[i].result);
        }
    }
    mtasts_ctx_free(ctx);
}
END_TEST

/* ---- suite --------------------------------------------------------------- */

static TCase *
new_case(const char *name)
{
    TCase *tc = tcase_create(name);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    return tc;
}

static Suite *
engine_suite(void)
{
    Suite *s = suite_create("engine");

    TCase *tc = new_case("table");
    tcase_add_loop_test(tc, test_engine_txt_table, 0, (int)txt_table.nrows);
    tcase_add_loop_test(tc, test_engine_fetch_table, 0, (int)fetch_table.nrows);
    suite_add_tcase(s, tc);

    tc = new_case("discovery");
    tcase_add_test(tc, test_engine_first_fetch);
    tcase_add_test(tc, test_engine_same_id_no_fetch);
    tcase_add_test(tc, test_engine_new_id_replaces);
    tcase_add_test(tc, test_engine_expiry_boundary);
    tcase_add_test(tc, test_engine_expired_never_used);
    tcase_add_test(tc, test_engine_txt_check_no_extend);
    tcase_add_test(tc, test_engine_dns_tempfail_no_cache);
    tcase_add_test(tc, test_engine_dns_tempfail_cache);
    tcase_add_test(tc, test_engine_invalid_never_replaces);
    tcase_add_test(tc, test_engine_max_age_zero);
    tcase_add_test(tc, test_engine_max_age_clamp);
    tcase_add_test(tc, test_engine_txt_missing_keeps_cache);
    tcase_add_test(tc, test_engine_expired_refetch_fails);
    tcase_add_test(tc, test_engine_mode_none_cached);
    suite_add_tcase(s, tc);

    tc = new_case("domains");
    tcase_add_test(tc, test_engine_address_literal);
    tcase_add_test(tc, test_engine_not_ascii);
    tcase_add_test(tc, test_engine_no_parent);
    tcase_add_test(tc, test_engine_normalise);
    tcase_add_test(tc, test_engine_long_domain);
    suite_add_tcase(s, tc);

    tc = new_case("memory");
    tcase_add_test(tc, test_engine_backoff);
    tcase_add_test(tc, test_engine_reason_codes);
    tcase_add_test(tc, test_engine_no_policy_memory);
    tcase_add_test(tc, test_engine_txt_check_interval);
    tcase_add_test(tc, test_engine_cache_lru);
    tcase_add_test(tc, test_engine_backoff_invalid_policy);
    tcase_add_test(tc, test_engine_cache_eviction);
    suite_add_tcase(s, tc);

    tc = new_case("bodies");
    tcase_add_test(tc, test_engine_body_cap);
    suite_add_tcase(s, tc);

    tc = new_case("hooks");
    tcase_add_test(tc, test_engine_hook_errors);
    tcase_add_test(tc, test_engine_hook_errors_with_data);
    tcase_add_test(tc, test_engine_lost_completion_data);
    tcase_add_test(tc, test_engine_completion_misuse);
    tcase_add_test(tc, test_engine_completion_misuse_held);
    tcase_add_test(tc, test_engine_dns_records_and_rcode);
    suite_add_tcase(s, tc);

    tc = new_case("threads");
    tcase_add_test(tc, test_engine_async_hooks);
    tcase_add_test(tc, test_engine_single_flight);
    tcase_add_test(tc, test_engine_callback_reenters);
    tcase_add_test(tc, test_engine_async_failures);
    tcase_add_test(tc, test_engine_single_flight_many);
    suite_add_tcase(s, tc);

    tc = new_case("api");
    tcase_add_test(tc, test_engine_setters);
    tcase_add_test(tc, test_engine_default_clock);
    tcase_add_test(tc, test_engine_result_null);
    tcase_add_test(tc, test_engine_rpt_names);
    tcase_add_test(tc, test_engine_status_temporary);
    suite_add_tcase(s, tc);

    tc = new_case("allocation");
    tcase_add_test(tc, test_engine_alloc_ctx_new);
    tcase_add_test(tc, test_engine_alloc_lookup);
    suite_add_tcase(s, tc);

    return s;
}

int
main(void)
{
    td_load(&txt_table, "engine_txt_cases.tsv", 4);
    td_load(&fetch_table, "engine_fetch_cases.tsv", 8);
    int rc = harness_run(engine_suite());
    td_free(&txt_table);
    td_free(&fetch_table);
    return rc;
}
