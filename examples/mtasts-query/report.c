/* mtasts-query --tlsrpt and --report (RFC 8460).
 *
 * SPDX-License-Identifier: MIT
 */
#include "report.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "mxdns.h"

static void
print_tlsrpt_error(const char *domain, int rc, const mtasts_parse_error *err,
                   bool json)
{
    const char *message = err->message ? err->message : mtasts_strerror(rc);
    if (rc == MTASTS_ERR_SYNTAX) {
        fprintf(stderr, "_smtp._tls.%s:%zu:%zu: error: %s\n", domain, err->line,
                err->column, message);
    }
    if (!json) {
        printf("domain: %s\ntlsrpt: %s (%s)\n", domain,
               rc == MTASTS_ERR_NO_TLSRPT ? "none" : "invalid", message);
        return;
    }
    struct json j;
    json_init(&j, stdout);
    json_begin_object(&j);
    json_key(&j, "domain");
    json_string(&j, domain);
    json_key(&j, "tlsrpt");
    json_null(&j);
    json_key(&j, "error");
    json_begin_object(&j);
    json_key(&j, "code");
    json_string(&j, mtasts_status_name(rc));
    json_key(&j, "message");
    json_string(&j, message);
    if (rc == MTASTS_ERR_SYNTAX) {
        json_key(&j, "column");
        json_uint(&j, err->column);
    }
    json_end_object(&j);
    json_end_object(&j);
    json_finish(&j);
}

int
tlsrpt_run(const char *domain, const char *resolver, bool json)
{
    char norm[MTASTS_DOMAIN_BUFSIZE];
    mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
    int rc = mtasts_domain_normalize(domain, strlen(domain), norm, &err);
    if (rc != MTASTS_OK) {
        fprintf(stderr, "mtasts-query: %s: %s\n", domain, err.message);
        return 64;
    }
    char name[MTASTS_DOMAIN_BUFSIZE + 16];
    snprintf(name, sizeof(name), "_smtp._tls.%s", norm);
    static struct txt_list txt; /* large: not on the stack */
    char why[256] = "";
    int q = txt_lookup(name, resolver, &txt, why, sizeof(why));
    if (q == MX_ERROR) {
        fprintf(stderr, "mtasts-query: %s\n", why);
        return 2;
    }
    const char *recs[TXT_LIST_MAX];
    for (size_t i = 0; i < txt.n; i++) {
        recs[i] = txt.record[i];
    }
    mtasts_tlsrpt *t = NULL;
    rc = mtasts_tlsrpt_select(txt.n ? recs : NULL, txt.n ? txt.len : NULL,
                              q == MX_OK ? txt.n : 0, &t, &err);
    if (rc != MTASTS_OK) {
        print_tlsrpt_error(norm, rc, &err, json);
        return rc == MTASTS_ERR_NOMEM ? 71 : rc == MTASTS_ERR_NO_TLSRPT ? 1 : 2;
    }
    if (json) {
        struct json j;
        json_init(&j, stdout);
        json_begin_object(&j);
        json_key(&j, "domain");
        json_string(&j, norm);
        json_key(&j, "tlsrpt");
        json_begin_object(&j);
        json_key(&j, "rua");
        json_begin_array(&j);
        for (size_t i = 0; i < mtasts_tlsrpt_rua_count(t); i++) {
            json_begin_object(&j);
            json_key(&j, "uri");
            json_string(&j, mtasts_tlsrpt_rua(t, i));
            json_key(&j, "scheme");
            json_string(&j, mtasts_tlsrpt_rua_scheme(t, i) == MTASTS_RUA_MAILTO
                                ? "mailto"
                                : "https");
            json_end_object(&j);
        }
        json_end_array(&j);
        json_end_object(&j);
        json_end_object(&j);
        json_finish(&j);
    } else {
        printf("domain: %s\ntlsrpt: valid\n", norm);
        for (size_t i = 0; i < mtasts_tlsrpt_rua_count(t); i++) {
            printf("rua: %s\n", mtasts_tlsrpt_rua(t, i));
        }
    }
    mtasts_tlsrpt_free(t);
    return 0;
}

