/* test_gen_extract.c: operators cut out of real models (pipeline/gen
 * gen_extract.c) and the quick fit (gen_fit.c).
 *
 * - A conv+bn+act (ResNet18), a residual add (two inputs), an SE block
 *   (MobileNetV3-Small), an Inception branch and an Inception concat:
 *   extracted as candidate DAGs with their weights, they reproduce the
 *   model's own values at their boundary on the recorded activations.
 * - An operator with two outputs, or holding the loss, is refused by name.
 * - Splicing: the original put back in its place (gen_splice) gives the
 *   model's logits exactly; a different candidate in its place gives a
 *   valid model with the operator list unchanged.
 * - The quick fit: the original operator's DAG, re-initialised, fitted to
 *   the recorded outputs, ends far below its starting error; a candidate
 *   that cannot express the operator (its input passed through) cannot;
 *   the fit is deterministic under its seed. */
#include "check.h"
#include "gen.h"
#include "models.h"
#include "pl_err.h"
#include "pl_mem.h"
#include "pl_threads.h"
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* A model with random weights and non-trivial batch-norm statistics. */
static ig_graph *random_model(const char *name, int channels, int size, float width,
                              model_nodes *nodes)
{
    ig_graph *g = ig_graph_alloc();
    model_spec spec = {.in_c = channels, .in_h = size, .in_w = size, .classes = 10,
                       .width = width};
    snprintf(spec.name, sizeof spec.name, "%s", name);
    int rc = model_build(g, &spec, nodes);
    if (rc == PL_OK) rc = ig_graph_finalize(g);
    CHECK(rc == PL_OK, "%s: %s", name, pl_last_error());
    if (rc != PL_OK) {
        ig_graph_free(g);
        return NULL;
    }
    ig_graph_init_params(g, 3);
    /* Running statistics of real activations (as training leaves them):
     * training-mode forwards over random batches, then random gammas. */
    const ig_shape *in = &g->nodes[nodes->input].shape;
    size_t in_size = (size_t)in->c * in->h * in->w;
    if (ig_graph_plan(g, 4) == PL_OK && ig_set_training(g, 1) == PL_OK) {
        for (int it = 0; it < 12; it++) {
            float *x = ig_value(g, nodes->input);
            for (size_t j = 0; j < 4 * in_size; j++) x[j] = lcg_uniform();
            for (int i = 0; i < g->n_nodes; i++)
                if (g->nodes[i].op != IG_OP_SOFTMAX_XENT) ig_forward_node(g, i);
        }
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const ig_node *nd = &g->nodes[i];
        if (nd->op != IG_OP_BATCHNORM) continue;
        const ig_param *gamma = &g->params[nd->param_first];
        for (size_t j = 0; j < gamma->count; j++)
            g->param[gamma->offset + j] = 1.0f + 0.2f * lcg_uniform();
    }
    return g;
}

/* Extracts the named operator, records the model's values on n random
 * images, and checks the candidate reproduces them. Returns the extracted
 * operator (caller frees) and fills acts. */
static int check_operator(ig_graph *g, const model_nodes *nodes, const char *name, int n,
                          gen_operator *op, gen_activations *acts)
{
    int id = ig_operator_find(g, name);
    CHECK(id >= 0, "operator %s exists", name);
    if (id < 0) return 0;
    int rc = gen_extract(g, id, op);
    CHECK(rc == PL_OK, "extract %s: %s", name, pl_last_error());
    if (rc != PL_OK) return 0;
    const ig_shape *in = &g->nodes[nodes->input].shape;
    size_t in_size = (size_t)in->c * in->h * in->w;
    float *images = pl_xmalloc((size_t)n * in_size * sizeof(float));
    for (size_t i = 0; i < (size_t)n * in_size; i++) images[i] = lcg_uniform();
    rc = gen_capture(g, nodes->input, images, n, 4, op, 1, acts);
    pl_free(images);
    CHECK(rc == PL_OK, "capture %s: %s", name, pl_last_error());
    if (rc != PL_OK) return 0;

    ig_graph *c = NULL;
    rc = gen_dag_build(&op->dag, &op->boundary, &c);
    CHECK(rc == PL_OK, "build %s: %s", name, pl_last_error());
    if (rc != PL_OK) return 0;
    gen_operator_load_weights(op, c);
    CHECK(ig_graph_plan(c, n) == PL_OK && ig_set_training(c, 0) == PL_OK, "plan %s", name);
    for (int i = 0; i < op->dag.n_inputs; i++) {
        const ig_shape *s = &c->nodes[i].shape;
        memcpy(ig_value(c, i), acts->inputs[i], (size_t)n * s->c * s->h * s->w * sizeof(float));
    }
    for (int i = op->dag.n_inputs; i < c->n_nodes; i++) ig_forward_node(c, i);
    const ig_shape *s = &op->boundary.output;
    char what[128];
    snprintf(what, sizeof what, "%s: candidate output vs the model's", name);
    CHECK_ARRAYS_CLOSE(ig_value(c, op->dag.output), acts->outputs[0],
                       (size_t)n * s->c * s->h * s->w, 1e-5, 1e-4, what);
    ig_graph_free(c);
    return 1;
}

