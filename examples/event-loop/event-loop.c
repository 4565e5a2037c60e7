/*
 * event-loop: MTA-STS lookups of many domains at once in ONE thread that
 * never blocks, the way an event-driven MTA embeds libmtasts
 * (docs/integration-event-loop.md explains it step by step).
 *
 *   event-loop --resolver ADDR@PORT [--ca-file FILE] [--https-port N]
 *              [--timeout-ms N] DOMAIN...
 *
 * The library does no I/O of its own here: its two hooks hand each DNS
 * query and each policy fetch to this program's epoll loop, which runs
 * them on non-blocking sockets and completes them when the answer comes:
 *   - DNS over UDP to the resolver, packets built and read with ldns;
 *   - HTTPS with mbedTLS on a non-blocking socket: address lookup (A,
 *     then AAAA) through the same resolver, connect, handshake with SNI
 *     and the certificate checked for the host, an HTTP/1.0 GET, the
 *     response read to the end.
 * Every operation has a deadline; the loop sleeps in epoll_wait() until
 * the next event or deadline. Output, one line per domain, in the order
 * the lookups finished:
 *   DOMAIN STATUS mode=MODE id=ID mx=P1,P2   (a policy)
 *   DOMAIN STATUS failure=TYPE reason=TEXT   (no policy)
 * and a last line "N lookups, M I/O operations, T ms, one thread".
 * Exit status: 0 when every lookup finished, 1 on a local error.
 *
 * What a production MTA adds: DNS over TCP on truncation, EDNS0,
 * DNSSEC-aware resolution, checking the question section of answers,
 * HTTP/1.1 keep-alive, connection reuse. The example stays an example.
 */
#define _GNU_SOURCE 1
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ldns/ldns.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>

#include <mtasts/mtasts.h>

#define RESPONSE_MAX (65536 + 16384) /* body cap plus room for the head */

enum op_kind { OP_TXT, OP_ADDR, OP_HTTPS };

struct loop;

/* One I/O operation in flight: a TXT query, or a policy fetch (which
 * starts with its address query). */
struct op {
    enum op_kind kind;
    struct loop *loop;
    mtasts_req *req;
    int fd;
    int64_t deadline;
    struct op *prev, *next;
    /* DNS */
    uint16_t qid;
    ldns_rr_type qtype;
    char qname[MTASTS_DOMAIN_BUFSIZE + 16];
    /* HTTPS */
    char host[MTASTS_DOMAIN_BUFSIZE + 16];
    uint16_t port;
    char head[768];
    size_t head_len, sent;
    bool tls_started;
    mbedtls_ssl_context ssl;
    unsigned char *resp;
    size_t resp_len;
};

struct loop {
    int epfd;
    struct sockaddr_storage resolver;
    socklen_t resolver_len;
    uint32_t timeout_ms;
    struct op *ops;
    size_t pending_lookups, started_ops;
    mbedtls_ssl_config tls_conf;
    mbedtls_x509_crt ca;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
};

static int64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the op list and epoll ------------------------------------------ */

static struct op *
op_new(struct loop *l, enum op_kind kind, mtasts_req *req)
{
    struct op *op = calloc(1, sizeof(*op));
    if (op == NULL)
        return NULL;
    op->kind = kind;
    op->loop = l;
    op->req = req;
    op->fd = -1;
    op->deadline = now_ms() + l->timeout_ms;
    op->next = l->ops;
    if (l->ops != NULL)
        l->ops->prev = op;
    l->ops = op;
    l->started_ops++;
    return op;
}

/* Remove op from the loop and free it; the request is not touched. */
static void
op_free(struct op *op)
{
    struct loop *l = op->loop;
    if (op->fd >= 0) {
        epoll_ctl(l->epfd, EPOLL_CTL_DEL, op->fd, NULL);
        close(op->fd);
    }
    if (op->tls_started)
        mbedtls_ssl_free(&op->ssl);
    free(op->resp);
    if (op->prev != NULL)
        op->prev->next = op->next;
    else
        l->ops = op->next;
    if (op->next != NULL)
        op->next->prev = op->prev;
    free(op);
}

static int
op_watch(struct op *op, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = op};
    if (epoll_ctl(op->loop->epfd, EPOLL_CTL_MOD, op->fd, &ev) == 0)
        return 0;
    return epoll_ctl(op->loop->epfd, EPOLL_CTL_ADD, op->fd, &ev);
}

