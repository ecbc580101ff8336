/* nn_conv_dw.c: depthwise 2-D convolution (groups == C == OC), forward and
 * backward, direct kernels without im2col.
 *
 * The fast kernels work on bands of output rows of one plane. The input rows
 * a band needs are copied into a stack buffer, zero-padded and split by
 * stride phase: phase (rh, rw) holds x[a*SH + rh - PH, b*SW + rw - PW] at row
 * a, column b, every phase row wq = OW + (KW-1)/SW floats long. The band's
 * outputs live in a flat buffer with the same row length wq, so kernel tap
 * (kh, kw) reads phase (kh % SH, kw % SW) at a constant offset
 * (kh / SH)*wq + kw / SW from the output index: each tap is one long
 * contiguous multiply-add over the whole band, with no border tests, which
 * gcc vectorizes (the (KW-1)/SW extra columns per row are computed and
 * dropped). dweight takes a dot product per tap the same way.
 * - forward: parallel over (image, channel) planes.
 * - dinp, stride 1: the forward kernel on dout with the kernel flipped and
 *   padding K-1-P (a full correlation), accumulating (with AVX-512, the
 *   masked-load kernels below where they take the shape); other strides
 *   scatter.
 * - dweight: parallel over channels.
 * Every output float is summed by one thread in a fixed order, so results do
 * not depend on the thread count. Small output planes (up to DW_SMALL_MAX_P
 * pixels) go to the channel-vectorized kernels of nn_conv_dw_small.c instead.
 * Shapes neither buffer can hold (very wide rows, more than DW_MAX_TAPS taps,
 * stride > DW_MAX_STRIDE on a large plane) take plain generic loops.
 * With AVX-512, the forward of most shapes with output planes of 8x8 and up
 * takes the masked-load kernels below (dw_forward_avx) instead: 1.3-5x faster
 * than the band kernels (no band copy; stride 2 no longer strided scalar
 * copies). */
#include "nn_conv_internal.h"

#include <string.h>

#define DW_BUF        8192  /* floats of the per-thread band buffer (stack) */
#define DW_MAX_STRIDE 4     /* strides the fast kernels handle              */
#define DW_MAX_TAPS   64    /* KH*KW the fast kernels handle                */
#define OMP_MIN_WORK  262144 /* multiply-adds below which loops stay serial */
#define DW_SMALL_MAX_P 256  /* output planes up to this go to nn_conv_dw_small.c */

/* Whether the channel-vectorized kernels of nn_conv_dw_small.c take the
 * shape: on small output planes they beat the band kernels, up to 10x on
 * 2x2 (measured); from about 20x20 at stride 1 the bands win. */
static int use_small_kernels(const nn_conv_plan *s)
{
    return s->P <= DW_SMALL_MAX_P && nn_conv_dw_small_fits(s);
}

/* Geometry of the banded, phase-split buffer for one plan. */
typedef struct {
    int fast;               /* the buffer holds at least one row: use it   */
    int wq;                 /* floats per phase row and per output row     */
    int rows;               /* output rows per band                        */
    int qrows;              /* rows per phase: rows + (KH-1)/SH            */
    int lo[DW_MAX_STRIDE];  /* valid columns [lo, hi) of each column phase */
    int hi[DW_MAX_STRIDE];
} dw_bands;

static dw_bands dw_bands_setup(const nn_conv_plan *s)
{
    dw_bands g = {0};
    if (s->SH > DW_MAX_STRIDE || s->SW > DW_MAX_STRIDE || s->KH * s->KW > DW_MAX_TAPS) return g;
    g.wq = s->OW + (s->KW - 1) / s->SW;
    const long phases = (long)s->SH * s->SW;
    const long fixed = phases * ((s->KH - 1) / s->SH) * g.wq;
    const long rows = (DW_BUF - fixed) / ((phases + 1) * g.wq); /* phase rows + output row */
    if (rows < 1) return g;
    g.rows = rows < s->OH ? (int)rows : s->OH;
    g.qrows = g.rows + (s->KH - 1) / s->SH;
    for (int rw = 0; rw < s->SW; rw++)
        nn_conv_valid_range(g.wq, s->W, s->SW, rw - s->PW, &g.lo[rw], &g.hi[rw]);
    g.fast = 1;
    return g;
}

/* Phase (rh, rw) of the band buffer: (qrows, wq). */
static float *phase_at(float *buf, const nn_conv_plan *s, const dw_bands *g, int rh, int rw)
{
    return buf + (size_t)(rh * s->SW + rw) * g->qrows * g->wq;
}

/* The flat output (or dout) rows of the band buffer: (rows, wq). */
static float *band_rows(float *buf, const nn_conv_plan *s, const dw_bands *g)
{
    return phase_at(buf, s, g, s->SH, 0);
}

/* Zeroes the phases of a new band buffer: columns outside each phase's
 * [lo, hi) stay zero for good, fill_band writes only inside. */
