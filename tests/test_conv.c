/* test_conv.c: tests of nn_conv2d (fast) against the naive reference, against
 * central finite differences, and against a hand-computed case; checks that
 * the fast kernels stay inside the workspace they ask for and that the
 * depthwise kernels give identical bits whatever the thread count. */
#include "nn_conv.h"
#include "nn_conv_internal.h" /* nn_conv_wino_portable */
#include "pl_mem.h"
#include "pl_threads.h"
#include "test_util.h"

#include <stdint.h>
#include <string.h>

#define GUARD      64          /* sentinel floats on each side of a workspace */
#define SENTINEL   -12345.678f
#define FD_SAMPLES 40          /* elements per tensor checked by finite differences */

typedef struct {
    int N, C, H, W, OC;
    nn_conv_params p;
} conv_case;

/* ------------------------------------------------------------- helpers */

static int out_h(const conv_case *cs) { return nn_window_out(cs->H, cs->p.kh, cs->p.sh, cs->p.ph, 0); }
static int out_w(const conv_case *cs) { return nn_window_out(cs->W, cs->p.kw, cs->p.sw, cs->p.pw, 0); }

static void describe(char *buf, size_t size, const conv_case *cs)
{
    snprintf(buf, size, "N%d C%d H%d W%d OC%d k%dx%d s%d,%d p%d,%d g%d", cs->N, cs->C, cs->H,
             cs->W, cs->OC, cs->p.kh, cs->p.kw, cs->p.sh, cs->p.sw, cs->p.ph, cs->p.pw, cs->p.groups);
}

/* A workspace of n floats with GUARD sentinel floats on each side. */
static float *guarded_alloc(size_t n)
{
    float *block = pl_xmalloc(sizeof(float) * (n + 2 * GUARD));
    for (size_t i = 0; i < n + 2 * GUARD; i++) block[i] = SENTINEL;
    return block + GUARD;
}

static int guard_intact(const float *work, size_t n)
{
    for (int i = 0; i < GUARD; i++)
        if (work[-1 - i] != SENTINEL || work[n + (size_t)i] != SENTINEL) return 0;
    return 1;
}

static void guarded_free(float *work) { pl_free(work - GUARD); }

/* -------------------------------------------------- fast vs reference */

/* Runs forward and backward, fast and reference, on random data and compares;
 * gradient buffers start nonzero to check accumulation. Skips cases whose
 * window does not fit. */
static void compare_case(const conv_case *cs)
{
    const int OH = out_h(cs), OW = out_w(cs);
    if (OH <= 0 || OW <= 0) return;
    char label[160], what[200];
    describe(label, sizeof label, cs);
    const int Cg = cs->C / cs->p.groups, OCg = cs->OC / cs->p.groups;
    const size_t n_inp = (size_t)cs->N * cs->C * cs->H * cs->W;
    const size_t n_out = (size_t)cs->N * cs->OC * OH * OW;
    const size_t n_w = (size_t)cs->OC * Cg * cs->p.kh * cs->p.kw;
    const int K = Cg * cs->p.kh * cs->p.kw;
    float *inp = alloc_random(n_inp, 1.0f);
    float *weight = alloc_random(n_w, 0.5f);
    float *bias = alloc_random((size_t)cs->OC, 0.5f);
    float *dout = alloc_random(n_out, 1.0f);
    float *out_ref = pl_xmalloc(sizeof(float) * n_out);
    float *out_fast = pl_xmalloc(sizeof(float) * n_out);
    size_t n_work = nn_conv2d_workspace(cs->N, cs->C, cs->H, cs->W, cs->OC, &cs->p);
    float *work = guarded_alloc(n_work);

    nn_conv2d_forward_ref(out_ref, inp, weight, bias, cs->N, cs->C, cs->H, cs->W, cs->OC, &cs->p);
    nn_conv2d_forward(out_fast, inp, weight, bias, cs->N, cs->C, cs->H, cs->W, cs->OC, &cs->p, work);
    snprintf(what, sizeof what, "forward %s", label);
    CHECK_ARRAYS_CLOSE(out_fast, out_ref, n_out, 1e-4 * sqrt(K), 1e-4, what);
    nn_conv2d_forward_ref(out_ref, inp, weight, NULL, cs->N, cs->C, cs->H, cs->W, cs->OC, &cs->p);
    nn_conv2d_forward(out_fast, inp, weight, NULL, cs->N, cs->C, cs->H, cs->W, cs->OC, &cs->p, work);
    snprintf(what, sizeof what, "forward no bias %s", label);
    CHECK_ARRAYS_CLOSE(out_fast, out_ref, n_out, 1e-4 * sqrt(K), 1e-4, what);
    CHECK(guard_intact(work, n_work), "forward wrote outside its %zu-float workspace: %s", n_work, label);

    /* gradients start from the same nonzero values in every buffer */
    float *dinp_ref = alloc_random(n_inp, 1.0f), *dw_ref = alloc_random(n_w, 1.0f);
    float *db_ref = alloc_random((size_t)cs->OC, 1.0f);
    float *dinp_all = alloc_copy(dinp_ref, n_inp), *dw_all = alloc_copy(dw_ref, n_w);
    float *db_all = alloc_copy(db_ref, (size_t)cs->OC);
    float *dinp_one = alloc_copy(dinp_ref, n_inp), *dw_one = alloc_copy(dw_ref, n_w);
    float *db_one = alloc_copy(db_ref, (size_t)cs->OC);
    nn_conv2d_backward_ref(dinp_ref, dw_ref, db_ref, dout, inp, weight, cs->N, cs->C, cs->H, cs->W,
                           cs->OC, &cs->p);
    nn_conv2d_backward(dinp_all, dw_all, db_all, dout, inp, weight, cs->N, cs->C, cs->H, cs->W,
                       cs->OC, &cs->p, work);
    /* one gradient at a time, the others NULL */
    nn_conv2d_backward(dinp_one, NULL, NULL, dout, inp, weight, cs->N, cs->C, cs->H, cs->W, cs->OC,
                       &cs->p, work);
    nn_conv2d_backward(NULL, dw_one, NULL, dout, inp, weight, cs->N, cs->C, cs->H, cs->W, cs->OC,
                       &cs->p, work);
    nn_conv2d_backward(NULL, NULL, db_one, dout, inp, weight, cs->N, cs->C, cs->H, cs->W, cs->OC,
                       &cs->p, work);
    CHECK(guard_intact(work, n_work), "backward wrote outside its %zu-float workspace: %s", n_work, label);

    double tol_dinp = 1e-4 * sqrt((double)OCg * cs->p.kh * cs->p.kw) + 1e-5;
    double tol_dw = 1e-4 * sqrt((double)cs->N * OH * OW) + 1e-5;
    snprintf(what, sizeof what, "dinp %s", label);
    CHECK_ARRAYS_CLOSE(dinp_all, dinp_ref, n_inp, tol_dinp, 1e-4, what);
    CHECK_ARRAYS_CLOSE(dinp_one, dinp_ref, n_inp, tol_dinp, 1e-4, what);
    snprintf(what, sizeof what, "dweight %s", label);
    CHECK_ARRAYS_CLOSE(dw_all, dw_ref, n_w, tol_dw, 1e-4, what);
    CHECK_ARRAYS_CLOSE(dw_one, dw_ref, n_w, tol_dw, 1e-4, what);
    snprintf(what, sizeof what, "dbias %s", label);
    CHECK_ARRAYS_CLOSE(db_all, db_ref, (size_t)cs->OC, tol_dw, 1e-4, what);
    CHECK_ARRAYS_CLOSE(db_one, db_ref, (size_t)cs->OC, tol_dw, 1e-4, what);

    float *bufs[] = {inp, weight, bias, dout, out_ref, out_fast, dinp_ref, dw_ref, db_ref,
                     dinp_all, dw_all, db_all, dinp_one, dw_one, db_one};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) pl_free(bufs[i]);
    guarded_free(work);
}

