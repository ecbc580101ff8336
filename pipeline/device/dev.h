/* dev.h: devices and the latencies they give an instruction graph.
 *
 * A device (cfg_device, from the experiment's `device` section) gives
 * latencies in one of three ways:
 *   measured   timed here with the project's engine (dev_time_*): warm-up
 *              runs, then timed runs, each repeating the timed code until it
 *              lasts min_run_ms; median, min, max and interquartile spread;
 *   predicted  the latency model (dev_predict_*): per instruction, a fixed
 *              overhead plus the larger of its compute time (FLOPs over the
 *              peak times a per-class efficiency) and its memory time (bytes
 *              over the cache or DRAM bandwidth times an efficiency);
 *   remote     timed on the real device by gos_bench_graph (dev_remote.c).
 * Every latency is in milliseconds and travels with a dev_provenance, which
 * dev_write_provenance stores as attributes beside it. */
#ifndef DEV_H
#define DEV_H

#include "cfg.h"
#include "h5io.h"
#include "ig.h"

typedef enum { DEV_MEASURED, DEV_PREDICTED, DEV_REMOTE } dev_kind;

/* The instruction classes the latency model gives their own efficiency. */
typedef enum {
    DEV_CLASS_CONV,      /* dense or grouped convolution, kernel > 1x1 */
    DEV_CLASS_POINTWISE, /* 1x1 convolution                            */
    DEV_CLASS_DEPTHWISE, /* depthwise convolution                      */
    DEV_CLASS_LINEAR,    /* fully connected                            */
    DEV_CLASS_POOL,      /* max/average pooling, global average pool   */
    DEV_CLASS_OTHER,     /* everything else                            */
    DEV_CLASS_COUNT
} dev_class;

typedef struct {
    int    cores;
    double freq_ghz;
    int    simd_lanes, fma_units;
    double dram_gbs, cache_kb, cache_gbs, overhead_us;
    double eff[DEV_CLASS_COUNT]; /* fraction of peak FLOP/s, per class */
    double eff_bandwidth;
    double plane_ns;             /* per output plane (batch x channel)     */
    double parallel_mflops;      /* work at which extra cores give half    */
    double gemm_half;            /* sgemm dimension at half the rate       */
    int    dw_row_lanes;         /* depthwise row vector width, 0: none    */
    double dw_taps_half;         /* depthwise taps at half the rate        */
    double eff_winograd;         /* Winograd products' share of eff_conv,
                                    0: Winograd not modelled             */
} dev_model;

/* One latency, milliseconds. A prediction has runs = repeats = 1 and
 * min = max = median, spread 0. */
typedef struct {
    double median_ms, min_ms, max_ms;
    double spread_ms; /* interquartile range of the timed runs        */
    int    runs;      /* timed runs                                   */
    int    repeats;   /* repetitions of the timed code per timed run  */
} dev_latency;

/* How timings are taken. */
typedef struct {
    int    threads;     /* >= 1 */
    int    warmup_runs; /* >= 0 */
    int    timed_runs;  /* >= 1 */
    double min_run_ms;  /* >= 0 */
} dev_timing;

/* Where a set of latencies came from, stored beside them. */
typedef struct {
    char   device[64];
    char   kind[16];       /* "measured", "predicted", "remote"          */
    int    batch;
    int    threads;        /* threads timed with (predicted: cores)       */
    int    warmup_runs;    /* 0 for predictions                           */
    int    timed_runs;     /* 1 for predictions                           */
    double min_run_ms;
    char   build[512];     /* program, compiler, BLAS; or the model used  */
} dev_provenance;

/* ---- the device ---------------------------------------------------------- */

dev_kind dev_kind_of(const cfg_device *d);

/* The latency model of d. Returns 1 when every characteristic it needs is
 * given (> 0), 0 when some are unknown (then nothing can be predicted). */
int dev_model_from_config(dev_model *m, const cfg_device *d);

/* The timing options of d; threads 0 resolves to experiment_threads. */
dev_timing dev_timing_from_config(const cfg_device *d, int experiment_threads);

/* Provenance of latencies from d: measured or remote with timing t, or
 * predicted by model m (t and m may be NULL where they do not apply). */
void dev_provenance_init(dev_provenance *p, const cfg_device *d, const dev_timing *t,
                         const dev_model *m);

/* Writes p as attributes of the group obj (which must exist): unit ("ms"),
 * device, kind, batch, threads, warmup_runs, timed_runs, min_run_ms, build.
 * Returns PL_OK or a negative status. */
int dev_write_provenance(h5io_writer *w, const char *obj, const dev_provenance *p);

/* ---- the latency model (dev_model.c) ------------------------------------- */

dev_class dev_node_class(const ig_graph *g, int node);
const char *dev_class_name(dev_class c);

/* Peak FLOP/s of the model's cores, in GFLOP/s. */
double dev_model_peak_gflops(const dev_model *m);

/* Predicted latency of node i of g (finalized) at batch N, ms. Input nodes
 * cost nothing. */
double dev_predict_node_ms(const dev_model *m, const ig_graph *g, int node, int batch);

/* The sum over nodes[0..count), ms. */
double dev_predict_nodes_ms(const dev_model *m, const ig_graph *g, const int *nodes, int count,
                            int batch);

/* ---- measuring here (dev_measure.c) -------------------------------------- */

/* Times fn(ctx) as t says, with t->threads threads (the caller's thread
 * count is restored after, here and in every timing function below). */
void dev_time(void (*fn)(void *ctx), void *ctx, const dev_timing *t, dev_latency *out);

