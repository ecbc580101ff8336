/* nn_norm.h: batch normalization (PyTorch semantics) and per-channel scale
 * and bias.
 *
 * Batch norm, training mode: normalizes with the batch mean and the biased
 * batch variance, and updates running_mean/running_var as
 * r = (1 - momentum) * r + momentum * batch_stat with the UNBIASED variance
 * (n/(n-1)), exactly as torch.nn.BatchNorm2d (eps 1e-5, momentum 0.1).
 * Evaluation mode: normalizes with the running statistics. Statistics are
 * accumulated in double. */
#ifndef NN_NORM_H
#define NN_NORM_H

#include "nn_common.h"

#define NN_BN_EPS      1e-5f
#define NN_BN_MOMENTUM 0.1f

/* Training mode. out (N,C,HW); saves mean (C) and rstd (C) = 1/sqrt(var+eps)
 * for the backward pass; updates running_mean (C) and running_var (C). */
void nn_batchnorm_forward_train(float *out, float *mean, float *rstd,
                                float *running_mean, float *running_var,
                                const float *inp, const float *gamma, const float *beta,
                                int N, int C, int HW, float eps, float momentum);

/* Evaluation mode: out (N,C,HW) from running statistics. */
void nn_batchnorm_forward_eval(float *out, const float *inp, const float *gamma,
                               const float *beta, const float *running_mean,
                               const float *running_var, int N, int C, int HW, float eps);

/* Backward of the training-mode forward (batch statistics). Accumulates
 * dinp (N,C,HW), dgamma (C), dbeta (C); any may be NULL. */
void nn_batchnorm_backward_train(float *dinp, float *dgamma, float *dbeta, const float *dout,
                                 const float *inp, const float *mean, const float *rstd,
                                 const float *gamma, int N, int C, int HW);

/* Backward of the evaluation-mode forward (running statistics are constants). */
void nn_batchnorm_backward_eval(float *dinp, float *dgamma, float *dbeta, const float *dout,
                                const float *inp, const float *gamma,
                                const float *running_mean, const float *running_var,
                                int N, int C, int HW, float eps);

/* out (N,C,HW) = inp * scale[c] + bias[c]; bias may be NULL. */
void nn_scale_bias_forward(float *out, const float *inp, const float *scale, const float *bias,
                           int N, int C, int HW);

/* Accumulates dinp (N,C,HW), dscale (C), dbias (C); any may be NULL. */
void nn_scale_bias_backward(float *dinp, float *dscale, float *dbias, const float *dout,
                            const float *inp, const float *scale, int N, int C, int HW);

#endif