/* ---- finishing requests ---------------------------------------------- */

/* Each finish function frees the op BEFORE calling the done function:
 * done may run the next hook (a fetch after the TXT answer) and the
 * lookup's callback inline, which may start new ops. */
static void
txt_finish(struct op *op, mtasts_dns_rcode rcode, const char *reason)
{
    mtasts_req *req = op->req;
    op_free(op);
    int rc = mtasts_dns_done(req, rcode, reason);
    if (rc != MTASTS_OK)
        fprintf(stderr, "event-loop: mtasts_dns_done: %s\n",
                mtasts_strerror(rc));
}

static void
https_finish(struct op *op, int status, const char *reason)
{
    mtasts_req *req = op->req;
    op_free(op);
    int rc = mtasts_https_done(req, status, reason);
    if (rc != MTASTS_OK)
        fprintf(stderr, "event-loop: mtasts_https_done: %s\n",
                mtasts_strerror(rc));
}

static void
op_fail(struct op *op, const char *reason)
{
    if (op->kind == OP_TXT)
        txt_finish(op, MTASTS_DNS_TEMPFAIL, reason);
    else
        https_finish(op, MTASTS_ERR_FETCH, reason);
}

/* ---- DNS over UDP ---------------------------------------------------- */

static int
dns_send(struct op *op, const char *name, ldns_rr_type type)
{
    struct loop *l = op->loop;
    int rc = -1;
    uint8_t *wire = NULL;
    size_t wire_len = 0;
    ldns_pkt *q = NULL;
    ldns_rdf *dn = ldns_dname_new_frm_str(name);

    if (op->fd >= 0) { /* a second query (AAAA after A): a new socket */
        epoll_ctl(l->epfd, EPOLL_CTL_DEL, op->fd, NULL);
        close(op->fd);
    }
    op->fd = socket(l->resolver.ss_family, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (dn == NULL || op->fd < 0 ||
        connect(op->fd, (struct sockaddr *)&l->resolver, l->resolver_len) != 0)
        goto out;
    q = ldns_pkt_query_new(dn, type, LDNS_RR_CLASS_IN, LDNS_RD);
    if (q == NULL) /* ldns did not take dn: freed below */
        goto out;
    dn = NULL; /* owned by q now */
    op->qid = (uint16_t)ldns_get_random();
    op->qtype = type;
    snprintf(op->qname, sizeof(op->qname), "%s", name);
    ldns_pkt_set_id(q, op->qid);
    if (ldns_pkt2wire(&wire, q, &wire_len) != LDNS_STATUS_OK)
        goto out;
    if (send(op->fd, wire, wire_len, 0) != (ssize_t)wire_len)
        goto out;
    rc = op_watch(op, EPOLLIN);
out:
    if (dn != NULL)
        ldns_rdf_deep_free(dn);
    ldns_pkt_free(q);
    free(wire);
    return rc;
}

/* Read the answer: 1 done (*out set), 0 not ours (keep waiting), -1 bad. */
static int
dns_read(struct op *op, ldns_pkt **out)
{
    uint8_t buf[4096];
    ssize_t n = recv(op->fd, buf, sizeof(buf), 0);
    if (n < 0)
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
    ldns_pkt *p = NULL;
    if (ldns_wire2pkt(&p, buf, (size_t)n) != LDNS_STATUS_OK)
        return 0; /* garbage on our port: ignore, the deadline still runs */
    if (ldns_pkt_id(p) != op->qid || !ldns_pkt_qr(p)) {
        ldns_pkt_free(p);
        return 0;
    }
    *out = p;
    return 1;
}

static void https_connect(struct op *op, const struct sockaddr *sa,
                          socklen_t len);

static void
on_txt_answer(struct op *op)
{
    ldns_pkt *p = NULL;
    int r = dns_read(op, &p);
    if (r == 0)
        return;
    if (r < 0) {
        txt_finish(op, MTASTS_DNS_TEMPFAIL, "recv from the resolver failed");
        return;
    }
    ldns_pkt_rcode rcode = ldns_pkt_get_rcode(p);
    if (ldns_pkt_tc(p)) {
        ldns_pkt_free(p);
        txt_finish(op, MTASTS_DNS_TEMPFAIL, "truncated answer (no TCP here)");
        return;
    }
    if (rcode == LDNS_RCODE_NXDOMAIN) {
        ldns_pkt_free(p);
        txt_finish(op, MTASTS_DNS_NXDOMAIN, NULL);
        return;
    }
    if (rcode != LDNS_RCODE_NOERROR) {
        ldns_pkt_free(p);
        txt_finish(op, MTASTS_DNS_TEMPFAIL, "resolver error");
        return;
    }
    ldns_rr_list *txt =
        ldns_pkt_rr_list_by_type(p, LDNS_RR_TYPE_TXT, LDNS_SECTION_ANSWER);
    size_t count = txt != NULL ? ldns_rr_list_rr_count(txt) : 0;
    for (size_t i = 0; i < count; i++) {
        ldns_rr *rr = ldns_rr_list_rr(txt, i);
        /* the character-strings of one RR, joined with nothing between */
        char record[65536];
        size_t len = 0;
        for (size_t j = 0; j < ldns_rr_rd_count(rr); j++) {
            const uint8_t *d = ldns_rdf_data(ldns_rr_rdf(rr, j));
            size_t dlen = ldns_rdf_size(ldns_rr_rdf(rr, j));
            if (dlen == 0 || (size_t)d[0] + 1 > dlen ||
                len + d[0] > sizeof(record))
                continue;
            memcpy(record + len, d + 1, d[0]);
            len += d[0];
        }
        int rc = mtasts_dns_add_txt(op->req, record, len);
        if (rc != MTASTS_OK) /* the request is marked; done fails it */
            fprintf(stderr, "event-loop: mtasts_dns_add_txt: %s\n",
                    mtasts_strerror(rc));
    }
    ldns_rr_list_deep_free(txt);
    ldns_pkt_free(p);
    txt_finish(op, count > 0 ? MTASTS_DNS_ANSWER : MTASTS_DNS_NODATA, NULL);
}

static void
on_addr_answer(struct op *op)
{
    ldns_pkt *p = NULL;
    int r = dns_read(op, &p);
    if (r == 0)
        return;
    if (r < 0) {
        https_finish(op, MTASTS_ERR_FETCH, "address lookup failed");
        return;
    }
    ldns_rr_list *addrs = NULL;
    if (ldns_pkt_get_rcode(p) == LDNS_RCODE_NOERROR && !ldns_pkt_tc(p))
        addrs = ldns_pkt_rr_list_by_type(p, op->qtype, LDNS_SECTION_ANSWER);
    struct sockaddr_storage ss;
    socklen_t len = 0;
    memset(&ss, 0, sizeof(ss));
    if (addrs != NULL && ldns_rr_list_rr_count(addrs) > 0) {
        ldns_rdf *a = ldns_rr_rdf(ldns_rr_list_rr(addrs, 0), 0);
        if (op->qtype == LDNS_RR_TYPE_A && ldns_rdf_size(a) == 4) {
            struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
            s4->sin_family = AF_INET;
            s4->sin_port = htons(op->port);
            memcpy(&s4->sin_addr, ldns_rdf_data(a), 4);
            len = sizeof(*s4);
        } else if (op->qtype == LDNS_RR_TYPE_AAAA && ldns_rdf_size(a) == 16) {
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
            s6->sin6_family = AF_INET6;
            s6->sin6_port = htons(op->port);
            memcpy(&s6->sin6_addr, ldns_rdf_data(a), 16);
            len = sizeof(*s6);
        }
    }
    ldns_rr_list_deep_free(addrs);
    ldns_pkt_free(p);
    if (len > 0) {
        https_connect(op, (struct sockaddr *)&ss, len);
    } else if (op->qtype == LDNS_RR_TYPE_A) {
        if (dns_send(op, op->host, LDNS_RR_TYPE_AAAA) != 0)
            https_finish(op, MTASTS_ERR_FETCH, "address lookup failed");
    } else {
        https_finish(op, MTASTS_ERR_FETCH, "the policy host has no address");
    }
}

/* ---- HTTPS on a non-blocking socket ------------------------------------ */

static int
bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    ssize_t n = send(*(int *)ctx, buf, len, MSG_NOSIGNAL);
    if (n >= 0)
        return (int)n;
    return (errno == EAGAIN || errno == EWOULDBLOCK)
               ? MBEDTLS_ERR_SSL_WANT_WRITE
               : MBEDTLS_ERR_NET_SEND_FAILED;
}

