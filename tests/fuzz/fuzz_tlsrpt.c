/* Fuzz the _smtp._tls TXT record parser (RFC 8460 §3).
 *
 * The whole input is one record for mtasts_tlsrpt_parse(); split on '\n'
 * it is the list of records for mtasts_tlsrpt_select(). Checked: the
 * status is one the header promises, a parsed record's URIs are
 * substrings of the record with a mailto: or https: scheme and without raw
 * ',' '!' ';' or whitespace, and the diagnostic points inside the input. */
#include "fuzz.h"

#include <stdbool.h>

#include "mtasts/mtasts.h"

#define MAX_RECORDS 16
#define SEPARATOR '\n'

static bool
starts_nocase(const char *s, const char *prefix)
{
    for (; *prefix != '\0'; s++, prefix++) {
        char c = *s >= 'A' && *s <= 'Z' ? (char)(*s - 'A' + 'a') : *s;
        if (c != *prefix) {
            return false;
        }
    }
    return true;
}

static void
check_record(const char *record, size_t len, int rc, const mtasts_tlsrpt *t,
             const mtasts_parse_error *err)
{
    FUZZ_CHECK(rc == MTASTS_OK || rc == MTASTS_ERR_SYNTAX ||
               rc == MTASTS_ERR_NO_TLSRPT || rc == MTASTS_ERR_NOMEM);
    FUZZ_CHECK((rc == MTASTS_OK) == (t != NULL));
    if (rc == MTASTS_ERR_SYNTAX) {
        FUZZ_CHECK(err->message != NULL && err->line >= 1);
        FUZZ_CHECK(err->offset <= len);
    }
    if (rc != MTASTS_OK) {
        return;
    }
    FUZZ_CHECK(err->message == NULL);
    FUZZ_CHECK(len >= 10 && memcmp(record, "v=TLSRPTv1", 10) == 0);
    size_t n = mtasts_tlsrpt_rua_count(t);
    FUZZ_CHECK(n >= 1 && n <= 32);
    FUZZ_CHECK(mtasts_tlsrpt_rua(t, n) == NULL);
    for (size_t i = 0; i < n; i++) {
        const char *u = mtasts_tlsrpt_rua(t, i);
        mtasts_rua_scheme s = mtasts_tlsrpt_rua_scheme(t, i);
        FUZZ_CHECK(u != NULL);
        FUZZ_CHECK((s == MTASTS_RUA_MAILTO && starts_nocase(u, "mailto:")) ||
                   (s == MTASTS_RUA_HTTPS && starts_nocase(u, "https://")));
        size_t ulen = strlen(u);
        FUZZ_CHECK(ulen < len);
        for (size_t k = 0; k < ulen; k++) {
            FUZZ_CHECK(u[k] > ' ' && u[k] < 0x7f && u[k] != ',' &&
                       u[k] != '!' && u[k] != ';');
        }
        bool found = false;
        for (size_t k = 0; k + ulen <= len && !found; k++) {
            found = memcmp(record + k, u, ulen) == 0;
        }
        FUZZ_CHECK(found);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *rec = fuzz_copy(data, size);
    mtasts_tlsrpt *t = NULL;
    mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
    int rc = mtasts_tlsrpt_parse(rec, size, &t, &err);
    check_record(rec, size, rc, t, &err);
    mtasts_tlsrpt_free(t);

    /* the same bytes as an RR set */
    const char *recs[MAX_RECORDS];
    size_t lens[MAX_RECORDS];
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= size && n < MAX_RECORDS; i++) {
        if (i == size || (data[i] == SEPARATOR && n + 1 < MAX_RECORDS)) {
            recs[n] = rec != NULL ? rec + start : "";
            lens[n] = i - start;
            n++;
            start = i + 1;
        }
    }
    t = NULL;
    rc = mtasts_tlsrpt_select(recs, lens, n, &t, &err);
    FUZZ_CHECK(rc == MTASTS_OK || rc == MTASTS_ERR_SYNTAX ||
               rc == MTASTS_ERR_NO_TLSRPT || rc == MTASTS_ERR_NOMEM);
    FUZZ_CHECK((rc == MTASTS_OK) == (t != NULL));
    mtasts_tlsrpt_free(t);
    free(rec);
    return 0;
}
