/* h5io_schema.c: the artifact schemas (gos.baseline, gos.checkpoint,
 * gos.weights, gos.torch_reference, gos.profile, ...) and the provenance attributes, as
 * tables. schemas/artifacts.md documents every entry here;
 * tests/test_schema_doc.c keeps the two in step. */
#include "h5io_schema.h"
#include "ig.h"

#include <stdio.h>
#include <string.h>

#define COUNT_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Shorthands for table rows. */
#define GROUP(p)            {(p), NULL, H5IO_GROUP, H5IO_T_NONE, 0, {H5IO_ANY}, 1}
#define ATTR(p, name, t)    {(p), (name), H5IO_ATTRIBUTE, (t), 0, {H5IO_ANY}, 1}
/* an optional attribute: added after files without it were written */
#define ATTR_OPT(p, name, t) {(p), (name), H5IO_ATTRIBUTE, (t), 0, {H5IO_ANY}, 0}
#define DSET1(p, t, d0)     {(p), NULL, H5IO_DATASET, (t), 1, {d0}, 1}
/* an optional dataset: added after files without it were written */
#define DSET1_OPT(p, t, d0) {(p), NULL, H5IO_DATASET, (t), 1, {d0}, 0}
#define DSET2(p, t, d0, d1) {(p), NULL, H5IO_DATASET, (t), 2, {d0, d1}, 1}
#define DSET2_OPT(p, t, d0, d1) {(p), NULL, H5IO_DATASET, (t), 2, {d0, d1}, 0}

static const h5io_entry provenance_entries[] = {
    ATTR("/", "schema", H5IO_T_STRING),
    ATTR("/", "schema_version", H5IO_T_I64),
    ATTR("/", "stage", H5IO_T_STRING),
    ATTR("/", "git_revision", H5IO_T_STRING),
    ATTR("/", "experiment", H5IO_T_STRING),
    ATTR("/", "config", H5IO_T_STRING),
    ATTR("/", "seed", H5IO_T_I64),
    ATTR("/", "threads", H5IO_T_I64),
    ATTR("/", "blas", H5IO_T_STRING),
    ATTR("/", "start_time", H5IO_T_STRING),
    ATTR("/", "end_time", H5IO_T_STRING),
};

/* The graph group written by h5io_write_graph (one row per node, one row per
 * parameter tensor; the slabs as flat float32 arrays). */
#define NODES  H5IO_LIKE("/graph/opcodes", 0)
#define PARAMS H5IO_LIKE("/graph/param_names", 0)
#define GRAPH_ENTRIES                                                          \
    GROUP("/graph"),                                                           \
    DSET1("/graph/opcodes", H5IO_T_STRING, H5IO_ANY),                          \
    DSET2("/graph/inputs", H5IO_T_I32, NODES, H5IO_FIXED(IG_MAX_IN)),          \
    DSET2("/graph/attrs", H5IO_T_I32, NODES, H5IO_FIXED(IG_N_ATTR)),           \
    DSET2("/graph/fattrs", H5IO_T_F32, NODES, H5IO_FIXED(IG_N_FATTR)),         \
    DSET1("/graph/operator_ids", H5IO_T_I32, NODES),                           \
    DSET1("/graph/operator_names", H5IO_T_STRING, H5IO_ANY),                   \
    DSET1("/graph/params", H5IO_T_F32, H5IO_ANY),                              \
    DSET1("/graph/state", H5IO_T_F32, H5IO_ANY),                               \
    DSET1("/graph/param_names", H5IO_T_STRING, H5IO_ANY),                      \
    DSET1("/graph/param_offsets", H5IO_T_I64, PARAMS),                         \
    DSET1("/graph/param_counts", H5IO_T_I64, PARAMS),                          \
    DSET2("/graph/param_dims", H5IO_T_I32, PARAMS, H5IO_FIXED(4)),             \
    ATTR("/graph", "n_nodes", H5IO_T_I64),                                     \
    ATTR("/graph", "param_count", H5IO_T_I64),                                 \
    ATTR("/graph", "flops", H5IO_T_F64)

