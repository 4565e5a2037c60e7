#include "cache/cache.h"

#include <string.h>

#include "util/alloc.h"

#define INITIAL_BUCKETS 64

int
mtasts__cache_init(struct mtasts__cache *c, size_t capacity)
{
    memset(c, 0, sizeof(*c));
    c->buckets = mtasts__calloc(INITIAL_BUCKETS, sizeof(*c->buckets));
    if (c->buckets == NULL) {
        return MTASTS_ERR_NOMEM;
    }
    c->nbuckets = INITIAL_BUCKETS;
    c->capacity = capacity;
    return MTASTS_OK;
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

static void
entry_free(struct mtasts__entry *e)
{
    mtasts_policy_unref(e->policy);
    mtasts__free(e->no_policy_reason);
    mtasts__free(e->failed_reason);
    mtasts__free(e);
}

void
mtasts__cache_destroy(struct mtasts__cache *c)
{
    struct mtasts__entry *e = c->head;
    while (e != NULL) {
        struct mtasts__entry *next = e->next;
        entry_free(e);
        e = next;
    }
    mtasts__free(c->buckets);
    memset(c, 0, sizeof(*c));
}

uint64_t
mtasts__cache_hash(const char *domain, size_t len)
{
    /* FNV-1a: short keys, no adversarial control over the table size
     * worth a keyed hash here (names are normalised, bounded, and an
     * attacker cannot make an MTA look up arbitrary domains cheaply). */
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)domain[i];
        h *= 0x100000001b3u;
    }
    return h;
}

static void
lru_unlink(struct mtasts__cache *c, struct mtasts__entry *e)
{
    if (e->prev != NULL) {
        e->prev->next = e->next;
    } else {
        c->head = e->next;
    }
    if (e->next != NULL) {
        e->next->prev = e->prev;
    } else {
        c->tail = e->prev;
    }
    e->prev = NULL;
    e->next = NULL;
}

static void
lru_push_front(struct mtasts__cache *c, struct mtasts__entry *e)
{
    e->prev = NULL;
    e->next = c->head;
    if (c->head != NULL) {
        c->head->prev = e;
    }
    c->head = e;
    if (c->tail == NULL) {
        c->tail = e;
    }
}

struct mtasts__entry *
mtasts__cache_find(struct mtasts__cache *c, const char *domain, size_t len,
                   uint64_t hash)
{
    struct mtasts__entry *e = c->buckets[hash & (c->nbuckets - 1)];
    while (e != NULL) {
        if (e->hash == hash && e->domain_len == len &&
            memcmp(e->domain, domain, len) == 0) {
            if (c->head != e) {
                lru_unlink(c, e);
                lru_push_front(c, e);
            }
            return e;
        }
        e = e->hnext;
    }
    return NULL;
}

static void
bucket_remove(struct mtasts__cache *c, struct mtasts__entry *e)
{
    struct mtasts__entry **pp = &c->buckets[e->hash & (c->nbuckets - 1)];
    while (*pp != e) {
        pp = &(*pp)->hnext;
    }
    *pp = e->hnext;
}

/* Drop least recently used entries until count <= limit; entries with a
 * lookup in flight stay. */
static void
evict_to(struct mtasts__cache *c, size_t limit)
{
    struct mtasts__entry *e = c->tail;
    while (c->count > limit && e != NULL) {
        struct mtasts__entry *prev = e->prev;
        if (e->flight == NULL) {
            bucket_remove(c, e);
            lru_unlink(c, e);
            entry_free(e);
            c->count--;
        }
        e = prev;
    }
}

/* Double the bucket array when the load passes 1; a failed allocation
 * keeps the old table (longer chains, still correct). */
static void
maybe_grow(struct mtasts__cache *c)
{
    if (c->count < c->nbuckets) {
        return;
    }
    size_t n = c->nbuckets * 2;
    struct mtasts__entry **b = mtasts__calloc(n, sizeof(*b));
    if (b == NULL) {
        return;
    }
    for (size_t i = 0; i < c->nbuckets; i++) {
        struct mtasts__entry *e = c->buckets[i];
        while (e != NULL) {
            struct mtasts__entry *next = e->hnext;
            e->hnext = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    mtasts__free(c->buckets);
    c->buckets = b;
    c->nbuckets = n;
}

struct mtasts__entry *
mtasts__cache_insert(struct mtasts__cache *c, const char *domain, size_t len,
                     uint64_t hash)
{
    if (c->count >= c->capacity) {
        evict_to(c, c->capacity - 1);
    }
    struct mtasts__entry *e = mtasts__calloc(1, sizeof(*e) + len + 1);
    if (e == NULL) {
        return NULL;
    }
    memcpy(e->domain, domain, len);
    e->domain[len] = '\0';
    e->domain_len = len;
    e->hash = hash;
    maybe_grow(c);
    size_t b = hash & (c->nbuckets - 1);
    e->hnext = c->buckets[b];
    c->buckets[b] = e;
    lru_push_front(c, e);
    c->count++;
    return e;
}

void
mtasts__cache_set_capacity(struct mtasts__cache *c, size_t capacity)
{
    c->capacity = capacity;
    evict_to(c, capacity);
}