static void test_grid(void)
{
    /* per-image (N=1), batched small-plane (N=3, P < 256), and mixed (large
     * plane at stride 1, batched at stride 2); 1x1 stride 1 is the no-copy
     * pointwise path on large planes or N=1 */
    const int base[][5] = {{1, 4, 7, 5, 6}, {3, 4, 9, 11, 8}, {3, 6, 20, 17, 6}};
    const int kernels[] = {1, 3, 5, 7};
    for (size_t b = 0; b < sizeof base / sizeof base[0]; b++) {
        for (int ki = 0; ki < 4; ki++) {
            int k = kernels[ki];
            for (int stride = 1; stride <= 2; stride++) {
                for (int pad = 0; pad <= k / 2; pad += (k / 2 > 0 ? k / 2 : 1)) {
                    for (int gi = 0; gi < 4; gi++) {
                        conv_case cs = {base[b][0], base[b][1], base[b][2], base[b][3], base[b][4],
                                        {k, k, stride, stride, pad, pad, 1}};
                        if (gi == 1) cs.p.groups = 2;
                        if (gi == 2) cs.p.groups = cs.OC = cs.C;     /* depthwise          */
                        if (gi == 3) cs.p.groups = cs.C, cs.OC = 2 * cs.C; /* multiplier 2 */
                        compare_case(&cs);
                    }
                }
            }
        }
    }
}

