/* nn_linear.h: fully connected layer, out = inp W^T + b, through sgemm. */
#ifndef NN_LINEAR_H
#define NN_LINEAR_H

#include "nn_common.h"

/* out (N,OUT) = inp (N,IN) * weight (OUT,IN)^T + bias (OUT, or NULL). */
void nn_linear_forward(float *out, const float *inp, const float *weight, const float *bias,
                       int N, int IN, int OUT);

/* Accumulates dinp (N,IN), dweight (OUT,IN), dbias (OUT); any may be NULL. */
void nn_linear_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                        const float *inp, const float *weight, int N, int IN, int OUT);

void nn_linear_forward_ref(float *out, const float *inp, const float *weight, const float *bias,
                           int N, int IN, int OUT);
void nn_linear_backward_ref(float *dinp, float *dweight, float *dbias, const float *dout,
                            const float *inp, const float *weight, int N, int IN, int OUT);

#endif
