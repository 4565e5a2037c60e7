/* The second-level store: the engine's side of the store hooks. */
#ifndef MTASTS_ENGINE_STORE_H
#define MTASTS_ENGINE_STORE_H

#include <stdint.h>

#include "engine/engine.h"

/* A policy as the store holds it. */
struct mtasts__stored {
    mtasts_policy *policy; /* one reference (get), or borrowed (put) */
    char id[MTASTS_ID_BUFSIZE];
    int64_t fetched_at;
    int64_t expires;
};

/* Read and check a domain's value (eng->store_get set): MTASTS_OK and *out
 * (the caller releases out->policy), MTASTS_ERR_NOT_FOUND (none, or
 * expired at now), MTASTS_ERR_CACHE_CORRUPT (refused: bad record, another
 * domain's), MTASTS_ERR_STORE (the hook failed), MTASTS_ERR_NOMEM. */
int mtasts__store_get(const struct mtasts__engine *eng, const char *domain,
                      int64_t now, struct mtasts__stored *out);

/* Write a domain's policy: MTASTS_OK, MTASTS_ERR_STORE, MTASTS_ERR_NOMEM. */
int mtasts__store_put(const struct mtasts__engine *eng, const char *domain,
                      const struct mtasts__stored *v, int64_t last_used,
                      int64_t now);

/* Delete a domain's value: MTASTS_OK or MTASTS_ERR_STORE. */
int mtasts__store_delete(const struct mtasts__engine *eng, const char *domain);

#endif
