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
    {MTASTS_ERR_SYNTAX, "MTASTS_ERR_SYNTAX", "syntax error"},
    {MTASTS_ERR_TOO_LARGE, "MTASTS_ERR_TOO_LARGE", "input too large"},
    {MTASTS_ERR_BAD_DOMAIN, "MTASTS_ERR_BAD_DOMAIN", "invalid domain name"},
    {MTASTS_ERR_NOT_ASCII, "MTASTS_ERR_NOT_ASCII",
     "non-ASCII domain name (convert U-labels to A-labels)"},
    {MTASTS_ERR_NO_POLICY, "MTASTS_ERR_NO_POLICY", "no MTA-STS policy"},
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
