/* nn_conv_dw_small.c: depthwise convolution on small planes, vectorized
 * across channels instead of within a plane.
 *
 * With a small plane (a few to a few hundred pixels) the work per plane is
 * too little to vectorize inside it. These kernels take CB channels of one
 * image at a time, transpose their planes into a stack buffer as (pixel, CB)
 * "lanes", and compute every output pixel as CB-wide multiply-adds over its
 * valid taps (border tests per pixel and tap, shared by the CB channels); the
 * inner loops run over the CB lanes, which gcc vectorizes. Channels past C in
 * the last block are zero lanes, computed and dropped.
 * - forward and dinp: parallel over (channel block, run of images), the
 *   block's weights transposed once per task (on 1x1 and 2x2 planes the
 *   weights outweigh the image); dinp scatters dout through the kernel in
 *   the lane domain, so any stride works.
 * - dweight: parallel over channel blocks, each summing its images in order.
 * - AVX-512 builds: the forward first tries nn_conv_dw_lanes_forward (end of
 *   this file), no transposes, 16 outputs of the flat image per vector.
 * All sums are in a fixed order: results do not depend on the thread count. */
#include "nn_conv_internal.h"

#include <omp.h>
#include <string.h>
#ifdef __AVX512F__
#include <immintrin.h>
#endif

#define CB           16    /* channels per block: vector lanes           */
#define CB_BUF       16384 /* floats of the per-thread block buffer      */
#define CB_MAX_TAPS  64    /* KH*KW these kernels handle                 */
#define OMP_MIN_WORK 262144 /* multiply-adds below which loops stay serial */
#define SHORT_ROW    64    /* rows up to this many floats: transposed by gathers */
#define TRANSPOSE_MIN_N 8  /* AVX-512: rows from this many floats: register transposes */

int nn_conv_dw_small_fits(const nn_conv_plan *s)
{
    return s->KH * s->KW <= CB_MAX_TAPS && ((long)s->H * s->W + s->P) * CB <= CB_BUF;
}

/* lanes (n, CB) = transpose of cb rows of n floats at src, rows src_stride
 * apart; lanes past cb are zero. Short rows (tiny planes) go pixel by pixel,
 * a gather of the CB channels each, instead of a few-float loop per channel. */
