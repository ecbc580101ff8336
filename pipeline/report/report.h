/* report.h: the tables and plots of `make tables` (issue 8), read from the
 * experiments' artifacts under a results folder.
 *
 * rp_scan finds the experiments: every folder results/NAME/ except store,
 * tables and plots (and hidden ones), in name order. Each may hold
 * validate.h5 (gos.validate), search.h5 (gos.search) and graphs.h5
 * (gos.graphs); any may be missing (the experiment is then absent from the
 * tables that need it, with a note), a folder with none is skipped with a
 * note. Every artifact present is opened with h5io_open, so a corrupt one is
 * an error naming the file.
 *
 * rp_write_tables writes results/tables/{models,sparsity,replacements}.
 * {md,csv,tex} and, for every sweep, sweep_SWEEP.{md,csv,tex}: a folder named
 * SWEEP@VARIANT is a variant of experiments/sweeps/SWEEP.cfg (`make sweep`),
 * a row of its sweep's table (with the config keys the variants differ in,
 * from validate.h5's resolved config) instead of the models table, which
 * holds the other experiments. rp_write_plots writes the PNGs under
 * results/plots/ with gnuplot. Every file is written to "<file>.tmp.<pid>"
 * and renamed over the real name.
 * Every latency column says where its numbers come from (measured, predicted
 * or remote, from the artifact's /latency@kind; the sparsity study's are
 * always predicted).
 *
 * Errors follow pl_err.h: a negative pl_status with a message naming the
 * file. Notes (what was skipped, and why) go to the `notes` stream. */
#ifndef REPORT_H
#define REPORT_H

#include <stdint.h>
#include <stdio.h>

/* gos.validate: one row of the models table or of a sweep table. */
typedef struct {
    char *model, *device, *kind;          /* /summary@model, @device, /latency@kind */
    double orig_ms, adapt_ms, speedup;
    double orig_acc, adapt_acc;           /* 0..1 */
    double acc_change, epsilon;           /* points */
    int64_t orig_params, adapt_params, replaced, within;
    double stage_minutes;                 /* profile to validate, from the artifacts'
                                           * start and end times; NaN: unknown */
    char *config;                         /* the root's @config: the resolved config,
                                           * "section.key = value;" a line */
} rp_validate;

/* gos.search: the steps, the chosen DAGs as short strings, the generations. */
typedef struct {
    char *kind, *device;                  /* /latency@kind, @device */
    int64_t n_steps;
    char **names;
    int32_t *replaced;
    double *lat_before, *lat_after;
    double *accuracy, *accuracy_recovered; /* 0..1, after the step and its recovery */
    int64_t *params_before, *params_after;
    char **chosen;                        /* "conv2d(3x3,s1)>batchnorm>relu" */
    int64_t n_members;
    int32_t *gen_step, *gen_generation;
    double *gen_latency, *gen_violation;
    int64_t *gen_params;
} rp_search;

/* gos.graphs: the sparsity study, summarised per operator and kind. */
typedef struct {
    int64_t n_ops;
    char **names;
    /* [op * 2 + kind], kind 0 random from scratch, 1 adaptation */
    int64_t *n, *valid, *fit;
    double *median_ratio;                 /* of the valid ones; NaN when none */
} rp_graphs;

typedef struct {
    char *name;                           /* the folder's name */
    char *dir;                            /* results/NAME */
    rp_validate *validate;                /* NULL when validate.h5 is absent */
    rp_search *search;                    /* NULL when search.h5 is absent */
    rp_graphs *graphs;                    /* NULL when graphs.h5 is absent */
} rp_experiment;

typedef struct {
    rp_experiment *exps;
    int n;
} rp_results;

/* Scans results_dir and reads every experiment's artifacts. Folders without
 * any artifact are skipped and missing artifacts noted on `notes`. On
 * success *out must be released with rp_results_free (also on failure:
 * safe). */
int rp_scan(const char *results_dir, FILE *notes, rp_results *out);
void rp_results_free(rp_results *r);

/* Keeps the experiments named in names[0..n_names) and every sweep variant
 * (SWEEP@VARIANT) of r, in order, and releases the others, listing them on
 * `notes`; a name with no folder is noted too. */
void rp_results_keep(rp_results *r, char *const *names, int n_names, FILE *notes);

/* Reads one artifact of each kind (exposed for tests). */
int rp_read_validate(const char *path, rp_validate **out);
int rp_read_search(const char *path, rp_search **out);
int rp_read_graphs(const char *path, rp_graphs **out);

/* The DAG rows [first, first + n_nodes) of a node table (opcodes and attrs,
 * 10 ints per row) as "conv2d(3x3,s1)>batchnorm>relu", skipping the first
 * n_inputs rows (the inputs). Writes at most n bytes (truncated with "..."). */
void rp_dag_string(char *buf, size_t n, char *const *opcodes, const int32_t *attrs,
                   int64_t first, int32_t n_nodes, int32_t n_inputs);

/* Whether an experiment's folder name is SWEEP@VARIANT: a sweep variant. */
int rp_is_sweep_variant(const char *name);

/* Writes the three tables and the sweep tables, each as .md, .csv and .tex,
 * into out_dir (created when missing). A sweep none of whose variants has a
 * validate.h5 gets no table, with a note on `notes`. */
int rp_write_tables(const rp_results *r, const char *out_dir, FILE *notes);

/* Writes the plots into out_dir with `gnuplot` (the program named by
 * $GOS_GNUPLOT, else gnuplot on PATH). When it is not installed, returns 0
 * and sets *skipped = 1 (the caller says so); a gnuplot that fails is an
 * error naming its script. */
int rp_write_plots(const rp_results *r, const char *out_dir, FILE *notes, int *skipped);

/* Writes `len` bytes to path atomically (path.tmp.<pid>, fsync, rename). */
int rp_write_file_atomic(const char *path, const char *data, size_t len);

#endif
