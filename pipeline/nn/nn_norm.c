/* nn_norm.c: batch normalization (training and evaluation mode, forward and
 * backward, torch.nn.BatchNorm2d semantics) and per-channel scale and bias.
 *
 * Training forward, per channel c over its M = N*HW values:
 *   mean = sum(x) / M, var = sum((x - mean)^2) / M (biased, two passes in
 *   double, NORM_LANES partial sums), rstd = 1 / sqrt(var + eps),
 *   out = x * a + b with a = gamma * rstd, b = beta - mean * a,
 *   running_mean = (1 - momentum) * running_mean + momentum * mean,
 *   running_var  = (1 - momentum) * running_var + momentum * var * M / (M - 1).
 * Training backward, with xhat = (x - mean) * rstd:
 *   dgamma += sum(dout * xhat), dbeta += sum(dout),
 *   dinp += gamma * rstd * (dout - sum(dout)/M - xhat * sum(dout * xhat)/M).
 * gamma and beta may be NULL (no affine: 1 and 0).
 *
 * Channel reductions are parallel over channels; each channel is reduced by
 * one thread in a fixed order, so results do not depend on the thread count. */
#include "nn_norm.h"

#include <math.h>

#include "pl_err.h"

/* Below this many elements a kernel runs on one thread. */
#define NORM_PAR_MIN_WORK 16384L

/* Independent partial sums in the channel reductions: a single double
 * accumulator is one dependent add per value (measured: batch-norm 12% of
 * the experiments' ResNet18 training step); NORM_LANES of them vectorize.
 * Planes under LANES_MIN values keep the single accumulator: zeroing and
 * summing the lanes per plane made MobileNetV3-Small's training step 1.3x
 * slower (its 1x1 to 4x4 planes). The order is fixed, so results still do
 * not depend on the thread count. */
#define NORM_LANES 32
#define LANES_MIN  (4 * NORM_LANES)

/* sum of x[0..n), in double */
static double plane_sum(const float *x, int n)
{
    double sum = 0.0;
    int i = 0;
    if (n >= LANES_MIN) {
        double part[NORM_LANES] = {0};
        for (; i + NORM_LANES <= n; i += NORM_LANES)
            for (int j = 0; j < NORM_LANES; j++) part[j] += x[i + j];
        for (int j = 0; j < NORM_LANES; j++) sum += part[j];
    }
    for (; i < n; i++) sum += x[i];
    return sum;
}

/* sum of (x[i] - m)^2 over [0, n), in double */
static double plane_sum_sq(const float *x, int n, double m)
{
    double sum = 0.0;
    int i = 0;
    if (n >= LANES_MIN) {
        double part[NORM_LANES] = {0};
        for (; i + NORM_LANES <= n; i += NORM_LANES)
            for (int j = 0; j < NORM_LANES; j++) {
                const double d = x[i + j] - m;
                part[j] += d * d;
            }
        for (int j = 0; j < NORM_LANES; j++) sum += part[j];
    }
    for (; i < n; i++) {
        const double d = x[i] - m;
        sum += d * d;
    }
    return sum;
}

/* *sum_dy += sum of dy, *sum_dy_xhat += sum of dy * (x - mean) * rstd over
 * [0, n), in double */
static void plane_sums_backward(const float *dy, const float *x, int n, float mean, float rstd,
                                double *sum_dy, double *sum_dy_xhat)
{
    double sa = 0.0, sb = 0.0;
    int i = 0;
    if (n >= LANES_MIN) {
        double a[NORM_LANES] = {0}, b[NORM_LANES] = {0};
        for (; i + NORM_LANES <= n; i += NORM_LANES)
            for (int j = 0; j < NORM_LANES; j++) {
                a[j] += dy[i + j];
                b[j] += (double)dy[i + j] * ((x[i + j] - mean) * rstd);
            }
        for (int j = 0; j < NORM_LANES; j++) sa += a[j], sb += b[j];
    }
    for (; i < n; i++) {
        sa += dy[i];
        sb += (double)dy[i] * ((x[i] - mean) * rstd);
    }
    *sum_dy += sa;
    *sum_dy_xhat += sb;
}