static int
bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    ssize_t n = recv(*(int *)ctx, buf, len, 0);
    if (n >= 0)
        return (int)n;
    return (errno == EAGAIN || errno == EWOULDBLOCK)
               ? MBEDTLS_ERR_SSL_WANT_READ
               : MBEDTLS_ERR_NET_RECV_FAILED;
}

/* mbedTLS checks the host against the subjectAltName dNSNames, but falls
 * back to the subject CN when the certificate has none; RFC 8461 §3.3
 * (through RFC 6125) allows only the dNSNames. So the handshake's success
 * counts only when a dNSName is there: then mbedTLS matched one. */
static bool
has_dns_san(const mbedtls_x509_crt *crt)
{
    if (crt == NULL)
        return false;
    for (const mbedtls_x509_sequence *san = &crt->subject_alt_names;
         san != NULL; san = san->next) {
        if (san->buf.p != NULL &&
            san->buf.tag ==
                (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_X509_SAN_DNS_NAME))
            return true;
    }
    return false;
}

static void
https_connect(struct op *op, const struct sockaddr *sa, socklen_t len)
{
    epoll_ctl(op->loop->epfd, EPOLL_CTL_DEL, op->fd, NULL);
    close(op->fd);
    op->kind = OP_HTTPS;
    op->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (op->fd < 0 || (connect(op->fd, sa, len) != 0 && errno != EINPROGRESS)) {
        https_finish(op, MTASTS_ERR_FETCH, "connect failed");
        return;
    }
    mbedtls_ssl_init(&op->ssl);
    op->tls_started = true;
    if (mbedtls_ssl_setup(&op->ssl, &op->loop->tls_conf) != 0 ||
        mbedtls_ssl_set_hostname(&op->ssl, op->host) != 0) {
        https_finish(op, MTASTS_ERR_NOMEM, "TLS setup failed");
        return;
    }
    mbedtls_ssl_set_bio(&op->ssl, &op->fd, bio_send, bio_recv, NULL);
    if (op_watch(op, EPOLLOUT) != 0)
        https_finish(op, MTASTS_ERR_FETCH, "epoll failed");
}