static void test_special_shapes(void)
{
    const conv_case cases[] = {
        /* InceptionV3's factorized 1x7 / 7x1 convolutions, asymmetric padding */
        {2, 8, 17, 17, 6, {1, 7, 1, 1, 0, 3, 1}},
        {2, 8, 17, 17, 6, {7, 1, 1, 1, 3, 0, 1}},
        {2, 8, 17, 17, 8, {1, 7, 1, 1, 0, 3, 8}},
        {1, 8, 17, 17, 8, {7, 1, 1, 1, 3, 0, 8}},
        {1, 6, 18, 19, 4, {1, 7, 1, 1, 0, 3, 2}},
        /* different strides per axis, stride 3 */
        {2, 4, 11, 13, 6, {3, 1, 2, 1, 1, 0, 1}},
        {2, 4, 11, 13, 4, {3, 3, 1, 3, 1, 1, 4}},
        {2, 4, 16, 16, 6, {3, 3, 3, 3, 0, 0, 2}},
        /* batched in two chunks (P = 49, 21 images per chunk), and a 1x1
         * stride-2 downsampling through im2col */
        {30, 8, 7, 7, 16, {3, 3, 1, 1, 1, 1, 1}},
        {5, 8, 14, 14, 16, {1, 1, 2, 2, 0, 0, 1}},
        /* batch 1 on output planes of 1, 2 and 4 pixels: the one-column
         * product (nn_gemm_skinny, dead taps kept) on 1 pixel, sgemm on the
         * others (grouped; dead taps dropped on the 1x2 plane) */
        {1, 8, 3, 3, 6, {3, 3, 1, 1, 0, 0, 1}},
        {1, 16, 2, 2, 6, {3, 3, 1, 1, 1, 1, 2}},
        {1, 8, 1, 2, 5, {3, 3, 1, 1, 1, 1, 1}},
        /* pointwise at planes of 4 and 2 pixels (per image, grouped), and
         * of 1 pixel for 3 images (one product); groups of more than
         * NN_CONV_GROUPED_MAX_CG channels, which take sgemm */
        {1, 12, 2, 2, 4, {1, 1, 1, 1, 0, 0, 2}},
        {2, 6, 2, 1, 4, {1, 1, 1, 1, 0, 0, 1}},
        {3, 16, 1, 1, 9, {1, 1, 1, 1, 0, 0, 1}},
        /* pointwise: planes of 1 pixel (one sgemm for the batch, grouped
         * too), a small plane (batched), a large plane (no copy, grouped);
         * a 1x1 input */
        {4, 16, 1, 1, 8, {1, 1, 1, 1, 0, 0, 1}},
        {5, 24, 1, 1, 9, {1, 1, 1, 1, 0, 0, 3}},
        {3, 12, 2, 3, 4, {1, 1, 1, 1, 0, 0, 2}},
        {2, 8, 6, 6, 6, {5, 3, 1, 1, 2, 1, 1}},    /* "same" padding, odd kernel */
        {2, 8, 6, 7, 6, {3, 3, 1, 1, 2, 2, 1}},    /* padding > same            */
        {2, 32, 16, 17, 12, {1, 1, 1, 1, 0, 0, 4}},
        {4, 6, 1, 1, 6, {3, 3, 1, 1, 1, 1, 1}},
        /* depthwise: a wide kernel; planes split in several row bands;
         * stride 3; rectangular; and the generic fallbacks for rows too wide
         * for the stack buffer, more than 64 taps, stride 5 and padding >=
         * kernel size (no flipped-kernel dinp) on large planes (small planes,
         * up to 256 output pixels, take the channel-vectorized kernels) */
        {1, 2, 3, 40, 2, {1, 35, 1, 1, 0, 17, 2}},
        {1, 2, 40, 300, 2, {3, 3, 1, 1, 1, 1, 2}},  /* several row bands per plane */
        {1, 2, 60, 250, 2, {5, 5, 2, 2, 2, 2, 2}},
        {2, 3, 13, 14, 3, {3, 3, 3, 3, 1, 1, 3}},
        {2, 3, 9, 8, 3, {3, 2, 1, 1, 1, 0, 3}},
        {1, 2, 24, 30, 2, {3, 2, 1, 1, 1, 0, 2}},
        {1, 2, 3, 3000, 2, {3, 3, 1, 1, 1, 1, 2}},
        {2, 3, 12, 11, 3, {9, 9, 1, 1, 4, 4, 3}},
        {2, 3, 16, 17, 3, {3, 3, 5, 5, 1, 1, 3}},
        {1, 2, 5, 5, 2, {2, 2, 1, 1, 2, 2, 2}},
        {1, 2, 100, 100, 2, {3, 3, 5, 5, 1, 1, 2}},
        {1, 2, 20, 20, 2, {2, 2, 1, 1, 2, 2, 2}},
        {2, 20, 19, 21, 20, {3, 3, 1, 1, 1, 1, 20}}, /* 2 channel blocks, large plane */
        {3, 37, 6, 5, 37, {3, 3, 2, 1, 1, 1, 37}},   /* 3 channel blocks, small plane */
        /* kernel larger than the input thanks to padding */
        {2, 3, 4, 4, 5, {5, 5, 1, 1, 2, 2, 1}},
        /* large plane, one sgemm per image; then several tiles of output
         * rows per image (column matrix over 2^18 floats) */
        {2, 8, 24, 24, 16, {3, 3, 1, 1, 1, 1, 1}},
        {2, 16, 24, 24, 16, {3, 3, 2, 2, 1, 1, 16}},
        {1, 64, 40, 40, 4, {3, 3, 1, 1, 1, 1, 1}},
        {1, 32, 64, 50, 4, {5, 5, 2, 2, 2, 2, 1}},
        {2, 64, 36, 36, 8, {3, 3, 1, 1, 1, 1, 2}},
        /* taps that read only padding: dropped (compacted weights) for a
         * single live tap (a 1x1 plane batched and per image) and where the
         * columns repay the copy (enough images: a 2x2 plane at stride 2,
         * one output pixel, first kernel row and column dead; one axis
         * only, grouped; weights copied in parallel), kept where they do
         * not (the same shapes on fewer images); and no live tap at all
         * (output = bias) */
        {5, 16, 1, 1, 12, {3, 3, 1, 1, 1, 1, 1}},
        {1, 16, 1, 1, 12, {3, 3, 1, 1, 1, 1, 1}},
        {64, 8, 2, 2, 12, {3, 3, 2, 2, 1, 1, 1}},
        {16, 8, 1, 9, 6, {3, 3, 1, 1, 1, 1, 2}},
        {64, 64, 2, 2, 64, {3, 3, 2, 2, 1, 1, 1}},
        {3, 8, 2, 2, 12, {3, 3, 2, 2, 1, 1, 1}},
        {2, 8, 1, 9, 6, {3, 3, 1, 1, 1, 1, 2}},
        {1, 6, 3, 1, 4, {5, 5, 1, 1, 2, 2, 2}},
        {2, 3, 1, 1, 4, {2, 2, 5, 5, 3, 3, 1}},
        /* depthwise on tiny planes, full channel blocks transposed by
         * gathers: 1x1, 2x2 at stride 2, 8x8 */
        {4, 32, 1, 1, 32, {5, 5, 1, 1, 2, 2, 32}},
        {3, 33, 2, 2, 33, {5, 5, 2, 2, 2, 2, 33}},
        {2, 16, 8, 8, 16, {3, 3, 1, 1, 1, 1, 16}},
        /* depthwise forward on the AVX-512 masked-load kernels: flat "same"
         * planes (row widths 14, 7, 28 wrapping inside a 16-lane vector,
         * 5x5 and 7x7, a plane of 64 pixels exactly) and output rows of 14
         * and more at column stride 2 and 1 (unpadded, row stride 2, odd
         * widths, a tail chunk past 16) */
        {2, 5, 14, 14, 5, {3, 3, 1, 1, 1, 1, 5}},
        {1, 3, 10, 7, 3, {3, 3, 1, 1, 1, 1, 3}},
        {1, 4, 28, 28, 4, {5, 5, 1, 1, 2, 2, 4}},
        {1, 3, 15, 14, 3, {7, 7, 1, 1, 3, 3, 3}},
        {3, 17, 8, 8, 17, {3, 3, 1, 1, 1, 1, 17}},
        {1, 3, 28, 28, 3, {3, 3, 2, 2, 1, 1, 3}},
        {2, 3, 56, 57, 3, {5, 5, 2, 2, 2, 2, 3}},
        {1, 2, 31, 29, 2, {3, 3, 2, 2, 0, 1, 2}},
        {1, 2, 18, 35, 2, {3, 3, 1, 1, 0, 0, 2}},
        {1, 2, 21, 19, 2, {3, 5, 2, 1, 1, 2, 2}},
        {1, 2, 19, 70, 2, {4, 4, 1, 2, 2, 1, 2}},
        /* AVX-512 builds: */
        /* - direct kernel for few inputs per output (K = C*KH*KW <= 32, output
         *   rows of 8 and more): the stems at stride 2, output channels in a
         *   full block of 16 plus a partial one, a tail chunk of the row,
         *   stride 1, unpadded, different strides per axis, 5x5 on 1 channel */
        {2, 3, 32, 32, 16, {3, 3, 2, 2, 1, 1, 1}},
        {1, 3, 40, 37, 20, {3, 3, 1, 1, 1, 1, 1}},
        {2, 3, 23, 35, 5, {3, 3, 2, 2, 1, 1, 1}},
        {1, 2, 12, 20, 17, {3, 3, 1, 2, 0, 0, 1}},
        {2, 1, 30, 30, 8, {5, 5, 2, 2, 2, 2, 1}},
        /* - im2col by masked loads (consecutive reads: stride 1 "same") and
         *   gathers, columns in several blocks of 256 with a tail, a per-image
         *   tile; dead taps dropped on top */
        {40, 8, 4, 4, 8, {3, 3, 1, 1, 1, 1, 1}},
        {37, 6, 8, 8, 8, {3, 3, 2, 2, 1, 1, 1}},
        {7, 5, 5, 5, 6, {3, 3, 2, 2, 1, 1, 1}},
        {5, 4, 6, 7, 6, {3, 2, 1, 1, 1, 0, 2}},
        {9, 8, 2, 2, 12, {3, 3, 1, 1, 1, 1, 1}},
        {1, 16, 9, 11, 8, {3, 3, 1, 1, 0, 0, 1}},
        /* - depthwise forward on small planes, 16 outputs of the flat
         *   (C, OH, OW) image per vector (C*P a multiple of 16): 2x2 and 4x4
         *   "same" (consecutive reads, 2x2 taken, 4x4 5x5 left to the
         *   transposing kernel: too many live taps); gathers at stride 2
         *   when the live taps are few: 2x2 -> 1x1 5x5 (from 8 images);
         *   and shapes it leaves to the transposing kernel (5x5 -> 3x3
         *   (P = 9), 4x4 -> 2x2 padded and unpadded, 8x8 -> 4x4 5x5 s2,
         *   16x16 -> 8x8 s2) */
        {9, 16, 2, 2, 16, {3, 3, 1, 1, 1, 1, 16}},
        {8, 32, 4, 4, 32, {5, 5, 1, 1, 2, 2, 32}},
        {8, 16, 5, 5, 16, {3, 3, 2, 2, 1, 1, 16}},
        {8, 16, 4, 4, 16, {3, 3, 2, 2, 1, 1, 16}},
        {11, 16, 2, 2, 16, {5, 5, 2, 2, 2, 2, 16}}, /* 4 images at a time, 3 left */
        {8, 16, 4, 4, 16, {3, 3, 1, 1, 0, 0, 16}},
        {8, 24, 8, 8, 24, {5, 5, 2, 2, 2, 2, 24}},
        {8, 8, 16, 16, 8, {3, 3, 2, 2, 1, 1, 8}},
        {2, 16, 7, 7, 16, {5, 5, 1, 1, 2, 2, 16}}, /* fewer than 8 images: transposing */
        {2, 16, 6, 5, 16, {4, 2, 1, 1, 2, 1, 16}}, /* even kernel widths, rows of 1 and 2 taps */
        /* - transposing kernel (16x16 register transposes): one image, 3
         *   channel blocks of 7x7 5x5; 14x14 -> 7x7 5x5 stride 2 (196 input
         *   pixels: 12 full groups of 16 and a tail), a partial block */
        {1, 48, 7, 7, 48, {5, 5, 1, 1, 2, 2, 48}},
        {1, 40, 14, 14, 40, {5, 5, 2, 2, 2, 2, 40}},
        /* - row-blocked stride-1 kernel (4 output rows per block): 28x28 5x5
         *   and 14x14 3x3 "same" (above), 13 rows (a partial block), padding
         *   beyond "same" with a 3x5 kernel, 7x7; and a "same" plane wider
         *   than 32 that stays on the flat kernel, copied between zero
         *   borders (40x40) or too large for that copy (48x45) */
        {1, 3, 13, 20, 3, {3, 3, 1, 1, 1, 1, 3}},
        {1, 2, 17, 20, 2, {3, 5, 1, 1, 2, 1, 2}},
        {2, 2, 16, 18, 2, {7, 7, 1, 1, 3, 3, 2}},
        {1, 2, 40, 40, 2, {5, 5, 1, 1, 2, 2, 2}},
        {1, 2, 48, 45, 2, {3, 3, 1, 1, 1, 1, 2}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) compare_case(&cases[i]);
}

/* -------------------------------------------------- finite differences */

typedef struct {
    const conv_case *cs;
    const float *inp, *weight, *bias, *R;
    float *out;
    size_t n_out;
} fd_ctx;

/* L = sum(out * R) in double, out from the reference forward. */
static double fd_loss(void *opaque)
{
    const fd_ctx *c = opaque;
    const conv_case *cs = c->cs;
    nn_conv2d_forward_ref(c->out, c->inp, c->weight, c->bias, cs->N, cs->C, cs->H, cs->W, cs->OC,
                          &cs->p);
    return dot(c->out, c->R, c->n_out);
}

/* Checks the analytic gradients of L (from the reference or the fast
 * backward, dout = R) against central differences on sampled elements. */
static void fd_case(const conv_case *cs, int use_fast)
{
    const int OH = out_h(cs), OW = out_w(cs);
    char label[160];
    describe(label, sizeof label, cs);
    const int Cg = cs->C / cs->p.groups;
    const size_t n_inp = (size_t)cs->N * cs->C * cs->H * cs->W;
    const size_t n_out = (size_t)cs->N * cs->OC * OH * OW;
    const size_t n_w = (size_t)cs->OC * Cg * cs->p.kh * cs->p.kw;
    float *inp = alloc_random(n_inp, 1.0f), *weight = alloc_random(n_w, 0.5f);
    float *bias = alloc_random((size_t)cs->OC, 0.5f), *R = alloc_random(n_out, 1.0f);
    float *out = pl_xmalloc(sizeof(float) * n_out);
    float *grad[3];
    grad[0] = pl_xcalloc(n_inp, sizeof(float));
    grad[1] = pl_xcalloc(n_w, sizeof(float));
    grad[2] = pl_xcalloc((size_t)cs->OC, sizeof(float));
    if (use_fast) {
        size_t n_work = nn_conv2d_workspace(cs->N, cs->C, cs->H, cs->W, cs->OC, &cs->p);
        float *work = pl_xmalloc(sizeof(float) * (n_work ? n_work : 1));
        nn_conv2d_backward(grad[0], grad[1], grad[2], R, inp, weight, cs->N, cs->C, cs->H, cs->W,
                           cs->OC, &cs->p, work);
        pl_free(work);
    } else {
        nn_conv2d_backward_ref(grad[0], grad[1], grad[2], R, inp, weight, cs->N, cs->C, cs->H,
                               cs->W, cs->OC, &cs->p);
    }
    float *param[3] = {inp, weight, bias};
    const size_t len[3] = {n_inp, n_w, (size_t)cs->OC};
    const char *names[3] = {"dinp", "dweight", "dbias"};
    const float eps = 1e-2f;
    fd_ctx ctx = {cs, inp, weight, bias, R, out, n_out};
    for (int t = 0; t < 3; t++) {
        const size_t stride = len[t] / FD_SAMPLES + 1;
        char what[240];
        snprintf(what, sizeof what, "finite differences, %s backward, %s %s",
                 use_fast ? "fast" : "ref", names[t], label);
        check_fd_sampled(what, fd_loss, &ctx, param[t], len[t], grad[t], (size_t)t % stride,
                         stride, eps, 1e-3, 1e-2);
    }
    float *bufs[] = {inp, weight, bias, R, out, grad[0], grad[1], grad[2]};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) pl_free(bufs[i]);
}

