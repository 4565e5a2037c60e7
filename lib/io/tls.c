/* TLS client plumbing shared by the policy fetch (https.c) and the SMTP
 * STARTTLS probe (smtp.c): the mbedTLS configuration both use, socket
 * callbacks over a non-blocking socket bounded by a deadline, and the
 * handshake loop. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>

#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/version.h>

#include "io/internal.h"

void
mtasts__io_tls_error_text(int ret, char *out, size_t size)
{
#if defined(MBEDTLS_ERROR_C)
    char text[128];
    mbedtls_strerror(ret, text, sizeof(text));
    snprintf(out, size, "%s (-0x%04x)", text, (unsigned)-ret);
#else
    snprintf(out, size, "mbedTLS error -0x%04x", (unsigned)-ret);
#endif
}

/* ---- socket I/O for mbedTLS, bounded by conn->deadline ----------------- */

int
mtasts__io_bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    struct mtasts__io_conn *c = ctx;
    /* Bounded by the deadline: every turn that does not send waits. */
    for (;;) {
        ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
        if (n >= 0) {
            return (int)n;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            c->sys_err = errno;
            return errno == EPIPE || errno == ECONNRESET
                       ? MBEDTLS_ERR_NET_CONN_RESET
                       : MBEDTLS_ERR_NET_SEND_FAILED;
        }
        int w = mtasts__io_wait(c->fd, POLLOUT, c->deadline);
        if (w <= 0) {
            c->timed_out = w == 0;
            c->sys_err = w == 0 ? ETIMEDOUT : errno;
            return w == 0 ? MBEDTLS_ERR_SSL_TIMEOUT
                          : MBEDTLS_ERR_NET_SEND_FAILED;
        }
    }
}

int
mtasts__io_bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    struct mtasts__io_conn *c = ctx;
    for (;;) {
        ssize_t n = recv(c->fd, buf, len, 0);
        if (n > 0) {
            return (int)n;
        }
        if (n == 0) {
            c->peer_closed = true;
            return 0;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            c->sys_err = errno;
            return errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET
                                       : MBEDTLS_ERR_NET_RECV_FAILED;
        }
        int w = mtasts__io_wait(c->fd, POLLIN, c->deadline);
        if (w <= 0) {
            c->timed_out = w == 0;
            c->sys_err = w == 0 ? ETIMEDOUT : errno;
            return w == 0 ? MBEDTLS_ERR_SSL_TIMEOUT
                          : MBEDTLS_ERR_NET_RECV_FAILED;
        }
    }
}

/* ---- configuration ------------------------------------------------------- */

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

void
mtasts__io_tls_init(struct mtasts__io_tls *t)
{
    mbedtls_entropy_init(&t->entropy);
    mbedtls_ctr_drbg_init(&t->drbg);
    mbedtls_ssl_config_init(&t->conf);
}

void
mtasts__io_tls_free(struct mtasts__io_tls *t)
{
    mbedtls_ssl_config_free(&t->conf);
    mbedtls_ctr_drbg_free(&t->drbg);
    mbedtls_entropy_free(&t->entropy);
}

int
mtasts__io_tls_setup(struct mtasts__io_tls *t, const char *personal,
                     size_t personal_len)
{
    int ret =
        mbedtls_ctr_drbg_seed(&t->drbg, mbedtls_entropy_func, &t->entropy,
                              (const unsigned char *)personal, personal_len);
    if (ret == 0) {
        ret = mbedtls_ssl_config_defaults(&t->conf, MBEDTLS_SSL_IS_CLIENT,
                                          MBEDTLS_SSL_TRANSPORT_STREAM,
                                          MBEDTLS_SSL_PRESET_DEFAULT);
    }
    if (ret != 0) {
        return ret;
    }
    /* TLS 1.2 at least (RFC 8461 §7.2, RFC 7525 §3.1.1, CHECKLIST E-32). */
#if MBEDTLS_VERSION_NUMBER >= 0x03020000
    mbedtls_ssl_conf_min_tls_version(&t->conf, MBEDTLS_SSL_VERSION_TLS1_2);
#else
    mbedtls_ssl_conf_min_version(&t->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_3);
#endif
    mbedtls_ssl_conf_rng(&t->conf, mbedtls_ctr_drbg_random, &t->drbg);
#if defined(HAVE_GROUP_LIST)
    mbedtls_ssl_conf_groups(&t->conf, group_list);
#elif defined(HAVE_CURVE_LIST)
    mbedtls_ssl_conf_curves(&t->conf, curve_list);
#endif
#if defined(MBEDTLS_SSL_SESSION_TICKETS)
    mbedtls_ssl_conf_session_tickets(&t->conf,
                                     MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
#endif
    return 0;
}

int
mtasts__io_tls_handshake(mbedtls_ssl_context *ssl, struct mtasts__io_conn *c)
{
    int ret;
    /* The BIO waits itself; WANT_* only comes back if mbedTLS asks again
     * without I/O, and the deadline still bounds the loop. */
    do {
        ret = mbedtls_ssl_handshake(ssl);
    } while ((ret == MBEDTLS_ERR_SSL_WANT_READ ||
              ret == MBEDTLS_ERR_SSL_WANT_WRITE) &&
             mtasts__io_ms_left(c->deadline) > 0);
    if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
        c->timed_out = true;
    }
    return ret;
}
