/* Unit tests of TLS report delivery over HTTPS without a network
 * (RFC 8460 §5.4, §5.5, §4.1): the https: rua parser (lib/parse/rua.c),
 * the request head the default I/O writes (lib/io/http.c), and
 * mtasts_rpt_post() against POST hooks of this file that answer inline or
 * from another thread with each outcome; then the retry schedule and the
 * send time under a fake clock.
 *
 * The rua table is tests/data/rua_https_cases.tsv. The real POST over TLS
 * is tested against a receiver in the integration world
 * (tests/integration/query_post.py). */
#include "harness.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "engine/engine.h"
#include "io/http.h"
#include "io/io.h"
#include "mtasts/mtasts.h"
#include "parse/rua.h"

#define DAY0 INT64_C(1767225600) /* 2026-01-01T00:00:00Z */
#define DAY INT64_C(86400)
#define ORG "Example Sender"
#define CONTACT "tlsrpt@mail.sender.example"
#define RUA "https://reports.example.net:8443/v1/tlsrpt?k=1"

static struct td_file rua_table;

/* ---- the rua parser ----------------------------------------------------- */

START_TEST(test_rua_table)
{
    const struct td_row *r = &rua_table.row[_i];
    char *in = td_exact_copy(r->field[1], r->len[1]);
    int want = td_status(&rua_table, r, 2);
    struct mtasts__rua_https u;
    size_t off = 99;
    const char *why = NULL;
    int rc = mtasts__rua_https_parse(in, r->len[1], &u, &off, &why);
    ck_assert_msg(rc == want, ROW "status %s, want %s", ROW_ARGS(&rua_table, r),
                  mtasts_status_name(rc), mtasts_status_name(want));
    ck_assert_ptr_nonnull(why);
    if (want == MTASTS_OK) {
        ck_assert_msg(strcmp(u.host, r->field[3]) == 0, ROW "host %s",
                      ROW_ARGS(&rua_table, r), u.host);
        ck_assert_uint_eq(u.port, td_number(&rua_table, r, 4));
        ck_assert_msg(strcmp(u.path, r->field[5]) == 0, ROW "path %s",
                      ROW_ARGS(&rua_table, r), u.path);
        ck_assert_str_eq(why, "");
    } else {
        ck_assert_msg(off + 1 == td_number(&rua_table, r, 6), ROW "column %zu",
                      ROW_ARGS(&rua_table, r), off + 1);
        ck_assert_msg(strstr(why, r->field[7]) != NULL, ROW "message %s",
                      ROW_ARGS(&rua_table, r), why);
    }
    free(in);
}
END_TEST

/* The request target is at most 512 bytes, as lib/io sends it. */
START_TEST(test_rua_path_limit)
{
    char uri[600];
    int n = snprintf(uri, sizeof(uri), "https://r.example/");
    memset(uri + n, 'a', 511);
    uri[n + 511] = '\0';
    struct mtasts__rua_https u;
    size_t off = 0;
    const char *why = NULL;
    ck_assert_int_eq(mtasts__rua_https_parse(uri, strlen(uri), &u, &off, &why),
                     MTASTS_OK);
    ck_assert_uint_eq(strlen(u.path), 512);
    strcat(uri, "a");
    ck_assert_int_eq(mtasts__rua_https_parse(uri, strlen(uri), &u, &off, &why),
                     MTASTS_ERR_SYNTAX);
    ck_assert_ptr_nonnull(strstr(why, "512"));
    /* an empty path becomes "/": a query of 512 bytes is one too many */
    n = snprintf(uri, sizeof(uri), "https://r.example?");
    memset(uri + n, 'q', 511);
    uri[n + 511] = '\0';
    ck_assert_int_eq(mtasts__rua_https_parse(uri, strlen(uri), &u, &off, &why),
                     MTASTS_ERR_SYNTAX);
}
END_TEST

/* ---- the request head (R8460-5.4-a) ------------------------------------- */