static void test_finite_differences(void)
{
    const conv_case cases[] = {
        {2, 4, 6, 5, 6, {3, 3, 2, 2, 1, 1, 2}},    /* grouped, strided, padded  */
        {2, 3, 7, 6, 3, {3, 3, 1, 1, 1, 1, 3}},    /* depthwise, channel blocks */
        {1, 2, 9, 8, 2, {5, 5, 2, 2, 2, 2, 2}},    /* depthwise 5x5 stride 2    */
        {1, 5, 4, 3, 4, {1, 1, 1, 1, 0, 0, 1}},    /* pointwise, no copy        */
        {2, 5, 4, 3, 4, {1, 1, 1, 1, 0, 0, 1}},    /* pointwise, batched        */
        {3, 3, 5, 5, 4, {3, 3, 1, 1, 1, 1, 1}},    /* batched small plane       */
        {1, 3, 6, 9, 2, {1, 7, 1, 1, 0, 3, 1}},    /* 1x7, asymmetric padding   */
        {2, 2, 17, 16, 3, {3, 3, 1, 1, 1, 1, 1}},  /* large plane, per image    */
        {1, 2, 17, 16, 2, {3, 3, 1, 1, 1, 1, 2}},  /* depthwise, row bands      */
        {3, 4, 2, 2, 5, {3, 3, 2, 2, 1, 1, 1}},    /* dead taps dropped         */
        {2, 16, 2, 2, 16, {3, 3, 1, 1, 1, 1, 16}}, /* depthwise, lane gathers   */
        {1, 2, 9, 9, 2, {3, 3, 1, 1, 1, 1, 2}},    /* depthwise, AVX flat       */
        {1, 2, 6, 30, 2, {3, 3, 2, 2, 1, 1, 2}},   /* depthwise, AVX rows s2    */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fd_case(&cases[i], 0);
        fd_case(&cases[i], 1);
    }
}

