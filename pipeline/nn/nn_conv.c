/* nn_conv.c: fast 2-D convolution, forward and backward.
 *
 * Three paths, chosen by conv_plan():
 * - depthwise (groups == C == OC): a direct kernel, one OpenMP task per
 *   (image, channel) plane; for each output row and kernel tap it adds
 *   w * (input row slice) over the tap's valid output columns, a loop gcc
 *   vectorizes. Its backward is parallel over planes (dinp) and channels
 *   (dweight), so it is deterministic whatever the thread count.
 * - pointwise (1x1, stride 1, no padding): sgemm straight on the NCHW input,
 *   no copy and no workspace.
 * - im2col: the (Cg*KH*KW, OH*OW) column matrix of each image and group, then
 *   one sgemm. When the output plane is small and N > 1, several images share
 *   one column matrix (K, nb*OH*OW) so sgemm sees a wide N dimension; the
 *   product goes to the workspace and is scattered to NCHW.
 * Backward of the im2col path: dweight += dout * col^T (beta = 1), and
 * dinp += col2im(W^T * dout). col2im is parallel over input planes, so each
 * float of dinp is summed by one thread in a fixed order. */
#include "nn_conv.h"

#include "pl_err.h"

#include <cblas.h>
#include <string.h>

#define BATCH_MAX_PLANE 256  /* OH*OW below which images share a column matrix */
#define BATCH_COLUMNS   1024 /* target column count of a shared column matrix  */
#ifndef OMP_MIN_WORK
#define OMP_MIN_WORK    32768 /* floats touched below which loops stay serial  */
#endif
#define DW_TAPS         32   /* kernel widths whose column ranges are cached   */
#define LANES           16   /* independent partial sums in reductions         */

enum { PATH_DEPTHWISE, PATH_POINTWISE, PATH_IM2COL };

typedef struct {
    int N, C, H, W, OC, OH, OW;
    int KH, KW, SH, SW, PH, PW;
    int G, Cg, OCg;   /* groups, input and output channels per group     */
    int K;            /* Cg*KH*KW: rows of the column matrix              */
    int P;            /* OH*OW: columns per image                         */
    int path;
    int batch;        /* images per column matrix (im2col path)           */
} conv_plan_t;

static conv_plan_t conv_plan(int N, int C, int H, int W, int OC, const nn_conv_params *p)
{
    PL_ASSERT(p && p->kh > 0 && p->kw > 0 && p->sh > 0 && p->sw > 0);
    PL_ASSERT(p->ph >= 0 && p->pw >= 0 && p->groups > 0);
    PL_ASSERT(N >= 0 && C > 0 && H > 0 && W > 0 && OC > 0);
    PL_ASSERT(C % p->groups == 0 && OC % p->groups == 0);
    conv_plan_t s;
    s.N = N, s.C = C, s.H = H, s.W = W, s.OC = OC;
    s.KH = p->kh, s.KW = p->kw, s.SH = p->sh, s.SW = p->sw, s.PH = p->ph, s.PW = p->pw;
    s.OH = nn_window_out(H, p->kh, p->sh, p->ph, 0);
    s.OW = nn_window_out(W, p->kw, p->sw, p->pw, 0);
    PL_ASSERT(s.OH > 0 && s.OW > 0);
    s.G = p->groups, s.Cg = C / p->groups, s.OCg = OC / p->groups;
    s.K = s.Cg * s.KH * s.KW;
    s.P = s.OH * s.OW;
    s.batch = 1;
    if (s.G == C && OC == C) {
        s.path = PATH_DEPTHWISE;
    } else if (s.KH == 1 && s.KW == 1 && s.SH == 1 && s.SW == 1 && s.PH == 0 && s.PW == 0) {
        s.path = PATH_POINTWISE;
    } else {
        s.path = PATH_IM2COL;
        if (s.P < BATCH_MAX_PLANE && N > 1) {
            int want = (BATCH_COLUMNS + s.P - 1) / s.P;
            s.batch = want < N ? want : N;
        }
    }
    return s;
}

size_t nn_conv2d_workspace(int N, int C, int H, int W, int OC, const nn_conv_params *p)
{
    conv_plan_t s = conv_plan(N, C, H, W, OC, p);
    if (s.path != PATH_IM2COL) return 0;
    size_t cols = (size_t)s.batch * s.P;
    size_t need = (size_t)s.K * cols;            /* column matrix               */
    if (s.batch > 1) need += (size_t)s.OCg * cols; /* product / gathered dout    */
    return need;
}

