/* The second-level store (mtasts_ctx_set_store_hooks()): reading a
 * domain's record on a miss, writing it after a fetch, deleting it. The
 * hooks run with no lock held; every value read is checked like a cache
 * file's record (lib/cache/file.c) and must be the asked domain's. */
#include "engine/store.h"

#include <string.h>

#include "cache/file.h"
#include "util/alloc.h"

int
mtasts__store_get(const struct mtasts__engine *eng, const char *domain,
                  int64_t now, struct mtasts__stored *out)
{
    memset(out, 0, sizeof(*out));
    unsigned char *buf = mtasts__alloc(MTASTS_STORE_VALUE_MAX);
    if (buf == NULL) {
        return MTASTS_ERR_NOMEM;
    }
    size_t len = 0;
    int rc = eng->store_get(domain, buf, MTASTS_STORE_VALUE_MAX, &len,
                            eng->store_user);
    if (rc == MTASTS_OK && len > MTASTS_STORE_VALUE_MAX) {
        rc = MTASTS_ERR_STORE; /* a hook that says it wrote past cap */
    }
    if (rc == MTASTS_OK) {
        struct mtasts__record rec;
        size_t used = 0;
        rc = mtasts__record_decode(buf, len, 0, &used, &rec, NULL);
        if (rc == MTASTS_OK &&
            (used != len || rec.domain_len != strlen(domain) ||
             memcmp(rec.domain, domain, rec.domain_len) != 0)) {
            /* trailing bytes, or another domain's record */
            mtasts_policy_unref(rec.policy);
            rc = MTASTS_ERR_CACHE_CORRUPT;
        } else if (rc == MTASTS_ERR_CACHE_FORMAT) {
            rc = MTASTS_ERR_CACHE_CORRUPT;
        }
        if (rc == MTASTS_OK && now >= rec.expires) {
            mtasts_policy_unref(rec.policy); /* expired: as if absent */
            rc = MTASTS_ERR_NOT_FOUND;
        } else if (rc == MTASTS_OK) {
            out->policy = rec.policy;
            memcpy(out->id, rec.id, sizeof(out->id));
            out->fetched_at = rec.fetched_at;
            out->expires = rec.expires;
        }
    } else if (rc != MTASTS_ERR_NOT_FOUND) {
        rc = MTASTS_ERR_STORE;
    }
    mtasts__free(buf);
    return rc;
}

int
mtasts__store_put(const struct mtasts__engine *eng, const char *domain,
                  const struct mtasts__stored *v, int64_t last_used,
                  int64_t now)
{
    unsigned char *buf = mtasts__alloc(MTASTS_STORE_VALUE_MAX);
    if (buf == NULL) {
        return MTASTS_ERR_NOMEM;
    }
    size_t len = mtasts__record_encode_fields(
        domain, strlen(domain), v->id, v->policy, v->fetched_at, v->expires,
        last_used, buf);
    int64_t ttl = v->expires - now;
    int rc = eng->store_put(domain, buf, len, ttl > 0 ? ttl : 1,
                            eng->store_user);
    mtasts__free(buf);
    return rc == MTASTS_OK ? MTASTS_OK : MTASTS_ERR_STORE;
}

int
mtasts__store_delete(const struct mtasts__engine *eng, const char *domain)
{
    int rc = eng->store_delete(domain, eng->store_user);
    return rc == MTASTS_OK ? MTASTS_OK : MTASTS_ERR_STORE;
}
