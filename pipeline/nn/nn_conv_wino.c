/* nn_conv_wino.c: 3x3 stride-1 convolution by Winograd's minimal filtering
 * F(2x2, 3x3) (Lavin and Gray, 2016): each 2x2 block of outputs ("tile")
 * costs 16 multiply-adds per (input, output) channel pair instead of 36.
 *
 *   Y = A^T [ (G g G^T) (.) (B^T d B) ] A
 *
 * d the tile's 4x4 input patch, g the 3x3 kernel, (.) the elementwise
 * product. The 16 positions xi of the 4x4 transformed domain are 16
 * independent matrix products over channels, one sgemm each:
 *   M[xi] (OC, T) = U[xi] (OC, C) * V[xi] (C, T),
 * U = G g G^T for every (output, input) channel pair (nn_conv_wino_weights),
 * V = B^T d B for every (input channel, tile) (input_transform), and the
 * output tiles are A^T M A (output_transform), assigned with the bias or
 * added to the output.
 *
 * The weight gradient is the adjoint of the same computation:
 *   dU[xi] (OC, C) += dM[xi] (OC, T) * V[xi]^T,  dM = A dY A^T per tile,
 *   dg = G^T dU G      (nn_conv_wino_dweight),
 * exactly the gradient of the forward above, hence of the convolution.
 *
 * A unit is `nb` images sharing the products (small planes, as the im2col
 * path batches them) or one image in bands of `band` tile rows (large
 * planes, so that V and M stay about WINO_FLOATS floats). The plan's fields
 * (nn_conv_internal.h) say which; nn_conv.c drives units and slots. All
 * floats are summed in a fixed order: results do not depend on the thread
 * count. The transforms take 16 tiles per AVX-512 vector: on planes of
 * ROW_MIN_TILES tiles per row or more, tiles of one row (contiguous loads
 * and permutes), else any 16 tiles (gathers and scatters); other builds,
 * and the tests through nn_conv_wino_portable, run portable loops. */
#include "nn_conv_internal.h"

#include "pl_err.h"

#include <cblas.h>
#include <string.h>

#define WINO_FLOATS    (1 << 19) /* V plus M per band on large planes           */
#define WINO_MAX_ROW   1024     /* padded input row, floats (2*tiles + 2)      */
#define WINO_MIN_CH    16       /* input and output channels, at least         */
#define WINO_MIN_PLANE 16       /* output pixels per plane, at least           */
#define WINO_MIN_COLS  64       /* tiles per call, at least (U's cost repaid)   */
#define OMP_MIN_WORK   32768    /* floats below which a transform stays serial */

static int tiles_h(const nn_conv_plan *s) { return (s->OH + 1) / 2; }
static int tiles_w(const nn_conv_plan *s) { return (s->OW + 1) / 2; }

/* Tile rows per pass: all when images share the products, else a band of
 * one image's of about WINO_FLOATS floats of V and M. */
static int wino_band(const nn_conv_plan *s)
{
    const int th = tiles_h(s);
    if (s->batch > 1) return th;
    long rows = WINO_FLOATS / (16L * (s->Cg + s->OCg) * tiles_w(s));
    return rows < 1 ? 1 : rows < th ? (int)rows : th;
}

int nn_conv_wino_fits(const nn_conv_plan *s)
{
    if (s->KH != 3 || s->KW != 3 || s->SH != 1 || s->SW != 1 || s->G != 1) return 0;
    /* planes of fewer than 16 outputs: too few tiles per image, and on 2x2
     * a product of one column per image (measured no faster than im2col) */
    if (s->PH > 2 || s->PW > 2 || s->OH < 2 || s->OW < 2 || s->P < WINO_MIN_PLANE) return 0;
    if (s->Cg < WINO_MIN_CH || s->OCg < WINO_MIN_CH) return 0;
    if (2 * tiles_w(s) + 2 > WINO_MAX_ROW) return 0;
    /* the products must be wide enough to repay transforming U */
    return (long)s->N * tiles_h(s) * tiles_w(s) >= WINO_MIN_COLS;
}

/* Columns (tiles) of one unit's products. */
static size_t unit_cols(const nn_conv_plan *s)
{
    return (size_t)s->batch * wino_band(s) * tiles_w(s);
}

size_t nn_conv_wino_shared_floats(const nn_conv_plan *s) { return 16 * (size_t)s->OCg * s->Cg; }

size_t nn_conv_wino_slot_floats(const nn_conv_plan *s)
{
    return 16 * ((size_t)s->Cg + s->OCg) * unit_cols(s);
}

/* ------------------------------------------------------------- weights */

/* The weight transforms go 16 (output, input) channel pairs at a time: lane
 * loops gcc vectorizes, and each of the 16 rows of U written 16 floats at a
 * time (one pair at a time wrote 16 scattered floats: measured 48% of the
 * forward on 4x4 planes). */
#define PAIRS 16

