/* The default I/O: configuration, the shared trust store, addresses and
 * the monotonic clock. */
#include "io/io.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/version.h>
#include <mbedtls/x509.h>
#include <mbedtls/x509_crt.h>
#if MBEDTLS_VERSION_NUMBER >= 0x03000000 && defined(MBEDTLS_PSA_CRYPTO_C)
#include <psa/crypto.h>
#define NEED_PSA_INIT 1 /* mbedTLS 3: X.509 and TLS 1.3 use PSA crypto */
#endif

#include "io/internal.h"
#include "util/alloc.h"
#include "verify/mxcheck.h"

#define SYSTEM_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"
#define DNS_PORT 53
#define RESOLVER_TEXT_MAX 64 /* "ADDR@PORT": an IPv6 literal and a port */
#define DEFAULT_CONNECT_MS 10000u
#define DEFAULT_FETCH_MS 60000u /* RFC 8461 §3.3: one minute */
#define DEFAULT_DNS_MS 5000u

/* ---- crypto set-up, once per process ------------------------------------ */

#ifdef NEED_PSA_INIT
static pthread_once_t crypto_once = PTHREAD_ONCE_INIT;
static bool crypto_ok;

static void
crypto_init(void)
{
    crypto_ok = psa_crypto_init() == PSA_SUCCESS;
}
#endif

static bool
crypto_ready(void)
{
#ifdef NEED_PSA_INIT
    pthread_once(&crypto_once, crypto_init);
    return crypto_ok;
#else
    return true;
#endif
}

/* ---- clock and addresses ------------------------------------------------ */

uint64_t
mtasts__io_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void
mtasts__io_addr_ip(const struct mtasts__io_addr *a,
                   char out[MTASTS__IO_IP_TEXT_MAX])
{
    const void *raw = NULL;
    if (a->sa.ss_family == AF_INET) {
        raw = &((const struct sockaddr_in *)&a->sa)->sin_addr;
    } else if (a->sa.ss_family == AF_INET6) {
        raw = &((const struct sockaddr_in6 *)&a->sa)->sin6_addr;
    }
    if (raw == NULL ||
        inet_ntop(a->sa.ss_family, raw, out, MTASTS__IO_IP_TEXT_MAX) == NULL) {
        snprintf(out, MTASTS__IO_IP_TEXT_MAX, "(address family %d)",
                 (int)a->sa.ss_family);
    }
}

uint16_t
mtasts__io_addr_port(const struct mtasts__io_addr *a)
{
    if (a->sa.ss_family == AF_INET6) {
        return ntohs(((const struct sockaddr_in6 *)&a->sa)->sin6_port);
    }
    return ntohs(((const struct sockaddr_in *)&a->sa)->sin_port);
}

void
mtasts__io_addr_set_port(struct mtasts__io_addr *a, uint16_t port)
{
    if (a->sa.ss_family == AF_INET6) {
        ((struct sockaddr_in6 *)&a->sa)->sin6_port = htons(port);
    } else {
        ((struct sockaddr_in *)&a->sa)->sin_port = htons(port);
    }
}

