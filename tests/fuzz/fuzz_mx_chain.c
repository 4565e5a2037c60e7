/* Fuzz the MX certificate chain check (lib/verify/mxcheck.c): whatever
 * bytes an MX presents as its chain, mtasts__mx_check_chain() must give a
 * check with a session result type, a reason code and a reason, or
 * MTASTS_ERR_NOMEM, and never crash or read out of bounds.
 *
 * The input is a list of blocks, each a 2-byte big-endian length and that
 * many bytes (the last block takes what is left): the first block is the
 * trust anchor (parsed by mbedTLS; ignored if it does not parse), the
 * others the chain, leaf first, at most MTASTS__MX_CHAIN_MAX. The host and
 * the clock come from the first input byte. Seeds: tests/data/certs. */
#include "fuzz.h"

#include <stdbool.h>

#include "mtasts/mtasts.h"
#include "verify/mxcheck.h"

static const char *const hosts[] = {
    "mta-sts.example.com", "www.example.com", "example.com", "a.b.example.com",
};

/* The clocks: the test certificates' lifetime (2026 to 2126), before,
 * after, and the extremes of the range. */
static const int64_t clocks[] = {
    INT64_C(1800000000), INT64_C(0), INT64_C(5000000000), INT64_C(-1),
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    uint8_t sel = data[0];
    data++;
    size--;
    const unsigned char *blocks[MTASTS__MX_CHAIN_MAX + 1];
    size_t lens[MTASTS__MX_CHAIN_MAX + 1];
    unsigned char *copies[MTASTS__MX_CHAIN_MAX + 1];
    size_t n = 0;
    while (size > 0 && n < MTASTS__MX_CHAIN_MAX + 1) {
        size_t len = size >= 2 ? ((size_t)data[0] << 8 | data[1]) : size;
        size_t skip = size >= 2 ? 2 : 0;
        if (len > size - skip) {
            len = size - skip;
        }
        /* each block in its own exact-size heap block: ASan sees overreads */
        copies[n] = (unsigned char *)fuzz_copy(data + skip, len);
        blocks[n] = copies[n];
        lens[n] = len;
        n++;
        data += skip + len;
        size -= skip + len;
    }
    mbedtls_x509_crt trust;
    mbedtls_x509_crt_init(&trust);
    if (n > 0 && blocks[0] != NULL) {
        (void)mbedtls_x509_crt_parse_der(&trust, blocks[0], lens[0]);
    }
    const char *host = hosts[sel % 4];
    struct mtasts_mx_check *c = mtasts__mx_check_new(NULL, host);
    FUZZ_CHECK(c != NULL);
    size_t chain_n = n > 0 ? n - 1 : 0;
    for (size_t i = 1; i < n; i++) {
        FUZZ_CHECK(blocks[i] != NULL || lens[i] == 0);
    }
    bool all_present = true;
    for (size_t i = 1; i < n; i++) {
        all_present = all_present && blocks[i] != NULL;
    }
    if (all_present) {
        int rc = mtasts__mx_check_chain(c, &trust, clocks[(sel >> 2) % 4],
                                        blocks + 1, lens + 1, chain_n);
        FUZZ_CHECK(rc == MTASTS_OK || rc == MTASTS_ERR_NOMEM);
        mtasts_rpt_result t = mtasts_mx_check_tls(c);
        FUZZ_CHECK(t == MTASTS_RPT_NONE ||
                   t == MTASTS_RPT_CERTIFICATE_HOST_MISMATCH ||
                   t == MTASTS_RPT_CERTIFICATE_EXPIRED ||
                   t == MTASTS_RPT_CERTIFICATE_NOT_TRUSTED ||
                   t == MTASTS_RPT_VALIDATION_FAILURE);
        const char *code = mtasts_mx_check_reason_code(c);
        const char *reason = mtasts_mx_check_reason(c);
        FUZZ_CHECK((t == MTASTS_RPT_NONE) == (code[0] == '\0'));
        FUZZ_CHECK((t == MTASTS_RPT_NONE) == (reason[0] == '\0'));
        FUZZ_CHECK(strlen(reason) < MTASTS__MX_REASON_MAX);
        FUZZ_CHECK(mtasts_mx_check_result(c) == t); /* no policy */
        FUZZ_CHECK(chain_n > 0 || t == MTASTS_RPT_VALIDATION_FAILURE);
    }
    mtasts_mx_check_free(c);
    mbedtls_x509_crt_free(&trust);
    for (size_t i = 0; i < n; i++) {
        free(copies[i]);
    }
    return 0;
}