static void test_extract_models(void)
{
    static const struct {
        const char *model, *op;
        int channels, size, n_inputs, n_nodes;
        float width;
    } cases[] = {
        {"resnet18_small", "layer1.0.conv1", 3, 16, 1, 3, 0.125f},    /* conv, bn, relu */
        {"resnet18_small", "layer2.0.out", 3, 16, 2, 2, 0.125f},      /* add, relu      */
        {"mobilenetv3_small", "features.1.se", 3, 32, 1, 6, 0.25f},   /* SE block       */
        {"inceptionv3_small", "Mixed_5b.branch5x5", 1, 28, 1, 6, 0.125f},
        {"inceptionv3_small", "Mixed_5b.concat", 1, 28, 4, 1, 0.125f},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        model_nodes nodes;
        ig_graph *g = random_model(cases[i].model, cases[i].channels, cases[i].size,
                                   cases[i].width, &nodes);
        if (!g) continue;
        gen_operator op;
        gen_activations acts;
        memset(&acts, 0, sizeof acts);
        if (check_operator(g, &nodes, cases[i].op, 6, &op, &acts)) {
            CHECK(op.dag.n_inputs == cases[i].n_inputs &&
                      op.dag.n_nodes - op.dag.n_inputs == cases[i].n_nodes,
                  "%s: %d inputs, %d instructions", cases[i].op, op.dag.n_inputs,
                  op.dag.n_nodes - op.dag.n_inputs);
            gen_operator_free(&op);
        }
        gen_activations_free(&acts);
        ig_graph_free(g);
    }
}

/* Logits of g for images (n, input) in evaluation mode. */
static float *logits_of(ig_graph *g, int input, int logits, const float *images, int n)
{
    CHECK(ig_graph_plan(g, n) == PL_OK && ig_set_training(g, 0) == PL_OK, "plan");
    const ig_shape *s = &g->nodes[input].shape;
    memcpy(ig_value(g, input), images, (size_t)n * s->c * s->h * s->w * sizeof(float));
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].op != IG_OP_SOFTMAX_XENT && g->nodes[i].op != IG_OP_INPUT)
            ig_forward_node(g, i);
    size_t k = (size_t)g->nodes[logits].shape.c;
    float *out = pl_xmalloc((size_t)n * k * sizeof(float));
    memcpy(out, ig_value(g, logits), (size_t)n * k * sizeof(float));
    return out;
}

static void test_splice(void)
{
    model_nodes nodes;
    ig_graph *g = random_model("mobilenetv3_small", 3, 32, 0.25f, &nodes);
    if (!g) return;
    enum { N = 3 };
    float images[N * 3 * 32 * 32];
    for (int i = 0; i < N * 3 * 32 * 32; i++) images[i] = lcg_uniform();
    float *want = logits_of(g, nodes.input, nodes.logits, images, N);
    static const char *const names[] = {"features.1.se", "features.3.add", "stem"};
    for (int t = 0; t < 3; t++) {
        gen_operator op;
        if (gen_extract(g, ig_operator_find(g, names[t]), &op) != PL_OK) {
            CHECK(0, "extract %s: %s", names[t], pl_last_error());
            continue;
        }
        ig_graph *cg = NULL, *spliced = NULL;
        CHECK(gen_dag_build(&op.dag, &op.boundary, &cg) == PL_OK, "build");
        gen_operator_load_weights(&op, cg);
        int *map = pl_xmalloc((size_t)g->n_nodes * sizeof(int));
        int rc = gen_splice(g, &op, &op.dag, cg, &spliced, map);
        CHECK(rc == PL_OK, "splice %s: %s", names[t], pl_last_error());
        if (rc == PL_OK) {
            CHECK(spliced->n_nodes == g->n_nodes && spliced->n_operators == g->n_operators &&
                      ig_operator_find(spliced, names[t]) == op.operator_id,
                  "%s: same size and operators", names[t]);
            float *got = logits_of(spliced, map[nodes.input], map[nodes.logits], images, N);
            char what[96];
            snprintf(what, sizeof what, "%s spliced back: logits", names[t]);
            CHECK_ARRAYS_CLOSE(got, want, (size_t)N * 10, 0, 0, what);
            pl_free(got);
            ig_graph_free(spliced);
        }
        /* Another candidate: the operator replaced by identity-like relu
         * when shapes allow (the residual add needs two inputs: add(x0,x1)
         * swapped). */
        gen_dag other;
        gen_dag_init(&other, &op.boundary);
        ig_node spec = {.op = IG_OP_RELU, .n_in = 1, .in = {0}};
        if (op.boundary.n_inputs == 2) spec = (ig_node){.op = IG_OP_MAX, .n_in = 2, .in = {1, 0}};
        other.output = gen_dag_append(&other, &spec);
        ig_graph *oc = NULL;
        if (gen_dag_build(&other, &op.boundary, &oc) == PL_OK) {
            rc = gen_splice(g, &op, &other, oc, &spliced, map);
            CHECK(rc == PL_OK && spliced->n_operators == g->n_operators,
                  "%s replaced: %s", names[t], rc < 0 ? pl_last_error() : "ok");
            if (rc == PL_OK) {
                int members = 0;
                for (int i = 0; i < spliced->n_nodes; i++)
                    members += spliced->nodes[i].operator_id == op.operator_id;
                CHECK(members == 1, "%s: the replacement belongs to the operator", names[t]);
                float *got = logits_of(spliced, map[nodes.input], map[nodes.logits], images, N);
                int finite = 1;
                for (int i = 0; i < N * 10; i++) finite &= isfinite(got[i]);
                CHECK(finite, "%s replaced: finite logits", names[t]);
                pl_free(got);
                ig_graph_free(spliced);
            }
            ig_graph_free(oc);
        }
        pl_free(map);
        ig_graph_free(cg);
        gen_operator_free(&op);
    }
    pl_free(want);
    ig_graph_free(g);
}

