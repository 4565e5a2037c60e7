/* TLS reporting on the context (RFC 8460 §4): recording what the MTA saw
 * and making a domain's daily report. What counts as what is decided here
 * (docs/report.md); lib/report keeps and writes it. */
#include <stdlib.h>
#include <string.h>

#include "ctx/ctx.h"
#include "report/json.h"
#include "report/report_int.h"
#include "util/alloc.h"
#include "util/chars.h"
#include "util/cur.h"
#include "util/file.h"
#include "verify/mxcheck.h"

#define ORG_NAME_MAX 256

int
mtasts_rpt_record(mtasts_ctx *ctx, const mtasts_result *lookup,
                  const mtasts_mx_check *check, const char *sending_ip,
                  uint32_t sessions)
{
    char sip[MTASTS__RPT_IP_MAX] = "";
    if (ctx == NULL || lookup == NULL || sessions == 0 ||
        (sending_ip != NULL && !mtasts__report_canonical_ip(sending_ip, sip))) {
        return MTASTS_ERR_INVALID;
    }
    if (check != NULL && check->status != MTASTS_OK) {
        check = NULL; /* no TLS outcome: not an MTA-STS session (§5.1) */
    }
    char rip[MTASTS__RPT_IP_MAX] = "";
    if (check != NULL && check->ip[0] != '\0' &&
        !mtasts__report_canonical_ip(check->ip, rip)) {
        rip[0] = '\0';
    }
    const mtasts_policy *policy = lookup->policy;
    struct mtasts__rpt_event ev = {
        .domain = lookup->domain,
        .policy = policy,
        .now = mtasts__engine_now(&ctx->eng),
        .sessions = sessions,
    };
    int k = 0;
    if (lookup->failure != MTASTS_RPT_NONE) {
        /* the policy failure (R8461-6-a, -6-b): no MX or receiving IP is
         * concerned (E-24); the failure-reason-code is the fixed code,
         * never the human reason, which may name this MTA's resolver */
        ev.detail[k++] = (struct mtasts__rpt_detail){lookup->failure,
                                                     lookup->code, "", "", sip};
    }
    mtasts_mode mode =
        policy != NULL ? mtasts_policy_mode(policy) : MTASTS_MODE_NONE;
    if (policy == NULL) {
        /* no-policy-found: a failed fetch fails the session, else it
         * counts as successful (E-29) */
        ev.outcome = lookup->failure != MTASTS_RPT_NONE ? -1
                     : check != NULL                    ? 1
                                                        : 0;
    } else if (check != NULL && mode == MTASTS_MODE_NONE) {
        ev.outcome = 1; /* mode none: no failure reports (R8461-5-c) */
    } else if (check != NULL) {
        mtasts_rpt_result res = mtasts_mx_check_result(check);
        if (res == MTASTS_RPT_NONE) {
            ev.outcome = 1; /* R8461-6-e */
        } else {
            ev.outcome = -1; /* R8461-6-c, -6-d */
            ev.detail[k++] = (struct mtasts__rpt_detail){
                res, mtasts_mx_check_reason_code(check), check->host, rip, sip};
            if (!check->matches && check->tls != MTASTS_RPT_NONE) {
                /* outside the policy and a TLS failure too: one session,
                 * two failure-details entries (R8460-4-k) */
                ev.detail[k++] = (struct mtasts__rpt_detail){
                    check->tls, check->tls_code, check->host, rip, sip};
            }
        }
    }
    if (ev.outcome == 0 && k == 0) {
        return MTASTS_OK; /* nothing to count */
    }
    return mtasts__report_add(ctx->report, &ev);
}

/* contact_info as local@domain: the local part dot-atom text (RFC 5322
 * §3.2.3) of at most 64 octets, the domain a host name, copied normalised
 * to submitter. */
