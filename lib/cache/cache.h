/* The in-memory policy cache: a hash table of per-domain entries with an
 * LRU bound. Not locked: the engine holds its lock around every call. */
#ifndef MTASTS_CACHE_CACHE_H
#define MTASTS_CACHE_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mtasts/mtasts.h"

#define MTASTS__REASON_MAX 256 /* bytes of a reason text, NUL included */

struct mtasts__flight;

/* What the cache knows of one policy domain (RFC 8461 §5). */
struct mtasts__entry {
    size_t domain_len;
    uint64_t hash;
    struct mtasts__entry *hnext;       /* bucket chain */
    struct mtasts__entry *prev, *next; /* LRU list, most recent first */

    /* the last successfully fetched policy (one reference), or NULL */
    mtasts_policy *policy;
    char id[MTASTS_ID_BUFSIZE]; /* its TXT id */
    int64_t fetched_at;
    int64_t expires;        /* fetched_at + max_age */
    int64_t txt_checked_at; /* last completed TXT query */

    /* no usable TXT record (and no usable policy) until this time */
    int64_t no_policy_until;
    char *no_policy_reason; /* allocated, or NULL */

    /* the last failed fetch, per (domain, id): no new fetch of failed_id
     * before backoff_until (RFC 8461 §3.3) */
    char failed_id[MTASTS_ID_BUFSIZE];
    int64_t backoff_until;
    int failed_status;
    mtasts_rpt_result failed_rpt;
    char *failed_reason; /* allocated, or NULL */

    struct mtasts__flight *flight; /* lookup in progress: never evicted */
    char domain[];                 /* normalised, NUL-terminated */
};

/* Replace an allocated reason text with a copy of text (NULL clears it).
 * On allocation failure the reason is cleared: it is advisory. */
void mtasts__entry_set_text(char **slot, const char *text);

struct mtasts__cache {
    struct mtasts__entry **buckets;
    size_t nbuckets; /* a power of two */
    size_t count;
    size_t capacity;
    struct mtasts__entry *head, *tail; /* LRU list */
};

int mtasts__cache_init(struct mtasts__cache *c, size_t capacity);
void mtasts__cache_destroy(struct mtasts__cache *c);

/* Hash of a normalised domain. */
uint64_t mtasts__cache_hash(const char *domain, size_t len);

/* The entry of a normalised domain, or NULL. Marks it most recently used. */
struct mtasts__entry *mtasts__cache_find(struct mtasts__cache *c,
                                         const char *domain, size_t len,
                                         uint64_t hash);

/* A new, empty entry for a domain not in the cache (checked by the
 * caller). May evict least recently used entries without a flight to stay
 * within capacity. NULL when out of memory. */
struct mtasts__entry *mtasts__cache_insert(struct mtasts__cache *c,
                                           const char *domain, size_t len,
                                           uint64_t hash);

/* Change the capacity, evicting as needed. */
void mtasts__cache_set_capacity(struct mtasts__cache *c, size_t capacity);

/* Whether the entry's policy may be applied at time now. */
static inline bool
mtasts__entry_usable(const struct mtasts__entry *e, int64_t now)
{
    return e->policy != NULL && now < e->expires;
}

#endif
