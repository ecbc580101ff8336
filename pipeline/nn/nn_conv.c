/* nn_conv.c: fast 2-D convolution, forward and backward, and the choice
 * between its paths (conv_plan):
 * - depthwise (groups == C == OC): direct kernels in nn_conv_dw.c.
 * - grouped, stride 1, at most NN_CONV_GROUPED_MAX_CG input channels per
 *   group: Cg depthwise convolutions (nn_conv_grouped.c).
 * - Winograd F(2x2,3x3) for 3x3 stride-1 convolutions of 16 channels and
 *   more (nn_conv_wino.c, which says when): forward, input and weight
 *   gradients; this file drives its units and workspace (wino_layout).
 * - pointwise (1x1, stride 1, no padding): sgemm straight on the NCHW input,
 *   no copy and no workspace: one per image, or one for the whole batch when
 *   the plane is a single pixel (then NCHW is an (N, C) matrix).
 * - im2col: the (Cg*KH*KW, OH*OW) column matrix of each image and group, then
 *   one sgemm. When the output plane is small (OH*OW < BATCH_MAX_PLANE) and
 *   N > 1, up to BATCH_COLUMNS/(OH*OW) images share one column matrix
 *   (K, nb*OH*OW) so sgemm sees a wide N dimension; the product goes to the
 *   workspace and is scattered to NCHW. Small-plane pointwise convolution
 *   takes this path too (its im2col is a plain copy): measured 1.3-1.8x
 *   faster than one narrow sgemm per image (2048->512 at 7x7, N=16).
 *   On larger planes each image's column matrix covers a tile of output
 *   rows, at most TILE_FLOATS floats, one sgemm per tile: the workspace stays
 *   small (7x smaller for ResNet's 64x56x56 layer) and the tile warm in cache
 *   for sgemm (speed within noise of the untiled version).
 * With AVX-512, im2col of tiles under BATCH_MAX_PLANE columns per image goes
 * through masked loads and gathers (im2col_avx), and the forward of
 * convolutions with at most DIRECT_MAX_K inputs per output (the 3-channel
 * stems) skips im2col for a direct kernel (direct_forward); measured at
 * batch 32 on 8x8 .. 1x1 planes: forward / sgemm 0.5 -> 0.8, stems 2-4x.
 * Backward of the im2col path: dweight += dout * col^T (beta = 1), and
 * dinp += col2im(W^T * dout), or at stride 1 dinp += the convolution of
 * dout with the flipped, transposed kernel: im2col of dout and one sgemm
 * straight into dinp (dx_plan), without col2im's scattered adds.
 * Kernel taps that read only padding (3x3 on a 1x1 plane: all but the
 * centre) are dropped from the column matrix: the plan narrows the kernel to
 * the live rows and columns of taps, and the weights (and dweight) go through
 * a compacted copy in the workspace; only when the product has columns
 * enough to repay that copy (drop_dead_taps).
 * The copies around sgemm (im2col, col2im, scatter, gather, compaction) run
 * in parallel with OpenMP, which OpenBLAS shares (its OpenMP build): each
 * output float is written by one thread in a fixed order (col2im is split by
 * image and channel), so every result but sgemm's own is independent of the
 * thread count.
 * With a batch of at least as many units (images, or the images sharing a
 * column matrix) as threads, the threads instead take whole units, each with
 * its own share of the workspace and a one-thread sgemm (plan_slots): small
 * threaded products per image spent most of their time waking and joining
 * the team. Each thread then sums its own dweight, and the sums are added
 * in thread order: the same bits run to run, not across thread counts. */
#include "nn_conv_internal.h"
#include "nn_gemm_skinny.h"

#include "pl_err.h"
#include "pl_threads.h"

#include <cblas.h>
#include <omp.h>
#include <string.h>

#define BATCH_MAX_PLANE 256  /* OH*OW below which images share a column matrix */
#define BATCH_COLUMNS   1024 /* target column count of a shared column matrix  */
#define TILE_FLOATS     (1 << 18) /* column matrix size per tile on large planes */
#define LANES           16   /* independent partial sums in reductions         */
#define OMP_MIN_COPY    32768 /* floats below which a copy loop stays serial   */
#define COMPACT_MIN_GAIN 64   /* multiply-adds saved per weight copied, at least */
#define NN_CONV_AVX_MAX_K 16
/* Keeps gcc from turning short copy loops into memcpy/memset calls. */
#if defined(__GNUC__) && !defined(__clang__)
#define NO_MEMCPY_IDIOM __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define NO_MEMCPY_IDIOM
#endif  /* kernel sizes im2col_avx handles              */

/* Live taps [*lo, *hi) along one axis: those that read the input for some
 * output index (dead taps inside the range stay). *lo == *hi when none. */
static void live_taps(int k, int out_len, int in_len, int stride, int pad, int *lo, int *hi)
{
    *lo = k, *hi = 0;
    for (int t = 0; t < k; t++) {
        int a, b;
        nn_conv_valid_range(out_len, in_len, stride, t - pad, &a, &b);
        if (a < b) {
            if (t < *lo) *lo = t;
            *hi = t + 1;
        }
    }
    if (*lo > *hi) *lo = *hi;
}

/* Narrows the plan's kernel to its live taps (see the file comment) when
 * the multiply-adds this saves sgemm, N*P*OCg*Cg*(dead taps), outweigh
 * copying the live weights, OCg*Cg*(live taps), by COMPACT_MIN_GAIN: a
 * multiply-add costs far less than a gathered copy, and on a few columns
 * (batch 1 on a 3x3 plane) the copy cost 5x the product it shortened. A
 * single live tap (a kernel on a 1x1 plane) is always kept alone: its copy
 * is one strided gather, and the column matrix it spares is the bigger. */
static void drop_dead_taps(nn_conv_plan *s)
{
    /* One image on at most NN_SKINNY_USED_N output pixels: the one-column
     * product streams the whole weight once (nn_gemm_skinny.h), and its
     * multiply-adds on the dead taps' zero rows cost less than a compacted
     * copy, which reads the whole weight too (measured: the copy alone took
     * 41% of ResNet18's inference at 32x32). */
    if (s->N == 1 && s->P <= NN_SKINNY_USED_N) return;
    int h0, h1, w0, w1;
    live_taps(s->KH, s->OH, s->H, s->SH, s->PH, &h0, &h1);
    live_taps(s->KW, s->OW, s->W, s->SW, s->PW, &w0, &w1);
    if (h0 == h1 || w0 == w1) return; /* output is the bias alone: keep the zeros */
    if (h1 - h0 == s->KH && w1 - w0 == s->KW) return;
    const long live = (long)(h1 - h0) * (w1 - w0), dead = (long)s->KH * s->KW - live;
    if (live > 1 && (long)s->N * s->P * dead < COMPACT_MIN_GAIN * live) return;
    s->kh0 = h0, s->kw0 = w0;
    s->KH = h1 - h0, s->KW = w1 - w0;
    s->PH -= h0, s->PW -= w0;
    s->K = s->Cg * s->KH * s->KW;
    s->compact = 1;
}

