/* pl_threads.h: one thread count for the whole process, honoured by OpenBLAS
 * and by the project's own OpenMP kernels. */
#ifndef PL_THREADS_H
#define PL_THREADS_H

/* Sets the thread count used by OpenBLAS and by the project's kernels.
 * n <= 0 means all online cores. Also applies pl_mem_keep_freed_memory. */
void pl_threads_set(int n);

/* The thread count in force (>= 1). */
int pl_threads_get(void);

/* The name of the OpenBLAS kernel in use (openblas_get_corename), borrowed. */
const char *pl_blas_corename(void);

/* A one-line description of the BLAS setup: library, kernel, threads and the
 * OPENBLAS_* environment, written into buf (for provenance). */
void pl_blas_describe(char *buf, int size);

#endif
