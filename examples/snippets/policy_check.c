/*
 * policy_check: parse an MTA-STS policy file (RFC 8461 §3.2) and check MX
 * host names against it (§4.1).
 *
 *   policy_check POLICY-FILE MX-HOST...
 *
 * Exit status: 0 every host matches, 1 at least one does not, 2 the policy
 * is invalid, 3 the file cannot be read, 64 usage error.
 *
 * docs/embedding.md quotes this file; examples/snippets/meson.build builds
 * it and runs it on examples/policies/example.com.txt.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <mtasts/mtasts.h>

/* Read at most MTASTS_POLICY_MAX + 1 bytes: one more than the parser
 * accepts, so that a larger file is reported as too large, never cut. */
static char *
read_policy(const char *path, size_t *len_out)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        return NULL;
    }
    char *buf = malloc(MTASTS_POLICY_MAX + 1);
    size_t n = 0;
    if (buf != NULL) {
        n = fread(buf, 1, MTASTS_POLICY_MAX + 1, fp);
        if (ferror(fp)) {
            free(buf);
            buf = NULL;
        }
    }
    fclose(fp);
    *len_out = n;
    return buf;
}

int
main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: policy_check POLICY-FILE MX-HOST...\n");
        return 64;
    }
    size_t len = 0;
    char *text = read_policy(argv[1], &len);
    if (text == NULL) {
        perror(argv[1]);
        return 3;
    }

    /* The text need not end in NUL; the policy keeps its own copy. */
    mtasts_policy *policy = NULL;
    mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
    int rc = mtasts_policy_parse(text, len, &policy, &err);
    free(text);
    if (rc == MTASTS_ERR_SYNTAX) {
        fprintf(stderr, "%s:%zu:%zu: error: %s\n", argv[1], err.line,
                err.column, err.message);
        return 2;
    }
    if (rc != MTASTS_OK) {
        fprintf(stderr, "%s: %s (%s)\n", argv[1], mtasts_strerror(rc),
                mtasts_status_name(rc));
        return 2;
    }

    printf("mode %s, max_age %lu, %zu mx pattern(s)\n",
           mtasts_mode_name(mtasts_policy_mode(policy)),
           (unsigned long)mtasts_policy_max_age(policy),
           mtasts_policy_mx_count(policy));
    if (mtasts_policy_warnings(policy) & MTASTS_POLICY_WARN_MAX_AGE_CLAMPED) {
        printf("warning: max_age clamped to %lu\n",
               (unsigned long)MTASTS_MAX_AGE_MAX);
    }

    /* Pass each MX host name as published in the MX record; case and one
     * trailing dot do not matter. */
    int status = 0;
    for (int i = 2; i < argc; i++) {
        bool match = mtasts_policy_match_mx(policy, argv[i]);
        printf("%s: %s\n", argv[i], match ? "matches" : "does not match");
        if (!match) {
            status = 1;
        }
    }

    mtasts_policy_unref(policy);
    return status;
}
