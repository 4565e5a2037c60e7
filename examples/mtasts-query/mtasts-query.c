/*
 * mtasts-query: check MTA-STS policies and TXT records (RFC 8461).
 *
 * mtasts-query DOMAIN discovers the domain's policy (DNS TXT, HTTPS fetch)
 * as a sending MTA would; --policy-file and --txt validate a policy file or
 * a TXT record offline. Each can match MX host names against the policy.
 * DOMAIN --probe also runs an SMTP STARTTLS session with each MX (from DNS,
 * or the --mx hosts) and says whether mail may go there (probe.c).
 *
 * --cache FILE keeps the policy cache in FILE across runs, as a
 * long-running MTA keeps it in memory: DOMAIN loads it before the lookup
 * and saves it after; --list prints it; --purge DOMAIN removes a domain.
 *
 * Exit status: DOMAIN: 0 policy, 1 no policy, 2 discovery failed, 3 some
 * MX would be refused (--probe).
 * Offline: 0 valid (and every --mx host matches), 1 valid but an --mx host
 * does not match, 2 invalid input. --list: 0; --purge: 0 removed, 1 not
 * cached. All: 64 usage error, 65 cache file corrupt or of another
 * format, 66 unreadable file, 71 out of memory, 74 output or cache file
 * write error.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mtasts/mtasts.h>

#include "json.h"
#include "probe.h"
#include "report.h"

#define EXIT_VALID 0
#define EXIT_MISMATCH 1
#define EXIT_INVALID 2
#define EXIT_POLICY 0     /* DOMAIN: a policy applies */
#define EXIT_NO_POLICY 1  /* DOMAIN: no policy */
#define EXIT_FAILED 2     /* DOMAIN: discovery failed */
#define EXIT_REFUSED 3    /* DOMAIN --probe: some MX would be refused */
#define EXIT_NOT_CACHED 1 /* --purge: the domain was not cached */
#define EXIT_USAGE 64     /* EX_USAGE */
#define EXIT_DATAERR 65   /* EX_DATAERR: cache file corrupt */
#define EXIT_NOINPUT 66   /* EX_NOINPUT */
#define EXIT_OSERR 71     /* EX_OSERR: out of memory */
#define EXIT_IOERR 74     /* EX_IOERR: cannot write the output */

#define MAX_MX_ARGS 64
#define MAX_POST_ARGS 8 /* --post-report URIs */

struct options {
    const char *domain;
    const char *policy_file;
    const char *txt;
    const char *resolver;
    const char *ca_file;
    unsigned long https_port;
    unsigned long timeout_ms;
    const char *mx[MAX_MX_ARGS];
    size_t mx_count;
    bool json;
    bool probe;
    unsigned long smtp_port;
    unsigned long smtp_timeout_ms;
    const char *helo;
    bool tlsrpt;
    const char *report;
    const char *report_org;
    const char *report_contact;
    const char *post[MAX_POST_ARGS]; /* --post-report URI */
    size_t post_count;
    bool post_no_verify; /* --post-report-no-verify */
    const char *cache; /* --cache FILE */
    bool list;         /* --list */
    const char *purge; /* --purge DOMAIN */
};

