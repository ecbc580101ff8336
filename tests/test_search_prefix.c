/* test_search_prefix.c: the search's prefix (pipeline/search/search_prefix.c),
 * the values below a target operator held over the validation images so that
 * a candidate's accuracy runs only the nodes from the operator on.
 *
 * For every operator of a small ResNet18 and a small MobileNetV3 (squeeze-
 * and-excitation: a multiply reads the block's input after the operator),
 * and every 11th of a small InceptionV3 (other branches' nodes around the
 * operator): the operator
 * is cut out and spliced back as a candidate, and the spliced model's logits
 * run from the cut with the held values equal, bit for bit, a whole pass of
 * the model, over 70 images (a batch of 64 and one of 6). The live nodes
 * are exactly the nodes below the cut read from it on; a residual block's
 * second convolution needs its skip input too; the cap holds nothing when
 * the values would exceed it; the prefix of the first operator holds only
 * the input. */
#include "check.h"
#include "gen.h"
#include "models.h"
#include "pl_err.h"
#include "pl_mem.h"
#include "pl_threads.h"
#include "search_internal.h"
#include "test_util.h"

#include <string.h>

enum { N_IMAGES = 70, BATCH = SEARCH_EVAL_BATCH };

/* logits (n, classes) of g over images, the nodes below cut loaded from p
 * (cut 0: a whole pass). */
static void run_from(ig_graph *g, const search_prefix *p, int cut, int input, int logits,
                     const float *images, int n, float *out)
{
    CHECK(ig_graph_plan(g, BATCH) == PL_OK && ig_set_training(g, 0) == PL_OK, "plan");
    const ig_shape *s = &g->nodes[input].shape;
    const size_t in_size = (size_t)s->c * s->h * s->w;
    const int classes = g->nodes[logits].shape.c;
    for (int start = 0; start < n; start += BATCH) {
        const int b = n - start < BATCH ? n - start : BATCH;
        memcpy(ig_value(g, input), images + start * in_size, b * in_size * sizeof(float));
        if (cut > 0) search_prefix_load(g, p, start, b);
        for (int i = cut; i <= logits; i++)
            if (g->nodes[i].op != IG_OP_INPUT) ig_forward_node(g, i);
        memcpy(out + (size_t)start * classes, ig_value(g, logits), b * classes * sizeof(float));
    }
}

/* Whether node j < cut is read by some node from cut on. */
static int read_after(const ig_graph *g, int j, int cut)
{
    for (int i = cut; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++)
            if (g->nodes[i].in[k] == j) return 1;
    return 0;
}

/* Checks every `stride`-th operator of the model (InceptionV3's many
 * operators each cost a whole pass: a sample of them). */
static void check_model(const char *name, int c, int size, float width, int stride)
{
    ig_graph *g = ig_graph_alloc();
    model_spec spec = {.in_c = c, .in_h = size, .in_w = size, .classes = 10, .width = width};
    snprintf(spec.name, sizeof spec.name, "%s", name);
    model_nodes nodes;
    int rc = model_build(g, &spec, &nodes);
    if (rc == PL_OK) rc = ig_graph_finalize(g);
    CHECK(rc == PL_OK, "%s: %s", name, pl_last_error());
    if (rc != PL_OK) {
        ig_graph_free(g);
        return;
    }
    ig_graph_init_params(g, 7);
    const size_t in_size = (size_t)c * size * size;
    float *images = pl_xmalloc(N_IMAGES * in_size * sizeof(float));
    for (size_t i = 0; i < N_IMAGES * in_size; i++) images[i] = lcg_uniform() - 0.5f;
    float *whole = pl_xmalloc(N_IMAGES * 10 * sizeof(float));
    float *cut_run = pl_xmalloc(N_IMAGES * 10 * sizeof(float));
    run_from(g, NULL, 0, nodes.input, nodes.logits, images, N_IMAGES, whole);
    int checked = 0, with_skip = 0;
    for (int id = 0; id < g->n_operators; id += stride) {
        gen_operator op;
        if (gen_extract(g, id, &op) != PL_OK) continue; /* not a candidate */
        search_prefix p;
        rc = search_prefix_build(g, nodes.input, nodes.logits, id, images, N_IMAGES,
                                 (size_t)1 << 30, &p);
        CHECK(rc == PL_OK && p.cut > 0 && p.n == N_IMAGES, "%s %s: prefix built (%s)", name,
              g->operators[id].name, pl_last_error());
        /* live: exactly the nodes below the cut read from it on */
        int n_expected = 0, exact = 1;
        for (int j = 0; j < p.cut; j++) {
            if (!read_after(g, j, p.cut)) continue;
            exact &= n_expected < p.n_live && p.live[n_expected] == j;
            n_expected++;
        }
        CHECK(exact && n_expected == p.n_live, "%s %s: live nodes", name, g->operators[id].name);
        with_skip += p.n_live > op.boundary.n_inputs;
        if (p.cut == 1) CHECK(p.n_live == 1 && p.live[0] == nodes.input, "%s: first operator", name);
        /* the operator spliced back: the same logits from the cut */
        ig_graph *cg = NULL, *spliced = NULL;
        int *map = pl_xmalloc(g->n_nodes * sizeof(int));
        rc = gen_dag_build(&op.dag, &op.boundary, &cg);
        if (rc == PL_OK) {
            gen_operator_load_weights(&op, cg);
            rc = gen_splice(g, &op, &op.dag, cg, &spliced, map);
        }
        CHECK(rc == PL_OK, "%s %s: splice (%s)", name, g->operators[id].name, pl_last_error());
        if (rc == PL_OK) {
            int kept = 1;
            for (int j = 0; j < p.cut; j++) kept &= map[j] == j;
            CHECK(kept, "%s %s: nodes below the cut keep their indices", name,
                  g->operators[id].name);
            run_from(spliced, &p, p.cut, map[nodes.input], map[nodes.logits], images, N_IMAGES,
                     cut_run);
            CHECK(memcmp(whole, cut_run, N_IMAGES * 10 * sizeof(float)) == 0,
                  "%s %s: logits from the cut (node %d) equal a whole pass", name,
                  g->operators[id].name, p.cut);
            checked++;
        }
        ig_graph_free(spliced);
        ig_graph_free(cg);
        pl_free(map);
        /* a cap below the live values' size: nothing held */
        size_t bytes = 0;
        for (int k = 0; k < p.n_live; k++) bytes += N_IMAGES * p.size[k] * sizeof(float);
        search_prefix capped;
        rc = search_prefix_build(g, nodes.input, nodes.logits, id, images, N_IMAGES, bytes - 1,
                                 &capped);
        CHECK(rc == PL_OK && capped.cut == 0 && capped.n_live == 0, "%s %s: cap", name,
              g->operators[id].name);
        search_prefix_free(&capped);
        search_prefix_free(&p);
        gen_operator_free(&op);
    }
    CHECK(checked >= 4, "%s: %d operators checked", name, checked);
    if (!strcmp(name, "resnet18_small"))
        CHECK(with_skip > 0, "%s: some operator needs a skip input below its cut", name);
    pl_free(images);
    pl_free(whole);
    pl_free(cut_run);
    ig_graph_free(g);
}

int main(void)
{
    pl_threads_set(1);
    lcg_seed(3);
    check_model("resnet18_small", 1, 12, 0.125f, 1);
    check_model("mobilenetv3_small", 3, 32, 0.25f, 1);
    check_model("inceptionv3_small", 1, 28, 0.125f, 11);
    return check_summary("test_search_prefix");
}
