/* The SMTP STARTTLS probe of mtasts_probe_mx() (RFC 8461 §4, RFC 3207):
 * connect, banner, EHLO, STARTTLS, TLS handshake, QUIT; the chain the MX
 * presented is judged afterwards by lib/verify, so the handshake accepts
 * any certificate (a failed check is still an outcome to report).
 *
 * TLS 1.2 or later (§7.2, CHECKLIST E-32), SNI = the MX host (§7.1).
 * Every socket wait is a poll() bounded by a deadline: connect_ms for each
 * TCP connect, step_ms for each reply, write and the handshake, and a
 * bound on the whole session (smtp.h), so no server holds the thread
 * longer. What ends the session before STARTTLS is no MTA-STS failure
 * (§5.1): it is recorded with mtasts__mx_check_abort(). */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "io/internal.h"
#include "io/smtp.h"
#include "util/alloc.h"

#define RECV_CHUNK 4096                          /* bytes asked of recv() */
#define ADDR_TEXT_MAX 64                         /* "2001:db8::1 port 25" */
#define COMMAND_MAX (MTASTS_DOMAIN_BUFSIZE + 16) /* "EHLO name\r\n" */
#define QUIT_MS 1000u                            /* sending QUIT, at most */
#define WHY_MAX 400   /* a reason, before it goes into the check */
#define QUOTE_MAX 120 /* a reply line quoted in a reason */
#define DRBG_PERSONAL "libmtasts smtp"

/* A step returns MTASTS_OK to go on, DONE when the outcome is recorded in
 * the check and the session ends, or MTASTS_ERR_NOMEM. */
#define DONE 1

_Static_assert(MTASTS__MX_IP_MAX >= MTASTS__IO_IP_TEXT_MAX,
               "the check's ip holds an address in text");

struct session {
    struct mtasts__io *io;
    const struct mtasts__smtp_args *a;
    struct mtasts_mx_check *c;
    uint64_t start_us; /* for the benchmark's times */
    uint64_t deadline; /* of the whole session */
    uint64_t total_ms;

    struct mtasts__io_conn conn; /* conn.deadline: the current step's */
    char addr[ADDR_TEXT_MAX];
    size_t in_len; /* received bytes not yet read as a reply */
    unsigned char in[RECV_CHUNK];
    struct mtasts__smtp_reply reply;

    struct mtasts__io_ca *ca;
    struct mtasts__io_tls tls;
    mbedtls_ssl_context ssl;
    bool ssl_ready;
};

#if defined(__GNUC__) || defined(__clang__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

static int end_before_starttls(struct session *s, int status, const char *fmt,
                               ...) PRINTF_LIKE(3, 4);
static int end_tls_failed(struct session *s, mtasts_rpt_result tls,
                          const char *code, const char *fmt, ...)
    PRINTF_LIKE(4, 5);