static const char usage_text[] =
    "usage: mtasts-query [--json] [OPTIONS] [--probe [--report FILE]\n"
    "                    [--post-report URI]...]\n"
    "                    [--mx HOST]... DOMAIN\n"
    "       mtasts-query [--json] [--resolver ADDR[@PORT]] --tlsrpt DOMAIN\n"
    "       mtasts-query [--json] --policy-file FILE [--mx HOST]...\n"
    "       mtasts-query [--json] --txt RECORD\n"
    "       mtasts-query [--json] --cache FILE [OPTIONS] DOMAIN\n"
    "       mtasts-query [--json] --cache FILE --list\n"
    "       mtasts-query --cache FILE --purge DOMAIN\n"
    "       mtasts-query --help | --version\n"
    "\n"
    "Discover the MTA-STS policy of DOMAIN (RFC 8461: TXT record, HTTPS\n"
    "fetch), or validate a policy file (FILE '-' reads standard input) or\n"
    "an _mta-sts TXT record offline, and match MX host names against the\n"
    "policy (section 4.1).\n"
    "\n"
    "  --resolver ADDR[@PORT]  DNS resolver (default: /etc/resolv.conf)\n"
    "  --ca-file FILE      trust anchors (default: the system CA bundle)\n"
    "  --https-port PORT   policy host port, for tests (default: 443)\n"
    "  --timeout-ms MS     total fetch timeout (default: 60000)\n"
    "  --policy-file FILE  the policy body, as served at\n"
    "                      https://mta-sts.DOMAIN/.well-known/mta-sts.txt\n"
    "  --mx HOST           an MX host name to match (repeatable, at most 64)\n"
    "  --probe             STARTTLS-probe each MX (the --mx hosts, else the\n"
    "                      domain's MX records) and give the verdict\n"
    "  --smtp-port PORT    MX port for --probe, for tests (default: 25)\n"
    "  --smtp-timeout-ms MS  --probe timeout of each step (default: 30000)\n"
    "  --helo NAME         --probe EHLO name (default: localhost)\n"
    "  --report FILE       with --probe: write the RFC 8460 JSON report of\n"
    "                      what this run saw for DOMAIN to FILE\n"
    "  --report-org NAME   its organization-name (default: mtasts-query)\n"
    "  --report-contact ADDR  its contact-info (default: "
    "postmaster@localhost)\n"
    "  --post-report URI   with --probe: POST the report, gzip'ed, to an\n"
    "                      https: URI (RFC 8460 section 5.4); repeatable\n"
    "                      (at most 8): tried in turn until one accepts\n"
    "  --post-report-no-verify  accept any certificate of the URI's host\n"
    "  --tlsrpt            print DOMAIN's TLSRPT record (_smtp._tls)\n"
    "  --txt RECORD        one TXT record, character-strings joined\n"
    "  --json              print one JSON object\n"
    "  --cache FILE        policy cache kept in FILE across runs: loaded\n"
    "                      before the lookup (missing: empty), saved after\n"
    "  --list              with --cache: print the cached entries\n"
    "  --purge DOMAIN      with --cache: remove DOMAIN from the cache\n"
    "\n"
    "Exit status with DOMAIN: 0 policy, 1 no policy, 2 discovery failed,\n"
    "3 some MX would be refused (--probe), 75 no --post-report URI accepted\n"
    "the report.\n"
    "--tlsrpt: 0 valid record, 1 none, 2 invalid or DNS failure.\n"
    "Offline: 0 valid, 1 valid but an --mx host does not match, 2 invalid.\n"
    "--list: 0; --purge: 0 removed, 1 not cached.\n"
    "All: 64 usage error, 65 cache file corrupt, 66 cannot read FILE,\n"
    "71 out of memory, 74 cannot write the output or the cache file.\n";

static int
usage_error(const char *msg, const char *arg)
{
    fprintf(stderr, "mtasts-query: %s%s%s\n", msg, arg != NULL ? ": " : "",
            arg != NULL ? arg : "");
    fputs("Try 'mtasts-query --help'.\n", stderr);
    return EXIT_USAGE;
}

/* A decimal number in [min, max]; false if it is not one. */
static bool
parse_number(const char *s, unsigned long min, unsigned long max,
             unsigned long *out)
{
    char *end = NULL;
    if (s[0] < '0' || s[0] > '9') {
        return false;
    }
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max) {
        return false;
    }
    *out = v;
    return true;
}

/* The rules of --cache, --list and --purge: -1 if they hold, else a usage
 * error. */
static int
check_cache_args(const struct options *o)
{
    if ((o->list || o->purge != NULL) && o->cache == NULL) {
        return usage_error("--list and --purge need --cache FILE", NULL);
    }
    if (o->cache != NULL && o->domain == NULL && !o->list && o->purge == NULL) {
        return usage_error("--cache needs DOMAIN, --list or --purge", NULL);
    }
    if ((o->list || o->purge != NULL) &&
        (o->mx_count > 0 || o->resolver != NULL || o->ca_file != NULL ||
         o->https_port != 0 || o->timeout_ms != 0)) {
        return usage_error("--list and --purge take no lookup options", NULL);
    }
    return -1;
}