START_TEST(test_request_head_post)
{
    char buf[1024];
    struct mtasts__http_request r = {"reports.example.net", 8443, "/v1?k=1",
                                     "application/tlsrpt+gzip", 1234};
    size_t n = mtasts__http_request_head(buf, sizeof(buf), &r);
    const char *want = "POST /v1?k=1 HTTP/1.1\r\n"
                       "Host: reports.example.net:8443\r\n"
                       "Connection: close\r\n"
                       "User-Agent: libmtasts/" MTASTS_VERSION_STRING "\r\n"
                       "Content-Type: application/tlsrpt+gzip\r\n"
                       "Content-Length: 1234\r\n"
                       "\r\n";
    ck_assert_str_eq(buf, want);
    ck_assert_uint_eq(n, strlen(want));
    /* port 443 is left out of Host; a body of 0 bytes says so */
    r.port = 443;
    r.body_len = 0;
    n = mtasts__http_request_head(buf, sizeof(buf), &r);
    ck_assert_ptr_nonnull(strstr(buf, "\r\nHost: reports.example.net\r\n"));
    ck_assert_ptr_nonnull(strstr(buf, "\r\nContent-Length: 0\r\n\r\n"));
    /* too small a buffer: 0, never a cut head */
    ck_assert_uint_eq(mtasts__http_request_head(buf, n, &r), 0);
    ck_assert_uint_eq(mtasts__http_request_head(buf, n + 1, &r), n);
}
END_TEST

START_TEST(test_request_head_get)
{
    char buf[1024];
    struct mtasts__http_request r = {"mta-sts.example.net", 443,
                                     "/.well-known/mta-sts.txt", NULL, 0};
    size_t n = mtasts__http_request_head(buf, sizeof(buf), &r);
    const char *want = "GET /.well-known/mta-sts.txt HTTP/1.1\r\n"
                       "Host: mta-sts.example.net\r\n"
                       "Connection: close\r\n"
                       "User-Agent: libmtasts/" MTASTS_VERSION_STRING "\r\n"
                       "Accept: text/plain\r\n"
                       "\r\n";
    ck_assert_str_eq(buf, want);
    ck_assert_uint_eq(n, strlen(want));
}
END_TEST

/* ---- mtasts_rpt_post() against hooks of this file ----------------------- */

static int64_t now = DAY0 + 3600;

static int64_t
test_clock(void *user)
{
    (void)user;
    return now;
}

/* What the hook got and how it answers. */
enum answer_how { INLINE, THREAD, REFUSE, NO_HEAD };

struct fake {
    enum answer_how how;
    int refuse_rc;   /* REFUSE: the hook's return value */
    unsigned status; /* the HTTP status answered */
    int done_status; /* what done gets */
    const char *why; /* the reason done gets */
    unsigned calls;
    char host[MTASTS_DOMAIN_BUFSIZE];
    uint16_t port;
    char path[600];
    char type[64];
    unsigned char *body;
    size_t len;
    uint32_t flags;
    int response_rc, body_rc, second_response_rc;
    pthread_t thread;
    bool threaded;
};

static void
answer(struct fake *f, mtasts_req *req)
{
    if (f->how != NO_HEAD && f->done_status == MTASTS_OK) {
        f->response_rc = mtasts_https_response(req, f->status, "text/plain");
        f->second_response_rc = mtasts_https_response(req, 200, NULL);
        f->body_rc = mtasts_https_body(req, "thanks", 6);
    }
    ck_assert_int_eq(mtasts_https_done(req, f->done_status, f->why), MTASTS_OK);
}

struct later {
    struct fake *f;
    mtasts_req *req;
};

static void *
answer_later(void *arg)
{
    struct later *l = arg;
    answer(l->f, l->req);
    free(l);
    return NULL;
}

