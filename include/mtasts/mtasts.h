/*
 * libmtasts: SMTP MTA Strict Transport Security (RFC 8461) for sending MTAs.
 *
 * This is the only public header. It is plain C99, includes only standard C
 * headers, and exposes no struct whose size could change except
 * mtasts_parse_error, which begins with a caller-set size member.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MTASTS_MTASTS_H
#define MTASTS_MTASTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------
 * Versions
 *
 * Threads: the macros are constants; mtasts_version() and
 * mtasts_version_string() are pure.
 * ---------------------------------------------------------------------- */

#define MTASTS_VERSION_MAJOR 1
#define MTASTS_VERSION_MINOR 0
#define MTASTS_VERSION_PATCH 0
/** The version as 0xMMmmpp, for compile-time comparisons. */
#define MTASTS_VERSION_NUM                                                     \
    ((MTASTS_VERSION_MAJOR << 16) | (MTASTS_VERSION_MINOR << 8) |              \
     MTASTS_VERSION_PATCH)
#define MTASTS_VERSION_STRING "1.0.0"

/* The export macro: every public function carries it. */
#if defined(_WIN32) || defined(__CYGWIN__)
#define MTASTS_API
#elif defined(__GNUC__) && __GNUC__ >= 4
#define MTASTS_API __attribute__((visibility("default")))
#else
#define MTASTS_API
#endif

#if defined(__GNUC__) || defined(__clang__)
#define MTASTS_DEPRECATED(msg) __attribute__((deprecated(msg)))
#else
#define MTASTS_DEPRECATED(msg)
#endif

/**
 * The library's version at run time, as MTASTS_VERSION_NUM (0xMMmmpp).
 * Compare it with MTASTS_VERSION_NUM to detect a header/library mismatch.
 * @return the version number of the loaded library
 * Ownership: none.   Threads: pure.   Since: 1.0
 */
MTASTS_API uint32_t mtasts_version(void);

/**
 * The library's version at run time as text, e.g. "1.0.0".
 * @return a static NUL-terminated string, never NULL
 * Ownership: static storage; do not free.   Threads: pure.   Since: 1.0
 */
MTASTS_API const char *mtasts_version_string(void);

/* ------------------------------------------------------------------------
 * Status codes
 *
 * Functions that can fail return int: MTASTS_OK (0) or a negative
 * mtasts_status. Values are stable: new codes are appended inside their
 * range and never renumbered; a retired code stays, never reused.
 * docs/errors.md describes each one.
 *
 * Threads: mtasts_strerror() and the predicates are pure.
 * ---------------------------------------------------------------------- */

typedef enum mtasts_status {
    MTASTS_OK = 0,

    /* -1..-99: misuse and resources */
    MTASTS_ERR_INVALID = -1, /* a NULL handle or pointer, a value out of range */
    MTASTS_ERR_NOMEM = -2,   /* memory allocation failed */
    MTASTS_ERR_STATE = -3,   /* a call not valid now: wrong kind of request,
                                or out of order (body before head) */
    MTASTS_ERR_IO = -4,      /* a file could not be read or written */

    /* -100..-199: parse layer */
    MTASTS_ERR_SYNTAX = -100,    /* input does not fit its grammar */
    MTASTS_ERR_TOO_LARGE = -101, /* input longer than its limit */
    MTASTS_ERR_BAD_DOMAIN = -102, /* not a valid host name (LDH, lengths) */
    MTASTS_ERR_NOT_ASCII = -103,  /* a non-ASCII byte in a domain name */

    /* -200..-299: discovery */
    MTASTS_ERR_NO_POLICY = -200,     /* the domain has no MTA-STS policy */
    MTASTS_ERR_DNS_TEMPFAIL = -201,  /* temporary DNS failure, nothing cached */
    MTASTS_ERR_FETCH = -202,         /* policy fetch failed, nothing cached */
    MTASTS_ERR_WEBPKI = -203,        /* policy host certificate invalid */
    MTASTS_ERR_POLICY_INVALID = -204, /* fetched policy invalid */

    /* -300..-399: MX probe (mtasts_probe_mx) */
    MTASTS_ERR_CONNECT = -300,  /* no TCP connection to the MX: no address,
                                   refused, unreachable, connect timeout */
    MTASTS_ERR_TIMEOUT = -301,  /* the MX stopped answering mid-session */
    MTASTS_ERR_PROTOCOL = -302, /* the MX's replies are not SMTP, or it
                                   refused the session before STARTTLS */

    /* -400..-499: policy cache */
    MTASTS_ERR_NOT_FOUND = -400,    /* no cache entry for the domain, or no
                                       cache file at the path */
    MTASTS_ERR_CACHE_FORMAT = -401, /* not a cache file, or a format version
                                       this library does not read */
    MTASTS_ERR_CACHE_CORRUPT = -402, /* a cache file or record is damaged or
                                        hostile: truncated, bad length or
                                        checksum, invalid content */
    MTASTS_ERR_STORE = -403, /* the second-level store (store hooks)
                               failed; the in-memory cache went on */

    /* -500..-599: TLS reporting (RFC 8460) */
    MTASTS_ERR_NO_TLSRPT = -500, /* no usable _smtp._tls record: none, not
                                   exactly one, or no mailto:/https: rua */
    MTASTS_ERR_NO_DATA = -501,   /* nothing recorded for that domain and
                                    day: no report to make */
    MTASTS_ERR_FULL = -502,      /* the report store is at its bound: the
                                    result was not recorded */
    MTASTS_ERR_REPORT_FILE = -503 /* not a report store file of a version
                                     this library reads, or damaged */
} mtasts_status;

/**
 * A short English description of a status code.
 * @param status  any int; MTASTS_OK gives "success"
 * @return a static string, never NULL; "unknown status" for unknown values
 * Ownership: static storage; do not free.   Threads: pure.   Since: 1.0
 */
MTASTS_API const char *mtasts_strerror(int status);

/**
 * The status code's enumerator name, e.g. "MTASTS_ERR_SYNTAX", for logs
 * and machine-readable output.
 * @param status  any int
 * @return a static string, never NULL; "MTASTS_UNKNOWN" for unknown values
 * Ownership: static storage; do not free.   Threads: pure.   Since: 1.0
 */
MTASTS_API const char *mtasts_status_name(int status);

/**
 * Whether a status says the input itself is bad (a syntax error, input too
 * large, an invalid or non-ASCII domain name), as opposed to misuse, a
 * resource failure or an absent policy. Retrying with the same input
 * cannot succeed.
 * @param status  any int
 * @return true for MTASTS_ERR_SYNTAX, MTASTS_ERR_TOO_LARGE,
 *         MTASTS_ERR_BAD_DOMAIN and MTASTS_ERR_NOT_ASCII; false otherwise
 * Threads: pure.   Since: 1.0
 */
MTASTS_API bool mtasts_status_is_bad_input(int status);

/**
 * Whether a status may change if the same call is made later: an
 * allocation failure, or a discovery failure (DNS, fetch, certificate,
 * invalid policy) or an MX probe failure (connection, timeout, protocol)
 * that the domain's owner or the network may mend.
 * @param status  any int
 * @return true for MTASTS_ERR_NOMEM, MTASTS_ERR_DNS_TEMPFAIL,
 *         MTASTS_ERR_FETCH, MTASTS_ERR_WEBPKI, MTASTS_ERR_POLICY_INVALID,
 *         MTASTS_ERR_CONNECT, MTASTS_ERR_TIMEOUT, MTASTS_ERR_PROTOCOL,
 *         MTASTS_ERR_STORE
 * Threads: pure.   Since: 1.0
 */
MTASTS_API bool mtasts_status_is_temporary(int status);

/* ------------------------------------------------------------------------
 * Opaque types and shared definitions
 * ---------------------------------------------------------------------- */

/** An immutable, reference-counted, parsed MTA-STS policy. */
typedef struct mtasts_policy mtasts_policy;

/** The policy mode (RFC 8461 §5). Values are stable. */
typedef enum mtasts_mode {
    MTASTS_MODE_NONE = 0,    /* "none": treat as having no active policy */
    MTASTS_MODE_TESTING = 1, /* "testing": deliver, report failures */
    MTASTS_MODE_ENFORCE = 2  /* "enforce": never deliver to a failing MX */
} mtasts_mode;

/** Size of the buffer that receives a TXT record id: 32 + NUL. */
#define MTASTS_ID_BUFSIZE 33

/** Largest policy body accepted, in bytes: 64 KiB (RFC 8461 §3.3). */
#define MTASTS_POLICY_MAX 65536

/** Largest max_age kept; larger values are clamped (RFC 8461 §3.2). */
#define MTASTS_MAX_AGE_MAX 31557600

/** Size of a buffer that holds any normalised domain name: 253 + NUL. */
#define MTASTS_DOMAIN_BUFSIZE 254

/**
 * Where and why parsing failed. The only public struct: it begins with
 * `size`, which the caller sets with MTASTS_PARSE_ERROR_INIT. Members are
 * only ever appended; the library writes no member that ends past `size`.
 *
 * When a function that takes one fails, `message` is a static English
 * sentence, never NULL. When the input itself is at fault
 * (MTASTS_ERR_SYNTAX, MTASTS_ERR_BAD_DOMAIN, MTASTS_ERR_NOT_ASCII), `line`
 * and `column` are 1-based (column counts bytes, so a validator can point
 * at the exact byte even in UTF-8 text) and `offset` is the 0-based byte
 * offset of the same position; for any other failure (misuse, no record,
 * too large, out of memory) there is no position and all three are 0. On
 * success `line`, `column` and `offset` are 0 and `message` is NULL.
 */
typedef struct mtasts_parse_error {
    size_t size;
    size_t line;
    size_t column;
    size_t offset;
    const char *message;
} mtasts_parse_error;

#define MTASTS_PARSE_ERROR_INIT { sizeof(mtasts_parse_error), 0, 0, 0, NULL }

/* ------------------------------------------------------------------------
 * Domain names
 *
 * Names are handled in ASCII only: internationalised names must be given
 * as A-labels ("xn--..."); converting U-labels is the caller's job (the
 * library has no IDNA tables) and a non-ASCII byte is MTASTS_ERR_NOT_ASCII.
 *
 * Threads: pure.
 * ---------------------------------------------------------------------- */

/**
 * Check a host or domain name as an MTA gives it and write its normal form:
 * ASCII lower case, without the one trailing dot that is accepted.
 * Rules: RFC 5321 Domain syntax (labels of letters, digits and inner
 * hyphens, starting and ending with a letter or digit), labels of 1 to 63
 * bytes, at most 253 bytes without the trailing dot.
 * @param name  the name; need not end in NUL
 * @param len   length of name in bytes
 * @param out   receives the NUL-terminated normal form; "" on any error
 * @param err   may be NULL; on failure says where and why
 * @return MTASTS_OK, MTASTS_ERR_BAD_DOMAIN (empty, bad label, too long,
 *         address literal...), MTASTS_ERR_NOT_ASCII (a byte above 0x7F: a
 *         U-label must be converted to an A-label first), MTASTS_ERR_INVALID
 *         (name NULL with len > 0, or out NULL)
 * Ownership: out is the caller's buffer.   Threads: pure.   Since: 1.0
 */
MTASTS_API int mtasts_domain_normalize(const char *name, size_t len,
                                       char out[MTASTS_DOMAIN_BUFSIZE],
                                       mtasts_parse_error *err);

/* ------------------------------------------------------------------------
 * Parse layer: the _mta-sts TXT record (RFC 8461 §3.1)
 *
 * Threads: pure. No allocation.
 * ---------------------------------------------------------------------- */

/**
 * Parse one `_mta-sts` TXT record (its character-strings already joined
 * with nothing in between) by the RFC 8461 §3.1 grammar and give its id.
 * The record must begin with exactly "v=STSv1"; fields are separated by
 * `*WSP ";" *WSP`; `id` is 1 to 32 letters or digits and is required;
 * extension fields must fit their grammar; a repeated field keeps its first
 * value, but a repeated `v` or `id` whose value does not fit its own rule is
 * a syntax error. Any byte outside printable ASCII, SP and HTAB is an error.
 * @param record  record bytes; need not end in NUL
 * @param len     length of record
 * @param id_out  receives the NUL-terminated id; "" on any error
 * @return MTASTS_OK, MTASTS_ERR_SYNTAX, MTASTS_ERR_INVALID (record NULL with
 *         len > 0, or id_out NULL)
 * Ownership: id_out is the caller's buffer.   Threads: pure.   Since: 1.0
 */
MTASTS_API int mtasts_txt_parse(const char *record, size_t len,
                                char id_out[MTASTS_ID_BUFSIZE]);

/**
 * mtasts_txt_parse() that also says where and why a record is invalid.
 * @param record  record bytes; need not end in NUL
 * @param len     length of record
 * @param id_out  receives the NUL-terminated id; "" on any error
 * @param err     may be NULL; on MTASTS_ERR_SYNTAX gives line 1, the column
 *                of the offending byte and a message
 * @return as mtasts_txt_parse()
 * Ownership: id_out and err are the caller's.   Threads: pure.   Since: 1.0
 */
MTASTS_API int mtasts_txt_diagnose(const char *record, size_t len,
                                   char id_out[MTASTS_ID_BUFSIZE],
                                   mtasts_parse_error *err);