static void clear_phases(float *buf, const nn_conv_plan *s, const dw_bands *g)
{
    memset(buf, 0, sizeof(float) * (size_t)s->SH * s->SW * g->qrows * g->wq);
}

/* Fills the phases for the nrows output rows from oh0, in a buffer that
 * clear_phases zeroed once. buf: DW_BUF floats; x (H,W). */
static void fill_band(float *buf, const float *x, const nn_conv_plan *s, const dw_bands *g,
                      int oh0, int nrows)
{
    const int qrows = nrows + (s->KH - 1) / s->SH;
    for (int rh = 0; rh < s->SH; rh++) {
        for (int rw = 0; rw < s->SW; rw++) {
            float *phase = phase_at(buf, s, g, rh, rw);
            const int lo = g->lo[rw], hi = g->hi[rw], off = rw - s->PW;
            for (int a = 0; a < qrows; a++) {
                float *restrict dst = phase + (size_t)a * g->wq;
                int ih = (oh0 + a) * s->SH + rh - s->PH;
                if (ih < 0 || ih >= s->H) {
                    memset(dst, 0, sizeof(float) * (size_t)g->wq);
                    continue;
                }
                const float *restrict xrow = x + (size_t)ih * s->W;
                if (s->SW == 1) {
                    for (int i = lo; i < hi; i++) dst[i] = xrow[i + off];
                } else {
                    for (int i = lo; i < hi; i++) dst[i] = xrow[i * s->SW + off];
                }
            }
        }
    }
}

/* Offset of tap (kh, kw) in the band buffer, relative to the output index. */
static size_t tap_offset(const nn_conv_plan *s, const dw_bands *g, int kh, int kw)
{
    return (size_t)((kh % s->SH) * s->SW + kw % s->SW) * g->qrows * g->wq +
           (size_t)(kh / s->SH) * g->wq + (size_t)(kw / s->SW);
}

/* Band buffer data of flat tap t = kh*KW + kw, aligned with the outputs. */
static const float *tap_src(const float *buf, const nn_conv_plan *s, const dw_bands *g, int t)
{
    return buf + tap_offset(s, g, t / s->KW, t % s->KW);
}

/* Weight of flat tap t, with the steps plane_forward documents. */
static float tap_weight(const float *w, int wh, int ww, const nn_conv_plan *s, int t)
{
    return w[(t / s->KW) * wh + (t % s->KW) * ww];
}

/* o (OH,OW) = b + correlation of x (H,W) with the kernel, or o += that sum
 * (b = 0) when accumulate. Tap (kh, kw) is w[kh*wh + kw*ww], so negative
 * steps from the last tap read the kernel flipped. buf: DW_BUF floats. */
static void plane_forward(float *o, const float *x, const float *w, int wh, int ww, float b,
                          int accumulate, const nn_conv_plan *s, const dw_bands *g, float *buf)
{
    float *restrict acc = band_rows(buf, s, g);
    const int taps = s->KH * s->KW;
    for (int oh0 = 0; oh0 < s->OH; oh0 += g->rows) {
        const int nrows = s->OH - oh0 < g->rows ? s->OH - oh0 : g->rows;
        const int n = (nrows - 1) * g->wq + s->OW;
        fill_band(buf, x, s, g, oh0, nrows);
        for (int i = 0; i < n; i++) acc[i] = b;
        /* taps in groups of four, one pass over acc per group */
        for (int t = 0; t < taps; t += 4) {
            const float *src[4];
            float wt[4];
            for (int k = 0; k < 4; k++) {
                int tk = t + k < taps ? t + k : t; /* past the last tap: unused */
                src[k] = tap_src(buf, s, g, tk);
                wt[k] = tap_weight(w, wh, ww, s, tk);
            }
            const float *restrict s0 = src[0], *restrict s1 = src[1], *restrict s2 = src[2],
                        *restrict s3 = src[3];
            const float w0 = wt[0], w1 = wt[1], w2 = wt[2], w3 = wt[3];
            if (t + 4 <= taps) {
                for (int i = 0; i < n; i++) acc[i] += w0 * s0[i] + w1 * s1[i] + w2 * s2[i] + w3 * s3[i];
            } else if (t + 3 == taps) {
                for (int i = 0; i < n; i++) acc[i] += w0 * s0[i] + w1 * s1[i] + w2 * s2[i];
            } else if (t + 2 == taps) {
                for (int i = 0; i < n; i++) acc[i] += w0 * s0[i] + w1 * s1[i];
            } else {
                for (int i = 0; i < n; i++) acc[i] += w0 * s0[i];
            }
        }
        for (int r = 0; r < nrows; r++) {
            float *restrict orow = o + (size_t)(oh0 + r) * s->OW;
            const float *restrict arow = acc + (size_t)r * g->wq;
            if (accumulate) {
                for (int i = 0; i < s->OW; i++) orow[i] += arow[i];
            } else {
                for (int i = 0; i < s->OW; i++) orow[i] = arow[i];
            }
        }
    }
}

