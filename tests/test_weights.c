/* test_weights.c: the gos.weights layout and its importer (no torch needed:
 * the files are written from C with the h5io writer).
 *   - weights_layout of a tiny graph (conv without bias, batch norm, relu,
 *     depthwise conv with bias, scale_bias, pool, flatten, linear) lists its
 *     11 tensors in order with PyTorch's shapes;
 *   - a hand-written file whose every element is distinct lands in the right
 *     tensors of g->param and the batch norm's mean and variance in g->state;
 *   - weights_export then weights_import reproduces both slabs bitwise;
 *   - errors, each naming the file and the dataset or attribute: a listed
 *     dataset missing, a wrong shape (and rank), one tensor too few and one
 *     too many, one inserted in the middle, a wrong model name, a name with
 *     the wrong suffix (bias where weight is due), a name listed twice, a
 *     float64 dataset, a wrong eps, an unlisted dataset, a NaN, a file of
 *     another schema, no file; a refused file leaves the graph untouched. */
#include "check.h"
#include "fixture_artifact.h"
#include "weights_import.h"

#include <math.h>

enum { N_TENSORS = 11, MAX_LISTED = 16 };

typedef struct {
    const char *name;
    int         rank;
    int64_t     dims[4];
} tensor_spec;

/* The tiny graph's tensors, as a torch state dict would name them. */
static const tensor_spec GOOD[N_TENSORS] = {
    {"conv.weight", 4, {4, 3, 3, 3}}, {"bn.weight", 1, {4}},        {"bn.bias", 1, {4}},
    {"bn.running_mean", 1, {4}},      {"bn.running_var", 1, {4}},   {"dw.weight", 4, {4, 1, 3, 3}},
    {"dw.bias", 1, {4}},              {"sb.weight", 1, {4}},        {"sb.bias", 1, {4}},
    {"fc.weight", 2, {5, 4}},         {"fc.bias", 1, {5}},
};

/* A file to write: the listed tensors (a dataset each, unless skipped) and
 * deliberate faults. */
typedef struct {
    const char *model;
    int         n;
    tensor_spec t[MAX_LISTED];
    int         skip_data; /* listed tensor without a dataset, or -1        */
    int         f64_at;    /* tensor stored as float64, or -1              */
    int         nan_at;    /* tensor whose first element is NaN, or -1     */
    double      eps;       /* @eps of the running_var; 0 = no attribute     */
    const char *unlisted;  /* a dataset under /tensors not listed, or NULL  */
} file_spec;

static file_spec good_spec(void)
{
    file_spec fs;
    memset(&fs, 0, sizeof fs);
    fs.model = "tiny";
    fs.n = N_TENSORS;
    memcpy(fs.t, GOOD, sizeof GOOD);
    fs.skip_data = fs.f64_at = fs.nan_at = -1;
    fs.eps = 1e-5;
    return fs;
}

/* Element j of listed tensor i: distinct everywhere. */
static float value_of(int i, size_t j) { return (float)i + 0.001f * (float)j; }

static size_t count_of(const tensor_spec *t)
{
    size_t n = 1;
    for (int k = 0; k < t->rank; k++) n *= (size_t)t->dims[k];
    return n;
}

static int write_body(h5io_writer *w, const file_spec *fs)
{
    const char *names[MAX_LISTED];
    for (int i = 0; i < fs->n; i++) {
        const tensor_spec *t = &fs->t[i];
        names[i] = t->name;
        if (i == fs->skip_data) continue;
        size_t n = count_of(t);
        float *v = pl_xmalloc(n * sizeof *v);
        double *d = pl_xmalloc(n * sizeof *d);
        for (size_t j = 0; j < n; j++) d[j] = v[j] = value_of(i, j);
        if (i == fs->nan_at) v[0] = NAN;
        char path[128];
        snprintf(path, sizeof path, "/tensors/%s", t->name);
        int rc = i == fs->f64_at ? h5io_write_f64(w, path, d, t->rank, t->dims)
                                 : h5io_write_f32(w, path, v, t->rank, t->dims);
        pl_free(v);
        pl_free(d);
        PL_TRY(rc);
        if (fs->eps > 0.0 && strcmp(t->name, "bn.running_var") == 0)
            PL_TRY(h5io_write_attr_f64(w, path, "eps", fs->eps));
    }
    if (fs->unlisted) {
        const float one = 1.0f;
        const int64_t dims[1] = {1};
        char path[128];
        snprintf(path, sizeof path, "/tensors/%s", fs->unlisted);
        PL_TRY(h5io_write_f32(w, path, &one, 1, dims));
    }
    PL_TRY(h5io_write_group(w, "/tensors"));
    PL_TRY(h5io_write_strings(w, "/tensor_names", names, fs->n));
    PL_TRY(h5io_write_attr_string(w, "/", "model", fs->model));
    PL_TRY(h5io_write_attr_string(w, "/", "source", "test_weights"));
    return PL_OK;
}

