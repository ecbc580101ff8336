/* test_graph.c: the instruction-graph executor end to end: validate-once
 * shape inference and its error messages, parameter and FLOP counts, named
 * operators and their boundaries, whole-graph reverse-mode gradients against
 * central finite differences, training/evaluation modes, slab reuse when
 * re-planning, and thread-count independence. */
#include "check.h"
#include "ig.h"
#include "pl_err.h"
#include "pl_mem.h"
#include "pl_threads.h"

#include <math.h>
#include <string.h>

/* Building the fixed test graphs must succeed; a failure is a bug. */
static int try_node(int rc, int line)
{
    if (rc < 0) pl_abort(__FILE__, line, "building the test graph: %s", pl_last_error());
    return rc;
}
#define TRY_NODE(expr) try_node((expr), __LINE__)

static void fill_pattern(float *x, size_t n, double phase)
{
    for (size_t i = 0; i < n; i++) x[i] = (float)(sin((double)i * 1.7 + phase) * 0.8);
}

/* A small graph touching most instructions: a residual conv-bn block, a
 * depthwise branch with squeeze-and-excitation, pooling, concat/split,
 * shuffle, flatten, linear and the loss. Returns the loss node. */
static int build_mixed(ig_graph *g, int *input_node)
{
    int x = TRY_NODE(ig_input(g, 4, 9, 9));
    *input_node = x;
    ig_input_wants_gradient(g, x);
    TRY_NODE(ig_operator_begin(g, "stem"));
    int c1 = TRY_NODE(ig_conv2d(g, x, 8, 3, 3, 1, 1, 1, 1, 1, 1));
    int b1 = TRY_NODE(ig_batchnorm(g, c1));
    int a1 = TRY_NODE(ig_unary(g, IG_OP_TANH, b1));
    ig_operator_end(g);
    TRY_NODE(ig_operator_begin(g, "block"));
    int dw = TRY_NODE(ig_dwconv2d(g, a1, 3, 1, 1, 0));
    int bn = TRY_NODE(ig_batchnorm(g, dw));
    int hs = TRY_NODE(ig_unary(g, IG_OP_HARDSWISH, bn));
    int gp = TRY_NODE(ig_global_avgpool(g, hs));
    int r = TRY_NODE(ig_pwconv2d(g, gp, 4, 1, 1));
    int ra = TRY_NODE(ig_unary(g, IG_OP_SIGMOID, r));
    int e = TRY_NODE(ig_pwconv2d(g, ra, 8, 1, 1));
    int hsig = TRY_NODE(ig_unary(g, IG_OP_HARDSIGMOID, e));
    int se = TRY_NODE(ig_binary(g, IG_OP_MUL, hs, hsig));
    int sum = TRY_NODE(ig_binary(g, IG_OP_ADD, se, a1));
    ig_operator_end(g);
    int mp = TRY_NODE(ig_maxpool(g, sum, 3, 2, 1, 1));
    int ap = TRY_NODE(ig_avgpool(g, mp, 3, 1, 1, 0, 1));
    int s0 = TRY_NODE(ig_split(g, ap, 0, 3));
    int s1 = TRY_NODE(ig_split(g, ap, 3, 5));
    int s1c = TRY_NODE(ig_conv2d(g, s1, 6, 1, 3, 1, 1, 0, 1, 1, 0));
    int sb = TRY_NODE(ig_scale_bias(g, s1c));
    int ins[] = {s0, sb, mp};
    int cat = TRY_NODE(ig_concat(g, ins, 3));
    int sh = TRY_NODE(ig_channel_shuffle(g, cat, 17));
    int gc = TRY_NODE(ig_conv2d(g, sh, 6, 3, 3, 2, 2, 1, 1, 1, 0));
    int sub = TRY_NODE(ig_binary(g, IG_OP_SUB, gc, gc));
    int mx = TRY_NODE(ig_binary(g, IG_OP_MAX, gc, sub));
    int idn = TRY_NODE(ig_unary(g, IG_OP_IDENTITY, mx));
    int r6 = TRY_NODE(ig_unary(g, IG_OP_RELU6, idn));
    int fl = TRY_NODE(ig_flatten(g, r6));
    int dr = TRY_NODE(ig_dropout(g, fl, 0.0f));
    int fc = TRY_NODE(ig_linear(g, dr, 5, 1));
    (void)sh;
    return TRY_NODE(ig_softmax_xent(g, fc));
}

