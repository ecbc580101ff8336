/* nn_distill.c: the knowledge-distillation loss (Hinton, Vinyals and Dean
 * 2015, "Distilling the Knowledge in a Neural Network") and its gradient with
 * respect to the student's logits (see nn_loss.h). Rows are independent; each
 * is computed in double with the row maximum subtracted. */
#include "nn_loss.h"

#include <math.h>

#include "pl_err.h"

/* q (K) = softmax(x / T), in double; returns log of the normaliser sum of
 * exp((x - max) / T), and *shift = max / T, so log q_k = x_k/T - shift - lse. */
static double softmax_t(double *q, const float *x, int K, double T, double *shift)
{
    double max = x[0];
    for (int k = 1; k < K; k++)
        if (x[k] > max) max = x[k];
    double sum = 0.0;
    for (int k = 0; k < K; k++) sum += (q[k] = exp((x[k] - max) / T));
    for (int k = 0; k < K; k++) q[k] /= sum;
    *shift = max / T;
    return log(sum);
}

float nn_distill_forward_backward(float *dz, const float *z, const float *t,
                                  const int32_t *labels, int N, int K, float alpha, float T)
{
    PL_ASSERT(N >= 1 && K >= 1 && K <= NN_DISTILL_MAX_K && alpha >= 0 && alpha <= 1 && T > 0);
    double total = 0.0;
    for (int n = 0; n < N; n++) {
        const float *zn = z + (long)n * K, *tn = t + (long)n * K;
        const int label = labels[n];
        PL_ASSERT(label >= 0 && label < K);
        double p[NN_DISTILL_MAX_K], ps[NN_DISTILL_MAX_K], pt[NN_DISTILL_MAX_K];
        double shift1, shiftz, shiftt;
        double lse1 = softmax_t(p, zn, K, 1.0, &shift1);
        double lsez = softmax_t(ps, zn, K, T, &shiftz);
        double lset = softmax_t(pt, tn, K, T, &shiftt);
        double xent = -(zn[label] - shift1 - lse1);
        double kl = 0.0;
        for (int k = 0; k < K; k++) {
            if (pt[k] <= 0) continue;
            double log_pt = tn[k] / T - shiftt - lset, log_ps = zn[k] / T - shiftz - lsez;
            kl += pt[k] * (log_pt - log_ps);
        }
        total += (1.0 - alpha) * xent + alpha * T * T * kl;
        for (int k = 0; k < K; k++) {
            double hard = p[k] - (k == label ? 1.0 : 0.0);
            double soft = T * (ps[k] - pt[k]);
            dz[(long)n * K + k] = (float)(((1.0 - alpha) * hard + alpha * soft) / N);
        }
    }
    return (float)(total / N);
}
