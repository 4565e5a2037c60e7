/* Unit tests of the policy cache through the public API: snapshots,
 * removal, idleness (docs/cache.md).
 *
 * The world is small and single-threaded: the DNS hook answers every
 * _mta-sts query with the TXT record in W.txt (or TEMPFAIL), the HTTPS
 * hook serves W.body (or fails); both answer inline unless W.hold_dns
 * keeps the DNS request for the test to finish. Time is W.now. Each test
 * names the CHECKLIST.md ids it proves.
 */
#include "harness.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/file.h"
#include "util/file.h"
#include "mtasts/mtasts.h"
#include "util/crc32.h"

#define T0 ((int64_t)1700000000)
#define DAY 86400
#define POL_ENFORCE                                                            \
    "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 86400\n"
#define POL_TESTING                                                            \
    "version: STSv1\nmode: testing\nmx: mx.example.com\nmax_age: 86400\n"

static struct {
    int64_t now;
    const char *txt;  /* NULL: TEMPFAIL */
    const char *body; /* NULL: the fetch fails */
    bool hold_dns;
    mtasts_req *held;
    int ndns, nhttps;
} W;

static int64_t
clock_fn(void *user)
{
    (void)user;
    return W.now;
}

static void
answer_dns(mtasts_req *req)
{
    if (W.txt == NULL) {
        ck_assert_int_eq(mtasts_dns_done(req, MTASTS_DNS_TEMPFAIL, "test"),
                         MTASTS_OK);
        return;
    }
    ck_assert_int_eq(mtasts_dns_add_txt(req, W.txt, strlen(W.txt)), MTASTS_OK);
    ck_assert_int_eq(mtasts_dns_done(req, MTASTS_DNS_ANSWER, NULL), MTASTS_OK);
}

static int
dns_hook(mtasts_req *req, const char *name, void *user)
{
    (void)name;
    (void)user;
    W.ndns++;
    if (W.hold_dns) {
        W.held = req;
        return MTASTS_OK;
    }
    answer_dns(req);
    return MTASTS_OK;
}

static int
https_hook(mtasts_req *req, const char *host, uint16_t port, const char *path,
           void *user)
{
    (void)host;
    (void)port;
    (void)path;
    (void)user;
    W.nhttps++;
    if (W.body == NULL) {
        return mtasts_https_done(req, MTASTS_ERR_FETCH, "refused");
    }
    mtasts_https_response(req, 200, "text/plain");
    mtasts_https_body(req, W.body, strlen(W.body));
    return mtasts_https_done(req, MTASTS_OK, NULL);
}

static void
setup(void)
{
    memset(&W, 0, sizeof(W));
    W.now = T0;
    W.txt = "v=STSv1; id=aaa1";
    W.body = POL_ENFORCE;
}

static void
teardown(void)
{
    failalloc_stop();
}

static mtasts_ctx *
new_ctx(size_t capacity)
{
    mtasts_ctx *ctx = NULL;
    ck_assert_int_eq(mtasts_ctx_new(&ctx), MTASTS_OK);
    ck_assert_int_eq(mtasts_ctx_set_dns_txt_hook(ctx, dns_hook, NULL),
                     MTASTS_OK);
    ck_assert_int_eq(mtasts_ctx_set_https_get_hook(ctx, https_hook, NULL),
                     MTASTS_OK);
    ck_assert_int_eq(mtasts_ctx_set_clock(ctx, clock_fn, NULL), MTASTS_OK);
    if (capacity != 0) {
        ck_assert_int_eq(mtasts_ctx_set_cache_capacity(ctx, capacity),
                         MTASTS_OK);
    }
    return ctx;
}

#define LOOKUP(ctx, d, want) lookup_at(__LINE__, (ctx), (d), (want))

static void
lookup_at(int line, mtasts_ctx *ctx, const char *domain, int want)
{
    mtasts_policy *p = NULL;
    int rc = mtasts_lookup(ctx, domain, &p);
    ck_assert_msg(rc == want, "line %d: %s gave %s, want %s", line, domain,
                  mtasts_status_name(rc), mtasts_status_name(want));
    mtasts_policy_unref(p);
}

/* The snapshot index of a domain, or -1. */
static long
find(const mtasts_cache_snapshot *s, const char *domain)
{
    for (size_t i = 0; i < mtasts_cache_snapshot_count(s); i++) {
        if (strcmp(mtasts_cache_snapshot_domain(s, i), domain) == 0) {
            return (long)i;
        }
    }
    return -1;
}

static mtasts_cache_snapshot *
snap(mtasts_ctx *ctx)
{
    mtasts_cache_snapshot *s = NULL;
    ck_assert_int_eq(mtasts_cache_snapshot_new(ctx, &s), MTASTS_OK);
    ck_assert_ptr_nonnull(s);
    return s;
}

static size_t
cached_count(mtasts_ctx *ctx)
{
    mtasts_cache_snapshot *s = snap(ctx);
    size_t n = mtasts_cache_snapshot_count(s);
    mtasts_cache_snapshot_free(s);
    return n;
}

/* ---- case "inspect" ------------------------------------------------------ */

/* R8461-3.2-s: each entry shows its domain, id, mode, fetch time, expiry
 * (fetch time + max_age) and last use; a later lookup moves the last use,
 * not the fetch time. */
START_TEST(test_cache_snapshot_fields)
{
    mtasts_ctx *ctx = new_ctx(10);
    LOOKUP(ctx, "A.example.", MTASTS_OK);
    W.now = T0 + 10;
    W.txt = "v=STSv1; id=bbb2";
    W.body = POL_TESTING;
    LOOKUP(ctx, "b.example", MTASTS_OK);
    W.now = T0 + 20;
    LOOKUP(ctx, "a.example", MTASTS_OK); /* from memory */
    ck_assert_int_eq(W.nhttps, 2);

    mtasts_cache_snapshot *s = snap(ctx);
    ck_assert_uint_eq(mtasts_cache_snapshot_count(s), 2);
    size_t a = (size_t)find(s, "a.example"), b = (size_t)find(s, "b.example");
    ck_assert_uint_eq(a + b, 1);
    ck_assert_str_eq(mtasts_cache_snapshot_txt_id(s, a), "aaa1");
    ck_assert_int_eq(mtasts_cache_snapshot_mode(s, a), MTASTS_MODE_ENFORCE);
    ck_assert_int_eq(mtasts_cache_snapshot_fetched_at(s, a), T0);
    ck_assert_int_eq(mtasts_cache_snapshot_expires(s, a), T0 + DAY);
    ck_assert_int_eq(mtasts_cache_snapshot_last_used(s, a), T0 + 20);
    ck_assert_str_eq(mtasts_cache_snapshot_txt_id(s, b), "bbb2");
    ck_assert_int_eq(mtasts_cache_snapshot_mode(s, b), MTASTS_MODE_TESTING);
    ck_assert_int_eq(mtasts_cache_snapshot_fetched_at(s, b), T0 + 10);
    ck_assert_int_eq(mtasts_cache_snapshot_last_used(s, b), T0 + 10);
    mtasts_policy *p = mtasts_policy_ref(mtasts_cache_snapshot_policy(s, b));
    ck_assert_uint_eq(mtasts_policy_max_age(p), DAY);

    /* the snapshot is a copy: clearing the cache leaves it intact */
    size_t removed = 99;
    ck_assert_int_eq(mtasts_cache_clear(ctx, &removed), MTASTS_OK);
    ck_assert_uint_eq(removed, 2);
    ck_assert_str_eq(mtasts_cache_snapshot_domain(s, b), "b.example");
    mtasts_cache_snapshot_free(s);
    ck_assert_int_eq(mtasts_policy_mode(p), MTASTS_MODE_TESTING);
    mtasts_policy_unref(p);
    ck_assert_uint_eq(cached_count(ctx), 0);
    mtasts_ctx_free(ctx);
}
END_TEST

/* Out-of-range indexes and NULL give the documented neutral values. */
START_TEST(test_cache_snapshot_bounds)
{
    mtasts_ctx *ctx = new_ctx(0);
    LOOKUP(ctx, "a.example", MTASTS_OK);
    mtasts_cache_snapshot *s = snap(ctx);
    ck_assert_uint_eq(mtasts_cache_snapshot_count(s), 1);
    ck_assert_ptr_null(mtasts_cache_snapshot_domain(s, 1));
    ck_assert_ptr_null(mtasts_cache_snapshot_txt_id(s, 1));
    ck_assert_ptr_null(mtasts_cache_snapshot_policy(s, 1));
    ck_assert_int_eq(mtasts_cache_snapshot_mode(s, 1), MTASTS_MODE_NONE);
    ck_assert_int_eq(mtasts_cache_snapshot_fetched_at(s, 1), 0);
    ck_assert_int_eq(mtasts_cache_snapshot_expires(s, 1), 0);
    ck_assert_int_eq(mtasts_cache_snapshot_last_used(s, 1), 0);
    mtasts_cache_snapshot_free(s);
    ck_assert_uint_eq(mtasts_cache_snapshot_count(NULL), 0);
    ck_assert_ptr_null(mtasts_cache_snapshot_domain(NULL, 0));
    ck_assert_int_eq(mtasts_cache_snapshot_expires(NULL, 0), 0);
    mtasts_cache_snapshot_free(NULL);

    mtasts_cache_snapshot *out = (mtasts_cache_snapshot *)&W;
    ck_assert_int_eq(mtasts_cache_snapshot_new(NULL, &out), MTASTS_ERR_INVALID);
    ck_assert_ptr_null(out);
    ck_assert_int_eq(mtasts_cache_snapshot_new(ctx, NULL), MTASTS_ERR_INVALID);
    mtasts_ctx_free(ctx);
}
END_TEST

/* A domain remembered as having no policy is not listed; an expired
 * policy is (R8461-5.1-a: it is never applied, but it is still known). */
START_TEST(test_cache_snapshot_what)
{
    mtasts_ctx *ctx = new_ctx(0);
    LOOKUP(ctx, "a.example", MTASTS_OK);
    W.txt = "v=spf1 -all";
    LOOKUP(ctx, "none.example", MTASTS_ERR_NO_POLICY);
    W.now = T0 + 2 * DAY;
    mtasts_cache_snapshot *s = snap(ctx);
    ck_assert_uint_eq(mtasts_cache_snapshot_count(s), 1);
    ck_assert_str_eq(mtasts_cache_snapshot_domain(s, 0), "a.example");
    ck_assert_int_eq(mtasts_cache_snapshot_expires(s, 0), T0 + DAY);
    mtasts_cache_snapshot_free(s);
    mtasts_ctx_free(ctx);
}
END_TEST

/* Allocation n of a snapshot fails: MTASTS_ERR_NOMEM, *out NULL, no
 * leak; with enough memory it succeeds. */
START_TEST(test_cache_snapshot_nomem)
{
    mtasts_ctx *ctx = new_ctx(100000); /* several shards */
    char name[64];
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof(name), "d%d.example", i);
        LOOKUP(ctx, name, MTASTS_OK);
    }
    bool succeeded = false;
    for (size_t n = 1; n < 200 && !succeeded; n++) {
        mtasts_cache_snapshot *s = (mtasts_cache_snapshot *)&W;
        failalloc_start(n);
        int rc = mtasts_cache_snapshot_new(ctx, &s);
        if (rc == MTASTS_OK) {
            ck_assert_uint_eq(mtasts_cache_snapshot_count(s), 300);
            mtasts_cache_snapshot_free(s);
            succeeded = true;
        } else {
            ck_assert_int_eq(rc, MTASTS_ERR_NOMEM);
            ck_assert_ptr_null(s);
        }
        long live = failalloc_live();
        failalloc_stop();
        ck_assert_msg(live == 0, "allocation %zu: %ld blocks leaked", n, live);
    }
    ck_assert(succeeded);
    mtasts_ctx_free(ctx);
}
END_TEST

/* ---- case "remove" ------------------------------------------------------- */

/* Removing a domain forgets its policy: the next lookup fetches again.
 * The name is normalised; the errors are the documented ones. */
START_TEST(test_cache_remove_one)
{
    mtasts_ctx *ctx = new_ctx(0);
    LOOKUP(ctx, "a.example", MTASTS_OK);
    LOOKUP(ctx, "b.example", MTASTS_OK);
    ck_assert_int_eq(W.nhttps, 2);
    ck_assert_int_eq(mtasts_cache_remove(ctx, "A.Example."), MTASTS_OK);
    ck_assert_int_eq(mtasts_cache_remove(ctx, "a.example"),
                     MTASTS_ERR_NOT_FOUND);
    ck_assert_uint_eq(cached_count(ctx), 1);
    LOOKUP(ctx, "b.example", MTASTS_OK);
    ck_assert_int_eq(W.nhttps, 2);
    LOOKUP(ctx, "a.example", MTASTS_OK);
    ck_assert_int_eq(W.nhttps, 3);

    ck_assert_int_eq(mtasts_cache_remove(ctx, "never.example"),
                     MTASTS_ERR_NOT_FOUND);
    ck_assert_int_eq(mtasts_cache_remove(ctx, "[192.0.2.1]"),
                     MTASTS_ERR_BAD_DOMAIN);
    ck_assert_int_eq(mtasts_cache_remove(ctx, "b\xc3\xbc.example"),
                     MTASTS_ERR_NOT_ASCII);
    ck_assert_int_eq(mtasts_cache_remove(NULL, "a.example"),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_cache_remove(ctx, NULL), MTASTS_ERR_INVALID);
    ck_assert_uint_eq(cached_count(ctx), 2);

    /* a domain remembered as having no policy can be removed too: the
     * next lookup asks DNS again at once */
    W.txt = "v=spf1 -all";
    LOOKUP(ctx, "none.example", MTASTS_ERR_NO_POLICY);
    int ndns = W.ndns;
    LOOKUP(ctx, "none.example", MTASTS_ERR_NO_POLICY);
    ck_assert_int_eq(W.ndns, ndns);
    ck_assert_int_eq(mtasts_cache_remove(ctx, "none.example"), MTASTS_OK);
    LOOKUP(ctx, "none.example", MTASTS_ERR_NO_POLICY);
    ck_assert_int_eq(W.ndns, ndns + 1);
    mtasts_ctx_free(ctx);
}
END_TEST

