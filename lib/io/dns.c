/* DNS through ldns: TXT records of _mta-sts names (RFC 8461 §3.1) and the
 * addresses of policy hosts, CNAME chains followed (R8461-3.1-m).
 *
 * ldns builds and parses the messages and reads /etc/resolv.conf; the
 * exchange itself is done here so that one deadline bounds a whole lookup
 * (every retry, nameserver, TCP fallback and CNAME hop) and failures say
 * exactly what happened ("SERVFAIL from 127.0.0.1@5353", "timeout after
 * 5000 ms"). Everything is per lookup, so any number of threads may
 * resolve at once. */
#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "io/internal.h"
#include "util/alloc.h"
#include "util/cur.h"
#include "util/domain.h"

#define UDP_PAYLOAD 1232  /* EDNS(0) buffer size (DNS flag day 2020) */
#define REPLY_MAX 65535   /* a DNS message over TCP, at most */
#define FIRST_WAIT_MS 800 /* the first UDP wait; doubled each round */
#define ATTEMPTS_MAX 8    /* UDP sends of one question */
#define STRAYS_MAX 32     /* unrelated datagrams ignored per send */
#define NAME_TEXT_MAX 80  /* a name quoted in a reason */
#define NS_TEXT_MAX (MTASTS__IO_IP_TEXT_MAX + 8)

struct ns_list {
    size_t n;
    struct mtasts__io_addr a[MTASTS__IO_NS_MAX];
};

/* One lookup: where to ask, until when, and the answer buffer. */
struct lookup {
    struct ns_list ns;
    uint64_t start;
    uint64_t deadline;
    unsigned char *reply; /* REPLY_MAX bytes */
    char *why;
    size_t why_size;
};

_Static_assert(MTASTS__IO_DNS_TYPE_A == LDNS_RR_TYPE_A, "type A");
_Static_assert(MTASTS__IO_DNS_TYPE_TXT == LDNS_RR_TYPE_TXT, "type TXT");
_Static_assert(MTASTS__IO_DNS_TYPE_AAAA == LDNS_RR_TYPE_AAAA, "type AAAA");

/* ---- text for reasons ------------------------------------------------- */

static void
ns_text(const struct mtasts__io_addr *a, char out[NS_TEXT_MAX])
{
    char ip[MTASTS__IO_IP_TEXT_MAX];
    mtasts__io_addr_ip(a, ip);
    snprintf(out, NS_TEXT_MAX, "%s@%u", ip, (unsigned)mtasts__io_addr_port(a));
}

/* A wire-format name as text, printable bytes only, cut at size. */
static void
dname_text(const ldns_rdf *d, char *out, size_t size)
{
    struct mtasts__cur c;
    mtasts__cur_init(&c, ldns_rdf_data(d), ldns_rdf_size(d));
    size_t o = 0;
    while (o + 1 < size) {
        int len = mtasts__cur_peek(&c);
        if (len <= 0 || (size_t)len >= c.left) {
            break;
        }
        mtasts__cur_skip(&c, 1);
        if (o > 0 && o + 1 < size) {
            out[o++] = '.';
        }
        for (int i = 0; i < len && o + 1 < size; i++) {
            int b = mtasts__cur_peek_at(&c, (size_t)i);
            out[o++] = b > 0x20 && b < 0x7f ? (char)b : '?';
        }
        mtasts__cur_skip(&c, (size_t)len);
    }
    if (o == 0 && size > 1) {
        out[o++] = '.';
    }
    out[o] = '\0';
}

#if defined(__GNUC__) || defined(__clang__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

static void say(char *why, size_t why_size, const char *fmt, ...)
    PRINTF_LIKE(3, 4);
static void reason(struct lookup *lk, const char *fmt, ...) PRINTF_LIKE(2, 3);

static void
say(char *why, size_t why_size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_size, fmt, ap);
    va_end(ap);
}

static void
reason(struct lookup *lk, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(lk->why, lk->why_size, fmt, ap);
    va_end(ap);
}

/* ---- nameservers ---------------------------------------------------- */

/* An address record's data as an address; false for anything else, and
 * for no data at all: ldns reads an A or AAAA record with RDLENGTH 0 as a
 * record without fields (ldns_rr_rdf() NULL), and asserts on NULL. */