static bool
contact_ok(const char *contact, char submitter[MTASTS_DOMAIN_BUFSIZE])
{
    const char *at = strrchr(contact, '@');
    /* a local part of 1 to 64 octets (RFC 5321 §4.5.3.1.1) */
    if (at == NULL || at == contact || at - contact > 64 || at[-1] == '.' ||
        contact[0] == '.') {
        return false;
    }
    for (const char *p = contact; p < at; p++) {
        unsigned char c = (unsigned char)*p;
        if (!mtasts__is(c, MTASTS__C_ALNUM) &&
            strchr("!#$%&'*+-/=?^_`{|}~.", c) == NULL) {
            return false;
        }
        if (c == '.' && p[1] == '.') {
            return false;
        }
    }
    return mtasts_domain_normalize(at + 1, strlen(at + 1), submitter, NULL) ==
           MTASTS_OK;
}

/* The checks shared by the report calls: the domain normalised, the
 * submitter (contact_info's domain). */
static int
report_args(mtasts_ctx *ctx, const char *policy_domain, const char *org_name,
            const char *contact_info, char domain[MTASTS_DOMAIN_BUFSIZE],
            char submitter[MTASTS_DOMAIN_BUFSIZE])
{
    if (ctx == NULL || policy_domain == NULL || org_name == NULL ||
        contact_info == NULL) {
        return MTASTS_ERR_INVALID;
    }
    size_t org_len = strlen(org_name);
    if (org_len == 0 || org_len > ORG_NAME_MAX ||
        !mtasts__utf8_valid(org_name, org_len) ||
        !contact_ok(contact_info, submitter)) {
        return MTASTS_ERR_INVALID;
    }
    return mtasts_domain_normalize(policy_domain, strlen(policy_domain), domain,
                                   NULL);
}

int
mtasts_rpt_json(mtasts_ctx *ctx, const char *policy_domain, int64_t day,
                const char *org_name, const char *contact_info, char **json_out,
                size_t *len_out)
{
    if (json_out != NULL) {
        *json_out = NULL;
    }
    if (len_out != NULL) {
        *len_out = 0;
    }
    char domain[MTASTS_DOMAIN_BUFSIZE], submitter[MTASTS_DOMAIN_BUFSIZE];
    int rc = json_out == NULL ? MTASTS_ERR_INVALID
                              : report_args(ctx, policy_domain, org_name,
                                            contact_info, domain, submitter);
    if (rc != MTASTS_OK) {
        return rc;
    }
    return mtasts__report_json(ctx->report, domain, day, org_name, contact_info,
                               submitter, json_out, len_out);
}

/* The day's report gzip'ed, with its domain and submitter. */
int
mtasts__ctx_report_gz(mtasts_ctx *ctx, const char *policy_domain, int64_t day,
                      const char *org_name, const char *contact_info,
                      unsigned char **gz, size_t *gz_len,
                      char domain[MTASTS_DOMAIN_BUFSIZE],
                      char submitter[MTASTS_DOMAIN_BUFSIZE])
{
    int rc = report_args(ctx, policy_domain, org_name, contact_info, domain,
                         submitter);
    char *json = NULL;
    size_t len = 0;
    if (rc == MTASTS_OK) {
        rc = mtasts__report_json(ctx->report, domain, day, org_name,
                                 contact_info, submitter, &json, &len);
    }
    if (rc == MTASTS_OK) {
        rc = mtasts__gzip(json, len, gz, gz_len);
        mtasts__free(json);
    }
    return rc;
}

int
mtasts_rpt_gzip(mtasts_ctx *ctx, const char *policy_domain, int64_t day,
                const char *org_name, const char *contact_info,
                unsigned char **gz_out, size_t *gz_len_out, char *name_out)
{
    if (gz_out != NULL) {
        *gz_out = NULL;
    }
    if (gz_len_out != NULL) {
        *gz_len_out = 0;
    }
    if (name_out != NULL) {
        name_out[0] = '\0';
    }
    if (gz_out == NULL || gz_len_out == NULL) {
        return MTASTS_ERR_INVALID;
    }
    char domain[MTASTS_DOMAIN_BUFSIZE], submitter[MTASTS_DOMAIN_BUFSIZE];
    int rc =
        mtasts__ctx_report_gz(ctx, policy_domain, day, org_name, contact_info,
                              gz_out, gz_len_out, domain, submitter);
    if (rc == MTASTS_OK && name_out != NULL) {
        mtasts__report_name(submitter, domain, mtasts__report_day(day),
                            name_out);
    }
    return rc;
}

