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

#define MTASTS_VERSION_MAJOR 0
#define MTASTS_VERSION_MINOR 1
#define MTASTS_VERSION_PATCH 0
/** The version as 0xMMmmpp, for compile-time comparisons. */
#define MTASTS_VERSION_NUM                                                     \
    ((MTASTS_VERSION_MAJOR << 16) | (MTASTS_VERSION_MINOR << 8) |              \
     MTASTS_VERSION_PATCH)
#define MTASTS_VERSION_STRING "0.1.0"

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
 * Ownership: none.   Threads: pure.   Since: 0.1
 */
MTASTS_API uint32_t mtasts_version(void);

/**
 * The library's version at run time as text, e.g. "0.1.0".
 * @return a static NUL-terminated string, never NULL
 * Ownership: static storage; do not free.   Threads: pure.   Since: 0.1
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

    /* -100..-199: parse layer */
    MTASTS_ERR_SYNTAX = -100,    /* input does not fit its grammar */
    MTASTS_ERR_TOO_LARGE = -101, /* input longer than its limit */
    MTASTS_ERR_BAD_DOMAIN = -102, /* not a valid host name (LDH, lengths) */
    MTASTS_ERR_NOT_ASCII = -103,  /* a non-ASCII byte in a domain name */

    /* -200..-299: discovery */
    MTASTS_ERR_NO_POLICY = -200 /* the domain has no usable MTA-STS policy */
} mtasts_status;

/**
 * A short English description of a status code.
 * @param status  any int; MTASTS_OK gives "success"
 * @return a static string, never NULL; "unknown status" for unknown values
 * Ownership: static storage; do not free.   Threads: pure.   Since: 0.1
 */
MTASTS_API const char *mtasts_strerror(int status);

/**
 * The status code's enumerator name, e.g. "MTASTS_ERR_SYNTAX", for logs
 * and machine-readable output.
 * @param status  any int
 * @return a static string, never NULL; "MTASTS_UNKNOWN" for unknown values
 * Ownership: static storage; do not free.   Threads: pure.   Since: 0.1
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
 * Threads: pure.   Since: 0.1
 */
MTASTS_API bool mtasts_status_is_bad_input(int status);

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
 * Ownership: out is the caller's buffer.   Threads: pure.   Since: 0.1
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
 * Ownership: id_out is the caller's buffer.   Threads: pure.   Since: 0.1
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
 * Ownership: id_out and err are the caller's.   Threads: pure.   Since: 0.1
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
 * Ownership: id_out is the caller's buffer.   Threads: pure.   Since: 0.1
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
 * Threads: pure.   Since: 0.1
 */
MTASTS_API int mtasts_policy_parse(const char *text, size_t len,
                                   mtasts_policy **out,
                                   mtasts_parse_error *err);

/**
 * Take one more reference to a policy.
 * @param p  a policy, or NULL
 * @return p
 * Ownership: the caller owns the new reference.
 * Threads: immutable (atomic).   Since: 0.1
 */
MTASTS_API mtasts_policy *mtasts_policy_ref(mtasts_policy *p);

/**
 * Drop one reference; the last one frees the policy.
 * @param p  a policy, or NULL (nothing happens)
 * Ownership: the caller's reference is gone; pointers borrowed from p stay
 * valid only while another reference lives.
 * Threads: immutable (atomic).   Since: 0.1
 */
MTASTS_API void mtasts_policy_unref(mtasts_policy *p);

/**
 * The policy's mode.
 * @param p  a policy; NULL gives MTASTS_MODE_NONE (no active policy)
 * Threads: immutable.   Since: 0.1
 */
MTASTS_API mtasts_mode mtasts_policy_mode(const mtasts_policy *p);

/**
 * The name of a mode as written in policies.
 * @param m  a mode
 * @return "enforce", "testing", "none", or "unknown" for other values;
 *         never NULL
 * Ownership: static storage.   Threads: pure.   Since: 0.1
 */
MTASTS_API const char *mtasts_mode_name(mtasts_mode m);

/**
 * The policy's max_age in seconds, after clamping to MTASTS_MAX_AGE_MAX.
 * @param p  a policy; NULL gives 0
 * Threads: immutable.   Since: 0.1
 */
MTASTS_API uint32_t mtasts_policy_max_age(const mtasts_policy *p);

/**
 * The number of `mx` patterns in the policy (0 is possible in mode none).
 * @param p  a policy; NULL gives 0
 * Threads: immutable.   Since: 0.1
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
 * Threads: immutable.   Since: 0.1
 */
MTASTS_API const char *mtasts_policy_mx(const mtasts_policy *p, size_t i);

/**
 * The policy text exactly as parsed (for reports and persistence).
 * @param p        a policy
 * @param len_out  may be NULL; receives the length in bytes (0 for NULL p)
 * @return the bytes, followed by a NUL that is not counted; NULL for NULL p
 * Ownership: borrowed; valid while the caller holds a reference to p.
 * Threads: immutable.   Since: 0.1
 */
MTASTS_API const char *mtasts_policy_text(const mtasts_policy *p,
                                          size_t *len_out);

/**
 * Leniencies applied while parsing: a bit set of MTASTS_POLICY_WARN_*.
 * @param p  a policy; NULL gives 0
 * Threads: immutable.   Since: 0.1
 */
MTASTS_API uint32_t mtasts_policy_warnings(const mtasts_policy *p);

/**
 * Whether an MX host name matches one of the policy's `mx` patterns
 * (RFC 8461 §4.1), as mtasts_mx_pattern_match() does for each pattern.
 * @param p     a policy
 * @param host  the MX host name as published in the MX record, NUL-terminated
 * @return true on a match; false otherwise, and when p or host is NULL or
 *         host is not a valid ASCII host name
 * Threads: immutable.   Since: 0.1
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
 * Threads: pure.   Since: 0.1
 */
MTASTS_API bool mtasts_mx_pattern_match(const char *pattern,
                                        const char *host);

#ifdef __cplusplus
}
#endif

#endif /* MTASTS_MTASTS_H */
