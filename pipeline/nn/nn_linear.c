/* nn_linear.c: fully connected layer out = inp W^T + b through OpenBLAS sgemm
 * (a batch of at most NN_SKINNY_USED_N rows through nn_gemm_skinny, which
 * does not pack the weights), its accumulating backward, and naive
 * double-accumulator references. */
#include "nn_linear.h"
#include "nn_gemm_skinny.h"

#include "pl_err.h"

#include <cblas.h>

static void check_dims(int N, int IN, int OUT)
{
    PL_ASSERT(N >= 0 && IN >= 0 && OUT >= 0);
}

void nn_linear_forward(float *out, const float *inp, const float *weight, const float *bias,
                       int N, int IN, int OUT)
{
    check_dims(N, IN, OUT);
    if (N == 0 || OUT == 0) return;
    /* start from the bias (or zero) and let sgemm accumulate with beta = 1 */
    for (int n = 0; n < N; n++) {
        float *row = out + (size_t)n * OUT;
        for (int o = 0; o < OUT; o++) row[o] = bias ? bias[o] : 0.0f;
    }
    if (IN == 0) return;
    if (nn_gemm_skinny_pays(N, IN, 1)) /* out^T (OUT,N) += W inp^T */
        nn_gemm_skinny(out, 1, OUT, weight, IN, inp, 1, IN, OUT, N, IN, 1.0f);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OUT, IN, 1.0f, inp, IN, weight,
                    IN, 1.0f, out, OUT);
}

void nn_linear_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                        const float *inp, const float *weight, int N, int IN, int OUT)
{
    check_dims(N, IN, OUT);
    if (N == 0 || OUT == 0) return;
    if (dbias) {
        for (int o = 0; o < OUT; o++) {
            double acc = 0.0;
            for (int n = 0; n < N; n++) acc += dout[(size_t)n * OUT + o];
            dbias[o] += (float)acc;
        }
    }
    if (IN == 0) return;
    /* dinp (N,IN) += dout (N,OUT) * weight (OUT,IN) */
    if (dinp)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, IN, OUT, 1.0f, dout, OUT,
                    weight, IN, 1.0f, dinp, IN);
    /* dweight (OUT,IN) += dout^T (OUT,N) * inp (N,IN) */
    if (dweight)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OUT, IN, N, 1.0f, dout, OUT,
                    inp, IN, 1.0f, dweight, IN);
}

void nn_linear_forward_ref(float *out, const float *inp, const float *weight, const float *bias,
                           int N, int IN, int OUT)
{
    check_dims(N, IN, OUT);
    for (int n = 0; n < N; n++) {
        for (int o = 0; o < OUT; o++) {
            double acc = bias ? bias[o] : 0.0;
            for (int i = 0; i < IN; i++)
                acc += (double)inp[(size_t)n * IN + i] * weight[(size_t)o * IN + i];
            out[(size_t)n * OUT + o] = (float)acc;
        }
    }
}

void nn_linear_backward_ref(float *dinp, float *dweight, float *dbias, const float *dout,
                            const float *inp, const float *weight, int N, int IN, int OUT)
{
    check_dims(N, IN, OUT);
    if (dbias) {
        for (int o = 0; o < OUT; o++) {
            double acc = 0.0;
            for (int n = 0; n < N; n++) acc += dout[(size_t)n * OUT + o];
            dbias[o] += (float)acc;
        }
    }
    if (dinp) {
        for (int n = 0; n < N; n++) {
            for (int i = 0; i < IN; i++) {
                double acc = 0.0;
                for (int o = 0; o < OUT; o++)
                    acc += (double)dout[(size_t)n * OUT + o] * weight[(size_t)o * IN + i];
                dinp[(size_t)n * IN + i] += (float)acc;
            }
        }
    }
    if (dweight) {
        for (int o = 0; o < OUT; o++) {
            for (int i = 0; i < IN; i++) {
                double acc = 0.0;
                for (int n = 0; n < N; n++)
                    acc += (double)dout[(size_t)n * OUT + o] * inp[(size_t)n * IN + i];
                dweight[(size_t)o * IN + i] += (float)acc;
            }
        }
    }
}
