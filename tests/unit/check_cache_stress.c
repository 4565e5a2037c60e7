/* Stress test of the policy cache: 8 threads on one context for a bounded
 * time (MTASTS_STRESS_SECONDS, default 2), doing blocking and async
 * lookups of 20000 domains through a cache of 5000 (so inserts and
 * evictions all the time, over 4 shards), removals, clears, idle removal,
 * snapshots, due lists, refreshes, saves and loads, with a second-level
 * store (in memory, every 16th call failing) behind the cache. Every lookup must give
 * the one policy the hooks serve; nothing may crash, leak or race. CI runs
 * it under ThreadSanitizer (.ci/run); docs/cache.md, "Shards".
 *
 * The hooks answer inline from constant data, so the only shared state is
 * the library's; the default clock (real time) is used, with a TXT check
 * interval of 1 s so that lookups of cached domains also go to DNS.
 */
#include "harness.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mtasts/mtasts.h"

#define THREADS 8
#define DOMAINS 20000
#define CAPACITY 5000
#define POLICY                                                                 \
    "version: STSv1\nmode: enforce\nmx: mx.example.net\nmax_age: 86400\n"

static atomic_long ndns, nhttps, bad;
static char dir[64];

/* A small thread-safe store (64 slots by hash, last write wins), so that
 * the store paths run concurrently too; every 16th call fails. */
#define STORE_SLOTS 64
static struct {
    pthread_mutex_t lock;
    char key[STORE_SLOTS][MTASTS_DOMAIN_BUFSIZE];
    unsigned char *val[STORE_SLOTS];
    size_t len[STORE_SLOTS];
    unsigned long calls;
} St = {.lock = PTHREAD_MUTEX_INITIALIZER};

static size_t
store_slot(const char *key)
{
    size_t h = 5381;
    for (const char *p = key; *p != '\0'; p++) {
        h = h * 33 + (unsigned char)*p;
    }
    return h % STORE_SLOTS;
}

static bool
store_flaky(void)
{
    return ++St.calls % 16 == 0;
}

static int
st_get(const char *domain, unsigned char *buf, size_t cap, size_t *len,
       void *user)
{
    (void)user;
    int rc = MTASTS_ERR_NOT_FOUND;
    size_t i = store_slot(domain);
    pthread_mutex_lock(&St.lock);
    if (store_flaky()) {
        rc = MTASTS_ERR_IO;
    } else if (St.val[i] != NULL && strcmp(St.key[i], domain) == 0 &&
               St.len[i] <= cap) {
        memcpy(buf, St.val[i], St.len[i]);
        *len = St.len[i];
        rc = MTASTS_OK;
    }
    pthread_mutex_unlock(&St.lock);
    return rc;
}

static int
st_put(const char *domain, const unsigned char *value, size_t len,
       int64_t ttl_s, void *user)
{
    (void)user;
    (void)ttl_s;
    unsigned char *copy = malloc(len);
    if (copy == NULL) {
        return MTASTS_ERR_NOMEM;
    }
    memcpy(copy, value, len);
    size_t i = store_slot(domain);
    pthread_mutex_lock(&St.lock);
    int rc = store_flaky() ? MTASTS_ERR_IO : MTASTS_OK;
    if (rc == MTASTS_OK) {
        free(St.val[i]);
        St.val[i] = copy;
        St.len[i] = len;
        snprintf(St.key[i], sizeof(St.key[i]), "%s", domain);
        copy = NULL;
    }
    pthread_mutex_unlock(&St.lock);
    free(copy);
    return rc;
}

static int
st_del(const char *domain, void *user)
{
    (void)user;
    size_t i = store_slot(domain);
    pthread_mutex_lock(&St.lock);
    int rc = store_flaky() ? MTASTS_ERR_IO : MTASTS_OK;
    if (rc == MTASTS_OK && St.val[i] != NULL &&
        strcmp(St.key[i], domain) == 0) {
        free(St.val[i]);
        St.val[i] = NULL;
    }
    pthread_mutex_unlock(&St.lock);
    return rc;
}

