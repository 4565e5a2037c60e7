/* What to do with a message for one MX (RFC 8461 §5), and the accessors
 * of an MX check. */
#include <stddef.h>

#include "util/alloc.h"
#include "verify/mxcheck.h"

int
mtasts_mx_check_status(const mtasts_mx_check *c)
{
    return c != NULL ? c->status : MTASTS_ERR_INVALID;
}

const char *
mtasts_mx_check_host(const mtasts_mx_check *c)
{
    return c != NULL ? c->host : "";
}

const char *
mtasts_mx_check_ip(const mtasts_mx_check *c)
{
    return c != NULL ? c->ip : "";
}

bool
mtasts_mx_check_matches(const mtasts_mx_check *c)
{
    return c != NULL && c->matches;
}

mtasts_rpt_result
mtasts_mx_check_tls(const mtasts_mx_check *c)
{
    return c != NULL ? c->tls : MTASTS_RPT_NONE;
}

/* RFC 8460 has no type for an MX outside the policy (CHECKLIST E-15). */
static bool
mx_mismatch(const mtasts_mx_check *c)
{
    return c->have_policy && !c->matches;
}

mtasts_rpt_result
mtasts_mx_check_result(const mtasts_mx_check *c)
{
    if (c == NULL) {
        return MTASTS_RPT_NONE;
    }
    return mx_mismatch(c) ? MTASTS_RPT_VALIDATION_FAILURE : c->tls;
}

const char *
mtasts_mx_check_reason_code(const mtasts_mx_check *c)
{
    if (c == NULL) {
        return "";
    }
    return mx_mismatch(c) ? "mx-mismatch" : c->tls_code;
}

const char *
mtasts_mx_check_reason(const mtasts_mx_check *c)
{
    return c != NULL ? c->reason : "";
}

void
mtasts_mx_check_free(mtasts_mx_check *c)
{
    mtasts__free(c);
}

static bool
session_result(mtasts_rpt_result tls)
{
    switch (tls) {
    case MTASTS_RPT_NONE:
    case MTASTS_RPT_STARTTLS_NOT_SUPPORTED:
    case MTASTS_RPT_CERTIFICATE_HOST_MISMATCH:
    case MTASTS_RPT_CERTIFICATE_EXPIRED:
    case MTASTS_RPT_CERTIFICATE_NOT_TRUSTED:
    case MTASTS_RPT_VALIDATION_FAILURE:
        return true;
    default:
        return false; /* DANE and policy types say nothing of a session */
    }
}

int
mtasts_decide(const mtasts_policy *policy, const char *mx_host,
              mtasts_rpt_result tls, unsigned flags, mtasts_verdict *out)
{
    if (out == NULL || !session_result(tls) ||
        (flags & ~MTASTS_DECIDE_DANE) != 0) {
        return MTASTS_ERR_INVALID;
    }
    if ((flags & MTASTS_DECIDE_DANE) != 0) {
        *out = MTASTS_VERDICT_DANE; /* RFC 8461 §2, CHECKLIST E-14 */
        return MTASTS_OK;
    }
    mtasts_mode mode =
        policy != NULL ? mtasts_policy_mode(policy) : MTASTS_MODE_NONE;
    if (mode == MTASTS_MODE_NONE) {
        *out = MTASTS_VERDICT_DELIVER; /* R8461-5-c */
        return MTASTS_OK;
    }
    bool ok = mx_host != NULL && mtasts_policy_match_mx(policy, mx_host) &&
              tls == MTASTS_RPT_NONE;
    if (ok) {
        *out = MTASTS_VERDICT_DELIVER;
    } else if (mode == MTASTS_MODE_TESTING) {
        *out = MTASTS_VERDICT_DELIVER_REPORT; /* R8461-5-b */
    } else {
        *out = MTASTS_VERDICT_REFUSE; /* R8461-5-a, temporary: R8461-5-e */
    }
    return MTASTS_OK;
}

const char *
mtasts_verdict_name(mtasts_verdict v)
{
    switch (v) {
    case MTASTS_VERDICT_DELIVER:
        return "deliver";
    case MTASTS_VERDICT_DELIVER_REPORT:
        return "deliver-and-report";
    case MTASTS_VERDICT_REFUSE:
        return "refuse";
    case MTASTS_VERDICT_DANE:
        return "dane";
    }
    return "unknown";
}
