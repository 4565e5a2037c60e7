/* Fuzz the report store file reader (lib/report/file.c, behind
 * mtasts_rpt_load()): any bytes are refused with MTASTS_ERR_REPORT_FILE
 * (and a message and an offset inside the input) or decoded; a decoded
 * store encodes again into a file that decodes again to as many
 * aggregates, and that merges into a store. */
#include "fuzz.h"

#include "mtasts/mtasts.h"
#include "report/report_int.h"
#include "util/alloc.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *copy = (unsigned char *)fuzz_copy(data, size);
    struct mtasts__report *r = NULL, *again = NULL, *into = NULL;
    FUZZ_CHECK(mtasts__report_new(&r) == MTASTS_OK);
    mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
    int rc = mtasts__report_decode(copy, size, r, &err);
    FUZZ_CHECK(rc == MTASTS_OK || rc == MTASTS_ERR_REPORT_FILE ||
               rc == MTASTS_ERR_NOMEM);
    if (rc == MTASTS_ERR_REPORT_FILE) {
        FUZZ_CHECK(err.message != NULL && err.offset <= size);
    }
    if (rc == MTASTS_OK) {
        FUZZ_CHECK(r->count <= MTASTS_RPT_AGGREGATES_MAX);
        unsigned char *out = NULL;
        size_t len = 0;
        FUZZ_CHECK(mtasts__report_encode(r, &out, &len) == MTASTS_OK);
        FUZZ_CHECK(mtasts__report_new(&again) == MTASTS_OK);
        FUZZ_CHECK(mtasts__report_decode(out, len, again, NULL) == MTASTS_OK);
        FUZZ_CHECK(again->count == r->count);
        FUZZ_CHECK(mtasts__report_new(&into) == MTASTS_OK);
        FUZZ_CHECK(mtasts__report_merge(into, again) == MTASTS_OK);
        FUZZ_CHECK(into->count == r->count);
        mtasts__free(out);
    }
    mtasts__report_free(into);
    mtasts__report_free(again);
    mtasts__report_free(r);
    free(copy);
    return 0;
}