/* Sets s->slots (see nn_conv_internal.h) from the thread count: with at
 * least as many units as threads, one unit per thread. Measured on
 * ResNet18's 64x32x32 3x3 convolution at batch 64, 2 threads: one threaded
 * sgemm per image ran at 40 GFLOP/s, slower than one thread (85): each
 * call's product is too small to repay waking and joining the team. On the
 * im2col path the units are then evened out (images per unit lowered) so
 * that the threads get equal shares. */
static void plan_slots(nn_conv_plan *s)
{
    s->slots = 1;
    const int threads = pl_threads_get();
    if (threads < 2 || s->N < 2 || s->path == NN_CONV_DEPTHWISE || s->path == NN_CONV_GROUPED)
        return;
    if (s->path == NN_CONV_POINTWISE) {
        if (s->P > 1) s->slots = threads < s->N ? threads : s->N;
        return;
    }
    int units = (s->N + s->batch - 1) / s->batch;
    if (units < threads) return;
    s->slots = threads;
    units = (units + threads - 1) / threads * threads;
    if (units > s->N) units = s->N;
    s->batch = (s->N + units - 1) / units;
}

/* Output rows per tile so that a column matrix of k rows holds about
 * TILE_FLOATS floats: between 1 and out_h. */
static int tile_rows_for(int k, int out_w, int out_h)
{
    long rows = TILE_FLOATS / ((long)k * out_w);
    return rows < 1 ? 1 : rows < out_h ? (int)rows : out_h;
}

static nn_conv_plan dx_plan(const nn_conv_plan *s);

/* Winograd takes the convolution when it takes both the forward and the
 * input gradient's convolution (dx_plan). */
static int wino_fits(const nn_conv_plan *s)
{
    if (!nn_conv_wino_fits(s)) return 0;
    const nn_conv_plan t = dx_plan(s);
    return nn_conv_wino_fits(&t);
}

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
    s.tile_rows = s.OH;
    s.FKH = s.KH, s.FKW = s.KW, s.kh0 = s.kw0 = 0, s.FK = s.K, s.compact = 0;
    s.slots = 1, s.dx_conv = 0, s.dx_tile_rows = s.H, s.wino = 0;
    if (s.G == C && OC == C) {
        s.path = NN_CONV_DEPTHWISE;
    } else if (s.G > 1 && s.Cg <= NN_CONV_GROUPED_MAX_CG && s.SH == 1 && s.SW == 1) {
        s.path = NN_CONV_GROUPED;
    } else if (pointwise && (s.P == 1 || !small_plane)) {
        s.path = NN_CONV_POINTWISE;
    } else {
        /* small planes, pointwise included: the copy into a shared column
         * matrix costs less than sgemm loses on a narrow N */
        s.path = NN_CONV_IM2COL;
        s.wino = wino_fits(&s);
        if (!s.wino) drop_dead_taps(&s);
        if (small_plane) {
            int want = (BATCH_COLUMNS + s.P - 1) / s.P;
            s.batch = want < N ? want : N;
        } else {
            s.tile_rows = tile_rows_for(s.K, s.OW, s.OH);
        }
    }
    s.dx_conv = s.path == NN_CONV_IM2COL && s.SH == 1 && s.SW == 1;
    plan_slots(&s);
    if (s.dx_conv && s.batch == 1) s.dx_tile_rows = tile_rows_for(s.OCg * s.KH * s.KW, s.W, s.H);
    return s;
}

/* The plan of dinp, for one group, as a forward convolution of dout: its
 * OCg channels of OH x OW planes, the kernel flipped and transposed
 * (flip_transpose), padding KH-1-PH and KW-1-PW, stride 1, Cg output
 * channels of H x W. Then dinp[ih] = sum over taps of w[kh] dout[ih+PH-kh]
 * is a plain im2col and one sgemm into dinp, without col2im's scattered
 * adds (measured: col2im 13% of the experiments' ResNet18 training step). */
static nn_conv_plan dx_plan(const nn_conv_plan *s)
{
    nn_conv_plan t = *s;
    t.C = s->OC, t.OC = s->C, t.Cg = s->OCg, t.OCg = s->Cg;
    t.H = s->OH, t.W = s->OW, t.OH = s->H, t.OW = s->W;
    t.PH = s->KH - 1 - s->PH, t.PW = s->KW - 1 - s->PW;
    t.K = s->OCg * s->KH * s->KW;
    t.P = s->H * s->W;
    t.tile_rows = s->dx_tile_rows;
    return t;
}

/* Workspace layout. im2col path: the compacted weight and dweight of one
 * group ((OCg,K) each, when s->compact) and the flipped, transposed weight
 * of one group ((Cg, OCg*KH*KW), when s->dx_conv); then for each slot its
 * column matrix (the larger of the forward's (K, cols) and dx_plan's) and,
 * when images share it, the product, gathered dout or dinp product (the
 * largest of the three); then, with several slots, each slot's partial
 * dweight (OCg, K). Pointwise path with several slots: each slot's partial
 * dweight (OC, Cg). */
/* Columns of one unit's column matrix. */
static size_t plan_columns(const nn_conv_plan *s) { return (size_t)s->batch * s->tile_rows * s->OW; }
static size_t shared_floats(const nn_conv_plan *s)
{
    return (s->compact ? 2 * (size_t)s->OCg * s->K : 0) + (s->dx_conv ? (size_t)s->OCg * s->K : 0);
}
static size_t max_size(size_t a, size_t b) { return a > b ? a : b; }
static size_t slot_col_floats(const nn_conv_plan *s)
{
    size_t fwd = (size_t)s->K * plan_columns(s);
    if (!s->dx_conv) return fwd;
    return max_size(fwd, (size_t)s->OCg * s->KH * s->KW * s->batch * s->dx_tile_rows * s->W);
}
static size_t slot_prod_floats(const nn_conv_plan *s)
{
    if (s->batch == 1) return 0;
    return max_size((size_t)s->OCg * plan_columns(s), (size_t)s->Cg * s->batch * s->H * s->W);
}
static size_t slot_floats(const nn_conv_plan *s) { return slot_col_floats(s) + slot_prod_floats(s); }
static size_t partial_floats(const nn_conv_plan *s)
{
    if (s->slots < 2) return 0;
    return s->path == NN_CONV_POINTWISE ? (size_t)s->OC * s->Cg : (size_t)s->OCg * s->K;
}

/* Winograd path, offsets into the workspace: U (16, OC, C), then for the
 * backward the flipped, transposed weight wt (C, OC, 3, 3), dx_plan's Ut
 * (16, C, OC) and dU (16, OC, C); then each slot's share (the larger of the
 * forward's and dx_plan's), then with several slots each slot's partial dU;
 * `end` is the size. */
typedef struct {
    size_t U, wt, Ut, dU, slots, partials, end;
    size_t per_slot, partial;
} wino_layout;