static double run_loss(ig_graph *g, const int32_t *labels)
{
    ig_forward(g, labels);
    return g->loss;
}

/* Central differences on a sample of every parameter tensor and the input.
 * Elements whose one-sided differences disagree (a kink crossed) are
 * skipped, and at most a tenth may be. */
static void test_whole_graph_gradient(void)
{
    ig_graph *g = ig_graph_alloc();
    int input;
    int loss = build_mixed(g, &input);
    CHECK(ig_graph_finalize(g) == PL_OK, "finalize: %s", pl_last_error());
    ig_graph_init_params(g, 7);
    const int N = 3;
    CHECK(ig_graph_plan(g, N) == PL_OK, "plan: %s", pl_last_error());
    ig_set_training(g, 1);
    float *x = ig_value(g, input);
    size_t in_n = (size_t)N * 4 * 9 * 9;
    fill_pattern(x, in_n, 0.3);
    int32_t labels[] = {1, 4, 2};

    run_loss(g, labels);
    ig_zero_grad(g);
    ig_backward(g, loss);
    /* Copy the analytic gradients out before the probes overwrite buffers. */
    size_t P = g->param_size;
    float *grad = malloc(P * sizeof *grad), *dx = malloc(in_n * sizeof *dx);
    memcpy(grad, g->grad, P * sizeof *grad);
    memcpy(dx, ig_gradient(g, input), in_n * sizeof *dx);

    const double eps = 1e-3;
    int checked = 0, skipped = 0, bad = 0;
    double numeric_mass = 0;
    for (int t = -1; t < g->n_params; t++) {
        float *v = t < 0 ? x : g->param + g->params[t].offset;
        const float *analytic = t < 0 ? dx : grad + g->params[t].offset;
        size_t count = t < 0 ? in_n : g->params[t].count;
        size_t stride = count > 24 ? count / 24 : 1;
        for (size_t i = 0; i < count; i += stride) {
            float saved = v[i];
            double f0 = run_loss(g, labels);
            v[i] = (float)(saved + eps);
            double fp = run_loss(g, labels);
            v[i] = (float)(saved - eps);
            double fm = run_loss(g, labels);
            v[i] = saved;
            double fwd = (fp - f0) / eps, bwd = (f0 - fm) / eps;
            if (fabs(fwd - bwd) > 0.05 * (fabs(fwd) + fabs(bwd)) + 2e-3) {
                skipped++;
                continue;
            }
            double numeric = (fp - fm) / (2 * eps);
            numeric_mass += fabs(numeric);
            checked++;
            if (!check_close(analytic[i], numeric, 2e-3, 3e-2)) {
                bad++;
                fprintf(stderr, "  grad mismatch %s[%zu]: analytic %.6g numeric %.6g\n",
                        t < 0 ? "input" : g->params[t].name, i, (double)analytic[i], numeric);
            }
        }
    }
    CHECK(bad == 0, "whole-graph gradient: %d of %d elements disagree", bad, checked);
    CHECK(checked > 100, "whole-graph gradient: only %d elements checked", checked);
    CHECK(skipped * 10 <= checked, "whole-graph gradient: %d skipped at kinks of %d", skipped,
          checked);
    CHECK(numeric_mass > 1e-3, "whole-graph gradient is vacuous (mass %g)", numeric_mass);
    free(grad);
    free(dx);
    ig_graph_free(g);
}

