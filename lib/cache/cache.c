/* glibc's adaptive mutex (PTHREAD_MUTEX_ADAPTIVE_NP) is a GNU extension;
 * elsewhere the shard locks are plain mutexes. */
#define _GNU_SOURCE 1

#include "cache/cache.h"

#include <assert.h>
#include <stddef.h>
#include <string.h>
#include <sys/random.h>
#include <sys/types.h>
#include <time.h>

#include "util/alloc.h"

#define INITIAL_BUCKETS 64

/* The memory figures of docs/cache.md rest on this (64-bit targets). */
_Static_assert(sizeof(void *) != 8 ||
                   offsetof(struct mtasts__entry, domain) == 83,
               "struct mtasts__entry grew: update docs/cache.md");
#define IDLE_SWEEP 8 /* idle entries dropped at most per insertion */
/* Entries removed alone that may wait in a shard's ring for the hand:
 * past a quarter of its live entries and this, one walk frees them. */
#define DEAD_SLACK 64

static size_t
shards_for(size_t capacity)
{
    size_t n = 1;
    while (n < MTASTS__SHARDS_MAX && capacity / (n * 2) >= MTASTS__SHARD_MIN) {
        n *= 2;
    }
    return n;
}

/* Each shard's share of the capacity, rounded up. */
static size_t
share(size_t capacity, size_t nshards)
{
    return (capacity + nshards - 1) / nshards;
}

/* A shard lock: held for a short look (a lookup hit is a probe and a
 * few stores), so a waiter first spins a little where the C library can
 * (glibc's adaptive mutex) instead of sleeping in the kernel at once. */
static int
lock_init(pthread_mutex_t *lock)
{
#ifdef PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP
    pthread_mutexattr_t attr;
    if (pthread_mutexattr_init(&attr) != 0) {
        return -1;
    }
    int rc = pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
    if (rc == 0) {
        rc = pthread_mutex_init(lock, &attr);
    }
    pthread_mutexattr_destroy(&attr);
    return rc;
#else
    return pthread_mutex_init(lock, NULL);
#endif
}

static int
shards_init(struct mtasts__shard *shards, size_t n, size_t capacity,
            uint64_t seed)
{
    for (size_t i = 0; i < n; i++) {
        struct mtasts__shard *sh = &shards[i];
        memset(sh, 0, sizeof(*sh));
        sh->buckets = mtasts__calloc(INITIAL_BUCKETS, sizeof(*sh->buckets));
        if (sh->buckets == NULL || lock_init(&sh->lock) != 0) {
            mtasts__free(sh->buckets);
            for (size_t j = 0; j < i; j++) {
                mtasts__free(shards[j].buckets);
                pthread_mutex_destroy(&shards[j].lock);
            }
            return MTASTS_ERR_NOMEM;
        }
        sh->nbuckets = INITIAL_BUCKETS;
        sh->capacity = share(capacity, n);
        sh->seed = seed;
    }
    return MTASTS_OK;
}

/* The shard array, aligned to 64 bytes as struct mtasts__shard asks
 * (malloc gives 16): allocated with room to align it and to keep the
 * allocation's address just before it, for shards_free(). Zeroed. */
static struct mtasts__shard *
shards_alloc(size_t n)
{
    size_t align = _Alignof(struct mtasts__shard);
    if (n > (SIZE_MAX - align - sizeof(void *)) / sizeof(struct mtasts__shard)) {
        return NULL;
    }
    size_t size = n * sizeof(struct mtasts__shard) + align + sizeof(void *);
    unsigned char *raw = mtasts__calloc(1, size);
    if (raw == NULL) {
        return NULL;
    }
    uintptr_t at = ((uintptr_t)(raw + sizeof(void *)) + align - 1) &
                   ~(uintptr_t)(align - 1);
    unsigned char *p = raw + (at - (uintptr_t)raw);
    memcpy(p - sizeof(void *), &raw, sizeof(raw));
    return (struct mtasts__shard *)(void *)p;
}

static void
shards_free(struct mtasts__shard *shards)
{
    if (shards != NULL) {
        void *raw;
        memcpy(&raw, (unsigned char *)shards - sizeof(void *), sizeof(raw));
        mtasts__free(raw);
    }
}

