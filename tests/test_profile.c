/* test_profile.c: the device layer and the profile (pipeline/device,
 * pipeline/profile).
 *
 * - The latency model against a hand computation for one conv instruction
 *   (compute-bound) and one relu (memory-bound, in and out of cache).
 * - Statistics: quantiles of timed runs, Kendall's tau on known rankings.
 * - dev_time (and dev_time_interleaved, which alternates functions run by
 *   run): warm-up, calibration of repetitions and timed runs call the
 *   timed code the expected number of times.
 * - The profile of a hand-built two-operator model measured on this host:
 *   one row per operator, positive latencies, parameters, FLOPs and bytes
 *   equal to hand counts; the ranking rules; the artifact's provenance
 *   attributes read back.
 * - The same model on a predicted device: latencies are the model's.
 * - Device files: a predicted device missing a characteristic, a remote one
 *   without its command, a missing device file, an unknown key: clear errors
 *   naming the file and line. */
#include "cfg.h"
#include "check.h"
#include "dev.h"
#include "dev_calibrate.h"
#include "models.h"
#include "nn_conv.h"
#include "h5io.h"
#include "pl_err.h"
#include "prof.h"
#include "test_tmpdir.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char temp_dir[256];

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) == EOF || fclose(f) != 0) {
        fprintf(stderr, "test_profile: cannot write %s\n", path);
        exit(EXIT_FAILURE);
    }
}

/* A device section with every characteristic of the latency model. */
#define DEVICE_CHARACTERISTICS                                                 \
    "  cores = 2; freq_ghz = 2.0; simd_lanes = 8; fma_units = 2;\n"            \
    "  dram_gbs = 10.0; cache_kb = 64.0; cache_gbs = 100.0; overhead_us = 3.0;\n" \
    "  eff_conv = 0.5; eff_pointwise = 0.4; eff_depthwise = 0.1; eff_linear = 0.2;\n" \
    "  eff_pool = 0.3; eff_other = 0.25; eff_bandwidth = 0.5;\n"

/* Writes temp_dir/name with a minimal experiment plus `device` and extra
 * text, loads it into e and returns the status. */
static int load_experiment(cfg_experiment *e, const char *name, const char *device,
                           const char *extra)
{
    char path[512], text[4096];
    snprintf(path, sizeof path, "%s/%s", temp_dir, name);
    snprintf(text, sizeof text,
             "model = { name = \"convnet\"; };\ndata = { name = \"fashion_mnist\"; };\n"
             "train = { epochs = 1; };\nthreads = 1;\n%s\n%s", device, extra ? extra : "");
    write_text(path, text);
    return cfg_load(e, path);
}

/* ---- the latency model ---------------------------------------------------- */

static void test_latency_model(void)
{
    ig_graph *g = ig_graph_alloc();
    int in = ig_input(g, 4, 16, 16);
    int conv = ig_conv2d(g, in, 8, 3, 3, 1, 1, 1, 1, 1, 0);
    int relu = ig_unary(g, IG_OP_RELU, conv);
    CHECK(ig_graph_finalize(g) == PL_OK, "finalize: %s", pl_last_error());

    dev_model m = {.cores = 2, .freq_ghz = 2.0, .simd_lanes = 8, .fma_units = 2,
                   .dram_gbs = 10.0, .cache_kb = 64.0, .cache_gbs = 100.0, .overhead_us = 3.0,
                   .eff = {0.5, 0.4, 0.1, 0.2, 0.3, 0.25}, .eff_bandwidth = 0.5};
    CHECK_CLOSE(dev_model_peak_gflops(&m), 2 * 2.0 * 8 * 2 * 2, 0, 1e-12, "peak GFLOP/s");

    /* conv: 8*16*16 outputs x 4*9 MACs x 2 = 147456 FLOPs at 128 GFLOP/s x
     * 0.5 = 2.304 us; bytes (1024 + 2048 floats + 288 weights) x 4 = 13440,
     * in cache (< 64 KiB) at 100 GB/s x 0.5 = 0.2688 us. Compute wins. */
    CHECK(dev_node_class(g, conv) == DEV_CLASS_CONV, "conv class");
    CHECK_CLOSE(ig_node_flops(g, conv), 147456, 0, 0, "conv FLOPs");
    CHECK_CLOSE(ig_node_bytes(g, conv, 1), 13440, 0, 0, "conv bytes");
    CHECK_CLOSE(dev_predict_node_ms(&m, g, conv, 1), 1e-3 * (3.0 + 2.304), 0, 1e-12,
                "conv predicted ms");
    /* relu at batch 1: 2048 FLOPs / 32 GFLOP/s = 0.064 us; 16384 bytes at
     * 50 GB/s = 0.32768 us: memory wins. */
    CHECK(dev_node_class(g, relu) == DEV_CLASS_OTHER, "relu class");
    CHECK_CLOSE(dev_predict_node_ms(&m, g, relu, 1), 1e-3 * (3.0 + 0.32768), 0, 1e-12,
                "relu predicted ms");
    /* At batch 8 it no longer fits in 64 KiB: 131072 bytes at 5 GB/s. */
    CHECK_CLOSE(dev_predict_node_ms(&m, g, relu, 8), 1e-3 * (3.0 + 26.2144), 0, 1e-12,
                "relu predicted ms, from DRAM");
    CHECK(dev_predict_node_ms(&m, g, in, 1) == 0.0, "inputs cost nothing");
    int nodes[2] = {conv, relu};
    CHECK_CLOSE(dev_predict_nodes_ms(&m, g, nodes, 2, 1),
                dev_predict_node_ms(&m, g, conv, 1) + dev_predict_node_ms(&m, g, relu, 1), 0,
                1e-12, "sum over nodes");
    ig_graph_free(g);
}

