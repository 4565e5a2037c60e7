/* The report store and the RFC 8460 §4 JSON report.
 *
 * Aggregates hang in a hash table keyed by (policy domain, UTC day); one
 * chain holds the day's aggregates of every domain of the bucket, each
 * with its policy (compared by text: a policy fetched again unchanged is
 * the same policy). An aggregate counts successful and failed sessions
 * and keeps its distinct failure-details entries with their counts. */
#include "report/report.h"
#include "report/report_int.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "report/json.h"
#include "util/alloc.h"

#define DAY_S 86400

int
mtasts__report_new(struct mtasts__report **out)
{
    *out = mtasts__calloc(1, sizeof(**out));
    if (*out == NULL) {
        return MTASTS_ERR_NOMEM;
    }
    if (pthread_mutex_init(&(*out)->lock, NULL) != 0) {
        mtasts__free(*out);
        *out = NULL;
        return MTASTS_ERR_NOMEM;
    }
    return MTASTS_OK;
}

void
mtasts__report_aggregate_free(struct aggregate *a)
{
    mtasts_policy_unref(a->policy);
    mtasts__free(a->details);
    mtasts__free(a);
}

void
mtasts__report_free(struct mtasts__report *r)
{
    if (r == NULL) {
        return;
    }
    for (size_t i = 0; i < MTASTS__RPT_BUCKETS; i++) {
        while (r->buckets[i] != NULL) {
            struct aggregate *a = r->buckets[i];
            r->buckets[i] = a->next;
            mtasts__report_aggregate_free(a);
        }
    }
    pthread_mutex_destroy(&r->lock);
    mtasts__free(r);
}

bool
mtasts__report_canonical_ip(const char *text, char out[MTASTS__RPT_IP_MAX])
{
    unsigned char bin[16];
    int af = strchr(text, ':') != NULL ? AF_INET6 : AF_INET;
    return inet_pton(af, text, bin) == 1 &&
           inet_ntop(af, bin, out, MTASTS__RPT_IP_MAX) != NULL;
}

int64_t
mtasts__report_day(int64_t t)
{
    int64_t q = t / DAY_S;
    return t % DAY_S < 0 ? q - 1 : q; /* floor, without overflow */
}

static size_t
bucket_of(const char *domain, int64_t day)
{
    uint64_t h = 1469598103934665603u ^ (uint64_t)day; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)domain; *p; p++) {
        h = (h ^ *p) * 1099511628211u;
    }
    return (size_t)(h & (MTASTS__RPT_BUCKETS - 1));
}

static bool
same_policy(const mtasts_policy *a, const mtasts_policy *b)
{
    if (a == b) {
        return true; /* the usual case: the cached policy object */
    }
    if (a == NULL || b == NULL) {
        return false;
    }
    size_t la, lb;
    const char *ta = mtasts_policy_text(a, &la);
    const char *tb = mtasts_policy_text(b, &lb);
    return la == lb && memcmp(ta, tb, la) == 0;
}

static struct aggregate *
find(struct mtasts__report *r, const char *domain, int64_t day,
     const mtasts_policy *policy)
{
    for (struct aggregate *a = r->buckets[bucket_of(domain, day)]; a != NULL;
         a = a->next) {
        if (a->day == day && strcmp(a->domain, domain) == 0 &&
            same_policy(a->policy, policy)) {
            return a;
        }
    }
    return NULL;
}

static void
copy(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src != NULL ? src : "");
}

struct detail *
mtasts__report_find_detail(struct aggregate *a,
                           const struct mtasts__rpt_detail *d)
{
    struct detail want;
    copy(want.code, sizeof(want.code), d->code);
    for (size_t i = 0; i < a->ndetails; i++) {
        struct detail *x = &a->details[i];
        if (x->type == d->type && strcmp(x->code, want.code) == 0 &&
            strcmp(x->mx, d->mx) == 0 && strcmp(x->rip, d->rip) == 0 &&
            strcmp(x->sip, d->sip) == 0) {
            return x;
        }
    }
    return NULL;
}

