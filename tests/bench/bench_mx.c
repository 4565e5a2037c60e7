/* MX host matching (RFC 8461 §4.1), through the public API. */
#include "bench.h"

#include <stdbool.h>
#include <string.h>

#include "mtasts/mtasts.h"

static const char three_mx[] = "version: STSv1\n"
                               "mode: enforce\n"
                               "mx: mail.example.com\n"
                               "mx: *.example.net\n"
                               "mx: backupmx.example.com\n"
                               "max_age: 604800\n";

struct mx_arg {
    const char *pattern;
    const char *host;
    const mtasts_policy *policy;
    bool want;
};

static void
pattern_loop(void *arg, size_t iters)
{
    const struct mx_arg *a = arg;
    size_t hits = 0;
    for (size_t i = 0; i < iters; i++) {
        hits += mtasts_mx_pattern_match(a->pattern, a->host);
    }
    if (hits != (a->want ? iters : 0)) {
        bench_fail("mtasts_mx_pattern_match");
    }
    bench_sink += hits;
}

static void
policy_loop(void *arg, size_t iters)
{
    const struct mx_arg *a = arg;
    size_t hits = 0;
    for (size_t i = 0; i < iters; i++) {
        hits += mtasts_policy_match_mx(a->policy, a->host);
    }
    if (hits != (a->want ? iters : 0)) {
        bench_fail("mtasts_policy_match_mx");
    }
    bench_sink += hits;
}

int
main(void)
{
    struct mx_arg a = {"*.example.com", "mail.example.com", NULL, true};
    bench_report("mx_pattern_match", pattern_loop, &a);

    mtasts_policy *p = NULL;
    if (mtasts_policy_parse(three_mx, sizeof(three_mx) - 1, &p, NULL) !=
            MTASTS_OK ||
        mtasts_policy_mx_count(p) != 3) {
        bench_fail("mtasts_policy_parse of the 3-mx policy");
    }
    a.policy = p;
    a.host = "backupmx.example.com"; /* the last pattern: all are tried */
    bench_report("policy_match_mx_3_last", policy_loop, &a);
    a.host = "mx1.example.net"; /* the wildcard, second */
    bench_report("policy_match_mx_3_wildcard", policy_loop, &a);
    a.host = "mail.example.org";
    a.want = false;
    bench_report("policy_match_mx_3_miss", policy_loop, &a);
    mtasts_policy_unref(p);
    return 0;
}
