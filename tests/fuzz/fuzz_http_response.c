/* Fuzz the HTTP/1.x response parser of the default I/O (lib/io/http.c).
 *
 * The whole input is one response as a server would send it. It is parsed
 * with the default body cap (64 KiB) and with a small one (1 to 32 bytes,
 * from the input size), each time fed whole, one byte at a time, and split
 * in two at an offset taken from the input, every piece in a heap block of
 * its exact size; then the connection "closes". All ways must agree, and
 * every promise of io/http.h must hold: the head is reported at most once
 * and before any body, the body never exceeds the cap, a failure has a
 * message and is final. */
#include "fuzz.h"

#include <stdbool.h>

#include "io/http.h"
#include "mtasts/mtasts.h"

#define SMALL_CAP_SPAN 32

struct seen {
    unsigned heads;
    unsigned status;
    bool have_type;
    char *type;
    unsigned char *body;
    size_t body_len;
    size_t body_alloc; /* grown by doubling: byte-by-byte feeds stay linear */
    size_t cap;
};

static int
on_head(void *user, unsigned status, const char *type)
{
    struct seen *s = user;
    FUZZ_CHECK(s->heads == 0);
    FUZZ_CHECK(s->body_len == 0);
    FUZZ_CHECK(status >= 200 && status <= 599);
    s->heads++;
    s->status = status;
    s->have_type = type != NULL;
    if (type != NULL) {
        size_t n = strlen(type);
        FUZZ_CHECK(n < MTASTS__HTTP_HEAD_MAX);
        s->type = fuzz_cstr((const uint8_t *)type, n);
        /* a value never keeps surrounding whitespace or control bytes */
        if (n > 0) {
            FUZZ_CHECK(type[0] != ' ' && type[0] != '\t');
            FUZZ_CHECK(type[n - 1] != ' ' && type[n - 1] != '\t');
        }
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)type[i];
            FUZZ_CHECK(c == '\t' || (c >= 0x20 && c != 0x7f));
        }
    }
    return MTASTS_OK;
}

static int
on_body(void *user, const unsigned char *data, size_t len)
{
    struct seen *s = user;
    FUZZ_CHECK(s->heads == 1);
    FUZZ_CHECK(len > 0);
    FUZZ_CHECK(len <= s->cap - s->body_len);
    if (len > s->body_alloc - s->body_len) {
        size_t want = s->body_alloc ? s->body_alloc : 64;
        while (want - s->body_len < len) {
            want *= 2;
        }
        unsigned char *grown = realloc(s->body, want);
        FUZZ_CHECK(grown != NULL);
        s->body = grown;
        s->body_alloc = want;
    }
    memcpy(s->body + s->body_len, data, len);
    s->body_len += len;
    return MTASTS_OK;
}

struct outcome {
    int status;
    bool complete_before_close;
    char why[MTASTS__HTTP_WHY_MAX];
    struct seen seen;
};

static void
outcome_free(struct outcome *o)
{
    free(o->seen.type);
    free(o->seen.body);
}

/* Feed data in pieces of `step` bytes (0: whole), or split once at `at`
 * when step is SIZE_MAX, then close. */