/* a + n stays within MTASTS__RPT_COUNT_MAX */
static bool
count_fits(uint64_t a, uint64_t n)
{
    return a <= MTASTS__RPT_COUNT_MAX && n <= MTASTS__RPT_COUNT_MAX - a;
}

/* Adding ev to a keeps every count of a within the bound. */
static bool
counts_fit(struct aggregate *a, const struct mtasts__rpt_event *ev)
{
    if ((ev->outcome > 0 && !count_fits(a->success, ev->sessions)) ||
        (ev->outcome < 0 && !count_fits(a->failure, ev->sessions))) {
        return false;
    }
    for (int k = 0; k < MTASTS__RPT_EVENT_DETAILS; k++) {
        const struct detail *x =
            ev->detail[k].type != MTASTS_RPT_NONE
                ? mtasts__report_find_detail(a, &ev->detail[k])
                : NULL;
        if (x != NULL && !count_fits(x->count, ev->sessions)) {
            return false;
        }
    }
    return true;
}

/* Merging s into d keeps every count of d within the bound. */
static bool
merge_fits(struct aggregate *d, const struct aggregate *s)
{
    if (!count_fits(d->success, s->success) ||
        !count_fits(d->failure, s->failure)) {
        return false;
    }
    for (size_t k = 0; k < s->ndetails; k++) {
        const struct detail *x = &s->details[k];
        struct mtasts__rpt_detail key = {x->type, x->code, x->mx, x->rip,
                                         x->sip};
        const struct detail *y = mtasts__report_find_detail(d, &key);
        if (y != NULL && !count_fits(y->count, x->count)) {
            return false;
        }
    }
    return true;
}

int
mtasts__report_add(struct mtasts__report *r, const struct mtasts__rpt_event *ev)
{
    int64_t day = mtasts__report_day(ev->now);
    pthread_mutex_lock(&r->lock);
    struct aggregate *a = find(r, ev->domain, day, ev->policy);
    /* every bound and allocation first, so a refusal changes nothing */
    size_t fresh = 0;
    for (int k = 0; k < MTASTS__RPT_EVENT_DETAILS; k++) {
        if (ev->detail[k].type != MTASTS_RPT_NONE &&
            (a == NULL ||
             mtasts__report_find_detail(a, &ev->detail[k]) == NULL)) {
            fresh++;
        }
    }
    int rc = MTASTS_OK;
    size_t have = a != NULL ? a->ndetails : 0;
    if ((a == NULL && r->count >= MTASTS_RPT_AGGREGATES_MAX) ||
        have + fresh > MTASTS_RPT_DETAILS_MAX ||
        (a != NULL && !counts_fit(a, ev))) {
        rc = MTASTS_ERR_FULL;
    }
    bool created = false;
    if (rc == MTASTS_OK && a == NULL) {
        a = mtasts__calloc(1, sizeof(*a));
        if (a == NULL) {
            rc = MTASTS_ERR_NOMEM;
        } else {
            a->day = day;
            copy(a->domain, sizeof(a->domain), ev->domain);
            a->policy = ev->policy != NULL
                            ? mtasts_policy_ref((mtasts_policy *)ev->policy)
                            : NULL;
            created = true;
        }
    }
    if (rc == MTASTS_OK && a->ndetails + fresh > a->capdetails) {
        size_t cap = a->capdetails ? a->capdetails * 2 : 4;
        while (cap < a->ndetails + fresh) {
            cap *= 2;
        }
        struct detail *d = mtasts__realloc(a->details, cap * sizeof(*d));
        if (d == NULL) {
            rc = MTASTS_ERR_NOMEM;
        } else {
            a->details = d;
            a->capdetails = cap;
        }
    }
    if (rc != MTASTS_OK) {
        if (created) {
            mtasts__report_aggregate_free(a);
        }
        pthread_mutex_unlock(&r->lock);
        return rc;
    }
    if (created) {
        size_t b = bucket_of(a->domain, day);
        a->next = r->buckets[b];
        r->buckets[b] = a;
        r->count++;
    }
    if (ev->outcome > 0) {
        a->success += ev->sessions;
    } else if (ev->outcome < 0) {
        a->failure += ev->sessions;
    }
    for (int k = 0; k < MTASTS__RPT_EVENT_DETAILS; k++) {
        const struct mtasts__rpt_detail *d = &ev->detail[k];
        if (d->type == MTASTS_RPT_NONE) {
            continue;
        }
        struct detail *x = mtasts__report_find_detail(a, d);
        if (x == NULL) {
            x = &a->details[a->ndetails++];
            memset(x, 0, sizeof(*x));
            x->type = d->type;
            copy(x->code, sizeof(x->code), d->code);
            copy(x->mx, sizeof(x->mx), d->mx);
            copy(x->rip, sizeof(x->rip), d->rip);
            copy(x->sip, sizeof(x->sip), d->sip);
        }
        x->count += ev->sessions;
    }
    pthread_mutex_unlock(&r->lock);
    return MTASTS_OK;
}