/* Training curves, one value per epoch. */
#define EPOCHS H5IO_LIKE("/train/loss", 0)
#define TRAIN_ENTRIES                                                          \
    GROUP("/train"),                                                           \
    DSET1("/train/loss", H5IO_T_F64, H5IO_ANY),                                \
    DSET1("/train/accuracy", H5IO_T_F64, EPOCHS),                              \
    DSET1("/train/val_loss", H5IO_T_F64, EPOCHS),                              \
    DSET1("/train/val_accuracy", H5IO_T_F64, EPOCHS),                          \
    DSET1("/train/lr", H5IO_T_F64, EPOCHS),                                    \
    DSET1("/train/seconds", H5IO_T_F64, EPOCHS)

static const h5io_entry baseline_entries[] = {
    GRAPH_ENTRIES,
    TRAIN_ENTRIES,
    GROUP("/metrics"),
    ATTR("/metrics", "test_accuracy", H5IO_T_F64),
    ATTR("/metrics", "test_loss", H5IO_T_F64),
    ATTR("/metrics", "val_accuracy", H5IO_T_F64),
    ATTR("/metrics", "test_images", H5IO_T_I64),
    ATTR("/metrics", "val_images", H5IO_T_I64),
    ATTR("/metrics", "train_images", H5IO_T_I64),
    ATTR("/metrics", "param_count", H5IO_T_I64),
    ATTR("/metrics", "flops", H5IO_T_F64),
    ATTR("/metrics", "train_seconds", H5IO_T_F64),
    ATTR("/metrics", "images_per_second", H5IO_T_F64),
    GROUP("/data"),
    ATTR("/data", "dataset", H5IO_T_STRING),
    DSET1("/data/mean", H5IO_T_F64, H5IO_ANY),
    DSET1("/data/std", H5IO_T_F64, H5IO_LIKE("/data/mean", 0)),
    ATTR("/data", "input_c", H5IO_T_I64),
    ATTR("/data", "input_h", H5IO_T_I64),
    ATTR("/data", "input_w", H5IO_T_I64),
    ATTR("/data", "classes", H5IO_T_I64),
    ATTR("/data", "input_node", H5IO_T_I64),
    ATTR("/data", "logits_node", H5IO_T_I64),
    /* the train stage's, without augmentation (train_read_logits checks
     * the extents against /metrics@train_images and /data@classes) */
    DSET2_OPT("/data/train_logits", H5IO_T_F32, H5IO_ANY, H5IO_ANY),
};

/* The provenance attributes of a set of latencies (dev_write_provenance). */
#define LATENCY_PROVENANCE(p)                                                  \
    GROUP(p),                                                                  \
    ATTR(p, "unit", H5IO_T_STRING),                                            \
    ATTR(p, "device", H5IO_T_STRING),                                          \
    ATTR(p, "kind", H5IO_T_STRING),                                            \
    ATTR(p, "batch", H5IO_T_I64),                                              \
    ATTR(p, "threads", H5IO_T_I64),                                            \
    ATTR(p, "warmup_runs", H5IO_T_I64),                                        \
    ATTR(p, "timed_runs", H5IO_T_I64),                                         \
    ATTR(p, "min_run_ms", H5IO_T_F64),                                         \
    ATTR(p, "build", H5IO_T_STRING)