static void
run(const uint8_t *data, size_t size, size_t cap, size_t step, size_t at,
    struct outcome *o)
{
    memset(o, 0, sizeof(*o));
    o->seen.cap = cap;
    struct mtasts__http *h = malloc(sizeof(*h));
    FUZZ_CHECK(h != NULL);
    mtasts__http_init(h, cap, on_head, on_body, &o->seen);
    size_t pos = 0;
    int rc = MTASTS_OK;
    while (pos < size && rc == MTASTS_OK) {
        size_t n = size - pos;
        if (step == SIZE_MAX) {
            n = pos < at ? at - pos : size - pos;
        } else if (step != 0 && n > step) {
            n = step;
        }
        char *piece = fuzz_copy(data + pos, n);
        fuzz_dirty_stack();
        rc = mtasts__http_feed(h, piece, n);
        free(piece);
        pos += n;
    }
    FUZZ_CHECK(rc == MTASTS_OK || rc == MTASTS_ERR_SYNTAX ||
               rc == MTASTS_ERR_TOO_LARGE);
    o->complete_before_close = rc == MTASTS_OK && mtasts__http_complete(h);
    if (rc == MTASTS_OK) {
        rc = mtasts__http_finish(h);
        FUZZ_CHECK(rc == MTASTS_OK || rc == MTASTS_ERR_SYNTAX);
        FUZZ_CHECK(mtasts__http_complete(h) == (rc == MTASTS_OK));
    } else {
        /* a failure is final */
        FUZZ_CHECK(mtasts__http_feed(h, "HTTP/1.1 200 OK\r\n\r\n", 19) == rc);
        FUZZ_CHECK(mtasts__http_finish(h) == rc);
        FUZZ_CHECK(!mtasts__http_complete(h));
    }
    o->status = rc;
    const char *why = mtasts__http_why(h);
    FUZZ_CHECK(why != NULL);
    FUZZ_CHECK((rc == MTASTS_OK) == (why[0] == '\0'));
    FUZZ_CHECK(strlen(why) < MTASTS__HTTP_WHY_MAX);
    memcpy(o->why, why, strlen(why) + 1);
    FUZZ_CHECK(mtasts__http_status(h) == o->seen.status);
    FUZZ_CHECK(o->seen.heads <= 1);
    FUZZ_CHECK(o->seen.body_len <= cap);
    if (rc == MTASTS_OK) {
        FUZZ_CHECK(o->seen.heads == 1);
        if (o->seen.status == 204 || o->seen.status == 304) {
            FUZZ_CHECK(o->seen.body_len == 0);
        }
        /* bytes after a complete response change nothing */
        FUZZ_CHECK(mtasts__http_feed(h, "junk", 4) == MTASTS_OK);
        FUZZ_CHECK(o->seen.body_len <= cap);
    }
    free(h);
}

static bool
is_prefix(const struct seen *a, const struct seen *b)
{
    return a->body_len <= b->body_len &&
           (a->body_len == 0 || memcmp(a->body, b->body, a->body_len) == 0);
}

static void
same(const struct outcome *a, const struct outcome *b)
{
    FUZZ_CHECK(a->status == b->status);
    FUZZ_CHECK(a->complete_before_close == b->complete_before_close);
    FUZZ_CHECK(strcmp(a->why, b->why) == 0);
    FUZZ_CHECK(a->seen.heads == b->seen.heads);
    FUZZ_CHECK(a->seen.status == b->seen.status);
    FUZZ_CHECK(a->seen.have_type == b->seen.have_type);
    if (a->seen.have_type) {
        FUZZ_CHECK(strcmp(a->seen.type, b->seen.type) == 0);
    }
    if (a->status == MTASTS_OK) {
        FUZZ_CHECK(is_prefix(&a->seen, &b->seen) &&
                   a->seen.body_len == b->seen.body_len);
    } else {
        /* a failure may come before or after a piece was delivered */
        FUZZ_CHECK(is_prefix(&a->seen, &b->seen) ||
                   is_prefix(&b->seen, &a->seen));
    }
}

static void
check_cap(const uint8_t *data, size_t size, size_t cap, size_t at)
{
    struct outcome whole;
    struct outcome bytes;
    struct outcome split;
    run(data, size, cap, 0, 0, &whole);
    run(data, size, cap, 1, 0, &bytes);
    run(data, size, cap, SIZE_MAX, at, &split);
    same(&whole, &bytes);
    same(&whole, &split);
    outcome_free(&whole);
    outcome_free(&bytes);
    outcome_free(&split);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a split offset that depends on the content, not only the size */
    size_t mix = size;
    for (size_t i = 0; i < size && i < 64; i++) {
        mix = mix * 31u + data[i];
    }
    size_t at = size > 0 ? mix % size : 0;
    check_cap(data, size, MTASTS_POLICY_MAX, at);
    check_cap(data, size, 1 + size % SMALL_CAP_SPAN, at);
    return 0;
}