/* Parse argv; returns -1 to go on, or an exit status. */
static int
parse_args(int argc, char **argv, struct options *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_value = i + 1 < argc;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage_text, stdout);
            return EXIT_VALID;
        } else if (strcmp(a, "--version") == 0) {
            printf("mtasts-query (libmtasts) %s\n", mtasts_version_string());
            return EXIT_VALID;
        } else if (strcmp(a, "--json") == 0) {
            o->json = true;
        } else if (strcmp(a, "--policy-file") == 0 && has_value) {
            if (o->policy_file != NULL) {
                return usage_error("--policy-file given twice", NULL);
            }
            o->policy_file = argv[++i];
        } else if (strcmp(a, "--txt") == 0 && has_value) {
            if (o->txt != NULL) {
                return usage_error("--txt given twice", NULL);
            }
            o->txt = argv[++i];
        } else if (strcmp(a, "--mx") == 0 && has_value) {
            if (o->mx_count == MAX_MX_ARGS) {
                return usage_error("too many --mx options (at most 64)", NULL);
            }
            o->mx[o->mx_count++] = argv[++i];
        } else if (strcmp(a, "--resolver") == 0 && has_value) {
            o->resolver = argv[++i];
        } else if (strcmp(a, "--ca-file") == 0 && has_value) {
            o->ca_file = argv[++i];
        } else if (strcmp(a, "--https-port") == 0 && has_value) {
            if (!parse_number(argv[++i], 1, 65535, &o->https_port)) {
                return usage_error("--https-port needs 1 to 65535", argv[i]);
            }
        } else if (strcmp(a, "--timeout-ms") == 0 && has_value) {
            if (!parse_number(argv[++i], 1, 600000, &o->timeout_ms)) {
                return usage_error("--timeout-ms needs 1 to 600000", argv[i]);
            }
        } else if (strcmp(a, "--probe") == 0) {
            o->probe = true;
        } else if (strcmp(a, "--smtp-port") == 0 && has_value) {
            if (!parse_number(argv[++i], 1, 65535, &o->smtp_port)) {
                return usage_error("--smtp-port needs 1 to 65535", argv[i]);
            }
        } else if (strcmp(a, "--smtp-timeout-ms") == 0 && has_value) {
            if (!parse_number(argv[++i], 1, 600000, &o->smtp_timeout_ms)) {
                return usage_error("--smtp-timeout-ms needs 1 to 600000",
                                   argv[i]);
            }
        } else if (strcmp(a, "--helo") == 0 && has_value) {
            o->helo = argv[++i];
        } else if (strcmp(a, "--tlsrpt") == 0) {
            o->tlsrpt = true;
        } else if (strcmp(a, "--report") == 0 && has_value) {
            o->report = argv[++i];
        } else if (strcmp(a, "--report-org") == 0 && has_value) {
            o->report_org = argv[++i];
        } else if (strcmp(a, "--report-contact") == 0 && has_value) {
            o->report_contact = argv[++i];
        } else if (strcmp(a, "--post-report") == 0 && has_value) {
            if (o->post_count == MAX_POST_ARGS) {
                return usage_error("too many --post-report URIs", NULL);
            }
            o->post[o->post_count++] = argv[++i];
        } else if (strcmp(a, "--post-report-no-verify") == 0) {
            o->post_no_verify = true;
        } else if (strcmp(a, "--report") == 0 ||
                   strcmp(a, "--post-report") == 0 ||
                   strcmp(a, "--report-org") == 0 ||
                   strcmp(a, "--report-contact") == 0) {
            return usage_error("option needs a value", a);
        } else if (strcmp(a, "--smtp-port") == 0 ||
                   strcmp(a, "--smtp-timeout-ms") == 0 ||
                   strcmp(a, "--helo") == 0) {
            return usage_error("option needs a value", a);
        } else if (strcmp(a, "--cache") == 0 && has_value) {
            o->cache = argv[++i];
        } else if (strcmp(a, "--list") == 0) {
            o->list = true;
        } else if (strcmp(a, "--purge") == 0 && has_value) {
            o->purge = argv[++i];
        } else if (strcmp(a, "--policy-file") == 0 ||
                   strcmp(a, "--cache") == 0 || strcmp(a, "--purge") == 0 ||
                   strcmp(a, "--txt") == 0 || strcmp(a, "--mx") == 0 ||
                   strcmp(a, "--resolver") == 0 ||
                   strcmp(a, "--ca-file") == 0 ||
                   strcmp(a, "--https-port") == 0 ||
                   strcmp(a, "--timeout-ms") == 0) {
            return usage_error("option needs a value", a);
        } else if (a[0] == '-' && a[1] != '\0') {
            return usage_error("unknown option", a);
        } else if (o->domain != NULL) {
            return usage_error("more than one DOMAIN", a);
        } else {
            o->domain = a;
        }
    }
    int cache_rc = check_cache_args(o);
    if (cache_rc >= 0) {
        return cache_rc;
    }
    int modes = (o->domain != NULL) + (o->policy_file != NULL) +
                (o->txt != NULL) + o->list + (o->purge != NULL);
    if (modes != 1) {
        return usage_error("give exactly one of DOMAIN, --policy-file, "
                           "--txt, --list and --purge",
                           NULL);
    }
    if (o->txt != NULL && o->mx_count > 0) {
        return usage_error("--mx needs DOMAIN or --policy-file", NULL);
    }
    if (o->tlsrpt &&
        (o->domain == NULL || o->probe || o->mx_count > 0 ||
         o->ca_file != NULL || o->https_port != 0 || o->timeout_ms != 0)) {
        return usage_error("--tlsrpt takes DOMAIN and --resolver only", NULL);
    }
    if ((o->report != NULL || o->report_org != NULL ||
         o->report_contact != NULL || o->post_count > 0 || o->post_no_verify) &&
        !o->probe) {
        return usage_error("--report, --report-org, --report-contact and "
                           "--post-report need --probe",
                           NULL);
    }
    if (o->post_no_verify && o->post_count == 0) {
        return usage_error("--post-report-no-verify needs --post-report", NULL);
    }
    if (o->domain == NULL && (o->probe || o->smtp_port != 0 ||
                              o->smtp_timeout_ms != 0 || o->helo != NULL)) {
        return usage_error("--probe, --smtp-port, --smtp-timeout-ms and "
                           "--helo need DOMAIN",
                           NULL);
    }
    if (o->domain == NULL && !o->list && o->purge == NULL &&
        (o->resolver != NULL || o->ca_file != NULL || o->https_port != 0 ||
         o->timeout_ms != 0)) {
        return usage_error("--resolver, --ca-file, --https-port and "
                           "--timeout-ms need DOMAIN",
                           NULL);
    }
    return -1;
}

