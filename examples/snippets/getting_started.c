#include <stdio.h>
#include <mtasts/mtasts.h>

int main(int argc, char **argv)
{
    mtasts_ctx *ctx;
    mtasts_result *r;
    if (argc != 3 || mtasts_ctx_new(&ctx) != MTASTS_OK)
        return 2;
    mtasts_lookup_result(ctx, argv[1], &r);        /* DNS, then HTTPS */
    mtasts_policy *p = r ? mtasts_result_policy(r) : NULL;
    if (p == NULL)
        printf("no policy: %s\n", r ? mtasts_result_reason(r) : "no memory");
    else
        printf("mode %s; MX %s %s\n", mtasts_mode_name(mtasts_policy_mode(p)),
               argv[2], mtasts_policy_match_mx(p, argv[2])
                            ? "allowed" : "NOT allowed");
    mtasts_result_free(r);
    mtasts_ctx_free(ctx);
    return 0;
}
