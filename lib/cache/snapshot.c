/* Snapshots of the cache, and merging one (a loaded file) back in. */
#include <string.h>

#include "cache/cache.h"
#include "util/alloc.h"

/* How far ahead a snapshot asks for entries and policies. */
#define SNAP_AHEAD 12

struct mtasts_cache_snapshot *
mtasts__snapshot_new(void)
{
    return mtasts__calloc(1, sizeof(struct mtasts_cache_snapshot));
}

void
mtasts__snapshot_free(struct mtasts_cache_snapshot *s)
{
    if (s == NULL) {
        return;
    }
    for (size_t i = 0; i < s->count; i++) {
        mtasts_policy_unref(s->items[i].policy);
    }
    mtasts__free(s->items);
    mtasts__free(s->names);
    mtasts__free(s);
}

/* Room for n more items and names more name bytes. */
static int
reserve(struct mtasts_cache_snapshot *s, size_t n, size_t names)
{
    if (s->count + n > s->cap) {
        size_t cap = s->cap == 0 ? 16 : s->cap;
        while (cap < s->count + n) {
            cap *= 2;
        }
        struct mtasts__snap_item *items =
            mtasts__realloc(s->items, cap * sizeof(*items));
        if (items == NULL) {
            return MTASTS_ERR_NOMEM;
        }
        s->items = items;
        s->cap = cap;
    }
    if (s->names_len + names > s->names_cap) {
        size_t cap = s->names_cap == 0 ? 256 : s->names_cap;
        while (cap < s->names_len + names) {
            cap *= 2;
        }
        char *grown = mtasts__realloc(s->names, cap);
        if (grown == NULL) {
            return MTASTS_ERR_NOMEM;
        }
        s->names = grown;
        s->names_cap = cap;
    }
    return MTASTS_OK;
}

int
mtasts__snapshot_add(struct mtasts_cache_snapshot *s, mtasts_policy *policy,
                     const char *id, const char *domain, size_t domain_len,
                     int64_t fetched_at, int64_t expires, int64_t last_used)
{
    int rc = reserve(s, 1, domain_len + 1);
    if (rc != MTASTS_OK) {
        return rc;
    }
    struct mtasts__snap_item *it = &s->items[s->count++];
    it->policy = mtasts_policy_ref(policy);
    it->fetched_at = fetched_at;
    it->expires = expires;
    it->last_used = last_used;
    it->domain_off = s->names_len;
    it->domain_len = domain_len;
    size_t idlen = strlen(id);
    memcpy(it->id, id, idlen + 1);
    memcpy(s->names + s->names_len, domain, domain_len);
    s->names[s->names_len + domain_len] = '\0';
    s->names_len += domain_len + 1;
    return MTASTS_OK;
}

/* Shards listed at once by a snapshot (see list_group()). */
#define SNAP_GROUP 8

/* The entries of one shard that hold a policy, oldest first. */
struct listing {
    const struct mtasts__entry **held;
    size_t n;
    size_t names; /* bytes of their names, NULs included */
};

static void
listings_free(struct listing *l, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        mtasts__free(l[k].held);
        l[k].held = NULL;
    }
}

/* List the entries holding a policy of the n shards at sh (their locks
 * held). Each replacement ring is a chain of dependent loads, a cache
 * miss per entry in a large cache; the rings are walked side by side, a
 * step of each in turn, so that up to n of those misses are in flight at
 * once instead of one. */
static int
list_group(const struct mtasts__shard *sh, size_t n, struct listing *out)
{
    const struct mtasts__entry *cur[SNAP_GROUP];
    size_t left[SNAP_GROUP];
    for (size_t k = 0; k < n; k++) {
        out[k] = (struct listing){NULL, 0, 0};
        out[k].held = mtasts__alloc((sh[k].count != 0 ? sh[k].count : 1) *
                                    sizeof(*out[k].held));
        if (out[k].held == NULL) {
            listings_free(out, k);
            return MTASTS_ERR_NOMEM;
        }
        cur[k] = sh[k].last;
        left[k] = mtasts__shard_ring_len(&sh[k]); /* the dead hold no policy */
    }
    for (bool more = true; more;) {
        more = false;
        for (size_t k = 0; k < n; k++) {
            if (left[k] == 0) {
                continue;
            }
            const struct mtasts__entry *e = cur[k]->next; /* the oldest
                                                           * first, the
                                                           * newest last */
            cur[k] = e;
            left[k]--;
            more = true;
            if (e->policy != NULL) {
                out[k].held[out[k].n++] = e;
                out[k].names += e->domain_len + 1;
            }
        }
    }
    return MTASTS_OK;
}