/* Read at most MTASTS_POLICY_MAX + 1 bytes: enough for the parser to tell
 * a file that is too large, without reading an unbounded one. */
static int
read_policy(const char *path, char **buf_out, size_t *len_out)
{
    FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (fp == NULL) {
        fprintf(stderr, "mtasts-query: %s: %s\n", path, strerror(errno));
        return EXIT_NOINPUT;
    }
    char *buf = malloc(MTASTS_POLICY_MAX + 1);
    if (buf == NULL) {
        fprintf(stderr, "mtasts-query: out of memory\n");
        if (fp != stdin) {
            fclose(fp);
        }
        return EXIT_OSERR;
    }
    size_t n = fread(buf, 1, MTASTS_POLICY_MAX + 1, fp);
    int failed = ferror(fp);
    if (fp != stdin) {
        fclose(fp);
    }
    if (failed) {
        fprintf(stderr, "mtasts-query: %s: read error\n", path);
        free(buf);
        return EXIT_NOINPUT;
    }
    *buf_out = buf;
    *len_out = n;
    return -1;
}

static void
print_error(const struct options *o, const char *where, int rc,
            const mtasts_parse_error *err)
{
    const char *message =
        err->message != NULL ? err->message : mtasts_strerror(rc);
    if (rc == MTASTS_ERR_SYNTAX) {
        fprintf(stderr, "%s:%zu:%zu: error: %s\n", where, err->line,
                err->column, message);
    } else {
        fprintf(stderr, "%s: error: %s\n", where, message);
    }
    if (o->json) {
        struct json j;
        json_init(&j, stdout);
        json_begin_object(&j);
        json_key(&j, "valid");
        json_bool(&j, false);
        json_key(&j, "error");
        json_begin_object(&j);
        json_key(&j, "status");
        json_string(&j, mtasts_status_name(rc));
        json_key(&j, "message");
        json_string(&j, message);
        if (rc == MTASTS_ERR_SYNTAX) {
            json_key(&j, "line");
            json_uint(&j, err->line);
            json_key(&j, "column");
            json_uint(&j, err->column);
            json_key(&j, "offset");
            json_uint(&j, err->offset);
        }
        json_end_object(&j);
        json_end_object(&j);
        json_finish(&j);
    } else {
        printf("%s: invalid (%s)\n", o->txt != NULL ? "txt" : "policy",
               mtasts_status_name(rc));
    }
}

static int
run_txt(const struct options *o)
{
    char id[MTASTS_ID_BUFSIZE];
    mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
    int rc = mtasts_txt_diagnose(o->txt, strlen(o->txt), id, &err);
    if (rc != MTASTS_OK) {
        print_error(o, "txt", rc, &err);
        return EXIT_INVALID;
    }
    if (o->json) {
        struct json j;
        json_init(&j, stdout);
        json_begin_object(&j);
        json_key(&j, "valid");
        json_bool(&j, true);
        json_key(&j, "txt");
        json_begin_object(&j);
        json_key(&j, "id");
        json_string(&j, id);
        json_end_object(&j);
        json_end_object(&j);
        json_finish(&j);
    } else {
        printf("txt: valid\nid: %s\n", id);
    }
    return EXIT_VALID;
}

/* Match one --mx host: 1 match, 0 no match, -1 not a host name. */
static int
check_mx(const mtasts_policy *p, const char *host, const char **why)
{
    char norm[MTASTS_DOMAIN_BUFSIZE];
    mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
    if (mtasts_domain_normalize(host, strlen(host), norm, &err) != MTASTS_OK) {
        *why = err.message;
        return -1;
    }
    return mtasts_policy_match_mx(p, norm) ? 1 : 0;
}