/* The address of a mailto: URI (RFC 6068): one addr-spec before any "?",
 * percent-escapes decoded, checked as contact_ok() checks an address. */
static bool
mailto_address(const char *rua, char *out, size_t size)
{
    if (rua == NULL || strlen(rua) < 7 ||
        !mtasts__eq_lower(rua, "mailto:", 7)) {
        return false;
    }
    size_t n = 0;
    for (const char *p = rua + 7; *p != '\0' && *p != '?'; p++) {
        char c = *p;
        if (c == '%') {
            if (!mtasts__is((unsigned char)p[1], MTASTS__C_HEX) ||
                !mtasts__is((unsigned char)p[2], MTASTS__C_HEX)) {
                return false;
            }
            char hex[3] = {p[1], p[2], '\0'};
            c = (char)strtoul(hex, NULL, 16);
            p += 2;
        }
        if (n + 1 >= size) {
            return false;
        }
        out[n++] = c;
    }
    out[n] = '\0';
    char domain[MTASTS_DOMAIN_BUFSIZE];
    return contact_ok(out, domain); /* also refuses ',' (two addresses) */
}

int
mtasts_rpt_mail(mtasts_ctx *ctx, const char *policy_domain, int64_t day,
                const char *org_name, const char *contact_info, const char *rua,
                char **msg_out, size_t *len_out)
{
    if (msg_out != NULL) {
        *msg_out = NULL;
    }
    if (len_out != NULL) {
        *len_out = 0;
    }
    char to[2 * MTASTS_DOMAIN_BUFSIZE];
    if (msg_out == NULL || !mailto_address(rua, to, sizeof(to))) {
        return MTASTS_ERR_INVALID;
    }
    char domain[MTASTS_DOMAIN_BUFSIZE], submitter[MTASTS_DOMAIN_BUFSIZE];
    unsigned char *gz = NULL;
    size_t gz_len = 0;
    int rc =
        mtasts__ctx_report_gz(ctx, policy_domain, day, org_name, contact_info,
                              &gz, &gz_len, domain, submitter);
    if (rc == MTASTS_OK) {
        rc = mtasts__report_mail(domain, mtasts__report_day(day), contact_info,
                                 submitter, to, mtasts__engine_now(&ctx->eng),
                                 gz, gz_len, msg_out, len_out);
        mtasts__free(gz);
    }
    return rc;
}

int
mtasts_rpt_save(mtasts_ctx *ctx, const char *path)
{
    if (ctx == NULL || path == NULL) {
        return MTASTS_ERR_INVALID;
    }
    return mtasts__report_save(ctx->report, path);
}

int
mtasts_rpt_load(mtasts_ctx *ctx, const char *path, mtasts_parse_error *err)
{
    if (ctx == NULL || path == NULL) {
        mtasts__parse_error_note(err, "invalid argument");
        return MTASTS_ERR_INVALID;
    }
    unsigned char *buf = NULL;
    size_t len = 0;
    int rc = mtasts__file_read_all(path, &buf, &len);
    struct mtasts__report *scratch = NULL;
    if (rc == MTASTS_OK) {
        rc = mtasts__report_new(&scratch);
    }
    if (rc == MTASTS_OK) {
        rc = mtasts__report_decode(buf, len, scratch, err);
    }
    if (rc == MTASTS_OK) {
        rc = mtasts__report_merge(ctx->report, scratch);
    }
    if (rc == MTASTS_OK) {
        mtasts__parse_error_clear(err);
    } else if (rc != MTASTS_ERR_REPORT_FILE) {
        mtasts__parse_error_note(err, mtasts_strerror(rc));
    }
    mtasts__report_free(scratch);
    mtasts__free(buf);
    return rc;
}

size_t
mtasts_rpt_expire(mtasts_ctx *ctx, int64_t before)
{
    return ctx != NULL ? mtasts__report_expire(ctx->report, before) : 0;
}

void
mtasts_rpt_free(void *p)
{
    mtasts__free(p);
}
