#include "util/alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const struct mtasts__allocator libc_allocator = {
    malloc,
    realloc,
    free,
};

static const struct mtasts__allocator *allocator = &libc_allocator;

void
mtasts__allocator_set(const struct mtasts__allocator *a)
{
    allocator = a != NULL ? a : &libc_allocator;
}

void *
mtasts__alloc(size_t size)
{
    /* malloc(0) may return NULL; callers treat NULL as out of memory. */
    return allocator->malloc_fn(size != 0 ? size : 1);
}

void *
mtasts__calloc(size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size) {
        return NULL;
    }
    void *p = mtasts__alloc(count * size);
    if (p != NULL) {
        memset(p, 0, count * size);
    }
    return p;
}

void *
mtasts__realloc(void *ptr, size_t size)
{
    return allocator->realloc_fn(ptr, size != 0 ? size : 1);
}

void
mtasts__free(void *ptr)
{
    if (ptr != NULL) {
        allocator->free_fn(ptr);
    }
}