/**
 * Apply RFC 8461 §3.1 to all TXT records found at `_mta-sts.<domain>`.
 * With several records, those that do not begin with the exact bytes
 * "v=STSv1;" are discarded (so "v=STSv10;" and "v=STSv1 ;" never count);
 * if not exactly one is left there is no policy. A lone record that does
 * not begin with "v=STSv1" is not an MTA-STS record (no policy); one that
 * does is judged by the grammar alone (mtasts_txt_parse()).
 * @param records  n record texts, each with its character-strings joined
 * @param lens     n lengths
 * @param n        number of records; 0 means no policy
 * @param id_out   receives the selected record's id; "" on any error
 * @return MTASTS_OK, MTASTS_ERR_NO_POLICY (no record, or not exactly one
 *         candidate), MTASTS_ERR_SYNTAX (the one candidate is invalid: the
 *         domain has no usable policy, but a tool can tell a broken record
 *         from a missing one), MTASTS_ERR_INVALID (records or lens NULL with
 *         n > 0, a NULL record with a non-zero length, id_out NULL)
 * Ownership: id_out is the caller's buffer.   Threads: pure.   Since: 1.0
 */
MTASTS_API int mtasts_txt_select(const char *const *records,
                                 const size_t *lens, size_t n,
                                 char id_out[MTASTS_ID_BUFSIZE]);

/* ------------------------------------------------------------------------
 * Parse layer: the policy body (RFC 8461 §3.2) and policy objects
 *
 * Threads: parsing is pure. A mtasts_policy is immutable: any number of
 * threads may read one at once, and mtasts_policy_ref()/_unref() are atomic.
 * ---------------------------------------------------------------------- */

/** Warning flags of a policy that parsed (mtasts_policy_warnings()). */
#define MTASTS_POLICY_WARN_MAX_AGE_CLAMPED 0x1u /* max_age > 31557600 */
#define MTASTS_POLICY_WARN_TRAILING_EMPTY_LINES 0x2u /* empty lines at end */

/**
 * Parse the body of an MTA-STS policy (RFC 8461 §3.2).
 *
 * Strict to the grammar: lines end in LF or CRLF (the last one optionally);
 * each line is `key ":" *WSP value *WSP`; names and fixed values are
 * case-sensitive; `version: STSv1`, `mode` and `max_age` are required, `mx`
 * too unless the mode is `none`; every `mx` is `["*."] Domain`; unknown
 * fields are ignored but must fit the extension grammar (UTF-8 values must
 * be well formed). For a repeated field the first occurrence counts, every
 * `mx` line adds a pattern, and a known field with a value that does not fit
 * its rule is an error even when repeated. Two documented leniencies, each
 * leaving a warning flag: a max_age above MTASTS_MAX_AGE_MAX is clamped to
 * it, and empty lines after the last field are accepted.
 * @param text  policy bytes; need not end in NUL
 * @param len   length of text, at most MTASTS_POLICY_MAX
 * @param out   receives the policy (one reference); NULL on any error
 * @param err   may be NULL; on MTASTS_ERR_SYNTAX says where and why
 * @return MTASTS_OK, MTASTS_ERR_SYNTAX, MTASTS_ERR_TOO_LARGE (len above
 *         MTASTS_POLICY_MAX), MTASTS_ERR_NOMEM, MTASTS_ERR_INVALID (out NULL,
 *         or text NULL with len > 0)
 * Ownership: caller owns *out; release with mtasts_policy_unref().
 * Threads: pure.   Since: 1.0
 */
MTASTS_API int mtasts_policy_parse(const char *text, size_t len,
                                   mtasts_policy **out,
                                   mtasts_parse_error *err);

/**
 * Take one more reference to a policy.
 * @param p  a policy, or NULL
 * @return p
 * Ownership: the caller owns the new reference.
 * Threads: immutable (atomic).   Since: 1.0
 */
MTASTS_API mtasts_policy *mtasts_policy_ref(mtasts_policy *p);

/**
 * Drop one reference; the last one frees the policy.
 * @param p  a policy, or NULL (nothing happens)
 * Ownership: the caller's reference is gone; pointers borrowed from p stay
 * valid only while another reference lives.
 * Threads: immutable (atomic).   Since: 1.0
 */
MTASTS_API void mtasts_policy_unref(mtasts_policy *p);

/**
 * The policy's mode.
 * @param p  a policy; NULL gives MTASTS_MODE_NONE (no active policy)
 * Threads: immutable.   Since: 1.0
 */
MTASTS_API mtasts_mode mtasts_policy_mode(const mtasts_policy *p);

/**
 * The name of a mode as written in policies.
 * @param m  a mode
 * @return "enforce", "testing", "none", or "unknown" for other values;
 *         never NULL
 * Ownership: static storage.   Threads: pure.   Since: 1.0
 */
MTASTS_API const char *mtasts_mode_name(mtasts_mode m);

/**
 * The policy's max_age in seconds, after clamping to MTASTS_MAX_AGE_MAX.
 * @param p  a policy; NULL gives 0
 * Threads: immutable.   Since: 1.0
 */
MTASTS_API uint32_t mtasts_policy_max_age(const mtasts_policy *p);

/**
 * The number of `mx` patterns in the policy (0 is possible in mode none).
 * @param p  a policy; NULL gives 0
 * Threads: immutable.   Since: 1.0
 */
MTASTS_API size_t mtasts_policy_mx_count(const mtasts_policy *p);

/**
 * The i-th `mx` pattern, in the order of the policy text, in ASCII lower
 * case (patterns compare case-insensitively), e.g. "*.example.net".
 * @param p  a policy
 * @param i  index below mtasts_policy_mx_count()
 * @return a NUL-terminated string, or NULL when p is NULL or i is out of
 *         range
 * Ownership: borrowed; valid while the caller holds a reference to p.
 * Threads: immutable.   Since: 1.0
 */
MTASTS_API const char *mtasts_policy_mx(const mtasts_policy *p, size_t i);

/**
 * The policy text exactly as parsed (for reports and persistence).
 * @param p        a policy
 * @param len_out  may be NULL; receives the length in bytes (0 for NULL p)
 * @return the bytes, followed by a NUL that is not counted; NULL for NULL p
 * Ownership: borrowed; valid while the caller holds a reference to p.
 * Threads: immutable.   Since: 1.0
 */
MTASTS_API const char *mtasts_policy_text(const mtasts_policy *p,
                                          size_t *len_out);

/**
 * Leniencies applied while parsing: a bit set of MTASTS_POLICY_WARN_*.
 * @param p  a policy; NULL gives 0
 * Threads: immutable.   Since: 1.0
 */
MTASTS_API uint32_t mtasts_policy_warnings(const mtasts_policy *p);

/**
 * Whether an MX host name matches one of the policy's `mx` patterns
 * (RFC 8461 §4.1), as mtasts_mx_pattern_match() does for each pattern.
 * @param p     a policy
 * @param host  the MX host name as published in the MX record, NUL-terminated
 * @return true on a match; false otherwise, and when p or host is NULL or
 *         host is not a valid ASCII host name
 * Threads: immutable.   Since: 1.0
 */
MTASTS_API bool mtasts_policy_match_mx(const mtasts_policy *p,
                                       const char *host);

/**
 * Whether an MX host name matches one policy `mx` pattern (RFC 8461 §4.1).
 * Comparison is ASCII case-insensitive. The host may end in one dot. A
 * pattern `*.example.com` matches exactly one extra, non-empty leftmost
 * label: `mail.example.com`, never `example.com` or `a.b.example.com`.
 * Neither argument is trusted: a pattern that does not fit the policy
 * grammar (`["*."] Domain`, no trailing dot) or a host that is not a valid
 * ASCII host name (U-labels must be converted to A-labels first, address
 * literals are no host names) matches nothing.
 * @param pattern  a policy mx pattern, NUL-terminated
 * @param host     an MX host name, NUL-terminated
 * @return true on a match; false otherwise and when either is NULL
 * Threads: pure.   Since: 1.0
 */
MTASTS_API bool mtasts_mx_pattern_match(const char *pattern,
                                        const char *host);

/* ------------------------------------------------------------------------
 * Report classification (RFC 8460 §4.3 result types)
 *
 * Threads: pure.
 * ---------------------------------------------------------------------- */

/** RFC 8460 result types; values are stable. */
typedef enum mtasts_rpt_result {
    MTASTS_RPT_NONE = 0, /* nothing to report as a failure */
    MTASTS_RPT_STARTTLS_NOT_SUPPORTED = 1,
    MTASTS_RPT_CERTIFICATE_HOST_MISMATCH = 2,
    MTASTS_RPT_CERTIFICATE_EXPIRED = 3,
    MTASTS_RPT_CERTIFICATE_NOT_TRUSTED = 4,
    MTASTS_RPT_VALIDATION_FAILURE = 5,
    MTASTS_RPT_TLSA_INVALID = 6,
    MTASTS_RPT_DNSSEC_INVALID = 7,
    MTASTS_RPT_DANE_REQUIRED = 8,
    MTASTS_RPT_STS_POLICY_FETCH_ERROR = 9,
    MTASTS_RPT_STS_POLICY_INVALID = 10,
    MTASTS_RPT_STS_WEBPKI_INVALID = 11
} mtasts_rpt_result;

/**
 * The RFC 8460 name of a result type, e.g. "sts-policy-fetch-error".
 * @param r  a result type
 * @return a static string, never NULL: "none" for MTASTS_RPT_NONE,
 *         "unknown" for values outside the enum
 * Threads: pure.   Since: 1.0
 */
MTASTS_API const char *mtasts_rpt_result_name(mtasts_rpt_result r);

/* ------------------------------------------------------------------------
 * The context: configuration, policy cache and I/O hooks
 *
 * Threads: a mtasts_ctx is shared by all threads of an MTA. Lookups
 * (mtasts_lookup*) and the completion functions may be called from any
 * thread at any time. The setters are "per ctx": call them before the
 * first lookup, or at least never concurrently with one. mtasts_ctx_free()
 * must be the last call on a ctx, with no lookup in flight.
 * ---------------------------------------------------------------------- */

/** The long-lived library handle. */
typedef struct mtasts_ctx mtasts_ctx;

/**
 * The current time as seconds since the Unix epoch (UTC). Policies expire
 * by this clock (fetch time + max_age), and MX certificates are judged by
 * it, so it is wall-clock time.
 * @param user  the pointer given to mtasts_ctx_set_clock()
 * Threads: called from any thread that runs a lookup, a verification or a
 * probe, concurrently, sometimes with the ctx lock held: it must be
 * thread-safe and must not call back into the same ctx (that deadlocks).
 */
typedef int64_t mtasts_clock_fn(void *user);

/**
 * Create a context with the defaults each setter documents, an empty
 * policy cache and the default I/O (DNS through ldns, HTTPS through
 * mbedTLS).
 * @param out  receives the context; NULL on any error
 * @return MTASTS_OK, MTASTS_ERR_NOMEM, MTASTS_ERR_INVALID (out NULL)
 * Ownership: the caller owns *out; release with mtasts_ctx_free().
 * Threads: any.   Since: 1.0
 */
MTASTS_API int mtasts_ctx_new(mtasts_ctx **out);

/**
 * Free a context, its cache and its configuration. Policies the caller
 * holds references to stay valid.
 * @param ctx  a context, or NULL (nothing happens); no lookup may be in
 *             flight and no other thread may use ctx
 * Threads: per ctx; never from a hook or callback of the same ctx.
 * Since: 1.0
 */
MTASTS_API void mtasts_ctx_free(mtasts_ctx *ctx);

/**
 * Timeout for establishing the HTTPS connection to the policy host (TCP
 * and TLS handshake), in milliseconds. Default 10000.
 * @return MTASTS_OK, MTASTS_ERR_INVALID (ctx NULL, ms 0 or above 600000)
 * Threads: per ctx.   Since: 1.0
 */
MTASTS_API int mtasts_ctx_set_connect_timeout_ms(mtasts_ctx *ctx,
                                                 uint32_t ms);

/**
 * Total time allowed for one policy fetch, from the first address lookup
 * to the last body byte, in milliseconds; it holds even against a server
 * that trickles one byte at a time. Default 60000 (RFC 8461 §3.3 suggests
 * one minute).
 * @return MTASTS_OK, MTASTS_ERR_INVALID (ctx NULL, ms 0 or above 600000)
 * Threads: per ctx.   Since: 1.0
 */
MTASTS_API int mtasts_ctx_set_fetch_timeout_ms(mtasts_ctx *ctx, uint32_t ms);

/**
 * Timeout of one DNS query (all retries included), in milliseconds.
 * Default 5000.
 * @return MTASTS_OK, MTASTS_ERR_INVALID (ctx NULL, ms 0 or above 600000)
 * Threads: per ctx.   Since: 1.0
 */
MTASTS_API int mtasts_ctx_set_dns_timeout_ms(mtasts_ctx *ctx, uint32_t ms);

/**
 * Largest policy body accepted, in bytes. A longer body is a fetch failure,
 * never truncated. Default and maximum MTASTS_POLICY_MAX (64 KiB).
 * @return MTASTS_OK, MTASTS_ERR_INVALID (ctx NULL, bytes 0 or above
 *         MTASTS_POLICY_MAX)
 * Threads: per ctx.   Since: 1.0
 */