/* Times k functions side by side: each warmed up and calibrated alone, then
 * every timed run runs each of them once, in alternating order, so a change
 * of load on a shared machine hits all of them alike and their ratio stays
 * honest. outs (k) gets each one's latency. */
void dev_time_interleaved(void (*const *fns)(void *ctx), void *const *ctxs, int k,
                          const dev_timing *t, dev_latency *outs);

/* Times the forward of nodes[0..count) of g (planned, in the mode wanted),
 * running them in that order on the values already in the graph: run one
 * whole forward first so their inputs hold real activations. */
void dev_time_nodes(ig_graph *g, const int *nodes, int count, const dev_timing *t,
                    dev_latency *out);

/* The nodes of one inference of g: every node but the input and loss nodes,
 * in order. nodes must hold g->n_nodes entries; returns the count. */
int dev_inference_nodes(const ig_graph *g, int *nodes);

/* The nodes of operator id, in order; returns the count. */
int dev_operator_nodes(const ig_graph *g, int id, int *nodes);

/* Per-operator and whole-model latencies of one graph. */
typedef struct {
    int          n_operators;
    dev_latency *operators; /* (n_operators), in the graph's operator order */
    dev_latency  model;     /* one whole inference, end to end              */
} dev_graph_timings;

/* Times g (finalized, with its weights) here at batch N in evaluation mode:
 * plans g for N, fills the input with fixed pseudo-random values, runs one
 * whole forward, then times each operator's nodes and the whole inference
 * (dev_inference_nodes). out is allocated; free with dev_graph_timings_free.
 * Returns PL_OK or a negative status (a graph that cannot be planned). */
int dev_time_graph(ig_graph *g, int batch, const dev_timing *t, dev_graph_timings *out);

/* Whole-inference latencies of k (1..8) graphs, prepared as dev_time_graph
 * prepares one and timed interleaved (dev_time_interleaved): for comparing
 * models, e.g. an original and its adaptation. out (k). Returns PL_OK or a
 * negative status. */
int dev_time_models(ig_graph *const *gs, int k, int batch, const dev_timing *t, dev_latency *out);

void dev_graph_timings_free(dev_graph_timings *t);

/* ---- measuring on the real device (dev_remote.c) ------------------------- */

/* Runs d->remote_command with {graph} = graph_artifact (which holds g as
 * /graph) and {timings} = a temporary file in work_dir, and reads the
 * gos.timings artifact gos_bench_graph left there into out and prov. */
int dev_remote_time_graph(const cfg_device *d, const char *graph_artifact, const ig_graph *g,
                          const char *work_dir, dev_graph_timings *out, dev_provenance *prov);

/* ---- timings artifacts and gos_bench_graph (dev_timings.c) -------------- */

/* The node whose value is g's inference output: the last node of
 * dev_inference_nodes (the logits of a trained model); -1 when none. */
int dev_output_node(const ig_graph *g);

/* Writes the gos.timings artifact at path, atomically: root provenance with
 * stage "bench_graph", experiment and config_text (what was timed and how;
 * may be NULL), prov as the attributes of /latency, t per operator of g in
 * /operators and end to end in /model, and /output: output, the value of
 * node output_node of g for the fixed input of dev_time_graph, at batch
 * prov->batch. Returns PL_OK or a negative status. */
int dev_timings_write(const char *path, const char *experiment, const char *config_text,
                      const dev_provenance *prov, const ig_graph *g,
                      const dev_graph_timings *t,
                      const float *output /* (prov->batch, size of node output_node) */,
                      int output_node);

/* Reads the gos.timings artifact at path into out (allocated; free with
 * dev_graph_timings_free) and prov (the /latency attributes; NULL skips
 * them). With g given, its operators must be g's: same count, same names in
 * the same order (else PL_ERR_SCHEMA naming the file and the first
 * difference). Latencies must be finite and >= 0. */
int dev_timings_read(const char *path, const ig_graph *g, dev_graph_timings *out,
                     dev_provenance *prov);

/* The /output of the gos.timings artifact at path: *out (pl_xmalloc'd,
 * pl_free) of (*batch, *size) floats, and the node it is the value of. */
int dev_timings_read_output(const char *path, float **out, int64_t *batch, int64_t *size,
                            int64_t *node);

/* Compares the /output of two gos.timings artifacts (same node and shape,
 * else an error): *max_abs_diff = max |a - b|, *max_abs = max |a|. */
int dev_timings_compare_outputs(const char *path_a, const char *path_b, double *max_abs_diff,
                                double *max_abs);

/* What gos_bench_graph does. */
typedef struct {
    int        batch;       /* >= 1                                     */
    dev_timing timing;
    char       device[64];  /* the name stored as the latencies' device */
} dev_bench_options;

/* Reads the graph /graph of the artifact graph_path (any schema holding
 * one), times it with dev_time_graph as o says, and writes the gos.timings
 * artifact timings_path (kind "measured", device o->device). When summary is
 * not NULL it receives the timings (free with dev_graph_timings_free). */
int dev_bench_graph(const char *graph_path, const char *timings_path,
                    const dev_bench_options *o, dev_graph_timings *summary);

/* ---- statistics (dev_stats.c) -------------------------------------------- */

/* Median, min, max and interquartile range of samples[0..count) (sorted in
 * place) into out; runs = count. */
void dev_summarize(double *samples, int count, dev_latency *out);

/* Kendall's tau-b rank correlation of x and y (count pairs, ties handled);
 * NaN when count < 2 or either side is constant. */
double dev_kendall_tau(const double *x, const double *y, int count);

#endif
