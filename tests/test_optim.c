/* test_optim.c: SGD (plain, momentum, Nesterov, selective weight decay)
 * against hand-computed updates; learning-rate schedules at known steps and
 * their validation errors; a tiny model that must actually learn. */
#include "check.h"
#include "ig.h"
#include "lr_schedule.h"
#include "opt_sgd.h"
#include "pl_err.h"
#include "pl_threads.h"

#include <math.h>
#include <string.h>

/* A graph with one conv weight (decayed) and a bias and a batch-norm
 * gamma/beta (not decayed unless decay_all). */
static ig_graph *small_graph(void)
{
    ig_graph *g = ig_graph_alloc();
    int x = ig_input(g, 1, 3, 3);
    int c = ig_conv2d(g, x, 1, 1, 1, 1, 1, 0, 0, 1, 1);
    ig_batchnorm(g, c);
    PL_ASSERT(ig_graph_finalize(g) == PL_OK);
    return g;
}

static void set_all(ig_graph *g, float w, float grad)
{
    for (int k = 0; k < g->n_params; k++)
        for (size_t i = 0; i < g->params[k].count; i++) {
            g->param[g->params[k].offset + i] = w;
            g->grad[g->params[k].offset + i] = grad;
        }
}

static float first(const ig_graph *g, int k) { return g->param[g->params[k].offset]; }

static void test_sgd_rules(void)
{
    ig_graph *g = small_graph();
    CHECK(g->n_params == 4, "4 parameter tensors (got %d)", g->n_params);
    opt_sgd o;

    /* Plain SGD with decay: weight 1 - 0.1*(0.5 + 0.01*1); bias 1 - 0.1*0.5. */
    opt_sgd_config plain = {.momentum = 0, .weight_decay = 0.01f};
    CHECK(opt_sgd_init(&o, g, &plain) == PL_OK, "init plain");
    set_all(g, 1.0f, 0.5f);
    opt_sgd_step(&o, g, 0.1f);
    CHECK_CLOSE(first(g, 0), 1 - 0.1 * 0.51, 1e-7, 0, "plain weight");
    CHECK_CLOSE(first(g, 1), 1 - 0.1 * 0.5, 1e-7, 0, "plain bias: no decay");
    CHECK_CLOSE(first(g, 2), 1 - 0.1 * 0.5, 1e-7, 0, "plain gamma: no decay");
    opt_sgd_destroy(&o);

    /* Momentum 0.9, two steps with gradient 0.5, no decay:
     * v1 = 0.5, w1 = 1 - 0.05 = 0.95; v2 = 0.95, w2 = 0.95 - 0.095 = 0.855. */
    opt_sgd_config mom = {.momentum = 0.9f};
    opt_sgd_init(&o, g, &mom);
    set_all(g, 1.0f, 0.5f);
    opt_sgd_step(&o, g, 0.1f);
    opt_sgd_step(&o, g, 0.1f);
    CHECK_CLOSE(first(g, 0), 0.855, 1e-6, 0, "momentum two steps");
    opt_sgd_destroy(&o);

    /* Nesterov: v1 = 0.5, w1 = 1 - 0.1*(0.5 + 0.45) = 0.905;
     * v2 = 0.95, w2 = 0.905 - 0.1*(0.5 + 0.855) = 0.7695. */
    opt_sgd_config nes = {.momentum = 0.9f, .nesterov = 1};
    opt_sgd_init(&o, g, &nes);
    set_all(g, 1.0f, 0.5f);
    opt_sgd_step(&o, g, 0.1f);
    CHECK_CLOSE(first(g, 0), 0.905, 1e-6, 0, "nesterov step 1");
    opt_sgd_step(&o, g, 0.1f);
    CHECK_CLOSE(first(g, 0), 0.7695, 1e-6, 0, "nesterov step 2");
    opt_sgd_destroy(&o);

    /* decay_all decays gamma and bias too. */
    opt_sgd_config all = {.weight_decay = 0.1f, .decay_all = 1};
    opt_sgd_init(&o, g, &all);
    set_all(g, 1.0f, 0.0f);
    opt_sgd_step(&o, g, 1.0f);
    CHECK_CLOSE(first(g, 1), 0.9, 1e-7, 0, "decay_all bias");
    CHECK_CLOSE(first(g, 3), 0.9, 1e-7, 0, "decay_all beta");
    opt_sgd_destroy(&o);

    /* Invalid settings are errors with a message. */
    opt_sgd_config bad1 = {.momentum = 1.5f};
    CHECK(opt_sgd_init(&o, g, &bad1) == PL_ERR_INVAL && strstr(pl_last_error(), "momentum"),
          "momentum out of range");
    opt_sgd_config bad2 = {.nesterov = 1};
    CHECK(opt_sgd_init(&o, g, &bad2) == PL_ERR_INVAL && strstr(pl_last_error(), "Nesterov"),
          "nesterov without momentum");
    opt_sgd_config bad3 = {.weight_decay = -1};
    CHECK(opt_sgd_init(&o, g, &bad3) == PL_ERR_INVAL && strstr(pl_last_error(), "decay"),
          "negative decay");
    ig_graph_free(g);
}

