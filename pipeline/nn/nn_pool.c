/* nn_pool.c: max pooling (with argmax for the backward pass), average pooling
 * and global average pooling, forward and backward, plus naive references.
 *
 * Semantics follow PyTorch's CPU kernels exactly:
 * - a window starts at oh*sh - ph; max pooling treats padding as -inf, so only
 *   the part of the window inside the input takes part; the argmax starts at
 *   the window's first in-input element and moves on a strictly greater value
 *   (or a NaN);
 * - average pooling computes pool_size from the window clipped to the PADDED
 *   input (hend = min(hstart + kh, H + ph)) before clipping it to the input;
 *   the divisor is pool_size when count_include_pad, else the clipped count;
 *   a window with nothing inside the input gives 0.
 * Padding must be at most half the kernel (PyTorch's rule), which also keeps
 * every max-pool window non-empty.
 *
 * Every kernel is parallel over the N*C planes, each plane handled by one
 * thread in a fixed order, so results do not depend on the thread count. */
#include "nn_pool.h"

#include <math.h>

#include "pl_err.h"

/* Below this many multiply-adds a kernel runs on one thread. */
#define POOL_PAR_MIN_WORK 16384L
/* Output rows from this width are pooled a whole row at a time, tap by tap
 * (max pooling measured 3x faster on 17x17 outputs, 7x on 56x56, 2x slower
 * on 3x3). */
#define POOL_ROW_MIN 8

/* One window's extent along one axis. */
typedef struct {
    int start;     /* first input index inside the input             */
    int end;       /* one past the last input index inside the input */
    int pool_size; /* extent clipped to the padded input only        */
} window_span;

static inline window_span span_of(int out_index, int stride, int pad, int k, int in)
{
    window_span s;
    int start = out_index * stride - pad;
    int end = start + k < in + pad ? start + k : in + pad;
    s.pool_size = end - start;
    s.start = start > 0 ? start : 0;
    s.end = end < in ? end : in;
    return s;
}

/* [*lo, *hi): the outputs of a row whose kernel column kw reads an input
 * column, ow*SW - PW + kw in [0, W), among OW. */
static inline void tap_outputs(int kw, int SW, int PW, int W, int OW, int *lo, int *hi)
{
    const int first = PW - kw, last = W - 1 + PW - kw;
    *lo = first > 0 ? (first + SW - 1) / SW : 0;
    const int end = last >= 0 ? last / SW + 1 : 0;
    *hi = end < OW ? end : OW;
}

static void check_params(const nn_pool_params *p)
{
    PL_ASSERT(p->kh >= 1 && p->kw >= 1 && p->sh >= 1 && p->sw >= 1);
    PL_ASSERT(p->ph >= 0 && p->pw >= 0 && 2 * p->ph <= p->kh && 2 * p->pw <= p->kw);
}

/* out_plane, arg_plane (OH,OW) = the maxima of in_plane (H,W) and their
 * indices, one window at a time (rows narrower than POOL_ROW_MIN, where
 * the row kernel below spends more on its set-up than it saves). */
static void maxpool_plane_windows(float *out_plane, int32_t *arg_plane, const float *in_plane,
                                  int H, int W, int OH, int OW, const nn_pool_params *p)
{
    for (int oh = 0; oh < OH; oh++) {
        const window_span hs = span_of(oh, p->sh, p->ph, p->kh, H);
        for (int ow = 0; ow < OW; ow++) {
            const window_span ws = span_of(ow, p->sw, p->pw, p->kw, W);
            int best_index = hs.start * W + ws.start;
            float best = -INFINITY;
            for (int ih = hs.start; ih < hs.end; ih++) {
                const float *row = in_plane + (long)ih * W;
                for (int iw = ws.start; iw < ws.end; iw++) {
                    const float v = row[iw];
                    if (v > best || isnan(v)) {
                        best = v;
                        best_index = ih * W + iw;
                    }
                }
            }
            out_plane[oh * OW + ow] = best;
            arg_plane[oh * OW + ow] = best_index;
        }
    }
}

/* The same, a whole output row at a time, tap by tap: for each input row of
 * the window and each kernel column, every output of the row whose tap
 * lies inside the input takes the value when it is strictly greater (or a
 * NaN). Each output still sees its taps in window order, so the maximum
 * and argmax are the scalar scan's; the loop over the row has no
 * data-dependent branch and vectorises (a branch per tap mispredicted on
 * most windows: 37 ns per output on ResNet18's stem pool). */
