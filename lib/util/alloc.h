/* Internal allocator: lib/ never calls malloc directly (STYLE.md §4). */
#ifndef MTASTS_UTIL_ALLOC_H
#define MTASTS_UTIL_ALLOC_H

#include <stddef.h>

/* The functions behind mtasts__alloc and friends. Unit tests swap them for
 * ones that fail the N-th call; nothing else changes them. */
struct mtasts__allocator {
    void *(*malloc_fn)(size_t size);
    void *(*realloc_fn)(void *ptr, size_t size);
    void (*free_fn)(void *ptr);
};

void *mtasts__alloc(size_t size);
void *mtasts__calloc(size_t count, size_t size);
void *mtasts__realloc(void *ptr, size_t size);
void mtasts__free(void *ptr);

/* Install a (NULL: the C library's) allocator. Not thread-safe: tests only,
 * before any other call. */
void mtasts__allocator_set(const struct mtasts__allocator *a);

#endif
