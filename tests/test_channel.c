/* test_channel.c: concat, channel slice, channel shuffle and accumulate.
 *
 * Checks the exact data layout of each forward (values that encode their
 * source position), the channel-shuffle permutation (C=6, groups 2 gives
 * [0,3,1,4,2,5]), that shuffle backward inverts shuffle forward, every
 * backward against central finite differences of L = sum(out * R) with
 * pre-filled gradients (accumulation; NULL concat gradients skipped), and
 * the parallel accumulate against a serial loop. */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "nn_channel.h"
#include "pl_mem.h"
#include "test_util.h"

/* ---- concat ---- */

enum { CAT_N = 2, CAT_HW = 3, CAT_COUNT = 3, CAT_CTOTAL = 6 };
static const int cat_channels[CAT_COUNT] = {1, 3, 2};

typedef struct {
    float *inps[CAT_COUNT];
    float *weights;
} cat_ctx;

static double cat_loss(void *opaque)
{
    cat_ctx *ctx = opaque;
    float out[CAT_N * CAT_CTOTAL * CAT_HW];
    const float *const inps[CAT_COUNT] = {ctx->inps[0], ctx->inps[1], ctx->inps[2]};
    nn_concat_forward(out, inps, cat_channels, CAT_COUNT, CAT_N, CAT_HW);
    return dot(out, ctx->weights, CAT_N * CAT_CTOTAL * CAT_HW);
}

static void test_concat(void)
{
    enum { OUT = CAT_N * CAT_CTOTAL * CAT_HW, MAXIN = CAT_N * 3 * CAT_HW };
    float in0[CAT_N * 1 * CAT_HW], in1[CAT_N * 3 * CAT_HW], in2[CAT_N * 2 * CAT_HW];
    float *ins[CAT_COUNT] = {in0, in1, in2};
    /* value = 1000*input + 100*n + 10*c + hw */
    for (int i = 0; i < CAT_COUNT; i++) {
        for (int n = 0; n < CAT_N; n++) {
            for (int c = 0; c < cat_channels[i]; c++) {
                for (int s = 0; s < CAT_HW; s++) {
                    ins[i][(n * cat_channels[i] + c) * CAT_HW + s] =
                        (float)(1000 * i + 100 * n + 10 * c + s);
                }
            }
        }
    }
    float out[OUT];
    const float *const cins[CAT_COUNT] = {in0, in1, in2};
    nn_concat_forward(out, cins, cat_channels, CAT_COUNT, CAT_N, CAT_HW);
    /* Output channel -> (input, channel within it). */
    static const int src_input[CAT_CTOTAL] = {0, 1, 1, 1, 2, 2};
    static const int src_channel[CAT_CTOTAL] = {0, 0, 1, 2, 0, 1};
    int ok = 1;
    for (int n = 0; n < CAT_N; n++) {
        for (int c = 0; c < CAT_CTOTAL; c++) {
            for (int s = 0; s < CAT_HW; s++) {
                const float want =
                    (float)(1000 * src_input[c] + 100 * n + 10 * src_channel[c] + s);
                ok &= out[(n * CAT_CTOTAL + c) * CAT_HW + s] == want;
            }
        }
    }
    CHECK(ok, "concat forward layout");

    /* Backward against finite differences, pre-filled. */
    float weights[OUT], d0[CAT_COUNT][MAXIN], d[CAT_COUNT][MAXIN], analytic[MAXIN];
    for (int i = 0; i < CAT_COUNT; i++) {
        fill_uniform(ins[i], (size_t)CAT_N * cat_channels[i] * CAT_HW, -1.0, 1.0);
    }
    fill_uniform(weights, OUT, -1.0, 1.0);
    fill_uniform(&d0[0][0], sizeof d0 / sizeof(float), -0.5, 0.5);
    memcpy(d, d0, sizeof d);
    float *const dinps[CAT_COUNT] = {d[0], d[1], d[2]};
    nn_concat_backward(dinps, weights, cat_channels, CAT_COUNT, CAT_N, CAT_HW);
    cat_ctx ctx = {{in0, in1, in2}, weights};
    for (int i = 0; i < CAT_COUNT; i++) {
        const size_t n = (size_t)CAT_N * cat_channels[i] * CAT_HW;
        char what[32];
        snprintf(what, sizeof what, "concat dinps[%d]", i);
        accumulated_part(analytic, d[i], d0[i], n);
        check_fd(what, cat_loss, &ctx, ins[i], n, analytic, 1e-2, 1e-5, 1e-4);
    }

    /* A NULL entry is skipped; the others get the same result. */
    float e[CAT_COUNT][MAXIN];
    memcpy(e, d0, sizeof e);
    float *const some[CAT_COUNT] = {e[0], NULL, e[2]};
    nn_concat_backward(some, weights, cat_channels, CAT_COUNT, CAT_N, CAT_HW);
    CHECK(memcmp(e[0], d[0], sizeof e[0]) == 0 && memcmp(e[2], d[2], sizeof e[2]) == 0 &&
              memcmp(e[1], d0[1], sizeof e[1]) == 0,
          "concat backward with a NULL entry");
}

