/* Benchmark of mtasts_verify_mx(): chain verifications per second of a
 * typical two-certificate chain (leaf and intermediate) to a trusted root,
 * RSA-2048 and ECDSA P-256, and of a failing one. Run through
 * tests/unit/gen_mx_certs.py, which makes the certificates
 * (MTASTS_MX_CERTS). Figures only; it fails only on a wrong result. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mtasts/mtasts.h>

#include "bench.h"

#define NOW INT64_C(1767225600) /* gen_mx_certs.py's reference time */

static int64_t
fixed_clock(void *user)
{
    (void)user;
    return NOW;
}

struct job {
    mtasts_ctx *ctx;
    mtasts_policy *policy;
    const unsigned char *chain[2];
    size_t lens[2];
    mtasts_rpt_result want;
};

static unsigned char *
load(const char *dir, const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s.der", dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        bench_fail(path);
    }
    unsigned char *buf = malloc(16384);
    if (buf == NULL) {
        bench_fail("malloc");
    }
    *len = fread(buf, 1, 16384, f);
    fclose(f);
    if (*len == 0) {
        bench_fail(path);
    }
    return buf;
}

static void
verify_loop(void *arg, size_t iters)
{
    struct job *j = arg;
    for (size_t i = 0; i < iters; i++) {
        mtasts_mx_check *c = NULL;
        if (mtasts_verify_mx(j->ctx, j->policy, "mx.example.com", j->chain,
                             j->lens, 2, &c) != MTASTS_OK ||
            mtasts_mx_check_tls(c) != j->want) {
            bench_fail("mtasts_verify_mx");
        }
        bench_sink += (size_t)mtasts_mx_check_matches(c);
        mtasts_mx_check_free(c);
    }
}

static void
run(struct job *j, const char *dir, const char *leaf, const char *inter,
    const char *name)
{
    j->chain[0] = load(dir, leaf, &j->lens[0]);
    j->chain[1] = load(dir, inter, &j->lens[1]);
    double ns = bench_report(name, verify_loop, j);
    printf("%s: %.0f verifications/s\n", name, 1e9 / ns);
    free((void *)j->chain[0]);
    free((void *)j->chain[1]);
}

int
main(void)
{
    const char *dir = getenv("MTASTS_MX_CERTS");
    if (dir == NULL) {
        fprintf(stderr, "run through tests/unit/gen_mx_certs.py\n");
        return 2;
    }
    char ca[1024];
    snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
    static const char text[] = "version: STSv1\nmode: enforce\n"
                               "mx: mx.example.com\nmax_age: 86400\n";
    struct job j = {0};
    if (mtasts_ctx_new(&j.ctx) != MTASTS_OK ||
        mtasts_ctx_set_ca_file(j.ctx, ca) != MTASTS_OK ||
        mtasts_ctx_set_clock(j.ctx, fixed_clock, NULL) != MTASTS_OK ||
        mtasts_policy_parse(text, sizeof(text) - 1, &j.policy, NULL) !=
            MTASTS_OK) {
        bench_fail("setup");
    }
    j.want = MTASTS_RPT_NONE;
    run(&j, dir, "rsa_ok", "int", "verify_mx RSA-2048 leaf+intermediate");
    run(&j, dir, "ec_ok", "ec_int", "verify_mx ECDSA P-256 leaf+intermediate");
    j.want = MTASTS_RPT_CERTIFICATE_HOST_MISMATCH;
    run(&j, dir, "wrong_name", "int", "verify_mx RSA-2048 wrong name");
    mtasts_policy_unref(j.policy);
    mtasts_ctx_free(j.ctx);
    return 0;
}