MTASTS_API int mtasts_ctx_set_body_max(mtasts_ctx *ctx, size_t bytes);

/**
 * Trust anchors for the policy host's certificate: a PEM or DER file of
 * CA certificates. It replaces the default, the system bundle
 * (/etc/ssl/certs/ca-certificates.crt). The file is read and checked now.
 * @param path  a file; NULL returns to the system bundle
 * @return MTASTS_OK, MTASTS_ERR_IO (unreadable, or holds no certificate),
 *         MTASTS_ERR_NOMEM, MTASTS_ERR_INVALID (ctx NULL)
 * Ownership: the path is copied.   Threads: per ctx.   Since: 1.0
 */
MTASTS_API int mtasts_ctx_set_ca_file(mtasts_ctx *ctx, const char *path);

/**
 * Trust anchors from a directory of PEM files (as /etc/ssl/certs). It
 * replaces any CA file or directory set before. Read and checked now.
 * @param dir  a directory; NULL returns to the system bundle
 * @return MTASTS_OK, MTASTS_ERR_IO (unreadable, or no certificate found),
 *         MTASTS_ERR_NOMEM, MTASTS_ERR_INVALID (ctx NULL)
 * Ownership: the path is copied.   Threads: per ctx.   Since: 1.0
 */
MTASTS_API int mtasts_ctx_set_ca_dir(mtasts_ctx *ctx, const char *dir);

/**
 * The recursive resolver the default DNS I/O asks, as "ADDR" or
 * "ADDR@PORT" with an IPv4 or IPv6 address literal, e.g. "127.0.0.1@5353"
 * or "::1@53". Default: the nameservers of /etc/resolv.conf.
 * @param addr  the resolver; NULL returns to /etc/resolv.conf
 * @return MTASTS_OK, MTASTS_ERR_INVALID (ctx NULL, not an address literal,
 *         port 0 or above 65535)
 * Ownership: copied.   Threads: per ctx.   Since: 1.0
 */
MTASTS_API int mtasts_ctx_set_resolver(mtasts_ctx *ctx, const char *addr);

/**
 * Most domains the policy cache holds; past it, the least recently used
 * entry is dropped. Default 100000.
 * @return MTASTS_OK, MTASTS_ERR_INVALID (ctx NULL, entries 0)
 * Threads: per ctx.   Since: 1.0
 */
MTASTS_API int mtasts_ctx_set_cache_capacity(mtasts_ctx *ctx, size_t entries);

/**
 * After a failed policy fetch, how long no new fetch is made for the same
 * domain and TXT id (a new id may be fetched at once), in seconds
 * (RFC 8461 §3.3 says five minutes or longer). Default 300.
 * @return MTASTS_OK, MTASTS_ERR_INVALID (ctx NULL, above 86400)
 * Threads: per ctx.   Since: 1.0
 */
MTASTS_API int mtasts_ctx_set_fetch_backoff_s(mtasts_ctx *ctx,
                                              uint32_t seconds);

/**
 * How long a domain without a usable _mta-sts TXT record (and nothing
 * cached) is remembered as such, so that a busy MTA does not ask DNS on
 * every message, in seconds. 0 disables. Default 300.
 * @return MTASTS_OK, MTASTS_ERR_INVALID (ctx NULL, above 86400)
 * Threads: per ctx.   Since: 1.0
 */
MTASTS_API int mtasts_ctx_set_no_policy_ttl_s(mtasts_ctx *ctx,
                                              uint32_t seconds);

/**
 * How often a cached, unexpired policy is re-checked against the TXT
 * record (a new id triggers a fetch), in seconds. Within the interval a
 * lookup answers from memory (RFC 8461 §5.1 step 1). 0 checks on every
 * lookup. Default 600.
 * @return MTASTS_OK, MTASTS_ERR_INVALID (ctx NULL, above 86400)
 * Threads: per ctx.   Since: 1.0
 */
MTASTS_API int mtasts_ctx_set_txt_check_interval_s(mtasts_ctx *ctx,
                                                   uint32_t seconds);

/**
 * Replace the wall clock (tests, simulations).
 * @param fn    the clock; NULL returns to time(NULL)
 * @param user  passed to fn
 * @return MTASTS_OK, MTASTS_ERR_INVALID (ctx NULL)
 * Ownership: user is the caller's; it must outlive ctx.
 * Threads: per ctx.   Since: 1.0
 */
MTASTS_API int mtasts_ctx_set_clock(mtasts_ctx *ctx, mtasts_clock_fn *fn,
                                    void *user);

/**
 * The TCP port of policy hosts. RFC 8461 fixes 443; change it only in tests,
 * so that they need no privileged port. Default 443.
 * @return MTASTS_OK, MTASTS_ERR_INVALID (ctx NULL, port 0)
 * Threads: per ctx.   Since: 1.0
 */
MTASTS_API int mtasts_ctx_set_https_port(mtasts_ctx *ctx, uint16_t port);

/* ------------------------------------------------------------------------
 * I/O hooks
 *
 * The engine asks for I/O through two hooks and is told the outcome through
 * completion functions; a third, the HTTPS POST hook, delivers TLS reports
 * for mtasts_rpt_post() under the same contract. The contract: if a hook returns an error, its
 * completion never runs and the request is over (the engine counts it as a
 * DNS or fetch failure). If it returns MTASTS_OK, the hook must call the
 * request's done function exactly once, inline or later, from any thread;
 * before done, it may call the request's other completion functions. The
 * completion functions copy their data. After done the request is freed:
 * using it again is undefined. A hook must not, on its own ctx, call
 * mtasts_ctx_free(), the blocking mtasts_lookup() or mtasts_lookup_result()
 * (a lookup of the domain in flight waits for this very hook: deadlock),
 * or a setter; mtasts_lookup_async() and the functions of other objects
 * are fine.
 *
 * Threads: the hooks are called from the thread that runs the lookup or
 * that completed the previous step. The completion functions may be called
 * from any thread (the done functions take the ctx lock; the others touch
 * only their request); one request must not be completed from two threads
 * at once.
 * ---------------------------------------------------------------------- */

/** One I/O request of the engine. */
typedef struct mtasts_req mtasts_req;

/** How a DNS TXT query ended. Values are stable. */
typedef enum mtasts_dns_rcode {
    MTASTS_DNS_ANSWER = 0,   /* records were added with mtasts_dns_add_txt */
    MTASTS_DNS_NXDOMAIN = 1, /* the name does not exist */
    MTASTS_DNS_NODATA = 2,   /* the name exists, with no TXT record */
    MTASTS_DNS_TEMPFAIL = 3  /* SERVFAIL, timeout, network error */
} mtasts_dns_rcode;

/**
 * Look up the TXT records of a name. CNAMEs are the resolver's business:
 * answer with the records at the end of the chain.
 * @param req   the request; finish it with mtasts_dns_done()
 * @param name  the query name, e.g. "_mta-sts.example.com" (ASCII, lower
 *              case, no trailing dot); valid until the hook returns
 * @param user  the pointer given to mtasts_ctx_set_dns_txt_hook()
 * @return MTASTS_OK (done will be called) or any error (it will not)
 */
typedef int mtasts_dns_txt_fn(mtasts_req *req, const char *name, void *user);

/**
 * Fetch https://HOST:PORT/PATH with GET: TLS with SNI HOST, the
 * certificate checked for the DNS-ID HOST against the context's trust
 * anchors, no redirects followed, no HTTP caching.
 * @param req   the request; report with mtasts_https_response(),
 *              mtasts_https_body() and finish with mtasts_https_done()
 * @param host  "mta-sts.<domain>"; valid until the hook returns
 * @param port  443 unless mtasts_ctx_set_https_port() said otherwise
 * @param path  "/.well-known/mta-sts.txt"
 * @param user  the pointer given to mtasts_ctx_set_https_get_hook()
 * @return MTASTS_OK (done will be called) or any error (it will not)
 */
typedef int mtasts_https_get_fn(mtasts_req *req, const char *host,
                                uint16_t port, const char *path, void *user);

/** A flag of mtasts_https_post_fn: the endpoint's certificate need not be
 * valid (RFC 8460 §3 allows it for reports; see
 * mtasts_ctx_set_rpt_https_verify()). TLS is still used. */
#define MTASTS_HTTPS_POST_NO_VERIFY 0x1u

/**
 * POST a TLS report to https://HOST:PORT/PATH (RFC 8460 §5.4): TLS with
 * SNI HOST, the certificate checked for the DNS-ID HOST against the
 * context's trust anchors unless flags has MTASTS_HTTPS_POST_NO_VERIFY,
 * no redirects followed. Report the response head with
 * mtasts_https_response() (its body is not wanted: mtasts_https_body()
 * takes and drops it) and finish with mtasts_https_done(), whose statuses
 * mean what they mean for the GET.
 * @param req           the request
 * @param host          the rua's host, a normalised host name; valid until
 *                      the hook returns
 * @param port          the rua's port (443 when it gives none)
 * @param path          the request target: path and query, "/..."
 * @param content_type  "application/tlsrpt+gzip"
 * @param body          the request body (the gzip'ed report); valid until
 *                      the hook returns: copy it to send later
 * @param len           its length in bytes
 * @param flags         0 or MTASTS_HTTPS_POST_NO_VERIFY; other bits are 0
 *                      (a hook may refuse unknown bits with an error)
 * @param user          the pointer given to mtasts_ctx_set_https_post_hook()
 * @return MTASTS_OK (done will be called) or any error (it will not)
 */
typedef int mtasts_https_post_fn(mtasts_req *req, const char *host,
                                 uint16_t port, const char *path,
                                 const char *content_type, const void *body,
                                 size_t len, uint32_t flags, void *user);

/**
 * Install the DNS TXT hook.
 * @param fn    the hook; NULL returns to the default (ldns)
 * @param user  passed to fn
 * @return MTASTS_OK, MTASTS_ERR_INVALID (ctx NULL)
 * Ownership: user is the caller's; it must outlive ctx.
 * Threads: per ctx.   Since: 1.0
 */
MTASTS_API int mtasts_ctx_set_dns_txt_hook(mtasts_ctx *ctx,
                                           mtasts_dns_txt_fn *fn, void *user);

/**
 * Install the HTTPS GET hook.
 * @param fn    the hook; NULL returns to the default (mbedTLS)
 * @param user  passed to fn
 * @return MTASTS_OK, MTASTS_ERR_INVALID (ctx NULL)
 * Ownership: user is the caller's; it must outlive ctx.
 * Threads: per ctx.   Since: 1.0
 */
MTASTS_API int mtasts_ctx_set_https_get_hook(mtasts_ctx *ctx,
                                             mtasts_https_get_fn *fn,
                                             void *user);

/**
 * Install the HTTPS POST hook that mtasts_rpt_post() uses.
 * @param fn    the hook; NULL returns to the default (mbedTLS, with the
 *              context's trust store, connect and fetch timeouts and
 *              resolver)
 * @param user  passed to fn
 * @return MTASTS_OK, MTASTS_ERR_INVALID (ctx NULL)
 * Ownership: user is the caller's; it must outlive ctx.
 * Threads: per ctx.   Since: 1.0
 */
MTASTS_API int mtasts_ctx_set_https_post_hook(mtasts_ctx *ctx,
                                              mtasts_https_post_fn *fn,
                                              void *user);

/**
 * Add one TXT record of the answer, its character-strings joined with
 * nothing in between (RFC 8461 §3.1).
 * @param req     a DNS request not yet done
 * @param record  the bytes (need not end in NUL); copied
 * @param len     their length, at most 65535
 * @return MTASTS_OK, MTASTS_ERR_NOMEM, MTASTS_ERR_TOO_LARGE (len above
 *         65535), MTASTS_ERR_STATE (req is not a DNS request),
 *         MTASTS_ERR_INVALID (req NULL, record NULL with len > 0).
 *         After NOMEM or TOO_LARGE the request is marked: its done fails
 *         it whatever rcode says (out of memory: a local failure; a record
 *         too long: a temporary DNS failure), so a subset of the records
 *         is never judged.
 * Threads: any thread.   Since: 1.0
 */
MTASTS_API int mtasts_dns_add_txt(mtasts_req *req, const char *record,
                                  size_t len);

/**
 * Finish a DNS request. Records added before count only with
 * MTASTS_DNS_ANSWER (an answer with none counts as NODATA).
 * @param req     a DNS request; freed by this call
 * @param rcode   how the query ended
 * @param reason  may be NULL; a short text for MTASTS_DNS_TEMPFAIL such as
 *                "SERVFAIL from 192.0.2.53"; copied
 * @return MTASTS_OK, MTASTS_ERR_STATE (not a DNS request; req is not
 *         freed), MTASTS_ERR_INVALID (req NULL, rcode unknown; req is not
 *         freed)
 * Threads: any thread.   Since: 1.0
 */
MTASTS_API int mtasts_dns_done(mtasts_req *req, mtasts_dns_rcode rcode,
                               const char *reason);

/**
 * Report the HTTP response head. Call it once, before any body.
 * @param req           an HTTPS request not yet done
 * @param http_status   the status code, e.g. 200
 * @param content_type  the Content-Type field value, or NULL when absent;
 *                      copied
 * @return MTASTS_OK, MTASTS_ERR_NOMEM (the request then fails at done as
 *         a local failure), MTASTS_ERR_STATE (not an HTTPS request, or
 *         called twice), MTASTS_ERR_INVALID (req NULL)
 * Threads: any thread.   Since: 1.0
 */