int
mtasts__io_addr_parse(const char *ip, uint16_t port,
                      struct mtasts__io_addr *out)
{
    memset(out, 0, sizeof(*out));
    struct sockaddr_in *v4 = (struct sockaddr_in *)&out->sa;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&out->sa;
    if (inet_pton(AF_INET, ip, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        out->len = sizeof(*v4);
    } else if (inet_pton(AF_INET6, ip, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        out->len = sizeof(*v6);
    } else {
        return MTASTS_ERR_INVALID;
    }
    mtasts__io_addr_set_port(out, port);
    return MTASTS_OK;
}

/* ---- life cycle and options ------------------------------------------- */

int
mtasts__io_new(struct mtasts__io **out)
{
    *out = NULL;
    if (!crypto_ready()) {
        return MTASTS_ERR_NOMEM;
    }
    struct mtasts__io *io = mtasts__calloc(1, sizeof(*io));
    if (io == NULL) {
        return MTASTS_ERR_NOMEM;
    }
    if (pthread_mutex_init(&io->lock, NULL) != 0) {
        mtasts__free(io);
        return MTASTS_ERR_NOMEM;
    }
    io->connect_ms = DEFAULT_CONNECT_MS;
    io->fetch_ms = DEFAULT_FETCH_MS;
    io->dns_ms = DEFAULT_DNS_MS;
    io->body_max = MTASTS_POLICY_MAX;
    *out = io;
    return MTASTS_OK;
}

static void
ca_free(struct mtasts__io_ca *ca)
{
    if (ca != NULL) {
        mbedtls_x509_crt_free(&ca->chain);
        mtasts__free(ca);
    }
}

void
mtasts__io_free(struct mtasts__io *io)
{
    if (io == NULL) {
        return;
    }
    ca_free(io->ca);
    pthread_mutex_destroy(&io->lock);
    mtasts__free(io);
}

/* "ADDR" or "ADDR@PORT" (the last '@': an IPv6 literal has none). */
static int
parse_resolver(const char *text, struct mtasts__io_addr *out)
{
    size_t len = strnlen(text, RESOLVER_TEXT_MAX + 1);
    if (len == 0 || len > RESOLVER_TEXT_MAX) {
        return MTASTS_ERR_INVALID;
    }
    char host[RESOLVER_TEXT_MAX + 1];
    memcpy(host, text, len + 1);
    unsigned long port = DNS_PORT;
    char *at = strrchr(host, '@');
    if (at != NULL) {
        *at = '\0';
        const char *digits = at + 1;
        size_t n = strlen(digits);
        if (n == 0 || n > 5 || strspn(digits, "0123456789") != n) {
            return MTASTS_ERR_INVALID;
        }
        port = strtoul(digits, NULL, 10);
        if (port == 0 || port > 65535) {
            return MTASTS_ERR_INVALID;
        }
    }
    return mtasts__io_addr_parse(host, (uint16_t)port, out);
}

int
mtasts__io_set_resolver(struct mtasts__io *io, const char *addr)
{
    if (addr == NULL) {
        io->resolver_set = false;
        return MTASTS_OK;
    }
    struct mtasts__io_addr parsed;
    int rc = parse_resolver(addr, &parsed);
    if (rc != MTASTS_OK) {
        return rc;
    }
    io->resolver = parsed;
    io->resolver_set = true;
    return MTASTS_OK;
}

void
mtasts__io_set_timeouts(struct mtasts__io *io, uint32_t connect_ms,
                        uint32_t fetch_total_ms, uint32_t dns_ms)
{
    io->connect_ms = connect_ms;
    io->fetch_ms = fetch_total_ms;
    io->dns_ms = dns_ms;
}

void
mtasts__io_set_body_max(struct mtasts__io *io, size_t bytes)
{
    io->body_max = bytes;
}

/* ---- trust store --------------------------------------------------------- */

static int
parse_status(int ret)
{
    if (ret == MBEDTLS_ERR_X509_ALLOC_FAILED) {
        return MTASTS_ERR_NOMEM;
    }
    return MTASTS_ERR_IO;
}

/* Parse the anchors (file, dir, or the system bundle) into a new store.
 * A file or directory that cannot be read fails; so does a store with no
 * certificate. Certificates that do not parse are skipped. */
static int
ca_load(const char *file, const char *dir, struct mtasts__io_ca **out)
{
    *out = NULL;
    struct mtasts__io_ca *ca = mtasts__calloc(1, sizeof(*ca));
    if (ca == NULL) {
        return MTASTS_ERR_NOMEM;
    }
    mbedtls_x509_crt_init(&ca->chain);
    int rc = MTASTS_OK;
    if (file == NULL && dir == NULL) {
        file = SYSTEM_CA_BUNDLE;
    }
    if (file != NULL) {
        int ret = mbedtls_x509_crt_parse_file(&ca->chain, file);
        if (ret < 0) {
            rc = parse_status(ret);
            goto out;
        }
    }
    if (dir != NULL) {
        int ret = mbedtls_x509_crt_parse_path(&ca->chain, dir);
        if (ret < 0) {
            rc = parse_status(ret);
            goto out;
        }
    }
    if (ca->chain.version == 0) {
        rc = MTASTS_ERR_IO; /* nothing parsed */
        goto out;
    }
    ca->refs = 1;
    *out = ca;
    ca = NULL;
out:
    ca_free(ca);
    return rc;
}

int
mtasts__io_set_ca(struct mtasts__io *io, const char *file, const char *dir)
{
    struct mtasts__io_ca *ca = NULL;
    int rc = ca_load(file, dir, &ca);
    if (rc != MTASTS_OK) {
        return rc;
    }
    pthread_mutex_lock(&io->lock);
    struct mtasts__io_ca *old = io->ca;
    io->ca = ca;
    bool last = old != NULL && --old->refs == 0;
    pthread_mutex_unlock(&io->lock);
    if (last) {
        ca_free(old);
    }
    return MTASTS_OK;
}

int
mtasts__io_ca_get(struct mtasts__io *io, struct mtasts__io_ca **out,
                  char *why, size_t why_size)
{
    int rc = MTASTS_OK;
    pthread_mutex_lock(&io->lock);
    if (io->ca == NULL) {
        /* The first fetch loads the system bundle; others wait for it. */
        rc = ca_load(NULL, NULL, &io->ca);
    }
    if (rc == MTASTS_OK) {
        io->ca->refs++;
        *out = io->ca;
    } else {
        *out = NULL;
        snprintf(why, why_size, "no trust anchors: cannot load %s (%s)",
                 SYSTEM_CA_BUNDLE, mtasts_strerror(rc));
    }
    pthread_mutex_unlock(&io->lock);
    return rc;
}

void
mtasts__io_ca_put(struct mtasts__io *io, struct mtasts__io_ca *ca)
{
    if (ca == NULL) {
        return;
    }
    pthread_mutex_lock(&io->lock);
    bool last = --ca->refs == 0;
    pthread_mutex_unlock(&io->lock);
    if (last) {
        ca_free(ca);
    }
}

int
mtasts__io_check_chain(struct mtasts__io *io, struct mtasts_mx_check *c,
                       int64_t now, const unsigned char *const *chain,
                       const size_t *lens, size_t n)
{
    struct mtasts__io_ca *ca = NULL;
    char why[MTASTS__IO_REASON_MAX];
    int rc = mtasts__io_ca_get(io, &ca, why, sizeof(why));
    if (rc != MTASTS_OK) {
        return rc;
    }
    rc = mtasts__mx_check_chain(c, &ca->chain, now, chain, lens, n);
    mtasts__io_ca_put(io, ca);
    return rc;
}
