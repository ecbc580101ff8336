/* nn_conv.c: fast 2-D convolution, forward and backward, and the choice
 * between its three paths (conv_plan):
 * - depthwise (groups == C == OC): direct kernels in nn_conv_dw.c.
 * - pointwise (1x1, stride 1, no padding): sgemm straight on the NCHW input,
 *   no copy and no workspace.
 * - im2col: the (Cg*KH*KW, OH*OW) column matrix of each image and group, then
 *   one sgemm. When the output plane is small (OH*OW < BATCH_MAX_PLANE) and
 *   N > 1, up to BATCH_COLUMNS/(OH*OW) images share one column matrix
 *   (K, nb*OH*OW) so sgemm sees a wide N dimension; the product goes to the
 *   workspace and is scattered to NCHW. Small-plane pointwise convolution
 *   takes this path too (its im2col is a plain copy): measured 1.3-1.8x
 *   faster than one narrow sgemm per image (2048->512 at 7x7, N=16).
 * Backward of the im2col path: dweight += dout * col^T (beta = 1), and
 * dinp += col2im(W^T * dout).
 * The copies around sgemm (im2col, col2im, scatter, gather) are serial: they
 * are cheap next to sgemm, and an OpenMP region between two OpenBLAS calls
 * leaves OpenMP workers spinning on the cores OpenBLAS's own threads need
 * (measured: 2-4x slower on 2 cores). col2im adds in a fixed order, so every
 * result but sgemm's own is independent of the thread count. */
#include "nn_conv_internal.h"

#include "pl_err.h"

#include <cblas.h>
#include <string.h>

#define BATCH_MAX_PLANE 256  /* OH*OW below which images share a column matrix */
#define BATCH_COLUMNS   1024 /* target column count of a shared column matrix  */
#define LANES           16   /* independent partial sums in reductions         */

/* Validates the dimensions and picks the path. */
static nn_conv_plan conv_plan(int N, int C, int H, int W, int OC, const nn_conv_params *p)
{
    PL_ASSERT(p && p->kh > 0 && p->kw > 0 && p->sh > 0 && p->sw > 0);
    PL_ASSERT(p->ph >= 0 && p->pw >= 0 && p->groups > 0);
    PL_ASSERT(N >= 0 && C > 0 && H > 0 && W > 0 && OC > 0);
    PL_ASSERT(C % p->groups == 0 && OC % p->groups == 0);
    nn_conv_plan s;
    s.N = N, s.C = C, s.H = H, s.W = W, s.OC = OC;
    s.KH = p->kh, s.KW = p->kw, s.SH = p->sh, s.SW = p->sw, s.PH = p->ph, s.PW = p->pw;
    s.OH = nn_window_out(H, p->kh, p->sh, p->ph, 0);
    s.OW = nn_window_out(W, p->kw, p->sw, p->pw, 0);
    PL_ASSERT(s.OH > 0 && s.OW > 0);
    s.G = p->groups, s.Cg = C / p->groups, s.OCg = OC / p->groups;
    s.K = s.Cg * s.KH * s.KW;
    s.P = s.OH * s.OW;
    const int pointwise = s.KH == 1 && s.KW == 1 && s.SH == 1 && s.SW == 1 && s.PH == 0 && s.PW == 0;
    const int small_plane = s.P < BATCH_MAX_PLANE && N > 1;
    s.batch = 1;
    if (s.G == C && OC == C) {
        s.path = NN_CONV_DEPTHWISE;
    } else if (pointwise && !small_plane) {
        s.path = NN_CONV_POINTWISE;
    } else {
        /* small planes, pointwise included: the copy into a shared column
         * matrix costs less than sgemm loses on a narrow N */
        s.path = NN_CONV_IM2COL;
        if (small_plane) {
            int want = (BATCH_COLUMNS + s.P - 1) / s.P;
            s.batch = want < N ? want : N;
        }
    }
    return s;
}

size_t nn_conv2d_workspace(int N, int C, int H, int W, int OC, const nn_conv_params *p)
{
    nn_conv_plan s = conv_plan(N, C, H, W, OC, p);
    if (s.path != NN_CONV_IM2COL) return 0;
    size_t cols = (size_t)s.batch * s.P;
    size_t need = (size_t)s.K * cols;            /* column matrix               */
    if (s.batch > 1) need += (size_t)s.OCg * cols; /* product / gathered dout    */
    return need;
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
                   const nn_conv_plan *s)
{
    for (int i = 0; i < nimg; i++) {
        for (int r = 0; r < s->K; r++) {
            int c = r / (s->KH * s->KW), kh = r / s->KW % s->KH, kw = r % s->KW;
            const float *plane = img + i * img_stride + (size_t)c * s->H * s->W;
            float *dst = col + (size_t)r * ldcol + (size_t)i * s->P;
            int off = kw - s->PW, lo, hi;
            nn_conv_valid_range(s->OW, s->W, s->SW, off, &lo, &hi);
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
}

/* Inverse of im2col, accumulating: img += col2im(col). Same layouts. */
static void col2im_add(float *img, size_t img_stride, int nimg, const float *col, int ldcol,
                       const nn_conv_plan *s)
{
    for (int i = 0; i < nimg; i++) {
        for (int r = 0; r < s->K; r++) {
            int c = r / (s->KH * s->KW), kh = r / s->KW % s->KH, kw = r % s->KW;
            float *plane = img + i * img_stride + (size_t)c * s->H * s->W;
            const float *src = col + (size_t)r * ldcol + (size_t)i * s->P;
            int off = kw - s->PW, lo, hi;
            nn_conv_valid_range(s->OW, s->W, s->SW, off, &lo, &hi);
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

/* Fills each of the count planes of P floats at out with its bias value. */
static void fill_bias(float *out /* (count,P) */, const float *bias /* (count) */, int count, int P)
{
    for (int o = 0; o < count; o++) {
        float *plane = out + (size_t)o * P;
        for (int j = 0; j < P; j++) plane[j] = bias[o];
    }
}

/* --------------------------------------------------------------- forward */

void nn_conv2d_forward(float *out, const float *inp, const float *weight, const float *bias,
                       int N, int C, int H, int W, int OC, const nn_conv_params *p,
                       float *work)
{
    nn_conv_plan s = conv_plan(N, C, H, W, OC, p);
    PL_ASSERT(out && inp && weight);
    if (s.path == NN_CONV_DEPTHWISE) {
        nn_conv_dw_forward(out, inp, weight, bias, &s);
        return;
    }
    const size_t HW = (size_t)H * W;
    const float beta = bias ? 1.0f : 0.0f;
    if (s.path == NN_CONV_POINTWISE) {
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
    nn_conv_plan s = conv_plan(N, C, H, W, OC, p);
    PL_ASSERT(dout && inp && weight);
    if (dbias) bias_backward(dbias, dout, N, OC, s.P);
    if (!dinp && !dweight) return;
    if (s.path == NN_CONV_DEPTHWISE) {
        nn_conv_dw_backward(dinp, dweight, dout, inp, weight, &s);
        return;
    }
    const size_t HW = (size_t)H * W;
    if (s.path == NN_CONV_POINTWISE) {
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
