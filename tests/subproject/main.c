/* The parent project's program: libmtasts came from the subproject, and
 * the library it runs with is the one of that subproject's version. */
#include <mtasts/mtasts.h>
#include <stdio.h>
#include <string.h>

int
main(void)
{
    const char *text = "version: STSv1\nmode: testing\n"
                       "mx: mx.example.org\nmax_age: 86400\n";
    mtasts_policy *p = NULL;
    int rc = mtasts_policy_parse(text, strlen(text), &p, NULL);
    if (rc != MTASTS_OK) {
        fprintf(stderr, "parse: %s\n", mtasts_strerror(rc));
        return 1;
    }
    int ok = mtasts_policy_mode(p) == MTASTS_MODE_TESTING &&
             mtasts_policy_match_mx(p, "MX.example.org.") &&
             strcmp(mtasts_version_string(), WANT_VERSION) == 0;
    mtasts_policy_unref(p);
    printf("parent: libmtasts %s from the subproject: %s\n",
           mtasts_version_string(), ok ? "ok" : "WRONG");
    return ok ? 0 : 1;
}
