/* The public cache calls: snapshots, removal, idleness, persistence
 * (docs/cache.md, docs/cache-format.md). */
#include <string.h>

#include "cache/file.h"
#include "ctx/ctx.h"
#include "engine/store.h"
#include "util/alloc.h"
#include "util/cur.h"

int
mtasts_cache_snapshot_new(mtasts_ctx *ctx, mtasts_cache_snapshot **out)
{
    if (out != NULL) {
        *out = NULL;
    }
    if (ctx == NULL || out == NULL) {
        return MTASTS_ERR_INVALID;
    }
    return mtasts__cache_snapshot(&ctx->eng.cache, NULL, NULL, out);
}

static const struct mtasts__snap_item *
item(const mtasts_cache_snapshot *s, size_t i)
{
    return s != NULL && i < s->count ? &s->items[i] : NULL;
}

size_t
mtasts_cache_snapshot_count(const mtasts_cache_snapshot *s)
{
    return s != NULL ? s->count : 0;
}

const char *
mtasts_cache_snapshot_domain(const mtasts_cache_snapshot *s, size_t i)
{
    return item(s, i) != NULL ? mtasts__snapshot_domain(s, i) : NULL;
}

const char *
mtasts_cache_snapshot_txt_id(const mtasts_cache_snapshot *s, size_t i)
{
    const struct mtasts__snap_item *it = item(s, i);
    return it != NULL ? it->id : NULL;
}

mtasts_policy *
mtasts_cache_snapshot_policy(const mtasts_cache_snapshot *s, size_t i)
{
    const struct mtasts__snap_item *it = item(s, i);
    return it != NULL ? it->policy : NULL;
}

mtasts_mode
mtasts_cache_snapshot_mode(const mtasts_cache_snapshot *s, size_t i)
{
    return mtasts_policy_mode(mtasts_cache_snapshot_policy(s, i));
}

int64_t
mtasts_cache_snapshot_fetched_at(const mtasts_cache_snapshot *s, size_t i)
{
    const struct mtasts__snap_item *it = item(s, i);
    return it != NULL ? it->fetched_at : 0;
}

int64_t
mtasts_cache_snapshot_expires(const mtasts_cache_snapshot *s, size_t i)
{
    const struct mtasts__snap_item *it = item(s, i);
    return it != NULL ? it->expires : 0;
}

int64_t
mtasts_cache_snapshot_last_used(const mtasts_cache_snapshot *s, size_t i)
{
    const struct mtasts__snap_item *it = item(s, i);
    return it != NULL ? it->last_used : 0;
}

void
mtasts_cache_snapshot_free(mtasts_cache_snapshot *s)
{
    mtasts__snapshot_free(s);
}

int
mtasts_cache_remove(mtasts_ctx *ctx, const char *domain)
{
    if (ctx == NULL || domain == NULL) {
        return MTASTS_ERR_INVALID;
    }
    char norm[MTASTS_DOMAIN_BUFSIZE];
    int rc = mtasts_domain_normalize(domain, strlen(domain), norm, NULL);
    if (rc != MTASTS_OK) {
        return rc;
    }
    size_t len = strlen(norm);
    uint64_t hash = mtasts__cache_hash(&ctx->eng.cache, norm, len);
    struct mtasts__shard *sh = mtasts__cache_shard(&ctx->eng.cache, hash);
    pthread_mutex_lock(&sh->lock);
    struct mtasts__entry *e = mtasts__cache_peek(sh, norm, len, hash);
    if (e != NULL) {
        mtasts__cache_remove(sh, e);
    }
    pthread_mutex_unlock(&sh->lock);
    if (ctx->eng.store_delete != NULL) {
        /* The fleet forgets it too, cached here or not. */
        return mtasts__store_delete(&ctx->eng, norm);
    }
    return e != NULL ? MTASTS_OK : MTASTS_ERR_NOT_FOUND;
}

int
mtasts_cache_clear(mtasts_ctx *ctx, size_t *removed_out)
{
    if (removed_out != NULL) {
        *removed_out = 0;
    }
    if (ctx == NULL) {
        return MTASTS_ERR_INVALID;
    }
    size_t n = mtasts__cache_clear(&ctx->eng.cache);
    if (removed_out != NULL) {
        *removed_out = n;
    }
    return MTASTS_OK;
}

int
mtasts_ctx_set_cache_max_idle_s(mtasts_ctx *ctx, uint32_t seconds)
{
    if (ctx == NULL) {
        return MTASTS_ERR_INVALID;
    }
    ctx->eng.cache.max_idle_s = seconds;
    return MTASTS_OK;
}

int
mtasts_cache_remove_idle(mtasts_ctx *ctx, size_t *removed_out)
{
    if (removed_out != NULL) {
        *removed_out = 0;
    }
    if (ctx == NULL) {
        return MTASTS_ERR_INVALID;
    }
    int64_t now = mtasts__engine_now(&ctx->eng);
    size_t n = mtasts__cache_remove_idle(&ctx->eng.cache, now);
    if (removed_out != NULL) {
        *removed_out = n;
    }
    return MTASTS_OK;
}

int
mtasts_cache_save(mtasts_ctx *ctx, const char *path)
{
    if (ctx == NULL || path == NULL || path[0] == '\0') {
        return MTASTS_ERR_INVALID;
    }
    struct mtasts_cache_snapshot *s = NULL;
    int rc = mtasts__cache_snapshot(&ctx->eng.cache, NULL, NULL, &s);
    if (rc != MTASTS_OK) {
        return rc;
    }
    /* The file is written with no lock held. */
    rc = mtasts__cache_file_write(path, s, mtasts__engine_now(&ctx->eng));
    mtasts__snapshot_free(s);
    return rc;
}