size_t
mtasts__report_expire(struct mtasts__report *r, int64_t before)
{
    int64_t day = mtasts__report_day(before);
    size_t removed = 0;
    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < MTASTS__RPT_BUCKETS; i++) {
        struct aggregate **pp = &r->buckets[i];
        while (*pp != NULL) {
            struct aggregate *a = *pp;
            if (a->day < day) {
                *pp = a->next;
                mtasts__report_aggregate_free(a);
                r->count--;
                removed++;
            } else {
                pp = &a->next;
            }
        }
    }
    pthread_mutex_unlock(&r->lock);
    return removed;
}

/* ---- the JSON report (RFC 8460 §4.4, CHECKLIST R8460-4-a..k) ---------- */

static void
put_str(struct mtasts__json *j, const char *s)
{
    mtasts__json_string(j, s, strlen(s));
}

/* The policy's lines as received, one string each (R8460-4-e). */
static void
put_policy_strings(struct mtasts__json *j, const mtasts_policy *p)
{
    size_t len;
    const char *text = mtasts_policy_text(p, &len);
    size_t n = len;
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r')) {
        n--; /* the last line's end and accepted empty lines */
    }
    mtasts__json_raw(j, "[");
    for (size_t i = 0, first = 1; i < n; first = 0) {
        const char *lf = memchr(text + i, '\n', n - i);
        size_t end = lf != NULL ? (size_t)(lf - text) : n;
        size_t stop = end > i && text[end - 1] == '\r' ? end - 1 : end;
        if (!first) {
            mtasts__json_raw(j, ",");
        }
        mtasts__json_string(j, text + i, stop - i);
        i = end + 1;
    }
    mtasts__json_raw(j, "]");
}

static void
put_policy(struct mtasts__json *j, const struct aggregate *a)
{
    mtasts__json_raw(j, "{");
    mtasts__json_key(j, false, "policy");
    mtasts__json_raw(j, "{");
    mtasts__json_key(j, false, "policy-type");
    put_str(j, a->policy != NULL ? "sts" : "no-policy-found");
    if (a->policy != NULL) {
        mtasts__json_key(j, true, "policy-string");
        put_policy_strings(j, a->policy);
    }
    mtasts__json_key(j, true, "policy-domain");
    put_str(j, a->domain);
    if (a->policy != NULL) {
        mtasts__json_key(j, true, "mx-host"); /* an array: E-5 */
        mtasts__json_raw(j, "[");
        for (size_t i = 0; i < mtasts_policy_mx_count(a->policy); i++) {
            if (i > 0) {
                mtasts__json_raw(j, ",");
            }
            put_str(j, mtasts_policy_mx(a->policy, i));
        }
        mtasts__json_raw(j, "]");
    }
    mtasts__json_raw(j, "}");
    mtasts__json_key(j, true, "summary");
    mtasts__json_raw(j, "{");
    mtasts__json_key(j, false, "total-successful-session-count");
    mtasts__json_uint(j, a->success);
    mtasts__json_key(j, true, "total-failure-session-count");
    mtasts__json_uint(j, a->failure);
    mtasts__json_raw(j, "}");
    mtasts__json_key(j, true, "failure-details");
    mtasts__json_raw(j, "[");
    for (size_t i = 0; i < a->ndetails; i++) {
        const struct detail *d = &a->details[i];
        mtasts__json_raw(j, i > 0 ? ",{" : "{");
        mtasts__json_key(j, false, "result-type");
        put_str(j, mtasts_rpt_result_name(d->type));
        /* members the sender does not know are left out (E-24) */
        if (d->sip[0] != '\0') {
            mtasts__json_key(j, true, "sending-mta-ip");
            put_str(j, d->sip);
        }
        if (d->mx[0] != '\0') {
            mtasts__json_key(j, true, "receiving-mx-hostname");
            put_str(j, d->mx);
        }
        if (d->rip[0] != '\0') {
            mtasts__json_key(j, true, "receiving-ip");
            put_str(j, d->rip);
        }
        mtasts__json_key(j, true, "failed-session-count");
        mtasts__json_uint(j, d->count);
        if (d->code[0] != '\0') {
            mtasts__json_key(j, true, "failure-reason-code");
            put_str(j, d->code);
        }
        mtasts__json_raw(j, "}");
    }
    mtasts__json_raw(j, "]}");
}

