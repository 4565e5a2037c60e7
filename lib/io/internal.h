/* Shared by the files of lib/io only: the I/O state, the trust store,
 * addresses, deadlines, the address lookup and the TLS client plumbing of
 * the HTTPS client and the SMTP probe. */
#ifndef MTASTS_IO_INTERNAL_H
#define MTASTS_IO_INTERNAL_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "io/io.h"

#define MTASTS__IO_REASON_MAX 256 /* a reason given to a completion */
#define MTASTS__IO_ADDRS_MAX 16   /* policy host addresses tried */
#define MTASTS__IO_NS_MAX 3       /* nameservers used (resolv.conf MAXNS) */
#define MTASTS__IO_IP_TEXT_MAX 48 /* INET6_ADDRSTRLEN and a NUL */

struct mtasts__io_addr {
    struct sockaddr_storage sa;
    socklen_t len;
};

/* A parsed trust store. Once built it is only read, by any number of
 * fetches at once; the last reference frees it. */
struct mtasts__io_ca {
    mbedtls_x509_crt chain;
    size_t refs; /* guarded by the lock of the io that made it */
};

struct mtasts__io {
    pthread_mutex_t lock;     /* guards ca and every ca->refs */
    struct mtasts__io_ca *ca; /* NULL: the system bundle, not loaded yet */
    bool resolver_set;        /* else /etc/resolv.conf */
    struct mtasts__io_addr resolver;
    uint32_t connect_ms;
    uint32_t fetch_ms;
    uint32_t dns_ms;
    size_t body_max;
};

/* ---- io.c ---------------------------------------------------------------- */

/* Milliseconds of a monotonic clock; deadlines are compared with it. */
uint64_t mtasts__io_now_ms(void);

/* A reference to the trust store, loading the system bundle first if no
 * store was set. MTASTS_OK, or MTASTS_ERR_IO / MTASTS_ERR_NOMEM with why. */
int mtasts__io_ca_get(struct mtasts__io *io, struct mtasts__io_ca **out,
                      char *why, size_t why_size);
void mtasts__io_ca_put(struct mtasts__io *io, struct mtasts__io_ca *ca);

/* The address as text without the port ("192.0.2.1", "2001:db8::1"). */
void mtasts__io_addr_ip(const struct mtasts__io_addr *a,
                        char out[MTASTS__IO_IP_TEXT_MAX]);
uint16_t mtasts__io_addr_port(const struct mtasts__io_addr *a);
void mtasts__io_addr_set_port(struct mtasts__io_addr *a, uint16_t port);

/* An IPv4 or IPv6 address literal in text ("192.0.2.1", "2001:db8::1"; no
 * brackets, no zone) and a port. MTASTS_OK, or MTASTS_ERR_INVALID. */
int mtasts__io_addr_parse(const char *ip, uint16_t port,
                          struct mtasts__io_addr *out);

/* ---- net.c --------------------------------------------------------------- */

/* Milliseconds left before deadline, for poll(): 0 when past it. */
int mtasts__io_ms_left(uint64_t deadline);

/* Wait until fd is ready for events (POLLIN, POLLOUT) or the deadline
 * passes: 1 ready, 0 timed out, -1 error (errno set). */
int mtasts__io_wait(int fd, short events, uint64_t deadline);

/* A non-blocking, close-on-exec socket of type (SOCK_STREAM, SOCK_DGRAM)
 * connected to a, the connection finished before deadline. 0 and *fd_out,
 * or an errno value (ETIMEDOUT when the deadline passed). */
int mtasts__io_connect(const struct mtasts__io_addr *a, int type,
                       uint64_t deadline, int *fd_out);

/* Send all of data on a connected non-blocking stream socket before the
 * deadline: 0 or an errno value (ETIMEDOUT). */
int mtasts__io_send_all(int fd, const void *data, size_t len,
                        uint64_t deadline);

/* errno text in a caller buffer (strerror_r: thread-safe). */
void mtasts__io_errno_text(int err, char *out, size_t size);

/* Read exactly len bytes before the deadline: 0, an errno value
 * (ETIMEDOUT), or -1 when the peer closed first. */