static int
fake_post(mtasts_req *req, const char *host, uint16_t port, const char *path,
          const char *content_type, const void *body, size_t len,
          uint32_t flags, void *user)
{
    struct fake *f = user;
    f->calls++;
    snprintf(f->host, sizeof(f->host), "%s", host);
    f->port = port;
    snprintf(f->path, sizeof(f->path), "%s", path);
    snprintf(f->type, sizeof(f->type), "%s", content_type);
    free(f->body);
    f->body = malloc(len);
    ck_assert_ptr_nonnull(f->body);
    memcpy(f->body, body, len);
    f->len = len;
    f->flags = flags;
    if (f->how == REFUSE) {
        return f->refuse_rc;
    }
    if (f->how == THREAD) {
        struct later *l = malloc(sizeof(*l));
        ck_assert_ptr_nonnull(l);
        l->f = f;
        l->req = req;
        ck_assert_int_eq(pthread_create(&f->thread, NULL, answer_later, l), 0);
        f->threaded = true;
        return MTASTS_OK;
    }
    answer(f, req);
    return MTASTS_OK;
}

static void
fake_init(struct fake *f, enum answer_how how, unsigned status)
{
    memset(f, 0, sizeof(*f));
    f->how = how;
    f->status = status;
    f->done_status = MTASTS_OK;
}

/* Wait for the answering thread, if any, to end. */
static void
fake_join(struct fake *f)
{
    if (f->threaded) {
        pthread_join(f->thread, NULL);
        f->threaded = false;
    }
}

static void
fake_free(struct fake *f)
{
    fake_join(f);
    free(f->body);
    f->body = NULL;
}

/* A context with a day of reports for example.net and the POST hook f. */
static mtasts_ctx *
new_ctx(struct fake *f)
{
    mtasts_ctx *ctx = NULL;
    ck_assert_int_eq(mtasts_ctx_new(&ctx), MTASTS_OK);
    now = DAY0 + 3600;
    ck_assert_int_eq(mtasts_ctx_set_clock(ctx, test_clock, NULL), MTASTS_OK);
    ck_assert_int_eq(mtasts_ctx_set_https_post_hook(ctx, fake_post, f),
                     MTASTS_OK);
    /* one session without a policy after a failed fetch */
    mtasts_result r;
    memset(&r, 0, sizeof(r));
    r.status = MTASTS_ERR_FETCH;
    r.failure = MTASTS_RPT_STS_POLICY_FETCH_ERROR;
    snprintf(r.domain, sizeof(r.domain), "example.net");
    snprintf(r.reason, sizeof(r.reason), "connection refused");
    ck_assert_int_eq(mtasts_rpt_record(ctx, &r, NULL, "192.0.2.1", 3),
                     MTASTS_OK);
    return ctx;
}

static int
post(mtasts_ctx *ctx, const char *rua, unsigned *status, char *why, size_t size)
{
    return mtasts_rpt_post(ctx, "example.net", DAY0, ORG, CONTACT, rua, status,
                           why, size);
}

/* gunzip a whole gzip member (RFC 1952) into a NUL-terminated string. */
static char *
gunzip(const unsigned char *gz, size_t len)
{
    size_t cap = 1 << 20;
    char *out = calloc(1, cap);
    ck_assert_ptr_nonnull(out);
    z_stream z;
    memset(&z, 0, sizeof(z));
    ck_assert_int_eq(inflateInit2(&z, 16 + MAX_WBITS), Z_OK);
    z.next_in = (unsigned char *)gz;
    z.avail_in = (uInt)len;
    z.next_out = (unsigned char *)out;
    z.avail_out = (uInt)(cap - 1);
    ck_assert_int_eq(inflate(&z, Z_FINISH), Z_STREAM_END);
    ck_assert_uint_eq(z.avail_in, 0);
    inflateEnd(&z);
    return out;
}

/* 2xx is delivered; the hook gets the rua's parts, the media type and the
 * gzip'ed report, and no flag (R8460-5.4-a, -5.4-b). */
