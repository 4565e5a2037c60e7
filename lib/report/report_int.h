/* The report store's layout, shared by lib/report/report.c (counting,
 * the JSON report) and lib/report/file.c (the store file). */
#ifndef MTASTS_REPORT_REPORT_INT_H
#define MTASTS_REPORT_REPORT_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mtasts/mtasts.h"
#include "report/report.h"

#define MTASTS__RPT_BUCKETS 4096 /* a power of two */
#define MTASTS__RPT_CODE_MAX 200 /* bytes of a failure-reason-code kept */
/* The largest session count kept: 2^53, the largest integer every JSON
 * reader holds exactly (I-JSON, RFC 7493 §2.2). A sum that would pass it
 * is refused (MTASTS_ERR_FULL), never wrapped or rounded. */
#define MTASTS__RPT_COUNT_MAX (UINT64_C(1) << 53)

struct detail {
    mtasts_rpt_result type;
    char code[MTASTS__RPT_CODE_MAX];
    char mx[MTASTS_DOMAIN_BUFSIZE];
    char rip[MTASTS__RPT_IP_MAX];
    char sip[MTASTS__RPT_IP_MAX];
    uint64_t count;
};

struct aggregate {
    struct aggregate *next;
    int64_t day;           /* days since the epoch */
    mtasts_policy *policy; /* one reference, or NULL: no-policy-found */
    uint64_t success, failure;
    size_t ndetails, capdetails;
    struct detail *details;
    char domain[MTASTS_DOMAIN_BUFSIZE];
};

struct mtasts__report {
    pthread_mutex_t lock;
    size_t count;
    struct aggregate *buckets[MTASTS__RPT_BUCKETS];
};

void mtasts__report_aggregate_free(struct aggregate *a);

/* The aggregate's failure detail equal to d in every member, or NULL. */
struct detail *mtasts__report_find_detail(struct aggregate *a,
                                          const struct mtasts__rpt_detail *d);

/* Whether a day (days since the epoch) has a four-digit year. */
bool mtasts__report_id_day_ok(int64_t day);

/* Add a built aggregate to a store that is not shared yet (a load's
 * scratch store): MTASTS_OK, or MTASTS_ERR_STATE when the store has one
 * for the same (domain, day, policy) already (nothing added). */
int mtasts__report_take(struct mtasts__report *r, struct aggregate *a);

/* Add every aggregate of from to r (counts summed, equal failure details
 * merged): MTASTS_OK, or MTASTS_ERR_FULL / MTASTS_ERR_NOMEM with r as it
 * was. from is left empty of nothing: the caller frees it. */
int mtasts__report_merge(struct mtasts__report *r, struct mtasts__report *from);

/* The store file (file.c): encode the whole store; decode a file image
 * into a fresh store (MTASTS_ERR_REPORT_FILE with err on any fault). */
int mtasts__report_encode(struct mtasts__report *r, unsigned char **out,
                          size_t *len);
int mtasts__report_decode(const unsigned char *buf, size_t len,
                          struct mtasts__report *into, mtasts_parse_error *err);
int mtasts__report_save(struct mtasts__report *r, const char *path);

#endif
