/* Packaging a report for delivery (RFC 8460 §5): gzip (§5.2), the file
 * name (§5.1) and the mail message (§5.3). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <zlib.h>

#include "report/json.h"
#include "report/report.h"
#include "util/alloc.h"

#define DAY_S 86400
#define B64_LINE 76 /* RFC 2045 §6.8 */

int
mtasts__gzip(const void *in, size_t len, unsigned char **out, size_t *out_len)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    /* windowBits 15 + 16: a gzip wrapper (RFC 1952) around deflate */
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK) {
        return MTASTS_ERR_NOMEM;
    }
    size_t cap = deflateBound(&z, (uLong)len) + 32;
    unsigned char *buf = mtasts__alloc(cap);
    if (buf == NULL) {
        deflateEnd(&z);
        return MTASTS_ERR_NOMEM;
    }
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)len;
    z.next_out = buf;
    z.avail_out = (uInt)cap;
    int zr = deflate(&z, Z_FINISH);
    size_t n = cap - z.avail_out;
    deflateEnd(&z);
    if (zr != Z_STREAM_END) {
        mtasts__free(buf);
        return MTASTS_ERR_NOMEM; /* the bound was too small: cannot be */
    }
    *out = buf;
    *out_len = n;
    return MTASTS_OK;
}

void
mtasts__report_name(const char *submitter, const char *domain, int64_t day,
                    char *out)
{
    /* begin and end: the first and last second of the day, as the JSON's
     * date-range (§5.6: file name and report agree) */
    long long begin = (long long)day * DAY_S;
    snprintf(out, MTASTS_RPT_NAME_BUFSIZE, "%s!%s!%lld!%lld.json.gz", submitter,
             domain, begin, begin + DAY_S - 1);
}

static void
base64_lines(struct mtasts__json *t, const unsigned char *p, size_t n)
{
    static const char abc[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char line[B64_LINE + 2];
    size_t used = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        if (i + 1 < n) {
            v |= (unsigned)p[i + 1] << 8;
        }
        if (i + 2 < n) {
            v |= p[i + 2];
        }
        line[used++] = abc[(v >> 18) & 63];
        line[used++] = abc[(v >> 12) & 63];
        line[used++] = i + 1 < n ? abc[(v >> 6) & 63] : '=';
        line[used++] = i + 2 < n ? abc[v & 63] : '=';
        if (used == B64_LINE || i + 3 >= n) {
            line[used++] = '\r';
            line[used++] = '\n';
            mtasts__json_bytes(t, line, used);
            used = 0;
        }
    }
}

/* Append formatted text of any length (never cut: an allocation failure
 * fails the whole text, as every append to the builder does). */
static void addf(struct mtasts__json *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
addf(struct mtasts__json *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *text = n >= 0 ? mtasts__alloc((size_t)n + 1) : NULL;
    if (text == NULL) {
        m->failed = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(text, (size_t)n + 1, fmt, ap);
    va_end(ap);
    mtasts__json_bytes(m, text, (size_t)n);
    mtasts__free(text);
}

int
mtasts__report_mail(const char *domain, int64_t day, const char *contact_info,
                    const char *submitter, const char *to, int64_t now,
                    const unsigned char *gz, size_t gz_len, char **msg_out,
                    size_t *len_out)
{
    char report_id[MTASTS__RPT_ID_MAX];
    if (!mtasts__report_id(day, domain, submitter, report_id,
                           sizeof(report_id))) {
        return MTASTS_ERR_INVALID;
    }
    char name[MTASTS_RPT_NAME_BUFSIZE];
    mtasts__report_name(submitter, domain, day, name);
    time_t t = (time_t)now;
    struct tm tm;
    char date[64] = "Thu, 01 Jan 1970 00:00:00 +0000";
    if (gmtime_r(&t, &tm) != NULL) {
        /* RFC 5322 §3.3, English names whatever the locale */
        static const char wd[7][4] = {"Sun", "Mon", "Tue", "Wed",
                                      "Thu", "Fri", "Sat"};
        static const char mo[12][4] = {"Jan", "Feb", "Mar", "Apr",
                                       "May", "Jun", "Jul", "Aug",
                                       "Sep", "Oct", "Nov", "Dec"};
        snprintf(date, sizeof(date), "%s, %02d %s %04d %02d:%02d:%02d +0000",
                 wd[tm.tm_wday % 7], tm.tm_mday, mo[tm.tm_mon % 12],
                 tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    }
    /* a boundary that cannot occur in base64 or the text part */
    char boundary[64];
    snprintf(boundary, sizeof(boundary), "=_tlsrpt_%08lx_%lld",
             (unsigned long)crc32(0, gz, (uInt)gz_len), (long long)now);
    time_t start = (time_t)(day * DAY_S);
    struct tm dtm;
    char ymd[16] = "";
    if (gmtime_r(&start, &dtm) != NULL) {
        strftime(ymd, sizeof(ymd), "%Y-%m-%d", &dtm);
    }

    struct mtasts__json m;
    mtasts__json_init(&m);
    addf(&m,
         "From: <%s>\r\n"
         "To: <%s>\r\n"
         /* §5.3 and A.7, folded before each part */
         "Subject: Report Domain: %s\r\n Submitter: %s\r\n"
         " Report-ID: <%s>\r\n"
         "Date: %s\r\n",
         contact_info, to, domain, submitter, report_id, date);
    addf(&m,
         "Message-ID: <%lld.%s>\r\n"
         "MIME-Version: 1.0\r\n"
         "TLS-Report-Domain: %s\r\n"
         "TLS-Report-Submitter: %s\r\n"
         "Content-Type: multipart/report; report-type=\"tlsrpt\";\r\n"
         " boundary=\"%s\"\r\n"
         "\r\n"
         "This is a multipart message in MIME format.\r\n"
         "\r\n",
         (long long)now, report_id, domain, submitter, boundary);
    addf(&m,
         "--%s\r\n"
         "Content-Type: text/plain; charset=us-ascii\r\n"
         "Content-Transfer-Encoding: 7bit\r\n"
         "\r\n"
         "This is an aggregate TLS report (RFC 8460) from %s\r\n"
         "for the domain %s and the UTC day %s.\r\n"
         "\r\n",
         boundary, submitter, domain, ymd);
    addf(&m,
         "--%s\r\n"
         "Content-Type: application/tlsrpt+gzip\r\n"
         "Content-Transfer-Encoding: base64\r\n"
         "Content-Disposition: attachment;\r\n"
         " filename=\"%s\"\r\n"
         "\r\n",
         boundary, name);
    base64_lines(&m, gz, gz_len);
    addf(&m, "\r\n--%s--\r\n", boundary);
    size_t len = 0;
    char *msg = mtasts__json_finish(&m, &len);
    if (msg == NULL) {
        return MTASTS_ERR_NOMEM;
    }
    *msg_out = msg;
    if (len_out != NULL) {
        *len_out = len;
    }
    return MTASTS_OK;
}