static inline float gamma_of(const float *gamma, int c)
{
    return gamma ? gamma[c] : 1.0f;
}

static inline float beta_of(const float *beta, int c)
{
    return beta ? beta[c] : 0.0f;
}

void nn_batchnorm_forward_train(float *out, float *mean, float *rstd,
                                float *running_mean, float *running_var,
                                const float *inp, const float *gamma, const float *beta,
                                int N, int C, int HW, float eps, float momentum)
{
    const long count = (long)N * HW; /* values per channel */
    PL_ASSERT(count > 1);            /* PyTorch: "Expected more than 1 value per channel" */
    const long plane_stride = (long)C * HW;
    const long work = (long)C * count;

#pragma omp parallel for schedule(static) if (work >= NORM_PAR_MIN_WORK)
    for (int c = 0; c < C; c++) {
        double sum = 0.0;
        for (int n = 0; n < N; n++) sum += plane_sum(inp + n * plane_stride + (long)c * HW, HW);
        const double channel_mean = sum / count;
        double sum_sq = 0.0;
        for (int n = 0; n < N; n++)
            sum_sq += plane_sum_sq(inp + n * plane_stride + (long)c * HW, HW, channel_mean);
        const double biased_var = sum_sq / count;
        const double unbiased_var = sum_sq / (count - 1);
        const double channel_rstd = 1.0 / sqrt(biased_var + (double)eps);

        mean[c] = (float)channel_mean;
        rstd[c] = (float)channel_rstd;
        running_mean[c] = (float)((1.0 - momentum) * running_mean[c] + momentum * channel_mean);
        running_var[c] = (float)((1.0 - momentum) * running_var[c] + momentum * unbiased_var);

        const double scale_d = gamma_of(gamma, c) * channel_rstd;
        const float scale = (float)scale_d;
        const float shift = (float)(beta_of(beta, c) - channel_mean * scale_d);
        for (int n = 0; n < N; n++) {
            const float *x = inp + n * plane_stride + (long)c * HW; /* (HW) */
            float *y = out + n * plane_stride + (long)c * HW;       /* (HW) */
            for (int i = 0; i < HW; i++) y[i] = x[i] * scale + shift;
        }
    }
}

void nn_batchnorm_forward_eval(float *out, const float *inp, const float *gamma,
                               const float *beta, const float *running_mean,
                               const float *running_var, int N, int C, int HW, float eps)
{
    const long planes = (long)N * C;
    const long work = planes * HW;

#pragma omp parallel for schedule(static) if (work >= NORM_PAR_MIN_WORK)
    for (long plane = 0; plane < planes; plane++) {
        const int c = (int)(plane % C);
        const double channel_rstd = 1.0 / sqrt((double)running_var[c] + (double)eps);
        const double scale_d = gamma_of(gamma, c) * channel_rstd;
        const float scale = (float)scale_d;
        const float shift = (float)(beta_of(beta, c) - running_mean[c] * scale_d);
        const float *x = inp + plane * HW; /* (HW) */
        float *y = out + plane * HW;       /* (HW) */
        for (int i = 0; i < HW; i++) y[i] = x[i] * scale + shift;
    }
}

void nn_batchnorm_backward_train(float *dinp, float *dgamma, float *dbeta, const float *dout,
                                 const float *inp, const float *mean, const float *rstd,
                                 const float *gamma, int N, int C, int HW)
{
    const long count = (long)N * HW;
    const long plane_stride = (long)C * HW;
    const long work = (long)C * count;

#pragma omp parallel for schedule(static) if (work >= NORM_PAR_MIN_WORK)
    for (int c = 0; c < C; c++) {
        const float channel_mean = mean[c];
        const float channel_rstd = rstd[c];
        double sum_dy = 0.0, sum_dy_xhat = 0.0;
        for (int n = 0; n < N; n++)
            plane_sums_backward(dout + n * plane_stride + (long)c * HW,
                                inp + n * plane_stride + (long)c * HW, HW, channel_mean,
                                channel_rstd, &sum_dy, &sum_dy_xhat);
        if (dgamma) dgamma[c] += (float)sum_dy_xhat;
        if (dbeta) dbeta[c] += (float)sum_dy;
        if (!dinp) continue;

        /* dinp += dy * k_dy + (x - mean) * k_centered + k_const */
        const double g_rstd = gamma_of(gamma, c) * (double)channel_rstd;
        const float k_dy = (float)g_rstd;
        const float k_centered = (float)(-g_rstd * channel_rstd * sum_dy_xhat / count);
        const float k_const = (float)(-g_rstd * sum_dy / count);
        for (int n = 0; n < N; n++) {
            const float *x = inp + n * plane_stride + (long)c * HW;
            const float *dy = dout + n * plane_stride + (long)c * HW;
            float *dx = dinp + n * plane_stride + (long)c * HW;
            for (int i = 0; i < HW; i++) {
                dx[i] += dy[i] * k_dy + (x[i] - channel_mean) * k_centered + k_const;
            }
        }
    }
}

