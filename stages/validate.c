/* validate.c: the validate stage. For the original (baseline) and the
 * adapted (fine-tuned) model, on the experiment's device: the end-to-end
 * latency at the device's batch (measured here, or predicted, with
 * provenance), the accuracy on the test set, parameters and FLOPs; the
 * speedup, the accuracy change and whether it is within search.epsilon; the
 * operators replaced. Writes the validate artifact (gos.validate). An
 * adapted model more than epsilon points below the original fails the stage
 * with both numbers and writes nothing, unless validate.only_report.
 *
 *   validate EXPERIMENT.cfg VALIDATE.h5 BASELINE.h5 ADAPTED.h5 SEARCH.h5
 *
 * Exit status: 0 done, 1 error (or epsilon broken), 2 usage. */
#include "cfg.h"
#include "dev.h"
#include "ds_experiment.h"
#include "h5io.h"
#include "pl_err.h"
#include "pl_mem.h"
#include "pl_threads.h"
#include "search.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    dev_latency latency;
    double      accuracy;
    int64_t     params;
    double      flops;
} figures;

static int usage(void)
{
    fprintf(stderr, "usage: validate EXPERIMENT.cfg VALIDATE.h5 BASELINE.h5 ADAPTED.h5 "
                    "SEARCH.h5\n");
    return 2;
}

/* Names of the operators the search replaced. */
static int read_replaced(const char *path, char ***names, int64_t *count)
{
    h5io_reader r;
    PL_TRY(h5io_open(&r, path, "gos.search"));
    char **all = NULL;
    int64_t n = 0, dims[H5IO_MAX_RANK];
    int32_t *replaced = NULL;
    int rank;
    int rc = h5io_read_strings(&r, "/steps/names", &all, &n);
    if (rc == PL_OK) rc = h5io_read_i32_alloc(&r, "/steps/replaced", &replaced, &rank, dims);
    if (rc == PL_OK && (rank != 1 || dims[0] != n))
        rc = pl_error(PL_ERR_SCHEMA, __FILE__, __LINE__, "%s: /steps/replaced: %lld rows for "
                      "%lld /steps/names", path, (long long)(rank == 1 ? dims[0] : -1),
                      (long long)n);
    h5io_close(&r);
    *names = pl_xcalloc((size_t)n + 1, sizeof **names);
    *count = 0;
    for (int64_t i = 0; rc == PL_OK && i < n; i++)
        if (replaced[i]) (*names)[(*count)++] = pl_xstrdup(all[i]);
    h5io_free_strings(all, n);
    pl_free(replaced);
    return rc;
}

/* Parameters, FLOPs, the predicted latency (predicted devices; main times
 * measured ones) and the test accuracy of g, read from `path`. */
static int measure(const cfg_experiment *e, const char *path, ig_graph *g, int input,
                   int logits, ds_experiment *x, figures *f)
{
    const cfg_device *d = &e->device;
    const ig_shape *in = &g->nodes[input].shape;
    if (in->c != x->src_c || in->h != x->in_h || in->w != x->in_w)
        PL_FAIL(PL_ERR_SHAPE, "%s: the model takes %dx%dx%d inputs, the experiment's data "
                "are %dx%dx%d (another experiment's artifact?)", path, in->c, in->h, in->w,
                x->src_c, x->in_h, x->in_w);
    f->params = (int64_t)ig_graph_param_count(g);
    int *nodes = pl_xmalloc((size_t)g->n_nodes * sizeof(int));
    int count = dev_inference_nodes(g, nodes);
    f->flops = 0;
    for (int k = 0; k < count; k++) f->flops += ig_node_flops(g, nodes[k]) * d->batch;
    if (dev_kind_of(d) == DEV_PREDICTED) {
        dev_model m;
        dev_model_from_config(&m, d);
        double ms = dev_predict_nodes_ms(&m, g, nodes, count, d->batch);
        f->latency = (dev_latency){.median_ms = ms, .min_ms = ms, .max_ms = ms, .runs = 1,
                                   .repeats = 1};
    } /* measured: by main, both models side by side */
    pl_free(nodes);
    /* The whole test set, at the model's input size. */
    float *images;
    int32_t *labels;
    int n = ds_experiment_take(x, &x->test, x->test.n, 0, 0, &images, &labels);
    f->accuracy = search_accuracy(g, input, logits, images, labels, n);
    pl_free(images);
    pl_free(labels);
    if (isnan(f->accuracy))
        PL_FAIL(PL_ERR_SHAPE, "%s: cannot run the model on the test images (%s)", path,
                pl_last_error());
    return PL_OK;
}