static wino_layout wino_layout_of(const nn_conv_plan *s)
{
    const nn_conv_plan t = dx_plan(s);
    const size_t u = nn_conv_wino_shared_floats(s);
    wino_layout l;
    l.per_slot = max_size(nn_conv_wino_slot_floats(s), nn_conv_wino_slot_floats(&t));
    l.partial = s->slots > 1 ? u : 0;
    l.U = 0;
    l.wt = l.U + u;
    l.Ut = l.wt + (size_t)9 * s->OC * s->C;
    l.dU = l.Ut + u;
    l.slots = l.dU + u;
    l.partials = l.slots + (size_t)s->slots * l.per_slot;
    l.end = l.partials + (size_t)s->slots * l.partial;
    return l;
}

size_t nn_conv2d_workspace(int N, int C, int H, int W, int OC, const nn_conv_params *p)
{
    nn_conv_plan s = conv_plan(N, C, H, W, OC, p);
    if (s.wino) return wino_layout_of(&s).end;
    if (s.path == NN_CONV_GROUPED) return nn_conv_grouped_floats(&s);
    const size_t partials = (size_t)s.slots * partial_floats(&s);
    if (s.path == NN_CONV_POINTWISE) return partials;
    if (s.path != NN_CONV_IM2COL) return 0;
    return shared_floats(&s) + (size_t)s.slots * slot_floats(&s) + partials;
}

/* dst (n) += the sum of slots partial sums, n floats apart, in slot order. */
static void add_partials(float *dst, const float *partials, int slots, size_t n)
{
#pragma omp parallel for schedule(static) if (n > OMP_MIN_COPY)
    for (size_t j = 0; j < n; j++) {
        float sum = partials[j];
        for (int t = 1; t < slots; t++) sum += partials[(size_t)t * n + j];
        dst[j] += sum;
    }
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

/* wc (OCg, Cg, KH, KW) = the live taps of w (OCg, Cg, FKH, FKW). Plain
 * loops, not gcc's memcpy idiom: the runs are a few floats (2 for a 3x3 kernel
 * on a 2x2 plane at stride 2, 256x2x2->512 measured half the forward in the
 * memcpy calls). */
/* d (KH, KW) = the live taps of one (channel, output channel) kernel s,
 * rows FKW floats apart. */
NO_MEMCPY_IDIOM static inline void compact_row(float *restrict d, const float *restrict s, int FKW,
                                               int KH, int KW)
{
    for (int a = 0; a < KH; a++)
        for (int b = 0; b < KW; b++) d[a * KW + b] = s[a * FKW + b];
}

NO_MEMCPY_IDIOM static void compact_weights(float *restrict wc, const float *restrict w,
                                            const nn_conv_plan *s)
{
    const long rows = (long)s->OCg * s->Cg;
    const int FK = s->FKH * s->FKW, FKW = s->FKW, KH = s->KH, KW = s->KW, taps = KH * KW;
    const float *restrict src = w + s->kh0 * FKW + s->kw0;
    if (taps == 1) {
        /* one live tap (a kernel on a 1x1 plane): a strided gather */
        for (long r = 0; r < rows; r++) wc[r] = src[r * FK];
    } else if (rows * FK <= OMP_MIN_COPY) {
        /* serial outside OpenMP: an outlined loop measured 6x slower here */
        for (long r = 0; r < rows; r++) compact_row(wc + r * taps, src + r * FK, FKW, KH, KW);
    } else {
#pragma omp parallel for schedule(static)
        for (long r = 0; r < rows; r++) compact_row(wc + r * taps, src + r * FK, FKW, KH, KW);
    }
}

/* dw (OCg, Cg, FKH, FKW) += dwc (OCg, Cg, KH, KW) at the live taps. */
static void expand_dweight(float *dw, const float *dwc, const nn_conv_plan *s)
{
    const long rows = (long)s->OCg * s->Cg;
#pragma omp parallel for schedule(static) if (rows * s->KH * s->KW > OMP_MIN_COPY)
    for (long r = 0; r < rows; r++)
        for (int a = 0; a < s->KH; a++) {
            float *d = dw + (size_t)r * s->FKH * s->FKW + (size_t)(s->kh0 + a) * s->FKW + s->kw0;
            const float *src = dwc + ((size_t)r * s->KH + a) * s->KW;
            for (int b = 0; b < s->KW; b++) d[b] += src[b];
        }
}

/* One output row of a column matrix: d[ow] = srow[ow*sw + off] for ow in
 * [lo, hi), zero elsewhere in [0, n). Inline loops, not memcpy: on small
 * planes rows are a few floats long. */
static inline void im2col_row(float *restrict d, const float *restrict srow, int lo, int hi, int n,
                              int sw, int off)
{
    for (int ow = 0; ow < lo; ow++) d[ow] = 0.0f;
    if (sw == 1) {
        const float *restrict src = srow + off;
        for (int ow = lo; ow < hi; ow++) d[ow] = src[ow];
    } else if (sw == 2) {
        const float *restrict src = srow + off;
        for (int ow = lo; ow < hi; ow++) d[ow] = src[2 * ow];
    } else {
        for (int ow = lo; ow < hi; ow++) d[ow] = srow[ow * sw + off];
    }
    for (int ow = hi; ow < n; ow++) d[ow] = 0.0f;
}

#ifdef __AVX512F__
#include <immintrin.h>

/* im2col with AVX-512: the column matrix's columns (image, output pixel) in
 * runs of 16, each run of each row r = (c, kh, kw) one masked load (when the
 * run's 16 input reads are consecutive: stride 1 with OW == W, "same"
 * padding) or one masked gather, lanes in the padding masked to zero. No
 * per-row border loops and no calls for rows of a few floats (small planes:
 * 8x8 and below), which made the scalar im2col cost as much as sgemm there.
 * Runs go in blocks of AVX_RUNS so that each row is written AVX_RUNS*16
 * floats at a time (one run per row at a time walked the rows ldcol floats
 * apart, 4 KB for 1024 columns: every store in one cache set). Same contract
 * as im2col; parallel over blocks. Returns 0 (nothing done) when the indices
 * could overflow int32. */
#define AVX_RUNS 16
static int im2col_avx(float *col, int ldcol, const float *img, size_t img_stride, int nimg,
                      int oh0, int rows, const nn_conv_plan *s)
{
    const int tile = rows * s->OW, HW = s->H * s->W;
    const long total = (long)nimg * tile;
    if ((long)nimg * img_stride + (long)s->Cg * HW >= (1L << 30)) return 0;
    const long blocks = (total + 16 * AVX_RUNS - 1) / (16 * AVX_RUNS);
    const int KH = s->KH, KW = s->KW;
#pragma omp parallel for schedule(static) if ((long)s->K * total > OMP_MIN_COPY)
    for (long blk = 0; blk < blocks; blk++) {
        const long j_lo = blk * 16 * AVX_RUNS;
        const int nruns = (int)((total - j_lo + 15) / 16 < AVX_RUNS ? (total - j_lo + 15) / 16 : AVX_RUNS);
        int base[AVX_RUNS][16];
        int contiguous[AVX_RUNS];
        __mmask16 live[AVX_RUNS], mw[AVX_RUNS][NN_CONV_AVX_MAX_K], mh[AVX_RUNS][NN_CONV_AVX_MAX_K];
        for (int u = 0; u < nruns; u++) {
            const long j0 = j_lo + 16L * u;
            int ih[16], iw[16];
            contiguous[u] = 1;
            for (int l = 0; l < 16; l++) {
                long j = j0 + l < total ? j0 + l : total - 1;
                int i = (int)(j / tile), p = (int)(j % tile);
                int oh = oh0 + p / s->OW, ow = p % s->OW;
                ih[l] = oh * s->SH - s->PH;
                iw[l] = ow * s->SW - s->PW;
                base[u][l] = (int)(i * (long)img_stride) + ih[l] * s->W + iw[l];
                if (l > 0 && base[u][l] != base[u][0] + l) contiguous[u] = 0;
            }
            live[u] = (__mmask16)(total - j0 >= 16 ? 0xffff : (1u << (total - j0)) - 1u);
            const __m512i vih = _mm512_loadu_si512(ih), viw = _mm512_loadu_si512(iw);
            for (int kw = 0; kw < KW; kw++) {
                __m512i c = _mm512_add_epi32(viw, _mm512_set1_epi32(kw));
                mw[u][kw] = _mm512_cmpge_epi32_mask(c, _mm512_setzero_si512()) &
                            _mm512_cmplt_epi32_mask(c, _mm512_set1_epi32(s->W));
            }
            for (int kh = 0; kh < KH; kh++) {
                __m512i r = _mm512_add_epi32(vih, _mm512_set1_epi32(kh));
                mh[u][kh] = live[u] & _mm512_cmpge_epi32_mask(r, _mm512_setzero_si512()) &
                            _mm512_cmplt_epi32_mask(r, _mm512_set1_epi32(s->H));
            }
        }
        float *dst = col + j_lo;
        for (int c = 0; c < s->Cg; c++) {
            const float *plane = img + (size_t)c * HW;
            for (int kh = 0; kh < KH; kh++) {
                for (int kw = 0; kw < KW; kw++, dst += ldcol) {
                    const int off = kh * s->W + kw;
                    for (int u = 0; u < nruns; u++) {
                        const __mmask16 m = mh[u][kh] & mw[u][kw];
                        __m512 v;
                        if (contiguous[u]) {
                            v = _mm512_maskz_loadu_ps(m, plane + base[u][0] + off);
                        } else {
                            __m512i idx = _mm512_add_epi32(_mm512_loadu_si512(base[u]),
                                                           _mm512_set1_epi32(off));
                            v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx, plane, 4);
                        }
                        if (live[u] == 0xffff) {
                            _mm512_storeu_ps(dst + 16 * u, v);
                        } else {
                            _mm512_mask_storeu_ps(dst + 16 * u, live[u], v);
                        }
                    }
                }
            }
        }
    }
    return 1;
}