int
mtasts__cache_init(struct mtasts__cache *c, size_t capacity)
{
    memset(c, 0, sizeof(*c));
    c->seed = mtasts__hash_seed();
    size_t n = shards_for(capacity);
    c->shards = shards_alloc(n);
    if (c->shards == NULL) {
        return MTASTS_ERR_NOMEM;
    }
    int rc = shards_init(c->shards, n, capacity, c->seed);
    if (rc != MTASTS_OK) {
        shards_free(c->shards);
        c->shards = NULL;
        return rc;
    }
    c->nshards = n;
    c->capacity = capacity;
    c->max_idle_s = MTASTS__DEFAULT_MAX_IDLE_S;
    return MTASTS_OK;
}

_Static_assert((MTASTS_ID_BUFSIZE - 1) * 6 == MTASTS__ID_PACKED * 8 &&
                   (MTASTS_ID_BUFSIZE - 1) % 4 == 0,
               "an id of 32 characters is 24 bytes of 6-bit symbols");

/* The id symbols: 0 ends an id, 1 to 62 are the characters below; 63
 * never occurs (unpacked as an end too). */
static const char id_chars[64] =
    "\0"
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static unsigned
id_symbol(char ch)
{
    if (ch >= '0' && ch <= '9') {
        return 1u + (unsigned)(ch - '0');
    }
    if (ch >= 'A' && ch <= 'Z') {
        return 11u + (unsigned)(ch - 'A');
    }
    if (ch >= 'a' && ch <= 'z') {
        return 37u + (unsigned)(ch - 'a');
    }
    return 0;
}

bool
mtasts__id_pack(uint8_t out[MTASTS__ID_PACKED], const char *id)
{
    memset(out, 0, MTASTS__ID_PACKED);
    unsigned sym[MTASTS_ID_BUFSIZE - 1] = {0};
    size_t n = 0;
    for (; id[n] != '\0'; n++) {
        if (n == MTASTS_ID_BUFSIZE - 1) {
            return false; /* longer than 32 */
        }
        sym[n] = id_symbol(id[n]);
        if (sym[n] == 0) {
            return false; /* not a letter or digit */
        }
    }
    /* four symbols in three bytes, the first in the low bits */
    for (size_t k = 0; k < MTASTS_ID_BUFSIZE - 1; k += 4) {
        uint32_t w =
            sym[k] | sym[k + 1] << 6 | sym[k + 2] << 12 | sym[k + 3] << 18;
        out[k / 4 * 3] = (uint8_t)w;
        out[k / 4 * 3 + 1] = (uint8_t)(w >> 8);
        out[k / 4 * 3 + 2] = (uint8_t)(w >> 16);
    }
    return true;
}

void
mtasts__id_unpack(const uint8_t in[MTASTS__ID_PACKED],
                  char out[MTASTS_ID_BUFSIZE])
{
    size_t n = 0;
    for (size_t k = 0; k < MTASTS_ID_BUFSIZE - 1; k += 4) {
        uint32_t w = (uint32_t)in[k / 4 * 3] |
                     (uint32_t)in[k / 4 * 3 + 1] << 8 |
                     (uint32_t)in[k / 4 * 3 + 2] << 16;
        for (int j = 0; j < 4; j++) {
            char ch = id_chars[(w >> (6 * j)) & 63u];
            if (ch == '\0') {
                out[n] = '\0';
                return;
            }
            out[n++] = ch;
        }
    }
    out[n] = '\0';
}

void
mtasts__entry_set_id(struct mtasts__entry *e, const char *id)
{
    bool packed = mtasts__id_pack(e->id, id);
    assert(packed);
    (void)packed;
}

void
mtasts__entry_set_text(char **slot, const char *text)
{
    mtasts__free(*slot);
    *slot = NULL;
    if (text != NULL) {
        size_t n = strlen(text);
        *slot = mtasts__alloc(n + 1);
        if (*slot != NULL) {
            memcpy(*slot, text, n + 1);
        }
    }
}