/* Generic forward of one plane: o (OH,OW), x (H,W), w (KH,KW). */
static void plane_forward_generic(float *o, const float *x, const float *w, float b,
                                  const nn_conv_plan *s)
{
    for (int oh = 0; oh < s->OH; oh++) {
        float *orow = o + (size_t)oh * s->OW;
        for (int ow = 0; ow < s->OW; ow++) orow[ow] = b;
        for (int kh = 0; kh < s->KH; kh++) {
            int ih = oh * s->SH - s->PH + kh;
            if (ih < 0 || ih >= s->H) continue;
            const float *xrow = x + (size_t)ih * s->W;
            for (int kw = 0; kw < s->KW; kw++) {
                float wv = w[kh * s->KW + kw];
                int off = kw - s->PW, lo, hi;
                nn_conv_valid_range(s->OW, s->W, s->SW, off, &lo, &hi);
                for (int ow = lo; ow < hi; ow++) orow[ow] += wv * xrow[ow * s->SW + off];
            }
        }
    }
}

/* ------------------------------------------------- AVX-512 forward kernels */
#ifdef __AVX512F__
#include <immintrin.h>

/* Forward kernels reading the NCHW input in place with masked 16-float
 * loads: lanes whose input lies in the padding are masked off (masked loads
 * do not fault), so there is no copy, no border branch and no transpose.
 * - flat: stride 1 with OH == H and OW == W ("same" padding). The plane is
 *   one flat run of P floats and tap (kh, kw) reads it at the constant offset
 *   (kh-PH)*W + kw-PW from the output index; a lane is valid when its column
 *   stays inside the row (a per-chunk mask, periodic in W) and its flat input
 *   index inside [0, P). 16 output pixels per vector whatever the row width.
 * - rows: column stride 1 or 2, any row stride and padding: 16 outputs of one
 *   row per vector; stride 2 loads 32 input floats and keeps the even ones.
 *   Stride 1 in both axes computes RB output rows at once, each input row
 *   load feeding all the block's rows that use it (plane_rows1_body); it
 *   also takes "same" planes with rows up to AVX_MAX_BLOCKED_ROW wide.
 * Each output is summed by one thread in tap order: thread-count independent. */
#define AVX_MAX_PERIOD 128 /* row-mask period (W / gcd(W,16)) the flat kernel holds */
#define AVX_MAX_KW     16  /* kernel widths the AVX kernels handle                  */
#define AVX_MAX_CHUNKS 64  /* 16-column chunks per output row, rows kernel          */
#define AVX_MIN_FLAT_P 64  /* output planes from this size take the flat kernel     */
#define AVX_MIN_ROW    14  /* output rows from this width take the rows kernel      */
#define AVX_MAX_BLOCKED_ROW 32 /* stride-1 rows up to this width: rows, not flat     */
#define FLAT_PAD_MAX   2048 /* floats of the flat kernel's zero-bordered plane copy */
/* Below these sizes most lanes or taps are wasted and the channel-vectorized
 * kernels of nn_conv_dw_small.c win (measured: 2x-10x on 7x7 5x5, 4x4, 2x2,
 * 1x1 planes, and on stride-2 planes narrower than 14). */

static inline unsigned bits16(int lo, int hi) /* lanes [lo, hi) of 16 */
{
    if (lo < 0) lo = 0;
    if (hi > 16) hi = 16;
    if (hi <= lo) return 0;
    return ((1u << hi) - 1u) & ~((1u << lo) - 1u);
}

static inline unsigned long long bits32(int lo, int hi) /* lanes [lo, hi) of 32 */
{
    if (lo < 0) lo = 0;
    if (hi > 32) hi = 32;
    if (hi <= lo) return 0;
    return ((1ull << hi) - 1ull) & ~((1ull << lo) - 1ull);
}

static int flat_period(int W)
{
    int a = W, b = 16;
    while (b) {
        int t = a % b;
        a = b, b = t;
    }
    return W / a;
}

static int avx_flat_fits(const nn_conv_plan *s)
{
    return s->SH == 1 && s->SW == 1 && s->OH == s->H && s->OW == s->W && s->P >= AVX_MIN_FLAT_P &&
           s->KW <= AVX_MAX_KW &&
           s->KH * s->KW <= DW_MAX_TAPS && flat_period(s->W) <= AVX_MAX_PERIOD;
}

static int avx_rows_fits(const nn_conv_plan *s)
{
    return (s->SW == 1 || s->SW == 2) && s->OW >= AVX_MIN_ROW && s->KW <= AVX_MAX_KW &&
           s->KH * s->KW <= DW_MAX_TAPS &&
           (s->OW + 15) / 16 <= AVX_MAX_CHUNKS;
}