/* A concat large enough for the multi-threaded path, round trip through the
 * backward: splitting the concatenation recovers each input exactly. */
static void test_concat_large(void)
{
    enum { N = 4, HW = 256, COUNT = 3 };
    static const int Cs[COUNT] = {16, 32, 8};
    float *ins[COUNT], *backs[COUNT];
    size_t total = 0;
    for (int i = 0; i < COUNT; i++) {
        const size_t n = (size_t)N * Cs[i] * HW;
        ins[i] = pl_xmalloc(n * sizeof(float));
        backs[i] = pl_xcalloc(n, sizeof(float));
        fill_uniform(ins[i], n, -1.0, 1.0);
        total += n;
    }
    float *out = pl_xmalloc(total * sizeof(float));
    const float *const cins[COUNT] = {ins[0], ins[1], ins[2]};
    float *const dinps[COUNT] = {backs[0], backs[1], backs[2]};
    omp_set_num_threads(2);
    nn_concat_forward(out, cins, Cs, COUNT, N, HW);
    nn_concat_backward(dinps, out, Cs, COUNT, N, HW);
    omp_set_num_threads(omp_get_num_procs());
    /* Spot-check the layout: sample n=3, input 1, channel 5, hw 7. */
    const float want = ins[1][(3 * Cs[1] + 5) * HW + 7];
    CHECK(out[(3 * 56 + 16 + 5) * HW + 7] == want, "large concat layout");
    int ok = 1;
    for (int i = 0; i < COUNT; i++) {
        ok &= memcmp(backs[i], ins[i], (size_t)N * Cs[i] * HW * sizeof(float)) == 0;
        pl_free(ins[i]);
        pl_free(backs[i]);
    }
    CHECK(ok, "large concat backward recovers the inputs");
    pl_free(out);
}

/* ---- channel slice ---- */

enum { SL_N = 2, SL_C = 5, SL_HW = 4, SL_OFF = 1, SL_COUNT = 3 };

typedef struct {
    float *inp, *weights;
} slice_ctx;

static double slice_loss(void *opaque)
{
    slice_ctx *ctx = opaque;
    float out[SL_N * SL_COUNT * SL_HW];
    nn_channel_slice_forward(out, ctx->inp, SL_N, SL_C, SL_HW, SL_OFF, SL_COUNT);
    return dot(out, ctx->weights, SL_N * SL_COUNT * SL_HW);
}

static void test_slice(void)
{
    enum { IN = SL_N * SL_C * SL_HW, OUT = SL_N * SL_COUNT * SL_HW };
    float inp[IN], out[OUT];
    for (int i = 0; i < IN; i++) inp[i] = (float)i;
    nn_channel_slice_forward(out, inp, SL_N, SL_C, SL_HW, SL_OFF, SL_COUNT);
    int ok = 1;
    for (int n = 0; n < SL_N; n++) {
        for (int c = 0; c < SL_COUNT; c++) {
            for (int s = 0; s < SL_HW; s++) {
                ok &= out[(n * SL_COUNT + c) * SL_HW + s] ==
                      (float)((n * SL_C + SL_OFF + c) * SL_HW + s);
            }
        }
    }
    CHECK(ok, "channel slice forward layout");

    float weights[OUT], dinp[IN], dinp0[IN], analytic[IN];
    fill_uniform(inp, IN, -1.0, 1.0);
    fill_uniform(weights, OUT, -1.0, 1.0);
    fill_uniform(dinp0, IN, -0.5, 0.5);
    memcpy(dinp, dinp0, sizeof dinp);
    nn_channel_slice_backward(dinp, weights, SL_N, SL_C, SL_HW, SL_OFF, SL_COUNT);
    slice_ctx ctx = {inp, weights};
    accumulated_part(analytic, dinp, dinp0, IN);
    check_fd("channel slice dinp", slice_loss, &ctx, inp, IN, analytic, 1e-2, 1e-5, 1e-4);
}

