/* graphgen.h: the graph generation stage's work, independent of config and
 * files: the profile's top operators cut out of the model with their
 * weights and a sample of real boundary activations; seed candidates for
 * the search (the original and valid adaptations of it); and the sparsity
 * study of the paper's Figure 2: N random candidates from scratch and N by
 * adaptation per operator, how many are shape-valid, how many fit the
 * original's outputs about as well as the original itself does after the
 * same quick fit, and their latency relative to the original's. */
#ifndef GRAPHGEN_H
#define GRAPHGEN_H

#include "dev.h"
#include "gen.h"

typedef struct {
    int             top_operators;   /* profile ranking positions taken       */
    int             min_nodes, max_nodes; /* random DAG size range            */
    int             study_samples;   /* per operator and kind                 */
    int             seed_candidates; /* adapted seeds kept per operator       */
    double          study_threshold; /* fit ok: error <= original's + this    */
    gen_iset        iset;
    gen_fit_options fit;
    dev_model       latency_model;   /* the device's, for latency ratios      */
    int             latency_batch;
    uint64_t        seed;
    int             threads;         /* candidates fitted at once (>= 1)      */
    int             progress;        /* 1: a line per operator on stderr      */
} graphgen_options;

enum { GRAPHGEN_SCRATCH = 0, GRAPHGEN_ADAPTED = 1 };

/* One candidate of the sparsity study. */
typedef struct {
    int32_t  op;            /* index into the selected operators          */
    int32_t  kind;          /* GRAPHGEN_SCRATCH or GRAPHGEN_ADAPTED        */
    int32_t  valid;         /* shape-valid                                 */
    int32_t  fit_ok;        /* error <= original's refit error + threshold */
    double   fit_error;     /* NaN when invalid                            */
    double   latency_ratio; /* predicted, candidate / original; NaN invalid */
    int64_t  params;        /* -1 when invalid                             */
    uint64_t struct_hash;   /* 0 when invalid                              */
} graphgen_sample;

typedef struct {
    int              n_ops;
    gen_operator    *ops;            /* (n_ops), in ranking order              */
    gen_activations  acts;           /* acts for ops[k] at index k             */
    double          *original_error; /* (n_ops) the original refitted          */
    double          *original_ms;    /* (n_ops) predicted latency              */
    int              n_candidates;
    gen_dag         *candidates;     /* (n_candidates) original first per op   */
    int32_t         *candidate_op;   /* (n_candidates)                         */
    int32_t         *candidate_kind; /* 0 original, 1 adapted seed             */
    int              n_samples;
    graphgen_sample *samples;        /* (n_samples)                            */
    gen_mut_stats    mutations;      /* of the adapted study and the seeds     */
    int              skipped;        /* ranked operators that cannot be one    */
} graphgen_result;

/* Runs graph generation on model (finalized, with weights) whose input node
 * is input_node, taking operators in the order of ranking[0..n_ranked)
 * (skipping those gen_extract refuses, counted in skipped), recording
 * activations of images (n, model input shape). Returns PL_OK or a status. */
int graphgen_run(ig_graph *model, int input_node, const int32_t *ranking, int n_ranked,
                 const float *images, int n_images, const graphgen_options *o,
                 graphgen_result *r);

void graphgen_free(graphgen_result *r);

/* Predicted latency of candidate d (built into g) at batch, ms. */
double graphgen_latency_ms(const dev_model *m, const ig_graph *g, const gen_dag *d, int batch);

/* ---- the graphs artifact (graphgen_io.c) ------------------------------ */

/* Writes the gos.graphs artifact (schemas/artifacts.md) atomically; prov
 * is the root provenance (its schema is set here). */
int graphgen_write(const char *path, h5io_provenance *prov, const ig_graph *model,
                   const graphgen_options *o, const graphgen_result *r);

/* What the search needs from a graphs artifact: the operators (names,
 * model operator ids, boundaries, the original DAGs and their weights), the
 * recorded activations and the seed candidates. Fields of graphgen_result
 * not listed stay empty. */
int graphgen_read(const char *path, graphgen_result *r);

#endif