/* ---- statistics ------------------------------------------------------------- */

static void test_statistics(void)
{
    double s[5] = {5, 1, 4, 2, 3};
    dev_latency l;
    dev_summarize(s, 5, &l);
    CHECK(l.median_ms == 3 && l.min_ms == 1 && l.max_ms == 5 && l.runs == 5,
          "summary of 1..5: median %g min %g max %g", l.median_ms, l.min_ms, l.max_ms);
    CHECK_CLOSE(l.spread_ms, 2.0, 0, 1e-12, "interquartile range of 1..5");
    double e[4] = {4, 1, 3, 2};
    dev_summarize(e, 4, &l);
    CHECK_CLOSE(l.median_ms, 2.5, 0, 1e-12, "median of an even count");

    double x[5] = {1, 2, 3, 4, 5}, up[5] = {10, 20, 30, 40, 50}, down[5] = {5, 4, 3, 2, 1};
    CHECK_CLOSE(dev_kendall_tau(x, up, 5), 1.0, 0, 1e-12, "tau of the same order");
    CHECK_CLOSE(dev_kendall_tau(x, down, 5), -1.0, 0, 1e-12, "tau of the reverse order");
    /* One swapped pair of 10: (9 - 1) / 10. */
    double y[5] = {1, 3, 2, 4, 5};
    CHECK_CLOSE(dev_kendall_tau(x, y, 5), 0.8, 0, 1e-12, "tau with one discordant pair");
    /* Tau-b with a tie in y: pairs (1,2) tied in y; concordant 9, n_y = 9,
     * n_x = 10: 9 / sqrt(90). */
    double t[5] = {1, 1, 3, 4, 5};
    CHECK_CLOSE(dev_kendall_tau(x, t, 5), 9.0 / sqrt(90.0), 0, 1e-12, "tau-b with a tie");
    double flat[3] = {2, 2, 2};
    CHECK(isnan(dev_kendall_tau(x, flat, 3)), "tau of a constant is NaN");
    CHECK(isnan(dev_kendall_tau(x, up, 1)), "tau of one pair is NaN");
}

/* ---- timing ------------------------------------------------------------------- */

static void count_call(void *ctx) { (*(long *)ctx)++; }

typedef struct {
    long  id;
    long *log, *n;
} interleave_ctx;

static void log_call(void *p)
{
    interleave_ctx *c = p;
    if (*c->n < 64) c->log[(*c->n)++] = c->id;
}

static void test_timing(void)
{
    long calls = 0;
    dev_timing t = {.threads = 1, .warmup_runs = 3, .timed_runs = 7, .min_run_ms = 0.0};
    dev_latency l;
    dev_time(count_call, &calls, &t, &l);
    /* min_run_ms 0: one repetition, calibrated by one call. */
    CHECK(l.repeats == 1 && l.runs == 7, "repeats %d runs %d", l.repeats, l.runs);
    CHECK(calls == 3 + 1 + 7, "calls: %ld", calls);
    CHECK(l.min_ms >= 0 && l.min_ms <= l.median_ms && l.median_ms <= l.max_ms, "ordered");

    calls = 0;
    t.min_run_ms = 0.2;
    dev_time(count_call, &calls, &t, &l);
    CHECK(l.repeats > 1, "a microsecond call is repeated (%d)", l.repeats);
    CHECK(calls > 3 + 7L * l.repeats, "warm-up, calibration and %d x %d timed calls: %ld",
          t.timed_runs, l.repeats, calls);
    CHECK(l.median_ms > 0 && l.median_ms < 0.2, "per-repetition time %g ms", l.median_ms);

    /* Interleaved: each function is warmed up, calibrated and timed as if
     * alone; the timed runs alternate between them (a log of the calls). */
    long log[64], n_log = 0;
    interleave_ctx ctx[2] = {{0, log, &n_log}, {1, log, &n_log}};
    void (*fns[2])(void *) = {log_call, log_call};
    void *ctxs[2] = {&ctx[0], &ctx[1]};
    dev_latency both[2];
    t.min_run_ms = 0.0;
    t.warmup_runs = 1;
    t.timed_runs = 3;
    dev_time_interleaved(fns, ctxs, 2, &t, both);
    /* warm-up and calibration of 0, of 1, then runs 0 1 | 1 0 | 0 1. */
    static const long want[] = {0, 0, 1, 1, 0, 1, 1, 0, 0, 1};
    int order_ok = n_log == 10;
    for (int i = 0; order_ok && i < 10; i++) order_ok = log[i] == want[i];
    CHECK(order_ok, "interleaved order (%ld calls)", n_log);
    CHECK(both[0].runs == 3 && both[1].runs == 3 && both[0].repeats == 1 &&
              both[1].min_ms <= both[1].median_ms && both[1].median_ms <= both[1].max_ms,
          "each gets its own latency");
}

