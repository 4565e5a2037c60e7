/* Replays files through a fuzz target without libFuzzer (STYLE.md §9).
 *
 *   fuzz_<target> FILE_OR_DIR...
 *
 * Each file named, and each regular file directly inside a directory named
 * (names starting with '.' are skipped, the rest taken in sorted order), is
 * read whole and given to LLVMFuzzerTestOneInput(). A broken invariant
 * aborts, so the test fails and the last "run" line names the input. Exits
 * 0 when at least one input ran, 1 when none was found or a file could not
 * be read. */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <sys/stat.h>

struct names {
    char **v;
    size_t n, cap;
};

static bool
names_add(struct names *names, const char *dir, const char *name)
{
    if (names->n == names->cap) {
        size_t cap = names->cap != 0 ? names->cap * 2 : 64;
        char **grown = realloc(names->v, cap * sizeof(*grown));
        if (grown == NULL) {
            return false;
        }
        names->v = grown;
        names->cap = cap;
    }
    size_t len = strlen(dir) + 1 + strlen(name) + 1;
    char *path = malloc(len);
    if (path == NULL) {
        return false;
    }
    snprintf(path, len, "%s/%s", dir, name);
    names->v[names->n++] = path;
    return true;
}

static int
compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Read a whole file into a block of exactly its size (NULL data, 0 for an
 * empty file), so that the target sees no terminator after the input. */
static bool
read_file(const char *path, uint8_t **data, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "driver: %s: %s\n", path, strerror(errno));
        return false;
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    uint8_t chunk[4096];
    bool ok = true;
    for (;;) {
        size_t got = fread(chunk, 1, sizeof(chunk), f);
        if (got == 0) {
            break;
        }
        uint8_t *grown = realloc(buf, len + got);
        if (grown == NULL) {
            ok = false;
            break;
        }
        buf = grown;
        memcpy(buf + len, chunk, got);
        len += got;
    }
    if (ferror(f)) {
        fprintf(stderr, "driver: %s: read error\n", path);
        ok = false;
    }
    fclose(f);
    if (!ok) {
        free(buf);
        return false;
    }
    *data = buf;
    *size = len;
    return true;
}

static bool
run_file(const char *path)
{
    uint8_t *data = NULL;
    size_t size = 0;
    if (!read_file(path, &data, &size)) {
        return false;
    }
    printf("run %s (%zu bytes)\n", path, size);
    fflush(stdout);
    LLVMFuzzerTestOneInput(data, size);
    free(data);
    return true;
}

/* The regular files directly inside dir, sorted. */
static bool
list_dir(const char *dir, struct names *names)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "driver: %s: %s\n", dir, strerror(errno));
        return false;
    }
    bool ok = true;
    for (;;) {
        const struct dirent *e = readdir(d);
        if (e == NULL) {
            break;
        }
        if (e->d_name[0] == '.') {
            continue;
        }
        if (!names_add(names, dir, e->d_name)) {
            ok = false;
            break;
        }
        struct stat st;
        if (stat(names->v[names->n - 1], &st) != 0 || !S_ISREG(st.st_mode)) {
            free(names->v[--names->n]);
        }
    }
    closedir(d);
    if (names->n > 1) {
        qsort(names->v, names->n, sizeof(names->v[0]), compare_names);
    }
    return ok;
}

int
main(int argc, char **argv)
{
    size_t runs = 0;
    bool ok = true;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "driver: %s: %s\n", argv[i], strerror(errno));
            ok = false;
            continue;
        }
        if (!S_ISDIR(st.st_mode)) {
            if (run_file(argv[i])) {
                runs++;
            } else {
                ok = false;
            }
            continue;
        }
        struct names names = {NULL, 0, 0};
        if (!list_dir(argv[i], &names)) {
            ok = false;
        }
        for (size_t j = 0; j < names.n; j++) {
            if (run_file(names.v[j])) {
                runs++;
            } else {
                ok = false;
            }
            free(names.v[j]);
        }
        free(names.v);
    }
    printf("%s: %zu inputs ran\n", argc > 0 ? argv[0] : "driver", runs);
    if (runs == 0) {
        fprintf(stderr, "driver: no input found (give files or "
                        "directories)\n");
        return 1;
    }
    return ok ? 0 : 1;
}
