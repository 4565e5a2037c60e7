/* A program built outside the tree against an installed libmtasts, with
 * the flags of `pkg-config --cflags --libs mtasts` (tests/install/
 * check-install.sh): it must find the header and the library, and the
 * library it runs with must be the one whose header it was built with.
 * mtasts_ctx_new() pulls in the default I/O (ldns, mbedTLS), so a static
 * link also proves that mtasts.pc names every library behind it. */
#include <mtasts/mtasts.h>
#include <stdio.h>
#include <string.h>

static int
check_version(const char *want)
{
    const char *have = mtasts_version_string();
    if (strcmp(have, MTASTS_VERSION_STRING) != 0 || strcmp(have, want) != 0 ||
        mtasts_version() != MTASTS_VERSION_NUM) {
        fprintf(stderr, "version: library %s, header %s, project %s\n", have,
                MTASTS_VERSION_STRING, want);
        return 1;
    }
    return 0;
}

static int
check_policy(void)
{
    /* RFC 8461 §3.2 */
    const char *text = "version: STSv1\nmode: enforce\n"
                       "mx: mail.example.com\nmx: *.example.net\n"
                       "max_age: 604800\n";
    mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
    mtasts_policy *p = NULL;
    int rc = mtasts_policy_parse(text, strlen(text), &p, &err);
    if (rc != MTASTS_OK) {
        fprintf(stderr, "policy: %s (%zu:%zu: %s)\n", mtasts_strerror(rc),
                err.line, err.column, err.message);
        return 1;
    }
    int bad = mtasts_policy_mode(p) != MTASTS_MODE_ENFORCE ||
              mtasts_policy_max_age(p) != 604800 ||
              mtasts_policy_mx_count(p) != 2 ||
              strcmp(mtasts_policy_mx(p, 1), "*.example.net") != 0 ||
              !mtasts_policy_match_mx(p, "mx1.example.net") ||
              mtasts_policy_match_mx(p, "example.net");
    mtasts_policy_unref(p);
    if (bad) {
        fprintf(stderr, "policy: parsed, but with the wrong fields\n");
        return 1;
    }
    return 0;
}

static int
check_ctx(void)
{
    mtasts_ctx *ctx = NULL;
    int rc = mtasts_ctx_new(&ctx);
    if (rc != MTASTS_OK) {
        fprintf(stderr, "ctx: %s\n", mtasts_strerror(rc));
        return 1;
    }
    mtasts_ctx_free(ctx);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: consumer VERSION\n");
        return 2;
    }
    int failed = check_version(argv[1]) + check_policy() + check_ctx();
    if (failed == 0) {
        printf("consumer: libmtasts %s, policy parsed, ctx created\n",
               mtasts_version_string());
    }
    return failed == 0 ? 0 : 1;
}