/* ---- the profile -------------------------------------------------------------- */

/* input (2,8,8) -> "features": conv 3x3 to 4 (no bias), batchnorm, relu
 *               -> "classifier": global avgpool, flatten, linear 4 -> 3
 *               -> softmax_xent (outside every operator). */
static ig_graph *two_operator_model(void)
{
    ig_graph *g = ig_graph_alloc();
    int h = ig_input(g, 2, 8, 8);
    ig_operator_begin(g, "features");
    h = ig_conv2d(g, h, 4, 3, 3, 1, 1, 1, 1, 1, 0);
    h = ig_batchnorm(g, h);
    h = ig_unary(g, IG_OP_RELU, h);
    ig_operator_end(g);
    ig_operator_begin(g, "classifier");
    h = ig_global_avgpool(g, h);
    h = ig_flatten(g, h);
    h = ig_linear(g, h, 3, 1);
    ig_operator_end(g);
    h = ig_softmax_xent(g, h);
    CHECK(h >= 0 && ig_graph_finalize(g) == PL_OK, "model: %s", pl_last_error());
    ig_graph_init_params(g, 7);
    return g;
}

/* Hand counts of two_operator_model at batch 1. */
enum { FEATURES_PARAMS = 4 * 2 * 9 + 2 * 4, CLASSIFIER_PARAMS = 3 * 4 + 3 };
static const double features_flops = 2.0 * 4 * 64 * 2 * 9 /* conv */ + 2.0 * 256 /* bn */ +
                                     256 /* relu */;
static const double classifier_flops = 256 /* avgpool */ + 2.0 * 12 + 3 /* linear */;
/* Bytes: each node's input(s) and output once, plus its parameters. */
static const double features_bytes = 4.0 * ((128 + 256 + 72) + (256 + 256 + 8) + (256 + 256));
static const double classifier_bytes = 4.0 * ((256 + 4) + (4 + 4) + (4 + 3 + 15));

static void check_attr_string(h5io_reader *r, const char *obj, const char *name,
                              const char *want)
{
    char *got = NULL;
    int rc = h5io_read_attr_string(r, obj, name, &got);
    CHECK(rc == PL_OK && got && strcmp(got, want) == 0, "%s@%s: got '%s', want '%s'", obj,
          name, got ? got : "(none)", want);
    free(got);
}

static void check_attr_i64(h5io_reader *r, const char *obj, const char *name, int64_t want)
{
    int64_t got = -1;
    int rc = h5io_read_attr_i64(r, obj, name, &got);
    CHECK(rc == PL_OK && got == want, "%s@%s: got %lld, want %lld", obj, name, (long long)got,
          (long long)want);
}

