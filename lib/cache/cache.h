/* The in-memory policy cache: per-domain entries in a hash table split in
 * shards, each with its own lock, hash buckets and replacement ring, so that
 * lookups of different domains rarely meet on a lock (docs/cache.md).
 *
 * Locking: every function that takes a shard expects its lock held by the
 * caller; the functions that take the whole cache lock each shard in turn
 * themselves, unless said otherwise. */
#ifndef MTASTS_CACHE_CACHE_H
#define MTASTS_CACHE_CACHE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mtasts/mtasts.h"

#define MTASTS__REASON_MAX 256 /* bytes of a reason text, NUL included */
#define MTASTS__SHARDS_MAX 64  /* shards of a large cache */
#define MTASTS__SHARD_MIN 1024 /* fewest entries a shard is meant to hold */
#define MTASTS__DEFAULT_MAX_IDLE_S (180u * 86400u) /* 180 days */

struct mtasts__flight;

/* A TXT id packed in 6 bits per character (RFC 8461 §3.1: sts-id =
 * 1*32(ALPHA / DIGIT), 62 symbols, so each fits in 6 bits with a value to
 * spare that ends a shorter id): 32 characters in 24 bytes instead of 33,
 * exactly, no id ever truncated. All zero bytes are the empty id. */
#define MTASTS__ID_PACKED 24

/* Pack id, NUL-terminated: true, or false (out all zero) when id is not
 * empty nor 1 to 32 ASCII letters and digits. The packing is canonical:
 * two ids are equal if and only if their packed forms are. */
bool mtasts__id_pack(uint8_t out[MTASTS__ID_PACKED], const char *id);

/* The id that mtasts__id_pack() packed, NUL-terminated. */
void mtasts__id_unpack(const uint8_t in[MTASTS__ID_PACKED],
                       char out[MTASTS_ID_BUFSIZE]);

struct mtasts__entry;

/* Set an entry's TXT id to one that passed the sts-id grammar (a TXT
 * record's, or a cache file or store record's); asserted. Were it not
 * one, the entry would hold the empty id, which matches no record: the
 * next lookup would fetch again, never apply a policy to the wrong id. */
void mtasts__entry_set_id(struct mtasts__entry *e, const char *id);

/* What an entry remembers of failures: allocated only when there is
 * something to remember, so that the common entry (a policy, no trouble)
 * stays small. */
/* Room for a failure's reason code (mtasts_result_reason_code()), e.g.
 * "http-status-404", with its NUL. */
#define MTASTS__CODE_MAX 32

struct mtasts__entry_extra {
    /* no usable TXT record (and no usable policy) until this time */
    int64_t no_policy_until;
    char *no_policy_reason; /* allocated, or NULL */
    char no_policy_code[MTASTS__CODE_MAX];

    /* the last failed fetch, per (domain, id): no new fetch of failed_id
     * before backoff_until (RFC 8461 §3.3) */
    char failed_id[MTASTS_ID_BUFSIZE];
    int64_t backoff_until;
    int failed_status;
    mtasts_rpt_result failed_rpt;
    char *failed_reason; /* allocated, or NULL */
    char failed_code[MTASTS__CODE_MAX];
};

/* The head of a lookup in flight: the engine's struct mtasts__flight
 * begins with it. While a flight runs, the failures its entry remembers
 * hang here, so that one pointer of the entry serves both (they are both
 * rare: most entries hold a policy, no trouble, and no lookup). */
struct mtasts__flight_head {
    struct mtasts__entry_extra *extra; /* failures remembered, or NULL */
};

/* A hint that memory at p will be read soon: no effect on results, never
 * faults. */
static inline void
mtasts__prefetch(const void *p)
{
#if defined(__GNUC__) || defined(__clang__)
    __builtin_prefetch(p);
#else
    (void)p;
#endif
}

