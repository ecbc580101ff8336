/* prof.c: profiling a model on its device and ranking its operators.
 *
 * Ranking scores (higher = more inefficient, replaced first), with s the
 * operator's share of the summed operator latency and p its share of the
 * model's parameters:
 *   latency             s
 *   latency_per_param   s / (p + 1/P), P the model's parameter count (so a
 *                       parameterless operator is scored as if it held one)
 *   mixed               w * s + (1 - w) * p, w = profile.latency_weight
 * Ties keep the graph's operator order. */
#include "prof.h"
#include "pl_err.h"
#include "pl_mem.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

prof_rank_by prof_rank_by_of(const char *name)
{
    if (strcmp(name, "latency") == 0) return PROF_RANK_LATENCY;
    if (strcmp(name, "latency_per_param") == 0) return PROF_RANK_LATENCY_PER_PARAM;
    PL_ASSERT(strcmp(name, "mixed") == 0);
    return PROF_RANK_MIXED;
}

static void alloc_result(prof_result *r, int n_ops, int n_nodes)
{
    memset(r, 0, sizeof *r);
    size_t n = (size_t)(n_ops > 0 ? n_ops : 1), m = (size_t)(n_nodes > 0 ? n_nodes : 1);
    r->n_operators = n_ops;
    r->n_nodes_total = n_nodes;
    r->latency = pl_xcalloc(n, sizeof *r->latency);
    r->predicted_ms = pl_xcalloc(n, sizeof(double));
    r->params = pl_xcalloc(n, sizeof(int64_t));
    r->flops = pl_xcalloc(n, sizeof(double));
    r->bytes = pl_xcalloc(n, sizeof(double));
    r->n_nodes = pl_xcalloc(n, sizeof(int32_t));
    r->latency_share = pl_xcalloc(n, sizeof(double));
    r->param_share = pl_xcalloc(n, sizeof(double));
    r->score = pl_xcalloc(n, sizeof(double));
    r->rank = pl_xcalloc(n, sizeof(int32_t));
    r->ranking = pl_xcalloc(n, sizeof(int32_t));
    r->node_flops = pl_xcalloc(m, sizeof(double));
    r->node_bytes = pl_xcalloc(m, sizeof(double));
    r->node_predicted_ms = pl_xcalloc(m, sizeof(double));
}

void prof_free(prof_result *r)
{
    if (!r) return;
    void *arrays[] = {r->latency, r->predicted_ms, r->params, r->flops, r->bytes, r->n_nodes,
                      r->latency_share, r->param_share, r->score, r->rank, r->ranking,
                      r->node_flops, r->node_bytes, r->node_predicted_ms};
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) pl_free(arrays[i]);
    memset(r, 0, sizeof *r);
}

/* The counts that do not depend on the device: params, FLOPs, bytes. */
static void count_static(prof_result *r, const ig_graph *g, int batch)
{
    for (int i = 0; i < g->n_nodes; i++) {
        r->node_flops[i] = ig_node_flops(g, i) * batch;
        r->node_bytes[i] = g->nodes[i].op == IG_OP_INPUT ? 0.0 : ig_node_bytes(g, i, batch);
        int id = g->nodes[i].operator_id;
        if (id < 0) continue;
        r->params[id] += (int64_t)ig_node_param_count(g, i);
        r->flops[id] += r->node_flops[i];
        r->bytes[id] += r->node_bytes[i];
        r->n_nodes[id]++;
    }
    r->model_params = (int64_t)ig_graph_param_count(g);
    int *nodes = pl_xmalloc((size_t)g->n_nodes * sizeof *nodes);
    int count = dev_inference_nodes(g, nodes);
    for (int k = 0; k < count; k++) r->model_flops += r->node_flops[nodes[k]];
    pl_free(nodes);
}

/* The latency model's view: per node, per operator and whole; NaN when the
 * device's characteristics are incomplete. */
static void predict(prof_result *r, const ig_graph *g, const dev_model *m, int complete,
                    int batch)
{
    int *nodes = pl_xmalloc((size_t)g->n_nodes * sizeof *nodes);
    int count = dev_inference_nodes(g, nodes);
    r->model_predicted_ms = complete ? 0.0 : NAN;
    for (int i = 0; i < g->n_nodes; i++)
        r->node_predicted_ms[i] = complete ? dev_predict_node_ms(m, g, i, batch) : NAN;
    for (int id = 0; id < r->n_operators; id++) r->predicted_ms[id] = complete ? 0.0 : NAN;
    for (int k = 0; k < count && complete; k++) {
        int i = nodes[k], id = g->nodes[i].operator_id;
        r->model_predicted_ms += r->node_predicted_ms[i];
        if (id >= 0) r->predicted_ms[id] += r->node_predicted_ms[i];
    }
    pl_free(nodes);
}

