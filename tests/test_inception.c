/* test_inception.c: the InceptionV3 builders (pipeline/models/
 * model_inceptionv3.c).
 *
 * - "inceptionv3" at width 1.0, 299x299x3, 1000 classes has torchvision's
 *   parameter count without AuxLogits (23,834,568), the module output shapes
 *   of torchvision (Mixed_5b 256x35x35 .. Mixed_7c 2048x8x8, so 8x8 before
 *   the average pool), batch norm eps 0.001, InceptionE's concat of four
 *   branches, two of them ending in a concat of their own; 75x75 is the least input it takes. Graphs are built only,
 *   never planned, at this size.
 * - "inceptionv3_small" builds for 28x28 and 32x32 with 10 classes, reaches
 *   Mixed_7c at 5x5 and 6x6, and has the same parameters as the full model.
 * - The width multiplier scales every conv (Mixed_7c at width 0.5).
 * - Every node except the input belongs to a named operator; names unique.
 * - A training forward and backward of the small variant at width 0.125,
 *   32x32, batch 2 gives a finite loss, finite logits and gradients. */
#include "check.h"
#include "ig.h"
#include "models.h"
#include "pl_err.h"
#include "pl_threads.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Builds the model into a new graph; NULL (and a failed check) on error. */
static ig_graph *build(const char *name, int c, int h, int w, int classes, float width,
                       float dropout, model_nodes *nodes)
{
    ig_graph *g = ig_graph_alloc();
    model_spec spec = {.in_c = c, .in_h = h, .in_w = w, .classes = classes, .width = width,
                       .dropout = dropout};
    snprintf(spec.name, sizeof spec.name, "%s", name);
    int rc = model_build(g, &spec, nodes);
    CHECK(rc == PL_OK, "build %s %dx%dx%d width %g: %s", name, c, h, w, (double)width,
          pl_last_error());
    if (rc != PL_OK) {
        ig_graph_free(g);
        return NULL;
    }
    return g;
}

/* The last node of operator `name` with opcode op, or -1. */
static int node_in_operator(const ig_graph *g, const char *name, int op)
{
    int id = ig_operator_find(g, name);
    int found = -1;
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].operator_id == id && g->nodes[i].op == op) found = i;
    return id < 0 ? -1 : found;
}

/* The output shape of a module (its concat node). */
static ig_shape module_shape(const ig_graph *g, const char *module)
{
    char name[IG_NAME_LEN];
    snprintf(name, sizeof name, "%s.concat", module);
    int node = node_in_operator(g, name, IG_OP_CONCAT);
    CHECK(node >= 0, "%s: no concat node", name);
    ig_shape none = {0, 0, 0};
    return node >= 0 ? g->nodes[node].shape : none;
}

static void check_module_shape(const ig_graph *g, const char *module, int c, int h, int w)
{
    ig_shape s = module_shape(g, module);
    CHECK(s.c == c && s.h == h && s.w == w, "%s: shape (%d,%d,%d), want (%d,%d,%d)", module,
          s.c, s.h, s.w, c, h, w);
}

/* Properties every built graph has: operators cover all but the input,
 * names unique, torchvision's batch-norm eps, logits (classes,1,1) last. */
static void check_structure(const ig_graph *g, const model_nodes *nodes, int classes,
                            const char *what)
{
    int unowned = 0, bad_eps = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const ig_node *nd = &g->nodes[i];
        if (i != nodes->input && nd->operator_id < 0) unowned++;
        if (nd->op == IG_OP_BATCHNORM && fabsf(nd->fattr[0] - 0.001f) > 1e-9f) bad_eps++;
    }
    CHECK(unowned == 0, "%s: %d nodes outside any operator", what, unowned);
    CHECK(g->nodes[nodes->input].operator_id < 0 && g->nodes[nodes->input].op == IG_OP_INPUT,
          "%s: the input node is a bare input", what);
    CHECK(bad_eps == 0, "%s: %d batch norms without eps 0.001", what, bad_eps);
    int duplicates = 0;
    for (int a = 0; a < g->n_operators; a++)
        for (int b = a + 1; b < g->n_operators; b++)
            if (strcmp(g->operators[a].name, g->operators[b].name) == 0) duplicates++;
    CHECK(duplicates == 0, "%s: %d duplicate operator names", what, duplicates);
    const ig_shape out = g->nodes[nodes->logits].shape;
    CHECK(out.c == classes && out.h == 1 && out.w == 1, "%s: logits (%d,%d,%d)", what, out.c,
          out.h, out.w);
    CHECK(nodes->logits == g->n_nodes - 1, "%s: logits are the last node", what);
}

