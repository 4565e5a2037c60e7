/* Fuzz the request reader of mtasts-socketmap (examples/socketmap:
 * netstring.c, key.c): the input is what a client writes on one
 * connection, a stream of netstrings `NAME KEY` (Postfix
 * socketmap_table(5)).
 *
 * The stream is read as the daemon reads it, into a buffer of the
 * daemon's size, three ways: fed whole, one byte at a time, and split in
 * two at an offset taken from the input. All ways must agree on the
 * requests taken and on how the stream ends (more wanted, or refused).
 * Each netstring taken is canonical: formatting its payload gives back
 * exactly the bytes consumed (lengths have no leading zeros); its payload
 * is at most SM_REQUEST_MAX bytes; a policy domain from its key is a
 * normalised host name (lower-case LDH labels, no trailing dot, below
 * MTASTS_DOMAIN_BUFSIZE). */
#include "fuzz.h"

#include <stdbool.h>

#include "../../examples/socketmap/key.h"
#include "../../examples/socketmap/netstring.h"

#define IN_MAX (SM_REQUEST_MAX + 16) /* as mtasts-socketmap.c */
#define REQUESTS_MAX 256

struct seen {
    size_t requests;
    uint64_t digest; /* of every payload and domain, in order */
    int end;         /* SM_NS_MORE or the refusal */
};

static uint64_t
mix(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ b[i]) * 1099511628211ULL;
    }
    return (h ^ n) * 1099511628211ULL;
}

static void
check_domain(const char *d)
{
    size_t n = strlen(d);
    FUZZ_CHECK(n > 0 && n < MTASTS_DOMAIN_BUFSIZE);
    FUZZ_CHECK(d[0] != '.' && d[n - 1] != '.' && d[0] != '-');
    for (size_t i = 0; i < n; i++) {
        char c = d[i];
        FUZZ_CHECK((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '.');
    }
}

static void
take(struct seen *s, const char *payload, size_t plen)
{
    s->requests++;
    s->digest = mix(s->digest, payload, plen);
    const char *name = NULL;
    const char *key = NULL;
    size_t nl = 0;
    size_t kl = 0;
    if (sm_request_split(payload, plen, &name, &nl, &key, &kl) != 0) {
        s->digest = mix(s->digest, "!", 1);
        return;
    }
    FUZZ_CHECK(nl > 0 && nl + 1 + kl == plen); /* KEY may be empty */
    FUZZ_CHECK(name == payload && key == payload + nl + 1);
    char domain[MTASTS_DOMAIN_BUFSIZE];
    if (sm_key_domain(key, kl, domain) == 0) {
        check_domain(domain);
        s->digest = mix(s->digest, domain, strlen(domain));
    } else {
        FUZZ_CHECK(domain[0] == '\0');
        s->digest = mix(s->digest, "-", 1);
    }
}

/* Read in[0..len) cut at the offsets in cuts (ascending). */
static void
read_stream(const uint8_t *in, size_t len, const size_t *cuts, size_t ncuts,
            struct seen *s)
{
    static char buf[IN_MAX];
    size_t have = 0;
    size_t from = 0;
    memset(s, 0, sizeof(*s));
    s->end = SM_NS_MORE;
    for (size_t i = 0; i <= ncuts && s->end == SM_NS_MORE; i++) {
        size_t to = i < ncuts ? cuts[i] : len;
        while (from < to && s->end == SM_NS_MORE &&
               s->requests < REQUESTS_MAX) {
            size_t n = to - from < IN_MAX - have ? to - from : IN_MAX - have;
            memcpy(buf + have, in + from, n);
            have += n;
            from += n;
            size_t off = 0;
            while (s->requests < REQUESTS_MAX) {
                const char *payload = NULL;
                size_t plen = 0;
                size_t used = 0;
                enum sm_ns_status st =
                    sm_ns_parse(buf + off, have - off, SM_REQUEST_MAX, &payload,
                                &plen, &used);
                if (st == SM_NS_MORE) {
                    break;
                }
                if (st != SM_NS_OK) {
                    FUZZ_CHECK(st == SM_NS_SYNTAX || st == SM_NS_TOO_LARGE);
                    s->end = st;
                    break;
                }
                FUZZ_CHECK(plen <= SM_REQUEST_MAX);
                FUZZ_CHECK(used <= have - off);
                FUZZ_CHECK(payload > buf + off &&
                           payload + plen < buf + off + used);
                char again[IN_MAX];
                FUZZ_CHECK(sm_ns_format(payload, plen, again, sizeof(again)) ==
                           used);
                FUZZ_CHECK(memcmp(again, buf + off, used) == 0);
                take(s, payload, plen);
                off += used;
            }
            memmove(buf, buf + off, have - off);
            have -= off;
            /* A full buffer always holds a whole request or a refusal. */
            FUZZ_CHECK(have < IN_MAX || s->end != SM_NS_MORE ||
                       s->requests == REQUESTS_MAX);
        }
    }
}

static void
same(const struct seen *a, const struct seen *b)
{
    FUZZ_CHECK(a->requests == b->requests);
    FUZZ_CHECK(a->digest == b->digest);
    FUZZ_CHECK(a->end == b->end);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct seen whole, bytes, two;
    read_stream(data, size, NULL, 0, &whole);

    size_t *cuts = calloc(size + 1, sizeof(*cuts));
    FUZZ_CHECK(cuts != NULL);
    for (size_t i = 0; i + 1 < size; i++) {
        cuts[i] = i + 1;
    }
    read_stream(data, size, cuts, size > 0 ? size - 1 : 0, &bytes);
    same(&whole, &bytes);
    if (size >= 2) {
        cuts[0] = 1 + (size_t)data[0] % (size - 1);
        read_stream(data, size, cuts, 1, &two);
        same(&whole, &two);
    }
    free(cuts);

    /* The key parser alone on the whole input, in an exact heap block. */
    char *copy = fuzz_copy(data, size);
    char domain[MTASTS_DOMAIN_BUFSIZE];
    if (sm_key_domain(copy, size, domain) == 0) {
        check_domain(domain);
    }
    free(copy);
    return 0;
}
