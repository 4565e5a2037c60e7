/* The policy fetch (RFC 8461 §3.3): HTTPS GET through mbedTLS.
 *
 * TLS 1.2 or later (§7.2, RFC 7525), SNI = the policy host (§7.1), the
 * chain verified against the trust store, and the name checked by
 * lib/verify against subjectAltName dNSNames only (§3.3, CHECKLIST E-17).
 * Every socket wait is a poll() bounded by a deadline: connect_ms for TCP
 * connect plus TLS handshake of each address, and fetch_ms for the whole
 * fetch from the address lookup to the last body byte, so a server that
 * trickles one byte at a time cannot hold the thread longer. Redirects are
 * never followed and no conditional request is made (§3.3). */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/version.h>
#include <mbedtls/x509.h>

#include "io/http.h"
#include "io/internal.h"
#include "util/alloc.h"
#include "util/domain.h"
#include "verify/hostname.h"

#define HTTPS_PORT 443
#define PATH_MAX_LEN 512     /* request target bytes */
#define REQUEST_MAX 1024     /* the whole request head */
#define READ_CHUNK 4096      /* bytes asked of mbedtls_ssl_read() */
#define ADDR_TEXT_MAX 64     /* "2001:db8::1 port 443" */
#define DRBG_PERSONAL "libmtasts https"

struct fetch {
    struct mtasts__io *io;
    mtasts_req *req;
    const char *host;
    uint16_t port;
    uint64_t start;
    uint64_t deadline; /* of the whole fetch */

    /* the connection being tried */
    int fd;
    uint64_t io_deadline; /* bounds every socket wait */
    bool timed_out;
    bool peer_closed;
    int sys_err;
    char addr[ADDR_TEXT_MAX];

    /* TLS */
    struct mtasts__io_ca *ca;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_ssl_config conf;
    mbedtls_ssl_context ssl;
    bool ssl_ready;
    struct mtasts__verify_name name;

    struct mtasts__http http;
    char why[MTASTS__IO_REASON_MAX];
};

#if defined(__GNUC__) || defined(__clang__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

static int fail(struct fetch *f, int status, const char *fmt, ...)
    PRINTF_LIKE(3, 4);

static int
fail(struct fetch *f, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->why, sizeof(f->why), fmt, ap);
    va_end(ap);
    return status;
}

static void
tls_error_text(int ret, char *out, size_t size)
{
#if defined(MBEDTLS_ERROR_C)
    char text[128];
    mbedtls_strerror(ret, text, sizeof(text));
    snprintf(out, size, "%s (-0x%04x)", text, (unsigned)-ret);
#else
    snprintf(out, size, "mbedTLS error -0x%04x", (unsigned)-ret);
#endif
}

/* ---- socket I/O for mbedTLS, bounded by f->io_deadline ---------------- */

static int
bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    struct fetch *f = ctx;
    /* Bounded by the deadline: every turn that does not send waits. */
    for (;;) {
        ssize_t n = send(f->fd, buf, len, MSG_NOSIGNAL);
        if (n >= 0) {
            return (int)n;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            f->sys_err = errno;
            return errno == EPIPE || errno == ECONNRESET
                       ? MBEDTLS_ERR_NET_CONN_RESET
                       : MBEDTLS_ERR_NET_SEND_FAILED;
        }
        int w = mtasts__io_wait(f->fd, POLLOUT, f->io_deadline);
        if (w <= 0) {
            f->timed_out = w == 0;
            f->sys_err = w == 0 ? ETIMEDOUT : errno;
            return w == 0 ? MBEDTLS_ERR_SSL_TIMEOUT
                          : MBEDTLS_ERR_NET_SEND_FAILED;
        }
    }
}