int
report_record(mtasts_ctx *ctx, const mtasts_result *r,
              const struct probe_set *ps)
{
    /* each MX probe is one session; without any, the lookup alone */
    size_t recorded = 0;
    for (size_t i = 0; ps != NULL && i < ps->n; i++) {
        const mtasts_mx_check *c = ps->row[i].check;
        if (c == NULL || mtasts_mx_check_status(c) != MTASTS_OK) {
            continue; /* no TLS outcome: no MTA-STS session (§5.1) */
        }
        int rc = mtasts_rpt_record(ctx, r, c, NULL, 1);
        if (rc != MTASTS_OK) {
            fprintf(stderr, "mtasts-query: --report: %s\n",
                    mtasts_strerror(rc));
            return rc == MTASTS_ERR_NOMEM ? 71 : 70;
        }
        recorded++;
    }
    if (recorded == 0) {
        int rc = mtasts_rpt_record(ctx, r, NULL, NULL, 1);
        if (rc != MTASTS_OK) {
            fprintf(stderr, "mtasts-query: --report: %s\n",
                    mtasts_strerror(rc));
            return rc == MTASTS_ERR_NOMEM ? 71 : 70;
        }
    }
    return 0;
}

int
report_write(mtasts_ctx *ctx, const char *domain, const char *path,
             const char *org, const char *contact)
{
    char *json = NULL;
    size_t len = 0;
    int rc = mtasts_rpt_json(ctx, domain, (int64_t)time(NULL), org, contact,
                             &json, &len);
    if (rc == MTASTS_ERR_NO_DATA) {
        fprintf(stderr,
                "mtasts-query: --report: nothing to report (no MX session "
                "with a TLS outcome and no policy failure); %s not written\n",
                path);
        return 0;
    }
    if (rc != MTASTS_OK) {
        fprintf(stderr, "mtasts-query: --report: %s\n", mtasts_strerror(rc));
        return rc == MTASTS_ERR_NOMEM ? 71 : 64;
    }
    FILE *f = fopen(path, "w");
    int failed =
        f == NULL || fwrite(json, 1, len, f) != len || fputc('\n', f) == EOF;
    if (f != NULL && fclose(f) != 0) {
        failed = 1;
    }
    if (failed) {
        fprintf(stderr, "mtasts-query: %s: %s\n", path, strerror(errno));
    }
    mtasts_rpt_free(json);
    return failed ? 66 : 0;
}

int
report_post(mtasts_ctx *ctx, const char *domain, const char *const *uris,
            size_t n, bool verify, const char *org, const char *contact)
{
    if (!verify) {
        mtasts_ctx_set_rpt_https_verify(ctx, false); /* RFC 8460 §3 */
    }
    size_t bad_uri = 0;
    /* R8460-3-g: delivered once one endpoint accepted the report */
    for (size_t i = 0; i < n; i++) {
        unsigned status = 0;
        char why[512];
        int rc = mtasts_rpt_post(ctx, domain, (int64_t)time(NULL), org, contact,
                                 uris[i], &status, why, sizeof(why));
        if (rc == MTASTS_OK) {
            fprintf(stderr,
                    "mtasts-query: --post-report %s: delivered (HTTP %u)\n",
                    uris[i], status);
            return 0;
        }
        fprintf(stderr, "mtasts-query: --post-report %s: %s: %s\n", uris[i],
                mtasts_status_name(rc), why);
        if (rc == MTASTS_ERR_NO_DATA) {
            return 0; /* nothing to report: nothing to deliver */
        }
        if (rc == MTASTS_ERR_NOMEM) {
            return 71;
        }
        if (rc == MTASTS_ERR_INVALID) {
            return 64; /* org or contact */
        }
        bad_uri += rc == MTASTS_ERR_SYNTAX;
    }
    return bad_uri == n ? 64 : 75;
}
