/* The policy fetch (RFC 8461 §3.3): HTTPS GET through mbedTLS; and the
 * TLS report POST (RFC 8460 §5.4), which shares all of it but the request
 * and stops reading at the response head (only the status matters).
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
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/ssl.h>
#include <mbedtls/x509.h>

#include "io/http.h"
#include "io/internal.h"
#include "util/alloc.h"
#include "util/domain.h"
#include "verify/hostname.h"

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

    /* the connection being tried; conn.deadline bounds every socket wait */
    struct mtasts__io_conn conn;
    char addr[ADDR_TEXT_MAX];

    /* TLS */
    struct mtasts__io_ca *ca;
    struct mtasts__io_tls tls;
    mbedtls_ssl_context ssl;
    bool ssl_ready;
    struct mtasts__verify_name name;

    struct mtasts__http http;
    char why[MTASTS__IO_REASON_MAX];

    /* a POST: the body, sent after the head; no_verify skips every
     * certificate check (RFC 8460 §3, MTASTS_HTTPS_POST_NO_VERIFY) */
    const char *content_type; /* NULL for the GET */
    const void *body;
    size_t body_len;
    bool no_verify;
    bool got_head;
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

/* ---- TLS set-up ---------------------------------------------------------- */

static const char *alpn_list[] = {"http/1.1", NULL};