/* Hand-counted parameters and FLOPs of a three-node graph. */
static void test_counts(void)
{
    ig_graph *g = ig_graph_alloc();
    int x = ig_input(g, 3, 8, 8);
    int c = ig_conv2d(g, x, 4, 3, 3, 2, 2, 1, 1, 1, 1); /* out (4,4,4) */
    int b = ig_batchnorm(g, c);
    int d = ig_dwconv2d(g, b, 3, 1, 1, 0);
    int f = ig_flatten(g, d);
    int l = ig_linear(g, f, 10, 1);
    CHECK(c == 1 && b == 2 && d == 3 && l == 5, "builder indices");
    CHECK(g->nodes[c].shape.c == 4 && g->nodes[c].shape.h == 4 && g->nodes[c].shape.w == 4,
          "conv shape (%d,%d,%d)", g->nodes[c].shape.c, g->nodes[c].shape.h, g->nodes[c].shape.w);
    CHECK(ig_node_param_count(g, c) == 4 * 3 * 9 + 4, "conv params %zu", ig_node_param_count(g, c));
    CHECK(ig_node_param_count(g, b) == 8, "bn params");
    CHECK(ig_node_param_count(g, d) == 4 * 9, "dw params");
    CHECK(ig_node_param_count(g, l) == 64 * 10 + 10, "linear params");
    CHECK(ig_graph_param_count(g) == 112 + 8 + 36 + 650, "graph params %zu", ig_graph_param_count(g));
    /* conv: 64 outputs x 27 MACs x 2 + 64 bias adds. */
    CHECK_CLOSE(ig_node_flops(g, c), 64.0 * 27 * 2 + 64, 0, 0, "conv flops");
    CHECK_CLOSE(ig_node_flops(g, d), 64.0 * 9 * 2, 0, 0, "dwconv flops");
    CHECK_CLOSE(ig_node_flops(g, l), 640.0 * 2 + 10, 0, 0, "linear flops");
    CHECK(ig_graph_finalize(g) == PL_OK, "finalize");
    CHECK(g->n_params == 7, "param tensors %d", g->n_params);
    for (int k = 0; k < g->n_params; k++)
        CHECK(g->params[k].offset % 16 == 0, "param %d offset aligned", k);
    ig_graph_free(g);
}

static void expect_shape_error(int rc, const char *needle, const char *what)
{
    CHECK(rc == PL_ERR_SHAPE || rc == PL_ERR_INVAL, "%s: expected an error, got %d", what, rc);
    CHECK(strstr(pl_last_error(), needle) != NULL, "%s: message '%s' lacks '%s'", what,
          pl_last_error(), needle);
}

static void test_shape_errors(void)
{
    ig_graph *g = ig_graph_alloc();
    int x = ig_input(g, 6, 7, 7);
    int y = ig_input(g, 6, 5, 5);
    expect_shape_error(ig_conv2d(g, x, 4, 3, 3, 1, 1, 1, 1, 4, 0), "node 2 (conv2d): groups 4",
                       "conv groups");
    expect_shape_error(ig_conv2d(g, x, 4, 9, 9, 1, 1, 0, 0, 1, 0), "does not fit", "conv kernel");
    expect_shape_error(ig_binary(g, IG_OP_ADD, x, y), "node 2 (add)", "add shapes");
    int ins[] = {x, y};
    expect_shape_error(ig_concat(g, ins, 2), "input 1 is 5x5", "concat");
    expect_shape_error(ig_split(g, x, 4, 3), "channels [4, 7)", "split");
    expect_shape_error(ig_linear(g, x, 3, 1), "flatten first", "linear");
    expect_shape_error(ig_maxpool(g, x, 3, 2, 2, 0), "at most half", "pool padding");
    expect_shape_error(ig_channel_shuffle(g, x, 4), "groups 4", "shuffle");
    expect_shape_error(ig_dropout(g, x, 1.0f), "[0, 1)", "dropout");
    expect_shape_error(ig_softmax_xent(g, x), "(K,1,1)", "xent");
    ig_node bad;
    memset(&bad, 0, sizeof bad);
    bad.op = IG_OP_RELU;
    bad.n_in = 1;
    bad.in[0] = 5;
    expect_shape_error(ig_add(g, &bad), "not an earlier node", "forward reference");
    bad.op = 999;
    expect_shape_error(ig_add(g, &bad), "unknown opcode", "opcode");
    bad.op = IG_OP_ADD;
    bad.in[0] = x;
    expect_shape_error(ig_add(g, &bad), "takes 2..2 inputs", "arity");
    CHECK(g->n_nodes == 2, "failed adds must not add nodes (have %d)", g->n_nodes);
    int wide = ig_input(g, 1, 2, 4097);
    expect_shape_error(ig_avgpool(g, wide, 3, 1, 1, 0, 1), "width 4097", "avgpool row buffer");
    CHECK(ig_graph_finalize(g) == PL_OK, "finalize");
    expect_shape_error(ig_unary(g, IG_OP_RELU, x), "finalized", "add after finalize");
    expect_shape_error(ig_graph_plan(g, 0), "batch size", "plan batch 0");
    ig_graph_free(g);

    /* Batch statistics of a single value per channel are refused. */
    g = ig_graph_alloc();
    int v = ig_input(g, 3, 1, 1);
    ig_batchnorm(g, v);
    ig_graph_finalize(g);
    CHECK(ig_graph_plan(g, 1) == PL_OK, "plan batch 1 in evaluation mode");
    expect_shape_error(ig_set_training(g, 1), "node 1 (batchnorm): training needs more than one",
                       "bn training batch 1");
    CHECK(ig_graph_plan(g, 2) == PL_OK && ig_set_training(g, 1) == PL_OK, "batch 2 trains");
    expect_shape_error(ig_graph_plan(g, 1), "more than one value", "re-plan to batch 1 in training");
    ig_graph_free(g);

    g = ig_graph_alloc();
    CHECK(ig_operator_begin(g, "a") == 0, "operator a");
    expect_shape_error(ig_operator_begin(g, "b"), "still open", "nested operator");
    ig_operator_end(g);
    expect_shape_error(ig_operator_begin(g, "a"), "duplicate", "duplicate operator");
    expect_shape_error(ig_graph_finalize(g), "no nodes", "empty graph");
    ig_graph_free(g);
}

