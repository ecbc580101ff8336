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

/* Knowledge distillation (Hinton et al. 2015) of student logits z (N,K)
 * toward teacher logits t (N,K) at temperature T, mixed with the labels'
 * cross-entropy: returns the mean over N of
 *     (1 - alpha) * xent(z, label) + alpha * T^2 * KL(softmax(t/T) || softmax(z/T))
 * and writes its gradient with respect to z into dz (N,K) (overwritten):
 *     ((1 - alpha) * (softmax(z) - onehot) + alpha * T * (softmax(z/T) - softmax(t/T))) / N.
 * alpha in [0, 1], T > 0, K <= NN_DISTILL_MAX_K. */
#define NN_DISTILL_MAX_K 1024
float nn_distill_forward_backward(float *dz, const float *z, const float *t,
                                  const int32_t *labels, int N, int K, float alpha, float T);

/* Number of rows whose arg-max logit equals the label. */
int nn_count_correct(const float *logits, const int32_t *labels, int N, int K);

#endif
