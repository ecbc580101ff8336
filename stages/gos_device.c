/* gos_device.c: the device tool. `calibrate` fits a device's latency model
 * (overhead and efficiencies, pipeline/device/dev_calibrate.h) to measured
 * operator timings and stores the fit; it prints the device-file lines that
 * apply it.
 *
 *   gos_device calibrate EXPERIMENT.cfg OUT.h5 [--model NAME:SIZE[:CHANNELS[:WIDTH]]]...
 *                                              [--graph GRAPH.h5 --timings TIMINGS.h5]...
 *
 * --model builds that model (random weights, 10 classes) and times it here
 * with the experiment's device settings (a measured device: this host);
 * --graph/--timings take the graph of an artifact and the gos.timings
 * artifact gos_bench_graph wrote for it on the real device. The
 * characteristics of the experiment's device file are kept; its factors are
 * the fit's starting point. Exit status: 0 done, 1 error, 2 usage. */
#include "cfg.h"
#include "dev.h"
#include "dev_calibrate.h"
#include "h5io.h"
#include "models.h"
#include "pl_err.h"
#include "pl_mem.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_SOURCES = 64 };

typedef struct {
    char            label[128]; /* "resnet18_small:32" or the graph path */
    ig_graph       *g;
    dev_graph_timings t;
    int           **op_nodes;   /* (n_operators) node lists             */
    int            *op_counts;
} source;

static int usage(void)
{
    fprintf(stderr, "usage: gos_device calibrate EXPERIMENT.cfg OUT.h5 "
                    "[--model NAME:SIZE[:CHANNELS[:WIDTH]]]... "
                    "[--graph GRAPH.h5 --timings TIMINGS.h5]...\n");
    return 2;
}

/* Builds and times NAME:SIZE[:CHANNELS[:WIDTH]] here. */
static int time_model(const char *spec_text, const cfg_experiment *e, source *s)
{
    model_spec spec = {.in_c = 3, .classes = 10, .width = 1.0f};
    char name[64];
    int size = 0, channels = 3;
    float width = 1.0f;
    int got = sscanf(spec_text, "%63[^:]:%d:%d:%f", name, &size, &channels, &width);
    if (got < 2 || size < 8 || channels < 1 || width <= 0)
        PL_FAIL(PL_ERR_INVAL, "--model %s: expected NAME:SIZE[:CHANNELS[:WIDTH]]", spec_text);
    snprintf(spec.name, sizeof spec.name, "%s", name);
    spec.in_c = channels;
    spec.in_h = spec.in_w = size;
    spec.width = width;
    snprintf(s->label, sizeof s->label, "%s", spec_text);
    s->g = ig_graph_alloc();
    model_nodes nodes;
    PL_TRY(model_build(s->g, &spec, &nodes));
    PL_TRY(ig_graph_finalize(s->g));
    ig_graph_init_params(s->g, 1);
    dev_timing t = dev_timing_from_config(&e->device, e->threads);
    fprintf(stderr, "gos_device: timing %s here (%d threads)\n", spec_text, t.threads);
    return dev_time_graph(s->g, e->device.batch, &t, &s->t);
}

static int read_pair(const char *graph_path, const char *timings_path, source *s)
{
    snprintf(s->label, sizeof s->label, "%s", graph_path);
    h5io_reader r;
    PL_TRY(h5io_open(&r, graph_path, NULL));
    int rc = h5io_read_graph(&r, "/graph", &s->g);
    h5io_close(&r);
    PL_TRY(rc);
    return dev_timings_read(timings_path, s->g, &s->t, NULL);
}

static void index_operators(source *s)
{
    int n = s->g->n_operators > 0 ? s->g->n_operators : 1;
    s->op_nodes = pl_xcalloc((size_t)n, sizeof *s->op_nodes);
    s->op_counts = pl_xcalloc((size_t)n, sizeof *s->op_counts);
    for (int id = 0; id < s->g->n_operators; id++) {
        s->op_nodes[id] = pl_xmalloc((size_t)s->g->n_nodes * sizeof(int));
        s->op_counts[id] = dev_operator_nodes(s->g, id, s->op_nodes[id]);
    }
}

static void free_source(source *s)
{
    for (int id = 0; s->op_nodes && id < s->g->n_operators; id++) pl_free(s->op_nodes[id]);
    pl_free(s->op_nodes);
    pl_free(s->op_counts);
    dev_graph_timings_free(&s->t);
    ig_graph_free(s->g);
}