static void test_operator_boundary(void)
{
    ig_graph *g = ig_graph_alloc();
    int input;
    build_mixed(g, &input);
    int block = ig_operator_find(g, "block");
    CHECK(block == 1 && ig_operator_find(g, "none") == -1, "operator lookup");
    int *ins = malloc((size_t)g->n_nodes * sizeof *ins), *outs = malloc((size_t)g->n_nodes * sizeof *outs);
    int n_in, n_out;
    ig_operator_boundary(g, block, ins, &n_in, outs, &n_out);
    /* block reads the stem's tanh (node 3) twice and feeds the max pool once. */
    CHECK(n_in == 1 && ins[0] == 3, "block inputs: %d (first %d)", n_in, n_in ? ins[0] : -1);
    CHECK(n_out == 1 && g->nodes[outs[0]].op == IG_OP_ADD, "block outputs: %d", n_out);
    ig_operator_boundary(g, ig_operator_find(g, "stem"), ins, &n_in, outs, &n_out);
    CHECK(n_in == 1 && ins[0] == input && n_out == 1 && outs[0] == 3, "stem boundary");
    free(ins);
    free(outs);
    ig_graph_free(g);
}

/* Batch norm uses batch statistics and updates running ones in training,
 * running statistics in evaluation; dropout is the identity in evaluation. */
static void test_modes(void)
{
    ig_graph *g = ig_graph_alloc();
    int x = ig_input(g, 2, 3, 3);
    int b = ig_batchnorm(g, x);
    int d = ig_dropout(g, b, 0.5f);
    CHECK(ig_graph_finalize(g) == PL_OK && ig_graph_plan(g, 4) == PL_OK, "finalize/plan");
    ig_graph_init_params(g, 1);
    fill_pattern(ig_value(g, x), 4 * 18, 1.0);
    for (size_t i = 0; i < 4 * 18; i++) ig_value(g, x)[i] += 2.0f; /* mean far from 0 */
    ig_set_training(g, 0);
    ig_forward(g, NULL);
    /* Running stats (0, 1): evaluation output is x / sqrt(1 + eps). */
    CHECK_CLOSE(ig_value(g, d)[5], ig_value(g, x)[5] / sqrt(1 + 1e-5), 1e-6, 1e-6, "eval bn");
    CHECK(g->state[0] == 0.0f && g->state[2] == 1.0f, "eval leaves running stats");
    ig_set_training(g, 1);
    ig_forward(g, NULL);
    CHECK(g->state[0] > 0.15f, "training updates running mean (%g)", (double)g->state[0]);
    int zeros = 0;
    for (size_t i = 0; i < 4 * 18; i++) zeros += ig_value(g, d)[i] == 0.0f;
    CHECK(zeros > 10 && zeros < 62, "training dropout zeroes about half (%d of 72)", zeros);
    double mean = 0;
    for (size_t i = 0; i < 4 * 18; i++) mean += ig_value(g, b)[i];
    CHECK(fabs(mean / 72) < 1e-5, "training bn output has batch mean 0 (%g)", mean / 72);
    ig_graph_free(g);
}