static void
record_cb(const mtasts_result *r, void *user)
{
    *(int *)user = mtasts_result_status(r);
}

/* An entry whose lookup is in flight stays valid when removed or cleared:
 * it is emptied, so the lookup, meeting a DNS failure, finds no cached
 * policy (and ASan sees no use after free); R8461-3.1-p. */
START_TEST(test_cache_remove_in_flight)
{
    for (int clear = 0; clear < 2; clear++) {
        setup();
        mtasts_ctx *ctx = new_ctx(0);
        ck_assert_int_eq(mtasts_ctx_set_txt_check_interval_s(ctx, 0),
                         MTASTS_OK);
        LOOKUP(ctx, "a.example", MTASTS_OK);
        W.hold_dns = true;
        int status = 1;
        ck_assert_int_eq(mtasts_lookup_async(ctx, "a.example", record_cb,
                                             &status),
                         MTASTS_OK);
        ck_assert_ptr_nonnull(W.held);
        if (clear) {
            size_t removed = 0;
            ck_assert_int_eq(mtasts_cache_clear(ctx, &removed), MTASTS_OK);
            ck_assert_uint_eq(removed, 1);
            ck_assert_int_eq(mtasts_cache_remove_idle(ctx, NULL), MTASTS_OK);
        } else {
            ck_assert_int_eq(mtasts_cache_remove(ctx, "a.example"), MTASTS_OK);
        }
        ck_assert_uint_eq(cached_count(ctx), 0);
        W.txt = NULL;
        answer_dns(W.held);
        ck_assert_int_eq(status, MTASTS_ERR_DNS_TEMPFAIL);
        /* the emptied entry is usable again */
        W.hold_dns = false;
        W.txt = "v=STSv1; id=aaa1";
        LOOKUP(ctx, "a.example", MTASTS_OK);
        ck_assert_uint_eq(cached_count(ctx), 1);
        mtasts_ctx_free(ctx);
    }
}
END_TEST

/* The domains of the cache's snapshot, in its order, joined by spaces. */
static const char *
cache_order(mtasts_ctx *ctx)
{
    static char buf[256];
    mtasts_cache_snapshot *s = snap(ctx);
    buf[0] = '\0';
    for (size_t i = 0; i < mtasts_cache_snapshot_count(s); i++) {
        const char *d = mtasts_cache_snapshot_domain(s, i);
        ck_assert_uint_lt(strlen(buf) + strlen(d) + 2, sizeof(buf));
        strcat(buf, i > 0 ? " " : "");
        strcat(buf, d);
    }
    mtasts_cache_snapshot_free(s);
    return buf;
}

/* Lone removals of the oldest, a middle and the newest entry keep the
 * order of the others, and eviction passes over an entry in flight and
 * gives a used entry its second chance as before: a cache this small is
 * one shard, whose snapshot lists the entries most recently placed first
 * (docs/cache.md "Bounded memory"). */
START_TEST(test_cache_remove_keeps_order)
{
    mtasts_ctx *ctx = new_ctx(5);
    const char *d[] = {"d0.x", "d1.x", "d2.x", "d3.x", "d4.x"};
    for (int i = 0; i < 5; i++) {
        LOOKUP(ctx, d[i], MTASTS_OK);
    }
    ck_assert_str_eq(cache_order(ctx), "d4.x d3.x d2.x d1.x d0.x");
    ck_assert_int_eq(mtasts_cache_remove(ctx, "d0.x"), MTASTS_OK);
    ck_assert_int_eq(mtasts_cache_remove(ctx, "d2.x"), MTASTS_OK);
    ck_assert_int_eq(mtasts_cache_remove(ctx, "d4.x"), MTASTS_OK);
    ck_assert_str_eq(cache_order(ctx), "d3.x d1.x");
    LOOKUP(ctx, "d1.x", MTASTS_OK); /* used: marked, not moved */
    LOOKUP(ctx, "e0.x", MTASTS_OK);
    LOOKUP(ctx, "e1.x", MTASTS_OK);
    LOOKUP(ctx, "e2.x", MTASTS_OK);
    ck_assert_str_eq(cache_order(ctx), "e2.x e1.x e0.x d3.x d1.x");
    ck_assert_int_eq(W.nhttps, 8);
    /* full: d1, the oldest, was used and becomes the newest; d3 goes */
    LOOKUP(ctx, "e3.x", MTASTS_OK);
    ck_assert_str_eq(cache_order(ctx), "e3.x d1.x e2.x e1.x e0.x");
    LOOKUP(ctx, "d1.x", MTASTS_OK);
    ck_assert_int_eq(W.nhttps, 9);
    LOOKUP(ctx, "d3.x", MTASTS_OK);
    ck_assert_int_eq(W.nhttps, 10);
    /* removing every entry, newest first, then filling again */
    const char *all[] = {"d3.x", "e3.x", "d1.x", "e2.x", "e1.x"};
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(mtasts_cache_remove(ctx, all[i]), MTASTS_OK);
    }
    ck_assert_str_eq(cache_order(ctx), "");
    LOOKUP(ctx, "d0.x", MTASTS_OK);
    LOOKUP(ctx, "d4.x", MTASTS_OK);
    ck_assert_str_eq(cache_order(ctx), "d4.x d0.x");
    mtasts_ctx_free(ctx);

    /* a: a refresh in flight (not a use), passed over; b: used, second
     * chance; c: unused, evicted for d */
    setup();
    ctx = new_ctx(3);
    LOOKUP(ctx, "a.x", MTASTS_OK);
    LOOKUP(ctx, "b.x", MTASTS_OK);
    LOOKUP(ctx, "c.x", MTASTS_OK);
    W.hold_dns = true;
    int status = 1;
    ck_assert_int_eq(mtasts_refresh_async(ctx, "a.x", record_cb, &status),
                     MTASTS_OK);
    ck_assert_ptr_nonnull(W.held);
    W.hold_dns = false;
    LOOKUP(ctx, "b.x", MTASTS_OK);
    LOOKUP(ctx, "d.x", MTASTS_OK);
    ck_assert_str_eq(cache_order(ctx), "d.x b.x a.x");
    answer_dns(W.held);
    ck_assert_int_eq(status, MTASTS_OK);
    ck_assert_str_eq(cache_order(ctx), "d.x b.x a.x");
    /* a, b, c, d, and a again (max_age 86400: within the refresh's fetch
     * window) */
    ck_assert_int_eq(W.nhttps, 5);
    mtasts_ctx_free(ctx);
}
END_TEST

START_TEST(test_cache_clear_errors)
{
    size_t removed = 5;
    ck_assert_int_eq(mtasts_cache_clear(NULL, &removed), MTASTS_ERR_INVALID);
    ck_assert_uint_eq(removed, 0);
    removed = 5;
    ck_assert_int_eq(mtasts_cache_remove_idle(NULL, &removed),
                     MTASTS_ERR_INVALID);
    ck_assert_uint_eq(removed, 0);
    ck_assert_int_eq(mtasts_ctx_set_cache_max_idle_s(NULL, 1),
                     MTASTS_ERR_INVALID);
    mtasts_ctx *ctx = new_ctx(0);
    ck_assert_int_eq(mtasts_cache_clear(ctx, NULL), MTASTS_OK);
    mtasts_ctx_free(ctx);
}
END_TEST

/* ---- case "idle" --------------------------------------------------------- */

/* The default idle time is 180 days: an entry last used at T0 stays at
 * T0 + 180 days - 1 s and goes at T0 + 180 days, expired or not. */
START_TEST(test_cache_idle_default)
{
    mtasts_ctx *ctx = new_ctx(0);
    LOOKUP(ctx, "a.example", MTASTS_OK);
    size_t removed = 9;
    W.now = T0 + 180 * DAY - 1;
    ck_assert_int_eq(mtasts_cache_remove_idle(ctx, &removed), MTASTS_OK);
    ck_assert_uint_eq(removed, 0);
    W.now = T0 + 180 * DAY;
    ck_assert_int_eq(mtasts_cache_remove_idle(ctx, &removed), MTASTS_OK);
    ck_assert_uint_eq(removed, 1);
    ck_assert_uint_eq(cached_count(ctx), 0);
    mtasts_ctx_free(ctx);
}
END_TEST

/* A use moves the idle clock (the blocking fast path and the async path
 * alike); 0 disables removal for idleness. */
START_TEST(test_cache_idle_use)
{
    mtasts_ctx *ctx = new_ctx(0);
    ck_assert_int_eq(mtasts_ctx_set_cache_max_idle_s(ctx, 100), MTASTS_OK);
    LOOKUP(ctx, "a.example", MTASTS_OK);
    LOOKUP(ctx, "b.example", MTASTS_OK);
    LOOKUP(ctx, "c.example", MTASTS_OK);
    W.now = T0 + 60;
    LOOKUP(ctx, "b.example", MTASTS_OK); /* fast path */
    int status = 1;
    ck_assert_int_eq(mtasts_lookup_async(ctx, "c.example", record_cb, &status),
                     MTASTS_OK);
    ck_assert_int_eq(status, MTASTS_OK);
    W.now = T0 + 100;
    size_t removed = 0;
    ck_assert_int_eq(mtasts_cache_remove_idle(ctx, &removed), MTASTS_OK);
    ck_assert_uint_eq(removed, 1);
    mtasts_cache_snapshot *s = snap(ctx);
    ck_assert_int_eq(find(s, "a.example"), -1);
    ck_assert_int_ne(find(s, "b.example"), -1);
    ck_assert_int_ne(find(s, "c.example"), -1);
    mtasts_cache_snapshot_free(s);

    ck_assert_int_eq(mtasts_ctx_set_cache_max_idle_s(ctx, 0), MTASTS_OK);
    W.now = T0 + 400 * DAY;
    ck_assert_int_eq(mtasts_cache_remove_idle(ctx, &removed), MTASTS_OK);
    ck_assert_uint_eq(removed, 0);
    ck_assert_uint_eq(cached_count(ctx), 2);
    mtasts_ctx_free(ctx);
}
END_TEST

/* Idle entries also go without a call, a few at a time, when a new
 * domain is cached (in its shard: one shard at this capacity). */
START_TEST(test_cache_idle_sweep)
{
    mtasts_ctx *ctx = new_ctx(10);
    ck_assert_int_eq(mtasts_ctx_set_cache_max_idle_s(ctx, 100), MTASTS_OK);
    LOOKUP(ctx, "a.example", MTASTS_OK);
    W.now = T0 + 50;
    LOOKUP(ctx, "b.example", MTASTS_OK);
    W.now = T0 + 120;
    LOOKUP(ctx, "c.example", MTASTS_OK);
    mtasts_cache_snapshot *s = snap(ctx);
    ck_assert_int_eq(find(s, "a.example"), -1);
    ck_assert_int_ne(find(s, "b.example"), -1);
    mtasts_cache_snapshot_free(s);
    mtasts_ctx_free(ctx);
}
END_TEST

/* Many domains over the shards of a large cache: all are listed, each
 * can be removed, and shrinking the capacity later keeps the bound. */
START_TEST(test_cache_shards)
{
    enum { N = 3000 };
    mtasts_ctx *ctx = new_ctx(100000);
    char name[64];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "d%d.example", i);
        LOOKUP(ctx, name, MTASTS_OK);
    }
    ck_assert_uint_eq(cached_count(ctx), N);
    for (int i = 0; i < N; i += 2) {
        snprintf(name, sizeof(name), "d%d.example", i);
        ck_assert_int_eq(mtasts_cache_remove(ctx, name), MTASTS_OK);
    }
    ck_assert_uint_eq(cached_count(ctx), N / 2);
    ck_assert_int_eq(mtasts_ctx_set_cache_capacity(ctx, 100), MTASTS_OK);
    ck_assert_uint_eq(cached_count(ctx), 100);
    ck_assert_int_eq(mtasts_ctx_set_cache_capacity(ctx, 50000), MTASTS_OK);
    ck_assert_uint_eq(cached_count(ctx), 100);
    int nhttps = W.nhttps;
    mtasts_cache_snapshot *s = snap(ctx);
    for (size_t i = 0; i < mtasts_cache_snapshot_count(s); i++) {
        LOOKUP(ctx, mtasts_cache_snapshot_domain(s, i), MTASTS_OK);
    }
    mtasts_cache_snapshot_free(s);
    ck_assert_int_eq(W.nhttps, nhttps);
    mtasts_ctx_free(ctx);
}
END_TEST

/* The entry a bucket link points at (cache.c keeps a tag in the low 3
 * bits). */
static struct mtasts__entry *
chain_entry(uintptr_t link)
{
    return (struct mtasts__entry *)(link & ~(uintptr_t)7);
}

/* A hit behind other entries of its hash chain moves to the chain's head,
 * so that the domains in use are found without loading the others (a
 * cache miss each); a peek moves nothing; every entry stays in the chain,
 * and found. White-box: four domains of one bucket. */
