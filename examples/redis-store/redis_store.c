/* The Redis store: see redis_store.h. */
#include "redis_store.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#define KEY_MAX 512

struct redis_store {
    pthread_mutex_t lock; /* guards everything below */
    redisContext *c;      /* NULL: not connected */
    char *host;
    int port;
    char *prefix;
    unsigned timeout_ms, retry_ms;
    double down_since; /* monotonic s of the last failure, or 0 */
    unsigned long failures;
};

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *
copy(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d != NULL) {
        memcpy(d, s, n);
    }
    return d;
}

int
redis_store_new(const char *host, int port, const char *prefix,
                unsigned timeout_ms, unsigned retry_ms,
                struct redis_store **out)
{
    *out = NULL;
    struct redis_store *rs = calloc(1, sizeof(*rs));
    if (rs == NULL) {
        return -1;
    }
    rs->host = copy(host);
    rs->prefix = copy(prefix);
    if (rs->host == NULL || rs->prefix == NULL ||
        strlen(prefix) + MTASTS_DOMAIN_BUFSIZE > KEY_MAX ||
        pthread_mutex_init(&rs->lock, NULL) != 0) {
        free(rs->host);
        free(rs->prefix);
        free(rs);
        errno = EINVAL;
        return -1;
    }
    rs->port = port;
    rs->timeout_ms = timeout_ms;
    rs->retry_ms = retry_ms;
    *out = rs;
    return 0;
}

/* The connection, made if need be (lock held); NULL while the server is
 * down or within retry_ms of the last failure. */
static redisContext *
connection(struct redis_store *rs)
{
    if (rs->c != NULL) {
        return rs->c;
    }
    if (rs->down_since != 0 &&
        now_s() - rs->down_since < (double)rs->retry_ms / 1e3) {
        return NULL;
    }
    struct timeval tv = {(time_t)(rs->timeout_ms / 1000),
                         (suseconds_t)(rs->timeout_ms % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(rs->host, rs->port, tv);
    if (c == NULL || c->err != 0 || redisSetTimeout(c, tv) != REDIS_OK) {
        if (c != NULL) {
            redisFree(c);
        }
        rs->down_since = now_s();
        rs->failures++;
        return NULL;
    }
    rs->c = c;
    rs->down_since = 0;
    return c;
}

/* A command failed (lock held): drop the connection. */
static void
failed(struct redis_store *rs, redisReply *reply)
{
    if (reply != NULL) {
        freeReplyObject(reply);
    }
    if (rs->c != NULL) {
        redisFree(rs->c);
        rs->c = NULL;
    }
    rs->down_since = now_s();
    rs->failures++;
}

static size_t
make_key(const struct redis_store *rs, const char *domain, char *key)
{
    size_t p = strlen(rs->prefix), d = strlen(domain);
    memcpy(key, rs->prefix, p);
    memcpy(key + p, domain, d);
    return p + d;
}

static int
store_get(const char *domain, unsigned char *buf, size_t cap, size_t *len,
          void *user)
{
    struct redis_store *rs = user;
    char key[KEY_MAX];
    size_t klen = make_key(rs, domain, key);
    int rc = MTASTS_ERR_STORE;
    pthread_mutex_lock(&rs->lock);
    redisContext *c = connection(rs);
    redisReply *r = c != NULL ? redisCommand(c, "GET %b", key, klen) : NULL;
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        if (c != NULL) {
            failed(rs, r);
        }
    } else {
        if (r->type == REDIS_REPLY_NIL) {
            rc = MTASTS_ERR_NOT_FOUND;
        } else if (r->type != REDIS_REPLY_STRING) {
            rc = MTASTS_ERR_STORE;
        } else if ((size_t)r->len > cap) {
            rc = MTASTS_ERR_TOO_LARGE;
        } else {
            memcpy(buf, r->str, (size_t)r->len);
            *len = (size_t)r->len;
            rc = MTASTS_OK;
        }
        freeReplyObject(r);
    }
    pthread_mutex_unlock(&rs->lock);
    return rc;
}

/* Run a command whose reply must be a status or an integer. */
static int
command(struct redis_store *rs, const char *format, ...)
{
    int rc = MTASTS_ERR_STORE;
    va_list ap;
    va_start(ap, format);
    pthread_mutex_lock(&rs->lock);
    redisContext *c = connection(rs);
    if (c != NULL) {
        redisReply *r = redisvCommand(c, format, ap);
        if (r == NULL || (r->type != REDIS_REPLY_STATUS &&
                          r->type != REDIS_REPLY_INTEGER)) {
            failed(rs, r);
        } else {
            freeReplyObject(r);
            rc = MTASTS_OK;
        }
    }
    pthread_mutex_unlock(&rs->lock);
    va_end(ap);
    return rc;
}

static int
store_put(const char *domain, const unsigned char *value, size_t len,
          int64_t ttl_s, void *user)
{
    struct redis_store *rs = user;
    char key[KEY_MAX];
    size_t klen = make_key(rs, domain, key);
    return command(rs, "SET %b %b EX %lld", key, klen, value, len,
                   (long long)ttl_s);
}

static int
store_delete(const char *domain, void *user)
{
    struct redis_store *rs = user;
    char key[KEY_MAX];
    size_t klen = make_key(rs, domain, key);
    return command(rs, "DEL %b", key, klen);
}

int
redis_store_install(struct redis_store *rs, mtasts_ctx *ctx)
{
    return mtasts_ctx_set_store_hooks(ctx, store_get, store_put, store_delete,
                                      rs);
}

unsigned long
redis_store_failures(struct redis_store *rs)
{
    pthread_mutex_lock(&rs->lock);
    unsigned long n = rs->failures;
    pthread_mutex_unlock(&rs->lock);
    return n;
}

void
redis_store_free(struct redis_store *rs)
{
    if (rs != NULL) {
        if (rs->c != NULL) {
            redisFree(rs->c);
        }
        pthread_mutex_destroy(&rs->lock);
        free(rs->host);
        free(rs->prefix);
        free(rs);
    }
}
