/* Fuzz the https: rua parser of report delivery (lib/parse/rua.c, behind
 * mtasts_rpt_post(); RFC 8460 §5.4).
 *
 * The whole input is one URI. Checked: the status is MTASTS_OK or
 * MTASTS_ERR_SYNTAX; a refusal has a message and an offset inside the
 * input; an accepted URI starts with "https://", has no '@' before its
 * path and no '#', gives a host that normalises to itself, a port from 1
 * to 65535 and a target that starts with '/', holds only %x21-7E and fits
 * MTASTS__RUA_PATH_MAX; and the request head written from them always
 * fits the default I/O's 1024-byte buffer. */
#include "fuzz.h"

#include "io/http.h"
#include "mtasts/mtasts.h"
#include "parse/rua.h"

#define REQUEST_MAX 1024 /* lib/io/https.c */

static void
check_accepted(const char *in, size_t len, const struct mtasts__rua_https *u)
{
    FUZZ_CHECK(len >= 8);
    static const char scheme[] = "https://";
    for (size_t i = 0; i < 8; i++) {
        char c =
            in[i] >= 'A' && in[i] <= 'Z' ? (char)(in[i] - 'A' + 'a') : in[i];
        FUZZ_CHECK(c == scheme[i]);
    }
    for (size_t i = 8; i < len && in[i] != '/' && in[i] != '?'; i++) {
        FUZZ_CHECK(in[i] != '@');
    }
    FUZZ_CHECK(memchr(in, '#', len) == NULL);
    char again[MTASTS_DOMAIN_BUFSIZE];
    FUZZ_CHECK(mtasts_domain_normalize(u->host, strlen(u->host), again, NULL) ==
               MTASTS_OK);
    FUZZ_CHECK(strcmp(again, u->host) == 0);
    FUZZ_CHECK(u->port != 0);
    size_t plen = strlen(u->path);
    FUZZ_CHECK(plen >= 1 && plen <= MTASTS__RUA_PATH_MAX && u->path[0] == '/');
    for (size_t i = 0; i < plen; i++) {
        FUZZ_CHECK(u->path[i] > ' ' && u->path[i] < 0x7f);
    }
    char head[REQUEST_MAX];
    struct mtasts__http_request r = {u->host, u->port, u->path,
                                     "application/tlsrpt+gzip", SIZE_MAX};
    FUZZ_CHECK(mtasts__http_request_head(head, sizeof(head), &r) > 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = fuzz_copy(data, size);
    struct mtasts__rua_https u;
    size_t off = SIZE_MAX;
    const char *why = NULL;
    int rc = mtasts__rua_https_parse(in, size, &u, &off, &why);
    FUZZ_CHECK(rc == MTASTS_OK || rc == MTASTS_ERR_SYNTAX);
    FUZZ_CHECK(why != NULL);
    if (rc == MTASTS_OK) {
        check_accepted(in, size, &u);
    } else {
        FUZZ_CHECK(why[0] != '\0' && off <= size);
    }
    free(in);
    return 0;
}
