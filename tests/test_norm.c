/* test_norm.c: batch normalization and per-channel scale/bias.
 *
 * Checks a hand-computed training step (batch mean, biased variance for the
 * normalization, running statistics after one step with momentum 0.1 and the
 * unbiased variance), evaluation mode against its formula, NULL gamma/beta,
 * independence from the thread count, and every backward against central
 * finite differences of L = sum(out * R) taken through the full forward (for
 * training mode the batch statistics move with the input), with gradients
 * pre-filled to check accumulation. */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "nn_norm.h"
#include "pl_mem.h"
#include "test_util.h"

/* ---- hand-computed training step ---- */

/* N=2, C=2, HW=2. Channel 0 holds 1,2 | 3,4: mean 2.5, biased var 1.25,
 * unbiased 5/3. Channel 1 holds 0,4 | 8,0: mean 3, biased var 11, unbiased
 * 44/3. */
static void test_hand_train_step(void)
{
    const float inp[8] = {1, 2, 0, 4, 3, 4, 8, 0};
    const float gamma[2] = {2.0f, 0.5f}, beta[2] = {0.1f, -1.0f};
    float running_mean[2] = {0.0f, 1.0f}, running_var[2] = {1.0f, 2.0f};
    float out[8], mean[2], rstd[2];
    nn_batchnorm_forward_train(out, mean, rstd, running_mean, running_var, inp, gamma, beta, 2,
                               2, 2, NN_BN_EPS, NN_BN_MOMENTUM);

    const double want_mean[2] = {2.5, 3.0};
    const double want_var[2] = {1.25, 11.0};
    const double want_unbiased[2] = {5.0 / 3.0, 44.0 / 3.0};
    const double old_rm[2] = {0.0, 1.0}, old_rv[2] = {1.0, 2.0};
    for (int c = 0; c < 2; c++) {
        const double want_rstd = 1.0 / sqrt(want_var[c] + 1e-5);
        CHECK_CLOSE(mean[c], want_mean[c], 1e-7, 1e-7, "batch mean");
        CHECK_CLOSE(rstd[c], want_rstd, 0, 1e-6, "batch rstd (biased variance)");
        CHECK_CLOSE(running_mean[c], 0.9 * old_rm[c] + 0.1 * want_mean[c], 1e-7, 1e-6,
                    "running_mean after one step");
        CHECK_CLOSE(running_var[c], 0.9 * old_rv[c] + 0.1 * want_unbiased[c], 1e-7, 1e-6,
                    "running_var after one step (unbiased)");
        for (int n = 0; n < 2; n++) {
            for (int i = 0; i < 2; i++) {
                const int at = (n * 2 + c) * 2 + i;
                const double want = (inp[at] - want_mean[c]) * want_rstd * gamma[c] + beta[c];
                CHECK_CLOSE(out[at], want, 1e-6, 1e-6, "train output");
            }
        }
    }
    /* The literal numbers, as PyTorch prints them. */
    CHECK_CLOSE(running_mean[0], 0.25, 1e-7, 0, "running_mean[0] literal");
    CHECK_CLOSE(running_var[0], 1.0666667, 1e-6, 0, "running_var[0] literal");
    CHECK_CLOSE(running_var[1], 3.2666667, 1e-6, 0, "running_var[1] literal");
    CHECK_CLOSE(out[0], (1 - 2.5) / sqrt(1.25 + 1e-5) * 2 + 0.1, 1e-6, 0, "out[0] literal");

    /* Evaluation mode with the updated running statistics. */
    nn_batchnorm_forward_eval(out, inp, gamma, beta, running_mean, running_var, 2, 2, 2,
                              NN_BN_EPS);
    for (int at = 0; at < 8; at++) {
        const int c = (at / 2) % 2;
        const double want = (inp[at] - running_mean[c]) / sqrt(running_var[c] + 1e-5) *
                                gamma[c] + beta[c];
        CHECK_CLOSE(out[at], want, 1e-6, 1e-6, "eval output");
    }

    /* NULL gamma/beta behave as 1 and 0. */
    float out_null[8], mean2[2], rstd2[2], rm2[2] = {0, 0}, rv2[2] = {1, 1};
    const float ones[2] = {1, 1}, zeros[2] = {0, 0};
    nn_batchnorm_forward_train(out_null, mean2, rstd2, rm2, rv2, inp, NULL, NULL, 2, 2, 2,
                               NN_BN_EPS, NN_BN_MOMENTUM);
    rm2[0] = rm2[1] = 0;
    rv2[0] = rv2[1] = 1;
    nn_batchnorm_forward_train(out, mean2, rstd2, rm2, rv2, inp, ones, zeros, 2, 2, 2,
                               NN_BN_EPS, NN_BN_MOMENTUM);
    CHECK(memcmp(out, out_null, sizeof out) == 0, "NULL gamma/beta equal 1/0");
}