static int write_fit(const char *path, const cfg_experiment *e, const dev_model *before,
                     const dev_model *after, const dev_fit_report *rep, const source *src,
                     int n_src, const dev_sample *samples, const int *sample_src,
                     const int *sample_op, int n)
{
    h5io_provenance prov;
    memset(&prov, 0, sizeof prov);
    prov.schema = "gos.calibration";
    snprintf(prov.stage, sizeof prov.stage, "calibrate");
    snprintf(prov.experiment, sizeof prov.experiment, "%s", e->name);
    prov.config_text = e->resolved_text;
    prov.seed = e->seed;
    h5io_writer w;
    PL_TRY(h5io_create(&w, path, &prov));
    const char **labels = pl_xcalloc((size_t)n, sizeof *labels);
    const char **ops = pl_xcalloc((size_t)n, sizeof *ops);
    double *meas = pl_xmalloc((size_t)n * sizeof *meas);
    double *pb = pl_xmalloc((size_t)n * sizeof *pb), *pa = pl_xmalloc((size_t)n * sizeof *pa);
    for (int i = 0; i < n; i++) {
        labels[i] = src[sample_src[i]].label;
        ops[i] = src[sample_src[i]].g->operators[sample_op[i]].name;
        meas[i] = samples[i].measured_ms;
        pb[i] = dev_predict_nodes_ms(before, samples[i].g, samples[i].nodes, samples[i].n_nodes,
                                     samples[i].batch);
        pa[i] = dev_predict_nodes_ms(after, samples[i].g, samples[i].nodes, samples[i].n_nodes,
                                     samples[i].batch);
    }
    int64_t dims[1] = {n};
    int rc = h5io_write_strings(&w, "/samples/source", labels, n);
    if (rc == PL_OK) rc = h5io_write_strings(&w, "/samples/operator", ops, n);
    if (rc == PL_OK) rc = h5io_write_f64(&w, "/samples/measured_ms", meas, 1, dims);
    if (rc == PL_OK) rc = h5io_write_f64(&w, "/samples/predicted_before_ms", pb, 1, dims);
    if (rc == PL_OK) rc = h5io_write_f64(&w, "/samples/predicted_after_ms", pa, 1, dims);
    if (rc == PL_OK) rc = h5io_write_group(&w, "/fit");
    if (rc == PL_OK) rc = h5io_write_attr_f64(&w, "/fit", "overhead_us", after->overhead_us);
    for (int c = 0; c < DEV_CLASS_COUNT && rc == PL_OK; c++) {
        char key[32];
        snprintf(key, sizeof key, "eff_%s", dev_class_name(c));
        rc = h5io_write_attr_f64(&w, "/fit", key, after->eff[c]);
    }
    if (rc == PL_OK) rc = h5io_write_attr_f64(&w, "/fit", "eff_bandwidth", after->eff_bandwidth);
    if (rc == PL_OK) rc = h5io_write_attr_f64(&w, "/fit", "plane_ns", after->plane_ns);
    if (rc == PL_OK)
        rc = h5io_write_attr_f64(&w, "/fit", "parallel_mflops", after->parallel_mflops);
    if (rc == PL_OK) rc = h5io_write_attr_f64(&w, "/fit", "gemm_half", after->gemm_half);
    if (rc == PL_OK) rc = h5io_write_attr_f64(&w, "/fit", "dw_taps_half", after->dw_taps_half);
    if (rc == PL_OK) rc = h5io_write_attr_f64(&w, "/fit", "eff_winograd", after->eff_winograd);
    if (rc == PL_OK) rc = h5io_write_attr_i64(&w, "/fit", "dw_row_lanes", after->dw_row_lanes);
    if (rc == PL_OK) rc = h5io_write_attr_string(&w, "/fit", "device", e->device.name);
    if (rc == PL_OK) rc = h5io_write_attr_f64(&w, "/fit", "rms_log_before", rep->rms_log_before);
    if (rc == PL_OK) rc = h5io_write_attr_f64(&w, "/fit", "rms_log_after", rep->rms_log_after);
    if (rc == PL_OK) rc = h5io_write_attr_f64(&w, "/fit", "tau_before", rep->tau_before);
    if (rc == PL_OK) rc = h5io_write_attr_f64(&w, "/fit", "tau_after", rep->tau_after);
    if (rc == PL_OK) rc = h5io_write_attr_i64(&w, "/fit", "iterations", rep->iterations);
    if (rc == PL_OK) rc = h5io_write_attr_i64(&w, "/fit", "sources", n_src);
    pl_free(labels);
    pl_free(ops);
    pl_free(meas);
    pl_free(pb);
    pl_free(pa);
    if (rc < 0) {
        h5io_abort(&w);
        return rc;
    }
    return h5io_commit(&w);
}

