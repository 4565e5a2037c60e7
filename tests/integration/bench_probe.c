/* Benchmark of mtasts_probe_mx() against the world's valid.mx.test
 * (figures only, `meson test --benchmark`): where a probe's time goes
 * (address lookup and TCP connect, banner and EHLO, STARTTLS and the TLS
 * handshake, the chain verification), and the verification's share of
 * the handshake. Run through run.py. It reads the step times of the
 * library's SMTP session (struct mtasts__smtp_times), so it links the
 * library's objects like the unit tests. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx/ctx.h"
#include "io/smtp.h"
#include "mtasts/mtasts.h"
#include "world_env.h"

#define PROG "bench_probe"
#define ROUNDS 48 /* the world's SMTP servers take 64 connections each */
#define MX "valid.mx.test"

static void
die(const char *what, int rc)
{
    fprintf(stderr, PROG ": %s: %s\n", what, mtasts_strerror(rc));
    exit(EXIT_FAILURE);
}

int
main(void)
{
    const char *resolver = world_env(PROG, "MTASTS_WORLD_RESOLVER");
    const char *ca = world_env(PROG, "MTASTS_WORLD_CA");
    uint16_t port = world_port(PROG, "MTASTS_WORLD_SMTP_PORT");
    mtasts_ctx *ctx = NULL;
    int rc = mtasts_ctx_new(&ctx);
    if (rc == MTASTS_OK) {
        rc = mtasts_ctx_set_resolver(ctx, resolver);
    }
    if (rc == MTASTS_OK) {
        rc = mtasts_ctx_set_ca_file(ctx, ca);
    }
    if (rc != MTASTS_OK) {
        die("setup", rc);
    }
    double sum[4] = {0};
    long t0 = world_now_ms();
    for (int i = 0; i < ROUNDS; i++) {
        struct mtasts_mx_check *c = mtasts__mx_check_new(NULL, MX);
        if (c == NULL) {
            die("check", MTASTS_ERR_NOMEM);
        }
        struct mtasts__smtp_times t = {0};
        struct mtasts__smtp_args a = {
            .host = MX,
            .port = port,
            .helo = "bench.test",
            .step_ms = 5000,
            .now = mtasts__engine_now(&ctx->eng),
            .times = &t,
        };
        rc = mtasts__smtp_probe(ctx->io, &a, c);
        if (rc != MTASTS_OK || c->status != MTASTS_OK ||
            c->tls != MTASTS_RPT_NONE) {
            fprintf(stderr, PROG ": probe %d: %s (%s)\n", i,
                    mtasts_strerror(rc != MTASTS_OK ? rc : c->status),
                    c->reason);
            return EXIT_FAILURE;
        }
        sum[0] += (double)t.connected;
        sum[1] += (double)(t.ehlo - t.connected);
        sum[2] += (double)(t.handshake - t.ehlo);
        sum[3] += (double)(t.verified - t.handshake);
        mtasts_mx_check_free(c);
    }
    long total_ms = world_now_ms() - t0;
    static const char *const steps[4] = {
        "address lookup and TCP connect", "banner and EHLO",
        "STARTTLS and TLS handshake", "chain verification (mtasts_verify_mx)"};
    double all = sum[0] + sum[1] + sum[2] + sum[3];
    printf("probe %s on loopback: %.1f us/op (n=%d, %.0f probes/s)\n", MX,
           all / ROUNDS, ROUNDS,
           ROUNDS * 1000.0 / (double)(total_ms ? total_ms : 1));
    for (int k = 0; k < 4; k++) {
        printf("probe step %s: %.1f us/op (%.1f%%)\n", steps[k],
               sum[k] / ROUNDS, 100.0 * sum[k] / (all > 0 ? all : 1));
    }
    printf("probe verification vs handshake: %.2f\n",
           sum[2] > 0 ? sum[3] / sum[2] : 0.0);
    mtasts_ctx_free(ctx);
    return 0;
}