/* The whole response is in op->resp: report its head and body. */
static void
https_response(struct op *op)
{
    char *r = (char *)op->resp;
    char *end = memmem(r, op->resp_len, "\r\n\r\n", 4);
    unsigned status = 0;
    if (end == NULL || sscanf(r, "HTTP/1.%*1[01] %3u", &status) != 1 ||
        status < 100 || status > 999) {
        https_finish(op, MTASTS_ERR_FETCH, "malformed HTTP response");
        return;
    }
    *end = '\0';
    char *body = end + 4;
    size_t body_len = op->resp_len - (size_t)(body - r);
    char *ctype = NULL;
    /* one header field a line; each line is cut at its CRLF in place */
    for (char *line = strstr(r, "\r\n"); line != NULL;) {
        line += 2;
        char *eol = strstr(line, "\r\n");
        if (eol != NULL)
            *eol = '\0';
        if (strncasecmp(line, "Content-Type:", 13) == 0) {
            ctype = line + 13;
            while (*ctype == ' ' || *ctype == '\t')
                ctype++;
        } else if (strncasecmp(line, "Content-Length:", 15) == 0) {
            char *v = line + 15, *vend = NULL;
            while (*v == ' ' || *v == '\t')
                v++;
            errno = 0;
            unsigned long long cl = strtoull(v, &vend, 10);
            while (vend != NULL && (*vend == ' ' || *vend == '\t'))
                vend++;
            if (*v < '0' || *v > '9' || errno != 0 || *vend != '\0') {
                https_finish(op, MTASTS_ERR_FETCH, "bad Content-Length");
                return;
            }
            if (cl > body_len) {
                https_finish(op, MTASTS_ERR_FETCH, "response cut short");
                return;
            }
            body_len = (size_t)cl;
        } else if (strncasecmp(line, "Transfer-Encoding:", 18) == 0) {
            /* an HTTP/1.0 request must not get a chunked response */
            https_finish(op, MTASTS_ERR_FETCH, "unexpected transfer coding");
            return;
        }
        line = eol;
    }
    int rc = mtasts_https_response(op->req, status, ctype);
    if (rc == MTASTS_OK)
        rc = mtasts_https_body(op->req, body, body_len);
    if (rc == MTASTS_ERR_TOO_LARGE)
        https_finish(op, MTASTS_ERR_FETCH, "policy too large");
    else if (rc != MTASTS_OK)
        https_finish(op, MTASTS_ERR_NOMEM, mtasts_strerror(rc));
    else
        https_finish(op, MTASTS_OK, NULL);
}

