/* Shared by the files of lib/io only: the I/O state, the trust store,
 * addresses, deadlines and the address lookup of the HTTPS client. */
#ifndef MTASTS_IO_INTERNAL_H
#define MTASTS_IO_INTERNAL_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

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

#endif
