/* graphgen.c: the graph generation stage. Reads the baseline and the
 * profile, cuts the top-ranked operators out of the model as instruction
 * DAGs with their weights and the activations of real training images at
 * their boundary, makes seed candidates for the search and runs the
 * sparsity study, and writes the graphs artifact (gos.graphs). Prints one
 * line per operator: how many random and adapted candidates were valid and
 * fitted, and their median predicted latency relative to the original.
 *
 *   graphgen EXPERIMENT.cfg GRAPHS.h5 BASELINE.h5 PROFILE.h5
 *
 * Exit status: 0 done, 1 error, 2 usage. */
#include "cfg.h"
#include "ds_experiment.h"
#include "graphgen.h"
#include "h5io.h"
#include "pl_err.h"
#include "pl_mem.h"
#include "pl_threads.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int usage(void)
{
    fprintf(stderr, "usage: graphgen EXPERIMENT.cfg GRAPHS.h5 BASELINE.h5 PROFILE.h5\n");
    return 2;
}

static int read_ranking(const char *path, const ig_graph *g, int32_t **ranking, int *count)
{
    h5io_reader r;
    PL_TRY(h5io_open(&r, path, "gos.profile"));
    int rank;
    int64_t dims[H5IO_MAX_RANK];
    int rc = h5io_read_i32_alloc(&r, "/ranking", ranking, &rank, dims);
    h5io_close(&r);
    PL_TRY(rc);
    *count = (int)dims[0];
    if (*count != g->n_operators)
        PL_FAIL(PL_ERR_SCHEMA, "%s: /ranking has %d operators, the baseline %d (a profile of "
                "another baseline?)", path, *count, g->n_operators);
    for (int i = 0; i < *count; i++)
        if ((*ranking)[i] < 0 || (*ranking)[i] >= g->n_operators)
            PL_FAIL(PL_ERR_SCHEMA, "%s: /ranking[%d] = %d is not an operator", path, i,
                    (*ranking)[i]);
    return PL_OK;
}

/* The first sample_images training images in the seeded epoch-0 order, at
 * the model's input size, unaugmented: (n, C, H, W). */
static int sample_images(const cfg_experiment *e, float **images, int *n)
{
    ds_experiment x;
    PL_TRY(ds_experiment_load(&x, e, 64));
    *n = ds_experiment_take(&x, &x.train, e->graphgen.sample_images, 1, (uint64_t)e->seed,
                            images, NULL);
    ds_experiment_free(&x);
    return PL_OK;
}

static int options_from(const cfg_experiment *e, graphgen_options *o)
{
    memset(o, 0, sizeof *o);
    const cfg_graphgen *c = &e->graphgen;
    o->top_operators = c->top_operators;
    o->min_nodes = c->min_nodes;
    o->max_nodes = c->max_nodes;
    o->study_samples = c->study_samples;
    o->seed_candidates = c->seed_candidates;
    o->study_threshold = c->study_threshold;
    PL_TRY(gen_iset_find(c->instruction_set, &o->iset));
    o->fit = (gen_fit_options){.steps = c->fit_steps, .batch = c->fit_batch, .lr = c->fit_lr,
                               .holdout = c->fit_holdout, .seed = (uint64_t)e->seed};
    if (!dev_model_from_config(&o->latency_model, &e->device))
        PL_FAIL(PL_ERR_CONFIG, "device %s: graphgen predicts candidate latencies with the "
                "device's latency model, whose characteristics are incomplete (see "
                "schemas/config.md, section device)", e->device.name);
    o->latency_batch = e->device.batch;
    o->seed = (uint64_t)e->seed;
    /* Parallel over candidates, each fitted by single-threaded kernels
     * (microsecond kernels of small operators lose to thread start-up). */
    pl_threads_set(e->threads);
    o->threads = pl_threads_get();
    pl_threads_set(1);
    o->progress = isatty(STDERR_FILENO) && !getenv("CI");
    return PL_OK;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void print_study(const graphgen_result *r)
{
    printf("%-28s %5s %14s %14s %10s %10s\n", "operator", "N", "scratch v/fit",
           "adapted v/fit", "lat(scr)", "lat(adp)");
    double *ratios = pl_xmalloc((size_t)(r->n_samples + 1) * sizeof(double));
    for (int k = 0; k < r->n_ops; k++) {
        int n[2] = {0, 0}, valid[2] = {0, 0}, fit[2] = {0, 0};
        double median[2] = {NAN, NAN};
        for (int kind = 0; kind < 2; kind++) {
            int m = 0;
            for (int i = 0; i < r->n_samples; i++) {
                const graphgen_sample *s = &r->samples[i];
                if (s->op != k || s->kind != kind) continue;
                n[kind]++;
                valid[kind] += s->valid;
                fit[kind] += s->fit_ok;
                if (s->valid) ratios[m++] = s->latency_ratio;
            }
            qsort(ratios, (size_t)m, sizeof *ratios, compare_double);
            if (m) median[kind] = ratios[m / 2];
        }
        printf("%-28s %5d %6d/%-6d %7d/%-6d %10.3g %10.3g\n", r->ops[k].name, n[0], valid[0],
               fit[0], valid[1], fit[1], median[0], median[1]);
    }
    pl_free(ratios);
}

int main(int argc, char **argv)
{
    if (argc != 5) return usage();
    const char *cfg_path = argv[1], *out = argv[2], *baseline = argv[3], *profile = argv[4];
    h5io_provenance prov;
    memset(&prov, 0, sizeof prov);
    h5io_now_iso8601(prov.start_time, sizeof prov.start_time);

    cfg_experiment *cfg = cfg_new();
    ig_graph *g = NULL;
    int32_t *ranking = NULL;
    float *images = NULL;
    int input_node = -1, logits_node = -1, n_ranked = 0, n_images = 0;
    graphgen_options o;
    graphgen_result result;
    memset(&result, 0, sizeof result);
    int rc = cfg_load(cfg, cfg_path);
    if (rc == PL_OK) rc = options_from(cfg, &o);
    if (rc == PL_OK) rc = h5io_read_model(baseline, "gos.baseline", "/data", &g, &input_node,
                                             &logits_node);
    if (rc == PL_OK) rc = read_ranking(profile, g, &ranking, &n_ranked);
    if (rc == PL_OK) rc = sample_images(cfg, &images, &n_images);
    if (rc == PL_OK)
        rc = graphgen_run(g, input_node, ranking, n_ranked, images, n_images, &o, &result);
    if (rc == PL_OK) {
        snprintf(prov.stage, sizeof prov.stage, "graphgen");
        snprintf(prov.experiment, sizeof prov.experiment, "%s", cfg->name);
        prov.config_text = cfg->resolved_text;
        prov.seed = cfg->seed;
        rc = graphgen_write(out, &prov, g, &o, &result);
    }
    if (rc == PL_OK) {
        printf("graphgen: %s: %d operators (%d skipped), %d images, %d seed candidates, "
               "instruction set %s; latencies predicted on %s\n", cfg->name, result.n_ops,
               result.skipped, n_images, result.n_candidates, o.iset.name, cfg->device.name);
        print_study(&result);
    }
    if (rc < 0) fprintf(stderr, "graphgen: error: %s\n", pl_last_error());
    graphgen_free(&result);
    pl_free(images);
    pl_free(ranking);
    ig_graph_free(g);
    cfg_delete(cfg);
    return rc < 0 ? 1 : 0;
}