static bool
rdf_to_addr(const ldns_rdf *rdf, uint16_t port, struct mtasts__io_addr *out)
{
    memset(out, 0, sizeof(*out));
    if (rdf == NULL) {
        return false;
    }
    if (ldns_rdf_get_type(rdf) == LDNS_RDF_TYPE_A && ldns_rdf_size(rdf) == 4) {
        struct sockaddr_in *v4 = (struct sockaddr_in *)&out->sa;
        v4->sin_family = AF_INET;
        memcpy(&v4->sin_addr, ldns_rdf_data(rdf), 4);
        out->len = sizeof(*v4);
    } else if (ldns_rdf_get_type(rdf) == LDNS_RDF_TYPE_AAAA &&
               ldns_rdf_size(rdf) == 16) {
        struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&out->sa;
        v6->sin6_family = AF_INET6;
        memcpy(&v6->sin6_addr, ldns_rdf_data(rdf), 16);
        out->len = sizeof(*v6);
    } else {
        return false;
    }
    mtasts__io_addr_set_port(out, port);
    return true;
}

/* The configured resolver, or the nameservers of /etc/resolv.conf. */
static int
ns_load(const struct mtasts__io *io, struct lookup *lk)
{
    lk->ns.n = 0;
    if (io->resolver_set) {
        lk->ns.a[0] = io->resolver;
        lk->ns.n = 1;
        return MTASTS_OK;
    }
    ldns_resolver *res = NULL;
    ldns_status s = ldns_resolver_new_frm_file(&res, NULL);
    if (s != LDNS_STATUS_OK) {
        reason(lk, "cannot read /etc/resolv.conf (%s)", ldns_get_errorstr_by_id(s));
        return MTASTS_ERR_DNS_TEMPFAIL;
    }
    ldns_rdf **list = ldns_resolver_nameservers(res);
    size_t count = ldns_resolver_nameserver_count(res);
    uint16_t port = ldns_resolver_port(res);
    for (size_t i = 0; i < count && lk->ns.n < MTASTS__IO_NS_MAX; i++) {
        if (rdf_to_addr(list[i], port, &lk->ns.a[lk->ns.n])) {
            lk->ns.n++;
        }
    }
    ldns_resolver_deep_free(res);
    if (lk->ns.n == 0) {
        reason(lk, "no nameserver in /etc/resolv.conf");
        return MTASTS_ERR_DNS_TEMPFAIL;
    }
    return MTASTS_OK;
}

static int
lookup_start(struct lookup *lk, const struct mtasts__io *io,
             uint64_t deadline, char *why, size_t why_size)
{
    lk->start = mtasts__io_now_ms();
    lk->deadline = deadline;
    lk->why = why;
    lk->why_size = why_size;
    lk->reply = mtasts__alloc(REPLY_MAX);
    if (lk->reply == NULL) {
        reason(lk, "out of memory");
        return MTASTS_ERR_NOMEM;
    }
    return ns_load(io, lk);
}

static void
lookup_end(struct lookup *lk)
{
    mtasts__free(lk->reply);
    lk->reply = NULL;
}

/* ---- one question, one answer ------------------------------------------ */

static uint16_t
random_id(void)
{
    uint16_t id = 0;
    if (getrandom(&id, sizeof(id), 0) != (ssize_t)sizeof(id)) {
        /* no entropy source: still unpredictable enough for a resolver on
         * a trusted path, and never fatal */
        id = (uint16_t)(mtasts__io_now_ms() * 40503u);
    }
    return id;
}

static ldns_status
build_query(const ldns_rdf *qname, ldns_rr_type type, uint16_t id,
            ldns_buffer *out)
{
    ldns_rdf *owner = ldns_rdf_clone(qname);
    if (owner == NULL) {
        return LDNS_STATUS_MEM_ERR;
    }
    ldns_pkt *q = ldns_pkt_query_new(owner, type, LDNS_RR_CLASS_IN, LDNS_RD);
    if (q == NULL) {
        ldns_rdf_deep_free(owner);
        return LDNS_STATUS_MEM_ERR;
    }
    ldns_pkt_set_id(q, id);
    ldns_pkt_set_edns_udp_size(q, UDP_PAYLOAD);
    ldns_status s = ldns_pkt2buffer_wire(out, q);
    ldns_pkt_free(q);
    return s;
}

/* Whether a reply answers our question (RFC 5452 §9.1). An error reply
 * without a question section (old servers' FORMERR) matches on the id. */