/* ------------------------------------------------------- hand computed */

/* Input x = [1 2 3; 4 5 6; 7 8 9], kernel k = [1 2; 3 4], bias 0.5.
 * Stride 1, no padding, each output is the dot of a 2x2 window with k:
 *   out[0][0] = 1*1 + 2*2 + 3*4 + 4*5 = 37    -> 37.5
 *   out[0][1] = 1*2 + 2*3 + 3*5 + 4*6 = 47    -> 47.5
 *   out[1][0] = 1*4 + 2*5 + 3*7 + 4*8 = 67    -> 67.5
 *   out[1][1] = 1*5 + 2*6 + 3*8 + 4*9 = 77    -> 77.5
 * Backward with dout = ones(2x2):
 *   dbias = 4; dweight[kh][kw] = sum of the window at offset (kh,kw):
 *   [1+2+4+5, 2+3+5+6; 4+5+7+8, 5+6+8+9] = [12 16; 24 28];
 *   dinp[i][j] = sum of k[kh][kw] with (i-kh, j-kw) inside the 2x2 output:
 *   [1 3 2; 4 10 6; 3 7 4].
 * Stride 2, padding 1 (output 2x2), windows over the zero-padded 5x5:
 *   out[0][0] = 4*1 = 4, out[0][1] = 3*2 + 4*3 = 18,
 *   out[1][0] = 2*4 + 4*7 = 36, out[1][1] = 1*5 + 2*6 + 3*8 + 4*9 = 77,
 *   plus the bias: 4.5 18.5 36.5 77.5.
 * The same numbers run through the depthwise path (C = OC = groups = 1) and
 * through im2col (OC = 2, second filter 2k with bias 1: out2 = 2*raw + 1). */