/* What the cache knows of one policy domain (RFC 8461 §5). Laid out
 * without holes, 83 bytes before the name: with a name of up to 21 bytes
 * (NUL included) the entry is a 112-byte malloc block (docs/cache.md),
 * with up to 37 bytes a 128-byte one. The hash is
 * not kept: it is computed again from the name when needed (growing the
 * table, finding a flight's shard), which is rare.
 *
 * A cached lookup reads bytes 32 to the end of the name (the chain link,
 * the name, the policy, the flight and the times) and nothing before: the
 * ring link and the TXT id, which only eviction, refreshes and snapshots
 * read, come first. For a 20-byte name those are 71 bytes, so exactly two
 * cache lines wherever malloc places the block (16-byte aligned; with
 * the cold fields last it would be three half of the time), and the probe
 * asks for both at once (mtasts__cache_peek()). */
struct mtasts__entry {
    /* cold: eviction, refresh, snapshots */

    /* replacement ring (cache.c): the next newer entry; the newest's
     * next is the oldest */
    struct mtasts__entry *next;
    uint8_t id[MTASTS__ID_PACKED]; /* the policy's TXT id: mtasts__id_pack() */

    /* hot: every cached lookup */

    /* the last successfully fetched policy (one reference), or NULL */
    mtasts_policy *policy;
    /* NULL; or the failures remembered (a struct mtasts__entry_extra *,
     * low bit 0); or, low bit 1, the lookup in progress (never freed),
     * which holds them meanwhile. Read through mtasts__entry_flight() and
     * mtasts__entry_extra_get(). */
    uintptr_t side;
    int64_t fetched_at;     /* expiry: mtasts__entry_expires() */
    int64_t txt_checked_at; /* last completed TXT query */
    int64_t last_used;      /* last lookup (refreshes do not count) */
    uintptr_t hnext; /* bucket chain: a link (cache.c), next entry | tag */
    uint16_t domain_len;
    bool referenced; /* used since last placed in the ring (CLOCK) */
    char domain[]; /* normalised, NUL-terminated */
};

/* Where a cached lookup starts reading an entry (see above). */
#define MTASTS__ENTRY_HOT offsetof(struct mtasts__entry, policy)

#define MTASTS__SIDE_FLIGHT ((uintptr_t)1) /* e->side is a flight */

/* The entry's lookup in progress, or NULL. */
static inline struct mtasts__flight *
mtasts__entry_flight(const struct mtasts__entry *e)
{
    return (e->side & MTASTS__SIDE_FLIGHT) != 0
               ? (struct mtasts__flight *)(e->side & ~MTASTS__SIDE_FLIGHT)
               : NULL;
}

/* Start (f, which begins with a struct mtasts__flight_head) or end (NULL)
 * the entry's lookup in progress; the failures remembered move into the
 * flight and back. */
void mtasts__entry_set_flight(struct mtasts__entry *e,
                              struct mtasts__flight *f);

/* The entry's extra part, or NULL when it remembers no failure. */
struct mtasts__entry_extra *
mtasts__entry_extra_get(const struct mtasts__entry *e);

/* The entry's extra part, allocated (zeroed) if need be; NULL when out of
 * memory (what it would remember is advisory). */
struct mtasts__entry_extra *mtasts__entry_extra(struct mtasts__entry *e);

/* Forget every failure the entry remembers. */
void mtasts__entry_clear_extra(struct mtasts__entry *e);

/* Replace an allocated reason text with a copy of text (NULL clears it).
 * On allocation failure the reason is cleared: it is advisory. */
void mtasts__entry_set_text(char **slot, const char *text);

/* Each shard on cache lines of its own (64 bytes), so that threads
 * working in neighbouring shards do not pull each other's locks. */
struct mtasts__shard {
    _Alignas(64) pthread_mutex_t lock; /* guards everything below, and the
                                         * entries */
    uint64_t seed; /* the cache's hash seed */
    uintptr_t *buckets; /* links to the first entry of each chain */
    size_t nbuckets; /* a power of two */
    size_t count;
    size_t capacity;
    /* the replacement ring: the most recently placed entry (NULL when
     * empty); last->next is the least recently placed, the CLOCK hand */
    struct mtasts__entry *last;
    /* entries removed alone, left in the ring (not in the buckets, not
     * counted in count) until a walk frees them (cache.c) */
    size_t dead;
};