#ifdef __AVX512F__
/* r[16] (rows) -> its transpose, in registers: 64 shuffles. */
static inline __attribute__((always_inline)) void transpose16(__m512 r[16])
{
    __m512 t[16], u[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        const __m512d a = _mm512_castps_pd(t[i]), b = _mm512_castps_pd(t[i + 1]);
        const __m512d c = _mm512_castps_pd(t[i + 2]), d = _mm512_castps_pd(t[i + 3]);
        u[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        u[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        u[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        u[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    /* u[4i + m], 128-bit lane k: rows 4i..4i+3 of column 4k + m */
    for (int m = 0; m < 4; m++) {
        const __m512 v = _mm512_shuffle_f32x4(u[m], u[4 + m], 0x44);
        const __m512 v2 = _mm512_shuffle_f32x4(u[m], u[4 + m], 0xEE);
        const __m512 w = _mm512_shuffle_f32x4(u[8 + m], u[12 + m], 0x44);
        const __m512 w2 = _mm512_shuffle_f32x4(u[8 + m], u[12 + m], 0xEE);
        r[m] = _mm512_shuffle_f32x4(v, w, 0x88);
        r[4 + m] = _mm512_shuffle_f32x4(v, w, 0xDD);
        r[8 + m] = _mm512_shuffle_f32x4(v2, w2, 0x88);
        r[12 + m] = _mm512_shuffle_f32x4(v2, w2, 0xDD);
    }
}
#endif

static void to_lanes(float *lanes, const float *src, size_t src_stride, int cb, int n)
{
#ifdef __AVX512F__
    /* 16 pixels at a time through a register transpose (masked loads past
     * n, zero rows past cb): no gathers, no scalar stores. Below
     * TRANSPOSE_MIN_N pixels (1x1, 2x2 planes) the gathers win. */
    for (int p0 = 0; p0 < n && (n >= TRANSPOSE_MIN_N || cb < CB); p0 += 16) {
        const int np = n - p0 < 16 ? n - p0 : 16;
        const __mmask16 m = (__mmask16)((1u << np) - 1u);
        __m512 r[16];
        for (int j = 0; j < 16; j++)
            r[j] = j < cb ? _mm512_maskz_loadu_ps(m, src + j * src_stride + p0) : _mm512_setzero_ps();
        transpose16(r);
        for (int c = 0; c < np; c++) _mm512_storeu_ps(lanes + (size_t)(p0 + c) * CB, r[c]);
        if (p0 + 16 >= n) return;
    }
#endif
    if (n <= SHORT_ROW && cb == CB) {
        for (int p = 0; p < n; p++) {
            float *restrict d = lanes + (size_t)p * CB;
            const float *restrict col = src + p;
#pragma omp simd
            for (int j = 0; j < CB; j++) d[j] = col[j * src_stride];
        }
        return;
    }
    for (int j = 0; j < cb; j++) {
        const float *row = src + j * src_stride;
        for (int p = 0; p < n; p++) lanes[(size_t)p * CB + j] = row[p];
    }
    for (int j = cb; j < CB; j++)
        for (int p = 0; p < n; p++) lanes[(size_t)p * CB + j] = 0.0f;
}

/* cb rows of n floats at dst, rows dst_stride apart, (+)= lanes (n, CB). */
static void from_lanes(float *dst, size_t dst_stride, const float *lanes, int cb, int n,
                       int accumulate)
{
#ifdef __AVX512F__
    for (int p0 = 0; p0 < n && (n >= TRANSPOSE_MIN_N || cb < CB); p0 += 16) {
        const int np = n - p0 < 16 ? n - p0 : 16;
        const __mmask16 m = (__mmask16)((1u << np) - 1u);
        __m512 r[16];
        for (int c = 0; c < 16; c++)
            r[c] = c < np ? _mm512_loadu_ps(lanes + (size_t)(p0 + c) * CB) : _mm512_setzero_ps();
        transpose16(r);
        for (int j = 0; j < cb; j++) {
            float *d = dst + j * dst_stride + p0;
            __m512 v = r[j];
            if (accumulate) v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, d), v);
            _mm512_mask_storeu_ps(d, m, v);
        }
        if (p0 + 16 >= n) return;
    }
#endif
    if (n <= SHORT_ROW && cb == CB) {
        for (int p = 0; p < n; p++) {
            const float *restrict l = lanes + (size_t)p * CB;
            float *restrict col = dst + p;
            if (accumulate) {
#pragma omp simd
                for (int j = 0; j < CB; j++) col[j * dst_stride] += l[j];
            } else {
#pragma omp simd
                for (int j = 0; j < CB; j++) col[j * dst_stride] = l[j];
            }
        }
        return;
    }
    for (int j = 0; j < cb; j++) {
        float *row = dst + j * dst_stride;
        if (accumulate) {
            for (int p = 0; p < n; p++) row[p] += lanes[(size_t)p * CB + j];
        } else {
            for (int p = 0; p < n; p++) row[p] = lanes[(size_t)p * CB + j];
        }
    }
}

/* Kernel taps [lo, hi) along one axis that land inside the input for output
 * index o: o*stride - pad + k in [0, in_len). */
static inline void tap_range(int o, int stride, int pad, int k, int in_len, int *lo, int *hi)
{
    int first = pad - o * stride, end = in_len + pad - o * stride;
    *lo = first > 0 ? first : 0;
    *hi = end < k ? end : k;
}

/* Number of channels in the block starting at c0. */
static int block_width(const nn_conv_plan *s, int c0) { return s->C - c0 < CB ? s->C - c0 : CB; }

/* Work split of the forward and dinp loops: (channel block, run of images)
 * tasks, the images of a block in runs so that small channel counts still
 * give every thread work; the block's weights are transposed once per task.
 * Each output is computed by one task alone, so the split does not change
 * results. */
static int image_runs(const nn_conv_plan *s, int blocks)
{
    const int want = 4 * omp_get_max_threads(); /* tasks for load balance */
    int runs = blocks >= want ? 1 : (want + blocks - 1) / blocks;
    return runs < s->N ? runs : s->N > 0 ? s->N : 1;
}

/* One output pixel's channel lanes: y (CB) = b + taps of x through w. */
static inline void pixel_forward(float *restrict y, const float *restrict xl,
                                 const float *restrict wl, const float *restrict bl, int oh,
                                 int ow, const nn_conv_plan *s)
{
    int kh_lo, kh_hi, kw_lo, kw_hi;
    tap_range(oh, s->SH, s->PH, s->KH, s->H, &kh_lo, &kh_hi);
    tap_range(ow, s->SW, s->PW, s->KW, s->W, &kw_lo, &kw_hi);
#ifdef __AVX512F__
    /* one register accumulator and fused multiply-adds: with -std=c11 gcc
     * does not contract the plain loop, and kept acc in memory (measured
     * 1.5x slower on 960x7x7 5x5) */
    __m512 acc = _mm512_loadu_ps(bl);
    for (int kh = kh_lo; kh < kh_hi; kh++) {
        /* a row's taps alternate between two accumulators and every row
         * starts afresh: short dependency chains (one chain over all taps
         * ran at the multiply-add latency: 1.7x slower on 4x4 5x5) */
        const int ih = oh * s->SH - s->PH + kh;
        const float *x = xl + ((size_t)ih * s->W + ow * s->SW - s->PW) * CB;
        const float *w = wl + (size_t)kh * s->KW * CB;
        __m512 even = _mm512_setzero_ps(), odd = _mm512_setzero_ps();
        int kw = kw_lo;
        for (; kw + 1 < kw_hi; kw += 2) {
            even = _mm512_fmadd_ps(_mm512_loadu_ps(w + kw * CB), _mm512_loadu_ps(x + kw * CB), even);
            odd = _mm512_fmadd_ps(_mm512_loadu_ps(w + (kw + 1) * CB),
                                  _mm512_loadu_ps(x + (kw + 1) * CB), odd);
        }
        if (kw < kw_hi)
            even = _mm512_fmadd_ps(_mm512_loadu_ps(w + kw * CB), _mm512_loadu_ps(x + kw * CB), even);
        acc = _mm512_add_ps(acc, _mm512_add_ps(even, odd));
    }
    _mm512_storeu_ps(y, acc);
#else
    float acc[CB];
    for (int j = 0; j < CB; j++) acc[j] = bl[j];
    for (int kh = kh_lo; kh < kh_hi; kh++) {
        const int ih = oh * s->SH - s->PH + kh;
        for (int kw = kw_lo; kw < kw_hi; kw++) {
            const int iw = ow * s->SW - s->PW + kw;
            const float *restrict x = xl + ((size_t)ih * s->W + iw) * CB;
            const float *restrict w = wl + (size_t)(kh * s->KW + kw) * CB;
#pragma omp simd
            for (int j = 0; j < CB; j++) acc[j] += w[j] * x[j];
        }
    }
    for (int j = 0; j < CB; j++) y[j] = acc[j];
#endif
}

void nn_conv_dw_small_forward(float *out, const float *inp, const float *weight, const float *bias,
                              const nn_conv_plan *s)
{
    const int blocks = (s->C + CB - 1) / CB, taps = s->KH * s->KW;
    const size_t HW = (size_t)s->H * s->W;
    const int runs = image_runs(s, blocks), per_run = (s->N + runs - 1) / runs;
    const long tasks = (long)blocks * runs;
#pragma omp parallel for schedule(static) if ((long)s->N * blocks * CB * s->P * taps > OMP_MIN_WORK)
    for (long t = 0; t < tasks; t++) {
        const int c0 = (int)(t / runs) * CB, cb = block_width(s, c0);
        const int n_lo = (int)(t % runs) * per_run;
        const int n_hi = n_lo + per_run < s->N ? n_lo + per_run : s->N;
        float buf[CB_BUF], wl[CB_MAX_TAPS * CB], bl[CB] = {0};
        float *xl = buf, *yl = buf + HW * CB; /* (HW, CB) and (P, CB) */
        to_lanes(wl, weight + (size_t)c0 * taps, (size_t)taps, cb, taps);
        for (int j = 0; j < cb && bias; j++) bl[j] = bias[c0 + j];
        for (int n = n_lo; n < n_hi; n++) {
            to_lanes(xl, inp + ((size_t)n * s->C + c0) * HW, HW, cb, (int)HW);
            for (int oh = 0; oh < s->OH; oh++)
                for (int ow = 0; ow < s->OW; ow++)
                    pixel_forward(yl + ((size_t)oh * s->OW + ow) * CB, xl, wl, bl, oh, ow, s);
            from_lanes(out + ((size_t)n * s->C + c0) * s->P, (size_t)s->P, yl, cb, s->P, 0);
        }
    }
}

/* dinp of one (image, channel block): dxl (HW, CB) = scatter of dyl (P, CB)
 * through wl (taps, CB). */
static void block_dinp(float *dxl, const float *dyl, const float *wl, const nn_conv_plan *s)
{
    memset(dxl, 0, sizeof(float) * (size_t)s->H * s->W * CB);
    for (int oh = 0; oh < s->OH; oh++) {
        int kh_lo, kh_hi;
        tap_range(oh, s->SH, s->PH, s->KH, s->H, &kh_lo, &kh_hi);
        for (int ow = 0; ow < s->OW; ow++) {
            int kw_lo, kw_hi;
            tap_range(ow, s->SW, s->PW, s->KW, s->W, &kw_lo, &kw_hi);
            const float *restrict dy = dyl + ((size_t)oh * s->OW + ow) * CB;
            for (int kh = kh_lo; kh < kh_hi; kh++) {
                const int ih = oh * s->SH - s->PH + kh;
                for (int kw = kw_lo; kw < kw_hi; kw++) {
                    const int iw = ow * s->SW - s->PW + kw;
                    float *restrict dx = dxl + ((size_t)ih * s->W + iw) * CB;
                    const float *restrict w = wl + (size_t)(kh * s->KW + kw) * CB;
#pragma omp simd
                    for (int j = 0; j < CB; j++) dx[j] += w[j] * dy[j];
                }
            }
        }
    }
}

/* dweight of one image and channel block: accl (taps, CB) += correlation of
 * dyl (P, CB) with xl (HW, CB). */
static void block_dweight(float *accl, const float *xl, const float *dyl, const nn_conv_plan *s)
{
    for (int oh = 0; oh < s->OH; oh++) {
        int kh_lo, kh_hi;
        tap_range(oh, s->SH, s->PH, s->KH, s->H, &kh_lo, &kh_hi);
        for (int ow = 0; ow < s->OW; ow++) {
            int kw_lo, kw_hi;
            tap_range(ow, s->SW, s->PW, s->KW, s->W, &kw_lo, &kw_hi);
            const float *restrict dy = dyl + ((size_t)oh * s->OW + ow) * CB;
            for (int kh = kh_lo; kh < kh_hi; kh++) {
                const int ih = oh * s->SH - s->PH + kh;
                for (int kw = kw_lo; kw < kw_hi; kw++) {
                    const int iw = ow * s->SW - s->PW + kw;
                    const float *restrict x = xl + ((size_t)ih * s->W + iw) * CB;
                    float *restrict acc = accl + (size_t)(kh * s->KW + kw) * CB;
#pragma omp simd
                    for (int j = 0; j < CB; j++) acc[j] += dy[j] * x[j];
                }
            }
        }
    }
}

void nn_conv_dw_small_backward(float *dinp, float *dweight, const float *dout, const float *inp,
                               const float *weight, const nn_conv_plan *s)
{
    const int blocks = (s->C + CB - 1) / CB, taps = s->KH * s->KW;
    const size_t HW = (size_t)s->H * s->W;
    const long work = (long)s->N * blocks * CB * s->P * taps;
    if (dinp) {
        const int runs = image_runs(s, blocks), per_run = (s->N + runs - 1) / runs;
        const long tasks = (long)blocks * runs;
#pragma omp parallel for schedule(static) if (work > OMP_MIN_WORK)
        for (long t = 0; t < tasks; t++) {
            const int c0 = (int)(t / runs) * CB, cb = block_width(s, c0);
            const int n_lo = (int)(t % runs) * per_run;
            const int n_hi = n_lo + per_run < s->N ? n_lo + per_run : s->N;
            float buf[CB_BUF], wl[CB_MAX_TAPS * CB];
            float *dxl = buf, *dyl = buf + HW * CB; /* (HW, CB) and (P, CB) */
            to_lanes(wl, weight + (size_t)c0 * taps, (size_t)taps, cb, taps);
            for (int n = n_lo; n < n_hi; n++) {
                to_lanes(dyl, dout + ((size_t)n * s->C + c0) * s->P, (size_t)s->P, cb, s->P);
                block_dinp(dxl, dyl, wl, s);
                from_lanes(dinp + ((size_t)n * s->C + c0) * HW, HW, dxl, cb, (int)HW, 1);
            }
        }
    }
    if (dweight) {
#pragma omp parallel for schedule(static) if (work > OMP_MIN_WORK)
        for (int b = 0; b < blocks; b++) {
            const int c0 = b * CB, cb = block_width(s, c0);
            float buf[CB_BUF], accl[CB_MAX_TAPS * CB];
            double total[CB_MAX_TAPS * CB] = {0};
            float *xl = buf, *dyl = buf + HW * CB; /* (HW, CB) and (P, CB) */
            for (int n = 0; n < s->N; n++) {
                to_lanes(xl, inp + ((size_t)n * s->C + c0) * HW, HW, cb, (int)HW);
                to_lanes(dyl, dout + ((size_t)n * s->C + c0) * s->P, (size_t)s->P, cb, s->P);
                memset(accl, 0, sizeof(float) * (size_t)taps * CB);
                block_dweight(accl, xl, dyl, s);
                for (int i = 0; i < taps * CB; i++) total[i] += accl[i];
            }
            for (int j = 0; j < cb; j++)
                for (int k = 0; k < taps; k++)
                    dweight[(size_t)(c0 + j) * taps + k] += (float)total[(size_t)k * CB + j];
        }
    }
}

/* ------------------------------------------------- AVX-512 forward, lanes */
#ifdef __AVX512F__
#include <immintrin.h>

/* Forward without the transposes: one image's output (C, OH, OW) is a flat
 * run of C*P floats, taken 16 at a time; lane l of run q is output q*16 + l
 * of the image, some pixel of some channel. When C*P is a multiple of 16,
 * run q covers the same channels and pixels in every image, so per run the
 * input indices, the per-tap lane masks (padding) and the per-tap weight
 * vectors are set up once and reused over the N images: each tap is one
 * masked load (when the run's 16 input reads are consecutive, stride 1
 * "same" planes) or one masked gather, and one multiply-add; taps with no
 * live lane in the run are skipped. Outputs are stored 16 at a time, in
 * place. Each output is summed by one thread in tap order: thread-count
 * independent. Returns 0 (nothing done) when C*P is not a multiple of 16,
 * the kernel has more than CB_MAX_TAPS taps, or lanes_pay says no. */
/* Whether the lanes kernel beats the transposing one (whose transposes are
 * register 16x16 transposes with AVX-512, about 6 shuffles per pixel): per
 * live tap of every output it does one masked load (stride 1, "same"
 * planes) or one gather, so only when the live taps are few against the
 * pixels the transposes move: up to 3x as many with loads (measured at
 * batch 32: 1.3x faster on 2x2 3x3, 1.7x slower on 4x4 5x5), up to as many
 * with gathers (1.3x faster on 2x2 -> 1x1 5x5 at stride 2, 1.3x slower on
 * 4x4 -> 2x2 3x3). Its per-run setup (a gather of the weights per tap) is
 * repaid over the images: with one image it ran 7x slower on 960x7x7 5x5,
 * so only from LANES_MIN_N images. */
#define LANES_MIN_N 8
/* Multiply-adds from which the lanes kernel forks threads: a quarter of the
 * others' threshold, for it does a 16-lane multiply-add per tap and run
 * (measured at 2 threads on 200x2x2 3x3, batch 32: 1.7x faster in parallel) */
#define LANES_OMP_MIN_WORK (OMP_MIN_WORK / 4)
static int lanes_pay(const nn_conv_plan *s)
{
    if (s->N < LANES_MIN_N) return 0;
    const int same = s->SH == 1 && s->SW == 1 && s->OH == s->H && s->OW == s->W;
    long rows = 0, cols = 0; /* live taps summed over output rows, columns */
    for (int oh = 0; oh < s->OH; oh++) {
        int lo, hi;
        tap_range(oh, s->SH, s->PH, s->KH, s->H, &lo, &hi);
        rows += hi > lo ? hi - lo : 0;
    }
    for (int ow = 0; ow < s->OW; ow++) {
        int lo, hi;
        tap_range(ow, s->SW, s->PW, s->KW, s->W, &lo, &hi);
        cols += hi > lo ? hi - lo : 0;
    }
    /* live taps over all outputs against the pixels the transposes move */
    const long io = (long)s->H * s->W + s->P;
    return same ? rows * cols <= 3 * io : rows * cols <= io;
}

/* One run's 16 outputs of `count` (<= LANES_IMAGES) images: out[i*CP + l]
 * = b0 + sum over the nlive taps of wv[k] * the input at off[k] from the
 * run's 16 input positions, masked by mask[k]. contiguous: those positions
 * are first..first+15 (masked loads); otherwise vbase holds them (gathers). */
#define LANES_IMAGES 4
static inline __attribute__((always_inline)) void
lanes_images(float *out, const float *x, int count, long CP, long CHW, __m512 b0,
             const __m512 *wv, const __mmask16 *mask, const int *off, int nlive, int contiguous,
             int first, __m512i vbase)
{
    __m512 acc[LANES_IMAGES];
    for (int i = 0; i < LANES_IMAGES; i++) acc[i] = b0;
    for (int k = 0; k < nlive; k++) {
        const __m512i idx = _mm512_add_epi32(vbase, _mm512_set1_epi32(off[k]));
        for (int i = 0; i < LANES_IMAGES; i++) {
            if (i >= count) break;
            const float *xi = x + (size_t)i * CHW;
            const __m512 v = contiguous
                                 ? _mm512_maskz_loadu_ps(mask[k], xi + first + off[k])
                                 : _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mask[k], idx, xi, 4);
            acc[i] = _mm512_fmadd_ps(v, wv[k], acc[i]);
        }
    }
    for (int i = 0; i < count; i++) _mm512_storeu_ps(out + (size_t)i * CP, acc[i]);
}

int nn_conv_dw_lanes_forward(float *out, const float *inp, const float *weight, const float *bias,
                             const nn_conv_plan *s)
{
    const long CP = (long)s->C * s->P, CHW = (long)s->C * s->H * s->W;
    const int taps = s->KH * s->KW;
    if (CP % 16 != 0 || taps > CB_MAX_TAPS || CHW >= (1L << 30)) return 0;
    if (!lanes_pay(s)) return 0;
    const long runs = CP / 16;
#pragma omp parallel for schedule(static) if ((long)s->N * CP * taps > LANES_OMP_MIN_WORK)
    for (long q = 0; q < runs; q++) {
        int base[16], ch[16], ih[16], iw[16];
        int contiguous = 1;
        /* lane l is output q*16 + l: channel c, row oh, column ow, stepped
         * without divisions (the setup is repaid over N images only) */
        int chan = (int)(q * 16 / s->P), p = (int)(q * 16 % s->P);
        int oh = p / s->OW, ow = p % s->OW;
        for (int l = 0; l < 16; l++) {
            ch[l] = chan;
            ih[l] = oh * s->SH - s->PH;
            iw[l] = ow * s->SW - s->PW;
            base[l] = (int)(chan * (long)s->H * s->W) + ih[l] * s->W + iw[l];
            if (l > 0 && base[l] != base[0] + l) contiguous = 0;
            if (++ow == s->OW) {
                ow = 0;
                if (++oh == s->OH) oh = 0, chan++;
            }
        }
        const __m512i vbase = _mm512_loadu_si512(base), vch = _mm512_loadu_si512(ch);
        const __m512i vih = _mm512_loadu_si512(ih), viw = _mm512_loadu_si512(iw);
        __m512 wv[CB_MAX_TAPS];
        __mmask16 mask[CB_MAX_TAPS];
        int off[CB_MAX_TAPS], nlive = 0;
        const __m512i vtaps = _mm512_mullo_epi32(vch, _mm512_set1_epi32(taps));
        for (int kh = 0; kh < s->KH; kh++) {
            const __m512i r = _mm512_add_epi32(vih, _mm512_set1_epi32(kh));
            const __mmask16 mh = _mm512_cmpge_epi32_mask(r, _mm512_setzero_si512()) &
                                 _mm512_cmplt_epi32_mask(r, _mm512_set1_epi32(s->H));
            for (int kw = 0; kw < s->KW; kw++) {
                const __m512i c = _mm512_add_epi32(viw, _mm512_set1_epi32(kw));
                const __mmask16 m = mh & _mm512_cmpge_epi32_mask(c, _mm512_setzero_si512()) &
                                    _mm512_cmplt_epi32_mask(c, _mm512_set1_epi32(s->W));
                if (!m) continue;
                const int t = kh * s->KW + kw;
                mask[nlive] = m;
                off[nlive] = kh * s->W + kw;
                wv[nlive] = _mm512_i32gather_ps(_mm512_add_epi32(vtaps, _mm512_set1_epi32(t)),
                                                weight, 4);
                nlive++;
            }
        }
        const __m512 b0 = bias ? _mm512_i32gather_ps(vch, bias, 4) : _mm512_setzero_ps();
        int n = 0;
        /* LANES_IMAGES images at a time: independent accumulators, so the
         * multiply-adds of one image do not wait on the previous one's
         * (a single chain ran at the FMA latency, 4x below throughput) */
        for (; n + LANES_IMAGES <= s->N; n += LANES_IMAGES)
            lanes_images(out + (size_t)n * CP + q * 16, inp + (size_t)n * CHW, LANES_IMAGES, CP,
                         CHW, b0, wv, mask, off, nlive, contiguous, base[0], vbase);
        if (n < s->N)
            lanes_images(out + (size_t)n * CP + q * 16, inp + (size_t)n * CHW, s->N - n, CP, CHW,
                         b0, wv, mask, off, nlive, contiguous, base[0], vbase);
    }
    return 1;
}
#endif
