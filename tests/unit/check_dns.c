/* Unit tests of the reading of one DNS reply by the default DNS client,
 * mtasts__io_dns_reply() (lib/io/dns.c), without a network: the messages
 * are built here byte by byte (RFC 1035 §4.1).
 *
 * Covered: TXT character-strings joined (R8461-3.1-b); CNAME chains
 * followed inside a reply and across replies, loops and over-long chains
 * rejected with a reason (R8461-3.1-m); NXDOMAIN told from NODATA, which
 * the engine both takes as "no record" (R8461-3.1-d); server failures as
 * temporary (R8461-3.1-p); replies that do not answer the question (RFC
 * 5452 §9.1); truncation; A and AAAA records, including the empty one the
 * fuzzer found (corpus/dns_reply/crash_a_empty_rdata.dns).
 */
#include "harness.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "io/internal.h"
#include "mtasts/mtasts.h"

#define QNAME "_mta-sts.example.com"
#define STS "v=STSv1; id=20190429T010101;"
#define ID 0x4d54
#define MSG_MAX 2048
#define GOT_MAX 8
#define TEXT_MAX 600

#define TXT MTASTS__IO_DNS_TYPE_TXT
#define A MTASTS__IO_DNS_TYPE_A
#define AAAA MTASTS__IO_DNS_TYPE_AAAA
#define CNAME 5
#define SOA 6
#define CLASS_IN 1
#define CLASS_CH 3

/* header flags (RFC 1035 §4.1.1) */
#define QR 0x8000
#define TC 0x0200
#define RD 0x0100
#define RA 0x0080
#define RESPONSE (QR | RD | RA)
#define NOERROR 0
#define FORMERR 1
#define SERVFAIL 2
#define NXDOMAIN 3
#define REFUSED 5

/* ---- building messages --------------------------------------------------- */

struct msg {
    uint8_t b[MSG_MAX];
    size_t len;
    unsigned qd, an, ns;
};

static void
put(struct msg *m, const void *data, size_t n)
{
    ck_assert_uint_le(m->len + n, MSG_MAX);
    memcpy(m->b + m->len, data, n);
    m->len += n;
}

static void
put16(struct msg *m, unsigned v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    put(m, b, 2);
}

/* A name in wire form; NULL is a pointer to the question name. */
static void
put_name(struct msg *m, const char *name)
{
    if (name == NULL) {
        put16(m, 0xc000 | 12);
        return;
    }
    const char *p = name;
    while (*p != '\0') {
        const char *dot = strchr(p, '.');
        size_t n = dot != NULL ? (size_t)(dot - p) : strlen(p);
        uint8_t len = (uint8_t)n;
        put(m, &len, 1);
        put(m, p, n);
        p += n;
        if (*p == '.') {
            p++;
        }
    }
    put(m, "", 1);
}

/* A header and, unless qname is NULL, one question of class IN. */
static void
msg_begin(struct msg *m, uint16_t id, unsigned flags, const char *qname,
          uint16_t qtype)
{
    memset(m, 0, sizeof(*m));
    put16(m, id);
    put16(m, flags);
    put(m, "\0\0\0\0\0\0\0\0", 8); /* counts, set by msg_end() */
    if (qname != NULL) {
        put_name(m, qname);
        put16(m, qtype);
        put16(m, CLASS_IN);
        m->qd = 1;
    }
}

static void
msg_end(struct msg *m)
{
    m->b[4] = (uint8_t)(m->qd >> 8);
    m->b[5] = (uint8_t)m->qd;
    m->b[6] = (uint8_t)(m->an >> 8);
    m->b[7] = (uint8_t)m->an;
    m->b[8] = (uint8_t)(m->ns >> 8);
    m->b[9] = (uint8_t)m->ns;
}

static void
rr_raw(struct msg *m, const char *owner, uint16_t type, uint16_t rclass,
       const void *rdata, size_t rdlen)
{
    put_name(m, owner);
    put16(m, type);
    put16(m, rclass);
    put(m, "\0\0\x01\x2c", 4); /* TTL 300 */
    put16(m, (unsigned)rdlen);
    put(m, rdata, rdlen);
    m->an++;
}

static void
rr_txt(struct msg *m, const char *owner, const char *const *strings,
       size_t count)
{
    uint8_t rdata[MSG_MAX];
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        size_t len = strlen(strings[i]);
        ck_assert_uint_le(len, 255);
        rdata[n++] = (uint8_t)len;
        memcpy(rdata + n, strings[i], len);
        n += len;
    }
    rr_raw(m, owner, TXT, CLASS_IN, rdata, n);
}

static void
rr_cname(struct msg *m, const char *owner, const char *target)
{
    struct msg name;
    memset(&name, 0, sizeof(name));
    put_name(&name, target);
    rr_raw(m, owner, CNAME, CLASS_IN, name.b, name.len);
}

/* An SOA in the authority section, as negative answers carry. */
static void
ns_soa(struct msg *m)
{
    struct msg rdata;
    memset(&rdata, 0, sizeof(rdata));
    put_name(&rdata, "ns.example.com");
    put_name(&rdata, "hostmaster.example.com");
    put(&rdata,
        "\x78\x9a\xbc\xde\0\0\x0e\x10\0\0\x02\x58\0\x01\x51\x80"
        "\0\0\x01\x2c",
        20);
    rr_raw(m, "example.com", SOA, CLASS_IN, rdata.b, rdata.len);
    m->an--;
    m->ns++;
}

