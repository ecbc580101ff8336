/* nn_conv_internal.h: what nn_conv.c and nn_conv_dw.c share; not part of
 * the public API (include nn_conv.h instead). */
#ifndef NN_CONV_INTERNAL_H
#define NN_CONV_INTERNAL_H

#include "nn_conv.h"

/* One convolution's dimensions, resolved once per call. */
typedef struct {
    int N, C, H, W, OC, OH, OW;
    int KH, KW, SH, SW, PH, PW;
    int G, Cg, OCg; /* groups, input and output channels per group */
    int K;          /* Cg*KH*KW: rows of the column matrix          */
    /* im2col path: kernel taps whose every read lands in the padding are
     * dropped. Then KH, KW, PH, PW and K above describe the live taps, rows
     * [kh0, kh0+KH) and columns [kw0, kw0+KW) of the full FKH x FKW kernel
     * (PH, PW lowered by kh0, kw0), and the weights are compacted. */
    int FKH, FKW, kh0, kw0;
    int FK;         /* Cg*FKH*FKW: floats per output channel of weight */
    int compact;    /* FK != K: some taps dropped                    */
    int P;          /* OH*OW: output pixels per plane               */
    int path;       /* NN_CONV_DEPTHWISE, _POINTWISE, _IM2COL or _GROUPED */
    int batch;      /* images per column matrix (im2col path)       */
    int tile_rows;  /* output rows per column matrix (im2col path)  */
    /* Units (an image on the pointwise path, `batch` images on the im2col
     * path) processed at once, one per thread, each with its own workspace
     * and a one-thread sgemm; 1: units in turn, each sgemm threaded. */
    int slots;
    /* im2col path at stride 1: dinp is computed as the convolution of dout
     * with the flipped, transposed kernel (dx_plan in nn_conv.c), in tiles
     * of dx_tile_rows input rows when units are single images. */
    int dx_conv, dx_tile_rows;
    /* 3x3 stride-1 convolution by Winograd F(2x2,3x3), forward, dinp and
     * dweight (nn_conv_wino.c); units as on the im2col path. */
    int wino;
} nn_conv_plan;

enum { NN_CONV_DEPTHWISE, NN_CONV_POINTWISE, NN_CONV_IM2COL, NN_CONV_GROUPED };

/* Output indices [lo, hi) in [0, out_len) whose input index o*stride + offset
 * lies in [0, in_len). */
static inline void nn_conv_valid_range(int out_len, int in_len, int stride, int offset, int *lo,
                                       int *hi)
{
    int a, b;
    if (stride == 1) {
        a = offset < 0 ? -offset : 0;
        b = in_len - offset;
    } else {
        a = offset < 0 ? (-offset + stride - 1) / stride : 0;
        b = in_len - 1 - offset < 0 ? 0 : (in_len - 1 - offset) / stride + 1;
    }
    if (b > out_len) b = out_len;
    if (a > b) a = b;
    *lo = a;
    *hi = b;
}

/* Depthwise kernels (groups == C == OC), nn_conv_dw.c; no workspace.
 * out (N,C,OH,OW); inp (N,C,H,W); weight (C,1,KH,KW); bias (C) or NULL. */
void nn_conv_dw_forward(float *out, const float *inp, const float *weight, const float *bias,
                        const nn_conv_plan *s);

/* Accumulates dinp (N,C,H,W) and dweight (C,1,KH,KW), either may be NULL,
 * from dout (N,C,OH,OW). */
void nn_conv_dw_backward(float *dinp, float *dweight, const float *dout, const float *inp,
                         const float *weight, const nn_conv_plan *s);

/* Depthwise kernels vectorized across channels, for small planes
 * (nn_conv_dw_small.c); same contracts. nn_conv_dw_small_fits says whether
 * their stack buffers hold the shape. */
int nn_conv_dw_small_fits(const nn_conv_plan *s);
void nn_conv_dw_small_forward(float *out, const float *inp, const float *weight, const float *bias,
                              const nn_conv_plan *s);
/* AVX-512 builds: the forward on small planes without transposes, 16
 * outputs of the flat (C, OH, OW) image per vector (nn_conv_dw_small.c).
 * Returns 0 (nothing done) when it does not take the shape. */
int nn_conv_dw_lanes_forward(float *out, const float *inp, const float *weight, const float *bias,
                             const nn_conv_plan *s);
void nn_conv_dw_small_backward(float *dinp, float *dweight, const float *dout, const float *inp,
                               const float *weight, const nn_conv_plan *s);

/* Grouped convolutions at stride 1 with at most NN_CONV_GROUPED_MAX_CG
 * input channels per group (groups > 1, not depthwise) as Cg depthwise ones
 * (nn_conv_grouped.c). Workspace: nn_conv_grouped_floats(s). */
#define NN_CONV_GROUPED_MAX_CG 4
size_t nn_conv_grouped_floats(const nn_conv_plan *s);
/* out (N,OC,OH,OW) = the convolution of inp (N,C,H,W) by weight
 * (OC,Cg,KH,KW) + bias (OC, or NULL). */
void nn_conv_grouped_forward(float *out, const float *inp, const float *weight,
                             const float *bias, const nn_conv_plan *s, float *work);
/* Accumulates dinp (N,C,H,W) and dweight (OC,Cg,KH,KW), either may be NULL,
 * from dout (N,OC,OH,OW). */
void nn_conv_grouped_backward(float *dinp, float *dweight, const float *dout, const float *inp,
                              const float *weight, const nn_conv_plan *s, float *work);

/* Winograd F(2x2,3x3), nn_conv_wino.c. U (16, OC, C): the transformed
 * weights; dU likewise for the weight gradient. */
int nn_conv_wino_fits(const nn_conv_plan *s);
/* Nonzero: the portable transforms even where AVX-512 ones exist (tests). */
extern int nn_conv_wino_portable;
size_t nn_conv_wino_shared_floats(const nn_conv_plan *s); /* U: 16*OC*C        */
size_t nn_conv_wino_slot_floats(const nn_conv_plan *s);   /* one unit's V and M */
/* U (16, OC, C) = G w G^T of w (OC, C, 3, 3). */
void nn_conv_wino_weights(float *U, const float *w, const nn_conv_plan *s);
/* dw (OC, C, 3, 3) += G^T u G, u the sum of the count dU (count, 16, OC, C)
 * in order. */
void nn_conv_wino_dweight(float *dw, const float *dU, int count, const nn_conv_plan *s);
/* out (N,OC,OH,OW) of unit u's images = the convolution of inp (N,C,H,W)
 * by U, plus bias (OC, or NULL), or += it when accumulate. slot: the unit's
 * nn_conv_wino_slot_floats. */
void nn_conv_wino_unit(float *out, const float *inp, const float *U, const float *bias,
                       int accumulate, int u, float *slot, const nn_conv_plan *s);
/* dU (16, OC, C) += unit u's part of the transformed weight gradient from
 * dout (N,OC,OH,OW) and inp (N,C,H,W). */
void nn_conv_wino_dweight_unit(float *dU, const float *dout, const float *inp, int u, float *slot,
                               const nn_conv_plan *s);

#endif