static void
print_policy_text(const mtasts_policy *p)
{
    printf("policy: valid\nversion: STSv1\nmode: %s\nmax_age: %u\n",
           mtasts_mode_name(mtasts_policy_mode(p)),
           (unsigned)mtasts_policy_max_age(p));
    for (size_t i = 0; i < mtasts_policy_mx_count(p); i++) {
        printf("mx: %s\n", mtasts_policy_mx(p, i));
    }
    uint32_t w = mtasts_policy_warnings(p);
    if (w & MTASTS_POLICY_WARN_MAX_AGE_CLAMPED) {
        printf("warning: max_age above %u clamped to %u (RFC 8461 3.2)\n",
               (unsigned)MTASTS_MAX_AGE_MAX, (unsigned)MTASTS_MAX_AGE_MAX);
    }
    if (w & MTASTS_POLICY_WARN_TRAILING_EMPTY_LINES) {
        printf("warning: empty lines at the end of the policy (accepted; "
               "the grammar does not allow them)\n");
    }
}

static void
print_policy_json(struct json *j, const mtasts_policy *p)
{
    json_key(j, "policy");
    json_begin_object(j);
    json_key(j, "version");
    json_string(j, "STSv1");
    json_key(j, "mode");
    json_string(j, mtasts_mode_name(mtasts_policy_mode(p)));
    json_key(j, "max_age");
    json_uint(j, mtasts_policy_max_age(p));
    json_key(j, "mx");
    json_begin_array(j);
    for (size_t i = 0; i < mtasts_policy_mx_count(p); i++) {
        json_string(j, mtasts_policy_mx(p, i));
    }
    json_end_array(j);
    json_key(j, "warnings");
    json_begin_array(j);
    uint32_t w = mtasts_policy_warnings(p);
    if (w & MTASTS_POLICY_WARN_MAX_AGE_CLAMPED) {
        json_string(j, "max_age_clamped");
    }
    if (w & MTASTS_POLICY_WARN_TRAILING_EMPTY_LINES) {
        json_string(j, "trailing_empty_lines");
    }
    json_end_array(j);
    json_end_object(j);
}

/* One line (or JSON object) per --mx host; EXIT_MISMATCH if any host
 * does not match, else EXIT_VALID. j is NULL for text output. */
static int
print_mx_checks(const struct options *o, const mtasts_policy *p, struct json *j)
{
    int status = EXIT_VALID;
    for (size_t i = 0; i < o->mx_count; i++) {
        const char *why = NULL;
        int m = check_mx(p, o->mx[i], &why);
        if (m != 1) {
            status = EXIT_MISMATCH;
        }
        if (j != NULL) {
            json_begin_object(j);
            json_key(j, "host");
            json_string(j, o->mx[i]);
            json_key(j, "matches");
            json_bool(j, m == 1);
            if (m < 0) {
                json_key(j, "error");
                json_string(j, why);
            }
            json_end_object(j);
        } else if (m < 0) {
            printf("mx-check %s: invalid host name (%s)\n", o->mx[i], why);
        } else {
            printf("mx-check %s: %s\n", o->mx[i],
                   m == 1 ? "matches" : "does not match");
        }
    }
    return status;
}

/* The "result" word of a lookup status. */
static const char *
result_word(int status)
{
    switch (status) {
    case MTASTS_OK:
        return "policy";
    case MTASTS_ERR_NO_POLICY:
        return "no-policy";
    case MTASTS_ERR_DNS_TEMPFAIL:
        return "dns-error";
    case MTASTS_ERR_POLICY_INVALID:
        return "invalid-policy";
    case MTASTS_ERR_NOMEM:
    case MTASTS_ERR_IO:
        return "local-error"; /* this machine's failure, not the domain's */
    default:
        return "fetch-error";
    }
}

static int
setup_ctx(const struct options *o, mtasts_ctx **out)
{
    int rc = mtasts_ctx_new(out);
    const char *what = "creating the context";
    if (rc == MTASTS_OK && o->resolver != NULL) {
        what = "--resolver";
        rc = mtasts_ctx_set_resolver(*out, o->resolver);
    }
    if (rc == MTASTS_OK && o->ca_file != NULL) {
        what = "--ca-file";
        rc = mtasts_ctx_set_ca_file(*out, o->ca_file);
    }
    if (rc == MTASTS_OK && o->https_port != 0) {
        what = "--https-port";
        rc = mtasts_ctx_set_https_port(*out, (uint16_t)o->https_port);
    }
    if (rc == MTASTS_OK && o->timeout_ms != 0) {
        what = "--timeout-ms";
        rc = mtasts_ctx_set_fetch_timeout_ms(*out, (uint32_t)o->timeout_ms);
    }
    if (rc == MTASTS_OK && o->smtp_timeout_ms != 0) {
        what = "--smtp-timeout-ms";
        rc = mtasts_ctx_set_smtp_timeout_ms(*out, (uint32_t)o->smtp_timeout_ms);
    }
    if (rc == MTASTS_OK && o->helo != NULL) {
        what = "--helo";
        rc = mtasts_ctx_set_helo_name(*out, o->helo);
    }
    if (rc != MTASTS_OK) {
        fprintf(stderr, "mtasts-query: %s: %s\n", what, mtasts_strerror(rc));
        mtasts_ctx_free(*out);
        *out = NULL;
        return rc == MTASTS_ERR_NOMEM ? EXIT_OSERR
               : rc == MTASTS_ERR_IO  ? EXIT_NOINPUT
                                      : EXIT_USAGE;
    }
    return -1;
}

