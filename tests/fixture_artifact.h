/* fixture_artifact.h: shared by the artifact tests (test_h5io.c,
 * test_h5io_atomic.c): a scratch directory, a small graph touching the
 * instructions a baseline needs, and a writer of complete gos.baseline
 * artifacts. Header-only; every helper aborts (pl_abort) when the fixture
 * itself cannot be set up, since that is a bug, not a test result. */
#ifndef FIXTURE_ARTIFACT_H
#define FIXTURE_ARTIFACT_H

#include "check.h"
#include "h5io.h"
#include "ig.h"
#include "pl_err.h"
#include "pl_mem.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];
static int verbose;
static const char *const CONFIG = "experiment = \"unit\";\ntrain: { epochs = 3; lr = 0.1; };\n";

/* dir + "/" + name, in one of 32 rotating buffers (keep a copy of a path
 * that must outlive 31 more calls). */
static inline const char *in_dir(const char *name)
{
    static char bufs[32][256];
    static int next;
    char *b = bufs[next++ % 32];
    if (snprintf(b, 256, "%s/%s", dir, name) >= 256) pl_abort(__FILE__, __LINE__, "path too long");
    return b;
}

/* Checks that expr failed with a message naming file and what. */
#define CHECK_ERR(expr, file, what)                                                     \
    do {                                                                                \
        int rc_ = (expr);                                                               \
        const char *m_ = pl_last_error();                                               \
        CHECK(rc_ < 0 && strstr(m_, (file)) && strstr(m_, (what)),                      \
              "%s: want an error naming '%s' and '%s', got %d: %s", #expr, (file), (what), \
              rc_, rc_ < 0 ? m_ : "");                                                  \
        if (verbose) printf("  message: %s\n", m_);                                     \
    } while (0)

static inline int must(int rc, int line)
{
    if (rc < 0) pl_abort(__FILE__, line, "setup failed: %s", pl_last_error());
    return rc;
}
#define MUST(expr) must((expr), __LINE__)

/* ---- fixtures ------------------------------------------------------------ */

static inline ig_graph *build_graph(void)
{
    ig_graph *g = ig_graph_alloc();
    int x = MUST(ig_input(g, 3, 8, 8));
    MUST(ig_operator_begin(g, "stem"));
    int c = MUST(ig_conv2d(g, x, 6, 3, 3, 1, 1, 1, 1, 1, 1));
    int b = MUST(ig_batchnorm(g, c));
    int r = MUST(ig_unary(g, IG_OP_RELU, b));
    ig_operator_end(g);
    MUST(ig_operator_begin(g, "empty")); /* an operator with no node keeps its id */
    ig_operator_end(g);
    int p = MUST(ig_global_avgpool(g, r));
    int f = MUST(ig_flatten(g, p));
    MUST(ig_operator_begin(g, "head"));
    int l = MUST(ig_linear(g, f, 5, 1));
    ig_operator_end(g);
    MUST(ig_softmax_xent(g, l));
    MUST(ig_graph_finalize(g));
    ig_graph_init_params(g, 7);
    for (size_t i = 0; i < g->state_size; i++) g->state[i] = 0.5f + 0.01f * (float)i;
    return g;
}

static inline int write_train(h5io_writer *w, int64_t epochs)
{
    static const char *const names[] = {"loss", "accuracy", "val_loss", "val_accuracy", "lr",
                                        "seconds"};
    double v[16];
    for (int k = 0; k < 6; k++) {
        for (int64_t e = 0; e < epochs; e++) v[e] = 1.0 / (double)(e + 1) + 0.1 * k;
        char p[64];
        snprintf(p, sizeof p, "/train/%s", names[k]);
        PL_TRY(h5io_write_f64(w, p, v, 1, &epochs));
    }
    return PL_OK;
}

/* Writes a gos.baseline into an open writer; `omit` ("/data" or NULL) leaves
 * that group out. */
