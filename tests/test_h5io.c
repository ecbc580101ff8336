/* test_h5io.c: the HDF5 artifact layer: writing, checking and reading.
 *   - round trip: a small graph (input, conv2d, batchnorm, relu,
 *     global_avgpool, flatten, linear, softmax_xent, with operators, one of
 *     them empty) in a gos.baseline artifact reads back identical (nodes,
 *     attributes, operator names and ids, parameters and state bitwise,
 *     parameter count, FLOPs), with every provenance attribute; a
 *     gos.checkpoint too; fixed and variable strings, empty and 4-D datasets,
 *     compression, the _alloc readers;
 *   - errors, each naming the file and the dataset or attribute: missing
 *     file, not HDF5, truncated, wrong/missing schema_version, missing or
 *     unknown schema, missing provenance, dataset, group or attribute, wrong
 *     dtype, wrong shape, slabs shorter than the graph needs, unknown opcode,
 *     invalid node, a commit the schema refuses, a reader expecting another
 *     schema;
 *   - h5dump reads the artifacts (when /usr/bin/h5dump exists), and h5py
 *     (when Debian's python3-h5py is installed).
 * Atomicity is in test_h5io_atomic.c. GOS_TEST_VERBOSE=1 prints every error
 * message checked. */
#include "check.h"
#include "fixture_artifact.h"

#include <hdf5.h>
#include <stdint.h>
#include <sys/stat.h>

/* ---- file surgery with the HDF5 C API ----------------------------------- */

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    if (!in || !out) pl_abort(__FILE__, __LINE__, "copy %s -> %s", from, to);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, n, out);
    fclose(in);
    fclose(out);
}

static hid_t open_rw(const char *path)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0) pl_abort(__FILE__, __LINE__, "cannot open %s for surgery", path);
    return f;
}

static void delete_attr(const char *path, const char *obj, const char *name)
{
    hid_t f = open_rw(path);
    H5Adelete_by_name(f, obj, name, H5P_DEFAULT);
    H5Fclose(f);
}

static void set_root_attr_i64(const char *path, const char *name, int64_t value)
{
    delete_attr(path, "/", name);
    hid_t f = open_rw(path);
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, name, H5T_STD_I64LE, s, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_INT64, &value);
    H5Aclose(a);
    H5Sclose(s);
    H5Fclose(f);
}

static void set_root_attr_string(const char *path, const char *name, const char *value)
{
    delete_attr(path, "/", name);
    hid_t f = open_rw(path);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, t, &value);
    H5Aclose(a);
    H5Sclose(s);
    H5Tclose(t);
    H5Fclose(f);
}

/* Replaces dataset dset by one of file type `type` and shape dims, holding
 * data (memory type mem) or zeros when data is NULL. */