static void maxpool_plane_rows(float *out_plane, int32_t *arg_plane, const float *in_plane,
                               int H, int W, int OH, int OW, const nn_pool_params *p)
{
    const int SW = p->sw, PW = p->pw;
    for (int oh = 0; oh < OH; oh++) {
        const window_span hs = span_of(oh, p->sh, p->ph, p->kh, H);
        float *o = out_plane + (long)oh * OW;
        int32_t *a = arg_plane + (long)oh * OW;
        for (int ow = 0; ow < OW; ow++) {
            const int start = ow * SW - PW;
            o[ow] = -INFINITY;
            a[ow] = hs.start * W + (start > 0 ? start : 0);
        }
        for (int ih = hs.start; ih < hs.end; ih++) {
            const float *row = in_plane + (long)ih * W;
            for (int kw = 0; kw < p->kw; kw++) {
                int lo, hi;
                tap_outputs(kw, SW, PW, W, OW, &lo, &hi);
                const int32_t base = ih * W + kw - PW;
                for (int ow = lo; ow < hi; ow++) {
                    const float v = row[ow * SW + kw - PW];
                    const int take = (v > o[ow]) | (v != v); /* a NaN wins, as in PyTorch */
                    o[ow] = take ? v : o[ow];
                    a[ow] = take ? base + ow * SW : a[ow];
                }
            }
        }
    }
}

void nn_maxpool_forward(float *out, int32_t *argmax, const float *inp,
                        int N, int C, int H, int W, const nn_pool_params *p)
{
    check_params(p);
    const int OH = nn_window_out(H, p->kh, p->sh, p->ph, p->ceil_mode);
    const int OW = nn_window_out(W, p->kw, p->sw, p->pw, p->ceil_mode);
    PL_ASSERT(OH > 0 && OW > 0);
    const long planes = (long)N * C;
    const long work = planes * OH * OW * p->kh * p->kw;

#pragma omp parallel for schedule(static) if (work >= POOL_PAR_MIN_WORK)
    for (long plane = 0; plane < planes; plane++) {
        float *o = out + plane * OH * OW;     /* (OH,OW) */
        int32_t *a = argmax + plane * OH * OW; /* (OH,OW) */
        const float *x = inp + plane * H * W; /* (H,W)   */
        if (OW >= POOL_ROW_MIN) maxpool_plane_rows(o, a, x, H, W, OH, OW, p);
        else maxpool_plane_windows(o, a, x, H, W, OH, OW, p);
    }
}

void nn_maxpool_backward(float *dinp, const float *dout, const int32_t *argmax,
                         int N, int C, int H, int W, int OH, int OW)
{
    const long planes = (long)N * C;
    const long out_plane_size = (long)OH * OW;
    const long work = planes * out_plane_size;

#pragma omp parallel for schedule(static) if (work >= POOL_PAR_MIN_WORK)
    for (long plane = 0; plane < planes; plane++) {
        float *din_plane = dinp + plane * H * W;                 /* (H,W)   */
        const float *dout_plane = dout + plane * out_plane_size; /* (OH,OW) */
        const int32_t *arg_plane = argmax + plane * out_plane_size;
        for (long o = 0; o < out_plane_size; o++) {
            din_plane[arg_plane[o]] += dout_plane[o];
        }
    }
}

/* Average pooling works a row of windows at a time: the window's input rows
 * are summed into a row (vectorised, W wide), then each output sums its kw
 * columns of it, so an output costs about kh + kw additions instead of
 * kh * kw scalar steps. The backward pass mirrors it: the shares of a row of
 * outputs are spread along a row, which is then added to each input row of
 * the window. */
/* The divisor of output (hs, ws): PyTorch's pool_size, or the clipped count. */
static inline int avg_divisor(const nn_pool_params *p, window_span hs, window_span ws)
{
    return p->count_include_pad ? hs.pool_size * ws.pool_size
                                : (hs.end - hs.start) * (ws.end - ws.start);
}

/* out_plane (OH,OW) = the averages of in_plane (H,W); cols: the OW column
 * windows; row: W floats. */
