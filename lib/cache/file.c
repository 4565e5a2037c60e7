/*
 * The cache file (docs/cache-format.md): a header, then one
 * self-describing record per entry. Decoding trusts nothing: every length
 * is bounded before use, every record carries a CRC-32, domains and ids
 * must fit their grammar, every policy is parsed again, expiries must
 * follow from the policy, and a domain may appear once.
 */
#include "cache/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/chars.h"
#include "util/crc32.h"
#include "util/cur.h"
#include "util/file.h"

#define TIME_MAX ((int64_t)1 << 40) /* times are 0 .. 2^40 s (year 36812) */

static int
fault(mtasts_parse_error *err, size_t offset, int status, const char *message)
{
    mtasts__parse_error_at(err, offset, message);
    return status;
}

static void
put_be(unsigned char *p, uint64_t v, size_t n)
{
    for (size_t i = n; i-- > 0;) {
        p[i] = (unsigned char)(v & 0xffu);
        v >>= 8;
    }
}

size_t
mtasts__record_encode_fields(const char *domain, size_t dl, const char *id,
                             const mtasts_policy *policy, int64_t fetched_at,
                             int64_t expires, int64_t last_used,
                             unsigned char *out)
{
    size_t pl = 0;
    const char *text = mtasts_policy_text(policy, &pl);
    size_t il = strlen(id);
    size_t len = MTASTS__REC_FIXED + dl + il + pl + 4;
    memcpy(out, MTASTS__REC_TAG, 3);
    out[3] = MTASTS__REC_VERSION;
    put_be(out + 4, len, 4);
    put_be(out + 8, (uint64_t)fetched_at, 8);
    put_be(out + 16, (uint64_t)expires, 8);
    put_be(out + 24, (uint64_t)last_used, 8);
    out[32] = (unsigned char)dl;
    out[33] = (unsigned char)il;
    put_be(out + 34, pl, 4);
    unsigned char *p = out + MTASTS__REC_FIXED;
    memcpy(p, domain, dl);
    memcpy(p + dl, id, il);
    memcpy(p + dl + il, text, pl);
    put_be(out + len - 4, mtasts__crc32(0, out, len - 4), 4);
    return len;
}

size_t
mtasts__record_encode(const struct mtasts_cache_snapshot *s, size_t i,
                      unsigned char *out)
{
    const struct mtasts__snap_item *it = &s->items[i];
    return mtasts__record_encode_fields(
        mtasts__snapshot_domain(s, i), it->domain_len, it->id, it->policy,
        it->fetched_at, it->expires, it->last_used, out);
}

/* The fixed part after the length: times and field lengths. */
struct fixed {
    int64_t fetched_at, expires, last_used;
    size_t dl, il, pl;
};

static int
decode_fixed(struct mtasts__cur *c, size_t base, struct fixed *f,
             mtasts_parse_error *err)
{
    uint64_t t[3] = {0, 0, 0}, dl = 0, il = 0, pl = 0;
    for (int k = 0; k < 3; k++) {
        mtasts__cur_take_be(c, 8, &t[k]); /* the length was checked */
        if (t[k] >= (uint64_t)TIME_MAX) {
            return fault(err, base + 8 + 8 * (size_t)k,
                         MTASTS_ERR_CACHE_CORRUPT, "a time is out of range");
        }
    }
    mtasts__cur_take_be(c, 1, &dl);
    mtasts__cur_take_be(c, 1, &il);
    mtasts__cur_take_be(c, 4, &pl);
    if (dl < 1 || dl > MTASTS_DOMAIN_BUFSIZE - 1) {
        return fault(err, base + 32, MTASTS_ERR_CACHE_CORRUPT,
                     "domain length out of range");
    }
    if (il < 1 || il > MTASTS_ID_BUFSIZE - 1) {
        return fault(err, base + 33, MTASTS_ERR_CACHE_CORRUPT,
                     "TXT id length out of range");
    }
    if (pl < 1 || pl > MTASTS_POLICY_MAX) {
        return fault(err, base + 34, MTASTS_ERR_CACHE_CORRUPT,
                     "policy length out of range");
    }
    f->fetched_at = (int64_t)t[0];
    f->expires = (int64_t)t[1];
    f->last_used = (int64_t)t[2];
    f->dl = (size_t)dl;
    f->il = (size_t)il;
    f->pl = (size_t)pl;
    return MTASTS_OK;
}