void nn_conv_wino_weights(float *U /* (16, OC, C) */, const float *w /* (OC, C, 3, 3) */,
                          const nn_conv_plan *s)
{
    const long pairs = (long)s->OCg * s->Cg, blocks = (pairs + PAIRS - 1) / PAIRS;
    const size_t stride = (size_t)pairs;
#pragma omp parallel for schedule(static) if (pairs * 16 > OMP_MIN_WORK)
    for (long blk = 0; blk < blocks; blk++) {
        const long p0 = blk * PAIRS;
        const int n = pairs - p0 < PAIRS ? (int)(pairs - p0) : PAIRS;
        float g[9][PAIRS] = {{0}};
        for (int l = 0; l < n; l++)
            for (int e = 0; e < 9; e++) g[e][l] = w[(p0 + l) * 9 + e];
        float t[4][3][PAIRS]; /* G g */
        for (int j = 0; j < 3; j++)
            for (int l = 0; l < PAIRS; l++) {
                const float g0 = g[j][l], g1 = g[3 + j][l], g2 = g[6 + j][l];
                t[0][j][l] = g0;
                t[1][j][l] = 0.5f * (g0 + g1 + g2);
                t[2][j][l] = 0.5f * (g0 - g1 + g2);
                t[3][j][l] = g2;
            }
        for (int a = 0; a < 4; a++) { /* (G g) G^T */
            float u[4][PAIRS];
            for (int l = 0; l < PAIRS; l++) {
                const float r0 = t[a][0][l], r1 = t[a][1][l], r2 = t[a][2][l];
                u[0][l] = r0;
                u[1][l] = 0.5f * (r0 + r1 + r2);
                u[2][l] = 0.5f * (r0 - r1 + r2);
                u[3][l] = r2;
            }
            for (int b = 0; b < 4; b++) memcpy(U + (a * 4 + b) * stride + p0, u[b], sizeof(float) * n);
        }
    }
}

void nn_conv_wino_dweight(float *dw /* (OC, C, 3, 3) */, const float *dU /* (count, 16, OC, C) */,
                          int count, const nn_conv_plan *s)
{
    const long pairs = (long)s->OCg * s->Cg, blocks = (pairs + PAIRS - 1) / PAIRS;
    const size_t stride = (size_t)pairs;
#pragma omp parallel for schedule(static) if (pairs * 16 > OMP_MIN_WORK)
    for (long blk = 0; blk < blocks; blk++) {
        const long p0 = blk * PAIRS;
        const int n = pairs - p0 < PAIRS ? (int)(pairs - p0) : PAIRS;
        float u[16][PAIRS] = {{0}}; /* the sum of the dU, in order */
        for (int xi = 0; xi < 16; xi++)
            for (int k = 0; k < count; k++) {
                const float *src = dU + (k * 16 + xi) * stride + p0;
                for (int l = 0; l < n; l++) u[xi][l] += src[l];
            }
        float t[4][3][PAIRS]; /* u G: G is 4x3 */
        for (int a = 0; a < 4; a++)
            for (int l = 0; l < PAIRS; l++) {
                const float u0 = u[a * 4][l], u1 = u[a * 4 + 1][l], u2 = u[a * 4 + 2][l];
                const float u3 = u[a * 4 + 3][l];
                t[a][0][l] = u0 + 0.5f * (u1 + u2);
                t[a][1][l] = 0.5f * (u1 - u2);
                t[a][2][l] = 0.5f * (u1 + u2) + u3;
            }
        float g[9][PAIRS]; /* G^T t */
        for (int j = 0; j < 3; j++)
            for (int l = 0; l < PAIRS; l++) {
                g[j][l] = t[0][j][l] + 0.5f * (t[1][j][l] + t[2][j][l]);
                g[3 + j][l] = 0.5f * (t[1][j][l] - t[2][j][l]);
                g[6 + j][l] = 0.5f * (t[1][j][l] + t[2][j][l]) + t[3][j][l];
            }
        for (int l = 0; l < n; l++)
            for (int e = 0; e < 9; e++) dw[(p0 + l) * 9 + e] += g[e][l];
    }
}

/* ---------------------------------------------------------- transforms */

/* The transforms below each cover a "part": nb images, from the first at x
 * (y, dy) with images img_stride floats apart, and their tile rows
 * [ty0, ty0+rows); tile (i, ty, tx) is column (i*rows + ty-ty0)*TW + tx of
 * the transformed matrices, rows ld floats apart. Portable loops here; with
 * AVX-512, 16 tiles per vector (below). */

/* V (16, C, ld) = B^T d B of every tile's 4x4 patch d of x (nb, C, H, W),
 * zero beyond the plane's edges. */
static void input_transform_c(float *V, size_t ld, const float *x, size_t img_stride, int nb,
                              int ty0, int rows, int parallel, const nn_conv_plan *s)
{
    const int TW = tiles_w(s), C = s->Cg;
    const size_t HW = (size_t)s->H * s->W, plane = (size_t)C * ld;
    const long tasks = (long)nb * C * rows;
#pragma omp parallel for schedule(static) if (parallel && tasks * TW * 16 > OMP_MIN_WORK)
    for (long task = 0; task < tasks; task++) {
        const int i = (int)(task / ((long)C * rows)), c = (int)(task / rows % C);
        const int ty = ty0 + (int)(task % rows);
        float d[4][WINO_MAX_ROW]; /* the patch rows, zero-padded */
        const int width = 2 * TW + 2, ih0 = 2 * ty - s->PH;
        for (int r = 0; r < 4; r++) {
            const int ih = ih0 + r;
            float *row = d[r];
            if (ih < 0 || ih >= s->H) {
                memset(row, 0, sizeof(float) * width);
                continue;
            }
            const float *src = x + i * img_stride + c * HW + (size_t)ih * s->W;
            int j = 0;
            for (; j < s->PW; j++) row[j] = 0.0f;
            const int end = s->PW + s->W < width ? s->PW + s->W : width;
            memcpy(row + j, src, sizeof(float) * (end - j));
            for (j = end; j < width; j++) row[j] = 0.0f;
        }
        float *v = V + (size_t)c * ld + ((size_t)i * rows + ty - ty0) * TW;
        for (int tx = 0; tx < TW; tx++) {
            float h[4][4]; /* rows of d B */
            for (int r = 0; r < 4; r++) {
                const float *p = d[r] + 2 * tx;
                h[r][0] = p[0] - p[2];
                h[r][1] = p[1] + p[2];
                h[r][2] = p[2] - p[1];
                h[r][3] = p[1] - p[3];
            }
            for (int b = 0; b < 4; b++) {
                v[(size_t)(0 * 4 + b) * plane + tx] = h[0][b] - h[2][b];
                v[(size_t)(1 * 4 + b) * plane + tx] = h[1][b] + h[2][b];
                v[(size_t)(2 * 4 + b) * plane + tx] = h[2][b] - h[1][b];
                v[(size_t)(3 * 4 + b) * plane + tx] = h[1][b] - h[3][b];
            }
        }
    }
}