struct mtasts__entry *
mtasts__entry_new(const char *domain, size_t len)
{
    /* The name right after the fixed part, not after sizeof's padding. */
    struct mtasts__entry *e =
        mtasts__calloc(1, offsetof(struct mtasts__entry, domain) + len + 1);
    if (e != NULL) {
        memcpy(e->domain, domain, len);
        e->domain[len] = '\0';
        e->domain_len = (uint16_t)len;
    }
    return e;
}

/* The head of the entry's flight (e->side has MTASTS__SIDE_FLIGHT). */
static struct mtasts__flight_head *
flight_head(const struct mtasts__entry *e)
{
    return (struct mtasts__flight_head *)(void *)mtasts__entry_flight(e);
}

struct mtasts__entry_extra *
mtasts__entry_extra_get(const struct mtasts__entry *e)
{
    if ((e->side & MTASTS__SIDE_FLIGHT) != 0) {
        return flight_head(e)->extra;
    }
    return (struct mtasts__entry_extra *)e->side;
}

/* Set the entry's extra part, in the entry or in its flight. */
static void
extra_put(struct mtasts__entry *e, struct mtasts__entry_extra *x)
{
    if ((e->side & MTASTS__SIDE_FLIGHT) != 0) {
        flight_head(e)->extra = x;
    } else {
        e->side = (uintptr_t)x;
    }
}

void
mtasts__entry_set_flight(struct mtasts__entry *e, struct mtasts__flight *f)
{
    if (f != NULL) {
        struct mtasts__flight_head *h = (struct mtasts__flight_head *)(void *)f;
        assert((e->side & MTASTS__SIDE_FLIGHT) == 0);
        assert(((uintptr_t)f & MTASTS__SIDE_FLIGHT) == 0);
        h->extra = (struct mtasts__entry_extra *)e->side;
        e->side = (uintptr_t)f | MTASTS__SIDE_FLIGHT;
    } else if ((e->side & MTASTS__SIDE_FLIGHT) != 0) {
        struct mtasts__flight_head *h = flight_head(e);
        e->side = (uintptr_t)h->extra;
        h->extra = NULL;
    }
}

struct mtasts__entry_extra *
mtasts__entry_extra(struct mtasts__entry *e)
{
    struct mtasts__entry_extra *x = mtasts__entry_extra_get(e);
    if (x == NULL) {
        x = mtasts__calloc(1, sizeof(*x));
        extra_put(e, x);
    }
    return x;
}

void
mtasts__entry_clear_extra(struct mtasts__entry *e)
{
    struct mtasts__entry_extra *x = mtasts__entry_extra_get(e);
    if (x != NULL) {
        mtasts__free(x->no_policy_reason);
        mtasts__free(x->failed_reason);
        mtasts__free(x);
        extra_put(e, NULL);
    }
}

void
mtasts__entry_free(struct mtasts__entry *e)
{
    if (e != NULL) {
        mtasts_policy_unref(e->policy);
        mtasts__entry_clear_extra(e);
        mtasts__free(e);
    }
}

/* Forget all an entry knows, keeping its identity, links and flight. */
static void
entry_reset(struct mtasts__entry *e)
{
    mtasts_policy_unref(e->policy);
    e->policy = NULL;
    memset(e->id, 0, sizeof(e->id));
    e->fetched_at = 0;
    e->txt_checked_at = 0;
    mtasts__entry_clear_extra(e);
}

static void
shard_destroy(struct mtasts__shard *sh)
{
    struct mtasts__entry *e = sh->last;
    for (size_t n = mtasts__shard_ring_len(sh); n > 0; n--) {
        struct mtasts__entry *next = e->next;
        mtasts__entry_free(e);
        e = next;
    }
    mtasts__free(sh->buckets);
    pthread_mutex_destroy(&sh->lock);
}

void
mtasts__cache_destroy(struct mtasts__cache *c)
{
    for (size_t i = 0; i < c->nshards; i++) {
        shard_destroy(&c->shards[i]);
    }
    shards_free(c->shards);
    memset(c, 0, sizeof(*c));
}

