/* nn_loss.c: softmax cross-entropy over class logits (mean over the batch)
 * and the count of correct arg-max predictions.
 *
 * Each row is computed in double with its maximum subtracted:
 *   loss_n = log(sum_k exp(z_k - max)) - (z_label - max),
 *   probs_nk = exp(z_k - max) / sum_k exp(z_k - max).
 * The batch sum is formed from a fixed number of row chunks (independent of
 * the thread count) added in order, so the result is deterministic. */
#include "nn_loss.h"

#include <math.h>

#include "pl_err.h"

/* The batch is cut into at most this many chunks for the loss sum. */
#define LOSS_CHUNKS 64
/* Below this many logits a kernel runs on one thread. */
#define LOSS_PAR_MIN 16384L

/* Writes probs for one row (K) and returns that row's loss. */
static double softmax_xent_row(float *probs, const float *logits, int label, int K)
{
    float max_logit = logits[0];
    for (int k = 1; k < K; k++) {
        if (logits[k] > max_logit) max_logit = logits[k];
    }
    double sum_exp = 0.0;
    for (int k = 0; k < K; k++) sum_exp += exp((double)logits[k] - max_logit);
    const double inv_sum = 1.0 / sum_exp;
    for (int k = 0; k < K; k++) {
        probs[k] = (float)(exp((double)logits[k] - max_logit) * inv_sum);
    }
    return log(sum_exp) - ((double)logits[label] - max_logit);
}

float nn_softmax_xent_forward(float *probs, const float *logits, const int32_t *labels,
                              int N, int K)
{
    PL_ASSERT(N >= 1 && K >= 1);
    const int chunk_rows = (N + LOSS_CHUNKS - 1) / LOSS_CHUNKS;
    const int chunks = (N + chunk_rows - 1) / chunk_rows;
    double chunk_loss[LOSS_CHUNKS];
    const long work = (long)N * K;

#pragma omp parallel for schedule(static) if (work >= LOSS_PAR_MIN)
    for (int chunk = 0; chunk < chunks; chunk++) {
        const int row_end = (chunk + 1) * chunk_rows < N ? (chunk + 1) * chunk_rows : N;
        double sum = 0.0;
        for (int n = chunk * chunk_rows; n < row_end; n++) {
            const int label = labels[n];
            PL_ASSERT(label >= 0 && label < K);
            sum += softmax_xent_row(probs + (long)n * K, logits + (long)n * K, label, K);
        }
        chunk_loss[chunk] = sum;
    }
    double total = 0.0;
    for (int chunk = 0; chunk < chunks; chunk++) total += chunk_loss[chunk];
    return (float)(total / N);
}

void nn_softmax_xent_backward(float *dlogits, const float *probs, const int32_t *labels,
                              int N, int K, float dloss)
{
    const float scale = (float)((double)dloss / N);
    const long work = (long)N * K;

#pragma omp parallel for schedule(static) if (work >= LOSS_PAR_MIN)
    for (int n = 0; n < N; n++) {
        const float *p = probs + (long)n * K; /* (K) */
        float *d = dlogits + (long)n * K;     /* (K) */
        const int label = labels[n];
        for (int k = 0; k < K; k++) d[k] += scale * (p[k] - (k == label ? 1.0f : 0.0f));
    }
}

int nn_count_correct(const float *logits, const int32_t *labels, int N, int K)
{
    int correct = 0;
    const long work = (long)N * K;

#pragma omp parallel for schedule(static) reduction(+ : correct) if (work >= LOSS_PAR_MIN)
    for (int n = 0; n < N; n++) {
        const float *row = logits + (long)n * K; /* (K) */
        int best = 0;
        for (int k = 1; k < K; k++) {
            if (row[k] > row[best]) best = k;
        }
        correct += best == labels[n];
    }
    return correct;
}