/* Tag, length and checksum: MTASTS_OK and the record's length. */
static int
decode_frame(const unsigned char *buf, size_t len, size_t base, size_t *rec_len,
             mtasts_parse_error *err)
{
    if (len < 8) {
        return fault(err, base, MTASTS_ERR_CACHE_CORRUPT, "record truncated");
    }
    if (memcmp(buf, MTASTS__REC_TAG, 3) != 0) {
        return fault(err, base, MTASTS_ERR_CACHE_CORRUPT,
                     "not a cache record (bad tag)");
    }
    if (buf[3] != MTASTS__REC_VERSION) {
        return fault(err, base + 3, MTASTS_ERR_CACHE_FORMAT,
                     "cache record version not supported");
    }
    uint64_t n = ((uint64_t)buf[4] << 24) | ((uint64_t)buf[5] << 16) |
                 ((uint64_t)buf[6] << 8) | buf[7];
    if (n < MTASTS__REC_MIN || n > MTASTS__REC_MAX) {
        return fault(err, base + 4, MTASTS_ERR_CACHE_CORRUPT,
                     "record length out of range");
    }
    if (n > len) {
        return fault(err, base + 4, MTASTS_ERR_CACHE_CORRUPT,
                     "record truncated");
    }
    const unsigned char *c = buf + n - 4;
    uint32_t stored = ((uint32_t)c[0] << 24) | ((uint32_t)c[1] << 16) |
                      ((uint32_t)c[2] << 8) | c[3];
    if (stored != mtasts__crc32(0, buf, (size_t)n - 4)) {
        return fault(err, base + (size_t)n - 4, MTASTS_ERR_CACHE_CORRUPT,
                     "record checksum mismatch");
    }
    *rec_len = (size_t)n;
    return MTASTS_OK;
}

/* Domain and id, at their offsets: each must fit its grammar. */
static int
decode_names(const unsigned char *d, size_t dl, const unsigned char *id,
             size_t il, size_t base, struct mtasts__record *rec,
             mtasts_parse_error *err)
{
    char norm[MTASTS_DOMAIN_BUFSIZE];
    if (mtasts_domain_normalize((const char *)d, dl, norm, NULL) != MTASTS_OK ||
        strlen(norm) != dl || memcmp(norm, d, dl) != 0) {
        return fault(err, base + MTASTS__REC_FIXED, MTASTS_ERR_CACHE_CORRUPT,
                     "domain is not a normalised host name");
    }
    for (size_t k = 0; k < il; k++) {
        if (!mtasts__is(id[k], MTASTS__C_ALNUM)) {
            /* RFC 8461 §3.1: sts-id = 1*32(ALPHA / DIGIT) */
            return fault(err, base + MTASTS__REC_FIXED + dl + k,
                         MTASTS_ERR_CACHE_CORRUPT,
                         "TXT id is not 1 to 32 letters or digits");
        }
    }
    rec->domain = (const char *)d;
    rec->domain_len = dl;
    memcpy(rec->id, id, il);
    rec->id[il] = '\0';
    return MTASTS_OK;
}