static void test_measured_profile(void)
{
    cfg_experiment e;
    int rc = load_experiment(&e, "measured.cfg",
                             "device = { name = \"host\"; kind = \"measured\"; warmup_runs = 1;\n"
                             "  timed_runs = 5; min_run_ms = 0.05;\n" DEVICE_CHARACTERISTICS "};",
                             "profile = { rank_by = \"latency\"; };");
    CHECK(rc == PL_OK, "load: %s", pl_last_error());
    if (rc != PL_OK) return;
    ig_graph *g = two_operator_model();
    prof_result r;
    rc = prof_run(&e, g, NULL, temp_dir, &r);
    CHECK(rc == PL_OK, "prof_run: %s", pl_last_error());
    if (rc == PL_OK) {
        CHECK(r.n_operators == 2, "one row per operator (%d)", r.n_operators);
        for (int id = 0; id < r.n_operators; id++) {
            CHECK(r.latency[id].median_ms > 0 && r.latency[id].runs == 5,
                  "operator %d: latency %g ms over %d runs", id, r.latency[id].median_ms,
                  r.latency[id].runs);
            CHECK(r.latency[id].min_ms <= r.latency[id].median_ms &&
                      r.latency[id].median_ms <= r.latency[id].max_ms,
                  "operator %d: min <= median <= max", id);
            CHECK(r.predicted_ms[id] > 0, "operator %d: predicted %g", id, r.predicted_ms[id]);
        }
        CHECK(r.params[0] == FEATURES_PARAMS && r.params[1] == CLASSIFIER_PARAMS,
              "params %lld %lld", (long long)r.params[0], (long long)r.params[1]);
        CHECK_CLOSE(r.flops[0], features_flops, 0, 0, "features FLOPs");
        CHECK_CLOSE(r.flops[1], classifier_flops, 0, 0, "classifier FLOPs");
        CHECK_CLOSE(r.bytes[0], features_bytes, 0, 0, "features bytes");
        CHECK_CLOSE(r.bytes[1], classifier_bytes, 0, 0, "classifier bytes");
        CHECK(r.n_nodes[0] == 3 && r.n_nodes[1] == 3, "nodes per operator");
        CHECK(r.model_params == FEATURES_PARAMS + CLASSIFIER_PARAMS, "model params");
        CHECK(r.model.median_ms > 0, "whole model measured (%g ms)", r.model.median_ms);
        CHECK_CLOSE(r.latency_share[0] + r.latency_share[1], 1.0, 0, 1e-12, "shares sum to 1");
        CHECK(!isnan(r.kendall_tau), "tau computed for a measured device with a model");
        /* rank_by latency: the slower operator first. */
        int slow = r.latency[0].median_ms >= r.latency[1].median_ms ? 0 : 1;
        CHECK(r.ranking[0] == slow && r.rank[slow] == 0, "slowest first");
        CHECK(strcmp(r.latency_prov.kind, "measured") == 0 && r.latency_prov.threads == 1,
              "provenance: %s, %d threads", r.latency_prov.kind, r.latency_prov.threads);

        char path[512];
        snprintf(path, sizeof path, "%s/profile.h5", temp_dir);
        rc = prof_write(path, &e, g, &r, NULL);
        CHECK(rc == PL_OK, "prof_write: %s", pl_last_error());
        h5io_reader rd;
        if (rc == PL_OK && h5io_open(&rd, path, "gos.profile") == PL_OK) {
            check_attr_string(&rd, "/latency", "unit", "ms");
            check_attr_string(&rd, "/latency", "device", "host");
            check_attr_string(&rd, "/latency", "kind", "measured");
            check_attr_i64(&rd, "/latency", "threads", 1);
            check_attr_i64(&rd, "/latency", "batch", 1);
            check_attr_i64(&rd, "/latency", "warmup_runs", 1);
            check_attr_i64(&rd, "/latency", "timed_runs", 5);
            check_attr_string(&rd, "/prediction", "kind", "predicted");
            check_attr_string(&rd, "/operators", "rank_by", "latency");
            char **list = NULL;
            int64_t count = 0;
            CHECK(h5io_read_strings(&rd, "/operators/names", &list, &count) == PL_OK &&
                      count == 2 && strcmp(list[0], "features") == 0,
                  "operator names");
            h5io_free_strings(list, count);
            h5io_close(&rd);
        } else {
            CHECK(0, "cannot open %s: %s", path, pl_last_error());
        }
        prof_free(&r);
    }
    ig_graph_free(g);
    cfg_destroy(&e);
}

static void test_predicted_profile(void)
{
    cfg_experiment e;
    int rc = load_experiment(&e, "predicted.cfg",
                             "device = { name = \"toy\"; kind = \"predicted\";\n"
                             DEVICE_CHARACTERISTICS "};",
                             "profile = { rank_by = \"mixed\"; latency_weight = 0.0; };");
    CHECK(rc == PL_OK, "load: %s", pl_last_error());
    if (rc != PL_OK) return;
    ig_graph *g = two_operator_model();
    prof_result r;
    rc = prof_run(&e, g, NULL, temp_dir, &r);
    CHECK(rc == PL_OK, "prof_run: %s", pl_last_error());
    if (rc == PL_OK) {
        dev_model m;
        CHECK(dev_model_from_config(&m, &e.device) == 1, "complete model");
        int feat[3] = {1, 2, 3};
        CHECK_CLOSE(r.latency[0].median_ms, dev_predict_nodes_ms(&m, g, feat, 3, 1), 0, 1e-12,
                    "features: the model's prediction");
        CHECK(r.latency[0].runs == 1 && r.latency[0].spread_ms == 0, "a prediction is a point");
        CHECK(strcmp(r.latency_prov.kind, "predicted") == 0, "labelled predicted");
        CHECK(isnan(r.kendall_tau), "no tau without a measurement");
        /* mixed with weight 0: by parameter share, the features first. */
        CHECK(r.ranking[0] == 0 && r.ranking[1] == 1, "ranked by parameters");
        CHECK_CLOSE(r.score[0], (double)FEATURES_PARAMS / (FEATURES_PARAMS + CLASSIFIER_PARAMS),
                    0, 1e-12, "mixed score");
        /* latency_per_param: s / (p + 1/P). */
        prof_rank(&r, PROF_RANK_LATENCY_PER_PARAM, 0.0);
        double P = FEATURES_PARAMS + CLASSIFIER_PARAMS;
        CHECK_CLOSE(r.score[1], r.latency_share[1] / (CLASSIFIER_PARAMS / P + 1 / P), 0, 1e-12,
                    "latency per parameter score");
        prof_free(&r);
    }
    ig_graph_free(g);
    cfg_destroy(&e);
}