/* y (nb, OC, OH, OW) = A^T M A (+ bias), or += when accumulate; M (16, OC, ld). */
static void output_transform_c(float *y, size_t img_stride, int nb, const float *M, size_t ld,
                               const float *bias, int accumulate, int ty0, int rows, int parallel,
                               const nn_conv_plan *s)
{
    const int TW = tiles_w(s), OC = s->OCg;
    const size_t plane = (size_t)OC * ld;
    const long tasks = (long)nb * OC * rows;
#pragma omp parallel for schedule(static) if (parallel && tasks * TW * 16 > OMP_MIN_WORK)
    for (long task = 0; task < tasks; task++) {
        const int i = (int)(task / ((long)OC * rows)), k = (int)(task / rows % OC);
        const int ty = ty0 + (int)(task % rows);
        float o[2][WINO_MAX_ROW];
        const float *m = M + (size_t)k * ld + ((size_t)i * rows + ty - ty0) * TW;
        for (int tx = 0; tx < TW; tx++) {
            float p0[4], p1[4]; /* A^T M */
            for (int b = 0; b < 4; b++) {
                const float m0 = m[(size_t)(0 * 4 + b) * plane + tx];
                const float m1 = m[(size_t)(1 * 4 + b) * plane + tx];
                const float m2 = m[(size_t)(2 * 4 + b) * plane + tx];
                const float m3 = m[(size_t)(3 * 4 + b) * plane + tx];
                p0[b] = m0 + m1 + m2;
                p1[b] = m1 - m2 - m3;
            }
            o[0][2 * tx] = p0[0] + p0[1] + p0[2];
            o[0][2 * tx + 1] = p0[1] - p0[2] - p0[3];
            o[1][2 * tx] = p1[0] + p1[1] + p1[2];
            o[1][2 * tx + 1] = p1[1] - p1[2] - p1[3];
        }
        const float b = bias ? bias[k] : 0.0f;
        for (int r = 0; r < 2 && 2 * ty + r < s->OH; r++) {
            float *dst = y + i * img_stride + (size_t)k * s->P + (size_t)(2 * ty + r) * s->OW;
            if (accumulate)
                for (int j = 0; j < s->OW; j++) dst[j] += o[r][j];
            else
                for (int j = 0; j < s->OW; j++) dst[j] = o[r][j] + b;
        }
    }
}

/* dM (16, OC, ld) = A dY A^T of every 2x2 tile dY of dy (nb, OC, OH, OW),
 * zero beyond its edges. */
static void grad_transform_c(float *dM, size_t ld, const float *dy, size_t img_stride, int nb,
                             int ty0, int rows, int parallel, const nn_conv_plan *s)
{
    const int TW = tiles_w(s), OC = s->OCg;
    const size_t plane = (size_t)OC * ld;
    const long tasks = (long)nb * OC * rows;
#pragma omp parallel for schedule(static) if (parallel && tasks * TW * 16 > OMP_MIN_WORK)
    for (long task = 0; task < tasks; task++) {
        const int i = (int)(task / ((long)OC * rows)), k = (int)(task / rows % OC);
        const int ty = ty0 + (int)(task % rows);
        float e[2][WINO_MAX_ROW]; /* the tile rows, zero-padded to 2*TW */
        for (int r = 0; r < 2; r++) {
            const int oh = 2 * ty + r;
            if (oh >= s->OH) {
                memset(e[r], 0, sizeof(float) * 2 * TW);
                continue;
            }
            memcpy(e[r], dy + i * img_stride + (size_t)k * s->P + (size_t)oh * s->OW,
                   sizeof(float) * s->OW);
            if (s->OW < 2 * TW) e[r][s->OW] = 0.0f;
        }
        float *m = dM + (size_t)k * ld + ((size_t)i * rows + ty - ty0) * TW;
        for (int tx = 0; tx < TW; tx++) {
            /* A is 4x2: rows (1,0), (1,1), (1,-1), (0,-1) */
            const float y00 = e[0][2 * tx], y01 = e[0][2 * tx + 1];
            const float y10 = e[1][2 * tx], y11 = e[1][2 * tx + 1];
            const float q[4][2] = {{y00, y01}, {y00 + y10, y01 + y11}, {y00 - y10, y01 - y11}, {-y10, -y11}};
            for (int a = 0; a < 4; a++) {
                m[(size_t)(a * 4 + 0) * plane + tx] = q[a][0];
                m[(size_t)(a * 4 + 1) * plane + tx] = q[a][0] + q[a][1];
                m[(size_t)(a * 4 + 2) * plane + tx] = q[a][0] - q[a][1];
                m[(size_t)(a * 4 + 3) * plane + tx] = -q[a][1];
            }
        }
    }
}

