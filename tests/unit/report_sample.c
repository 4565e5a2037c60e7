/* Writes a sample TLS report in its three forms for check_report_mail.py:
 *   report_sample DIR   ->  DIR/report.json, DIR/report.json.gz (named in
 *                           DIR/name), DIR/report.eml (a mailto: rua)
 * The sessions recorded are fixed (an enforce policy, successes, a
 * certificate failure and an MX outside the policy); the clock is
 * 2026-01-01T10:00:00Z. Links the library's objects to build the lookup
 * results directly, without a network. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "mtasts/mtasts.h"
#include "verify/mxcheck.h"

#define NOW INT64_C(1767261600) /* 2026-01-01T10:00:00Z */

static int64_t
fixed(void *user)
{
    (void)user;
    return NOW;
}

static void
die(const char *what, int rc)
{
    fprintf(stderr, "report_sample: %s: %s\n", what, mtasts_status_name(rc));
    exit(1);
}

static void
save(const char *dir, const char *name, const void *data, size_t len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: report_sample DIR\n");
        return 64;
    }
    static const char text[] = "version: STSv1\r\nmode: enforce\r\n"
                               "mx: mx.example.net\r\nmax_age: 86400\r\n";
    mtasts_ctx *ctx = NULL;
    int rc = mtasts_ctx_new(&ctx);
    if (rc != MTASTS_OK || (rc = mtasts_ctx_set_clock(ctx, fixed, NULL))) {
        die("ctx", rc);
    }
    struct mtasts_result l = {.status = MTASTS_OK};
    snprintf(l.domain, sizeof(l.domain), "example.net");
    if ((rc = mtasts_policy_parse(text, sizeof(text) - 1, &l.policy, NULL))) {
        die("policy", rc);
    }
    struct mtasts_mx_check *ok =
        mtasts__mx_check_new(l.policy, "mx.example.net");
    struct mtasts_mx_check *bad =
        mtasts__mx_check_new(l.policy, "mx.example.net");
    struct mtasts_mx_check *out =
        mtasts__mx_check_new(l.policy, "mx2.example.org");
    if (ok == NULL || bad == NULL || out == NULL) {
        die("check", MTASTS_ERR_NOMEM);
    }
    snprintf(ok->ip, sizeof(ok->ip), "192.0.2.25");
    snprintf(bad->ip, sizeof(bad->ip), "2001:db8::25");
    snprintf(out->ip, sizeof(out->ip), "192.0.2.26");
    mtasts__mx_check_fail(bad, MTASTS_RPT_CERTIFICATE_EXPIRED,
                          "certificate-expired", "expired");
    if ((rc = mtasts_rpt_record(ctx, &l, ok, "198.51.100.1", 7)) ||
        (rc = mtasts_rpt_record(ctx, &l, bad, "198.51.100.1", 2)) ||
        (rc = mtasts_rpt_record(ctx, &l, out, "198.51.100.1", 1))) {
        die("record", rc);
    }
    const char *org = "Example Sender \xe2\x80\x94 Mail";
    const char *contact = "tlsrpt@mail.sender.example";
    char *json = NULL;
    size_t len = 0;
    if ((rc = mtasts_rpt_json(ctx, "example.net", NOW, org, contact, &json,
                              &len))) {
        die("json", rc);
    }
    save(argv[1], "report.json", json, len);
    unsigned char *gz = NULL;
    char name[MTASTS_RPT_NAME_BUFSIZE];
    if ((rc = mtasts_rpt_gzip(ctx, "example.net", NOW, org, contact, &gz, &len,
                              name))) {
        die("gzip", rc);
    }
    save(argv[1], "report.json.gz", gz, len);
    save(argv[1], "name", name, strlen(name));
    char *msg = NULL;
    if ((rc = mtasts_rpt_mail(ctx, "example.net", NOW, org, contact,
                              "mailto:tls%2Breports@example.net?subject=x",
                              &msg, &len))) {
        die("mail", rc);
    }
    save(argv[1], "report.eml", msg, len);
    mtasts_rpt_free(json);
    mtasts_rpt_free(gz);
    mtasts_rpt_free(msg);
    mtasts_mx_check_free(ok);
    mtasts_mx_check_free(bad);
    mtasts_mx_check_free(out);
    mtasts_policy_unref(l.policy);
    mtasts_ctx_free(ctx);
    return 0;
}