static int
dns_hook(mtasts_req *req, const char *name, void *user)
{
    (void)name;
    (void)user;
    atomic_fetch_add(&ndns, 1);
    static const char rec[] = "v=STSv1; id=stress1";
    if (mtasts_dns_add_txt(req, rec, sizeof(rec) - 1) != MTASTS_OK) {
        atomic_fetch_add(&bad, 1);
    }
    return mtasts_dns_done(req, MTASTS_DNS_ANSWER, NULL);
}

static int
https_hook(mtasts_req *req, const char *host, uint16_t port, const char *path,
           void *user)
{
    (void)host;
    (void)port;
    (void)path;
    (void)user;
    atomic_fetch_add(&nhttps, 1);
    mtasts_https_response(req, 200, "text/plain");
    mtasts_https_body(req, POLICY, sizeof(POLICY) - 1);
    return mtasts_https_done(req, MTASTS_OK, NULL);
}

static void
expect_ok(const mtasts_result *r, void *user)
{
    (void)user;
    if (mtasts_result_status(r) != MTASTS_OK ||
        mtasts_policy_mode(mtasts_result_policy(r)) != MTASTS_MODE_ENFORCE) {
        atomic_fetch_add(&bad, 1);
    }
}

struct worker {
    mtasts_ctx *ctx;
    unsigned seed;
    int id;
    double seconds;
    long ops;
};

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
file_of(int id, char *out, size_t size)
{
    snprintf(out, size, "%s/cache%d", dir, id);
}

/* One random operation; the mix favours lookups, as an MTA does. */
static void
one_op(struct worker *w, char *name)
{
    unsigned r = (unsigned)rand_r(&w->seed);
    snprintf(name, 64, "d%u.example", r % DOMAINS);
    unsigned op = (r / DOMAINS) % 1000;
    mtasts_ctx *ctx = w->ctx;
    if (op < 800 || op >= 994) {
        mtasts_policy *p = NULL;
        if (mtasts_lookup(ctx, name, &p) != MTASTS_OK ||
            mtasts_policy_mode(p) != MTASTS_MODE_ENFORCE) {
            atomic_fetch_add(&bad, 1);
        }
        mtasts_policy_unref(p);
    } else if (op < 880) {
        if (mtasts_lookup_async(ctx, name, expect_ok, NULL) != MTASTS_OK) {
            atomic_fetch_add(&bad, 1);
        }
    } else if (op < 910) {
        int rc = mtasts_cache_remove(ctx, name);
        if (rc != MTASTS_OK && rc != MTASTS_ERR_NOT_FOUND &&
            rc != MTASTS_ERR_STORE) {
            atomic_fetch_add(&bad, 1);
        }
    } else if (op < 950) {
        mtasts_result *res = NULL;
        int rc = mtasts_refresh(ctx, name, &res);
        if (rc != MTASTS_OK && rc != MTASTS_ERR_NOT_FOUND) {
            atomic_fetch_add(&bad, 1);
        }
        mtasts_result_free(res);
    } else if (op < 960) {
        mtasts_cache_snapshot *s = NULL;
        if (mtasts_cache_snapshot_new(ctx, &s) != MTASTS_OK) {
            atomic_fetch_add(&bad, 1);
        }
        for (size_t i = 0; i < mtasts_cache_snapshot_count(s); i += 97) {
            if (mtasts_policy_mx_count(mtasts_cache_snapshot_policy(s, i)) !=
                1) {
                atomic_fetch_add(&bad, 1);
            }
        }
        mtasts_cache_snapshot_free(s);
    } else if (op < 970) {
        mtasts_cache_snapshot *s = NULL;
        if (mtasts_cache_due(ctx, 3600, 86400, 1, &s) != MTASTS_OK) {
            atomic_fetch_add(&bad, 1);
        }
        mtasts_cache_snapshot_free(s);
    } else if (op < 990) {
        mtasts_cache_remove_idle(ctx, NULL);
    } else if (op == 990) {
        if (r % 10 == 0) {
            mtasts_cache_clear(ctx, NULL); /* rarely: 1 in 10000 */
        }
    } else if (op < 993) {
        char path[128];
        file_of(w->id, path, sizeof(path));
        if (mtasts_cache_save(ctx, path) != MTASTS_OK) {
            atomic_fetch_add(&bad, 1);
        }
    } else {
        char path[128];
        file_of((int)(r % THREADS), path, sizeof(path));
        int rc = mtasts_cache_load(ctx, path, NULL);
        if (rc != MTASTS_OK && rc != MTASTS_ERR_NOT_FOUND) {
            atomic_fetch_add(&bad, 1);
        }
    }
}

