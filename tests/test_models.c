/* test_models.c: the model zoo's ResNet18 and MobileNetV3 builders.
 *
 * - Parameter counts at width 1.0, 224x224x3, 1000 classes equal
 *   torchvision's (graphs built only, never planned at that size), the
 *   small-stem ResNet18 at 32x32 with 10 classes matches the CIFAR-style
 *   count, and MobileNetV3 at widths 0.35 and 0.75 scales as torchvision's
 *   width_mult does.
 * - Structure: every node but the input belongs to a named operator, the
 *   names are unique, the expected operators exist (and absent ones do not),
 *   a few boundaries are as the architecture says, and batch norm carries
 *   torchvision's settings.
 * - A training forward and backward at width 0.25, 32x32, batch 2 of each
 *   model gives logits of shape (classes,1,1), all finite, and finite,
 *   non-zero parameter gradients.
 * - The registry knows the names and rejects an unknown one. */
#include "check.h"
#include "ig.h"
#include "models.h"
#include "pl_err.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const MODELS[] = {"resnet18", "resnet18_small", "mobilenetv3_large",
                                     "mobilenetv3_small"};
enum { N_TESTED = sizeof MODELS / sizeof MODELS[0] };

static model_spec spec_of(const char *name, int size, int classes, float width, float dropout)
{
    model_spec s;
    memset(&s, 0, sizeof s);
    snprintf(s.name, sizeof s.name, "%s", name);
    s.in_c = 3;
    s.in_h = size;
    s.in_w = size;
    s.classes = classes;
    s.width = width;
    s.dropout = dropout;
    return s;
}

/* Builds the model into a new graph; NULL (and a failed check) on error. */
static ig_graph *build(const model_spec *spec, model_nodes *nodes)
{
    ig_graph *g = ig_graph_alloc();
    int rc = model_build(g, spec, nodes);
    CHECK(rc == PL_OK, "build %s: %s", spec->name, pl_last_error());
    if (rc != PL_OK) {
        ig_graph_free(g);
        return NULL;
    }
    const ig_shape sh = g->nodes[nodes->logits].shape;
    CHECK(sh.c == spec->classes && sh.h == 1 && sh.w == 1, "%s logits shape (%d,%d,%d)",
          spec->name, sh.c, sh.h, sh.w);
    return g;
}

static void test_param_counts(void)
{
    static const struct {
        const char *name;
        int         size, classes;
        size_t      params;
    } cases[] = {
        {"resnet18", 224, 1000, 11689512},       /* torchvision.models.resnet18   */
        {"mobilenetv3_large", 224, 1000, 5483032}, /* mobilenet_v3_large        */
        {"mobilenetv3_small", 224, 1000, 2542856}, /* mobilenet_v3_small        */
        /* resnet18 with conv1 = 3x3/1 (1,728 weights, not 9,408), no max pool
         * and fc(512 -> 10): 11,689,512 - 7,680 - 507,870. */
        {"resnet18_small", 32, 10, 11173962},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        model_spec spec = spec_of(cases[i].name, cases[i].size, cases[i].classes, 1.0f, 0.2f);
        model_nodes nodes;
        ig_graph *g = build(&spec, &nodes);
        if (!g) continue;
        const size_t got = ig_graph_param_count(g);
        CHECK(got == cases[i].params, "%s parameters: got %zu, want %zu", cases[i].name, got,
              cases[i].params);
        ig_graph_free(g);
    }
    /* Other widths, against a Python transcription of torchvision's
     * _mobilenet_v3_conf with width_mult (224x224, 1000 classes). 0.35 needs
     * the width taken as the decimal 0.35: 240 * 0.35f would round to 80. */
    CHECK(model_scaled_channels(240, 0.35f, 8) == 88, "240 x 0.35 -> 88 channels");
    static const struct {
        const char *name;
        float       width;
        size_t      params;
    } widths[] = {
        {"mobilenetv3_large", 0.35f, 997064}, {"mobilenetv3_small", 0.35f, 558744},
        {"mobilenetv3_large", 0.75f, 3377576}, {"mobilenetv3_small", 0.75f, 1653920},
    };
    for (size_t i = 0; i < sizeof widths / sizeof widths[0]; i++) {
        model_spec spec = spec_of(widths[i].name, 224, 1000, widths[i].width, 0.2f);
        model_nodes nodes;
        ig_graph *g = build(&spec, &nodes);
        if (!g) continue;
        const size_t got = ig_graph_param_count(g);
        CHECK(got == widths[i].params, "%s width %g parameters: got %zu, want %zu",
              widths[i].name, (double)widths[i].width, got, widths[i].params);
        ig_graph_free(g);
    }
}