static void
https_step(struct op *op)
{
    int r;
    if (!op->head_len) { /* connecting, then the handshake */
        int err = 0;
        socklen_t elen = sizeof(err);
        if (getsockopt(op->fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0 ||
            err != 0) {
            https_finish(op, MTASTS_ERR_FETCH, "connect failed");
            return;
        }
        r = mbedtls_ssl_handshake(&op->ssl);
        if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE) {
            op_watch(op, r == MBEDTLS_ERR_SSL_WANT_READ ? EPOLLIN : EPOLLOUT);
            return;
        }
        if (r != 0) {
            /* A certificate not valid for the host: sts-webpki-invalid. */
            bool pki = mbedtls_ssl_get_verify_result(&op->ssl) != 0 &&
                       mbedtls_ssl_get_verify_result(&op->ssl) != (uint32_t)-1;
            https_finish(op, pki ? MTASTS_ERR_WEBPKI : MTASTS_ERR_FETCH,
                         pki ? "certificate not valid for the policy host"
                             : "TLS handshake failed");
            return;
        }
        if (!has_dns_san(mbedtls_ssl_get_peer_cert(&op->ssl))) {
            https_finish(op, MTASTS_ERR_WEBPKI,
                         "certificate without a subjectAltName dNSName "
                         "(the CN is not used)");
            return;
        }
        op->head_len = (size_t)snprintf(
            op->head, sizeof(op->head),
            "GET /.well-known/mta-sts.txt HTTP/1.0\r\nHost: %s\r\n"
            "User-Agent: libmtasts-event-loop\r\n\r\n",
            op->host);
    }
    while (op->sent < op->head_len) {
        r = mbedtls_ssl_write(&op->ssl,
                              (const unsigned char *)op->head + op->sent,
                              op->head_len - op->sent);
        if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE) {
            op_watch(op, r == MBEDTLS_ERR_SSL_WANT_READ ? EPOLLIN : EPOLLOUT);
            return;
        }
        if (r <= 0) {
            https_finish(op, MTASTS_ERR_FETCH, "write failed");
            return;
        }
        op->sent += (size_t)r;
    }
    if (op->resp == NULL && (op->resp = malloc(RESPONSE_MAX + 1)) == NULL) {
        https_finish(op, MTASTS_ERR_NOMEM, "out of memory");
        return;
    }
    for (;;) {
        if (op->resp_len == RESPONSE_MAX) {
            https_finish(op, MTASTS_ERR_FETCH, "policy too large");
            return;
        }
        r = mbedtls_ssl_read(&op->ssl, op->resp + op->resp_len,
                             RESPONSE_MAX - op->resp_len);
        if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE) {
            op_watch(op, r == MBEDTLS_ERR_SSL_WANT_READ ? EPOLLIN : EPOLLOUT);
            return;
        }
        if (r == 0 || r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
            break; /* the end of the response (HTTP/1.0) */
        if (r < 0) {
            https_finish(op, MTASTS_ERR_FETCH, "read failed");
            return;
        }
        op->resp_len += (size_t)r;
    }
    op->resp[op->resp_len] = '\0';
    https_response(op);
}

/* ---- the hooks --------------------------------------------------------- */

static int
txt_hook(mtasts_req *req, const char *name, void *user)
{
    struct op *op = op_new(user, OP_TXT, req);
    if (op == NULL)
        return MTASTS_ERR_NOMEM; /* done will not be called */
    if (dns_send(op, name, LDNS_RR_TYPE_TXT) != 0) {
        op_free(op);
        return MTASTS_ERR_IO;
    }
    return MTASTS_OK;
}