static void *
work(void *arg)
{
    struct worker *w = arg;
    char name[64];
    double end = now_s() + w->seconds;
    while (now_s() < end) {
        for (int i = 0; i < 64; i++) {
            one_op(w, name);
            w->ops++;
        }
    }
    return NULL;
}

START_TEST(test_cache_stress_threads)
{
    const char *env = getenv("MTASTS_STRESS_SECONDS");
    double seconds = env != NULL ? atof(env) : 2.0;
    ck_assert(seconds > 0 && seconds <= 600);
    snprintf(dir, sizeof(dir), "/tmp/check_cache_stress.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));

    mtasts_ctx *ctx = NULL;
    ck_assert_int_eq(mtasts_ctx_new(&ctx), MTASTS_OK);
    ck_assert_int_eq(mtasts_ctx_set_dns_txt_hook(ctx, dns_hook, NULL),
                     MTASTS_OK);
    ck_assert_int_eq(mtasts_ctx_set_https_get_hook(ctx, https_hook, NULL),
                     MTASTS_OK);
    ck_assert_int_eq(mtasts_ctx_set_cache_capacity(ctx, CAPACITY), MTASTS_OK);
    ck_assert_int_eq(mtasts_ctx_set_txt_check_interval_s(ctx, 1), MTASTS_OK);
    ck_assert_int_eq(mtasts_ctx_set_cache_max_idle_s(ctx, 1), MTASTS_OK);
    ck_assert_int_eq(mtasts_ctx_set_store_hooks(ctx, st_get, st_put, st_del,
                                                NULL),
                     MTASTS_OK);

    pthread_t t[THREADS];
    struct worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){ctx, 1234u + (unsigned)i, i, seconds, 0};
        ck_assert_int_eq(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    long ops = 0;
    for (int i = 0; i < THREADS; i++) {
        ck_assert_int_eq(pthread_join(t[i], NULL), 0);
        ops += w[i].ops;
    }
    mtasts_cache_snapshot *s = NULL;
    ck_assert_int_eq(mtasts_cache_snapshot_new(ctx, &s), MTASTS_OK);
    size_t n = mtasts_cache_snapshot_count(s);
    mtasts_cache_snapshot_free(s);
    printf("cache stress: %d threads, %.1f s, %ld operations, %ld DNS, "
           "%ld HTTPS, %zu cached\n",
           THREADS, seconds, ops, atomic_load(&ndns), atomic_load(&nhttps), n);
    mtasts_ctx_free(ctx);
    for (size_t i = 0; i < STORE_SLOTS; i++) {
        free(St.val[i]);
    }
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);

    ck_assert_int_eq(atomic_load(&bad), 0);
    ck_assert_uint_le(n, CAPACITY);
    ck_assert_int_gt(ops, THREADS);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("cache_stress");
    TCase *tc = tcase_create("threads");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, test_cache_stress_threads);
    suite_add_tcase(s, tc);
    return harness_run(s);
}
