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

#include "mtasts/mtasts.h"

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
 * not the fetch time; most recently used first. */
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
    ck_assert_str_eq(mtasts_cache_snapshot_domain(s, 0), "a.example");
    ck_assert_str_eq(mtasts_cache_snapshot_txt_id(s, 0), "aaa1");
    ck_assert_int_eq(mtasts_cache_snapshot_mode(s, 0), MTASTS_MODE_ENFORCE);
    ck_assert_int_eq(mtasts_cache_snapshot_fetched_at(s, 0), T0);
    ck_assert_int_eq(mtasts_cache_snapshot_expires(s, 0), T0 + DAY);
    ck_assert_int_eq(mtasts_cache_snapshot_last_used(s, 0), T0 + 20);
    ck_assert_str_eq(mtasts_cache_snapshot_domain(s, 1), "b.example");
    ck_assert_str_eq(mtasts_cache_snapshot_txt_id(s, 1), "bbb2");
    ck_assert_int_eq(mtasts_cache_snapshot_mode(s, 1), MTASTS_MODE_TESTING);
    ck_assert_int_eq(mtasts_cache_snapshot_fetched_at(s, 1), T0 + 10);
    ck_assert_int_eq(mtasts_cache_snapshot_last_used(s, 1), T0 + 10);
    mtasts_policy *p = mtasts_policy_ref(mtasts_cache_snapshot_policy(s, 1));
    ck_assert_uint_eq(mtasts_policy_max_age(p), DAY);

    /* the snapshot is a copy: clearing the cache leaves it intact */
    size_t removed = 99;
    ck_assert_int_eq(mtasts_cache_clear(ctx, &removed), MTASTS_OK);
    ck_assert_uint_eq(removed, 2);
    ck_assert_str_eq(mtasts_cache_snapshot_domain(s, 1), "b.example");
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
    tcase_add_test(tc, test_cache_clear_errors);
    suite_add_tcase(s, tc);

    tc = harness_case("idle", setup, teardown);
    tcase_add_test(tc, test_cache_idle_default);
    tcase_add_test(tc, test_cache_idle_use);
    tcase_add_test(tc, test_cache_idle_sweep);
    tcase_add_test(tc, test_cache_shards);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return harness_run(cache_suite());
}
