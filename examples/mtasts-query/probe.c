/* mtasts-query --probe: an SMTP STARTTLS session with each MX of the
 * domain (mtasts_probe_mx), judged against the policy found, with the
 * verdict an MTA would reach (mtasts_decide).
 *
 * SPDX-License-Identifier: MIT
 */
#include "probe.h"

#include <stdio.h>
#include <string.h>

static void
row_set_host(struct probe_row *r, const char *host)
{
    snprintf(r->host, sizeof(r->host), "%s", host);
}

static int
probe_one(mtasts_ctx *ctx, const mtasts_policy *p, const struct probe_opts *po,
          struct probe_row *r)
{
    r->status =
        mtasts_probe_mx(ctx, p, r->host, NULL, po->smtp_port, &r->check);
    if (r->status == MTASTS_ERR_NOMEM) {
        return -1;
    }
    if (r->status == MTASTS_OK) {
        r->have_verdict =
            mtasts_decide(p, r->host, mtasts_mx_check_tls(r->check), 0,
                          &r->verdict) == MTASTS_OK;
    } else if (r->status == MTASTS_ERR_INVALID) {
        /* not a host name: no session, and no pattern can match it */
        r->have_verdict =
            mtasts_decide(p, r->host, MTASTS_RPT_VALIDATION_FAILURE, 0,
                          &r->verdict) == MTASTS_OK;
    }
    return 0;
}

int
probe_run(mtasts_ctx *ctx, const char *domain, const mtasts_policy *p,
          const char *const *mx, size_t mx_count, const char *resolver,
          const struct probe_opts *po, struct probe_set *out)
{
    memset(out, 0, sizeof(*out));
    if (mx_count > 0) {
        for (size_t i = 0; i < mx_count && i < MX_LIST_MAX; i++) {
            row_set_host(&out->row[out->n++], mx[i]);
        }
    } else {
        struct mx_list list;
        int rc = mx_lookup(domain, resolver, &list, out->mx_error,
                           sizeof(out->mx_error));
        if (rc != MX_OK) {
            return 0; /* mx_error says why; nothing to probe */
        }
        out->implicit = list.implicit;
        for (size_t i = 0; i < list.n; i++) {
            row_set_host(&out->row[out->n++], list.host[i].name);
        }
    }
    for (size_t i = 0; i < out->n; i++) {
        if (probe_one(ctx, p, po, &out->row[i]) != 0) {
            return -1;
        }
    }
    return 0;
}

bool
probe_refused(const struct probe_set *s)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->row[i].have_verdict &&
            s->row[i].verdict == MTASTS_VERDICT_REFUSE) {
            return true;
        }
    }
    return false;
}

static const char *
tls_word(const struct probe_row *r)
{
    mtasts_rpt_result t = mtasts_mx_check_tls(r->check);
    return t == MTASTS_RPT_NONE ? "ok" : mtasts_rpt_result_name(t);
}

static const char *
error_text(const struct probe_row *r)
{
    if (r->check != NULL) {
        return mtasts_mx_check_reason(r->check);
    }
    return r->status == MTASTS_ERR_INVALID ? "not a valid host name"
                                           : mtasts_strerror(r->status);
}

void
probe_print_json(struct json *j, const struct probe_set *s)
{
    json_key(j, "mx");
    json_begin_array(j);
    for (size_t i = 0; i < s->n; i++) {
        const struct probe_row *r = &s->row[i];
        json_begin_object(j);
        json_key(j, "host");
        json_string(j, r->host);
        json_key(j, "matches");
        json_bool(j, mtasts_mx_check_matches(r->check));
        json_key(j, "ip");
        json_string(j, mtasts_mx_check_ip(r->check));
        json_key(j, "tls");
        if (r->status == MTASTS_OK) {
            json_string(j, tls_word(r));
        } else {
            json_null(j); /* no TLS outcome: the session ended before */
        }
        json_key(j, "verdict");
        if (r->have_verdict) {
            json_string(j, mtasts_verdict_name(r->verdict));
        } else {
            json_null(j);
        }
        json_key(j, "reason_code");
        json_string(j, mtasts_mx_check_reason_code(r->check));
        json_key(j, "reason");
        json_string(j, mtasts_mx_check_reason(r->check));
        if (r->status != MTASTS_OK) {
            json_key(j, "error");
            json_begin_object(j);
            json_key(j, "code");
            json_string(j, mtasts_status_name(r->status));
            json_key(j, "message");
            json_string(j, error_text(r));
            json_end_object(j);
        }
        json_end_object(j);
    }
    json_end_array(j);
    if (s->mx_error[0] != '\0') {
        json_key(j, "mx_error");
        json_string(j, s->mx_error);
    }
}

void
probe_print_text(const struct probe_set *s)
{
    if (s->mx_error[0] != '\0') {
        printf("mx-probe: no MX to probe (%s)\n", s->mx_error);
    }
    if (s->implicit) {
        printf("mx-probe: no MX record, the domain itself is the MX\n");
    }
    for (size_t i = 0; i < s->n; i++) {
        const struct probe_row *r = &s->row[i];
        const char *ip = mtasts_mx_check_ip(r->check);
        if (r->status != MTASTS_OK) {
            printf("mx-probe %s%s%s%s: %s, %s", r->host, ip[0] ? " [" : "", ip,
                   ip[0] ? "]" : "", mtasts_status_name(r->status),
                   error_text(r));
            if (r->have_verdict) {
                printf(", verdict %s", mtasts_verdict_name(r->verdict));
            }
            printf("\n");
            continue;
        }
        printf("mx-probe %s [%s]: %s, tls %s, verdict %s\n", r->host, ip,
               mtasts_mx_check_matches(r->check) ? "matches" : "does not match",
               tls_word(r),
               r->have_verdict ? mtasts_verdict_name(r->verdict) : "unknown");
        if (mtasts_mx_check_reason(r->check)[0] != '\0') {
            printf("  reason: %s\n", mtasts_mx_check_reason(r->check));
        }
    }
}

void
probe_free(struct probe_set *s)
{
    for (size_t i = 0; i < s->n; i++) {
        mtasts_mx_check_free(s->row[i].check);
        s->row[i].check = NULL;
    }
}