static bool
reply_matches(const ldns_pkt *r, uint16_t id, const ldns_rdf *qname,
              ldns_rr_type type)
{
    if (ldns_pkt_id(r) != id || !ldns_pkt_qr(r) ||
        ldns_pkt_get_opcode(r) != LDNS_PACKET_QUERY) {
        return false;
    }
    const ldns_rr_list *q = ldns_pkt_question(r);
    if (ldns_rr_list_rr_count(q) == 0) {
        return ldns_pkt_get_rcode(r) != LDNS_RCODE_NOERROR;
    }
    if (ldns_rr_list_rr_count(q) != 1) {
        return false;
    }
    const ldns_rr *rr = ldns_rr_list_rr(q, 0);
    return ldns_rr_get_type(rr) == type &&
           ldns_rr_get_class(rr) == LDNS_RR_CLASS_IN &&
           ldns_dname_compare(ldns_rr_owner(rr), qname) == 0;
}

struct question {
    struct mtasts__io_dns_chain *chain; /* asks for its last name */
    ldns_rr_type type;
    uint16_t id;
    const uint8_t *wire;
    size_t wire_len;
    mtasts__io_dns_rr_fn *fn; /* given the records of the answer */
    void *user;
};

/* A reply to the question, as mtasts__io_dns_reply() read it. */
struct answer {
    struct mtasts__io_dns_result res;
    int rc;
};

enum attempt { GOT_REPLY, TIMED_OUT, FAILED };

/* Read the n bytes in lk->reply. false: they do not answer the question
 * (unreadable, or another id or question). The reason of a rejected answer
 * becomes the lookup's. */
static bool
read_reply(struct lookup *lk, const struct question *qn, size_t n, bool tcp,
           struct answer *ans)
{
    char why[MTASTS__IO_REASON_MAX];
    ans->rc = mtasts__io_dns_reply(qn->chain, lk->reply, n, qn->id,
                                   (uint16_t)qn->type, tcp, qn->fn, qn->user,
                                   &ans->res, why, sizeof(why));
    if (ans->res.kind == MTASTS__IO_DNS_REJECTED) {
        reason(lk, "%s", why);
    }
    return ans->res.kind != MTASTS__IO_DNS_MALFORMED &&
           ans->res.kind != MTASTS__IO_DNS_MISMATCH;
}

/* Send the question over UDP to ns and wait for its answer until `until`.
 * Datagrams that do not answer it are ignored (STRAYS_MAX of them). */
static enum attempt
udp_attempt(struct lookup *lk, const struct question *qn,
            const struct mtasts__io_addr *ns, uint64_t until,
            struct answer *ans, int *err)
{
    int fd = -1;
    enum attempt result = TIMED_OUT;
    *err = mtasts__io_connect(ns, SOCK_DGRAM, until, &fd);
    if (*err != 0) {
        return FAILED;
    }
    if (send(fd, qn->wire, qn->wire_len, MSG_NOSIGNAL) < 0) {
        *err = errno;
        result = FAILED;
        goto out;
    }
    for (int strays = 0; strays < STRAYS_MAX; strays++) {
        int w = mtasts__io_wait(fd, POLLIN, until);
        if (w <= 0) {
            *err = w == 0 ? ETIMEDOUT : errno;
            result = w == 0 ? TIMED_OUT : FAILED;
            goto out;
        }
        ssize_t n = recv(fd, lk->reply, REPLY_MAX, 0);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                continue;
            }
            *err = errno; /* e.g. ECONNREFUSED from an ICMP error */
            result = FAILED;
            goto out;
        }
        if (!read_reply(lk, qn, (size_t)n, false, ans)) {
            continue;
        }
        result = GOT_REPLY;
        goto out;
    }
    *err = ETIMEDOUT;
out:
    close(fd);
    return result;
}

/* The question over TCP (RFC 7766), after a truncated UDP answer. */
static enum attempt
tcp_attempt(struct lookup *lk, const struct question *qn,
            const struct mtasts__io_addr *ns, struct answer *ans, int *err)
{
    int fd = -1;
    enum attempt result = FAILED;
    *err = mtasts__io_connect(ns, SOCK_STREAM, lk->deadline, &fd);
    if (*err != 0) {
        return *err == ETIMEDOUT ? TIMED_OUT : FAILED;
    }
    uint8_t len2[2] = {(uint8_t)(qn->wire_len >> 8), (uint8_t)qn->wire_len};
    *err = mtasts__io_send_all(fd, len2, 2, lk->deadline);
    if (*err == 0) {
        *err = mtasts__io_send_all(fd, qn->wire, qn->wire_len, lk->deadline);
    }
    if (*err == 0) {
        *err = mtasts__io_recv_all(fd, len2, 2, lk->deadline);
    }
    size_t n = ((size_t)len2[0] << 8) | len2[1];
    if (*err == 0) {
        *err = mtasts__io_recv_all(fd, lk->reply, n, lk->deadline);
    }
    if (*err != 0) {
        if (*err < 0) {
            *err = ECONNRESET; /* closed before the whole answer */
        }
        result = *err == ETIMEDOUT ? TIMED_OUT : FAILED;
        goto out;
    }
    if (!read_reply(lk, qn, n, true, ans)) {
        *err = EBADMSG;
        goto out;
    }
    result = GOT_REPLY;
out:
    close(fd);
    return result;
}