uint64_t
mtasts__hash_seed(void)
{
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed)) {
        /* No entropy yet (early boot): the clock and an address, which
         * an attacker outside the process does not see either. */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        seed = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15u ^
               (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)&seed;
    }
    return seed;
}

/* The 128-bit product of a and b, folded to 64 bits (high half xor low
 * half): every bit of both inputs reaches most bits of the output. */
static inline uint64_t
fold_mul(uint64_t a, uint64_t b)
{
#ifdef __SIZEOF_INT128__
    __extension__ typedef unsigned __int128 u128;
    u128 r = (u128)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
#else
    uint64_t al = a & 0xffffffffu, ah = a >> 32;
    uint64_t bl = b & 0xffffffffu, bh = b >> 32;
    uint64_t ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
    uint64_t mid = (ll >> 32) + (lh & 0xffffffffu) + (hl & 0xffffffffu);
    uint64_t lo = (ll & 0xffffffffu) | (mid << 32);
    uint64_t hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
    return lo ^ hi;
#endif
}

uint64_t
mtasts__hash(uint64_t seed, const char *s, size_t len)
{
    /* Keyed folded multiplication over 8-byte words (the construction of
     * foldhash and wyhash, written here from the idea): a word per step
     * instead of FNV's byte, and a secret seed per cache so that nobody
     * outside the process can pick names that collide (hash flooding).
     * Not a cryptographic PRF; enough to keep chains short. */
    const uint64_t k1 = seed ^ 0xa0761d6478bd642fu;
    const uint64_t k2 = (seed << 17 | seed >> 47) ^ 0xe7037ed1a0b428dbu;
    uint64_t h = fold_mul(seed ^ (uint64_t)len, k2 ^ 0x8ebc6af09c88c6e3u);
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = fold_mul(w ^ k1, h ^ k2);
        s += 8;
        len -= 8;
    }
    if (len > 0) {
        uint64_t w = 0;
        memcpy(&w, s, len);
        h = fold_mul(w ^ k2, h ^ k1);
    }
    return fold_mul(h ^ k1, k2 ^ 0x589965cc75374cc3u);
}

/* ---- the replacement ring ----------------------------------------------
 * A shard's entries form a ring linked one way, from the least to the most
 * recently placed: sh->last is the newest, and last->next the oldest,
 * where the CLOCK hand points. One link per entry instead of a doubly
 * linked list's two: placing an entry as the newest links it after last;
 * for the oldest entry that is just moving last on (the hand passes it).
 * Unlinking needs the predecessor, which the walks over many entries
 * (eviction, idle removal, clear) keep as they go. A lone removal
 * (mtasts__cache_remove()) has none at hand: it takes the entry out of
 * its bucket chain, empties it and leaves it in the ring, dead, for the
 * next walk to free (sh->dead counts them; the ring holds count + dead
 * entries). */

/* Link e, not in the ring, as the newest. */
static void
ring_push(struct mtasts__shard *sh, struct mtasts__entry *e)
{
    if (sh->last == NULL) {
        e->next = e;
    } else {
        e->next = sh->last->next;
        sh->last->next = e;
    }
    sh->last = e;
}

/* Unlink e, whose predecessor is pred (e itself when alone). */
static void
ring_unlink(struct mtasts__shard *sh, struct mtasts__entry *pred,
            struct mtasts__entry *e)
{
    if (pred == e) {
        sh->last = NULL;
    } else {
        pred->next = e->next;
        if (sh->last == e) {
            sh->last = pred;
        }
    }
    e->next = NULL;
}

/* Make e, whose predecessor is pred, the newest. */
static void
ring_to_newest(struct mtasts__shard *sh, struct mtasts__entry *pred,
               struct mtasts__entry *e)
{
    if (e == sh->last) {
        return;
    }
    if (pred == sh->last) {
        sh->last = e; /* the oldest: the hand moves past it */
        return;
    }
    ring_unlink(sh, pred, e);
    ring_push(sh, e);
}

/* Bucket chain links carry a few bits of the hash in the low bits of the
 * entry's address (malloc aligns entries to at least 8 bytes, 4 on some
 * 32-bit targets): a probe skips most entries of other names by their
 * link alone, without reading them (each entry read is a cache miss in a
 * large cache). The bits come from the top of the hash, which picks
 * neither the shard nor the bucket. */