static void test_refused(void)
{
    ig_graph *g = ig_graph_alloc();
    int x = ig_input(g, 2, 4, 4);
    ig_operator_begin(g, "two_outputs");
    int a = ig_unary(g, IG_OP_RELU, x);
    int b = ig_unary(g, IG_OP_TANH, x);
    ig_operator_end(g);
    int s = ig_binary(g, IG_OP_ADD, a, b);
    ig_operator_begin(g, "head");
    int f = ig_flatten(g, s);
    int l = ig_linear(g, f, 3, 1);
    ig_softmax_xent(g, l);
    ig_operator_end(g);
    CHECK(ig_graph_finalize(g) == PL_OK, "finalize");
    gen_operator op;
    int rc = gen_extract(g, ig_operator_find(g, "two_outputs"), &op);
    CHECK(rc == PL_ERR_INVAL && strstr(pl_last_error(), "two_outputs: 2 outputs"),
          "two outputs refused: %s", pl_last_error());
    rc = gen_extract(g, ig_operator_find(g, "head"), &op);
    CHECK(rc == PL_ERR_INVAL && strstr(pl_last_error(), "softmax_xent"),
          "the loss refused: %s", pl_last_error());
    ig_graph_free(g);
}

static void test_fit(void)
{
    model_nodes nodes;
    ig_graph *g = random_model("resnet18_small", 3, 16, 0.125f, &nodes);
    if (!g) return;
    gen_operator op;
    gen_activations acts;
    memset(&acts, 0, sizeof acts);
    if (!check_operator(g, &nodes, "layer1.0.conv1", 64, &op, &acts)) {
        ig_graph_free(g);
        return;
    }
    gen_fit_options o = {.steps = 300, .batch = 8, .lr = 0.01,
                         .holdout = 0.25, .seed = 11};
    ig_graph *c = NULL;
    CHECK(gen_dag_build(&op.dag, &op.boundary, &c) == PL_OK, "build");
    ig_graph_init_params(c, 5);
    gen_fit_result r;
    CHECK(gen_fit(c, &op.dag, &acts, 0, &o, &r) == PL_OK, "fit: %s", pl_last_error());
    CHECK(r.steps_done == 300, "steps %d", r.steps_done);
    CHECK(r.error < 0.2 * r.error_before && r.error < 0.1,
          "the original re-initialised fits: %g -> %g", r.error_before, r.error);
    double first = r.error;
    /* Deterministic under the seed. */
    ig_graph_init_params(c, 5);
    CHECK(gen_fit(c, &op.dag, &acts, 0, &o, &r) == PL_OK && r.error == first,
          "same seed, same fit: %g vs %g", r.error, first);
    ig_graph_free(c);

    /* The original's own weights: error 0 (up to rounding) before fitting. */
    CHECK(gen_dag_build(&op.dag, &op.boundary, &c) == PL_OK, "build");
    gen_operator_load_weights(&op, c);
    double own = gen_fit_error(c, &op.dag, &acts, 0, 0.25, 8);
    CHECK(own < 1e-10, "the original's weights reproduce it (error %g)", own);
    ig_graph_free(c);

    /* relu(x) alone cannot reproduce conv+bn+relu. */
    gen_dag weak;
    gen_dag_init(&weak, &op.boundary);
    ig_node spec = {.op = IG_OP_RELU, .n_in = 1, .in = {0}};
    weak.output = gen_dag_append(&weak, &spec);
    CHECK(gen_dag_build(&weak, &op.boundary, &c) == PL_OK, "build relu candidate");
    CHECK(gen_fit(c, &weak, &acts, 0, &o, &r) == PL_OK, "fit relu");
    CHECK(r.error > 10 * first, "a weak candidate fits worse: %g vs %g", r.error, first);
    ig_graph_free(c);

    gen_operator_free(&op);
    gen_activations_free(&acts);
    ig_graph_free(g);
}

int main(void)
{
    pl_threads_set(1); /* small shapes: one thread, no spinning pool */
    lcg_seed(7);
    test_extract_models();
    test_refused();
    test_splice();
    test_fit();
    return check_summary("test_gen_extract");
}