/* The session ended before STARTTLS: not an MTA-STS failure. */
static int
end_before_starttls(struct session *s, int status, const char *fmt, ...)
{
    char why[WHY_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    mtasts__mx_check_abort(s->c, status, "%s", why);
    return DONE;
}

/* STARTTLS missing or refused, or the handshake failed. */
static int
end_tls_failed(struct session *s, mtasts_rpt_result tls, const char *code,
               const char *fmt, ...)
{
    char why[WHY_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    mtasts__mx_check_fail(s->c, tls, code, "%s", why);
    return DONE;
}

static uint64_t
min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* Start a step: its deadline is step_ms from now, or the session's. */
static void
step_start(struct session *s)
{
    s->conn.deadline =
        min_u64(mtasts__io_now_ms() + s->a->step_ms, s->deadline);
    s->conn.timed_out = false;
    s->conn.peer_closed = false;
    s->conn.sys_err = 0;
}

/* "within 500 ms", or the session's limit when that ran out first. */
static void
limit_text(const struct session *s, char *out, size_t size)
{
    if (s->conn.deadline >= s->deadline) {
        snprintf(out, size, "within the probe's limit of %llu ms",
                 (unsigned long long)s->total_ms);
    } else {
        snprintf(out, size, "within %u ms", (unsigned)s->a->step_ms);
    }
}

enum mark { MARK_CONNECTED, MARK_EHLO, MARK_HANDSHAKE, MARK_VERIFIED };

static uint64_t
now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* When a step ended, for the benchmark. */
static void
mark(const struct session *s, enum mark m)
{
    struct mtasts__smtp_times *t = s->a->times;
    if (t == NULL) {
        return;
    }
    uint64_t us = now_us() - s->start_us;
    switch (m) {
    case MARK_CONNECTED:
        t->connected = us;
        break;
    case MARK_EHLO:
        t->ehlo = us;
        break;
    case MARK_HANDSHAKE:
        t->handshake = us;
        break;
    case MARK_VERIFIED:
        t->verified = us;
        break;
    }
}

/* ---- connecting ---------------------------------------------------------- */

static int
connect_one(struct session *s, const struct mtasts__io_addr *a, char *why,
            size_t why_size)
{
    char ip[MTASTS__IO_IP_TEXT_MAX];
    mtasts__io_addr_ip(a, ip);
    snprintf(s->addr, sizeof(s->addr), "%s port %u", ip, (unsigned)s->a->port);
    uint64_t limit = mtasts__io_now_ms() + s->io->connect_ms;
    int err = mtasts__io_connect(a, SOCK_STREAM, min_u64(limit, s->deadline),
                                 &s->conn.fd);
    if (err == 0) {
        memcpy(s->c->ip, ip, sizeof(ip));
        return MTASTS_OK;
    }
    if (err == ETIMEDOUT) {
        snprintf(why, why_size, "connect to %s: no answer within %u ms",
                 s->addr, (unsigned)s->io->connect_ms);
    } else {
        char text[96];
        mtasts__io_errno_text(err, text, sizeof(text));
        snprintf(why, why_size, "connect to %s: %s", s->addr, text);
    }
    return MTASTS_ERR_CONNECT;
}

/* The given address, or each address of the host in turn until one
 * connects. */
static int
connect_any(struct session *s)
{
    char why[MTASTS__IO_REASON_MAX];
    struct mtasts__io_addrs addrs;
    if (s->a->addr != NULL) {
        addrs.n = 1;
        addrs.a[0] = *s->a->addr;
        mtasts__io_addr_set_port(&addrs.a[0], s->a->port);
    } else {
        uint64_t dns_deadline =
            mtasts__io_now_ms() + 2 * (uint64_t)s->io->dns_ms;
        int rc = mtasts__io_dns_addrs(s->io, s->a->host, s->a->port,
                                      min_u64(dns_deadline, s->deadline),
                                      &addrs, why, sizeof(why));
        if (rc == MTASTS_ERR_NOMEM) {
            return rc;
        }
        if (rc != MTASTS_OK) {
            return end_before_starttls(s, MTASTS_ERR_CONNECT, "%s", why);
        }
    }
    size_t tried = 0;
    for (size_t i = 0; i < addrs.n; i++) {
        if (i > 0 && mtasts__io_ms_left(s->deadline) == 0) {
            break;
        }
        tried++;
        if (connect_one(s, &addrs.a[i], why, sizeof(why)) == MTASTS_OK) {
            return MTASTS_OK;
        }
    }
    if (tried > 1) {
        return end_before_starttls(s, MTASTS_ERR_CONNECT,
                                   "%s (%zu addresses tried)", why, tried);
    }
    return end_before_starttls(s, MTASTS_ERR_CONNECT, "%s", why);
}

/* ---- plain-text commands and replies ------------------------------------- */

/* The first line of the reply just read, quoted, and "(N lines)". */
static void
reply_text(const struct session *s, char *out, size_t size)
{
    char q[QUOTE_MAX];
    mtasts__smtp_quote(s->reply.first, s->reply.first_len, q, sizeof(q));
    if (s->reply.lines > 1) {
        snprintf(out, size, "%s (%zu lines)", q, s->reply.lines);
    } else {
        snprintf(out, size, "%s", q);
    }
}

static int
recv_failed(struct session *s, const char *step, ssize_t n, int err, size_t got)
{
    if (n == 0) {
        return end_before_starttls(
            s, MTASTS_ERR_PROTOCOL, "%s: %s closed the connection %s", step,
            s->addr,
            got > 0 ? "in the middle of its reply" : "without a reply");
    }
    char text[96];
    mtasts__io_errno_text(err, text, sizeof(text));
    return end_before_starttls(s, MTASTS_ERR_PROTOCOL,
                               "%s: reading from %s: %s", step, s->addr, text);
}

/* Read one reply into s->reply, bounded by a new step deadline. Bytes
 * after it stay in s->in. */
static int
read_reply(struct session *s, const char *step)
{
    struct mtasts__smtp_reply *r = &s->reply;
    mtasts__smtp_reply_init(r);
    step_start(s);
    size_t got = s->in_len;
    /* Every turn reads the buffer, or receives, or waits until the
     * deadline. */
    for (;;) {
        if (s->in_len > 0) {
            size_t used = 0;
            int rc = mtasts__smtp_reply_feed(r, s->in, s->in_len, &used);
            memmove(s->in, s->in + used, s->in_len - used);
            s->in_len -= used;
            if (rc != MTASTS_OK) {
                return end_before_starttls(s, MTASTS_ERR_PROTOCOL,
                                           "%s: not an SMTP reply from %s: "
                                           "%s",
                                           step, s->addr, r->why);
            }
            if (r->done) {
                return MTASTS_OK;
            }
        }
        ssize_t n = recv(s->conn.fd, s->in, sizeof(s->in), 0);
        if (n > 0) {
            s->in_len = (size_t)n;
            got += (size_t)n;
            continue;
        }
        int err = errno;
        if (n == 0 || (err != EAGAIN && err != EWOULDBLOCK && err != EINTR)) {
            return recv_failed(s, step, n, err, got);
        }
        int w = mtasts__io_wait(s->conn.fd, POLLIN, s->conn.deadline);
        if (w < 0) {
            return recv_failed(s, step, -1, errno, got);
        }
        if (w == 0) {
            char limit[80];
            limit_text(s, limit, sizeof(limit));
            if (got == 0) {
                return end_before_starttls(s, MTASTS_ERR_TIMEOUT,
                                           "%s: no reply from %s %s", step,
                                           s->addr, limit);
            }
            return end_before_starttls(
                s, MTASTS_ERR_TIMEOUT,
                "%s: reply from %s not complete %s (%zu bytes received)", step,
                s->addr, limit, got);
        }
    }
}

/* Bytes after a reply that nothing asked for: the server talks out of
 * turn (we never pipeline). */
static int
check_nothing_more(struct session *s, const char *step)
{
    if (s->in_len == 0) {
        return MTASTS_OK;
    }
    char q[QUOTE_MAX];
    mtasts__smtp_quote(s->in, s->in_len, q, sizeof(q));
    return end_before_starttls(s, MTASTS_ERR_PROTOCOL,
                               "%s: %s sent %zu bytes after its reply "
                               "without being asked: %s",
                               step, s->addr, s->in_len, q);
}

static int
send_command(struct session *s, const char *step, const char *cmd)
{
    step_start(s);
    int err =
        mtasts__io_send_all(s->conn.fd, cmd, strlen(cmd), s->conn.deadline);
    if (err == 0) {
        return MTASTS_OK;
    }
    if (err == ETIMEDOUT) {
        char limit[80];
        limit_text(s, limit, sizeof(limit));
        return end_before_starttls(s, MTASTS_ERR_TIMEOUT,
                                   "%s: could not send to %s %s", step, s->addr,
                                   limit);
    }
    char text[96];
    mtasts__io_errno_text(err, text, sizeof(text));
    return end_before_starttls(s, MTASTS_ERR_PROTOCOL, "%s: sending to %s: %s",
                               step, s->addr, text);
}

/* QUIT without waiting for its reply (as Postfix does by default). */
static void
quit_plain(struct session *s)
{
    static const char quit[] = "QUIT\r\n";
    uint64_t limit = mtasts__io_now_ms() + min_u64(QUIT_MS, s->a->step_ms);
    (void)mtasts__io_send_all(s->conn.fd, quit, sizeof(quit) - 1,
                              min_u64(limit, s->deadline));
}

/* Send a command and read its reply, which must have the code want. */
static int
command(struct session *s, const char *step, const char *cmd, unsigned want)
{
    int rc = MTASTS_OK;
    if (cmd != NULL) {
        rc = send_command(s, step, cmd);
    }
    if (rc == MTASTS_OK) {
        rc = read_reply(s, step);
    }
    if (rc != MTASTS_OK || want == 0) {
        return rc;
    }
    if (s->reply.code != want) {
        char got[QUOTE_MAX + 40];
        reply_text(s, got, sizeof(got));
        quit_plain(s); /* RFC 5321 §3.1: QUIT after a refusal */
        return end_before_starttls(s, MTASTS_ERR_PROTOCOL,
                                   "%s: expected %u from %s, got %s", step,
                                   want, s->addr, got);
    }
    return check_nothing_more(s, step);
}

/* ---- TLS ------------------------------------------------------------------
 */

static int
tls_config(struct session *s)
{
    int ret =
        mtasts__io_tls_setup(&s->tls, DRBG_PERSONAL, sizeof(DRBG_PERSONAL) - 1);
    if (ret != 0) {
        char text[160];
        mtasts__io_tls_error_text(ret, text, sizeof(text));
        mtasts__mx_check_abort(s->c, MTASTS_ERR_IO, "TLS set-up failed: %s",
                               text);
        return MTASTS_ERR_IO;
    }
    /* Any certificate is accepted here and judged after the handshake by
     * mtasts__mx_check_chain(), which has the reasons a report needs. */
    mbedtls_ssl_conf_authmode(&s->tls.conf, MBEDTLS_SSL_VERIFY_NONE);
    return MTASTS_OK;
}

static int
handshake_failed(struct session *s, int ret)
{
    static const mtasts_rpt_result v = MTASTS_RPT_VALIDATION_FAILURE;
    char text[160];
    if (s->conn.timed_out) {
        char limit[80];
        limit_text(s, limit, sizeof(limit));
        return end_tls_failed(s, v, "tls-handshake",
                              "TLS handshake with %s after STARTTLS not "
                              "complete %s",
                              s->addr, limit);
    }
    if (s->conn.peer_closed || ret == MBEDTLS_ERR_SSL_CONN_EOF) {
        return end_tls_failed(s, v, "tls-handshake",
                              "%s closed the connection in the TLS "
                              "handshake after STARTTLS",
                              s->addr);
    }
    if (s->conn.sys_err != 0) {
        mtasts__io_errno_text(s->conn.sys_err, text, sizeof(text));
    } else {
        mtasts__io_tls_error_text(ret, text, sizeof(text));
    }
    return end_tls_failed(s, v, "tls-handshake",
                          "TLS handshake with %s after STARTTLS failed: %s",
                          s->addr, text);
}

static int
handshake(struct session *s)
{
    mbedtls_ssl_init(&s->ssl);
    s->ssl_ready = true;
    int ret = mbedtls_ssl_setup(&s->ssl, &s->tls.conf);
    if (ret == 0) {
        ret = mbedtls_ssl_set_hostname(&s->ssl, s->a->host); /* SNI, §7.1 */
    }
    if (ret == MBEDTLS_ERR_SSL_ALLOC_FAILED) {
        return MTASTS_ERR_NOMEM;
    }
    if (ret != 0) {
        return handshake_failed(s, ret);
    }
    mbedtls_ssl_set_bio(&s->ssl, &s->conn, mtasts__io_bio_send,
                        mtasts__io_bio_recv, NULL);
    step_start(s);
    ret = mtasts__io_tls_handshake(&s->ssl, &s->conn);
    if (ret != 0) {
        return handshake_failed(s, ret);
    }
    return MTASTS_OK;
}

/* Judge the chain the MX presented, leaf first, as received. */
static int
judge_chain(struct session *s)
{
    const unsigned char *der[MTASTS__MX_CHAIN_MAX];
    size_t lens[MTASTS__MX_CHAIN_MAX];
    size_t n = 0;
#if defined(MBEDTLS_SSL_KEEP_PEER_CERTIFICATE)
    for (const mbedtls_x509_crt *crt = mbedtls_ssl_get_peer_cert(&s->ssl);
         crt != NULL && crt->raw.p != NULL; crt = crt->next) {
        if (n == MTASTS__MX_CHAIN_MAX) {
            return end_tls_failed(s, MTASTS_RPT_VALIDATION_FAILURE,
                                  "certificate-invalid",
                                  "%s presented more than %d certificates",
                                  s->addr, MTASTS__MX_CHAIN_MAX);
        }
        der[n] = crt->raw.p;
        lens[n] = crt->raw.len;
        n++;
    }
#endif
    int rc =
        mtasts__mx_check_chain(s->c, &s->ca->chain, s->a->now, der, lens, n);
    return rc == MTASTS_OK ? DONE : rc;
}

/* QUIT inside TLS, then close_notify; errors ignored. */
static void
quit_tls(struct session *s)
{
    static const unsigned char quit[] = "QUIT\r\n";
    uint64_t limit = mtasts__io_now_ms() + min_u64(QUIT_MS, s->a->step_ms);
    s->conn.deadline = min_u64(limit, s->deadline);
    (void)mbedtls_ssl_write(&s->ssl, quit, sizeof(quit) - 1);
    (void)mbedtls_ssl_close_notify(&s->ssl);
}

/* ---- the session ------------------------------------------------------------
 */

/* From STARTTLS on: a refusal or a failed handshake is an outcome. */
static int
starttls(struct session *s)
{
    int rc = command(s, "STARTTLS", "STARTTLS\r\n", 0);
    if (rc != MTASTS_OK) {
        return rc;
    }
    if (s->reply.code != 220) {
        char got[QUOTE_MAX + 40];
        reply_text(s, got, sizeof(got));
        quit_plain(s);
        return end_tls_failed(s, MTASTS_RPT_STARTTLS_NOT_SUPPORTED,
                              "starttls-refused", "STARTTLS refused by %s: %s",
                              s->addr, got);
    }
    if (s->in_len > 0) {
        /* RFC 3207 §4.2: nothing may come before the TLS negotiation;
         * bytes here would be read as the peer's TLS. */
        char q[QUOTE_MAX];
        mtasts__smtp_quote(s->in, s->in_len, q, sizeof(q));
        return end_tls_failed(s, MTASTS_RPT_VALIDATION_FAILURE, "tls-handshake",
                              "%s sent %zu bytes after its 220 reply to "
                              "STARTTLS, before the TLS handshake: %s",
                              s->addr, s->in_len, q);
    }
    rc = handshake(s);
    if (rc != MTASTS_OK) {
        return rc;
    }
    mark(s, MARK_HANDSHAKE);
    rc = judge_chain(s);
    mark(s, MARK_VERIFIED);
    quit_tls(s);
    return rc;
}

static int
session_run(struct session *s)
{
    char why[MTASTS__IO_REASON_MAX];
    int rc = mtasts__io_ca_get(s->io, &s->ca, why, sizeof(why));
    if (rc == MTASTS_ERR_IO) {
        mtasts__mx_check_abort(s->c, MTASTS_ERR_IO, "%s", why);
    }
    if (rc == MTASTS_OK) {
        rc = tls_config(s);
    }
    if (rc == MTASTS_OK) {
        rc = connect_any(s);
    }
    if (rc != MTASTS_OK) {
        return rc;
    }
    mark(s, MARK_CONNECTED);
    rc = command(s, "banner", NULL, 220);
    if (rc != MTASTS_OK) {
        return rc;
    }
    char ehlo[COMMAND_MAX];
    snprintf(ehlo, sizeof(ehlo), "EHLO %s\r\n", s->a->helo);
    rc = command(s, "EHLO", ehlo, 250);
    if (rc != MTASTS_OK) {
        return rc;
    }
    mark(s, MARK_EHLO);
    if (!s->reply.starttls) {
        quit_plain(s);
        return end_tls_failed(
            s, MTASTS_RPT_STARTTLS_NOT_SUPPORTED, "starttls-not-offered",
            "%s does not offer STARTTLS (EHLO keywords: "
            "%s)",
            s->addr, s->reply.keywords[0] != '\0' ? s->reply.keywords : "none");
    }
    return starttls(s);
}

int
mtasts__smtp_probe(struct mtasts__io *io, const struct mtasts__smtp_args *a,
                   struct mtasts_mx_check *c)
{
    struct session *s = mtasts__calloc(1, sizeof(*s));
    if (s == NULL) {
        return MTASTS_ERR_NOMEM;
    }
    s->io = io;
    s->a = a;
    s->c = c;
    s->start_us = now_us();
    s->total_ms = 2 * (uint64_t)io->dns_ms + 2 * (uint64_t)io->connect_ms +
                  5 * (uint64_t)a->step_ms;
    s->deadline = mtasts__io_now_ms() + s->total_ms;
    s->conn.fd = -1;
    mtasts__io_tls_init(&s->tls);

    int rc = session_run(s);

    if (s->ssl_ready) {
        mbedtls_ssl_free(&s->ssl);
    }
    if (s->conn.fd >= 0) {
        close(s->conn.fd);
    }
    mtasts__io_tls_free(&s->tls);
    mtasts__io_ca_put(io, s->ca);
    mtasts__free(s);
    return rc == DONE ? MTASTS_OK : rc;
}