/* Output columns [lo, hi) whose input column ow*stride + offset lies in
 * [0, in_len). */
static inline void valid_range(int out_len, int in_len, int stride, int offset, int *lo, int *hi)
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

/* Sum over i < n of a[i] * b[i*stride], in LANES fixed partial sums (vectorizes,
 * same order every run). */
static float strided_dot(const float *a, const float *b, int stride, int n)
{
    float part[LANES] = {0};
    int i = 0;
    if (stride == 1) {
        for (; i + LANES <= n; i += LANES)
            for (int j = 0; j < LANES; j++) part[j] += a[i + j] * b[i + j];
    } else {
        for (; i + LANES <= n; i += LANES)
            for (int j = 0; j < LANES; j++) part[j] += a[i + j] * b[(size_t)(i + j) * stride];
    }
    for (; i < n; i++) part[0] += a[i] * b[(size_t)i * stride];
    float sum = 0.0f;
    for (int j = 0; j < LANES; j++) sum += part[j];
    return sum;
}

/* Sum of a[0..n), LANES partial sums. */
static double plane_sum(const float *a, size_t n)
{
    float part[LANES] = {0};
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) part[j] += a[i + j];
    double sum = 0.0;
    for (; i < n; i++) sum += a[i];
    for (int j = 0; j < LANES; j++) sum += part[j];
    return sum;
}

/* dbias (OC) += sum over images and pixels of dout (N,OC,P). */
static void bias_backward(float *dbias, const float *dout, int N, int OC, int P)
{
#pragma omp parallel for schedule(static) if ((long)N * OC * P > OMP_MIN_WORK)
    for (int oc = 0; oc < OC; oc++) {
        double sum = 0.0;
        for (int n = 0; n < N; n++) sum += plane_sum(dout + ((size_t)n * OC + oc) * P, (size_t)P);
        dbias[oc] += (float)sum;
    }
}

/* ---------------------------------------------------------------- im2col */

/* Column matrix of nimg images for one group: col row r = (c, kh, kw) of
 * ldcol floats, image i at columns [i*P, (i+1)*P).
 * col (K, ldcol); img: the group's first channel of the first image, images
 * img_stride floats apart, each (Cg,H,W). */
static void im2col(float *col, int ldcol, const float *img, size_t img_stride, int nimg,
                   const conv_plan_t *s)
{
    const int taps = s->KH * s->KW;
    const long total = (long)nimg * s->K;
#pragma omp parallel for schedule(static) if (total * s->P > OMP_MIN_WORK)
    for (long t = 0; t < total; t++) {
        int i = (int)(t / s->K), r = (int)(t % s->K);
        int c = r / taps, kh = r % taps / s->KW, kw = r % s->KW;
        const float *plane = img + i * img_stride + (size_t)c * s->H * s->W;
        float *dst = col + (size_t)r * ldcol + (size_t)i * s->P;
        int off = kw - s->PW, lo, hi;
        valid_range(s->OW, s->W, s->SW, off, &lo, &hi);
        for (int oh = 0; oh < s->OH; oh++) {
            float *drow = dst + (size_t)oh * s->OW;
            int ih = oh * s->SH - s->PH + kh;
            if (ih < 0 || ih >= s->H) {
                memset(drow, 0, sizeof(float) * s->OW);
                continue;
            }
            const float *srow = plane + (size_t)ih * s->W;
            for (int ow = 0; ow < lo; ow++) drow[ow] = 0.0f;
            if (s->SW == 1) {
                memcpy(drow + lo, srow + lo + off, sizeof(float) * (hi - lo));
            } else {
                for (int ow = lo; ow < hi; ow++) drow[ow] = srow[ow * s->SW + off];
            }
            for (int ow = hi; ow < s->OW; ow++) drow[ow] = 0.0f;
        }
    }
}

