/* test_pointwise.c: activations, broadcast binary ops and dropout.
 *
 * Checks activation values at hand-picked points, the derivatives PyTorch
 * uses at the kinks, every backward against central finite differences of
 * L = sum(out * R) (inputs nudged at least 0.05 away from kinks and ties),
 * accumulation into pre-filled gradients, and dropout's statistics, seeding
 * and independence from the thread count. */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "nn_pointwise.h"
#include "pl_mem.h"
#include "test_util.h"

static const char *const act_names[NN_ACT_COUNT] = {
    "identity", "relu", "relu6", "sigmoid", "hardsigmoid", "hardswish", "tanh"};

/* ---- activation values ---- */

static float act1(nn_act_kind kind, float x)
{
    float y;
    nn_act_forward(kind, &y, &x, 1);
    return y;
}

/* act'(x) as the backward accumulates it from dout = 1 onto dinp = 0. */
static float dact1(nn_act_kind kind, float x)
{
    float y = act1(kind, x), dinp = 0.0f, dout = 1.0f;
    nn_act_backward(kind, &dinp, &dout, &x, &y, 1);
    return dinp;
}

static void test_act_values(void)
{
    const float xs[] = {-4, -3, -1, 0, 1, 3, 4};
    const float want_hswish[] = {0, 0, -1.0f / 3, 0, 2.0f / 3, 3, 4};
    const float want_hsig[] = {0, 0, 1.0f / 3, 0.5f, 2.0f / 3, 1, 1};
    for (int i = 0; i < 7; i++) {
        CHECK_CLOSE(act1(NN_ACT_HARDSWISH, xs[i]), want_hswish[i], 1e-7, 1e-6, "hardswish");
        CHECK_CLOSE(act1(NN_ACT_HARDSIGMOID, xs[i]), want_hsig[i], 1e-7, 1e-6, "hardsigmoid");
    }
    CHECK(act1(NN_ACT_RELU, -1) == 0 && act1(NN_ACT_RELU, 0) == 0 && act1(NN_ACT_RELU, 2) == 2,
          "relu values");
    CHECK(act1(NN_ACT_RELU6, -1) == 0 && act1(NN_ACT_RELU6, 3) == 3 && act1(NN_ACT_RELU6, 7) == 6,
          "relu6 values");
    CHECK(act1(NN_ACT_IDENTITY, -2.5f) == -2.5f, "identity value");
    /* NaN propagates, as in PyTorch (torch.relu(nan) is nan). */
    for (int k = 0; k < NN_ACT_COUNT; k++)
        CHECK(isnan(act1((nn_act_kind)k, NAN)), "%s(NaN) is NaN", act_names[k]);
    CHECK_CLOSE(act1(NN_ACT_SIGMOID, 0), 0.5, 1e-7, 0, "sigmoid(0)");
    CHECK_CLOSE(act1(NN_ACT_SIGMOID, 2), 1.0 / (1.0 + exp(-2.0)), 1e-7, 1e-6, "sigmoid(2)");
    CHECK(act1(NN_ACT_SIGMOID, -200) == 0.0f && act1(NN_ACT_SIGMOID, 200) == 1.0f,
          "sigmoid saturates without NaN");
    CHECK_CLOSE(act1(NN_ACT_TANH, 0.5f), tanh(0.5), 1e-7, 1e-6, "tanh(0.5)");

    /* In place (out == inp). */
    float buf[3] = {-1.0f, 2.0f, 8.0f};
    nn_act_forward(NN_ACT_RELU6, buf, buf, 3);
    CHECK(buf[0] == 0 && buf[1] == 2 && buf[2] == 6, "relu6 in place");
}

/* Derivatives at the kinks, as PyTorch's backward kernels define them. */
static void test_act_kinks(void)
{
    CHECK(dact1(NN_ACT_RELU, 0) == 0 && dact1(NN_ACT_RELU, 1) == 1 && dact1(NN_ACT_RELU, -1) == 0,
          "relu' at 0, 1, -1");
    CHECK(dact1(NN_ACT_RELU6, 0) == 0 && dact1(NN_ACT_RELU6, 6) == 0 &&
              dact1(NN_ACT_RELU6, 3) == 1 && dact1(NN_ACT_RELU6, 7) == 0,
          "relu6' is 1 on (0,6) only");
    CHECK(dact1(NN_ACT_HARDSIGMOID, -3) == 0 && dact1(NN_ACT_HARDSIGMOID, 3) == 0 &&
              dact1(NN_ACT_HARDSIGMOID, 0) == 1.0f / 6.0f,
          "hardsigmoid' is 1/6 on (-3,3) only");
    CHECK(dact1(NN_ACT_HARDSWISH, -3.5f) == 0, "hardswish'(-3.5) = 0");
    CHECK_CLOSE(dact1(NN_ACT_HARDSWISH, -3), -0.5, 1e-7, 0, "hardswish'(-3) = -1/2");
    CHECK_CLOSE(dact1(NN_ACT_HARDSWISH, 0), 0.5, 1e-7, 0, "hardswish'(0) = 1/2");
    CHECK_CLOSE(dact1(NN_ACT_HARDSWISH, 3), 1.5, 1e-7, 0, "hardswish'(3) = 3/2");
    CHECK(dact1(NN_ACT_HARDSWISH, 3.5f) == 1, "hardswish'(3.5) = 1");
    CHECK_CLOSE(dact1(NN_ACT_SIGMOID, 0), 0.25, 1e-7, 0, "sigmoid'(0)");
    CHECK_CLOSE(dact1(NN_ACT_TANH, 0), 1.0, 1e-7, 0, "tanh'(0)");
}