START_TEST(test_cache_chain_move_to_front)
{
    struct mtasts__cache c;
    ck_assert_int_eq(mtasts__cache_init(&c, 100), MTASTS_OK);
    ck_assert_uint_eq(c.nshards, 1);
    struct mtasts__shard *sh = &c.shards[0];
    char names[4][32];
    uint64_t hash[4];
    struct mtasts__entry *e[4];
    size_t found = 0, bucket = 0;
    for (size_t i = 0; found < 4 && i < 100000; i++) {
        char d[32];
        snprintf(d, sizeof(d), "c%zu.example", i);
        uint64_t h = mtasts__cache_hash(&c, d, strlen(d));
        if (found == 0) {
            bucket = h & (sh->nbuckets - 1);
        }
        if ((h & (sh->nbuckets - 1)) == bucket) {
            memcpy(names[found], d, sizeof(d));
            hash[found++] = h;
        }
    }
    ck_assert_uint_eq(found, 4);
    pthread_mutex_lock(&sh->lock);
    for (size_t k = 0; k < 4; k++) {
        e[k] = mtasts__cache_insert(&c, sh, names[k], strlen(names[k]),
                                    hash[k], T0);
        ck_assert_ptr_nonnull(e[k]);
    }
    uintptr_t *head = &sh->buckets[bucket];
    ck_assert_ptr_eq(chain_entry(*head), e[3]); /* the newest first */
    ck_assert_ptr_eq(mtasts__cache_peek(sh, names[0], strlen(names[0]),
                                        hash[0]),
                     e[0]);
    ck_assert_ptr_eq(chain_entry(*head), e[3]); /* a peek moved nothing */
    static const size_t order[] = {0, 2, 2, 1, 3};
    for (size_t j = 0; j < 5; j++) {
        size_t k = order[j];
        e[k]->referenced = false;
        ck_assert_ptr_eq(mtasts__cache_find(sh, names[k], strlen(names[k]),
                                            hash[k]),
                         e[k]);
        ck_assert(e[k]->referenced);
        ck_assert_ptr_eq(chain_entry(*head), e[k]);
        /* the chain still holds the four, once each */
        size_t n = 0;
        bool seen[4] = {false, false, false, false};
        for (uintptr_t l = *head; l != 0 && n < 10;
             l = chain_entry(l)->hnext, n++) {
            for (size_t m = 0; m < 4; m++) {
                if (chain_entry(l) == e[m]) {
                    ck_assert(!seen[m]);
                    seen[m] = true;
                }
            }
        }
        ck_assert_uint_eq(n, 4);
        ck_assert(seen[0] && seen[1] && seen[2] && seen[3]);
    }
    pthread_mutex_unlock(&sh->lock);
    mtasts__cache_destroy(&c);
}
END_TEST


/* ---- case "file" --------------------------------------------------------- */

static char tmpdir[64];

static void
file_setup(void)
{
    setup();
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_cache.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
file_teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
    teardown();
}

static const char *
tmp_path(const char *name)
{
    static char path[128];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    return path;
}

static void
write_file(const char *path, const void *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    ck_assert_ptr_nonnull(fp);
    ck_assert_uint_eq(fwrite(data, 1, len, fp), len);
    ck_assert_int_eq(fclose(fp), 0);
}

static unsigned char *
read_file(const char *path, size_t *len)
{
    unsigned char *buf = NULL;
    ck_assert_int_eq(mtasts__file_read_all(path, &buf, len), MTASTS_OK);
    return buf;
}

/* A cache with three policies used at different times (T0 .. T0+20). */
static mtasts_ctx *
filled_ctx(void)
{
    mtasts_ctx *ctx = new_ctx(10);
    LOOKUP(ctx, "a.example", MTASTS_OK);
    W.now = T0 + 10;
    W.txt = "v=STSv1; id=bbb2";
    W.body = POL_TESTING;
    LOOKUP(ctx, "b.example", MTASTS_OK);
    W.txt = "v=spf1";
    LOOKUP(ctx, "nopolicy.example", MTASTS_ERR_NO_POLICY);
    W.now = T0 + 20;
    W.txt = "v=STSv1; id=ccc3";
    W.body = "version: STSv1\r\nmode: none\r\nmax_age: 3600";
    LOOKUP(ctx, "c.example", MTASTS_OK);
    return ctx;
}

/* Two snapshots hold the same entries (in any order) and policy texts. */
static void
same_entries(const mtasts_cache_snapshot *a, const mtasts_cache_snapshot *b)
{
    ck_assert_uint_eq(mtasts_cache_snapshot_count(a),
                      mtasts_cache_snapshot_count(b));
    for (size_t i = 0; i < mtasts_cache_snapshot_count(a); i++) {
        long j = find(b, mtasts_cache_snapshot_domain(a, i));
        ck_assert_int_ge(j, 0);
        ck_assert_str_eq(mtasts_cache_snapshot_txt_id(a, i),
                         mtasts_cache_snapshot_txt_id(b, (size_t)j));
        ck_assert_int_eq(mtasts_cache_snapshot_fetched_at(a, i),
                         mtasts_cache_snapshot_fetched_at(b, (size_t)j));
        ck_assert_int_eq(mtasts_cache_snapshot_expires(a, i),
                         mtasts_cache_snapshot_expires(b, (size_t)j));
        ck_assert_int_eq(mtasts_cache_snapshot_last_used(a, i),
                         mtasts_cache_snapshot_last_used(b, (size_t)j));
        size_t la = 0, lb = 0;
        const char *ta =
            mtasts_policy_text(mtasts_cache_snapshot_policy(a, i), &la);
        const char *tb = mtasts_policy_text(
            mtasts_cache_snapshot_policy(b, (size_t)j), &lb);
        ck_assert_uint_eq(la, lb);
        ck_assert(memcmp(ta, tb, la) == 0);
    }
}

/* Save, load into a new context: the same entries, byte for byte the same
 * policies; a loaded policy checks its TXT record at the next lookup and,
 * with the same id, is not fetched (R8461-3-a); with DNS down it still
 * applies (R8461-3.3-m). */
START_TEST(test_cache_file_round_trip)
{
    mtasts_ctx *ctx = filled_ctx();
    const char *path = tmp_path("cache");
    ck_assert_int_eq(mtasts_cache_save(ctx, path), MTASTS_OK);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    mtasts_cache_snapshot *before = snap(ctx);
    ck_assert_uint_eq(mtasts_cache_snapshot_count(before), 3);
    mtasts_ctx_free(ctx);

    ctx = new_ctx(10);
    mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
    ck_assert_int_eq(mtasts_cache_load(ctx, path, &err), MTASTS_OK);
    ck_assert_ptr_null(err.message);
    mtasts_cache_snapshot *after = snap(ctx);
    same_entries(before, after);
    mtasts_cache_snapshot_free(after);
    mtasts_cache_snapshot_free(before);

    W.ndns = W.nhttps = 0;
    W.txt = "v=STSv1; id=aaa1";
    mtasts_result *r = NULL;
    ck_assert_int_eq(mtasts_lookup_result(ctx, "a.example", &r), MTASTS_OK);
    ck_assert(mtasts_result_from_cache(r));
    mtasts_result_free(r);
    ck_assert_int_eq(W.ndns, 1);
    ck_assert_int_eq(W.nhttps, 0);
    W.txt = NULL;
    ck_assert_int_eq(mtasts_lookup_result(ctx, "b.example", &r), MTASTS_OK);
    ck_assert(mtasts_result_from_cache(r));
    ck_assert_int_eq(mtasts_policy_mode(mtasts_result_policy(r)),
                     MTASTS_MODE_TESTING);
    mtasts_result_free(r);

    /* saving again over the file replaces it; no temporary file is left */
    ck_assert_int_eq(mtasts_cache_save(ctx, path), MTASTS_OK);
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "test $(ls -A '%s' | wc -l) -eq 1", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
    mtasts_ctx_free(ctx);
}
END_TEST

/* Loading merges: the newer fetch wins, the later use is kept, domains
 * only in memory stay. Expired and idle entries in the file are checked
 * but skipped (R8461-5.1-a); save writes no expired entry. */
START_TEST(test_cache_file_merge)
{
    mtasts_ctx *ctx = filled_ctx(); /* a@T0, b@T0+10, c@T0+20 */
    const char *path = tmp_path("cache");
    ck_assert_int_eq(mtasts_cache_save(ctx, path), MTASTS_OK);
    mtasts_ctx_free(ctx);

    ctx = new_ctx(10);
    W.now = T0 - 100; /* a fetched earlier than the file's */
    W.txt = "v=STSv1; id=old0";
    W.body = POL_TESTING;
    LOOKUP(ctx, "a.example", MTASTS_OK);
    W.now = T0 + 500; /* b fetched later than the file's */
    W.txt = "v=STSv1; id=new9";
    W.body = POL_ENFORCE;
    LOOKUP(ctx, "b.example", MTASTS_OK);
    LOOKUP(ctx, "d.example", MTASTS_OK);
    W.now = T0 + 20 + 3600; /* c (max_age 3600) has expired */
    ck_assert_int_eq(mtasts_cache_load(ctx, path, NULL), MTASTS_OK);
    mtasts_cache_snapshot *s = snap(ctx);
    ck_assert_uint_eq(mtasts_cache_snapshot_count(s), 3);
    long a = find(s, "a.example"), b = find(s, "b.example");
    ck_assert_str_eq(mtasts_cache_snapshot_txt_id(s, (size_t)a), "aaa1");
    ck_assert_int_eq(mtasts_cache_snapshot_fetched_at(s, (size_t)a), T0);
    ck_assert_int_eq(mtasts_cache_snapshot_last_used(s, (size_t)a), T0);
    ck_assert_str_eq(mtasts_cache_snapshot_txt_id(s, (size_t)b), "new9");
    ck_assert_int_eq(mtasts_cache_snapshot_last_used(s, (size_t)b), T0 + 500);
    ck_assert_int_eq(find(s, "c.example"), -1);
    ck_assert_int_ge(find(s, "d.example"), 0);
    mtasts_cache_snapshot_free(s);

    /* idle in the file: skipped */
    ck_assert_int_eq(mtasts_cache_clear(ctx, NULL), MTASTS_OK);
    ck_assert_int_eq(mtasts_ctx_set_cache_max_idle_s(ctx, 3000), MTASTS_OK);
    ck_assert_int_eq(mtasts_cache_load(ctx, path, NULL), MTASTS_OK);
    s = snap(ctx);
    ck_assert_uint_eq(mtasts_cache_snapshot_count(s), 0);
    mtasts_cache_snapshot_free(s);

    /* save skips the expired: c is not in the new file */
    ck_assert_int_eq(mtasts_ctx_set_cache_max_idle_s(ctx, 0), MTASTS_OK);
    W.now = T0 - 10;
    ck_assert_int_eq(mtasts_cache_load(ctx, path, NULL), MTASTS_OK);
    ck_assert_uint_eq(cached_count(ctx), 3);
    W.now = T0 + 20 + 3600;
    ck_assert_int_eq(mtasts_cache_save(ctx, path), MTASTS_OK);
    ck_assert_int_eq(mtasts_cache_clear(ctx, NULL), MTASTS_OK);
    W.now = T0;
    ck_assert_int_eq(mtasts_cache_load(ctx, path, NULL), MTASTS_OK);
    ck_assert_uint_eq(cached_count(ctx), 2);
    mtasts_ctx_free(ctx);
}
END_TEST

/* A load larger than one hold of a shard lock (the merge goes in chunks
 * of 256 per shard) puts every entry back, and in one shard in the file's
 * order: the snapshots before the save and after the load list the same
 * domains in the same order (R8461-5.1-a: the cache survives a restart as
 * it was). With several shards every entry is back with its id. */
START_TEST(test_cache_file_load_large)
{
    static const size_t caps[] = {1000, 8192};
    static const size_t counts[] = {700, 5000};
    for (size_t t = 0; t < 2; t++) {
        mtasts_ctx *ctx = new_ctx(caps[t]);
        char d[64];
        for (size_t i = 0; i < counts[t]; i++) {
            W.now = T0 + (int64_t)i;
            snprintf(d, sizeof(d), "d%zu.example", i);
            LOOKUP(ctx, d, MTASTS_OK);
        }
        /* some used again, out of order */
        for (size_t i = 0; i < counts[t]; i += 7) {
            W.now = T0 + (int64_t)counts[t] + (int64_t)i;
            snprintf(d, sizeof(d), "d%zu.example", counts[t] - 1 - i);
            LOOKUP(ctx, d, MTASTS_OK);
        }
        mtasts_cache_snapshot *before = snap(ctx);
        const char *path = tmp_path("large");
        ck_assert_int_eq(mtasts_cache_save(ctx, path), MTASTS_OK);
        mtasts_ctx_free(ctx);

        ctx = new_ctx(caps[t]);
        ck_assert_int_eq(mtasts_cache_load(ctx, path, NULL), MTASTS_OK);
        mtasts_cache_snapshot *after = snap(ctx);
        ck_assert_uint_eq(mtasts_cache_snapshot_count(before), counts[t]);
        same_entries(before, after);
        if (caps[t] < 2048) { /* one shard: one order */
            for (size_t i = 0; i < counts[t]; i++) {
                ck_assert_str_eq(mtasts_cache_snapshot_domain(before, i),
                                 mtasts_cache_snapshot_domain(after, i));
            }
        }
        mtasts_cache_snapshot_free(before);
        mtasts_cache_snapshot_free(after);
        mtasts_ctx_free(ctx);
    }
}
END_TEST

