/* Fuzz the cache file loader (lib/cache/file.c, docs/cache-format.md):
 * the input is a whole cache file.
 *
 * A refusal must be MTASTS_ERR_CACHE_FORMAT, _CACHE_CORRUPT or _NOMEM,
 * with a message and an offset inside the input. An accepted file must
 * round-trip: when every record was kept, encoding the decoded entries
 * again gives the input byte for byte (the format is canonical); the
 * entries then merge into a small cache, which stays within capacity.
 * This is the decoder mtasts_cache_load() reads files with, in pieces
 * (lib/cache/file.c: one decoder, fed from memory here). */
#include "fuzz.h"

#include "cache/cache.h"
#include "cache/file.h"
#include "mtasts/mtasts.h"
#include "util/alloc.h"

#define CAPACITY 4

/* The count field of a file whose header parsed. */
static size_t
header_count(const uint8_t *data)
{
    return ((size_t)data[12] << 24) | ((size_t)data[13] << 16) |
           ((size_t)data[14] << 8) | data[15];
}

static void
check_round_trip(const uint8_t *data, size_t size,
                 const struct mtasts__loaded *l)
{
    FUZZ_CHECK(l->records == header_count(data) && l->count <= l->records);
    if (l->count != l->records) {
        return; /* some records expired: skipped, so not re-encoded */
    }
    unsigned char *rec = malloc(MTASTS__REC_MAX);
    FUZZ_CHECK(rec != NULL);
    size_t off = MTASTS__FILE_HEADER;
    for (size_t i = 0; i < l->count; i++) {
        const struct mtasts__entry *e = l->entry[i];
        char id[MTASTS_ID_BUFSIZE];
        mtasts__id_unpack(e->id, id);
        size_t n = mtasts__record_encode_fields(
            e->domain, e->domain_len, id, e->policy, e->fetched_at,
            mtasts__entry_expires(e), e->last_used, rec);
        FUZZ_CHECK(n <= size - off);
        FUZZ_CHECK(memcmp(rec, data + off, n) == 0);
        off += n;
    }
    FUZZ_CHECK(off == size);
    free(rec);
}

/* The entries merge into a small cache, which stays within capacity. */
static void
check_merge(struct mtasts__cache *c, struct mtasts__loaded *l)
{
    if (mtasts__cache_merge(c, l->entry, l->hash, l->count, 1) == MTASTS_OK) {
        size_t n = 0;
        for (size_t i = 0; i < c->nshards; i++) {
            n += c->shards[i].count;
        }
        FUZZ_CHECK(n <= CAPACITY && n <= l->count);
        for (size_t i = 0; i < l->count; i++) {
            FUZZ_CHECK(l->entry[i] == NULL); /* linked or freed */
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = fuzz_copy(data, size);
    struct mtasts__cache c;
    if (mtasts__cache_init(&c, CAPACITY) != MTASTS_OK) {
        free(copy);
        return 0;
    }
    struct mtasts__loaded l;
    mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
    /* At time 0 only records with max_age 0 and fetch time 0 expire. */
    int rc = mtasts__cache_file_decode(&c, (const unsigned char *)copy, size, 0,
                                       0, &l, &err);
    if (rc == MTASTS_OK) {
        FUZZ_CHECK(err.message == NULL);
        check_round_trip(data, size, &l);
        check_merge(&c, &l);
    } else {
        FUZZ_CHECK(l.entry == NULL && l.count == 0);
        FUZZ_CHECK(rc == MTASTS_ERR_CACHE_FORMAT ||
                   rc == MTASTS_ERR_CACHE_CORRUPT || rc == MTASTS_ERR_NOMEM);
        FUZZ_CHECK(err.message != NULL);
        FUZZ_CHECK(err.offset <= size);
        FUZZ_CHECK(err.line == 0 && err.column == 0);
    }
    mtasts__loaded_free(&l);
    mtasts__cache_destroy(&c);
    free(copy);
    return 0;
}