#define LINK_TAG                                                               \
    ((uintptr_t)(_Alignof(struct mtasts__entry) >= 8 ? 7 : 3))

static inline uintptr_t
link_tag(uint64_t hash)
{
    return (uintptr_t)(hash >> 61) & LINK_TAG;
}

static inline uintptr_t
link_make(struct mtasts__entry *e, uint64_t hash)
{
    return (uintptr_t)e | link_tag(hash);
}

static inline struct mtasts__entry *
link_entry(uintptr_t link)
{
    return (struct mtasts__entry *)(link & ~LINK_TAG);
}

/* The chain link of a dead entry (removed alone, left in the ring): no
 * live entry's link is 1 (the end of a chain is 0, any other link holds
 * an entry's address). */
#define LINK_DEAD ((uintptr_t)1)

static inline bool
is_dead(const struct mtasts__entry *e)
{
    return e->hnext == LINK_DEAD;
}

/* Free the dead entry e, whose predecessor in the ring is pred. */
static void
drop_dead(struct mtasts__shard *sh, struct mtasts__entry *pred,
          struct mtasts__entry *e)
{
    ring_unlink(sh, pred, e);
    mtasts__entry_free(e);
    sh->dead--;
}

/* Ask for the cache lines of an entry that a probe for a name of len
 * bytes reads (from MTASTS__ENTRY_HOT to the end of the name: two lines
 * for a 20-byte name) together, so that their misses overlap instead of
 * following each other. A hint: no effect on the result, and no access
 * (a prefetch past the end of a shorter entry's block does not fault). */
static inline void
prefetch_entry(const struct mtasts__entry *e, size_t len)
{
    mtasts__prefetch((const char *)e + MTASTS__ENTRY_HOT);
    mtasts__prefetch(e->domain + len);
}

struct mtasts__entry *
mtasts__cache_peek(const struct mtasts__shard *sh, const char *domain,
                   size_t len, uint64_t hash)
{
    uintptr_t tag = link_tag(hash);
    uintptr_t link = sh->buckets[hash & (sh->nbuckets - 1)];
    while (link != 0) {
        struct mtasts__entry *e = link_entry(link);
        prefetch_entry(e, len);
        if ((link & LINK_TAG) == tag && e->domain_len == len &&
            memcmp(e->domain, domain, len) == 0) {
            return e;
        }
        link = e->hnext;
    }
    return NULL;
}

struct mtasts__entry *
mtasts__cache_find(struct mtasts__shard *sh, const char *domain, size_t len,
                   uint64_t hash)
{
    /* Second chance (CLOCK): a hit only marks the entry; eviction makes
     * marked entries the newest instead of dropping them. So a hit writes
     * to its own entry alone, not to its ring neighbours and the shard's
     * last (cache misses, and lines bouncing between threads).
     *
     * A hit found behind other entries of its chain moves to the chain's
     * head, so that the domains in use are found first: a probe that
     * walks past an entry loads it (its link to the next), a cache miss
     * when that entry is not in use. New entries go to the head too, so
     * without this the domains of a long-running MTA's working set sit
     * behind the ones added since. The entries walked past are loaded
     * already, and a hit at the head writes nothing more. */
    uintptr_t tag = link_tag(hash);
    uintptr_t *head = &sh->buckets[hash & (sh->nbuckets - 1)];
    for (uintptr_t *pp = head; *pp != 0;) {
        uintptr_t link = *pp;
        struct mtasts__entry *e = link_entry(link);
        prefetch_entry(e, len);
        if ((link & LINK_TAG) == tag && e->domain_len == len &&
            memcmp(e->domain, domain, len) == 0) {
            if (pp != head) {
                *pp = e->hnext;
                e->hnext = *head;
                *head = link;
            }
            if (!e->referenced) {
                e->referenced = true; /* a line written only when it changes */
            }
            return e;
        }
        pp = &e->hnext;
    }
    return NULL;
}

