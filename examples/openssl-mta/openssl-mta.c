/*
 * openssl-mta: how an MTA whose own TLS is OpenSSL enforces MTA-STS with
 * libmtasts. The MTA runs SMTP and STARTTLS itself, as it always does,
 * and hands the certificate chain the MX presented to mtasts_verify_mx();
 * mtasts_decide() says whether the message may go to that MX.
 *
 *   openssl-mta [--ca-file FILE] [--resolver ADDR[@PORT]] [--https-port N]
 *               [--connect IP] [--port N] POLICY-DOMAIN MX-HOST
 *
 * It looks up the policy of POLICY-DOMAIN, connects to MX-HOST (or to the
 * address --connect gives) on port 25 (or --port), says EHLO, STARTTLS,
 * completes the TLS handshake without letting OpenSSL judge the
 * certificate (libmtasts does, with the same trust store as the policy
 * fetch), prints the check and the verdict, and QUITs: a real MTA would
 * send the message when the verdict is "deliver" or "deliver-and-report".
 *
 * Exit status: 0 deliver (or deliver-and-report), 3 refused by the policy,
 * 1 no TLS outcome (connection or SMTP failure), 64 usage, 70 internal.
 *
 * OpenSSL is used here only: the library itself never links it.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <mtasts/mtasts.h>

#define STEP_TIMEOUT_S 10
#define LINE_MAX_BYTES 1024
#define MAX_CHAIN 16

static int
fail(const char *what, const char *detail)
{
    fprintf(stderr, "openssl-mta: %s%s%s\n", what, detail ? ": " : "",
            detail ? detail : "");
    return 1;
}

static int
connect_to(const char *host, const char *port)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_socktype = SOCK_STREAM;
    int err = getaddrinfo(host, port, &hints, &res);
    if (err != 0) {
        fprintf(stderr, "openssl-mta: %s: %s\n", host, gai_strerror(err));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *a = res; a != NULL && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd < 0) {
            continue;
        }
        struct timeval tv = {STEP_TIMEOUT_S, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

/* Read one SMTP reply (all its lines) from fd: its code, or -1 on a
 * timeout, a closed connection or a line that is not SMTP. For EHLO,
 * *starttls says whether a line offered STARTTLS. Bytes are read one at a
 * time so that nothing after the reply is consumed before the handshake. */
static int
read_reply(int fd, bool *starttls)
{
    char line[LINE_MAX_BYTES];
    for (int lines = 0; lines < 100; lines++) {
        size_t n = 0;
        for (;;) {
            char c;
            ssize_t r = recv(fd, &c, 1, 0);
            if (r != 1) {
                return -1;
            }
            if (c == '\n') {
                break;
            }
            if (n + 1 >= sizeof(line)) {
                return -1;
            }
            line[n++] = c;
        }
        if (n > 0 && line[n - 1] == '\r') {
            n--;
        }
        line[n] = '\0';
        if (n < 3 || line[0] < '2' || line[0] > '5' ||
            (n > 3 && line[3] != ' ' && line[3] != '-')) {
            return -1;
        }
        if (starttls != NULL && n >= 12 &&
            strncasecmp(line + 4, "STARTTLS", 8) == 0 &&
            (line[12] == '\0' || line[12] == ' ')) {
            *starttls = true;
        }
        if (n == 3 || line[3] == ' ') {
            return (line[0] - '0') * 100 + (line[1] - '0') * 10 +
                   (line[2] - '0');
        }
    }
    return -1;
}

static bool
send_line(int fd, const char *line)
{
    size_t len = strlen(line);
    return send(fd, line, len, MSG_NOSIGNAL) == (ssize_t)len;
}

/* The chain OpenSSL received, as DER, leaf first: what any TLS stack can
 * give (GnuTLS: gnutls_certificate_get_peers; rustls: peer_certificates). */
static size_t
peer_chain_der(SSL *ssl, unsigned char **der, size_t *lens)
{
    STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
    size_t n = 0;
    for (int i = 0; chain != NULL && i < sk_X509_num(chain) && n < MAX_CHAIN;
         i++) {
        unsigned char *p = NULL;
        int len = i2d_X509(sk_X509_value(chain, i), &p);
        if (len > 0) {
            der[n] = p;
            lens[n] = (size_t)len;
            n++;
        }
    }
    return n;
}

static int
usage(void)
{
    fputs("usage: openssl-mta [--ca-file FILE] [--resolver ADDR[@PORT]] "
          "[--https-port N] [--connect IP] [--port N] POLICY-DOMAIN "
          "MX-HOST\n",
          stderr);
    return 64;
}

