/* The discovery engine: RFC 8461 §3 and §5 as a state machine whose I/O
 * goes through the hooks (DNS TXT, HTTPS GET). */
#ifndef MTASTS_ENGINE_ENGINE_H
#define MTASTS_ENGINE_ENGINE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cache/cache.h"
#include "mtasts/mtasts.h"

#define MTASTS__WELL_KNOWN_PATH "/.well-known/mta-sts.txt" /* RFC 8461 §3.2 */

/* Defaults, documented at the setters in mtasts.h. */
#define MTASTS__DEFAULT_CAPACITY 100000
#define MTASTS__DEFAULT_BACKOFF_S 300 /* RFC 8461 §3.3: 5 min or more */
#define MTASTS__DEFAULT_NO_POLICY_TTL_S 300
#define MTASTS__DEFAULT_TXT_CHECK_S 600
#define MTASTS__DEFAULT_HTTPS_PORT 443
#define MTASTS__DEFAULT_REFRESH_FETCH_S 86400 /* a day before expiry */
#define MTASTS__DEFAULT_REFRESH_JITTER_S 3600

struct mtasts__engine {
    struct mtasts__cache cache; /* its shard locks guard every flight */

    /* configuration: set before lookups (per ctx), read by them */
    mtasts_clock_fn *clock;
    void *clock_user;
    uint32_t backoff_s;
    uint32_t no_policy_ttl_s;
    uint32_t txt_check_s;
    uint16_t https_port;
    size_t body_max;
    mtasts_dns_txt_fn *dns_fn;
    void *dns_user;
    mtasts_https_get_fn *https_fn;
    void *https_user;
    uint32_t refresh_fetch_s;  /* a refresh fetches this close to expiry */
    uint32_t refresh_jitter_s; /* mtasts_cache_due() windows, up to this */
    atomic_uint_least64_t rng; /* splitmix64 state, any thread */
    mtasts_store_get_fn *store_get; /* all three, or none */
    mtasts_store_put_fn *store_put;
    mtasts_store_delete_fn *store_delete;
    void *store_user;
    mtasts_alert_fn *alert_fn; /* a refresh failed (R8461-3.3-p), or NULL */
    void *alert_user;
};

/* The outcome handed to callbacks (struct mtasts_result, immutable). */
struct mtasts_result {
    int status;
    mtasts_policy *policy; /* one reference, or NULL */
    mtasts_rpt_result failure;
    bool from_cache;
    int store_status; /* mtasts_result_store_status() */
    int64_t expires;
    char domain[MTASTS_DOMAIN_BUFSIZE];
    char id[MTASTS_ID_BUFSIZE];
    char reason[MTASTS__REASON_MAX];
    char code[MTASTS__CODE_MAX]; /* mtasts_result_reason_code() */
};

int mtasts__engine_init(struct mtasts__engine *eng);
void mtasts__engine_destroy(struct mtasts__engine *eng);

int64_t mtasts__engine_now(const struct mtasts__engine *eng);

/* mtasts_lookup_async() once the ctx is checked. */
int mtasts__engine_lookup(struct mtasts__engine *eng, const char *domain,
                          mtasts_lookup_fn *cb, void *user);

/* mtasts_refresh_async() once the ctx is checked: a lookup of a cached
 * domain that queries the TXT record now, fetches when the id changed or
 * the policy expires within refresh_fetch_s (then also when the TXT query
 * fails, RFC 8461 §10.2), and is no use of the entry. MTASTS_ERR_NOT_FOUND
 * when the domain has no entry. */
int mtasts__engine_refresh(struct mtasts__engine *eng, const char *domain,
                           mtasts_lookup_fn *cb, void *user);

/* A pseudo-random number (splitmix64 over eng->rng); any thread. */
uint64_t mtasts__engine_random(struct mtasts__engine *eng);

/* The fast path of mtasts_lookup(): MTASTS_OK and *out when an unexpired
 * policy answers from the cache alone (exactly when mtasts__engine_lookup
 * would answer it at once); MTASTS_ERR_NO_POLICY when the full lookup is
 * needed; a domain error as mtasts__engine_lookup gives it. */
int mtasts__engine_lookup_cached(struct mtasts__engine *eng, const char *domain,
                                 mtasts_policy **out);

/* How a POST request ended (any thread, inside mtasts_https_done()):
 * status as mtasts_https_done() got it (or MTASTS_ERR_NOMEM when a
 * completion call lost data), the response status when have_head, the
 * hook's reason or NULL (valid during the call only). */
typedef void mtasts__post_done_fn(void *user, int status, bool have_head,
                                  unsigned http_status, const char *reason);

/* A request for the POST hook; NULL when out of memory. Free it with
 * mtasts__req_post_free() only when the hook returned an error (done was
 * not called); mtasts_https_done() frees it otherwise. */
mtasts_req *mtasts__req_post_new(mtasts__post_done_fn *done, void *user);
void mtasts__req_post_free(mtasts_req *req);

/* Whether an HTTP Content-Type value is text/plain, parameters ignored
 * (RFC 8461 §3.2, CHECKLIST E-9). */
bool mtasts__media_type_is_text_plain(const char *value);

#endif