/* o (P) = b + taps of x (P) through w (KH,KW); colmask[q*KW + kw]: lanes of
 * chunk q (mod period) whose column plus kw - PW stays in the row. */
static inline __attribute__((always_inline)) void
plane_flat_body(float *o, const float *x, const float *w, float b, const nn_conv_plan *s,
                const unsigned short *colmask, int period, const int *off, int minoff,
                int maxoff, const int padded, const int KH, const int KW)
{
    const int P = s->P;
    int q = 0;
    for (int p0 = 0; p0 < P; p0 += 16, q = q + 1 == period ? 0 : q + 1) {
        const unsigned short *cm = colmask + (size_t)q * KW;
        __m512 acc = _mm512_set1_ps(b);
        if (padded || (p0 + minoff >= 0 && p0 + 16 + maxoff <= P)) {
            for (int kh = 0; kh < KH; kh++) {
                const float *xr = x + p0 + off[kh * KW];
                const float *wr = w + kh * KW;
                for (int kw = 0; kw < KW; kw++) {
                    /* the whole vector lies in the plane: plain load, masked sum */
                    __m512 v = _mm512_loadu_ps(xr + kw);
                    acc = _mm512_mask3_fmadd_ps(v, _mm512_set1_ps(wr[kw]), acc,
                                                (__mmask16)cm[kw]);
                }
            }
        } else {
            for (int kh = 0; kh < KH; kh++) {
                const int a0 = p0 + off[kh * KW];
                const float *wr = w + kh * KW;
                for (int kw = 0; kw < KW; kw++) {
                    const int a = a0 + kw;
                    const unsigned m = cm[kw] & bits16(-a, P - a);
                    __m512 v = _mm512_maskz_loadu_ps((__mmask16)m, x + a);
                    acc = _mm512_fmadd_ps(v, _mm512_set1_ps(wr[kw]), acc);
                }
            }
        }
        if (p0 + 16 <= P) {
            _mm512_storeu_ps(o + p0, acc);
        } else {
            _mm512_mask_storeu_ps(o + p0, (__mmask16)bits16(0, P - p0), acc);
        }
    }
}

/* plane_flat_body with the common kernel sizes as constants (unrolled taps).
 * A plane that fits FLAT_PAD_MAX floats with its borders (-minoff zeros
 * before, maxoff + 16 after) is copied between zeros first: every chunk
 * then loads unmasked, where on small planes most chunks would touch the
 * plane's ends and take the masked path (1.4-2x on 8x8 to 12x12 planes). */
static void plane_flat_avx(float *o, const float *x, const float *w, float b,
                           const nn_conv_plan *s, const unsigned short *colmask, int period,
                           const int *off, int minoff, int maxoff)
{
    float pad[FLAT_PAD_MAX];
    const int padded = s->P - minoff + maxoff + 16 <= FLAT_PAD_MAX;
    if (padded) {
        memset(pad, 0, (size_t)-minoff * sizeof *pad);
        memcpy(pad - minoff, x, (size_t)s->P * sizeof *x);
        memset(pad - minoff + s->P, 0, (size_t)(maxoff + 16) * sizeof *pad);
        x = pad - minoff;
    }
    /* padded as a constant too: a run-time test in the chunk loop costs
     * large unpadded planes 5-10% */
#define FLAT_CASE(PADDED, KH, KW) \
    plane_flat_body(o, x, w, b, s, colmask, period, off, minoff, maxoff, PADDED, KH, KW)
    if (s->KH == 3 && s->KW == 3) {
        if (padded) FLAT_CASE(1, 3, 3); else FLAT_CASE(0, 3, 3);
    } else if (s->KH == 5 && s->KW == 5) {
        if (padded) FLAT_CASE(1, 5, 5); else FLAT_CASE(0, 5, 5);
    } else {
        FLAT_CASE(padded, s->KH, s->KW);
    }
#undef FLAT_CASE
}

/* o (OH,OW) = b + taps of x (H,W) through w (KH,KW), column stride 1 or 2.
 * m[c*KW + kw]: lanes (32 at stride 2) of column chunk c valid for tap kw. */