/* The profile stage's output: one row per operator of the baseline. */
#define OPERATORS H5IO_LIKE("/operators/names", 0)
#define PNODES    H5IO_LIKE("/nodes/opcodes", 0)
static const h5io_entry profile_entries[] = {
    LATENCY_PROVENANCE("/latency"),
    LATENCY_PROVENANCE("/prediction"),
    GROUP("/operators"),
    DSET1("/operators/names", H5IO_T_STRING, H5IO_ANY),
    DSET1("/operators/latency_ms", H5IO_T_F64, OPERATORS),
    DSET1("/operators/latency_min_ms", H5IO_T_F64, OPERATORS),
    DSET1("/operators/latency_max_ms", H5IO_T_F64, OPERATORS),
    DSET1("/operators/latency_spread_ms", H5IO_T_F64, OPERATORS),
    DSET1("/operators/repeats", H5IO_T_I64, OPERATORS),
    DSET1("/operators/predicted_ms", H5IO_T_F64, OPERATORS),
    DSET1("/operators/params", H5IO_T_I64, OPERATORS),
    DSET1("/operators/flops", H5IO_T_F64, OPERATORS),
    DSET1("/operators/bytes", H5IO_T_F64, OPERATORS),
    DSET1("/operators/n_nodes", H5IO_T_I32, OPERATORS),
    DSET1("/operators/latency_share", H5IO_T_F64, OPERATORS),
    DSET1("/operators/param_share", H5IO_T_F64, OPERATORS),
    DSET1("/operators/score", H5IO_T_F64, OPERATORS),
    DSET1("/operators/rank", H5IO_T_I32, OPERATORS),
    ATTR("/operators", "rank_by", H5IO_T_STRING),
    ATTR("/operators", "latency_weight", H5IO_T_F64),
    DSET1("/ranking", H5IO_T_I32, OPERATORS),
    GROUP("/nodes"),
    DSET1("/nodes/opcodes", H5IO_T_STRING, H5IO_ANY),
    DSET1("/nodes/operator_ids", H5IO_T_I32, PNODES),
    DSET1("/nodes/flops", H5IO_T_F64, PNODES),
    DSET1("/nodes/bytes", H5IO_T_F64, PNODES),
    DSET1("/nodes/predicted_ms", H5IO_T_F64, PNODES),
    GROUP("/model"),
    ATTR("/model", "latency_ms", H5IO_T_F64),
    ATTR("/model", "latency_min_ms", H5IO_T_F64),
    ATTR("/model", "latency_max_ms", H5IO_T_F64),
    ATTR("/model", "latency_spread_ms", H5IO_T_F64),
    ATTR("/model", "sum_operators_ms", H5IO_T_F64),
    ATTR("/model", "predicted_ms", H5IO_T_F64),
    ATTR("/model", "kendall_tau", H5IO_T_F64),
    ATTR("/model", "params", H5IO_T_I64),
    ATTR("/model", "flops", H5IO_T_F64),
    ATTR("/model", "model", H5IO_T_STRING),
};

/* gos_bench_graph's output: per-operator and whole-model latencies of one
 * graph and the graph's output for the fixed timing input. */
#define TIMED_OPS H5IO_LIKE("/operators/names", 0)
static const h5io_entry timings_entries[] = {
    LATENCY_PROVENANCE("/latency"),
    GROUP("/operators"),
    DSET1("/operators/names", H5IO_T_STRING, H5IO_ANY),
    DSET1("/operators/latency_ms", H5IO_T_F64, TIMED_OPS),
    DSET1("/operators/latency_min_ms", H5IO_T_F64, TIMED_OPS),
    DSET1("/operators/latency_max_ms", H5IO_T_F64, TIMED_OPS),
    DSET1("/operators/latency_spread_ms", H5IO_T_F64, TIMED_OPS),
    DSET1("/operators/repeats", H5IO_T_I64, TIMED_OPS),
    GROUP("/model"),
    ATTR("/model", "latency_ms", H5IO_T_F64),
    ATTR("/model", "latency_min_ms", H5IO_T_F64),
    ATTR("/model", "latency_max_ms", H5IO_T_F64),
    ATTR("/model", "latency_spread_ms", H5IO_T_F64),
    ATTR("/model", "repeats", H5IO_T_I64),
    DSET2("/output", H5IO_T_F32, H5IO_ANY, H5IO_ANY),
    ATTR("/output", "node", H5IO_T_I64),
};