/* Direct forward for convolutions with few inputs per output (the stems:
 * 3 channels, 3x3, K = 27), where im2col would copy 9 floats per input float
 * for an sgemm with K = 27 that cannot hide it. Per task (image, output row,
 * block of up to 16 output channels): 16 output pixels per vector, one
 * accumulator per output channel; each of the K taps is one input vector
 * (masked load; at column stride 2 two loads and a permute keeping the even
 * lanes) multiplied into every accumulator. */
#define DIRECT_MAX_K    32 /* Cg*KH*KW up to which the direct kernel runs */
#define DIRECT_MIN_OW   8  /* output rows narrower than this waste lanes   */
#define DIRECT_OCB      16 /* output channels per accumulator block       */
#define DIRECT_MAX_CH   32 /* 16-pixel chunks per output row              */

static int direct_fits(const nn_conv_plan *s)
{
    return s->G == 1 && s->K <= DIRECT_MAX_K && s->OW >= DIRECT_MIN_OW &&
           (s->SW == 1 || s->SW == 2) && s->KW <= NN_CONV_AVX_MAX_K &&
           (s->OW + 15) / 16 <= DIRECT_MAX_CH;
}

static inline __attribute__((always_inline)) void
direct_block(float *o /* (ocb, P) at channel ob */, const float *x /* (C,H,W) */,
             const float *w /* (ocb, K) */, const float *bias, int oh, int ow0,
             __mmask16 store, const unsigned long long *m /* (KW) */, const nn_conv_plan *s,
             const int ocb, const int SW)
{
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    __m512 acc[DIRECT_OCB];
    for (int j = 0; j < ocb; j++) acc[j] = _mm512_set1_ps(bias ? bias[j] : 0.0f);
    int kh_lo = s->PH - oh * s->SH, kh_hi = s->H + s->PH - oh * s->SH;
    if (kh_lo < 0) kh_lo = 0;
    if (kh_hi > s->KH) kh_hi = s->KH;
    const size_t HW = (size_t)s->H * s->W;
    for (int c = 0; c < s->Cg; c++) {
        for (int kh = kh_lo; kh < kh_hi; kh++) {
            const float *xrow = x + c * HW + (size_t)(oh * s->SH - s->PH + kh) * s->W;
            for (int kw = 0; kw < s->KW; kw++) {
                const float *src = xrow + ow0 * SW - s->PW + kw;
                __m512 v;
                if (SW == 1) {
                    v = _mm512_maskz_loadu_ps((__mmask16)m[kw], src);
                } else {
                    __m512 lo = _mm512_maskz_loadu_ps((__mmask16)(m[kw] & 0xffff), src);
                    __m512 hi = _mm512_maskz_loadu_ps((__mmask16)(m[kw] >> 16), src + 16);
                    v = _mm512_permutex2var_ps(lo, even, hi);
                }
                const float *wk = w + (c * s->KH + kh) * s->KW + kw;
                for (int j = 0; j < ocb; j++)
                    acc[j] = _mm512_fmadd_ps(v, _mm512_set1_ps(wk[(size_t)j * s->K]), acc[j]);
            }
        }
    }
    float *orow = o + (size_t)oh * s->OW + ow0;
    for (int j = 0; j < ocb; j++) _mm512_mask_storeu_ps(orow + (size_t)j * s->P, store, acc[j]);
}