static void replace_dataset(const char *path, const char *dset, hid_t type, hid_t mem, int rank,
                            const hsize_t *dims, const void *data)
{
    hid_t f = open_rw(path);
    H5Ldelete(f, dset, H5P_DEFAULT);
    hid_t s = H5Screate_simple(rank, dims, NULL);
    hid_t d = H5Dcreate2(f, dset, type, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    size_t n = 1;
    for (int k = 0; k < rank; k++) n *= dims[k];
    void *zeros = calloc(n ? n : 1, 16);
    H5Dwrite(d, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, data ? data : zeros);
    free(zeros);
    H5Dclose(d);
    H5Sclose(s);
    H5Fclose(f);
}

static void delete_link(const char *path, const char *obj)
{
    hid_t f = open_rw(path);
    H5Ldelete(f, obj, H5P_DEFAULT);
    H5Fclose(f);
}

/* How many "<name>.tmp.*" files dir holds. */
/* ---- round trip ---------------------------------------------------------- */

static void check_graph_equal(const ig_graph *a, const ig_graph *b)
{
    CHECK(a->n_nodes == b->n_nodes, "n_nodes %d vs %d", a->n_nodes, b->n_nodes);
    CHECK(a->n_operators == b->n_operators, "operators %d vs %d", a->n_operators, b->n_operators);
    if (a->n_nodes != b->n_nodes || a->n_operators != b->n_operators) return;
    for (int i = 0; i < a->n_operators; i++)
        CHECK(strcmp(a->operators[i].name, b->operators[i].name) == 0, "operator %d: %s vs %s", i,
              a->operators[i].name, b->operators[i].name);
    int nodes_equal = 1;
    for (int i = 0; i < a->n_nodes; i++) {
        const ig_node *x = &a->nodes[i], *y = &b->nodes[i];
        int same = x->op == y->op && x->n_in == y->n_in &&
                   memcmp(x->in, y->in, (size_t)x->n_in * sizeof x->in[0]) == 0 &&
                   memcmp(x->attr, y->attr, sizeof x->attr) == 0 &&
                   memcmp(x->fattr, y->fattr, sizeof x->fattr) == 0 &&
                   x->operator_id == y->operator_id && x->shape.c == y->shape.c &&
                   x->shape.h == y->shape.h && x->shape.w == y->shape.w &&
                   x->n_params == y->n_params && x->state_off == y->state_off;
        CHECK(same, "node %d differs after the round trip", i);
        nodes_equal &= same;
    }
    CHECK(nodes_equal, "all nodes equal");
    CHECK(a->param_size == b->param_size && a->state_size == b->state_size, "slab sizes");
    CHECK(a->param_size == b->param_size &&
              memcmp(a->param, b->param, a->param_size * sizeof(float)) == 0,
          "parameters bitwise equal");
    CHECK(a->state_size == b->state_size &&
              memcmp(a->state, b->state, a->state_size * sizeof(float)) == 0,
          "state bitwise equal");
    CHECK(ig_graph_param_count(a) == ig_graph_param_count(b), "param count");
    CHECK(ig_graph_flops(a) == ig_graph_flops(b), "flops");
}

static void check_provenance(h5io_reader *r)
{
    char *text = NULL;
    int64_t i64 = 0;
    static const char *const strings[] = {"schema", "stage", "git_revision", "experiment",
                                          "config", "blas", "start_time", "end_time"};
    for (int k = 0; k < 8; k++) {
        int rc = h5io_read_attr_string(r, "/", strings[k], &text);
        CHECK(rc == 0 && text && text[0], "provenance /@%s present and not empty", strings[k]);
        if (rc == 0 && strcmp(strings[k], "schema") == 0)
            CHECK(strcmp(text, "gos.baseline") == 0, "schema %s", text);
        if (rc == 0 && strcmp(strings[k], "config") == 0)
            CHECK(strcmp(text, CONFIG) == 0, "config text kept verbatim");
        if (rc == 0 && strstr(strings[k], "_time"))
            CHECK(strlen(text) == 20 && text[10] == 'T' && text[19] == 'Z', "%s is ISO 8601 UTC: %s",
                  strings[k], text);
        if (rc == 0 && strcmp(strings[k], "blas") == 0)
            CHECK(strstr(text, "OpenBLAS") != NULL, "blas names OpenBLAS: %s", text);
        if (verbose && rc == 0 && strcmp(strings[k], "config") != 0)
            printf("  /@%s = %s\n", strings[k], text);
        pl_free(text);
        text = NULL;
    }
    char *schema = NULL;
    CHECK(h5io_read_attr_string(r, "/", "schema", &schema) == 0 && h5io_schema_find(schema) &&
              h5io_read_attr_i64(r, "/", "schema_version", &i64) == 0 &&
              i64 == h5io_schema_find(schema)->version,
          "schema_version is the schema's current version");
    pl_free(schema);
    CHECK(h5io_read_attr_i64(r, "/", "seed", &i64) == 0 && i64 == 11, "seed");
    CHECK(h5io_read_attr_i64(r, "/", "threads", &i64) == 0 && i64 == 2, "threads");
}

static void test_round_trip(const ig_graph *g, const char *path)
{
    CHECK(write_baseline(path, g, 11) == 0, "write baseline: %s", pl_last_error());
    CHECK(count_temps("base.h5") == 0, "no temporary left after commit");
    char schema[64];
    CHECK(h5io_check(path, schema, sizeof schema) == 0 && strcmp(schema, "gos.baseline") == 0,
          "check: %s", pl_last_error());

    h5io_reader r;
    if (h5io_open(&r, path, "gos.baseline") < 0) {
        CHECK(0, "open: %s", pl_last_error());
        return;
    }
    ig_graph *back = NULL;
    CHECK(h5io_read_graph(&r, "/graph", &back) == 0, "read graph: %s", pl_last_error());
    if (back) check_graph_equal(g, back);
    ig_graph_free(back);
    check_provenance(&r);

    double loss[3], acc = 0;
    CHECK(h5io_read_f64(&r, "/train/loss", loss, 1, (int64_t[]){3}) == 0 && loss[0] == 1.0,
          "train/loss");
    CHECK(h5io_read_attr_f64(&r, "/metrics", "test_accuracy", &acc) == 0 && acc == 0.875,
          "metrics@test_accuracy");
    int64_t n = 0;
    CHECK(h5io_read_attr_i64(&r, "/graph", "param_count", &n) == 0 &&
              n == (int64_t)ig_graph_param_count(g),
          "graph@param_count");
    int32_t *inputs = NULL;
    int rank = 0;
    int64_t dims[H5IO_MAX_RANK];
    CHECK(h5io_read_i32_alloc(&r, "/graph/inputs", &inputs, &rank, dims) == 0 && rank == 2 &&
              dims[0] == g->n_nodes && dims[1] == IG_MAX_IN && inputs[IG_MAX_IN] == 0 &&
              inputs[IG_MAX_IN + 1] == -1,
          "inputs (n_nodes, IG_MAX_IN), -1 padded");
    pl_free(inputs);
    char **names = NULL;
    int64_t count = 0;
    CHECK(h5io_read_strings(&r, "/graph/operator_names", &names, &count) == 0 && count == 3 &&
              strcmp(names[2], "head") == 0,
          "operator names");
    h5io_free_strings(names, count);

    /* Reader errors name the file and the dataset or attribute. */
    CHECK_ERR(h5io_read_f64(&r, "/train/loss", loss, 1, (int64_t[]){4}), path, "/train/loss");
    CHECK_ERR(h5io_read_f32(&r, "/graph/nope", NULL, 1, (int64_t[]){1}), path, "/graph/nope");
    CHECK_ERR(h5io_read_attr_i64(&r, "/metrics", "nope", &n), path, "/metrics@nope");
    CHECK_ERR(h5io_read_attr_f64(&r, "/data", "dataset", &acc), path, "/data@dataset");
    h5io_close(&r);
    CHECK_ERR(h5io_open(&r, path, "gos.checkpoint"), path, "gos.checkpoint");
    h5io_close(&r);
}

static void test_checkpoint(const ig_graph *g)
{
    const char *path = in_dir("ckpt.h5");
    h5io_provenance prov = provenance("gos.checkpoint", 11);
    h5io_writer w;
    float *velocity = pl_xcalloc(g->param_size, sizeof(float));
    int64_t param_size = (int64_t)g->param_size, rng[4] = {1, 2, 3, -4}, four = 4;
    int rc = h5io_create(&w, path, &prov);
    if (rc >= 0) rc = h5io_write_graph(&w, "/graph", g);
    if (rc >= 0) rc = write_train(&w, 2);
    if (rc >= 0) rc = h5io_write_f32(&w, "/optimizer/velocity", velocity, 1, &param_size);
    if (rc >= 0) rc = h5io_write_group(&w, "/progress");
    if (rc >= 0) rc = h5io_write_attr_i64(&w, "/progress", "epoch_done", 2);
    if (rc >= 0) rc = h5io_write_attr_i64(&w, "/progress", "step", 200);
    if (rc >= 0) rc = h5io_write_attr_string(&w, "/progress", "fingerprint", "train.epochs = 3;");
    if (rc >= 0) rc = h5io_write_attr_f64(&w, "/progress", "train_seconds", 1.5);
    if (rc >= 0) rc = h5io_write_attr_i64(&w, "/progress", "images_trained", 640);
    if (rc >= 0) rc = h5io_write_i64(&w, "/progress/rng_state", rng, 1, &four);
    rc = rc >= 0 ? h5io_commit(&w) : (h5io_abort(&w), rc);
    CHECK(rc == 0, "write checkpoint: %s", pl_last_error());
    char schema[64];
    CHECK(h5io_check(path, schema, sizeof schema) == 0 && strcmp(schema, "gos.checkpoint") == 0,
          "checkpoint checks: %s", pl_last_error());

    /* The velocity must match the parameter slab: the commit refuses it. */
    const char *bad = in_dir("ckpt_bad.h5");
    int64_t short_size = param_size - 1;
    rc = h5io_create(&w, bad, &prov);
    if (rc >= 0) rc = h5io_write_graph(&w, "/graph", g);
    if (rc >= 0) rc = write_train(&w, 2);
    if (rc >= 0) rc = h5io_write_f32(&w, "/optimizer/velocity", velocity, 1, &short_size);
    if (rc >= 0) rc = h5io_write_group(&w, "/progress");
    if (rc >= 0) rc = h5io_write_attr_i64(&w, "/progress", "epoch_done", 2);
    if (rc >= 0) rc = h5io_write_attr_i64(&w, "/progress", "step", 200);
    if (rc >= 0) rc = h5io_write_attr_string(&w, "/progress", "fingerprint", "train.epochs = 3;");
    if (rc >= 0) rc = h5io_write_attr_f64(&w, "/progress", "train_seconds", 1.5);
    if (rc >= 0) rc = h5io_write_attr_i64(&w, "/progress", "images_trained", 640);
    if (rc >= 0) rc = h5io_write_i64(&w, "/progress/rng_state", rng, 1, &four);
    CHECK_ERR(rc >= 0 ? h5io_commit(&w) : rc, bad, "/optimizer/velocity");
    h5io_abort(&w);
    CHECK(!exists(bad) && count_temps("ckpt_bad.h5") == 0, "refused commit leaves nothing");
    pl_free(velocity);
}

/* Fixed and variable strings, empty datasets, compression, extra entries. */
static void test_datasets(const ig_graph *g)
{
    const char *path = in_dir("extra.h5");
    h5io_provenance prov = provenance("gos.baseline", 11);
    h5io_writer w;
    int rc = h5io_create(&w, path, &prov);
    if (rc >= 0) rc = write_baseline_body(&w, g, NULL);
    const char fixed[3][6] = {"ab", "cdefg", ""};
    if (rc >= 0) rc = h5io_write_fixed_strings(&w, "/extra/fixed", &fixed[0][0], 3, 6);
    const char *vlen[] = {"x", NULL, "yz"};
    if (rc >= 0) rc = h5io_write_strings(&w, "/extra/vlen", vlen, 3);
    if (rc >= 0) rc = h5io_write_strings(&w, "/extra/none", NULL, 0);
    int64_t big = 100000;
    int32_t *ramp = pl_xmalloc((size_t)big * sizeof *ramp);
    for (int64_t i = 0; i < big; i++) ramp[i] = (int32_t)(i / 7);
    h5io_set_compression(&w, 4);
    if (rc >= 0) rc = h5io_write_i32(&w, "/extra/ramp", ramp, 1, &big);
    double grid[2][3][2][2];
    for (int i = 0; i < 24; i++) (&grid[0][0][0][0])[i] = i * 0.5;
    if (rc >= 0) rc = h5io_write_f64(&w, "/extra/grid", &grid[0][0][0][0], 4, (int64_t[]){2, 3, 2, 2});
    rc = rc >= 0 ? h5io_commit(&w) : (h5io_abort(&w), rc);
    CHECK(rc == 0, "write extra datasets: %s", pl_last_error());

    h5io_reader r;
    if (h5io_open(&r, path, NULL) < 0) {
        CHECK(0, "open extra: %s", pl_last_error());
        pl_free(ramp);
        return;
    }
    char **s = NULL;
    int64_t n = 0;
    CHECK(h5io_read_strings(&r, "/extra/fixed", &s, &n) == 0 && n == 3 && strcmp(s[0], "ab") == 0 &&
              strcmp(s[1], "cdefg") == 0 && s[2][0] == 0,
          "fixed strings");
    h5io_free_strings(s, n);
    CHECK(h5io_read_strings(&r, "/extra/vlen", &s, &n) == 0 && n == 3 && strcmp(s[2], "yz") == 0 &&
              s[1][0] == 0,
          "variable strings (NULL written as \"\")");
    h5io_free_strings(s, n);
    CHECK(h5io_read_strings(&r, "/extra/none", &s, &n) == 0 && n == 0, "empty string dataset");
    h5io_free_strings(s, n);
    int32_t *back = NULL;
    int rank = 0;
    int64_t dims[H5IO_MAX_RANK];
    CHECK(h5io_read_i32_alloc(&r, "/extra/ramp", &back, &rank, dims) == 0 && rank == 1 &&
              dims[0] == big && memcmp(back, ramp, (size_t)big * sizeof *ramp) == 0,
          "compressed dataset reads back");
    pl_free(back);
    double grid_back[24];
    CHECK(h5io_read_f64(&r, "/extra/grid", grid_back, 4, (int64_t[]){2, -1, 2, 2}) == 0 &&
              grid_back[23] == 11.5,
          "4-D dataset, -1 = any extent");
    h5io_close(&r);
    struct stat st;
    CHECK(stat(path, &st) == 0 && st.st_size < 200000, "the ramp was compressed (%lld bytes)",
          (long long)st.st_size);
    pl_free(ramp);
}

/* ---- errors -------------------------------------------------------------- */

static void test_file_errors(const char *good)
{
    char name[64];
    CHECK_ERR(h5io_check(in_dir("missing.h5"), name, sizeof name), in_dir("missing.h5"),
              "cannot open");
    h5io_reader r;
    CHECK_ERR(h5io_open(&r, in_dir("missing.h5"), NULL), in_dir("missing.h5"), "missing.h5");

    const char *garbage = in_dir("garbage.h5");
    FILE *f = fopen(garbage, "wb");
    for (int i = 0; i < 4096; i++) fputc((i * 7919) & 0xff, f);
    fclose(f);
    CHECK_ERR(h5io_check(garbage, name, sizeof name), garbage, "not an HDF5 file");

    struct stat st;
    stat(good, &st);
    const char *half = in_dir("half.h5");
    copy_file(good, half);
    CHECK(truncate(half, st.st_size / 2) == 0, "truncate");
    CHECK_ERR(h5io_check(half, name, sizeof name), half, "truncated");
    const char *tail = in_dir("tail.h5");
    copy_file(good, tail);
    CHECK(truncate(tail, st.st_size - 64) == 0, "truncate");
    CHECK_ERR(h5io_check(tail, name, sizeof name), tail, "truncated");
}

/* A fresh copy of good named name, for one kind of damage. */
static const char *damaged(const char *good, const char *name)
{
    const char *path = in_dir(name);
    copy_file(good, path);
    return path;
}

static void test_schema_errors(const char *good)
{
    char name[64];
    const char *p = damaged(good, "version.h5");
    set_root_attr_i64(p, "schema_version", 99);
    CHECK_ERR(h5io_check(p, name, sizeof name), p, "/@schema_version: gos.baseline v99");

    p = damaged(good, "noversion.h5");
    delete_attr(p, "/", "schema_version");
    CHECK_ERR(h5io_check(p, name, sizeof name), p, "/@schema_version: missing");

    p = damaged(good, "noschema.h5");
    delete_attr(p, "/", "schema");
    CHECK_ERR(h5io_check(p, name, sizeof name), p, "/@schema: missing");

    p = damaged(good, "unknown.h5");
    set_root_attr_string(p, "schema", "gos.nope");
    CHECK_ERR(h5io_check(p, name, sizeof name), p, "unknown schema 'gos.nope'");

    p = damaged(good, "noprov.h5");
    delete_attr(p, "/", "git_revision");
    CHECK_ERR(h5io_check(p, name, sizeof name), p, "/@git_revision");

    p = damaged(good, "nodset.h5");
    delete_link(p, "/train/val_loss");
    CHECK_ERR(h5io_check(p, name, sizeof name), p, "/train/val_loss: required dataset missing");
    h5io_reader r;
    CHECK_ERR(h5io_open(&r, p, "gos.baseline"), p, "/train/val_loss");

    p = damaged(good, "nogroup.h5");
    delete_link(p, "/data");
    CHECK_ERR(h5io_check(p, name, sizeof name), p, "/data");

    p = damaged(good, "noattr.h5");
    delete_attr(p, "/metrics", "test_accuracy");
    CHECK_ERR(h5io_check(p, name, sizeof name), p, "/metrics@test_accuracy");

    p = damaged(good, "dtype.h5");
    replace_dataset(p, "/train/lr", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, (hsize_t[]){3}, NULL);
    CHECK_ERR(h5io_check(p, name, sizeof name), p, "/train/lr: dtype float32 but the schema says float64");

    p = damaged(good, "rank.h5");
    replace_dataset(p, "/graph/inputs", H5T_STD_I32LE, H5T_NATIVE_INT32, 2, (hsize_t[]){9, 4}, NULL);
    CHECK_ERR(h5io_check(p, name, sizeof name), p, "/graph/inputs: shape (9, 4)");

    p = damaged(good, "epochs.h5");
    replace_dataset(p, "/train/accuracy", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, (hsize_t[]){2}, NULL);
    CHECK_ERR(h5io_check(p, name, sizeof name), p, "/train/accuracy: shape (2)");
}

static void test_graph_errors(const char *good, const ig_graph *g)
{
    h5io_reader r;
    ig_graph *back = NULL;
    char want[96];

    const char *p = damaged(good, "params.h5");
    replace_dataset(p, "/graph/params", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, (hsize_t[]){10}, NULL);
    snprintf(want, sizeof want, "/graph/params: shape (10) but the graph needs (%zu)", g->param_size);
    if (h5io_open(&r, p, "gos.baseline") == 0) {
        CHECK_ERR(h5io_read_graph(&r, "/graph", &back), p, want);
        CHECK(back == NULL, "no graph returned on error");
    } else {
        CHECK(0, "open %s: %s", p, pl_last_error());
    }
    h5io_close(&r);

    p = damaged(good, "state.h5");
    replace_dataset(p, "/graph/state", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, (hsize_t[]){0}, NULL);
    if (h5io_open(&r, p, "gos.baseline") == 0)
        CHECK_ERR(h5io_read_graph(&r, "/graph", &back), p, "/graph/state: shape (0)");
    h5io_close(&r);

    const char *ops[16];
    for (int i = 0; i < g->n_nodes; i++) ops[i] = ig_opcode_name(g->nodes[i].op);
    ops[1] = "conv3d";
    hid_t vlen = H5Tcopy(H5T_C_S1);
    H5Tset_size(vlen, H5T_VARIABLE);
    p = damaged(good, "opcode.h5");
    replace_dataset(p, "/graph/opcodes", vlen, vlen, 1, (hsize_t[]){(hsize_t)g->n_nodes}, ops);
    H5Tclose(vlen);
    if (h5io_open(&r, p, "gos.baseline") == 0)
        CHECK_ERR(h5io_read_graph(&r, "/graph", &back), p,
                  "/graph/opcodes[1]: unknown opcode 'conv3d' (node 1)");
    h5io_close(&r);

    /* Node 2 (batchnorm) reading a later node is rejected by ig_add. */
    int32_t inputs[16][IG_MAX_IN];
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < IG_MAX_IN; k++) inputs[i][k] = k < g->nodes[i].n_in ? g->nodes[i].in[k] : -1;
    inputs[2][0] = 5;
    p = damaged(good, "node.h5");
    replace_dataset(p, "/graph/inputs", H5T_STD_I32LE, H5T_NATIVE_INT32, 2,
                    (hsize_t[]){(hsize_t)g->n_nodes, IG_MAX_IN}, inputs);
    if (h5io_open(&r, p, "gos.baseline") == 0)
        CHECK_ERR(h5io_read_graph(&r, "/graph", &back), p, "node 2 (batchnorm)");
    h5io_close(&r);

    /* A writer that leaves out a required group: the commit refuses it. */
    const char *incomplete = in_dir("incomplete.h5");
    h5io_provenance prov = provenance("gos.baseline", 11);
    h5io_writer w;
    int rc = h5io_create(&w, incomplete, &prov);
    if (rc >= 0) rc = write_baseline_body(&w, g, "/data");
    CHECK_ERR(rc >= 0 ? h5io_commit(&w) : rc, incomplete, "/data");
    h5io_abort(&w);
    CHECK(!exists(incomplete) && count_temps("incomplete.h5") == 0, "refused commit leaves nothing");

    /* An aborted writer leaves nothing. */
    MUST(h5io_create(&w, incomplete, &prov));
    MUST(h5io_write_graph(&w, "/graph", g));
    h5io_abort(&w);
    CHECK(!exists(incomplete) && count_temps("incomplete.h5") == 0, "abort leaves nothing");
    h5io_abort(&w); /* twice is harmless */
    CHECK_ERR(h5io_create(&w, "/nonexistent-gos-dir/x.h5", &prov), "/nonexistent-gos-dir/x.h5",
              "cannot create the temporary file");
    prov.schema = "gos.nope";
    CHECK_ERR(h5io_create(&w, incomplete, &prov), incomplete, "gos.nope");
}

