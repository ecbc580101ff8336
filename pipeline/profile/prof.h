/* prof.h: the profile of a model on a device: per operator, its latency
 * (measured, predicted or timed remotely, with provenance), what the latency
 * model predicts for it, its parameters, FLOPs and bytes moved, its share of
 * the model, and the ranking of operators by inefficiency that the later
 * stages walk down. */
#ifndef PROF_H
#define PROF_H

#include "cfg.h"
#include "dev.h"
#include "ig.h"

#include <stdint.h>

typedef enum { PROF_RANK_LATENCY, PROF_RANK_LATENCY_PER_PARAM, PROF_RANK_MIXED } prof_rank_by;

typedef struct {
    int          n_operators;
    /* Per operator, (n_operators), in the graph's operator order: */
    dev_latency *latency;       /* as the device gives it                       */
    double      *predicted_ms;  /* the latency model; NaN when it is incomplete */
    int64_t     *params;
    double      *flops;         /* per inference at the device's batch          */
    double      *bytes;         /* moved per inference (ig_node_bytes summed)   */
    int32_t     *n_nodes;
    double      *latency_share; /* of the sum over operators                    */
    double      *param_share;   /* of the model's parameters                    */
    double      *score;         /* higher is more inefficient                   */
    int32_t     *rank;          /* 0 = most inefficient                         */
    int32_t     *ranking;       /* operator ids, most inefficient first         */
    /* Per node, (n_nodes): */
    int          n_nodes_total;
    double      *node_flops, *node_bytes, *node_predicted_ms;

    dev_latency  model;             /* one whole inference, end to end          */
    double       sum_operators_ms;  /* sum of the operators' medians            */
    double       model_predicted_ms;/* latency model, whole inference; or NaN   */
    double       kendall_tau;       /* predicted vs measured operators; or NaN  */
    int64_t      model_params;
    double       model_flops;
    dev_provenance latency_prov, prediction_prov;
} prof_result;

prof_rank_by prof_rank_by_of(const char *name);

/* Profiles g (finalized, with weights; planned here) on e's device:
 * measures it here, predicts it with the latency model, or times it
 * remotely with the artifact graph_artifact (which holds g as /graph; remote
 * devices only) using work_dir for temporaries. Then ranks the operators by
 * e->profile. Returns PL_OK (free r with prof_free) or a negative status. */
int prof_run(const cfg_experiment *e, ig_graph *g, const char *graph_artifact,
             const char *work_dir, prof_result *r);

/* Scores and ranks r's operators (fills latency_share, param_share, score,
 * rank and ranking from latency and params). */
void prof_rank(prof_result *r, prof_rank_by by, double latency_weight);

/* Writes the gos.profile artifact atomically. Returns PL_OK or a status. */
int prof_write(const char *path, const cfg_experiment *e, const ig_graph *g,
               const prof_result *r, const char *start_time);

void prof_free(prof_result *r);

#endif