static const char *
rcode_name(ldns_pkt_rcode rc)
{
    switch (rc) {
    case LDNS_RCODE_FORMERR:
        return "FORMERR";
    case LDNS_RCODE_SERVFAIL:
        return "SERVFAIL";
    case LDNS_RCODE_NOTIMPL:
        return "NOTIMP";
    case LDNS_RCODE_REFUSED:
        return "REFUSED";
    default:
        return NULL;
    }
}

/* What went wrong with one nameserver, for the final reason: an RCODE
 * (rcode >= 0) or an errno value. */
static void
note_failure(char *out, size_t size, const struct mtasts__io_addr *ns,
             int rcode, int err)
{
    char where[NS_TEXT_MAX];
    ns_text(ns, where);
    if (rcode >= 0) {
        const char *name = rcode_name((ldns_pkt_rcode)rcode);
        if (name != NULL) {
            snprintf(out, size, "%s from %s", name, where);
        } else {
            snprintf(out, size, "RCODE %d from %s", rcode, where);
        }
    } else if (err == EBADMSG) {
        snprintf(out, size, "malformed TCP answer from %s", where);
    } else {
        char text[64];
        mtasts__io_errno_text(err, text, sizeof(text));
        snprintf(out, size, "no answer from %s: %s", where, text);
    }
}

/* One UDP round trip (and the TCP one after a truncated answer). */
static enum attempt
ask_one(struct lookup *lk, const struct question *qn,
        const struct mtasts__io_addr *ns, uint64_t until, struct answer *ans,
        int *err)
{
    enum attempt a = udp_attempt(lk, qn, ns, until, ans, err);
    if (a == GOT_REPLY && ans->res.kind == MTASTS__IO_DNS_TRUNCATED) {
        a = tcp_attempt(lk, qn, ns, ans, err);
    }
    return a;
}

/* Ask the nameservers one question until one answers NOERROR or NXDOMAIN
 * or the deadline passes. A server that fails (SERVFAIL, REFUSED, an ICMP
 * error) is not asked again; silent ones are asked again after a wait
 * that doubles each round. MTASTS_OK with the answer read (and its records
 * given to qn->fn), or a failure with lk->why. */
static int
exchange(struct lookup *lk, const struct question *qn, struct answer *ans)
{
    bool dead[MTASTS__IO_NS_MAX] = {false};
    char failure[MTASTS__IO_REASON_MAX] = "";
    bool timed_out = false;
    size_t next = 0;
    for (int attempt = 0; attempt < ATTEMPTS_MAX; attempt++) {
        uint64_t now = mtasts__io_now_ms();
        size_t i = 0;
        while (i < lk->ns.n && dead[(next + i) % lk->ns.n]) {
            i++;
        }
        if (now >= lk->deadline || i == lk->ns.n) {
            break;
        }
        size_t k = (next + i) % lk->ns.n;
        next = k + 1;
        uint64_t wait = (uint64_t)FIRST_WAIT_MS << (attempt / lk->ns.n);
        uint64_t until = now + wait;
        if (until > lk->deadline || attempt == ATTEMPTS_MAX - 1) {
            until = lk->deadline;
        }
        int err = 0;
        enum attempt a = ask_one(lk, qn, &lk->ns.a[k], until, ans, &err);
        if (a == TIMED_OUT) {
            timed_out = true;
            continue;
        }
        dead[k] = true;
        if (a == FAILED) {
            note_failure(failure, sizeof(failure), &lk->ns.a[k], -1, err);
            continue;
        }
        if (ans->res.kind != MTASTS__IO_DNS_RCODE) {
            return ans->rc; /* an answer, or one that ends the lookup */
        }
        note_failure(failure, sizeof(failure), &lk->ns.a[k], ans->res.rcode, 0);
    }
    if (!timed_out && failure[0] != '\0') {
        reason(lk, "%s", failure);
        return MTASTS_ERR_DNS_TEMPFAIL;
    }
    char ms[32];
    char where[NS_TEXT_MAX];
    snprintf(ms, sizeof(ms), "%llu",
             (unsigned long long)(lk->deadline - lk->start));
    ns_text(&lk->ns.a[0], where);
    if (failure[0] != '\0') {
        reason(lk, "timeout after %s ms (and %s)", ms, failure);
    } else if (lk->ns.n > 1) {
        reason(lk, "timeout after %s ms (no answer from %s or others)", ms,
               where);
    } else {
        reason(lk, "timeout after %s ms (no answer from %s)", ms, where);
    }
    return MTASTS_ERR_DNS_TEMPFAIL;
}

