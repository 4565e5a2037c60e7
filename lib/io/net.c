/* Sockets with deadlines: every wait is a poll() bounded by the caller's
 * deadline on the monotonic clock, so no peer can hold a thread longer. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "io/internal.h"

int
mtasts__io_ms_left(uint64_t deadline)
{
    uint64_t now = mtasts__io_now_ms();
    if (now >= deadline) {
        return 0;
    }
    uint64_t left = deadline - now;
    return left > (uint64_t)INT_MAX ? INT_MAX : (int)left;
}

int
mtasts__io_wait(int fd, short events, uint64_t deadline)
{
    /* Bounded by the deadline: each turn polls for the time left. */
    for (;;) {
        int ms = mtasts__io_ms_left(deadline);
        if (ms == 0) {
            return 0;
        }
        struct pollfd p = {fd, events, 0};
        int n = poll(&p, 1, ms);
        if (n > 0) {
            return 1; /* ready, or an error the next call will report */
        }
        if (n < 0 && errno != EINTR) {
            return -1;
        }
    }
}

static int
make_socket(int family, int type, int *fd_out)
{
#ifdef SOCK_CLOEXEC
    int fd = socket(family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
#else
    int fd = socket(family, type, 0);
#endif
    if (fd < 0) {
        return errno;
    }
#ifndef SOCK_CLOEXEC
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
        fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
        int err = errno;
        close(fd);
        return err;
    }
#endif
    *fd_out = fd;
    return 0;
}

int
mtasts__io_connect(const struct mtasts__io_addr *a, int type,
                   uint64_t deadline, int *fd_out)
{
    *fd_out = -1;
    int fd = -1;
    int err = make_socket(a->sa.ss_family, type, &fd);
    if (err != 0) {
        return err;
    }
    if (type == SOCK_STREAM) {
        /* TLS writes a flight as several small records; with Nagle's
         * algorithm the last waits for the peer's delayed ACK (40 ms on
         * Linux) and every handshake pays it. */
        int one = 1;
        if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) !=
            0) {
            err = errno;
            goto out;
        }
    }
    if (connect(fd, (const struct sockaddr *)&a->sa, a->len) != 0) {
        if (errno != EINPROGRESS && errno != EINTR) {
            err = errno;
            goto out;
        }
        int w = mtasts__io_wait(fd, POLLOUT, deadline);
        if (w <= 0) {
            err = w == 0 ? ETIMEDOUT : errno;
            goto out;
        }
        int soerr = 0;
        socklen_t len = sizeof(soerr);
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0) {
            err = errno;
            goto out;
        }
        if (soerr != 0) {
            err = soerr;
            goto out;
        }
    }
    *fd_out = fd;
    fd = -1;
out:
    if (fd >= 0) {
        close(fd);
    }
    return err;
}

int
mtasts__io_send_all(int fd, const void *data, size_t len, uint64_t deadline)
{
    const unsigned char *p = data;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
            errno != EINTR) {
            return errno;
        }
        int w = mtasts__io_wait(fd, POLLOUT, deadline);
        if (w <= 0) {
            return w == 0 ? ETIMEDOUT : errno;
        }
    }
    return 0;
}

int
mtasts__io_recv_all(int fd, void *data, size_t len, uint64_t deadline)
{
    unsigned char *p = data;
    while (len > 0) {
        ssize_t n = recv(fd, p, len, 0);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n == 0) {
            return -1;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            return errno;
        }
        int w = mtasts__io_wait(fd, POLLIN, deadline);
        if (w <= 0) {
            return w == 0 ? ETIMEDOUT : errno;
        }
    }
    return 0;
}

void
mtasts__io_errno_text(int err, char *out, size_t size)
{
    if (strerror_r(err, out, size) != 0) {
        snprintf(out, size, "error %d", err);
    }
}
