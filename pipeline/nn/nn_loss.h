/* nn_loss.h: softmax cross-entropy over class logits, mean over the batch. */
#ifndef NN_LOSS_H
#define NN_LOSS_H

#include "nn_common.h"

/* Returns the mean over N of -log softmax(logits)[label] (computed in double
 * with the max subtracted). probs (N,K) receives softmax(logits (N,K)) for the
 * backward pass. labels (N) in [0, K). */
float nn_softmax_xent_forward(float *probs, const float *logits, const int32_t *labels,
                              int N, int K);

/* Accumulates dlogits (N,K) += dloss * (probs - onehot(labels)) / N. */
void nn_softmax_xent_backward(float *dlogits, const float *probs, const int32_t *labels,
                              int N, int K, float dloss);

/* Number of rows whose arg-max logit equals the label. */
int nn_count_correct(const float *logits, const int32_t *labels, int N, int K);

#endif
