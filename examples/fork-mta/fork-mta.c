/*
 * fork-mta: the pattern of a fork-per-delivery MTA (one process per
 * delivery, blocking calls), with the policies shared between the
 * processes through a directory (docs/integration-fork.md).
 *
 *   fork-mta --store DIR [--children N] [--resolver ADDR@PORT]
 *            [--ca-file FILE] [--https-port N] DOMAIN...
 *
 * The parent forks N children at once and waits for them. Each child is
 * one "delivery": it makes its own context (a context must not cross a
 * fork while other threads might use it; a fresh one is cheap), installs
 * the directory store, looks up every DOMAIN with the blocking
 * mtasts_lookup_result() and prints one line per domain:
 *   child I DOMAIN STATUS from_cache=0|1 store=STATUS [mode=MODE id=ID]
 * A policy fetched by one child is written to DIR/DOMAIN by the library
 * (the store's put hook); the next child that looks the domain up finds
 * it there (get), checks the TXT id over DNS and, with the same id, makes
 * no HTTPS fetch at all. Without the store, every delivery process would
 * start with an empty cache and fetch every policy again.
 *
 * The store (dir_store_*): one file per domain, named by the normalised
 * domain; written to a temporary file and renamed, so readers never see
 * half a record; its modification time is set to the policy's expiry,
 * so `find DIR -type f ! -newermt now -delete` removes expired ones. The
 * library checks every record it reads (format, checksum, domain,
 * expiry): a damaged file costs a fetch, never a wrong policy.
 *
 * Exit status: 0 when every child exited 0 (every lookup gave a result,
 * whatever its status), 1 otherwise, 2 on bad usage.
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mtasts/mtasts.h>

/* ---- the directory store --------------------------------------------- */

struct dir_store {
    char dir[PATH_MAX];
};

/* DIR/DOMAIN, refusing a key that is not a plain normalised domain (the
 * library gives only those; checked anyway, since it names a file). */
static int
store_path(const struct dir_store *s, const char *domain, char *out, size_t cap)
{
    if (domain[0] == '\0' || domain[0] == '.' ||
        strspn(domain, "abcdefghijklmnopqrstuvwxyz0123456789.-") !=
            strlen(domain))
        return MTASTS_ERR_INVALID;
    int n = snprintf(out, cap, "%s/%s", s->dir, domain);
    return n > 0 && (size_t)n < cap ? MTASTS_OK : MTASTS_ERR_TOO_LARGE;
}

