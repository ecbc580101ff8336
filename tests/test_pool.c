/* test_pool.c: max, average and global average pooling.
 *
 * Checks hand-computed outputs (2x2/2 on 4x4, ceil-mode partial windows with
 * and without padding, count_include_pad divisors), the argmax, the fast
 * kernels against the naive _ref kernels over a grid of shapes, and every
 * backward against central finite differences of L = sum(out * R), with the
 * gradients pre-filled to check accumulation. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "nn_pool.h"
#include "pl_mem.h"
#include "test_util.h"

/* ---- deterministic inputs ---- */

/* Distinct values spaced 0.1 apart in shuffled order: no ties anywhere, so a
 * perturbation of 0.01 never moves a max-pool argmax. */
static void fill_distinct(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] = (float)(0.1 * (double)i - 0.05 * (double)n);
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(rng_uniform() * (double)i);
        float t = x[i - 1];
        x[i - 1] = x[j];
        x[j] = t;
    }
}

static nn_pool_params pool_params(int k, int s, int pad, int ceil_mode, int count_include_pad)
{
    nn_pool_params p = {k, k, s, s, pad, pad, ceil_mode, count_include_pad};
    return p;
}

/* ---- hand-computed cases ---- */

static void test_hand_4x4(void)
{
    float inp[16], out[4];
    int32_t argmax[4];
    for (int i = 0; i < 16; i++) inp[i] = (float)(i + 1);
    const nn_pool_params p = pool_params(2, 2, 0, 0, 1);

    nn_avgpool_forward(out, inp, 1, 1, 4, 4, &p);
    const float want_avg[4] = {3.5f, 5.5f, 11.5f, 13.5f};
    CHECK_ARRAYS_CLOSE(out, want_avg, 4, 0.0, 0.0, "avgpool 4x4 k2 s2");

    nn_maxpool_forward(out, argmax, inp, 1, 1, 4, 4, &p);
    const float want_max[4] = {6, 8, 14, 16};
    CHECK_ARRAYS_CLOSE(out, want_max, 4, 0.0, 0.0, "maxpool 4x4 k2 s2");
    const int32_t want_arg[4] = {5, 7, 13, 15};
    CHECK(memcmp(argmax, want_arg, sizeof want_arg) == 0, "maxpool argmax %d %d %d %d",
          argmax[0], argmax[1], argmax[2], argmax[3]);

    /* Backward through argmax: each window's gradient lands on its max. */
    float dinp[16], dout[4] = {1, 2, 3, 4};
    for (int i = 0; i < 16; i++) dinp[i] = 0.5f;
    nn_maxpool_backward(dinp, dout, argmax, 1, 1, 4, 4, 2, 2);
    CHECK(dinp[5] == 1.5f && dinp[7] == 2.5f && dinp[13] == 3.5f && dinp[15] == 4.5f &&
              dinp[0] == 0.5f && dinp[10] == 0.5f,
          "maxpool backward routes to argmax and accumulates");

    /* Ties: the first maximum in row-major order wins (PyTorch keeps the
     * running max on a strictly greater value); a NaN propagates. */
    float flat[16];
    for (int i = 0; i < 16; i++) flat[i] = 1.0f;
    flat[2] = flat[7] = 2.0f;   /* window (0,1) holds 2 at 2 and at 7 */
    flat[10] = NAN;             /* window (1,1) holds a NaN           */
    nn_maxpool_forward(out, argmax, flat, 1, 1, 4, 4, &p);
    CHECK(argmax[0] == 0 && argmax[1] == 2 && argmax[2] == 8, "maxpool ties: argmax %d %d %d",
          argmax[0], argmax[1], argmax[2]);
    CHECK(isnan(out[3]) && argmax[3] == 10, "maxpool NaN propagates: %g at %d", out[3], argmax[3]);

    /* The same on rows of 20 outputs (the row kernel): all equal, 3x3
     * stride 1 padded, so each window's first in-input element wins; a NaN
     * in column 9 of the middle row wins every window holding it, a later
     * 5 at column 10 does not replace it. */
    {
        float wide[2 * 20];
        int32_t warg[2 * 20];
        float wout[2 * 20];
        for (int i = 0; i < 40; i++) wide[i] = 3.0f;
        const nn_pool_params p3 = pool_params(3, 1, 1, 0, 1);
        nn_maxpool_forward(wout, warg, wide, 1, 1, 2, 20, &p3);
        int first_ok = 1;
        for (int ow = 0; ow < 20; ow++) first_ok &= warg[ow] == (ow > 0 ? ow - 1 : 0);
        CHECK(first_ok, "maxpool ties on a row of 20: each window's first element");
        wide[20 + 9] = NAN;
        wide[20 + 10] = 5.0f;
        nn_maxpool_forward(wout, warg, wide, 1, 1, 2, 20, &p3);
        CHECK(isnan(wout[8]) && warg[8] == 29 && isnan(wout[10]) && warg[10] == 29 &&
                  wout[11] == 5.0f && warg[11] == 30,
              "maxpool NaN on a row of 20: %g at %d, %g at %d, %g at %d", wout[8], warg[8],
              wout[10], warg[10], wout[11], warg[11]);
    }

    /* Global average: means of the two halves 1..8 and 9..16. */
    float g[2];
    nn_global_avgpool_forward(g, inp, 1, 2, 8);
    CHECK(g[0] == 4.5f && g[1] == 12.5f, "global avgpool %g %g", g[0], g[1]);
}