int
mtasts__record_decode(const unsigned char *buf, size_t len, size_t base,
                      size_t *used, struct mtasts__record *rec,
                      mtasts_parse_error *err)
{
    memset(rec, 0, sizeof(*rec));
    size_t n = 0;
    int rc = decode_frame(buf, len, base, &n, err);
    if (rc != MTASTS_OK) {
        return rc;
    }
    struct mtasts__cur c;
    mtasts__cur_init(&c, buf + 8, n - 8);
    struct fixed f;
    rc = decode_fixed(&c, base, &f, err);
    if (rc != MTASTS_OK) {
        return rc;
    }
    if (MTASTS__REC_FIXED + f.dl + f.il + f.pl + 4 != n) {
        return fault(err, base + 4, MTASTS_ERR_CACHE_CORRUPT,
                     "record length does not match its fields");
    }
    const unsigned char *d = NULL, *id = NULL, *text = NULL;
    mtasts__cur_take_bytes(&c, f.dl, &d);
    mtasts__cur_take_bytes(&c, f.il, &id);
    mtasts__cur_take_bytes(&c, f.pl, &text);
    rc = decode_names(d, f.dl, id, f.il, base, rec, err);
    if (rc != MTASTS_OK) {
        return rc;
    }
    mtasts_parse_error perr = MTASTS_PARSE_ERROR_INIT;
    rc = mtasts_policy_parse((const char *)text, f.pl, &rec->policy, &perr);
    if (rc == MTASTS_ERR_NOMEM) {
        return fault(err, 0, rc, "out of memory");
    }
    size_t at = base + MTASTS__REC_FIXED + f.dl + f.il;
    if (rc != MTASTS_OK) {
        return fault(err, at + perr.offset, MTASTS_ERR_CACHE_CORRUPT,
                     "stored policy does not parse");
    }
    if (f.expires !=
        f.fetched_at + (int64_t)mtasts_policy_max_age(rec->policy)) {
        mtasts_policy_unref(rec->policy);
        rec->policy = NULL;
        return fault(err, base + 16, MTASTS_ERR_CACHE_CORRUPT,
                     "expiry is not fetch time + max_age");
    }
    rec->fetched_at = f.fetched_at;
    rec->expires = f.expires;
    rec->last_used = f.last_used;
    *used = n;
    return MTASTS_OK;
}

/* ---- whole files ------------------------------------------------------- */

/* The domains seen so far, to refuse a repeated one: open addressing over
 * the entries decoded so far. A slot is 8 bytes, the entry's index and 32
 * bits of its hash, so a probe reads one slot (one cache miss in a table
 * of millions) and the table of a million records is 16 MB; names are
 * compared only when the bits agree. The hash is the cache's (keyed with
 * its secret seed: a hostile file cannot aim at one slot), computed once
 * per record for both. */
struct seen_slot {
    uint32_t index1; /* index in the entries + 1; 0: free */
    uint32_t tag;
};

_Static_assert(MTASTS__FILE_MAX_RECORDS < UINT32_MAX, "an index fits a slot");

struct seen {
    struct seen_slot *slot;
    size_t mask;
};

static int
seen_init(struct seen *s, size_t count)
{
    size_t n = 16;
    while (n < 2 * count) {
        n *= 2;
    }
    s->slot = mtasts__calloc(n, sizeof(*s->slot));
    s->mask = n - 1;
    return s->slot != NULL ? MTASTS_OK : MTASTS_ERR_NOMEM;
}

/* Add entry[k] (with hash h); false if its domain was there already. */
static bool
seen_add(struct seen *s, struct mtasts__entry *const *entry, size_t k,
         uint64_t h)
{
    const struct mtasts__entry *e = entry[k];
    uint32_t tag = (uint32_t)h;
    size_t i = (size_t)(h >> 32) & s->mask;
    while (s->slot[i].index1 != 0) {
        const struct seen_slot *o = &s->slot[i];
        if (o->tag == tag) {
            const struct mtasts__entry *other = entry[o->index1 - 1];
            if (other->domain_len == e->domain_len &&
                memcmp(other->domain, e->domain, e->domain_len) == 0) {
                return false;
            }
        }
        i = (i + 1) & s->mask;
    }
    s->slot[i] = (struct seen_slot){(uint32_t)k + 1, tag};
    return true;
}

static void
seen_free(struct seen *s)
{
    mtasts__free(s->slot);
}
/* The bytes of a cache file: all in memory, or read from a descriptor in
 * pieces through a buffer of its own, so that a large file is neither
 * held whole nor copied into fresh memory at once (docs/cache.md). */
struct input {
    int fd;             /* -1: buf holds the whole file */
    unsigned char *buf; /* owned when fd >= 0 */
    size_t cap;
    size_t pos, end; /* the unread bytes: buf[pos..end) */
    size_t base;     /* the file offset of buf[0] */
    size_t size;     /* the file's size when opened */
    bool eof;
};