/* ---- finite differences through the forward passes ---- */

enum { BN_N = 3, BN_C = 4, BN_HW = 5, BN_SIZE = BN_N * BN_C * BN_HW };

typedef struct {
    int train;
    float *inp, *gamma, *beta, *running_mean, *running_var, *weights;
} bn_ctx;

static double bn_loss(void *opaque)
{
    bn_ctx *ctx = opaque;
    float out[BN_SIZE];
    if (ctx->train) {
        /* Scratch running statistics: the training forward updates them. */
        float mean[BN_C], rstd[BN_C], rm[BN_C], rv[BN_C];
        memcpy(rm, ctx->running_mean, sizeof rm);
        memcpy(rv, ctx->running_var, sizeof rv);
        nn_batchnorm_forward_train(out, mean, rstd, rm, rv, ctx->inp, ctx->gamma, ctx->beta,
                                   BN_N, BN_C, BN_HW, NN_BN_EPS, NN_BN_MOMENTUM);
    } else {
        nn_batchnorm_forward_eval(out, ctx->inp, ctx->gamma, ctx->beta, ctx->running_mean,
                                  ctx->running_var, BN_N, BN_C, BN_HW, NN_BN_EPS);
    }
    return dot(out, ctx->weights, BN_SIZE);
}

static void fd_batchnorm(int train)
{
    float inp[BN_SIZE], weights[BN_SIZE], gamma[BN_C], beta[BN_C];
    float running_mean[BN_C], running_var[BN_C];
    float dinp[BN_SIZE], dinp0[BN_SIZE], dgamma[BN_C], dgamma0[BN_C], dbeta[BN_C], dbeta0[BN_C];
    float analytic[BN_SIZE];
    /* Channel c has mean about c and spread growing with c, so rstd ranges
     * well away from 1 (about 1.7 down to 0.2). */
    fill_uniform(inp, BN_SIZE, -1.0, 1.0);
    for (int i = 0; i < BN_SIZE; i++) {
        const int c = (i / BN_HW) % BN_C;
        inp[i] = inp[i] * (float)(1 << c) + (float)c;
    }
    fill_uniform(weights, BN_SIZE, -1.0, 1.0);
    fill_uniform(gamma, BN_C, 0.5, 1.5);
    fill_uniform(beta, BN_C, -0.5, 0.5);
    fill_uniform(running_mean, BN_C, -0.5, 0.5);
    fill_uniform(running_var, BN_C, 0.5, 2.0);
    fill_uniform(dinp0, BN_SIZE, -0.5, 0.5);
    fill_uniform(dgamma0, BN_C, -0.5, 0.5);
    fill_uniform(dbeta0, BN_C, -0.5, 0.5);
    memcpy(dinp, dinp0, sizeof dinp);
    memcpy(dgamma, dgamma0, sizeof dgamma);
    memcpy(dbeta, dbeta0, sizeof dbeta);

    bn_ctx ctx = {train, inp, gamma, beta, running_mean, running_var, weights};
    if (train) {
        float out[BN_SIZE], mean[BN_C], rstd[BN_C], rm[BN_C], rv[BN_C];
        memcpy(rm, running_mean, sizeof rm);
        memcpy(rv, running_var, sizeof rv);
        nn_batchnorm_forward_train(out, mean, rstd, rm, rv, inp, gamma, beta, BN_N, BN_C, BN_HW,
                                   NN_BN_EPS, NN_BN_MOMENTUM);
        nn_batchnorm_backward_train(dinp, dgamma, dbeta, weights, inp, mean, rstd, gamma, BN_N,
                                    BN_C, BN_HW);
    } else {
        nn_batchnorm_backward_eval(dinp, dgamma, dbeta, weights, inp, gamma, running_mean,
                                   running_var, BN_N, BN_C, BN_HW, NN_BN_EPS);
    }
    const double step = 1e-2, atol = 5e-4, rtol = 5e-3;
    accumulated_part(analytic, dinp, dinp0, BN_SIZE);
    check_fd(train ? "bn train dinp" : "bn eval dinp", bn_loss, &ctx, inp, BN_SIZE, analytic,
             step, atol, rtol);
    accumulated_part(analytic, dgamma, dgamma0, BN_C);
    check_fd(train ? "bn train dgamma" : "bn eval dgamma", bn_loss, &ctx, gamma, BN_C, analytic,
             step, atol, rtol);
    accumulated_part(analytic, dbeta, dbeta0, BN_C);
    check_fd(train ? "bn train dbeta" : "bn eval dbeta", bn_loss, &ctx, beta, BN_C, analytic,
             step, atol, rtol);

    /* In training mode the input gradient sums to zero over each channel
     * (the mean is subtracted): a check the eval formula would fail. */
    if (train) {
        double worst = 0.0;
        for (int c = 0; c < BN_C; c++) {
            double s = 0.0;
            for (int n = 0; n < BN_N; n++) {
                for (int i = 0; i < BN_HW; i++) s += dinp[(n * BN_C + c) * BN_HW + i] -
                                                     dinp0[(n * BN_C + c) * BN_HW + i];
            }
            worst = fmax(worst, fabs(s));
        }
        CHECK(worst < 1e-5, "bn train dinp channel sums not zero: %g", worst);
    }

    /* NULL gradients are skipped; dinp alone still matches. */
    float dinp_only[BN_SIZE];
    memcpy(dinp_only, dinp0, sizeof dinp_only);
    if (train) {
        float out[BN_SIZE], mean[BN_C], rstd[BN_C], rm[BN_C], rv[BN_C];
        memcpy(rm, running_mean, sizeof rm);
        memcpy(rv, running_var, sizeof rv);
        nn_batchnorm_forward_train(out, mean, rstd, rm, rv, inp, gamma, beta, BN_N, BN_C, BN_HW,
                                   NN_BN_EPS, NN_BN_MOMENTUM);
        nn_batchnorm_backward_train(dinp_only, NULL, NULL, weights, inp, mean, rstd, gamma,
                                    BN_N, BN_C, BN_HW);
    } else {
        nn_batchnorm_backward_eval(dinp_only, NULL, NULL, weights, inp, gamma, running_mean,
                                   running_var, BN_N, BN_C, BN_HW, NN_BN_EPS);
    }
    CHECK(memcmp(dinp_only, dinp, sizeof dinp) == 0, "bn backward with NULL dgamma/dbeta");
}