int
main(int argc, char **argv)
{
    const char *ca_file = NULL, *resolver = NULL, *connect_ip = NULL;
    const char *port = "25";
    long https_port = 0;
    int i = 1;
    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (strcmp(argv[i], "--ca-file") == 0) {
            ca_file = argv[i + 1];
        } else if (strcmp(argv[i], "--resolver") == 0) {
            resolver = argv[i + 1];
        } else if (strcmp(argv[i], "--https-port") == 0) {
            https_port = strtol(argv[i + 1], NULL, 10);
        } else if (strcmp(argv[i], "--connect") == 0) {
            connect_ip = argv[i + 1];
        } else if (strcmp(argv[i], "--port") == 0) {
            port = argv[i + 1];
        } else {
            return usage();
        }
    }
    if (argc - i != 2) {
        return usage();
    }
    const char *domain = argv[i], *mx = argv[i + 1];

    /* 1. The policy, once per message (cached by the ctx). */
    mtasts_ctx *ctx = NULL;
    if (mtasts_ctx_new(&ctx) != MTASTS_OK ||
        (ca_file != NULL &&
         mtasts_ctx_set_ca_file(ctx, ca_file) != MTASTS_OK) ||
        (resolver != NULL &&
         mtasts_ctx_set_resolver(ctx, resolver) != MTASTS_OK) ||
        (https_port > 0 && https_port < 65536 &&
         mtasts_ctx_set_https_port(ctx, (uint16_t)https_port) != MTASTS_OK)) {
        fprintf(stderr, "openssl-mta: cannot set up the libmtasts context\n");
        mtasts_ctx_free(ctx);
        return 70;
    }
    mtasts_policy *policy = NULL;
    int rc = mtasts_lookup(ctx, domain, &policy);
    printf("policy: %s\n", rc == MTASTS_OK
                               ? mtasts_mode_name(mtasts_policy_mode(policy))
                               : mtasts_status_name(rc));

    /* 2. The MTA's own SMTP and STARTTLS, with OpenSSL. */
    int status = 1;
    SSL_CTX *tls = NULL;
    SSL *ssl = NULL;
    int fd = connect_to(connect_ip != NULL ? connect_ip : mx, port);
    bool starttls = false;
    if (fd < 0) {
        fail("cannot connect to", mx);
        goto out;
    }
    if (read_reply(fd, NULL) != 220 || !send_line(fd, "EHLO localhost\r\n") ||
        read_reply(fd, &starttls) != 250) {
        fail("SMTP session failed before STARTTLS", mx);
        goto out;
    }
    mtasts_rpt_result tls_result = MTASTS_RPT_NONE;
    mtasts_mx_check *check = NULL;
    if (!starttls || !send_line(fd, "STARTTLS\r\n") ||
        read_reply(fd, NULL) != 220) {
        tls_result = MTASTS_RPT_STARTTLS_NOT_SUPPORTED;
        printf("tls: %s\n", mtasts_rpt_result_name(tls_result));
    } else {
        tls = SSL_CTX_new(TLS_client_method());
        ssl = tls != NULL ? SSL_new(tls) : NULL;
        if (ssl == NULL) {
            fail("OpenSSL setup failed", NULL);
            status = 70;
            goto out;
        }
        /* OpenSSL does not judge the certificate: libmtasts does. */
        SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
        SSL_set_tlsext_host_name(ssl, mx);
        SSL_set_fd(ssl, fd);
        if (SSL_connect(ssl) != 1) {
            tls_result = MTASTS_RPT_VALIDATION_FAILURE;
            printf("tls: handshake failed (%s)\n",
                   ERR_reason_error_string(ERR_get_error()));
        } else {
            /* 3. The chain to libmtasts. */
            unsigned char *der[MAX_CHAIN];
            size_t lens[MAX_CHAIN];
            size_t n = peer_chain_der(ssl, der, lens);
            rc = mtasts_verify_mx(ctx, policy, mx,
                                  (const unsigned char *const *)der, lens, n,
                                  &check);
            for (size_t k = 0; k < n; k++) {
                OPENSSL_free(der[k]);
            }
            if (rc != MTASTS_OK) {
                fail("mtasts_verify_mx", mtasts_strerror(rc));
                status = 70;
                goto out;
            }
            tls_result = mtasts_mx_check_tls(check);
            printf("tls: %s\nmatches: %s\nreport: %s %s\nreason: %s\n",
                   tls_result == MTASTS_RPT_NONE
                       ? "ok"
                       : mtasts_rpt_result_name(tls_result),
                   mtasts_mx_check_matches(check) ? "yes" : "no",
                   mtasts_rpt_result_name(mtasts_mx_check_result(check)),
                   mtasts_mx_check_reason_code(check),
                   mtasts_mx_check_reason(check));
            mtasts_mx_check_free(check);
        }
    }

    /* 4. The decision. A refusal is temporary: try the next MX, then
     * queue the message and re-check the policy before giving up. */
    mtasts_verdict verdict;
    if (mtasts_decide(policy, mx, tls_result, 0, &verdict) != MTASTS_OK) {
        status = 70;
        goto out;
    }
    printf("verdict: %s\n", mtasts_verdict_name(verdict));
    status = verdict == MTASTS_VERDICT_REFUSE ? 3 : 0;
    if (ssl != NULL) {
        SSL_write(ssl, "QUIT\r\n", 6);
        SSL_shutdown(ssl);
    } else {
        send_line(fd, "QUIT\r\n");
    }

out:
    SSL_free(ssl);
    SSL_CTX_free(tls);
    if (fd >= 0) {
        close(fd);
    }
    mtasts_policy_unref(policy);
    mtasts_ctx_free(ctx);
    return status;
}