/* ---- calibration ---------------------------------------------------------------- */

/* Timings made by a known model (truth) for g's operators: the fit must
 * find factors that predict them (near-zero log error, the same ranking)
 * and the truth's overhead, cost per plane and parallel work, starting
 * from wrong ones. */
static void check_fit(ig_graph *g, const dev_model *truth, const char *label)
{
    int n = g->n_operators;
    dev_sample *samples = calloc((size_t)n, sizeof *samples);
    int *nodes = calloc((size_t)n * (size_t)g->n_nodes, sizeof *nodes);
    for (int id = 0; id < n; id++) {
        int *list = nodes + (size_t)id * (size_t)g->n_nodes;
        int count = dev_operator_nodes(g, id, list);
        samples[id] = (dev_sample){g, list, count, 1,
                                   dev_predict_nodes_ms(truth, g, list, count, 1)};
    }
    dev_model m = *truth;
    m.overhead_us = 20.0;
    for (int c = 0; c < DEV_CLASS_COUNT; c++) m.eff[c] = 0.5;
    m.eff_bandwidth = 1.0;
    m.parallel_mflops = 0.0;
    m.gemm_half = 0.0;
    m.dw_taps_half = 0.0;
    dev_fit_report rep;
    int rc = dev_calibrate(&m, samples, n, &rep);
    CHECK(rc == PL_OK, "%s: calibrate: %s", label, pl_last_error());
    CHECK(rep.rms_log_before > 0.3, "%s: the starting factors are wrong (rms %g)", label,
          rep.rms_log_before);
    CHECK(rep.rms_log_after < 0.02, "%s: the fit reproduces the timings (rms %g after %d iterations)",
          label, rep.rms_log_after, rep.iterations);
    CHECK(rep.tau_after > 0.99, "%s: and their ranking (tau %g)", label, rep.tau_after);
    CHECK(check_close(m.overhead_us, truth->overhead_us, 0, 0.05), "%s: fitted overhead %g",
          label, m.overhead_us);
    CHECK(check_close(m.plane_ns, truth->plane_ns, 0, 0.1), "%s: fitted cost per plane %g",
          label, m.plane_ns);
    if (truth->cores > 1)
        CHECK(check_close(m.parallel_mflops, truth->parallel_mflops, 0, 0.1),
              "%s: fitted work for half the extra cores %g", label, m.parallel_mflops);
    if (truth->gemm_half > 0)
        CHECK(check_close(m.gemm_half, truth->gemm_half, 0, 0.1), "%s: fitted sgemm half rate %g",
              label, m.gemm_half);
    else
        CHECK(m.parallel_mflops == 0.0, "%s: parallel_mflops keeps the device's (%g)", label,
              m.parallel_mflops);
    if (truth->dw_taps_half > 0)
        CHECK(check_close(m.dw_taps_half, truth->dw_taps_half, 0, 0.1),
              "%s: fitted depthwise taps at half rate %g", label, m.dw_taps_half);
    CHECK(m.cores == truth->cores && m.dram_gbs == truth->dram_gbs &&
              m.dw_row_lanes == truth->dw_row_lanes,
          "%s: characteristics kept", label);

    CHECK(dev_calibrate(&m, samples, 5, &rep) == PL_ERR_INVAL, "%s: too few samples refused",
          label);
    samples[0].measured_ms = NAN;
    CHECK(dev_calibrate(&m, samples, n, &rep) == PL_ERR_INVAL &&
              strstr(pl_last_error(), "sample 0") != NULL,
          "%s: a non-finite timing refused: %s", label, pl_last_error());
    free(samples);
    free(nodes);
}

