/* nn_gemm_skinny.h: C (M,N) = A (M,K) B (K,N) + beta C for products of a
 * few columns, as inference at batch 1 makes them (the weights A against
 * one or a few pixels or images); the engine uses it on one column
 * (NN_SKINNY_USED_N).
 *
 * OpenBLAS's sgemm packs A, the whole weight matrix, on every call, which at
 * N = 1 reads and writes it twice more than the product needs (measured:
 * 512 x 4608 by 1 column in 870 us against 450 us for sgemv, one thread).
 * This kernel streams A once: each row's dot products with the N columns of
 * B, rows in blocks of four for independent sums; parallel over row blocks,
 * each output summed by one thread in a fixed order (thread-count
 * independent).
 *
 * Element strides: B (k, n) is B[k*bk + n*bn], C (m, n) is C[m*cm + n*cn];
 * A rows are lda apart. B's columns are used in place when bk == 1, else
 * copied into a stack buffer of NN_SKINNY_MAX_BUF floats. */
#ifndef NN_GEMM_SKINNY_H
#define NN_GEMM_SKINNY_H

#include <stddef.h>

#define NN_SKINNY_MAX_N   4     /* columns the kernel takes                 */
#define NN_SKINNY_MAX_BUF 16384 /* floats of a strided B it copies (64 KB)  */
/* Columns up to which the engine's forwards use it (nn_gemm_skinny_pays).
 * Taking up to 4 made ResNet18 at 32x32 faster on two threads (3.5 -> 2.6
 * ms whole model) but MobileNetV3-Large at 32x32 slower (1.55 -> 1.7-1.85
 * ms on one thread), whose 2x2 pointwise products with few inputs per
 * output run faster through sgemm; and the latency model's rank
 * correlation on MobileNetV3 at 28x28 fell from 0.87-0.89 to 0.70-0.79. */
#define NN_SKINNY_USED_N  1

/* Whether nn_gemm_skinny can take the product: 1 <= N <= NN_SKINNY_MAX_N,
 * and N*K within NN_SKINNY_MAX_BUF when B's columns are strided (bk != 1). */
int nn_gemm_skinny_fits(int N, int K, ptrdiff_t bk);

/* Whether the engine's forwards take it there: fits, and N <=
 * NN_SKINNY_USED_N. */
static inline int nn_gemm_skinny_pays(int N, int K, ptrdiff_t bk)
{
    return N <= NN_SKINNY_USED_N && nn_gemm_skinny_fits(N, K, bk);
}

/* C = A B + beta C (see the file comment); beta 0 ignores C's old values.
 * Requires nn_gemm_skinny_fits(N, K, bk). */
void nn_gemm_skinny(float *C, ptrdiff_t cm, ptrdiff_t cn, const float *A, int lda,
                    const float *B, ptrdiff_t bk, ptrdiff_t bn, int M, int N, int K, float beta);

#endif