static void
print_lookup_json(const struct options *o, const mtasts_result *r,
                  const struct probe_set *ps)
{
    int rc = mtasts_result_status(r);
    const mtasts_policy *p = mtasts_result_policy(r);
    struct json j;
    json_init(&j, stdout);
    json_begin_object(&j);
    json_key(&j, "domain");
    json_string(&j, mtasts_result_domain(r));
    json_key(&j, "result");
    json_string(&j, result_word(rc));
    json_key(&j, "txt_id");
    json_string(&j, mtasts_result_txt_id(r));
    json_key(&j, "from_cache");
    json_bool(&j, mtasts_result_from_cache(r));
    json_key(&j, "failure");
    json_string(&j, mtasts_rpt_result_name(mtasts_result_failure(r)));
    json_key(&j, "reason");
    json_string(&j, mtasts_result_reason(r));
    if (p != NULL) {
        json_key(&j, "expires");
        json_uint(&j, (uint64_t)mtasts_result_expires(r));
        print_policy_json(&j, p);
        if (ps == NULL) {
            json_key(&j, "mx");
            json_begin_array(&j);
            print_mx_checks(o, p, &j);
            json_end_array(&j);
        }
    } else {
        json_key(&j, "error");
        json_begin_object(&j);
        json_key(&j, "code");
        json_string(&j, mtasts_status_name(rc));
        json_key(&j, "message");
        json_string(&j, mtasts_result_reason(r));
        json_end_object(&j);
    }
    if (ps != NULL) {
        probe_print_json(&j, ps); /* every result has the mx array */
    }
    json_end_object(&j);
    json_finish(&j);
}

static void
print_lookup_text(const struct options *o, const mtasts_result *r,
                  const struct probe_set *ps)
{
    int rc = mtasts_result_status(r);
    const mtasts_policy *p = mtasts_result_policy(r);
    printf("domain: %s\nresult: %s\n", mtasts_result_domain(r),
           result_word(rc));
    if (mtasts_result_txt_id(r)[0] != '\0') {
        printf("txt-id: %s\n", mtasts_result_txt_id(r));
    }
    if (mtasts_result_failure(r) != MTASTS_RPT_NONE) {
        printf("report: %s\n",
               mtasts_rpt_result_name(mtasts_result_failure(r)));
    }
    if (mtasts_result_reason(r)[0] != '\0') {
        printf("%s: %s\n", p != NULL ? "note" : "error",
               mtasts_result_reason(r));
    }
    if (p != NULL) {
        print_policy_text(p);
        if (ps == NULL) {
            print_mx_checks(o, p, NULL);
        }
    }
    if (ps != NULL) {
        probe_print_text(ps);
    }
}

/* ---- --cache FILE ------------------------------------------------------ */

/* Load --cache FILE into ctx (a missing file is an empty cache): -1 to go
 * on, or an exit status after a message. Nothing to do without --cache. */
static int
cache_load(const struct options *o, mtasts_ctx *ctx)
{
    if (o->cache == NULL) {
        return -1;
    }
    mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
    int rc = mtasts_cache_load(ctx, o->cache, &err);
    if (rc == MTASTS_OK || rc == MTASTS_ERR_NOT_FOUND) {
        return -1;
    }
    if (rc == MTASTS_ERR_CACHE_FORMAT || rc == MTASTS_ERR_CACHE_CORRUPT) {
        fprintf(stderr, "mtasts-query: %s: byte %zu: %s (%s)\n", o->cache,
                err.offset, err.message, mtasts_status_name(rc));
        return EXIT_DATAERR;
    }
    fprintf(stderr, "mtasts-query: %s: %s\n", o->cache,
            err.message != NULL ? err.message : mtasts_strerror(rc));
    return rc == MTASTS_ERR_NOMEM ? EXIT_OSERR : EXIT_NOINPUT;
}

/* Save ctx's cache to --cache FILE: -1, or an exit status after a
 * message. */
static int
cache_save(const struct options *o, mtasts_ctx *ctx)
{
    if (o->cache == NULL) {
        return -1;
    }
    int rc = mtasts_cache_save(ctx, o->cache);
    if (rc == MTASTS_OK) {
        return -1;
    }
    fprintf(stderr, "mtasts-query: %s: cannot save the cache: %s\n", o->cache,
            mtasts_strerror(rc));
    return rc == MTASTS_ERR_NOMEM ? EXIT_OSERR : EXIT_IOERR;
}