/* ---- one reply: CNAME chains and records ------------------------------- */

int
mtasts__io_dns_chain_init(struct mtasts__io_dns_chain *ch, const char *qname)
{
    memset(ch, 0, sizeof(*ch));
    ch->names[0] = ldns_dname_new_frm_str(qname);
    if (ch->names[0] == NULL) {
        return MTASTS_ERR_INVALID;
    }
    ch->n = 1;
    return MTASTS_OK;
}

void
mtasts__io_dns_chain_free(struct mtasts__io_dns_chain *ch)
{
    for (size_t i = 0; i < ch->n; i++) {
        ldns_rdf_deep_free(ch->names[i]);
    }
    ch->n = 0;
}

static const ldns_rr *
find_rr(const ldns_rr_list *answer, const ldns_rdf *owner, ldns_rr_type type)
{
    size_t n = ldns_rr_list_rr_count(answer);
    for (size_t i = 0; i < n; i++) {
        const ldns_rr *rr = ldns_rr_list_rr(answer, i);
        if (ldns_rr_get_type(rr) == type &&
            ldns_rr_get_class(rr) == LDNS_RR_CLASS_IN &&
            ldns_rr_rd_count(rr) >= 1 &&
            ldns_dname_compare(ldns_rr_owner(rr), owner) == 0) {
            return rr;
        }
    }
    return NULL;
}

/* Follow the CNAME at the chain's last name to its target. */
static int
chain_add(struct mtasts__io_dns_chain *ch, const ldns_rdf *target, char *why,
          size_t why_size)
{
    char text[NAME_TEXT_MAX];
    for (size_t i = 0; i < ch->n; i++) {
        if (ldns_dname_compare(ch->names[i], target) == 0) {
            dname_text(target, text, sizeof(text));
            say(why, why_size, "CNAME loop at %s", text);
            return MTASTS_ERR_DNS_TEMPFAIL;
        }
    }
    if (ch->n > MTASTS__IO_CNAME_HOPS_MAX) {
        dname_text(ch->names[0], text, sizeof(text));
        say(why, why_size, "CNAME chain from %s longer than %d hops", text,
            MTASTS__IO_CNAME_HOPS_MAX);
        return MTASTS_ERR_DNS_TEMPFAIL;
    }
    ch->names[ch->n] = ldns_rdf_clone(target);
    if (ch->names[ch->n] == NULL) {
        say(why, why_size, "out of memory");
        return MTASTS_ERR_NOMEM;
    }
    ch->n++;
    return MTASTS_OK;
}

/* Join the character-strings of one TXT RR with nothing in between
 * (RFC 8461 §3.1, R8461-3.1-b) and give the text to fn. */
static int
give_txt(const ldns_rr *rr, mtasts__io_dns_rr_fn *fn, void *user)
{
    size_t n = ldns_rr_rd_count(rr);
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        size_t size = ldns_rdf_size(ldns_rr_rdf(rr, i));
        total += size > 0 ? size - 1 : 0;
    }
    char *text = mtasts__alloc(total);
    if (text == NULL) {
        return MTASTS_ERR_NOMEM;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        const ldns_rdf *s = ldns_rr_rdf(rr, i);
        size_t size = ldns_rdf_size(s);
        if (size == 0) {
            continue;
        }
        /* ldns keeps each character-string with its length byte */
        size_t len = ldns_rdf_data(s)[0];
        if (len > size - 1) {
            len = size - 1;
        }
        memcpy(text + o, ldns_rdf_data(s) + 1, len);
        o += len;
    }
    struct mtasts__io_dns_rr out;
    memset(&out, 0, sizeof(out));
    out.type = LDNS_RR_TYPE_TXT;
    out.txt = text;
    out.txt_len = o;
    int rc = fn(&out, user);
    mtasts__free(text);
    return rc;
}

/* Give one record of the wanted type to fn, decoded. */
static int
give_rr(const ldns_rr *rr, ldns_rr_type type, mtasts__io_dns_rr_fn *fn,
        void *user)
{
    if (type == LDNS_RR_TYPE_TXT) {
        return give_txt(rr, fn, user);
    }
    struct mtasts__io_dns_rr out;
    memset(&out, 0, sizeof(out));
    out.type = (uint16_t)type;
    if (!rdf_to_addr(ldns_rr_rdf(rr, 0), 0, &out.addr)) {
        return MTASTS_OK; /* counted, not given (internal.h) */
    }
    return fn(&out, user);
}