START_TEST(test_post_delivered)
{
    static const unsigned codes[] = {200, 201, 202, 204, 299};
    struct fake f;
    fake_init(&f, _i % 2 == 0 ? INLINE : THREAD, codes[_i]);
    mtasts_ctx *ctx = new_ctx(&f);
    unsigned status = 0;
    char why[256] = "x";
    ck_assert_int_eq(post(ctx, RUA, &status, why, sizeof(why)), MTASTS_OK);
    ck_assert_uint_eq(status, codes[_i]);
    ck_assert_str_eq(why, "");
    fake_join(&f);
    ck_assert_uint_eq(f.calls, 1);
    ck_assert_str_eq(f.host, "reports.example.net");
    ck_assert_uint_eq(f.port, 8443);
    ck_assert_str_eq(f.path, "/v1/tlsrpt?k=1");
    ck_assert_str_eq(f.type, "application/tlsrpt+gzip");
    ck_assert_uint_eq(f.flags, 0);
    /* the completion functions took the response; a second head is out
     * of order, and the response body is taken and dropped */
    ck_assert_int_eq(f.response_rc, MTASTS_OK);
    ck_assert_int_eq(f.second_response_rc, MTASTS_ERR_STATE);
    ck_assert_int_eq(f.body_rc, MTASTS_OK);
    /* the body is the report, gzip'ed (E-25: the bare report) */
    char *json = NULL;
    size_t json_len = 0;
    ck_assert_int_eq(mtasts_rpt_json(ctx, "example.net", DAY0, ORG, CONTACT,
                                     &json, &json_len),
                     MTASTS_OK);
    char *got = gunzip(f.body, f.len);
    ck_assert_str_eq(got, json);
    free(got);
    mtasts_rpt_free(json);
    fake_free(&f);
    mtasts_ctx_free(ctx);
}
END_TEST

/* Any other status fails, 3xx too: redirects are not followed
 * (R8460-5.4-b). */
START_TEST(test_post_refused_status)
{
    static const unsigned codes[] = {301, 302, 307, 308, 400,
                                     404, 500, 503, 100, 199};
    struct fake f;
    fake_init(&f, _i % 2 == 0 ? INLINE : THREAD, codes[_i]);
    mtasts_ctx *ctx = new_ctx(&f);
    unsigned status = 0;
    char why[256] = "";
    ck_assert_int_eq(post(ctx, RUA, &status, why, sizeof(why)),
                     MTASTS_ERR_PROTOCOL);
    ck_assert_uint_eq(status, codes[_i]);
    char want[64];
    snprintf(want, sizeof(want), "HTTP status %u from reports.example.net",
             codes[_i]);
    ck_assert_ptr_nonnull(strstr(why, want));
    if (codes[_i] / 100 == 3) {
        ck_assert_ptr_nonnull(strstr(why, "redirects are not followed"));
    } else {
        ck_assert_ptr_nonnull(strstr(why, "not accepted"));
    }
    fake_free(&f);
    mtasts_ctx_free(ctx);
}
END_TEST

/* A POST through the hook f that gets no HTTP response: the status want,
 * no HTTP status, a reason holding piece. Frees f. */
static void
expect_no_response(struct fake *f, int want, const char *piece)
{
    mtasts_ctx *ctx = new_ctx(f);
    unsigned status = 7;
    char why[256] = "";
    ck_assert_int_eq(post(ctx, RUA, &status, why, sizeof(why)), want);
    ck_assert_uint_eq(status, 0);
    ck_assert_msg(strstr(why, piece) != NULL, "reason %s", why);
    ck_assert_uint_eq(f->calls, 1);
    fake_free(f);
    mtasts_ctx_free(ctx);
}

/* Transport failures come back with the hook's reason; no status. */
START_TEST(test_post_transport_failure)
{
    static const int statuses[] = {MTASTS_ERR_FETCH, MTASTS_ERR_WEBPKI,
                                   MTASTS_ERR_IO, MTASTS_ERR_NOMEM};
    struct fake f;
    fake_init(&f, _i % 2 == 0 ? INLINE : THREAD, 0);
    f.done_status = statuses[_i / 2];
    f.why = "connect to 192.0.2.7 port 8443: Connection refused";
    expect_no_response(&f, statuses[_i / 2], f.why);
}
END_TEST