/* The read buffer: at least one record of the largest size. */
#define READ_BUF ((size_t)1 << 20)
_Static_assert(READ_BUF >= MTASTS__REC_MAX, "a record fits the buffer");

/* Make at least n (<= READ_BUF) unread bytes available, or all the file
 * has left: MTASTS_OK with *avail bytes at in->buf + in->pos (fewer than n
 * only at the end of the file), or MTASTS_ERR_IO. */
static int
input_need(struct input *in, size_t n, size_t *avail)
{
    if (in->end - in->pos < n && in->fd >= 0 && !in->eof) {
        /* the unread tail (under one record) to the front, then fill */
        size_t left = in->end - in->pos;
        memmove(in->buf, in->buf + in->pos, left);
        in->base += in->pos;
        in->pos = 0;
        in->end = left;
        while (in->end < n && !in->eof) {
            ssize_t r = read(in->fd, in->buf + in->end, in->cap - in->end);
            if (r < 0 && errno == EINTR) {
                continue;
            }
            if (r < 0) {
                return MTASTS_ERR_IO;
            }
            in->eof = r == 0;
            in->end += (size_t)r;
        }
    }
    *avail = in->end - in->pos;
    return MTASTS_OK;
}

static int
parse_header(struct input *in, size_t *count, mtasts_parse_error *err)
{
    size_t len = 0;
    if (input_need(in, MTASTS__FILE_HEADER, &len) != MTASTS_OK) {
        return fault(err, 0, MTASTS_ERR_IO, "the file cannot be read");
    }
    const unsigned char *buf = in->buf + in->pos;
    if (len < MTASTS__FILE_MAGIC_LEN ||
        memcmp(buf, MTASTS__FILE_MAGIC, MTASTS__FILE_MAGIC_LEN) != 0) {
        return fault(err, 0, MTASTS_ERR_CACHE_FORMAT,
                     "not a cache file (bad magic)");
    }
    struct mtasts__cur c;
    mtasts__cur_init(&c, buf, len);
    mtasts__cur_skip(&c, MTASTS__FILE_MAGIC_LEN);
    uint64_t version, flags, n;
    if (!mtasts__cur_take_be(&c, 2, &version) ||
        !mtasts__cur_take_be(&c, 2, &flags) ||
        !mtasts__cur_take_be(&c, 4, &n)) {
        return fault(err, len, MTASTS_ERR_CACHE_CORRUPT,
                     "cache file header truncated");
    }
    if (version != MTASTS__FILE_VERSION) {
        return fault(err, 8, MTASTS_ERR_CACHE_FORMAT,
                     "cache file version not supported");
    }
    if (flags != 0) {
        return fault(err, 10, MTASTS_ERR_CACHE_FORMAT,
                     "cache file flags not supported");
    }
    if (n > MTASTS__FILE_MAX_RECORDS ||
        n > (in->size - MTASTS__FILE_HEADER) / MTASTS__REC_MIN) {
        return fault(err, 12, MTASTS_ERR_CACHE_CORRUPT,
                     "record count larger than the file can hold");
    }
    in->pos += MTASTS__FILE_HEADER;
    *count = (size_t)n;
    return MTASTS_OK;
}

static bool
keep(const struct mtasts__record *r, int64_t now, uint32_t max_idle_s)
{
    return now < r->expires &&
           (max_idle_s == 0 || now - r->last_used < (int64_t)max_idle_s);
}

/* A new entry holding a decoded record (its policy reference moves in);
 * NULL when out of memory. */
static struct mtasts__entry *
entry_of(struct mtasts__record *r)
{
    struct mtasts__entry *e = mtasts__entry_new(r->domain, r->domain_len);
    if (e != NULL) {
        e->policy = r->policy;
        r->policy = NULL;
        mtasts__entry_set_id(e, r->id); /* checked by decode_names() */
        e->fetched_at = r->fetched_at;
        e->last_used = r->last_used;
        /* the expiry, fetch time + max_age, was checked to be the
         * record's */
    }
    return e;
}

/* Decode the next record of in into a new entry: MTASTS_OK with *out set,
 * or a status with err set. */