typedef struct {
    float *inp, *scale, *bias, *weights;
} sb_ctx;

static double scale_bias_loss(void *opaque)
{
    sb_ctx *ctx = opaque;
    float out[BN_SIZE];
    nn_scale_bias_forward(out, ctx->inp, ctx->scale, ctx->bias, BN_N, BN_C, BN_HW);
    return dot(out, ctx->weights, BN_SIZE);
}

static void test_scale_bias(void)
{
    float inp[BN_SIZE], weights[BN_SIZE], scale[BN_C], bias[BN_C], out[BN_SIZE];
    float dinp[BN_SIZE], dinp0[BN_SIZE], dscale[BN_C], dscale0[BN_C], dbias[BN_C], dbias0[BN_C];
    float analytic[BN_SIZE];
    fill_uniform(inp, BN_SIZE, -2.0, 2.0);
    fill_uniform(weights, BN_SIZE, -1.0, 1.0);
    fill_uniform(scale, BN_C, -1.5, 1.5);
    fill_uniform(bias, BN_C, -0.5, 0.5);

    nn_scale_bias_forward(out, inp, scale, bias, BN_N, BN_C, BN_HW);
    int ok = 1;
    for (int i = 0; i < BN_SIZE; i++) {
        const int c = (i / BN_HW) % BN_C;
        ok &= out[i] == inp[i] * scale[c] + bias[c];
    }
    CHECK(ok, "scale_bias forward");
    nn_scale_bias_forward(out, inp, scale, NULL, BN_N, BN_C, BN_HW);
    ok = 1;
    for (int i = 0; i < BN_SIZE; i++) ok &= out[i] == inp[i] * scale[(i / BN_HW) % BN_C];
    CHECK(ok, "scale_bias forward without bias");

    fill_uniform(dinp0, BN_SIZE, -0.5, 0.5);
    fill_uniform(dscale0, BN_C, -0.5, 0.5);
    fill_uniform(dbias0, BN_C, -0.5, 0.5);
    memcpy(dinp, dinp0, sizeof dinp);
    memcpy(dscale, dscale0, sizeof dscale);
    memcpy(dbias, dbias0, sizeof dbias);
    nn_scale_bias_backward(dinp, dscale, dbias, weights, inp, scale, BN_N, BN_C, BN_HW);
    sb_ctx ctx = {inp, scale, bias, weights};
    accumulated_part(analytic, dinp, dinp0, BN_SIZE);
    check_fd("scale_bias dinp", scale_bias_loss, &ctx, inp, BN_SIZE, analytic, 1e-2, 1e-4, 1e-3);
    accumulated_part(analytic, dscale, dscale0, BN_C);
    check_fd("scale_bias dscale", scale_bias_loss, &ctx, scale, BN_C, analytic, 1e-2, 1e-4, 1e-3);
    accumulated_part(analytic, dbias, dbias0, BN_C);
    check_fd("scale_bias dbias", scale_bias_loss, &ctx, bias, BN_C, analytic, 1e-2, 1e-4, 1e-3);
}