static inline __attribute__((always_inline)) void
plane_rows_body(float *o, const float *x, const float *w, float b, const nn_conv_plan *s,
                const unsigned long long *m, const int KH, const int KW, const int SW)
{
    const int nch = (s->OW + 15) / 16;
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    for (int oh = 0; oh < s->OH; oh++) {
        int kh_lo = s->PH - oh * s->SH, kh_hi = s->H + s->PH - oh * s->SH;
        if (kh_lo < 0) kh_lo = 0;
        if (kh_hi > KH) kh_hi = KH;
        float *orow = o + (size_t)oh * s->OW;
        for (int c = 0; c < nch; c++) {
            const int ow0 = c * 16;
            __m512 acc = _mm512_set1_ps(b);
            for (int kh = kh_lo; kh < kh_hi; kh++) {
                const float *xrow = x + (size_t)(oh * s->SH - s->PH + kh) * s->W;
                for (int kw = 0; kw < KW; kw++) {
                    const unsigned long long mk = m[c * KW + kw];
                    const float *src = xrow + ow0 * SW - s->PW + kw;
                    __m512 v;
                    if (SW == 1) {
                        v = _mm512_maskz_loadu_ps((__mmask16)mk, src);
                    } else {
                        __m512 lo = _mm512_maskz_loadu_ps((__mmask16)(mk & 0xffff), src);
                        __m512 hi = _mm512_maskz_loadu_ps((__mmask16)(mk >> 16), src + 16);
                        v = _mm512_permutex2var_ps(lo, even, hi);
                    }
                    acc = _mm512_fmadd_ps(v, _mm512_set1_ps(w[kh * KW + kw]), acc);
                }
            }
            if (ow0 + 16 <= s->OW) {
                _mm512_storeu_ps(orow + ow0, acc);
            } else {
                _mm512_mask_storeu_ps(orow + ow0, (__mmask16)bits16(0, s->OW - ow0), acc);
            }
        }
    }
}

/* Row stride SH and column stride SW of 1 or 2, blocks of RB output rows:
 * each input row load (column chunk, tap column kw; 32 floats keeping the
 * even ones at column stride 2) feeds the up to ceil(KH/SH) output rows of
 * the block that use it, with the weight as a broadcast operand, instead of
 * one load per tap and output vector. Each output still sums its taps in
 * (kh, kw) order (the loads go by input row, then kw, and input row i of the
 * block feeds output row r through kh = i - r*SH, increasing with i): the
 * sums of plane_rows_body, thread-count independent. Rows of the last block
 * past OH are computed and dropped (input rows past H are skipped). */
#define RB 4
static inline __attribute__((always_inline)) void
plane_rowsb_body(float *o, const float *x, const float *w, float b, const nn_conv_plan *s,
                 const unsigned long long *m, const int KH, const int KW, const int SH,
                 const int SW)
{
    const int nch = (s->OW + 15) / 16;
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    /* the plane's weights broadcast once: with KH, KW constants they stay in
     * registers, and the multiply-adds take no broadcast load each */
    __m512 wv[DW_MAX_TAPS];
#pragma GCC unroll 64
    for (int t = 0; t < KH * KW; t++) wv[t] = _mm512_set1_ps(w[t]);
    for (int oh0 = 0; oh0 < s->OH; oh0 += RB) {
        const int nr = s->OH - oh0 < RB ? s->OH - oh0 : RB;
        for (int c = 0; c < nch; c++) {
            const int ow0 = c * 16;
            __m512 acc[RB];
#pragma GCC unroll 8
            for (int r = 0; r < RB; r++) acc[r] = _mm512_set1_ps(b);
            /* input rows oh0*SH - PH + i, i in [0, (RB-1)*SH + KH) */
#pragma GCC unroll 16
            for (int i = 0; i < (RB - 1) * SH + KH; i++) {
                const int ih = oh0 * SH - s->PH + i;
                if (ih < 0 || ih >= s->H) continue;
                const float *src = x + (size_t)ih * s->W + ow0 * SW - s->PW;
#pragma GCC unroll 16
                for (int kw = 0; kw < KW; kw++) {
                    const unsigned long long mk = m[c * KW + kw];
                    __m512 v;
                    if (SW == 1) {
                        v = _mm512_maskz_loadu_ps((__mmask16)mk, src + kw);
                    } else {
                        __m512 lo = _mm512_maskz_loadu_ps((__mmask16)(mk & 0xffff), src + kw);
                        __m512 hi = _mm512_maskz_loadu_ps((__mmask16)(mk >> 16), src + kw + 16);
                        v = _mm512_permutex2var_ps(lo, even, hi);
                    }
#pragma GCC unroll 8
                    for (int r = 0; r < RB; r++) {
                        const int kh = i - r * SH;
                        if (kh < 0 || kh >= KH) continue;
                        acc[r] = _mm512_fmadd_ps(v, wv[kh * KW + kw], acc[r]);
                    }
                }
            }
            const __mmask16 sm = (__mmask16)bits16(0, s->OW - ow0);
            for (int r = 0; r < nr; r++)
                _mm512_mask_storeu_ps(o + (size_t)(oh0 + r) * s->OW + ow0, sm, acc[r]);
        }
    }
}