/* Writes fs to dir/name; returns the (kept) path. */
static const char *write_file(const char *name, const file_spec *fs)
{
    const char *path = in_dir(name);
    h5io_provenance prov = provenance(WEIGHTS_SCHEMA, 5);
    h5io_writer w;
    MUST(h5io_create(&w, path, &prov));
    if (write_body(&w, fs) < 0) {
        h5io_abort(&w);
        pl_abort(__FILE__, __LINE__, "setup failed: %s", pl_last_error());
    }
    MUST(h5io_commit(&w));
    return path;
}

/* input (3,6,6) - conv 4 3x3 - bn - relu - dw 3x3 with bias - scale_bias -
 * global avgpool - flatten - linear 5. */
static ig_graph *tiny_graph(void)
{
    ig_graph *g = ig_graph_alloc();
    int h = MUST(ig_input(g, 3, 6, 6));
    h = MUST(ig_conv2d(g, h, 4, 3, 3, 1, 1, 1, 1, 1, 0));
    h = MUST(ig_batchnorm(g, h));
    h = MUST(ig_unary(g, IG_OP_RELU, h));
    h = MUST(ig_dwconv2d(g, h, 3, 1, 1, 1));
    h = MUST(ig_scale_bias(g, h));
    h = MUST(ig_global_avgpool(g, h));
    h = MUST(ig_flatten(g, h));
    MUST(ig_linear(g, h, 5, 1));
    MUST(ig_graph_finalize(g));
    ig_graph_init_params(g, 3);
    return g;
}

static void test_layout(void)
{
    ig_graph *g = tiny_graph();
    weights_tensor t[N_TENSORS + 1];
    int n = weights_layout(g, t, N_TENSORS + 1);
    CHECK(n == N_TENSORS, "layout has %d tensors, want %d", n, N_TENSORS);
    CHECK(weights_layout(g, NULL, 0) == n, "counting without storage");
    for (int i = 0; i < n && i < N_TENSORS; i++) {
        const char *dot = strchr(GOOD[i].name, '.');
        CHECK(strcmp(t[i].suffix, dot + 1) == 0, "tensor %d suffix %s, want %s", i, t[i].suffix,
              dot + 1);
        int same = t[i].rank == GOOD[i].rank && t[i].count == count_of(&GOOD[i]);
        for (int k = 0; same && k < t[i].rank; k++) same = t[i].dims[k] == GOOD[i].dims[k];
        CHECK(same, "tensor %d (%s): shape differs from PyTorch's", i, GOOD[i].name);
        CHECK(t[i].in_state == (strstr(GOOD[i].name, "running") != NULL), "tensor %d in_state",
              i);
    }
    ig_graph_free(g);
}

/* The values of the hand-written file are where PyTorch's names say. */
static void test_values_land(void)
{
    file_spec fs = good_spec();
    const char *path = write_file("good.h5", &fs);
    ig_graph *g = tiny_graph();
    int rc = weights_import(g, path, "tiny");
    CHECK(rc == PL_OK, "import: %s", pl_last_error());
    /* Parameter table: conv w, bn gamma, bn beta, dw w, dw b, sb gamma, sb
     * beta, fc w, fc b; file tensors 0,1,2,5,6,7,8,9,10. */
    static const int file_index[9] = {0, 1, 2, 5, 6, 7, 8, 9, 10};
    CHECK(g->n_params == 9, "tiny graph has %d parameter tensors", g->n_params);
    for (int k = 0; k < g->n_params && k < 9; k++) {
        const ig_param *p = &g->params[k];
        int bad = 0;
        for (size_t j = 0; j < p->count; j++)
            bad += g->param[p->offset + j] != value_of(file_index[k], j);
        CHECK(bad == 0, "parameter %s: %d values differ from /tensors/%s", p->name, bad,
              GOOD[file_index[k]].name);
    }
    const ig_node *bn = &g->nodes[2];
    CHECK(bn->op == IG_OP_BATCHNORM, "node 2 is the batch norm");
    int bad = 0;
    for (size_t c = 0; c < 4; c++) {
        bad += g->state[bn->state_off + c] != value_of(3, c);
        bad += g->state[bn->state_off + 4 + c] != value_of(4, c);
    }
    CHECK(bad == 0, "running mean/var: %d values differ", bad);
    CHECK(weights_import(g, path, NULL) == PL_OK, "any model accepted with NULL: %s",
          pl_last_error());
    ig_graph_free(g);
}

static void test_round_trip(void)
{
    ig_graph *a = tiny_graph(), *b = tiny_graph();
    for (size_t i = 0; i < a->state_size; i++) a->state[i] = 0.25f + 0.5f * (float)i;
    ig_graph_init_params(b, 99);
    const char *path = in_dir("export.h5");
    h5io_provenance prov = provenance("gos.baseline", 4); /* schema is overridden */
    int rc = weights_export(a, path, &prov, "tiny", "test", NULL);
    CHECK(rc == PL_OK, "export: %s", pl_last_error());
    rc = weights_import(b, path, "tiny");
    CHECK(rc == PL_OK, "import of the export: %s", pl_last_error());
    CHECK(memcmp(a->param, b->param, a->param_size * sizeof(float)) == 0, "params round trip");
    CHECK(memcmp(a->state, b->state, a->state_size * sizeof(float)) == 0, "state round trip");
    ig_graph_free(a);
    ig_graph_free(b);
}