/* Every node but the input in a named operator, names unique, and the
 * input is node 0 and the only input node. */
static void check_operators_cover(const ig_graph *g, const model_nodes *nodes, const char *what)
{
    int outside = 0, inputs = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].op == IG_OP_INPUT) inputs++;
        else if (g->nodes[i].operator_id < 0) outside++;
    }
    CHECK(nodes->input == 0 && inputs == 1 && g->nodes[0].operator_id < 0,
          "%s: one input node, outside every operator", what);
    CHECK(outside == 0, "%s: %d nodes outside any named operator", what, outside);
    int duplicates = 0;
    for (int a = 0; a < g->n_operators; a++)
        for (int b = a + 1; b < g->n_operators; b++)
            duplicates += strcmp(g->operators[a].name, g->operators[b].name) == 0;
    CHECK(duplicates == 0, "%s: %d duplicate operator names", what, duplicates);
}

static void expect_operator(const ig_graph *g, const char *name, int present, const char *what)
{
    CHECK((ig_operator_find(g, name) >= 0) == present, "%s: operator %s should %sexist", what,
          name, present ? "" : "not ");
}

/* Checks operator `name`'s boundary counts; returns its id or -1. Writes
 * the boundary into ins/outs (g->n_nodes entries each). */
static int expect_boundary(const ig_graph *g, const char *name, int want_in, int want_out,
                           int *ins, int *outs)
{
    const int id = ig_operator_find(g, name);
    CHECK(id >= 0, "operator %s missing", name);
    if (id < 0) return -1;
    int n_in = 0, n_out = 0;
    ig_operator_boundary(g, id, ins, &n_in, outs, &n_out);
    CHECK(n_in == want_in && n_out == want_out, "%s boundary: %d inputs, %d outputs (want %d, %d)",
          name, n_in, n_out, want_in, want_out);
    return n_in == want_in && n_out == want_out ? id : -1;
}

/* The node at the end of operator `name` (its last node), or -1. */
static int last_node_of(const ig_graph *g, const char *name)
{
    const int id = ig_operator_find(g, name);
    int last = -1;
    for (int i = 0; i < g->n_nodes; i++)
        if (id >= 0 && g->nodes[i].operator_id == id) last = i;
    return last;
}

static void test_resnet_structure(void)
{
    model_spec spec = spec_of("resnet18", 224, 1000, 1.0f, 0.0f);
    model_nodes nodes;
    ig_graph *g = build(&spec, &nodes);
    if (!g) return;
    check_operators_cover(g, &nodes, "resnet18");
    /* stem + 8 blocks x (conv1, conv2, out) + 3 downsamples + classifier */
    CHECK(g->n_operators == 1 + 8 * 3 + 3 + 1, "resnet18: %d operators", g->n_operators);
    expect_operator(g, "layer1.0.downsample", 0, "resnet18");
    expect_operator(g, "layer2.0.downsample", 1, "resnet18");
    expect_operator(g, "layer2.1.downsample", 0, "resnet18");
    expect_operator(g, "layer4.1.conv2", 1, "resnet18");
    int *ins = malloc((size_t)g->n_nodes * sizeof *ins);
    int *outs = malloc((size_t)g->n_nodes * sizeof *outs);
    /* The stem's max pool feeds layer1.0.conv1 and the identity shortcut. */
    if (expect_boundary(g, "layer1.0.conv1", 1, 1, ins, outs) >= 0) {
        CHECK(g->nodes[ins[0]].op == IG_OP_MAXPOOL && ins[0] == last_node_of(g, "stem"),
              "layer1.0.conv1 reads the stem's max pool");
        CHECK(g->nodes[outs[0]].op == IG_OP_RELU && g->nodes[outs[0]].shape.c == 64 &&
                  g->nodes[outs[0]].shape.h == 56,
              "layer1.0.conv1 gives a (64,56,56) relu");
    }
    if (expect_boundary(g, "layer1.0.out", 2, 1, ins, outs) >= 0)
        CHECK(ins[0] == last_node_of(g, "stem") && ins[1] == last_node_of(g, "layer1.0.conv2"),
              "layer1.0.out adds the block input and conv2");
    if (expect_boundary(g, "layer2.0.out", 2, 1, ins, outs) >= 0)
        CHECK(ins[0] == last_node_of(g, "layer2.0.conv2") &&
                  ins[1] == last_node_of(g, "layer2.0.downsample"),
              "layer2.0.out adds conv2 and the downsample");
    /* layer1.1's output feeds layer2.0.conv1 and layer2.0.downsample. */
    if (expect_boundary(g, "layer2.0.downsample", 1, 1, ins, outs) >= 0) {
        const ig_shape sh = g->nodes[outs[0]].shape;
        CHECK(ins[0] == last_node_of(g, "layer1.1.out") && sh.c == 128 && sh.h == 28,
              "layer2.0.downsample: (64,56,56) -> (128,28,28)");
    }
    if (expect_boundary(g, "classifier", 1, 1, ins, outs) >= 0)
        CHECK(outs[0] == nodes.logits, "classifier gives the logits");
    free(ins);
    free(outs);
    ig_graph_free(g);
}