/* A latency model fitted to measured timings (gos_device calibrate). */
#define SAMPLES H5IO_LIKE("/samples/source", 0)
static const h5io_entry calibration_entries[] = {
    GROUP("/samples"),
    DSET1("/samples/source", H5IO_T_STRING, H5IO_ANY),
    DSET1("/samples/operator", H5IO_T_STRING, SAMPLES),
    DSET1("/samples/measured_ms", H5IO_T_F64, SAMPLES),
    DSET1("/samples/predicted_before_ms", H5IO_T_F64, SAMPLES),
    DSET1("/samples/predicted_after_ms", H5IO_T_F64, SAMPLES),
    GROUP("/fit"),
    ATTR("/fit", "device", H5IO_T_STRING),
    ATTR("/fit", "overhead_us", H5IO_T_F64),
    ATTR("/fit", "eff_conv", H5IO_T_F64),
    ATTR("/fit", "eff_pointwise", H5IO_T_F64),
    ATTR("/fit", "eff_depthwise", H5IO_T_F64),
    ATTR("/fit", "eff_linear", H5IO_T_F64),
    ATTR("/fit", "eff_pool", H5IO_T_F64),
    ATTR("/fit", "eff_other", H5IO_T_F64),
    ATTR("/fit", "eff_bandwidth", H5IO_T_F64),
    ATTR("/fit", "plane_ns", H5IO_T_F64),
    ATTR("/fit", "parallel_mflops", H5IO_T_F64),
    ATTR("/fit", "gemm_half", H5IO_T_F64),
    ATTR("/fit", "dw_taps_half", H5IO_T_F64),
    ATTR("/fit", "eff_winograd", H5IO_T_F64),
    ATTR("/fit", "dw_row_lanes", H5IO_T_I64),
    ATTR("/fit", "rms_log_before", H5IO_T_F64),
    ATTR("/fit", "rms_log_after", H5IO_T_F64),
    ATTR("/fit", "tau_before", H5IO_T_F64),
    ATTR("/fit", "tau_after", H5IO_T_F64),
    ATTR("/fit", "iterations", H5IO_T_I64),
    ATTR("/fit", "sources", H5IO_T_I64),
};

/* Graph generation's output: operators, weights, activations, candidate
 * DAGs as one node table, the sparsity study. */
#define GOPS   H5IO_LIKE("/operators/names", 0)
#define GCANDS H5IO_LIKE("/candidates/first", 0)
#define GROWS  H5IO_LIKE("/candidates/opcodes", 0)
#define GSAMP  H5IO_LIKE("/study/operator", 0)
#define DSET3(p, t, d0, d1, d2) {(p), NULL, H5IO_DATASET, (t), 3, {d0, d1, d2}, 1}
static const h5io_entry graphs_entries[] = {
    GROUP("/operators"),
    DSET1("/operators/names", H5IO_T_STRING, H5IO_ANY),
    DSET1("/operators/model_ids", H5IO_T_I32, GOPS),
    DSET1("/operators/n_inputs", H5IO_T_I32, GOPS),
    DSET3("/operators/input_shapes", H5IO_T_I32, GOPS, H5IO_FIXED(8), H5IO_FIXED(3)),
    DSET2("/operators/output_shape", H5IO_T_I32, GOPS, H5IO_FIXED(3)),
    DSET2("/operators/model_inputs", H5IO_T_I32, GOPS, H5IO_FIXED(8)),
    DSET1("/operators/model_output", H5IO_T_I32, GOPS),
    DSET1("/operators/original_error", H5IO_T_F64, GOPS),
    DSET1("/operators/original_ms", H5IO_T_F64, GOPS),
    DSET1("/operators/param_first", H5IO_T_I64, GOPS),
    DSET1("/operators/param_count", H5IO_T_I64, GOPS),
    DSET1("/operators/state_first", H5IO_T_I64, GOPS),
    DSET1("/operators/state_count", H5IO_T_I64, GOPS),
    ATTR("/operators", "skipped", H5IO_T_I64),
    GROUP("/weights"),
    DSET1("/weights/param", H5IO_T_F32, H5IO_ANY),
    DSET1("/weights/state", H5IO_T_F32, H5IO_ANY),
    GROUP("/activations"),
    DSET1("/activations/data", H5IO_T_F32, H5IO_ANY),
    DSET2("/activations/input_first", H5IO_T_I64, GOPS, H5IO_FIXED(8)),
    DSET1("/activations/output_first", H5IO_T_I64, GOPS),
    ATTR("/activations", "images", H5IO_T_I64),
    GROUP("/candidates"),
    DSET1("/candidates/opcodes", H5IO_T_STRING, H5IO_ANY),
    DSET2("/candidates/inputs", H5IO_T_I32, GROWS, H5IO_FIXED(IG_MAX_IN)),
    DSET2("/candidates/attrs", H5IO_T_I32, GROWS, H5IO_FIXED(IG_N_ATTR)),
    DSET2("/candidates/fattrs", H5IO_T_F32, GROWS, H5IO_FIXED(IG_N_FATTR)),
    DSET1("/candidates/first", H5IO_T_I64, H5IO_ANY),
    DSET1("/candidates/n_nodes", H5IO_T_I32, GCANDS),
    DSET1("/candidates/n_inputs", H5IO_T_I32, GCANDS),
    DSET1("/candidates/output", H5IO_T_I32, GCANDS),
    DSET1("/candidates/operator", H5IO_T_I32, GCANDS),
    DSET1("/candidates/kind", H5IO_T_I32, GCANDS),
    DSET1("/candidates/struct_hash", H5IO_T_I64, GCANDS),
    GROUP("/study"),
    DSET1("/study/operator", H5IO_T_I32, H5IO_ANY),
    DSET1("/study/kind", H5IO_T_I32, GSAMP),
    DSET1("/study/valid", H5IO_T_I32, GSAMP),
    DSET1("/study/fit_ok", H5IO_T_I32, GSAMP),
    DSET1("/study/fit_error", H5IO_T_F64, GSAMP),
    DSET1("/study/latency_ratio", H5IO_T_F64, GSAMP),
    DSET1("/study/params", H5IO_T_I64, GSAMP),
    DSET1("/study/struct_hash", H5IO_T_I64, GSAMP),
    DSET2("/study/mutations", H5IO_T_I64, H5IO_FIXED(6), H5IO_FIXED(4)),
    DSET1("/study/mutation_names", H5IO_T_STRING, H5IO_FIXED(6)),
    ATTR("/study", "samples_per_kind", H5IO_T_I64),
    ATTR("/study", "threshold", H5IO_T_F64),
    ATTR("/study", "instruction_set", H5IO_T_STRING),
    ATTR("/study", "min_nodes", H5IO_T_I64),
    ATTR("/study", "max_nodes", H5IO_T_I64),
    ATTR("/study", "fit_steps", H5IO_T_I64),
    ATTR("/study", "latency", H5IO_T_STRING),
};