/* A hook that says OK without a response head: no response. */
START_TEST(test_post_no_head)
{
    struct fake f;
    fake_init(&f, NO_HEAD, 0);
    expect_no_response(&f, MTASTS_ERR_FETCH,
                       "no HTTP response from reports.example.net");
}
END_TEST

/* A hook that returns an error never calls done: a fetch failure, or
 * MTASTS_ERR_NOMEM as it is. */
START_TEST(test_post_hook_refuses)
{
    static const int rcs[] = {MTASTS_ERR_INVALID, MTASTS_ERR_FETCH,
                              MTASTS_ERR_NOMEM};
    static const int want[] = {MTASTS_ERR_FETCH, MTASTS_ERR_FETCH,
                               MTASTS_ERR_NOMEM};
    struct fake f;
    fake_init(&f, REFUSE, 0);
    f.refuse_rc = rcs[_i];
    expect_no_response(&f, want[_i], "POST to reports.example.net not started");
}
END_TEST

/* R8460-3-h: certificate errors may be ignored, off by default. */
START_TEST(test_post_no_verify_flag)
{
    struct fake f;
    fake_init(&f, INLINE, 201);
    mtasts_ctx *ctx = new_ctx(&f);
    ck_assert_int_eq(mtasts_ctx_set_rpt_https_verify(ctx, false), MTASTS_OK);
    ck_assert_int_eq(post(ctx, RUA, NULL, NULL, 0), MTASTS_OK);
    ck_assert_uint_eq(f.flags, MTASTS_HTTPS_POST_NO_VERIFY);
    ck_assert_int_eq(mtasts_ctx_set_rpt_https_verify(ctx, true), MTASTS_OK);
    ck_assert_int_eq(post(ctx, RUA, NULL, NULL, 0), MTASTS_OK);
    ck_assert_uint_eq(f.flags, 0);
    ck_assert_int_eq(mtasts_ctx_set_rpt_https_verify(NULL, true),
                     MTASTS_ERR_INVALID);
    fake_free(&f);
    mtasts_ctx_free(ctx);
}
END_TEST