int nn_conv_wino_portable = 0;

#ifdef __AVX512F__
#include <immintrin.h>

/* Where 16 consecutive tiles of a part lie: lane l is tile t0 + l (lanes
 * past the part's cols tiles are dead: `live`); org: offset of its first
 * row and column (2ty - pad_h, 2tx - pad_w) from the first image's plane,
 * images img_stride floats apart; mh[r], mw[j]: the lanes whose row r,
 * column j of the window (r, j < 4) lie on the H x W plane. */
typedef struct {
    __m512i org;
    __mmask16 live, mh[4], mw[4];
} tile_block;

static tile_block block_at(long t0, long cols, size_t img_stride, int ty0, int rows, int pad_h,
                           int pad_w, int H, int W, int TW)
{
    tile_block b;
    int org[16], ih[16], iw[16];
    for (int l = 0; l < 16; l++) {
        const long t = t0 + l < cols ? t0 + l : cols - 1;
        const int i = (int)(t / ((long)rows * TW)), rem = (int)(t % ((long)rows * TW));
        ih[l] = 2 * (ty0 + rem / TW) - pad_h;
        iw[l] = 2 * (rem % TW) - pad_w;
        org[l] = (int)(i * (long)img_stride) + ih[l] * W + iw[l];
    }
    b.live = (__mmask16)(cols - t0 >= 16 ? 0xffff : (1u << (cols - t0)) - 1u);
    b.org = _mm512_loadu_si512(org);
    const __m512i vih = _mm512_loadu_si512(ih), viw = _mm512_loadu_si512(iw);
    const __m512i zero = _mm512_setzero_si512();
    for (int r = 0; r < 4; r++) {
        const __m512i a = _mm512_add_epi32(vih, _mm512_set1_epi32(r));
        b.mh[r] = b.live & _mm512_cmpge_epi32_mask(a, zero) &
                  _mm512_cmplt_epi32_mask(a, _mm512_set1_epi32(H));
        const __m512i c = _mm512_add_epi32(viw, _mm512_set1_epi32(r));
        b.mw[r] = _mm512_cmpge_epi32_mask(c, zero) & _mm512_cmplt_epi32_mask(c, _mm512_set1_epi32(W));
    }
    return b;
}

/* Offsets of the part's images fit int32 (the gathers' indices). */
static int offsets_fit(size_t img_stride, int nb, size_t image)
{
    return (double)img_stride * nb + (double)image < (double)(1L << 30);
}

static void input_transform_avx(float *V, size_t ld, const float *x, size_t img_stride, int nb,
                                int ty0, int rows, int parallel, const nn_conv_plan *s)
{
    const int TW = tiles_w(s), C = s->Cg, W = s->W;
    const size_t HW = (size_t)s->H * W, plane = (size_t)C * ld;
    const long cols = (long)nb * rows * TW, blocks = (cols + 15) / 16;
#pragma omp parallel for schedule(static) if (parallel && cols * C * 16 > OMP_MIN_WORK)
    for (long blk = 0; blk < blocks; blk++) {
        const tile_block b = block_at(blk * 16, cols, img_stride, ty0, rows, s->PH, s->PW, s->H,
                                      W, TW);
        float *v = V + blk * 16;
        for (int c = 0; c < C; c++, v += ld) {
            const float *xc = x + c * HW;
            __m512 d[4][4];
            for (int r = 0; r < 4; r++)
                for (int j = 0; j < 4; j++)
                    d[r][j] = _mm512_mask_i32gather_ps(
                        _mm512_setzero_ps(), b.mh[r] & b.mw[j],
                        _mm512_add_epi32(b.org, _mm512_set1_epi32(r * W + j)), xc, 4);
            __m512 h[4][4];
            for (int r = 0; r < 4; r++) {
                h[r][0] = _mm512_sub_ps(d[r][0], d[r][2]);
                h[r][1] = _mm512_add_ps(d[r][1], d[r][2]);
                h[r][2] = _mm512_sub_ps(d[r][2], d[r][1]);
                h[r][3] = _mm512_sub_ps(d[r][1], d[r][3]);
            }
            for (int j = 0; j < 4; j++) {
                _mm512_mask_storeu_ps(v + (0 * 4 + j) * plane, b.live, _mm512_sub_ps(h[0][j], h[2][j]));
                _mm512_mask_storeu_ps(v + (1 * 4 + j) * plane, b.live, _mm512_add_ps(h[1][j], h[2][j]));
                _mm512_mask_storeu_ps(v + (2 * 4 + j) * plane, b.live, _mm512_sub_ps(h[2][j], h[1][j]));
                _mm512_mask_storeu_ps(v + (3 * 4 + j) * plane, b.live, _mm512_sub_ps(h[1][j], h[3][j]));
            }
        }
    }
}