/* ---- channel shuffle ---- */

enum { SH_N = 2, SH_C = 6, SH_HW = 2, SH_SIZE = SH_N * SH_C * SH_HW };

typedef struct {
    int groups;
    float *inp, *weights;
} shuffle_ctx;

static double shuffle_loss(void *opaque)
{
    shuffle_ctx *ctx = opaque;
    float out[SH_SIZE];
    nn_channel_shuffle_forward(out, ctx->inp, SH_N, SH_C, SH_HW, ctx->groups);
    return dot(out, ctx->weights, SH_SIZE);
}

static void test_shuffle(void)
{
    static const int want_order[2][SH_C] = {{0, 3, 1, 4, 2, 5}, {0, 2, 4, 1, 3, 5}};
    static const int groups_of[2] = {2, 3};
    for (int g = 0; g < 2; g++) {
        const int groups = groups_of[g];
        float inp[SH_SIZE], out[SH_SIZE];
        for (int i = 0; i < SH_SIZE; i++) inp[i] = (float)i; /* (n*C + c)*HW + s */
        nn_channel_shuffle_forward(out, inp, SH_N, SH_C, SH_HW, groups);
        int ok = 1;
        for (int n = 0; n < SH_N; n++) {
            for (int c = 0; c < SH_C; c++) {
                for (int s = 0; s < SH_HW; s++) {
                    ok &= out[(n * SH_C + c) * SH_HW + s] ==
                          (float)((n * SH_C + want_order[g][c]) * SH_HW + s);
                }
            }
        }
        CHECK(ok, "channel shuffle groups=%d permutation", groups);

        /* Backward of a permutation is its inverse: it undoes the forward. */
        float back[SH_SIZE];
        memset(back, 0, sizeof back);
        nn_channel_shuffle_backward(back, out, SH_N, SH_C, SH_HW, groups);
        CHECK(memcmp(back, inp, sizeof back) == 0, "shuffle backward inverts forward (groups=%d)",
              groups);

        float weights[SH_SIZE], dinp[SH_SIZE], dinp0[SH_SIZE], analytic[SH_SIZE];
        fill_uniform(inp, SH_SIZE, -1.0, 1.0);
        fill_uniform(weights, SH_SIZE, -1.0, 1.0);
        fill_uniform(dinp0, SH_SIZE, -0.5, 0.5);
        memcpy(dinp, dinp0, sizeof dinp);
        nn_channel_shuffle_backward(dinp, weights, SH_N, SH_C, SH_HW, groups);
        shuffle_ctx ctx = {groups, inp, weights};
        accumulated_part(analytic, dinp, dinp0, SH_SIZE);
        char what[40];
        snprintf(what, sizeof what, "shuffle groups=%d dinp", groups);
        check_fd(what, shuffle_loss, &ctx, inp, SH_SIZE, analytic, 1e-2, 1e-5, 1e-4);
    }
}

/* ---- accumulate ---- */

static void test_accumulate(void)
{
    const size_t sizes[] = {0, 1, 7, 100000};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        const size_t n = sizes[k];
        float *dst = pl_xmalloc(n * sizeof(float)), *src = pl_xmalloc(n * sizeof(float));
        float *want = pl_xmalloc(n * sizeof(float));
        fill_uniform(dst, n, -1.0, 1.0);
        fill_uniform(src, n, -1.0, 1.0);
        for (size_t i = 0; i < n; i++) want[i] = dst[i] + src[i];
        omp_set_num_threads(2);
        nn_accumulate(dst, src, n);
        omp_set_num_threads(omp_get_num_procs());
        CHECK(n == 0 || memcmp(dst, want, n * sizeof(float)) == 0, "accumulate n=%zu", n);
        pl_free(dst);
        pl_free(src);
        pl_free(want);
    }
}

int main(void)
{
    rng_seed(0x9e3779b97f4a7c15ULL);
    test_concat();
    test_concat_large();
    test_slice();
    test_shuffle();
    test_accumulate();
    return check_summary("test_channel");
}