static void test_hand_computed(void)
{
    const float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    const float k2[8] = {1, 2, 3, 4, 2, 4, 6, 8};
    const float b2[2] = {0.5f, 1.0f};
    const float ones[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    const float want_out[4] = {37.5f, 47.5f, 67.5f, 77.5f};
    const float want_padded[4] = {4.5f, 18.5f, 36.5f, 77.5f};
    const float want_dw[4] = {12, 16, 24, 28};
    const float want_dinp[9] = {1, 3, 2, 4, 10, 6, 3, 7, 4};
    float work[256];
    for (int OC = 1; OC <= 2; OC++) {
        for (int fast = 0; fast <= 1; fast++) {
            nn_conv_params p = {2, 2, 1, 1, 0, 0, 1};
            float out[8], dinp[9] = {0}, dw[8] = {0}, db[2] = {0};
            CHECK(nn_conv2d_workspace(1, 1, 3, 3, OC, &p) <= 256, "hand workspace");
            if (fast) {
                nn_conv2d_forward(out, x, k2, b2, 1, 1, 3, 3, OC, &p, work);
                nn_conv2d_backward(dinp, dw, db, ones, x, k2, 1, 1, 3, 3, OC, &p, work);
            } else {
                nn_conv2d_forward_ref(out, x, k2, b2, 1, 1, 3, 3, OC, &p);
                nn_conv2d_backward_ref(dinp, dw, db, ones, x, k2, 1, 1, 3, 3, OC, &p);
            }
            const char *name = fast ? "hand fast" : "hand ref";
            for (int i = 0; i < 4; i++) {
                CHECK_CLOSE(out[i], want_out[i], 1e-5, 1e-6, name);
                CHECK_CLOSE(dw[i], want_dw[i], 1e-5, 1e-6, name);
                if (OC == 2) {
                    CHECK_CLOSE(out[4 + i], 2 * (want_out[i] - 0.5f) + 1.0f, 1e-5, 1e-6, name);
                    CHECK_CLOSE(dw[4 + i], want_dw[i], 1e-5, 1e-6, name);
                }
            }
            for (int i = 0; i < 9; i++) CHECK_CLOSE(dinp[i], want_dinp[i] * (OC == 2 ? 3 : 1), 1e-5, 1e-6, name);
            for (int o = 0; o < OC; o++) CHECK_CLOSE(db[o], 4.0, 1e-6, 1e-6, name);

            nn_conv_params padded = {2, 2, 2, 2, 1, 1, 1};
            CHECK(nn_conv2d_workspace(1, 1, 3, 3, OC, &padded) <= 256, "hand workspace");
            if (fast) nn_conv2d_forward(out, x, k2, b2, 1, 1, 3, 3, OC, &padded, work);
            else nn_conv2d_forward_ref(out, x, k2, b2, 1, 1, 3, 3, OC, &padded);
            for (int i = 0; i < 4; i++) {
                CHECK_CLOSE(out[i], want_padded[i], 1e-5, 1e-6, name);
                if (OC == 2) CHECK_CLOSE(out[4 + i], 2 * (want_padded[i] - 0.5f) + 1.0f, 1e-5, 1e-6, name);
            }
        }
    }
}

/* ----------------------------------------------------- thread invariance */

/* The depthwise kernels, the grouped path over them and dbias are the
 * project's own loops: the same bits with one thread as with several. */
static void thread_invariance_case(const conv_case *cs)
{
    const size_t n_inp = (size_t)cs->N * cs->C * cs->H * cs->W;
    const size_t n_out = (size_t)cs->N * cs->OC * out_h(cs) * out_w(cs);
    const size_t n_w = (size_t)cs->OC * (cs->C / cs->p.groups) * cs->p.kh * cs->p.kw;
    const size_t n_work = nn_conv2d_workspace(cs->N, cs->C, cs->H, cs->W, cs->OC, &cs->p);
    float *work = n_work ? pl_xmalloc(sizeof(float) * n_work) : NULL;
    float *inp = alloc_random(n_inp, 1.0f), *weight = alloc_random(n_w, 0.5f);
    float *bias = alloc_random((size_t)cs->OC, 0.5f), *dout = alloc_random(n_out, 1.0f);
    float *res[2][4];
    const int threads[2] = {1, 3};
    for (int r = 0; r < 2; r++) {
        pl_threads_set(threads[r]);
        res[r][0] = pl_xmalloc(sizeof(float) * n_out);
        res[r][1] = pl_xcalloc(n_inp, sizeof(float));
        res[r][2] = pl_xcalloc(n_w, sizeof(float));
        res[r][3] = pl_xcalloc((size_t)cs->OC, sizeof(float));
        nn_conv2d_forward(res[r][0], inp, weight, bias, cs->N, cs->C, cs->H, cs->W, cs->OC, &cs->p,
                          work);
        nn_conv2d_backward(res[r][1], res[r][2], res[r][3], dout, inp, weight, cs->N, cs->C, cs->H,
                           cs->W, cs->OC, &cs->p, work);
    }
    pl_threads_set(0);
    char label[160];
    describe(label, sizeof label, cs);
    const char *method = nn_conv2d_method(cs->N, cs->C, cs->H, cs->W, cs->OC, &cs->p);
    const size_t len[4] = {n_out, n_inp, n_w, (size_t)cs->OC};
    const char *names[4] = {"out", "dinp", "dweight", "dbias"};
    for (int t = 0; t < 4; t++) {
        CHECK(memcmp(res[0][t], res[1][t], sizeof(float) * len[t]) == 0,
              "%s %s differs between 1 and 3 threads: %s", method, names[t], label);
        pl_free(res[0][t]);
        pl_free(res[1][t]);
    }
    pl_free(inp);
    pl_free(weight);
    pl_free(bias);
    pl_free(dout);
    pl_free(work);
}

static void test_thread_invariance(void)
{
    /* big enough for the kernels' OpenMP loops to run in parallel */
    const conv_case band = {2, 32, 30, 28, 32, {3, 3, 1, 1, 1, 1, 32}};
    const conv_case small = {8, 48, 12, 12, 48, {5, 5, 1, 1, 2, 2, 48}};
    const conv_case tiny = {32, 256, 2, 2, 256, {3, 3, 1, 1, 1, 1, 256}};
    const conv_case lanes_s2 = {64, 256, 2, 2, 256, {5, 5, 2, 2, 2, 2, 256}}; /* gathers */
    const conv_case blocks_s2 = {64, 256, 4, 4, 256, {3, 3, 2, 2, 1, 1, 256}}; /* transposes */
    const conv_case one_image = {1, 320, 7, 7, 320, {5, 5, 1, 1, 2, 2, 320}}; /* transposes */
    const conv_case rows_blocked = {1, 64, 28, 28, 64, {5, 5, 1, 1, 2, 2, 64}};
    const conv_case blocks = {64, 37, 6, 5, 37, {3, 3, 2, 1, 1, 1, 37}}; /* C*P not a multiple of 16 */
    thread_invariance_case(&band);
    thread_invariance_case(&small);
    thread_invariance_case(&tiny);
    thread_invariance_case(&lanes_s2);
    thread_invariance_case(&blocks_s2);
    thread_invariance_case(&one_image);
    thread_invariance_case(&rows_blocked);
    thread_invariance_case(&blocks);
}

/* ------------------------------------------------------------ grouped */

/* Checks that cs takes the path `expected`, then compare_case. */
static void check_path(const conv_case *cs, const char *expected)
{
    char label[160];
    describe(label, sizeof label, cs);
    const char *method = nn_conv2d_method(cs->N, cs->C, cs->H, cs->W, cs->OC, &cs->p);
    CHECK(strcmp(method, expected) == 0, "%s takes %s, not %s", label, method, expected);
    compare_case(cs);
}

/* Groups of at most NN_CONV_GROUPED_MAX_CG input channels take the grouped
 * path (depthwise kernels per input channel of a group), larger groups
 * im2col; both match the reference, and the grouped path is the same bits
 * on 1 and 3 threads. The shapes are the search's candidates' (16 groups
 * of 2 channels at 16x16, 5x5 on 8x8, 4-channel groups with 8 outputs
 * each) at a batch where the depthwise kernels' fast paths and OpenMP
 * loops engage, and a pointwise one; stride 2 and a group of 8 channels
 * take im2col. */
static void test_grouped(void)
{
    const conv_case grouped[] = {
        {16, 32, 16, 16, 32, {3, 3, 1, 1, 1, 1, 16}},
        {8, 64, 8, 8, 64, {5, 5, 1, 1, 2, 2, 16}},
        {4, 16, 20, 20, 32, {3, 3, 1, 1, 1, 1, 4}},
        {5, 16, 9, 9, 32, {1, 1, 1, 1, 0, 0, 8}},
        {1, 32, 16, 16, 32, {3, 3, 1, 1, 1, 1, 8}},
    };
    for (size_t i = 0; i < sizeof grouped / sizeof grouped[0]; i++) {
        check_path(&grouped[i], "grouped");
        thread_invariance_case(&grouped[i]);
    }
    check_path(&(conv_case){4, 40, 10, 10, 20, {3, 3, 1, 1, 1, 1, 5}}, "im2col"); /* 8 a group */
    check_path(&(conv_case){6, 24, 15, 17, 12, {3, 3, 2, 2, 1, 1, 6}}, "im2col"); /* stride 2  */
}

/* ------------------------------------------------- units in parallel */

/* The backward twice on the thread count in force: the same bits (each
 * thread's partial dweight is summed in thread order). */
static void repeatable_case(const conv_case *cs)
{
    const size_t n_inp = (size_t)cs->N * cs->C * cs->H * cs->W;
    const size_t n_out = (size_t)cs->N * cs->OC * out_h(cs) * out_w(cs);
    const size_t n_w = (size_t)cs->OC * (cs->C / cs->p.groups) * cs->p.kh * cs->p.kw;
    float *inp = alloc_random(n_inp, 1.0f), *weight = alloc_random(n_w, 0.5f);
    float *dout = alloc_random(n_out, 1.0f);
    float *work = pl_xmalloc(sizeof(float) * (nn_conv2d_workspace(cs->N, cs->C, cs->H, cs->W,
                                                                  cs->OC, &cs->p) + 1));
    float *dw[2], *dx[2];
    for (int r = 0; r < 2; r++) {
        dw[r] = pl_xcalloc(n_w, sizeof(float));
        dx[r] = pl_xcalloc(n_inp, sizeof(float));
        nn_conv2d_backward(dx[r], dw[r], NULL, dout, inp, weight, cs->N, cs->C, cs->H, cs->W,
                           cs->OC, &cs->p, work);
    }
    char label[160];
    describe(label, sizeof label, cs);
    CHECK(memcmp(dw[0], dw[1], sizeof(float) * n_w) == 0,
          "dweight differs between two runs on %d threads: %s", pl_threads_get(), label);
    CHECK(memcmp(dx[0], dx[1], sizeof(float) * n_inp) == 0,
          "dinp differs between two runs on %d threads: %s", pl_threads_get(), label);
    float *bufs[] = {inp, weight, dout, work, dw[0], dw[1], dx[0], dx[1]};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) pl_free(bufs[i]);
}

