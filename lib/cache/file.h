/* The cache file format and its records (docs/cache-format.md): encoding,
 * strict decoding, and the atomic write of a whole file. */
#ifndef MTASTS_CACHE_FILE_H
#define MTASTS_CACHE_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "cache/cache.h"
#include "mtasts/mtasts.h"

#define MTASTS__FILE_MAGIC "\x89MTSC\r\n\x1a" /* 8 bytes */
#define MTASTS__FILE_MAGIC_LEN 8
#define MTASTS__FILE_VERSION 1
#define MTASTS__FILE_HEADER 16 /* magic, version, flags, count */
#define MTASTS__REC_TAG "MSR"  /* then the record version byte */
#define MTASTS__REC_VERSION 1
#define MTASTS__REC_FIXED 38 /* tag to policy_len */
#define MTASTS__REC_MIN (MTASTS__REC_FIXED + 1 + 1 + 1 + 4)
#define MTASTS__REC_MAX                                                        \
    (MTASTS__REC_FIXED + (MTASTS_DOMAIN_BUFSIZE - 1) +                         \
     (MTASTS_ID_BUFSIZE - 1) + MTASTS_POLICY_MAX + 4)
#define MTASTS__FILE_MAX_RECORDS 100000000u /* far above any real cache */

/* One record's content, as decoded (the policy freshly parsed). */
struct mtasts__record {
    mtasts_policy *policy; /* one reference */
    const char *domain;    /* into the decoded bytes; not NUL-terminated */
    size_t domain_len;
    char id[MTASTS_ID_BUFSIZE];
    int64_t fetched_at;
    int64_t expires;
    int64_t last_used;
};

/* Encode one entry's fields as a record into out (room for
 * MTASTS__REC_MAX bytes); its length. */
size_t mtasts__record_encode_fields(const char *domain, size_t dl,
                                    const char *id, const mtasts_policy *policy,
                                    int64_t fetched_at, int64_t expires,
                                    int64_t last_used, unsigned char *out);

/* Encode item i of a snapshot as one self-describing record into out
 * (room for MTASTS__REC_MAX bytes is always enough); its length. */
size_t mtasts__record_encode(const struct mtasts_cache_snapshot *s, size_t i,
                             unsigned char *out);

/* Decode the record at the start of buf[0..len): MTASTS_OK with *used
 * bytes and *rec filled (the caller releases rec->policy), or
 * MTASTS_ERR_CACHE_FORMAT (another record version),
 * MTASTS_ERR_CACHE_CORRUPT (truncated, bad tag, length, checksum or
 * content), MTASTS_ERR_NOMEM; err (may be NULL) gets a static message and
 * the offset of the fault: base + its offset in buf. */
int mtasts__record_decode(const unsigned char *buf, size_t len, size_t base,
                          size_t *used, struct mtasts__record *rec,
                          mtasts_parse_error *err);

/* A cache file decoded into new entries, linked nowhere: the ones kept
 * (neither expired at now nor idle: last use at or before now -
 * max_idle_s, when max_idle_s is not 0), in file order, each with its
 * hash in the cache it was decoded for (mtasts__entry_hash()). */
struct mtasts__loaded {
    struct mtasts__entry **entry; /* count entries (NULL once merged) */
    uint64_t *hash;
    size_t count;   /* kept */
    size_t records; /* in the file */
};

/* Decode a whole cache file image for cache c: every record is checked
 * (a domain may appear once, kept or not), the kept ones go into *out.
 * Statuses as mtasts__record_decode(); err's offset counts from the
 * file's start. On failure *out is empty. One decoder serves both this
 * and mtasts__cache_file_read(). */
int mtasts__cache_file_decode(const struct mtasts__cache *c,
                              const unsigned char *buf, size_t len, int64_t now,
                              uint32_t max_idle_s, struct mtasts__loaded *out,
                              mtasts_parse_error *err);

/* The same for the file at path, read in pieces through a buffer of 1
 * MiB (never held whole): also MTASTS_ERR_NOT_FOUND ("no such file") and
 * MTASTS_ERR_IO ("the file cannot be read": not a regular file, or a
 * read error). */
int mtasts__cache_file_read(const struct mtasts__cache *c, const char *path,
                            int64_t now, uint32_t max_idle_s,
                            struct mtasts__loaded *out,
                            mtasts_parse_error *err);

/* Free the entries l still holds and its arrays; l is left empty. */
void mtasts__loaded_free(struct mtasts__loaded *l);

/* Write the snapshot's items unexpired at now as a cache file at path:
 * a temporary file in the same directory, fsync, rename, fsync of the
 * directory. MTASTS_OK, MTASTS_ERR_IO, MTASTS_ERR_NOMEM. */
int mtasts__cache_file_write(const char *path,
                             const struct mtasts_cache_snapshot *s,
                             int64_t now);

#endif