/* The entries in a shard's ring: the live ones and the dead. */
static inline size_t
mtasts__shard_ring_len(const struct mtasts__shard *sh)
{
    return sh->count + sh->dead;
}

struct mtasts__cache {
    struct mtasts__shard *shards;
    size_t nshards; /* a power of two; changed only by set_capacity */
    size_t capacity;
    uint32_t max_idle_s; /* 0: no removal for idleness */
    uint64_t seed;       /* of the domain hash: random, fixed for life */
};

int mtasts__cache_init(struct mtasts__cache *c, size_t capacity);
void mtasts__cache_destroy(struct mtasts__cache *c);

/* A random hash seed (getrandom(), or the clock and an address). */
uint64_t mtasts__hash_seed(void);

/* A keyed hash of len bytes (not a cryptographic one). */
uint64_t mtasts__hash(uint64_t seed, const char *s, size_t len);

/* Hash of a normalised domain, keyed with the cache's secret seed (hash
 * flooding). The high half picks the shard, the low bits the bucket. */
static inline uint64_t
mtasts__cache_hash(const struct mtasts__cache *c, const char *domain,
                   size_t len)
{
    return mtasts__hash(c->seed, domain, len);
}

/* The shard of a hash (lock it before touching its entries). */
static inline struct mtasts__shard *
mtasts__cache_shard(const struct mtasts__cache *c, uint64_t hash)
{
    return &c->shards[(hash >> 32) & (c->nshards - 1)];
}

/* The entry of a normalised domain in its shard, or NULL. Marks it used:
 * the replacement order is kept by second chance (CLOCK), so it is
 * updated when entries are evicted, not on every hit. */
struct mtasts__entry *mtasts__cache_find(struct mtasts__shard *sh,
                                         const char *domain, size_t len,
                                         uint64_t hash);

/* The same without marking it used (refreshes, removal). */
struct mtasts__entry *mtasts__cache_peek(const struct mtasts__shard *sh,
                                         const char *domain, size_t len,
                                         uint64_t hash);

/* The hash of an entry's domain (mtasts__cache_hash()). */
static inline uint64_t
mtasts__entry_hash(const struct mtasts__cache *c, const struct mtasts__entry *e)
{
    return mtasts__cache_hash(c, e->domain, e->domain_len);
}

/* A new entry, not linked anywhere; NULL when out of memory. */
struct mtasts__entry *mtasts__entry_new(const char *domain, size_t len);
void mtasts__entry_free(struct mtasts__entry *e);

/* Link an entry made by mtasts__entry_new() (for a domain not in the
 * shard, checked by the caller) as the most recently used. First drops
 * entries without a flight to stay within the shard's capacity, and a few
 * idle ones (unused for max_idle_s by now) from the LRU end. Never fails. */
void mtasts__cache_link(const struct mtasts__cache *c, struct mtasts__shard *sh,
                        struct mtasts__entry *e, int64_t now);

/* mtasts__entry_new() then mtasts__cache_link(); NULL when out of memory. */
struct mtasts__entry *mtasts__cache_insert(const struct mtasts__cache *c,
                                           struct mtasts__shard *sh,
                                           const char *domain, size_t len,
                                           uint64_t hash, int64_t now);

/* Make room in the bucket arrays for about `more` new entries spread over
 * the shards (bounded by each shard's capacity), so that a large merge
 * rehashes nothing on the way (each growth walks every entry of the
 * shard, a cache miss each). Takes the shard locks; a failed allocation
 * leaves a shard as it was. A hint: no effect on what is cached. */
void mtasts__cache_reserve(struct mtasts__cache *c, size_t more);

/* Remove an entry: emptied of all it knows; with a lookup in flight it
 * stays so (the flight keeps a valid entry and finishes as if nothing had
 * been cached); else it leaves its bucket chain and stays in the ring,
 * dead, until the next walk over the ring (eviction, idle removal, clear)
 * frees it, or until the shard's dead entries outnumber a quarter of its
 * live ones (and 64), when one walk frees them all: O(1) amortised. */
void mtasts__cache_remove(struct mtasts__shard *sh, struct mtasts__entry *e);