static int calibrate(const cfg_experiment *e, const char *out, source *src, int n_src)
{
    int total = 0;
    for (int s = 0; s < n_src; s++) total += src[s].g->n_operators;
    dev_sample *samples = pl_xcalloc((size_t)total + 1, sizeof *samples);
    int *sample_src = pl_xcalloc((size_t)total + 1, sizeof(int));
    int *sample_op = pl_xcalloc((size_t)total + 1, sizeof(int));
    int n = 0;
    for (int s = 0; s < n_src; s++) {
        index_operators(&src[s]);
        for (int id = 0; id < src[s].g->n_operators; id++) {
            samples[n] = (dev_sample){src[s].g, src[s].op_nodes[id], src[s].op_counts[id],
                                      e->device.batch, src[s].t.operators[id].median_ms};
            sample_src[n] = s;
            sample_op[n++] = id;
        }
    }
    dev_model before, after;
    dev_model_from_config(&before, &e->device);
    dev_timing t = dev_timing_from_config(&e->device, e->threads);
    if (dev_kind_of(&e->device) == DEV_MEASURED && t.threads < before.cores) before.cores = t.threads;
    after = before;
    dev_fit_report rep;
    int rc = dev_calibrate(&after, samples, n, &rep);
    if (rc == PL_OK) rc = write_fit(out, e, &before, &after, &rep, src, n_src, samples,
                                    sample_src, sample_op, n);
    if (rc == PL_OK) {
        printf("gos_device: %s: fitted %d operators of %d graphs in %d iterations: rms log "
               "error %.3f -> %.3f, Kendall tau %.3f -> %.3f; wrote %s\n", e->device.name, n,
               n_src, rep.iterations, rep.rms_log_before, rep.rms_log_after, rep.tau_before,
               rep.tau_after, out);
        printf("# device-file lines (%s):\n    overhead_us = %.3g;\n", out, after.overhead_us);
        for (int c = 0; c < DEV_CLASS_COUNT; c++)
            printf("    eff_%s = %.3g;\n", dev_class_name(c), after.eff[c]);
        printf("    eff_bandwidth = %.3g;\n", after.eff_bandwidth);
        printf("    plane_ns = %.3g;\n", after.plane_ns);
        printf("    parallel_mflops = %.3g;\n", after.parallel_mflops);
        printf("    gemm_half = %.3g;\n", after.gemm_half);
        printf("    dw_taps_half = %.3g;\n", after.dw_taps_half);
        printf("    eff_winograd = %.3g;\n", after.eff_winograd);
    }
    pl_free(samples);
    pl_free(sample_src);
    pl_free(sample_op);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 4 || strcmp(argv[1], "calibrate") != 0) return usage();
    const char *cfg_path = argv[2], *out = argv[3];
    cfg_experiment e;
    if (cfg_load(&e, cfg_path) < 0) {
        fprintf(stderr, "gos_device: error: %s\n", pl_last_error());
        return 1;
    }
    source src[MAX_SOURCES];
    memset(src, 0, sizeof src);
    int n_src = 0, rc = PL_OK;
    for (int i = 4; i < argc && rc == PL_OK; i++) {
        if (n_src == MAX_SOURCES) {
            rc = pl_error(PL_ERR_INVAL, __FILE__, __LINE__, "at most %d sources", MAX_SOURCES);
        } else if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) {
            rc = time_model(argv[++i], &e, &src[n_src++]);
        } else if (strcmp(argv[i], "--graph") == 0 && i + 3 < argc &&
                   strcmp(argv[i + 2], "--timings") == 0) {
            rc = read_pair(argv[i + 1], argv[i + 3], &src[n_src++]);
            i += 3;
        } else {
            cfg_destroy(&e);
            return usage();
        }
    }
    if (rc == PL_OK && n_src == 0) {
        cfg_destroy(&e);
        return usage();
    }
    if (rc == PL_OK) rc = calibrate(&e, out, src, n_src);
    if (rc < 0) fprintf(stderr, "gos_device: error: %s\n", pl_last_error());
    for (int s = 0; s < n_src; s++) free_source(&src[s]);
    cfg_destroy(&e);
    return rc < 0 ? 1 : 0;
}