static int
next_record(struct input *in, int64_t now, uint32_t max_idle_s,
            struct mtasts__entry **out, bool *kept, mtasts_parse_error *err)
{
    size_t avail = 0;
    if (input_need(in, 8, &avail) != MTASTS_OK) {
        return fault(err, in->base + in->pos, MTASTS_ERR_IO,
                     "the file cannot be read");
    }
    size_t want = MTASTS__REC_MAX;
    if (avail >= 8) {
        const unsigned char *b = in->buf + in->pos;
        size_t n = ((size_t)b[4] << 24) | ((size_t)b[5] << 16) |
                   ((size_t)b[6] << 8) | b[7];
        want = n < want ? n : want; /* the decoder refuses what is wrong */
    }
    if (input_need(in, want, &avail) != MTASTS_OK) {
        return fault(err, in->base + in->pos, MTASTS_ERR_IO,
                     "the file cannot be read");
    }
    struct mtasts__record r;
    size_t used = 0;
    int rc = mtasts__record_decode(in->buf + in->pos, avail, in->base + in->pos,
                                   &used, &r, err);
    if (rc != MTASTS_OK) {
        return rc;
    }
    *kept = keep(&r, now, max_idle_s);
    *out = entry_of(&r);
    mtasts_policy_unref(r.policy); /* NULL unless out of memory */
    if (*out == NULL) {
        return fault(err, 0, MTASTS_ERR_NOMEM, "out of memory");
    }
    in->pos += used;
    return MTASTS_OK;
}

/* Decode count records into l: the kept ones to the front of l->entry in
 * file order, the others from the back (freed by the caller). */
static int
decode_records(const struct mtasts__cache *c, struct input *in, size_t count,
               int64_t now, uint32_t max_idle_s, struct mtasts__loaded *l,
               mtasts_parse_error *err)
{
    l->entry = mtasts__calloc(count != 0 ? count : 1, sizeof(*l->entry));
    l->hash = mtasts__alloc((count != 0 ? count : 1) * sizeof(*l->hash));
    struct seen seen = {NULL, 0};
    if (l->entry == NULL || l->hash == NULL ||
        seen_init(&seen, count) != MTASTS_OK) {
        return fault(err, 0, MTASTS_ERR_NOMEM, "out of memory");
    }
    size_t dropped = 0;
    int rc = MTASTS_OK;
    for (size_t i = 0; i < count; i++) {
        size_t at = in->base + in->pos;
        struct mtasts__entry *e = NULL;
        bool kept = false;
        rc = next_record(in, now, max_idle_s, &e, &kept, err);
        if (rc != MTASTS_OK) {
            break;
        }
        size_t k = kept ? l->count++ : count - 1 - dropped++;
        l->entry[k] = e;
        l->hash[k] = mtasts__entry_hash(c, e);
        if (!seen_add(&seen, l->entry, k, l->hash[k])) {
            rc = fault(err, at + MTASTS__REC_FIXED, MTASTS_ERR_CACHE_CORRUPT,
                       "domain appears twice");
            break;
        }
    }
    seen_free(&seen);
    size_t avail = 0;
    if (rc == MTASTS_OK && input_need(in, 1, &avail) != MTASTS_OK) {
        rc = fault(err, in->base + in->pos, MTASTS_ERR_IO,
                   "the file cannot be read");
    } else if (rc == MTASTS_OK && avail != 0) {
        rc = fault(err, in->base + in->pos, MTASTS_ERR_CACHE_CORRUPT,
                   "bytes after the last record");
    }
    for (size_t d = 0; d < dropped; d++) {
        mtasts__entry_free(l->entry[count - 1 - d]);
        l->entry[count - 1 - d] = NULL;
    }
    return rc;
}

void
mtasts__loaded_free(struct mtasts__loaded *l)
{
    if (l->entry != NULL) {
        for (size_t i = 0; i < l->count; i++) {
            mtasts__entry_free(l->entry[i]);
        }
    }
    mtasts__free(l->entry);
    mtasts__free(l->hash);
    memset(l, 0, sizeof(*l));
}

