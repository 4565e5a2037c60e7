/* Tests of the Redis store against a real redis-server, started by this
 * program on 127.0.0.1 at a free port (no persistence, no other address),
 * stopped mid-test and started again:
 *  - a fetch is written under the prefixed key, expiring with the policy;
 *  - a second context (another MTA of the fleet) takes it from Redis: no
 *    fetch, and its lookup answers from the cache;
 *  - a purge deletes the key;
 *  - with the server stopped, lookups still succeed from the network and
 *    memory, and report MTASTS_ERR_STORE; a purge reports it too;
 *  - with the server back, the store works again (reconnection);
 *  - a garbage value is refused (MTASTS_ERR_CACHE_CORRUPT), never applied.
 * DNS and HTTPS are hooks that answer from memory. Usage:
 * test_redis_store PATH-TO-redis-server. Prints "N passed, N failed".
 *
 * SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <mtasts/mtasts.h>

#include "redis_store.h"

#define PREFIX "mtasts-test:"
#define POLICY                                                                 \
    "version: STSv1\nmode: enforce\nmx: mx.example.net\nmax_age: 86400\n"

static int passed, failed_count;
static int nhttps;
static const char *server_path;
static int port;
static pid_t server = -1;

static void
check(const char *name, bool ok, const char *detail)
{
    printf("%s %s%s%s\n", ok ? "ok  " : "FAIL", name, ok ? "" : ": ",
           ok ? "" : detail);
    if (ok) {
        passed++;
    } else {
        failed_count++;
    }
}

static int
dns_hook(mtasts_req *req, const char *name, void *user)
{
    (void)name;
    (void)user;
    static const char rec[] = "v=STSv1; id=redis1";
    mtasts_dns_add_txt(req, rec, sizeof(rec) - 1);
    return mtasts_dns_done(req, MTASTS_DNS_ANSWER, NULL);
}

static int
https_hook(mtasts_req *req, const char *host, uint16_t p, const char *path,
           void *user)
{
    (void)host;
    (void)p;
    (void)path;
    (void)user;
    nhttps++;
    mtasts_https_response(req, 200, "text/plain");
    mtasts_https_body(req, POLICY, sizeof(POLICY) - 1);
    return mtasts_https_done(req, MTASTS_OK, NULL);
}

static int
free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t n = sizeof(a);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &n) != 0) {
        perror("free_port");
        exit(1);
    }
    close(s);
    return ntohs(a.sin_port);
}

/* A connection of the test's own, to look at Redis directly. */
static redisContext *
peek(void)
{
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (c != NULL && c->err != 0) {
        redisFree(c);
        c = NULL;
    }
    return c;
}