static void test_h5dump(const char *path)
{
    if (access("/usr/bin/h5dump", X_OK) != 0) return;
    fflush(stdout);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "h5dump -H '%s' > /dev/null 2>&1", path);
    CHECK(system(cmd) == 0, "h5dump -H reads %s", path);
    snprintf(cmd, sizeof cmd, "h5dump '%s' > /dev/null 2>&1", path);
    CHECK(system(cmd) == 0, "h5dump reads all of %s", path);
}

/* Reads the baseline with h5py when Debian's python3-h5py is installed
 * (scripts/install-deps.sh --torch): attributes as str, strings via asstr,
 * a parameter tensor through the offset/count/dims table. */
static void test_h5py(const char *path, const ig_graph *g)
{
    fflush(stdout);
    if (system("/usr/bin/python3 -c 'import h5py' > /dev/null 2>&1") != 0) {
        printf("test_h5io: python3-h5py not installed, h5py reading not checked\n");
        return;
    }
    static const char *const script =
        "import sys, h5py, numpy\n"
        "f = h5py.File(sys.argv[1], 'r')\n"
        "assert f.attrs['schema'] == 'gos.baseline' and int(f.attrs['schema_version']) == 2\n"
        "assert f.attrs['config'].startswith('experiment')\n"
        "g = f['/graph']\n"
        "ops = list(g['opcodes'].asstr()[...])\n"
        "assert ops[0] == 'input' and ops[-1] == 'softmax_xent', ops\n"
        "assert list(g['operator_names'].asstr()[...]) == ['stem', 'empty', 'head']\n"
        "off, cnt, dims = g['param_offsets'][0], g['param_counts'][0], g['param_dims'][0]\n"
        "w = g['params'][off:off + cnt].reshape(dims)\n"
        "assert w.shape == (6, 3, 3, 3), w.shape\n"
        "assert w[1, 2, 0, 1] == numpy.float32(sys.argv[2]), (w[1, 2, 0, 1], sys.argv[2])\n"
        "assert g.attrs['param_count'] == g['param_counts'][...].sum()\n"
        "assert f['/train/loss'].shape == (3,) and f['/metrics'].attrs['test_accuracy'] == 0.875\n"
        "assert f['/data'].attrs['dataset'] == 'fashion-mnist'\n"
        "assert f['/data/mean'].shape == (3,) and f['/data/std'].shape == (3,)\n";
    const char *script_path = in_dir("read.py");
    FILE *f = fopen(script_path, "w");
    fputs(script, f);
    fclose(f);
    /* conv weight (6,3,3,3), element [1][2][0][1] */
    float probe = g->param[g->params[0].offset + ((1 * 3 + 2) * 3 + 0) * 3 + 1];
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s' %.9g", script_path, path, (double)probe);
    fflush(stdout);
    CHECK(system(cmd) == 0, "h5py reads %s as documented", path);
}

int main(void)
{
    make_dir("test_h5io");
    ig_graph *g = build_graph();
    char good[256];
    snprintf(good, sizeof good, "%s", in_dir("base.h5"));

    test_round_trip(g, good);
    test_checkpoint(g);
    test_datasets(g);
    test_file_errors(good);
    test_schema_errors(good);
    test_graph_errors(good, g);
    test_h5dump(good);
    test_h5dump(in_dir("extra.h5"));
    test_h5py(good, g);

    ig_graph_free(g);
    remove_dir();
    return check_summary("test_h5io");
}