static int
bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    struct fetch *f = ctx;
    for (;;) {
        ssize_t n = recv(f->fd, buf, len, 0);
        if (n > 0) {
            return (int)n;
        }
        if (n == 0) {
            f->peer_closed = true;
            return 0;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            f->sys_err = errno;
            return errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET
                                       : MBEDTLS_ERR_NET_RECV_FAILED;
        }
        int w = mtasts__io_wait(f->fd, POLLIN, f->io_deadline);
        if (w <= 0) {
            f->timed_out = w == 0;
            f->sys_err = w == 0 ? ETIMEDOUT : errno;
            return w == 0 ? MBEDTLS_ERR_SSL_TIMEOUT
                          : MBEDTLS_ERR_NET_RECV_FAILED;
        }
    }
}

/* ---- TLS set-up ---------------------------------------------------------- */

static const char *alpn_list[] = {"http/1.1", NULL};

/* Key exchange groups, fastest first. mbedTLS 2.28 offers the curves
 * strongest first (secp521r1), and a server that honours the client's
 * order then costs each handshake several milliseconds of P-521. */
#if MBEDTLS_VERSION_NUMBER >= 0x03010000
#define HAVE_GROUP_LIST 1
static const uint16_t group_list[] = {
#if defined(MBEDTLS_ECP_DP_CURVE25519_ENABLED)
    MBEDTLS_SSL_IANA_TLS_GROUP_X25519,
#endif
#if defined(MBEDTLS_ECP_DP_SECP256R1_ENABLED)
    MBEDTLS_SSL_IANA_TLS_GROUP_SECP256R1,
#endif
#if defined(MBEDTLS_ECP_DP_SECP384R1_ENABLED)
    MBEDTLS_SSL_IANA_TLS_GROUP_SECP384R1,
#endif
#if defined(MBEDTLS_ECP_DP_SECP521R1_ENABLED)
    MBEDTLS_SSL_IANA_TLS_GROUP_SECP521R1,
#endif
    MBEDTLS_SSL_IANA_TLS_GROUP_NONE};
#elif defined(MBEDTLS_ECP_C)
#define HAVE_CURVE_LIST 1
static const mbedtls_ecp_group_id curve_list[] = {
#if defined(MBEDTLS_ECP_DP_CURVE25519_ENABLED)
    MBEDTLS_ECP_DP_CURVE25519,
#endif
#if defined(MBEDTLS_ECP_DP_SECP256R1_ENABLED)
    MBEDTLS_ECP_DP_SECP256R1,
#endif
#if defined(MBEDTLS_ECP_DP_SECP384R1_ENABLED)
    MBEDTLS_ECP_DP_SECP384R1,
#endif
#if defined(MBEDTLS_ECP_DP_SECP521R1_ENABLED)
    MBEDTLS_ECP_DP_SECP521R1,
#endif
    MBEDTLS_ECP_DP_NONE};
#endif