/* H = W = 5, k 2, s 2, ceil: three outputs per axis, the last window holds the
 * single row/column 4 (no padding, so both divisor rules agree). */
static void test_hand_ceil_partial(void)
{
    float inp[25], out[9];
    int32_t argmax[9];
    for (int i = 0; i < 25; i++) inp[i] = (float)(i + 1);
    CHECK(nn_window_out(5, 2, 2, 0, 1) == 3 && nn_window_out(5, 2, 2, 0, 0) == 2,
          "ceil/floor output size for H=5 k=2 s=2");

    const nn_pool_params p = pool_params(2, 2, 0, 1, 1);
    nn_maxpool_forward(out, argmax, inp, 1, 1, 5, 5, &p);
    const float want_max[9] = {7, 9, 10, 17, 19, 20, 22, 24, 25};
    CHECK_ARRAYS_CLOSE(out, want_max, 9, 0.0, 0.0, "maxpool ceil 5x5");
    int arg_ok = 1;
    for (int i = 0; i < 9; i++) arg_ok &= argmax[i] == (int32_t)want_max[i] - 1;
    CHECK(arg_ok, "maxpool ceil 5x5 argmax");

    nn_avgpool_forward(out, inp, 1, 1, 5, 5, &p);
    const float want_avg[9] = {4, 6, 7.5f, 14, 16, 17.5f, 21.5f, 23.5f, 25};
    CHECK_ARRAYS_CLOSE(out, want_avg, 9, 1e-6, 0.0, "avgpool ceil 5x5");
}

/* H = W = 6, k 3, s 2, pad 1, ceil: OH = 4. The last window starts at row 5
 * and reaches one padded row: pool_size 2 per axis, 1 inside the input. */
static void test_hand_ceil_padded(void)
{
    float inp[36], out[16];
    int32_t argmax[16];
    for (int i = 0; i < 36; i++) inp[i] = (float)(i + 1);
    CHECK(nn_window_out(6, 3, 2, 1, 1) == 4 && nn_window_out(6, 3, 2, 1, 0) == 3,
          "ceil/floor output size for H=6 k=3 s=2 p=1");
    /* A ceil window starting in the right padding is dropped. */
    CHECK(nn_window_out(5, 2, 2, 1, 1) == 3, "ceil window starting in padding dropped");

    nn_pool_params p = pool_params(3, 2, 1, 1, 1);
    nn_avgpool_forward(out, inp, 1, 1, 6, 6, &p);
    CHECK_CLOSE(out[0], 18.0 / 9.0, 1e-6, 0, "avg include_pad corner (0,0)");
    CHECK_CLOSE(out[3], 18.0 / 6.0, 1e-6, 0, "avg include_pad edge (0,3)");
    CHECK_CLOSE(out[15], 36.0 / 4.0, 1e-6, 0, "avg include_pad corner (3,3)");
    /* Interior window (1,1): rows 1..3, cols 1..3, all inside. */
    CHECK_CLOSE(out[5], (8 + 9 + 10 + 14 + 15 + 16 + 20 + 21 + 22) / 9.0, 1e-6, 0,
                "avg interior (1,1)");

    p.count_include_pad = 0;
    nn_avgpool_forward(out, inp, 1, 1, 6, 6, &p);
    CHECK_CLOSE(out[0], 18.0 / 4.0, 1e-6, 0, "avg exclude_pad corner (0,0)");
    CHECK_CLOSE(out[3], 18.0 / 2.0, 1e-6, 0, "avg exclude_pad edge (0,3)");
    CHECK_CLOSE(out[15], 36.0, 1e-6, 0, "avg exclude_pad corner (3,3)");

    nn_maxpool_forward(out, argmax, inp, 1, 1, 6, 6, &p);
    CHECK(out[15] == 36.0f && argmax[15] == 35, "maxpool ceil padded corner");
    CHECK(out[0] == 8.0f && argmax[0] == 7, "maxpool padded corner (0,0)");

    /* Max pooling pads with -inf: an all-negative input never yields 0. */
    for (int i = 0; i < 36; i++) inp[i] = -(float)(i + 1);
    nn_maxpool_forward(out, argmax, inp, 1, 1, 6, 6, &p);
    CHECK(out[0] == -1.0f && out[15] == -36.0f, "maxpool -inf padding: %g %g", out[0], out[15]);
}

