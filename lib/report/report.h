/* The report store: TLS session results aggregated per (policy domain,
 * UTC day, policy) for RFC 8460 reports. One lock guards it. */
#ifndef MTASTS_REPORT_REPORT_H
#define MTASTS_REPORT_REPORT_H

#include <stdint.h>

#include "mtasts/mtasts.h"

struct mtasts__report;

#define MTASTS__RPT_EVENT_DETAILS 3 /* policy, mx pattern, TLS */

/* MTASTS_OK or MTASTS_ERR_NOMEM (*out NULL). */
int mtasts__report_new(struct mtasts__report **out);
void mtasts__report_free(struct mtasts__report *r);

/* The failure or success of sessions, already classified by the caller
 * (mtasts_rpt_record() in lib/ctx). */
struct mtasts__rpt_event {
    const char *domain;          /* normalised policy domain */
    const mtasts_policy *policy; /* NULL: no-policy-found */
    int64_t now;                 /* the recording time (UTC day) */
    uint32_t sessions;
    int outcome; /* 1 success, -1 failure, 0 none */
    /* up to MTASTS__RPT_EVENT_DETAILS failure-details entries (one session
     * may fail several ways, R8460-4-k); type MTASTS_RPT_NONE: unused */
    struct mtasts__rpt_detail {
        mtasts_rpt_result type;
        const char *code; /* failure-reason-code, "" for none */
        const char *mx;   /* receiving-mx-hostname, "" unknown */
        const char *rip;  /* receiving-ip, canonical, "" unknown */
        const char *sip;  /* sending-mta-ip, canonical, "" unknown */
    } detail[MTASTS__RPT_EVENT_DETAILS];
};

/* Add an event: MTASTS_OK, MTASTS_ERR_FULL or MTASTS_ERR_NOMEM (nothing
 * added then). */
int mtasts__report_add(struct mtasts__report *r,
                       const struct mtasts__rpt_event *ev);

/* The JSON report (see mtasts_rpt_json); arguments checked by the caller. */
int mtasts__report_json(struct mtasts__report *r, const char *domain,
                        int64_t day, const char *org_name,
                        const char *contact_info, const char *submitter,
                        char **json_out, size_t *len_out);

size_t mtasts__report_expire(struct mtasts__report *r, int64_t before);

#endif