static const prof_result *sort_ctx;
static int by_score_desc(const void *a, const void *b)
{
    int i = *(const int32_t *)a, j = *(const int32_t *)b;
    double si = sort_ctx->score[i], sj = sort_ctx->score[j];
    if (si != sj) return si > sj ? -1 : 1;
    return (i > j) - (i < j);
}

void prof_rank(prof_result *r, prof_rank_by by, double latency_weight)
{
    double total_ms = 0.0;
    for (int id = 0; id < r->n_operators; id++) total_ms += r->latency[id].median_ms;
    double total_params = (double)(r->model_params > 0 ? r->model_params : 1);
    for (int id = 0; id < r->n_operators; id++) {
        double s = total_ms > 0 ? r->latency[id].median_ms / total_ms : 0.0;
        double p = (double)r->params[id] / total_params;
        r->latency_share[id] = s;
        r->param_share[id] = p;
        switch (by) {
        case PROF_RANK_LATENCY: r->score[id] = s; break;
        case PROF_RANK_LATENCY_PER_PARAM: r->score[id] = s / (p + 1.0 / total_params); break;
        case PROF_RANK_MIXED: r->score[id] = latency_weight * s + (1 - latency_weight) * p; break;
        }
        r->ranking[id] = id;
    }
    sort_ctx = r;
    qsort(r->ranking, (size_t)r->n_operators, sizeof r->ranking[0], by_score_desc);
    sort_ctx = NULL;
    for (int k = 0; k < r->n_operators; k++) r->rank[r->ranking[k]] = k;
}

static dev_latency point_latency(double ms)
{
    dev_latency l = {.median_ms = ms, .min_ms = ms, .max_ms = ms, .spread_ms = 0.0,
                     .runs = 1, .repeats = 1};
    return l;
}

int prof_run(const cfg_experiment *e, ig_graph *g, const char *graph_artifact,
             const char *work_dir, prof_result *r)
{
    const cfg_device *d = &e->device;
    int batch = d->batch;
    alloc_result(r, g->n_operators, g->n_nodes);
    count_static(r, g, batch);
    dev_model m;
    int complete = dev_model_from_config(&m, d);
    dev_timing t = dev_timing_from_config(d, e->threads);
    /* Measured here or remotely: predict for the threads the timing uses. */
    if (dev_kind_of(d) != DEV_PREDICTED && t.threads < m.cores) m.cores = t.threads;
    predict(r, g, &m, complete, batch);
    dev_provenance_init(&r->prediction_prov, d, NULL, &m);
    if (!complete)
        snprintf(r->prediction_prov.build, sizeof r->prediction_prov.build,
                 "none: the device's latency-model characteristics are incomplete");

    dev_graph_timings timings = {0};
    int rc = PL_OK;
    switch (dev_kind_of(d)) {
    case DEV_PREDICTED:
        PL_ASSERT(complete); /* the config check demands every characteristic */
        for (int id = 0; id < r->n_operators; id++) r->latency[id] = point_latency(r->predicted_ms[id]);
        r->model = point_latency(r->model_predicted_ms);
        r->latency_prov = r->prediction_prov;
        break;
    case DEV_MEASURED:
        rc = dev_time_graph(g, batch, &t, &timings);
        dev_provenance_init(&r->latency_prov, d, &t, NULL);
        break;
    case DEV_REMOTE:
        rc = dev_remote_time_graph(d, graph_artifact, g, work_dir, &timings, &r->latency_prov);
        break;
    }
    if (rc < 0) {
        dev_graph_timings_free(&timings);
        prof_free(r);
        return rc;
    }
    if (dev_kind_of(d) != DEV_PREDICTED) {
        for (int id = 0; id < r->n_operators; id++) r->latency[id] = timings.operators[id];
        r->model = timings.model;
    }
    dev_graph_timings_free(&timings);

    r->sum_operators_ms = 0.0;
    double *measured = pl_xmalloc((size_t)(r->n_operators + 1) * sizeof(double));
    for (int id = 0; id < r->n_operators; id++) {
        r->sum_operators_ms += r->latency[id].median_ms;
        measured[id] = r->latency[id].median_ms;
    }
    r->kendall_tau = complete && dev_kind_of(d) != DEV_PREDICTED
                         ? dev_kendall_tau(r->predicted_ms, measured, r->n_operators)
                         : NAN;
    pl_free(measured);
    prof_rank(r, prof_rank_by_of(e->profile.rank_by), e->profile.latency_weight);
    return PL_OK;
}
