/* Fuzz target: one DNS reply read by the default DNS client,
 * mtasts__io_dns_reply() (lib/io/dns.c): the checks that a message answers
 * the question, the walk of its answer section along CNAMEs (R8461-3.1-m)
 * and the decoding of TXT records (R8461-3.1-b) and addresses.
 *
 * The input is a DNS message as received. The question it is read against
 * comes from the message itself, so that most inputs pass the checks and
 * reach the walk: the id is its first two bytes; the name and type are
 * those of its question section when that holds one plain name (labels of
 * letters, digits, '-' and '_', no compression) and the type TXT, A or
 * AAAA; otherwise the name is _mta-sts.example.com and the type one of the
 * three chosen by the length.
 *
 * Invariants: no crash, leak or read outside the message; the status
 * agrees with the kind of reply, and a failure has a non-empty reason
 * that fits the buffer (cut, not overrun, in a small one); records are
 * given only for an answer, have the question's type, TXT text shorter
 * than the message and addresses of the family of the type with port 0;
 * the CNAME chain stays within MTASTS__IO_CNAME_HOPS_MAX and grows only
 * when the walk followed a CNAME; over TCP only the TC bit is ignored;
 * another id is never accepted; a failing callback ends the reading with
 * its status; and the same reading gives the same result. */
#include "fuzz.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "io/internal.h"
#include "mtasts/mtasts.h"

#define DEFAULT_NAME "_mta-sts.example.com"
#define NAME_TEXT_MAX 254 /* 253 and a NUL (RFC 1035 §2.3.4) */
#define HEADER_LEN 12     /* RFC 1035 §4.1.1 */
#define SEEN_MAX 4096
#define FAIL_STATUS MTASTS_ERR_TOO_LARGE /* what a failing callback says */

struct seen {
    size_t wire_len;
    uint16_t type;
    size_t calls;
    size_t fail_at;    /* fail the fail_at-th call (1-based); 0 never */
    unsigned long sum; /* of the bytes given, to compare two readings */
};

static int
on_rr(const struct mtasts__io_dns_rr *rr, void *user)
{
    struct seen *s = user;
    FUZZ_CHECK(rr != NULL);
    FUZZ_CHECK(rr->type == s->type);
    s->calls++;
    if (rr->type == MTASTS__IO_DNS_TYPE_TXT) {
        FUZZ_CHECK(rr->txt_len < s->wire_len);
        FUZZ_CHECK(rr->txt != NULL);
        /* every byte is readable (ASan) and counts */
        for (size_t i = 0; i < rr->txt_len; i++) {
            s->sum = s->sum * 31u + (unsigned char)rr->txt[i];
        }
        s->sum += rr->txt_len;
    } else {
        const struct sockaddr *sa = (const struct sockaddr *)&rr->addr.sa;
        if (rr->type == MTASTS__IO_DNS_TYPE_A) {
            const struct sockaddr_in *v4 = (const void *)&rr->addr.sa;
            FUZZ_CHECK(sa->sa_family == AF_INET);
            FUZZ_CHECK(rr->addr.len == sizeof(*v4));
            FUZZ_CHECK(v4->sin_port == 0);
            s->sum = s->sum * 31u + v4->sin_addr.s_addr;
        } else {
            const struct sockaddr_in6 *v6 = (const void *)&rr->addr.sa;
            FUZZ_CHECK(rr->type == MTASTS__IO_DNS_TYPE_AAAA);
            FUZZ_CHECK(sa->sa_family == AF_INET6);
            FUZZ_CHECK(rr->addr.len == sizeof(*v6));
            FUZZ_CHECK(v6->sin6_port == 0);
            for (size_t i = 0; i < 16; i++) {
                s->sum = s->sum * 31u + v6->sin6_addr.s6_addr[i];
            }
        }
    }
    if (s->fail_at != 0 && s->calls == s->fail_at) {
        return FAIL_STATUS;
    }
    return MTASTS_OK;
}