static void plane_rows_avx(float *o, const float *x, const float *w, float b,
                           const nn_conv_plan *s, const unsigned long long *m)
{
    if (s->SH == 1 && s->SW == 1 && s->KH == 3 && s->KW == 3) {
        plane_rowsb_body(o, x, w, b, s, m, 3, 3, 1, 1);
    } else if (s->SH == 1 && s->SW == 1 && s->KH == 5 && s->KW == 5) {
        plane_rowsb_body(o, x, w, b, s, m, 5, 5, 1, 1);
    } else if (s->SH == 1 && s->SW == 1) {
        plane_rowsb_body(o, x, w, b, s, m, s->KH, s->KW, 1, 1);
    } else if (s->SH == 2 && s->SW == 2 && s->KH == 3 && s->KW == 3) {
        plane_rowsb_body(o, x, w, b, s, m, 3, 3, 2, 2);
    } else if (s->SH == 2 && s->SW == 2 && s->KH == 5 && s->KW == 5) {
        plane_rowsb_body(o, x, w, b, s, m, 5, 5, 2, 2);
    } else if (s->SH == 2 && s->SW == 2) {
        plane_rowsb_body(o, x, w, b, s, m, s->KH, s->KW, 2, 2);
    } else {
        plane_rows_body(o, x, w, b, s, m, s->KH, s->KW, s->SW);
    }
}

/* What the AVX-512 kernels need of one plan: which kernel, and its masks
 * and tap offsets (dw_avx_setup). */
typedef struct {
    int flat;                                          /* flat, else rows  */
    int period, minoff, maxoff;                        /* flat kernel      */
    int off[DW_MAX_TAPS];
    unsigned short colmask[AVX_MAX_PERIOD * AVX_MAX_KW];
    unsigned long long rowmask[AVX_MAX_CHUNKS * AVX_MAX_KW]; /* rows kernel */
} dw_avx;

/* Fills *a for plan s; returns 0 when neither kernel takes the shape. */
static int dw_avx_setup(const nn_conv_plan *s, dw_avx *a)
{
    /* stride-1 rows up to AVX_MAX_BLOCKED_ROW wide: the row-blocked kernel
     * beats the flat one (measured 1.3x on 28x28 5x5, 1.15x on 14x14 3x3;
     * 0.85x on 56x56 3x3) */
    a->flat = avx_flat_fits(s) && !(s->SH == 1 && s->OW <= AVX_MAX_BLOCKED_ROW &&
                                    avx_rows_fits(s));
    if (!a->flat && !avx_rows_fits(s)) return 0;
    const int taps = s->KH * s->KW, KW = s->KW;
    a->minoff = a->maxoff = 0, a->period = 1;
    if (a->flat) {
        a->period = flat_period(s->W);
        for (int q = 0; q < a->period; q++)
            for (int kw = 0; kw < KW; kw++) {
                unsigned m = 0;
                for (int j = 0; j < 16; j++) {
                    int col = (q * 16 + j) % s->W + kw - s->PW;
                    if (col >= 0 && col < s->W) m |= 1u << j;
                }
                a->colmask[q * KW + kw] = (unsigned short)m;
            }
        for (int t = 0; t < taps; t++) {
            a->off[t] = (t / KW - s->PH) * s->W + t % KW - s->PW;
            if (a->off[t] < a->minoff) a->minoff = a->off[t];
            if (a->off[t] > a->maxoff) a->maxoff = a->off[t];
        }
    } else {
        for (int c = 0; c * 16 < s->OW; c++)
            for (int kw = 0; kw < KW; kw++) {
                /* lane i of the load reads column ow0*SW - PW + kw + i */
                const int base = c * 16 * s->SW - s->PW + kw;
                const int span = (s->OW - c * 16) * s->SW; /* lanes of live outputs */
                unsigned long long mk = bits32(-base, s->W - base) & bits32(0, span);
                if (s->SW == 1) mk &= 0xffff;
                a->rowmask[c * KW + kw] = mk;
            }
    }
    return 1;
}

/* o (OH,OW) = b + taps of x (H,W) through w (KH,KW), on the kernel of a. */
static void dw_avx_plane(float *o, const float *x, const float *w, float b,
                         const nn_conv_plan *s, const dw_avx *a)
{
    if (a->flat) {
        plane_flat_avx(o, x, w, b, s, a->colmask, a->period, a->off, a->minoff, a->maxoff);
    } else {
        plane_rows_avx(o, x, w, b, s, a->rowmask);
    }
}

/* The forward on the AVX-512 kernels; returns 0 (nothing done) when neither
 * takes the shape. */
static int dw_forward_avx(float *out, const float *inp, const float *weight, const float *bias,
                          const nn_conv_plan *s)
{
    dw_avx a;
    if (!dw_avx_setup(s, &a)) return 0;
    const long planes = (long)s->N * s->C;
    const int taps = s->KH * s->KW;
    const size_t HW = (size_t)s->H * s->W;
#pragma omp parallel for schedule(static) if (planes * s->P * taps > OMP_MIN_WORK)
    for (long t = 0; t < planes; t++) {
        const int c = (int)(t % s->C);
        dw_avx_plane(out + (size_t)t * s->P, inp + (size_t)t * HW, weight + (size_t)c * taps,
                     bias ? bias[c] : 0.0f, s, &a);
    }
    return 1;
}