/* ---- reading them -------------------------------------------------------- */

struct got {
    size_t n;
    char txt[GOT_MAX][TEXT_MAX];
    size_t txt_len[GOT_MAX];
    struct mtasts__io_dns_rr rr[GOT_MAX];
    int rc; /* returned by the callback */
};

static int
got_rr(const struct mtasts__io_dns_rr *rr, void *user)
{
    struct got *g = user;
    ck_assert_uint_lt(g->n, GOT_MAX);
    g->rr[g->n] = *rr;
    g->rr[g->n].txt = NULL;
    g->txt_len[g->n] = rr->txt_len;
    if (rr->type == TXT) {
        ck_assert_uint_lt(rr->txt_len, TEXT_MAX);
        memcpy(g->txt[g->n], rr->txt, rr->txt_len);
    }
    g->n++;
    return g->rc;
}

struct reading {
    int rc;
    struct mtasts__io_dns_result res;
    char why[MTASTS__IO_REASON_MAX];
    struct got got;
};

/* Read m against the question (ch's last name, id, type). */
static void
read_on(struct mtasts__io_dns_chain *ch, struct msg *m, uint16_t id,
        uint16_t type, bool tcp, struct reading *r)
{
    msg_end(m);
    r->rc = mtasts__io_dns_reply(ch, m->b, m->len, id, type, tcp, got_rr,
                                 &r->got, &r->res, r->why, sizeof(r->why));
    /* a failure says why, a success nothing */
    ck_assert_int_eq(r->rc == MTASTS_OK, r->why[0] == '\0');
}

/* Read m as the reply to a fresh question for qname; the chain's final
 * length in *chain_n. */
static void
read_new(const char *qname, struct msg *m, uint16_t id, uint16_t type, bool tcp,
         struct reading *r, size_t *chain_n)
{
    struct mtasts__io_dns_chain ch;
    ck_assert_int_eq(mtasts__io_dns_chain_init(&ch, qname), MTASTS_OK);
    read_on(&ch, m, id, type, tcp, r);
    *chain_n = ch.n;
    mtasts__io_dns_chain_free(&ch);
}

static void
reading_init(struct reading *r)
{
    memset(r, 0, sizeof(*r));
}

#define ASSERT_TXT(r, i, text)                                                 \
    do {                                                                       \
        ck_assert_uint_eq((r)->got.txt_len[i], strlen(text));                  \
        ck_assert(memcmp((r)->got.txt[i], (text), strlen(text)) == 0);         \
    } while (0)

/* ---- answers ------------------------------------------------------------- */

START_TEST(test_dns_txt_single)
{
    struct msg m;
    struct reading r;
    size_t n;
    reading_init(&r);
    msg_begin(&m, ID, RESPONSE, QNAME, TXT);
    rr_txt(&m, NULL, (const char *[]){STS}, 1);
    read_new(QNAME, &m, ID, TXT, false, &r, &n);
    ck_assert_int_eq(r.rc, MTASTS_OK);
    ck_assert_int_eq(r.res.kind, MTASTS__IO_DNS_ANSWER);
    ck_assert_int_eq(r.res.rcode, NOERROR);
    ck_assert_uint_eq(r.res.records, 1);
    ck_assert_uint_eq(r.got.n, 1);
    ck_assert_uint_eq(r.got.rr[0].type, TXT);
    ASSERT_TXT(&r, 0, STS);
    ck_assert_uint_eq(n, 1);
}
END_TEST

/* R8461-3.1-b: the strings of one RR are joined with nothing in between,
 * each RR is one record, in answer order. */
START_TEST(test_dns_txt_split_strings)
{
    struct msg m;
    struct reading r;
    size_t n;
    reading_init(&r);
    msg_begin(&m, ID, RESPONSE, QNAME, TXT);
    rr_txt(&m, NULL, (const char *[]){"v=STSv1; id=", "2016083108"}, 2);
    rr_txt(&m, NULL, (const char *[]){"v=STS", "v1; id=1"}, 2);
    rr_txt(&m, NULL, (const char *[]){"", "v=spf1", "", " -all", ""}, 5);
    read_new(QNAME, &m, ID, TXT, false, &r, &n);
    ck_assert_int_eq(r.rc, MTASTS_OK);
    ck_assert_int_eq(r.res.kind, MTASTS__IO_DNS_ANSWER);
    ck_assert_uint_eq(r.res.records, 3);
    ck_assert_uint_eq(r.got.n, 3);
    ASSERT_TXT(&r, 0, "v=STSv1; id=2016083108");
    ASSERT_TXT(&r, 1, "v=STSv1; id=1");
    ASSERT_TXT(&r, 2, "v=spf1 -all");
}
END_TEST

