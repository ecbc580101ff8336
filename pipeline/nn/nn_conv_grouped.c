/* nn_conv_grouped.c: grouped 2-D convolution at stride 1 with few input
 * channels per group (1 < groups, Cg <= NN_CONV_GROUPED_MAX_CG, not
 * depthwise), as Cg depthwise convolutions over the OC output channels.
 *
 * Output channel oc (group g = oc / OCg) reads input channels g*Cg + j,
 * j < Cg, each through its own kernel weight[oc, j]. For one j that is a
 * depthwise convolution of X_j (N, OC, H, W), X_j[n, oc] the input plane
 * (n, g*Cg + j), by W_j (OC, 1, KH, KW) = weight[:, j]: the output is the
 * sum of the Cg depthwise outputs. The backward runs the depthwise backward
 * per j on the same X_j and W_j: dweight[:, j] += its dW_j, and input plane
 * (n, g*Cg + j) += the sum over the group's OCg output channels of its dX_j.
 *
 * Why: on the im2col path a group is one sgemm of OCg rows per unit, and
 * the column matrix is copied per group, so a grouped convolution of the
 * search's candidates (3x3, 32 channels in 16 groups at 16x16, batch 64)
 * took longer than the dense one, which has 16 times its multiply-adds
 * (3.3-3.5 ms forward against 1.7-1.9). The depthwise kernels (nn_conv_dw.c) do a plane's
 * taps in registers; the copies here are Cg plane gathers and sums.
 * bench_conv's "candidates" rows, batch 32, against im2col: 16 groups of 2
 * channels at 16x16 4.8x forward, 2.2x backward; 4 groups of 4 at 32x32
 * 1.3x forward, 0.76x backward. At stride 2 the depthwise input gradient
 * scatters (0.14x backward), so strided convolutions stay on im2col.
 *
 * Every float is summed in a fixed order whatever the thread count (the
 * depthwise kernels' contract; the gathers and sums are per plane). */
#include "nn_conv_internal.h"
#include "pl_err.h"

#include <string.h>

#define OMP_MIN_FLOATS 32768 /* floats below which a plane loop stays serial */

/* Workspace: X_j (N, OC, H, W); the depthwise output or dX_j, the larger of
 * (N, OC, OH, OW) and (N, OC, H, W); W_j and dW_j (OC, KH, KW) each. */
static size_t x_floats(const nn_conv_plan *s) { return (size_t)s->N * s->OC * s->H * s->W; }
static size_t y_floats(const nn_conv_plan *s)
{
    size_t y = (size_t)s->N * s->OC * s->P;
    return y > x_floats(s) ? y : x_floats(s);
}
static size_t w_floats(const nn_conv_plan *s) { return (size_t)s->OC * s->KH * s->KW; }

size_t nn_conv_grouped_floats(const nn_conv_plan *s)
{
    return x_floats(s) + y_floats(s) + 2 * w_floats(s);
}

/* x (N, OC, H, W): x[n, oc] = inp[n, (oc / OCg)*Cg + j]. */
static void gather_planes(float *x, const float *inp, int j, const nn_conv_plan *s)
{
    const size_t HW = (size_t)s->H * s->W;
    const long planes = (long)s->N * s->OC;
#pragma omp parallel for schedule(static) if (x_floats(s) > OMP_MIN_FLOATS)
    for (long q = 0; q < planes; q++) {
        const int n = (int)(q / s->OC), oc = (int)(q % s->OC);
        const size_t c = (size_t)(oc / s->OCg) * s->Cg + j;
        memcpy(x + (size_t)q * HW, inp + ((size_t)n * s->C + c) * HW, HW * sizeof(float));
    }
}

/* wj (OC, KH, KW) = weight[:, j] of weight (OC, Cg, KH, KW). */
static void gather_weights(float *wj, const float *weight, int j, const nn_conv_plan *s)
{
    const size_t taps = (size_t)s->KH * s->KW;
    for (int oc = 0; oc < s->OC; oc++)
        memcpy(wj + oc * taps, weight + ((size_t)oc * s->Cg + j) * taps, taps * sizeof(float));
}

/* The depthwise plan over the OC output channels: s's window, one channel
 * per group. */
static nn_conv_plan depthwise_plan(const nn_conv_plan *s)
{
    nn_conv_plan d = *s;
    d.C = d.G = s->OC;
    d.Cg = d.OCg = 1;
    d.K = d.FK = s->KH * s->KW;
    d.path = NN_CONV_DEPTHWISE;
    d.batch = 1, d.slots = 1, d.wino = 0, d.dx_conv = 0;
    return d;
}

void nn_conv_grouped_forward(float *out, const float *inp, const float *weight,
                             const float *bias, const nn_conv_plan *s, float *work)
{
    PL_ASSERT(work);
    const nn_conv_plan d = depthwise_plan(s);
    float *x = work, *y = x + x_floats(s), *wj = y + y_floats(s);
    const size_t n_out = (size_t)s->N * s->OC * s->P;
    for (int j = 0; j < s->Cg; j++) {
        gather_planes(x, inp, j, s);
        gather_weights(wj, weight, j, s);
        if (j == 0) {
            nn_conv_dw_forward(out, x, wj, bias, &d);
            continue;
        }
        nn_conv_dw_forward(y, x, wj, NULL, &d);
#pragma omp parallel for schedule(static) if (n_out > OMP_MIN_FLOATS)
        for (size_t i = 0; i < n_out; i++) out[i] += y[i];
    }
}

/* dinp[n, g*Cg + j] += the sum over r < OCg of dx[n, g*OCg + r], in r order. */
static void scatter_dinp(float *dinp, const float *dx, int j, const nn_conv_plan *s)
{
    const size_t HW = (size_t)s->H * s->W;
    const long planes = (long)s->N * s->G;
#pragma omp parallel for schedule(static) if (x_floats(s) > OMP_MIN_FLOATS)
    for (long q = 0; q < planes; q++) {
        const int n = (int)(q / s->G), g = (int)(q % s->G);
        float *dst = dinp + ((size_t)n * s->C + (size_t)g * s->Cg + j) * HW;
        for (int r = 0; r < s->OCg; r++) {
            const float *src = dx + ((size_t)n * s->OC + (size_t)g * s->OCg + r) * HW;
            for (size_t i = 0; i < HW; i++) dst[i] += src[i];
        }
    }
}

void nn_conv_grouped_backward(float *dinp, float *dweight, const float *dout, const float *inp,
                              const float *weight, const nn_conv_plan *s, float *work)
{
    PL_ASSERT(work);
    const nn_conv_plan d = depthwise_plan(s);
    float *x = work, *dx = x + x_floats(s), *wj = dx + y_floats(s), *dwj = wj + w_floats(s);
    const size_t taps = (size_t)s->KH * s->KW;
    for (int j = 0; j < s->Cg; j++) {
        if (dweight) {
            gather_planes(x, inp, j, s);
            memset(dwj, 0, w_floats(s) * sizeof(float));
        }
        if (dinp) {
            gather_weights(wj, weight, j, s);
            memset(dx, 0, x_floats(s) * sizeof(float));
        }
        nn_conv_dw_backward(dinp ? dx : NULL, dweight ? dwj : NULL, dout, x, wj, &d);
        if (dinp) scatter_dinp(dinp, dx, j, s);
        if (dweight)
            for (int oc = 0; oc < s->OC; oc++) {
                float *dst = dweight + ((size_t)oc * s->Cg + j) * taps;
                for (size_t t = 0; t < taps; t++) dst[t] += dwj[oc * taps + t];
            }
    }
}