static int
tls_config(struct fetch *f)
{
    char text[160];
    int ret = mbedtls_ctr_drbg_seed(
        &f->drbg, mbedtls_entropy_func, &f->entropy,
        (const unsigned char *)DRBG_PERSONAL, sizeof(DRBG_PERSONAL) - 1);
    if (ret == 0) {
        ret = mbedtls_ssl_config_defaults(&f->conf, MBEDTLS_SSL_IS_CLIENT,
                                          MBEDTLS_SSL_TRANSPORT_STREAM,
                                          MBEDTLS_SSL_PRESET_DEFAULT);
    }
    if (ret != 0) {
        tls_error_text(ret, text, sizeof(text));
        return fail(f, MTASTS_ERR_FETCH, "TLS set-up failed: %s", text);
    }
    /* TLS 1.2 at least (RFC 8461 §7.2, RFC 7525 §3.1.1). */
#if MBEDTLS_VERSION_NUMBER >= 0x03020000
    mbedtls_ssl_conf_min_tls_version(&f->conf, MBEDTLS_SSL_VERSION_TLS1_2);
#else
    mbedtls_ssl_conf_min_version(&f->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_3);
#endif
    mbedtls_ssl_conf_authmode(&f->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&f->conf, &f->ca->chain, NULL);
    /* Our own name check replaces mbedTLS's, which falls back to the CN. */
    mbedtls_ssl_conf_verify(&f->conf, mtasts__verify_name_cb, &f->name);
    mbedtls_ssl_conf_rng(&f->conf, mbedtls_ctr_drbg_random, &f->drbg);
#if defined(HAVE_GROUP_LIST)
    mbedtls_ssl_conf_groups(&f->conf, group_list);
#elif defined(HAVE_CURVE_LIST)
    mbedtls_ssl_conf_curves(&f->conf, curve_list);
#endif
#if defined(MBEDTLS_SSL_ALPN)
    mbedtls_ssl_conf_alpn_protocols(&f->conf, alpn_list);
#endif
#if defined(MBEDTLS_SSL_SESSION_TICKETS)
    mbedtls_ssl_conf_session_tickets(&f->conf,
                                     MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
#endif
    return MTASTS_OK;
}

static void
attempt_close(struct fetch *f)
{
    if (f->ssl_ready) {
        mbedtls_ssl_free(&f->ssl);
        f->ssl_ready = false;
    }
    if (f->fd >= 0) {
        close(f->fd);
        f->fd = -1;
    }
}

/* A timeout message: which deadline ran out, and how long it was. */
static int
fail_timeout(struct fetch *f, const char *during)
{
    if (f->io_deadline >= f->deadline) {
        return fail(f, MTASTS_ERR_FETCH,
                    "fetch timeout after %u ms %s %s", f->io->fetch_ms,
                    during, f->addr);
    }
    return fail(f, MTASTS_ERR_FETCH, "connect timeout after %u ms %s %s",
                f->io->connect_ms, during, f->addr);
}

/* Why the handshake failed. A certificate problem is MTASTS_ERR_WEBPKI. */
static int
handshake_failed(struct fetch *f, int ret)
{
    char text[160];
    if (ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
        uint32_t flags = mbedtls_ssl_get_verify_result(&f->ssl);
        char what[MTASTS__IO_REASON_MAX];
        mtasts__verify_flags_describe(flags, &f->name, what, sizeof(what));
        return fail(f, MTASTS_ERR_WEBPKI, "certificate of %s rejected (%s)",
                    f->addr, what);
    }
    if (f->timed_out) {
        return fail_timeout(f, "in the TLS handshake with");
    }
    if (f->peer_closed || ret == MBEDTLS_ERR_SSL_CONN_EOF) {
        return fail(f, MTASTS_ERR_FETCH,
                    "%s closed the connection in the TLS handshake", f->addr);
    }
    if (f->sys_err != 0) {
        mtasts__io_errno_text(f->sys_err, text, sizeof(text));
        return fail(f, MTASTS_ERR_FETCH, "TLS handshake with %s: %s", f->addr,
                    text);
    }
    tls_error_text(ret, text, sizeof(text));
    return fail(f, MTASTS_ERR_FETCH, "TLS handshake with %s failed: %s",
                f->addr, text);
}

/* The name check must have run on the leaf and passed; a handshake that
 * skipped the callback is checked here, so no path trusts the CN. */
static int
check_peer_name(struct fetch *f)
{
    if (mbedtls_ssl_get_verify_result(&f->ssl) != 0) {
        return handshake_failed(f, MBEDTLS_ERR_X509_CERT_VERIFY_FAILED);
    }
    if (f->name.checked && !f->name.mismatch) {
        return MTASTS_OK;
    }
    const mbedtls_x509_crt *peer = mbedtls_ssl_get_peer_cert(&f->ssl);
    if (peer == NULL) {
        return fail(f, MTASTS_ERR_WEBPKI, "no certificate from %s", f->addr);
    }
    char what[MTASTS__VERIFY_WHY_MAX];
    if (mtasts__verify_crt_host(peer, f->host, what, sizeof(what)) !=
        MTASTS_OK) {
        return fail(f, MTASTS_ERR_WEBPKI, "certificate of %s rejected (%s)",
                    f->addr, what);
    }
    return MTASTS_OK;
}

/* TCP connect and TLS handshake with one address, within connect_ms. */
static int
attempt(struct fetch *f, const struct mtasts__io_addr *a)
{
    char ip[MTASTS__IO_IP_TEXT_MAX];
    mtasts__io_addr_ip(a, ip);
    snprintf(f->addr, sizeof(f->addr), "%s port %u", ip, (unsigned)f->port);
    f->timed_out = false;
    f->peer_closed = false;
    f->sys_err = 0;
    uint64_t limit = mtasts__io_now_ms() + f->io->connect_ms;
    f->io_deadline = limit < f->deadline ? limit : f->deadline;

    int err = mtasts__io_connect(a, SOCK_STREAM, f->io_deadline, &f->fd);
    if (err == ETIMEDOUT) {
        return fail_timeout(f, "connecting to");
    }
    if (err != 0) {
        char text[96];
        mtasts__io_errno_text(err, text, sizeof(text));
        return fail(f, MTASTS_ERR_FETCH, "connect to %s: %s", f->addr, text);
    }
    mbedtls_ssl_init(&f->ssl);
    f->ssl_ready = true;
    mtasts__verify_name_init(&f->name, f->host);
    int ret = mbedtls_ssl_setup(&f->ssl, &f->conf);
    if (ret == 0) {
        ret = mbedtls_ssl_set_hostname(&f->ssl, f->host); /* SNI, §7.1 */
    }
    if (ret != 0) {
        char text[160];
        tls_error_text(ret, text, sizeof(text));
        return fail(f, MTASTS_ERR_FETCH, "TLS set-up failed: %s", text);
    }
    mbedtls_ssl_set_bio(&f->ssl, f, bio_send, bio_recv, NULL);
    /* The BIO waits itself; WANT_* only comes back if mbedTLS asks again
     * without I/O, and the deadline still bounds the loop. */
    do {
        ret = mbedtls_ssl_handshake(&f->ssl);
    } while ((ret == MBEDTLS_ERR_SSL_WANT_READ ||
              ret == MBEDTLS_ERR_SSL_WANT_WRITE) &&
             mtasts__io_ms_left(f->io_deadline) > 0);
    if (ret != 0) {
        if (ret == MBEDTLS_ERR_SSL_WANT_READ ||
            ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
            f->timed_out = true;
        }
        return handshake_failed(f, ret);
    }
    return check_peer_name(f);
}

/* ---- request and response ------------------------------------------------ */

static int
send_request(struct fetch *f, const char *path)
{
    char request[REQUEST_MAX];
    char port[16] = "";
    if (f->port != HTTPS_PORT) {
        snprintf(port, sizeof(port), ":%u", (unsigned)f->port);
    }
    /* RFC 8461 §3.3: no conditional request, no caching headers. */
    int n = snprintf(request, sizeof(request),
                     "GET %s HTTP/1.1\r\n"
                     "Host: %s%s\r\n"
                     "Connection: close\r\n"
                     "User-Agent: libmtasts/%s\r\n"
                     "Accept: text/plain\r\n"
                     "\r\n",
                     path, f->host, port, MTASTS_VERSION_STRING);
    if (n < 0 || (size_t)n >= sizeof(request)) {
        return fail(f, MTASTS_ERR_FETCH, "request too long");
    }
    f->io_deadline = f->deadline;
    size_t done = 0;
    /* Each turn writes or waits; the deadline bounds the waiting. */
    while (done < (size_t)n) {
        int ret = mbedtls_ssl_write(
            &f->ssl, (const unsigned char *)request + done, (size_t)n - done);
        if (ret > 0) {
            done += (size_t)ret;
            continue;
        }
        if ((ret == MBEDTLS_ERR_SSL_WANT_READ ||
             ret == MBEDTLS_ERR_SSL_WANT_WRITE) &&
            mtasts__io_ms_left(f->deadline) > 0) {
            continue;
        }
        if (f->timed_out || ret == MBEDTLS_ERR_SSL_WANT_READ ||
            ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
            return fail_timeout(f, "sending the request to");
        }
        char text[160];
        tls_error_text(ret, text, sizeof(text));
        return fail(f, MTASTS_ERR_FETCH, "sending the request to %s: %s",
                    f->addr, text);
    }
    return MTASTS_OK;
}

static int
on_head(void *user, unsigned status, const char *content_type)
{
    struct fetch *f = user;
    return mtasts_https_response(f->req, status, content_type);
}

static int
on_body(void *user, const unsigned char *data, size_t len)
{
    struct fetch *f = user;
    return mtasts_https_body(f->req, data, len);
}

/* A response the parser refused, with the status when it was not 200. */
static int
fail_response(struct fetch *f, int rc)
{
    unsigned status = mtasts__http_status(&f->http);
    char after[40] = "";
    if (status != 0 && status != 200) {
        snprintf(after, sizeof(after), " after HTTP status %u", status);
    }
    const char *what = rc == MTASTS_ERR_TOO_LARGE ? "response too large"
                                                  : "bad HTTP response";
    if (rc != MTASTS_ERR_SYNTAX && rc != MTASTS_ERR_TOO_LARGE) {
        what = "response not stored";
    }
    return fail(f, MTASTS_ERR_FETCH, "%s from %s%s: %s", what, f->addr, after,
                mtasts__http_why(&f->http));
}

/* The connection ended (cleanly or not) before the parser was done. */
static int
response_end(struct fetch *f, bool clean)
{
    if (!clean && mtasts__http_close_delimited(&f->http)) {
        /* Only a TLS close_notify shows that a body ended by the close
         * is whole (RFC 8446 §6.1); a cut one is never parsed (§3.3). */
        return fail(f, MTASTS_ERR_FETCH,
                    "%s closed the connection without TLS close_notify; "
                    "the body (no Content-Length) may be truncated",
                    f->addr);
    }
    int rc = mtasts__http_finish(&f->http);
    if (rc != MTASTS_OK) {
        return fail_response(f, rc);
    }
    return MTASTS_OK;
}

static int
read_response(struct fetch *f)
{
    unsigned char buf[READ_CHUNK];
    /* Every turn reads (each read waits at most until the deadline) or
     * ends; the deadline check bounds turns that read nothing. */
    for (;;) {
        if (mtasts__io_ms_left(f->deadline) == 0) {
            f->timed_out = true;
            return fail_timeout(f, "reading the response from");
        }
        int ret = mbedtls_ssl_read(&f->ssl, buf, sizeof(buf));
        if (ret > 0) {
            int rc = mtasts__http_feed(&f->http, buf, (size_t)ret);
            if (rc != MTASTS_OK) {
                return fail_response(f, rc);
            }
            if (mtasts__http_complete(&f->http)) {
                return MTASTS_OK;
            }
            continue;
        }
        if (ret == MBEDTLS_ERR_SSL_WANT_READ ||
            ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
            continue;
        }
#if defined(MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
        if (ret == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET) {
            continue; /* TLS 1.3 post-handshake message */
        }
#endif
        if (ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
            return response_end(f, true);
        }
        if (ret == 0 || ret == MBEDTLS_ERR_SSL_CONN_EOF) {
            return response_end(f, false);
        }
        if (f->timed_out) {
            return fail_timeout(f, "reading the response from");
        }
        char text[160];
        if (f->sys_err != 0) {
            mtasts__io_errno_text(f->sys_err, text, sizeof(text));
        } else {
            tls_error_text(ret, text, sizeof(text));
        }
        return fail(f, MTASTS_ERR_FETCH, "reading the response from %s: %s",
                    f->addr, text);
    }
}

/* ---- the fetch ----------------------------------------------------------- */

/* Try each address in turn until one gives a verified TLS session. A
 * certificate failure is remembered over later network failures. */
static int
connect_any(struct fetch *f, const struct mtasts__io_addrs *addrs)
{
    char webpki[MTASTS__IO_REASON_MAX] = "";
    size_t tried = 0;
    int rc = MTASTS_ERR_FETCH;
    for (size_t i = 0; i < addrs->n; i++) {
        if (i > 0 && mtasts__io_ms_left(f->deadline) == 0) {
            break;
        }
        tried++;
        rc = attempt(f, &addrs->a[i]);
        if (rc == MTASTS_OK) {
            return MTASTS_OK;
        }
        if (rc == MTASTS_ERR_WEBPKI && webpki[0] == '\0') {
            memcpy(webpki, f->why, sizeof(webpki));
        }
        attempt_close(f);
    }
    if (webpki[0] != '\0') {
        memcpy(f->why, webpki, sizeof(f->why));
        return MTASTS_ERR_WEBPKI;
    }
    if (tried > 1) {
        size_t len = strlen(f->why);
        snprintf(f->why + len, sizeof(f->why) - len,
                 " (%zu addresses tried)", tried);
    }
    return rc;
}

static int
fetch_run(struct fetch *f, const char *path)
{
    int rc = mtasts__io_ca_get(f->io, &f->ca, f->why, sizeof(f->why));
    if (rc != MTASTS_OK) {
        return rc; /* MTASTS_ERR_IO or NOMEM: a local failure */
    }
    rc = tls_config(f);
    if (rc != MTASTS_OK) {
        return rc;
    }
    struct mtasts__io_addrs addrs;
    rc = mtasts__io_dns_addrs(f->io, f->host, f->port, f->deadline, &addrs,
                              f->why, sizeof(f->why));
    if (rc != MTASTS_OK) {
        return rc; /* MTASTS_ERR_FETCH, or NOMEM */
    }
    rc = connect_any(f, &addrs);
    if (rc != MTASTS_OK) {
        return rc;
    }
    rc = send_request(f, path);
    if (rc == MTASTS_OK) {
        rc = read_response(f);
    }
    if (rc == MTASTS_OK) {
        mbedtls_ssl_close_notify(&f->ssl); /* courtesy; errors ignored */
    }
    return rc;
}

static bool
path_ok(const char *path)
{
    size_t len = strnlen(path, PATH_MAX_LEN + 1);
    if (len == 0 || len > PATH_MAX_LEN || path[0] != '/') {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)path[i];
        if (c <= 0x20 || c >= 0x7f) {
            return false; /* nothing that could end or split the line */
        }
    }
    return true;
}