/* A TXT RR with RDLENGTH 0 is a record with empty text. */
START_TEST(test_dns_txt_empty_rdata)
{
    struct msg m;
    struct reading r;
    size_t n;
    reading_init(&r);
    msg_begin(&m, ID, RESPONSE, QNAME, TXT);
    rr_raw(&m, NULL, TXT, CLASS_IN, "", 0);
    read_new(QNAME, &m, ID, TXT, false, &r, &n);
    ck_assert_int_eq(r.res.kind, MTASTS__IO_DNS_ANSWER);
    ck_assert_uint_eq(r.got.n, 1);
    ck_assert_uint_eq(r.got.txt_len[0], 0);
}
END_TEST

/* Only records of the type and class IN at the name count; owner names
 * compare case-insensitively. */
START_TEST(test_dns_txt_other_records)
{
    struct msg m;
    struct reading r;
    size_t n;
    reading_init(&r);
    msg_begin(&m, ID, RESPONSE, QNAME, TXT);
    rr_raw(&m, NULL, TXT, CLASS_CH,
           "\x03"
           "abc",
           4);
    rr_raw(&m, NULL, A, CLASS_IN, "\xc0\x00\x02\x01", 4);
    rr_txt(&m, "_mta-sts.other.example", (const char *[]){STS}, 1);
    read_new(QNAME, &m, ID, TXT, false, &r, &n);
    ck_assert_int_eq(r.rc, MTASTS_OK);
    ck_assert_int_eq(r.res.kind, MTASTS__IO_DNS_NODATA);
    ck_assert_uint_eq(r.got.n, 0);

    reading_init(&r);
    msg_begin(&m, ID, RESPONSE, QNAME, TXT);
    rr_txt(&m, "_MTA-STS.Example.COM", (const char *[]){STS}, 1);
    read_new(QNAME, &m, ID, TXT, false, &r, &n);
    ck_assert_int_eq(r.res.kind, MTASTS__IO_DNS_ANSWER);
    ASSERT_TXT(&r, 0, STS);
}
END_TEST

START_TEST(test_dns_addresses)
{
    static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x10};
    struct msg m;
    struct reading r;
    size_t n;
    reading_init(&r);
    msg_begin(&m, ID, RESPONSE, "mta-sts.example.com", A);
    rr_raw(&m, NULL, A, CLASS_IN, "\xc0\x00\x02\x0a", 4);
    rr_raw(&m, NULL, A, CLASS_IN, "\xc0\x00\x02\x0b", 4);
    read_new("mta-sts.example.com", &m, ID, A, false, &r, &n);
    ck_assert_int_eq(r.res.kind, MTASTS__IO_DNS_ANSWER);
    ck_assert_uint_eq(r.got.n, 2);
    for (size_t i = 0; i < 2; i++) {
        const struct sockaddr_in *sin = (const void *)&r.got.rr[i].addr.sa;
        ck_assert_int_eq(sin->sin_family, AF_INET);
        ck_assert_uint_eq(r.got.rr[i].addr.len, sizeof(*sin));
        ck_assert_uint_eq(sin->sin_port, 0);
        ck_assert(memcmp(&sin->sin_addr,
                         i == 0 ? "\xc0\x00\x02\x0a" : "\xc0\x00\x02\x0b",
                         4) == 0);
    }

    reading_init(&r);
    msg_begin(&m, ID, RESPONSE, "mta-sts.example.com", AAAA);
    rr_raw(&m, NULL, AAAA, CLASS_IN, v6, 16);
    read_new("mta-sts.example.com", &m, ID, AAAA, false, &r, &n);
    ck_assert_int_eq(r.res.kind, MTASTS__IO_DNS_ANSWER);
    ck_assert_uint_eq(r.got.n, 1);
    const struct sockaddr_in6 *sin6 = (const void *)&r.got.rr[0].addr.sa;
    ck_assert_int_eq(sin6->sin6_family, AF_INET6);
    ck_assert_uint_eq(r.got.rr[0].addr.len, sizeof(*sin6));
    ck_assert(memcmp(&sin6->sin6_addr, v6, 16) == 0);
}
END_TEST

/* Found by fuzz_dns_reply (corpus/dns_reply/crash_a_empty_rdata.dns):
 * ldns reads an A or AAAA record with RDLENGTH 0 as a record without
 * fields, and its ldns_rdf_get_type(NULL) asserted. Such a record is
 * counted, not given; one of another length makes the message malformed. */
START_TEST(test_dns_address_empty_rdata)
{
    struct msg m;
    struct reading r;
    size_t n;
    reading_init(&r);
    msg_begin(&m, ID, RESPONSE, "mta-sts.example.com", A);
    rr_raw(&m, NULL, A, CLASS_IN, "\xc0\x00\x02\x0a", 4);
    rr_raw(&m, NULL, A, CLASS_IN, "", 0);
    read_new("mta-sts.example.com", &m, ID, A, false, &r, &n);
    ck_assert_int_eq(r.rc, MTASTS_OK);
    ck_assert_int_eq(r.res.kind, MTASTS__IO_DNS_ANSWER);
    ck_assert_uint_eq(r.res.records, 2);
    ck_assert_uint_eq(r.got.n, 1);

    reading_init(&r);
    msg_begin(&m, ID, RESPONSE, "mta-sts.example.com", AAAA);
    rr_raw(&m, NULL, AAAA, CLASS_IN, "", 0);
    read_new("mta-sts.example.com", &m, ID, AAAA, false, &r, &n);
    ck_assert_int_eq(r.res.kind, MTASTS__IO_DNS_ANSWER);
    ck_assert_uint_eq(r.res.records, 1);
    ck_assert_uint_eq(r.got.n, 0);

    reading_init(&r);
    msg_begin(&m, ID, RESPONSE, "mta-sts.example.com", A);
    rr_raw(&m, NULL, A, CLASS_IN, "\xc0\x00\x02", 3);
    read_new("mta-sts.example.com", &m, ID, A, false, &r, &n);
    ck_assert_int_eq(r.rc, MTASTS_ERR_DNS_TEMPFAIL);
    ck_assert_int_eq(r.res.kind, MTASTS__IO_DNS_MALFORMED);
}
END_TEST

