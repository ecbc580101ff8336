/* nn_conv.h: 2-D convolution, dense, grouped and depthwise.
 *
 * Weight layout (OC, C/groups, KH, KW), bias (OC) or NULL. Dense and grouped
 * convolution go through OpenBLAS sgemm (im2col; 1x1 stride-1 unpadded
 * convolution on large planes reads the input in place, on small planes it is
 * batched through im2col so sgemm sees a wide matrix; 3x3 stride-1
 * convolution with 16 channels or more in and out goes through Winograd
 * F(2x2,3x3), 16 sgemms with 2.25x fewer multiply-adds); depthwise
 * (groups == C == OC) has a direct kernel. The _ref kernels are naive seven-loop oracles for the tests. */
#ifndef NN_CONV_H
#define NN_CONV_H

#include "nn_common.h"

typedef struct {
    int kh, kw;  /* kernel size                       */
    int sh, sw;  /* stride                            */
    int ph, pw;  /* zero padding on each side         */
    int groups;  /* C and OC are multiples of groups  */
} nn_conv_params;

/* Floats of workspace nn_conv2d_forward and nn_conv2d_backward need for these
 * dimensions (0 when none), on the thread count in force (pl_threads_get):
 * batches may take a share per thread, so size again after raising it. The
 * graph sizes one workspace as the max over its nodes. */
size_t nn_conv2d_workspace(int N, int C, int H, int W, int OC, const nn_conv_params *p);

/* The method nn_conv2d_forward uses for these dimensions on the thread
 * count in force: "depthwise", "pointwise", "direct", "winograd" or
 * "im2col" (for benchmarks and tests). */
const char *nn_conv2d_method(int N, int C, int H, int W, int OC, const nn_conv_params *p);

/* out (N,OC,OH,OW) = conv(inp (N,C,H,W), weight (OC,C/g,KH,KW)) + bias (OC).
 * work: nn_conv2d_workspace(...) floats. */
void nn_conv2d_forward(float *out, const float *inp, const float *weight, const float *bias,
                       int N, int C, int H, int W, int OC, const nn_conv_params *p,
                       float *work);

/* Accumulates dinp (N,C,H,W), dweight (OC,C/g,KH,KW), dbias (OC) from
 * dout (N,OC,OH,OW). Any of dinp, dweight, dbias may be NULL. */
void nn_conv2d_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                        const float *inp, const float *weight,
                        int N, int C, int H, int W, int OC, const nn_conv_params *p,
                        float *work);

/* Naive references with the same contracts (no workspace). */
void nn_conv2d_forward_ref(float *out, const float *inp, const float *weight, const float *bias,
                           int N, int C, int H, int W, int OC, const nn_conv_params *p);
void nn_conv2d_backward_ref(float *dinp, float *dweight, float *dbias, const float *dout,
                            const float *inp, const float *weight,
                            int N, int C, int H, int W, int OC, const nn_conv_params *p);

#endif