static void test_calibration(void)
{
    ig_graph *g = ig_graph_alloc();
    model_spec spec = {.name = "mobilenetv3_small", .in_c = 3, .in_h = 64, .in_w = 64,
                       .classes = 10, .width = 0.5f};
    model_nodes mn;
    int rc = model_build(g, &spec, &mn);
    if (rc == PL_OK) rc = ig_graph_finalize(g);
    CHECK(rc == PL_OK, "model: %s", pl_last_error());
    if (rc == PL_OK) {
        dev_model one = {.cores = 1, .freq_ghz = 2.0, .simd_lanes = 8, .fma_units = 2,
                         .dram_gbs = 10.0, .cache_kb = 256.0, .cache_gbs = 60.0,
                         .overhead_us = 4.0, .eff = {0.6, 0.3, 0.08, 0.15, 0.1, 0.05},
                         .eff_bandwidth = 0.4, .plane_ns = 20.0};
        check_fit(g, &one, "one core");
        dev_model four = one;
        four.cores = 4, four.parallel_mflops = 2.0, four.gemm_half = 3.0;
        four.dw_row_lanes = 8, four.dw_taps_half = 12.0;
        check_fit(g, &four, "four cores");
    }
    ig_graph_free(g);
}

/* The share of the peak a convolution keeps. Cores: an instruction far
 * above parallel_mflops runs at the full peak, one far below at one core's,
 * one at it halfway between; parallel_mflops 0 keeps every instruction on
 * all cores. Shape: each sgemm dimension d (M 64 output channels, K 576
 * inputs per output, N 1024 pixels) divides the rate by d / (d +
 * gemm_half); an instruction that is no convolution keeps its rate. */
static void test_gemm_share(void)
{
    ig_graph *g = ig_graph_alloc();
    int x = ig_input(g, 64, 32, 32);
    int big = ig_conv2d(g, x, 64, 3, 3, 1, 1, 1, 1, 1, 0);
    int act = ig_unary(g, IG_OP_RELU, big);
    int rc = ig_graph_finalize(g);
    CHECK(rc == PL_OK, "graph: %s", pl_last_error());
    if (rc == PL_OK) {
        /* compute-bound: negligible overhead, per plane and memory terms */
        dev_model m = {.cores = 4, .freq_ghz = 1.0, .simd_lanes = 4, .fma_units = 1,
                       .dram_gbs = 1e6, .cache_kb = 0, .cache_gbs = 1e6, .eff = {1, 1, 1, 1, 1, 1},
                       .eff_bandwidth = 1.0};
        double mflops = ig_node_flops(g, big) / 1e6;
        double all = dev_predict_node_ms(&m, g, big, 1);
        m.parallel_mflops = mflops;
        double half = dev_predict_node_ms(&m, g, big, 1);
        m.parallel_mflops = mflops * 1e6;
        double one = dev_predict_node_ms(&m, g, big, 1);
        m.parallel_mflops = mflops * 1e-6;
        double near_all = dev_predict_node_ms(&m, g, big, 1);
        CHECK_CLOSE(all, 1e3 * mflops * 1e6 / (4 * 8e9), 1e-12, 1e-9, "all cores: F / peak");
        CHECK_CLOSE(one, 4 * all, 0, 1e-4, "far below: one core");
        CHECK_CLOSE(half, all * 4 / 2.5, 0, 1e-9, "at parallel_mflops: 1 + 3/2 cores");
        CHECK_CLOSE(near_all, all, 0, 1e-4, "far above: all cores");
        m.parallel_mflops = 0.0;
        double relu = dev_predict_node_ms(&m, g, act, 1);
        m.gemm_half = 64.0;
        double skinny = dev_predict_node_ms(&m, g, big, 1);
        CHECK_CLOSE(skinny, all * (128.0 / 64) * (640.0 / 576) * (1088.0 / 1024), 0, 1e-9,
                    "product shape: (d + gemm_half) / d per dimension");
        CHECK_CLOSE(dev_predict_node_ms(&m, g, act, 1), relu, 0, 1e-12,
                    "no convolution: gemm_half changes nothing");
        /* the engine's one-column products (batch 1 on a 1-pixel plane)
         * skip sgemm: gemm_half leaves them alone */
        ig_graph *h = ig_graph_alloc();
        int xin = ig_input(h, 64, 1, 1);
        int col = ig_conv2d(h, xin, 64, 3, 3, 1, 1, 1, 1, 1, 0);
        CHECK(ig_graph_finalize(h) == PL_OK, "one-pixel graph: %s", pl_last_error());
        m.gemm_half = 0.0;
        double plain = dev_predict_node_ms(&m, h, col, 1);
        m.gemm_half = 64.0;
        CHECK_CLOSE(dev_predict_node_ms(&m, h, col, 1), plain, 0, 1e-12,
                    "one-column product: gemm_half changes nothing");
        CHECK(dev_predict_node_ms(&m, h, col, 2) > 1.5 * 2 * plain,
              "the same at batch 2 (sgemm): gemm_half slows it");
        ig_graph_free(h);
    }
    ig_graph_free(g);
}

/* The share of the depthwise rate a depthwise convolution keeps: output
 * rows of 7 in vectors of 16 lanes fill 7 of them; a 5x5 kernel (25 taps)
 * with dw_taps_half 25 runs at half the rate; a row of 32 fills two
 * vectors exactly; other classes keep their rate. */