MTASTS_API int mtasts_https_response(mtasts_req *req, unsigned http_status,
                                     const char *content_type);

/**
 * Add body bytes (after any transfer decoding) of the response.
 * @param req   an HTTPS request whose response head was reported
 * @param data  the bytes; copied
 * @param len   their length
 * @return MTASTS_OK, MTASTS_ERR_TOO_LARGE (the body now exceeds the
 *         context's body cap: stop reading; the fetch fails),
 *         MTASTS_ERR_NOMEM (the request then fails at done as a local
 *         failure: a body with a gap is never parsed), MTASTS_ERR_STATE (no response head yet, or not
 *         an HTTPS request), MTASTS_ERR_INVALID (req NULL, data NULL with
 *         len > 0)
 * Threads: any thread.   Since: 1.0
 */
MTASTS_API int mtasts_https_body(mtasts_req *req, const void *data,
                                 size_t len);

/**
 * Finish an HTTPS request.
 * @param req     an HTTPS request; freed by this call
 * @param status  MTASTS_OK when the whole response was read;
 *                MTASTS_ERR_WEBPKI when the certificate was not valid for
 *                the host (RFC 8460 sts-webpki-invalid); MTASTS_ERR_FETCH
 *                for any other failure of the fetch (address lookup,
 *                connect, TLS, timeout, malformed HTTP, body too large);
 *                MTASTS_ERR_NOMEM or MTASTS_ERR_IO when this machine
 *                failed (memory, an unreadable trust store): a local
 *                failure, neither reported nor backed off
 * @param reason  may be NULL; a short text for failures; copied
 * @return MTASTS_OK, MTASTS_ERR_STATE (not an HTTPS request; req is not
 *         freed), MTASTS_ERR_INVALID (req NULL or another status; req is
 *         not freed)
 * Threads: any thread.   Since: 1.0
 */
MTASTS_API int mtasts_https_done(mtasts_req *req, int status,
                                 const char *reason);

/* ------------------------------------------------------------------------
 * Lookup: the policy to apply to a domain now (RFC 8461 §3, §5)
 *
 * Threads: any thread, concurrently; concurrent lookups of one domain share
 * one DNS query and one fetch.
 * ---------------------------------------------------------------------- */

/** The outcome of one lookup. */
typedef struct mtasts_result mtasts_result;

/**
 * Receives the outcome of mtasts_lookup_async().
 * @param result  borrowed: valid only until the callback returns (take a
 *                reference to its policy to keep it)
 * @param user    the pointer given to mtasts_lookup_async()
 * Threads: called once, from the thread that completed the last I/O step,
 * or from the caller's thread before mtasts_lookup_async() returns.
 */
typedef void mtasts_lookup_fn(const mtasts_result *result, void *user);

/**
 * Start a lookup of the policy a sender must apply to a domain now.
 * Unexpired cached policies answer at once; otherwise the TXT record is
 * queried and, when its id is new, the policy fetched, through the hooks.
 * A DNS or fetch failure never removes or replaces an unexpired cached
 * policy: the result then carries the cached policy and the failure.
 * @param ctx     the context
 * @param domain  the policy domain (the recipient domain, or the smart
 *                host's): ASCII, one trailing dot allowed, any case
 * @param cb      called exactly once with the outcome if this returns
 *                MTASTS_OK
 * @param user    passed to cb
 * @return MTASTS_OK (cb will run, possibly before this returns),
 *         MTASTS_ERR_BAD_DOMAIN (not a host name, e.g. an address literal:
 *         such a domain has no policy, RFC 8461 §3.4),
 *         MTASTS_ERR_NOT_ASCII (convert U-labels to A-labels first),
 *         MTASTS_ERR_NOMEM, MTASTS_ERR_INVALID (ctx, domain or cb NULL);
 *         on any error cb never runs
 * Threads: any thread.   Since: 1.0
 */
MTASTS_API int mtasts_lookup_async(mtasts_ctx *ctx, const char *domain,
                                   mtasts_lookup_fn *cb, void *user);

/**
 * Look up a policy and wait for the outcome (the same engine as
 * mtasts_lookup_async(); with the default I/O it runs in the calling
 * thread). With hooks that answer from an event loop, never call it from
 * that loop's thread.
 * @param ctx     the context
 * @param domain  the policy domain, as for mtasts_lookup_async()
 * @param out     receives the policy to apply (one reference) on MTASTS_OK;
 *                NULL otherwise
 * @return MTASTS_OK (apply *out, which may be in mode none),
 *         MTASTS_ERR_NO_POLICY, MTASTS_ERR_FETCH, MTASTS_ERR_WEBPKI,
 *         MTASTS_ERR_POLICY_INVALID (all four: deliver as without MTA-STS,
 *         RFC 8461 §3.3), MTASTS_ERR_DNS_TEMPFAIL (nothing cached and DNS
 *         failed: the RFC is silent; delivering as without MTA-STS is
 *         consistent with §3.3, deferring is the cautious choice),
 *         MTASTS_ERR_BAD_DOMAIN, MTASTS_ERR_NOT_ASCII, MTASTS_ERR_NOMEM,
 *         MTASTS_ERR_IO (the fetch could not start here: the default I/O
 *         cannot read the system CA bundle), MTASTS_ERR_INVALID (ctx,
 *         domain or out NULL)
 * Ownership: the caller owns *out; release with mtasts_policy_unref().
 * Threads: any thread.   Since: 1.0
 */
MTASTS_API int mtasts_lookup(mtasts_ctx *ctx, const char *domain,
                             mtasts_policy **out);

/**
 * mtasts_lookup() that gives the whole outcome: policy, TXT id, the
 * RFC 8460 classification of any failure and a reason.
 * @param out  receives the result whenever a lookup ran (then the return
 *             value equals mtasts_result_status(*out)); NULL on the
 *             argument errors and when memory ran out before the lookup
 *             started or while its result was copied (MTASTS_ERR_NOMEM)
 * @return as mtasts_lookup()
 * Ownership: the caller owns *out; release with mtasts_result_free().
 * Threads: any thread.   Since: 1.0
 */
MTASTS_API int mtasts_lookup_result(mtasts_ctx *ctx, const char *domain,
                                    mtasts_result **out);

/**
 * The status of the lookup: MTASTS_OK when a policy is to be applied, or
 * one of the discovery statuses listed at mtasts_lookup().
 * @param r  a result; NULL gives MTASTS_ERR_INVALID
 * Threads: immutable.   Since: 1.0
 */
MTASTS_API int mtasts_result_status(const mtasts_result *r);

/**
 * The policy to apply, or NULL when the status is not MTASTS_OK.
 * Ownership: borrowed from r; take a reference with mtasts_policy_ref()
 * to keep it longer.   Threads: immutable.   Since: 1.0
 */
MTASTS_API mtasts_policy *mtasts_result_policy(const mtasts_result *r);

/**
 * The normalised policy domain (lower case, no trailing dot).
 * Ownership: borrowed from r.   Threads: immutable.   Since: 1.0
 */
MTASTS_API const char *mtasts_result_domain(const mtasts_result *r);

/**
 * The id of the policy applied, or else of the TXT record seen; "" when
 * none is known.
 * Ownership: borrowed from r.   Threads: immutable.   Since: 1.0
 */
MTASTS_API const char *mtasts_result_txt_id(const mtasts_result *r);

/**
 * The reportable failure this lookup met (RFC 8460 §4.3, RFC 8461 §6):
 * MTASTS_RPT_STS_POLICY_FETCH_ERROR, MTASTS_RPT_STS_POLICY_INVALID,
 * MTASTS_RPT_STS_WEBPKI_INVALID, or MTASTS_RPT_NONE. It is set even when a
 * cached policy answered (a failed refresh is reportable unless that
 * policy's mode is none, in which case it is MTASTS_RPT_NONE).
 * Threads: immutable.   Since: 1.0
 */
MTASTS_API mtasts_rpt_result mtasts_result_failure(const mtasts_result *r);

/**
 * A short human-readable reason for a failure or for no policy, e.g.
 * "HTTP status 404 (only 200 is accepted)"; "" when there is none.
 * Ownership: borrowed from r.   Threads: immutable.   Since: 1.0
 */
MTASTS_API const char *mtasts_result_reason(const mtasts_result *r);

/**
 * A fixed, machine-readable code for the failure or the absence of a
 * policy, without names or addresses: "txt-lookup-failed", "txt-missing",
 * "txt-invalid", "txt-not-one-record", "policy-fetch-failed",
 * "policy-host-certificate", "policy-too-large", "http-status-NNN",
 * "content-type-missing", "content-type-not-text-plain",
 * "policy-invalid"; "" when there is none or the failure was local (out
 * of memory). It is the failure-reason-code that mtasts_rpt_record()
 * puts in TLS reports; the list may grow.
 * Ownership: borrowed from r.   Threads: immutable.   Since: 1.0
 */
MTASTS_API const char *mtasts_result_reason_code(const mtasts_result *r);

/**
 * Whether the policy came from the cache rather than a fetch made by this
 * lookup.
 * Threads: immutable.   Since: 1.0
 */
MTASTS_API bool mtasts_result_from_cache(const mtasts_result *r);

/**
 * When the applied policy expires (its fetch time plus max_age), in seconds
 * since the Unix epoch by the context's clock; 0 without a policy.
 * Threads: immutable.   Since: 1.0
 */
MTASTS_API int64_t mtasts_result_expires(const mtasts_result *r);

/**
 * Free a result from mtasts_lookup_result().
 * @param r  a result, or NULL
 * Threads: per result.   Since: 1.0
 */
MTASTS_API void mtasts_result_free(mtasts_result *r);

/* ------------------------------------------------------------------------
 * Policy cache: inspection, purge, bounded memory, persistence, refresh
 *
 * The context caches, per policy domain, the last policy fetched, its TXT
 * id, its fetch time and expiry (fetch time + max_age) and the time of the
 * last lookup of the domain ("last use"). The cache is bounded by a
 * capacity (mtasts_ctx_set_cache_capacity(): least recently used entries
 * go first, by second chance) and by idleness (mtasts_ctx_set_cache_max_idle_s(): entries
 * not looked up for that long go). docs/cache.md has the whole picture.
 *
 * A domain whose lookup is in flight is never freed: removing it empties
 * its entry (the lookup then finishes as if nothing had been cached).
 *
 * Threads: every function of this section but the setter may be called
 * from any thread, concurrently with lookups; each takes the cache's
 * locks briefly and never while a hook or callback runs. A snapshot is
 * immutable once made and may be read from any thread.
 * ---------------------------------------------------------------------- */

/** A copy of cache entries, read through indexed accessors. */
typedef struct mtasts_cache_snapshot mtasts_cache_snapshot;

/**
 * Take a snapshot of every cache entry that holds a policy (expired ones
 * included; domains remembered as having no policy are not listed), shard
 * by shard in the order of each shard's replacement list, roughly most
 * recently used first (sort by mtasts_cache_snapshot_last_used() when
 * order matters; docs/cache.md).
 * @param ctx  the context
 * @param out  receives the snapshot; NULL on any error
 * @return MTASTS_OK, MTASTS_ERR_NOMEM, MTASTS_ERR_INVALID (ctx or out NULL)
 * Ownership: the caller owns *out; release with
 *            mtasts_cache_snapshot_free(). It holds a reference to each
 *            policy, so later changes to the cache do not affect it.
 * Threads: any thread.   Since: 1.0
 */
MTASTS_API int mtasts_cache_snapshot_new(mtasts_ctx *ctx,
                                         mtasts_cache_snapshot **out);

/**
 * The number of entries in a snapshot.
 * @param s  a snapshot; NULL gives 0
 * Threads: immutable.   Since: 1.0
 */
MTASTS_API size_t mtasts_cache_snapshot_count(const mtasts_cache_snapshot *s);

/**
 * The normalised policy domain of entry i (lower case, no trailing dot).
 * @param s  a snapshot
 * @param i  index below mtasts_cache_snapshot_count()
 * @return a NUL-terminated string; NULL when s is NULL or i out of range
 * Ownership: borrowed from s.   Threads: immutable.   Since: 1.0
 */
MTASTS_API const char *
mtasts_cache_snapshot_domain(const mtasts_cache_snapshot *s, size_t i);

/**
 * The TXT id of entry i's policy.
 * @param s  a snapshot
 * @param i  index below mtasts_cache_snapshot_count()
 * @return a NUL-terminated string; NULL when s is NULL or i out of range
 * Ownership: borrowed from s.   Threads: immutable.   Since: 1.0
 */
MTASTS_API const char *
mtasts_cache_snapshot_txt_id(const mtasts_cache_snapshot *s, size_t i);

/**
 * The policy of entry i.
 * @param s  a snapshot
 * @param i  index below mtasts_cache_snapshot_count()
 * @return the policy; NULL when s is NULL or i out of range
 * Ownership: borrowed from s; take a reference with mtasts_policy_ref()
 *            to keep it longer.   Threads: immutable.   Since: 1.0
 */
MTASTS_API mtasts_policy *
mtasts_cache_snapshot_policy(const mtasts_cache_snapshot *s, size_t i);

