/* pl_mem.c: aligned, abort-on-failure allocation, with big blocks kept per
 * thread for reuse.
 *
 * The search builds and frees a whole-model graph per candidate, on every
 * evaluating thread: megabytes of parameters, activations and workspace.
 * glibc returns such blocks to the system (they are mmapped above the mmap
 * threshold, and a thread's arena trims and madvises its heaps however the
 * thresholds are set: measured 100 of 256 pages per MB faulting again on
 * 20-50 MB blocks in two threads), and fresh pages cost about 3 ms per MB
 * to touch here. So pl_free keeps up to KEPT_BLOCKS blocks of BIG_BLOCK
 * bytes and more (KEPT_BYTES in all) per thread, and pl_xmalloc hands one
 * back for a request it fits within 2x (big requests rounded up to size
 * classes): the next candidate's graph lands on pages already mapped. Not under AddressSanitizer, which must see
 * every free to catch a use after it. */
#include "pl_mem.h"
#include "pl_err.h"

#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define KEEP_BLOCKS 0
#else
#define KEEP_BLOCKS 1
#endif
#define BIG_BLOCK   ((size_t)1 << 20) /* blocks from 1 MB are kept                */
#define KEPT_BLOCKS 16                /* per thread                               */
#define KEPT_BYTES  ((size_t)1 << 30) /* per thread, all kept blocks together      */

typedef struct {
    void  *block[KEPT_BLOCKS];
    size_t size[KEPT_BLOCKS]; /* usable bytes */
    int    n;
    size_t bytes;
} kept_blocks;

static _Thread_local kept_blocks kept;

static void forget(int i)
{
    kept.bytes -= kept.size[i];
    kept.n--;
    kept.block[i] = kept.block[kept.n];
    kept.size[i] = kept.size[kept.n];
}

/* The smallest kept block of at least n bytes and at most 2n, or NULL. */
static void *take_kept(size_t n)
{
    int best = -1;
    for (int i = 0; i < kept.n; i++)
        if (kept.size[i] >= n && kept.size[i] <= 2 * n && (best < 0 || kept.size[i] < kept.size[best]))
            best = i;
    if (best < 0) return NULL;
    void *p = kept.block[best];
    forget(best);
    return p;
}

/* Keeps p (size usable bytes), making room by freeing the oldest blocks. */
static void keep(void *p, size_t size)
{
    while (kept.n > 0 && (kept.n == KEPT_BLOCKS || kept.bytes + size > KEPT_BYTES)) {
        free(kept.block[0]);
        forget(0);
    }
    kept.block[kept.n] = p;
    kept.size[kept.n++] = size;
    kept.bytes += size;
}

/* n (>= BIG_BLOCK) up to a multiple of an eighth of its power of two: a
 * candidate's graph differs from the last one's by a few nodes, and the
 * rounded sizes let its blocks fit the kept ones (12.5% at most unused). */
static size_t size_class(size_t n)
{
    size_t pow2 = BIG_BLOCK;
    while (pow2 <= n / 2) pow2 *= 2;
    const size_t step = pow2 / 8;
    return (n + step - 1) / step * step;
}

void *pl_xmalloc(size_t n)
{
    void *p = NULL;
    size_t rounded = (n + 63) / 64 * 64;
    if (rounded == 0) rounded = 64;
    if (KEEP_BLOCKS && rounded >= BIG_BLOCK) {
        rounded = size_class(rounded);
        if ((p = take_kept(rounded)) != NULL) return p;
    }
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

void pl_free(void *p)
{
    if (!p) return;
    const size_t size = KEEP_BLOCKS ? malloc_usable_size(p) : 0;
    /* 64-aligned: only what pl_xmalloc gave may be handed out again */
    if (size >= BIG_BLOCK && size <= KEPT_BYTES && ((uintptr_t)p & 63) == 0)
        keep(p, size);
    else
        free(p);
}

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
