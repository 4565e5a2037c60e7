/* Whole files (util/file.h). */
#include "util/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mtasts/mtasts.h"
#include "util/alloc.h"

int
mtasts__file_read_all(const char *path, unsigned char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT ? MTASTS_ERR_NOT_FOUND : MTASTS_ERR_IO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 0) {
        close(fd);
        return MTASTS_ERR_IO;
    }
    size_t size = (size_t)st.st_size;
    unsigned char *buf = mtasts__alloc(size + 1);
    if (buf == NULL) {
        close(fd);
        return MTASTS_ERR_NOMEM;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break; /* an error, or the file shrank: refused below */
        }
        got += (size_t)n;
    }
    close(fd);
    if (got != size) {
        mtasts__free(buf);
        return MTASTS_ERR_IO;
    }
    *out = buf;
    *len = size;
    return MTASTS_OK;
}

/* The directory holding path, allocated ("." without a slash). */
static char *
dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash == NULL ? 1 : slash == path ? 1 : (size_t)(slash - path);
    char *dir = mtasts__alloc(n + 1);
    if (dir != NULL) {
        memcpy(dir, slash == NULL ? "." : path, n);
        dir[n] = '\0';
    }
    return dir;
}

/* fsync a directory, so that a rename in it is durable. */
static int
sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return MTASTS_ERR_IO;
    }
    int rc = fsync(fd) == 0 ? MTASTS_OK : MTASTS_ERR_IO;
    close(fd);
    return rc;
}

#define WRITE_BUF ((size_t)1 << 20)

/* Write the file under the temporary name tmp (created by mkstemp). */
static int
write_tmp(char *tmp, mtasts__file_writer_fn *write, void *arg)
{
    int fd = mkstemp(tmp); /* mode 0600: the files are nobody else's */
    if (fd < 0) {
        return MTASTS_ERR_IO;
    }
    FILE *fp = fdopen(fd, "wb");
    if (fp == NULL) {
        close(fd);
        unlink(tmp);
        return MTASTS_ERR_IO;
    }
    /* A buffer of 1 MiB, so that a large file goes out in writes of 1 MiB
     * rather than of the stream's default (4 KiB: 37,000 system calls for
     * a cache of a million). glibc ignores the size when given no buffer,
     * so it is given one, which must outlive the stream. Without it the
     * default buffering does, only slower. */
    char *vbuf = mtasts__alloc(WRITE_BUF);
    if (vbuf != NULL) {
        setvbuf(fp, vbuf, _IOFBF, WRITE_BUF);
    }
    int rc = write(fp, arg);
    if (rc == MTASTS_OK && (fflush(fp) != 0 || fsync(fd) != 0)) {
        rc = MTASTS_ERR_IO;
    }
    if (fclose(fp) != 0 && rc == MTASTS_OK) {
        rc = MTASTS_ERR_IO;
    }
    mtasts__free(vbuf);
    if (rc != MTASTS_OK) {
        unlink(tmp);
    }
    return rc;
}

int
mtasts__file_write_atomic(const char *path, mtasts__file_writer_fn *write,
                          void *arg)
{
    static const char suffix[] = ".tmp.XXXXXX";
    size_t plen = strlen(path);
    char *tmp = mtasts__alloc(plen + sizeof(suffix));
    char *dir = dir_of(path);
    if (tmp == NULL || dir == NULL) {
        mtasts__free(tmp);
        mtasts__free(dir);
        return MTASTS_ERR_NOMEM;
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, suffix, sizeof(suffix));
    int rc = write_tmp(tmp, write, arg);
    if (rc == MTASTS_OK && rename(tmp, path) != 0) {
        unlink(tmp);
        rc = MTASTS_ERR_IO;
    }
    if (rc == MTASTS_OK) {
        rc = sync_dir(dir);
    }
    mtasts__free(tmp);
    mtasts__free(dir);
    return rc;
}