/* Add the listed entries of one shard that pass the filter (its lock
 * held), most recently placed first: taken from the end of the listing.
 * The filter sees them in the snapshot's order (its random jitter,
 * mtasts_cache_due(), is drawn in that order). Reserves first, so the
 * copying cannot fail half-way. */
static int
copy_listed(const struct listing *l, mtasts__snap_filter_fn *filter, void *user,
            struct mtasts_cache_snapshot *s)
{
    const struct mtasts__entry **held = l->held;
    int rc = reserve(s, l->n, l->names);
    for (size_t k = l->n; rc == MTASTS_OK && k-- > 0;) {
        /* Ask ahead for the policy of one a few places on (its reference
         * is taken with an atomic operation, which would otherwise wait
         * for the miss) and for the entry itself further on. Hints
         * only. */
        if (k >= SNAP_AHEAD) {
            mtasts__prefetch(held[k - SNAP_AHEAD]->policy);
        }
        if (k >= 2 * SNAP_AHEAD) {
            const struct mtasts__entry *ahead = held[k - 2 * SNAP_AHEAD];
            mtasts__prefetch(ahead);
            mtasts__prefetch((const char *)ahead + MTASTS__ENTRY_HOT);
            mtasts__prefetch(ahead->domain);
        }
        const struct mtasts__entry *e = held[k];
        if (filter == NULL || filter(e, user)) {
            char id[MTASTS_ID_BUFSIZE];
            mtasts__id_unpack(e->id, id);
            rc = mtasts__snapshot_add(s, e->policy, id, e->domain,
                                      e->domain_len, e->fetched_at,
                                      mtasts__entry_expires(e), e->last_used);
        }
    }
    return rc;
}

int
mtasts__cache_snapshot(struct mtasts__cache *c, mtasts__snap_filter_fn *filter,
                       void *user, struct mtasts_cache_snapshot **out)
{
    *out = NULL;
    struct mtasts_cache_snapshot *s = mtasts__snapshot_new();
    if (s == NULL) {
        return MTASTS_ERR_NOMEM;
    }
    int rc = MTASTS_OK;
    /* A group of shards at a time, locked in the order of their indexes
     * (as everywhere else), each unlocked as soon as it is copied. */
    for (size_t g = 0; rc == MTASTS_OK && g < c->nshards; g += SNAP_GROUP) {
        struct mtasts__shard *sh = &c->shards[g];
        size_t n = c->nshards - g < SNAP_GROUP ? c->nshards - g : SNAP_GROUP;
        for (size_t k = 0; k < n; k++) {
            pthread_mutex_lock(&sh[k].lock);
        }
        struct listing l[SNAP_GROUP];
        int listed = list_group(sh, n, l); /* on failure: nothing held */
        rc = listed;
        for (size_t k = 0; k < n; k++) {
            if (rc == MTASTS_OK) {
                rc = copy_listed(&l[k], filter, user, s);
            }
            pthread_mutex_unlock(&sh[k].lock);
        }
        if (listed == MTASTS_OK) {
            listings_free(l, n);
        }
    }
    if (rc != MTASTS_OK) {
        mtasts__snapshot_free(s);
        return rc;
    }
    *out = s;
    return MTASTS_OK;
}

/* Put one new entry into the cache (shard lock held): true if it was
 * linked, false if its domain was cached (what it holds then went into
 * the cached entry where newer; the caller frees it). */
static bool
merge_entry(const struct mtasts__cache *c, struct mtasts__shard *sh,
            struct mtasts__entry *f, uint64_t hash, int64_t now)
{
    struct mtasts__entry *e =
        mtasts__cache_find(sh, f->domain, f->domain_len, hash);
    if (e == NULL) {
        mtasts__cache_link(c, sh, f, now);
        return true;
    }
    if (e->policy == NULL || e->fetched_at < f->fetched_at) {
        mtasts_policy_unref(e->policy);
        e->policy = f->policy;
        f->policy = NULL;
        memcpy(e->id, f->id, sizeof(e->id));
        e->fetched_at = f->fetched_at;
        /* The TXT record is checked again at the next lookup. */
        e->txt_checked_at = 0;
        struct mtasts__entry_extra *x = mtasts__entry_extra_get(e);
        if (x != NULL) {
            x->no_policy_until = 0;
        }
    }
    if (f->last_used > e->last_used) {
        e->last_used = f->last_used;
    }
    return false;
}

