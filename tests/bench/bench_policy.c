/* Policy parsing (RFC 8461 §3.2), allocation and release included, through
 * the public API. */
#include "bench.h"

#include <string.h>

#include "mtasts/mtasts.h"

/* version, mode, two mx (one wildcard), max_age: five lines. */
static const char typical[] = "version: STSv1\n"
                              "mode: enforce\n"
                              "mx: mail.example.com\n"
                              "mx: *.example.net\n"
                              "max_age: 604800\n";

#define BIG_SIZE MTASTS_POLICY_MAX /* exactly 64 KiB */
#define BIG_HEAD "version: STSv1\nmode: enforce\nmax_age: 604800\n"

struct policy_arg {
    const char *text;
    size_t len;
    size_t mx_count; /* expected */
};

static void
parse_loop(void *arg, size_t iters)
{
    const struct policy_arg *a = arg;
    size_t sum = 0;
    for (size_t i = 0; i < iters; i++) {
        mtasts_policy *p = NULL;
        if (mtasts_policy_parse(a->text, a->len, &p, NULL) != MTASTS_OK) {
            bench_fail("mtasts_policy_parse");
        }
        sum += mtasts_policy_mx_count(p);
        mtasts_policy_unref(p);
    }
    if (sum != iters * a->mx_count) {
        bench_fail("mtasts_policy_mx_count");
    }
    bench_sink += sum;
}

/* An mx line of exactly len bytes ("mx: " name "\n"), the name a valid
 * host of len - 5 bytes: labels of letters, a dot every 60 bytes. */
static void
put_mx_line(char *out, size_t len)
{
    size_t n = len - 5;
    memcpy(out, "mx: ", 4);
    for (size_t i = 0; i < n; i++) {
        out[4 + i] = (i % 61 == 60 && i + 1 < n) ? '.' : (char)('a' + i % 26);
    }
    out[4 + n] = '\n';
}

/* A valid policy of exactly BIG_SIZE bytes: the three required fields and
 * then mx lines; the last one is sized to fill the rest. Returns the number
 * of mx lines. */
static size_t
build_big(char *buf)
{
    size_t used = strlen(BIG_HEAD);
    size_t count = 0;
    memcpy(buf, BIG_HEAD, used);
    for (;;) {
        char line[64];
        int n = snprintf(line, sizeof(line), "mx: mx%05zu.example.com\n",
                         count);
        if (n < 0 || BIG_SIZE - used < (size_t)n + 40) {
            break;
        }
        memcpy(buf + used, line, (size_t)n);
        used += (size_t)n;
        count++;
    }
    put_mx_line(buf + used, BIG_SIZE - used); /* 40 to 63 bytes */
    return count + 1;
}

static void
check_policy(const struct policy_arg *a, mtasts_mode mode, uint32_t max_age)
{
    mtasts_policy *p = NULL;
    mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
    if (mtasts_policy_parse(a->text, a->len, &p, &err) != MTASTS_OK) {
        fprintf(stderr, "line %zu column %zu: %s\n", err.line, err.column,
                err.message != NULL ? err.message : "?");
        bench_fail("mtasts_policy_parse of the benchmark policy");
    }
    size_t len = 0;
    const char *text = mtasts_policy_text(p, &len);
    if (mtasts_policy_mode(p) != mode || mtasts_policy_max_age(p) != max_age ||
        mtasts_policy_mx_count(p) != a->mx_count || len != a->len ||
        memcmp(text, a->text, len) != 0) {
        bench_fail("fields of the benchmark policy");
    }
    mtasts_policy_unref(p);
}

int
main(void)
{
    struct policy_arg a = {typical, sizeof(typical) - 1, 2};
    check_policy(&a, MTASTS_MODE_ENFORCE, 604800);
    bench_report("policy_parse_typical", parse_loop, &a);

    char *big = malloc(BIG_SIZE);
    if (big == NULL) {
        bench_fail("malloc");
    }
    a.text = big;
    a.len = BIG_SIZE;
    a.mx_count = build_big(big);
    check_policy(&a, MTASTS_MODE_ENFORCE, 604800);
    bench_report_bytes("policy_parse_64k", parse_loop, &a, BIG_SIZE);
    free(big);
    return 0;
}