static void direct_forward(float *out, const float *inp, const float *weight, const float *bias,
                           const nn_conv_plan *s)
{
    const int nch = (s->OW + 15) / 16, oblocks = (s->OC + DIRECT_OCB - 1) / DIRECT_OCB;
    unsigned long long m[DIRECT_MAX_CH * NN_CONV_AVX_MAX_K];
    for (int c = 0; c < nch; c++)
        for (int kw = 0; kw < s->KW; kw++) {
            /* lane i of the load reads column c*16*SW - PW + kw + i */
            const long base = (long)c * 16 * s->SW - s->PW + kw;
            const long span = (long)(s->OW - c * 16) * s->SW;
            unsigned long long mk = 0;
            for (int i = 0; i < 32; i++)
                if (base + i >= 0 && base + i < s->W && i < span) mk |= 1ull << i;
            if (s->SW == 1) mk &= 0xffff;
            m[c * s->KW + kw] = mk;
        }
    const long tasks = (long)s->N * oblocks * s->OH;
    const size_t HW = (size_t)s->H * s->W;
#pragma omp parallel for schedule(static) if ((long)s->N * s->OC * s->P * s->K > 4 * OMP_MIN_COPY)
    for (long t = 0; t < tasks; t++) {
        const int oh = (int)(t % s->OH), ob = (int)(t / s->OH % oblocks) * DIRECT_OCB;
        const int n = (int)(t / s->OH / oblocks);
        const int ocb = s->OC - ob < DIRECT_OCB ? s->OC - ob : DIRECT_OCB;
        const float *x = inp + (size_t)n * s->C * HW;
        const float *w = weight + (size_t)ob * s->K;
        const float *b = bias ? bias + ob : NULL;
        float *o = out + ((size_t)n * s->OC + ob) * s->P;
        for (int c = 0; c < nch; c++) {
            const int ow0 = c * 16;
            const __mmask16 store = (__mmask16)(s->OW - ow0 >= 16 ? 0xffff : (1u << (s->OW - ow0)) - 1u);
            const unsigned long long *mc = m + c * s->KW;
            if (ocb == DIRECT_OCB && s->SW == 2) {
                direct_block(o, x, w, b, oh, ow0, store, mc, s, DIRECT_OCB, 2);
            } else if (ocb == DIRECT_OCB) {
                direct_block(o, x, w, b, oh, ow0, store, mc, s, DIRECT_OCB, 1);
            } else {
                direct_block(o, x, w, b, oh, ow0, store, mc, s, ocb, s->SW);
            }
        }
    }
}
#endif

/* Column matrix of output rows [oh0, oh0+rows) of nimg images for one
 * group: col row r = (c, kh, kw) of ldcol floats, image i at columns
 * [i*rows*OW, (i+1)*rows*OW). Parallel over rows r.
 * col (K, ldcol); img: the group's first channel of the first image, images
 * img_stride floats apart, each (Cg,H,W). */
static void im2col(float *col, int ldcol, const float *img, size_t img_stride, int nimg, int oh0,
                   int rows, const nn_conv_plan *s)
{
#ifdef __AVX512F__
    if (s->KH <= NN_CONV_AVX_MAX_K && s->KW <= NN_CONV_AVX_MAX_K && (size_t)rows * s->OW < BATCH_MAX_PLANE &&
        im2col_avx(col, ldcol, img, img_stride, nimg, oh0, rows, s))
        return;
#endif
    const size_t HW = (size_t)s->H * s->W, tile = (size_t)rows * s->OW;
    const int same_plane = s->OH == s->H && s->OW == s->W && s->SH == 1 && s->SW == 1;
#pragma omp parallel for schedule(static) if ((long)s->K * nimg * tile > OMP_MIN_COPY)
    for (int r = 0; r < s->K; r++) {
        const int c = r / (s->KH * s->KW), kh = r / s->KW % s->KH, kw = r % s->KW;
        const int off = kw - s->PW;
        int lo, hi;
        nn_conv_valid_range(s->OW, s->W, s->SW, off, &lo, &hi);
        for (int i = 0; i < nimg; i++) {
            const float *plane = img + i * img_stride + (size_t)c * HW;
            float *dst = col + (size_t)r * ldcol + i * tile;
            if (same_plane && kh == s->PH && kw == s->PW) {
                /* this tap reads the rows as they are */
                memcpy(dst, plane + (size_t)oh0 * s->W, sizeof(float) * tile);
                continue;
            }
            for (int oh = oh0; oh < oh0 + rows; oh++) {
                float *drow = dst + (size_t)(oh - oh0) * s->OW;
                int ih = oh * s->SH - s->PH + kh;
                if (ih < 0 || ih >= s->H) {
                    for (int ow = 0; ow < s->OW; ow++) drow[ow] = 0.0f;
                    continue;
                }
                im2col_row(drow, plane + (size_t)ih * s->W, lo, hi, s->OW, s->SW, off);
            }
        }
    }
}

/* Inverse of im2col, accumulating: img += col2im(col). Same layouts.
 * Parallel over (image, channel): each input plane is summed by one thread,
 * in the same order whatever the thread count. */