/* Writes fs as `name`, expects the import to fail naming `what`, and the
 * graph to be untouched. */
static void expect_refused(const char *name, const file_spec *fs, const char *model,
                           const char *what)
{
    const char *path = write_file(name, fs);
    char kept[256];
    snprintf(kept, sizeof kept, "%s", path);
    ig_graph *g = tiny_graph(), *fresh = tiny_graph();
    CHECK_ERR(weights_import(g, kept, model), kept, what);
    CHECK(memcmp(g->param, fresh->param, g->param_size * sizeof(float)) == 0 &&
              memcmp(g->state, fresh->state, g->state_size * sizeof(float)) == 0,
          "%s: the graph changed on a refused import", name);
    ig_graph_free(g);
    ig_graph_free(fresh);
}

static void test_errors(void)
{
    file_spec fs = good_spec();
    fs.skip_data = 2;
    expect_refused("missing.h5", &fs, "tiny", "/tensors/bn.bias: missing");

    fs = good_spec();
    fs.t[10].dims[0] = 6; /* fc.bias (6): the last tensor, earlier ones fine */
    expect_refused("shape.h5", &fs, "tiny", "/tensors/fc.bias: shape (6)");
    fs = good_spec();
    fs.t[0] = (tensor_spec){"conv.weight", 4, {4, 3, 3, 2}};
    expect_refused("shape4.h5", &fs, "tiny", "/tensors/conv.weight: shape (4, 3, 3, 2)");
    fs = good_spec();
    fs.t[9] = (tensor_spec){"fc.weight", 4, {5, 4, 1, 1}}; /* gos's padded dims */
    expect_refused("rank.h5", &fs, "tiny", "/tensors/fc.weight: shape (5, 4, 1, 1)");

    fs = good_spec();
    fs.n = N_TENSORS - 1;
    expect_refused("fewer.h5", &fs, "tiny", "/tensor_names: 10 tensors but the graph has 11");
    fs = good_spec();
    fs.t[fs.n++] = (tensor_spec){"extra.weight", 1, {3}};
    expect_refused("more.h5", &fs, "tiny", "/tensors/extra.weight");
    fs = good_spec(); /* one inserted in the middle: the first mismatch, and the counts */
    memmove(&fs.t[6], &fs.t[5], (size_t)(N_TENSORS - 5) * sizeof fs.t[0]);
    fs.t[5] = (tensor_spec){"extra.weight", 1, {3}};
    fs.n++;
    expect_refused("inserted.h5", &fs, "tiny",
                   "/tensors/extra.weight: shape (3) but tensor 5, the weight of node 4 "
                   "(dwconv2d), is (4, 1, 3, 3) (and /tensor_names lists 12 tensors where the "
                   "graph has 11)");

    fs = good_spec();
    fs.model = "resnet18";
    expect_refused("model.h5", &fs, "tiny", "/@model: weights of model 'resnet18'");

    fs = good_spec();
    fs.t[1].name = "bn.bias";
    fs.t[2].name = "bn.weight";
    expect_refused("suffix.h5", &fs, "tiny", "/tensors/bn.bias: tensor 1 should be the weight");

    fs = good_spec();
    fs.t[8].name = "sb.weight"; /* listed twice, written once */
    fs.skip_data = 8;
    expect_refused("twice.h5", &fs, "tiny", "/tensor_names: 'sb.weight' is listed twice");

    fs = good_spec();
    fs.f64_at = 6;
    expect_refused("f64.h5", &fs, "tiny", "/tensors/dw.bias: dtype float64");

    fs = good_spec();
    fs.eps = 1e-3;
    expect_refused("eps.h5", &fs, "tiny", "/tensors/bn.running_var@eps");

    fs = good_spec();
    fs.unlisted = "stray.weight";
    expect_refused("unlisted.h5", &fs, "tiny", "/tensors: holds 12 objects");

    fs = good_spec();
    fs.nan_at = 3;
    const char *path = write_file("nan.h5", &fs);
    ig_graph *g = tiny_graph();
    CHECK_ERR(weights_import(g, path, "tiny"), path, "/tensors/bn.running_mean: element 0");
    ig_graph_free(g);

    g = tiny_graph();
    path = in_dir("baseline.h5");
    MUST(write_baseline(path, g, 1));
    CHECK_ERR(weights_import(g, path, "tiny"), path, "gos.weights");
    CHECK_ERR(weights_import(g, in_dir("absent.h5"), "tiny"), "absent.h5", "cannot open");
    ig_graph_free(g);
}

int main(void)
{
    make_dir("test_weights");
    test_layout();
    test_values_land();
    test_round_trip();
    test_errors();
    remove_dir();
    return check_summary("test_weights");
}