/* Inverse of im2col, accumulating: img += col2im(col). Same layouts. */
static void col2im_add(float *img, size_t img_stride, int nimg, const float *col, int ldcol,
                       const conv_plan_t *s)
{
    const long total = (long)nimg * s->Cg;
#pragma omp parallel for schedule(static) if (total * s->H * s->W > OMP_MIN_WORK)
    for (long t = 0; t < total; t++) {
        int i = (int)(t / s->Cg), c = (int)(t % s->Cg);
        float *plane = img + i * img_stride + (size_t)c * s->H * s->W;
        for (int kh = 0; kh < s->KH; kh++) {
            for (int kw = 0; kw < s->KW; kw++) {
                int r = (c * s->KH + kh) * s->KW + kw;
                const float *src = col + (size_t)r * ldcol + (size_t)i * s->P;
                int off = kw - s->PW, lo, hi;
                valid_range(s->OW, s->W, s->SW, off, &lo, &hi);
                for (int oh = 0; oh < s->OH; oh++) {
                    int ih = oh * s->SH - s->PH + kh;
                    if (ih < 0 || ih >= s->H) continue;
                    float *irow = plane + (size_t)ih * s->W;
                    const float *crow = src + (size_t)oh * s->OW;
                    if (s->SW == 1) {
                        for (int ow = lo; ow < hi; ow++) irow[ow + off] += crow[ow];
                    } else {
                        for (int ow = lo; ow < hi; ow++) irow[ow * s->SW + off] += crow[ow];
                    }
                }
            }
        }
    }
}

/* Fills each of the count planes of P floats at out with its bias value. */
static void fill_bias(float *out /* (count,P) */, const float *bias /* (count) */, int count, int P)
{
    for (int o = 0; o < count; o++) {
        float *plane = out + (size_t)o * P;
        for (int j = 0; j < P; j++) plane[j] = bias[o];
    }
}

/* ------------------------------------------------------------- depthwise */

/* Caches each kernel column's valid output range (widths up to DW_TAPS). */
static void tap_ranges(int *lo, int *hi, const conv_plan_t *s)
{
    for (int kw = 0; kw < s->KW && kw < DW_TAPS; kw++)
        valid_range(s->OW, s->W, s->SW, kw - s->PW, &lo[kw], &hi[kw]);
}

static inline void tap_range(const int *lo_cache, const int *hi_cache, int kw, const conv_plan_t *s,
                             int *lo, int *hi)
{
    if (kw < DW_TAPS) {
        *lo = lo_cache[kw];
        *hi = hi_cache[kw];
    } else {
        valid_range(s->OW, s->W, s->SW, kw - s->PW, lo, hi);
    }
}

static void depthwise_forward(float *out, const float *inp, const float *weight, const float *bias,
                              const conv_plan_t *s)
{
    int lo_cache[DW_TAPS], hi_cache[DW_TAPS];
    tap_ranges(lo_cache, hi_cache, s);
    const long planes = (long)s->N * s->C;
    const int taps = s->KH * s->KW;
#pragma omp parallel for schedule(static) if (planes * s->P * taps > OMP_MIN_WORK)
    for (long t = 0; t < planes; t++) {
        int c = (int)(t % s->C);
        const float *x = inp + (size_t)t * s->H * s->W; /* (H,W)   */
        const float *w = weight + (size_t)c * taps;      /* (KH,KW) */
        float *o = out + (size_t)t * s->P;               /* (OH,OW) */
        float b = bias ? bias[c] : 0.0f;
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
                    tap_range(lo_cache, hi_cache, kw, s, &lo, &hi);
                    if (s->SW == 1) {
                        const float *xs = xrow + off;
                        for (int ow = lo; ow < hi; ow++) orow[ow] += wv * xs[ow];
                    } else if (s->SW == 2) {
                        for (int ow = lo; ow < hi; ow++) orow[ow] += wv * xrow[2 * ow + off];
                    } else {
                        for (int ow = lo; ow < hi; ow++) orow[ow] += wv * xrow[ow * s->SW + off];
                    }
                }
            }
        }
    }
}

