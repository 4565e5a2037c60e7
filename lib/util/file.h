/* Whole files: read one into memory, and replace one atomically (a
 * temporary file in the same directory, fsync, rename, fsync of the
 * directory), so that a crash never leaves a torn file. Used by the cache
 * file and the report store file. */
#ifndef MTASTS_UTIL_FILE_H
#define MTASTS_UTIL_FILE_H

#include <stddef.h>
#include <stdio.h>

/* Read a whole regular file into memory (released with mtasts__free()).
 * MTASTS_OK, MTASTS_ERR_NOT_FOUND (no such file), MTASTS_ERR_IO,
 * MTASTS_ERR_NOMEM. */
int mtasts__file_read_all(const char *path, unsigned char **out, size_t *len);

/* Writes a file's content to fp: MTASTS_OK or an error status (which
 * abandons the file). */
typedef int mtasts__file_writer_fn(FILE *fp, void *arg);

/* Replace path by what write() writes: the temporary file is created with
 * mode 0600 next to path. MTASTS_OK, MTASTS_ERR_IO, MTASTS_ERR_NOMEM, or
 * write()'s error; on any error path is left as it was. */
int mtasts__file_write_atomic(const char *path, mtasts__file_writer_fn *write,
                              void *arg);

#endif