static void
bucket_remove(struct mtasts__shard *sh, struct mtasts__entry *e)
{
    uint64_t hash = mtasts__hash(sh->seed, e->domain, e->domain_len);
    uintptr_t *pp = &sh->buckets[hash & (sh->nbuckets - 1)];
    while (link_entry(*pp) != e) {
        pp = &link_entry(*pp)->hnext;
    }
    *pp = e->hnext;
}

/* Put e at the head of its chain in a table of n buckets. */
static void
bucket_put(uintptr_t *buckets, size_t n, uint64_t seed,
           struct mtasts__entry *e)
{
    uint64_t hash = mtasts__hash(seed, e->domain, e->domain_len);
    size_t b = hash & (n - 1);
    e->hnext = buckets[b];
    buckets[b] = link_make(e, hash);
}

static void
bucket_add(struct mtasts__shard *sh, struct mtasts__entry *e)
{
    bucket_put(sh->buckets, sh->nbuckets, sh->seed, e);
}

/* Remove e, whose predecessor in the ring is pred (as
 * mtasts__cache_remove()); true if it left the ring, false if it stays
 * (emptied, for its flight). */
static bool
remove_after(struct mtasts__shard *sh, struct mtasts__entry *pred,
             struct mtasts__entry *e)
{
    if (mtasts__entry_flight(e) != NULL) {
        entry_reset(e);
        return false;
    }
    bucket_remove(sh, e);
    ring_unlink(sh, pred, e);
    mtasts__entry_free(e);
    sh->count--;
    return true;
}

/* Free every dead entry of the shard: one walk of its ring. */
static void
purge_dead(struct mtasts__shard *sh)
{
    struct mtasts__entry *pred = sh->last;
    for (size_t n = mtasts__shard_ring_len(sh); n > 0 && sh->dead > 0; n--) {
        struct mtasts__entry *e = pred->next;
        if (is_dead(e)) {
            drop_dead(sh, pred, e);
        } else {
            pred = e;
        }
    }
}

void
mtasts__cache_remove(struct mtasts__shard *sh, struct mtasts__entry *e)
{
    entry_reset(e);
    if (mtasts__entry_flight(e) != NULL) {
        return; /* it stays, for its flight */
    }
    /* Out of its chain (no lookup finds it), emptied, and left in the
     * ring: unlinking it there would take a walk to its predecessor. */
    bucket_remove(sh, e);
    e->hnext = LINK_DEAD;
    e->referenced = false;
    sh->count--;
    sh->dead++;
    if (sh->dead > sh->count / 4 + DEAD_SLACK) {
        purge_dead(sh); /* once per a quarter of the shard's removals */
    }
}

/* Drop least recently used entries until count <= limit; entries with a
 * lookup in flight stay. An entry used since it was last placed gets a
 * second chance: it becomes the newest, unmarked. Each entry is passed at
 * most twice, so this ends. The hand moves from the oldest entry towards
 * the newest and on round the ring. */
static void
evict_to(struct mtasts__shard *sh, size_t limit)
{
    size_t budget = 2 * mtasts__shard_ring_len(sh) + 2;
    struct mtasts__entry *pred = sh->last;
    while (sh->count > limit && budget-- > 0 && pred != NULL) {
        struct mtasts__entry *e = pred->next;
        if (is_dead(e)) {
            drop_dead(sh, pred, e);
            if (sh->last == NULL) {
                pred = NULL;
            }
        } else if (e->referenced) {
            e->referenced = false;
            ring_to_newest(sh, pred, e);
            if (pred->next == e) {
                pred = e; /* it stayed where it was, as the newest */
            }
        } else if (mtasts__entry_flight(e) == NULL) {
            remove_after(sh, pred, e);
            if (sh->last == NULL) {
                pred = NULL;
            }
        } else {
            pred = e; /* in flight: passed over */
        }
    }
}

static bool
idle(const struct mtasts__cache *c, const struct mtasts__entry *e, int64_t now)
{
    return c->max_idle_s != 0 && mtasts__entry_flight(e) == NULL &&
           now - e->last_used >= (int64_t)c->max_idle_s;
}