/* Remove every entry (lock taken per shard); the number removed. */
size_t mtasts__cache_clear(struct mtasts__cache *c);

/* Remove every entry not used since now - max_idle_s (lock taken per
 * shard); the number removed. Nothing with max_idle_s 0. */
size_t mtasts__cache_remove_idle(struct mtasts__cache *c, int64_t now);

/* Change the capacity, evicting as needed, and the number of shards
 * (unless a lookup is in flight or memory is short: then the shards stay
 * and each gets its share). Takes every shard lock itself; no lookup may
 * run concurrently (it is a "per ctx" setter). */
void mtasts__cache_set_capacity(struct mtasts__cache *c, size_t capacity);

/* When the entry's policy expires: fetched_at + max_age (RFC 8461 §3.2),
 * computed rather than kept, since every writer sets it so (a fetch, a
 * cache file or a store value, which file.c refuses otherwise); 0 without
 * a policy. */
static inline int64_t
mtasts__entry_expires(const struct mtasts__entry *e)
{
    return e->policy != NULL
               ? e->fetched_at + (int64_t)mtasts_policy_max_age(e->policy)
               : 0;
}

/* Whether the entry's policy may be applied at time now. */
static inline bool
mtasts__entry_usable(const struct mtasts__entry *e, int64_t now)
{
    return e->policy != NULL && now < mtasts__entry_expires(e);
}

/* ---- snapshots (struct mtasts_cache_snapshot) --------------------------
 * A copy of what the cache holds for some domains: one reference to each
 * policy, the TXT id, the times, the domain. Built under the shard locks,
 * read without any. */

struct mtasts__snap_item {
    mtasts_policy *policy; /* one reference */
    int64_t fetched_at;
    int64_t expires;
    int64_t last_used;
    size_t domain_off; /* into names */
    size_t domain_len;
    char id[MTASTS_ID_BUFSIZE];
};

struct mtasts_cache_snapshot {
    struct mtasts__snap_item *items;
    size_t count, cap;
    char *names; /* the domains, each NUL-terminated */
    size_t names_len, names_cap;
};

/* Which entries a snapshot takes (called with the shard lock held). */
typedef bool mtasts__snap_filter_fn(const struct mtasts__entry *e, void *user);

/* An empty snapshot; NULL when out of memory. */
struct mtasts_cache_snapshot *mtasts__snapshot_new(void);
void mtasts__snapshot_free(struct mtasts_cache_snapshot *s);

/* Append an item (the policy reference is taken; the domain is copied). */
int mtasts__snapshot_add(struct mtasts_cache_snapshot *s, mtasts_policy *policy,
                         const char *id, const char *domain, size_t domain_len,
                         int64_t fetched_at, int64_t expires,
                         int64_t last_used);

/* A snapshot of the entries holding a policy (expired ones included) that
 * filter accepts (NULL: all), most recently used first within each shard.
 * MTASTS_OK or MTASTS_ERR_NOMEM (*out NULL). Takes the shard locks. */
int mtasts__cache_snapshot(struct mtasts__cache *c,
                           mtasts__snap_filter_fn *filter, void *user,
                           struct mtasts_cache_snapshot **out);

static inline const char *
mtasts__snapshot_domain(const struct mtasts_cache_snapshot *s, size_t i)
{
    return s->names + s->items[i].domain_off;
}

/* Merge count new entries (mtasts__entry_new(), linked nowhere, each
 * holding a policy, with hash[i] its mtasts__entry_hash()) into the
 * cache: one whose domain is not cached goes in as it is; one whose
 * domain is cached without a policy or with an older fetch time gives
 * the cached entry its policy, id and fetch time; the last use is the
 * later of the two. Taken last to first, so the first ends most recently
 * used. MTASTS_OK: every entry was linked or freed, and entry[] is all
 * NULL. MTASTS_ERR_NOMEM: nothing changed, the entries are the
 * caller's. Takes the shard locks. */
int mtasts__cache_merge(struct mtasts__cache *c, struct mtasts__entry **entry,
                        const uint64_t *hash, size_t count, int64_t now);

#endif