static int
https_hook(mtasts_req *req, const char *host, uint16_t port, const char *path,
           void *user)
{
    (void)path; /* always /.well-known/mta-sts.txt */
    struct op *op = op_new(user, OP_ADDR, req);
    if (op == NULL)
        return MTASTS_ERR_NOMEM;
    snprintf(op->host, sizeof(op->host), "%s", host);
    op->port = port;
    if (dns_send(op, host, LDNS_RR_TYPE_A) != 0) {
        op_free(op);
        return MTASTS_ERR_IO;
    }
    return MTASTS_OK;
}

static void
on_lookup(const mtasts_result *r, void *user)
{
    struct loop *l = user;
    int st = mtasts_result_status(r);
    mtasts_policy *p = mtasts_result_policy(r); /* borrowed from r */
    printf("%s %s", mtasts_result_domain(r), mtasts_status_name(st));
    if (p != NULL) {
        printf(" mode=%s id=%s mx=", mtasts_mode_name(mtasts_policy_mode(p)),
               mtasts_result_txt_id(r));
        for (size_t i = 0; i < mtasts_policy_mx_count(p); i++)
            printf("%s%s", i ? "," : "", mtasts_policy_mx(p, i));
    } else {
        printf(" failure=%s reason=%s",
               mtasts_rpt_result_name(mtasts_result_failure(r)),
               mtasts_result_reason(r) ? mtasts_result_reason(r) : "");
    }
    printf("\n");
    l->pending_lookups--;
}

/* ---- setup and the loop ------------------------------------------------ */

static int
parse_resolver(struct loop *l, const char *arg)
{
    char addr[INET6_ADDRSTRLEN + 1];
    const char *at = strrchr(arg, '@');
    size_t n = at != NULL ? (size_t)(at - arg) : strlen(arg);
    if (n == 0 || n >= sizeof(addr))
        return -1;
    memcpy(addr, arg, n);
    addr[n] = '\0';
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
                             .ai_socktype = SOCK_DGRAM};
    struct addrinfo *ai = NULL;
    if (getaddrinfo(addr, at != NULL ? at + 1 : "53", &hints, &ai) != 0)
        return -1;
    memcpy(&l->resolver, ai->ai_addr, ai->ai_addrlen);
    l->resolver_len = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

static int
tls_setup(struct loop *l, const char *ca_file)
{
    mbedtls_ssl_config_init(&l->tls_conf);
    mbedtls_x509_crt_init(&l->ca);
    mbedtls_entropy_init(&l->entropy);
    mbedtls_ctr_drbg_init(&l->drbg);
    if (mbedtls_ctr_drbg_seed(&l->drbg, mbedtls_entropy_func, &l->entropy,
                              (const unsigned char *)"event-loop", 10) != 0)
        return -1;
    int rc = ca_file != NULL
                 ? mbedtls_x509_crt_parse_file(&l->ca, ca_file)
                 : mbedtls_x509_crt_parse_path(&l->ca, "/etc/ssl/certs");
    if (rc < 0 ||
        mbedtls_ssl_config_defaults(&l->tls_conf, MBEDTLS_SSL_IS_CLIENT,
                                    MBEDTLS_SSL_TRANSPORT_STREAM,
                                    MBEDTLS_SSL_PRESET_DEFAULT) != 0)
        return -1;
    mbedtls_ssl_conf_authmode(&l->tls_conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&l->tls_conf, &l->ca, NULL);
    mbedtls_ssl_conf_rng(&l->tls_conf, mbedtls_ctr_drbg_random, &l->drbg);
#if MBEDTLS_VERSION_NUMBER >= 0x03020000
    mbedtls_ssl_conf_min_tls_version(&l->tls_conf, MBEDTLS_SSL_VERSION_TLS1_2);
#else
    mbedtls_ssl_conf_min_version(&l->tls_conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_3);
#endif
    return 0;
}

static void
tls_cleanup(struct loop *l)
{
    mbedtls_ssl_config_free(&l->tls_conf);
    mbedtls_x509_crt_free(&l->ca);
    mbedtls_ctr_drbg_free(&l->drbg);
    mbedtls_entropy_free(&l->entropy);
}