/* ---- fast vs reference over a grid ---- */

static void test_fast_vs_ref(void)
{
    /* widths from 17 give output rows of 8 and more: max pooling's row
     * kernel; narrower ones its window-at-a-time loop */
    const int heights[] = {1, 2, 3, 5, 7};
    const int widths[] = {1, 4, 5, 6, 17, 20};
    enum { MAXN = 2 * 9 * 22 }; /* outputs can outnumber inputs when padded */
    float inp[MAXN], out[MAXN], ref[MAXN];
    int32_t argmax[MAXN];
    int configs = 0, max_bad = 0, avg_bad = 0, arg_bad = 0;
    char first_bad[160] = "";

    for (int kh = 1; kh <= 3; kh++)
    for (int kw = 1; kw <= 3; kw++)
    for (int sh = 1; sh <= 2; sh++)
    for (int sw = 1; sw <= 2; sw++)
    for (int ph = 0; ph <= kh / 2; ph++)
    for (int pw = 0; pw <= kw / 2; pw++)
    for (int ceil_mode = 0; ceil_mode <= 1; ceil_mode++)
    for (int cip = 0; cip <= 1; cip++)
    for (size_t hi = 0; hi < sizeof heights / sizeof *heights; hi++)
    for (size_t wi = 0; wi < sizeof widths / sizeof *widths; wi++) {
        const int H = heights[hi], W = widths[wi], C = 2;
        const nn_pool_params p = {kh, kw, sh, sw, ph, pw, ceil_mode, cip};
        const int OH = nn_window_out(H, kh, sh, ph, ceil_mode);
        const int OW = nn_window_out(W, kw, sw, pw, ceil_mode);
        if (OH <= 0 || OW <= 0) continue;
        configs++;
        const size_t n_in = (size_t)C * H * W, n_out = (size_t)C * OH * OW;
        fill_uniform(inp, n_in, -1.0, 1.0);

        nn_maxpool_forward(out, argmax, inp, 1, C, H, W, &p);
        nn_maxpool_forward_ref(ref, inp, 1, C, H, W, &p);
        int bad = memcmp(out, ref, n_out * sizeof(float)) != 0;
        for (size_t o = 0; o < n_out; o++) {
            const size_t plane = o / ((size_t)OH * OW);
            if (argmax[o] < 0 || argmax[o] >= H * W ||
                inp[plane * H * W + (size_t)argmax[o]] != out[o]) {
                arg_bad++;
                break;
            }
        }
        max_bad += bad;

        nn_avgpool_forward(out, inp, 1, C, H, W, &p);
        nn_avgpool_forward_ref(ref, inp, 1, C, H, W, &p);
        int abad = 0;
        for (size_t o = 0; o < n_out; o++) abad |= !check_close(out[o], ref[o], 1e-6, 1e-5);
        avg_bad += abad;
        if ((bad || abad) && !first_bad[0]) {
            snprintf(first_bad, sizeof first_bad,
                     "H%d W%d k%dx%d s%dx%d p%dx%d ceil%d cip%d (max %d avg %d)", H, W, kh, kw,
                     sh, sw, ph, pw, ceil_mode, cip, bad, abad);
        }
    }
    CHECK(configs > 500, "grid too small: %d configs", configs);
    CHECK(max_bad == 0, "maxpool fast != ref in %d configs, first %s", max_bad, first_bad);
    CHECK(avg_bad == 0, "avgpool fast != ref in %d configs, first %s", avg_bad, first_bad);
    CHECK(arg_bad == 0, "maxpool argmax inconsistent in %d configs", arg_bad);

    /* One shape large enough for the multi-threaded path. */
    const int N = 4, C = 16, H = 33, W = 31;
    const nn_pool_params p = pool_params(3, 2, 1, 1, 1);
    const int OH = nn_window_out(H, 3, 2, 1, 1), OW = nn_window_out(W, 3, 2, 1, 1);
    const size_t n_in = (size_t)N * C * H * W, n_out = (size_t)N * C * OH * OW;
    float *big = pl_xmalloc(n_in * sizeof(float));
    float *big_out = pl_xmalloc(n_out * sizeof(float));
    float *big_ref = pl_xmalloc(n_out * sizeof(float));
    int32_t *big_arg = pl_xmalloc(n_out * sizeof(int32_t));
    fill_uniform(big, n_in, -2.0, 2.0);
    nn_maxpool_forward(big_out, big_arg, big, N, C, H, W, &p);
    nn_maxpool_forward_ref(big_ref, big, N, C, H, W, &p);
    CHECK_ARRAYS_CLOSE(big_out, big_ref, n_out, 0.0, 0.0, "maxpool large fast vs ref");
    nn_avgpool_forward(big_out, big, N, C, H, W, &p);
    nn_avgpool_forward_ref(big_ref, big, N, C, H, W, &p);
    CHECK_ARRAYS_CLOSE(big_out, big_ref, n_out, 1e-6, 1e-5, "avgpool large fast vs ref");
    pl_free(big);
    pl_free(big_out);
    pl_free(big_ref);
    pl_free(big_arg);
}

