/*
 * The discovery engine (RFC 8461 §3, §5).
 *
 * A lookup of a domain first consults the cache. An unexpired policy whose
 * TXT record was checked recently answers at once; so does a recent "no
 * policy". Otherwise the lookup joins the domain's flight (single flight:
 * at most one DNS query and one fetch per domain at a time) or starts one:
 *
 *   DNS TXT _mta-sts.<domain> --(new id)--> HTTPS GET --> store or fail
 *             |                                  |
 *             +-- same id as the cached policy --+--> answer from cache
 *
 * A DNS or fetch failure never removes or replaces an unexpired cached
 * policy (RFC 8461 §3.1, §3.3, §5.1): the answer is the cached policy,
 * with the failure classified for reporting (RFC 8461 §6).
 *
 * Locking: the lock of the domain's cache shard guards its entry and its
 * flight. It is never held while a hook or a callback runs, so hooks may
 * complete inline or from any thread, and callbacks may start new lookups.
 */
#include "engine/engine.h"

#include <assert.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "engine/store.h"
#include "parse/txt.h"
#include "util/alloc.h"
#include "util/chars.h"
#include "util/domain.h"

#define TXT_RECORD_MAX 65535 /* an RR's RDATA is at most 64 KiB */
/* A reason being composed: room for a 262-byte host or query name and the
 * rest of the sentence. The result keeps MTASTS__REASON_MAX bytes of it. */
#define TEXT_MAX (2 * MTASTS__REASON_MAX)

enum req_kind {
    REQ_DNS = 1,
    REQ_HTTPS = 2,
    REQ_POST = 3, /* a TLS report POST: no flight, a completion callback */
};

struct waiter {
    mtasts_lookup_fn *cb;
    void *user;
    struct waiter *next;
};

struct mtasts__flight {
    /* first: the cache reaches it through the entry (lib/cache/cache.h) */
    struct mtasts__flight_head head;
    struct mtasts__engine *eng;
    struct mtasts__entry *entry;
    struct waiter *waiters;
    char id[MTASTS_ID_BUFSIZE]; /* the TXT id being fetched */
    bool refresh;               /* started by mtasts_refresh*() */
    bool refresh_waits;         /* a refresh started or joined it */
    bool failed;                /* finished by fail_keep_cache() */
    int fail_status;            /* its status, for the alert hook */
    struct mtasts_result result;
};

_Static_assert(offsetof(struct mtasts__flight, head) == 0,
               "a flight begins with its head (lib/cache/cache.h)");

struct mtasts_req {
    enum req_kind kind;
    struct mtasts__flight *flight;
    /* POST: who waits for the outcome */
    mtasts__post_done_fn *post_done;
    void *post_user;
    /* DNS: the records, as mtasts__txt_select() takes them */
    char **texts;
    size_t *lens;
    size_t nrecs, caprecs;
    /* HTTPS */
    bool have_head;
    unsigned http_status;
    char *content_type;
    char *body;
    size_t body_len, body_cap, body_max;
    bool too_large;
    /* A completion call refused data (MTASTS_ERR_NOMEM, or TOO_LARGE for a
     * TXT record): the request fails at done whatever the hook says, so a
     * hook that ignores the error never gets a partial record set or a
     * body with a gap judged. */
    int lost;
};

/* ---- time and results ------------------------------------------------- */

int64_t
mtasts__engine_now(const struct mtasts__engine *eng)
{
    if (eng->clock != NULL) {
        return eng->clock(eng->clock_user);
    }
    /* Seconds only: the coarse clock (the seconds time(NULL) gives, read
     * without a hardware counter) is exact enough and cheaper per call. */
    struct timespec ts;
#ifdef CLOCK_REALTIME_COARSE
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
#else
    clock_gettime(CLOCK_REALTIME, &ts);
#endif
    return (int64_t)ts.tv_sec;
}

static void
result_init(struct mtasts_result *r, const struct mtasts__entry *e)
{
    r->status = MTASTS_ERR_NO_POLICY;
    r->policy = NULL;
    r->failure = MTASTS_RPT_NONE;
    r->from_cache = false;
    r->store_status = MTASTS_OK;
    r->expires = 0;
    memcpy(r->domain, e->domain, e->domain_len + 1);
    r->id[0] = '\0';
    r->reason[0] = '\0';
    r->code[0] = '\0';
}

static void
copy_code(char dst[MTASTS__CODE_MAX], const char *code)
{
    snprintf(dst, MTASTS__CODE_MAX, "%s", code != NULL ? code : "");
}

/* The result answers with the entry's policy (lock held). */
static void
result_use_entry(struct mtasts_result *r, const struct mtasts__entry *e,
                 bool from_cache)
{
    r->status = MTASTS_OK;
    r->policy = mtasts_policy_ref(e->policy);
    r->expires = mtasts__entry_expires(e);
    r->from_cache = from_cache;
    mtasts__id_unpack(e->id, r->id);
}