static void depthwise_backward(float *dinp, float *dweight, const float *dout, const float *inp,
                               const float *weight, const conv_plan_t *s)
{
    int lo_cache[DW_TAPS], hi_cache[DW_TAPS];
    tap_ranges(lo_cache, hi_cache, s);
    const int taps = s->KH * s->KW;
    const size_t HW = (size_t)s->H * s->W;
    if (dinp) {
        const long planes = (long)s->N * s->C;
#pragma omp parallel for schedule(static) if (planes * s->P * taps > OMP_MIN_WORK)
        for (long t = 0; t < planes; t++) {
            int c = (int)(t % s->C);
            float *dx = dinp + (size_t)t * HW;              /* (H,W)   */
            const float *w = weight + (size_t)c * taps;     /* (KH,KW) */
            const float *dy = dout + (size_t)t * s->P;      /* (OH,OW) */
            for (int oh = 0; oh < s->OH; oh++) {
                const float *drow = dy + (size_t)oh * s->OW;
                for (int kh = 0; kh < s->KH; kh++) {
                    int ih = oh * s->SH - s->PH + kh;
                    if (ih < 0 || ih >= s->H) continue;
                    float *xrow = dx + (size_t)ih * s->W;
                    for (int kw = 0; kw < s->KW; kw++) {
                        float wv = w[kh * s->KW + kw];
                        int off = kw - s->PW, lo, hi;
                        tap_range(lo_cache, hi_cache, kw, s, &lo, &hi);
                        if (s->SW == 1) {
                            float *xs = xrow + off;
                            for (int ow = lo; ow < hi; ow++) xs[ow] += wv * drow[ow];
                        } else {
                            for (int ow = lo; ow < hi; ow++) xrow[ow * s->SW + off] += wv * drow[ow];
                        }
                    }
                }
            }
        }
    }
    if (dweight) {
#pragma omp parallel for schedule(static) if ((long)s->N * s->C * s->P * taps > OMP_MIN_WORK)
        for (int c = 0; c < s->C; c++) {
            for (int kh = 0; kh < s->KH; kh++) {
                for (int kw = 0; kw < s->KW; kw++) {
                    int off = kw - s->PW, lo, hi;
                    tap_range(lo_cache, hi_cache, kw, s, &lo, &hi);
                    if (lo >= hi) continue;
                    double acc = 0.0;
                    for (int n = 0; n < s->N; n++) {
                        const float *x = inp + ((size_t)n * s->C + c) * HW;
                        const float *dy = dout + ((size_t)n * s->C + c) * s->P;
                        float acc_image = 0.0f;
                        for (int oh = 0; oh < s->OH; oh++) {
                            int ih = oh * s->SH - s->PH + kh;
                            if (ih < 0 || ih >= s->H) continue;
                            const float *xrow = x + (size_t)ih * s->W + (lo * s->SW + off);
                            acc_image += strided_dot(dy + (size_t)oh * s->OW + lo, xrow, s->SW, hi - lo);
                        }
                        acc += acc_image;
                    }
                    dweight[(size_t)c * taps + kh * s->KW + kw] += (float)acc;
                }
            }
        }
    }
}

/* --------------------------------------------------------------- forward */

void nn_conv2d_forward(float *out, const float *inp, const float *weight, const float *bias,
                       int N, int C, int H, int W, int OC, const nn_conv_params *p,
                       float *work)
{
    conv_plan_t s = conv_plan(N, C, H, W, OC, p);
    PL_ASSERT(out && inp && weight);
    if (s.path == PATH_DEPTHWISE) {
        depthwise_forward(out, inp, weight, bias, &s);
        return;
    }
    const size_t HW = (size_t)H * W;
    const float beta = bias ? 1.0f : 0.0f;
    if (s.path == PATH_POINTWISE) {
        for (int n = 0; n < N; n++) {
            for (int g = 0; g < s.G; g++) {
                float *o = out + ((size_t)n * OC + (size_t)g * s.OCg) * s.P; /* (OCg,P) */
                const float *x = inp + ((size_t)n * C + (size_t)g * s.Cg) * HW;
                if (bias) fill_bias(o, bias + (size_t)g * s.OCg, s.OCg, s.P);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s.OCg, s.P, s.Cg, 1.0f,
                            weight + (size_t)g * s.OCg * s.Cg, s.Cg, x, (int)HW, beta, o, s.P);
            }
        }
        return;
    }
    PL_ASSERT(work);
    float *col = work;
    for (int n0 = 0; n0 < N; n0 += s.batch) {
        int nb = N - n0 < s.batch ? N - n0 : s.batch;
        int cols = nb * s.P;
        float *prod = col + (size_t)s.K * cols; /* (OCg, cols), used when nb > 1 */
        for (int g = 0; g < s.G; g++) {
            const float *wg = weight + (size_t)g * s.OCg * s.K; /* (OCg,K) */
            im2col(col, cols, inp + ((size_t)n0 * C + (size_t)g * s.Cg) * HW, (size_t)C * HW, nb, &s);
            if (nb == 1) {
                float *o = out + ((size_t)n0 * OC + (size_t)g * s.OCg) * s.P;
                if (bias) fill_bias(o, bias + (size_t)g * s.OCg, s.OCg, s.P);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s.OCg, s.P, s.K, 1.0f,
                            wg, s.K, col, cols, beta, o, s.P);
                continue;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s.OCg, cols, s.K, 1.0f,
                        wg, s.K, col, cols, 0.0f, prod, cols);
            /* scatter prod (OCg, nb*P) to out (nb, OC, P) */
#pragma omp parallel for schedule(static) if ((long)s.OCg * cols > OMP_MIN_WORK)
            for (int o = 0; o < s.OCg; o++) {
                int oc = g * s.OCg + o;
                float b = bias ? bias[oc] : 0.0f;
                for (int i = 0; i < nb; i++) {
                    const float *src = prod + (size_t)o * cols + (size_t)i * s.P;
                    float *dst = out + ((size_t)(n0 + i) * OC + oc) * s.P;
                    for (int j = 0; j < s.P; j++) dst[j] = src[j] + b;
                }
            }
        }
    }
}

