/* An incremental HTTP/1.x response parser (RFC 9112), pure: no I/O, no
 * allocation. Bytes are fed as they arrive, in pieces of any size; the
 * parser reports the final response head (status and Content-Type) and the
 * decoded body through callbacks, and enforces its limits while reading:
 * a head over 16 KiB or a body over the cap is an error, never a
 * truncation.
 *
 * Strict where ambiguity could change what the body is: one Content-Length
 * (digits only), Transfer-Encoding only "chunked" (and never with a
 * Content-Length or in HTTP/1.0), no obsolete line folding, no whitespace
 * before a field's colon, no NUL, CR or other control bytes. Lenient where
 * common servers differ harmlessly: a bare LF ends a line like CRLF, the
 * reason phrase may be missing, whitespace may end a chunk-size line.
 * Interim 1xx responses (up to 8) are skipped; 204 and 304 have no body; a
 * response with neither framing field is read until the connection closes
 * (mtasts__http_finish()). Bytes after a complete response are ignored.
 *
 * Threads: one parser per response; different parsers are independent. */
#ifndef MTASTS_IO_HTTP_H
#define MTASTS_IO_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MTASTS__HTTP_HEAD_MAX 16384      /* response head, trailers: bytes */
#define MTASTS__HTTP_CHUNK_LINE_MAX 4096 /* a chunk-size line with its ext */
#define MTASTS__HTTP_INTERIM_MAX 8       /* 1xx heads before the final one */
#define MTASTS__HTTP_WHY_MAX 160         /* error text, NUL included */

/* The final response head: status 100..599 (never 1xx) and the
 * Content-Type field value without surrounding whitespace, NUL-terminated
 * (NULL when absent). Return MTASTS_OK to go on; any other status stops
 * the parser with it. */
typedef int mtasts__http_head_fn(void *user, unsigned status,
                                 const char *content_type);

/* Body bytes after transfer decoding, in order; never more than the cap in
 * all. Return MTASTS_OK to go on; any other status stops the parser. */
typedef int mtasts__http_body_fn(void *user, const unsigned char *data,
                                 size_t len);

struct mtasts__http {
    int state;
    int err; /* the status of a failure */
    size_t body_max;
    mtasts__http_head_fn *on_head;
    mtasts__http_body_fn *on_body;
    void *user;

    /* the head being read */
    unsigned head_status;
    unsigned minor; /* HTTP/1.minor */
    size_t nlines;
    bool have_length, have_chunked, have_type;
    uint64_t content_length; /* saturates at UINT64_MAX */
    size_t type_off, type_len;
    unsigned interim; /* 1xx heads skipped */
    bool saw_bytes;

    /* the final response */
    unsigned status; /* 0 until the head was reported */
    bool close_delimited;
    size_t body_len; /* decoded bytes delivered */
    uint64_t left;   /* bytes left of the body or of the current chunk */

    /* lines: the head, a chunk-size line, the trailer section */
    size_t buf_len;
    size_t line_start;
    char why[MTASTS__HTTP_WHY_MAX];
    unsigned char buf[MTASTS__HTTP_HEAD_MAX];
};

/* Start a parser for one response. body_max is the largest body accepted;
 * on_head and on_body may be NULL (nothing is reported). */
void mtasts__http_init(struct mtasts__http *h, size_t body_max,
                       mtasts__http_head_fn *on_head,
                       mtasts__http_body_fn *on_body, void *user);

/* Feed the next len bytes (data may be NULL when len is 0). Returns
 * MTASTS_OK (more is wanted, or the response is complete: see
 * mtasts__http_complete()), MTASTS_ERR_SYNTAX (malformed),
 * MTASTS_ERR_TOO_LARGE (head, trailers or body over a limit), or the
 * status a callback returned. An error is final: every later call returns
 * it again. */
int mtasts__http_feed(struct mtasts__http *h, const void *data, size_t len);

/* The connection closed. MTASTS_OK when the response is complete (a
 * close-delimited body is complete now); otherwise MTASTS_ERR_SYNTAX (the
 * response was cut short) or the earlier error. */
int mtasts__http_finish(struct mtasts__http *h);

/* Whether the whole response has been read. */
bool mtasts__http_complete(const struct mtasts__http *h);

/* Whether the body is delimited by the end of the connection (no
 * Content-Length, not chunked), so that only a clean close ends it. */
bool mtasts__http_close_delimited(const struct mtasts__http *h);

/* The final status code, 0 before the head was reported. */
unsigned mtasts__http_status(const struct mtasts__http *h);

/* Why the parser failed: a NUL-terminated sentence; "" without failure. */
const char *mtasts__http_why(const struct mtasts__http *h);

/* A request, as mtasts__http_request_head() writes its head. content_type
 * NULL means no body (GET, Accept: text/plain); otherwise the request is a
 * POST of body_len bytes with that Content-Type. host and path were
 * checked by the caller (no byte that could end or split a line). */
struct mtasts__http_request {
    const char *host;
    uint16_t port; /* left out of Host: when 443 */
    const char *path;
    const char *content_type;
    size_t body_len;
};

/* Write the request head (RFC 9112 §3: request line, Host, Connection:
 * close, User-Agent, Accept or Content-Type and Content-Length, the empty
 * line) into buf. Returns its length, or 0 when it does not fit in size
 * bytes (a NUL is written after it). */
size_t mtasts__http_request_head(char *buf, size_t size,
                                 const struct mtasts__http_request *r);

#endif