/* ---- activation backward against finite differences ---- */

enum { ACT_N = 240 };

typedef struct {
    nn_act_kind kind;
    float *inp, *weights;
} act_ctx;

static double act_loss(void *opaque)
{
    act_ctx *ctx = opaque;
    float out[ACT_N];
    nn_act_forward(ctx->kind, out, ctx->inp, ACT_N);
    return dot(out, ctx->weights, ACT_N);
}

static void test_act_fd(void)
{
    static const float kinks[] = {-3, 0, 3, 6};
    for (int k = 0; k < NN_ACT_COUNT; k++) {
        const nn_act_kind kind = (nn_act_kind)k;
        float inp[ACT_N], out[ACT_N], weights[ACT_N], dinp[ACT_N], dinp0[ACT_N];
        float analytic[ACT_N];
        fill_uniform(inp, ACT_N, -5.0, 8.0);
        for (int i = 0; i < ACT_N; i++) {
            for (int j = 0; j < 4; j++) {
                if (fabsf(inp[i] - kinks[j]) < 0.05f) inp[i] = kinks[j] + 0.1f;
            }
        }
        fill_uniform(weights, ACT_N, -1.0, 1.0);
        fill_uniform(dinp0, ACT_N, -0.5, 0.5);
        memcpy(dinp, dinp0, sizeof dinp);
        nn_act_forward(kind, out, inp, ACT_N);
        nn_act_backward(kind, dinp, weights, inp, out, ACT_N);
        accumulated_part(analytic, dinp, dinp0, ACT_N);
        act_ctx ctx = {kind, inp, weights};
        char what[64];
        snprintf(what, sizeof what, "%s dinp", act_names[k]);
        check_fd(what, act_loss, &ctx, inp, ACT_N, analytic, 1e-2, 2e-4, 2e-3);

        /* Without the forward output the derivative is recomputed from inp. */
        float dinp_no_out[ACT_N];
        memcpy(dinp_no_out, dinp0, sizeof dinp_no_out);
        nn_act_backward(kind, dinp_no_out, weights, inp, NULL, ACT_N);
        snprintf(what, sizeof what, "%s backward with out NULL", act_names[k]);
        CHECK_ARRAYS_CLOSE(dinp_no_out, dinp, ACT_N, 1e-7, 1e-6, what);
    }
}

/* ---- binary ops ---- */

enum { BIN_N = 2, BIN_C = 3, BIN_HW = 7, BIN_SIZE = BIN_N * BIN_C * BIN_HW };

static const char *const bin_names[NN_BIN_COUNT] = {"add", "sub", "mul", "max"};

typedef struct {
    nn_binary_kind kind;
    int b_hw;
    float *a, *b, *weights;
} bin_ctx;

static double bin_loss(void *opaque)
{
    bin_ctx *ctx = opaque;
    float out[BIN_SIZE];
    nn_binary_forward(ctx->kind, out, ctx->a, ctx->b, BIN_N, BIN_C, BIN_HW, ctx->b_hw);
    return dot(out, ctx->weights, BIN_SIZE);
}

static double bin_ref(nn_binary_kind kind, double a, double b)
{
    switch (kind) {
    case NN_BIN_ADD: return a + b;
    case NN_BIN_SUB: return a - b;
    case NN_BIN_MUL: return a * b;
    default: return a >= b ? a : b;
    }
}