static int write_figures(h5io_writer *w, const char *group, const figures *f, int test_images)
{
    PL_TRY(h5io_write_group(w, group));
    PL_TRY(h5io_write_attr_f64(w, group, "latency_ms", f->latency.median_ms));
    PL_TRY(h5io_write_attr_f64(w, group, "latency_min_ms", f->latency.min_ms));
    PL_TRY(h5io_write_attr_f64(w, group, "latency_max_ms", f->latency.max_ms));
    PL_TRY(h5io_write_attr_f64(w, group, "latency_spread_ms", f->latency.spread_ms));
    PL_TRY(h5io_write_attr_f64(w, group, "accuracy", f->accuracy));
    PL_TRY(h5io_write_attr_i64(w, group, "test_images", test_images));
    PL_TRY(h5io_write_attr_i64(w, group, "params", f->params));
    return h5io_write_attr_f64(w, group, "flops", f->flops);
}

/* Whether an accuracy change of `change` points keeps within epsilon points.
 * A drop of exactly epsilon does, though 100 * (a1 - a0) of two test-set
 * fractions lands a rounding error past it (90.00% -> 89.00% gives
 * -1.0000000000000009). */
static int within_epsilon(double change, double epsilon) { return change >= -epsilon - 1e-9; }

static int write_validate(const char *path, const cfg_experiment *e, const dev_provenance *p,
                          const figures *orig, const figures *adapted, int test_images,
                          char **replaced, int64_t n_replaced, const char *start)
{
    h5io_provenance prov;
    memset(&prov, 0, sizeof prov);
    prov.schema = "gos.validate";
    snprintf(prov.stage, sizeof prov.stage, "validate");
    snprintf(prov.experiment, sizeof prov.experiment, "%s", e->name);
    prov.config_text = e->resolved_text;
    prov.seed = e->seed;
    snprintf(prov.start_time, sizeof prov.start_time, "%s", start);
    h5io_writer w;
    PL_TRY(h5io_create(&w, path, &prov));
    double speedup = orig->latency.median_ms / adapted->latency.median_ms;
    double change = 100.0 * (adapted->accuracy - orig->accuracy);
    int rc = h5io_write_group(&w, "/latency");
    if (rc == PL_OK) rc = dev_write_provenance(&w, "/latency", p);
    if (rc == PL_OK) rc = write_figures(&w, "/original", orig, test_images);
    if (rc == PL_OK) rc = write_figures(&w, "/adapted", adapted, test_images);
    if (rc == PL_OK) rc = h5io_write_group(&w, "/summary");
    if (rc == PL_OK) rc = h5io_write_attr_f64(&w, "/summary", "speedup", speedup);
    if (rc == PL_OK) rc = h5io_write_attr_f64(&w, "/summary", "accuracy_change", change);
    if (rc == PL_OK) rc = h5io_write_attr_f64(&w, "/summary", "epsilon", e->search.epsilon);
    if (rc == PL_OK)
        rc = h5io_write_attr_i64(&w, "/summary", "within_epsilon",
                                 within_epsilon(change, e->search.epsilon));
    if (rc == PL_OK) rc = h5io_write_attr_i64(&w, "/summary", "operators_replaced", n_replaced);
    if (rc == PL_OK) rc = h5io_write_attr_string(&w, "/summary", "model", e->model.name);
    if (rc == PL_OK) rc = h5io_write_attr_string(&w, "/summary", "device", e->device.name);
    if (rc == PL_OK)
        rc = h5io_write_strings(&w, "/replaced", (const char *const *)replaced, n_replaced);
    if (rc < 0) {
        h5io_abort(&w);
        return rc;
    }
    return h5io_commit(&w);
}