int mtasts__io_recv_all(int fd, void *data, size_t len, uint64_t deadline);

/* ---- tls.c --------------------------------------------------------------- */

/* One connection's socket as the mbedTLS BIO sees it: every wait of
 * mtasts__io_bio_send/_recv ends by deadline, and what ended a call is
 * recorded for the caller's reason. */
struct mtasts__io_conn {
    int fd;            /* connected, non-blocking */
    uint64_t deadline; /* bounds every socket wait */
    bool timed_out;
    bool peer_closed;
    int sys_err;
};

/* mbedTLS BIO callbacks; ctx is a struct mtasts__io_conn. */
int mtasts__io_bio_send(void *ctx, const unsigned char *buf, size_t len);
int mtasts__io_bio_recv(void *ctx, unsigned char *buf, size_t len);

/* An mbedTLS error as "text (-0xNNNN)". */
void mtasts__io_tls_error_text(int ret, char *out, size_t size);

/* The client configuration of one fetch or probe and its RNG. */
struct mtasts__io_tls {
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_ssl_config conf;
};

void mtasts__io_tls_init(struct mtasts__io_tls *t);
void mtasts__io_tls_free(struct mtasts__io_tls *t);

/* Seed the RNG (personal: a per-use string) and set the client defaults
 * both uses share: TLS 1.2 or later, x25519 and P-256 first, no session
 * tickets. The caller sets the authentication mode and the rest. 0 or an
 * mbedTLS error. */
int mtasts__io_tls_setup(struct mtasts__io_tls *t, const char *personal,
                         size_t personal_len);

/* Run the handshake of ssl (its BIO set to c) until it ends or c's
 * deadline passes; 0 or the mbedTLS error, c->timed_out set on a timeout. */
int mtasts__io_tls_handshake(mbedtls_ssl_context *ssl,
                             struct mtasts__io_conn *c);

/* ---- dns.c --------------------------------------------------------------- */

struct mtasts__io_addrs {
    size_t n;
    struct mtasts__io_addr a[MTASTS__IO_ADDRS_MAX];
};

/* The AAAA and A records of host (CNAMEs followed) through the configured
 * resolver, each lookup bounded by dns_ms and all by deadline, in the
 * order to try: IPv6 and IPv4 alternating. MTASTS_OK with out->n >= 1, or
 * MTASTS_ERR_FETCH / MTASTS_ERR_NOMEM with why. */
int mtasts__io_dns_addrs(const struct mtasts__io *io, const char *host,
                         uint16_t port, uint64_t deadline,
                         struct mtasts__io_addrs *out, char *why,
                         size_t why_size);

/* ---- dns.c: reading one reply -------------------------------------------
 * Every message the DNS client receives, over UDP or TCP, is judged and
 * read by mtasts__io_dns_reply(), which needs no network: the unit tests
 * and tests/fuzz/fuzz_dns_reply.c give it messages directly. */

#define MTASTS__IO_DNS_TYPE_A 1     /* RFC 1035 §3.2.2 */
#define MTASTS__IO_DNS_TYPE_TXT 16  /* RFC 1035 §3.2.2 */
#define MTASTS__IO_DNS_TYPE_AAAA 28 /* RFC 3596 §2.1 */
#define MTASTS__IO_CNAME_HOPS_MAX 8 /* CNAMEs followed in one lookup */

struct ldns_struct_rdf; /* ldns_rdf: ldns stays out of this header */

/* The names one lookup has reached: the query name, then each CNAME
 * target followed (R8461-3.1-m), across all the replies of the lookup, so
 * that a loop through several replies is found as well as one inside a
 * reply. Each question of the lookup asks for the last name. */
struct mtasts__io_dns_chain {
    struct ldns_struct_rdf *names[MTASTS__IO_CNAME_HOPS_MAX + 1]; /* owned */
    size_t n; /* 1 .. MTASTS__IO_CNAME_HOPS_MAX + 1 once started */
};

/* Start a chain at qname, a name in text form ("_mta-sts.example.com", a
 * final dot optional). MTASTS_OK, or MTASTS_ERR_INVALID when ldns cannot
 * encode the name (ch->n is then 0). Free with mtasts__io_dns_chain_free()
 * in both cases. */
