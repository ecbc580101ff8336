/* pl_mem.c: aligned, abort-on-failure allocation. */
#include "pl_mem.h"
#include "pl_err.h"

#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void *pl_xmalloc(size_t n)
{
    void *p = NULL;
    size_t rounded = (n + 63) / 64 * 64;
    if (rounded == 0) rounded = 64;
    if (posix_memalign(&p, 64, rounded) != 0 || p == NULL)
        pl_abort(__FILE__, __LINE__, "out of memory allocating %zu bytes", n);
    return p;
}

void *pl_xcalloc(size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size)
        pl_abort(__FILE__, __LINE__, "allocation size overflow (%zu x %zu)", count, size);
    void *p = pl_xmalloc(count * size);
    memset(p, 0, count * size);
    return p;
}

void pl_free(void *p) { free(p); }

void pl_mem_keep_freed_memory(void)
{
    /* Blocks up to 64 MB come from the heap (not fresh mmap pages), and the
     * heap is not trimmed until 1 GB lie free. */
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

char *pl_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = pl_xmalloc(n);
    memcpy(d, s, n);
    return d;
}