/* A time as ISO 8601 UTC, e.g. "2026-11-23T12:00:00Z". */
static void
format_time(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (gmtime_r(&tt, &tm) == NULL ||
        strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        snprintf(out, 32, "%lld", (long long)t);
    }
}

static void
list_entry_json(struct json *j, const mtasts_cache_snapshot *s, size_t i)
{
    json_begin_object(j);
    json_key(j, "domain");
    json_string(j, mtasts_cache_snapshot_domain(s, i));
    json_key(j, "txt_id");
    json_string(j, mtasts_cache_snapshot_txt_id(s, i));
    json_key(j, "mode");
    json_string(j, mtasts_mode_name(mtasts_cache_snapshot_mode(s, i)));
    json_key(j, "fetched_at");
    json_uint(j, (uint64_t)mtasts_cache_snapshot_fetched_at(s, i));
    json_key(j, "expires");
    json_uint(j, (uint64_t)mtasts_cache_snapshot_expires(s, i));
    json_key(j, "last_used");
    json_uint(j, (uint64_t)mtasts_cache_snapshot_last_used(s, i));
    const mtasts_policy *p = mtasts_cache_snapshot_policy(s, i);
    json_key(j, "mx");
    json_begin_array(j);
    for (size_t k = 0; k < mtasts_policy_mx_count(p); k++) {
        json_string(j, mtasts_policy_mx(p, k));
    }
    json_end_array(j);
    json_end_object(j);
}

static void
list_entry_text(const mtasts_cache_snapshot *s, size_t i)
{
    char fetched[32], expires[32], used[32];
    format_time(mtasts_cache_snapshot_fetched_at(s, i), fetched);
    format_time(mtasts_cache_snapshot_expires(s, i), expires);
    format_time(mtasts_cache_snapshot_last_used(s, i), used);
    printf("%s id=%s mode=%s fetched=%s expires=%s last-used=%s\n",
           mtasts_cache_snapshot_domain(s, i),
           mtasts_cache_snapshot_txt_id(s, i),
           mtasts_mode_name(mtasts_cache_snapshot_mode(s, i)), fetched, expires,
           used);
}

/* --cache FILE --list: one line (or JSON object) per cached policy,
 * sorted by domain for a stable output. */
static int
run_list(const struct options *o, mtasts_ctx *ctx)
{
    mtasts_cache_snapshot *s = NULL;
    int rc = mtasts_cache_snapshot_new(ctx, &s);
    if (rc != MTASTS_OK) {
        fprintf(stderr, "mtasts-query: %s\n", mtasts_strerror(rc));
        return EXIT_OSERR;
    }
    size_t n = mtasts_cache_snapshot_count(s);
    size_t *order = malloc((n + 1) * sizeof(*order));
    if (order == NULL) {
        mtasts_cache_snapshot_free(s);
        fprintf(stderr, "mtasts-query: out of memory\n");
        return EXIT_OSERR;
    }
    for (size_t i = 0; i < n; i++) { /* insertion sort: small caches */
        size_t k = i;
        while (k > 0 && strcmp(mtasts_cache_snapshot_domain(s, order[k - 1]),
                               mtasts_cache_snapshot_domain(s, i)) > 0) {
            order[k] = order[k - 1];
            k--;
        }
        order[k] = i;
    }
    struct json j;
    if (o->json) {
        json_init(&j, stdout);
        json_begin_object(&j);
        json_key(&j, "cache");
        json_string(&j, o->cache);
        json_key(&j, "entries");
        json_begin_array(&j);
    }
    for (size_t i = 0; i < n; i++) {
        if (o->json) {
            list_entry_json(&j, s, order[i]);
        } else {
            list_entry_text(s, order[i]);
        }
    }
    if (o->json) {
        json_end_array(&j);
        json_end_object(&j);
        json_finish(&j);
    }
    free(order);
    mtasts_cache_snapshot_free(s);
    return EXIT_VALID;
}

/* --cache FILE --purge DOMAIN. */
static int
run_purge(const struct options *o, mtasts_ctx *ctx)
{
    int rc = mtasts_cache_remove(ctx, o->purge);
    if (rc == MTASTS_ERR_NOT_FOUND) {
        printf("%s: not cached\n", o->purge);
        return EXIT_NOT_CACHED;
    }
    if (rc != MTASTS_OK) {
        fprintf(stderr, "mtasts-query: %s: %s\n", o->purge,
                mtasts_strerror(rc));
        return EXIT_USAGE;
    }
    int status = cache_save(o, ctx);
    if (status >= 0) {
        return status;
    }
    printf("%s: removed\n", o->purge);
    return EXIT_VALID;
}

/* --list and --purge: the cache file alone, no lookup. */
static int
run_cache(const struct options *o)
{
    mtasts_ctx *ctx = NULL;
    if (mtasts_ctx_new(&ctx) != MTASTS_OK) {
        fprintf(stderr, "mtasts-query: out of memory\n");
        return EXIT_OSERR;
    }
    int status = cache_load(o, ctx);
    if (status < 0) {
        status = o->list ? run_list(o, ctx) : run_purge(o, ctx);
    }
    mtasts_ctx_free(ctx);
    return status;
}

