/*
 * Socketmap answers (answer.h).
 *
 * SPDX-License-Identifier: MIT
 */
#include "answer.h"

#include <stdbool.h>
#include <string.h>

/* Append s[0..n) to out[0..cap) at *len, counting what does not fit. */
static void
put_n(char *out, size_t cap, size_t *len, const char *s, size_t n)
{
    if (*len < cap) {
        size_t room = cap - *len - 1;
        memcpy(out + *len, s, n < room ? n : room);
        out[*len + (n < room ? n : room)] = '\0';
    }
    *len += n;
}

static void
put(char *out, size_t cap, size_t *len, const char *s)
{
    put_n(out, cap, len, s, strlen(s));
}

/* A discovery failure that temp-on-failure answers TEMP (answer.h). */
static bool
failed(int status)
{
    return status == MTASTS_ERR_DNS_TEMPFAIL || status == MTASTS_ERR_FETCH ||
           status == MTASTS_ERR_WEBPKI || status == MTASTS_ERR_POLICY_INVALID ||
           status == MTASTS_ERR_IO || status == MTASTS_ERR_NOMEM;
}

/* The TLSRPT attributes of Postfix 3.10 (answer.h). */
static void
put_tlsrpt(const mtasts_policy *policy, const char *domain,
           mtasts_rpt_result failure, char *out, size_t cap, size_t *len)
{
    put(out, cap, len, " policy_type=sts policy_domain=");
    put(out, cap, len, domain);
    for (size_t i = 0; i < mtasts_policy_mx_count(policy); i++) {
        put(out, cap, len, " mx_host_pattern=");
        put(out, cap, len, mtasts_policy_mx(policy, i));
    }
    size_t text_len = 0;
    const char *text = mtasts_policy_text(policy, &text_len);
    const char *end = text + text_len;
    for (const char *line = text; line < end;) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        const char *stop = nl != NULL ? nl : end;
        size_t n = (size_t)(stop - line);
        if (n > 0 && line[n - 1] == '\r') {
            n--;
        }
        /* Braces would end the attribute early: such a line (only an
         * extension field could hold one) is left out. */
        if (n > 0 && memchr(line, '{', n) == NULL &&
            memchr(line, '}', n) == NULL) {
            put(out, cap, len, " { policy_string = ");
            put_n(out, cap, len, line, n);
            put(out, cap, len, " }");
        }
        line = stop + 1;
    }
    if (failure == MTASTS_RPT_STS_POLICY_FETCH_ERROR ||
        failure == MTASTS_RPT_STS_POLICY_INVALID ||
        failure == MTASTS_RPT_STS_WEBPKI_INVALID) {
        put(out, cap, len, " policy_failure=");
        put(out, cap, len, mtasts_rpt_result_name(failure));
    }
}

size_t
sm_answer_format(const mtasts_policy *policy, const char *domain, int status,
                 mtasts_rpt_result failure, const struct sm_zone *zone,
                 char *out, size_t cap)
{
    size_t len = 0;
    if (cap > 0) {
        out[0] = '\0';
    }
    mtasts_mode mode =
        policy != NULL ? mtasts_policy_mode(policy) : MTASTS_MODE_NONE;
    bool secure = mode == MTASTS_MODE_ENFORCE ||
                  (mode == MTASTS_MODE_TESTING && zone->strict_testing);
    size_t count = policy != NULL ? mtasts_policy_mx_count(policy) : 0;
    if (!secure || count == 0) {
        if (zone->temp_on_failure && policy == NULL && failed(status)) {
            put(out, cap, &len, "TEMP MTA-STS policy discovery failed: ");
            put(out, cap, &len, mtasts_status_name(status));
            return len;
        }
        put(out, cap, &len, SM_NOTFOUND);
        return len;
    }
    put(out, cap, &len, "OK secure match=");
    for (size_t i = 0; i < count; i++) {
        const char *mx = mtasts_policy_mx(policy, i);
        if (i > 0) {
            put(out, cap, &len, ":");
        }
        /* Postfix's form of a wildcard: ".example.net" matches any
         * subdomain (also deeper ones than RFC 8461 §4.1 allows). */
        put(out, cap, &len, mx[0] == '*' ? mx + 1 : mx);
    }
    if (zone->servername) {
        put(out, cap, &len, " servername=hostname");
    }
    if (zone->tlsrpt) {
        put_tlsrpt(policy, domain, failure, out, cap, &len);
    }
    return len;
}