void nn_batchnorm_backward_eval(float *dinp, float *dgamma, float *dbeta, const float *dout,
                                const float *inp, const float *gamma,
                                const float *running_mean, const float *running_var,
                                int N, int C, int HW, float eps)
{
    const long plane_stride = (long)C * HW;
    const long work = (long)C * N * HW;

#pragma omp parallel for schedule(static) if (work >= NORM_PAR_MIN_WORK)
    for (int c = 0; c < C; c++) {
        const double channel_rstd = 1.0 / sqrt((double)running_var[c] + (double)eps);
        const float rstd_f = (float)channel_rstd;
        const float channel_mean = running_mean[c];
        const float k_dy = (float)(gamma_of(gamma, c) * channel_rstd);
        double sum_dy = 0.0, sum_dy_xhat = 0.0;
        for (int n = 0; n < N; n++) {
            const float *x = inp + n * plane_stride + (long)c * HW;   /* (HW) */
            const float *dy = dout + n * plane_stride + (long)c * HW; /* (HW) */
            if (dinp) {
                float *dx = dinp + n * plane_stride + (long)c * HW;
                for (int i = 0; i < HW; i++) dx[i] += dy[i] * k_dy;
            }
            plane_sums_backward(dy, x, HW, channel_mean, rstd_f, &sum_dy, &sum_dy_xhat);
        }
        if (dgamma) dgamma[c] += (float)sum_dy_xhat;
        if (dbeta) dbeta[c] += (float)sum_dy;
    }
}

void nn_scale_bias_forward(float *out, const float *inp, const float *scale, const float *bias,
                           int N, int C, int HW)
{
    const long planes = (long)N * C;
    const long work = planes * HW;

#pragma omp parallel for schedule(static) if (work >= NORM_PAR_MIN_WORK)
    for (long plane = 0; plane < planes; plane++) {
        const int c = (int)(plane % C);
        const float s = scale[c];
        const float b = bias ? bias[c] : 0.0f;
        const float *x = inp + plane * HW; /* (HW) */
        float *y = out + plane * HW;       /* (HW) */
        for (int i = 0; i < HW; i++) y[i] = x[i] * s + b;
    }
}

void nn_scale_bias_backward(float *dinp, float *dscale, float *dbias, const float *dout,
                            const float *inp, const float *scale, int N, int C, int HW)
{
    const long plane_stride = (long)C * HW;
    const long work = (long)C * N * HW;

#pragma omp parallel for schedule(static) if (work >= NORM_PAR_MIN_WORK)
    for (int c = 0; c < C; c++) {
        const float s = scale[c];
        double sum_dy = 0.0, sum_dy_x = 0.0;
        for (int n = 0; n < N; n++) {
            const float *x = inp + n * plane_stride + (long)c * HW;   /* (HW) */
            const float *dy = dout + n * plane_stride + (long)c * HW; /* (HW) */
            if (dinp) {
                float *dx = dinp + n * plane_stride + (long)c * HW;
                for (int i = 0; i < HW; i++) dx[i] += dy[i] * s;
            }
            if (dscale || dbias) {
                for (int i = 0; i < HW; i++) {
                    sum_dy += dy[i];
                    sum_dy_x += (double)dy[i] * x[i];
                }
            }
        }
        if (dscale) dscale[c] += (float)sum_dy_x;
        if (dbias) dbias[c] += (float)sum_dy;
    }
}