int main(int argc, char **argv)
{
    if (argc != 6) return usage();
    const char *cfg_path = argv[1], *out = argv[2], *baseline = argv[3], *adapted = argv[4],
               *search = argv[5];
    char start[32];
    h5io_now_iso8601(start, sizeof start);
    cfg_experiment *cfg = cfg_new();
    ig_graph *g0 = NULL, *g1 = NULL;
    int in0, lo0, in1, lo1;
    char **replaced = NULL;
    int64_t n_replaced = 0;
    ds_experiment x;
    memset(&x, 0, sizeof x);
    figures f0, f1;
    dev_provenance prov;
    int rc = cfg_load(cfg, cfg_path);
    if (rc == PL_OK && dev_kind_of(&cfg->device) == DEV_REMOTE)
        rc = pl_error(PL_ERR_CONFIG, __FILE__, __LINE__, "device %s: validating on a remote "
                      "device is not supported yet (use gos_bench_graph there on both models)",
                      cfg->device.name);
    if (rc == PL_OK) rc = h5io_read_model(baseline, "gos.baseline", "/data", &g0, &in0, &lo0);
    if (rc == PL_OK) rc = h5io_read_model(adapted, "gos.adapted", "/data", &g1, &in1, &lo1);
    if (rc == PL_OK) rc = read_replaced(search, &replaced, &n_replaced);
    if (rc == PL_OK) rc = ds_experiment_load(&x, cfg, 64);
    if (rc == PL_OK) {
        pl_threads_set(cfg->threads);
        rc = measure(cfg, baseline, g0, in0, lo0, &x, &f0);
    }
    if (rc == PL_OK) rc = measure(cfg, adapted, g1, in1, lo1, &x, &f1);
    if (rc == PL_OK && dev_kind_of(&cfg->device) == DEV_MEASURED) {
        /* Interleaved, so the load of a shared machine hits both alike. */
        dev_timing t = dev_timing_from_config(&cfg->device, cfg->threads);
        ig_graph *both[2] = {g0, g1};
        dev_latency lat[2];
        rc = dev_time_models(both, 2, cfg->device.batch, &t, lat);
        f0.latency = lat[0];
        f1.latency = lat[1];
    }
    int broken = 0;
    if (rc == PL_OK) {
        dev_model m;
        dev_timing t = dev_timing_from_config(&cfg->device, cfg->threads);
        if (dev_kind_of(&cfg->device) == DEV_PREDICTED) {
            dev_model_from_config(&m, &cfg->device);
            dev_provenance_init(&prov, &cfg->device, NULL, &m);
        } else {
            dev_provenance_init(&prov, &cfg->device, &t, NULL);
        }
        double change = 100.0 * (f1.accuracy - f0.accuracy);
        broken = !within_epsilon(change, cfg->search.epsilon);
        printf("validate: %s on %s (%s): latency %.4g -> %.4g ms (%.2fx), test accuracy "
               "%.2f%% -> %.2f%% (%+.2f points, epsilon %.3g: %s), params %lld -> %lld, "
               "%lld operators replaced\n", cfg->name, cfg->device.name, prov.kind,
               f0.latency.median_ms, f1.latency.median_ms,
               f0.latency.median_ms / f1.latency.median_ms, 100 * f0.accuracy,
               100 * f1.accuracy, change, cfg->search.epsilon, broken ? "BROKEN" : "within",
               (long long)f0.params, (long long)f1.params, (long long)n_replaced);
        if (broken && !cfg->validate.only_report)
            rc = pl_error(PL_ERR_NUMERIC, __FILE__, __LINE__, "%s: the adapted model loses %.2f "
                          "accuracy points, more than search.epsilon = %g (set "
                          "validate.only_report = true to record it anyway)", cfg->name, -change,
                          cfg->search.epsilon);
    }
    if (rc == PL_OK)
        rc = write_validate(out, cfg, &prov, &f0, &f1, x.test.n, replaced, n_replaced, start);
    if (rc < 0) fprintf(stderr, "validate: error: %s\n", pl_last_error());
    for (int64_t i = 0; replaced && i < n_replaced; i++) pl_free(replaced[i]);
    pl_free(replaced);
    ds_experiment_free(&x);
    ig_graph_free(g0);
    ig_graph_free(g1);
    cfg_delete(cfg);
    return rc < 0 ? 1 : 0;
}