static void avgpool_plane(float *out_plane, const float *in_plane, int H, int W, int OH, int OW,
                          const nn_pool_params *p, const window_span *cols, float *row)
{
    for (int oh = 0; oh < OH; oh++) {
        const window_span hs = span_of(oh, p->sh, p->ph, p->kh, H);
        for (int iw = 0; iw < W; iw++) row[iw] = 0.0f;
        for (int ih = hs.start; ih < hs.end; ih++) {
            const float *in_row = in_plane + (long)ih * W;
            for (int iw = 0; iw < W; iw++) row[iw] += in_row[iw];
        }
        float *out_row = out_plane + (long)oh * OW;
        if (OW >= POOL_ROW_MIN) {
            /* the whole row tap by tap (each output still adds its columns
             * in order), then the divisions: loops without branches */
            for (int ow = 0; ow < OW; ow++) out_row[ow] = 0.0f;
            for (int kw = 0; kw < p->kw; kw++) {
                int lo, hi;
                tap_outputs(kw, p->sw, p->pw, W, OW, &lo, &hi);
                const float *src = row + kw - p->pw;
                for (int ow = lo; ow < hi; ow++) out_row[ow] += src[ow * p->sw];
            }
            for (int ow = 0; ow < OW; ow++) {
                const window_span ws = cols[ow];
                const int empty = hs.start >= hs.end || ws.start >= ws.end;
                out_row[ow] = empty ? 0.0f : out_row[ow] / (float)avg_divisor(p, hs, ws);
            }
            continue;
        }
        for (int ow = 0; ow < OW; ow++) {
            const window_span ws = cols[ow];
            if (hs.start >= hs.end || ws.start >= ws.end) {
                out_row[ow] = 0.0f;
                continue;
            }
            float sum = 0.0f;
            for (int iw = ws.start; iw < ws.end; iw++) sum += row[iw];
            out_row[ow] = sum / (float)avg_divisor(p, hs, ws);
        }
    }
}

/* din_plane (H,W) += the shares of dout_plane (OH,OW); cols: the OW column
 * windows; row: W floats. */
static void avgpool_plane_backward(float *din_plane, const float *dout_plane, int H, int W,
                                   int OH, int OW, const nn_pool_params *p,
                                   const window_span *cols, float *row)
{
    for (int oh = 0; oh < OH; oh++) {
        const window_span hs = span_of(oh, p->sh, p->ph, p->kh, H);
        if (hs.start >= hs.end) continue;
        for (int iw = 0; iw < W; iw++) row[iw] = 0.0f;
        const float *dout_row = dout_plane + (long)oh * OW;
        for (int ow = 0; ow < OW; ow++) {
            const window_span ws = cols[ow];
            if (ws.start >= ws.end) continue;
            const float share = dout_row[ow] / (float)avg_divisor(p, hs, ws);
            for (int iw = ws.start; iw < ws.end; iw++) row[iw] += share;
        }
        for (int ih = hs.start; ih < hs.end; ih++) {
            float *din_row = din_plane + (long)ih * W;
            for (int iw = 0; iw < W; iw++) din_row[iw] += row[iw];
        }
    }
}

/* The output size, the column windows of every output column (shared by
 * all planes) and the work of average pooling; checks the parameters. */
static long avgpool_setup(int N, int C, int H, int W, const nn_pool_params *p, int *OH,
                          int *OW, window_span *cols)
{
    check_params(p);
    *OH = nn_window_out(H, p->kh, p->sh, p->ph, p->ceil_mode);
    *OW = nn_window_out(W, p->kw, p->sw, p->pw, p->ceil_mode);
    PL_ASSERT(*OH > 0 && *OW > 0);
    PL_ASSERT(W <= NN_AVGPOOL_MAX_W && *OW <= NN_AVGPOOL_MAX_W + 1);
    for (int ow = 0; ow < *OW; ow++) cols[ow] = span_of(ow, p->sw, p->pw, p->kw, W);
    return (long)N * C * *OH * *OW * p->kh * p->kw;
}

void nn_avgpool_forward(float *out, const float *inp, int N, int C, int H, int W,
                        const nn_pool_params *p)
{
    int OH, OW;
    window_span cols[NN_AVGPOOL_MAX_W + 1];
    const long work = avgpool_setup(N, C, H, W, p, &OH, &OW, cols);
    const long planes = (long)N * C;

#pragma omp parallel if (work >= POOL_PAR_MIN_WORK)
    {
        float row[NN_AVGPOOL_MAX_W];
#pragma omp for schedule(static)
        for (long plane = 0; plane < planes; plane++)
            avgpool_plane(out + plane * OH * OW, inp + plane * H * W, H, W, OH, OW, p, cols, row);
    }
}