/* Drop up to IDLE_SWEEP idle entries from the oldest end: the ring is in
 * order of use, so this keeps a busy cache free of idle entries at a
 * bounded cost per insertion. */
static void
sweep_idle(const struct mtasts__cache *c, struct mtasts__shard *sh,
           int64_t now)
{
    for (int i = 0; i < IDLE_SWEEP && sh->last != NULL; i++) {
        struct mtasts__entry *oldest = sh->last->next;
        if (is_dead(oldest)) {
            drop_dead(sh, sh->last, oldest);
            continue;
        }
        if (!idle(c, oldest, now)) {
            return;
        }
        remove_after(sh, sh->last, oldest);
    }
}

/* Rehash the shard into n buckets (a power of two); a failed allocation
 * keeps the old table (longer chains, still correct). */
static void
grow_to(struct mtasts__shard *sh, size_t n)
{
    uintptr_t *b = mtasts__calloc(n, sizeof(*b));
    if (b == NULL) {
        return;
    }
    for (size_t i = 0; i < sh->nbuckets; i++) {
        uintptr_t link = sh->buckets[i];
        while (link != 0) {
            struct mtasts__entry *e = link_entry(link);
            link = e->hnext;
            bucket_put(b, n, sh->seed, e);
        }
    }
    mtasts__free(sh->buckets);
    sh->buckets = b;
    sh->nbuckets = n;
}

/* Double the bucket array when the load passes 1. */
static void
maybe_grow(struct mtasts__shard *sh)
{
    if (sh->count >= sh->nbuckets) {
        grow_to(sh, sh->nbuckets * 2);
    }
}

void
mtasts__cache_reserve(struct mtasts__cache *c, size_t more)
{
    for (size_t i = 0; i < c->nshards; i++) {
        struct mtasts__shard *sh = &c->shards[i];
        pthread_mutex_lock(&sh->lock);
        /* this shard's share, never more than the shard will hold (its
         * capacity, or what it holds now if lookups in flight keep it
         * above); the table then has as many buckets as a cache filled
         * one by one (a shard that the hash gives more doubles once more) */
        size_t need = sh->count + more / c->nshards + 1;
        size_t most = sh->count > sh->capacity ? sh->count : sh->capacity;
        if (need > most) {
            need = most;
        }
        size_t n = sh->nbuckets;
        while (n <= need && n <= SIZE_MAX / 2 / sizeof(uintptr_t)) {
            n *= 2;
        }
        if (n > sh->nbuckets) {
            grow_to(sh, n);
        }
        pthread_mutex_unlock(&sh->lock);
    }
}

void
mtasts__cache_link(const struct mtasts__cache *c, struct mtasts__shard *sh,
                   struct mtasts__entry *e, int64_t now)
{
    sweep_idle(c, sh, now);
    if (sh->count >= sh->capacity) {
        evict_to(sh, sh->capacity - 1);
    }
    maybe_grow(sh);
    bucket_add(sh, e);
    ring_push(sh, e);
    sh->count++;
}

struct mtasts__entry *
mtasts__cache_insert(const struct mtasts__cache *c, struct mtasts__shard *sh,
                     const char *domain, size_t len, uint64_t hash,
                     int64_t now)
{
    (void)hash; /* the caller found the shard with it */
    struct mtasts__entry *e = mtasts__entry_new(domain, len);
    if (e != NULL) {
        e->last_used = now;
        mtasts__cache_link(c, sh, e, now);
    }
    return e;
}

static bool
always(const struct mtasts__cache *c, const struct mtasts__entry *e,
       int64_t now)
{
    (void)c;
    (void)e;
    (void)now;
    return true;
}

/* Remove every entry match accepts, shard by shard; the number removed.
 * The whole of each ring is walked: a merge from a file may leave it out
 * of order of use. */