/* The search's output: the adapted model, its steps and every generation. */
#define SSTEPS H5IO_LIKE("/steps/names", 0)
#define SRECS  H5IO_LIKE("/generations/step", 0)
#define CROWS  H5IO_LIKE("/chosen/opcodes", 0)
static const h5io_entry search_entries[] = {
    GRAPH_ENTRIES,
    LATENCY_PROVENANCE("/latency"),
    GROUP("/steps"),
    DSET1("/steps/names", H5IO_T_STRING, H5IO_ANY),
    DSET1("/steps/replaced", H5IO_T_I32, SSTEPS),
    DSET1("/steps/latency_before_ms", H5IO_T_F64, SSTEPS),
    DSET1("/steps/latency_after_ms", H5IO_T_F64, SSTEPS),
    DSET1("/steps/params_before", H5IO_T_I64, SSTEPS),
    DSET1("/steps/params_after", H5IO_T_I64, SSTEPS),
    DSET1("/steps/accuracy", H5IO_T_F64, SSTEPS),
    DSET1("/steps/accuracy_recovered", H5IO_T_F64, SSTEPS),
    DSET1("/steps/fit_error", H5IO_T_F64, SSTEPS),
    DSET1("/steps/evaluations", H5IO_T_I32, SSTEPS),
    DSET1("/steps/cache_hits", H5IO_T_I32, SSTEPS),
    DSET1("/steps/front_size", H5IO_T_I32, SSTEPS),
    DSET1("/steps/seconds", H5IO_T_F64, SSTEPS),
    DSET1_OPT("/steps/recovery_seconds", H5IO_T_F64, SSTEPS),
    /* The chosen DAG of each step, a node table (gen_write_dag_table). */
    GROUP("/chosen"),
    DSET1("/chosen/opcodes", H5IO_T_STRING, H5IO_ANY),
    DSET2("/chosen/inputs", H5IO_T_I32, CROWS, H5IO_FIXED(IG_MAX_IN)),
    DSET2("/chosen/attrs", H5IO_T_I32, CROWS, H5IO_FIXED(IG_N_ATTR)),
    DSET2("/chosen/fattrs", H5IO_T_F32, CROWS, H5IO_FIXED(IG_N_FATTR)),
    DSET1("/chosen/first", H5IO_T_I64, SSTEPS),
    DSET1("/chosen/n_nodes", H5IO_T_I32, SSTEPS),
    DSET1("/chosen/n_inputs", H5IO_T_I32, SSTEPS),
    DSET1("/chosen/output", H5IO_T_I32, SSTEPS),
    GROUP("/generations"),
    DSET1("/generations/step", H5IO_T_I32, H5IO_ANY),
    DSET1("/generations/generation", H5IO_T_I32, SRECS),
    DSET1("/generations/rank", H5IO_T_I32, SRECS),
    DSET1("/generations/latency_ms", H5IO_T_F64, SRECS),
    DSET1("/generations/accuracy", H5IO_T_F64, SRECS),
    DSET1("/generations/fit_error", H5IO_T_F64, SRECS),
    DSET1("/generations/violation", H5IO_T_F64, SRECS),
    DSET1("/generations/crowding", H5IO_T_F64, SRECS),
    DSET1("/generations/params", H5IO_T_I64, SRECS),
    DSET1("/generations/struct_hash", H5IO_T_I64, SRECS),
    GROUP("/summary"),
    ATTR("/summary", "base_accuracy", H5IO_T_F64),
    ATTR("/summary", "base_latency_ms", H5IO_T_F64),
    ATTR("/summary", "final_latency_ms", H5IO_T_F64),
    ATTR("/summary", "epsilon", H5IO_T_F64),
    ATTR_OPT("/summary", "finetune_slack", H5IO_T_F64),
    ATTR("/summary", "validation_images", H5IO_T_I64),
    ATTR("/summary", "evaluations", H5IO_T_I64),
    ATTR("/summary", "cache_hits", H5IO_T_I64),
    ATTR("/summary", "replaced", H5IO_T_I64),
    ATTR("/summary", "input_node", H5IO_T_I64),
    ATTR("/summary", "logits_node", H5IO_T_I64),
};