static void col2im_add(float *img, size_t img_stride, int nimg, const float *col, int ldcol,
                       int oh0, int rows, const nn_conv_plan *s)
{
    const size_t HW = (size_t)s->H * s->W, tile = (size_t)rows * s->OW;
    const int taps = s->KH * s->KW;
    const long planes = (long)nimg * s->Cg;
#pragma omp parallel for schedule(static) if ((long)s->K * nimg * tile > OMP_MIN_COPY)
    for (long t = 0; t < planes; t++) {
        const int i = (int)(t / s->Cg), c = (int)(t % s->Cg);
        float *plane = img + i * img_stride + (size_t)c * HW;
        for (int r = c * taps; r < (c + 1) * taps; r++) {
            int kh = r / s->KW % s->KH, kw = r % s->KW;
            const float *src = col + (size_t)r * ldcol + i * tile;
            int off = kw - s->PW, lo, hi;
            nn_conv_valid_range(s->OW, s->W, s->SW, off, &lo, &hi);
            for (int oh = oh0; oh < oh0 + rows; oh++) {
                int ih = oh * s->SH - s->PH + kh;
                if (ih < 0 || ih >= s->H) continue;
                float *restrict irow = plane + (size_t)ih * s->W;
                const float *restrict crow = src + (size_t)(oh - oh0) * s->OW;
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

/* dst: nb images (channels, plane), img_stride floats apart, = prod
 * (channels, nb*plane) + bias (channels, or NULL), or += prod when
 * accumulate. */
static void scatter_product(float *dst, size_t img_stride, const float *prod, const float *bias,
                            int accumulate, int nb, int channels, size_t plane)
{
    const size_t cols = (size_t)nb * plane;
#pragma omp parallel for schedule(static) if ((long)channels * cols > OMP_MIN_COPY)
    for (int c = 0; c < channels; c++) {
        const float b = bias ? bias[c] : 0.0f;
        for (int i = 0; i < nb; i++) {
            const float *restrict src = prod + (size_t)c * cols + (size_t)i * plane;
            float *restrict d = dst + (size_t)i * img_stride + (size_t)c * plane;
            if (accumulate)
                for (size_t j = 0; j < plane; j++) d[j] += src[j];
            else
                for (size_t j = 0; j < plane; j++) d[j] = src[j] + b;
        }
    }
}

/* gathered (OCg, nb*P) = dy: nb images (OCg, P), OC*P floats apart. */
static void gather_dout(float *gathered, const float *dy, int nb, const nn_conv_plan *s)
{
#pragma omp parallel for schedule(static) if ((long)s->OCg * nb * s->P > OMP_MIN_COPY)
    for (int oc = 0; oc < s->OCg; oc++)
        for (int i = 0; i < nb; i++)
            memcpy(gathered + ((size_t)oc * nb + i) * s->P, dy + ((size_t)i * s->OC + oc) * s->P,
                   sizeof(float) * s->P);
}

/* --------------------------------------------------------------- forward */

/* The slot (workspace share) of the calling thread.
 * Loops over units are a parallel loop when s->slots > 1 and a plain loop
 * otherwise, never an if(0) parallel region: libgomp starts new threads on
 * every OpenMP loop and threaded sgemm nested in one, even inactive
 * (measured 1.5-1.8x slower on 4x4 planes at batch 64). */
static float *slot_buf(float *slots, size_t per_slot)
{
    return slots + (size_t)omp_get_thread_num() * per_slot;
}

/* Pointwise forward of image n: out (OC, P) = W inp (C, HW) + bias, by group. */
static void pointwise_forward_image(float *out, const float *inp, const float *weight,
                                    const float *bias, int n, const nn_conv_plan *s)
{
    const size_t HW = (size_t)s->H * s->W;
    const float beta = bias ? 1.0f : 0.0f;
    for (int g = 0; g < s->G; g++) {
        float *o = out + ((size_t)n * s->OC + (size_t)g * s->OCg) * s->P; /* (OCg,P) */
        const float *x = inp + ((size_t)n * s->C + (size_t)g * s->Cg) * HW;
        const float *wg = weight + (size_t)g * s->OCg * s->Cg;
        if (bias) fill_bias(o, bias + (size_t)g * s->OCg, s->OCg, s->P);
        if (nn_gemm_skinny_pays(s->P, s->Cg, (ptrdiff_t)HW))
            nn_gemm_skinny(o, s->P, 1, wg, s->Cg, x, (ptrdiff_t)HW, 1, s->OCg, s->P, s->Cg, beta);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->OCg, s->P, s->Cg, 1.0f, wg,
                        s->Cg, x, (int)HW, beta, o, s->P);
    }
}

/* im2col forward of group g for unit u (images [u*batch, (u+1)*batch) of
 * N); col is this unit's slot of the workspace. wg (OCg, K) compacted when
 * s->compact; bg (OCg) or NULL. */
static void im2col_forward_unit(float *out, const float *inp, const float *wg, const float *bg,
                                int g, int u, float *col, const nn_conv_plan *s)
{
    const int n0 = u * s->batch, nb = s->N - n0 < s->batch ? s->N - n0 : s->batch;
    const size_t HW = (size_t)s->H * s->W;
    const float beta = bg ? 1.0f : 0.0f;
    const float *x = inp + ((size_t)n0 * s->C + (size_t)g * s->Cg) * HW;        /* (nb,Cg,H,W) */
    float *o = out + ((size_t)n0 * s->OC + (size_t)g * s->OCg) * s->P; /* (OCg,P), images OC*P apart */
    if (nb == 1) {
        /* one image, in tiles of output rows */
        if (bg) fill_bias(o, bg, s->OCg, s->P);
        for (int oh0 = 0; oh0 < s->OH; oh0 += s->tile_rows) {
            const int rows = s->OH - oh0 < s->tile_rows ? s->OH - oh0 : s->tile_rows;
            const int cols = rows * s->OW;
            im2col(col, cols, x, (size_t)s->C * HW, 1, oh0, rows, s);
            float *ot = o + (size_t)oh0 * s->OW; /* (OCg, cols), rows P apart */
            if (nn_gemm_skinny_pays(cols, s->K, cols))
                nn_gemm_skinny(ot, s->P, 1, wg, s->K, col, cols, 1, s->OCg, cols, s->K, beta);
            else
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->OCg, cols, s->K, 1.0f,
                            wg, s->K, col, cols, beta, ot, s->P);
        }
        return;
    }
    /* nb images share one column matrix; the product is scattered */
    const int cols = nb * s->P;
    float *prod = col + slot_col_floats(s); /* (OCg, cols) */
    im2col(col, cols, x, (size_t)s->C * HW, nb, 0, s->OH, s);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->OCg, cols, s->K, 1.0f, wg, s->K,
                col, cols, 0.0f, prod, cols);
    scatter_product(o, (size_t)s->OC * s->P, prod, bg, 0, nb, s->OCg, (size_t)s->P);
}

const char *nn_conv2d_method(int N, int C, int H, int W, int OC, const nn_conv_params *p)
{
    const nn_conv_plan s = conv_plan(N, C, H, W, OC, p);
    if (s.path == NN_CONV_DEPTHWISE) return "depthwise";
    if (s.path == NN_CONV_GROUPED) return "grouped";
    if (s.path == NN_CONV_POINTWISE) return "pointwise";
    if (s.wino) return "winograd";
#ifdef __AVX512F__
    if (!s.compact && direct_fits(&s)) return "direct";
#endif
    return "im2col";
}

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
    if (s.path == NN_CONV_GROUPED) {
        if (N > 0) nn_conv_grouped_forward(out, inp, weight, bias, &s, work);
        return;
    }
    const float beta = bias ? 1.0f : 0.0f;
    if (s.path == NN_CONV_POINTWISE && s.P == 1) {
        /* each image is a row of C floats: out (N,OC) = inp (N,C) W^T per group */
        for (int g = 0; g < s.G && N > 0; g++) {
            float *o = out + (size_t)g * s.OCg; /* (N, OCg), rows OC apart */
            for (int n = 0; n < N && bias; n++)
                memcpy(o + (size_t)n * OC, bias + (size_t)g * s.OCg, sizeof(float) * s.OCg);
            const float *x = inp + (size_t)g * s.Cg, *wg = weight + (size_t)g * s.OCg * s.Cg;
            if (nn_gemm_skinny_pays(N, s.Cg, 1)) /* o^T (OCg,N) = W x^T */
                nn_gemm_skinny(o, 1, OC, wg, s.Cg, x, 1, C, s.OCg, N, s.Cg, beta);
            else
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, s.OCg, s.Cg, 1.0f, x, C,
                            wg, s.Cg, beta, o, OC);
        }
        return;
    }
    if (s.path == NN_CONV_POINTWISE) {
        if (s.slots > 1) {
#pragma omp parallel for num_threads(s.slots) schedule(static)
            for (int n = 0; n < N; n++) pointwise_forward_image(out, inp, weight, bias, n, &s);
        } else {
            for (int n = 0; n < N; n++) pointwise_forward_image(out, inp, weight, bias, n, &s);
        }
        return;
    }
#ifdef __AVX512F__
    if (!s.compact && direct_fits(&s)) {
        direct_forward(out, inp, weight, bias, &s);
        return;
    }
