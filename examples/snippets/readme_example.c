#include <mtasts/mtasts.h>
#include <stdio.h>
#include <string.h>

int
main(void)
{
    const char *text = "version: STSv1\nmode: enforce\n"
                       "mx: *.example.net\nmax_age: 604800\n";
    mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
    mtasts_policy *p = NULL;
    if (mtasts_policy_parse(text, strlen(text), &p, &err) != MTASTS_OK) {
        fprintf(stderr, "%zu:%zu: %s\n", err.line, err.column, err.message);
        return 2;
    }
    bool ok = mtasts_policy_match_mx(p, "MX1.example.net.");
    printf("mode %s; MX1.example.net. %s\n",
           mtasts_mode_name(mtasts_policy_mode(p)),
           ok ? "matches" : "does not match");
    mtasts_policy_unref(p);
    return ok ? 0 : 1;
}
