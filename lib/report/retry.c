/* When to send reports (RFC 8460 §4.1) and when to retry a failed
 * delivery (§5.5). Pure: the clock and the randomness are the caller's. */
#include <stdint.h>

#include "mtasts/mtasts.h"
#include "report/report.h"

#define DAY_S 86400

int
mtasts_rpt_retry_next(int64_t first_attempt, uint32_t attempt, int64_t now,
                      uint64_t random, int64_t *next_out)
{
    if (next_out != NULL) {
        *next_out = 0;
    }
    /* The guard keeps now + gap and first + window from overflowing. */
    if (next_out == NULL || attempt == 0 || now < first_attempt ||
        now > INT64_MAX - 2 * (int64_t)MTASTS_RPT_RETRY_WINDOW_S ||
        first_attempt < INT64_MIN + (int64_t)MTASTS_RPT_RETRY_WINDOW_S) {
        return MTASTS_ERR_INVALID;
    }
    /* exponential backoff (§5.5): 1 min, 2, 4, ... up to 4 h */
    int64_t gap = MTASTS_RPT_RETRY_MAX_GAP_S;
    if (attempt - 1 < 20) {
        int64_t g = (int64_t)MTASTS_RPT_RETRY_FIRST_S << (attempt - 1);
        if (g < gap) {
            gap = g;
        }
    }
    int64_t jitter = (int64_t)(random % (uint64_t)(gap / 4 + 1));
    int64_t next = now + gap + jitter;
    if (next - first_attempt >= MTASTS_RPT_RETRY_WINDOW_S) {
        return MTASTS_ERR_TIMEOUT; /* "for up to 24 hours" (§5.5) */
    }
    *next_out = next;
    return MTASTS_OK;
}

int64_t
mtasts_rpt_send_time(int64_t day, uint64_t random)
{
    int64_t d = mtasts__report_day(day);
    int64_t delay = 1 + (int64_t)(random % MTASTS_RPT_SEND_DELAY_MAX_S);
    if (d > (INT64_MAX - delay) / DAY_S - 1) {
        return INT64_MAX; /* past any real day */
    }
    return (d + 1) * DAY_S + delay;
}