static size_t
remove_where(struct mtasts__cache *c,
             bool (*match)(const struct mtasts__cache *,
                           const struct mtasts__entry *, int64_t),
             int64_t now)
{
    size_t removed = 0;
    for (size_t i = 0; i < c->nshards; i++) {
        struct mtasts__shard *sh = &c->shards[i];
        pthread_mutex_lock(&sh->lock);
        struct mtasts__entry *pred = sh->last;
        for (size_t n = mtasts__shard_ring_len(sh); n > 0; n--) {
            struct mtasts__entry *e = pred->next;
            bool stays = true;
            if (is_dead(e)) {
                drop_dead(sh, pred, e);
                stays = false;
            } else if (match(c, e, now)) {
                stays = !remove_after(sh, pred, e);
                removed++;
            }
            if (stays) {
                pred = e;
            }
        }
        pthread_mutex_unlock(&sh->lock);
    }
    return removed;
}

size_t
mtasts__cache_clear(struct mtasts__cache *c)
{
    return remove_where(c, always, 0);
}

size_t
mtasts__cache_remove_idle(struct mtasts__cache *c, int64_t now)
{
    return remove_where(c, idle, now);
}

static void
lock_all(struct mtasts__cache *c)
{
    for (size_t i = 0; i < c->nshards; i++) {
        pthread_mutex_lock(&c->shards[i].lock);
    }
}

static void
unlock_all(struct mtasts__cache *c)
{
    for (size_t i = 0; i < c->nshards; i++) {
        pthread_mutex_unlock(&c->shards[i].lock);
    }
}

static bool
any_flight(const struct mtasts__cache *c)
{
    for (size_t i = 0; i < c->nshards; i++) {
        const struct mtasts__entry *e = c->shards[i].last;
        for (size_t n = mtasts__shard_ring_len(&c->shards[i]); n > 0; n--) {
            if (mtasts__entry_flight(e) != NULL) {
                return true;
            }
            e = e->next;
        }
    }
    return false;
}

/* Move every entry into new shards (all locks held, no flight). Each old
 * shard's order of use is kept; the shards' rings are interleaved. */
static void
reshard(struct mtasts__cache *c, struct mtasts__shard *shards, size_t n)
{
    struct mtasts__cache next = *c;
    next.shards = shards;
    next.nshards = n;
    for (size_t i = 0; i < c->nshards; i++) {
        const struct mtasts__shard *from = &c->shards[i];
        /* oldest first, each placed as the newest of its new shard */
        struct mtasts__entry *e = from->last != NULL ? from->last->next : NULL;
        for (size_t k = mtasts__shard_ring_len(from); k > 0; k--) {
            struct mtasts__entry *older_next = e->next;
            if (is_dead(e)) {
                mtasts__entry_free(e); /* not moved */
                e = older_next;
                continue;
            }
            struct mtasts__shard *to =
                mtasts__cache_shard(&next, mtasts__entry_hash(c, e));
            maybe_grow(to);
            bucket_add(to, e);
            ring_push(to, e);
            to->count++;
            e = older_next;
        }
        mtasts__free(c->shards[i].buckets);
        pthread_mutex_unlock(&c->shards[i].lock);
        pthread_mutex_destroy(&c->shards[i].lock);
    }
    shards_free(c->shards);
    c->shards = shards;
    c->nshards = n;
}

void
mtasts__cache_set_capacity(struct mtasts__cache *c, size_t capacity)
{
    size_t n = shards_for(capacity);
    struct mtasts__shard *shards = NULL;
    if (n != c->nshards) {
        shards = shards_alloc(n);
        if (shards != NULL &&
            shards_init(shards, n, capacity, c->seed) != MTASTS_OK) {
            shards_free(shards);
            shards = NULL;
        }
    }
    lock_all(c);
    c->capacity = capacity;
    if (shards != NULL && !any_flight(c)) {
        reshard(c, shards, n); /* unlocks and frees the old shards */
        shards = NULL;
        lock_all(c);
    }
    for (size_t i = 0; i < c->nshards; i++) {
        c->shards[i].capacity = share(capacity, c->nshards);
        evict_to(&c->shards[i], c->shards[i].capacity);
    }
    unlock_all(c);
    if (shards != NULL) {
        for (size_t i = 0; i < n; i++) {
            mtasts__free(shards[i].buckets);
            pthread_mutex_destroy(&shards[i].lock);
        }
        shards_free(shards);
    }
}
