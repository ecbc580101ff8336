/* pl_mem.h: allocation that aborts on out-of-memory (batch tools have no
 * sensible recovery), 64-byte aligned for SIMD kernels. Free with pl_free. */
#ifndef PL_MEM_H
#define PL_MEM_H

#include <stddef.h>

/* Returns n bytes aligned to 64; aborts with the size on failure. n == 0 gives
 * a valid pointer. Caller owns the result; free with pl_free. */
void *pl_xmalloc(size_t n);

/* As pl_xmalloc, zero-filled. */
void *pl_xcalloc(size_t count, size_t size);

/* Frees what pl_xmalloc/pl_xcalloc returned; NULL is a no-op. Blocks of 1 MB
 * and more are kept by the calling thread for its next requests of their
 * size (up to 16 blocks and 1 GB per thread; pl_mem.c says why), not
 * returned to the system. */
void pl_free(void *p);

/* Tunes glibc's allocator for this process so that memory freed by libraries
 * is kept and reused rather than returned to the system: OpenBLAS's OpenMP
 * build mallocs and frees per-call thread buffers (512 KB) in every
 * multi-threaded sgemm, and fresh pages cost about 3 ms per MB to touch on
 * these machines. Called once by pl_threads_set. */
void pl_mem_keep_freed_memory(void);

/* Duplicates a NUL-terminated string with pl_xmalloc. */
char *pl_xstrdup(const char *s);

#endif