/* ---- CNAME chains (R8461-3.1-m) --------------------------------------------
 */

START_TEST(test_dns_cname_followed)
{
    struct msg m;
    struct reading r;
    size_t n;
    reading_init(&r);
    msg_begin(&m, ID, RESPONSE, "_mta-sts.user.example", TXT);
    rr_cname(&m, NULL, "_mta-sts.provider.example");
    rr_txt(&m, "_mta-sts.provider.example", (const char *[]){"v=STSv1; id=p1"},
           1);
    read_new("_mta-sts.user.example", &m, ID, TXT, false, &r, &n);
    ck_assert_int_eq(r.rc, MTASTS_OK);
    ck_assert_int_eq(r.res.kind, MTASTS__IO_DNS_ANSWER);
    ASSERT_TXT(&r, 0, "v=STSv1; id=p1");
    ck_assert_uint_eq(n, 2);

    /* two steps, the records listed before the CNAMEs */
    reading_init(&r);
    msg_begin(&m, ID, RESPONSE, "_mta-sts.user.example", TXT);
    rr_txt(&m, "_mta-sts.provider.example", (const char *[]){"v=STSv1; id=p2"},
           1);
    rr_cname(&m, "_mta-sts.hop.example", "_mta-sts.provider.example");
    rr_cname(&m, NULL, "_mta-sts.hop.example");
    read_new("_mta-sts.user.example", &m, ID, TXT, false, &r, &n);
    ck_assert_int_eq(r.res.kind, MTASTS__IO_DNS_ANSWER);
    ASSERT_TXT(&r, 0, "v=STSv1; id=p2");
    ck_assert_uint_eq(n, 3);

    /* records at the query name win over a CNAME there */
    reading_init(&r);
    msg_begin(&m, ID, RESPONSE, QNAME, TXT);
    rr_cname(&m, NULL, "_mta-sts.provider.example");
    rr_txt(&m, NULL, (const char *[]){STS}, 1);
    read_new(QNAME, &m, ID, TXT, false, &r, &n);
    ck_assert_int_eq(r.res.kind, MTASTS__IO_DNS_ANSWER);
    ASSERT_TXT(&r, 0, STS);
    ck_assert_uint_eq(n, 1);
}
END_TEST

/* A reply that stops at a CNAME (the target is in another zone): FOLLOW,
 * and the next reply is read for the target, on the same chain. */
START_TEST(test_dns_cname_across_replies)
{
    struct mtasts__io_dns_chain ch;
    struct msg m;
    struct reading r;
    ck_assert_int_eq(mtasts__io_dns_chain_init(&ch, "_mta-sts.user.example"),
                     MTASTS_OK);
    reading_init(&r);
    msg_begin(&m, ID, RESPONSE, "_mta-sts.user.example", TXT);
    rr_cname(&m, NULL, "_mta-sts.provider.example");
    read_on(&ch, &m, ID, TXT, false, &r);
    ck_assert_int_eq(r.rc, MTASTS_OK);
    ck_assert_int_eq(r.res.kind, MTASTS__IO_DNS_FOLLOW);
    ck_assert_uint_eq(ch.n, 2);
    ck_assert_uint_eq(r.got.n, 0);

    /* the old question no longer matches */
    reading_init(&r);
    read_on(&ch, &m, ID, TXT, false, &r);
    ck_assert_int_eq(r.res.kind, MTASTS__IO_DNS_MISMATCH);

    reading_init(&r);
    msg_begin(&m, ID + 1, RESPONSE, "_mta-sts.provider.example", TXT);
    rr_txt(&m, NULL, (const char *[]){"v=STSv1; id=p1"}, 1);
    read_on(&ch, &m, ID + 1, TXT, false, &r);
    ck_assert_int_eq(r.rc, MTASTS_OK);
    ck_assert_int_eq(r.res.kind, MTASTS__IO_DNS_ANSWER);
    ASSERT_TXT(&r, 0, "v=STSv1; id=p1");
    ck_assert_uint_eq(ch.n, 2);
    mtasts__io_dns_chain_free(&ch);
    ck_assert_uint_eq(ch.n, 0);
}
END_TEST

/* A CNAME to a target that does not exist: NXDOMAIN of the chain's end
 * (RFC 6604), a dangling delegation. */