/* Re-planning for a smaller batch reuses the slabs (the per-step allocation
 * count is checked by test_no_malloc). */
static void test_replan_reuses(void)
{
    ig_graph *g = ig_graph_alloc();
    int input;
    build_mixed(g, &input);
    ig_graph_finalize(g);
    ig_graph_plan(g, 4);
    float *act = g->act;
    int32_t *labels = g->labels;
    ig_graph_plan(g, 2);
    ig_graph_plan(g, 3);
    CHECK(g->act == act && g->labels == labels, "re-planning a smaller batch reallocated");
    ig_graph_free(g);
}

/* Two finalized copies of build_mixed (inputs in *in_a, *in_b); returns the
 * loss node. */
static int build_mixed_pair(ig_graph *a, ig_graph *b, int *in_a, int *in_b)
{
    int loss = build_mixed(a, in_a);
    build_mixed(b, in_b);
    CHECK(ig_graph_finalize(a) == PL_OK && ig_graph_finalize(b) == PL_OK, "finalize");
    return loss;
}

/* An inference plan runs forward exactly as a training plan in evaluation
 * mode, without the gradient slab; a training plan afterwards adds it and
 * backward runs. */
static void test_plan_inference(void)
{
    ig_graph *a = ig_graph_alloc(), *b = ig_graph_alloc();
    int in_a, in_b;
    int loss = build_mixed_pair(a, b, &in_a, &in_b);
    ig_graph_init_params(a, 3);
    ig_graph_init_params(b, 3);
    CHECK(ig_graph_plan(a, 3) == PL_OK && ig_set_training(a, 0) == PL_OK, "training plan");
    ig_set_training(b, 1);
    CHECK(ig_graph_plan_inference(b, 3) == PL_OK, "inference plan");
    CHECK(b->dact == NULL && !b->grads_planned && !b->training,
          "an inference plan allocates no gradients and evaluates");
    fill_pattern(ig_value(a, in_a), 3 * 4 * 9 * 9, 1.0);
    fill_pattern(ig_value(b, in_b), 3 * 4 * 9 * 9, 1.0);
    int32_t labels[3] = {0, 3, 4};
    ig_forward(a, labels);
    ig_forward(b, labels);
    CHECK(memcmp(ig_value(a, loss - 1), ig_value(b, loss - 1), 3 * 5 * sizeof(float)) == 0 &&
              a->loss == b->loss,
          "the same logits and loss (%g, %g)", a->loss, b->loss);
    CHECK(ig_graph_plan(b, 3) == PL_OK && b->dact != NULL && b->grads_planned,
          "a training plan afterwards adds the gradients");
    ig_zero_grad(b);
    ig_backward(b, loss);
    double norm = 0;
    for (size_t i = 0; i < b->param_size; i++) norm += fabs(b->grad[i]);
    CHECK(norm > 0 && isfinite(norm), "and backward runs (|grad| %g)", norm);
    ig_graph_free(a);
    ig_graph_free(b);
}

/* One backward pass of g (forward first): from the loss node, or, with
 * dout, from the logits seeded with it. Copies the parameter and the
 * input's gradients into grad and dx. */
static void one_pass(ig_graph *g, int loss, int input, const float *dout, float *grad, float *dx)
{
    static const int32_t labels[3] = {1, 4, 2};
    ig_forward(g, labels);
    ig_zero_grad(g);
    if (dout) ig_seed_gradient(g, loss - 1, dout);
    ig_backward(g, dout ? loss - 1 : loss);
    memcpy(grad, g->grad, g->param_size * sizeof *grad);
    memcpy(dx, ig_gradient(g, input), 3 * 4 * 9 * 9 * sizeof *dx);
}

/* Backward zeroes each activation gradient once consumed, so the next
 * pass clears only what is left: passes after the first, from the loss or
 * from seeded logits, give bitwise the gradients of a fresh graph's first
 * pass, and after a pass the slab holds the input's gradient alone. */