static inline int write_baseline_body(h5io_writer *w, const ig_graph *g, const char *omit)
{
    PL_TRY(h5io_write_graph(w, "/graph", g));
    PL_TRY(write_train(w, 3));
    PL_TRY(h5io_write_group(w, "/metrics"));
    PL_TRY(h5io_write_attr_f64(w, "/metrics", "test_accuracy", 0.875));
    PL_TRY(h5io_write_attr_f64(w, "/metrics", "test_loss", 0.4));
    PL_TRY(h5io_write_attr_f64(w, "/metrics", "val_accuracy", 0.9));
    PL_TRY(h5io_write_attr_i64(w, "/metrics", "test_images", 10000));
    PL_TRY(h5io_write_attr_i64(w, "/metrics", "val_images", 5000));
    PL_TRY(h5io_write_attr_i64(w, "/metrics", "train_images", 55000));
    PL_TRY(h5io_write_attr_i64(w, "/metrics", "param_count", (int64_t)ig_graph_param_count(g)));
    PL_TRY(h5io_write_attr_f64(w, "/metrics", "flops", ig_graph_flops(g)));
    PL_TRY(h5io_write_attr_f64(w, "/metrics", "train_seconds", 12.5));
    PL_TRY(h5io_write_attr_f64(w, "/metrics", "images_per_second", 4400.0));
    if (omit && strcmp(omit, "/data") == 0) return PL_OK;
    PL_TRY(h5io_write_group(w, "/data"));
    PL_TRY(h5io_write_attr_string(w, "/data", "dataset", "fashion-mnist"));
    const double mean[3] = {0.49, 0.48, 0.45}, std[3] = {0.25, 0.24, 0.26}; /* (input_c) */
    const int64_t channels[1] = {3};
    PL_TRY(h5io_write_f64(w, "/data/mean", mean, 1, channels));
    PL_TRY(h5io_write_f64(w, "/data/std", std, 1, channels));
    PL_TRY(h5io_write_attr_i64(w, "/data", "input_c", 3));
    PL_TRY(h5io_write_attr_i64(w, "/data", "input_h", 8));
    PL_TRY(h5io_write_attr_i64(w, "/data", "input_w", 8));
    PL_TRY(h5io_write_attr_i64(w, "/data", "classes", 5));
    PL_TRY(h5io_write_attr_i64(w, "/data", "input_node", 0));
    PL_TRY(h5io_write_attr_i64(w, "/data", "logits_node", 1));
    return PL_OK;
}

static inline h5io_provenance provenance(const char *schema, int64_t seed)
{
    h5io_provenance prov;
    memset(&prov, 0, sizeof prov);
    prov.schema = schema;
    snprintf(prov.stage, sizeof prov.stage, "train");
    snprintf(prov.experiment, sizeof prov.experiment, "unit");
    prov.config_text = CONFIG;
    prov.seed = seed;
    prov.threads = 2;
    return prov;
}

/* A complete gos.baseline at path; returns the commit status. */
static inline int write_baseline(const char *path, const ig_graph *g, int64_t seed)
{
    h5io_provenance prov = provenance("gos.baseline", seed);
    h5io_writer w;
    PL_TRY(h5io_create(&w, path, &prov));
    int rc = write_baseline_body(&w, g, NULL);
    if (rc < 0) {
        h5io_abort(&w);
        return rc;
    }
    return h5io_commit(&w);
}

static inline int count_temps(const char *name)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    size_t len = strlen(name);
    while (d && (e = readdir(d)) != NULL)
        if (strncmp(e->d_name, name, len) == 0 && strncmp(e->d_name + len, ".tmp.", 5) == 0) n++;
    if (d) closedir(d);
    return n;
}

static inline int exists(const char *path) { return access(path, F_OK) == 0; }

/* Creates the scratch directory /tmp/<name>.XXXXXX (into dir) and reads
 * GOS_TEST_VERBOSE. */
static inline void make_dir(const char *name)
{
    verbose = getenv("GOS_TEST_VERBOSE") != NULL;
    snprintf(dir, sizeof dir, "/tmp/%s.XXXXXX", name);
    if (!mkdtemp(dir)) pl_abort(__FILE__, __LINE__, "mkdtemp %s", dir);
}

static inline void remove_dir(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') unlink(in_dir(e->d_name));
    if (d) closedir(d);
    rmdir(dir);
}

#endif