START_TEST(test_dns_cname_nxdomain)
{
    struct msg m;
    struct reading r;
    size_t n;
    reading_init(&r);
    msg_begin(&m, ID, RESPONSE | NXDOMAIN, "_mta-sts.user.example", TXT);
    rr_cname(&m, NULL, "_mta-sts.nowhere.example");
    ns_soa(&m);
    read_new("_mta-sts.user.example", &m, ID, TXT, false, &r, &n);
    ck_assert_int_eq(r.rc, MTASTS_OK);
    ck_assert_int_eq(r.res.kind, MTASTS__IO_DNS_NXDOMAIN);
    ck_assert_uint_eq(n, 2);
}
END_TEST

START_TEST(test_dns_cname_loop)
{
    struct msg m;
    struct reading r;
    size_t n;
    reading_init(&r);
    msg_begin(&m, ID, RESPONSE, QNAME, TXT);
    rr_cname(&m, NULL, "_mta-sts.loop-back.example");
    rr_cname(&m, "_mta-sts.loop-back.example", QNAME);
    rr_txt(&m, "_mta-sts.elsewhere.example", (const char *[]){STS}, 1);
    read_new(QNAME, &m, ID, TXT, false, &r, &n);
    ck_assert_int_eq(r.rc, MTASTS_ERR_DNS_TEMPFAIL);
    ck_assert_int_eq(r.res.kind, MTASTS__IO_DNS_REJECTED);
    ck_assert_str_eq(r.why, "CNAME loop at " QNAME);
    ck_assert_uint_eq(r.got.n, 0);
    ck_assert_uint_eq(n, 2);

    /* a name that is its own alias */
    reading_init(&r);
    msg_begin(&m, ID, RESPONSE, QNAME, TXT);
    rr_cname(&m, NULL, "_MTA-STS.example.com");
    read_new(QNAME, &m, ID, TXT, false, &r, &n);
    ck_assert_int_eq(r.res.kind, MTASTS__IO_DNS_REJECTED);
    ck_assert_str_eq(r.why, "CNAME loop at _MTA-STS.example.com");
}
END_TEST

/* A loop through two replies (two zones pointing at each other) is found
 * on the chain too: without it each reply would look fine. */
START_TEST(test_dns_cname_loop_across_replies)
{
    struct mtasts__io_dns_chain ch;
    struct msg m;
    struct reading r;
    ck_assert_int_eq(mtasts__io_dns_chain_init(&ch, QNAME), MTASTS_OK);
    reading_init(&r);
    msg_begin(&m, ID, RESPONSE, QNAME, TXT);
    rr_cname(&m, NULL, "_mta-sts.loop-back.example");
    read_on(&ch, &m, ID, TXT, false, &r);
    ck_assert_int_eq(r.res.kind, MTASTS__IO_DNS_FOLLOW);

    reading_init(&r);
    msg_begin(&m, ID, RESPONSE, "_mta-sts.loop-back.example", TXT);
    rr_cname(&m, NULL, QNAME);
    read_on(&ch, &m, ID, TXT, false, &r);
    ck_assert_int_eq(r.rc, MTASTS_ERR_DNS_TEMPFAIL);
    ck_assert_int_eq(r.res.kind, MTASTS__IO_DNS_REJECTED);
    ck_assert_str_eq(r.why, "CNAME loop at " QNAME);
    mtasts__io_dns_chain_free(&ch);
}
END_TEST

/* MTASTS__IO_CNAME_HOPS_MAX CNAMEs are followed, one more is refused. */
START_TEST(test_dns_cname_chain_bound)
{
    char names[MTASTS__IO_CNAME_HOPS_MAX + 2][64];
    for (int i = 0; i <= MTASTS__IO_CNAME_HOPS_MAX + 1; i++) {
        snprintf(names[i], sizeof(names[i]), "_mta-sts.h%d.example", i);
    }
    struct msg m;
    struct reading r;
    size_t n;
    for (int hops = MTASTS__IO_CNAME_HOPS_MAX;
         hops <= MTASTS__IO_CNAME_HOPS_MAX + 1; hops++) {
        reading_init(&r);
        msg_begin(&m, ID, RESPONSE, names[0], TXT);
        for (int i = 0; i < hops; i++) {
            rr_cname(&m, i == 0 ? NULL : names[i], names[i + 1]);
        }
        rr_txt(&m, names[hops], (const char *[]){STS}, 1);
        read_new(names[0], &m, ID, TXT, false, &r, &n);
        ck_assert_uint_eq(n, MTASTS__IO_CNAME_HOPS_MAX + 1);
        if (hops == MTASTS__IO_CNAME_HOPS_MAX) {
            ck_assert_int_eq(r.res.kind, MTASTS__IO_DNS_ANSWER);
            ASSERT_TXT(&r, 0, STS);
        } else {
            ck_assert_int_eq(r.rc, MTASTS_ERR_DNS_TEMPFAIL);
            ck_assert_int_eq(r.res.kind, MTASTS__IO_DNS_REJECTED);
            ck_assert_str_eq(r.why, "CNAME chain from _mta-sts.h0.example "
                                    "longer than 8 hops");
            ck_assert_uint_eq(r.got.n, 0);
        }
    }
}
END_TEST