/* Bad rua, arguments and report: the hook is never called. */
START_TEST(test_post_refused_before_hook)
{
    struct fake f;
    fake_init(&f, INLINE, 201);
    mtasts_ctx *ctx = new_ctx(&f);
    unsigned status = 7;
    char why[256] = "";
    /* every refused row of the table, with its message in the reason */
    for (size_t i = 0; i < rua_table.nrows; i++) {
        const struct td_row *r = &rua_table.row[i];
        if (td_status(&rua_table, r, 2) == MTASTS_OK ||
            memchr(r->field[1], '\0', r->len[1]) != NULL) {
            continue;
        }
        ck_assert_int_eq(post(ctx, r->field[1], &status, why, sizeof(why)),
                         MTASTS_ERR_SYNTAX);
        ck_assert_msg(strstr(why, r->field[7]) != NULL, ROW "reason %s",
                      ROW_ARGS(&rua_table, r), why);
        ck_assert_uint_eq(status, 0);
    }
    ck_assert_int_eq(post(ctx, "https://r.example/a#b", &status, why, 8),
                     MTASTS_ERR_SYNTAX);
    ck_assert_str_eq(why, "rua, by"); /* truncated to the size given */
    ck_assert_int_eq(post(ctx, NULL, &status, why, sizeof(why)),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(post(ctx, RUA, &status, NULL, 5), MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_rpt_post(NULL, "example.net", DAY0, ORG, CONTACT,
                                     RUA, &status, why, sizeof(why)),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_rpt_post(ctx, "example.net", DAY0, ORG, "nobody",
                                     RUA, &status, why, sizeof(why)),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_rpt_post(ctx, "example.net", DAY0 + DAY, ORG,
                                     CONTACT, RUA, &status, why, sizeof(why)),
                     MTASTS_ERR_NO_DATA);
    ck_assert_ptr_nonnull(strstr(why, "no report"));
    ck_assert_int_eq(mtasts_rpt_post(ctx, "exa mple.net", DAY0, ORG, CONTACT,
                                     RUA, &status, why, sizeof(why)),
                     MTASTS_ERR_BAD_DOMAIN);
    ck_assert_uint_eq(f.calls, 0);
    ck_assert_int_eq(mtasts_ctx_set_https_post_hook(NULL, fake_post, &f),
                     MTASTS_ERR_INVALID);
    fake_free(&f);
    mtasts_ctx_free(ctx);
}
END_TEST

/* Out of memory at each allocation: MTASTS_ERR_NOMEM or success, no leak. */
START_TEST(test_post_nomem)
{
    struct fake f;
    fake_init(&f, INLINE, 201);
    mtasts_ctx *ctx = new_ctx(&f);
    int rc = MTASTS_ERR_NOMEM;
    size_t n;
    for (n = 1; n < 1000 && rc == MTASTS_ERR_NOMEM; n++) {
        failalloc_start(n);
        rc = post(ctx, RUA, NULL, NULL, 0);
        long live = failalloc_live();
        failalloc_stop();
        ck_assert_msg(rc == MTASTS_OK || rc == MTASTS_ERR_NOMEM,
                      "allocation %zu: %s", n, mtasts_status_name(rc));
        ck_assert_msg(live == 0, "allocation %zu: %ld blocks leaked", n, live);
    }
    ck_assert_int_eq(rc, MTASTS_OK);
    ck_assert_uint_gt(n, 2);
    fake_free(&f);
    mtasts_ctx_free(ctx);
}
END_TEST

/* The default hook refuses what it cannot send, without calling done. */
START_TEST(test_default_hook_args)
{
    mtasts_ctx *ctx = NULL;
    ck_assert_int_eq(mtasts_ctx_new(&ctx), MTASTS_OK);
    ck_assert_int_eq(mtasts_ctx_set_https_post_hook(ctx, NULL, NULL),
                     MTASTS_OK);
    mtasts_result r;
    memset(&r, 0, sizeof(r));
    r.status = MTASTS_ERR_FETCH;
    r.failure = MTASTS_RPT_STS_POLICY_FETCH_ERROR;
    snprintf(r.domain, sizeof(r.domain), "example.net");
    ck_assert_int_eq(mtasts_rpt_record(ctx, &r, NULL, NULL, 1), MTASTS_OK);
    mtasts_req *req = mtasts__req_post_new(NULL, NULL);
    ck_assert_ptr_nonnull(req);
    int x = 0;
    ck_assert_int_eq(mtasts__io_https_post(req, "r.example", 443, "/", "a/b",
                                           NULL, 5, 0, &x),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(
        mtasts__io_https_post(req, "r.example", 443, "/", NULL, "x", 1, 0, &x),
        MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts__io_https_post(req, "r.example", 443, "/",
                                           "a/b\r\nX: y", "x", 1, 0, &x),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(
        mtasts__io_https_post(req, "r.example", 443, "/", "a/b", "x", 1, 2, &x),
        MTASTS_ERR_INVALID);
    ck_assert_int_eq(
        mtasts__io_https_post(req, "r.example", 0, "/", "a/b", "x", 1, 0, &x),
        MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts__io_https_post(req, "r.example", 443, "a b", "a/b",
                                           "x", 1, 0, &x),
                     MTASTS_ERR_INVALID);
    mtasts__req_post_free(req);
    /* a POST request is no DNS request */
    req = mtasts__req_post_new(NULL, NULL);
    ck_assert_int_eq(mtasts_dns_add_txt(req, "x", 1), MTASTS_ERR_STATE);
    ck_assert_int_eq(mtasts_dns_done(req, MTASTS_DNS_ANSWER, NULL),
                     MTASTS_ERR_STATE);
    ck_assert_int_eq(mtasts_https_body(req, "x", 1), MTASTS_ERR_STATE);
    ck_assert_int_eq(mtasts_https_done(req, MTASTS_ERR_POLICY_INVALID, NULL),
                     MTASTS_ERR_INVALID);
    mtasts__req_post_free(req);
    mtasts_ctx_free(ctx);
}
END_TEST

/* ---- retries (R8460-5.5-a) and the send time (RFC 8460 §4.1) ------------ */

/* Against an endpoint that always fails, under a fake clock: attempts
 * come at growing intervals (1 min doubling to at most 4 h, plus up to a
 * quarter of jitter) and stop within 24 h of the first. */
START_TEST(test_retry_schedule)
{
    const int64_t first = DAY0 + 5 * 3600;
    uint64_t rnd = 0x9e3779b97f4a7c15u * (uint64_t)(_i + 1);
    int64_t clock = first, prev_gap = 0, next = 0;
    uint32_t attempt = 1;
    int rc;
    while ((rc = mtasts_rpt_retry_next(first, attempt, clock, rnd, &next)) ==
           MTASTS_OK) {
        int64_t gap = next - clock;
        int64_t base = MTASTS_RPT_RETRY_MAX_GAP_S;
        if (attempt <= 8) {
            base = (int64_t)MTASTS_RPT_RETRY_FIRST_S << (attempt - 1);
        }
        ck_assert_int_ge(gap, base);
        ck_assert_int_le(gap, base + base / 4);
        if (base < MTASTS_RPT_RETRY_MAX_GAP_S) {
            ck_assert_int_gt(gap, prev_gap); /* growing */
        }
        ck_assert_int_lt(next - first, MTASTS_RPT_RETRY_WINDOW_S);
        prev_gap = gap;
        clock = next; /* the attempt is made and fails again */
        attempt++;
        rnd = rnd * 6364136223846793005u + 1442695040888963407u;
        ck_assert_uint_lt(attempt, 100);
    }
    ck_assert_int_eq(rc, MTASTS_ERR_TIMEOUT);
    ck_assert_int_eq(next, 0);
    /* about 1+2+...+128 min, then 4 h gaps: between 9 and 14 attempts */
    ck_assert_uint_ge(attempt, 9);
    ck_assert_uint_le(attempt, 14);
    /* the last one was close to the end of the window */
    ck_assert_int_gt(clock - first, DAY - 2 * MTASTS_RPT_RETRY_MAX_GAP_S);
}
END_TEST

START_TEST(test_retry_edges)
{
    int64_t next = 5;
    /* a late caller gets a time from now on, not in the past */
    ck_assert_int_eq(mtasts_rpt_retry_next(DAY0, 1, DAY0 + 600, 0, &next),
                     MTASTS_OK);
    ck_assert_int_eq(next, DAY0 + 600 + MTASTS_RPT_RETRY_FIRST_S);
    ck_assert_int_eq(mtasts_rpt_retry_next(DAY0, 1, DAY0, UINT64_MAX, &next),
                     MTASTS_OK);
    ck_assert_int_eq(next, DAY0 + 60 + (int64_t)(UINT64_MAX % 16));
    /* huge attempt numbers stay at the cap */
    ck_assert_int_eq(
        mtasts_rpt_retry_next(DAY0, UINT32_MAX, DAY0 + 3600, 0, &next),
        MTASTS_OK);
    ck_assert_int_eq(next, DAY0 + 3600 + MTASTS_RPT_RETRY_MAX_GAP_S);
    /* past the window: give up */
    ck_assert_int_eq(mtasts_rpt_retry_next(DAY0, 3, DAY0 + DAY, 0, &next),
                     MTASTS_ERR_TIMEOUT);
    ck_assert_int_eq(next, 0);
    ck_assert_int_eq(mtasts_rpt_retry_next(DAY0, 1, DAY0 + DAY - 60, 0, &next),
                     MTASTS_ERR_TIMEOUT);
    ck_assert_int_eq(mtasts_rpt_retry_next(DAY0, 1, DAY0 + DAY - 61, 0, &next),
                     MTASTS_OK);
    ck_assert_int_eq(next, DAY0 + DAY - 1);
    /* misuse */
    ck_assert_int_eq(mtasts_rpt_retry_next(DAY0, 0, DAY0, 0, &next),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_rpt_retry_next(DAY0, 1, DAY0 - 1, 0, &next),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_rpt_retry_next(DAY0, 1, DAY0, 0, NULL),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(
        mtasts_rpt_retry_next(INT64_MAX - 10, 1, INT64_MAX - 5, 0, &next),
        MTASTS_ERR_INVALID);
    ck_assert_int_eq(
        mtasts_rpt_retry_next(INT64_MIN, 1, INT64_MIN + 5, 0, &next),
        MTASTS_ERR_INVALID);
}
END_TEST

START_TEST(test_send_time)
{
    /* after the day, 1 s to 4 h into the next one, whatever the hour */
    for (int64_t t = DAY0; t < DAY0 + DAY; t += 3599) {
        ck_assert_int_eq(mtasts_rpt_send_time(t, 0), DAY0 + DAY + 1);
        ck_assert_int_eq(mtasts_rpt_send_time(t, 14399), DAY0 + DAY + 14400);
        ck_assert_int_eq(mtasts_rpt_send_time(t, 14400), DAY0 + DAY + 1);
    }
    ck_assert_int_eq(mtasts_rpt_send_time(DAY0 - 1, 0), DAY0 + 1);
    ck_assert_int_eq(mtasts_rpt_send_time(-1, 9), 10);
    uint64_t rnd = 12345;
    for (int i = 0; i < 1000; i++) {
        int64_t s = mtasts_rpt_send_time(DAY0 + DAY - 1, rnd);
        ck_assert_int_ge(s, DAY0 + DAY + 1);
        ck_assert_int_le(s, DAY0 + DAY + MTASTS_RPT_SEND_DELAY_MAX_S);
        rnd = rnd * 6364136223846793005u + 1442695040888963407u;
    }
    ck_assert_int_eq(mtasts_rpt_send_time(INT64_MAX, 0), INT64_MAX);
}
END_TEST

static Suite *
rpt_post_suite(void)
{
    Suite *s = suite_create("rpt_post");
    TCase *tc = tcase_create("rua");
    td_load(&rua_table, "rua_https_cases.tsv", 8);
    tcase_add_loop_test(tc, test_rua_table, 0, (int)rua_table.nrows);
    tcase_add_test(tc, test_rua_path_limit);
    suite_add_tcase(s, tc);

    tc = tcase_create("request");
    tcase_add_test(tc, test_request_head_post);
    tcase_add_test(tc, test_request_head_get);
    suite_add_tcase(s, tc);

    tc = tcase_create("post");
    tcase_add_loop_test(tc, test_post_delivered, 0, 5);
    tcase_add_loop_test(tc, test_post_refused_status, 0, 10);
    tcase_add_loop_test(tc, test_post_transport_failure, 0, 8);
    tcase_add_test(tc, test_post_no_head);
    tcase_add_loop_test(tc, test_post_hook_refuses, 0, 3);
    tcase_add_test(tc, test_post_no_verify_flag);
    tcase_add_test(tc, test_post_refused_before_hook);
    tcase_add_test(tc, test_post_nomem);
    tcase_add_test(tc, test_default_hook_args);
    suite_add_tcase(s, tc);

    tc = tcase_create("schedule");
    tcase_add_loop_test(tc, test_retry_schedule, 0, 8);
    tcase_add_test(tc, test_retry_edges);
    tcase_add_test(tc, test_send_time);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    int rc = harness_run(rpt_post_suite());
    td_free(&rua_table);
    return rc;
}