static int
tls_config(struct fetch *f)
{
    int ret = mtasts__io_tls_setup(&f->tls, DRBG_PERSONAL,
                                   sizeof(DRBG_PERSONAL) - 1);
    if (ret != 0) {
        char text[160];
        mtasts__io_tls_error_text(ret, text, sizeof(text));
        return fail(f, MTASTS_ERR_FETCH, "TLS set-up failed: %s", text);
    }
    mbedtls_ssl_config *conf = &f->tls.conf;
    if (f->no_verify) {
        mbedtls_ssl_conf_authmode(conf, MBEDTLS_SSL_VERIFY_NONE);
#if defined(MBEDTLS_SSL_ALPN)
        mbedtls_ssl_conf_alpn_protocols(conf, alpn_list);
#endif
        return MTASTS_OK;
    }
    mbedtls_ssl_conf_authmode(conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(conf, &f->ca->chain, NULL);
    /* Our own name check replaces mbedTLS's, which falls back to the CN. */
    mbedtls_ssl_conf_verify(conf, mtasts__verify_name_cb, &f->name);
#if defined(MBEDTLS_SSL_ALPN)
    mbedtls_ssl_conf_alpn_protocols(conf, alpn_list);
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
    if (f->conn.fd >= 0) {
        close(f->conn.fd);
        f->conn.fd = -1;
    }
}

/* A timeout message: which deadline ran out, and how long it was. */
static int
fail_timeout(struct fetch *f, const char *during)
{
    if (f->conn.deadline >= f->deadline) {
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
    if (f->conn.timed_out) {
        return fail_timeout(f, "in the TLS handshake with");
    }
    if (f->conn.peer_closed || ret == MBEDTLS_ERR_SSL_CONN_EOF) {
        return fail(f, MTASTS_ERR_FETCH,
                    "%s closed the connection in the TLS handshake", f->addr);
    }
    if (f->conn.sys_err != 0) {
        mtasts__io_errno_text(f->conn.sys_err, text, sizeof(text));
        return fail(f, MTASTS_ERR_FETCH, "TLS handshake with %s: %s", f->addr,
                    text);
    }
    mtasts__io_tls_error_text(ret, text, sizeof(text));
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
    f->conn.timed_out = false;
    f->conn.peer_closed = false;
    f->conn.sys_err = 0;
    uint64_t limit = mtasts__io_now_ms() + f->io->connect_ms;
    f->conn.deadline = limit < f->deadline ? limit : f->deadline;

    int err = mtasts__io_connect(a, SOCK_STREAM, f->conn.deadline, &f->conn.fd);
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
    int ret = mbedtls_ssl_setup(&f->ssl, &f->tls.conf);
    if (ret == 0) {
        ret = mbedtls_ssl_set_hostname(&f->ssl, f->host); /* SNI, §7.1 */
    }
    if (ret != 0) {
        char text[160];
        mtasts__io_tls_error_text(ret, text, sizeof(text));
        return fail(f, MTASTS_ERR_FETCH, "TLS set-up failed: %s", text);
    }
    mbedtls_ssl_set_bio(&f->ssl, &f->conn, mtasts__io_bio_send,
                        mtasts__io_bio_recv, NULL);
    ret = mtasts__io_tls_handshake(&f->ssl, &f->conn);
    if (ret != 0) {
        return handshake_failed(f, ret);
    }
    return f->no_verify ? MTASTS_OK : check_peer_name(f);
}

/* ---- request and response ------------------------------------------------ */

/* Write len bytes; each turn writes or waits, the deadline bounds it. */
static int
write_all(struct fetch *f, const unsigned char *data, size_t len)
{
    size_t done = 0;
    while (done < len) {
        int ret = mbedtls_ssl_write(&f->ssl, data + done, len - done);
        if (ret > 0) {
            done += (size_t)ret;
            continue;
        }
        if ((ret == MBEDTLS_ERR_SSL_WANT_READ ||
             ret == MBEDTLS_ERR_SSL_WANT_WRITE) &&
            mtasts__io_ms_left(f->deadline) > 0) {
            continue;
        }
        if (f->conn.timed_out || ret == MBEDTLS_ERR_SSL_WANT_READ ||
            ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
            return fail_timeout(f, "sending the request to");
        }
        char text[160];
        mtasts__io_tls_error_text(ret, text, sizeof(text));
        return fail(f, MTASTS_ERR_FETCH, "sending the request to %s: %s",
                    f->addr, text);
    }
    return MTASTS_OK;
}

static int
send_request(struct fetch *f, const char *path)
{
    char head[REQUEST_MAX];
    struct mtasts__http_request r = {f->host, f->port, path, f->content_type,
                                     f->body_len};
    size_t n = mtasts__http_request_head(head, sizeof(head), &r);
    if (n == 0) {
        return fail(f, MTASTS_ERR_FETCH, "request too long");
    }
    f->conn.deadline = f->deadline;
    int rc = write_all(f, (const unsigned char *)head, n);
    if (rc == MTASTS_OK && f->body_len > 0) {
        rc = write_all(f, f->body, f->body_len);
    }
    return rc;
}

static int
on_head(void *user, unsigned status, const char *content_type)
{
    struct fetch *f = user;
    f->got_head = true;
    return mtasts_https_response(f->req, status, content_type);
}

static int
on_body(void *user, const unsigned char *data, size_t len)
{
    struct fetch *f = user;
    if (f->content_type != NULL) {
        return MTASTS_OK; /* a POST's response body is not wanted */
    }
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
            f->conn.timed_out = true;
            return fail_timeout(f, "reading the response from");
        }
        int ret = mbedtls_ssl_read(&f->ssl, buf, sizeof(buf));
        if (ret > 0) {
            int rc = mtasts__http_feed(&f->http, buf, (size_t)ret);
            if (rc != MTASTS_OK) {
                return fail_response(f, rc);
            }
            if (mtasts__http_complete(&f->http) ||
                (f->content_type != NULL && f->got_head)) {
                return MTASTS_OK; /* a POST needs the status alone */
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
        if (f->conn.timed_out) {
            return fail_timeout(f, "reading the response from");
        }
        char text[160];
        if (f->conn.sys_err != 0) {
            mtasts__io_errno_text(f->conn.sys_err, text, sizeof(text));
        } else {
            mtasts__io_tls_error_text(ret, text, sizeof(text));
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

static bool
type_ok(const char *type)
{
    size_t len = strnlen(type, PATH_MAX_LEN + 1);
    if (len == 0 || len > PATH_MAX_LEN) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)type[i];
        if (c < 0x20 || c >= 0x7f) {
            return false;
        }
    }
    return true;
}

/* The GET or the POST (f->content_type set); calls done, returns OK. */
static int
https_run(struct fetch *f, const char *path)
{
    struct mtasts__io *io = f->io;
    mtasts_req *req = f->req;
    f->start = mtasts__io_now_ms();
    f->deadline = f->start + io->fetch_ms;
    f->conn.fd = -1;
    mtasts__io_tls_init(&f->tls);
    mtasts__verify_name_init(&f->name, f->host);
    mtasts__http_init(&f->http, io->body_max, on_head, on_body, f);

    int rc = fetch_run(f, path);

    attempt_close(f);
    mtasts__io_tls_free(&f->tls);
    mtasts__io_ca_put(io, f->ca);
    if (rc != MTASTS_OK && rc != MTASTS_ERR_WEBPKI && rc != MTASTS_ERR_NOMEM &&
        rc != MTASTS_ERR_IO) {
        rc = MTASTS_ERR_FETCH; /* the only other status done accepts */
    }
    mtasts_https_done(req, rc, rc == MTASTS_OK ? NULL : f->why);
    mtasts__free(f);
    return MTASTS_OK;
}

/* The GET (content_type NULL) or the POST, once the arguments are
 * checked: MTASTS_OK after done, or an error without it. */
static int
https_request(mtasts_req *req, const char *host, uint16_t port,
              const char *path, const char *content_type, const void *body,
              size_t len, uint32_t flags, void *user)
{
    if (req == NULL || host == NULL || path == NULL || user == NULL ||
        port == 0 || !host_ok(host) || !path_ok(path) ||
        (content_type != NULL && !type_ok(content_type)) ||
        (body == NULL && len > 0) ||
        (flags & ~(uint32_t)MTASTS_HTTPS_POST_NO_VERIFY) != 0) {
        return MTASTS_ERR_INVALID;
    }
    struct fetch *f = mtasts__calloc(1, sizeof(*f));
    if (f == NULL) {
        return MTASTS_ERR_NOMEM;
    }
    f->io = user;
    f->req = req;
    f->host = host;
    f->port = port;
    f->content_type = content_type;
    f->body = body;
    f->body_len = len;
    f->no_verify = (flags & MTASTS_HTTPS_POST_NO_VERIFY) != 0;
    return https_run(f, path);
}

int
mtasts__io_https_get(mtasts_req *req, const char *host, uint16_t port,
                     const char *path, void *user)
{
    return https_request(req, host, port, path, NULL, NULL, 0, 0, user);
}

int
mtasts__io_https_post(mtasts_req *req, const char *host, uint16_t port,
                      const char *path, const char *content_type,
                      const void *body, size_t len, uint32_t flags, void *user)
{
    if (content_type == NULL) {
        return MTASTS_ERR_INVALID;
    }
    return https_request(req, host, port, path, content_type, body, len, flags,
                         user);
}