static int
run_domain(const struct options *o)
{
    mtasts_ctx *ctx = NULL;
    int status = setup_ctx(o, &ctx);
    if (status < 0) {
        status = cache_load(o, ctx);
    }
    if (status >= 0) {
        mtasts_ctx_free(ctx);
        return status;
    }
    mtasts_result *r = NULL;
    int rc = mtasts_lookup_result(ctx, o->domain, &r);
    if (r == NULL) {
        fprintf(stderr, "mtasts-query: %s: %s\n", o->domain,
                mtasts_strerror(rc));
        mtasts_ctx_free(ctx);
        return rc == MTASTS_ERR_NOMEM ? EXIT_OSERR : EXIT_USAGE;
    }
    static struct probe_set probes; /* large: not on the stack */
    const struct probe_set *ps = NULL;
    if (o->probe) {
        struct probe_opts po = {(uint16_t)o->smtp_port};
        int prc = probe_run(ctx, o->domain, mtasts_result_policy(r), o->mx,
                            o->mx_count, o->resolver, &po, &probes);
        if (prc != 0) {
            fprintf(stderr, "mtasts-query: out of memory\n");
            probe_free(&probes);
            mtasts_result_free(r);
            mtasts_ctx_free(ctx);
            return EXIT_OSERR;
        }
        ps = &probes;
    }
    if (o->json) {
        print_lookup_json(o, r, ps);
    } else {
        print_lookup_text(o, r, ps);
    }
    int report_status = 0;
    const char *org = o->report_org != NULL ? o->report_org : "mtasts-query";
    const char *contact =
        o->report_contact != NULL ? o->report_contact : "postmaster@localhost";
    if (o->report != NULL || o->post_count > 0) {
        report_status = report_record(ctx, r, ps);
    }
    if (report_status == 0 && o->report != NULL) {
        report_status =
            report_write(ctx, mtasts_result_domain(r), o->report, org, contact);
    }
    if (report_status == 0 && o->post_count > 0) {
        report_status =
            report_post(ctx, mtasts_result_domain(r), o->post, o->post_count,
                        !o->post_no_verify, org, contact);
    }
    status = report_status != 0                ? report_status
             : ps != NULL && probe_refused(ps) ? EXIT_REFUSED
             : rc == MTASTS_OK                 ? EXIT_POLICY
             : rc == MTASTS_ERR_NO_POLICY      ? EXIT_NO_POLICY
             : rc == MTASTS_ERR_NOMEM          ? EXIT_OSERR
             : rc == MTASTS_ERR_IO             ? EXIT_NOINPUT
                                               : EXIT_FAILED;
    if (ps != NULL) {
        probe_free(&probes);
    }
    mtasts_result_free(r);
    int saved = cache_save(o, ctx);
    mtasts_ctx_free(ctx);
    return saved >= 0 ? saved : status;
}

static int
run_policy(const struct options *o)
{
    char *buf = NULL;
    size_t len = 0;
    int status = read_policy(o->policy_file, &buf, &len);
    if (status >= 0) {
        return status;
    }
    mtasts_policy *p = NULL;
    mtasts_parse_error err = MTASTS_PARSE_ERROR_INIT;
    int rc = mtasts_policy_parse(buf, len, &p, &err);
    free(buf);
    if (rc != MTASTS_OK) {
        print_error(o, o->policy_file, rc, &err);
        return rc == MTASTS_ERR_NOMEM ? EXIT_OSERR : EXIT_INVALID;
    }
    struct json j;
    if (o->json) {
        json_init(&j, stdout);
        json_begin_object(&j);
        json_key(&j, "valid");
        json_bool(&j, true);
        print_policy_json(&j, p);
        json_key(&j, "mx");
        json_begin_array(&j);
    } else {
        print_policy_text(p);
    }
    status = print_mx_checks(o, p, o->json ? &j : NULL);
    if (o->json) {
        json_end_array(&j);
        json_end_object(&j);
        json_finish(&j);
    }
    mtasts_policy_unref(p);
    return status;
}

int
main(int argc, char **argv)
{
    struct options o = {0};
    int status = parse_args(argc, argv, &o);
    if (status < 0) {
        status = o.tlsrpt           ? tlsrpt_run(o.domain, o.resolver, o.json)
                 : o.domain != NULL ? run_domain(&o)
                 : o.list || o.purge != NULL ? run_cache(&o)
                 : o.txt != NULL             ? run_txt(&o)
                                             : run_policy(&o);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "mtasts-query: write error\n");
        return EXIT_IOERR;
    }
    return status;
}