/* With as many units (images, or batches of images on small planes) as
 * threads, each thread takes whole units with its own share of the
 * workspace, which is sized for the thread count in force: on 1, 2 and 3
 * threads every such path matches the reference, stays inside its
 * workspace and repeats its bits. */
static void test_units_in_parallel(void)
{
    const conv_case cases[] = {
        {5, 4, 17, 16, 6, {3, 3, 1, 1, 1, 1, 1}},   /* one image per unit, in tiles     */
        {5, 4, 16, 18, 6, {1, 1, 1, 1, 0, 0, 2}},   /* pointwise on large planes         */
        {7, 4, 40, 30, 4, {3, 3, 2, 2, 1, 1, 2}},   /* groups, stride 2                  */
        {40, 3, 8, 8, 5, {3, 3, 1, 1, 1, 1, 1}},    /* small planes: 3 or 4 batches      */
        {600, 4, 2, 2, 6, {5, 5, 1, 1, 2, 2, 1}},   /* taps compacted (3x3 live of 5x5)  */
    };
    const int threads[] = {1, 2, 3};
    for (int t = 0; t < 3; t++) {
        pl_threads_set(threads[t]);
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            compare_case(&cases[i]);
            repeatable_case(&cases[i]);
        }
    }
    pl_threads_set(0);
}