#endif
    PL_ASSERT(work);
    if (s.wino) {
        const wino_layout l = wino_layout_of(&s);
        const int units = (N + s.batch - 1) / s.batch;
        float *U = work + l.U, *slots = work + l.slots;
        nn_conv_wino_weights(U, weight, &s);
        if (s.slots > 1) {
#pragma omp parallel for num_threads(s.slots) schedule(static)
            for (int u = 0; u < units; u++)
                nn_conv_wino_unit(out, inp, U, bias, 0, u, slot_buf(slots, l.per_slot), &s);
        } else {
            for (int u = 0; u < units; u++) nn_conv_wino_unit(out, inp, U, bias, 0, u, slots, &s);
        }
        return;
    }
    float *wbuf = work; /* the compacted weight, when s.compact */
    float *slots = work + shared_floats(&s);
    const size_t per_slot = slot_floats(&s);
    const int units = (N + s.batch - 1) / s.batch;
    for (int g = 0; g < s.G && N > 0; g++) {
        const float *wg = weight + (size_t)g * s.OCg * s.FK; /* (OCg,K) */
        const float *bg = bias ? bias + (size_t)g * s.OCg : NULL;
        if (s.compact) {
            compact_weights(wbuf, wg, &s);
            wg = wbuf;
        }
        if (s.slots > 1) {
#pragma omp parallel for num_threads(s.slots) schedule(static)
            for (int u = 0; u < units; u++)
                im2col_forward_unit(out, inp, wg, bg, g, u, slot_buf(slots, per_slot), &s);
        } else {
            for (int u = 0; u < units; u++) im2col_forward_unit(out, inp, wg, bg, g, u, slots, &s);
        }
    }
}

/* -------------------------------------------------------------- backward */

/* Pointwise backward of image n: dw_acc (OC, Cg) += dy x^T, dinp += W^T dy,
 * by group; either may be NULL. */
static void pointwise_backward_image(float *dinp, float *dw_acc, const float *dout,
                                     const float *inp, const float *weight, int n,
                                     const nn_conv_plan *s)
{
    const size_t HW = (size_t)s->H * s->W;
    for (int g = 0; g < s->G; g++) {
        const float *dy = dout + ((size_t)n * s->OC + (size_t)g * s->OCg) * s->P; /* (OCg,P) */
        const float *wg = weight + (size_t)g * s->OCg * s->Cg;                  /* (OCg,Cg) */
        size_t xoff = ((size_t)n * s->C + (size_t)g * s->Cg) * HW;               /* (Cg,HW) */
        if (dw_acc)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s->OCg, s->Cg, s->P, 1.0f, dy,
                        s->P, inp + xoff, (int)HW, 1.0f, dw_acc + (size_t)g * s->OCg * s->Cg,
                        s->Cg);
        if (dinp)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, s->Cg, s->P, s->OCg, 1.0f, wg,
                        s->Cg, dy, s->P, 1.0f, dinp + xoff, (int)HW);
    }
}

/* wt (Cg, OCg, KH, KW) = w (OCg, Cg, KH, KW) with each kernel flipped
 * (dx_plan's kernel, one group). */
static void flip_transpose(float *restrict wt, const float *restrict w, const nn_conv_plan *s)
{
    const int taps = s->KH * s->KW;
#pragma omp parallel for schedule(static) if ((long)s->Cg * s->OCg * taps > OMP_MIN_COPY)
    for (int c = 0; c < s->Cg; c++)
        for (int oc = 0; oc < s->OCg; oc++) {
            const float *src = w + ((size_t)oc * s->Cg + c) * taps;
            float *dst = wt + ((size_t)c * s->OCg + oc) * taps;
            for (int k = 0; k < taps; k++) dst[k] = src[taps - 1 - k];
        }
}

/* dinp of group g, images [n0, n0+nb), += the convolution of their dout
 * with wt (Cg, OCg*KH*KW), by dx_plan. col and prod: the unit's slot. */
static void dinp_as_conv(float *dinp, const float *dout, const float *wt, int g, int n0, int nb,
                         float *col, float *prod, const nn_conv_plan *s)
{
    const nn_conv_plan t = dx_plan(s);
    const size_t HW = (size_t)s->H * s->W;
    const size_t dy_stride = (size_t)s->OC * s->P, dx_stride = (size_t)s->C * HW;
    const float *dy = dout + ((size_t)n0 * s->OC + (size_t)g * s->OCg) * s->P; /* (nb,OCg,OH,OW) */
    float *dx = dinp + ((size_t)n0 * s->C + (size_t)g * s->Cg) * HW;            /* (nb,Cg,H,W) */
    if (nb == 1) {
        for (int ih0 = 0; ih0 < s->H; ih0 += t.tile_rows) {
            const int rows = s->H - ih0 < t.tile_rows ? s->H - ih0 : t.tile_rows;
            const int cols = rows * s->W;
            im2col(col, cols, dy, dy_stride, 1, ih0, rows, &t);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->Cg, cols, t.K, 1.0f, wt, t.K,
                        col, cols, 1.0f, dx + (size_t)ih0 * s->W, (int)HW);
        }
        return;
    }
    const int cols = nb * (int)HW;
    im2col(col, cols, dy, dy_stride, nb, 0, s->H, &t);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->Cg, cols, t.K, 1.0f, wt, t.K, col,
                cols, 0.0f, prod, cols);
    scatter_product(dx, dx_stride, prod, NULL, 1, nb, s->Cg, HW);
}

/* im2col backward of group g for unit u (as the forward's): dw_acc (OCg, K)
 * += dy col^T, and dinp += col2im(W^T dy) or, when s->dx_conv, the
 * convolution of dout with wt (dinp_as_conv); dw_acc or dinp may be NULL.
 * col is this unit's slot of the workspace; wg (OCg, K) compacted when
 * s->compact. */
static void im2col_backward_unit(float *dinp, float *dw_acc, const float *dout, const float *inp,
                                 const float *wg, const float *wt, int g, int u, float *col,
                                 const nn_conv_plan *s)
{
    const int n0 = u * s->batch, nb = s->N - n0 < s->batch ? s->N - n0 : s->batch;
    const size_t HW = (size_t)s->H * s->W;
    const size_t xoff = ((size_t)n0 * s->C + (size_t)g * s->Cg) * HW;
    float *prod = col + slot_col_floats(s);
    const int col2im_dinp = dinp && !s->dx_conv;
    if (dw_acc || col2im_dinp) {
        /* dy: this group's dout as (OCg, nb*P), rows ld_dy apart */
        const float *dy = dout + ((size_t)n0 * s->OC + (size_t)g * s->OCg) * s->P;
        int ld_dy = s->P;
        if (nb > 1) {
            gather_dout(prod, dy, nb, s);
            dy = prod;
            ld_dy = nb * s->P;
        }
        for (int oh0 = 0; oh0 < s->OH; oh0 += s->tile_rows) {
            const int rows = s->OH - oh0 < s->tile_rows ? s->OH - oh0 : s->tile_rows;
            const int cols = nb * rows * s->OW;
            const float *dy_tile = dy + (size_t)oh0 * s->OW; /* oh0 > 0 only when nb == 1 */
            if (dw_acc) {
                im2col(col, cols, inp + xoff, (size_t)s->C * HW, nb, oh0, rows, s);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s->OCg, s->K, cols, 1.0f,
                            dy_tile, ld_dy, col, cols, 1.0f, dw_acc, s->K);
            }
            if (col2im_dinp) {
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, s->K, cols, s->OCg, 1.0f, wg,
                            s->K, dy_tile, ld_dy, 0.0f, col, cols);
                col2im_add(dinp + xoff, (size_t)s->C * HW, nb, col, cols, oh0, rows, s);
            }
        }
    }
    if (dinp && s->dx_conv) dinp_as_conv(dinp, dout, wt, g, n0, nb, col, prod, s);
}