/* dinp += the full correlation of dout with the flipped kernel (plan full,
 * see dinp_backward) on the AVX-512 kernels: each plane into a stack buffer,
 * then added. Returns 0 (nothing done) when they do not take the shape or
 * the plane is larger than the buffer. */
#define DINP_AVX_MAX_P 4096
static int dinp_backward_avx(float *dinp, const float *dout, const float *weight,
                             const nn_conv_plan *full, const nn_conv_plan *s)
{
    dw_avx a;
    if (full->P > DINP_AVX_MAX_P || !dw_avx_setup(full, &a)) return 0;
    const long planes = (long)s->N * s->C;
    const int taps = s->KH * s->KW;
#pragma omp parallel for schedule(static) if (planes * s->P * taps > OMP_MIN_WORK)
    for (long t = 0; t < planes; t++) {
        const int c = (int)(t % s->C);
        float flipped[DW_MAX_TAPS], plane[DINP_AVX_MAX_P];
        for (int k = 0; k < taps; k++) flipped[k] = weight[(size_t)c * taps + taps - 1 - k];
        dw_avx_plane(plane, dout + (size_t)t * s->P, flipped, 0.0f, full, &a);
        float *dx = dinp + (size_t)t * full->P;
        for (int i = 0; i < full->P; i++) dx[i] += plane[i];
    }
    return 1;
}
#endif

void nn_conv_dw_forward(float *out, const float *inp, const float *weight, const float *bias,
                        const nn_conv_plan *s)
{
#ifdef __AVX512F__
    if (dw_forward_avx(out, inp, weight, bias, s)) return;
#endif
    if (use_small_kernels(s)) {
#ifdef __AVX512F__
        if (nn_conv_dw_lanes_forward(out, inp, weight, bias, s)) return;
#endif
        nn_conv_dw_small_forward(out, inp, weight, bias, s);
        return;
    }
    const dw_bands g = dw_bands_setup(s);
    const long planes = (long)s->N * s->C;
    const int taps = s->KH * s->KW;
#pragma omp parallel if (planes * s->P * taps > OMP_MIN_WORK)
    {
        float buf[DW_BUF]; /* this thread's band buffer */
        if (g.fast) clear_phases(buf, s, &g);
#pragma omp for schedule(static)
        for (long t = 0; t < planes; t++) {
            int c = (int)(t % s->C);
            const float *x = inp + (size_t)t * s->H * s->W; /* (H,W)   */
            const float *w = weight + (size_t)c * taps;      /* (KH,KW) */
            float *o = out + (size_t)t * s->P;               /* (OH,OW) */
            float b = bias ? bias[c] : 0.0f;
            if (g.fast) {
                plane_forward(o, x, w, s->KW, 1, b, 0, s, &g, buf);
            } else {
                plane_forward_generic(o, x, w, b, s);
            }
        }
    }
}

/* ------------------------------------------------------------ backward */

/* dx (H,W) += scatter of dy (OH,OW) through w (KH,KW), any stride. */
static void plane_dinp_generic(float *dx, const float *dy, const float *w, const nn_conv_plan *s)
{
    for (int oh = 0; oh < s->OH; oh++) {
        const float *drow = dy + (size_t)oh * s->OW;
        for (int kh = 0; kh < s->KH; kh++) {
            int ih = oh * s->SH - s->PH + kh;
            if (ih < 0 || ih >= s->H) continue;
            float *xrow = dx + (size_t)ih * s->W;
            for (int kw = 0; kw < s->KW; kw++) {
                float wv = w[kh * s->KW + kw];
                int off = kw - s->PW, lo, hi;
                nn_conv_valid_range(s->OW, s->W, s->SW, off, &lo, &hi);
                for (int ow = lo; ow < hi; ow++) xrow[ow * s->SW + off] += wv * drow[ow];
            }
        }
    }
}

static void dinp_backward(float *dinp, const float *dout, const float *weight, const nn_conv_plan *s)
{
    /* stride 1: dinp = correlation of dout with the flipped kernel, padding K-1-P */
    nn_conv_plan full = *s;
    full.H = s->OH, full.W = s->OW, full.OH = s->H, full.OW = s->W;
    full.PH = s->KH - 1 - s->PH, full.PW = s->KW - 1 - s->PW;
    full.P = s->H * s->W;
    int flipped = s->SH == 1 && s->SW == 1 && full.PH >= 0 && full.PW >= 0;
#ifdef __AVX512F__
    if (flipped && dinp_backward_avx(dinp, dout, weight, &full, s)) return;
#endif
    const dw_bands g = flipped ? dw_bands_setup(&full) : (dw_bands){0};
    const long planes = (long)s->N * s->C;
    const int taps = s->KH * s->KW;
#pragma omp parallel if (planes * s->P * taps > OMP_MIN_WORK)
    {
        float buf[DW_BUF]; /* this thread's band buffer */
        if (g.fast) clear_phases(buf, &full, &g);
#pragma omp for schedule(static)
        for (long t = 0; t < planes; t++) {
            int c = (int)(t % s->C);
            float *dx = dinp + (size_t)t * s->H * s->W; /* (H,W)   */
            const float *w = weight + (size_t)c * taps; /* (KH,KW) */
            const float *dy = dout + (size_t)t * s->P;  /* (OH,OW) */
            if (g.fast) {
                plane_forward(dx, dy, w + taps - 1, -s->KW, -1, 0.0f, 1, &full, &g, buf);
            } else {
                plane_dinp_generic(dx, dy, w, s);
            }
        }
    }
}

