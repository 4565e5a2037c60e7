/* The SMTP client of mtasts_probe_mx(): one blocking session (connect,
 * banner, EHLO, STARTTLS, TLS handshake, QUIT) whose outcome goes into a
 * struct mtasts_mx_check, and the reply reader it is built on.
 *
 * The reply reader needs no network: the unit tests and
 * tests/fuzz/fuzz_smtp_reply.c give it bytes directly.
 *
 * Threads: a reader belongs to its caller; sessions are independent (their
 * struct mtasts__io is only read, its trust store shared). */
#ifndef MTASTS_IO_SMTP_H
#define MTASTS_IO_SMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/io.h"
#include "verify/mxcheck.h"

/* ---- reading one reply ---------------------------------------------------
 * A reply is one or more lines (RFC 5321 §4.2): "NNN-text" for each line
 * but the last, "NNN text" or "NNN" for the last, all with the same code.
 * The code's first digit is 2 to 5, the second 0 to 5 (§4.2.1 Reply-code).
 * A line ends in CRLF; a bare LF is accepted as well (as Postfix and Exim
 * do), a CR anywhere else is not. The text may hold HT, SP, printable
 * ASCII and bytes above 0x7F (servers that send UTF-8 greetings), no other
 * control byte. Anything else is a syntax error with a precise reason;
 * nothing is cut or skipped. */

/* The longest reply line, code and CRLF included (RFC 5321 §4.5.3.1.5). */
#define MTASTS__SMTP_LINE_MAX 512
/* The most lines one reply may have: our bound; EHLO replies of large
 * providers have about 15. */
#define MTASTS__SMTP_LINES_MAX 64
/* Room for the EHLO keywords listed in a reason, NUL included. */
#define MTASTS__SMTP_KEYWORDS_MAX 160
#define MTASTS__SMTP_WHY_MAX 160

struct mtasts__smtp_reply {
    bool done;        /* the last line was read */
    unsigned code;    /* 200..559, set by the first complete line */
    size_t lines;     /* complete lines */
    bool starttls;    /* a line after the first has the EHLO keyword
                       * STARTTLS, in any case (RFC 3207 §4) */
    size_t first_len; /* the first line, its line end removed */
    unsigned char first[MTASTS__SMTP_LINE_MAX];
    /* the EHLO keywords of the lines after the first, upper case, space
     * separated, "..." when there were more than fit */
    char keywords[MTASTS__SMTP_KEYWORDS_MAX];
    bool keywords_cut;
    size_t len; /* bytes of the line being read */
    unsigned char line[MTASTS__SMTP_LINE_MAX];
    int err; /* the status of a failure; final */
    char why[MTASTS__SMTP_WHY_MAX];
};

void mtasts__smtp_reply_init(struct mtasts__smtp_reply *r);

/* Read the next len bytes (data may be NULL when len is 0), up to the end
 * of the reply: *used says how many were taken; bytes after the reply's
 * last line are left for the caller. MTASTS_OK (r->done says whether the
 * reply is complete; once it is, nothing more is taken), or
 * MTASTS_ERR_SYNTAX (not an SMTP reply) or MTASTS_ERR_TOO_LARGE (a line
 * over MTASTS__SMTP_LINE_MAX, more than MTASTS__SMTP_LINES_MAX lines),
 * with a sentence in r->why; a failure is final. */
int mtasts__smtp_reply_feed(struct mtasts__smtp_reply *r, const void *data,
                            size_t len, size_t *used);

/* Whether the EHLO line text (what follows "250-" or "250 ") begins with
 * the keyword lower[0..n) (lower case), in any case, followed by its end
 * or a space (RFC 5321 §4.1.1.1 ehlo-line). */
bool mtasts__smtp_ehlo_keyword(const unsigned char *text, size_t len,
                               const char *lower, size_t n);

/* bytes[0..len) as a quoted C-like string for a reason: printable ASCII
 * as is, '"' and '\\' escaped, other bytes as \xNN; cut to fit size with
 * "..." inside the quotes when longer (a message, never data). */
void mtasts__smtp_quote(const unsigned char *bytes, size_t len, char *out,
                        size_t size);

/* ---- the session ---------------------------------------------------------
 * When each step ended, in microseconds of the monotonic clock from the
 * start (0: not reached). For the benchmark. */
struct mtasts__smtp_times {
    uint64_t connected; /* TCP connection made */
    uint64_t ehlo;      /* EHLO reply read */
    uint64_t handshake; /* STARTTLS reply and TLS handshake done */
    uint64_t verified;  /* the chain judged */
};

struct mtasts__smtp_args {
    const char *host;                   /* the MX, normalised: SNI, DNS */
    const struct mtasts__io_addr *addr; /* or NULL: resolve host */
    uint16_t port;
    const char *helo;                 /* the EHLO name */
    uint32_t step_ms;                 /* each reply, write, handshake */
    int64_t now;                      /* verification time, Unix s */
    struct mtasts__smtp_times *times; /* may be NULL */
};

/* Run one probe session with the connect and DNS timeouts and the trust
 * store of io, and record its outcome in c (mtasts__mx_check_abort for a
 * session that ended before STARTTLS, mtasts__mx_check_fail for a missing
 * or refused STARTTLS or a failed handshake, mtasts__mx_check_chain for
 * the chain received). The whole session ends within 2 x dns_ms +
 * 2 x connect_ms + 5 x step_ms. Returns MTASTS_OK when c holds the
 * outcome (whatever it is), or MTASTS_ERR_NOMEM; MTASTS_ERR_IO when the
 * trust store cannot be loaded (c's reason says why). */
int mtasts__smtp_probe(struct mtasts__io *io, const struct mtasts__smtp_args *a,
                       struct mtasts_mx_check *c);

#endif