/* ---- backward against finite differences ---- */

enum { FD_N = 2, FD_C = 2, FD_H = 5, FD_W = 6, FD_IN = FD_N * FD_C * FD_H * FD_W };

typedef struct {
    int kind; /* 0 max, 1 avg, 2 global avg */
    nn_pool_params p;
    int OH, OW;
    float *inp, *out, *weights;
    int32_t *argmax;
} pool_ctx;

static size_t out_count(const pool_ctx *ctx)
{
    return ctx->kind == 2 ? (size_t)FD_N * FD_C : (size_t)FD_N * FD_C * ctx->OH * ctx->OW;
}

static double pool_loss(void *opaque)
{
    pool_ctx *ctx = opaque;
    if (ctx->kind == 0) {
        nn_maxpool_forward(ctx->out, ctx->argmax, ctx->inp, FD_N, FD_C, FD_H, FD_W, &ctx->p);
    } else if (ctx->kind == 1) {
        nn_avgpool_forward(ctx->out, ctx->inp, FD_N, FD_C, FD_H, FD_W, &ctx->p);
    } else {
        nn_global_avgpool_forward(ctx->out, ctx->inp, FD_N, FD_C, FD_H * FD_W);
    }
    return dot(ctx->out, ctx->weights, out_count(ctx));
}

static void fd_pool(const char *what, int kind, nn_pool_params p)
{
    float inp[FD_IN], dinp[FD_IN], before[FD_IN], analytic[FD_IN];
    float out[2 * FD_IN], weights[2 * FD_IN]; /* room for padded outputs */
    int32_t argmax[2 * FD_IN];
    pool_ctx ctx = {kind, p, nn_window_out(FD_H, p.kh, p.sh, p.ph, p.ceil_mode),
                    nn_window_out(FD_W, p.kw, p.sw, p.pw, p.ceil_mode), inp, out, weights,
                    argmax};
    if (out_count(&ctx) > 2 * FD_IN) abort();
    if (kind == 0) {
        fill_distinct(inp, FD_IN);
    } else {
        fill_uniform(inp, FD_IN, -1.0, 1.0);
    }
    fill_uniform(weights, out_count(&ctx), -1.0, 1.0);
    fill_uniform(before, FD_IN, -0.5, 0.5);
    memcpy(dinp, before, sizeof dinp);

    pool_loss(&ctx); /* forward: out and argmax for the backward pass */
    if (kind == 0) {
        nn_maxpool_backward(dinp, weights, argmax, FD_N, FD_C, FD_H, FD_W, ctx.OH, ctx.OW);
    } else if (kind == 1) {
        nn_avgpool_backward(dinp, weights, FD_N, FD_C, FD_H, FD_W, &p);
    } else {
        nn_global_avgpool_backward(dinp, weights, FD_N, FD_C, FD_H * FD_W);
    }
    accumulated_part(analytic, dinp, before, FD_IN);
    check_fd(what, pool_loss, &ctx, inp, FD_IN, analytic, 1e-2, 1e-4, 1e-3);
}

static void test_backward_fd(void)
{
    fd_pool("maxpool k3 s2 p1 ceil dinp", 0, pool_params(3, 2, 1, 1, 1));
    fd_pool("maxpool k2 s1 dinp", 0, pool_params(2, 1, 0, 0, 1));
    fd_pool("maxpool k3 s3 p1 ceil dinp", 0, pool_params(3, 3, 1, 1, 1));
    fd_pool("avgpool k3 s2 p1 ceil include_pad dinp", 1, pool_params(3, 2, 1, 1, 1));
    fd_pool("avgpool k3 s2 p1 ceil exclude_pad dinp", 1, pool_params(3, 2, 1, 1, 0));
    fd_pool("avgpool k2 s2 ceil dinp", 1, pool_params(2, 2, 0, 1, 1));
    fd_pool("avgpool k3 s1 p1 dinp", 1, pool_params(3, 1, 1, 0, 1));
    fd_pool("global avgpool dinp", 2, pool_params(1, 1, 0, 0, 1));
}

int main(void)
{
    rng_seed(0x853c49e6748fea9bULL);
    test_hand_4x4();
    test_hand_ceil_partial();
    test_hand_ceil_padded();
    test_fast_vs_ref();
    test_backward_fd();
    return check_summary("test_pool");
}