static void
run(struct loop *l)
{
    struct epoll_event evs[64];
    while (l->pending_lookups > 0) {
        int64_t now = now_ms(), next = now + 1000;
        /* expire what passed its deadline (one at a time: finishing an
         * op may start or free others) */
        struct op *late = NULL;
        for (struct op *op = l->ops; op != NULL; op = op->next) {
            if (op->deadline <= now) {
                late = op;
                break;
            }
            if (op->deadline < next)
                next = op->deadline;
        }
        if (late != NULL) {
            op_fail(late, "timed out");
            continue;
        }
        int n = epoll_wait(l->epfd, evs, 64, (int)(next - now));
        if (n < 0 && errno != EINTR) {
            perror("epoll_wait");
            return;
        }
        for (int i = 0; i < n; i++) {
            struct op *op = evs[i].data.ptr;
            /* an op finished earlier in this batch may have freed this
             * one; skip it unless it is still in the list. (A new op
             * that reused the memory just sees a spurious wake-up: its
             * recv or TLS step answers "would block".) */
            struct op *o = l->ops;
            while (o != NULL && o != op)
                o = o->next;
            if (o == NULL)
                continue;
            if (op->kind == OP_TXT)
                on_txt_answer(op);
            else if (op->kind == OP_ADDR)
                on_addr_answer(op);
            else
                https_step(op);
        }
    }
}

static void
usage(FILE *f)
{
    fprintf(f, "usage: event-loop --resolver ADDR[@PORT] [--ca-file FILE] "
               "[--https-port N] [--timeout-ms N] DOMAIN...\n");
}

int
main(int argc, char **argv)
{
    struct loop l;
    memset(&l, 0, sizeof(l));
    l.timeout_ms = 5000;
    const char *resolver = NULL, *ca_file = NULL;
    unsigned long https_port = 443;
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            usage(stderr);
            return 2;
        }
        if (strcmp(argv[i], "--resolver") == 0)
            resolver = argv[i + 1];
        else if (strcmp(argv[i], "--ca-file") == 0)
            ca_file = argv[i + 1];
        else if (strcmp(argv[i], "--https-port") == 0)
            https_port = strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--timeout-ms") == 0)
            l.timeout_ms = (uint32_t)strtoul(argv[i + 1], NULL, 10);
        else {
            usage(stderr);
            return 2;
        }
    }
    if (resolver == NULL || i >= argc || https_port == 0 ||
        https_port > 65535 || l.timeout_ms == 0) {
        usage(stderr);
        return 2;
    }
    if (parse_resolver(&l, resolver) != 0) {
        fprintf(stderr, "event-loop: bad resolver address '%s'\n", resolver);
        return 2;
    }
    l.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l.epfd < 0 || tls_setup(&l, ca_file) != 0) {
        fprintf(stderr, "event-loop: setup failed (epoll, CA file)\n");
        tls_cleanup(&l);
        return 1;
    }

    mtasts_ctx *ctx = NULL;
    int rc = mtasts_ctx_new(&ctx);
    if (rc == MTASTS_OK)
        rc = mtasts_ctx_set_dns_txt_hook(ctx, txt_hook, &l);
    if (rc == MTASTS_OK)
        rc = mtasts_ctx_set_https_get_hook(ctx, https_hook, &l);
    if (rc == MTASTS_OK)
        rc = mtasts_ctx_set_https_port(ctx, (uint16_t)https_port);
    if (rc != MTASTS_OK) {
        fprintf(stderr, "event-loop: %s\n", mtasts_strerror(rc));
        mtasts_ctx_free(ctx);
        tls_cleanup(&l);
        close(l.epfd);
        return 1;
    }

    int64_t t0 = now_ms();
    size_t lookups = 0;
    for (; i < argc; i++) {
        l.pending_lookups++;
        lookups++;
        rc = mtasts_lookup_async(ctx, argv[i], on_lookup, &l);
        if (rc != MTASTS_OK) { /* the callback will not run */
            printf("%s %s failure=none reason=not started\n", argv[i],
                   mtasts_status_name(rc));
            l.pending_lookups--;
        }
    }
    run(&l);
    printf("%zu lookups, %zu I/O operations, %lld ms, one thread\n", lookups,
           l.started_ops, (long long)(now_ms() - t0));

    while (l.ops != NULL) /* only after a local error in the loop */
        op_fail(l.ops, "shutting down");
    mtasts_ctx_free(ctx);
    tls_cleanup(&l);
    close(l.epfd);
    return l.pending_lookups == 0 ? 0 : 1;
}
