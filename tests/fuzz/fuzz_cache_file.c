/* Fuzz the cache file loader (lib/cache/file.c, docs/cache-format.md):
 * the input is a whole cache file.
 *
 * A refusal must be MTASTS_ERR_CACHE_FORMAT, _CACHE_CORRUPT or _NOMEM,
 * with a message and an offset inside the input. An accepted file must
 * round-trip: when every record was kept, encoding the decoded entries
 * again gives the input byte for byte (the format is canonical); the
 * entries then merge into a small cache, which stays within capacity. */
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
                 const struct mtasts_cache_snapshot *s)
{
    if (s->count != header_count(data)) {
        return; /* some records expired: skipped, so not re-encoded */
    }
    unsigned char *rec = malloc(MTASTS__REC_MAX);
    FUZZ_CHECK(rec != NULL);
    size_t off = MTASTS__FILE_HEADER;
    for (size_t i = 0; i < s->count; i++) {
        size_t n = mtasts__record_encode(s, i, rec);
        FUZZ_CHECK(n <= size - off);
        FUZZ_CHECK(memcmp(rec, data + off, n) == 0);
        off += n;
    }
    FUZZ_CHECK(off == size);
    free(rec);
}

static void
check_merge(const struct mtasts_cache_snapshot *s)
{
    struct mtasts__cache c;
    if (mtasts__cache_init(&c, CAPACITY) != MTASTS_OK) {
        return;
    }
    if (mtasts__cache_merge(&c, s, 1) == MTASTS_OK) {
        size_t n = 0;
        for (size_t i = 0; i < c.nshards; i++) {
            n += c.shards[i].count;
        }
        FUZZ_CHECK(n <= CAPACITY && n <= s->count);
    }
    mtasts__cache_destroy(&c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = fuzz_copy(data, size);
    struct mtasts_cache_snapshot *s = NULL;
    mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
    /* At time 0 only records with max_age 0 and fetch time 0 expire. */
    int rc = mtasts__cache_file_parse((const unsigned char *)copy, size, 0, 0,
                                      &s, &err);
    if (rc == MTASTS_OK) {
        FUZZ_CHECK(s != NULL && err.message == NULL);
        check_round_trip(data, size, s);
        check_merge(s);
        mtasts__snapshot_free(s);
    } else {
        FUZZ_CHECK(s == NULL);
        FUZZ_CHECK(rc == MTASTS_ERR_CACHE_FORMAT ||
                   rc == MTASTS_ERR_CACHE_CORRUPT || rc == MTASTS_ERR_NOMEM);
        FUZZ_CHECK(err.message != NULL);
        FUZZ_CHECK(err.offset <= size);
        FUZZ_CHECK(err.line == 0 && err.column == 0);
    }
    free(copy);
    return 0;
}