/* Entries merged per hold of a shard lock: lookups of that shard wait for
 * at most this many insertions. */
#define MERGE_CHUNK 256
/* How far ahead the merge asks for buckets, entries and policies. */
#define MERGE_AHEAD 8

/* The merge's plan: the entries grouped by shard (last to first within
 * each, the order they are merged in). */
struct merge_plan {
    size_t *order; /* entry indexes, shard by shard */
    size_t *start; /* nshards + 1 offsets into order */
};

static void
plan_free(struct merge_plan *p)
{
    mtasts__free(p->order);
    mtasts__free(p->start);
}

static size_t
shard_index(const struct mtasts__cache *c, uint64_t hash)
{
    return (size_t)(mtasts__cache_shard(c, hash) - c->shards);
}

static int
plan_make(const struct mtasts__cache *c, const uint64_t *hash, size_t count,
          struct merge_plan *p)
{
    size_t nsh = c->nshards;
    p->order = mtasts__alloc(count * sizeof(*p->order));
    p->start = mtasts__calloc(nsh + 1, sizeof(*p->start));
    size_t *fill = mtasts__calloc(nsh, sizeof(*fill));
    if (p->order == NULL || p->start == NULL || fill == NULL) {
        mtasts__free(fill);
        plan_free(p);
        return MTASTS_ERR_NOMEM;
    }
    for (size_t i = 0; i < count; i++) {
        p->start[shard_index(c, hash[i]) + 1]++;
    }
    for (size_t k = 0; k < nsh; k++) {
        p->start[k + 1] += p->start[k];
    }
    for (size_t i = count; i-- > 0;) {
        size_t k = shard_index(c, hash[i]);
        p->order[p->start[k] + fill[k]++] = i;
    }
    mtasts__free(fill);
    return MTASTS_OK;
}

/* Merge the entries of one shard (its part of the plan), a chunk per hold
 * of the lock, asking ahead for what the next insertions read: the
 * bucket, the new entry and its policy. */
static void
merge_shard(const struct mtasts__cache *c, struct mtasts__shard *sh,
            struct mtasts__entry **entry, const uint64_t *hash,
            const struct merge_plan *p, size_t from, size_t to, int64_t now)
{
    for (size_t j = from; j < to;) {
        size_t end = to - j > MERGE_CHUNK ? j + MERGE_CHUNK : to;
        pthread_mutex_lock(&sh->lock);
        for (; j < end; j++) {
            if (j + MERGE_AHEAD < end) {
                size_t a = p->order[j + MERGE_AHEAD];
                mtasts__prefetch(&sh->buckets[hash[a] & (sh->nbuckets - 1)]);
                mtasts__prefetch(entry[a]);
                mtasts__prefetch((const char *)entry[a] + MTASTS__ENTRY_HOT);
            }
            size_t i = p->order[j];
            if (!merge_entry(c, sh, entry[i], hash[i], now)) {
                mtasts__entry_free(entry[i]);
            }
            entry[i] = NULL;
        }
        pthread_mutex_unlock(&sh->lock);
    }
}

int
mtasts__cache_merge(struct mtasts__cache *c, struct mtasts__entry **entry,
                    const uint64_t *hash, size_t count, int64_t now)
{
    if (count == 0) {
        return MTASTS_OK;
    }
    /* Every allocation first: the merge itself cannot fail. */
    struct merge_plan plan = {NULL, NULL};
    int rc = plan_make(c, hash, count, &plan);
    if (rc != MTASTS_OK) {
        return rc;
    }
    /* Entries go in shard by shard; within a shard last to first, so the
     * first ends most recently used, as the file lists them. Shards have
     * orders of their own, so the grouping changes nothing, and each lock
     * is taken once per chunk. */
    mtasts__cache_reserve(c, count);
    for (size_t k = 0; k < c->nshards; k++) {
        merge_shard(c, &c->shards[k], entry, hash, &plan, plan.start[k],
                    plan.start[k + 1], now);
    }
    plan_free(&plan);
    return MTASTS_OK;
}
