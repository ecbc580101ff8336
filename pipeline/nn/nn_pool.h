/* nn_pool.h: max and average pooling (kernel, stride, padding, ceil mode) and
 * global average pooling, with PyTorch semantics: max pooling pads with -inf;
 * average pooling counts the zero padding in the divisor when
 * count_include_pad (torch's default) but never the part of a ceil-mode window
 * that lies beyond the padded input. */
#ifndef NN_POOL_H
#define NN_POOL_H

#include "nn_common.h"

typedef struct {
    int kh, kw;
    int sh, sw;
    int ph, pw;
    int ceil_mode;         /* 1: ceil in the output-size rule (InceptionV3)    */
    int count_include_pad; /* average pooling only; 1 is PyTorch's default     */
} nn_pool_params;

/* out (N,C,OH,OW); argmax (N,C,OH,OW) receives the index h*W+w of each
 * window's maximum within its (H,W) plane, for the backward pass. */
void nn_maxpool_forward(float *out, int32_t *argmax, const float *inp,
                        int N, int C, int H, int W, const nn_pool_params *p);

/* Accumulates dinp (N,C,H,W) from dout (N,C,OH,OW) through argmax. */
void nn_maxpool_backward(float *dinp, const float *dout, const int32_t *argmax,
                         int N, int C, int H, int W, int OH, int OW);

/* The widest input average pooling takes (its row buffer; shape inference
 * refuses wider ones). */
#define NN_AVGPOOL_MAX_W 4096

/* out (N,C,OH,OW); W <= NN_AVGPOOL_MAX_W. */
void nn_avgpool_forward(float *out, const float *inp, int N, int C, int H, int W,
                        const nn_pool_params *p);

/* Accumulates dinp (N,C,H,W); W <= NN_AVGPOOL_MAX_W. */
void nn_avgpool_backward(float *dinp, const float *dout, int N, int C, int H, int W,
                         const nn_pool_params *p);

/* out (N,C) = mean over HW of inp (N,C,HW). */
void nn_global_avgpool_forward(float *out, const float *inp, int N, int C, int HW);

/* Accumulates dinp (N,C,HW) from dout (N,C). */
void nn_global_avgpool_backward(float *dinp, const float *dout, int N, int C, int HW);

/* Naive references (direct window loops). */
void nn_maxpool_forward_ref(float *out, const float *inp, int N, int C, int H, int W,
                            const nn_pool_params *p);
void nn_avgpool_forward_ref(float *out, const float *inp, int N, int C, int H, int W,
                            const nn_pool_params *p);

#endif