/**
 * The mode of entry i's policy (mtasts_policy_mode() of its policy).
 * @param s  a snapshot
 * @param i  index below mtasts_cache_snapshot_count()
 * @return the mode; MTASTS_MODE_NONE when s is NULL or i out of range
 * Threads: immutable.   Since: 1.0
 */
MTASTS_API mtasts_mode
mtasts_cache_snapshot_mode(const mtasts_cache_snapshot *s, size_t i);

/**
 * When entry i's policy was fetched, in seconds since the Unix epoch by
 * the context's clock (mtasts_ctx_set_clock()).
 * @param s  a snapshot
 * @param i  index below mtasts_cache_snapshot_count()
 * @return the time; 0 when s is NULL or i out of range
 * Threads: immutable.   Since: 1.0
 */
MTASTS_API int64_t
mtasts_cache_snapshot_fetched_at(const mtasts_cache_snapshot *s, size_t i);

/**
 * When entry i's policy expires: its fetch time plus max_age. It is
 * applied strictly before that time.
 * @param s  a snapshot
 * @param i  index below mtasts_cache_snapshot_count()
 * @return the time; 0 when s is NULL or i out of range
 * Threads: immutable.   Since: 1.0
 */
MTASTS_API int64_t
mtasts_cache_snapshot_expires(const mtasts_cache_snapshot *s, size_t i);

/**
 * When entry i's domain was last looked up (mtasts_lookup*(); a refresh
 * is no use).
 * @param s  a snapshot
 * @param i  index below mtasts_cache_snapshot_count()
 * @return the time; 0 when s is NULL or i out of range
 * Threads: immutable.   Since: 1.0
 */
MTASTS_API int64_t
mtasts_cache_snapshot_last_used(const mtasts_cache_snapshot *s, size_t i);

/**
 * Free a snapshot and its policy references.
 * @param s  a snapshot, or NULL (nothing happens)
 * Threads: per snapshot.   Since: 1.0
 */
MTASTS_API void mtasts_cache_snapshot_free(mtasts_cache_snapshot *s);

/**
 * Remove a domain from the cache: its policy, and anything remembered
 * about it (no policy, a failed fetch and its back-off). The next lookup
 * starts afresh. With a lookup of the domain in flight, the entry is
 * emptied rather than freed, and that lookup may store a new policy.
 * @param ctx     the context
 * @param domain  the policy domain, as for mtasts_lookup() (any case, one
 *                trailing dot allowed)
 * With store hooks (mtasts_ctx_set_store_hooks()) the domain is also
 * deleted from the store, whether or not it was in memory.
 * @return MTASTS_OK, MTASTS_ERR_NOT_FOUND (the domain has no entry, and
 *         no store), MTASTS_ERR_STORE (the store's delete failed; the
 *         in-memory entry is removed all the same), MTASTS_ERR_BAD_DOMAIN,
 *         MTASTS_ERR_NOT_ASCII, MTASTS_ERR_INVALID (ctx or domain NULL)
 * Threads: any thread.   Since: 1.0
 */
MTASTS_API int mtasts_cache_remove(mtasts_ctx *ctx, const char *domain);

/**
 * Remove every entry, as mtasts_cache_remove() does each.
 * @param ctx          the context
 * @param removed_out  may be NULL; receives the number of entries removed
 *                     (0 on error)
 * @return MTASTS_OK, MTASTS_ERR_INVALID (ctx NULL)
 * Threads: any thread.   Since: 1.0
 */
MTASTS_API int mtasts_cache_clear(mtasts_ctx *ctx, size_t *removed_out);

/**
 * How long an entry may go without a lookup before it is removed, in
 * seconds (refreshes do not count as use). Idle entries are dropped a few
 * at a time as new domains are cached, all at once by
 * mtasts_cache_remove_idle(), and are skipped by mtasts_cache_load().
 * An idle entry goes even when its policy has not expired: the sender no
 * longer mails the domain. 0 keeps entries however long they are unused.
 * Default 15552000 (180 days).
 * @return MTASTS_OK, MTASTS_ERR_INVALID (ctx NULL)
 * Threads: per ctx.   Since: 1.0
 */
MTASTS_API int mtasts_ctx_set_cache_max_idle_s(mtasts_ctx *ctx,
                                               uint32_t seconds);

/**
 * Remove every entry not looked up for the idle time of
 * mtasts_ctx_set_cache_max_idle_s() (nothing when it is 0), at the
 * context's clock. Entries with a lookup in flight stay.
 * @param ctx          the context
 * @param removed_out  may be NULL; receives the number removed (0 on
 *                     error)
 * @return MTASTS_OK, MTASTS_ERR_INVALID (ctx NULL)
 * Threads: any thread.   Since: 1.0
 */
MTASTS_API int mtasts_cache_remove_idle(mtasts_ctx *ctx, size_t *removed_out);

/**
 * Save the cache to a file (docs/cache-format.md): every entry holding an
 * unexpired policy, with its domain, TXT id, policy text, fetch time,
 * expiry and last use. The file is written to a temporary file in the
 * same directory (mode 0600), synced, renamed over path and the directory
 * synced, so a crash leaves either the old file or the new one, never a
 * torn one. Lookups go on meanwhile: the entries are copied under the
 * cache's locks first, and the file is written without any lock.
 * @param ctx   the context
 * @param path  the file to write, NUL-terminated; its directory must be
 *              writable
 * @return MTASTS_OK, MTASTS_ERR_IO (the temporary file cannot be created,
 *         written or synced, or the rename failed: path is then untouched
 *         and the temporary file removed; or only the final sync of the
 *         directory failed: the new file is in place but may not survive
 *         a crash), MTASTS_ERR_NOMEM,
 *         MTASTS_ERR_INVALID (ctx or path NULL, path empty)
 * Ownership: nothing is kept.   Threads: any thread.   Since: 1.0
 */
MTASTS_API int mtasts_cache_save(mtasts_ctx *ctx, const char *path);

/**
 * Load a file written by mtasts_cache_save() into the cache. The whole
 * file is checked before anything changes: header, each record's length
 * and CRC-32, each domain (a normalised host name) and TXT id (RFC 8461
 * §3.1 grammar), each policy (parsed again by mtasts_policy_parse()), each
 * expiry (fetch time + max_age), no domain twice, nothing after the last
 * record. Any fault refuses the whole file and leaves the cache as it
 * was. Entries that have expired, or that are idle by
 * mtasts_ctx_set_cache_max_idle_s(), are checked and then skipped. The
 * rest is merged: a domain not cached, or cached with an older fetch
 * time, takes the file's policy; the last use is the later of the two;
 * the TXT record of a loaded policy is checked again at its next lookup.
 * Capacity applies as usual (the file's most recently used entries win).
 * @param ctx   the context
 * @param path  the file, NUL-terminated
 * @param err   may be NULL; on MTASTS_ERR_CACHE_FORMAT and
 *              MTASTS_ERR_CACHE_CORRUPT `offset` is the byte offset of
 *              the fault in the file and `message` says what it is (line
 *              and column are 0: the file has no lines); on other errors
 *              a message only
 * @return MTASTS_OK, MTASTS_ERR_NOT_FOUND (no file at path: an empty
 *         cache, for a first start), MTASTS_ERR_IO (cannot be read, or not
 *         a regular file), MTASTS_ERR_CACHE_FORMAT (not a cache file, or
 *         another format version), MTASTS_ERR_CACHE_CORRUPT (truncated,
 *         bad length or checksum, a policy that no longer parses, a bad
 *         domain or id, a repeated domain, an absurd count, trailing
 *         bytes), MTASTS_ERR_NOMEM, MTASTS_ERR_INVALID (ctx or path NULL)
 * Ownership: nothing is kept.   Threads: any thread.   Since: 1.0
 */
MTASTS_API int mtasts_cache_load(mtasts_ctx *ctx, const char *path,
                                 mtasts_parse_error *err);

/**
 * The entries due for a proactive refresh (RFC 8461 §3.3: refresh cached
 * policies before they expire, whether or not mail is waiting), as a
 * snapshot to walk with mtasts_refresh_async() or mtasts_refresh(). An
 * entry holding a policy, with no lookup in flight, is due when
 *  - it was used within used_within_s (0: whatever its last use) and its
 *    policy expires within expiring_within_s (0: never by this rule), or
 *  - its TXT record was not checked for recheck_after_s (0: never by this
 *    rule).
 * Each entry's windows are widened by a random share (0 to the jitter of
 * mtasts_ctx_set_refresh_jitter_s(), drawn anew for each entry and call),
 * so that the MTAs of a fleet, or the entries fetched in one burst, do not
 * refresh in lockstep. docs/cache.md gives the recommended loop.
 * @param ctx                the context
 * @param used_within_s      "in use": last lookup at most this long ago
 * @param expiring_within_s  "expiring": expiry at most this far ahead
 *                           (already expired counts)
 * @param recheck_after_s    "not re-checked": TXT checked at least this
 *                           long ago
 * @param out                receives the snapshot; NULL on any error
 * @return MTASTS_OK, MTASTS_ERR_NOMEM, MTASTS_ERR_INVALID (ctx or out
 *         NULL)
 * Ownership: the caller owns *out; release with
 *            mtasts_cache_snapshot_free().
 * Threads: any thread.   Since: 1.0
 */
MTASTS_API int mtasts_cache_due(mtasts_ctx *ctx, uint32_t used_within_s,
                                uint32_t expiring_within_s,
                                uint32_t recheck_after_s,
                                mtasts_cache_snapshot **out);

/**
 * Refresh one cached domain now: query its TXT record at once (whatever
 * mtasts_ctx_set_txt_check_interval_s() says) and fetch the policy again
 * only when the id changed, or when the cached policy expires within the
 * window of mtasts_ctx_set_refresh_fetch_window_s(); in that window the
 * policy is fetched even when the TXT query fails or finds no record
 * (RFC 8461 §10.2). A successful fetch replaces the policy and restarts
 * its lifetime; a failure never removes or shortens the cached policy.
 * A refresh is no use of the entry (its last use stays). It shares a
 * lookup of the same domain already in flight.
 *
 * This is also the re-check RFC 8461 §5.1 requires before a message held
 * back by an enforce policy is failed permanently (CHECKLIST R8461-5-d):
 * refresh the domain; if the result's policy now accepts an MX, retry
 * delivery, else keep the message queued (a temporary failure).
 * @param ctx     the context
 * @param domain  the policy domain, as for mtasts_lookup()
 * @param cb      called exactly once with the outcome, as for
 *                mtasts_lookup_async(), if this returns MTASTS_OK
 * @param user    passed to cb
 * @return MTASTS_OK (cb will run, possibly before this returns),
 *         MTASTS_ERR_NOT_FOUND (the domain has no cache entry: look it up
 *         instead), MTASTS_ERR_BAD_DOMAIN, MTASTS_ERR_NOT_ASCII,
 *         MTASTS_ERR_NOMEM, MTASTS_ERR_INVALID (ctx, domain or cb NULL);
 *         on any error cb never runs
 * Threads: any thread.   Since: 1.0
 */
MTASTS_API int mtasts_refresh_async(mtasts_ctx *ctx, const char *domain,
                                    mtasts_lookup_fn *cb, void *user);

/**
 * mtasts_refresh_async() that waits for the outcome (as
 * mtasts_lookup_result() waits for a lookup).
 * @param ctx     the context
 * @param domain  the policy domain
 * @param out     receives the result whenever a refresh ran (then the
 *                return value equals mtasts_result_status(*out)); NULL
 *                otherwise
 * @return the statuses of mtasts_lookup(), and MTASTS_ERR_NOT_FOUND (the
 *         domain has no cache entry; *out NULL)
 * Ownership: the caller owns *out; release with mtasts_result_free().
 * Threads: any thread; never from a hook of the same ctx.   Since: 1.0
 */
MTASTS_API int mtasts_refresh(mtasts_ctx *ctx, const char *domain,
                              mtasts_result **out);

/**
 * How close to its expiry a refreshed policy is fetched again even with
 * an unchanged TXT id, in seconds. 0 fetches only on a new id (the policy
 * may then expire while in use). Default 86400 (one day).
 * @return MTASTS_OK, MTASTS_ERR_INVALID (ctx NULL, above 31557600)
 * Threads: per ctx.   Since: 1.0
 */
MTASTS_API int mtasts_ctx_set_refresh_fetch_window_s(mtasts_ctx *ctx,
                                                     uint32_t seconds);

/**
 * The most by which mtasts_cache_due() widens an entry's windows, at
 * random, in seconds. 0: no jitter. Default 3600.
 * @return MTASTS_OK, MTASTS_ERR_INVALID (ctx NULL, above 31557600)
 * Threads: per ctx.   Since: 1.0
 */
MTASTS_API int mtasts_ctx_set_refresh_jitter_s(mtasts_ctx *ctx,
                                               uint32_t seconds);

/**
 * Seed the context's pseudo-random numbers (the refresh jitter), for
 * reproducible tests. Default: a seed from the clock and the context's
 * address. The numbers are not for anything secret.
 * @return MTASTS_OK, MTASTS_ERR_INVALID (ctx NULL)
 * Threads: per ctx.   Since: 1.0
 */
MTASTS_API int mtasts_ctx_set_random_seed(mtasts_ctx *ctx, uint64_t seed);