/* Walk one answer from the chain's last name: records of the wanted type
 * (given to fn), or CNAMEs to follow. *records counts the records found;
 * the chain ends at the last name reached. */
static int
walk_answer(struct mtasts__io_dns_chain *ch, const ldns_pkt *reply,
            ldns_rr_type type, mtasts__io_dns_rr_fn *fn, void *user,
            size_t *records, char *why, size_t why_size)
{
    const ldns_rr_list *answer = ldns_pkt_answer(reply);
    *records = 0;
    /* Each turn adds a name to the chain, which is bounded. */
    for (;;) {
        const ldns_rdf *name = ch->names[ch->n - 1];
        size_t n = ldns_rr_list_rr_count(answer);
        for (size_t i = 0; i < n; i++) {
            const ldns_rr *rr = ldns_rr_list_rr(answer, i);
            if (ldns_rr_get_type(rr) == type &&
                ldns_rr_get_class(rr) == LDNS_RR_CLASS_IN &&
                ldns_dname_compare(ldns_rr_owner(rr), name) == 0) {
                int rc = give_rr(rr, type, fn, user);
                if (rc != MTASTS_OK) {
                    if (rc == MTASTS_ERR_NOMEM) {
                        say(why, why_size, "out of memory");
                    } else {
                        say(why, why_size, "answer not accepted: %s",
                            mtasts_strerror(rc));
                    }
                    return rc;
                }
                (*records)++;
            }
        }
        if (*records > 0) {
            return MTASTS_OK;
        }
        const ldns_rr *cname = find_rr(answer, name, LDNS_RR_TYPE_CNAME);
        if (cname == NULL) {
            return MTASTS_OK;
        }
        int rc = chain_add(ch, ldns_rr_rdf(cname, 0), why, why_size);
        if (rc != MTASTS_OK) {
            return rc;
        }
    }
}

/* The checks and the walk of mtasts__io_dns_reply() on a parsed reply. */
static int
read_pkt(struct mtasts__io_dns_chain *ch, const ldns_pkt *p, uint16_t id,
         ldns_rr_type type, bool tcp, mtasts__io_dns_rr_fn *fn, void *user,
         struct mtasts__io_dns_result *out, char *why, size_t why_size)
{
    if (!reply_matches(p, id, ch->names[ch->n - 1], type)) {
        out->kind = MTASTS__IO_DNS_MISMATCH;
        say(why, why_size, "not a reply to the question");
        return MTASTS_ERR_DNS_TEMPFAIL;
    }
    if (!tcp && ldns_pkt_tc(p)) {
        out->kind = MTASTS__IO_DNS_TRUNCATED;
        say(why, why_size, "truncated answer over UDP");
        return MTASTS_ERR_DNS_TEMPFAIL;
    }
    ldns_pkt_rcode rcode = ldns_pkt_get_rcode(p);
    if (rcode != LDNS_RCODE_NOERROR && rcode != LDNS_RCODE_NXDOMAIN) {
        const char *name = rcode_name(rcode);
        out->kind = MTASTS__IO_DNS_RCODE;
        if (name != NULL) {
            say(why, why_size, "%s", name);
        } else {
            say(why, why_size, "RCODE %d", (int)rcode);
        }
        return MTASTS_ERR_DNS_TEMPFAIL;
    }
    size_t asked = ch->n;
    int rc = walk_answer(ch, p, type, fn, user, &out->records, why, why_size);
    if (rc != MTASTS_OK) {
        out->kind = MTASTS__IO_DNS_REJECTED;
    } else if (out->records > 0) {
        out->kind = MTASTS__IO_DNS_ANSWER;
    } else if (rcode == LDNS_RCODE_NXDOMAIN) {
        out->kind = MTASTS__IO_DNS_NXDOMAIN; /* of the chain's end (RFC 6604) */
    } else if (ch->n == asked) {
        out->kind = MTASTS__IO_DNS_NODATA;
    } else {
        out->kind = MTASTS__IO_DNS_FOLLOW;
    }
    return rc;
}