bool
mtasts__report_id_day_ok(int64_t day)
{
    /* years 1 to 9999: days -719162 to 2932896 */
    return day >= INT64_C(-719162) && day <= INT64_C(2932896);
}

int
mtasts__report_take(struct mtasts__report *r, struct aggregate *a)
{
    if (find(r, a->domain, a->day, a->policy) != NULL) {
        return MTASTS_ERR_STATE;
    }
    size_t b = bucket_of(a->domain, a->day);
    a->next = r->buckets[b];
    r->buckets[b] = a;
    r->count++;
    return MTASTS_OK;
}

/* Room for every detail of src in dst (merged or new). */
static size_t
details_after(struct aggregate *dst, const struct aggregate *src)
{
    size_t n = dst->ndetails;
    for (size_t i = 0; i < src->ndetails; i++) {
        const struct detail *d = &src->details[i];
        struct mtasts__rpt_detail key = {d->type, d->code, d->mx, d->rip,
                                         d->sip};
        n += mtasts__report_find_detail(dst, &key) == NULL;
    }
    return n;
}

int
mtasts__report_merge(struct mtasts__report *r, struct mtasts__report *from)
{
    pthread_mutex_lock(&r->lock);
    /* first every bound and allocation, so that a refusal changes nothing */
    size_t fresh = 0;
    int rc = MTASTS_OK;
    for (size_t i = 0; rc == MTASTS_OK && i < MTASTS__RPT_BUCKETS; i++) {
        for (struct aggregate *s = from->buckets[i]; s && rc == MTASTS_OK;
             s = s->next) {
            struct aggregate *d = find(r, s->domain, s->day, s->policy);
            if (d == NULL) {
                fresh++;
                continue;
            }
            size_t need = details_after(d, s);
            if (need > MTASTS_RPT_DETAILS_MAX || !merge_fits(d, s)) {
                rc = MTASTS_ERR_FULL;
            } else if (need > d->capdetails) {
                struct detail *p =
                    mtasts__realloc(d->details, need * sizeof(*p));
                if (p == NULL) {
                    rc = MTASTS_ERR_NOMEM;
                } else {
                    d->details = p;
                    d->capdetails = need;
                }
            }
        }
    }
    if (rc == MTASTS_OK && r->count + fresh > MTASTS_RPT_AGGREGATES_MAX) {
        rc = MTASTS_ERR_FULL;
    }
    if (rc != MTASTS_OK) {
        pthread_mutex_unlock(&r->lock);
        return rc;
    }
    for (size_t i = 0; i < MTASTS__RPT_BUCKETS; i++) {
        while (from->buckets[i] != NULL) {
            struct aggregate *s = from->buckets[i];
            from->buckets[i] = s->next;
            from->count--;
            struct aggregate *d = find(r, s->domain, s->day, s->policy);
            if (d == NULL) { /* moved whole */
                size_t b = bucket_of(s->domain, s->day);
                s->next = r->buckets[b];
                r->buckets[b] = s;
                r->count++;
                continue;
            }
            d->success += s->success;
            d->failure += s->failure;
            for (size_t k = 0; k < s->ndetails; k++) {
                const struct detail *x = &s->details[k];
                struct mtasts__rpt_detail key = {x->type, x->code, x->mx,
                                                 x->rip, x->sip};
                struct detail *y = mtasts__report_find_detail(d, &key);
                if (y == NULL) {
                    y = &d->details[d->ndetails++];
                    *y = *x;
                } else {
                    y->count += x->count;
                }
            }
            mtasts__report_aggregate_free(s);
        }
    }
    pthread_mutex_unlock(&r->lock);
    return MTASTS_OK;
}