/**
 * A refresh failed for a cached policy that matters (RFC 8461 §3.3:
 * "alert administrators", CHECKLIST R8461-3.3-p): mtasts_refresh() or
 * mtasts_refresh_async() of a domain whose cached policy (unexpired or
 * expired) has mode testing or enforce ended without validating it again:
 * the TXT query failed or found no usable record, the fetch failed or was
 * held back by the backoff, the new policy did not parse, or memory ran
 * out. Never called for a cached policy in mode none, for lookups, or for
 * a domain with no cached policy. With the refresh loop of docs/cache.md
 * it comes early (the refresh window) and again at each failed refresh
 * until the policy is refreshed or expires.
 * @param domain   the normalised policy domain, NUL-terminated
 * @param status   what failed: MTASTS_ERR_DNS_TEMPFAIL, MTASTS_ERR_NO_POLICY,
 *                 MTASTS_ERR_FETCH, MTASTS_ERR_WEBPKI,
 *                 MTASTS_ERR_POLICY_INVALID, MTASTS_ERR_IO, MTASTS_ERR_NOMEM
 * @param mode     the cached policy's mode (testing or enforce)
 * @param expires  the cached policy's expiry (seconds since the epoch, by
 *                 the ctx's clock); at or before now when already expired
 * @param message  what happened, as the refresh result's reason
 * @param user     the pointer given to mtasts_ctx_set_alert_hook()
 * The strings are valid until the hook returns.
 * Threads: called from the thread that completes the refresh (the caller
 * of mtasts_refresh(), or of mtasts_dns_done()/mtasts_https_done()), with
 * no library lock held, before the refresh's callback runs. It must be
 * thread-safe and must not call mtasts_ctx_free() or a setter on its ctx.
 */
typedef void mtasts_alert_fn(const char *domain, int status, mtasts_mode mode,
                             int64_t expires, const char *message,
                             void *user);

/**
 * Install the refresh-failure alert (see mtasts_alert_fn). Default: none.
 * @param ctx   the context
 * @param fn    the hook, or NULL to remove it
 * @param user  passed to fn
 * @return MTASTS_OK, MTASTS_ERR_INVALID (ctx NULL)
 * Ownership: user is the caller's; it must outlive ctx.
 * Threads: per ctx.   Since: 1.0
 */
MTASTS_API int mtasts_ctx_set_alert_hook(mtasts_ctx *ctx, mtasts_alert_fn *fn,
                                         void *user);

/* ------------------------------------------------------------------------
 * Policy cache: a second-level store shared by a fleet of MTAs
 *
 * With store hooks, the cache asks the store for a domain it holds no
 * usable policy for, before going to the network, and writes every policy
 * it fetches to the store, so that the MTAs of a fleet share one cache:
 * each domain's policy is fetched once, and every node enforces the same.
 * The value is one record of the cache file format (docs/cache-format.md:
 * self-describing, with a checksum; checked like a file's record). A store
 * failure never fails a lookup: the in-memory cache goes on, and the
 * result says what failed (mtasts_result_store_status()).
 * examples/redis-store is a store on Redis.
 *
 * Threads: the hooks are called from the threads that run lookups,
 * concurrently, with no library lock held; they must be thread-safe. A
 * hook must not call mtasts_ctx_free() or a setter on its ctx.
 * ---------------------------------------------------------------------- */

/** The largest store value: a record with the longest domain, id and
 *  policy (38 + 253 + 32 + 65536 + 4 bytes). */
#define MTASTS_STORE_VALUE_MAX 65863

/**
 * Read a domain's value from the store.
 * @param domain  the normalised policy domain, NUL-terminated (the key;
 *                prefixing it is the store's business)
 * @param buf     where to copy the value
 * @param cap     the size of buf: MTASTS_STORE_VALUE_MAX
 * @param len     receives the value's length on MTASTS_OK
 * @param user    the pointer given to mtasts_ctx_set_store_hooks()
 * @return MTASTS_OK (a value was copied), MTASTS_ERR_NOT_FOUND (no value),
 *         MTASTS_ERR_TOO_LARGE (a value longer than cap: refused), or any
 *         other negative status for a store failure
 */
typedef int mtasts_store_get_fn(const char *domain, unsigned char *buf,
                                size_t cap, size_t *len, void *user);

/**
 * Write a domain's value to the store, replacing any.
 * @param domain  the normalised policy domain (the key)
 * @param value   the record; valid until the hook returns
 * @param len     its length, at most MTASTS_STORE_VALUE_MAX
 * @param ttl_s   seconds until the policy expires (at least 1): a store
 *                with expiry (Redis EXPIRE) should drop the value then
 * @param user    the pointer given to mtasts_ctx_set_store_hooks()
 * @return MTASTS_OK, or any negative status for a store failure
 */
typedef int mtasts_store_put_fn(const char *domain,
                                const unsigned char *value, size_t len,
                                int64_t ttl_s, void *user);

/**
 * Delete a domain's value from the store (mtasts_cache_remove()).
 * @param domain  the normalised policy domain (the key)
 * @param user    the pointer given to mtasts_ctx_set_store_hooks()
 * @return MTASTS_OK (deleted, or there was none), or any negative status
 *         for a store failure
 */
typedef int mtasts_store_delete_fn(const char *domain, void *user);

/**
 * Install the store hooks: all three, or none (all NULL: no store, the
 * default). The store is asked (get) when a lookup finds no usable policy
 * in memory, before DNS: a valid, unexpired value is taken as cached (its
 * TXT record is then checked and, with the same id, no fetch is made); a
 * value that fails the record checks, or belongs to another domain, is
 * ignored and reported as MTASTS_ERR_CACHE_CORRUPT. After every
 * successful fetch the policy is written (put). mtasts_cache_remove() also
 * deletes the domain from the store. Refreshes do not read the store
 * (they are about the network) but write to it like lookups.
 * @param get   the read hook
 * @param put   the write hook
 * @param del   the delete hook
 * @param user  passed to the hooks
 * @return MTASTS_OK, MTASTS_ERR_INVALID (ctx NULL, or some hooks NULL and
 *         not all)
 * Ownership: user is the caller's; it must outlive ctx.
 * Threads: per ctx.   Since: 1.0
 */
MTASTS_API int mtasts_ctx_set_store_hooks(mtasts_ctx *ctx,
                                          mtasts_store_get_fn *get,
                                          mtasts_store_put_fn *put,
                                          mtasts_store_delete_fn *del,
                                          void *user);

/**
 * What went wrong with the store during a lookup or refresh: MTASTS_OK
 * (nothing, or no store), MTASTS_ERR_STORE (a hook failed),
 * MTASTS_ERR_CACHE_CORRUPT (the store's value was refused), MTASTS_ERR_NOMEM
 * (no memory to talk to the store). The lookup's own status and policy are
 * as without a store.
 * @param r  a result; NULL gives MTASTS_ERR_INVALID
 * Threads: immutable.   Since: 1.0
 */
MTASTS_API int mtasts_result_store_status(const mtasts_result *r);

/* ------------------------------------------------------------------------
 * MX verification and delivery decisions (RFC 8461 §4, §5)
 *
 * For each MX host it tries, an MTA applying a policy in mode testing or
 * enforce checks that the host matches one of the policy's mx patterns and
 * that the certificate it presented after STARTTLS is valid for the host
 * (RFC 8461 §4). mtasts_verify_mx() does both on the DER chain the MTA's
 * own TLS stack received; mtasts_decide() turns the outcome into what to
 * do with the message; mtasts_probe_mx() runs a whole SMTP STARTTLS
 * session itself (checkers, scanners, tools). docs/verify.md has the
 * recommended delivery loop.
 *
 * Threads: a check is immutable once made and may be read from any
 * thread; verification and probes may run on any thread, concurrently.
 * ---------------------------------------------------------------------- */

/** The outcome of checking one MX host. */
typedef struct mtasts_mx_check mtasts_mx_check;

/**
 * Check an MX host against a policy and the certificate chain the host
 * presented in its TLS handshake (RFC 8461 §4.1, §4.2). Every check runs
 * in every mode, so testing-mode failures can be reported:
 *  - the host matches one of the policy's mx patterns (§4.1);
 *  - the leaf certificate has a subjectAltName dNSName valid for the host
 *    (the subject CN is never used; a wildcard only as the whole leftmost
 *    label, matching one label);
 *  - the chain leads to a trust anchor of the context's CA store
 *    (mtasts_ctx_set_ca_file/_dir, else the system bundle), with the
 *    intermediates given after the leaf, in any order;
 *  - every certificate on that path is inside its validity period at the
 *    context's clock (mtasts_ctx_set_clock).
 * @param ctx      the context: trust store and clock
 * @param policy   the policy to apply; NULL checks the certificate alone
 *                 (then the host "matches" nothing)
 * @param mx_host  the MX host name as published in the MX record,
 *                 NUL-terminated; one trailing dot allowed, any case; a
 *                 name that is not a valid ASCII host name fails the check
 *                 (validation-failure), it is not an argument error
 * @param chain    n DER certificates, leaf first, as received; each
 *                 chain[i] is lens[i] bytes
 * @param lens     their lengths
 * @param n        the number of certificates; 0 (no certificate) fails the
 *                 check (validation-failure)
 * @param out      receives the check on MTASTS_OK; NULL otherwise
 * @return MTASTS_OK whenever the check was made, whatever it found;
 *         MTASTS_ERR_IO (the system CA bundle cannot be read),
 *         MTASTS_ERR_NOMEM, MTASTS_ERR_INVALID (ctx, mx_host or out NULL;
 *         chain or lens NULL with n > 0; a NULL certificate; n above 64)
 * Ownership: the caller owns *out; release with mtasts_mx_check_free().
 *            chain, lens and the policy are only read during the call.
 * Threads: any thread, concurrently.   Since: 1.0
 */
MTASTS_API int mtasts_verify_mx(mtasts_ctx *ctx, const mtasts_policy *policy,
                                const char *mx_host,
                                const unsigned char *const *chain,
                                const size_t *lens, size_t n,
                                mtasts_mx_check **out);

/**
 * Run an SMTP session with an MX host to test its STARTTLS and check it:
 * connect (to addr, or to each address of mx_host through the context's
 * resolver in turn until one answers), read the banner, EHLO, STARTTLS,
 * TLS handshake (SNI = mx_host; any certificate is accepted by the
 * handshake and judged afterwards), then QUIT, and give the received chain
 * to the checks of mtasts_verify_mx(). Each step is bounded by the SMTP
 * timeout (mtasts_ctx_set_smtp_timeout_ms), the connection by the connect
 * timeout, the address lookup by the DNS timeout, and the whole probe by
 * 2 DNS + 2 connect + 5 SMTP timeouts (180 s with the defaults). Blocks
 * the calling thread; ignores the I/O hooks.
 * @param ctx      the context: resolver, trust store, clock, timeouts,
 *                 HELO name
 * @param policy   the policy to check against, or NULL
 * @param mx_host  the MX host name, NUL-terminated
 * @param addr     an IPv4 or IPv6 address in text to connect to, or NULL
 *                 to resolve mx_host (AAAA and A records)
 * @param port     the TCP port; 0 means 25
 * @param out      receives the check whenever the session was attempted
 *                 (all returns but MTASTS_ERR_INVALID and MTASTS_ERR_NOMEM);
 *                 NULL otherwise
 * @return MTASTS_OK when the TLS outcome is known: STARTTLS missing from
 *         EHLO or refused (starttls-not-supported), a failed handshake
 *         (validation-failure) and certificate failures included;
 *         MTASTS_ERR_CONNECT, MTASTS_ERR_TIMEOUT, MTASTS_ERR_PROTOCOL when
 *         the session ended before STARTTLS (not an MTA-STS failure,
 *         RFC 8461 §5.1: the check's result is MTASTS_RPT_NONE and its
 *         reason says what happened); MTASTS_ERR_IO (CA bundle unreadable,
 *         or the TLS client could not be set up, e.g. no entropy),
 *         MTASTS_ERR_NOMEM, MTASTS_ERR_INVALID (ctx, mx_host or out NULL,
 *         addr not an IP address, mx_host not a host name)
 * Ownership: the caller owns *out; release with mtasts_mx_check_free().
 * Threads: any thread, concurrently.   Since: 1.0
 */
MTASTS_API int mtasts_probe_mx(mtasts_ctx *ctx, const mtasts_policy *policy,
                               const char *mx_host, const char *addr,
                               uint16_t port, mtasts_mx_check **out);

/**
 * The status of the check: MTASTS_OK when its TLS outcome is known (always
 * for mtasts_verify_mx()), else the error mtasts_probe_mx() returned.
 * @param c  a check; NULL gives MTASTS_ERR_INVALID
 * Threads: immutable.   Since: 1.0
 */
MTASTS_API int mtasts_mx_check_status(const mtasts_mx_check *c);

/**
 * The MX host checked, normalised (lower case, no trailing dot); as given
 * when it is not a valid host name.
 * Ownership: borrowed from c.   Threads: immutable.   Since: 1.0
 */
MTASTS_API const char *mtasts_mx_check_host(const mtasts_mx_check *c);

/**
 * The address the probe connected to, in text ("192.0.2.25", "2001:db8::25");
 * "" for mtasts_verify_mx() and when no connection was made.
 * Ownership: borrowed from c.   Threads: immutable.   Since: 1.0
 */
