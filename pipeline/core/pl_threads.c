/* pl_threads.c: thread count shared by OpenBLAS and OpenMP kernels. */
#include "pl_threads.h"
#include "pl_mem.h"

#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int thread_count = 1;

void pl_threads_set(int n)
{
    if (n <= 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        n = cores > 0 ? (int)cores : 1;
    }
    thread_count = n;
    pl_mem_keep_freed_memory();
    openblas_set_num_threads(n);
    omp_set_num_threads(n);
    /* Kernels that run units in parallel (nn_conv.c) call OpenMP loops and
     * sgemm inside their team: those must then run on the calling thread,
     * whatever OMP_NESTED or OMP_MAX_ACTIVE_LEVELS say. */
    omp_set_max_active_levels(1);
}

int pl_threads_get(void) { return thread_count; }

const char *pl_blas_corename(void) { return openblas_get_corename(); }

void pl_blas_describe(char *buf, int size)
{
    const char *coretype = getenv("OPENBLAS_CORETYPE");
    const char *l2 = getenv("OPENBLAS_L2_SIZE");
    snprintf(buf, (size_t)size, "%s core=%s threads=%d OPENBLAS_CORETYPE=%s OPENBLAS_L2_SIZE=%s",
             openblas_get_config(), openblas_get_corename(), thread_count,
             coretype ? coretype : "(unset)", l2 ? l2 : "(unset)");
}