/* ---- thread-count independence on a tensor big enough to go parallel ---- */

static void test_threads(void)
{
    const int N = 4, C = 8, HW = 1024;
    const size_t n = (size_t)N * C * HW;
    float *inp = pl_xmalloc(n * sizeof(float)), *dout = pl_xmalloc(n * sizeof(float));
    float *out[2], *dinp[2], mean[2][8], rstd[2][8], rm[2][8], rv[2][8], dg[2][8], db[2][8];
    float gamma[8], beta[8];
    fill_uniform(inp, n, -3.0, 3.0);
    fill_uniform(dout, n, -1.0, 1.0);
    fill_uniform(gamma, 8, 0.5, 1.5);
    fill_uniform(beta, 8, -0.5, 0.5);
    for (int t = 0; t < 2; t++) {
        omp_set_num_threads(t + 1);
        out[t] = pl_xmalloc(n * sizeof(float));
        dinp[t] = pl_xcalloc(n, sizeof(float));
        for (int c = 0; c < 8; c++) {
            rm[t][c] = 0.0f;
            rv[t][c] = 1.0f;
            dg[t][c] = db[t][c] = 0.0f;
        }
        nn_batchnorm_forward_train(out[t], mean[t], rstd[t], rm[t], rv[t], inp, gamma, beta, N,
                                   C, HW, NN_BN_EPS, NN_BN_MOMENTUM);
        nn_batchnorm_backward_train(dinp[t], dg[t], db[t], dout, inp, mean[t], rstd[t], gamma, N,
                                    C, HW);
    }
    omp_set_num_threads(omp_get_num_procs());
    CHECK(memcmp(out[0], out[1], n * sizeof(float)) == 0, "bn forward differs 1 vs 2 threads");
    CHECK(memcmp(dinp[0], dinp[1], n * sizeof(float)) == 0, "bn backward differs 1 vs 2 threads");
    CHECK(memcmp(rv[0], rv[1], sizeof rv[0]) == 0 && memcmp(dg[0], dg[1], sizeof dg[0]) == 0 &&
              memcmp(db[0], db[1], sizeof db[0]) == 0,
          "bn statistics differ 1 vs 2 threads");
    /* The normalized output has zero mean and unit (biased) variance per channel
     * when gamma = 1 and beta = 0; check it via the saved statistics instead:
     * running_var moved toward the unbiased variance of uniform(-3,3) = 3. */
    CHECK_CLOSE(rv[0][0], 0.9 + 0.1 * 3.0, 0.02, 0, "running_var toward population variance");
    for (int t = 0; t < 2; t++) {
        pl_free(out[t]);
        pl_free(dinp[t]);
    }
    pl_free(inp);
    pl_free(dout);
}

int main(void)
{
    rng_seed(0x2545f4914f6cdd1dULL);
    test_hand_train_step();
    fd_batchnorm(1);
    fd_batchnorm(0);
    test_scale_bias();
    test_threads();
    return check_summary("test_norm");
}