static void test_depthwise_share(void)
{
    ig_graph *g = ig_graph_alloc();
    int x = ig_input(g, 32, 7, 7);
    int dw = ig_conv2d(g, x, 32, 5, 5, 1, 1, 2, 2, 32, 0);
    int dense = ig_conv2d(g, dw, 32, 3, 3, 1, 1, 1, 1, 1, 0);
    int y = ig_input(g, 8, 32, 32);
    int wide = ig_conv2d(g, y, 8, 3, 3, 1, 1, 1, 1, 8, 0);
    int rc = ig_graph_finalize(g);
    CHECK(rc == PL_OK, "graph: %s", pl_last_error());
    if (rc == PL_OK) {
        /* compute-bound: negligible overhead, per plane and memory terms */
        dev_model m = {.cores = 1, .freq_ghz = 1.0, .simd_lanes = 4, .fma_units = 1,
                       .dram_gbs = 1e6, .cache_kb = 0, .cache_gbs = 1e6, .eff = {1, 1, 1, 1, 1, 1},
                       .eff_bandwidth = 1.0};
        double full = dev_predict_node_ms(&m, g, dw, 1);
        double full_dense = dev_predict_node_ms(&m, g, dense, 1);
        double full_wide = dev_predict_node_ms(&m, g, wide, 1);
        CHECK_CLOSE(full, 1e3 * 2.0 * 32 * 49 * 25 / 8e9, 1e-12, 1e-9, "no terms: F / peak");
        m.dw_row_lanes = 16;
        CHECK_CLOSE(dev_predict_node_ms(&m, g, dw, 1), full * 16 / 7, 0, 1e-9,
                    "rows of 7 fill 7 of 16 lanes");
        CHECK_CLOSE(dev_predict_node_ms(&m, g, wide, 1), full_wide, 0, 1e-9,
                    "rows of 32 fill two vectors");
        m.dw_taps_half = 25.0;
        CHECK_CLOSE(dev_predict_node_ms(&m, g, dw, 1), full * 16 / 7 * 2, 0, 1e-9,
                    "25 taps at dw_taps_half 25: half the rate");
        CHECK_CLOSE(dev_predict_node_ms(&m, g, wide, 1), full_wide * (9.0 + 25) / 9, 0, 1e-9,
                    "9 taps: 9 / (9 + dw_taps_half) of the rate");
        CHECK_CLOSE(dev_predict_node_ms(&m, g, dense, 1), full_dense, 0, 1e-12,
                    "a dense convolution: the depthwise terms change nothing");
    }
    ig_graph_free(g);
}

/* Winograd: with eff_winograd e > 0, a convolution the engine computes by
 * Winograd F(2x2,3x3) counts its 16 products' FLOPs (16 multiply-adds per
 * 2x2 output tile and channel pair) at e x eff_conv; with e = 0, or where
 * the engine takes another path (8 channels, stride 2), the direct FLOPs. */
static void test_winograd_model(void)
{
    ig_graph *g = ig_graph_alloc();
    int x = ig_input(g, 16, 16, 16);
    int wino = ig_conv2d(g, x, 32, 3, 3, 1, 1, 1, 1, 1, 0);    /* 8x8 tiles of 2x2 */
    int strided = ig_conv2d(g, x, 32, 3, 3, 2, 2, 1, 1, 1, 0);
    int y = ig_input(g, 8, 16, 16);
    int narrow = ig_conv2d(g, y, 32, 3, 3, 1, 1, 1, 1, 1, 0);
    int rc = ig_graph_finalize(g);
    CHECK(rc == PL_OK, "graph: %s", pl_last_error());
    if (rc == PL_OK) {
        CHECK(strcmp(nn_conv2d_method(1, 16, 16, 16, 32, &(nn_conv_params){3, 3, 1, 1, 1, 1, 1}),
                     "winograd") == 0, "the engine takes Winograd for the 16-channel convolution");
        dev_model m = {.cores = 1, .freq_ghz = 1.0, .simd_lanes = 4, .fma_units = 1,
                       .dram_gbs = 1e6, .cache_kb = 0, .cache_gbs = 1e6,
                       .eff = {0.5, 1, 1, 1, 1, 1}, .eff_bandwidth = 1.0};
        const double peak = 8e9 * 0.5, direct = 2.0 * 32 * 256 * 16 * 9;
        const double strided_direct = 2.0 * 32 * 64 * 16 * 9, narrow_direct = 2.0 * 32 * 256 * 8 * 9;
        CHECK_CLOSE(dev_predict_node_ms(&m, g, wino, 1), 1e3 * direct / peak, 1e-12, 1e-9,
                    "eff_winograd 0: the direct convolution's FLOPs");
        m.eff_winograd = 0.8;
        CHECK_CLOSE(dev_predict_node_ms(&m, g, wino, 1), 1e3 * 2.0 * 16 * 64 * 32 * 16 / (peak * 0.8),
                    1e-12, 1e-9, "eff_winograd 0.8: 16 products of 64 tiles at 0.8 x eff_conv");
        CHECK_CLOSE(dev_predict_node_ms(&m, g, strided, 1), 1e3 * strided_direct / peak, 1e-12,
                    1e-9, "stride 2: no Winograd");
        CHECK_CLOSE(dev_predict_node_ms(&m, g, narrow, 1), 1e3 * narrow_direct / peak, 1e-12, 1e-9,
                    "8 input channels: no Winograd");
    }
    ig_graph_free(g);
}