/* -------------------------------------------------------------- backward */

void nn_conv2d_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                        const float *inp, const float *weight,
                        int N, int C, int H, int W, int OC, const nn_conv_params *p,
                        float *work)
{
    conv_plan_t s = conv_plan(N, C, H, W, OC, p);
    PL_ASSERT(dout && inp && weight);
    if (dbias) bias_backward(dbias, dout, N, OC, s.P);
    if (!dinp && !dweight) return;
    if (s.path == PATH_DEPTHWISE) {
        depthwise_backward(dinp, dweight, dout, inp, weight, &s);
        return;
    }
    const size_t HW = (size_t)H * W;
    if (s.path == PATH_POINTWISE) {
        for (int n = 0; n < N; n++) {
            for (int g = 0; g < s.G; g++) {
                const float *dy = dout + ((size_t)n * OC + (size_t)g * s.OCg) * s.P; /* (OCg,P) */
                const float *wg = weight + (size_t)g * s.OCg * s.Cg;             /* (OCg,Cg) */
                size_t xoff = ((size_t)n * C + (size_t)g * s.Cg) * HW;             /* (Cg,HW) */
                if (dweight)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s.OCg, s.Cg, s.P, 1.0f,
                                dy, s.P, inp + xoff, (int)HW, 1.0f,
                                dweight + (size_t)g * s.OCg * s.Cg, s.Cg);
                if (dinp)
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, s.Cg, s.P, s.OCg, 1.0f,
                                wg, s.Cg, dy, s.P, 1.0f, dinp + xoff, (int)HW);
            }
        }
        return;
    }
    PL_ASSERT(work);
    float *col = work;
    for (int n0 = 0; n0 < N; n0 += s.batch) {
        int nb = N - n0 < s.batch ? N - n0 : s.batch;
        int cols = nb * s.P;
        for (int g = 0; g < s.G; g++) {
            const float *wg = weight + (size_t)g * s.OCg * s.K; /* (OCg,K) */
            size_t xoff = ((size_t)n0 * C + (size_t)g * s.Cg) * HW;
            /* dy: this group's dout as (OCg, cols) */
            const float *dy = dout + ((size_t)n0 * OC + (size_t)g * s.OCg) * s.P;
            if (nb > 1) {
                float *gathered = col + (size_t)s.K * cols;
#pragma omp parallel for schedule(static) if ((long)s.OCg * cols > OMP_MIN_WORK)
                for (int o = 0; o < s.OCg; o++) {
                    for (int i = 0; i < nb; i++) {
                        memcpy(gathered + (size_t)o * cols + (size_t)i * s.P,
                               dout + ((size_t)(n0 + i) * OC + (size_t)g * s.OCg + o) * s.P,
                               sizeof(float) * s.P);
                    }
                }
                dy = gathered;
            }
            if (dweight) {
                im2col(col, cols, inp + xoff, (size_t)C * HW, nb, &s);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s.OCg, s.K, cols, 1.0f,
                            dy, cols, col, cols, 1.0f, dweight + (size_t)g * s.OCg * s.K, s.K);
            }
            if (dinp) {
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, s.K, cols, s.OCg, 1.0f,
                            wg, s.K, dy, cols, 0.0f, col, cols);
                col2im_add(dinp + xoff, (size_t)C * HW, nb, col, cols, &s);
            }
        }
    }
}
