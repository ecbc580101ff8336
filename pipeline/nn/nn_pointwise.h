/* nn_pointwise.h: elementwise kernels: unary activations, binary arithmetic
 * with per-channel broadcast (as squeeze-and-excitation needs), dropout. */
#ifndef NN_POINTWISE_H
#define NN_POINTWISE_H

#include "nn_common.h"

typedef enum {
    NN_ACT_IDENTITY,
    NN_ACT_RELU,
    NN_ACT_RELU6,
    NN_ACT_SIGMOID,
    NN_ACT_HARDSIGMOID, /* relu6(x + 3) / 6, PyTorch's Hardsigmoid */
    NN_ACT_HARDSWISH,   /* x * relu6(x + 3) / 6                    */
    NN_ACT_TANH,
    NN_ACT_COUNT
} nn_act_kind;

/* out (n) = act(inp (n)). out may equal inp. */
void nn_act_forward(nn_act_kind kind, float *out, const float *inp, size_t n);

/* Accumulates dinp (n) += act'(inp) * dout. out is the forward output (some
 * derivatives are cheaper from it; NULL makes sigmoid and tanh recompute
 * it). At kinks the derivatives follow PyTorch's elementwise rules:
 * relu'(0) = 0; relu6' is 1 on the open interval (0, 6); hardsigmoid' is 1/6
 * on (-3, 3); hardswish' is 0 below -3, x/3 + 1/2 on [-3, 3], 1 above. */
void nn_act_backward(nn_act_kind kind, float *dinp, const float *dout, const float *inp,
                     const float *out, size_t n);

typedef enum {
    NN_BIN_ADD,
    NN_BIN_SUB, /* a - b                                          */
    NN_BIN_MUL,
    NN_BIN_MAX, /* on ties the gradient is split, as torch.maximum */
    NN_BIN_COUNT
} nn_binary_kind;

/* out (N,C,HW) = a (N,C,HW) op b, where b is (N,C,HW) when b_hw == HW or
 * (N,C,1) broadcast over HW when b_hw == 1. */
void nn_binary_forward(nn_binary_kind kind, float *out, const float *a, const float *b,
                       int N, int C, int HW, int b_hw);

/* Accumulates da (N,C,HW) and db (N,C,b_hw) (reduced over HW when
 * broadcast); either may be NULL. */
void nn_binary_backward(nn_binary_kind kind, float *da, float *db, const float *dout,
                        const float *a, const float *b, int N, int C, int HW, int b_hw);

/* Inverted dropout: mask (n) receives 0 or 1/(1-p) per element, drawn from a
 * counter-based generator keyed by (seed, index), so the result does not
 * depend on the thread count; out (n) = inp * mask. p in [0, 1). */
void nn_dropout_forward(float *out, float *mask, const float *inp, size_t n, float p,
                        uint64_t seed);

/* Accumulates dinp (n) += dout * mask. */
void nn_dropout_backward(float *dinp, const float *dout, const float *mask, size_t n);

#endif