static void result_reason(struct mtasts_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
result_reason(struct mtasts_result *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
    va_end(ap);
}

/* ---- engine life cycle ------------------------------------------------ */

int
mtasts__engine_init(struct mtasts__engine *eng)
{
    memset(eng, 0, sizeof(*eng));
    int rc = mtasts__cache_init(&eng->cache, MTASTS__DEFAULT_CAPACITY);
    if (rc != MTASTS_OK) {
        return rc;
    }
    eng->backoff_s = MTASTS__DEFAULT_BACKOFF_S;
    eng->no_policy_ttl_s = MTASTS__DEFAULT_NO_POLICY_TTL_S;
    eng->txt_check_s = MTASTS__DEFAULT_TXT_CHECK_S;
    eng->https_port = MTASTS__DEFAULT_HTTPS_PORT;
    eng->body_max = MTASTS_POLICY_MAX;
    eng->refresh_fetch_s = MTASTS__DEFAULT_REFRESH_FETCH_S;
    eng->refresh_jitter_s = MTASTS__DEFAULT_REFRESH_JITTER_S;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    atomic_init(&eng->rng, (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^
                               (uint64_t)(uintptr_t)eng);
    return MTASTS_OK;
}

uint64_t
mtasts__engine_random(struct mtasts__engine *eng)
{
    /* splitmix64 (Steele, Lea, Flood 2014): each call takes its own step
     * of the state, so concurrent callers never share a number. */
    uint64_t z =
        atomic_fetch_add(&eng->rng, 0x9E3779B97F4A7C15u) + 0x9E3779B97F4A7C15u;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

/* Whether a refresh should fetch the entry's policy again now. */
static bool
near_expiry(const struct mtasts__engine *eng, const struct mtasts__entry *e,
            int64_t now)
{
    return mtasts__entry_expires(e) - now <= (int64_t)eng->refresh_fetch_s;
}

void
mtasts__engine_destroy(struct mtasts__engine *eng)
{
    mtasts__cache_destroy(&eng->cache);
}

/* The shard that holds the flight's entry. */
static struct mtasts__shard *
flight_shard(const struct mtasts__flight *f)
{
    const struct mtasts__cache *c = &f->eng->cache;
    return mtasts__cache_shard(c, mtasts__entry_hash(c, f->entry));
}

/* ---- finishing a flight ----------------------------------------------- */

/* Called with the shard lock held; releases it, runs every waiter's
 * callback with the flight's result, and frees the flight. */
static void
finish(struct mtasts__flight *f)
{
    struct waiter *w = f->waiters;
    f->waiters = NULL;
    mtasts__entry_set_flight(f->entry, NULL);
    /* A failed refresh of a policy that matters: alert, outside the lock
     * (RFC 8461 §3.3, R8461-3.3-p). Never for mode none. */
    const struct mtasts__entry *e = f->entry;
    mtasts_alert_fn *alert = f->eng->alert_fn;
    mtasts_mode mode = MTASTS_MODE_NONE;
    int64_t expires = mtasts__entry_expires(e);
    if (alert != NULL && f->refresh_waits && f->failed && e->policy != NULL) {
        mode = mtasts_policy_mode(e->policy);
    }
    pthread_mutex_unlock(&flight_shard(f)->lock);
    if (mode != MTASTS_MODE_NONE) {
        alert(f->result.domain, f->fail_status, mode, expires, f->result.reason,
              f->eng->alert_user);
    }
    while (w != NULL) {
        struct waiter *next = w->next;
        w->cb(&f->result, w->user);
        mtasts__free(w);
        w = next;
    }
    mtasts_policy_unref(f->result.policy);
    mtasts__free(f);
}

/* Finish with a failure; an unexpired cached policy still answers, and the
 * failure is then reportable unless that policy's mode is none (RFC 8461
 * §6). Lock held. */
static void
fail_keep_cache(struct mtasts__flight *f, int64_t now, int status,
                mtasts_rpt_result rpt_no_cache, mtasts_rpt_result rpt_cache,
                const char *code, const char *reason)
{
    struct mtasts__entry *e = f->entry;
    struct mtasts_result *r = &f->result;
    f->failed = true;
    f->fail_status = status;
    copy_code(r->code, code);
    if (mtasts__entry_usable(e, now)) {
        result_use_entry(r, e, true);
        r->failure = mtasts_policy_mode(e->policy) == MTASTS_MODE_NONE
                         ? MTASTS_RPT_NONE
                         : rpt_cache;
        result_reason(r, "%s; the cached policy (id %s) still applies", reason,
                      r->id);
        return;
    }
    r->status = status;
    r->failure = rpt_no_cache;
    result_reason(r, "%s", reason);
}

/* A fetch of f->id failed: remember it for the backoff (RFC 8461 §3.3,
 * keyed on domain and id, CHECKLIST E-21), then answer. Lock held. */
static void
fetch_failed(struct mtasts__flight *f, int64_t now, int status,
             mtasts_rpt_result rpt, const char *code, const char *reason)
{
    /* Out of memory, nothing is remembered: the next lookup tries again. */
    struct mtasts__entry_extra *x = mtasts__entry_extra(f->entry);
    if (x != NULL) {
        memcpy(x->failed_id, f->id, sizeof(x->failed_id));
        x->backoff_until = now + f->eng->backoff_s;
        x->failed_status = status;
        x->failed_rpt = rpt;
        copy_code(x->failed_code, code);
        mtasts__entry_set_text(&x->failed_reason, reason);
    }
    /* the id seen; a cached policy that answers brings its own */
    memcpy(f->result.id, f->id, sizeof(f->result.id));
    fail_keep_cache(f, now, status, rpt, rpt, code, reason);
}

/* ---- requests --------------------------------------------------------- */

static struct mtasts_req *
req_new(struct mtasts__flight *f, enum req_kind kind)
{
    struct mtasts_req *req = mtasts__calloc(1, sizeof(*req));
    if (req != NULL) {
        req->kind = kind;
        req->flight = f;
        req->body_max = f->eng->body_max;
    }
    return req;
}

static void
req_free(struct mtasts_req *req)
{
    for (size_t i = 0; i < req->nrecs; i++) {
        mtasts__free(req->texts[i]);
    }
    mtasts__free(req->texts);
    mtasts__free(req->lens);
    mtasts__free(req->content_type);
    mtasts__free(req->body);
    mtasts__free(req);
}

mtasts_req *
mtasts__req_post_new(mtasts__post_done_fn *done, void *user)
{
    struct mtasts_req *req = mtasts__calloc(1, sizeof(*req));
    if (req != NULL) {
        req->kind = REQ_POST;
        req->post_done = done;
        req->post_user = user;
    }
    return req;
}

void
mtasts__req_post_free(mtasts_req *req)
{
    if (req != NULL) {
        req_free(req);
    }
}

static void run_https(struct mtasts__flight *f);

/* Ask the DNS hook for the TXT records. No lock held. */
static void
run_dns(struct mtasts__flight *f)
{
    struct mtasts__engine *eng = f->eng;
    char name[sizeof("_mta-sts.") + MTASTS_DOMAIN_BUFSIZE];
    snprintf(name, sizeof(name), "_mta-sts.%s", f->entry->domain);
    struct mtasts_req *req = req_new(f, REQ_DNS);
    int rc = req != NULL ? MTASTS_OK : MTASTS_ERR_NOMEM;
    if (rc == MTASTS_OK) {
        rc = eng->dns_fn(req, name, eng->dns_user);
        if (rc == MTASTS_OK) {
            return; /* mtasts_dns_done() goes on */
        }
        req_free(req);
    }
    pthread_mutex_lock(&flight_shard(f)->lock);
    int64_t now = mtasts__engine_now(eng);
    char reason[TEXT_MAX];
    snprintf(reason, sizeof(reason), "TXT lookup of %s not started: %s", name,
             mtasts_strerror(rc));
    fail_keep_cache(f, now,
                    rc == MTASTS_ERR_NOMEM ? rc : MTASTS_ERR_DNS_TEMPFAIL,
                    MTASTS_RPT_NONE, MTASTS_RPT_STS_POLICY_FETCH_ERROR,
                    "txt-lookup-failed", reason);
    finish(f);
}

/* What the TXT answer means. Lock held. Returns true when the policy must
 * be fetched (f->id set); false when f->result is complete. */
static bool
dns_outcome(struct mtasts__flight *f, struct mtasts_req *req,
            mtasts_dns_rcode rcode, const char *why)
{
    struct mtasts__engine *eng = f->eng;
    struct mtasts__entry *e = f->entry;
    int64_t now = mtasts__engine_now(eng);
    bool usable = mtasts__entry_usable(e, now);
    char reason[MTASTS__REASON_MAX];
    e->txt_checked_at = now;

    /* A refresh of a policy close to expiry fetches it whatever the TXT
     * record says, even when the query failed (RFC 8461 §10.2). */
    bool fetch_anyway = f->refresh && usable && near_expiry(eng, e, now);
    if (rcode == MTASTS_DNS_TEMPFAIL && fetch_anyway) {
        mtasts__id_unpack(e->id, f->id);
        return true;
    }
    if (rcode == MTASTS_DNS_TEMPFAIL) {
        /* RFC 8461 is silent with nothing cached (CHECKLIST E-12). */
        snprintf(reason, sizeof(reason), "TXT lookup of _mta-sts.%s failed%s%s",
                 e->domain, why != NULL ? ": " : "", why != NULL ? why : "");
        fail_keep_cache(f, now, MTASTS_ERR_DNS_TEMPFAIL, MTASTS_RPT_NONE,
                        MTASTS_RPT_STS_POLICY_FETCH_ERROR, "txt-lookup-failed",
                        reason);
        return false;
    }

    char id[MTASTS_ID_BUFSIZE] = "";
    int rc = MTASTS_ERR_NO_POLICY;
    mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
    if (rcode == MTASTS_DNS_ANSWER && req->nrecs > 0) {
        /* Selection over every record at the name (§3.1). */
        rc = mtasts__txt_select((const char *const *)req->texts, req->lens,
                                req->nrecs, id, NULL, &err);
    }

    if (rc != MTASTS_OK) {
        const char *code = rc == MTASTS_ERR_SYNTAX ? "txt-invalid"
                           : rcode == MTASTS_DNS_ANSWER && req->nrecs > 0
                               ? "txt-not-one-record"
                               : "txt-missing";
        if (rc == MTASTS_ERR_SYNTAX) {
            snprintf(reason, sizeof(reason),
                     "invalid _mta-sts TXT record (column %zu: %s)", err.column,
                     err.message);
        } else if (rc == MTASTS_ERR_NOMEM) {
            snprintf(reason, sizeof(reason), "out of memory");
        } else if (rcode == MTASTS_DNS_ANSWER && req->nrecs > 0) {
            snprintf(reason, sizeof(reason),
                     "not exactly one MTA-STS TXT record among %zu",
                     req->nrecs);
        } else {
            snprintf(reason, sizeof(reason), "no TXT record at _mta-sts.%s%s",
                     e->domain,
                     rcode == MTASTS_DNS_NXDOMAIN ? " (NXDOMAIN)" : "");
        }
        if (rc == MTASTS_ERR_NOMEM) {
            fail_keep_cache(f, now, rc, MTASTS_RPT_NONE, MTASTS_RPT_NONE, NULL,
                            reason);
            return false;
        }
        if (fetch_anyway) {
            mtasts__id_unpack(e->id, f->id);
            return true;
        }
        /* No usable record never removes a cached policy (§3.1); with
         * none, remember the answer for a while. */
        struct mtasts__entry_extra *x =
            !usable && eng->no_policy_ttl_s > 0 ? mtasts__entry_extra(e) : NULL;
        if (x != NULL) {
            x->no_policy_until = now + eng->no_policy_ttl_s;
            mtasts__entry_set_text(&x->no_policy_reason, reason);
            copy_code(x->no_policy_code, code);
        }
        fail_keep_cache(f, now, MTASTS_ERR_NO_POLICY, MTASTS_RPT_NONE,
                        MTASTS_RPT_STS_POLICY_FETCH_ERROR, code, reason);
        return false;
    }

    struct mtasts__entry_extra *x = mtasts__entry_extra_get(e);
    if (x != NULL) {
        x->no_policy_until = 0;
    }
    char cached_id[MTASTS_ID_BUFSIZE];
    mtasts__id_unpack(e->id, cached_id);
    if (usable && strcmp(id, cached_id) == 0 && !fetch_anyway) {
        /* Same id, unexpired: no fetch (§3, R8461-3-a); a refresh close to
         * expiry fetches all the same (§3.3, §10.2). */
        result_use_entry(&f->result, e, true);
        return false;
    }
    if (x != NULL && x->failed_id[0] != '\0' && strcmp(id, x->failed_id) == 0 &&
        now < x->backoff_until) {
        snprintf(reason, sizeof(reason),
                 "%s (failed before; no new fetch for %lld s)",
                 x->failed_reason != NULL ? x->failed_reason : "fetch failed",
                 (long long)(x->backoff_until - now));
        memcpy(f->result.id, id, sizeof(f->result.id));
        fail_keep_cache(f, now, x->failed_status, x->failed_rpt, x->failed_rpt,
                        x->failed_code, reason);
        return false;
    }
    memcpy(f->id, id, sizeof(f->id));
    return true;
}

/* Whether an HTTP Content-Type value is text/plain (RFC 8461 §3.2):
 * type and subtype compared case-insensitively, parameters ignored. */
bool
mtasts__media_type_is_text_plain(const char *value)
{
    static const char want[] = "text/plain";
    const char *p = value;
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    if (!mtasts__eq_lower(p, want, sizeof(want) - 1)) {
        return false;
    }
    p += sizeof(want) - 1;
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    return *p == '\0' || *p == ';';
}

/* Judge a finished HTTPS request outside the lock; on success *policy_out
 * holds the parsed policy. Returns the status (and fills reason, rpt). */
static int
https_judge(const struct mtasts_req *req, int transport, const char *why,
            const char *host, mtasts_policy **policy_out,
            mtasts_rpt_result *rpt, char code[MTASTS__CODE_MAX], char *reason,
            size_t reason_size)
{
    *policy_out = NULL;
    *rpt = MTASTS_RPT_STS_POLICY_FETCH_ERROR;
    code[0] = '\0';
    if (transport == MTASTS_ERR_NOMEM || req->lost == MTASTS_ERR_NOMEM) {
        *rpt = MTASTS_RPT_NONE;
        snprintf(reason, reason_size,
                 "out of memory while fetching from %s%s%s", host,
                 why != NULL && transport == MTASTS_ERR_NOMEM ? ": " : "",
                 why != NULL && transport == MTASTS_ERR_NOMEM ? why : "");
        return MTASTS_ERR_NOMEM;
    }
    if (transport == MTASTS_ERR_IO) {
        *rpt = MTASTS_RPT_NONE;
        snprintf(reason, reason_size, "fetch from %s not possible here%s%s",
                 host, why != NULL ? ": " : "", why != NULL ? why : "");
        return MTASTS_ERR_IO;
    }
    if (transport == MTASTS_ERR_WEBPKI) {
        *rpt = MTASTS_RPT_STS_WEBPKI_INVALID;
        copy_code(code, "policy-host-certificate");
        snprintf(reason, reason_size, "certificate of %s not valid%s%s", host,
                 why != NULL ? ": " : "", why != NULL ? why : "");
        return MTASTS_ERR_WEBPKI;
    }
    if (req->too_large) {
        copy_code(code, "policy-too-large");
        snprintf(reason, reason_size,
                 "policy body from %s larger than %zu bytes", host,
                 req->body_max);
        return MTASTS_ERR_FETCH;
    }
    if (transport != MTASTS_OK || !req->have_head) {
        copy_code(code, "policy-fetch-failed");
        snprintf(reason, reason_size, "fetch from %s failed%s%s", host,
                 why != NULL ? ": " : "",
                 why != NULL ? why : "no HTTP response");
        return MTASTS_ERR_FETCH;
    }
    if (req->http_status != 200) {
        /* Only 200 yields a policy; redirects are never followed (§3.3). */
        snprintf(code, MTASTS__CODE_MAX, "http-status-%u",
                 req->http_status % 1000);
        snprintf(reason, reason_size,
                 "HTTP status %u from %s (only 200 is accepted)",
                 req->http_status, host);
        return MTASTS_ERR_FETCH;
    }
    if (req->content_type == NULL) {
        copy_code(code, "content-type-missing");
        snprintf(reason, reason_size,
                 "no Content-Type from %s (text/plain is required)", host);
        return MTASTS_ERR_FETCH;
    }
    if (!mtasts__media_type_is_text_plain(req->content_type)) {
        copy_code(code, "content-type-not-text-plain");
        snprintf(reason, reason_size,
                 "Content-Type \"%.80s\" from %s is not text/plain",
                 req->content_type, host);
        return MTASTS_ERR_FETCH;
    }
    mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
    int rc = mtasts_policy_parse(req->body != NULL ? req->body : "",
                                 req->body_len, policy_out, &err);
    if (rc == MTASTS_ERR_NOMEM) {
        snprintf(reason, reason_size, "out of memory");
        *rpt = MTASTS_RPT_NONE;
        return rc;
    }
    if (rc != MTASTS_OK) {
        *rpt = MTASTS_RPT_STS_POLICY_INVALID;
        copy_code(code, "policy-invalid");
        if (rc == MTASTS_ERR_SYNTAX) {
            snprintf(reason, reason_size,
                     "invalid policy from %s: line %zu, column %zu: %s", host,
                     err.line, err.column, err.message);
        } else {
            snprintf(reason, reason_size, "invalid policy from %s: %s", host,
                     err.message != NULL ? err.message : mtasts_strerror(rc));
        }
        return MTASTS_ERR_POLICY_INVALID;
    }
    *rpt = MTASTS_RPT_NONE;
    return MTASTS_OK;
}

/* Store a freshly fetched policy (lock held; takes the reference). */
static void
store_policy(struct mtasts__flight *f, int64_t now, mtasts_policy *p)
{
    struct mtasts__entry *e = f->entry;
    mtasts_policy_unref(e->policy);
    e->policy = p;
    mtasts__entry_set_id(e, f->id); /* a TXT record's (RFC 8461 §3.1) */
    /* Only a successful fetch restarts the lifetime (CHECKLIST E-11): the
     * expiry is now + max_age (mtasts__entry_expires()). */
    e->fetched_at = now;
    e->txt_checked_at = now;
    mtasts__entry_clear_extra(e);
    /* A max_age 0 policy still governs the delivery that fetched it
     * (R8461-3.2-u); the next lookup fetches again. */
    result_use_entry(&f->result, e, false);
}

static void
host_name(const struct mtasts__flight *f, char *out, size_t size)
{
    snprintf(out, size, "mta-sts.%s", f->entry->domain);
}

/* Ask the HTTPS hook for the policy. No lock held. */
static void
run_https(struct mtasts__flight *f)
{
    struct mtasts__engine *eng = f->eng;
    char host[sizeof("mta-sts.") + MTASTS_DOMAIN_BUFSIZE];
    host_name(f, host, sizeof(host));
    struct mtasts_req *req = req_new(f, REQ_HTTPS);
    int rc = req != NULL ? MTASTS_OK : MTASTS_ERR_NOMEM;
    if (rc == MTASTS_OK) {
        rc = eng->https_fn(req, host, eng->https_port, MTASTS__WELL_KNOWN_PATH,
                           eng->https_user);
        if (rc == MTASTS_OK) {
            return; /* mtasts_https_done() goes on */
        }
        req_free(req);
    }
    pthread_mutex_lock(&flight_shard(f)->lock);
    int64_t now = mtasts__engine_now(eng);
    char reason[TEXT_MAX];
    snprintf(reason, sizeof(reason), "fetch from %s not started: %s", host,
             mtasts_strerror(rc));
    if (rc == MTASTS_ERR_NOMEM) {
        fail_keep_cache(f, now, rc, MTASTS_RPT_NONE, MTASTS_RPT_NONE, NULL,
                        reason);
    } else {
        fetch_failed(f, now, MTASTS_ERR_FETCH,
                     MTASTS_RPT_STS_POLICY_FETCH_ERROR, "policy-fetch-failed",
                     reason);
    }
    finish(f);
}

/* ---- lookups ---------------------------------------------------------- */

/* Answer from the cache alone if it can (lock held); true if r is set. */
static bool
answer_from_cache(const struct mtasts__engine *eng,
                  const struct mtasts__entry *e, int64_t now,
                  struct mtasts_result *r)
{
    if (mtasts__entry_usable(e, now)) {
        if (eng->txt_check_s == 0 ||
            now - e->txt_checked_at >= (int64_t)eng->txt_check_s) {
            return false; /* time to look at the TXT record again */
        }
        result_init(r, e);
        result_use_entry(r, e, true);
        return true;
    }
    const struct mtasts__entry_extra *x = mtasts__entry_extra_get(e);
    if (x != NULL && now < x->no_policy_until) {
        result_init(r, e);
        r->status = MTASTS_ERR_NO_POLICY;
        result_reason(r, "%s (remembered)",
                      x->no_policy_reason != NULL ? x->no_policy_reason
                                                  : "no policy");
        copy_code(r->code, x->no_policy_code);
        return true;
    }
    return false;
}

/* The cache key of a domain as the caller wrote it: its normal form, its
 * length and its hash; or a domain error. */
static int
cache_key(const struct mtasts__cache *c, const char *domain,
          char norm[MTASTS_DOMAIN_BUFSIZE], size_t *len, uint64_t *hash)
{
    int rc = mtasts_domain_normalize(domain, strlen(domain), norm, NULL);
    if (rc == MTASTS_OK) {
        *len = strlen(norm);
        *hash = mtasts__cache_hash(c, norm, *len);
    }
    return rc;
}

/* A domain's cache key and shard. */
struct key {
    char norm[MTASTS_DOMAIN_BUFSIZE];
    size_t len;
    uint64_t hash;
    struct mtasts__shard *sh;
};

/* Compute the key and lock its shard; or a domain error, nothing locked. */
static int
lock_key(struct mtasts__engine *eng, const char *domain, struct key *k)
{
    int rc = cache_key(&eng->cache, domain, k->norm, &k->len, &k->hash);
    if (rc == MTASTS_OK) {
        k->sh = mtasts__cache_shard(&eng->cache, k->hash);
        pthread_mutex_lock(&k->sh->lock);
    }
    return rc;
}

/* The policy of an entry if it answers from the cache alone (shard lock
 * held; e may be NULL): the entry is used, and the caller gets one
 * reference; else NULL. Reads the clock once, entry or not. */
static mtasts_policy *
take_cached(struct mtasts__engine *eng, struct mtasts__entry *e)
{
    int64_t now = mtasts__engine_now(eng);
    if (e != NULL && mtasts__entry_flight(e) == NULL &&
        mtasts__entry_usable(e, now) && eng->txt_check_s != 0 &&
        now - e->txt_checked_at < (int64_t)eng->txt_check_s) {
        if (e->last_used != now) {
            /* written once a second at most: a line that lookups on other
             * cores would otherwise take back each time */
            e->last_used = now;
        }
        return mtasts_policy_ref(e->policy);
    }
    return NULL;
}

int
mtasts__engine_lookup_cached(struct mtasts__engine *eng, const char *domain,
                             mtasts_policy **out)
{
    *out = NULL;
    /* The usual caller passes the name as it was cached: normalised. A
     * cached name is a valid normal form (a fixed point of the
     * normalisation), so when the bytes as given are one, normalising
     * them would change nothing: look them up first, and skip the
     * normalisation when they are found (a third of the cost of a hit). */
    size_t raw_len = strnlen(domain, MTASTS_DOMAIN_BUFSIZE);
    if (raw_len < MTASTS_DOMAIN_BUFSIZE) {
        uint64_t hash = mtasts__cache_hash(&eng->cache, domain, raw_len);
        struct mtasts__shard *sh = mtasts__cache_shard(&eng->cache, hash);
        pthread_mutex_lock(&sh->lock);
        struct mtasts__entry *e = mtasts__cache_find(sh, domain, raw_len, hash);
        if (e != NULL) {
            *out = take_cached(eng, e);
            pthread_mutex_unlock(&sh->lock);
            return *out != NULL ? MTASTS_OK : MTASTS_ERR_NO_POLICY;
        }
        pthread_mutex_unlock(&sh->lock);
    }
    struct key k;
    int rc = lock_key(eng, domain, &k);
    if (rc != MTASTS_OK) {
        return rc;
    }
    *out = take_cached(eng, mtasts__cache_find(k.sh, k.norm, k.len, k.hash));
    pthread_mutex_unlock(&k.sh->lock);
    return *out != NULL ? MTASTS_OK : MTASTS_ERR_NO_POLICY;
}

/* Before the network, take the store's policy for an entry without a
 * usable one (no lock held; the flight keeps the entry). Its TXT record
 * is checked next, as for a policy loaded from a file. */
static void
store_fill(struct mtasts__flight *f, int64_t now)
{
    struct mtasts__stored v;
    int rc = mtasts__store_get(f->eng, f->entry->domain, now, &v);
    if (rc == MTASTS_OK) {
        struct mtasts__shard *sh = flight_shard(f);
        pthread_mutex_lock(&sh->lock);
        struct mtasts__entry *e = f->entry;
        if (!mtasts__entry_usable(e, now) || e->fetched_at < v.fetched_at) {
            mtasts_policy_unref(e->policy);
            e->policy = v.policy;
            v.policy = NULL;
            mtasts__entry_set_id(e, v.id); /* checked by its decoder */
            e->fetched_at = v.fetched_at;
            /* checked by the record's decoder (lib/cache/file.c) */
            assert(mtasts__entry_expires(e) == v.expires);
            e->txt_checked_at = 0;
        }
        pthread_mutex_unlock(&sh->lock);
        mtasts_policy_unref(v.policy);
    } else if (rc != MTASTS_ERR_NOT_FOUND) {
        f->result.store_status = rc; /* reported; memory goes on */
    }
}

/* Join the entry's flight, or start one (shard lock held; released). */
static int
join_or_start(struct mtasts__engine *eng, struct mtasts__shard *sh,
              struct mtasts__entry *e, bool refresh, mtasts_lookup_fn *cb,
              void *user)
{
    struct waiter *w = mtasts__alloc(sizeof(*w));
    if (w == NULL) {
        pthread_mutex_unlock(&sh->lock);
        return MTASTS_ERR_NOMEM;
    }
    w->cb = cb;
    w->user = user;
    struct mtasts__flight *in_flight = mtasts__entry_flight(e);
    if (in_flight != NULL) {
        /* Single flight: share the lookup in progress. A refresh that
         * joins a lookup gets its outcome, and its alert if it fails. */
        w->next = in_flight->waiters;
        in_flight->waiters = w;
        in_flight->refresh_waits |= refresh;
        pthread_mutex_unlock(&sh->lock);
        return MTASTS_OK;
    }
    struct mtasts__flight *f = mtasts__calloc(1, sizeof(*f));
    if (f == NULL) {
        pthread_mutex_unlock(&sh->lock);
        mtasts__free(w);
        return MTASTS_ERR_NOMEM;
    }
    w->next = NULL;
    f->eng = eng;
    f->entry = e;
    f->waiters = w;
    f->refresh = refresh;
    f->refresh_waits = refresh;
    mtasts__entry_set_flight(e, f);
    result_init(&f->result, e);
    int64_t now = mtasts__engine_now(eng);
    bool ask_store =
        !refresh && eng->store_get != NULL && !mtasts__entry_usable(e, now);
    pthread_mutex_unlock(&sh->lock);
    if (ask_store) {
        store_fill(f, now);
    }
    run_dns(f);
    return MTASTS_OK;
}

int
mtasts__engine_lookup(struct mtasts__engine *eng, const char *domain,
                      mtasts_lookup_fn *cb, void *user)
{
    struct key k;
    int rc = lock_key(eng, domain, &k);
    if (rc != MTASTS_OK) {
        return rc;
    }
    struct mtasts__shard *sh = k.sh;
    int64_t now = mtasts__engine_now(eng);
    struct mtasts__entry *e = mtasts__cache_find(sh, k.norm, k.len, k.hash);
    if (e != NULL) {
        e->last_used = now;
    }
    if (e != NULL && mtasts__entry_flight(e) == NULL) {
        struct mtasts_result r;
        if (answer_from_cache(eng, e, now, &r)) {
            pthread_mutex_unlock(&sh->lock);
            cb(&r, user);
            mtasts_policy_unref(r.policy);
            return MTASTS_OK;
        }
    }
    if (e == NULL) {
        e = mtasts__cache_insert(&eng->cache, sh, k.norm, k.len, k.hash, now);
        if (e == NULL) {
            pthread_mutex_unlock(&sh->lock);
            return MTASTS_ERR_NOMEM;
        }
    }
    return join_or_start(eng, sh, e, false, cb, user);
}

int
mtasts__engine_refresh(struct mtasts__engine *eng, const char *domain,
                       mtasts_lookup_fn *cb, void *user)
{
    struct key k;
    int rc = lock_key(eng, domain, &k);
    if (rc != MTASTS_OK) {
        return rc;
    }
    struct mtasts__entry *e = mtasts__cache_peek(k.sh, k.norm, k.len, k.hash);
    if (e == NULL) {
        pthread_mutex_unlock(&k.sh->lock);
        return MTASTS_ERR_NOT_FOUND;
    }
    return join_or_start(eng, k.sh, e, true, cb, user);
}

/* Write a freshly stored policy to the store (shard lock held; released
 * while the hook runs, taken again). A failure is only reported. */
static void
share_policy(struct mtasts__flight *f, int64_t now)
{
    struct mtasts__entry *e = f->entry;
    struct mtasts__stored v;
    v.policy = mtasts_policy_ref(e->policy);
    mtasts__id_unpack(e->id, v.id);
    v.fetched_at = e->fetched_at;
    v.expires = mtasts__entry_expires(e);
    int64_t last_used = e->last_used;
    pthread_mutex_unlock(&flight_shard(f)->lock);
    int rc = mtasts__store_put(f->eng, e->domain, &v, last_used, now);
    mtasts_policy_unref(v.policy);
    pthread_mutex_lock(&flight_shard(f)->lock);
    if (rc != MTASTS_OK && f->result.store_status == MTASTS_OK) {
        f->result.store_status = rc;
    }
}

/* ---- completion functions (public, any thread) ------------------------ */

/* Remember that req lost data (the first loss wins) and return status. */
static int
lose(struct mtasts_req *req, int status)
{
    if (req->lost == MTASTS_OK) {
        req->lost = status;
    }
    return status;
}

int
mtasts_dns_add_txt(mtasts_req *req, const char *record, size_t len)
{
    if (req == NULL || (record == NULL && len != 0)) {
        return MTASTS_ERR_INVALID;
    }
    if (req->kind != REQ_DNS) {
        return MTASTS_ERR_STATE;
    }
    if (len > TXT_RECORD_MAX) {
        return lose(req, MTASTS_ERR_TOO_LARGE);
    }
    if (req->nrecs == req->caprecs) {
        size_t cap = req->caprecs == 0 ? 4 : req->caprecs * 2;
        char **texts = mtasts__realloc(req->texts, cap * sizeof(*texts));
        if (texts == NULL) {
            return lose(req, MTASTS_ERR_NOMEM);
        }
        req->texts = texts;
        size_t *lens = mtasts__realloc(req->lens, cap * sizeof(*lens));
        if (lens == NULL) {
            return lose(req, MTASTS_ERR_NOMEM);
        }
        req->lens = lens;
        req->caprecs = cap;
    }
    char *copy = mtasts__alloc(len + 1);
    if (copy == NULL) {
        return lose(req, MTASTS_ERR_NOMEM);
    }
    if (len > 0) {
        memcpy(copy, record, len);
    }
    copy[len] = '\0';
    req->texts[req->nrecs] = copy;
    req->lens[req->nrecs] = len;
    req->nrecs++;
    return MTASTS_OK;
}

int
mtasts_dns_done(mtasts_req *req, mtasts_dns_rcode rcode, const char *reason)
{
    if (req == NULL || (int)rcode < MTASTS_DNS_ANSWER ||
        (int)rcode > MTASTS_DNS_TEMPFAIL) {
        return MTASTS_ERR_INVALID;
    }
    if (req->kind != REQ_DNS) {
        return MTASTS_ERR_STATE;
    }
    struct mtasts__flight *f = req->flight;
    pthread_mutex_lock(&flight_shard(f)->lock);
    bool fetch = false;
    if (req->lost == MTASTS_ERR_NOMEM) {
        /* A local failure: no report, no back-off, the cache kept. */
        char text[TEXT_MAX];
        snprintf(text, sizeof(text),
                 "out of memory while the TXT records of _mta-sts.%s were "
                 "copied",
                 f->entry->domain);
        fail_keep_cache(f, mtasts__engine_now(f->eng), MTASTS_ERR_NOMEM,
                        MTASTS_RPT_NONE, MTASTS_RPT_NONE, NULL, text);
    } else if (req->lost != MTASTS_OK) {
        char text[TEXT_MAX];
        snprintf(text, sizeof(text),
                 "a TXT record longer than %d bytes was refused",
                 TXT_RECORD_MAX);
        fetch = dns_outcome(f, req, MTASTS_DNS_TEMPFAIL, text);
    } else {
        fetch = dns_outcome(f, req, rcode, reason);
    }
    req_free(req);
    if (fetch) {
        pthread_mutex_unlock(&flight_shard(f)->lock);
        run_https(f);
    } else {
        finish(f);
    }
    return MTASTS_OK;
}

int
mtasts_https_response(mtasts_req *req, unsigned http_status,
                      const char *content_type)
{
    if (req == NULL) {
        return MTASTS_ERR_INVALID;
    }
    if ((req->kind != REQ_HTTPS && req->kind != REQ_POST) || req->have_head) {
        return MTASTS_ERR_STATE;
    }
    if (content_type != NULL) {
        size_t n = strlen(content_type);
        req->content_type = mtasts__alloc(n + 1);
        if (req->content_type == NULL) {
            return lose(req, MTASTS_ERR_NOMEM);
        }
        memcpy(req->content_type, content_type, n + 1);
    }
    req->have_head = true;
    req->http_status = http_status;
    return MTASTS_OK;
}

int
mtasts_https_body(mtasts_req *req, const void *data, size_t len)
{
    if (req == NULL || (data == NULL && len != 0)) {
        return MTASTS_ERR_INVALID;
    }
    if ((req->kind != REQ_HTTPS && req->kind != REQ_POST) || !req->have_head) {
        return MTASTS_ERR_STATE;
    }
    if (req->kind == REQ_POST) {
        return MTASTS_OK; /* only the status of a POST's response counts */
    }
    if (req->too_large || len > req->body_max - req->body_len) {
        /* Over the cap is a failure, never a truncation (§3.3). */
        req->too_large = true;
        return MTASTS_ERR_TOO_LARGE;
    }
    if (req->body_len + len > req->body_cap) {
        size_t cap = req->body_cap == 0 ? 1024 : req->body_cap;
        while (cap < req->body_len + len) {
            cap *= 2;
        }
        if (cap > req->body_max) {
            cap = req->body_max;
        }
        char *grown = mtasts__realloc(req->body, cap);
        if (grown == NULL) {
            return lose(req, MTASTS_ERR_NOMEM);
        }
        req->body = grown;
        req->body_cap = cap;
    }
    if (len > 0) {
        memcpy(req->body + req->body_len, data, len);
    }
    req->body_len += len;
    return MTASTS_OK;
}

int
mtasts_https_done(mtasts_req *req, int status, const char *reason)
{
    if (req == NULL ||
        (status != MTASTS_OK && status != MTASTS_ERR_FETCH &&
         status != MTASTS_ERR_WEBPKI && status != MTASTS_ERR_NOMEM &&
         status != MTASTS_ERR_IO)) {
        return MTASTS_ERR_INVALID;
    }
    if (req->kind == REQ_POST) {
        int rc = req->lost != MTASTS_OK ? req->lost : status;
        req->post_done(req->post_user, rc, req->have_head, req->http_status,
                       rc == status ? reason : NULL);
        req_free(req);
        return MTASTS_OK;
    }
    if (req->kind != REQ_HTTPS) {
        return MTASTS_ERR_STATE;
    }
    struct mtasts__flight *f = req->flight;
    struct mtasts__engine *eng = f->eng;
    char host[sizeof("mta-sts.") + MTASTS_DOMAIN_BUFSIZE];
    host_name(f, host, sizeof(host));
    char text[TEXT_MAX];
    char code[MTASTS__CODE_MAX];
    mtasts_rpt_result rpt;
    mtasts_policy *p = NULL;
    /* Parse outside the lock: a 64 KiB policy takes a while. */
    int rc = https_judge(req, status, reason, host, &p, &rpt, code, text,
                         sizeof(text));
    req_free(req);

    pthread_mutex_lock(&flight_shard(f)->lock);
    int64_t now = mtasts__engine_now(eng);
    if (rc == MTASTS_OK) {
        store_policy(f, now, p);
        if (eng->store_put != NULL) {
            share_policy(f, now); /* unlocks and locks again */
        }
    } else if (rc == MTASTS_ERR_NOMEM || rc == MTASTS_ERR_IO) {
        /* A local failure: no report, no back-off, the cache kept. */
        fail_keep_cache(f, now, rc, MTASTS_RPT_NONE, MTASTS_RPT_NONE, NULL,
                        text);
    } else {
        /* An invalid new policy never replaces a cached one (§3.3). */
        fetch_failed(f, now, rc, rpt, code, text);
    }
    finish(f);
    return MTASTS_OK;
}
