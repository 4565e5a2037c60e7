/* TXT record parsing (RFC 8461 §3.1), through the public API. */
#include "bench.h"

#include <string.h>

#include "mtasts/mtasts.h"

#define RFC_RECORD "v=STSv1; id=20160831085700Z;" /* RFC 8461 §3.1 */
#define RFC_ID "20160831085700Z"

struct txt_arg {
    const char *records[2];
    size_t lens[2];
};

static void
txt_parse_loop(void *arg, size_t iters)
{
    const struct txt_arg *a = arg;
    char id[MTASTS_ID_BUFSIZE];
    size_t sum = 0;
    for (size_t i = 0; i < iters; i++) {
        if (mtasts_txt_parse(a->records[0], a->lens[0], id) != MTASTS_OK) {
            bench_fail("mtasts_txt_parse(" RFC_RECORD ")");
        }
        sum += (unsigned char)id[0];
    }
    if (strcmp(id, RFC_ID) != 0) {
        bench_fail("mtasts_txt_parse id");
    }
    bench_sink += sum;
}

static void
txt_select_loop(void *arg, size_t iters)
{
    const struct txt_arg *a = arg;
    char id[MTASTS_ID_BUFSIZE];
    size_t sum = 0;
    for (size_t i = 0; i < iters; i++) {
        if (mtasts_txt_select(a->records, a->lens, 2, id) != MTASTS_OK) {
            bench_fail("mtasts_txt_select(spf, sts)");
        }
        sum += (unsigned char)id[0];
    }
    if (strcmp(id, RFC_ID) != 0) {
        bench_fail("mtasts_txt_select id");
    }
    bench_sink += sum;
}

int
main(void)
{
    struct txt_arg a;
    a.records[0] = RFC_RECORD;
    a.lens[0] = strlen(RFC_RECORD);
    bench_report("txt_parse", txt_parse_loop, &a);

    /* The usual case of two TXT records at the name: SPF-like and STS. */
    a.records[0] = "v=spf1 -all";
    a.lens[0] = strlen(a.records[0]);
    a.records[1] = RFC_RECORD;
    a.lens[1] = strlen(RFC_RECORD);
    bench_report("txt_select_2_records", txt_select_loop, &a);
    return 0;
}
