/* Certificate name checks (RFC 8461 §3.3, RFC 6125 §6.4 as narrowed by
 * RFC 9525 and CHECKLIST E-17). */
#include "verify/hostname.h"

#include <stdio.h>
#include <string.h>

#include <mbedtls/asn1.h>
#include <mbedtls/x509.h>

#include "mtasts/mtasts.h"
#include "util/chars.h"
#include "util/domain.h"

#define SHOW_NAMES 3     /* presented names quoted in a mismatch reason */
#define SHOW_NAME_MAX 64 /* bytes of each quoted name */

/* The SAN GeneralName tag of a dNSName: [2] IA5String (RFC 5280 §4.2.1.6). */
#define SAN_DNS_TAG (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_X509_SAN_DNS_NAME)

/* ---- text building ----------------------------------------------------- */

struct text {
    char *buf;
    size_t size; /* 0: nothing is written */
    size_t len;
};

static void
text_init(struct text *t, char *buf, size_t size)
{
    t->buf = buf;
    t->size = buf != NULL ? size : 0;
    t->len = 0;
    if (t->size > 0) {
        t->buf[0] = '\0';
    }
}

static void
text_add(struct text *t, const char *s)
{
    for (size_t i = 0; s[i] != '\0' && t->len + 1 < t->size; i++) {
        t->buf[t->len++] = s[i];
    }
    if (t->size > 0) {
        t->buf[t->len] = '\0';
    }
}

/* Quote a presented name, which may hold any byte: printable ASCII as is,
 * anything else as '?', at most SHOW_NAME_MAX bytes. */
static void
text_add_name(struct text *t, const char *name, size_t len)
{
    char shown[SHOW_NAME_MAX + 4];
    size_t n = len < SHOW_NAME_MAX ? len : SHOW_NAME_MAX;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        shown[i] = mtasts__is(c, MTASTS__C_VCHAR) ? (char)c : '?';
    }
    shown[n] = '\0';
    if (len > n) {
        memcpy(shown + n, "...", 4);
    }
    text_add(t, shown);
}

/* ---- one DNS-ID ------------------------------------------------------- */

static bool
valid_host(const char *s, size_t len)
{
    size_t bad = 0;
    const char *why = NULL;
    return mtasts__domain_check((const unsigned char *)s, len, NULL, &bad,
                                &why) == MTASTS_OK;
}

/* Whether the last label is all digits: "192.0.2.1" is an address in text,
 * never a DNS-ID (RFC 6125 §6.2.1; no TLD is numeric, RFC 3696 §2). */
static bool
numeric_tld(const char *host, size_t len)
{
    size_t i = len;
    while (i > 0 && host[i - 1] != '.') {
        if (!mtasts__is((unsigned char)host[i - 1], MTASTS__C_DIGIT)) {
            return false;
        }
        i--;
    }
    return true;
}

bool
mtasts__verify_dns_id_match(const char *id, size_t id_len, const char *host,
                            size_t host_len)
{
    if (id == NULL || host == NULL) {
        return false;
    }
    host_len = mtasts__domain_strip_dot(host, host_len);
    if (!valid_host(host, host_len) || numeric_tld(host, host_len)) {
        return false;
    }
    if (id_len >= 2 && id[0] == '*' && id[1] == '.') {
        /* "*." + a name of at least two labels; the '*' stands for exactly
         * one whole label (RFC 8461 §3.3, RFC 9525 §6.3). */
        const char *rest = id + 2;
        size_t rest_len = id_len - 2;
        if (!valid_host(rest, rest_len) ||
            memchr(rest, '.', rest_len) == NULL) {
            return false;
        }
        const char *dot = memchr(host, '.', host_len);
        if (dot == NULL) {
            return false;
        }
        size_t tail = host_len - (size_t)(dot + 1 - host);
        return tail == rest_len && mtasts__eq_nocase(dot + 1, rest, rest_len);
    }
    /* Anything else must be a plain host name: this rejects partial
     * wildcards ("m*.example.com"), a '*' elsewhere, NUL bytes, trailing
     * dots and empty labels. */
    return id_len == host_len && valid_host(id, id_len) &&
           mtasts__eq_nocase(id, host, host_len);
}

/* ---- lists of DNS-IDs ------------------------------------------------- */

static void
mismatch_start(struct text *t, const char *host, size_t count)
{
    text_add(t, "not valid for ");
    text_add(t, host);
    if (count == 0) {
        text_add(t, ": no subjectAltName dNSName (the subject CN is not "
                    "used)");
    } else {
        text_add(t, ": no subjectAltName dNSName matches (presented: ");
    }
}

static void
mismatch_end(struct text *t, size_t count)
{
    if (count == 0) {
        return;
    }
    if (count > SHOW_NAMES) {
        char more[48];
        snprintf(more, sizeof(more), ", ... %zu in all", count);
        text_add(t, more);
    }
    text_add(t, ")");
}

int
mtasts__verify_dns_ids(const char *const *ids, const size_t *lens, size_t n,
                       const char *host, char *why, size_t why_size)
{
    struct text t;
    text_init(&t, why, why_size);
    size_t host_len = host != NULL ? strlen(host) : 0;
    for (size_t i = 0; i < n; i++) {
        if (mtasts__verify_dns_id_match(ids[i], lens[i], host, host_len)) {
            return MTASTS_OK;
        }
    }
    mismatch_start(&t, host != NULL ? host : "(no host)", n);
    for (size_t i = 0; i < n && i < SHOW_NAMES; i++) {
        if (i > 0) {
            text_add(&t, ", ");
        }
        text_add_name(&t, ids[i], lens[i]);
    }
    mismatch_end(&t, n);
    return MTASTS_ERR_WEBPKI;
}

