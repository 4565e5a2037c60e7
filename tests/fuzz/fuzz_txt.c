/* Fuzz the _mta-sts TXT record parser (RFC 8461 §3.1).
 *
 * The whole input is one record for mtasts_txt_diagnose(); split on '\n'
 * it is the list of records found at _mta-sts.<domain> for
 * mtasts_txt_select(), whose result is checked against the selection rule
 * of §3.1 written out independently here. */
#include "fuzz.h"

#include <stdbool.h>

#include "mtasts/mtasts.h"

#define MAX_RECORDS 16 /* records taken from one input; the rest is one */
#define SEPARATOR '\n'

static bool
has_prefix(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(s, prefix, n) == 0;
}

/* Whether "id=<id>" occurs in record[0..len). */
static bool
contains_id_field(const char *record, size_t len, const char *id)
{
    size_t n = strlen(id);
    for (size_t i = 0; i + 3 + n <= len; i++) {
        if (memcmp(record + i, "id=", 3) == 0 &&
            memcmp(record + i + 3, id, n) == 0) {
            return true;
        }
    }
    return false;
}

/* Parse one record and check everything mtasts.h promises about the
 * result. Returns the status; id receives the id. */
static int
diagnose_checked(const char *record, size_t len, char id[MTASTS_ID_BUFSIZE])
{
    mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
    memset(id, 'x', MTASTS_ID_BUFSIZE);
    fuzz_dirty_stack();
    int rc = mtasts_txt_diagnose(record, len, id, &err);
    FUZZ_CHECK(rc == MTASTS_OK || rc == MTASTS_ERR_SYNTAX);

    char again[MTASTS_ID_BUFSIZE];
    FUZZ_CHECK(mtasts_txt_parse(record, len, again) == rc);
    FUZZ_CHECK(strcmp(again, id) == 0);

    if (rc == MTASTS_OK) {
        size_t n = strnlen(id, MTASTS_ID_BUFSIZE);
        FUZZ_CHECK(n >= 1 && n <= 32);
        for (size_t i = 0; i < n; i++) {
            char c = id[i];
            FUZZ_CHECK((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                       (c >= 'A' && c <= 'Z'));
        }
        FUZZ_CHECK(has_prefix(record, len, "v=STSv1"));
        FUZZ_CHECK(contains_id_field(record, len, id));
        FUZZ_CHECK(err.message == NULL);
        FUZZ_CHECK(err.line == 0 && err.column == 0 && err.offset == 0);
        /* Only printable ASCII, SP and HTAB are allowed in a record. */
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)record[i];
            FUZZ_CHECK(c == '\t' || (c >= 0x20 && c < 0x7f));
        }
    } else {
        FUZZ_CHECK(id[0] == '\0');
        fuzz_check_error_position(record, len, err.line, err.column,
                                  err.offset, err.message);
        /* mtasts.h: a TXT error is always on line 1. */
        FUZZ_CHECK(err.line == 1);
    }
    return rc;
}

/* mtasts_txt_select() on the records, against §3.1 as written in mtasts.h:
 * one record is judged if it begins with "v=STSv1"; of several, exactly one
 * must begin with "v=STSv1;" and is then judged. */
static void
check_select(const char *const *records, const size_t *lens, size_t n)
{
    char want_id[MTASTS_ID_BUFSIZE] = "";
    int want;
    size_t pick = n;
    if (n == 1) {
        if (has_prefix(records[0], lens[0], "v=STSv1")) {
            pick = 0;
        }
    } else {
        size_t count = 0;
        for (size_t i = 0; i < n; i++) {
            if (has_prefix(records[i], lens[i], "v=STSv1;")) {
                pick = i;
                count++;
            }
        }
        if (count != 1) {
            pick = n;
        }
    }
    if (pick == n) {
        want = MTASTS_ERR_NO_POLICY;
    } else {
        want = diagnose_checked(records[pick], lens[pick], want_id);
    }

    char id[MTASTS_ID_BUFSIZE];
    memset(id, 'x', sizeof(id));
    fuzz_dirty_stack();
    int rc = mtasts_txt_select(records, lens, n, id);
    FUZZ_CHECK(rc == want);
    FUZZ_CHECK(strcmp(id, want_id) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *whole = fuzz_copy(data, size);
    char id[MTASTS_ID_BUFSIZE];
    diagnose_checked(whole, size, id);
    free(whole);

    /* Split into records, each in its own exact-size block; an empty record
     * is passed as NULL, which the API accepts with length 0. */
    char *records[MAX_RECORDS];
    size_t lens[MAX_RECORDS];
    size_t n = 0;
    size_t start = 0;
    for (size_t i = 0; i <= size; i++) {
        bool last = n == MAX_RECORDS - 1;
        if (i == size || (!last && data[i] == SEPARATOR)) {
            lens[n] = i - start;
            records[n] = lens[n] > 0 ? fuzz_copy(data + start, lens[n]) : NULL;
            n++;
            start = i + 1;
        }
    }
    check_select((const char *const *)records, lens, n);
    for (size_t i = 0; i < n; i++) {
        free(records[i]);
    }

    /* No records at all is no policy. */
    char none[MTASTS_ID_BUFSIZE];
    FUZZ_CHECK(mtasts_txt_select(NULL, NULL, 0, none) ==
               MTASTS_ERR_NO_POLICY);
    FUZZ_CHECK(none[0] == '\0');
    return 0;
}