/* ---- device file errors ----------------------------------------------------- */

static void expect_config_error(const char *name, const char *device, const char *want)
{
    cfg_experiment e;
    int rc = load_experiment(&e, name, device, NULL);
    const char *msg = pl_last_error();
    CHECK(rc == PL_ERR_CONFIG && strstr(msg, want) != NULL, "%s: got %d '%s', want '%s'", name,
          rc, rc < 0 ? msg : "", want);
    cfg_destroy(&e);
}

static void test_device_errors(void)
{
    char want[1024];
    /* Line 5 of the generated file holds the device section. */
    snprintf(want, sizeof want, "%s/no_cores.cfg:5: device.cores: a predicted device (toy) "
             "needs it > 0", temp_dir);
    expect_config_error("no_cores.cfg",
                        "device = { name = \"toy\"; kind = \"predicted\";\n"
                        "  freq_ghz = 1.0; simd_lanes = 4; fma_units = 1; dram_gbs = 1;\n"
                        "  cache_gbs = 2; eff_conv = 0.5; eff_pointwise = 0.5;\n"
                        "  eff_depthwise = 0.5; eff_linear = 0.5; eff_pool = 0.5; eff_other = 0.5;\n"
                        "  eff_bandwidth = 0.5; };",
                        "device.cores: a predicted device (toy) needs it > 0");
    snprintf(want, sizeof want, "%s/remote.cfg:5: device.kind: a remote device needs "
             "device.remote_command", temp_dir);
    expect_config_error("remote.cfg", "device = { kind = \"remote\"; };", want);
    expect_config_error("remote_template.cfg",
                        "device = { kind = \"remote\"; remote_command = \"ssh pi bench\"; };",
                        "device.remote_command: must contain {graph} and {timings}");
    expect_config_error("unknown_key.cfg", "device = { name = \"host\"; cpus = 4; };",
                        "unknown_key.cfg:5: device.cpus: unknown key");
    expect_config_error("bad_kind.cfg", "device = { kind = \"emulated\"; };",
                        "bad_kind.cfg:5: device.kind: must be one of");
    expect_config_error("missing_file.cfg", "@include \"devices/nowhere.cfg\"",
                        "nowhere.cfg");
    expect_config_error("bad_eff.cfg", "device = { eff_conv = 1.5; };",
                        "bad_eff.cfg:5: device.eff_conv: must be <= 1");

    /* The shipped device files load with a complete latency model (includes
     * resolve against the experiment's folder: link the shipped ones in). */
    char cwd[512], common[512], link_path[600];
    if (!getcwd(cwd, sizeof cwd)) cwd[0] = '\0';
    snprintf(common, sizeof common, "%s/experiments/common", cwd);
    snprintf(link_path, sizeof link_path, "%s/common", temp_dir);
    CHECK(symlink(common, link_path) == 0, "link %s", link_path);
    static const char *const files[] = {"host", "rpi3", "redmi7s"};
    for (int i = 0; i < 3; i++) {
        char text[1024];
        snprintf(text, sizeof text, "@include \"common/devices/%s.cfg\"", files[i]);
        cfg_experiment e;
        int rc = load_experiment(&e, "shipped.cfg", text, NULL);
        CHECK(rc == PL_OK, "%s.cfg: %s", files[i], pl_last_error());
        dev_model m;
        if (rc == PL_OK)
            CHECK(dev_model_from_config(&m, &e.device) == 1 && strcmp(e.device.name, files[i]) == 0,
                  "%s.cfg: a complete latency model named after the file", files[i]);
        cfg_destroy(&e);
    }
}

int main(void)
{
    snprintf(temp_dir, sizeof temp_dir, "/tmp/gos_test_profile.%d", (int)getpid());
    remove_tree(temp_dir);
    if (mkdir(temp_dir, 0700) != 0) {
        perror(temp_dir);
        return 1;
    }
    test_latency_model();
    test_statistics();
    test_timing();
    test_measured_profile();
    test_predicted_profile();
    test_calibration();
    test_gemm_share();
    test_depthwise_share();
    test_winograd_model();
    test_device_errors();
    remove_tree(temp_dir);
    return check_summary("test_profile");
}
