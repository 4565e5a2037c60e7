/* Certificate name checks: a host name against the DNS-IDs (subjectAltName
 * dNSName entries) of a certificate, by the strict rule of RFC 8461 §3.3
 * and CHECKLIST E-17 (RFC 9525): no Subject CN fallback, a wildcard only as
 * the whole leftmost label matching exactly one label, ASCII
 * case-insensitive. Used for the policy host and for MX certificates.
 *
 * Threads: pure; mtasts__verify_name_cb writes only its own argument. */
#ifndef MTASTS_VERIFY_HOSTNAME_H
#define MTASTS_VERIFY_HOSTNAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mbedtls/x509_crt.h>

/* Room for a name-check or verification reason, NUL included. */
#define MTASTS__VERIFY_WHY_MAX 200

/* Whether one presented DNS-ID id[0..id_len) (need not end in NUL) matches
 * the reference host host[0..host_len). The host may end in one dot; it
 * must be a valid host name (RFC 5321 Domain) whose last label is not all
 * digits (an IPv4 address in text is no host name). The id must be a valid host
 * name, or "*." followed by a valid host name of two labels or more; any
 * other id (partial wildcards, a trailing dot, NUL bytes, an empty label,
 * an IP address in text) matches nothing. */
bool mtasts__verify_dns_id_match(const char *id, size_t id_len,
                                 const char *host, size_t host_len);

/* Check n presented DNS-IDs against a NUL-terminated host. MTASTS_OK when
 * one matches; otherwise MTASTS_ERR_WEBPKI and, when why is not NULL, a
 * sentence in why[0..why_size) naming the problem (no DNS-ID at all: the
 * subject CN is never used; or none matching, with the first few shown). */
int mtasts__verify_dns_ids(const char *const *ids, const size_t *lens,
                           size_t n, const char *host, char *why,
                           size_t why_size);

/* mtasts__verify_dns_ids() over the subjectAltName dNSName entries of crt
 * (other SAN types, and the subject CN, are ignored). */
int mtasts__verify_crt_host(const mbedtls_x509_crt *crt, const char *host,
                            char *why, size_t why_size);

/* The argument of mtasts__verify_name_cb: the reference host in, the
 * outcome of the name check out. */
struct mtasts__verify_name {
    const char *host;                 /* NUL-terminated, set by the caller */
    bool checked;                     /* the leaf certificate was seen */
    bool mismatch;                    /* its name check failed */
    char why[MTASTS__VERIFY_WHY_MAX]; /* why, when mismatch */
};

void mtasts__verify_name_init(struct mtasts__verify_name *name,
                              const char *host);

/* A verification callback for mbedtls_ssl_conf_verify() and
 * mbedtls_x509_crt_verify() (arg: a struct mtasts__verify_name). mbedTLS
 * checks the name given to mbedtls_ssl_set_hostname() (which also sets the
 * SNI) itself, falling back to the Subject CN when there is no SAN (E-17).
 * At depth 0 this callback replaces that result with
 * mtasts__verify_crt_host(): MBEDTLS_X509_BADCERT_CN_MISMATCH is set exactly
 * when the SAN dNSName check fails. Other flags are left alone. Returns 0. */
int mtasts__verify_name_cb(void *arg, mbedtls_x509_crt *crt, int depth,
                           uint32_t *flags);

/* Describe the flags of a failed verification (mbedtls verify flags) as
 * "expired; not valid for HOST (...)" in out[0..size). name may be NULL;
 * when it recorded a mismatch, its reason is used for the name part. An
 * empty flag set gives "verification failed". */
void mtasts__verify_flags_describe(uint32_t flags,
                                   const struct mtasts__verify_name *name,
                                   char *out, size_t size);

#endif