void nn_avgpool_backward(float *dinp, const float *dout, int N, int C, int H, int W,
                         const nn_pool_params *p)
{
    int OH, OW;
    window_span cols[NN_AVGPOOL_MAX_W + 1];
    const long work = avgpool_setup(N, C, H, W, p, &OH, &OW, cols);
    const long planes = (long)N * C;

#pragma omp parallel if (work >= POOL_PAR_MIN_WORK)
    {
        float row[NN_AVGPOOL_MAX_W];
#pragma omp for schedule(static)
        for (long plane = 0; plane < planes; plane++)
            avgpool_plane_backward(dinp + plane * H * W, dout + plane * OH * OW, H, W, OH, OW, p,
                                   cols, row);
    }
}

void nn_global_avgpool_forward(float *out, const float *inp, int N, int C, int HW)
{
    const long planes = (long)N * C;
    const long work = planes * HW;

#pragma omp parallel for schedule(static) if (work >= POOL_PAR_MIN_WORK)
    for (long plane = 0; plane < planes; plane++) {
        const float *in_plane = inp + plane * HW; /* (HW) */
        double sum = 0.0;
        for (int i = 0; i < HW; i++) sum += in_plane[i];
        out[plane] = (float)(sum / HW);
    }
}

void nn_global_avgpool_backward(float *dinp, const float *dout, int N, int C, int HW)
{
    const long planes = (long)N * C;
    const long work = planes * HW;

#pragma omp parallel for schedule(static) if (work >= POOL_PAR_MIN_WORK)
    for (long plane = 0; plane < planes; plane++) {
        float *din_plane = dinp + plane * HW; /* (HW) */
        const float share = (float)((double)dout[plane] / HW);
        for (int i = 0; i < HW; i++) din_plane[i] += share;
    }
}

/* ---- Naive references: every tap of the full kh x kw window is visited and
 * classified as inside the input, inside the padding, or beyond the padded
 * input (only possible in ceil mode). ---- */

void nn_maxpool_forward_ref(float *out, const float *inp, int N, int C, int H, int W,
                            const nn_pool_params *p)
{
    check_params(p);
    const int OH = nn_window_out(H, p->kh, p->sh, p->ph, p->ceil_mode);
    const int OW = nn_window_out(W, p->kw, p->sw, p->pw, p->ceil_mode);
    for (int n = 0; n < N; n++) {
        for (int c = 0; c < C; c++) {
            const float *in_plane = inp + ((long)n * C + c) * H * W;
            float *out_plane = out + ((long)n * C + c) * OH * OW;
            for (int oh = 0; oh < OH; oh++) {
                for (int ow = 0; ow < OW; ow++) {
                    float best = -INFINITY;
                    for (int dh = 0; dh < p->kh; dh++) {
                        for (int dw = 0; dw < p->kw; dw++) {
                            const int ih = oh * p->sh - p->ph + dh;
                            const int iw = ow * p->sw - p->pw + dw;
                            const int inside = ih >= 0 && ih < H && iw >= 0 && iw < W;
                            const float v = inside ? in_plane[ih * W + iw] : -INFINITY;
                            if (v > best) best = v;
                        }
                    }
                    out_plane[oh * OW + ow] = best;
                }
            }
        }
    }
}

void nn_avgpool_forward_ref(float *out, const float *inp, int N, int C, int H, int W,
                            const nn_pool_params *p)
{
    check_params(p);
    const int OH = nn_window_out(H, p->kh, p->sh, p->ph, p->ceil_mode);
    const int OW = nn_window_out(W, p->kw, p->sw, p->pw, p->ceil_mode);
    for (int n = 0; n < N; n++) {
        for (int c = 0; c < C; c++) {
            const float *in_plane = inp + ((long)n * C + c) * H * W;
            float *out_plane = out + ((long)n * C + c) * OH * OW;
            for (int oh = 0; oh < OH; oh++) {
                for (int ow = 0; ow < OW; ow++) {
                    double sum = 0.0;
                    int taps_in_input = 0, taps_in_padded = 0;
                    for (int dh = 0; dh < p->kh; dh++) {
                        for (int dw = 0; dw < p->kw; dw++) {
                            const int ih = oh * p->sh - p->ph + dh;
                            const int iw = ow * p->sw - p->pw + dw;
                            if (ih < H + p->ph && iw < W + p->pw) taps_in_padded++;
                            if (ih >= 0 && ih < H && iw >= 0 && iw < W) {
                                taps_in_input++;
                                sum += in_plane[ih * W + iw];
                            }
                        }
                    }
                    const int divisor = p->count_include_pad ? taps_in_padded : taps_in_input;
                    out_plane[oh * OW + ow] = taps_in_input ? (float)(sum / divisor) : 0.0f;
                }
            }
        }
    }
}