static void
start_server(void)
{
    char p[16];
    snprintf(p, sizeof(p), "%d", port);
    server = fork();
    if (server == 0) {
        execl(server_path, server_path, "--port", p, "--bind", "127.0.0.1",
              "--save", "", "--appendonly", "no", "--daemonize", "no",
              "--loglevel", "warning", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 100; i++) { /* up to 5 s */
        redisContext *c = peek();
        if (c != NULL) {
            redisFree(c);
            return;
        }
        struct timespec pause = {0, 50000000};
        nanosleep(&pause, NULL);
    }
    fprintf(stderr, "redis-server did not start on port %d\n", port);
    kill(server, SIGKILL);
    exit(1);
}

static void
stop_server(void)
{
    if (server > 0) {
        kill(server, SIGTERM);
        waitpid(server, NULL, 0);
        server = -1;
    }
}

static mtasts_ctx *
fleet_ctx(struct redis_store *rs)
{
    mtasts_ctx *ctx = NULL;
    if (mtasts_ctx_new(&ctx) != MTASTS_OK ||
        mtasts_ctx_set_dns_txt_hook(ctx, dns_hook, NULL) != MTASTS_OK ||
        mtasts_ctx_set_https_get_hook(ctx, https_hook, NULL) != MTASTS_OK ||
        redis_store_install(rs, ctx) != MTASTS_OK) {
        fprintf(stderr, "context set-up failed\n");
        exit(1);
    }
    return ctx;
}

/* A lookup that must apply the policy; its store status. */
static int
lookup(mtasts_ctx *ctx, const char *domain, bool *from_cache)
{
    mtasts_result *r = NULL;
    int rc = mtasts_lookup_result(ctx, domain, &r);
    if (rc != MTASTS_OK) {
        fprintf(stderr, "lookup of %s: %s\n", domain, mtasts_status_name(rc));
        exit(1);
    }
    *from_cache = mtasts_result_from_cache(r);
    int st = mtasts_result_store_status(r);
    mtasts_result_free(r);
    return st;
}

static long long
key_ttl(const char *domain)
{
    redisContext *c = peek();
    long long ttl = -3;
    if (c != NULL) {
        redisReply *r = redisCommand(c, "TTL %s%s", PREFIX, domain);
        if (r != NULL && r->type == REDIS_REPLY_INTEGER) {
            ttl = r->integer;
        }
        if (r != NULL) {
            freeReplyObject(r);
        }
        redisFree(c);
    }
    return ttl; /* -2: no such key */
}

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_redis_store PATH-TO-redis-server\n");
        return 64;
    }
    server_path = argv[1];
    signal(SIGPIPE, SIG_IGN);
    port = free_port();
    start_server();

    struct redis_store *rs = NULL;
    if (redis_store_new("127.0.0.1", port, PREFIX, 500, 0, &rs) != 0) {
        perror("redis_store_new");
        return 1;
    }
    bool cached = false;
    char why[128];

    mtasts_ctx *one = fleet_ctx(rs);
    int st = lookup(one, "a.example", &cached);
    long long ttl = key_ttl("a.example");
    snprintf(why, sizeof(why), "store %s, TTL %lld", mtasts_status_name(st),
             ttl);
    check("a fetch is written, expiring with the policy",
          st == MTASTS_OK && !cached && ttl > 86000 && ttl <= 86400, why);

    mtasts_ctx *two = fleet_ctx(rs);
    int before = nhttps;
    st = lookup(two, "a.example", &cached);
    snprintf(why, sizeof(why), "store %s, %d fetches",
             mtasts_status_name(st), nhttps - before);
    check("another MTA takes it from Redis, no fetch",
          st == MTASTS_OK && cached && nhttps == before, why);

    int rc = mtasts_cache_remove(two, "a.example");
    check("a purge deletes the key",
          rc == MTASTS_OK && key_ttl("a.example") == -2,
          mtasts_status_name(rc));

    stop_server();
    mtasts_ctx *three = fleet_ctx(rs);
    st = lookup(three, "b.example", &cached);
    check("server stopped: the lookup succeeds, the store fails",
          st == MTASTS_ERR_STORE && !cached, mtasts_status_name(st));
    st = lookup(one, "a.example", &cached);
    check("server stopped: a cached policy still applies",
          cached && st == MTASTS_OK, mtasts_status_name(st));
    rc = mtasts_cache_remove(three, "b.example");
    check("server stopped: a purge reports the store",
          rc == MTASTS_ERR_STORE, mtasts_status_name(rc));
    check("failures are counted", redis_store_failures(rs) >= 2, "");

    start_server();
    st = lookup(three, "c.example", &cached);
    check("server back: the store works again",
          st == MTASTS_OK && key_ttl("c.example") > 0,
          mtasts_status_name(st));

    redisContext *c = peek();
    redisReply *r = c != NULL ? redisCommand(c, "SET %sd.example garbage",
                                             PREFIX)
                              : NULL;
    if (r != NULL) {
        freeReplyObject(r);
    }
    if (c != NULL) {
        redisFree(c);
    }
    before = nhttps;
    st = lookup(three, "d.example", &cached);
    check("a garbage value is refused, the policy fetched",
          st == MTASTS_ERR_CACHE_CORRUPT && !cached && nhttps == before + 1,
          mtasts_status_name(st));

    mtasts_ctx_free(one);
    mtasts_ctx_free(two);
    mtasts_ctx_free(three);
    redis_store_free(rs);
    stop_server();
    printf("%d passed, %d failed\n", passed, failed_count);
    return failed_count == 0 ? 0 : 1;
}