static void output_transform_avx(float *y, size_t img_stride, int nb, const float *M, size_t ld,
                                 const float *bias, int accumulate, int ty0, int rows,
                                 int parallel, const nn_conv_plan *s)
{
    const int TW = tiles_w(s), OC = s->OCg, OW = s->OW;
    const size_t plane = (size_t)OC * ld;
    const long cols = (long)nb * rows * TW, blocks = (cols + 15) / 16;
#pragma omp parallel for schedule(static) if (parallel && cols * OC * 16 > OMP_MIN_WORK)
    for (long blk = 0; blk < blocks; blk++) {
        /* the output window: 2x2 at (2ty, 2tx), no padding */
        const tile_block b = block_at(blk * 16, cols, img_stride, ty0, rows, 0, 0, s->OH, OW, TW);
        const __mmask16 m[2][2] = {{b.mh[0] & b.mw[0], b.mh[0] & b.mw[1]},
                                   {b.mh[1] & b.mw[0], b.mh[1] & b.mw[1]}};
        const __mmask16 live = b.live; /* loads stop at the matrix's last column */
        const float *mk = M + blk * 16;
        for (int k = 0; k < OC; k++, mk += ld) {
            __m512 p0[4], p1[4];
            for (int j = 0; j < 4; j++) {
                const __m512 m0 = _mm512_maskz_loadu_ps(live, mk + (0 * 4 + j) * plane);
                const __m512 m1 = _mm512_maskz_loadu_ps(live, mk + (1 * 4 + j) * plane);
                const __m512 m2 = _mm512_maskz_loadu_ps(live, mk + (2 * 4 + j) * plane);
                const __m512 m3 = _mm512_maskz_loadu_ps(live, mk + (3 * 4 + j) * plane);
                p0[j] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
                p1[j] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
            }
            __m512 o[2][2];
            o[0][0] = _mm512_add_ps(_mm512_add_ps(p0[0], p0[1]), p0[2]);
            o[0][1] = _mm512_sub_ps(_mm512_sub_ps(p0[1], p0[2]), p0[3]);
            o[1][0] = _mm512_add_ps(_mm512_add_ps(p1[0], p1[1]), p1[2]);
            o[1][1] = _mm512_sub_ps(_mm512_sub_ps(p1[1], p1[2]), p1[3]);
            float *yk = y + (size_t)k * s->P;
            const __m512 bk = _mm512_set1_ps(bias ? bias[k] : 0.0f);
            for (int r = 0; r < 2; r++)
                for (int j = 0; j < 2; j++) {
                    const __m512i idx = _mm512_add_epi32(b.org, _mm512_set1_epi32(r * OW + j));
                    __m512 v = o[r][j];
                    if (accumulate)
                        v = _mm512_add_ps(v, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m[r][j],
                                                                      idx, yk, 4));
                    else
                        v = _mm512_add_ps(v, bk);
                    _mm512_mask_i32scatter_ps(yk, m[r][j], idx, v, 4);
                }
        }
    }
}

static void grad_transform_avx(float *dM, size_t ld, const float *dy, size_t img_stride, int nb,
                               int ty0, int rows, int parallel, const nn_conv_plan *s)
{
    const int TW = tiles_w(s), OC = s->OCg, OW = s->OW;
    const size_t plane = (size_t)OC * ld;
    const long cols = (long)nb * rows * TW, blocks = (cols + 15) / 16;
#pragma omp parallel for schedule(static) if (parallel && cols * OC * 16 > OMP_MIN_WORK)
    for (long blk = 0; blk < blocks; blk++) {
        const tile_block b = block_at(blk * 16, cols, img_stride, ty0, rows, 0, 0, s->OH, OW, TW);
        float *mk = dM + blk * 16;
        for (int k = 0; k < OC; k++, mk += ld) {
            const float *yk = dy + (size_t)k * s->P;
            __m512 e[2][2];
            for (int r = 0; r < 2; r++)
                for (int j = 0; j < 2; j++)
                    e[r][j] = _mm512_mask_i32gather_ps(
                        _mm512_setzero_ps(), b.mh[r] & b.mw[j],
                        _mm512_add_epi32(b.org, _mm512_set1_epi32(r * OW + j)), yk, 4);
            /* q = A dY: rows (1,0), (1,1), (1,-1), (0,-1) */
            __m512 q[4][2];
            for (int j = 0; j < 2; j++) {
                q[0][j] = e[0][j];
                q[1][j] = _mm512_add_ps(e[0][j], e[1][j]);
                q[2][j] = _mm512_sub_ps(e[0][j], e[1][j]);
                q[3][j] = _mm512_sub_ps(_mm512_setzero_ps(), e[1][j]);
            }
            for (int a = 0; a < 4; a++) {
                _mm512_mask_storeu_ps(mk + (a * 4 + 0) * plane, b.live, q[a][0]);
                _mm512_mask_storeu_ps(mk + (a * 4 + 1) * plane, b.live, _mm512_add_ps(q[a][0], q[a][1]));
                _mm512_mask_storeu_ps(mk + (a * 4 + 2) * plane, b.live, _mm512_sub_ps(q[a][0], q[a][1]));
                _mm512_mask_storeu_ps(mk + (a * 4 + 3) * plane, b.live,
                                      _mm512_sub_ps(_mm512_setzero_ps(), q[a][1]));
            }
        }
    }
}

/* Row variants, for planes of at least ROW_MIN_TILES tiles per row: the 16
 * tiles of a vector lie in one tile row, so the patches' columns are
 * contiguous input: two masked loads and a permute per window column
 * instead of a gather (the gathers took 40% of a 64x56x56 forward at batch
 * 1), and the output's two columns interleave into contiguous stores. */
#define ROW_MIN_TILES 8