/* The errors of save and load that are not about the file's content. */
START_TEST(test_cache_file_errors)
{
    mtasts_ctx *ctx = filled_ctx();
    mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
    ck_assert_int_eq(mtasts_cache_load(ctx, tmp_path("missing"), &err),
                     MTASTS_ERR_NOT_FOUND);
    ck_assert_str_eq(err.message, "no such file");
    ck_assert_int_eq(mtasts_cache_load(ctx, tmpdir, &err), MTASTS_ERR_IO);
    ck_assert_int_eq(mtasts_cache_save(ctx, tmp_path("no/such/dir")),
                     MTASTS_ERR_IO);
    ck_assert_int_eq(mtasts_cache_save(ctx, tmpdir), MTASTS_ERR_IO);
    ck_assert_int_eq(mtasts_cache_save(NULL, "x"), MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_cache_save(ctx, NULL), MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_cache_save(ctx, ""), MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_cache_load(NULL, "x", &err), MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_cache_load(ctx, NULL, NULL), MTASTS_ERR_INVALID);
    /* a file saved in the current directory (no slash in the path) */
    char cwd[256];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
    ck_assert_int_eq(chdir(tmpdir), 0);
    ck_assert_int_eq(mtasts_cache_save(ctx, "here"), MTASTS_OK);
    ck_assert_int_eq(mtasts_cache_load(ctx, "here", NULL), MTASTS_OK);
    ck_assert_int_eq(chdir(cwd), 0);
    ck_assert_uint_eq(cached_count(ctx), 3);
    mtasts_ctx_free(ctx);
}
END_TEST

/* The CRC-32 of the format is zlib's: its check value. */
START_TEST(test_cache_crc32)
{
    ck_assert_uint_eq(mtasts__crc32(0, "123456789", 9), 0xCBF43926u);
    ck_assert_uint_eq(mtasts__crc32(mtasts__crc32(0, "1234", 4), "56789", 5),
                      0xCBF43926u);
    ck_assert_uint_eq(mtasts__crc32(0, "", 0), 0);
}
END_TEST

/* ---- hostile files, built byte by byte (docs/cache-format.md) ---------- */

struct rec_spec {
    const char *domain;
    const char *id;
    const char *policy;
    int64_t fetched_at, expires, last_used;
};

static size_t
put(unsigned char *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = (unsigned char)(v >> (8 * (n - 1 - i)));
    }
    return n;
}

/* One record as the format document describes it. */
static size_t
spec_record(const struct rec_spec *r, unsigned char *out)
{
    size_t dl = strlen(r->domain), il = strlen(r->id), pl = strlen(r->policy);
    size_t len = 38 + dl + il + pl + 4;
    memcpy(out, "MSR\x01", 4);
    put(out + 4, len, 4);
    put(out + 8, (uint64_t)r->fetched_at, 8);
    put(out + 16, (uint64_t)r->expires, 8);
    put(out + 24, (uint64_t)r->last_used, 8);
    out[32] = (unsigned char)dl;
    out[33] = (unsigned char)il;
    put(out + 34, pl, 4);
    memcpy(out + 38, r->domain, dl);
    memcpy(out + 38 + dl, r->id, il);
    memcpy(out + 38 + dl + il, r->policy, pl);
    put(out + len - 4, mtasts__crc32(0, out, len - 4), 4);
    return len;
}

#define GOOD(d) {d, "id1", POL_ENFORCE, T0, T0 + DAY, T0}

/* A file of n records; the header says count. */
static size_t
spec_file(const struct rec_spec *r, size_t n, uint32_t count,
          unsigned char *out)
{
    memcpy(out, "\x89MTSC\r\n\x1a", 8);
    size_t off = 8;
    off += put(out + off, 1, 2);
    off += put(out + off, 0, 2);
    off += put(out + off, count, 4);
    for (size_t i = 0; i < n; i++) {
        off += spec_record(&r[i], out + off);
    }
    return off;
}

enum edit {
    E_NONE,
    E_MAGIC,
    E_VERSION,
    E_FLAGS,
    E_COUNT_HUGE,
    E_REC_TAG,
    E_REC_VERSION,
    E_REC_LEN_SMALL,
    E_REC_LEN_BIG,
    E_FLIP_POLICY,
    E_FLIP_CRC,
    E_TRAILING,
    E_LEN_MISMATCH,
};

static const struct corrupt_case {
    const char *name;
    struct rec_spec rec[2];
    size_t n;
    int count_delta;
    enum edit edit;
    int want;
    const char *message;
} corrupt_cases[] = {
    {"bad magic", {GOOD("a.example")}, 1, 0, E_MAGIC,
     MTASTS_ERR_CACHE_FORMAT, "not a cache file (bad magic)"},
    {"version 2", {GOOD("a.example")}, 1, 0, E_VERSION,
     MTASTS_ERR_CACHE_FORMAT, "cache file version not supported"},
    {"unknown flags", {GOOD("a.example")}, 1, 0, E_FLAGS,
     MTASTS_ERR_CACHE_FORMAT, "cache file flags not supported"},
    {"absurd count", {GOOD("a.example")}, 1, 0, E_COUNT_HUGE,
     MTASTS_ERR_CACHE_CORRUPT, "record count larger than the file can hold"},
    {"count one too many", {GOOD("a.example"), GOOD("b.example")}, 2, 1,
     E_NONE, MTASTS_ERR_CACHE_CORRUPT, "record truncated"},
    {"count one too few", {GOOD("a.example"), GOOD("b.example")}, 2, -1,
     E_NONE, MTASTS_ERR_CACHE_CORRUPT, "bytes after the last record"},
    {"trailing byte", {GOOD("a.example")}, 1, 0, E_TRAILING,
     MTASTS_ERR_CACHE_CORRUPT, "bytes after the last record"},
    {"bad record tag", {GOOD("a.example")}, 1, 0, E_REC_TAG,
     MTASTS_ERR_CACHE_CORRUPT, "not a cache record (bad tag)"},
    {"record version 2", {GOOD("a.example")}, 1, 0, E_REC_VERSION,
     MTASTS_ERR_CACHE_FORMAT, "cache record version not supported"},
    {"record length too small", {GOOD("a.example")}, 1, 0, E_REC_LEN_SMALL,
     MTASTS_ERR_CACHE_CORRUPT, "record length out of range"},
    {"record length past the end", {GOOD("a.example")}, 1, 0, E_REC_LEN_BIG,
     MTASTS_ERR_CACHE_CORRUPT, "record truncated"},
    {"record length disagrees", {GOOD("a.example")}, 1, 0, E_LEN_MISMATCH,
     MTASTS_ERR_CACHE_CORRUPT, "record length does not match its fields"},
    {"policy byte flipped", {GOOD("a.example")}, 1, 0, E_FLIP_POLICY,
     MTASTS_ERR_CACHE_CORRUPT, "record checksum mismatch"},
    {"checksum flipped", {GOOD("a.example")}, 1, 0, E_FLIP_CRC,
     MTASTS_ERR_CACHE_CORRUPT, "record checksum mismatch"},
    {"policy no longer parses",
     {{"a.example", "id1", "version: STSv1\nmode: bogus\nmax_age: 1\n", T0,
       T0 + 1, T0}},
     1, 0, E_NONE, MTASTS_ERR_CACHE_CORRUPT, "stored policy does not parse"},
    {"duplicate domain", {GOOD("a.example"), GOOD("a.example")}, 2, 0, E_NONE,
     MTASTS_ERR_CACHE_CORRUPT, "domain appears twice"},
    {"duplicate domain, one expired",
     {GOOD("a.example"), {"a.example", "id2", POL_ENFORCE, 0, DAY, 0}}, 2, 0,
     E_NONE, MTASTS_ERR_CACHE_CORRUPT, "domain appears twice"},
    {"domain not normalised", {GOOD("A.example")}, 1, 0, E_NONE,
     MTASTS_ERR_CACHE_CORRUPT, "domain is not a normalised host name"},
    {"domain with a trailing dot", {GOOD("a.example.")}, 1, 0, E_NONE,
     MTASTS_ERR_CACHE_CORRUPT, "domain is not a normalised host name"},
    {"domain not a host name", {GOOD("-a.example")}, 1, 0, E_NONE,
     MTASTS_ERR_CACHE_CORRUPT, "domain is not a normalised host name"},
    {"domain with a NUL", {GOOD("a\x01.example")}, 1, 0, E_NONE,
     MTASTS_ERR_CACHE_CORRUPT, "domain is not a normalised host name"},
    {"empty domain", {GOOD("")}, 1, 0, E_NONE, MTASTS_ERR_CACHE_CORRUPT,
     "domain length out of range"},
    {"id with an underscore",
     {{"a.example", "abc_def", POL_ENFORCE, T0, T0 + DAY, T0}}, 1, 0, E_NONE,
     MTASTS_ERR_CACHE_CORRUPT, "TXT id is not 1 to 32 letters or digits"},
    {"id of 33 characters",
     {{"a.example", "123456789012345678901234567890123", POL_ENFORCE, T0,
       T0 + DAY, T0}},
     1, 0, E_NONE, MTASTS_ERR_CACHE_CORRUPT, "TXT id length out of range"},
    {"empty id", {{"a.example", "", POL_ENFORCE, T0, T0 + DAY, T0}}, 1, 0,
     E_NONE, MTASTS_ERR_CACHE_CORRUPT, "TXT id length out of range"},
    {"empty policy", {{"a.example", "id1", "", T0, T0 + DAY, T0}}, 1, 0,
     E_NONE, MTASTS_ERR_CACHE_CORRUPT, "policy length out of range"},
    {"expiry extended", {{"a.example", "id1", POL_ENFORCE, T0, T0 + 2 * DAY,
                          T0}},
     1, 0, E_NONE, MTASTS_ERR_CACHE_CORRUPT,
     "expiry is not fetch time + max_age"},
    {"time out of range",
     {{"a.example", "id1", POL_ENFORCE, -1, -1 + DAY, T0}}, 1, 0, E_NONE,
     MTASTS_ERR_CACHE_CORRUPT, "a time is out of range"},
    {"empty file", {GOOD("a.example")}, 0, 0, E_NONE, MTASTS_OK, NULL},
};

/* Apply an edit to the image; the new length. */
static size_t
apply_edit(unsigned char *img, size_t len, enum edit e)
{
    size_t rec = 16; /* the first record */
    switch (e) {
    case E_NONE:
        break;
    case E_MAGIC:
        img[1] = 'X';
        break;
    case E_VERSION:
        img[9] = 2;
        break;
    case E_FLAGS:
        img[11] = 1;
        break;
    case E_COUNT_HUGE:
        put(img + 12, 0xffffffffu, 4);
        break;
    case E_REC_TAG:
        img[rec] = 'X';
        break;
    case E_REC_VERSION:
        img[rec + 3] = 2;
        break;
    case E_REC_LEN_SMALL:
        put(img + rec + 4, 10, 4);
        break;
    case E_REC_LEN_BIG:
        put(img + rec + 4, len - rec + 1, 4);
        break;
    case E_LEN_MISMATCH:
        img[rec + 32]++; /* domain length one more: CRC made again */
        put(img + len - 4, mtasts__crc32(0, img + rec, len - 4 - rec), 4);
        break;
    case E_FLIP_POLICY:
        img[len - 6] ^= 0x01;
        break;
    case E_FLIP_CRC:
        img[len - 1] ^= 0x80;
        break;
    case E_TRAILING:
        img[len++] = 0;
        break;
    }
    return len;
}

/* Each hostile file is refused with its status and message, and leaves
 * the cache exactly as it was (one entry, keep.example). */
START_TEST(test_cache_file_corrupt_table)
{
    const struct corrupt_case *c = &corrupt_cases[_i];
    static unsigned char img[4096];
    size_t n = c->n;
    size_t len = spec_file(c->rec, n, (uint32_t)((int)n + c->count_delta), img);
    len = apply_edit(img, len, c->edit);
    const char *path = tmp_path("hostile");
    write_file(path, img, len);

    mtasts_ctx *ctx = new_ctx(10);
    LOOKUP(ctx, "keep.example", MTASTS_OK);
    mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
    int rc = mtasts_cache_load(ctx, path, &err);
    ck_assert_msg(rc == c->want, "%s: %s, want %s (%s at %zu)", c->name,
                  mtasts_status_name(rc), mtasts_status_name(c->want),
                  err.message != NULL ? err.message : "-", err.offset);
    if (c->message != NULL) {
        ck_assert_msg(err.message != NULL &&
                          strcmp(err.message, c->message) == 0,
                      "%s: message \"%s\"", c->name,
                      err.message != NULL ? err.message : "(null)");
        ck_assert_msg(err.offset <= len, "%s: offset %zu past %zu", c->name,
                      err.offset, len);
        ck_assert_uint_eq(err.line, 0);
        mtasts_cache_snapshot *s = snap(ctx);
        ck_assert_uint_eq(mtasts_cache_snapshot_count(s), 1);
        ck_assert_str_eq(mtasts_cache_snapshot_domain(s, 0), "keep.example");
        mtasts_cache_snapshot_free(s);
    }
    mtasts_ctx_free(ctx);
}
END_TEST

/* A file cut at any length is refused, never half loaded; the faults are
 * at or before the cut. */
