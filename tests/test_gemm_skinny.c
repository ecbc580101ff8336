/* test_gemm_skinny.c: nn_gemm_skinny (products of a few columns without
 * packing the weights) against a double-accumulator naive product, with B's
 * columns in place and strided (copied), C strided both ways, beta 0 over
 * garbage and beta 1 accumulating, row counts that leave 0 to 3 rows after
 * the blocks of four, one and two threads (bitwise equal), and the limits
 * of nn_gemm_skinny_fits. */
#include "nn_gemm_skinny.h"
#include "pl_threads.h"
#include "test_util.h"

#include <math.h>
#include <stdlib.h>

/* C = A B + beta C in double, strides as nn_gemm_skinny's. */
static void naive(double *C, ptrdiff_t cm, ptrdiff_t cn, const float *A, int lda, const float *B,
                  ptrdiff_t bk, ptrdiff_t bn, int M, int N, int K, float beta, const float *C0)
{
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double s = beta == 0.0f ? 0.0 : (double)beta * C0[m * cm + n * cn];
            for (int k = 0; k < K; k++) s += (double)A[(size_t)m * lda + k] * B[k * bk + n * bn];
            C[m * cm + n * cn] = s;
        }
}

/* One product: B's columns contiguous (transposed layout, bk 1) or strided
 * (row-major K x N, bk N); C row-major (M x N) or transposed (N x M). */
static void check_case(int M, int N, int K, int b_contiguous, int c_transposed, float beta)
{
    char what[160];
    snprintf(what, sizeof what, "M%d N%d K%d B %s C %s beta %g", M, N, K,
             b_contiguous ? "columns" : "rows", c_transposed ? "transposed" : "rows",
             (double)beta);
    const int lda = K + 3; /* rows of A further apart than K */
    float *A = alloc_random((size_t)M * lda, 1.0f), *B = alloc_random((size_t)K * N, 1.0f);
    const ptrdiff_t bk = b_contiguous ? 1 : N, bn = b_contiguous ? K : 1;
    const ptrdiff_t cm = c_transposed ? 1 : N, cn = c_transposed ? M : 1;
    float *C0 = alloc_random((size_t)M * N, 1.0f);
    float *C1 = alloc_copy(C0, (size_t)M * N), *C2 = alloc_copy(C0, (size_t)M * N);
    double *want = calloc((size_t)M * N, sizeof *want);
    if (beta == 0.0f) /* must not be read: NaN would show */
        for (size_t i = 0; i < (size_t)M * N; i++) C1[i] = C2[i] = NAN;
    CHECK(nn_gemm_skinny_fits(N, K, bk), "%s: fits", what);
    naive(want, cm, cn, A, lda, B, bk, bn, M, N, K, beta, C0);
    pl_threads_set(1);
    nn_gemm_skinny(C1, cm, cn, A, lda, B, bk, bn, M, N, K, beta);
    pl_threads_set(2);
    nn_gemm_skinny(C2, cm, cn, A, lda, B, bk, bn, M, N, K, beta);
    double worst = 0.0;
    int same = 1;
    for (size_t i = 0; i < (size_t)M * N; i++) {
        double err = fabs(C1[i] - want[i]) / (1.0 + fabs(want[i]));
        if (!(err <= worst)) worst = err; /* NaN too */
        same &= memcmp(&C1[i], &C2[i], sizeof(float)) == 0;
    }
    CHECK(worst <= 1e-5 * sqrt((double)K + 1), "%s: max relative error %g", what, worst);
    CHECK(same, "%s: 1 and 2 threads bitwise equal", what);
    free(A), free(B), free(C0), free(C1), free(C2), free(want);
}

static void test_products(void)
{
    /* M: 0 to 3 rows left after the blocks of four; K 0; a product large
     * enough to run on two threads (M N K > 262144) */
    const int shapes[][3] = {{1, 1, 1}, {4, 1, 7},   {5, 2, 16},   {6, 3, 33}, {7, 4, 100},
                             {9, 4, 0}, {512, 1, 4608}, {258, 4, 2304}, {1001, 2, 513}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (int layout = 0; layout < 4; layout++)
            for (int b = 0; b < 2; b++)
                check_case(shapes[i][0], shapes[i][1], shapes[i][2], layout & 1, layout >> 1,
                           b ? 1.0f : 0.0f);
}

static void test_fits(void)
{
    CHECK(!nn_gemm_skinny_fits(0, 10, 1), "no columns: not taken");
    CHECK(nn_gemm_skinny_fits(NN_SKINNY_MAX_N, 1 << 20, 1), "columns in place: any K");
    CHECK(!nn_gemm_skinny_fits(NN_SKINNY_MAX_N + 1, 8, 1), "more than NN_SKINNY_MAX_N columns");
    CHECK(nn_gemm_skinny_fits(4, NN_SKINNY_MAX_BUF / 4, 4), "strided: N K up to the buffer");
    CHECK(!nn_gemm_skinny_fits(4, NN_SKINNY_MAX_BUF / 4 + 1, 4), "strided: beyond the buffer");
}

int main(void)
{
    lcg_seed(4242u);
    test_fits();
    test_products();
    return check_summary("test_gemm_skinny");
}
