/* Fuzz the SMTP reply reader of the STARTTLS probe (lib/io/smtp_reply.c).
 *
 * The input is what a server sends: a sequence of replies. They are read
 * one after the other, as the probe reads banner, EHLO and STARTTLS
 * replies, until the input ends or a reply fails; the whole input is read
 * three ways: fed whole, one byte at a time, and split in two at an offset
 * taken from the input, every piece in a heap block of its exact size. All
 * ways must agree, and every promise of io/smtp.h must hold: a reply's
 * code is 200 to 559, it has 1 to MTASTS__SMTP_LINES_MAX lines, its first
 * line fits MTASTS__SMTP_LINE_MAX, nothing past the reply is taken, a
 * failure has a message and is final, the keyword list and every quote
 * are NUL-terminated inside their buffers. */
#include "fuzz.h"

#include <stdbool.h>

#include "io/smtp.h"
#include "mtasts/mtasts.h"

#define REPLIES_MAX 64 /* replies read from one input */

/* What one way of reading saw: a digest of every reply. */
struct seen {
    size_t replies;
    unsigned code[REPLIES_MAX];
    size_t lines[REPLIES_MAX];
    bool starttls[REPLIES_MAX];
    size_t used; /* bytes taken in all */
    int status;  /* of the last feed */
    char why[MTASTS__SMTP_WHY_MAX];
};

static void
check_reply(const struct mtasts__smtp_reply *r)
{
    FUZZ_CHECK(r->code >= 200 && r->code <= 559);
    FUZZ_CHECK(r->code % 100 / 10 <= 5);
    FUZZ_CHECK(r->lines >= 1 && r->lines <= MTASTS__SMTP_LINES_MAX);
    FUZZ_CHECK(r->first_len >= 3 && r->first_len <= MTASTS__SMTP_LINE_MAX - 2);
    FUZZ_CHECK(memchr(r->keywords, '\0', sizeof(r->keywords)) != NULL);
    FUZZ_CHECK(r->why[0] == '\0');
    FUZZ_CHECK(!r->starttls || r->lines >= 2);
    char q[80];
    mtasts__smtp_quote(r->first, r->first_len, q, sizeof(q));
    FUZZ_CHECK(q[0] == '"' && strlen(q) < sizeof(q));
}

/* Read replies from in[0..len), cut at the offsets in cuts (ascending). */
static void
read_all(const uint8_t *in, size_t len, const size_t *cuts, size_t ncuts,
         struct seen *s)
{
    struct mtasts__smtp_reply r;
    memset(s, 0, sizeof(*s));
    mtasts__smtp_reply_init(&r);
    size_t from = 0;
    for (size_t i = 0; i <= ncuts && s->status == MTASTS_OK; i++) {
        size_t to = i < ncuts ? cuts[i] : len;
        char *piece = fuzz_copy(in + from, to - from);
        size_t off = 0;
        /* Each turn ends a reply (and starts the next) or takes the rest
         * of the piece. */
        while (s->status == MTASTS_OK && s->replies < REPLIES_MAX) {
            size_t used = 0;
            s->status = mtasts__smtp_reply_feed(
                &r, piece == NULL ? NULL : piece + off, to - from - off, &used);
            FUZZ_CHECK(used <= to - from - off);
            off += used;
            s->used += used;
            if (s->status != MTASTS_OK) {
                FUZZ_CHECK(r.why[0] != '\0' && !r.done);
                FUZZ_CHECK(s->status == MTASTS_ERR_SYNTAX ||
                           s->status == MTASTS_ERR_TOO_LARGE);
                memcpy(s->why, r.why, sizeof(s->why));
                size_t again = 1;
                FUZZ_CHECK(mtasts__smtp_reply_feed(&r, "220 x\r\n", 7,
                                                   &again) == s->status);
                FUZZ_CHECK(again == 0);
                break;
            }
            if (!r.done) {
                FUZZ_CHECK(off == to - from);
                break;
            }
            check_reply(&r);
            s->code[s->replies] = r.code;
            s->lines[s->replies] = r.lines;
            s->starttls[s->replies] = r.starttls;
            s->replies++;
            mtasts__smtp_reply_init(&r);
        }
        free(piece);
        from = to;
        if (s->replies == REPLIES_MAX) {
            break;
        }
    }
}

static void
same(const struct seen *a, const struct seen *b)
{
    FUZZ_CHECK(a->replies == b->replies);
    FUZZ_CHECK(a->status == b->status);
    FUZZ_CHECK(a->used == b->used);
    FUZZ_CHECK(strcmp(a->why, b->why) == 0);
    for (size_t i = 0; i < a->replies; i++) {
        FUZZ_CHECK(a->code[i] == b->code[i]);
        FUZZ_CHECK(a->lines[i] == b->lines[i]);
        FUZZ_CHECK(a->starttls[i] == b->starttls[i]);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct seen whole, bytes, two;
    read_all(data, size, NULL, 0, &whole);

    size_t *cuts = calloc(size + 1, sizeof(*cuts));
    FUZZ_CHECK(cuts != NULL);
    for (size_t i = 0; i + 1 < size; i++) {
        cuts[i] = i + 1;
    }
    read_all(data, size, cuts, size > 0 ? size - 1 : 0, &bytes);
    same(&whole, &bytes);

    if (size >= 2) {
        cuts[0] = 1 + (size_t)data[0] % (size - 1);
        read_all(data, size, cuts, 1, &two);
        same(&whole, &two);
    }
    free(cuts);

    /* The quote of the whole input, in a buffer from 0 to 40 bytes. */
    size_t qsize = size % 41;
    char *q = malloc(qsize + 1);
    FUZZ_CHECK(q != NULL);
    q[qsize] = '#';
    mtasts__smtp_quote(data, size, q, qsize);
    FUZZ_CHECK(q[qsize] == '#');
    if (qsize >= 6) {
        FUZZ_CHECK(q[0] == '"' && strlen(q) < qsize);
    }
    free(q);
    return 0;
}