START_TEST(test_cache_file_truncated)
{
    mtasts_ctx *ctx = filled_ctx();
    const char *path = tmp_path("cache");
    ck_assert_int_eq(mtasts_cache_save(ctx, path), MTASTS_OK);
    size_t len = 0;
    unsigned char *img = read_file(path, &len);
    ck_assert_int_eq(mtasts_cache_clear(ctx, NULL), MTASTS_OK);
    LOOKUP(ctx, "keep.example", MTASTS_OK);
    for (size_t cut = 0; cut < len; cut++) {
        write_file(path, img, cut);
        mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
        int rc = mtasts_cache_load(ctx, path, &err);
        int want = cut < 8 ? MTASTS_ERR_CACHE_FORMAT : MTASTS_ERR_CACHE_CORRUPT;
        ck_assert_msg(rc == want, "cut at %zu: %s", cut,
                      mtasts_status_name(rc));
        ck_assert_uint_le(err.offset, cut);
        ck_assert_uint_eq(cached_count(ctx), 1);
    }
    write_file(path, img, len);
    ck_assert_int_eq(mtasts_cache_load(ctx, path, NULL), MTASTS_OK);
    ck_assert_uint_eq(cached_count(ctx), 4);
    free(img);
    mtasts_ctx_free(ctx);
}
END_TEST

/* The ring of a shard is whole: count + dead entries from last round to
 * last, and the dead ones among them are sh->dead. */
static void
ring_consistent(const struct mtasts__shard *sh)
{
    size_t n = mtasts__shard_ring_len(sh), dead = 0;
    if (n == 0) {
        ck_assert_ptr_null(sh->last);
        return;
    }
    const struct mtasts__entry *e = sh->last;
    for (size_t k = 0; k < n; k++) {
        e = e->next;
        dead += e->hnext == 1;
    }
    ck_assert_ptr_eq(e, sh->last);
    ck_assert_uint_eq(dead, sh->dead);
}

static bool
cached_in(struct mtasts__cache *c, const char *d)
{
    uint64_t h = mtasts__cache_hash(c, d, strlen(d));
    return mtasts__cache_peek(mtasts__cache_shard(c, h), d, strlen(d), h) !=
           NULL;
}

static void
insert_in(struct mtasts__cache *c, const char *d)
{
    uint64_t h = mtasts__cache_hash(c, d, strlen(d));
    struct mtasts__shard *sh = mtasts__cache_shard(c, h);
    pthread_mutex_lock(&sh->lock);
    ck_assert_ptr_nonnull(mtasts__cache_insert(c, sh, d, strlen(d), h, T0));
    pthread_mutex_unlock(&sh->lock);
}

static void
remove_in(struct mtasts__cache *c, const char *d)
{
    uint64_t h = mtasts__cache_hash(c, d, strlen(d));
    struct mtasts__shard *sh = mtasts__cache_shard(c, h);
    pthread_mutex_lock(&sh->lock);
    struct mtasts__entry *e = mtasts__cache_peek(sh, d, strlen(d), h);
    ck_assert_ptr_nonnull(e);
    mtasts__cache_remove(sh, e);
    pthread_mutex_unlock(&sh->lock);
}

/* A lone removal takes the entry out of its chain at once and leaves it
 * in the ring, dead, for the hand: eviction frees the dead it passes and
 * evicts exactly the oldest live entries, as if the removed ones had
 * never been there; the dead never outnumber a quarter of the live ones
 * and 64 (one walk frees them); clear frees them and counts only the
 * live. White-box, one shard of 100. */
START_TEST(test_cache_remove_dead)
{
    struct mtasts__cache c;
    ck_assert_int_eq(mtasts__cache_init(&c, 100), MTASTS_OK);
    ck_assert_uint_eq(c.nshards, 1);
    struct mtasts__shard *sh = &c.shards[0];
    char d[32];
    for (size_t i = 0; i < 100; i++) {
        snprintf(d, sizeof(d), "r%zu.example", i);
        insert_in(&c, d);
    }
    for (size_t i = 0; i < 80; i += 2) { /* r0, r2, ... r78 */
        snprintf(d, sizeof(d), "r%zu.example", i);
        remove_in(&c, d);
        ck_assert(!cached_in(&c, d));
    }
    ck_assert_uint_eq(sh->count, 60);
    ck_assert_uint_eq(sh->dead, 40);
    ring_consistent(sh);
    for (size_t i = 0; i < 50; i++) {
        snprintf(d, sizeof(d), "n%zu.example", i);
        insert_in(&c, d);
        ring_consistent(sh);
    }
    /* 110 live for 100 places: the 10 oldest live ones went, r1 to r19 */
    ck_assert_uint_eq(sh->count, 100);
    for (size_t i = 0; i < 100; i++) {
        snprintf(d, sizeof(d), "r%zu.example", i);
        bool want = i % 2 == 1 ? i > 19 : i >= 80;
        ck_assert_msg(cached_in(&c, d) == want, "%s", d);
    }
    for (size_t i = 0; i < 50; i++) {
        snprintf(d, sizeof(d), "n%zu.example", i);
        ck_assert(cached_in(&c, d));
    }
    ck_assert_uint_lt(sh->dead, 40); /* the hand freed those it passed */
    /* many removals: the dead stay bounded */
    bool purged = false;
    for (size_t i = 0; i < 50; i++) {
        snprintf(d, sizeof(d), "n%zu.example", i);
        size_t before = sh->dead;
        remove_in(&c, d);
        purged = purged || sh->dead < before;
        ck_assert_uint_le(sh->dead, sh->count / 4 + 64);
        ring_consistent(sh);
    }
    ck_assert(purged);
    ck_assert_uint_eq(sh->count, 50);
    ck_assert_uint_eq(mtasts__cache_clear(&c), 50);
    ck_assert_uint_eq(sh->dead, 0);
    ring_consistent(sh);
    /* and the destruction of a shard holding dead entries */
    for (size_t i = 0; i < 10; i++) {
        snprintf(d, sizeof(d), "z%zu.example", i);
        insert_in(&c, d);
    }
    remove_in(&c, "z3.example");
    ck_assert_uint_eq(sh->dead, 1);
    mtasts__cache_destroy(&c);
}
END_TEST

/* A policy of about size bytes: many mx lines (i makes each distinct). */
static char *
big_policy(size_t i, size_t size)
{
    char *p = malloc(size + 64);
    ck_assert_ptr_nonnull(p);
    size_t n = (size_t)sprintf(p, "version: STSv1\nmode: enforce\n"
                                  "max_age: 86400\n");
    for (size_t k = 0; n + 40 < size; k++) {
        n += (size_t)sprintf(p + n, "mx: m%zu-%zu.example.com\n", i, k);
    }
    return p;
}

#define PIECES 120 /* records; every third a large one */

/* A file of PIECES records, 2.5 MB: large policies (up to 64 KiB) between
 * small ones, so records straddle the load's 1 MiB read buffer at
 * several places. Offsets of each record in off[] (off[PIECES] = len). */
static unsigned char *
pieces_file(size_t off[PIECES + 1], size_t *len)
{
    static char doms[PIECES][32];
    struct rec_spec r[PIECES];
    char *pol[PIECES];
    for (size_t i = 0; i < PIECES; i++) {
        snprintf(doms[i], sizeof(doms[i]), "p%03zu.example", i);
        pol[i] = i % 3 == 0 ? big_policy(i, MTASTS_POLICY_MAX - 997 * (i % 7))
                            : big_policy(i, 120);
        r[i] = (struct rec_spec){doms[i], "id1", pol[i], T0, T0 + DAY, T0};
    }
    unsigned char *img = malloc(PIECES * (MTASTS_POLICY_MAX + 128) + 64);
    ck_assert_ptr_nonnull(img);
    *len = spec_file(r, PIECES, PIECES, img);
    off[0] = 16;
    for (size_t i = 0; i < PIECES; i++) {
        off[i + 1] = off[i] + 38 + strlen(doms[i]) + 3 + strlen(pol[i]) + 4;
        free(pol[i]);
    }
    ck_assert_uint_eq(off[PIECES], *len);
    ck_assert_uint_gt(*len, 2u << 20); /* more than two buffers */
    return img;
}

/* Load a hostile image into a context holding keep.example: the status,
 * the message and its offset; the context is left as it was. */
static void
load_refused(const unsigned char *img, size_t len, int want,
             const char *message, size_t offset)
{
    const char *path = tmp_path("pieces");
    write_file(path, img, len);
    mtasts_ctx *ctx = new_ctx(PIECES + 10);
    LOOKUP(ctx, "keep.example", MTASTS_OK);
    mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
    ck_assert_int_eq(mtasts_cache_load(ctx, path, &err), want);
    ck_assert_str_eq(err.message, message);
    ck_assert_uint_eq(err.offset, offset);
    ck_assert_uint_eq(cached_count(ctx), 1);
    mtasts_ctx_free(ctx);
}

/* The load reads a file in pieces through a 1 MiB buffer (file.c): a file
 * of 2.5 MB whose records straddle the buffer's ends loads whole, every
 * policy byte for byte; faults past the first pieces are found at their
 * exact offsets, a duplicate of a domain read two pieces earlier
 * included, with nothing loaded (R8461-5.1-a). */
START_TEST(test_cache_file_pieces)
{
    size_t off[PIECES + 1], len = 0;
    unsigned char *img = pieces_file(off, &len);
    const char *path = tmp_path("pieces");
    write_file(path, img, len);
    mtasts_ctx *ctx = new_ctx(PIECES + 10);
    mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
    int rc = mtasts_cache_load(ctx, path, &err);
    ck_assert_msg(rc == MTASTS_OK, "%s: %s at %zu", mtasts_status_name(rc),
                  err.message, err.offset);
    mtasts_cache_snapshot *s = snap(ctx);
    ck_assert_uint_eq(mtasts_cache_snapshot_count(s), PIECES);
    for (size_t i = 0; i < PIECES; i++) {
        char d[32];
        snprintf(d, sizeof(d), "p%03zu.example", i);
        long j = find(s, d);
        ck_assert_int_ge(j, 0);
        size_t pl = 0;
        const char *text =
            mtasts_policy_text(mtasts_cache_snapshot_policy(s, (size_t)j), &pl);
        size_t at = off[i] + 38 + strlen(d) + 3;
        ck_assert_uint_eq(pl, off[i + 1] - 4 - at);
        ck_assert(memcmp(text, img + at, pl) == 0);
    }
    mtasts_cache_snapshot_free(s);
    mtasts_ctx_free(ctx);

    /* the last record's checksum */
    img[len - 1] ^= 1;
    load_refused(img, len, MTASTS_ERR_CACHE_CORRUPT,
                 "record checksum mismatch", len - 4);
    img[len - 1] ^= 1;
    /* one byte more */
    img[len] = 0;
    load_refused(img, len + 1, MTASTS_ERR_CACHE_CORRUPT,
                 "bytes after the last record", len);
    /* cut inside each of the last records, and at each of their starts */
    for (size_t i = PIECES - 6; i < PIECES; i++) {
        load_refused(img, off[i] + 5, MTASTS_ERR_CACHE_CORRUPT,
                     "record truncated", off[i]);
        load_refused(img, off[i + 1] - 1, MTASTS_ERR_CACHE_CORRUPT,
                     "record truncated", off[i] + 4);
    }
    /* the last record (p119) renamed p010, a domain two pieces back */
    size_t last = off[PIECES - 1];
    ck_assert(memcmp(img + last + 38, "p119.example", 12) == 0);
    memcpy(img + last + 38, "p010", 4);
    put(img + len - 4, mtasts__crc32(0, img + last, len - 4 - last), 4);
    load_refused(img, len, MTASTS_ERR_CACHE_CORRUPT, "domain appears twice",
                 last + 38);
    free(img);
}
END_TEST

/* Allocation n of a load or a save fails: MTASTS_ERR_NOMEM, nothing
 * changed, nothing leaked, no file left behind; then it succeeds. */
START_TEST(test_cache_file_nomem)
{
    mtasts_ctx *ctx = filled_ctx();
    char path[128], out[128];
    snprintf(path, sizeof(path), "%s", tmp_path("cache"));
    snprintf(out, sizeof(out), "%s", tmp_path("out"));
    ck_assert_int_eq(mtasts_cache_save(ctx, path), MTASTS_OK);
    mtasts_ctx_free(ctx);
    for (int save = 0; save < 2; save++) {
        bool succeeded = false;
        for (size_t n = 1; n < 500 && !succeeded; n++) {
            ctx = new_ctx(10);
            LOOKUP(ctx, "keep.example", MTASTS_OK);
            failalloc_start(n);
            int rc = save ? mtasts_cache_save(ctx, out)
                          : mtasts_cache_load(ctx, path, NULL);
            long live = failalloc_live();
            failalloc_stop();
            size_t count = cached_count(ctx);
            mtasts_ctx_free(ctx);
            ck_assert_msg(live == 0 || rc == MTASTS_OK,
                          "allocation %zu: %ld blocks leaked", n, live);
            if (rc == MTASTS_OK) {
                succeeded = true;
                ck_assert_uint_eq(count, save ? 1 : 4);
            } else {
                ck_assert_msg(rc == MTASTS_ERR_NOMEM, "allocation %zu: %s", n,
                              mtasts_status_name(rc));
                ck_assert_uint_eq(count, 1);
                ck_assert_int_ne(access(out, F_OK), 0);
            }
        }
        ck_assert(succeeded);
    }
}
END_TEST

/* ---- case "refresh" ------------------------------------------------------ */

#define HOUR 3600
#define POL_WEEK                                                               \
    "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 604800\n"

static mtasts_cache_snapshot *
due_snap(mtasts_ctx *ctx, uint32_t used, uint32_t expiring, uint32_t recheck)
{
    mtasts_cache_snapshot *s = NULL;
    ck_assert_int_eq(mtasts_cache_due(ctx, used, expiring, recheck, &s),
                     MTASTS_OK);
    return s;
}

