/* nn_common.h: conventions shared by every kernel under pipeline/nn/.
 *
 * - Tensors are NCHW float32, contiguous, row-major. Dimension names: N batch,
 *   C input channels, H W input height and width, OC output channels, OH OW
 *   output height and width, KH KW kernel size, HW = H*W.
 * - Kernels are plain functions on raw pointers, outputs first, then inputs,
 *   then parameters, then dimensions, then a caller-provided workspace.
 * - Forward kernels overwrite their output. Backward kernels ACCUMULATE (+=)
 *   into every gradient they are given; the caller zeroes gradients. A NULL
 *   gradient pointer means "not needed" and is skipped.
 * - Kernels never allocate and never fail: shapes are validated once, when the
 *   graph is built; kernels only assert.
 * - Each fast kernel has a naive reference beside it (suffix _ref) that the
 *   tests use as an oracle. */
#ifndef NN_COMMON_H
#define NN_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* Output length of a sliding window along one axis, PyTorch's rule:
 * floor or ceil of (in + 2*pad - k) / stride, plus one; in ceil mode the last
 * window must start inside the input or the left padding. Returns <= 0 when
 * the window does not fit. */
static inline int nn_window_out(int in, int k, int stride, int pad, int ceil_mode)
{
    int span = in + 2 * pad - k;
    if (span < 0) return 0;
    int out = (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
    if (ceil_mode && (out - 1) * stride >= in + pad) out--;
    return out;
}

#endif