static void test_full_model(void)
{
    model_nodes nodes;
    ig_graph *g = build("inceptionv3", 3, 299, 299, 1000, 1.0f, 0.5f, &nodes);
    if (!g) return;
    check_structure(g, &nodes, 1000, "inceptionv3 299");
    size_t params = ig_graph_param_count(g);
    CHECK(params == 23834568u, "parameters: %zu, want 23834568 (torchvision, no AuxLogits)",
          params);
    /* stem 7 + 3 InceptionA x 5 + B 4 + 4 C x 5 + D 4 + 2 E x 5 + classifier */
    CHECK(g->n_operators == 61, "operators: %d, want 61", g->n_operators);

    static const char *const expected_ops[] = {
        "stem.Conv2d_1a_3x3", "stem.Conv2d_2a_3x3", "stem.Conv2d_2b_3x3", "stem.maxpool1",
        "stem.Conv2d_3b_1x1", "stem.Conv2d_4a_3x3", "stem.maxpool2",
        "Mixed_5b.branch1x1", "Mixed_5b.branch5x5", "Mixed_5b.branch3x3dbl",
        "Mixed_5b.branch_pool", "Mixed_5b.concat", "Mixed_6a.branch3x3",
        "Mixed_6a.branch3x3dbl", "Mixed_6a.branch_pool", "Mixed_6e.branch7x7",
        "Mixed_6e.branch7x7dbl", "Mixed_7a.branch3x3", "Mixed_7a.branch7x7x3",
        "Mixed_7c.branch3x3", "Mixed_7c.branch3x3dbl", "Mixed_7c.concat", "classifier",
    };
    for (size_t i = 0; i < sizeof expected_ops / sizeof expected_ops[0]; i++)
        CHECK(ig_operator_find(g, expected_ops[i]) >= 0, "operator %s missing", expected_ops[i]);
    for (int i = 0; i < g->n_operators; i++)
        CHECK(strstr(g->operators[i].name, "Aux") == NULL, "aux head operator %s",
              g->operators[i].name);

    check_module_shape(g, "Mixed_5b", 256, 35, 35);
    check_module_shape(g, "Mixed_5c", 288, 35, 35);
    check_module_shape(g, "Mixed_5d", 288, 35, 35);
    check_module_shape(g, "Mixed_6a", 768, 17, 17);
    check_module_shape(g, "Mixed_6e", 768, 17, 17);
    check_module_shape(g, "Mixed_7a", 1280, 8, 8);
    check_module_shape(g, "Mixed_7b", 2048, 8, 8);
    check_module_shape(g, "Mixed_7c", 2048, 8, 8);

    int gap = node_in_operator(g, "classifier", IG_OP_GLOBAL_AVGPOOL);
    CHECK(gap >= 0, "classifier has a global average pool");
    if (gap >= 0) {
        ig_shape s = g->nodes[g->nodes[gap].in[0]].shape;
        CHECK(s.c == 2048 && s.h == 8 && s.w == 8, "before the avgpool: (%d,%d,%d), want 2048x8x8",
              s.c, s.h, s.w);
    }
    int drop = node_in_operator(g, "classifier", IG_OP_DROPOUT);
    CHECK(drop >= 0 && g->nodes[drop].fattr[0] == 0.5f, "classifier dropout 0.5");
    int fc = node_in_operator(g, "classifier", IG_OP_LINEAR);
    CHECK(fc == nodes.logits && ig_node_param_count(g, fc) == 2048u * 1000u + 1000u,
          "fc 2048 -> 1000 with bias");

    /* InceptionE concatenates four branches, 320 + 768 + 768 + 192, as
     * torchvision nests it: each 3x3 branch concatenates its 1x3 and 3x1
     * (384 each) inside its operator, so every branch has one output. */
    int cat = node_in_operator(g, "Mixed_7b.concat", IG_OP_CONCAT);
    CHECK(cat >= 0 && g->nodes[cat].n_in == 4, "Mixed_7b.concat takes 4 inputs");
    if (cat >= 0) {
        static const int want_c[4] = {320, 768, 768, 192};
        for (int k = 0; k < g->nodes[cat].n_in && k < 4; k++)
            CHECK(g->nodes[g->nodes[cat].in[k]].shape.c == want_c[k],
                  "Mixed_7b.concat input %d: %d channels, want %d", k,
                  g->nodes[g->nodes[cat].in[k]].shape.c, want_c[k]);
    }
    static const char *const side_by_side[2] = {"Mixed_7b.branch3x3", "Mixed_7b.branch3x3dbl"};
    for (int k = 0; k < 2; k++) {
        int pair = node_in_operator(g, side_by_side[k], IG_OP_CONCAT);
        CHECK(pair >= 0 && g->nodes[pair].n_in == 2 &&
                  g->nodes[g->nodes[pair].in[0]].shape.c == 384 &&
                  g->nodes[g->nodes[pair].in[1]].shape.c == 384,
              "%s ends in the concat of its 1x3 and 3x1", side_by_side[k]);
    }
    /* The 1x7 of InceptionC: kernel (1,7), padding (0,3). */
    int id = ig_operator_find(g, "Mixed_6b.branch7x7");
    int n_1x7 = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const ig_node *nd = &g->nodes[i];
        if (nd->operator_id == id && nd->op == IG_OP_CONV2D && nd->attr[IG_A_KH] == 1 &&
            nd->attr[IG_A_KW] == 7 && nd->attr[IG_A_PH] == 0 && nd->attr[IG_A_PW] == 3)
            n_1x7++;
    }
    CHECK(n_1x7 == 1, "Mixed_6b.branch7x7 has one 1x7 conv with padding (0,3)");

    /* A multiply-add counts 2: torchvision's 5.71 G multiply-adds, plus batch
     * norm, ReLU and pooling. */
    double flops = ig_graph_flops(g);
    printf("inceptionv3 299x299: %zu parameters, %.3f GFLOPs\n", params, flops * 1e-9);
    CHECK(flops > 11.3e9 && flops < 11.8e9, "FLOPs %.4g", flops);
    ig_graph_free(g);

    /* 75x75 is the least input; it reaches Mixed_7c at 1x1. */
    g = build("inceptionv3", 3, 75, 75, 1000, 1.0f, 0.0f, &nodes);
    if (g) {
        check_module_shape(g, "Mixed_7c", 2048, 1, 1);
        CHECK(node_in_operator(g, "classifier", IG_OP_DROPOUT) < 0, "no dropout node at 0");
        ig_graph_free(g);
    }
    g = ig_graph_alloc();
    model_spec small = {.name = "inceptionv3", .in_c = 3, .in_h = 74, .in_w = 299,
                        .classes = 10, .width = 1.0f};
    int rc = model_build(g, &small, &nodes);
    CHECK(rc == PL_ERR_INVAL && strstr(pl_last_error(), "75x75") != NULL,
          "74x299 refused: rc %d, %s", rc, pl_last_error());
    ig_graph_free(g);
}