static int
dir_store_get(const char *domain, unsigned char *buf, size_t cap, size_t *len,
              void *user)
{
    char path[PATH_MAX];
    int rc = store_path(user, domain, path, sizeof(path));
    if (rc != MTASTS_OK)
        return rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? MTASTS_ERR_NOT_FOUND : MTASTS_ERR_STORE;
    size_t got = 0;
    for (;;) {
        if (got == cap) { /* one byte more than cap: refuse, never cut */
            unsigned char extra;
            ssize_t n = read(fd, &extra, 1);
            close(fd);
            return n == 0 ? (*len = got, MTASTS_OK) : MTASTS_ERR_TOO_LARGE;
        }
        ssize_t n = read(fd, buf + got, cap - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            close(fd);
            return MTASTS_ERR_STORE;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    *len = got;
    return MTASTS_OK;
}

static int
dir_store_put(const char *domain, const unsigned char *value, size_t len,
              int64_t ttl_s, void *user)
{
    struct dir_store *s = user;
    char path[PATH_MAX], tmp[PATH_MAX];
    int rc = store_path(s, domain, path, sizeof(path));
    if (rc != MTASTS_OK)
        return rc;
    if (snprintf(tmp, sizeof(tmp), "%s/.tmp.XXXXXX", s->dir) >=
        (int)sizeof(tmp))
        return MTASTS_ERR_TOO_LARGE;
    int fd = mkstemp(tmp);
    if (fd < 0)
        return MTASTS_ERR_STORE;
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, value + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    /* the file's time is the policy's expiry, for cleaning up with find */
    struct timespec times[2];
    clock_gettime(CLOCK_REALTIME, &times[0]);
    times[0].tv_sec += (time_t)ttl_s;
    times[1] = times[0];
    bool ok = done == len && futimens(fd, times) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return MTASTS_ERR_STORE;
    }
    return MTASTS_OK;
}

static int
dir_store_delete(const char *domain, void *user)
{
    char path[PATH_MAX];
    int rc = store_path(user, domain, path, sizeof(path));
    if (rc != MTASTS_OK)
        return rc;
    return unlink(path) == 0 || errno == ENOENT ? MTASTS_OK : MTASTS_ERR_STORE;
}

/* ---- one delivery process ----------------------------------------------- */

struct options {
    const char *resolver, *ca_file;
    unsigned long https_port;
};

static int
child(int index, struct dir_store *store, const struct options *o,
      char **domains, int count)
{
    mtasts_ctx *ctx = NULL;
    int rc = mtasts_ctx_new(&ctx);
    if (rc == MTASTS_OK)
        rc = mtasts_ctx_set_store_hooks(ctx, dir_store_get, dir_store_put,
                                        dir_store_delete, store);
    if (rc == MTASTS_OK && o->resolver != NULL)
        rc = mtasts_ctx_set_resolver(ctx, o->resolver);
    if (rc == MTASTS_OK && o->ca_file != NULL)
        rc = mtasts_ctx_set_ca_file(ctx, o->ca_file);
    if (rc == MTASTS_OK)
        rc = mtasts_ctx_set_https_port(ctx, (uint16_t)o->https_port);
    if (rc != MTASTS_OK) {
        fprintf(stderr, "fork-mta: child %d: %s\n", index, mtasts_strerror(rc));
        mtasts_ctx_free(ctx);
        return 1;
    }
    int status = 0;
    for (int i = 0; i < count; i++) {
        mtasts_result *r = NULL;
        rc = mtasts_lookup_result(ctx, domains[i], &r);
        if (r == NULL) { /* bad arguments or no memory: no result */
            printf("child %d %s %s\n", index, domains[i],
                   mtasts_status_name(rc));
            status = 1;
            continue;
        }
        mtasts_policy *p = mtasts_result_policy(r); /* borrowed */
        printf("child %d %s %s from_cache=%d store=%s", index, domains[i],
               mtasts_status_name(mtasts_result_status(r)),
               mtasts_result_from_cache(r) ? 1 : 0,
               mtasts_status_name(mtasts_result_store_status(r)));
        if (p != NULL)
            printf(" mode=%s id=%s", mtasts_mode_name(mtasts_policy_mode(p)),
                   mtasts_result_txt_id(r));
        printf("\n");
        mtasts_result_free(r);
    }
    fflush(stdout);
    mtasts_ctx_free(ctx);
    return status;
}

static void
usage(FILE *f)
{
    fprintf(f, "usage: fork-mta --store DIR [--children N] "
               "[--resolver ADDR@PORT] [--ca-file FILE] [--https-port N] "
               "DOMAIN...\n");
}

int
main(int argc, char **argv)
{
    struct dir_store store;
    struct options o = {NULL, NULL, 443};
    const char *dir = NULL;
    unsigned long children = 1;
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            usage(stderr);
            return 2;
        }
        if (strcmp(argv[i], "--store") == 0)
            dir = argv[i + 1];
        else if (strcmp(argv[i], "--children") == 0)
            children = strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--resolver") == 0)
            o.resolver = argv[i + 1];
        else if (strcmp(argv[i], "--ca-file") == 0)
            o.ca_file = argv[i + 1];
        else if (strcmp(argv[i], "--https-port") == 0)
            o.https_port = strtoul(argv[i + 1], NULL, 10);
        else {
            usage(stderr);
            return 2;
        }
    }
    if (dir == NULL || i >= argc || children == 0 || children > 64 ||
        o.https_port == 0 || o.https_port > 65535 ||
        strlen(dir) >= sizeof(store.dir)) {
        usage(stderr);
        return 2;
    }
    memcpy(store.dir, dir, strlen(dir) + 1);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        perror(dir);
        return 1;
    }

    fflush(stdout); /* nothing buffered may be written twice */
    pid_t pids[64];
    for (unsigned long c = 0; c < children; c++) {
        pids[c] = fork();
        if (pids[c] < 0) {
            perror("fork");
            return 1;
        }
        if (pids[c] == 0)
            _exit(child((int)c + 1, &store, &o, argv + i, argc - i));
    }
    int failed = 0;
    for (unsigned long c = 0; c < children; c++) {
        int st = 0;
        if (waitpid(pids[c], &st, 0) < 0 || !WIFEXITED(st) ||
            WEXITSTATUS(st) != 0)
            failed++;
    }
    return failed == 0 ? 0 : 1;
}
