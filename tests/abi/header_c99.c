/* The public header compiles alone as strict C99 (built with -std=c99
 * -pedantic -Werror) and its constants are usable in constant
 * expressions. Running the program checks the values a binding relies on. */
#include <mtasts/mtasts.h>

#include <stddef.h>
#include <stdio.h>
#include <string.h>

typedef char id_bufsize_is_33[MTASTS_ID_BUFSIZE == 33 ? 1 : -1];
typedef char parse_error_starts_with_size
    [offsetof(mtasts_parse_error, size) == 0 ? 1 : -1];
typedef char ok_is_zero[MTASTS_OK == 0 ? 1 : -1];

int
main(void)
{
    mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
    int failures = 0;
    if (err.size != sizeof(mtasts_parse_error) || err.message != NULL) {
        puts("FAIL: MTASTS_PARSE_ERROR_INIT");
        failures++;
    }
    if (mtasts_version() != MTASTS_VERSION_NUM) {
        puts("FAIL: mtasts_version() differs from MTASTS_VERSION_NUM");
        failures++;
    }
    if (strcmp(mtasts_version_string(), MTASTS_VERSION_STRING) != 0) {
        puts("FAIL: mtasts_version_string() differs from the header");
        failures++;
    }
    if (MTASTS_MODE_NONE != 0 || MTASTS_MODE_TESTING != 1 ||
        MTASTS_MODE_ENFORCE != 2) {
        puts("FAIL: mtasts_mode values moved");
        failures++;
    }
    if (MTASTS_ERR_INVALID != -1 || MTASTS_ERR_NOMEM != -2 ||
        MTASTS_ERR_SYNTAX != -100 || MTASTS_ERR_TOO_LARGE != -101 ||
        MTASTS_ERR_BAD_DOMAIN != -102 || MTASTS_ERR_NOT_ASCII != -103 ||
        MTASTS_ERR_STATE != -3 || MTASTS_ERR_IO != -4 ||
        MTASTS_ERR_NO_POLICY != -200 || MTASTS_ERR_DNS_TEMPFAIL != -201 ||
        MTASTS_ERR_FETCH != -202 || MTASTS_ERR_WEBPKI != -203 ||
        MTASTS_ERR_POLICY_INVALID != -204) {
        puts("FAIL: mtasts_status values moved");
        failures++;
    }
    if (MTASTS_RPT_NONE != 0 || MTASTS_RPT_STARTTLS_NOT_SUPPORTED != 1 ||
        MTASTS_RPT_STS_WEBPKI_INVALID != 11 || MTASTS_DNS_ANSWER != 0 ||
        MTASTS_DNS_TEMPFAIL != 3) {
        puts("FAIL: mtasts_rpt_result or mtasts_dns_rcode values moved");
        failures++;
    }
    printf("header_c99: %d failures\n", failures);
    return failures == 0 ? 0 : 1;
}