/* The domains of a snapshot, sorted and joined by spaces. */
static const char *
names(const mtasts_cache_snapshot *s)
{
    static char buf[256];
    const char *v[16];
    size_t n = mtasts_cache_snapshot_count(s);
    ck_assert_uint_le(n, 16);
    for (size_t i = 0; i < n; i++) {
        v[i] = mtasts_cache_snapshot_domain(s, i);
        for (size_t k = i; k > 0 && strcmp(v[k - 1], v[k]) > 0; k--) {
            const char *t = v[k];
            v[k] = v[k - 1];
            v[k - 1] = t;
        }
    }
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        strcat(buf, i > 0 ? " " : "");
        strcat(buf, v[i]);
    }
    return buf;
}

#define DUE(ctx, used, expiring, recheck, want)                                \
    do {                                                                       \
        mtasts_cache_snapshot *s_ = due_snap((ctx), (used), (expiring),        \
                                             (recheck));                      \
        ck_assert_str_eq(names(s_), (want));                                   \
        mtasts_cache_snapshot_free(s_);                                        \
    } while (0)

/* R8461-3.3-o: the entries due are those used recently and expiring soon,
 * or not re-checked for a while; each rule can be turned off. */
START_TEST(test_cache_due_selection)
{
    mtasts_ctx *ctx = new_ctx(10);
    ck_assert_int_eq(mtasts_ctx_set_refresh_jitter_s(ctx, 0), MTASTS_OK);
    LOOKUP(ctx, "day.example", MTASTS_OK); /* expires T0 + 1 day */
    W.body = POL_WEEK;
    LOOKUP(ctx, "week.example", MTASTS_OK); /* expires T0 + 7 days */
    W.txt = "v=spf1";
    LOOKUP(ctx, "none.example", MTASTS_ERR_NO_POLICY);
    W.txt = "v=STSv1; id=aaa1";
    W.now = T0 + 20 * HOUR;
    LOOKUP(ctx, "day.example", MTASTS_OK); /* used, TXT checked again */

    DUE(ctx, DAY, 6 * HOUR, 0, "day.example");
    DUE(ctx, DAY, 3 * HOUR, 0, "");
    DUE(ctx, 0, 7 * DAY, 0, "day.example week.example");
    DUE(ctx, HOUR, 7 * DAY, 0, "day.example"); /* week: used 20 h ago */
    DUE(ctx, 0, 0, 12 * HOUR, "week.example"); /* day: checked just now */
    DUE(ctx, 0, 0, 21 * HOUR, "");
    DUE(ctx, 0, 0, 0, "");
    W.now = T0 + 2 * DAY; /* expired counts as expiring */
    DUE(ctx, 0, HOUR, 0, "day.example");

    mtasts_cache_snapshot *s = (mtasts_cache_snapshot *)&W;
    ck_assert_int_eq(mtasts_cache_due(NULL, 0, 0, 0, &s), MTASTS_ERR_INVALID);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(mtasts_cache_due(ctx, 0, 0, 0, NULL), MTASTS_ERR_INVALID);
    mtasts_ctx_free(ctx);
}
END_TEST

/* The jitter widens each window by a random share, the same for the same
 * seed: an entry half an hour outside the window is due in some calls
 * and not in others, in a sequence fixed by the seed. */
START_TEST(test_cache_due_jitter)
{
    mtasts_ctx *ctx = new_ctx(10);
    LOOKUP(ctx, "a.example", MTASTS_OK);
    W.now = T0 + DAY - 7 * HOUR; /* expires in 7 h */
    ck_assert_int_eq(mtasts_ctx_set_refresh_jitter_s(ctx, 2 * HOUR),
                     MTASTS_OK);
    char first[41], again[41];
    for (int round = 0; round < 2; round++) {
        char *pattern = round == 0 ? first : again;
        ck_assert_int_eq(mtasts_ctx_set_random_seed(ctx, 42), MTASTS_OK);
        for (int i = 0; i < 40; i++) {
            mtasts_cache_snapshot *s = due_snap(ctx, 0, 6 * HOUR, 0);
            pattern[i] = mtasts_cache_snapshot_count(s) == 1 ? 'y' : 'n';
            mtasts_cache_snapshot_free(s);
        }
        pattern[40] = '\0';
    }
    ck_assert_str_eq(first, again);
    ck_assert_ptr_nonnull(strchr(first, 'y'));
    ck_assert_ptr_nonnull(strchr(first, 'n'));
    /* never due beyond the window plus the whole jitter */
    W.now = T0 + DAY - 8 * HOUR - 1;
    for (int i = 0; i < 40; i++) {
        DUE(ctx, 0, 6 * HOUR, 0, "");
    }
    ck_assert_int_eq(mtasts_ctx_set_refresh_jitter_s(NULL, 1),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_ctx_set_refresh_jitter_s(ctx, 31557601),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_ctx_set_random_seed(NULL, 1), MTASTS_ERR_INVALID);
    mtasts_ctx_free(ctx);
}
END_TEST

static mtasts_result *
refresh(mtasts_ctx *ctx, const char *domain, int want)
{
    mtasts_result *r = NULL;
    int rc = mtasts_refresh(ctx, domain, &r);
    ck_assert_msg(rc == want, "refresh %s: %s, want %s", domain,
                  mtasts_status_name(rc), mtasts_status_name(want));
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(mtasts_result_status(r), rc);
    return r;
}

/* One cached entry's fetch time, expiry, last use (by snapshot). */
static void
entry_times(mtasts_ctx *ctx, const char *domain, int64_t *fetched,
            int64_t *expires, int64_t *used)
{
    mtasts_cache_snapshot *s = snap(ctx);
    long i = find(s, domain);
    ck_assert_int_ge(i, 0);
    *fetched = mtasts_cache_snapshot_fetched_at(s, (size_t)i);
    *expires = mtasts_cache_snapshot_expires(s, (size_t)i);
    *used = mtasts_cache_snapshot_last_used(s, (size_t)i);
    mtasts_cache_snapshot_free(s);
}

/* A refresh queries TXT at once; the same id far from expiry fetches
 * nothing (R8461-3-a) and extends nothing (R8461-3.2-t); a refresh is no
 * use; the TXT check it made counts (not due for a re-check). */
START_TEST(test_cache_refresh_same_id)
{
    mtasts_ctx *ctx = new_ctx(10);
    ck_assert_int_eq(mtasts_ctx_set_refresh_jitter_s(ctx, 0), MTASTS_OK);
    W.body = POL_WEEK;
    LOOKUP(ctx, "a.example", MTASTS_OK);
    W.now = T0 + 60; /* within the TXT check interval */
    mtasts_result *r = refresh(ctx, "a.example", MTASTS_OK);
    ck_assert(mtasts_result_from_cache(r));
    mtasts_result_free(r);
    ck_assert_int_eq(W.ndns, 2);
    ck_assert_int_eq(W.nhttps, 1);
    int64_t fetched, expires, used;
    entry_times(ctx, "a.example", &fetched, &expires, &used);
    ck_assert_int_eq(fetched, T0);
    ck_assert_int_eq(expires, T0 + 7 * DAY);
    ck_assert_int_eq(used, T0);
    W.now = T0 + DAY;
    DUE(ctx, 0, 0, DAY - 60, "a.example");
    DUE(ctx, 0, 0, DAY - 59, "");
    mtasts_ctx_free(ctx);
}
END_TEST

/* A new id is fetched at once: the re-check before giving up on a
 * message held back by enforce (R8461-5-d, R8461-3-b): the new policy
 * lists the MX that failed before. */
START_TEST(test_cache_refresh_new_id)
{
    mtasts_ctx *ctx = new_ctx(10);
    W.body = POL_WEEK;
    LOOKUP(ctx, "a.example", MTASTS_OK);
    W.now = T0 + 60;
    W.txt = "v=STSv1; id=bbb2";
    W.body = "version: STSv1\nmode: enforce\nmx: mx2.example.com\n"
             "max_age: 604800\n";
    mtasts_result *r = refresh(ctx, "a.example", MTASTS_OK);
    ck_assert(!mtasts_result_from_cache(r));
    ck_assert_str_eq(mtasts_result_txt_id(r), "bbb2");
    ck_assert(mtasts_policy_match_mx(mtasts_result_policy(r),
                                     "mx2.example.com"));
    ck_assert_int_eq(mtasts_result_expires(r), T0 + 60 + 7 * DAY);
    mtasts_result_free(r);
    ck_assert_int_eq(W.nhttps, 2);
    mtasts_ctx_free(ctx);
}
END_TEST

/* Close to expiry a refresh fetches even with the same id, and the
 * lifetime restarts (R8461-3.3-o, R8461-3.2-t); with the TXT query
 * failing it fetches all the same (R8461-10.2-a); if the fetch fails too,
 * the cached policy stays, unshortened (R8461-3.3-m); with a window of 0
 * only a new id fetches. */
START_TEST(test_cache_refresh_near_expiry)
{
    mtasts_ctx *ctx = new_ctx(10);
    LOOKUP(ctx, "a.example", MTASTS_OK); /* max_age one day */
    W.now = T0 + 2 * HOUR;                 /* 22 h left: within a day */
    mtasts_result *r = refresh(ctx, "a.example", MTASTS_OK);
    ck_assert(!mtasts_result_from_cache(r));
    ck_assert_int_eq(mtasts_result_expires(r), T0 + 2 * HOUR + DAY);
    mtasts_result_free(r);
    ck_assert_int_eq(W.nhttps, 2);

    W.now = T0 + 4 * HOUR;
    W.txt = NULL; /* SERVFAIL */
    r = refresh(ctx, "a.example", MTASTS_OK);
    ck_assert(!mtasts_result_from_cache(r));
    ck_assert_int_eq(mtasts_result_expires(r), T0 + 4 * HOUR + DAY);
    mtasts_result_free(r);
    ck_assert_int_eq(W.nhttps, 3);

    W.now = T0 + 6 * HOUR;
    W.body = NULL; /* and the fetch fails */
    r = refresh(ctx, "a.example", MTASTS_OK);
    ck_assert(mtasts_result_from_cache(r));
    ck_assert_int_eq(mtasts_result_failure(r),
                     MTASTS_RPT_STS_POLICY_FETCH_ERROR);
    ck_assert_int_eq(mtasts_result_expires(r), T0 + 4 * HOUR + DAY);
    mtasts_result_free(r);
    ck_assert_int_eq(W.nhttps, 4);

    ck_assert_int_eq(mtasts_ctx_set_refresh_fetch_window_s(ctx, 0), MTASTS_OK);
    W.txt = "v=STSv1; id=aaa1";
    W.body = POL_ENFORCE;
    W.now = T0 + 10 * HOUR; /* after the back-off */
    r = refresh(ctx, "a.example", MTASTS_OK);
    ck_assert(mtasts_result_from_cache(r));
    mtasts_result_free(r);
    ck_assert_int_eq(W.nhttps, 4);
    ck_assert_int_eq(mtasts_ctx_set_refresh_fetch_window_s(NULL, 0),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_ctx_set_refresh_fetch_window_s(ctx, 31557601),
                     MTASTS_ERR_INVALID);
    mtasts_ctx_free(ctx);
}
END_TEST

/* A refresh needs a cached domain; the argument errors; the async form
 * joins a lookup in flight (one DNS query for both). */