static int
decode_input(const struct mtasts__cache *c, struct input *in, int64_t now,
             uint32_t max_idle_s, struct mtasts__loaded *out,
             mtasts_parse_error *err)
{
    memset(out, 0, sizeof(*out));
    size_t count = 0;
    int rc = parse_header(in, &count, err);
    if (rc == MTASTS_OK) {
        out->records = count;
        rc = decode_records(c, in, count, now, max_idle_s, out, err);
    }
    if (rc != MTASTS_OK) {
        mtasts__loaded_free(out);
    }
    return rc;
}

int
mtasts__cache_file_decode(const struct mtasts__cache *c,
                          const unsigned char *buf, size_t len, int64_t now,
                          uint32_t max_idle_s, struct mtasts__loaded *out,
                          mtasts_parse_error *err)
{
    struct input in = {.fd = -1,
                       .buf = (unsigned char *)(uintptr_t)buf,
                       .cap = len,
                       .end = len,
                       .size = len,
                       .eof = true};
    return decode_input(c, &in, now, max_idle_s, out, err);
}

int
mtasts__cache_file_read(const struct mtasts__cache *c, const char *path,
                        int64_t now, uint32_t max_idle_s,
                        struct mtasts__loaded *out, mtasts_parse_error *err)
{
    memset(out, 0, sizeof(*out));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT
                   ? fault(err, 0, MTASTS_ERR_NOT_FOUND, "no such file")
                   : fault(err, 0, MTASTS_ERR_IO, "the file cannot be read");
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 0) {
        close(fd);
        return fault(err, 0, MTASTS_ERR_IO, "the file cannot be read");
    }
    struct input in = {.fd = fd, .size = (size_t)st.st_size};
    in.cap = READ_BUF;
    in.buf = mtasts__alloc(in.cap);
    int rc = in.buf != NULL ? decode_input(c, &in, now, max_idle_s, out, err)
                            : fault(err, 0, MTASTS_ERR_NOMEM, "out of memory");
    mtasts__free(in.buf);
    close(fd);
    return rc;
}

/* ---- writing ----------------------------------------------------------- */

static int
write_records(FILE *fp, const struct mtasts_cache_snapshot *s, int64_t now)
{
    size_t count = 0;
    for (size_t i = 0; i < s->count; i++) {
        count += now < s->items[i].expires;
    }
    if (count > MTASTS__FILE_MAX_RECORDS) {
        return MTASTS_ERR_IO; /* a reader would refuse the file */
    }
    unsigned char head[MTASTS__FILE_HEADER];
    memcpy(head, MTASTS__FILE_MAGIC, MTASTS__FILE_MAGIC_LEN);
    put_be(head + 8, MTASTS__FILE_VERSION, 2);
    put_be(head + 10, 0, 2);
    put_be(head + 12, count, 4);
    if (fwrite(head, 1, sizeof(head), fp) != sizeof(head)) {
        return MTASTS_ERR_IO;
    }
    unsigned char *rec = mtasts__alloc(MTASTS__REC_MAX);
    if (rec == NULL) {
        return MTASTS_ERR_NOMEM;
    }
    int rc = MTASTS_OK;
    for (size_t i = 0; rc == MTASTS_OK && i < s->count; i++) {
        if (i + 8 < s->count) {
            /* the policy text of a record a few on: a hint */
            mtasts__prefetch(s->items[i + 8].policy);
        }
        if (now < s->items[i].expires) {
            size_t n = mtasts__record_encode(s, i, rec);
            if (fwrite(rec, 1, n, fp) != n) {
                rc = MTASTS_ERR_IO;
            }
        }
    }
    mtasts__free(rec);
    return rc;
}

struct write_args {
    const struct mtasts_cache_snapshot *s;
    int64_t now;
};

static int
write_cb(FILE *fp, void *arg)
{
    const struct write_args *w = arg;
    return write_records(fp, w->s, w->now);
}

int
mtasts__cache_file_write(const char *path,
                         const struct mtasts_cache_snapshot *s, int64_t now)
{
    struct write_args w = {s, now};
    return mtasts__file_write_atomic(path, write_cb, &w);
}