static void test_repeated_backward(void)
{
    ig_graph *g = ig_graph_alloc(), *fresh = ig_graph_alloc();
    int in_g, in_f;
    int loss = build_mixed_pair(g, fresh, &in_g, &in_f);
    const size_t P = g->param_size, X = 3 * 4 * 9 * 9;
    float *grad[2], *dx[2], dout[3 * 5];
    for (int k = 0; k < 2; k++) {
        grad[k] = pl_xmalloc(P * sizeof(float));
        dx[k] = pl_xmalloc(X * sizeof(float));
    }
    fill_pattern(dout, 3 * 5, 0.7);
    for (int seeded = 0; seeded < 2; seeded++) {
        ig_graph_init_params(fresh, 5);
        CHECK(ig_graph_plan(fresh, 3) == PL_OK && ig_set_training(fresh, 1) == PL_OK, "plan");
        fill_pattern(ig_value(fresh, in_f), X, 0.2);
        one_pass(fresh, loss, in_f, seeded ? dout : NULL, grad[0], dx[0]);
        ig_graph_init_params(g, 5);
        CHECK(ig_graph_plan(g, 3) == PL_OK && ig_set_training(g, 1) == PL_OK, "plan");
        fill_pattern(ig_value(g, in_g), X, 0.2);
        for (int pass = 0; pass < 3; pass++) { /* loss, seeded logits, loss, ... */
            int from_logits = (pass + seeded) % 2;
            one_pass(g, loss, in_g, from_logits ? dout : NULL, grad[1], dx[1]);
            if (from_logits != seeded) continue;
            CHECK(memcmp(grad[0], grad[1], P * sizeof(float)) == 0 &&
                      memcmp(dx[0], dx[1], X * sizeof(float)) == 0,
                  "pass %d from the %s: the gradients of a first pass", pass + 1,
                  seeded ? "seeded logits" : "loss");
        }
        size_t nonzero = 0;
        const ig_node *x = &g->nodes[in_g];
        for (size_t i = 0; i < g->act_size; i++)
            nonzero += g->dact[i] != 0 && (i < x->act_off || i >= x->act_off + X);
        CHECK(nonzero == 0, "after a pass only the input's gradient is left (%zu others)", nonzero);
    }
    for (int k = 0; k < 2; k++) {
        pl_free(grad[k]);
        pl_free(dx[k]);
    }
    ig_graph_free(g);
    ig_graph_free(fresh);
}

/* The same step on 1 and 2 threads agrees (sgemm may reassociate and each
 * thread sums its own images' weight gradients). Both graphs are planned on
 * one thread: at batch 26 the stem convolution's 9x9 planes make two column
 * matrices of 13 images, one per thread on two, whose workspace the graph
 * grows when the thread count is raised after planning. */
static void test_thread_independence(void)
{
    enum { BATCH = 26 };
    float *results[2];
    for (int t = 0; t < 2; t++) {
        pl_threads_set(1);
        ig_graph *g = ig_graph_alloc();
        int input;
        int loss = build_mixed(g, &input);
        ig_graph_finalize(g);
        ig_graph_init_params(g, 11);
        ig_graph_plan(g, BATCH);
        const size_t planned = g->work_size;
        pl_threads_set(t + 1);
        ig_set_training(g, 1);
        fill_pattern(ig_value(g, input), BATCH * 4 * 81, 0.7);
        int32_t labels[BATCH];
        for (int i = 0; i < BATCH; i++) labels[i] = i % 5;
        ig_forward(g, labels);
        ig_zero_grad(g);
        ig_backward(g, loss);
        results[t] = malloc(g->param_size * sizeof(float));
        memcpy(results[t], g->grad, g->param_size * sizeof(float));
        if (t == 1) {
            CHECK(g->work_size > planned, "workspace not grown for 2 threads (%zu floats)",
                  planned);
            CHECK_ARRAYS_CLOSE(results[1], results[0], g->param_size, 1e-5, 1e-4,
                               "gradients with 2 threads vs 1");
        }
        ig_graph_free(g);
    }
    free(results[0]);
    free(results[1]);
    pl_threads_set(1);
}

static void test_names(void)
{
    for (int op = 0; op < IG_OP_COUNT; op++)
        CHECK(ig_opcode_from_name(ig_opcode_name(op)) == op, "opcode name round trip %d", op);
    CHECK(ig_opcode_from_name("conv3d") == -1, "unknown opcode name");
}

int main(void)
{
    pl_threads_set(1);
    test_names();
    test_counts();
    test_shape_errors();
    test_operator_boundary();
    test_modes();
    test_whole_graph_gradient();
    test_replan_reuses();
    test_plan_inference();
    test_repeated_backward();
    test_thread_independence();
    return check_summary("test_graph");
}