static void test_binary(void)
{
    /* max propagates NaN from either side, as torch.maximum. */
    {
        const float a[4] = {NAN, 1.0f, 2.0f, NAN}, b[4] = {1.0f, NAN, 1.0f, NAN};
        float out[4];
        nn_binary_forward(NN_BIN_MAX, out, a, b, 1, 1, 4, 4);
        CHECK(isnan(out[0]) && isnan(out[1]) && out[2] == 2.0f && isnan(out[3]),
              "max with NaN: %g %g %g %g", out[0], out[1], out[2], out[3]);
    }
    for (int k = 0; k < NN_BIN_COUNT; k++) {
        for (int broadcast = 0; broadcast <= 1; broadcast++) {
            const nn_binary_kind kind = (nn_binary_kind)k;
            const int b_hw = broadcast ? 1 : BIN_HW;
            const size_t b_size = (size_t)BIN_N * BIN_C * b_hw;
            float a[BIN_SIZE], b[BIN_SIZE], out[BIN_SIZE], weights[BIN_SIZE];
            float da[BIN_SIZE], da0[BIN_SIZE], db[BIN_SIZE], db0[BIN_SIZE];
            float analytic[BIN_SIZE];
            fill_uniform(a, BIN_SIZE, -1.0, 1.0);
            fill_uniform(b, b_size, -1.0, 1.0);
            /* Keep max away from ties. */
            for (int i = 0; i < BIN_SIZE; i++) {
                const float bv = b[broadcast ? i / BIN_HW : i];
                if (fabsf(a[i] - bv) < 0.05f) a[i] = bv + 0.1f;
            }
            fill_uniform(weights, BIN_SIZE, -1.0, 1.0);

            nn_binary_forward(kind, out, a, b, BIN_N, BIN_C, BIN_HW, b_hw);
            int ok = 1;
            for (int i = 0; i < BIN_SIZE; i++) {
                const float bv = b[broadcast ? i / BIN_HW : i];
                ok &= out[i] == (float)bin_ref(kind, a[i], bv);
            }
            char what[64];
            snprintf(what, sizeof what, "%s b_hw=%d", bin_names[k], b_hw);
            CHECK(ok, "%s forward", what);

            fill_uniform(da0, BIN_SIZE, -0.5, 0.5);
            fill_uniform(db0, b_size, -0.5, 0.5);
            memcpy(da, da0, sizeof da);
            memcpy(db, db0, sizeof db);
            nn_binary_backward(kind, da, db, weights, a, b, BIN_N, BIN_C, BIN_HW, b_hw);
            bin_ctx ctx = {kind, b_hw, a, b, weights};
            char name[80];
            snprintf(name, sizeof name, "%s da", what);
            accumulated_part(analytic, da, da0, BIN_SIZE);
            check_fd(name, bin_loss, &ctx, a, BIN_SIZE, analytic, 1e-2, 1e-4, 1e-3);
            snprintf(name, sizeof name, "%s db", what);
            accumulated_part(analytic, db, db0, b_size);
            check_fd(name, bin_loss, &ctx, b, b_size, analytic, 1e-2, 1e-4, 1e-3);

            /* NULL gradients are skipped and do not change the other one. */
            float db_only[BIN_SIZE];
            memcpy(db_only, db0, sizeof db_only);
            nn_binary_backward(kind, NULL, db_only, weights, a, b, BIN_N, BIN_C, BIN_HW, b_hw);
            snprintf(name, sizeof name, "%s db with da NULL", what);
            CHECK(memcmp(db_only, db, b_size * sizeof(float)) == 0, "%s", name);
        }
    }
    /* Ties in max split the gradient evenly (torch.maximum's rule). */
    float a = 1.0f, b = 1.0f, dout = 1.0f, da = 0.0f, db = 0.0f;
    nn_binary_backward(NN_BIN_MAX, &da, &db, &dout, &a, &b, 1, 1, 1, 1);
    CHECK(da == 0.5f && db == 0.5f, "max tie: da %g db %g", da, db);
}

/* ---- dropout ---- */

typedef struct {
    float *inp, *mask, *weights;
    float p;
    uint64_t seed;
    size_t n;
} drop_ctx;

static double drop_loss(void *opaque)
{
    drop_ctx *ctx = opaque;
    float out[64];
    nn_dropout_forward(out, ctx->mask, ctx->inp, ctx->n, ctx->p, ctx->seed);
    return dot(out, ctx->weights, ctx->n);
}