int
mtasts__io_dns_reply(struct mtasts__io_dns_chain *ch, const uint8_t *wire,
                     size_t len, uint16_t id, uint16_t type, bool tcp,
                     mtasts__io_dns_rr_fn *fn, void *user,
                     struct mtasts__io_dns_result *out, char *why,
                     size_t why_size)
{
    assert(ch->n >= 1 && ch->n <= MTASTS__IO_CNAME_HOPS_MAX + 1);
    assert(type == LDNS_RR_TYPE_TXT || type == LDNS_RR_TYPE_A ||
           type == LDNS_RR_TYPE_AAAA);
    out->kind = MTASTS__IO_DNS_MALFORMED;
    out->rcode = -1;
    out->records = 0;
    if (why_size > 0) {
        why[0] = '\0';
    }
    ldns_pkt *p = NULL;
    ldns_status s = ldns_wire2pkt(&p, wire, len);
    if (s != LDNS_STATUS_OK) {
        const char *text = ldns_get_errorstr_by_id(s);
        say(why, why_size, "malformed DNS message (%s)",
            text != NULL ? text : "unknown error");
        return MTASTS_ERR_DNS_TEMPFAIL;
    }
    out->rcode = (int)ldns_pkt_get_rcode(p);
    int rc = read_pkt(ch, p, id, (ldns_rr_type)type, tcp, fn, user, out, why,
                      why_size);
    ldns_pkt_free(p);
    return rc;
}

/* ---- lookups ----------------------------------------------------------- */

/* Resolve (name, type), following CNAMEs within answers and, when an
 * answer stops at a CNAME whose target it does not cover (an
 * authoritative server does that for targets in other zones), asking again
 * for the target. MTASTS_OK with *rcode ANSWER, NXDOMAIN or NODATA; or a
 * failure with lk->why. */
static int
resolve(struct lookup *lk, const char *name, ldns_rr_type type,
        mtasts__io_dns_rr_fn *fn, void *user, mtasts_dns_rcode *rcode)
{
    struct mtasts__io_dns_chain ch;
    int rc = mtasts__io_dns_chain_init(&ch, name);
    if (rc != MTASTS_OK) {
        reason(lk, "cannot encode the name %.80s", name);
        return MTASTS_ERR_INVALID;
    }
    ldns_buffer *wire = ldns_buffer_new(512);
    if (wire == NULL) {
        reason(lk, "out of memory");
        rc = MTASTS_ERR_NOMEM;
        goto out;
    }
    /* Each turn follows at least one more CNAME: bounded by the chain. */
    for (;;) {
        struct question qn = {&ch, type, random_id(), NULL, 0, fn, user};
        ldns_buffer_clear(wire);
        if (build_query(ch.names[ch.n - 1], type, qn.id, wire) !=
            LDNS_STATUS_OK) {
            reason(lk, "cannot build the DNS query");
            rc = MTASTS_ERR_NOMEM;
            goto out;
        }
        qn.wire = ldns_buffer_begin(wire);
        qn.wire_len = ldns_buffer_position(wire);
        struct answer ans;
        rc = exchange(lk, &qn, &ans);
        if (rc != MTASTS_OK) {
            goto out;
        }
        if (ans.res.kind == MTASTS__IO_DNS_ANSWER) {
            *rcode = MTASTS_DNS_ANSWER;
            goto out;
        }
        if (ans.res.kind == MTASTS__IO_DNS_NXDOMAIN) {
            *rcode = MTASTS_DNS_NXDOMAIN;
            goto out;
        }
        if (ans.res.kind == MTASTS__IO_DNS_NODATA) {
            *rcode = MTASTS_DNS_NODATA;
            goto out;
        }
        /* MTASTS__IO_DNS_FOLLOW: ask for the chain's new last name */
    }
out:
    if (wire != NULL) {
        ldns_buffer_free(wire);
    }
    mtasts__io_dns_chain_free(&ch);
    return rc;
}

/* ---- TXT: the hook --------------------------------------------------- */

/* Add one TXT record, its strings already joined, to the request. */
static int
txt_rr(const struct mtasts__io_dns_rr *rr, void *user)
{
    return mtasts_dns_add_txt(user, rr->txt, rr->txt_len);
}

/* A query name the engine may give: LDH labels and '_', no empty label. */
static bool
query_name_ok(const char *name)
{
    size_t len = strnlen(name, MTASTS__DOMAIN_MAX + 2);
    len = mtasts__domain_strip_dot(name, len);
    if (len == 0 || len > MTASTS__DOMAIN_MAX) {
        return false;
    }
    size_t label = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c == '.') {
            if (label == 0) {
                return false;
            }
            label = 0;
        } else if (mtasts__is(c, MTASTS__C_LDH) || c == '_') {
            if (++label > MTASTS__LABEL_MAX) {
                return false;
            }
        } else {
            return false;
        }
    }
    return label > 0;
}