/* Winograd F(2x2,3x3): shapes that take it (checked, so that no case
 * passes on another path), odd and even planes, padding 0, 1 and 2, batched
 * small planes, one image in several bands, and on 1, 2 and 3 threads the
 * units in parallel; each against the reference and its workspace guard. */
static void test_winograd(void)
{
    const conv_case cases[] = {
        {1, 16, 16, 16, 16, {3, 3, 1, 1, 1, 1, 1}},  /* one image, one band       */
        {4, 16, 7, 9, 20, {3, 3, 1, 1, 1, 1, 1}},    /* odd planes, batched      */
        {4, 16, 9, 10, 17, {3, 3, 1, 1, 0, 0, 1}},   /* no padding: dinp pads 2  */
        {6, 17, 6, 7, 16, {3, 3, 1, 1, 2, 2, 1}},    /* padding 2: dinp pads 0   */
        {8, 16, 5, 5, 16, {3, 3, 1, 1, 1, 1, 1}},    /* planes of 2.5 x 2.5 tiles */
        {1, 16, 100, 101, 16, {3, 3, 1, 1, 1, 1, 1}}, /* several bands            */
        {33, 24, 4, 4, 32, {3, 3, 1, 1, 1, 1, 1}},   /* several units per thread */
        {2, 16, 20, 35, 18, {3, 3, 1, 1, 0, 0, 1}},  /* rows of 17 tiles, no padding */
        {2, 18, 19, 40, 16, {3, 3, 1, 1, 2, 2, 1}},  /* rows of 21 tiles, padding 2 */
    };
    const int threads[] = {1, 2, 3};
    for (int t = 0; t < 4; t++) {
        /* last: the portable transforms, which AVX-512 builds bypass */
        pl_threads_set(threads[t < 3 ? t : 1]);
        nn_conv_wino_portable = t == 3;
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            const conv_case *cs = &cases[i];
            char label[160];
            describe(label, sizeof label, cs);
            const char *method = nn_conv2d_method(cs->N, cs->C, cs->H, cs->W, cs->OC, &cs->p);
            CHECK(strcmp(method, "winograd") == 0, "%s takes %s, not winograd", label, method);
            compare_case(cs);
            repeatable_case(cs);
        }
    }
    nn_conv_wino_portable = 0;
    pl_threads_set(0);
    /* below 16 channels, on strides, on other kernels: not Winograd */
    const conv_case others[] = {
        {4, 8, 16, 16, 16, {3, 3, 1, 1, 1, 1, 1}},
        {4, 16, 16, 16, 16, {3, 3, 2, 2, 1, 1, 1}},
        {4, 16, 16, 16, 16, {5, 5, 1, 1, 2, 2, 1}},
        {4, 32, 16, 16, 32, {3, 3, 1, 1, 1, 1, 2}},
        {1, 16, 2, 2, 16, {3, 3, 1, 1, 1, 1, 1}},
        {64, 16, 3, 3, 16, {3, 3, 1, 1, 1, 1, 1}},   /* planes under 4x4 */
        {2, 16, 5, 5, 16, {3, 3, 1, 1, 1, 1, 1}},    /* under 64 tiles   */
    };
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        const conv_case *cs = &others[i];
        const char *method = nn_conv2d_method(cs->N, cs->C, cs->H, cs->W, cs->OC, &cs->p);
        char label[160];
        describe(label, sizeof label, cs);
        CHECK(strcmp(method, "winograd") != 0, "%s takes winograd", label);
    }
}

int main(void)
{
    lcg_seed(12345u);
    pl_threads_set(0);
    test_hand_computed();
    test_grid();
    test_special_shapes();
    test_finite_differences();
    test_thread_invariance();
    test_grouped();
    test_units_in_parallel();
    test_winograd();
    return check_summary("test_conv");
}
