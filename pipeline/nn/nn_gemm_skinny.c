/* nn_gemm_skinny.c: products of a few columns without packing the weights
 * (see nn_gemm_skinny.h). */
#include "nn_gemm_skinny.h"

#include "pl_err.h"

#define SKINNY_OMP_MIN_WORK 262144 /* multiply-adds below which it stays serial */
#define ROWS 4                      /* rows of A summed together                 */

int nn_gemm_skinny_fits(int N, int K, ptrdiff_t bk)
{
    return N >= 1 && N <= NN_SKINNY_MAX_N && K >= 0 &&
           (bk == 1 || (size_t)N * (size_t)K <= NN_SKINNY_MAX_BUF);
}

/* One output: beta C + sum; beta 0 does not read C (it may be garbage). */
static inline void store(float *c, float sum, float beta)
{
    *c = beta == 0.0f ? sum : sum + beta * *c;
}

void nn_gemm_skinny(float *C, ptrdiff_t cm, ptrdiff_t cn, const float *A, int lda,
                    const float *B, ptrdiff_t bk, ptrdiff_t bn, int M, int N, int K, float beta)
{
    PL_ASSERT(nn_gemm_skinny_fits(N, K, bk) && M >= 0 && lda >= K);
    float buf[NN_SKINNY_MAX_BUF]; /* B's columns, contiguous, when strided */
    const float *col[NN_SKINNY_MAX_N];
    for (int n = 0; n < N; n++) {
        if (bk == 1) {
            col[n] = B + (ptrdiff_t)n * bn;
        } else {
            float *dst = buf + (size_t)n * K;
            for (int k = 0; k < K; k++) dst[k] = B[(ptrdiff_t)k * bk + (ptrdiff_t)n * bn];
            col[n] = dst;
        }
    }
    const int blocks = (M + ROWS - 1) / ROWS;
#pragma omp parallel for schedule(static) if ((long)M * N * K > SKINNY_OMP_MIN_WORK)
    for (int blk = 0; blk < blocks; blk++) {
        const int m0 = blk * ROWS;
        const float *a0 = A + (size_t)m0 * lda;
        if (m0 + ROWS <= M) {
            const float *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda;
            for (int n = 0; n < N; n++) {
                const float *b = col[n];
                float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
                for (int k = 0; k < K; k++) {
                    s0 += a0[k] * b[k];
                    s1 += a1[k] * b[k];
                    s2 += a2[k] * b[k];
                    s3 += a3[k] * b[k];
                }
                float *c = C + (ptrdiff_t)m0 * cm + (ptrdiff_t)n * cn;
                store(c, s0, beta);
                store(c + cm, s1, beta);
                store(c + 2 * cm, s2, beta);
                store(c + 3 * cm, s3, beta);
            }
        } else {
            for (int m = m0; m < M; m++) {
                const float *a = A + (size_t)m * lda;
                for (int n = 0; n < N; n++) {
                    const float *b = col[n];
                    float s = 0.0f;
#pragma omp simd reduction(+ : s)
                    for (int k = 0; k < K; k++) s += a[k] * b[k];
                    store(C + (ptrdiff_t)m * cm + (ptrdiff_t)n * cn, s, beta);
                }
            }
        }
    }
}