START_TEST(test_cache_refresh_errors)
{
    mtasts_ctx *ctx = new_ctx(10);
    mtasts_result *r = (mtasts_result *)&W;
    ck_assert_int_eq(mtasts_refresh(ctx, "a.example", &r),
                     MTASTS_ERR_NOT_FOUND);
    ck_assert_ptr_null(r);
    ck_assert_int_eq(mtasts_refresh(ctx, "[192.0.2.1]", &r),
                     MTASTS_ERR_BAD_DOMAIN);
    ck_assert_int_eq(mtasts_refresh(NULL, "a.example", &r),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_refresh(ctx, "a.example", NULL),
                     MTASTS_ERR_INVALID);
    int status = 1;
    ck_assert_int_eq(mtasts_refresh_async(ctx, "a.example", record_cb,
                                          &status),
                     MTASTS_ERR_NOT_FOUND);
    ck_assert_int_eq(mtasts_refresh_async(ctx, "a.example", NULL, NULL),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_refresh_async(NULL, "a.example", record_cb, NULL),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_refresh_async(ctx, NULL, record_cb, NULL),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(status, 1);

    ck_assert_int_eq(mtasts_ctx_set_txt_check_interval_s(ctx, 0), MTASTS_OK);
    LOOKUP(ctx, "a.example", MTASTS_OK);
    W.hold_dns = true;
    int looked = 1;
    ck_assert_int_eq(mtasts_lookup_async(ctx, "a.example", record_cb, &looked),
                     MTASTS_OK);
    ck_assert_int_eq(mtasts_refresh_async(ctx, "a.example", record_cb,
                                          &status),
                     MTASTS_OK);
    ck_assert_int_eq(W.ndns, 2);
    answer_dns(W.held);
    ck_assert_int_eq(looked, MTASTS_OK);
    ck_assert_int_eq(status, MTASTS_OK);
    mtasts_ctx_free(ctx);
}
END_TEST

/* What the alert hook saw. */
static struct {
    int calls;
    char domain[MTASTS_DOMAIN_BUFSIZE];
    int status;
    mtasts_mode mode;
    int64_t expires;
    char message[256];
    size_t cached; /* entries seen from inside the hook */
    mtasts_ctx *ctx;
} A;

static void
alert_hook(const char *domain, int status, mtasts_mode mode, int64_t expires,
           const char *message, void *user)
{
    ck_assert_ptr_eq(user, &A);
    A.calls++;
    snprintf(A.domain, sizeof(A.domain), "%s", domain);
    A.status = status;
    A.mode = mode;
    A.expires = expires;
    snprintf(A.message, sizeof(A.message), "%s", message);
    /* no library lock is held: taking the shard locks does not deadlock */
    A.cached = cached_count(A.ctx);
}

static mtasts_ctx *
alert_ctx(void)
{
    memset(&A, 0, sizeof(A));
    mtasts_ctx *ctx = new_ctx(10);
    A.ctx = ctx;
    ck_assert_int_eq(mtasts_ctx_set_alert_hook(ctx, alert_hook, &A),
                     MTASTS_OK);
    return ctx;
}

/* R8461-3.3-p: a failed refresh of an enforce (or testing) policy alerts,
 * at each failure, early (far from expiry) and again until it expires,
 * with the status of what failed, the mode and the expiry; a successful
 * refresh and a failing lookup do not; the hook runs with no lock held. */
START_TEST(test_cache_refresh_alert_enforce)
{
    mtasts_ctx *ctx = alert_ctx();
    W.body = POL_WEEK;
    LOOKUP(ctx, "a.example", MTASTS_OK);
    W.now = T0 + HOUR;
    mtasts_result_free(refresh(ctx, "a.example", MTASTS_OK));
    ck_assert_int_eq(A.calls, 0); /* success: no alert */

    W.now = T0 + DAY; /* six days left: an early failure */
    W.txt = NULL;     /* SERVFAIL */
    mtasts_result *r = refresh(ctx, "A.Example.", MTASTS_OK);
    ck_assert(mtasts_result_from_cache(r)); /* the policy still applies */
    mtasts_result_free(r);
    ck_assert_int_eq(A.calls, 1);
    ck_assert_str_eq(A.domain, "a.example");
    ck_assert_int_eq(A.status, MTASTS_ERR_DNS_TEMPFAIL);
    ck_assert_int_eq(A.mode, MTASTS_MODE_ENFORCE);
    ck_assert_int_eq(A.expires, T0 + 7 * DAY);
    ck_assert_ptr_nonnull(strstr(A.message, "_mta-sts.a.example"));
    ck_assert_uint_eq(A.cached, 1);

    /* a lookup that fails its TXT re-check is no refresh: no alert */
    W.now = T0 + 2 * DAY;
    LOOKUP(ctx, "a.example", MTASTS_OK);
    ck_assert_int_eq(A.calls, 1);

    /* repeatedly: the next failure alerts again; in the fetch window the
     * failing fetch is what is reported */
    W.now = T0 + 6 * DAY + HOUR;
    W.body = NULL;
    r = refresh(ctx, "a.example", MTASTS_OK);
    mtasts_result_free(r);
    ck_assert_int_eq(A.calls, 2);
    ck_assert_int_eq(A.status, MTASTS_ERR_FETCH);
    ck_assert_int_eq(A.expires, T0 + 7 * DAY);

    /* expired and still failing: the alert goes on, expiry in the past */
    W.now = T0 + 8 * DAY;
    r = refresh(ctx, "a.example", MTASTS_ERR_DNS_TEMPFAIL);
    mtasts_result_free(r);
    ck_assert_int_eq(A.calls, 3);
    ck_assert_int_le(A.expires, W.now);

    /* a testing policy alerts too */
    W.txt = "v=STSv1; id=ccc3";
    W.body = POL_TESTING;
    LOOKUP(ctx, "b.example", MTASTS_OK);
    W.txt = "v=STSv1; id=ddd4"; /* a new id whose fetch fails */
    W.body = NULL;
    mtasts_result_free(refresh(ctx, "b.example", MTASTS_OK));
    ck_assert_int_eq(A.calls, 4);
    ck_assert_str_eq(A.domain, "b.example");
    ck_assert_int_eq(A.mode, MTASTS_MODE_TESTING);
    ck_assert_int_eq(A.status, MTASTS_ERR_FETCH);

    /* a refresh that joins a lookup in flight alerts when it fails; the
     * lookup alone would not */
    ck_assert_int_eq(mtasts_ctx_set_txt_check_interval_s(ctx, 0), MTASTS_OK);
    W.hold_dns = true;
    W.txt = NULL; /* SERVFAIL, far from expiry: no fetch */
    int looked = 1, refreshed = 1;
    ck_assert_int_eq(mtasts_lookup_async(ctx, "b.example", record_cb, &looked),
                     MTASTS_OK);
    answer_dns(W.held);
    ck_assert_int_eq(looked, MTASTS_OK); /* the cached policy */
    ck_assert_int_eq(A.calls, 4);
    ck_assert_int_eq(mtasts_lookup_async(ctx, "b.example", record_cb, &looked),
                     MTASTS_OK);
    ck_assert_int_eq(mtasts_refresh_async(ctx, "b.example", record_cb,
                                          &refreshed),
                     MTASTS_OK);
    answer_dns(W.held);
    ck_assert_int_eq(refreshed, MTASTS_OK);
    ck_assert_int_eq(A.calls, 5);
    ck_assert_int_eq(A.status, MTASTS_ERR_DNS_TEMPFAIL);
    W.hold_dns = false;

    /* removed: no more alerts */
    ck_assert_int_eq(mtasts_ctx_set_alert_hook(ctx, NULL, NULL), MTASTS_OK);
    mtasts_result_free(refresh(ctx, "b.example", MTASTS_OK));
    ck_assert_int_eq(A.calls, 5);
    ck_assert_int_eq(mtasts_ctx_set_alert_hook(NULL, alert_hook, &A),
                     MTASTS_ERR_INVALID);
    mtasts_ctx_free(ctx);
}
END_TEST

/* R8461-3.3-p: never an alert for a cached policy in mode none, whatever
 * fails, before or after its expiry; nor for a domain without a policy. */
START_TEST(test_cache_refresh_alert_none)
{
    mtasts_ctx *ctx = alert_ctx();
    W.body = "version: STSv1\nmode: none\nmax_age: 604800\n";
    LOOKUP(ctx, "a.example", MTASTS_OK);
    W.now = T0 + DAY;
    W.txt = NULL;
    mtasts_result_free(refresh(ctx, "a.example", MTASTS_OK));
    W.now = T0 + 6 * DAY + HOUR; /* fetch window: the fetch fails too */
    W.body = NULL;
    mtasts_result_free(refresh(ctx, "a.example", MTASTS_OK));
    ck_assert_int_eq(W.nhttps, 2);
    W.now = T0 + 8 * DAY;
    mtasts_result_free(refresh(ctx, "a.example", MTASTS_ERR_DNS_TEMPFAIL));
    ck_assert_int_eq(A.calls, 0);

    /* an entry with no policy at all (no TXT record): nothing to alert on */
    W.txt = "v=STSv1; id=";
    LOOKUP(ctx, "c.example", MTASTS_ERR_NO_POLICY);
    W.now += DAY;
    W.txt = NULL;
    mtasts_result_free(refresh(ctx, "c.example", MTASTS_ERR_DNS_TEMPFAIL));
    ck_assert_int_eq(A.calls, 0);
    mtasts_ctx_free(ctx);
}
END_TEST

/* ---- case "store" -------------------------------------------------------- */

#define STORE_SLOTS 8

/* A store in memory, shared by the contexts of a test (a "fleet"). */
static struct {
    char key[STORE_SLOTS][MTASTS_DOMAIN_BUFSIZE];
    unsigned char *val[STORE_SLOTS];
    size_t len[STORE_SLOTS];
    int64_t ttl[STORE_SLOTS];
    int get_rc, put_rc, del_rc; /* not MTASTS_OK: the hook fails */
    bool too_long;              /* get claims more than cap */
    int ngets, nputs, ndels;
} M;

static int
slot_of(const char *key)
{
    for (int i = 0; i < STORE_SLOTS; i++) {
        if (M.val[i] != NULL && strcmp(M.key[i], key) == 0) {
            return i;
        }
    }
    return -1;
}

static int
mem_get(const char *domain, unsigned char *buf, size_t cap, size_t *len,
        void *user)
{
    ck_assert_ptr_eq(user, &M);
    ck_assert_uint_eq(cap, MTASTS_STORE_VALUE_MAX);
    M.ngets++;
    if (M.get_rc != MTASTS_OK) {
        return M.get_rc;
    }
    int i = slot_of(domain);
    if (i < 0) {
        return MTASTS_ERR_NOT_FOUND;
    }
    memcpy(buf, M.val[i], M.len[i]);
    *len = M.too_long ? cap + 1 : M.len[i];
    return MTASTS_OK;
}

static void
mem_set(const char *domain, const unsigned char *value, size_t len)
{
    int i = slot_of(domain);
    for (int k = 0; i < 0 && k < STORE_SLOTS; k++) {
        if (M.val[k] == NULL) {
            i = k;
        }
    }
    ck_assert_int_ge(i, 0);
    free(M.val[i]);
    M.val[i] = malloc(len);
    ck_assert_ptr_nonnull(M.val[i]);
    memcpy(M.val[i], value, len);
    M.len[i] = len;
    snprintf(M.key[i], sizeof(M.key[i]), "%s", domain);
}

static int
mem_put(const char *domain, const unsigned char *value, size_t len,
        int64_t ttl_s, void *user)
{
    ck_assert_ptr_eq(user, &M);
    M.nputs++;
    if (M.put_rc != MTASTS_OK) {
        return M.put_rc;
    }
    mem_set(domain, value, len);
    M.ttl[slot_of(domain)] = ttl_s;
    return MTASTS_OK;
}

static int
mem_del(const char *domain, void *user)
{
    ck_assert_ptr_eq(user, &M);
    M.ndels++;
    if (M.del_rc != MTASTS_OK) {
        return M.del_rc;
    }
    int i = slot_of(domain);
    if (i >= 0) {
        free(M.val[i]);
        M.val[i] = NULL;
    }
    return MTASTS_OK;
}

static void
store_setup(void)
{
    setup();
    memset(&M, 0, sizeof(M));
}

static void
store_teardown(void)
{
    for (int i = 0; i < STORE_SLOTS; i++) {
        free(M.val[i]);
    }
    teardown();
}

static mtasts_ctx *
fleet_ctx(void)
{
    mtasts_ctx *ctx = new_ctx(10);
    ck_assert_int_eq(mtasts_ctx_set_store_hooks(ctx, mem_get, mem_put,
                                                mem_del, &M),
                     MTASTS_OK);
    return ctx;
}

static mtasts_result *
lookup_result(mtasts_ctx *ctx, const char *domain)
{
    mtasts_result *r = NULL;
    ck_assert_int_eq(mtasts_lookup_result(ctx, domain, &r), MTASTS_OK);
    return r;
}

/* A fetch is written to the store (a record of the file format, TTL the
 * policy's remaining life); another MTA of the fleet then takes it from
 * the store: one DNS query, no fetch (R8461-3-a), the same policy. */
START_TEST(test_cache_store_shared)
{
    mtasts_ctx *one = fleet_ctx();
    mtasts_result *r = lookup_result(one, "a.example");
    ck_assert_int_eq(mtasts_result_store_status(r), MTASTS_OK);
    mtasts_result_free(r);
    ck_assert_int_eq(M.ngets, 1);
    ck_assert_int_eq(M.nputs, 1);
    int i = slot_of("a.example");
    ck_assert_int_ge(i, 0);
    ck_assert_int_eq(M.ttl[i], DAY);
    struct mtasts__record rec;
    size_t used = 0;
    ck_assert_int_eq(mtasts__record_decode(M.val[i], M.len[i], 0, &used, &rec,
                                           NULL),
                     MTASTS_OK);
    ck_assert_uint_eq(used, M.len[i]);
    ck_assert_str_eq(rec.id, "aaa1");
    ck_assert_int_eq(rec.fetched_at, T0);
    mtasts_policy_unref(rec.policy);

    W.now = T0 + 100;
    mtasts_ctx *two = fleet_ctx();
    int nhttps = W.nhttps, ndns = W.ndns;
    r = lookup_result(two, "a.example");
    ck_assert(mtasts_result_from_cache(r));
    ck_assert_int_eq(mtasts_result_expires(r), T0 + DAY);
    ck_assert_int_eq(mtasts_result_store_status(r), MTASTS_OK);
    mtasts_result_free(r);
    ck_assert_int_eq(W.nhttps, nhttps);
    ck_assert_int_eq(W.ndns, ndns + 1);
    /* now in memory: the store is not asked again */
    LOOKUP(two, "a.example", MTASTS_OK);
    ck_assert_int_eq(M.ngets, 2);
    /* a new id fetched by the second MTA updates the store */
    W.txt = "v=STSv1; id=bbb2";
    ck_assert_int_eq(mtasts_ctx_set_txt_check_interval_s(two, 0), MTASTS_OK);
    LOOKUP(two, "a.example", MTASTS_OK);
    ck_assert_int_eq(M.nputs, 2);
    ck_assert_int_eq(mtasts__record_decode(M.val[i], M.len[i], 0, &used, &rec,
                                           NULL),
                     MTASTS_OK);
    ck_assert_str_eq(rec.id, "bbb2");
    mtasts_policy_unref(rec.policy);
    mtasts_ctx_free(one);
    mtasts_ctx_free(two);
}
END_TEST

/* Store failures never fail a lookup: get, put and too long a value are
 * MTASTS_ERR_STORE in the result, and the network answers. */
START_TEST(test_cache_store_failures)
{
    mtasts_ctx *ctx = fleet_ctx();
    M.get_rc = MTASTS_ERR_IO;
    mtasts_result *r = lookup_result(ctx, "a.example");
    ck_assert_int_eq(mtasts_result_store_status(r), MTASTS_ERR_STORE);
    ck_assert(!mtasts_result_from_cache(r));
    mtasts_result_free(r);
    ck_assert_int_eq(M.nputs, 1);

    M.get_rc = MTASTS_OK;
    M.put_rc = -1000;
    r = lookup_result(ctx, "b.example");
    ck_assert_int_eq(mtasts_result_status(r), MTASTS_OK);
    ck_assert_int_eq(mtasts_result_store_status(r), MTASTS_ERR_STORE);
    mtasts_result_free(r);

    M.put_rc = MTASTS_OK;
    M.too_long = true;
    ck_assert_int_ge(slot_of("a.example"), 0);
    mtasts_ctx *other = fleet_ctx();
    r = lookup_result(other, "a.example");
    ck_assert_int_eq(mtasts_result_store_status(r), MTASTS_ERR_STORE);
    mtasts_result_free(r);
    mtasts_ctx_free(other);

    /* out of memory while talking to the store: reported, looked up */
    M.too_long = false;
    other = fleet_ctx();
    failalloc_start(0);
    bool seen = false;
    for (size_t n = 1; n < 60 && !seen; n++) {
        ck_assert_int_eq(mtasts_cache_clear(other, NULL), MTASTS_OK);
        failalloc_start(n);
        mtasts_result *x = NULL;
        int rc = mtasts_lookup_result(other, "a.example", &x);
        failalloc_stop();
        if (x != NULL &&
            mtasts_result_store_status(x) == MTASTS_ERR_NOMEM) {
            ck_assert_int_eq(rc, MTASTS_OK);
            seen = true;
        }
        mtasts_result_free(x);
    }
    ck_assert(seen);
    mtasts_ctx_free(other);
    ck_assert_int_eq(mtasts_result_store_status(NULL), MTASTS_ERR_INVALID);
    mtasts_ctx_free(ctx);
}
END_TEST

/* A value that is not a valid record of the domain asked, or has expired,
 * is never applied: corrupt ones are reported, expired ones ignored. */
START_TEST(test_cache_store_hostile)
{
    static unsigned char img[4096];
    struct rec_spec good = GOOD("a.example");
    struct rec_spec other = GOOD("b.example");
    struct rec_spec old = {"a.example", "id1", POL_ENFORCE, T0 - 2 * DAY,
                           T0 - DAY, T0 - DAY};
    struct {
        const struct rec_spec *rec;
        int flip; /* byte to flip, or -1 */
        int trailing;
        int want;
    } cases[] = {
        {&good, 40, 0, MTASTS_ERR_CACHE_CORRUPT},  /* checksum */
        {&good, 3, 0, MTASTS_ERR_CACHE_CORRUPT},   /* record version */
        {&good, -1, 1, MTASTS_ERR_CACHE_CORRUPT},  /* trailing byte */
        {&other, -1, 0, MTASTS_ERR_CACHE_CORRUPT}, /* another domain's */
        {&old, -1, 0, MTASTS_OK},                  /* expired: ignored */
    };
    for (size_t c = 0; c < ARRAY_LEN(cases); c++) {
        size_t len = spec_record(cases[c].rec, img);
        if (cases[c].flip >= 0) {
            img[cases[c].flip] ^= 0x04;
        }
        len += (size_t)cases[c].trailing;
        mem_set("a.example", img, len);
        mtasts_ctx *ctx = fleet_ctx();
        W.txt = "v=STSv1; id=zzz9";
        int nhttps = W.nhttps;
        mtasts_result *r = lookup_result(ctx, "a.example");
        ck_assert_msg(mtasts_result_store_status(r) == cases[c].want,
                      "case %zu: %s", c,
                      mtasts_status_name(mtasts_result_store_status(r)));
        ck_assert(!mtasts_result_from_cache(r));
        ck_assert_str_eq(mtasts_result_txt_id(r), "zzz9");
        mtasts_result_free(r);
        ck_assert_int_eq(W.nhttps, nhttps + 1);
        mtasts_ctx_free(ctx);
    }
}
END_TEST

/* Removing a domain deletes it from the store too (cached here or not);
 * a failed delete is MTASTS_ERR_STORE, the local entry gone all the same.
 * The hooks are all or none. */
START_TEST(test_cache_store_remove)
{
    mtasts_ctx *ctx = fleet_ctx();
    LOOKUP(ctx, "a.example", MTASTS_OK);
    ck_assert_int_eq(mtasts_cache_remove(ctx, "a.example"), MTASTS_OK);
    ck_assert_int_eq(M.ndels, 1);
    ck_assert_int_lt(slot_of("a.example"), 0);
    ck_assert_int_eq(mtasts_cache_remove(ctx, "never.example"), MTASTS_OK);
    ck_assert_int_eq(M.ndels, 2);
    LOOKUP(ctx, "b.example", MTASTS_OK);
    M.del_rc = MTASTS_ERR_IO;
    ck_assert_int_eq(mtasts_cache_remove(ctx, "b.example"), MTASTS_ERR_STORE);
    ck_assert_uint_eq(cached_count(ctx), 0);

    ck_assert_int_eq(mtasts_ctx_set_store_hooks(ctx, mem_get, NULL, mem_del,
                                                &M),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_ctx_set_store_hooks(NULL, NULL, NULL, NULL, NULL),
                     MTASTS_ERR_INVALID);
    ck_assert_int_eq(mtasts_ctx_set_store_hooks(ctx, NULL, NULL, NULL, NULL),
                     MTASTS_OK);
    int ngets = M.ngets;
    LOOKUP(ctx, "c.example", MTASTS_OK);
    ck_assert_int_eq(M.ngets, ngets);
    ck_assert_int_eq(mtasts_cache_remove(ctx, "nope.example"),
                     MTASTS_ERR_NOT_FOUND);
    mtasts_ctx_free(ctx);
}
END_TEST

/* ---- case "id" ----------------------------------------------------------- */

/* The entry keeps the TXT id packed in 24 bytes (lib/cache/cache.h). */
static const char id_alphabet[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static void
check_round_trip(const char *id)
{
    uint8_t packed[MTASTS__ID_PACKED];
    char back[MTASTS_ID_BUFSIZE];
    memset(back, 'x', sizeof(back));
    ck_assert_msg(mtasts__id_pack(packed, id), "%s not packed", id);
    mtasts__id_unpack(packed, back);
    ck_assert_str_eq(back, id);
}

/* R8461-3.1-g: sts-id = 1*32(ALPHA / DIGIT). Every character of the
 * alphabet at every position of ids of every length 1 to 32 comes back
 * unchanged; the empty id is all zero bytes (an entry without policy). */
START_TEST(test_cache_id_pack_round_trip)
{
    ck_assert_uint_eq(strlen(id_alphabet), 62);
    char id[MTASTS_ID_BUFSIZE];
    for (size_t len = 1; len <= 32; len++) {
        for (size_t pos = 0; pos < len; pos++) {
            for (size_t c = 0; c < 62; c++) {
                for (size_t k = 0; k < len; k++) {
                    /* the others vary too, by position and length */
                    id[k] = id_alphabet[(k * 7 + len * 3 + c) % 62];
                }
                id[pos] = id_alphabet[c];
                id[len] = '\0';
                check_round_trip(id);
            }
        }
    }
    uint8_t packed[MTASTS__ID_PACKED];
    uint8_t zero[MTASTS__ID_PACKED] = {0};
    memset(packed, 0xff, sizeof(packed));
    ck_assert(mtasts__id_pack(packed, ""));
    ck_assert_mem_eq(packed, zero, sizeof(zero));
    char back[MTASTS_ID_BUFSIZE] = "junk";
    mtasts__id_unpack(zero, back);
    ck_assert_str_eq(back, "");
    /* 32 characters fill all 24 bytes: no end marker needed */
    check_round_trip("zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz");
    check_round_trip("00000000000000000000000000000000");
}
END_TEST

/* Packing is exact both ways: two ids pack to the same bytes if and only
 * if they are the same id (the engine compares ids it unpacks). */
START_TEST(test_cache_id_pack_canonical)
{
    static const char *const ids[] = {
        "0", "00", "000", "1", "10", "01", "a", "A", "aa", "aA", "Aa",
        "z", "Z", "9", "0000", "00000", "abcd", "abcde", "abcdE",
        "20190429T010101", "20190429T010102", "20190429t010101",
        "0123456789012345678901234567890", "01234567890123456789012345678901",
        "11234567890123456789012345678901", "01234567890123456789012345678902",
    };
    size_t n = sizeof(ids) / sizeof(ids[0]);
    for (size_t i = 0; i < n; i++) {
        uint8_t a[MTASTS__ID_PACKED];
        ck_assert(mtasts__id_pack(a, ids[i]));
        for (size_t j = 0; j < n; j++) {
            uint8_t b[MTASTS__ID_PACKED];
            ck_assert(mtasts__id_pack(b, ids[j]));
            bool same = memcmp(a, b, sizeof(a)) == 0;
            ck_assert_msg(same == (i == j), "%s and %s", ids[i], ids[j]);
        }
    }
}
END_TEST

/* Anything that is not an sts-id is refused, never truncated: too long,
 * a byte outside ALPHA / DIGIT (the neighbours of each range, space,
 * "-", "=", ";", DEL, non-ASCII), wherever it is. */
START_TEST(test_cache_id_pack_refuses)
{
    uint8_t packed[MTASTS__ID_PACKED];
    uint8_t zero[MTASTS__ID_PACKED] = {0};
    char id[64];
    memset(id, 'a', 33);
    id[33] = '\0';
    memset(packed, 0xff, sizeof(packed));
    ck_assert(!mtasts__id_pack(packed, id));
    ck_assert_mem_eq(packed, zero, sizeof(zero));
    id[32] = '\0';
    ck_assert(mtasts__id_pack(packed, id));
    static const char bad[] = "/:@[`{ -=;.\x7f\x80\xc3\xff";
    for (size_t b = 0; b < sizeof(bad) - 1; b++) {
        for (size_t pos = 0; pos < 32; pos += 5) {
            memset(id, 'b', 32);
            id[32] = '\0';
            id[pos] = bad[b];
            memset(packed, 0xff, sizeof(packed));
            ck_assert_msg(!mtasts__id_pack(packed, id), "byte %02x at %zu",
                          (unsigned)(unsigned char)bad[b], pos);
            ck_assert_mem_eq(packed, zero, sizeof(zero));
        }
    }
}
END_TEST

/* ---- suite --------------------------------------------------------------- */

static Suite *
cache_suite(void)
{
    Suite *s = suite_create("cache");
    TCase *tc = harness_case("inspect", setup, teardown);
    tcase_add_test(tc, test_cache_snapshot_fields);
    tcase_add_test(tc, test_cache_snapshot_bounds);
    tcase_add_test(tc, test_cache_snapshot_what);
    tcase_add_test(tc, test_cache_snapshot_nomem);
    suite_add_tcase(s, tc);

    tc = harness_case("remove", setup, teardown);
    tcase_add_test(tc, test_cache_remove_one);
    tcase_add_test(tc, test_cache_remove_in_flight);
    tcase_add_test(tc, test_cache_remove_keeps_order);
    tcase_add_test(tc, test_cache_clear_errors);
    tcase_add_test(tc, test_cache_remove_dead);
    suite_add_tcase(s, tc);

    tc = harness_case("id", setup, teardown);
    tcase_add_test(tc, test_cache_id_pack_round_trip);
    tcase_add_test(tc, test_cache_id_pack_canonical);
    tcase_add_test(tc, test_cache_id_pack_refuses);
    suite_add_tcase(s, tc);

    tc = harness_case("idle", setup, teardown);
    tcase_add_test(tc, test_cache_idle_default);
    tcase_add_test(tc, test_cache_idle_use);
    tcase_add_test(tc, test_cache_idle_sweep);
    tcase_add_test(tc, test_cache_shards);
    tcase_add_test(tc, test_cache_chain_move_to_front);
    suite_add_tcase(s, tc);

    tc = harness_case("refresh", setup, teardown);
    tcase_add_test(tc, test_cache_due_selection);
    tcase_add_test(tc, test_cache_due_jitter);
    tcase_add_test(tc, test_cache_refresh_same_id);
    tcase_add_test(tc, test_cache_refresh_new_id);
    tcase_add_test(tc, test_cache_refresh_near_expiry);
    tcase_add_test(tc, test_cache_refresh_errors);
    tcase_add_test(tc, test_cache_refresh_alert_enforce);
    tcase_add_test(tc, test_cache_refresh_alert_none);
    suite_add_tcase(s, tc);

    tc = harness_case("store", store_setup, store_teardown);
    tcase_add_test(tc, test_cache_store_shared);
    tcase_add_test(tc, test_cache_store_failures);
    tcase_add_test(tc, test_cache_store_hostile);
    tcase_add_test(tc, test_cache_store_remove);
    suite_add_tcase(s, tc);

    tc = harness_case("file", file_setup, file_teardown);
    tcase_add_test(tc, test_cache_file_round_trip);
    tcase_add_test(tc, test_cache_file_merge);
    tcase_add_test(tc, test_cache_file_load_large);
    tcase_add_test(tc, test_cache_file_errors);
    tcase_add_test(tc, test_cache_crc32);
    tcase_add_loop_test(tc, test_cache_file_corrupt_table, 0,
                        (int)ARRAY_LEN(corrupt_cases));
    tcase_add_test(tc, test_cache_file_truncated);
    tcase_add_test(tc, test_cache_file_pieces);
    tcase_add_test(tc, test_cache_file_nomem);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return harness_run(cache_suite());
}