/* Lanes k of a 16-float load at column c0 whose column lies in [0, width). */
static __mmask16 cols_in(int c0, int width)
{
    const int lo = c0 < 0 ? -c0 : 0, hi = width - c0 < 16 ? width - c0 : 16;
    if (hi <= lo) return 0;
    return (__mmask16)(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

/* Masked 16 floats of row at columns [c0, c0+16) within [0, width). */
static inline __m512 load_cols(const float *row, int c0, int width)
{
    return _mm512_maskz_loadu_ps(cols_in(c0, width), row + c0);
}

static const int EVEN[16] = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30};
static const int ODD[16] = {1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31};
static const int LO[16] = {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23};
static const int HI[16] = {8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};

static void input_transform_rows(float *V, size_t ld, const float *x, size_t img_stride, int nb,
                                 int ty0, int rows, int parallel, const nn_conv_plan *s)
{
    const int TW = tiles_w(s), C = s->Cg, W = s->W, H = s->H, chunks = (TW + 15) / 16;
    const size_t HW = (size_t)H * W, plane = (size_t)C * ld;
    const long tasks = (long)nb * rows * chunks;
    const __m512i even = _mm512_loadu_si512(EVEN), odd = _mm512_loadu_si512(ODD);
#pragma omp parallel for schedule(static) if (parallel && tasks * 16 * C * 16 > OMP_MIN_WORK)
    for (long task = 0; task < tasks; task++) {
        const int chunk = (int)(task % chunks), ty = ty0 + (int)(task / chunks % rows);
        const int i = (int)(task / chunks / rows), tx0 = 16 * chunk;
        const int n = TW - tx0 < 16 ? TW - tx0 : 16;
        const __mmask16 live = (__mmask16)((1u << n) - 1u);
        const int ih0 = 2 * ty - s->PH, c0 = 2 * tx0 - s->PW;
        float *v = V + ((size_t)i * rows + ty - ty0) * TW + tx0;
        const float *xi = x + i * img_stride;
        for (int c = 0; c < C; c++, v += ld) {
            __m512 d[4][4];
            for (int r = 0; r < 4; r++) {
                const int ih = ih0 + r;
                if (ih < 0 || ih >= H) {
                    for (int j = 0; j < 4; j++) d[r][j] = _mm512_setzero_ps();
                    continue;
                }
                const float *row = xi + c * HW + (size_t)ih * W;
                const __m512 a = load_cols(row, c0, W), b = load_cols(row, c0 + 16, W);
                const __m512 a2 = load_cols(row, c0 + 2, W), b2 = load_cols(row, c0 + 18, W);
                d[r][0] = _mm512_permutex2var_ps(a, even, b);
                d[r][1] = _mm512_permutex2var_ps(a, odd, b);
                d[r][2] = _mm512_permutex2var_ps(a2, even, b2);
                d[r][3] = _mm512_permutex2var_ps(a2, odd, b2);
            }
            __m512 h[4][4];
            for (int r = 0; r < 4; r++) {
                h[r][0] = _mm512_sub_ps(d[r][0], d[r][2]);
                h[r][1] = _mm512_add_ps(d[r][1], d[r][2]);
                h[r][2] = _mm512_sub_ps(d[r][2], d[r][1]);
                h[r][3] = _mm512_sub_ps(d[r][1], d[r][3]);
            }
            for (int j = 0; j < 4; j++) {
                _mm512_mask_storeu_ps(v + (0 * 4 + j) * plane, live, _mm512_sub_ps(h[0][j], h[2][j]));
                _mm512_mask_storeu_ps(v + (1 * 4 + j) * plane, live, _mm512_add_ps(h[1][j], h[2][j]));
                _mm512_mask_storeu_ps(v + (2 * 4 + j) * plane, live, _mm512_sub_ps(h[2][j], h[1][j]));
                _mm512_mask_storeu_ps(v + (3 * 4 + j) * plane, live, _mm512_sub_ps(h[1][j], h[3][j]));
            }
        }
    }
}

static void output_transform_rows(float *y, size_t img_stride, int nb, const float *M, size_t ld,
                                  const float *bias, int accumulate, int ty0, int rows,
                                  int parallel, const nn_conv_plan *s)
{
    const int TW = tiles_w(s), OC = s->OCg, OW = s->OW, chunks = (TW + 15) / 16;
    const size_t plane = (size_t)OC * ld;
    const long tasks = (long)nb * rows * chunks;
    const __m512i lo_idx = _mm512_loadu_si512(LO), hi_idx = _mm512_loadu_si512(HI);
#pragma omp parallel for schedule(static) if (parallel && tasks * 16 * OC * 16 > OMP_MIN_WORK)
    for (long task = 0; task < tasks; task++) {
        const int chunk = (int)(task % chunks), ty = ty0 + (int)(task / chunks % rows);
        const int i = (int)(task / chunks / rows), tx0 = 16 * chunk;
        const int ow0 = 2 * tx0, n = TW - tx0 < 16 ? TW - tx0 : 16;
        const __mmask16 live = (__mmask16)((1u << n) - 1u);
        const __mmask16 m_lo = cols_in(ow0, OW), m_hi = cols_in(ow0 + 16, OW);
        const float *mk = M + ((size_t)i * rows + ty - ty0) * TW + tx0;
        float *yi = y + i * img_stride;
        for (int k = 0; k < OC; k++, mk += ld) {
            __m512 p0[4], p1[4];
            for (int j = 0; j < 4; j++) {
                const __m512 m0 = _mm512_maskz_loadu_ps(live, mk + (0 * 4 + j) * plane);
                const __m512 m1 = _mm512_maskz_loadu_ps(live, mk + (1 * 4 + j) * plane);
                const __m512 m2 = _mm512_maskz_loadu_ps(live, mk + (2 * 4 + j) * plane);
                const __m512 m3 = _mm512_maskz_loadu_ps(live, mk + (3 * 4 + j) * plane);
                p0[j] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
                p1[j] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
            }
            const __m512 bk = _mm512_set1_ps(bias ? bias[k] : 0.0f);
            for (int r = 0; r < 2 && 2 * ty + r < s->OH; r++) {
                const __m512 *p = r == 0 ? p0 : p1;
                const __m512 o0 = _mm512_add_ps(_mm512_add_ps(p[0], p[1]), p[2]);
                const __m512 o1 = _mm512_sub_ps(_mm512_sub_ps(p[1], p[2]), p[3]);
                __m512 lo = _mm512_permutex2var_ps(o0, lo_idx, o1);
                __m512 hi = _mm512_permutex2var_ps(o0, hi_idx, o1);
                float *dst = yi + (size_t)k * s->P + (size_t)(2 * ty + r) * OW + ow0;
                if (accumulate) {
                    lo = _mm512_add_ps(lo, _mm512_maskz_loadu_ps(m_lo, dst));
                    hi = _mm512_add_ps(hi, _mm512_maskz_loadu_ps(m_hi, dst + 16));
                } else {
                    lo = _mm512_add_ps(lo, bk);
                    hi = _mm512_add_ps(hi, bk);
                }
                _mm512_mask_storeu_ps(dst, m_lo, lo);
                _mm512_mask_storeu_ps(dst + 16, m_hi, hi);
            }
        }
    }
}

static void grad_transform_rows(float *dM, size_t ld, const float *dy, size_t img_stride, int nb,
                                int ty0, int rows, int parallel, const nn_conv_plan *s)
{
    const int TW = tiles_w(s), OC = s->OCg, OW = s->OW, chunks = (TW + 15) / 16;
    const size_t plane = (size_t)OC * ld;
    const long tasks = (long)nb * rows * chunks;
    const __m512i even = _mm512_loadu_si512(EVEN), odd = _mm512_loadu_si512(ODD);
#pragma omp parallel for schedule(static) if (parallel && tasks * 16 * OC * 16 > OMP_MIN_WORK)
    for (long task = 0; task < tasks; task++) {
        const int chunk = (int)(task % chunks), ty = ty0 + (int)(task / chunks % rows);
        const int i = (int)(task / chunks / rows), tx0 = 16 * chunk;
        const int n = TW - tx0 < 16 ? TW - tx0 : 16, ow0 = 2 * tx0;
        const __mmask16 live = (__mmask16)((1u << n) - 1u);
        float *mk = dM + ((size_t)i * rows + ty - ty0) * TW + tx0;
        const float *yi = dy + i * img_stride;
        for (int k = 0; k < OC; k++, mk += ld) {
            __m512 e[2][2];
            for (int r = 0; r < 2; r++) {
                const int oh = 2 * ty + r;
                if (oh >= s->OH) {
                    e[r][0] = e[r][1] = _mm512_setzero_ps();
                    continue;
                }
                const float *row = yi + (size_t)k * s->P + (size_t)oh * OW;
                const __m512 a = load_cols(row, ow0, OW), b = load_cols(row, ow0 + 16, OW);
                e[r][0] = _mm512_permutex2var_ps(a, even, b);
                e[r][1] = _mm512_permutex2var_ps(a, odd, b);
            }
            __m512 q[4][2]; /* A dY */
            for (int j = 0; j < 2; j++) {
                q[0][j] = e[0][j];
                q[1][j] = _mm512_add_ps(e[0][j], e[1][j]);
                q[2][j] = _mm512_sub_ps(e[0][j], e[1][j]);
                q[3][j] = _mm512_sub_ps(_mm512_setzero_ps(), e[1][j]);
            }
            for (int a = 0; a < 4; a++) {
                _mm512_mask_storeu_ps(mk + (a * 4 + 0) * plane, live, q[a][0]);
                _mm512_mask_storeu_ps(mk + (a * 4 + 1) * plane, live, _mm512_add_ps(q[a][0], q[a][1]));
                _mm512_mask_storeu_ps(mk + (a * 4 + 2) * plane, live, _mm512_sub_ps(q[a][0], q[a][1]));
                _mm512_mask_storeu_ps(mk + (a * 4 + 3) * plane, live,
                                      _mm512_sub_ps(_mm512_setzero_ps(), q[a][1]));
            }
        }
    }
}
#endif

static void input_transform(float *V, size_t ld, const float *x, size_t img_stride, int nb,
                            int ty0, int rows, int parallel, const nn_conv_plan *s)
{
#ifdef __AVX512F__
    if (!nn_conv_wino_portable && tiles_w(s) >= ROW_MIN_TILES) {
        input_transform_rows(V, ld, x, img_stride, nb, ty0, rows, parallel, s);
        return;
    }
    if (!nn_conv_wino_portable && offsets_fit(img_stride, nb, (size_t)s->C * s->H * s->W)) {
        input_transform_avx(V, ld, x, img_stride, nb, ty0, rows, parallel, s);
        return;
    }
#endif
    input_transform_c(V, ld, x, img_stride, nb, ty0, rows, parallel, s);
}

static void output_transform(float *y, size_t img_stride, int nb, const float *M, size_t ld,
                             const float *bias, int accumulate, int ty0, int rows, int parallel,
                             const nn_conv_plan *s)
{
#ifdef __AVX512F__
    if (!nn_conv_wino_portable && tiles_w(s) >= ROW_MIN_TILES) {
        output_transform_rows(y, img_stride, nb, M, ld, bias, accumulate, ty0, rows, parallel, s);
        return;
    }
    if (!nn_conv_wino_portable && offsets_fit(img_stride, nb, (size_t)s->OC * s->P)) {
        output_transform_avx(y, img_stride, nb, M, ld, bias, accumulate, ty0, rows, parallel, s);
        return;
    }
#endif
    output_transform_c(y, img_stride, nb, M, ld, bias, accumulate, ty0, rows, parallel, s);
}

static void grad_transform(float *dM, size_t ld, const float *dy, size_t img_stride, int nb,
                           int ty0, int rows, int parallel, const nn_conv_plan *s)
{
#ifdef __AVX512F__
    if (!nn_conv_wino_portable && tiles_w(s) >= ROW_MIN_TILES) {
        grad_transform_rows(dM, ld, dy, img_stride, nb, ty0, rows, parallel, s);
        return;
    }
    if (!nn_conv_wino_portable && offsets_fit(img_stride, nb, (size_t)s->OC * s->P)) {
        grad_transform_avx(dM, ld, dy, img_stride, nb, ty0, rows, parallel, s);
        return;
    }
#endif
    grad_transform_c(dM, ld, dy, img_stride, nb, ty0, rows, parallel, s);
}

/* --------------------------------------------------------------- units */

/* Images [*n0, *n0 + *nb) of unit u. */
static void unit_images(int u, const nn_conv_plan *s, int *n0, int *nb)
{
    *n0 = u * s->batch;
    *nb = s->N - *n0 < s->batch ? s->N - *n0 : s->batch;
}

/* The 16 products dst[xi] (m, n) = a[xi] (m, k) b[xi] (k, n) (+ dst when
 * beta = 1), in parallel over xi when `parallel` (each a one-thread sgemm
 * inside the team), in turn otherwise. */
static void products(float *dst, int m, int n, int k, const float *a, int trans_b, const float *b,
                     int ldb, float beta, int parallel)
{
    const size_t da = (size_t)m * k, db = (size_t)k * n, dd = (size_t)m * n;
    const CBLAS_TRANSPOSE tb = trans_b ? CblasTrans : CblasNoTrans;
#define PRODUCT(xi)                                                                            \
    cblas_sgemm(CblasRowMajor, CblasNoTrans, tb, m, n, k, 1.0f, a + (xi) * da, k, b + (xi) * db, \
                ldb, beta, dst + (xi) * dd, n)
    if (parallel) {
#pragma omp parallel for schedule(static)
        for (int xi = 0; xi < 16; xi++) PRODUCT(xi);
    } else {
        for (int xi = 0; xi < 16; xi++) PRODUCT(xi);
    }
#undef PRODUCT
}

void nn_conv_wino_unit(float *out, const float *inp, const float *U, const float *bias,
                       int accumulate, int u, float *slot, const nn_conv_plan *s)
{
    const size_t in_stride = (size_t)s->C * s->H * s->W, out_stride = (size_t)s->OC * s->P;
    const int parallel = s->slots == 1, th = tiles_h(s), TW = tiles_w(s);
    int n0, nb;
    unit_images(u, s, &n0, &nb);
    const int band = wino_band(s);
    float *V = slot, *M = slot + 16 * (size_t)s->Cg * unit_cols(s);
    for (int ty0 = 0; ty0 < th; ty0 += band) {
        const int rows = th - ty0 < band ? th - ty0 : band;
        const size_t cols = (size_t)nb * rows * TW;
        input_transform(V, cols, inp + n0 * in_stride, in_stride, nb, ty0, rows, parallel, s);
        products(M, s->OCg, (int)cols, s->Cg, U, 0, V, (int)cols, 0.0f, parallel);
        output_transform(out + n0 * out_stride, out_stride, nb, M, cols, bias, accumulate, ty0,
                         rows, parallel, s);
    }
}

void nn_conv_wino_dweight_unit(float *dU, const float *dout, const float *inp, int u, float *slot,
                               const nn_conv_plan *s)
{
    const size_t in_stride = (size_t)s->C * s->H * s->W, out_stride = (size_t)s->OC * s->P;
    const int parallel = s->slots == 1, th = tiles_h(s), TW = tiles_w(s);
    int n0, nb;
    unit_images(u, s, &n0, &nb);
    const int band = wino_band(s);
    float *V = slot, *dM = slot + 16 * (size_t)s->Cg * unit_cols(s);
    for (int ty0 = 0; ty0 < th; ty0 += band) {
        const int rows = th - ty0 < band ? th - ty0 : band;
        const size_t cols = (size_t)nb * rows * TW;
        input_transform(V, cols, inp + n0 * in_stride, in_stride, nb, ty0, rows, parallel, s);
        grad_transform(dM, cols, dout + n0 * out_stride, out_stride, nb, ty0, rows, parallel, s);
        products(dU, s->OCg, s->Cg, (int)cols, dM, 1, V, (int)cols, 1.0f, parallel);
    }
}