static void test_dropout(void)
{
    const size_t n = (size_t)1 << 20;
    float *inp = pl_xmalloc(n * sizeof(float)), *out = pl_xmalloc(n * sizeof(float));
    float *mask = pl_xmalloc(n * sizeof(float)), *mask2 = pl_xmalloc(n * sizeof(float));
    float *out2 = pl_xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) inp[i] = (float)(sin((double)i * 1.7) * 0.5);

    /* p = 0 is the identity. */
    nn_dropout_forward(out, mask, inp, n, 0.0f, 7);
    CHECK(memcmp(out, inp, n * sizeof(float)) == 0, "dropout p=0 is identity");

    const float ps[] = {0.1f, 0.3f, 0.5f};
    for (int k = 0; k < 3; k++) {
        const float p = ps[k];
        const float keep_scale = 1.0f / (1.0f - p);
        nn_dropout_forward(out, mask, inp, n, p, 12345);
        size_t zeros = 0, bad_values = 0;
        double mask_sum = 0.0;
        for (size_t i = 0; i < n; i++) {
            zeros += mask[i] == 0.0f;
            bad_values += !(mask[i] == 0.0f || mask[i] == keep_scale) || out[i] != inp[i] * mask[i];
            mask_sum += mask[i];
        }
        const double zero_frac = (double)zeros / (double)n;
        const double sd_frac = sqrt(p * (1.0 - p) / (double)n);
        const double sd_mean = sqrt(p / (1.0 - p) / (double)n);
        CHECK(bad_values == 0, "dropout p=%g: %zu masks not in {0, 1/(1-p)}", p, bad_values);
        CHECK(fabs(zero_frac - p) < 5 * sd_frac, "dropout p=%g: zero fraction %g", p, zero_frac);
        CHECK(fabs(mask_sum / (double)n - 1.0) < 5 * sd_mean, "dropout p=%g: mean mask %g", p,
              mask_sum / (double)n);
    }

    /* Same seed, same mask; another seed, a different one. */
    const float p = 0.3f;
    nn_dropout_forward(out, mask, inp, n, p, 99);
    nn_dropout_forward(out2, mask2, inp, n, p, 99);
    CHECK(memcmp(mask, mask2, n * sizeof(float)) == 0, "dropout same seed same mask");
    nn_dropout_forward(out2, mask2, inp, n, p, 100);
    size_t differ = 0;
    for (size_t i = 0; i < n; i++) differ += mask[i] != mask2[i];
    /* Independent masks differ with probability 2p(1-p) = 0.42. */
    CHECK(fabs((double)differ / (double)n - 0.42) < 0.01, "dropout seeds 99/100 differ in %g",
          (double)differ / (double)n);

    /* Independent of the thread count. */
    omp_set_num_threads(1);
    nn_dropout_forward(out, mask, inp, n, p, 2024);
    omp_set_num_threads(2);
    nn_dropout_forward(out2, mask2, inp, n, p, 2024);
    omp_set_num_threads(omp_get_num_procs());
    CHECK(memcmp(mask, mask2, n * sizeof(float)) == 0 && memcmp(out, out2, n * sizeof(float)) == 0,
          "dropout differs between 1 and 2 threads");

    /* Backward: dinp += dout * mask, against finite differences. */
    enum { DN = 64 };
    float small_inp[DN], small_mask[DN], weights[DN], dinp[DN], dinp0[DN], analytic[DN];
    fill_uniform(small_inp, DN, -1.0, 1.0);
    fill_uniform(weights, DN, -1.0, 1.0);
    fill_uniform(dinp0, DN, -0.5, 0.5);
    memcpy(dinp, dinp0, sizeof dinp);
    drop_ctx ctx = {small_inp, small_mask, weights, 0.5f, 31, DN};
    drop_loss(&ctx);
    nn_dropout_backward(dinp, weights, small_mask, DN);
    accumulated_part(analytic, dinp, dinp0, DN);
    check_fd("dropout dinp", drop_loss, &ctx, small_inp, DN, analytic, 1e-2, 1e-4, 1e-3);

    pl_free(inp);
    pl_free(out);
    pl_free(out2);
    pl_free(mask);
    pl_free(mask2);
}

/* Activations on a large array: parallel and serial runs agree bitwise. */
static void test_act_threads(void)
{
    const size_t n = 200000;
    float *inp = pl_xmalloc(n * sizeof(float)), *out1 = pl_xmalloc(n * sizeof(float));
    float *out2 = pl_xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) inp[i] = (float)(sin((double)i * 1.7) * 6.0);
    int all_same = 1;
    for (int k = 0; k < NN_ACT_COUNT; k++) {
        omp_set_num_threads(1);
        nn_act_forward((nn_act_kind)k, out1, inp, n);
        omp_set_num_threads(2);
        nn_act_forward((nn_act_kind)k, out2, inp, n);
        all_same &= memcmp(out1, out2, n * sizeof(float)) == 0;
    }
    omp_set_num_threads(omp_get_num_procs());
    CHECK(all_same, "activations differ between 1 and 2 threads");
    pl_free(inp);
    pl_free(out1);
    pl_free(out2);
}

int main(void)
{
    rng_seed(0xda3e39cb94b95bdbULL);
    test_act_values();
    test_act_kinks();
    test_act_fd();
    test_binary();
    test_dropout();
    test_act_threads();
    return check_summary("test_pointwise");
}