static void test_mobilenet_structure(void)
{
    model_spec spec = spec_of("mobilenetv3_large", 224, 1000, 1.0f, 0.2f);
    model_nodes nodes;
    ig_graph *g = build(&spec, &nodes);
    if (!g) return;
    check_operators_cover(g, &nodes, "mobilenetv3_large");
    /* Block 1 expands 16 -> 16: no expand conv; residual (stride 1, 16 -> 16). */
    expect_operator(g, "features.1.expand", 0, "large");
    expect_operator(g, "features.1.add", 1, "large");
    expect_operator(g, "features.1.se", 0, "large");
    expect_operator(g, "features.2.add", 0, "large"); /* stride 2 */
    expect_operator(g, "features.4.se", 1, "large");
    expect_operator(g, "features.11.add", 0, "large"); /* 80 -> 112 */
    expect_operator(g, "features.15.add", 1, "large");
    expect_operator(g, "features.16.dw", 0, "large");
    int *ins = malloc((size_t)g->n_nodes * sizeof *ins);
    int *outs = malloc((size_t)g->n_nodes * sizeof *outs);
    /* SE of block 4 (72 expanded, squeeze 24): reads the depthwise output. */
    if (expect_boundary(g, "features.4.se", 1, 1, ins, outs) >= 0) {
        CHECK(ins[0] == last_node_of(g, "features.4.dw") && g->nodes[outs[0]].op == IG_OP_MUL &&
                  g->nodes[outs[0]].shape.c == 72 && g->nodes[outs[0]].shape.h == 28,
              "features.4.se: (72,28,28) -> mul");
        const int fc1 = ins[0] + 2; /* global avgpool, then the squeeze conv */
        CHECK(g->nodes[fc1].op == IG_OP_PWCONV2D && g->nodes[fc1].shape.c == 24 &&
                  g->nodes[fc1].attr[IG_A_BIAS] == 1,
              "features.4.se squeezes to 24 channels with bias");
    }
    if (expect_boundary(g, "features.5.add", 2, 1, ins, outs) >= 0)
        CHECK(ins[0] == last_node_of(g, "features.4.project") &&
                  ins[1] == last_node_of(g, "features.5.project"),
              "features.5.add adds the block input and the projection");
    if (expect_boundary(g, "last_conv", 1, 1, ins, outs) >= 0)
        CHECK(g->nodes[outs[0]].shape.c == 960 && g->nodes[outs[0]].shape.h == 7,
              "last_conv gives (960,7,7)");
    if (expect_boundary(g, "classifier", 1, 1, ins, outs) >= 0)
        CHECK(outs[0] == nodes.logits, "classifier gives the logits");
    int bn_ok = 1, dropout = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].op == IG_OP_BATCHNORM)
            bn_ok &= g->nodes[i].fattr[0] == 1e-3f && g->nodes[i].fattr[1] == 0.01f;
        if (g->nodes[i].op == IG_OP_DROPOUT) dropout += g->nodes[i].fattr[0] == 0.2f;
    }
    CHECK(bn_ok, "mobilenetv3 batch norm: eps 1e-3, momentum 0.01");
    CHECK(dropout == 1, "mobilenetv3: one classifier dropout of 0.2");
    free(ins);
    free(outs);
    ig_graph_free(g);

    spec = spec_of("mobilenetv3_small", 224, 1000, 1.0f, 0.0f);
    g = build(&spec, &nodes);
    if (!g) return;
    check_operators_cover(g, &nodes, "mobilenetv3_small");
    expect_operator(g, "features.1.se", 1, "small");
    expect_operator(g, "features.1.add", 0, "small"); /* stride 2 */
    expect_operator(g, "features.11.add", 1, "small");
    CHECK(g->nodes[last_node_of(g, "last_conv")].shape.c == 576, "small last_conv: 576");
    int dropouts = 0;
    for (int i = 0; i < g->n_nodes; i++) dropouts += g->nodes[i].op == IG_OP_DROPOUT;
    CHECK(dropouts == 0, "dropout 0 leaves the dropout node out");
    ig_graph_free(g);
}