/* The latency cache shared between experiments and sweeps (lat_cache.c):
 * one row per measured latency and the key it was measured under. */
#define LROWS H5IO_LIKE("/latencies/struct_hash", 0)
static const h5io_entry latency_cache_entries[] = {
    GROUP("/latencies"),
    ATTR("/latencies", "entries", H5IO_T_I64),
    DSET1("/latencies/struct_hash", H5IO_T_I64, H5IO_ANY),
    DSET1("/latencies/n_inputs", H5IO_T_I32, LROWS),
    DSET3("/latencies/shapes", H5IO_T_I32, LROWS, H5IO_FIXED(9), H5IO_FIXED(3)),
    DSET1("/latencies/device", H5IO_T_STRING, LROWS),
    DSET1("/latencies/batch", H5IO_T_I32, LROWS),
    DSET1("/latencies/threads", H5IO_T_I32, LROWS),
    DSET1("/latencies/build", H5IO_T_STRING, LROWS),
    DSET1("/latencies/ms", H5IO_T_F64, LROWS),
};

/* The search's checkpoint: a state machine between generations. */
#define CAND_TABLE(g)                                                          \
    GROUP(g),                                                                  \
    DSET1(g "/opcodes", H5IO_T_STRING, H5IO_ANY),                              \
    DSET2(g "/inputs", H5IO_T_I32, H5IO_ANY, H5IO_FIXED(IG_MAX_IN)),           \
    DSET2(g "/attrs", H5IO_T_I32, H5IO_ANY, H5IO_FIXED(IG_N_ATTR)),            \
    DSET2(g "/fattrs", H5IO_T_F32, H5IO_ANY, H5IO_FIXED(IG_N_FATTR)),          \
    DSET1(g "/first", H5IO_T_I64, H5IO_ANY),                                   \
    DSET1(g "/n_nodes", H5IO_T_I32, H5IO_ANY),                                 \
    DSET1(g "/n_inputs", H5IO_T_I32, H5IO_ANY),                                \
    DSET1(g "/output", H5IO_T_I32, H5IO_ANY),                                  \
    DSET2(g "/numbers", H5IO_T_F64, H5IO_ANY, H5IO_FIXED(8)),                  \
    DSET2(g "/integers", H5IO_T_I64, H5IO_ANY, H5IO_FIXED(3))
