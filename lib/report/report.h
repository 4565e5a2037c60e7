/* The report store: TLS session results aggregated per (policy domain,
 * UTC day, policy) for RFC 8460 reports. One lock guards it. */
#ifndef MTASTS_REPORT_REPORT_H
#define MTASTS_REPORT_REPORT_H

#include <stdbool.h>
#include <stddef.h>
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

#define MTASTS__RPT_IP_MAX 48 /* an address in text, NUL included */

/* An IPv4 or IPv6 address in text, written canonically into out: dotted
 * decimal, RFC 5952 for IPv6 (CHECKLIST R8460-4-j, E-30). false when text is no
 * address. */
bool mtasts__report_canonical_ip(const char *text,
                                 char out[MTASTS__RPT_IP_MAX]);

/* Days since the epoch of a time (floor division). */
int64_t mtasts__report_day(int64_t t);

/* The report-id "YYYYMMDD.domain@submitter" (msg-id form, CHECKLIST
 * E-26) of a day; false when the day has no four-digit year. */
bool mtasts__report_id(int64_t day, const char *domain, const char *submitter,
                       char *out, size_t size);

/* ---- package.c: gzip, file name, mail (RFC 8460 §5) ------------------- */

#define MTASTS__RPT_ID_MAX (16 + 2 * MTASTS_DOMAIN_BUFSIZE)

/* RFC 1952 gzip of in[0..len): MTASTS_OK with *out (mtasts__free) and
 * *out_len, or MTASTS_ERR_NOMEM. */
int mtasts__gzip(const void *in, size_t len, unsigned char **out,
                 size_t *out_len);

/* "submitter!domain!begin!end.json.gz" into out[MTASTS_RPT_NAME_BUFSIZE]. */
void mtasts__report_name(const char *submitter, const char *domain, int64_t day,
                         char *out);

/* The mail message of a gzip'ed report (see mtasts_rpt_mail). to is the
 * checked recipient address, now the Date. */
int mtasts__report_mail(const char *domain, int64_t day,
                        const char *contact_info, const char *submitter,
                        const char *to, int64_t now, const unsigned char *gz,
                        size_t gz_len, char **msg_out, size_t *len_out);

#endif