bool
mtasts__report_id(int64_t day, const char *domain, const char *submitter,
                  char *out, size_t size)
{
    if (!mtasts__report_id_day_ok(day)) {
        return false;
    }
    time_t start = (time_t)(day * DAY_S);
    struct tm tm;
    if (gmtime_r(&start, &tm) == NULL) {
        return false;
    }
    char ymd[16];
    strftime(ymd, sizeof(ymd), "%Y%m%d", &tm);
    snprintf(out, size, "%s.%s@%s", ymd, domain, submitter);
    return true;
}

int
mtasts__report_json(struct mtasts__report *r, const char *domain, int64_t day,
                    const char *org_name, const char *contact_info,
                    const char *submitter, char **json_out, size_t *len_out)
{
    int64_t d = mtasts__report_day(day);
    char report_id[MTASTS__RPT_ID_MAX];
    if (!mtasts__report_id(d, domain, submitter, report_id,
                           sizeof(report_id))) {
        return MTASTS_ERR_INVALID; /* not a four-digit year */
    }
    time_t start = (time_t)(d * DAY_S);
    struct tm tm;
    gmtime_r(&start, &tm);
    char date[16], begin[32], end[32];
    strftime(date, sizeof(date), "%Y-%m-%d", &tm);
    snprintf(begin, sizeof(begin), "%sT00:00:00Z", date);
    snprintf(end, sizeof(end), "%sT23:59:59Z", date); /* E-23 */

    struct mtasts__json j;
    mtasts__json_init(&j);
    mtasts__json_raw(&j, "{");
    mtasts__json_key(&j, false, "organization-name");
    put_str(&j, org_name);
    mtasts__json_key(&j, true, "date-range");
    mtasts__json_raw(&j, "{");
    mtasts__json_key(&j, false, "start-datetime");
    put_str(&j, begin);
    mtasts__json_key(&j, true, "end-datetime");
    put_str(&j, end);
    mtasts__json_raw(&j, "}");
    mtasts__json_key(&j, true, "contact-info");
    put_str(&j, contact_info);
    mtasts__json_key(&j, true, "report-id");
    put_str(&j, report_id);
    mtasts__json_key(&j, true, "policies");
    mtasts__json_raw(&j, "[");
    size_t n = 0;
    pthread_mutex_lock(&r->lock);
    for (struct aggregate *a = r->buckets[bucket_of(domain, d)]; a != NULL;
         a = a->next) {
        if (a->day == d && strcmp(a->domain, domain) == 0) {
            if (n++ > 0) {
                mtasts__json_raw(&j, ",");
            }
            put_policy(&j, a);
        }
    }
    pthread_mutex_unlock(&r->lock);
    mtasts__json_raw(&j, "]}");
    size_t len = 0;
    char *text = mtasts__json_finish(&j, &len);
    if (n == 0) {
        mtasts__free(text);
        return MTASTS_ERR_NO_DATA;
    }
    if (text == NULL) {
        return MTASTS_ERR_NOMEM;
    }
    *json_out = text;
    if (len_out != NULL) {
        *len_out = len;
    }
    return MTASTS_OK;
}