int
mtasts__io_dns_txt(mtasts_req *req, const char *name, void *user)
{
    if (req == NULL || name == NULL || user == NULL || !query_name_ok(name)) {
        return MTASTS_ERR_INVALID;
    }
    const struct mtasts__io *io = user;
    char why[MTASTS__IO_REASON_MAX] = "";
    struct lookup lk;
    mtasts_dns_rcode rcode = MTASTS_DNS_TEMPFAIL;
    uint64_t deadline = mtasts__io_now_ms() + io->dns_ms;
    int rc = lookup_start(&lk, io, deadline, why, sizeof(why));
    if (rc == MTASTS_OK) {
        rc = resolve(&lk, name, LDNS_RR_TYPE_TXT, txt_rr, req, &rcode);
    }
    lookup_end(&lk);
    if (rc != MTASTS_OK) {
        rcode = MTASTS_DNS_TEMPFAIL;
    }
    mtasts_dns_done(req, rcode, rcode == MTASTS_DNS_TEMPFAIL ? why : NULL);
    return MTASTS_OK;
}

/* ---- addresses of the policy host ---------------------------------------- */

struct addr_list {
    size_t n;
    uint16_t port;
    struct mtasts__io_addr a[MTASTS__IO_ADDRS_MAX];
};

static int
addr_rr(const struct mtasts__io_dns_rr *rr, void *user)
{
    struct addr_list *list = user;
    if (list->n < MTASTS__IO_ADDRS_MAX) {
        list->a[list->n] = rr->addr;
        mtasts__io_addr_set_port(&list->a[list->n], list->port);
        list->n++;
    }
    return MTASTS_OK;
}

/* One of the two address lookups, with its own DNS budget. */
static int
lookup_addrs(const struct mtasts__io *io, const char *host, ldns_rr_type type,
             uint64_t deadline, struct addr_list *list, char *why,
             size_t why_size)
{
    uint64_t own = mtasts__io_now_ms() + io->dns_ms;
    struct lookup lk;
    mtasts_dns_rcode rcode = MTASTS_DNS_TEMPFAIL;
    int rc = lookup_start(&lk, io, own < deadline ? own : deadline, why,
                          why_size);
    if (rc == MTASTS_OK) {
        rc = resolve(&lk, host, type, addr_rr, list, &rcode);
    }
    lookup_end(&lk);
    if (rc != MTASTS_OK) {
        return rc;
    }
    if (rcode == MTASTS_DNS_NXDOMAIN) {
        snprintf(why, why_size, "NXDOMAIN");
    } else if (list->n == 0) {
        snprintf(why, why_size, "no record");
    }
    return MTASTS_OK;
}

int
mtasts__io_dns_addrs(const struct mtasts__io *io, const char *host,
                     uint16_t port, uint64_t deadline,
                     struct mtasts__io_addrs *out, char *why, size_t why_size)
{
    struct addr_list v6;
    struct addr_list v4;
    memset(&v6, 0, sizeof(v6));
    memset(&v4, 0, sizeof(v4));
    v6.port = port;
    v4.port = port;
    char why6[MTASTS__IO_REASON_MAX] = "";
    char why4[MTASTS__IO_REASON_MAX] = "";
    out->n = 0;
    int rc6 = lookup_addrs(io, host, LDNS_RR_TYPE_AAAA, deadline, &v6, why6,
                           sizeof(why6));
    int rc4 = lookup_addrs(io, host, LDNS_RR_TYPE_A, deadline, &v4, why4,
                           sizeof(why4));
    /* IPv6 and IPv4 in turn, so a broken family costs one attempt. */
    for (size_t i = 0; out->n < MTASTS__IO_ADDRS_MAX; i++) {
        if (i >= v6.n && i >= v4.n) {
            break;
        }
        if (i < v6.n) {
            out->a[out->n++] = v6.a[i];
        }
        if (i < v4.n && out->n < MTASTS__IO_ADDRS_MAX) {
            out->a[out->n++] = v4.a[i];
        }
    }
    if (out->n > 0) {
        return MTASTS_OK;
    }
    if (rc6 == MTASTS_ERR_NOMEM || rc4 == MTASTS_ERR_NOMEM) {
        snprintf(why, why_size, "out of memory resolving %s", host);
        return MTASTS_ERR_NOMEM;
    }
    snprintf(why, why_size, "cannot resolve %s: AAAA: %s; A: %s", host, why6,
             why4);
    return MTASTS_ERR_FETCH;
}