static bool
host_ok(const char *host)
{
    size_t len = strnlen(host, MTASTS__DOMAIN_MAX + 1);
    size_t bad = 0;
    const char *why = NULL;
    return len <= MTASTS__DOMAIN_MAX &&
           mtasts__domain_check((const unsigned char *)host, len, NULL, &bad,
                                &why) == MTASTS_OK;
}

int
mtasts__io_https_get(mtasts_req *req, const char *host, uint16_t port,
                     const char *path, void *user)
{
    if (req == NULL || host == NULL || path == NULL || user == NULL ||
        port == 0 || !host_ok(host) || !path_ok(path)) {
        return MTASTS_ERR_INVALID;
    }
    struct mtasts__io *io = user;
    struct fetch *f = mtasts__calloc(1, sizeof(*f));
    if (f == NULL) {
        return MTASTS_ERR_NOMEM;
    }
    f->io = io;
    f->req = req;
    f->host = host;
    f->port = port;
    f->start = mtasts__io_now_ms();
    f->deadline = f->start + io->fetch_ms;
    f->fd = -1;
    mbedtls_entropy_init(&f->entropy);
    mbedtls_ctr_drbg_init(&f->drbg);
    mbedtls_ssl_config_init(&f->conf);
    mtasts__verify_name_init(&f->name, host);
    mtasts__http_init(&f->http, io->body_max, on_head, on_body, f);

    int rc = fetch_run(f, path);

    attempt_close(f);
    mbedtls_ssl_config_free(&f->conf);
    mbedtls_ctr_drbg_free(&f->drbg);
    mbedtls_entropy_free(&f->entropy);
    mtasts__io_ca_put(io, f->ca);
    if (rc != MTASTS_OK && rc != MTASTS_ERR_WEBPKI && rc != MTASTS_ERR_NOMEM &&
        rc != MTASTS_ERR_IO) {
        rc = MTASTS_ERR_FETCH; /* the only other status done accepts */
    }
    mtasts_https_done(req, rc, rc == MTASTS_OK ? NULL : f->why);
    mtasts__free(f);
    return MTASTS_OK;
}