/* The question name of the message in text form, when it is plain. */
static bool
question_name(const uint8_t *data, size_t size, char out[NAME_TEXT_MAX],
              size_t *end)
{
    if (size < HEADER_LEN || ((data[4] << 8) | data[5]) == 0) {
        return false;
    }
    size_t pos = HEADER_LEN;
    size_t o = 0;
    for (;;) {
        if (pos >= size) {
            return false;
        }
        size_t len = data[pos++];
        if (len == 0) {
            break;
        }
        if (len > 63 || size - pos < len || o + len + 1 >= NAME_TEXT_MAX) {
            return false;
        }
        if (o > 0) {
            out[o++] = '.';
        }
        for (size_t i = 0; i < len; i++) {
            unsigned char c = data[pos + i];
            bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      (c >= '0' && c <= '9') || c == '-' || c == '_';
            if (!ok) {
                return false;
            }
            out[o++] = (char)c;
        }
        pos += len;
    }
    if (o == 0) {
        return false;
    }
    out[o] = '\0';
    *end = pos;
    return true;
}

static bool
wanted_type(unsigned t)
{
    return t == MTASTS__IO_DNS_TYPE_TXT || t == MTASTS__IO_DNS_TYPE_A ||
           t == MTASTS__IO_DNS_TYPE_AAAA;
}

struct run {
    int rc;
    struct mtasts__io_dns_result res;
    size_t chain_n;
    struct seen seen;
    char why[MTASTS__IO_REASON_MAX];
};

static void
read_once(const uint8_t *data, size_t size, const char *qname, uint16_t id,
          uint16_t type, bool tcp, size_t fail_at, size_t why_size,
          struct run *r)
{
    memset(r, 0, sizeof(*r));
    r->seen.wire_len = size;
    r->seen.type = type;
    r->seen.fail_at = fail_at;
    struct mtasts__io_dns_chain ch;
    FUZZ_CHECK(mtasts__io_dns_chain_init(&ch, qname) == MTASTS_OK);
    FUZZ_CHECK(ch.n == 1);
    uint8_t *wire = (uint8_t *)fuzz_copy(data, size);
    char *why = malloc(why_size);
    FUZZ_CHECK(why != NULL);
    memset(why, 'x', why_size);
    fuzz_dirty_stack();
    r->rc = mtasts__io_dns_reply(&ch, wire, size, id, type, tcp, on_rr,
                                 &r->seen, &r->res, why, why_size);
    r->chain_n = ch.n;
    FUZZ_CHECK(memchr(why, '\0', why_size) != NULL);
    size_t why_len = strlen(why);
    FUZZ_CHECK(why_len < sizeof(r->why));
    memcpy(r->why, why, why_len + 1);
    free(why);
    free(wire);
    mtasts__io_dns_chain_free(&ch);
    FUZZ_CHECK(ch.n == 0);
}

/* What holds for every reading. */
static void
check_run(const struct run *r)
{
    const struct mtasts__io_dns_result *res = &r->res;
    FUZZ_CHECK(r->chain_n >= 1);
    FUZZ_CHECK(r->chain_n <= MTASTS__IO_CNAME_HOPS_MAX + 1);
    /* a record fn refused was given and not counted */
    FUZZ_CHECK(r->seen.calls <=
               res->records + (res->kind == MTASTS__IO_DNS_REJECTED));
    FUZZ_CHECK(res->rcode >= -1 && res->rcode <= 15);
    switch (res->kind) {
    case MTASTS__IO_DNS_ANSWER:
        FUZZ_CHECK(r->rc == MTASTS_OK);
        FUZZ_CHECK(res->records >= 1);
        FUZZ_CHECK(res->rcode == 0 || res->rcode == 3);
        break;
    case MTASTS__IO_DNS_NXDOMAIN:
        FUZZ_CHECK(r->rc == MTASTS_OK);
        FUZZ_CHECK(res->rcode == 3);
        break;
    case MTASTS__IO_DNS_NODATA:
        FUZZ_CHECK(r->rc == MTASTS_OK);
        FUZZ_CHECK(res->rcode == 0);
        FUZZ_CHECK(r->chain_n == 1);
        break;
    case MTASTS__IO_DNS_FOLLOW:
        FUZZ_CHECK(r->rc == MTASTS_OK);
        FUZZ_CHECK(res->rcode == 0);
        FUZZ_CHECK(r->chain_n > 1);
        break;
    case MTASTS__IO_DNS_MALFORMED:
        FUZZ_CHECK(res->rcode == -1);
        /* fall through */
    case MTASTS__IO_DNS_MISMATCH:
    case MTASTS__IO_DNS_TRUNCATED:
    case MTASTS__IO_DNS_RCODE:
        FUZZ_CHECK(r->rc == MTASTS_ERR_DNS_TEMPFAIL);
        FUZZ_CHECK(r->chain_n == 1);
        FUZZ_CHECK(r->seen.calls == 0);
        if (res->kind == MTASTS__IO_DNS_RCODE) {
            FUZZ_CHECK(res->rcode != 0 && res->rcode != 3);
        }
        break;
    case MTASTS__IO_DNS_REJECTED:
        FUZZ_CHECK(r->rc == MTASTS_ERR_DNS_TEMPFAIL ||
                   r->rc == MTASTS_ERR_NOMEM || r->rc == FAIL_STATUS);
        break;
    default:
        FUZZ_CHECK(!"unknown kind");
    }
    if (res->kind != MTASTS__IO_DNS_ANSWER &&
        res->kind != MTASTS__IO_DNS_REJECTED) {
        FUZZ_CHECK(r->seen.calls == 0);
    }
    if (res->kind != MTASTS__IO_DNS_ANSWER) {
        FUZZ_CHECK(res->records == 0 || res->kind == MTASTS__IO_DNS_REJECTED);
    }
    /* a failure says why; a success says nothing */
    FUZZ_CHECK((r->rc == MTASTS_OK) == (r->why[0] == '\0'));
}