static const h5io_entry search_checkpoint_entries[] = {
    GRAPH_ENTRIES,
    GROUP("/steps"),
    DSET1("/steps/names", H5IO_T_STRING, H5IO_ANY),
    GROUP("/chosen"),
    GROUP("/generations"),
    DSET1("/ms", H5IO_T_F64, H5IO_ANY),
    DSET1("/tried", H5IO_T_I32, H5IO_LIKE("/ms", 0)),
    GROUP("/state"),
    ATTR("/state", "fingerprint", H5IO_T_STRING),
    ATTR("/state", "in_step", H5IO_T_I64),
    ATTR("/state", "target", H5IO_T_I64),
    ATTR("/state", "generation", H5IO_T_I64),
    ATTR("/state", "replaced", H5IO_T_I64),
    ATTR("/state", "input_node", H5IO_T_I64),
    ATTR("/state", "logits_node", H5IO_T_I64),
    ATTR("/state", "evaluations", H5IO_T_I64),
    ATTR("/state", "cache_hits", H5IO_T_I64),
    ATTR("/state", "step_evaluations", H5IO_T_I64),
    ATTR("/state", "step_cache_hits", H5IO_T_I64),
    ATTR("/state", "base_accuracy", H5IO_T_F64),
    ATTR("/state", "base_latency_ms", H5IO_T_F64),
    ATTR("/state", "step_seconds", H5IO_T_F64),
    CAND_TABLE("/population"),
    CAND_TABLE("/cache"),
    DSET2("/rng", H5IO_T_I64, H5IO_FIXED(3), H5IO_ANY),
};

/* The original against the adapted model on the device. */
#define MODEL_FIGURES(g)                                                       \
    GROUP(g),                                                                  \
    ATTR(g, "latency_ms", H5IO_T_F64),                                         \
    ATTR(g, "latency_min_ms", H5IO_T_F64),                                     \
    ATTR(g, "latency_max_ms", H5IO_T_F64),                                     \
    ATTR(g, "latency_spread_ms", H5IO_T_F64),                                  \
    ATTR(g, "accuracy", H5IO_T_F64),                                           \
    ATTR(g, "test_images", H5IO_T_I64),                                        \
    ATTR(g, "params", H5IO_T_I64),                                             \
    ATTR(g, "flops", H5IO_T_F64)
static const h5io_entry validate_entries[] = {
    LATENCY_PROVENANCE("/latency"),
    MODEL_FIGURES("/original"),
    MODEL_FIGURES("/adapted"),
    GROUP("/summary"),
    ATTR("/summary", "speedup", H5IO_T_F64),
    ATTR("/summary", "accuracy_change", H5IO_T_F64),
    ATTR("/summary", "epsilon", H5IO_T_F64),
    ATTR("/summary", "within_epsilon", H5IO_T_I64),
    ATTR("/summary", "operators_replaced", H5IO_T_I64),
    ATTR("/summary", "model", H5IO_T_STRING),
    ATTR("/summary", "device", H5IO_T_STRING),
    DSET1("/replaced", H5IO_T_STRING, H5IO_ANY),
};

static const h5io_entry checkpoint_entries[] = {
    GRAPH_ENTRIES,
    TRAIN_ENTRIES,
    GROUP("/optimizer"),
    DSET1("/optimizer/velocity", H5IO_T_F32, H5IO_LIKE("/graph/params", 0)),
    GROUP("/progress"),
    ATTR("/progress", "epoch_done", H5IO_T_I64),
    ATTR("/progress", "step", H5IO_T_I64),
    ATTR("/progress", "fingerprint", H5IO_T_STRING),
    ATTR("/progress", "train_seconds", H5IO_T_F64),
    ATTR("/progress", "images_trained", H5IO_T_I64),
    DSET1("/progress/rng_state", H5IO_T_I64, H5IO_ANY),
};

/* Imported weights: /tensors holds one dataset per tensor, named by its key
 * (not listable here; weights_import.c validates them against the graph). */
static const h5io_entry weights_entries[] = {
    ATTR("/", "model", H5IO_T_STRING),
    ATTR("/", "source", H5IO_T_STRING),
    DSET1("/tensor_names", H5IO_T_STRING, H5IO_ANY),
    GROUP("/tensors"),
};