/* ---- no record (R8461-3.1-d) -----------------------------------------------
 */

START_TEST(test_dns_nxdomain_nodata)
{
    struct msg m;
    struct reading r;
    size_t n;
    reading_init(&r);
    msg_begin(&m, ID, RESPONSE | NXDOMAIN, QNAME, TXT);
    ns_soa(&m);
    read_new(QNAME, &m, ID, TXT, false, &r, &n);
    ck_assert_int_eq(r.rc, MTASTS_OK);
    ck_assert_int_eq(r.res.kind, MTASTS__IO_DNS_NXDOMAIN);
    ck_assert_int_eq(r.res.rcode, NXDOMAIN);
    ck_assert_uint_eq(r.got.n, 0);

    reading_init(&r);
    msg_begin(&m, ID, RESPONSE, QNAME, TXT);
    ns_soa(&m);
    read_new(QNAME, &m, ID, TXT, false, &r, &n);
    ck_assert_int_eq(r.rc, MTASTS_OK);
    ck_assert_int_eq(r.res.kind, MTASTS__IO_DNS_NODATA);
    ck_assert_int_eq(r.res.rcode, NOERROR);
    ck_assert_uint_eq(n, 1);
}
END_TEST

/* ---- replies that give no answer ----------------------------------------- */

START_TEST(test_dns_wrong_id)
{
    struct msg m;
    struct reading r;
    size_t n;
    reading_init(&r);
    msg_begin(&m, ID, RESPONSE, QNAME, TXT);
    rr_txt(&m, NULL, (const char *[]){STS}, 1);
    read_new(QNAME, &m, ID ^ 1, TXT, false, &r, &n);
    ck_assert_int_eq(r.rc, MTASTS_ERR_DNS_TEMPFAIL);
    ck_assert_int_eq(r.res.kind, MTASTS__IO_DNS_MISMATCH);
    ck_assert_str_eq(r.why, "not a reply to the question");
    ck_assert_uint_eq(r.got.n, 0);
    ck_assert_uint_eq(n, 1);

    /* an error without a question matches on the id alone */
    reading_init(&r);
    msg_begin(&m, ID, RESPONSE | FORMERR, NULL, 0);
    read_new(QNAME, &m, ID ^ 1, TXT, false, &r, &n);
    ck_assert_int_eq(r.res.kind, MTASTS__IO_DNS_MISMATCH);
}
END_TEST

/* RFC 5452 §9.1: the question must be the one asked. */
START_TEST(test_dns_wrong_question)
{
    struct msg m;
    struct reading r;
    size_t n;
    /* another name, another type */
    reading_init(&r);
    msg_begin(&m, ID, RESPONSE, "_mta-sts.example.org", TXT);
    rr_txt(&m, NULL, (const char *[]){STS}, 1);
    read_new(QNAME, &m, ID, TXT, false, &r, &n);
    ck_assert_int_eq(r.res.kind, MTASTS__IO_DNS_MISMATCH);
    reading_init(&r);
    msg_begin(&m, ID, RESPONSE, QNAME, A);
    read_new(QNAME, &m, ID, TXT, false, &r, &n);
    ck_assert_int_eq(r.res.kind, MTASTS__IO_DNS_MISMATCH);
    /* a query, not a response */
    reading_init(&r);
    msg_begin(&m, ID, RD, QNAME, TXT);
    rr_txt(&m, NULL, (const char *[]){STS}, 1);
    read_new(QNAME, &m, ID, TXT, false, &r, &n);
    ck_assert_int_eq(r.res.kind, MTASTS__IO_DNS_MISMATCH);
    ck_assert_uint_eq(r.got.n, 0);
    /* opcode UPDATE */
    reading_init(&r);
    msg_begin(&m, ID, RESPONSE | (5u << 11), QNAME, TXT);
    read_new(QNAME, &m, ID, TXT, false, &r, &n);
    ck_assert_int_eq(r.res.kind, MTASTS__IO_DNS_MISMATCH);
    /* NOERROR without a question */
    reading_init(&r);
    msg_begin(&m, ID, RESPONSE, NULL, 0);
    read_new(QNAME, &m, ID, TXT, false, &r, &n);
    ck_assert_int_eq(r.res.kind, MTASTS__IO_DNS_MISMATCH);
    /* two questions */
    reading_init(&r);
    msg_begin(&m, ID, RESPONSE, QNAME, TXT);
    put_name(&m, QNAME);
    put16(&m, TXT);
    put16(&m, CLASS_IN);
    m.qd = 2;
    read_new(QNAME, &m, ID, TXT, false, &r, &n);
    ck_assert_int_eq(r.res.kind, MTASTS__IO_DNS_MISMATCH);
}
END_TEST