int
mtasts_cache_load(mtasts_ctx *ctx, const char *path, mtasts_parse_error *err)
{
    mtasts__parse_error_clear(err);
    if (ctx == NULL || path == NULL) {
        mtasts__parse_error_note(err, "ctx or path is NULL");
        return MTASTS_ERR_INVALID;
    }
    int64_t now = mtasts__engine_now(&ctx->eng);
    struct mtasts__loaded l;
    int rc = mtasts__cache_file_read(&ctx->eng.cache, path, now,
                                     ctx->eng.cache.max_idle_s, &l, err);
    if (rc == MTASTS_OK) {
        rc =
            mtasts__cache_merge(&ctx->eng.cache, l.entry, l.hash, l.count, now);
        if (rc != MTASTS_OK) {
            mtasts__parse_error_note(err, "out of memory");
        }
    }
    mtasts__loaded_free(&l);
    return rc;
}

/* ---- proactive refresh ------------------------------------------------- */

struct due_params {
    struct mtasts__engine *eng;
    int64_t now;
    uint32_t used_within_s, expiring_within_s, recheck_after_s;
};

/* Whether an entry is due for a refresh (shard lock held). Each window
 * is widened by its own random share of the jitter. */
static bool
due(const struct mtasts__entry *e, void *user)
{
    const struct due_params *d = user;
    if (mtasts__entry_flight(e) != NULL) {
        return false; /* being looked up right now */
    }
    uint32_t jitter = d->eng->refresh_jitter_s;
    int64_t j = 0;
    if (jitter != 0) {
        j = (int64_t)(mtasts__engine_random(d->eng) % ((uint64_t)jitter + 1));
    }
    bool used = d->used_within_s == 0 ||
                d->now - e->last_used < (int64_t)d->used_within_s;
    bool expiring =
        d->expiring_within_s != 0 &&
        mtasts__entry_expires(e) - d->now <= (int64_t)d->expiring_within_s + j;
    bool unchecked =
        d->recheck_after_s != 0 &&
        d->now - e->txt_checked_at + j >= (int64_t)d->recheck_after_s;
    return (used && expiring) || unchecked;
}

int
mtasts_cache_due(mtasts_ctx *ctx, uint32_t used_within_s,
                 uint32_t expiring_within_s, uint32_t recheck_after_s,
                 mtasts_cache_snapshot **out)
{
    if (out != NULL) {
        *out = NULL;
    }
    if (ctx == NULL || out == NULL) {
        return MTASTS_ERR_INVALID;
    }
    struct due_params d = {
        .eng = &ctx->eng,
        .now = mtasts__engine_now(&ctx->eng),
        .used_within_s = used_within_s,
        .expiring_within_s = expiring_within_s,
        .recheck_after_s = recheck_after_s,
    };
    return mtasts__cache_snapshot(&ctx->eng.cache, due, &d, out);
}

int
mtasts_refresh_async(mtasts_ctx *ctx, const char *domain, mtasts_lookup_fn *cb,
                     void *user)
{
    if (ctx == NULL || domain == NULL || cb == NULL) {
        return MTASTS_ERR_INVALID;
    }
    return mtasts__engine_refresh(&ctx->eng, domain, cb, user);
}

int
mtasts_refresh(mtasts_ctx *ctx, const char *domain, mtasts_result **out)
{
    return mtasts__ctx_wait_result(ctx, domain, mtasts__engine_refresh, out);
}

int
mtasts_ctx_set_refresh_fetch_window_s(mtasts_ctx *ctx, uint32_t seconds)
{
    if (ctx == NULL || seconds > MTASTS_MAX_AGE_MAX) {
        return MTASTS_ERR_INVALID;
    }
    ctx->eng.refresh_fetch_s = seconds;
    return MTASTS_OK;
}

int
mtasts_ctx_set_refresh_jitter_s(mtasts_ctx *ctx, uint32_t seconds)
{
    if (ctx == NULL || seconds > MTASTS_MAX_AGE_MAX) {
        return MTASTS_ERR_INVALID;
    }
    ctx->eng.refresh_jitter_s = seconds;
    return MTASTS_OK;
}

int
mtasts_ctx_set_random_seed(mtasts_ctx *ctx, uint64_t seed)
{
    if (ctx == NULL) {
        return MTASTS_ERR_INVALID;
    }
    atomic_store(&ctx->eng.rng, seed);
    return MTASTS_OK;
}

/* ---- the second-level store -------------------------------------------- */

int
mtasts_ctx_set_store_hooks(mtasts_ctx *ctx, mtasts_store_get_fn *get,
                           mtasts_store_put_fn *put,
                           mtasts_store_delete_fn *del, void *user)
{
    bool all = get != NULL && put != NULL && del != NULL;
    bool none = get == NULL && put == NULL && del == NULL;
    if (ctx == NULL || !(all || none)) {
        return MTASTS_ERR_INVALID;
    }
    ctx->eng.store_get = get;
    ctx->eng.store_put = put;
    ctx->eng.store_delete = del;
    ctx->eng.store_user = all ? user : NULL;
    return MTASTS_OK;
}

int
mtasts_result_store_status(const mtasts_result *r)
{
    return r != NULL ? r->store_status : MTASTS_ERR_INVALID;
}

int
mtasts_ctx_set_alert_hook(mtasts_ctx *ctx, mtasts_alert_fn *fn, void *user)
{
    if (ctx == NULL) {
        return MTASTS_ERR_INVALID;
    }
    ctx->eng.alert_fn = fn;
    ctx->eng.alert_user = fn != NULL ? user : NULL;
    return MTASTS_OK;
}