static void test_small_variant(void)
{
    model_nodes nodes;
    size_t full_params = 0;
    ig_graph *g = build("inceptionv3", 3, 299, 299, 10, 1.0f, 0.0f, &nodes);
    if (g) {
        full_params = ig_graph_param_count(g);
        ig_graph_free(g);
    }
    static const int sizes[2] = {28, 32};
    static const int mixed5[2] = {26, 30}, mixed6[2] = {12, 14}, mixed7[2] = {5, 6};
    for (int s = 0; s < 2; s++) {
        for (int c = 1; c <= 3; c += 2) {
            char what[64];
            snprintf(what, sizeof what, "inceptionv3_small %dx%dx%d", c, sizes[s], sizes[s]);
            g = build("inceptionv3_small", c, sizes[s], sizes[s], 10, 1.0f, 0.2f, &nodes);
            if (!g) continue;
            check_structure(g, &nodes, 10, what);
            /* the stem without its two max pools */
            CHECK(g->n_operators == 59, "%s: %d operators, want 59", what, g->n_operators);
            CHECK(ig_operator_find(g, "stem.maxpool1") < 0, "%s: no stem max pool", what);
            check_module_shape(g, "Mixed_5b", 256, mixed5[s], mixed5[s]);
            check_module_shape(g, "Mixed_6e", 768, mixed6[s], mixed6[s]);
            check_module_shape(g, "Mixed_7c", 2048, mixed7[s], mixed7[s]);
            if (c == 3)
                CHECK(ig_graph_param_count(g) == full_params,
                      "%s: %zu parameters, the full model has %zu", what,
                      ig_graph_param_count(g), full_params);
            if (c == 3 && s == 1)
                printf("inceptionv3_small 32x32: %.3f GFLOPs\n", ig_graph_flops(g) * 1e-9);
            ig_graph_free(g);
        }
    }
    g = build("inceptionv3_small", 3, 9, 9, 10, 1.0f, 0.0f, &nodes);
    if (g) {
        check_module_shape(g, "Mixed_7c", 2048, 1, 1);
        ig_graph_free(g);
    }
    g = ig_graph_alloc();
    model_spec tiny = {.name = "inceptionv3_small", .in_c = 3, .in_h = 8, .in_w = 8,
                       .classes = 10, .width = 1.0f};
    CHECK(model_build(g, &tiny, &nodes) == PL_ERR_INVAL, "8x8 refused");
    ig_graph_free(g);
}