static int all_finite(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

/* Training forward and backward at width 0.25, 32x32, batch 2. */
static void test_forward_backward(const char *name)
{
    enum { BATCH = 2, SIZE = 32, CLASSES = 10 };
    model_spec spec = spec_of(name, SIZE, CLASSES, 0.25f, 0.2f);
    model_nodes nodes;
    ig_graph *g = build(&spec, &nodes);
    if (!g) return;
    const int loss = ig_softmax_xent(g, nodes.logits);
    CHECK(loss >= 0, "%s: loss node: %s", name, pl_last_error());
    if (loss < 0 || ig_graph_finalize(g) != PL_OK || ig_graph_plan(g, BATCH) != PL_OK ||
        ig_set_training(g, 1) != PL_OK) {
        CHECK(0, "%s: finalize/plan/train: %s", name, pl_last_error());
        ig_graph_free(g);
        return;
    }
    ig_graph_init_params(g, 7);
    float *x = ig_value(g, nodes.input);
    const size_t n_in = (size_t)BATCH * 3 * SIZE * SIZE;
    for (size_t i = 0; i < n_in; i++) x[i] = (float)sin((double)i * 0.37);
    const int32_t labels[BATCH] = {3, 8};
    ig_forward(g, labels);
    CHECK(all_finite(ig_value(g, nodes.logits), (size_t)BATCH * CLASSES),
          "%s: finite logits", name);
    CHECK(isfinite(g->loss) && g->loss > 0.0f, "%s: loss %g", name, (double)g->loss);
    ig_zero_grad(g);
    ig_backward(g, loss);
    double grad_abs = 0.0;
    for (size_t i = 0; i < g->param_size; i++) grad_abs += fabs(g->grad[i]);
    CHECK(all_finite(g->grad, g->param_size) && grad_abs > 0.0,
          "%s: parameter gradients finite and non-zero (sum |grad| %g)", name, grad_abs);
    /* The first conv's weights get a gradient: it flowed through the whole net. */
    double first_abs = 0.0;
    for (size_t i = 0; i < g->params[0].count; i++)
        first_abs += fabs(g->grad[g->params[0].offset + i]);
    CHECK(g->params[0].node == 1 && first_abs > 0.0, "%s: gradient reaches the stem", name);
    ig_graph_free(g);
}

static void test_registry(void)
{
    for (int k = 0; k < N_TESTED; k++) {
        int found = 0;
        for (int i = 0; i < model_count(); i++) found |= strcmp(model_name(i), MODELS[k]) == 0;
        CHECK(found, "registry lists %s", MODELS[k]);
    }
    model_spec spec = spec_of("resnet19", 32, 10, 1.0f, 0.0f);
    model_nodes nodes;
    ig_graph *g = ig_graph_alloc();
    CHECK(model_build(g, &spec, &nodes) == PL_ERR_INVAL &&
              strstr(pl_last_error(), "mobilenetv3_small") != NULL,
          "unknown model names the known ones: %s", pl_last_error());
    ig_graph_free(g);
}

int main(void)
{
    test_param_counts();
    test_resnet_structure();
    test_mobilenet_structure();
    for (int k = 0; k < N_TESTED; k++) test_forward_backward(MODELS[k]);
    test_registry();
    return check_summary("test_models");
}
