/* Status codes and versions: static tables, no state. */
#include "mtasts/mtasts.h"

#include <stddef.h>

struct status_info {
    int code;
    const char *name;
    const char *text;
};

/* Every mtasts_status value, in enum order; tests/unit/check_util.c checks
 * that each code has a distinct name and text. */
static const struct status_info statuses[] = {
    {MTASTS_OK, "MTASTS_OK", "success"},
    {MTASTS_ERR_INVALID, "MTASTS_ERR_INVALID",
     "invalid argument (NULL pointer or value out of range)"},
    {MTASTS_ERR_NOMEM, "MTASTS_ERR_NOMEM", "out of memory"},
    {MTASTS_ERR_STATE, "MTASTS_ERR_STATE",
     "call not valid for this request now (wrong kind of request, or out of order)"},
    {MTASTS_ERR_IO, "MTASTS_ERR_IO", "file could not be read or written"},
    {MTASTS_ERR_SYNTAX, "MTASTS_ERR_SYNTAX", "syntax error"},
    {MTASTS_ERR_TOO_LARGE, "MTASTS_ERR_TOO_LARGE", "input too large"},
    {MTASTS_ERR_BAD_DOMAIN, "MTASTS_ERR_BAD_DOMAIN", "invalid domain name"},
    {MTASTS_ERR_NOT_ASCII, "MTASTS_ERR_NOT_ASCII",
     "non-ASCII domain name (convert U-labels to A-labels)"},
    {MTASTS_ERR_NO_POLICY, "MTASTS_ERR_NO_POLICY", "no MTA-STS policy"},
    {MTASTS_ERR_DNS_TEMPFAIL, "MTASTS_ERR_DNS_TEMPFAIL",
     "temporary DNS failure and no cached policy"},
    {MTASTS_ERR_FETCH, "MTASTS_ERR_FETCH",
     "policy fetch failed and no cached policy"},
    {MTASTS_ERR_WEBPKI, "MTASTS_ERR_WEBPKI",
     "policy host certificate not valid and no cached policy"},
    {MTASTS_ERR_POLICY_INVALID, "MTASTS_ERR_POLICY_INVALID",
     "fetched policy invalid and no cached policy"},
    {MTASTS_ERR_CONNECT, "MTASTS_ERR_CONNECT", "could not connect to the MX"},
    {MTASTS_ERR_TIMEOUT, "MTASTS_ERR_TIMEOUT", "the MX stopped answering"},
    {MTASTS_ERR_PROTOCOL, "MTASTS_ERR_PROTOCOL",
     "the MX did not speak SMTP or refused the session"},
    {MTASTS_ERR_NOT_FOUND, "MTASTS_ERR_NOT_FOUND",
     "not found (no cache entry for the domain, or no cache file)"},
    {MTASTS_ERR_CACHE_FORMAT, "MTASTS_ERR_CACHE_FORMAT",
     "not a cache file, or a cache format version not supported"},
    {MTASTS_ERR_CACHE_CORRUPT, "MTASTS_ERR_CACHE_CORRUPT",
     "cache file or record corrupt (truncated, bad checksum or content)"},
    {MTASTS_ERR_STORE, "MTASTS_ERR_STORE",
     "the second-level store failed (the in-memory cache went on)"},
    {MTASTS_ERR_NO_TLSRPT, "MTASTS_ERR_NO_TLSRPT",
     "no usable TLSRPT record"},
    {MTASTS_ERR_NO_DATA, "MTASTS_ERR_NO_DATA",
     "nothing recorded for that domain and day"},
    {MTASTS_ERR_FULL, "MTASTS_ERR_FULL", "the report store is full"},
    {MTASTS_ERR_REPORT_FILE, "MTASTS_ERR_REPORT_FILE",
     "not a report store file of a known version, or damaged"},
};

static const struct status_info *
find(int status)
{
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        if (statuses[i].code == status) {
            return &statuses[i];
        }
    }
    return NULL;
}

const char *
mtasts_strerror(int status)
{
    const struct status_info *s = find(status);
    return s != NULL ? s->text : "unknown status";
}

const char *
mtasts_status_name(int status)
{
    const struct status_info *s = find(status);
    return s != NULL ? s->name : "MTASTS_UNKNOWN";
}

bool
mtasts_status_is_bad_input(int status)
{
    switch (status) {
    case MTASTS_ERR_SYNTAX:
    case MTASTS_ERR_TOO_LARGE:
    case MTASTS_ERR_BAD_DOMAIN:
    case MTASTS_ERR_NOT_ASCII:
        return true;
    default:
        return false;
    }
}

bool
mtasts_status_is_temporary(int status)
{
    switch (status) {
    case MTASTS_ERR_NOMEM:
    case MTASTS_ERR_DNS_TEMPFAIL:
    case MTASTS_ERR_FETCH:
    case MTASTS_ERR_WEBPKI:
    case MTASTS_ERR_POLICY_INVALID:
    case MTASTS_ERR_CONNECT:
    case MTASTS_ERR_TIMEOUT:
    case MTASTS_ERR_PROTOCOL:
    case MTASTS_ERR_STORE:
        return true;
    default:
        return false;
    }
}

/* RFC 8460 §4.3 result types, indexed by mtasts_rpt_result. */
static const char *const rpt_names[] = {
    "none",
    "starttls-not-supported",
    "certificate-host-mismatch",
    "certificate-expired",
    "certificate-not-trusted",
    "validation-failure",
    "tlsa-invalid",
    "dnssec-invalid",
    "dane-required",
    "sts-policy-fetch-error",
    "sts-policy-invalid",
    "sts-webpki-invalid",
};

const char *
mtasts_rpt_result_name(mtasts_rpt_result r)
{
    if ((int)r < 0 || (size_t)r >= sizeof(rpt_names) / sizeof(rpt_names[0])) {
        return "unknown";
    }
    return rpt_names[r];
}

uint32_t
mtasts_version(void)
{
    return MTASTS_VERSION_NUM;
}

const char *
mtasts_version_string(void)
{
    return MTASTS_VERSION_STRING;
}