MTASTS_API const char *mtasts_mx_check_ip(const mtasts_mx_check *c);

/**
 * Whether the host matched one of the policy's mx patterns (false without
 * a policy).
 * Threads: immutable.   Since: 1.0
 */
MTASTS_API bool mtasts_mx_check_matches(const mtasts_mx_check *c);

/**
 * The outcome of the TLS part alone (STARTTLS and the certificate), as an
 * RFC 8460 result type: MTASTS_RPT_NONE when the certificate is valid for
 * the host, else MTASTS_RPT_STARTTLS_NOT_SUPPORTED,
 * MTASTS_RPT_CERTIFICATE_NOT_TRUSTED (no path to a trust anchor),
 * MTASTS_RPT_CERTIFICATE_EXPIRED (a certificate on the path has expired),
 * MTASTS_RPT_CERTIFICATE_HOST_MISMATCH (no DNS-ID valid for the host) or
 * MTASTS_RPT_VALIDATION_FAILURE (anything else: no certificate, bad DER,
 * not yet valid, bad signature, failed handshake). When several problems
 * exist, the first in that order is given; the reason names them all.
 * This is the value to pass to mtasts_decide(). Meaningful only when
 * mtasts_mx_check_status() is MTASTS_OK; otherwise MTASTS_RPT_NONE (a
 * session that ended before STARTTLS is no MTA-STS failure).
 * Threads: immutable.   Since: 1.0
 */
MTASTS_API mtasts_rpt_result mtasts_mx_check_tls(const mtasts_mx_check *c);

/**
 * The result type to report for a session with this MX under the policy
 * (RFC 8460 §4.3): MTASTS_RPT_VALIDATION_FAILURE when a policy was given
 * and the host matched none of its patterns (RFC 8460 has no type for
 * that, CHECKLIST E-15), else mtasts_mx_check_tls().
 * Threads: immutable.   Since: 1.0
 */
MTASTS_API mtasts_rpt_result mtasts_mx_check_result(const mtasts_mx_check *c);

/**
 * A fixed, machine-readable code for the reported failure, for the
 * failure-reason-code of a TLS report: "mx-mismatch" (no mx pattern
 * matched), "starttls-not-offered", "starttls-refused", "no-certificate",
 * "certificate-malformed", "certificate-not-trusted",
 * "certificate-expired", "certificate-not-yet-valid",
 * "certificate-host-mismatch", "certificate-invalid", "tls-handshake",
 * or "" when mtasts_mx_check_result() is MTASTS_RPT_NONE.
 * docs/verify.md lists when each is given.
 * Ownership: static.   Threads: immutable.   Since: 1.0
 */
MTASTS_API const char *mtasts_mx_check_reason_code(const mtasts_mx_check *c);

/**
 * A human-readable account of the check, e.g. "certificate not valid for
 * mx.example.com (DNS-IDs: other.example)"; "" when every check passed.
 * Ownership: borrowed from c.   Threads: immutable.   Since: 1.0
 */
MTASTS_API const char *mtasts_mx_check_reason(const mtasts_mx_check *c);

/**
 * Free a check.
 * @param c  a check, or NULL
 * Threads: per check.   Since: 1.0
 */
MTASTS_API void mtasts_mx_check_free(mtasts_mx_check *c);

/** What to do with a message for one MX host (RFC 8461 §5). Stable. */
typedef enum mtasts_verdict {
    MTASTS_VERDICT_DELIVER = 0, /* deliver: no policy applies, mode none,
                                   or every check passed */
    MTASTS_VERDICT_DELIVER_REPORT = 1, /* testing mode and a check failed:
                                          deliver as without MTA-STS, and
                                          report the failure */
    MTASTS_VERDICT_REFUSE = 2, /* enforce mode and a check failed: do not
                                  deliver to this MX; a temporary failure
                                  (try the next MX, then retry later),
                                  never a bounce */
    MTASTS_VERDICT_DANE = 3    /* the MX has usable DNSSEC-validated TLSA
                                  records: DANE decides, not MTA-STS */
} mtasts_verdict;

/** mtasts_decide() flag: the MTA found usable DNSSEC-validated TLSA
 *  records for this MX (RFC 7672); DANE takes precedence (RFC 8461 §2). */
#define MTASTS_DECIDE_DANE 0x1u

/**
 * Decide whether a message may go to an MX host (RFC 8461 §5): without a
 * policy or in mode none, deliver; otherwise the host must match an mx
 * pattern and tls must be MTASTS_RPT_NONE, else testing gives
 * DELIVER_REPORT and enforce REFUSE. With MTASTS_DECIDE_DANE the verdict
 * is MTASTS_VERDICT_DANE whatever the policy says.
 * @param policy   the policy to apply, or NULL
 * @param mx_host  the MX host name (NUL-terminated); NULL or not a host
 *                 name matches no pattern
 * @param tls      the TLS outcome: mtasts_mx_check_tls(), or the MTA's own
 *                 classification: MTASTS_RPT_NONE (valid),
 *                 MTASTS_RPT_STARTTLS_NOT_SUPPORTED, one of the
 *                 MTASTS_RPT_CERTIFICATE_* types or
 *                 MTASTS_RPT_VALIDATION_FAILURE
 * @param flags    0 or MTASTS_DECIDE_DANE
 * @param out      receives the verdict
 * @return MTASTS_OK, MTASTS_ERR_INVALID (out NULL, tls another type, an
 *         unknown flag)
 * Threads: pure.   Since: 1.0
 */
MTASTS_API int mtasts_decide(const mtasts_policy *policy, const char *mx_host,
                             mtasts_rpt_result tls, unsigned flags,
                             mtasts_verdict *out);

/**
 * The name of a verdict: "deliver", "deliver-and-report", "refuse", "dane";
 * "unknown" for other values.
 * Ownership: static.   Threads: pure.   Since: 1.0
 */
MTASTS_API const char *mtasts_verdict_name(mtasts_verdict v);

/**
 * The per-step timeout of mtasts_probe_mx(): each SMTP reply, each write
 * and the TLS handshake. Default 30000 (30 s).
 * @return MTASTS_OK, MTASTS_ERR_INVALID (ctx NULL, 0, above 600000)
 * Threads: per ctx.   Since: 1.0
 */
MTASTS_API int mtasts_ctx_set_smtp_timeout_ms(mtasts_ctx *ctx, uint32_t ms);

/**
 * The name mtasts_probe_mx() gives in EHLO. Default "localhost".
 * @param name  a host name (copied)
 * @return MTASTS_OK, MTASTS_ERR_BAD_DOMAIN, MTASTS_ERR_NOT_ASCII,
 *         MTASTS_ERR_NOMEM, MTASTS_ERR_INVALID (ctx or name NULL)
 * Threads: per ctx.   Since: 1.0
 */
MTASTS_API int mtasts_ctx_set_helo_name(mtasts_ctx *ctx, const char *name);

/* ------------------------------------------------------------------------
 * TLS reporting (RFC 8460): the _smtp._tls record
 *
 * A domain that wants TLS reports publishes a TXT record at
 * "_smtp._tls." + the policy domain, e.g. "v=TLSRPTv1;
 * rua=mailto:tlsrpt@example.com" (RFC 8460 §3). These calls parse it.
 *
 * Threads: parsing is pure; a parsed record is immutable.
 * ---------------------------------------------------------------------- */

/** A parsed _smtp._tls record. */
typedef struct mtasts_tlsrpt mtasts_tlsrpt;

/** The scheme of a report destination (rua). Values are stable. */
typedef enum mtasts_rua_scheme {
    MTASTS_RUA_MAILTO = 1, /* report by mail, RFC 6068 address */
    MTASTS_RUA_HTTPS = 2   /* report by HTTPS POST */
} mtasts_rua_scheme;

/**
 * Parse one _smtp._tls TXT record, its character-strings joined with
 * nothing in between (RFC 8460 §3). The version comes first and is
 * case-sensitive; fields are separated by *WSP ";" *WSP with an optional
 * trailing ";"; "rua" is required and holds one or more URIs separated by
 * *WSP "," *WSP, each RFC 3986 characters with "," "!" ";" percent-encoded.
 * mailto: URIs need an address whose domain is a valid host name, https:
 * URIs a valid host (and port); both are kept in order. URIs of other
 * schemes are checked and ignored. Unknown fields are checked and ignored;
 * a repeated field counts once (the first), but a repeated "v" must be
 * TLSRPTv1 and a repeated "rua" must be valid.
 * @param record  the record; need not end in NUL
 * @param len     its length in bytes
 * @param out     receives the record on MTASTS_OK; NULL otherwise
 * @param err     may be NULL; on failure says where and why
 * @return MTASTS_OK, MTASTS_ERR_SYNTAX (not the grammar; err has the
 *         position), MTASTS_ERR_NO_TLSRPT (valid, but no mailto: or https:
 *         URI: nowhere to send reports), MTASTS_ERR_NOMEM,
 *         MTASTS_ERR_INVALID (out NULL, record NULL with len > 0)
 * Ownership: the caller owns *out; release with mtasts_tlsrpt_free().
 * Threads: pure.   Since: 1.0
 */
MTASTS_API int mtasts_tlsrpt_parse(const char *record, size_t len,
                                   mtasts_tlsrpt **out,
                                   mtasts_parse_error *err);

/**
 * Select and parse the TLSRPT record among all the TXT records of a
 * _smtp._tls name (RFC 8460 §3): with several, those not beginning with
 * "v=TLSRPTv1;" are discarded and exactly one must remain; a lone record
 * is judged by the grammar when it begins with "v=TLSRPTv1" (CHECKLIST
 * E-28, the rule of mtasts_txt_select()).
 * @param records  n records (each lens[i] bytes, need not end in NUL)
 * @return as mtasts_tlsrpt_parse(); MTASTS_ERR_NO_TLSRPT also when no
 *         record or not exactly one TLSRPT record is there (no position);
 *         MTASTS_ERR_INVALID also for records or lens NULL with n > 0, or
 *         a record NULL with its length > 0
 * Ownership: as mtasts_tlsrpt_parse().   Threads: pure.   Since: 1.0
 */
MTASTS_API int mtasts_tlsrpt_select(const char *const *records,
                                    const size_t *lens, size_t n,
                                    mtasts_tlsrpt **out,
                                    mtasts_parse_error *err);

/**
 * The number of report destinations kept (mailto: and https:), at least 1.
 * @param r  a record; NULL gives 0
 * Threads: immutable.   Since: 1.0
 */
MTASTS_API size_t mtasts_tlsrpt_rua_count(const mtasts_tlsrpt *r);

/**
 * The i-th destination URI as published (percent-encoding kept), in
 * record order.
 * @return the URI, or NULL when r is NULL or i is out of range
 * Ownership: borrowed from r.   Threads: immutable.   Since: 1.0
 */
MTASTS_API const char *mtasts_tlsrpt_rua(const mtasts_tlsrpt *r, size_t i);

/**
 * The scheme of the i-th destination.
 * @return MTASTS_RUA_MAILTO or MTASTS_RUA_HTTPS; 0 when r is NULL or i is
 *         out of range
 * Threads: immutable.   Since: 1.0
 */
MTASTS_API mtasts_rua_scheme mtasts_tlsrpt_rua_scheme(const mtasts_tlsrpt *r,
                                                      size_t i);

/**
 * Free a parsed record.
 * @param r  a record, or NULL
 * Threads: per record.   Since: 1.0
 */
MTASTS_API void mtasts_tlsrpt_free(mtasts_tlsrpt *r);

/* ------------------------------------------------------------------------
 * TLS reporting (RFC 8460): recording results and making reports
 *
 * The context aggregates the outcome of every session the MTA records,
 * per (policy domain, UTC day, policy), and turns one domain's day into
 * the RFC 8460 §4 JSON report. docs/report.md says what is counted.
 *
 * Threads: recording and report making may run on any thread,
 * concurrently (one lock per ctx guards the store).
 * ---------------------------------------------------------------------- */

/** Bounds of the report store: aggregates (domain, day, policy) kept, and
 *  distinct failure-details entries per aggregate. */
#define MTASTS_RPT_AGGREGATES_MAX 65536
#define MTASTS_RPT_DETAILS_MAX 256

/**
 * Record the sessions of one delivery attempt to one MX for the report of
 * the policy domain's UTC day (by the context's clock):
 *  - the policy: mtasts_result_policy(lookup), "no-policy-found" without
 *    one; a lookup failure (mtasts_result_failure(): sts-policy-fetch-error,
 *    sts-policy-invalid, sts-webpki-invalid) adds a failure-details entry;
 *  - the session: with a policy in mode testing or enforce, a check whose
 *    mtasts_mx_check_result() is not MTASTS_RPT_NONE is a failure with
 *    that result type, reason code, MX host and address (an MX outside
 *    the policy that also failed TLS adds the TLS failure as a second
 *    entry); otherwise the sessions count as successful. With mode none,
 *    or no policy, the sessions count as successful unless the lookup
 *    failed. docs/report.md has the whole table.
 * Sessions that deliver TLS reports themselves must not be recorded
 * (RFC 8460 §3). A check whose status is not MTASTS_OK (the session ended
 * before STARTTLS) is not an MTA-STS outcome: give NULL instead, and only
 * a lookup failure is recorded, or nothing.
 * @param ctx         the context
 * @param lookup      the outcome of the policy lookup for this message
 * @param check       the MX check, or NULL (no TLS outcome)
 * @param sending_ip  the MTA's own address for sending-mta-ip, IPv4 or
 *                    IPv6 text, or NULL when unknown (then left out)
 * @param sessions    how many sessions this stands for, at least 1
 * @return MTASTS_OK; MTASTS_ERR_FULL (a new aggregate or failure-details
 *         entry would pass MTASTS_RPT_AGGREGATES_MAX or
 *         MTASTS_RPT_DETAILS_MAX, or a count would pass 2^53: nothing
 *         recorded); MTASTS_ERR_NOMEM;
 *         MTASTS_ERR_INVALID (ctx or lookup NULL, sessions 0, sending_ip
 *         not an IP address)
 * Ownership: nothing is kept but copies.   Threads: any.   Since: 1.0
 */