/* Server failures are temporary (R8461-3.1-p); the reason names them. */
START_TEST(test_dns_rcode)
{
    static const struct {
        unsigned rcode;
        bool question;
        const char *why;
    } cases[] = {
        {SERVFAIL, true, "SERVFAIL"}, {REFUSED, true, "REFUSED"},
        {FORMERR, false, "FORMERR"},  {4, true, "NOTIMP"},
        {9, true, "RCODE 9"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct msg m;
        struct reading r;
        size_t n;
        reading_init(&r);
        msg_begin(&m, ID, RESPONSE | cases[i].rcode,
                  cases[i].question ? QNAME : NULL, TXT);
        read_new(QNAME, &m, ID, TXT, false, &r, &n);
        ck_assert_int_eq(r.rc, MTASTS_ERR_DNS_TEMPFAIL);
        ck_assert_int_eq(r.res.kind, MTASTS__IO_DNS_RCODE);
        ck_assert_int_eq(r.res.rcode, (int)cases[i].rcode);
        ck_assert_str_eq(r.why, cases[i].why);
    }
}
END_TEST

/* TC over UDP: nothing of the partial answer is used; over TCP the bit is
 * ignored (RFC 7766). */
START_TEST(test_dns_truncated)
{
    struct msg m;
    struct reading r;
    size_t n;
    reading_init(&r);
    msg_begin(&m, ID, RESPONSE | TC, QNAME, TXT);
    rr_txt(&m, NULL, (const char *[]){STS}, 1);
    read_new(QNAME, &m, ID, TXT, false, &r, &n);
    ck_assert_int_eq(r.rc, MTASTS_ERR_DNS_TEMPFAIL);
    ck_assert_int_eq(r.res.kind, MTASTS__IO_DNS_TRUNCATED);
    ck_assert_uint_eq(r.got.n, 0);

    reading_init(&r);
    read_new(QNAME, &m, ID, TXT, true, &r, &n);
    ck_assert_int_eq(r.rc, MTASTS_OK);
    ck_assert_int_eq(r.res.kind, MTASTS__IO_DNS_ANSWER);
    ASSERT_TXT(&r, 0, STS);
}
END_TEST

START_TEST(test_dns_malformed)
{
    struct msg m;
    struct reading r;
    size_t n;
    /* cut inside the answer */
    reading_init(&r);
    msg_begin(&m, ID, RESPONSE, QNAME, TXT);
    rr_txt(&m, NULL, (const char *[]){STS}, 1);
    msg_end(&m);
    m.len -= 5;
    r.rc = MTASTS_OK;
    struct mtasts__io_dns_chain ch;
    ck_assert_int_eq(mtasts__io_dns_chain_init(&ch, QNAME), MTASTS_OK);
    r.rc = mtasts__io_dns_reply(&ch, m.b, m.len, ID, TXT, false, got_rr, &r.got,
                                &r.res, r.why, sizeof(r.why));
    mtasts__io_dns_chain_free(&ch);
    ck_assert_int_eq(r.rc, MTASTS_ERR_DNS_TEMPFAIL);
    ck_assert_int_eq(r.res.kind, MTASTS__IO_DNS_MALFORMED);
    ck_assert_int_eq(r.res.rcode, -1);
    ck_assert_str_eq(r.why, "malformed DNS message (answer section "
                            "incomplete)");
    /* an owner name that points at itself */
    reading_init(&r);
    msg_begin(&m, ID, RESPONSE, QNAME, TXT);
    size_t at = m.len;
    put16(&m, 0xc000 | (unsigned)at);
    put(&m, "\0\x10\0\x01\0\0\0\0\0\0", 10);
    m.an = 1;
    read_new(QNAME, &m, ID, TXT, false, &r, &n);
    ck_assert_int_eq(r.res.kind, MTASTS__IO_DNS_MALFORMED);
    /* nothing but a partial header */
    reading_init(&r);
    msg_begin(&m, ID, RESPONSE, NULL, 0);
    m.len = 5;
    ck_assert_int_eq(mtasts__io_dns_chain_init(&ch, QNAME), MTASTS_OK);
    r.rc = mtasts__io_dns_reply(&ch, m.b, m.len, ID, TXT, false, got_rr, &r.got,
                                &r.res, r.why, sizeof(r.why));
    mtasts__io_dns_chain_free(&ch);
    ck_assert_int_eq(r.res.kind, MTASTS__IO_DNS_MALFORMED);
    ck_assert_str_ne(r.why, "");
}
END_TEST

/* ---- errors -------------------------------------------------------------- */

/* A callback that refuses a record ends the reading with its status. */
START_TEST(test_dns_callback_error)
{
    struct msg m;
    struct reading r;
    size_t n;
    reading_init(&r);
    r.got.rc = MTASTS_ERR_TOO_LARGE;
    msg_begin(&m, ID, RESPONSE, QNAME, TXT);
    rr_txt(&m, NULL, (const char *[]){STS}, 1);
    rr_txt(&m, NULL, (const char *[]){"v=spf1 -all"}, 1);
    read_new(QNAME, &m, ID, TXT, false, &r, &n);
    ck_assert_int_eq(r.rc, MTASTS_ERR_TOO_LARGE);
    ck_assert_int_eq(r.res.kind, MTASTS__IO_DNS_REJECTED);
    ck_assert_uint_eq(r.got.n, 1);
    char want[MTASTS__IO_REASON_MAX];
    snprintf(want, sizeof(want), "answer not accepted: %s",
             mtasts_strerror(MTASTS_ERR_TOO_LARGE));
    ck_assert_str_eq(r.why, want);

    reading_init(&r);
    r.got.rc = MTASTS_ERR_NOMEM;
    read_new(QNAME, &m, ID, TXT, false, &r, &n);
    ck_assert_int_eq(r.rc, MTASTS_ERR_NOMEM);
    ck_assert_str_eq(r.why, "out of memory");
}
END_TEST

/* Each allocation of the library fails in turn (STYLE.md §9). */
START_TEST(test_dns_nomem)
{
    struct msg m;
    msg_begin(&m, ID, RESPONSE, QNAME, TXT);
    rr_txt(&m, NULL, (const char *[]){STS}, 1);
    rr_txt(&m, NULL, (const char *[]){"v=spf1", " -all"}, 2);
    for (size_t fail = 1;; fail++) {
        struct reading r;
        size_t n;
        reading_init(&r);
        failalloc_start(fail);
        read_new(QNAME, &m, ID, TXT, false, &r, &n);
        size_t calls = failalloc_calls();
        long live = failalloc_live();
        failalloc_stop();
        ck_assert_int_eq(live, 0);
        if (calls < fail) {
            ck_assert_int_eq(r.rc, MTASTS_OK);
            ck_assert_uint_eq(r.got.n, 2);
            ck_assert_uint_eq(fail, 3);
            break;
        }
        ck_assert_int_eq(r.rc, MTASTS_ERR_NOMEM);
        ck_assert_int_eq(r.res.kind, MTASTS__IO_DNS_REJECTED);
        ck_assert_str_eq(r.why, "out of memory");
        ck_assert_uint_eq(r.got.n, fail - 1);
    }
}
END_TEST

/* The reason is cut to the buffer, never overrun. */
START_TEST(test_dns_reason_cut)
{
    struct msg m;
    msg_begin(&m, ID, RESPONSE | SERVFAIL, QNAME, TXT);
    msg_end(&m);
    struct mtasts__io_dns_chain ch;
    struct mtasts__io_dns_result res;
    struct got g;
    memset(&g, 0, sizeof(g));
    char why[8];
    memset(why, 'x', sizeof(why));
    ck_assert_int_eq(mtasts__io_dns_chain_init(&ch, QNAME), MTASTS_OK);
    ck_assert_int_eq(mtasts__io_dns_reply(&ch, m.b, m.len, ID, TXT, false,
                                          got_rr, &g, &res, why, 5),
                     MTASTS_ERR_DNS_TEMPFAIL);
    ck_assert_str_eq(why, "SERV");
    ck_assert_int_eq(why[5], 'x');
    mtasts__io_dns_chain_free(&ch);
}
END_TEST

START_TEST(test_dns_chain_init_invalid)
{
    char name[80];
    memset(name, 'a', 64);
    memcpy(name + 64, ".example", 9); /* a label of 64 bytes */
    struct mtasts__io_dns_chain ch;
    ck_assert_int_eq(mtasts__io_dns_chain_init(&ch, name), MTASTS_ERR_INVALID);
    ck_assert_uint_eq(ch.n, 0);
    mtasts__io_dns_chain_free(&ch);
    ck_assert_int_eq(mtasts__io_dns_chain_init(&ch, QNAME "."), MTASTS_OK);
    ck_assert_uint_eq(ch.n, 1);
    mtasts__io_dns_chain_free(&ch);
}
END_TEST

/* ---- suite --------------------------------------------------------------- */

static Suite *
dns_suite(void)
{
    Suite *s = suite_create("dns");

    TCase *tc = tcase_create("answer");
    tcase_add_test(tc, test_dns_txt_single);
    tcase_add_test(tc, test_dns_txt_split_strings);
    tcase_add_test(tc, test_dns_txt_empty_rdata);
    tcase_add_test(tc, test_dns_txt_other_records);
    tcase_add_test(tc, test_dns_addresses);
    tcase_add_test(tc, test_dns_address_empty_rdata);
    suite_add_tcase(s, tc);

    tc = tcase_create("cname");
    tcase_add_test(tc, test_dns_cname_followed);
    tcase_add_test(tc, test_dns_cname_across_replies);
    tcase_add_test(tc, test_dns_cname_nxdomain);
    tcase_add_test(tc, test_dns_cname_loop);
    tcase_add_test(tc, test_dns_cname_loop_across_replies);
    tcase_add_test(tc, test_dns_cname_chain_bound);
    suite_add_tcase(s, tc);

    tc = tcase_create("no_record");
    tcase_add_test(tc, test_dns_nxdomain_nodata);
    suite_add_tcase(s, tc);

    tc = tcase_create("not_an_answer");
    tcase_add_test(tc, test_dns_wrong_id);
    tcase_add_test(tc, test_dns_wrong_question);
    tcase_add_test(tc, test_dns_rcode);
    tcase_add_test(tc, test_dns_truncated);
    tcase_add_test(tc, test_dns_malformed);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_test(tc, test_dns_callback_error);
    tcase_add_test(tc, test_dns_nomem);
    tcase_add_test(tc, test_dns_reason_cut);
    tcase_add_test(tc, test_dns_chain_init_invalid);
    suite_add_tcase(s, tc);

    return s;
}

int
main(void)
{
    return harness_run(dns_suite());
}