static void test_width(void)
{
    model_nodes nodes;
    ig_graph *g = build("inceptionv3_small", 3, 32, 32, 10, 0.5f, 0.0f, &nodes);
    if (!g) return;
    check_structure(g, &nodes, 10, "width 0.5");
    /* 160 + 192 + 192 + 192 + 192 + 96 */
    check_module_shape(g, "Mixed_7c", 1024, 6, 6);
    check_module_shape(g, "Mixed_5b", 128, 30, 30);
    int first = node_in_operator(g, "stem.Conv2d_1a_3x3", IG_OP_CONV2D);
    CHECK(first >= 0 && g->nodes[first].shape.c == 16, "Conv2d_1a at width 0.5: 16 channels");
    ig_graph_free(g);
}

static void test_train_step(void)
{
    model_nodes nodes;
    ig_graph *g = build("inceptionv3_small", 3, 32, 32, 10, 0.125f, 0.5f, &nodes);
    if (!g) return;
    const int N = 2;
    int loss = ig_softmax_xent(g, nodes.logits);
    CHECK(loss >= 0 && ig_graph_finalize(g) == PL_OK, "finalize: %s", pl_last_error());
    ig_graph_init_params(g, 7);
    CHECK(ig_graph_plan(g, N) == PL_OK && ig_set_training(g, 1) == PL_OK, "plan: %s",
          pl_last_error());
    float *x = ig_value(g, nodes.input);
    for (int i = 0; i < N * 3 * 32 * 32; i++) x[i] = (float)sin(i * 0.37);
    int32_t labels[2] = {3, 7};
    ig_forward(g, labels);
    ig_zero_grad(g);
    ig_backward(g, loss);

    const float *logits = ig_value(g, nodes.logits);
    int finite_logits = 1;
    for (int i = 0; i < N * 10; i++) finite_logits &= isfinite(logits[i]) != 0;
    CHECK(finite_logits, "finite logits");
    CHECK(isfinite(g->loss) && g->loss > 0.0f, "finite loss %g", (double)g->loss);
    double grad_abs = 0.0;
    int finite_grad = 1;
    for (size_t i = 0; i < g->param_size; i++) {
        finite_grad &= isfinite(g->grad[i]) != 0;
        grad_abs += fabs(g->grad[i]);
    }
    CHECK(finite_grad && grad_abs > 0.0, "finite, non-zero gradients (sum |g| %g)", grad_abs);
    /* The first conv gets a gradient: it flowed through every module. */
    int first = node_in_operator(g, "stem.Conv2d_1a_3x3", IG_OP_CONV2D);
    const ig_param *p = &g->params[g->nodes[first].param_first];
    double first_abs = 0.0;
    for (size_t i = 0; i < p->count; i++) first_abs += fabs(g->grad[p->offset + i]);
    CHECK(first_abs > 0.0, "stem gradient non-zero (%g)", first_abs);

    ig_set_training(g, 0);
    ig_forward(g, labels);
    CHECK(isfinite(g->loss), "evaluation forward: loss %g", (double)g->loss);
    ig_graph_free(g);
}

int main(void)
{
    /* One thread: the step is hundreds of tiny kernels, which OpenMP's
     * fork-join makes twenty times slower on a busy two-core machine. */
    pl_threads_set(1);
    test_full_model();
    test_small_variant();
    test_width();
    test_train_step();
    return check_summary("test_inception");
}
