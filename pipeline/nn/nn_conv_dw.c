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
 *   padding K-1-P (a full correlation), accumulating; other strides scatter.
 * - dweight: parallel over channels.
 * Every output float is summed by one thread in a fixed order, so results do
 * not depend on the thread count. Small output planes (up to DW_SMALL_MAX_P
 * pixels) go to the channel-vectorized kernels of nn_conv_dw_small.c instead.
 * Shapes neither buffer can hold (very wide rows, more than DW_MAX_TAPS taps,
 * stride > DW_MAX_STRIDE on a large plane) take plain generic loops. */
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

void nn_conv_dw_forward(float *out, const float *inp, const float *weight, const float *bias,
                        const nn_conv_plan *s)
{
    if (use_small_kernels(s)) {
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