int mtasts__io_dns_chain_init(struct mtasts__io_dns_chain *ch,
                              const char *qname);
void mtasts__io_dns_chain_free(struct mtasts__io_dns_chain *ch);

/* One record of the wanted type at the end of the chain, decoded. */
struct mtasts__io_dns_rr {
    uint16_t type;   /* the question's type */
    const char *txt; /* TXT: the character-strings joined with nothing in
                      * between (RFC 8461 §3.1); no NUL at the end; valid
                      * during the call only */
    size_t txt_len;  /* less than the message's length */
    struct mtasts__io_addr addr; /* A: AF_INET, AAAA: AF_INET6; port 0 */
};

/* Called for each such record, in the order of the answer section:
 * MTASTS_OK to go on, or an error status that ends the reading. An A or
 * AAAA record whose data is not an address is counted, not given. */
typedef int mtasts__io_dns_rr_fn(const struct mtasts__io_dns_rr *rr,
                                 void *user);

/* What a reply was found to be. */
enum mtasts__io_dns_kind {
    /* MTASTS_OK: the reply answers the question. */
    MTASTS__IO_DNS_ANSWER,   /* records at the chain's end, given to fn */
    MTASTS__IO_DNS_NXDOMAIN, /* the chain's end does not exist (RFC 6604) */
    MTASTS__IO_DNS_NODATA,   /* it exists, without a record of the type */
    MTASTS__IO_DNS_FOLLOW,   /* the chain grew to a target this reply does
                              * not cover: ask for its new last name */
    /* MTASTS_ERR_DNS_TEMPFAIL: the reply gives no answer. */
    MTASTS__IO_DNS_MALFORMED, /* not a DNS message ldns can read */
    MTASTS__IO_DNS_MISMATCH,  /* not a reply to this question: id, QR,
                               * opcode or question differ (RFC 5452 §9.1) */
    MTASTS__IO_DNS_TRUNCATED, /* TC set over UDP: ask again over TCP */
    MTASTS__IO_DNS_RCODE,     /* the server failed: SERVFAIL, REFUSED ... */
    /* MTASTS_ERR_DNS_TEMPFAIL, MTASTS_ERR_NOMEM or fn's error status: */
    MTASTS__IO_DNS_REJECTED /* the answer cannot be used: a CNAME loop, a
                             * chain over MTASTS__IO_CNAME_HOPS_MAX, fn
                             * failed, out of memory */
};

struct mtasts__io_dns_result {
    enum mtasts__io_dns_kind kind;
    int rcode;      /* the message's RCODE, -1 when it could not be read */
    size_t records; /* records of the type found at the chain's end */
};

/* Read one DNS message received in reply to a question with the given id
 * and type (MTASTS__IO_DNS_TYPE_TXT, _A or _AAAA) for ch's last name:
 * check that it answers the question (an error reply without a question
 * section matches on the id alone), then walk its answer section from that
 * name, following CNAMEs and adding each target to ch, and give the
 * records of the type at the end to fn. tcp says the message came over
 * TCP, where the TC bit is ignored. wire need not outlive the call.
 *
 * Returns MTASTS_OK with out->kind ANSWER, NXDOMAIN, NODATA or FOLLOW and
 * why empty; otherwise MTASTS_ERR_DNS_TEMPFAIL, MTASTS_ERR_NOMEM or fn's
 * status, with the kind in out and the reason in why (non-empty, cut to
 * why_size). fn may have been called before a REJECTED reply, never for
 * another kind than ANSWER and REJECTED. ch gains names only for ANSWER,
 * NXDOMAIN, NODATA, FOLLOW and REJECTED and never exceeds its bound.
 * Threads: pure (ch and out belong to the caller). */
int mtasts__io_dns_reply(struct mtasts__io_dns_chain *ch, const uint8_t *wire,
                         size_t len, uint16_t id, uint16_t type, bool tcp,
                         mtasts__io_dns_rr_fn *fn, void *user,
                         struct mtasts__io_dns_result *out, char *why,
                         size_t why_size);

#endif