/* Unit u of the Winograd backward: dU_acc (16, OC, C) += its transformed
 * weight gradient, dinp += the convolution of its dout by Ut (dx_plan);
 * either may be NULL. */
static void wino_backward_unit(float *dinp, float *dU_acc, const float *dout, const float *inp,
                               const float *Ut, int u, float *slot, const nn_conv_plan *s)
{
    if (dU_acc) nn_conv_wino_dweight_unit(dU_acc, dout, inp, u, slot, s);
    if (dinp) {
        const nn_conv_plan t = dx_plan(s);
        nn_conv_wino_unit(dinp, dout, Ut, NULL, 1, u, slot, &t);
    }
}

/* Winograd backward (s->wino; one group). */
static void wino_backward(float *dinp, float *dweight, const float *dout, const float *inp,
                          const float *weight, float *work, const nn_conv_plan *s)
{
    const wino_layout l = wino_layout_of(s);
    const int units = (s->N + s->batch - 1) / s->batch;
    float *Ut = work + l.Ut, *dU = work + l.dU, *slots = work + l.slots;
    float *partials = s->slots > 1 && dweight ? work + l.partials : NULL;
    if (dinp) {
        const nn_conv_plan t = dx_plan(s);
        flip_transpose(work + l.wt, weight, s);
        nn_conv_wino_weights(Ut, work + l.wt, &t);
    }
    /* the dU sums: one per slot, or dU alone */
    float *sums = partials ? partials : dU;
    const int count = partials ? s->slots : 1;
    const size_t u_floats = nn_conv_wino_shared_floats(s);
    if (dweight) memset(sums, 0, sizeof(float) * count * u_floats);
    if (s->slots > 1) {
#pragma omp parallel for num_threads(s->slots) schedule(static)
        for (int u = 0; u < units; u++)
            wino_backward_unit(dinp, dweight ? slot_buf(sums, u_floats) : NULL, dout, inp, Ut, u,
                               slot_buf(slots, l.per_slot), s);
    } else {
        for (int u = 0; u < units; u++)
            wino_backward_unit(dinp, dweight ? dU : NULL, dout, inp, Ut, u, slots, s);
    }
    if (dweight) nn_conv_wino_dweight(dweight, sums, count, s);
}

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
    if (s.path == NN_CONV_GROUPED) {
        if (N > 0) nn_conv_grouped_backward(dinp, dweight, dout, inp, weight, &s, work);
        return;
    }
    if (s.path == NN_CONV_POINTWISE && s.P == 1) {
        for (int g = 0; g < s.G && N > 0; g++) {
            const float *dy = dout + (size_t)g * s.OCg; /* (N, OCg), rows OC apart */
            const float *x = inp + (size_t)g * s.Cg;    /* (N, Cg), rows C apart   */
            const float *wg = weight + (size_t)g * s.OCg * s.Cg; /* (OCg,Cg) */
            if (dweight)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, s.OCg, s.Cg, N, 1.0f, dy, OC,
                            x, C, 1.0f, dweight + (size_t)g * s.OCg * s.Cg, s.Cg);
            if (dinp)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, s.Cg, s.OCg, 1.0f, dy, OC,
                            wg, s.Cg, 1.0f, dinp + (size_t)g * s.Cg, C);
        }
        return;
    }
    /* With several slots each accumulates its own dweight, summed after. */
    const size_t partial = partial_floats(&s);
    float *partials = NULL;
    if (s.path == NN_CONV_POINTWISE) {
        if (s.slots > 1 && dweight) {
            PL_ASSERT(work);
            partials = work;
            memset(partials, 0, sizeof(float) * partial * s.slots);
        }
        if (s.slots > 1) {
#pragma omp parallel for num_threads(s.slots) schedule(static)
            for (int n = 0; n < N; n++)
                pointwise_backward_image(dinp, partials ? slot_buf(partials, partial) : NULL, dout,
                                         inp, weight, n, &s);
        } else {
            for (int n = 0; n < N; n++)
                pointwise_backward_image(dinp, dweight, dout, inp, weight, n, &s);
        }
        if (partials) add_partials(dweight, partials, s.slots, partial);
        return;
    }
    PL_ASSERT(work);
    if (s.wino) {
        wino_backward(dinp, dweight, dout, inp, weight, work, &s);
        return;
    }
    float *wbuf = work;                        /* compacted weight, when s.compact */
    float *dwbuf = wbuf + (size_t)s.OCg * s.K; /* compacted dweight                */
    float *wt = work + (s.compact ? 2 * (size_t)s.OCg * s.K : 0); /* when s.dx_conv */
    float *slots = work + shared_floats(&s);
    const size_t per_slot = slot_floats(&s);
    if (s.slots > 1 && dweight) partials = slots + (size_t)s.slots * per_slot;
    const int units = (N + s.batch - 1) / s.batch;
    for (int g = 0; g < s.G && N > 0; g++) {
        const float *wg = weight + (size_t)g * s.OCg * s.FK; /* (OCg,K) */
        float *dwg = dweight ? dweight + (size_t)g * s.OCg * s.FK : NULL;
        if (s.compact) {
            if (dinp) compact_weights(wbuf, wg, &s);
            if (dwg) memset(dwbuf, 0, sizeof(float) * (size_t)s.OCg * s.K);
            wg = wbuf;
        }
        float *dw_acc = s.compact ? dwbuf : dwg; /* (OCg,K), accumulated over units */
        if (partials) memset(partials, 0, sizeof(float) * partial * s.slots);
        if (dinp && s.dx_conv) flip_transpose(wt, wg, &s);
        if (s.slots > 1) {
#pragma omp parallel for num_threads(s.slots) schedule(static)
            for (int u = 0; u < units; u++)
                im2col_backward_unit(dinp, partials ? slot_buf(partials, partial) : NULL, dout, inp,
                                     wg, wt, g, u, slot_buf(slots, per_slot), &s);
        } else {
            for (int u = 0; u < units; u++)
                im2col_backward_unit(dinp, dw_acc, dout, inp, wg, wt, g, u, slots, &s);
        }
        if (partials) add_partials(dw_acc, partials, s.slots, partial);
        if (s.compact && dwg) expand_dweight(dwg, dwbuf, &s);
    }
}