static void test_schedules(void)
{
    lr_schedule c = {.kind = LR_CONSTANT, .base_lr = 0.1f};
    CHECK(lr_schedule_check(&c) == PL_OK, "constant ok");
    CHECK_CLOSE(lr_schedule_at(&c, 1000), 0.1, 1e-8, 0, "constant");

    lr_schedule s = {.kind = LR_STEP, .base_lr = 0.1f, .step_size = 10, .gamma = 0.5f,
                     .warmup_steps = 4, .warmup_start_factor = 0.25f};
    CHECK(lr_schedule_check(&s) == PL_OK, "step ok");
    CHECK_CLOSE(lr_schedule_at(&s, 0), 0.025, 1e-8, 0, "warm-up start");
    CHECK_CLOSE(lr_schedule_at(&s, 2), 0.0625, 1e-8, 0, "warm-up middle");
    CHECK_CLOSE(lr_schedule_at(&s, 4), 0.1, 1e-8, 0, "after warm-up");
    CHECK_CLOSE(lr_schedule_at(&s, 13), 0.1, 1e-8, 0, "before first decay");
    CHECK_CLOSE(lr_schedule_at(&s, 14), 0.05, 1e-8, 0, "first decay");
    CHECK_CLOSE(lr_schedule_at(&s, 34), 0.0125, 1e-8, 0, "third decay");

    lr_schedule k = {.kind = LR_COSINE, .base_lr = 1.0f, .min_lr = 0.0f, .total_steps = 100};
    CHECK(lr_schedule_check(&k) == PL_OK, "cosine ok");
    CHECK_CLOSE(lr_schedule_at(&k, 0), 1.0, 1e-7, 0, "cosine start");
    CHECK_CLOSE(lr_schedule_at(&k, 50), 0.5, 1e-6, 0, "cosine middle");
    CHECK_CLOSE(lr_schedule_at(&k, 100), 0.0, 1e-7, 0, "cosine end");
    CHECK_CLOSE(lr_schedule_at(&k, 150), 0.0, 1e-7, 0, "cosine clamps past the end");
    CHECK_CLOSE(lr_schedule_at(&k, 25), 0.5 * (1 + cos(3.14159265358979 / 4)), 1e-6, 0,
                "cosine quarter");

    lr_schedule b1 = {.kind = LR_STEP, .base_lr = 0.1f, .step_size = 0, .gamma = 0.5f};
    CHECK(lr_schedule_check(&b1) < 0 && strstr(pl_last_error(), "step_size"), "step_size 0");
    lr_schedule b2 = {.kind = LR_COSINE, .base_lr = 0.1f, .total_steps = 5, .warmup_steps = 5};
    CHECK(lr_schedule_check(&b2) < 0 && strstr(pl_last_error(), "total_steps"), "cosine length");
    lr_schedule b3 = {.kind = LR_CONSTANT, .base_lr = NAN};
    CHECK(lr_schedule_check(&b3) < 0 && strstr(pl_last_error(), "base_lr"), "NaN lr");
    CHECK(lr_kind_from_name("cosine") == LR_COSINE && lr_kind_from_name("linear") == -1,
          "schedule names");
    CHECK(strcmp(lr_kind_name(LR_STEP), "step") == 0, "schedule name");
}

/* Two classes told apart by which half of a 6x6 image is bright: a tiny conv
 * net trained with SGD must drive the loss well down and classify all. */
static void test_learns(void)
{
    ig_graph *g = ig_graph_alloc();
    int x = ig_input(g, 1, 6, 6);
    int c = ig_conv2d(g, x, 4, 3, 3, 1, 1, 1, 1, 1, 0);
    int b = ig_batchnorm(g, c);
    int r = ig_unary(g, IG_OP_RELU, b);
    int p = ig_maxpool(g, r, 2, 2, 0, 0);
    int f = ig_flatten(g, p);
    int l = ig_linear(g, f, 2, 1);
    int loss = ig_softmax_xent(g, l);
    PL_ASSERT(loss >= 0 && ig_graph_finalize(g) == PL_OK);
    ig_graph_init_params(g, 5);
    const int N = 8;
    ig_graph_plan(g, N);
    float *img = ig_value(g, x);
    int32_t labels[8];
    for (int n = 0; n < N; n++) {
        labels[n] = n % 2;
        for (int i = 0; i < 36; i++) {
            int left = (i % 6) < 3;
            float noise = (float)sin(n * 7.1 + i * 1.3) * 0.2f;
            img[n * 36 + i] = ((left == (labels[n] == 0)) ? 1.0f : 0.0f) + noise;
        }
    }
    opt_sgd o;
    opt_sgd_config cfg = {.momentum = 0.9f, .weight_decay = 1e-4f};
    opt_sgd_init(&o, g, &cfg);
    ig_set_training(g, 1);
    float first_loss = 0;
    for (int step = 0; step < 60; step++) {
        ig_forward(g, labels);
        if (step == 0) first_loss = g->loss;
        ig_zero_grad(g);
        ig_backward(g, loss);
        opt_sgd_step(&o, g, 0.05f);
    }
    ig_set_training(g, 0);
    ig_forward(g, labels);
    CHECK(g->loss < 0.2f * first_loss, "loss %g -> %g did not drop fivefold", (double)first_loss,
          (double)g->loss);
    int correct = 0;
    const float *logits = ig_value(g, l);
    for (int n = 0; n < N; n++) correct += (logits[n * 2 + 1] > logits[n * 2]) == (labels[n] == 1);
    CHECK(correct == N, "classified %d of %d", correct, N);
    opt_sgd_destroy(&o);
    ig_graph_free(g);
}

int main(void)
{
    pl_threads_set(1);
    test_sgd_rules();
    test_schedules();
    test_learns();
    return check_summary("test_optim");
}