/* PyTorch's logits for an input batch, to compare the imported model with. */
static const h5io_entry torch_reference_entries[] = {
    ATTR("/", "model", H5IO_T_STRING),
    ATTR("/", "source", H5IO_T_STRING),
    {"/input", NULL, H5IO_DATASET, H5IO_T_F32, 4, {H5IO_ANY, H5IO_ANY, H5IO_ANY, H5IO_ANY}, 1},
    DSET2("/logits", H5IO_T_F32, H5IO_LIKE("/input", 0), H5IO_ANY),
};

static const h5io_schema schemas[] = {
    {"gos.baseline", 2, "a trained model: graph, weights, training curves, accuracy",
     baseline_entries, COUNT_OF(baseline_entries)},
    {"gos.checkpoint", 1, "training state to resume from: graph, optimizer, progress",
     checkpoint_entries, COUNT_OF(checkpoint_entries)},
    {"gos.weights", 1, "weights to import: one tensor per parameter and batch-norm statistic",
     weights_entries, COUNT_OF(weights_entries)},
    {"gos.torch_reference", 1, "an input batch and PyTorch's logits for it",
     torch_reference_entries, COUNT_OF(torch_reference_entries)},
    {"gos.profile", 1, "per-operator latency (with provenance), params, FLOPs, bytes and ranking",
     profile_entries, COUNT_OF(profile_entries)},
    {"gos.graphs", 1, "the top operators as instruction DAGs, weights, activations, seed "
     "candidates and the sparsity study", graphs_entries, COUNT_OF(graphs_entries)},
    {"gos.adapted", 1, "the adapted model, fine-tuned: graph, weights, curves, accuracy (the "
     "layout of gos.baseline)", baseline_entries, COUNT_OF(baseline_entries)},
    {"gos.validate", 1, "the original against the adapted model: latency, accuracy, params, "
     "FLOPs, speedup", validate_entries, COUNT_OF(validate_entries)},
    {"gos.search", 1, "the adapted model, each operator searched and every generation",
     search_entries, COUNT_OF(search_entries)},
    {"gos.search_checkpoint", 1, "a search's state between two generations, to resume from",
     search_checkpoint_entries, COUNT_OF(search_checkpoint_entries)},
    {"gos.calibration", 1, "a device's latency-model factors fitted to measured timings",
     calibration_entries, COUNT_OF(calibration_entries)},
    {"gos.timings", 1, "per-operator and whole-graph latencies timed by gos_bench_graph",
     timings_entries, COUNT_OF(timings_entries)},
    {"gos.latency_cache", 1, "measured latencies by candidate, boundary shapes, device and build",
     latency_cache_entries, COUNT_OF(latency_cache_entries)},
};

const h5io_schema *h5io_schema_find(const char *name)
{
    for (int i = 0; i < COUNT_OF(schemas); i++)
        if (strcmp(schemas[i].name, name) == 0) return &schemas[i];
    return NULL;
}

int h5io_schema_count(void) { return COUNT_OF(schemas); }

const h5io_schema *h5io_schema_at(int index)
{
    return index >= 0 && index < COUNT_OF(schemas) ? &schemas[index] : NULL;
}

const h5io_entry *h5io_provenance_entries(int *count)
{
    *count = COUNT_OF(provenance_entries);
    return provenance_entries;
}

char *h5io_entry_label(const h5io_entry *e, char *buf, int n)
{
    if (e->kind == H5IO_ATTRIBUTE)
        snprintf(buf, (size_t)n, "%s@%s", e->path, e->attr);
    else
        snprintf(buf, (size_t)n, "%s", e->path);
    return buf;
}

const char *h5io_dtype_name(h5io_dtype t)
{
    switch (t) {
    case H5IO_T_F32:    return "float32";
    case H5IO_T_F64:    return "float64";
    case H5IO_T_I32:    return "int32";
    case H5IO_T_I64:    return "int64";
    case H5IO_T_STRING: return "string";
    default:            return "-";
    }
}

const char *h5io_kind_name(h5io_kind k)
{
    switch (k) {
    case H5IO_GROUP:   return "group";
    case H5IO_DATASET: return "dataset";
    default:           return "attribute";
    }
}