static bool
same(const struct run *a, const struct run *b)
{
    return a->rc == b->rc && a->res.kind == b->res.kind &&
           a->res.rcode == b->res.rcode && a->res.records == b->res.records &&
           a->chain_n == b->chain_n && a->seen.calls == b->seen.calls &&
           a->seen.sum == b->seen.sum && strcmp(a->why, b->why) == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint16_t types[] = {MTASTS__IO_DNS_TYPE_TXT,
                                     MTASTS__IO_DNS_TYPE_A,
                                     MTASTS__IO_DNS_TYPE_AAAA};
    char qname[NAME_TEXT_MAX];
    size_t end = 0;
    uint16_t type = types[size % 3];
    if (question_name(data, size, qname, &end)) {
        if (size - end >= 2 && wanted_type((data[end] << 8) | data[end + 1])) {
            type = (uint16_t)((data[end] << 8) | data[end + 1]);
        }
    } else {
        memcpy(qname, DEFAULT_NAME, sizeof(DEFAULT_NAME));
    }
    uint16_t id = size >= 2 ? (uint16_t)((data[0] << 8) | data[1]) : 0;

    struct run udp;
    struct run tcp;
    struct run again;
    read_once(data, size, qname, id, type, false, 0, MTASTS__IO_REASON_MAX,
              &udp);
    check_run(&udp);
    read_once(data, size, qname, id, type, false, 0, MTASTS__IO_REASON_MAX,
              &again);
    FUZZ_CHECK(same(&udp, &again));

    /* over TCP the TC bit alone is ignored */
    read_once(data, size, qname, id, type, true, 0, MTASTS__IO_REASON_MAX,
              &tcp);
    check_run(&tcp);
    FUZZ_CHECK(tcp.res.kind != MTASTS__IO_DNS_TRUNCATED);
    if (udp.res.kind != MTASTS__IO_DNS_TRUNCATED) {
        FUZZ_CHECK(same(&udp, &tcp));
    }

    /* another id is never a reply to the question */
    read_once(data, size, qname, (uint16_t)(id ^ 0x5a5a), type, true, 0,
              MTASTS__IO_REASON_MAX, &again);
    check_run(&again);
    FUZZ_CHECK(again.res.kind == MTASTS__IO_DNS_MALFORMED ||
               again.res.kind == MTASTS__IO_DNS_MISMATCH);

    /* a callback that fails at its first call ends the reading */
    read_once(data, size, qname, id, type, true, 1, MTASTS__IO_REASON_MAX,
              &again);
    check_run(&again);
    if (tcp.seen.calls > 0) {
        FUZZ_CHECK(again.rc == FAIL_STATUS);
        FUZZ_CHECK(again.res.kind == MTASTS__IO_DNS_REJECTED);
        FUZZ_CHECK(again.seen.calls == 1);
        FUZZ_CHECK(strncmp(again.why, "answer not accepted: ", 21) == 0);
    } else {
        FUZZ_CHECK(same(&tcp, &again));
    }

    /* a small reason buffer: the same outcome, the reason cut */
    size_t small = 1 + size % 16;
    read_once(data, size, qname, id, type, true, 0, small, &again);
    FUZZ_CHECK(again.rc == tcp.rc && again.res.kind == tcp.res.kind);
    FUZZ_CHECK(strlen(again.why) < small);
    FUZZ_CHECK(strncmp(again.why, tcp.why, strlen(again.why)) == 0);
    return 0;
}
