/* mtasts_verify_mx(): an MX's chain judged with the context's trust store
 * and clock (RFC 8461 §4). */
#include "ctx/ctx.h"
#include "verify/mxcheck.h"

int
mtasts_verify_mx(mtasts_ctx *ctx, const mtasts_policy *policy,
                 const char *mx_host, const unsigned char *const *chain,
                 const size_t *lens, size_t n, mtasts_mx_check **out)
{
    if (out != NULL) {
        *out = NULL;
    }
    if (ctx == NULL || mx_host == NULL || out == NULL ||
        n > MTASTS__MX_CHAIN_MAX ||
        (n > 0 && (chain == NULL || lens == NULL))) {
        return MTASTS_ERR_INVALID;
    }
    for (size_t i = 0; i < n; i++) {
        if (chain[i] == NULL) {
            return MTASTS_ERR_INVALID;
        }
    }
    struct mtasts_mx_check *c = mtasts__mx_check_new(policy, mx_host);
    if (c == NULL) {
        return MTASTS_ERR_NOMEM;
    }
    int rc = mtasts__io_check_chain(ctx->io, c, mtasts__engine_now(&ctx->eng),
                                    chain, lens, n);
    if (rc != MTASTS_OK) {
        mtasts_mx_check_free(c);
        return rc;
    }
    *out = c;
    return MTASTS_OK;
}