MTASTS_API int mtasts_rpt_record(mtasts_ctx *ctx, const mtasts_result *lookup,
                                 const mtasts_mx_check *check,
                                 const char *sending_ip, uint32_t sessions);

/**
 * The RFC 8460 §4 JSON report of one policy domain for one UTC day:
 * organization-name, date-range (the day, 00:00:00Z to 23:59:59Z),
 * contact-info, report-id "<YYYYMMDD.policy-domain@submitter>" (the
 * submitter is the domain of contact_info), and one policies entry per
 * policy seen that day with its summary and failure-details.
 * @param ctx           the context
 * @param policy_domain the domain, as given to the lookups
 * @param day           any time in the UTC day, seconds since the epoch
 * @param org_name      organization-name, UTF-8, 1 to 256 bytes
 * @param contact_info  contact-info, an address local@domain (the domain
 *                      a valid host name)
 * @param json_out      receives the report, NUL-terminated, on MTASTS_OK
 * @param len_out       may be NULL; receives its length
 * @return MTASTS_OK, MTASTS_ERR_NO_DATA (nothing recorded for that domain
 *         and day), MTASTS_ERR_BAD_DOMAIN (policy_domain),
 *         MTASTS_ERR_NOMEM, MTASTS_ERR_INVALID (a NULL argument, org_name
 *         empty, too long or not UTF-8, contact_info not an address)
 * Ownership: the caller owns *json_out; release with mtasts_rpt_free().
 * Threads: any.   Since: 1.0
 */
MTASTS_API int mtasts_rpt_json(mtasts_ctx *ctx, const char *policy_domain,
                               int64_t day, const char *org_name,
                               const char *contact_info, char **json_out,
                               size_t *len_out);

/** Size of a buffer for a report's file name (RFC 8460 §5.1). */
#define MTASTS_RPT_NAME_BUFSIZE 600

/**
 * The report of mtasts_rpt_json(), gzip-compressed (RFC 1952, RFC 8460
 * §5.2), and its file name "submitter!policy-domain!begin!end.json.gz"
 * (§5.1: begin and end are the day's first and last second, as in the
 * JSON): the body to POST to an https: rua with Content-Type
 * application/tlsrpt+gzip (§5.4).
 * @param gz_out      receives the compressed report on MTASTS_OK
 * @param gz_len_out  receives its length
 * @param name_out    a buffer of MTASTS_RPT_NAME_BUFSIZE bytes for the
 *                    file name, or NULL
 * @return as mtasts_rpt_json(); MTASTS_ERR_INVALID also for gz_out or
 *         gz_len_out NULL
 * Ownership: the caller owns *gz_out; release with mtasts_rpt_free().
 * Threads: any.   Since: 1.0
 */
MTASTS_API int mtasts_rpt_gzip(mtasts_ctx *ctx, const char *policy_domain,
                               int64_t day, const char *org_name,
                               const char *contact_info,
                               unsigned char **gz_out, size_t *gz_len_out,
                               char *name_out);

/**
 * The report as a whole mail message for a mailto: rua (RFC 8460 §5.3),
 * ready for the MTA to sign with DKIM (with no l= tag, and covering the
 * two TLS-Report-* fields) and send: From contact_info, To the rua's
 * address, the Subject of §5.3 with the report-id, Date by the context's
 * clock, Message-ID, MIME-Version, TLS-Report-Domain,
 * TLS-Report-Submitter, and a multipart/report; report-type="tlsrpt"
 * body of a text/plain part and the gzip'ed report as
 * application/tlsrpt+gzip in base64 with its file name. Lines end in CRLF.
 * @param rua      a mailto: URI as the _smtp._tls record gives it
 *                 (mtasts_tlsrpt_rua()); percent-escapes are decoded,
 *                 header fields after "?" are ignored
 * @param msg_out  receives the message, NUL-terminated, on MTASTS_OK
 * @param len_out  may be NULL; receives its length
 * @return as mtasts_rpt_json(); MTASTS_ERR_INVALID also for rua not a
 *         mailto: URI with one address local@domain, or msg_out NULL
 * Ownership: the caller owns *msg_out; release with mtasts_rpt_free().
 * Threads: any.   Since: 1.0
 */
MTASTS_API int mtasts_rpt_mail(mtasts_ctx *ctx, const char *policy_domain,
                               int64_t day, const char *org_name,
                               const char *contact_info, const char *rua,
                               char **msg_out, size_t *len_out);

/**
 * Whether mtasts_rpt_post() requires a valid certificate of the https:
 * rua's host (the default, true). RFC 8460 §3 lets a sender ignore
 * certificate errors for reports; false passes
 * MTASTS_HTTPS_POST_NO_VERIFY to the POST hook (TLS is still used).
 * @return MTASTS_OK, MTASTS_ERR_INVALID (ctx NULL)
 * Threads: per ctx.   Since: 1.0
 */
MTASTS_API int mtasts_ctx_set_rpt_https_verify(mtasts_ctx *ctx, bool verify);

/**
 * POST the report of mtasts_rpt_gzip() to an https: rua (RFC 8460 §5.4)
 * through the context's POST hook, with Content-Type
 * application/tlsrpt+gzip, and wait for the outcome. Any 2xx status means
 * delivered; any other status is a failure, 3xx included: redirects are
 * never followed. Blocks until the hook calls mtasts_https_done() (the
 * default hook within the context's fetch timeout; a user hook may finish
 * from any thread).
 * @param ctx, policy_domain, day, org_name, contact_info  as for
 *                         mtasts_rpt_json(): which report, and its sender
 * @param rua              an https: URI as the _smtp._tls record gives it
 *                         (mtasts_tlsrpt_rua()): "https://host[:port]
 *                         [/path][?query]", host a host name
 * @param http_status_out  may be NULL; receives the response status, 0
 *                         when there was no response
 * @param reason_out       may be NULL; receives why it failed (what the
 *                         URI lacks, or the hook's reason), NUL-terminated
 *                         and truncated to reason_size; "" on MTASTS_OK
 * @param reason_size      the size of reason_out in bytes
 * @return MTASTS_OK (a 2xx status); MTASTS_ERR_PROTOCOL (the endpoint
 *         answered with another status: see *http_status_out);
 *         MTASTS_ERR_FETCH (no response: address lookup, connect, TLS,
 *         timeout, malformed HTTP, or the hook returned an error);
 *         MTASTS_ERR_WEBPKI (the endpoint's certificate is not valid for
 *         its host); MTASTS_ERR_SYNTAX (rua is not a usable https: URI:
 *         another scheme, userinfo, a fragment, an IP literal, a bad
 *         port, a bad %-escape, a target over 512 bytes); MTASTS_ERR_IO
 *         (the trust store cannot be read); the statuses of
 *         mtasts_rpt_json() (MTASTS_ERR_NO_DATA, MTASTS_ERR_BAD_DOMAIN,
 *         MTASTS_ERR_NOT_ASCII, MTASTS_ERR_NOMEM, MTASTS_ERR_INVALID);
 *         MTASTS_ERR_INVALID also for rua NULL, or reason_out NULL with
 *         reason_size not 0
 * Threads: any thread, concurrently, but not inside a hook or a lookup
 * callback of the same ctx (it waits for the POST hook's done call).
 * Ownership: nothing is kept; the hook borrows the body during its call.
 * Since: 1.0
 */
MTASTS_API int mtasts_rpt_post(mtasts_ctx *ctx, const char *policy_domain,
                               int64_t day, const char *org_name,
                               const char *contact_info, const char *rua,
                               unsigned *http_status_out, char *reason_out,
                               size_t reason_size);

/** Delivery retries end this long after the first attempt (RFC 8460
 * §5.5: "up to 24 hours"). */
#define MTASTS_RPT_RETRY_WINDOW_S 86400
/** The first retry comes this long after the first attempt. */
#define MTASTS_RPT_RETRY_FIRST_S 60
/** No gap between two attempts is longer than this. */
#define MTASTS_RPT_RETRY_MAX_GAP_S 14400

/**
 * When to try a failed report delivery again (RFC 8460 §5.5: retry for up
 * to 24 hours, with exponential backoff). Pure: the caller passes the
 * clock and a random number, so it is deterministic under test. The gap
 * before attempt number attempt+1 is MTASTS_RPT_RETRY_FIRST_S *
 * 2^(attempt-1), at most MTASTS_RPT_RETRY_MAX_GAP_S, plus a jitter of 0
 * to a quarter of it taken from random (so that many senders do not
 * retry in step); the next attempt is at least now.
 * @param first_attempt  when the first attempt was made (seconds)
 * @param attempt        how many attempts were made so far, at least 1
 * @param now            the current time (seconds, same clock)
 * @param random         any random number (e.g. from random(3))
 * @param next_out       receives the time of the next attempt on MTASTS_OK
 * @return MTASTS_OK; MTASTS_ERR_TIMEOUT (give up: the next attempt would
 *         fall 24 h or more after the first attempt);
 *         MTASTS_ERR_INVALID (next_out NULL, attempt 0, now before
 *         first_attempt)
 * Threads: pure.   Since: 1.0
 */
MTASTS_API int mtasts_rpt_retry_next(int64_t first_attempt, uint32_t attempt,
                                     int64_t now, uint64_t random,
                                     int64_t *next_out);

/** The longest random delay before a day's reports are first sent
 * (RFC 8460 §4.1's example: up to four hours). */
#define MTASTS_RPT_SEND_DELAY_MAX_S 14400

/**
 * When to send the reports of a UTC day for the first time (RFC 8460
 * §4.1): after the day has ended, with a random delay of 1 to
 * MTASTS_RPT_SEND_DELAY_MAX_S seconds so that receivers are not flooded
 * at midnight. Pure.
 * @param day     any time in the UTC day, seconds since the epoch
 * @param random  any random number; the delay is 1 + random % 14400
 * @return the time to send, seconds since the epoch: the next day's
 *         00:00:00Z plus the delay
 * Threads: pure.   Since: 1.0
 */
MTASTS_API int64_t mtasts_rpt_send_time(int64_t day, uint64_t random);

/**
 * Save every aggregate of the report store to a file, so that a restart
 * loses nothing of the day (RFC 8460 reports cover whole days): a
 * temporary file in the same directory (mode 0600), fsync, rename, fsync
 * of the directory, so a crash never leaves a torn file. The format is in
 * docs/report.md.
 * @return MTASTS_OK, MTASTS_ERR_IO (the file could not be written; the old
 *         one stays), MTASTS_ERR_NOMEM, MTASTS_ERR_INVALID (ctx or path
 *         NULL)
 * Threads: any (recording may go on; the file holds a consistent state).
 * Since: 1.0
 */
MTASTS_API int mtasts_rpt_save(mtasts_ctx *ctx, const char *path);

/**
 * Add the aggregates of a file written by mtasts_rpt_save() to the store
 * (counts of the same domain, day and policy are summed, equal failure
 * details merged). The whole file is checked first: any fault refuses it
 * and changes nothing.
 * @param err  may be NULL; on MTASTS_ERR_REPORT_FILE says what is wrong
 *             and at which byte offset (line and column are 0)
 * @return MTASTS_OK, MTASTS_ERR_NOT_FOUND (no such file),
 *         MTASTS_ERR_REPORT_FILE (not a report store file, another
 *         version, or damaged: truncated, bad checksum, bad content,
 *         duplicates), MTASTS_ERR_FULL (the sums would pass a bound of the
 *         store), MTASTS_ERR_IO, MTASTS_ERR_NOMEM, MTASTS_ERR_INVALID (ctx
 *         or path NULL)
 * Threads: any.   Since: 1.0
 */
MTASTS_API int mtasts_rpt_load(mtasts_ctx *ctx, const char *path,
                               mtasts_parse_error *err);

/**
 * Forget what was recorded for days before the UTC day of before (after
 * their reports went out).
 * @return the number of aggregates removed; 0 when ctx is NULL
 * Threads: any.   Since: 1.0
 */
MTASTS_API size_t mtasts_rpt_expire(mtasts_ctx *ctx, int64_t before);

/**
 * Free a report from mtasts_rpt_json(), mtasts_rpt_gzip() or
 * mtasts_rpt_mail().
 * @param p  the report, or NULL
 * Threads: any.   Since: 1.0
 */
MTASTS_API void mtasts_rpt_free(void *p);

#ifdef __cplusplus
}
#endif

#endif /* MTASTS_MTASTS_H */