/* dw (KH,KW) += correlation of one channel's input planes with its dout
 * planes; x: N planes (H,W) x_stride floats apart; dy: N planes (OH,OW)
 * dy_stride floats apart. buf: DW_BUF floats. */
static void channel_dweight(float *dw, const float *x, size_t x_stride, const float *dy,
                            size_t dy_stride, const nn_conv_plan *s, const dw_bands *g, float *buf)
{
    const int taps = s->KH * s->KW;
    double total[DW_MAX_TAPS] = {0};
    float *restrict dflat = band_rows(buf, s, g);
    for (int n = 0; n < s->N; n++) {
        for (int oh0 = 0; oh0 < s->OH; oh0 += g->rows) {
            const int nrows = s->OH - oh0 < g->rows ? s->OH - oh0 : g->rows;
            const int len = (nrows - 1) * g->wq + s->OW;
            fill_band(buf, x + n * x_stride, s, g, oh0, nrows);
            for (int r = 0; r < nrows; r++) {
                float *drow = dflat + (size_t)r * g->wq;
                memcpy(drow, dy + n * dy_stride + (size_t)(oh0 + r) * s->OW, sizeof(float) * s->OW);
                for (int i = s->OW; i < g->wq && r + 1 < nrows; i++) drow[i] = 0.0f;
            }
            for (int kh = 0; kh < s->KH; kh++) {
                for (int kw = 0; kw < s->KW; kw++) {
                    const float *restrict src = buf + tap_offset(s, g, kh, kw);
                    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
                    for (int i = 0; i < len; i++) sum += dflat[i] * src[i];
                    total[kh * s->KW + kw] += sum;
                }
            }
        }
    }
    for (int t = 0; t < taps; t++) dw[t] += (float)total[t];
}

/* Generic dweight of one channel, same layouts as channel_dweight. */
static void channel_dweight_generic(float *dw, const float *x, size_t x_stride, const float *dy,
                                    size_t dy_stride, const nn_conv_plan *s)
{
    for (int kh = 0; kh < s->KH; kh++) {
        for (int kw = 0; kw < s->KW; kw++) {
            int off = kw - s->PW, lo, hi;
            nn_conv_valid_range(s->OW, s->W, s->SW, off, &lo, &hi);
            double acc = 0.0;
            for (int n = 0; n < s->N; n++) {
                for (int oh = 0; oh < s->OH; oh++) {
                    int ih = oh * s->SH - s->PH + kh;
                    if (ih < 0 || ih >= s->H) continue;
                    const float *xrow = x + n * x_stride + (size_t)ih * s->W;
                    const float *drow = dy + n * dy_stride + (size_t)oh * s->OW;
                    float row = 0.0f;
                    for (int ow = lo; ow < hi; ow++) row += drow[ow] * xrow[ow * s->SW + off];
                    acc += row;
                }
            }
            dw[kh * s->KW + kw] += (float)acc;
        }
    }
}

void nn_conv_dw_backward(float *dinp, float *dweight, const float *dout, const float *inp,
                         const float *weight, const nn_conv_plan *s)
{
    if (use_small_kernels(s)) {
        nn_conv_dw_small_backward(dinp, dweight, dout, inp, weight, s);
        return;
    }
    if (dinp) dinp_backward(dinp, dout, weight, s);
    if (!dweight) return;
    const dw_bands g = dw_bands_setup(s);
    const int taps = s->KH * s->KW;
    const size_t HW = (size_t)s->H * s->W;
#pragma omp parallel if ((long)s->N * s->C * s->P * taps > OMP_MIN_WORK)
    {
        float buf[DW_BUF]; /* this thread's band buffer */
        if (g.fast) clear_phases(buf, s, &g);
#pragma omp for schedule(static)
        for (int c = 0; c < s->C; c++) {
            const float *x = inp + (size_t)c * HW;     /* N planes (H,W), C*HW apart   */
            const float *dy = dout + (size_t)c * s->P; /* N planes (OH,OW), C*P apart */
            float *dw = dweight + (size_t)c * taps;    /* (KH,KW)                     */
            if (g.fast) {
                channel_dweight(dw, x, (size_t)s->C * HW, dy, (size_t)s->C * s->P, s, &g, buf);
            } else {
                channel_dweight_generic(dw, x, (size_t)s->C * HW, dy, (size_t)s->C * s->P, s);
            }
        }
    }
}