int
mtasts__verify_crt_host(const mbedtls_x509_crt *crt, const char *host,
                        char *why, size_t why_size)
{
    struct text t;
    text_init(&t, why, why_size);
    size_t host_len = host != NULL ? strlen(host) : 0;
    size_t count = 0;
    const mbedtls_x509_sequence *san;
    for (san = &crt->subject_alt_names; san != NULL; san = san->next) {
        if (san->buf.p == NULL || san->buf.tag != SAN_DNS_TAG) {
            continue; /* otherName, IP address, URI...: not DNS-IDs */
        }
        count++;
        if (mtasts__verify_dns_id_match((const char *)san->buf.p,
                                        san->buf.len, host, host_len)) {
            return MTASTS_OK;
        }
    }
    mismatch_start(&t, host != NULL ? host : "(no host)", count);
    size_t shown = 0;
    for (san = &crt->subject_alt_names; san != NULL && shown < SHOW_NAMES;
         san = san->next) {
        if (san->buf.p == NULL || san->buf.tag != SAN_DNS_TAG) {
            continue;
        }
        if (shown > 0) {
            text_add(&t, ", ");
        }
        text_add_name(&t, (const char *)san->buf.p, san->buf.len);
        shown++;
    }
    mismatch_end(&t, count);
    return MTASTS_ERR_WEBPKI;
}

/* ---- mbedTLS verification -------------------------------------------- */

void
mtasts__verify_name_init(struct mtasts__verify_name *name, const char *host)
{
    name->host = host;
    name->checked = false;
    name->mismatch = false;
    name->why[0] = '\0';
}

int
mtasts__verify_name_cb(void *arg, mbedtls_x509_crt *crt, int depth,
                       uint32_t *flags)
{
    struct mtasts__verify_name *name = arg;
    if (depth != 0) {
        return 0;
    }
    /* mbedTLS's own check may have passed on the CN alone, or failed for
     * a SAN it reads differently: only ours counts (E-17). */
    *flags &= ~(uint32_t)MBEDTLS_X509_BADCERT_CN_MISMATCH;
    name->checked = true;
    if (mtasts__verify_crt_host(crt, name->host, name->why,
                                sizeof(name->why)) != MTASTS_OK) {
        name->mismatch = true;
        *flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
    } else {
        name->mismatch = false;
        name->why[0] = '\0';
    }
    return 0;
}

static const struct {
    uint32_t flags;
    const char *text;
} flag_texts[] = {
    {MBEDTLS_X509_BADCERT_MISSING, "no certificate presented"},
    {MBEDTLS_X509_BADCERT_EXPIRED, "expired"},
    {MBEDTLS_X509_BADCERT_FUTURE, "not yet valid"},
    {MBEDTLS_X509_BADCERT_NOT_TRUSTED,
     "not trusted (no chain to a trust anchor)"},
    {MBEDTLS_X509_BADCERT_REVOKED, "revoked"},
    {MBEDTLS_X509_BADCERT_BAD_MD, "signed with an unacceptable hash"},
    {MBEDTLS_X509_BADCERT_BAD_PK,
     "unacceptable public key or signature algorithm"},
    {MBEDTLS_X509_BADCERT_BAD_KEY, "unacceptable key (curve or RSA size)"},
    {MBEDTLS_X509_BADCERT_KEY_USAGE | MBEDTLS_X509_BADCERT_EXT_KEY_USAGE |
         MBEDTLS_X509_BADCERT_NS_CERT_TYPE,
     "not usable for TLS server authentication (key usage)"},
    {MBEDTLS_X509_BADCERT_SKIP_VERIFY, "not verified"},
    {MBEDTLS_X509_BADCERT_OTHER, "rejected"},
};

void
mtasts__verify_flags_describe(uint32_t flags,
                              const struct mtasts__verify_name *name,
                              char *out, size_t size)
{
    struct text t;
    text_init(&t, out, size);
    uint32_t known = MBEDTLS_X509_BADCERT_CN_MISMATCH;
    bool any = false;
    for (size_t i = 0; i < sizeof(flag_texts) / sizeof(flag_texts[0]); i++) {
        known |= flag_texts[i].flags;
        if ((flags & flag_texts[i].flags) != 0) {
            text_add(&t, any ? "; " : "");
            text_add(&t, flag_texts[i].text);
            any = true;
        }
    }
    if ((flags & MBEDTLS_X509_BADCERT_CN_MISMATCH) != 0) {
        text_add(&t, any ? "; " : "");
        if (name != NULL && name->mismatch) {
            text_add(&t, name->why);
        } else {
            text_add(&t, "not valid for ");
            text_add(&t, name != NULL && name->host != NULL ? name->host
                                                            : "the host");
        }
        any = true;
    }
    if ((flags & ~known) != 0) {
        char other[48];
        snprintf(other, sizeof(other), "%sinvalid (verify flags 0x%lx)",
                 any ? "; " : "", (unsigned long)(flags & ~known));
        text_add(&t, other);
        any = true;
    }
    if (!any) {
        text_add(&t, "verification failed");
    }
}
