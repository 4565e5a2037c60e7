/* mtasts_probe_mx(): one SMTP STARTTLS session with an MX (lib/io/smtp.c)
 * and the checks of mtasts_verify_mx() on the chain it received. */
#include <string.h>

#include "ctx/ctx.h"
#include "io/internal.h"
#include "io/smtp.h"
#include "verify/mxcheck.h"

#define SMTP_PORT 25     /* RFC 5321 §4.5.4.2 */
#define ADDR_TEXT_MAX 64 /* longer text is no address literal */

/* The MX name must be a host name: an address literal or garbage would
 * only be sent to DNS and as SNI. */
static bool
host_ok(const char *host)
{
    char norm[MTASTS_DOMAIN_BUFSIZE];
    size_t len = strnlen(host, MTASTS_DOMAIN_BUFSIZE + 1);
    return len <= MTASTS_DOMAIN_BUFSIZE &&
           mtasts_domain_normalize(host, len, norm, NULL) == MTASTS_OK;
}

static bool
addr_ok(const char *addr, uint16_t port, struct mtasts__io_addr *out)
{
    return strnlen(addr, ADDR_TEXT_MAX + 1) <= ADDR_TEXT_MAX &&
           mtasts__io_addr_parse(addr, port, out) == MTASTS_OK;
}

int
mtasts_probe_mx(mtasts_ctx *ctx, const mtasts_policy *policy,
                const char *mx_host, const char *addr, uint16_t port,
                mtasts_mx_check **out)
{
    if (out != NULL) {
        *out = NULL;
    }
    if (port == 0) {
        port = SMTP_PORT;
    }
    struct mtasts__io_addr parsed;
    if (ctx == NULL || mx_host == NULL || out == NULL || !host_ok(mx_host) ||
        (addr != NULL && !addr_ok(addr, port, &parsed))) {
        return MTASTS_ERR_INVALID;
    }
    struct mtasts_mx_check *c = mtasts__mx_check_new(policy, mx_host);
    if (c == NULL) {
        return MTASTS_ERR_NOMEM;
    }
    struct mtasts__smtp_args a = {
        .host = c->host, /* normalised: valid, lower case, no final dot */
        .addr = addr != NULL ? &parsed : NULL,
        .port = port,
        .helo = ctx->helo,
        .step_ms = ctx->smtp_ms,
        .now = mtasts__engine_now(&ctx->eng),
        .times = NULL,
    };
    int rc = mtasts__smtp_probe(ctx->io, &a, c);
    if (rc == MTASTS_ERR_NOMEM) {
        mtasts_mx_check_free(c);
        return rc;
    }
    *out = c;
    return c->status;
}
